/*
 * The capture loop: opens the configured source, paces it, publishes its
 * frames into the frame bus, keeps the bus counters and status, publishes a
 * "no signal" picture while the source fails, and pauses while nobody
 * watches (idle_stop) until a worker signals demand.
 *
 * Sources (capture/source_*.c) may call fc_capture_stopping() from inside a
 * long blocking operation to give up early when the process is stopping,
 * and use src->enc (capture/encode.h) to encode raw pictures.  Everything
 * else here is for capture/main.c and the tests.
 */
#ifndef FC_CAPTURE_H
#define FC_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/bus.h"
#include "../common/config.h"
#include "../common/control.h"
#include "source.h"

/* Interval between no-signal frames while the source fails. */
#define FC_CAPTURE_NOSIGNAL_INTERVAL_NS INT64_C(1000000000)
/* Backoff between reopen attempts: starts here, doubles, capped. */
#define FC_CAPTURE_BACKOFF_MIN_NS INT64_C(500000000)
#define FC_CAPTURE_BACKOFF_MAX_NS INT64_C(5000000000)
/* With drop_same_frames, an unchanged picture is still republished this
 * often so readers see the stream is alive. */
#define FC_CAPTURE_SAME_REFRESH_NS INT64_C(1000000000)
/* A snapshot request (fc_ctl_signal_snapshot) keeps capture awake this
 * long after the last one, or idle_stop when that is shorter: a poller
 * wakes capture for one fresh picture, not for the whole idle_stop that a
 * stream viewer gets. */
#define FC_CAPTURE_SNAPSHOT_AWAKE_NS INT64_C(3000000000)

struct fc_capture_opts {
	/* Source to run: fc_source_for(cfg->source) in forkcast-capture;
	 * tests pass their own ops (failing or repeating sources).  Required
	 * (kept out of capture.c so its tests link no device code). */
	const struct fc_source_ops *ops;
	/* Stop after this many published frames (no-signal frames count);
	 * 0: run until stopped. */
	uint64_t max_frames;
	/* When not NULL, every published frame is also written to
	 * DIR/frame-NNNNNN.jpg and a line "seq len width height flags
	 * ts_real_ns ts_mono_ns" appended to DIR/frames.txt (tests). */
	const char *dump_dir;
	/* When not NULL, called once per loop turn, after each 200 ms
	 * slice of a sleep and at least every 500 ms while paused or
	 * waiting for a self-paced source (forkcast-capture applies
	 * reloads there).  Opening a source is not cut short for it: an
	 * http upstream may take up to 5 s to connect. */
	void (*each_turn)(void *arg);
	void *each_turn_arg;
};

/*
 * Runs the loop until fc_capture_request_stop() is called or max_frames
 * frames were published.  bus must be writable; ctl may be NULL (no
 * on-demand pausing).  Sets state STOPPED in the bus on return.  Returns
 * 0, or -1 when the loop could not start (encoder, no-signal frame).
 */
int fc_capture_run(const struct fc_config *cfg, struct fc_bus *bus,
    struct fc_ctl *ctl, const struct fc_capture_opts *opts);

/* Asks the running loop to stop; async-signal-safe, callable from any
 * thread.  fc_capture_reset_stop() clears the request (tests that run the
 * loop more than once). */
void fc_capture_request_stop(void);
void fc_capture_reset_stop(void);

/* True once a stop was requested.  Sources may poll it in long waits. */
bool fc_capture_stopping(void);

#endif
