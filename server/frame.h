/*
 * A worker's frames: one copy of a bus frame per worker, in a sealed
 * memory file that every client sends from with sendfile(), so the kernel
 * hands the file's pages to each socket by reference instead of copying
 * the bytes once per viewer.
 *
 * The rule that makes this safe: pages handed to the kernel are never
 * modified while a socket may still send them.  A frame file is written
 * once, right after memfd_create(), and then sealed (F_SEAL_WRITE,
 * F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_SEAL): from then on no one, the
 * worker included, can change or truncate it, and it is never reused.
 * When the last reference goes the descriptor is closed; pages still
 * queued in socket buffers stay referenced by the kernel until sent, with
 * the bytes they had.  So a slow client can never receive a torn or mixed
 * frame, however fast capture publishes.
 *
 * The file holds whole parts, not just the JPEG, so a part is one
 * sendfile() of one range, computed once per frame:
 *
 *   [ unused | full part head | JPEG | advance tail ]
 *                             ^ FC_FRAME_JPEG_OFF
 *
 *   full part     head, JPEG, "\r\n" (the first two bytes of the advance
 *                 tail are exactly the full framing's tail)
 *   advance part  JPEG, "\r\n--B\r\nContent-Type: image/jpeg\r\n\r\n"
 *   snapshot      JPEG only
 *
 * Single-threaded (the worker's loop); counts are plain integers.  Who
 * holds references: the worker's "current" frame holds one; a client in
 * the middle of sending a part or a snapshot holds one.
 */
#ifndef FC_FRAME_H
#define FC_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/bus.h"
#include "router.h"
#include "stream.h"

/* Room before the JPEG for the longest full-framing part head. */
#define FC_FRAME_JPEG_OFF FC_STREAM_PART_HEAD_MAX

/* The largest frame file for frames of at most max_len bytes: the
 * worker's RLIMIT_FSIZE (common/role.c). */
#define FC_FRAME_FILE_MAX(max_len) \
	((uint64_t)FC_FRAME_JPEG_OFF + (uint64_t)(max_len) + 64)

/* A byte range of a frame's file. */
struct fc_frame_range {
	off_t off;
	size_t len;
};

struct fc_frame {
	unsigned refs;
	int fd;				/* sealed memfd, layout above */
	struct fc_frame_meta meta;	/* meta.len bytes of JPEG */
	struct fc_frame_range full;	/* a part in the full framing */
	struct fc_frame_range advance;	/* ... in the advance framing */
	void *map;			/* fc_frame_map(), NULL until then */
	size_t map_len;
};

/*
 * Copies the newest bus frame whose seq > after, of at most max_len bytes,
 * into a new sealed frame (refs = 1) at *out.  Returns the bus result:
 * FC_BUS_OK with *out set; FC_BUS_NOSPACE (too big; meta->len, when meta
 * is not NULL, says how big); FC_BUS_COPY_FAILED with errno when the file
 * could not be made (memfd_create, pwrite, fcntl); the others as
 * fc_bus_read_latest().
 */
enum fc_bus_result fc_frame_from_bus(struct fc_bus *bus, uint64_t after,
    size_t max_len, struct fc_frame **out, struct fc_frame_meta *meta);

/* A sealed frame holding meta->len bytes of jpeg (tests; sources in
 * memory).  NULL with errno on failure. */
struct fc_frame *fc_frame_from_bytes(const struct fc_frame_meta *meta,
    const void *jpeg);

/* Takes a reference; returns f. */
struct fc_frame *fc_frame_ref(struct fc_frame *f);

/* Drops a reference (NULL is fine); the last one closes the file. */
void fc_frame_unref(struct fc_frame *f);

/* The range of one multipart part of f in framing. */
struct fc_frame_range fc_frame_part(const struct fc_frame *f,
    enum fc_framing framing);

/*
 * The whole file mapped read-only, made on first use and kept until the
 * frame goes (NULL with errno when mmap fails): TLS connections whose
 * records OpenSSL writes encrypt from it, since sendfile() cannot help
 * them.  The advance part ends the file, so every range lies within.
 */
const char *fc_frame_map(struct fc_frame *f);

/* The range of f's JPEG alone (snapshots). */
struct fc_frame_range fc_frame_jpeg(const struct fc_frame *f);

#endif
