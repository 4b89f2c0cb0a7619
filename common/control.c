/*
 * The control region; see control.h.
 *
 * Every field is an atomic with one writer (a worker's own slot, or the
 * supervisor for the header), so relaxed operations are enough for the
 * counters: readers want recent figures, not a consistent snapshot.  The
 * demand word is the exception: it is a futex, bumped with release order
 * so capture sees whatever the worker wrote before asking for frames.
 *
 * The age histogram stores one count per bucket (not cumulative): bucket i
 * counts ages in (bound[i-1], bound[i]] ms, the last bucket everything
 * above the last bound.  /metrics adds them up into Prometheus "le" form.
 */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "futex.h"
#include "shm.h"

const uint32_t fc_ctl_age_bounds_ms[FC_CTL_AGE_BUCKETS - 1] = {
	5, 10, 20, 35, 50, 75, 100, 200, 500, 1000, 2000,
};

/* Bytes of the region: the header rounded up to whole pages. */
static size_t
region_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	size_t page = ps > 0 ? (size_t)ps : 4096;

	return (sizeof(struct fc_ctl_header) + page - 1) / page * page;
}

struct fc_ctl *
fc_ctl_create(void)
{
	struct fc_ctl *ctl;
	struct fc_ctl_header *hdr;
	size_t size = region_size();
	void *map;
	int saved;

	if ((ctl = calloc(1, sizeof(*ctl))) == NULL)
		return NULL;
	ctl->fd = -1;
	if ((ctl->fd = fc_shm_create("forkcast-ctl", size)) == -1)
		goto fail;
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, ctl->fd, 0);
	if (map == MAP_FAILED)
		goto fail;
	ctl->hdr = map;
	ctl->map_size = size;

	/* The memfd starts zeroed: every worker slot is FC_WORKER_EMPTY. */
	hdr = ctl->hdr;
	hdr->version = FC_CTL_VERSION;
	hdr->max_workers = FC_CTL_MAX_WORKERS;
	atomic_store_explicit(&hdr->started_real_ns, fc_now_real_ns(),
	    memory_order_relaxed);
	atomic_store_explicit(&hdr->started_mono_ns, fc_now_mono_ns(),
	    memory_order_relaxed);
	atomic_store_explicit(&hdr->supervisor_pid, (int32_t)getpid(),
	    memory_order_relaxed);
	hdr->magic = FC_CTL_MAGIC;
	return ctl;

fail:
	saved = errno;
	fc_ctl_close(ctl);
	errno = saved;
	return NULL;
}

