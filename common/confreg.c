/* The configuration region; see confreg.h. */
#include "confreg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shm.h"

#define READ_TRIES 1000

static size_t
region_size(void)
{
	size_t n = sizeof(struct fc_confreg_header) + sizeof(struct fc_config);
	long page = sysconf(_SC_PAGESIZE);
	size_t p = page > 0 ? (size_t)page : 4096;

	return (n + p - 1) / p * p;
}

static struct fc_confreg *
map_region(int fd, bool writable)
{
	struct fc_confreg *r;
	void *map;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->fd = fd;
	r->map_size = region_size();
	map = mmap(NULL, r->map_size, writable ? PROT_READ | PROT_WRITE :
	    PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		free(r);
		return NULL;
	}
	r->hdr = map;
	r->cfg = (const struct fc_config *)(const void *)((const char *)map +
	    sizeof(struct fc_confreg_header));
	return r;
}

struct fc_confreg *
fc_confreg_create(void)
{
	struct fc_confreg *r;
	int fd, saved;

	if ((fd = fc_shm_create("forkcast-config", region_size())) == -1)
		return NULL;
	if ((r = map_region(fd, true)) == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
		return NULL;
	}
	r->hdr->magic = FC_CONFREG_MAGIC;
	r->hdr->version = FC_CONFREG_VERSION;
	r->hdr->config_size = (uint32_t)sizeof(struct fc_config);
	return r;
}

struct fc_confreg *
fc_confreg_attach(int fd)
{
	struct fc_confreg *r;
	uint64_t size;
	int rd, saved;

	/* Never the supervisor's read-write descriptor: see shm.h. */
	if ((rd = fc_shm_reopen_readonly(fd)) == -1)
		return NULL;
	if (fc_shm_check(rd, &size) == -1)
		goto fail;
	if (size != region_size()) {
		errno = EPROTO;
		goto fail;
	}
	if ((r = map_region(rd, false)) == NULL)
		goto fail;
	if (r->hdr->magic != FC_CONFREG_MAGIC ||
	    r->hdr->version != FC_CONFREG_VERSION ||
	    r->hdr->config_size != sizeof(struct fc_config)) {
		fc_confreg_close(r);
		errno = EPROTO;
		return NULL;
	}
	return r;
fail:
	saved = errno;
	close(rd);
	errno = saved;
	return NULL;
}

void
fc_confreg_close(struct fc_confreg *r)
{
	if (r == NULL)
		return;
	if (r->hdr != NULL)
		munmap(r->hdr, r->map_size);
	if (r->fd != -1)
		close(r->fd);
	free(r);
}

void
fc_confreg_publish(struct fc_confreg *r, const struct fc_config *cfg,
    uint32_t gen)
{
	struct fc_config *dst = (struct fc_config *)(void *)((char *)r->hdr +
	    sizeof(struct fc_confreg_header));
	uint32_t s = atomic_load_explicit(&r->hdr->seq, memory_order_relaxed);

	/* Odd while writing; the release fence orders it before the data. */
	atomic_store_explicit(&r->hdr->seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	memcpy(dst, cfg, sizeof(*dst));
	atomic_store_explicit(&r->hdr->generation, gen, memory_order_relaxed);
	atomic_store_explicit(&r->hdr->seq, s + 2, memory_order_release);
}

uint32_t
fc_confreg_generation(const struct fc_confreg *r)
{
	return atomic_load_explicit(&r->hdr->generation, memory_order_acquire);
}

uint32_t
fc_confreg_read(const struct fc_confreg *r, struct fc_config *out)
{
	uint32_t s1, s2, gen;

	for (int i = 0; i < READ_TRIES; i++) {
		s1 = atomic_load_explicit(&r->hdr->seq, memory_order_acquire);
		if (s1 & 1)
			continue;
		gen = atomic_load_explicit(&r->hdr->generation,
		    memory_order_relaxed);
		memcpy(out, r->cfg, sizeof(*out));
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&r->hdr->seq, memory_order_relaxed);
		if (s1 == s2) {
			/* The writer is trusted, the memory is shared: never
			 * let a string run past its field. */
			fc_config_terminate(out);
			return gen;
		}
	}
	return 0;
}

