/*
 * Refcounted frame buffers: one copy of a bus frame per worker, shared by
 * every client sending it.  Single-threaded (the worker's loop); counts
 * are plain integers.
 *
 * Who holds references: the worker's "current" frame holds one; a client
 * in the middle of sending a part holds one.  So a slow client pins at most
 * one buffer, and a buffer is freed (or kept as the pool's spare) when the
 * last sender finishes.
 */
#ifndef FC_FRAME_H
#define FC_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "../common/bus.h"

struct fc_frame_pool;

struct fc_frame {
	unsigned refs;
	struct fc_frame_pool *pool;	/* where it goes at refs == 0; may be NULL */
	struct fc_frame_meta meta;	/* meta.len bytes of data are valid */
	size_t cap;			/* bytes data can hold */
	unsigned char data[];
};

#define FC_FRAME_POOL_SPARES 2

/* Keeps a few released buffers so a steady stream of frames does not
 * malloc/free one buffer per frame. */
struct fc_frame_pool {
	struct fc_frame *spare[FC_FRAME_POOL_SPARES];
	int nspare;
};

/* A buffer of at least cap bytes with refs = 1, from the pool's spares
 * when one is big enough (pool may be NULL).  NULL on allocation
 * failure. */
struct fc_frame *fc_frame_get(struct fc_frame_pool *pool, size_t cap);

/* Takes a reference; returns f. */
struct fc_frame *fc_frame_ref(struct fc_frame *f);

/* Drops a reference (NULL is fine); the last one returns the buffer to
 * its pool or frees it. */
void fc_frame_unref(struct fc_frame *f);

/* Frees the spares.  Call once every frame taken from the pool has been
 * released (a later release would park its buffer in the pool again). */
void fc_frame_pool_clear(struct fc_frame_pool *pool);

#endif