struct fc_ctl *
fc_ctl_attach(int fd)
{
	struct fc_ctl *ctl;
	const struct fc_ctl_header *hdr;
	uint64_t fsize;
	size_t size = region_size();
	void *map;
	int saved;

	if ((ctl = calloc(1, sizeof(*ctl))) == NULL)
		return NULL;
	ctl->fd = -1;
	if ((ctl->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1)
		goto fail;
	/* Sealed, so nobody can truncate it under us (SIGBUS). */
	if (fc_shm_check(ctl->fd, &fsize) == -1)
		goto fail;
	if (fsize != size) {
		errno = EINVAL;
		goto fail;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, ctl->fd, 0);
	if (map == MAP_FAILED)
		goto fail;
	ctl->hdr = map;
	ctl->map_size = size;
	hdr = ctl->hdr;
	if (hdr->magic != FC_CTL_MAGIC || hdr->version != FC_CTL_VERSION) {
		errno = EPROTO;
		goto fail;
	}
	if (hdr->max_workers != FC_CTL_MAX_WORKERS) {
		errno = EINVAL;
		goto fail;
	}
	return ctl;

fail:
	saved = errno;
	fc_ctl_close(ctl);
	errno = saved;
	return NULL;
}

void
fc_ctl_close(struct fc_ctl *ctl)
{
	if (ctl == NULL)
		return;
	if (ctl->hdr != NULL)
		munmap(ctl->hdr, ctl->map_size);
	if (ctl->fd != -1)
		close(ctl->fd);
	free(ctl);
}

void
fc_ctl_reset_worker(struct fc_ctl *ctl, unsigned i)
{
	struct fc_ctl_worker *w;
	size_t k;

	if (ctl == NULL || ctl->hdr == NULL || i >= FC_CTL_MAX_WORKERS)
		return;
	w = &ctl->hdr->workers[i];
	/* Field by field with atomic stores rather than memset: other
	 * workers may be reading this slot for /status right now. */
	atomic_store_explicit(&w->pid, 0, memory_order_relaxed);
	atomic_store_explicit(&w->state, FC_WORKER_EMPTY, memory_order_relaxed);
	atomic_store_explicit(&w->generation, 0, memory_order_relaxed);
	atomic_store_explicit(&w->started_real_ns, 0, memory_order_relaxed);
	atomic_store_explicit(&w->clients, 0, memory_order_relaxed);
	atomic_store_explicit(&w->streams, 0, memory_order_relaxed);
	atomic_store_explicit(&w->clients_total, 0, memory_order_relaxed);
	atomic_store_explicit(&w->requests_total, 0, memory_order_relaxed);
	atomic_store_explicit(&w->bytes, 0, memory_order_relaxed);
	atomic_store_explicit(&w->frames_sent, 0, memory_order_relaxed);
	atomic_store_explicit(&w->frames_skipped, 0, memory_order_relaxed);
	atomic_store_explicit(&w->frames_copied, 0, memory_order_relaxed);
	atomic_store_explicit(&w->drops_timeout, 0, memory_order_relaxed);
	for (k = 0; k < FC_ST_COUNT; k++)
		atomic_store_explicit(&w->status[k], 0, memory_order_relaxed);
	for (k = 0; k < FC_CTL_AGE_BUCKETS; k++)
		atomic_store_explicit(&w->age_bucket[k], 0,
		    memory_order_relaxed);
	atomic_store_explicit(&w->age_count, 0, memory_order_relaxed);
	atomic_store_explicit(&w->age_sum_us, 0, memory_order_relaxed);
	w->pad0 = 0;
	memset(w->reserved, 0, sizeof(w->reserved));
}

enum fc_ctl_status
fc_ctl_status_index(int code)
{
	switch (code) {
	case 200: return FC_ST_200;
	case 304: return FC_ST_304;
	case 400: return FC_ST_400;
	case 401: return FC_ST_401;
	case 403: return FC_ST_403;
	case 404: return FC_ST_404;
	case 405: return FC_ST_405;
	case 408: return FC_ST_408;
	case 414: return FC_ST_414;
	case 421: return FC_ST_421;
	case 431: return FC_ST_431;
	case 500: return FC_ST_500;
	case 503: return FC_ST_503;
	default: return FC_ST_OTHER;
	}
}

void
fc_ctl_observe_age(struct fc_ctl_worker *w, int64_t age_us)
{
	size_t i;

	/* A capture stamp slightly in the future (clock steps between
	 * processes read the same CLOCK_MONOTONIC, but be safe) counts as 0. */
	if (age_us < 0)
		age_us = 0;
	for (i = 0; i < FC_CTL_AGE_BUCKETS - 1; i++)
		if (age_us <= (int64_t)fc_ctl_age_bounds_ms[i] * 1000)
			break;
	atomic_fetch_add_explicit(&w->age_bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->age_count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->age_sum_us, (uint64_t)age_us,
	    memory_order_relaxed);
}

uint64_t
fc_ctl_total_streams(const struct fc_ctl *ctl)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < FC_CTL_MAX_WORKERS; i++)
		sum += atomic_load_explicit(&ctl->hdr->workers[i].streams,
		    memory_order_relaxed);
	return sum;
}

void
fc_ctl_signal_demand(struct fc_ctl *ctl)
{
	/* Release: capture, woken, sees what this worker did before. */
	atomic_fetch_add_explicit(&ctl->hdr->demand, 1, memory_order_release);
	fc_futex_wake(&ctl->hdr->demand, INT32_MAX);
}

uint32_t
fc_ctl_demand_value(const struct fc_ctl *ctl)
{
	return atomic_load_explicit(&ctl->hdr->demand, memory_order_acquire);
}

int
fc_ctl_wait_demand(const struct fc_ctl *ctl, uint32_t seen, int timeout_ms)
{
	return fc_futex_wait(&ctl->hdr->demand, seen, timeout_ms);
}
