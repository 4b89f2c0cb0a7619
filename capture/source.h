/*
 * The "Camera class": what every capture source implements.  capture.c owns
 * the loop (pacing, idle/wake, drop-same, no-signal, publishing); a source
 * only knows its device.
 *
 * Lifecycle: open -> next ... next -> close, and open again after a failure
 * (the loop backs off between attempts).  Sources set src->error to a short
 * human-readable reason whenever they return FC_SRC_ERROR.
 */
#ifndef FC_SOURCE_H
#define FC_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/config.h"

struct fc_encoder;

enum fc_src_result {
	FC_SRC_OK = 0,		/* *out holds a frame */
	FC_SRC_AGAIN = 1,	/* no frame within the timeout; call again */
	FC_SRC_ERROR = 2,	/* source failed: close, back off, reopen */
};

/* A frame produced by a source.  jpeg points into source-owned memory that
 * stays valid until the next call on the source. */
struct fc_src_frame {
	const uint8_t *jpeg;
	size_t len;
	uint32_t width, height;
	int64_t ts_real_ns;	/* capture time, CLOCK_REALTIME (0: loop sets it) */
	int64_t ts_mono_ns;	/* capture time, CLOCK_MONOTONIC (0: loop sets it) */
	bool broken;		/* source data failed validation: counted, dropped */
};

struct fc_source;

struct fc_source_ops {
	const char *name;
	/* true: the device delivers frames at its own rate (v4l2, libcamera,
	 * http) and next() blocks for them; false: the loop paces calls at
	 * cfg->fps (testpattern, files). */
	bool self_paced;
	int (*open)(struct fc_source *src);	/* 0, or -1 with src->error set */
	enum fc_src_result (*next)(struct fc_source *src,
	    struct fc_src_frame *out, int timeout_ms);
	void (*close)(struct fc_source *src);	/* accepts half-opened sources */
};

struct fc_source {
	const struct fc_source_ops *ops;
	const struct fc_config *cfg;
	struct fc_encoder *enc;		/* shared TurboJPEG encoder (capture owns) */
	void *priv;			/* source state */
	uint64_t frame_no;		/* frames produced since open */
	/* Parts the source skipped for exceeding max_frame_size (http);
	 * capture adds them to the bus counter and zeroes this. */
	uint64_t dropped_oversize;
	char error[160];
};

extern const struct fc_source_ops fc_source_testpattern;
extern const struct fc_source_ops fc_source_files;
extern const struct fc_source_ops fc_source_v4l2;
extern const struct fc_source_ops fc_source_libcamera;
extern const struct fc_source_ops fc_source_http;

/* The folder the files source reads: capture.directory, or the bundled
 * samples found next to the executable.  0 with the path in buf, or -1
 * (no folder found).  capture/main.c gives it to the sandbox. */
int fc_source_files_dir(const struct fc_config *cfg, char *buf, size_t len);

/* Ops for a configured kind. */
const struct fc_source_ops *fc_source_for(enum fc_source_kind kind);

#endif
