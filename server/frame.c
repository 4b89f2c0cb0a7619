/* Refcounted frame buffers; see frame.h. */
#include "frame.h"

#include <stdlib.h>
#include <string.h>

struct fc_frame *
fc_frame_get(struct fc_frame_pool *pool, size_t cap)
{
	struct fc_frame *f = NULL;
	int i;

	if (pool != NULL) {
		for (i = 0; i < pool->nspare; i++) {
			if (pool->spare[i]->cap >= cap) {
				f = pool->spare[i];
				pool->spare[i] = pool->spare[--pool->nspare];
				break;
			}
		}
	}
	if (f == NULL) {
		if (cap > SIZE_MAX - sizeof(*f))
			return NULL;
		if ((f = malloc(sizeof(*f) + cap)) == NULL)
			return NULL;
		f->cap = cap;
	}
	f->refs = 1;
	f->pool = pool;
	memset(&f->meta, 0, sizeof(f->meta));
	return f;
}

struct fc_frame *
fc_frame_ref(struct fc_frame *f)
{
	f->refs++;
	return f;
}

void
fc_frame_unref(struct fc_frame *f)
{
	struct fc_frame_pool *pool;

	if (f == NULL || --f->refs > 0)
		return;
	pool = f->pool;
	if (pool != NULL && pool->nspare < FC_FRAME_POOL_SPARES) {
		pool->spare[pool->nspare++] = f;
		return;
	}
	if (pool != NULL && pool->nspare > 0) {
		/* Keep the biggest buffers: frames rarely shrink for long. */
		int i, small = 0;

		for (i = 1; i < pool->nspare; i++)
			if (pool->spare[i]->cap < pool->spare[small]->cap)
				small = i;
		if (pool->spare[small]->cap < f->cap) {
			free(pool->spare[small]);
			pool->spare[small] = f;
			return;
		}
	}
	free(f);
}

void
fc_frame_pool_clear(struct fc_frame_pool *pool)
{
	int i;

	for (i = 0; i < pool->nspare; i++)
		free(pool->spare[i]);
	pool->nspare = 0;
}
