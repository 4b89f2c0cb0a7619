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

/* What a region holds: the configuration or the TLS material. */
struct kind {
	const char *name;	/* memfd name */
	uint64_t magic;
	size_t payload;		/* bytes after the header */
};

static const struct kind config_kind = {
	"forkcast-config", FC_CONFREG_MAGIC, sizeof(struct fc_config)
};
static const struct kind tls_kind = {
	"forkcast-tls", FC_TLSREG_MAGIC, sizeof(struct fc_tls_pem)
};

static size_t
region_size(const struct kind *k)
{
	size_t n = sizeof(struct fc_confreg_header) + k->payload;
	long page = sysconf(_SC_PAGESIZE);
	size_t p = page > 0 ? (size_t)page : 4096;

	return (n + p - 1) / p * p;
}

static struct fc_confreg *
map_region(const struct kind *k, int fd, bool writable)
{
	struct fc_confreg *r;
	void *map;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->fd = fd;
	r->map_size = region_size(k);
	r->payload_size = k->payload;
	map = mmap(NULL, r->map_size, writable ? PROT_READ | PROT_WRITE :
	    PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		free(r);
		return NULL;
	}
	r->hdr = map;
	r->payload = (const char *)map + sizeof(struct fc_confreg_header);
	return r;
}

static struct fc_confreg *
create(const struct kind *k)
{
	struct fc_confreg *r;
	int fd, saved;

	if ((fd = fc_shm_create(k->name, region_size(k))) == -1)
		return NULL;
	if ((r = map_region(k, fd, true)) == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
		return NULL;
	}
	r->hdr->magic = k->magic;
	r->hdr->version = FC_CONFREG_VERSION;
	r->hdr->payload_size = (uint32_t)k->payload;
	return r;
}

static struct fc_confreg *
attach(const struct kind *k, int fd)
{
	struct fc_confreg *r;
	uint64_t size;
	int rd, saved;

	/* Never the supervisor's read-write descriptor: see shm.h. */
	if ((rd = fc_shm_reopen_readonly(fd)) == -1)
		return NULL;
	if (fc_shm_check(rd, &size) == -1)
		goto fail;
	if (size != region_size(k)) {
		errno = EPROTO;
		goto fail;
	}
	if ((r = map_region(k, rd, false)) == NULL)
		goto fail;
	if (r->hdr->magic != k->magic ||
	    r->hdr->version != FC_CONFREG_VERSION ||
	    r->hdr->payload_size != k->payload) {
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

static void
publish(struct fc_confreg *r, const void *src, uint32_t gen)
{
	char *dst = (char *)r->hdr + sizeof(struct fc_confreg_header);
	uint32_t s = atomic_load_explicit(&r->hdr->seq, memory_order_relaxed);

	/* Odd while writing; the release fence orders it before the data. */
	atomic_store_explicit(&r->hdr->seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	memcpy(dst, src, r->payload_size);
	atomic_store_explicit(&r->hdr->generation, gen, memory_order_relaxed);
	atomic_store_explicit(&r->hdr->seq, s + 2, memory_order_release);
}

uint32_t
fc_confreg_generation(const struct fc_confreg *r)
{
	return atomic_load_explicit(&r->hdr->generation, memory_order_acquire);
}

/* A consistent copy of the payload into out; its generation, or 0. */
static uint32_t
read_payload(const struct fc_confreg *r, void *out)
{
	uint32_t s1, s2, gen;

	for (int i = 0; i < READ_TRIES; i++) {
		s1 = atomic_load_explicit(&r->hdr->seq, memory_order_acquire);
		if (s1 & 1)
			continue;
		gen = atomic_load_explicit(&r->hdr->generation,
		    memory_order_relaxed);
		memcpy(out, r->payload, r->payload_size);
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&r->hdr->seq, memory_order_relaxed);
		if (s1 == s2)
			return gen;
	}
	return 0;
}

struct fc_confreg *
fc_confreg_create(void)
{
	return create(&config_kind);
}

struct fc_confreg *
fc_confreg_attach(int fd)
{
	return attach(&config_kind, fd);
}

void
fc_confreg_publish(struct fc_confreg *r, const struct fc_config *cfg,
    uint32_t gen)
{
	publish(r, cfg, gen);
}

uint32_t
fc_confreg_read(const struct fc_confreg *r, struct fc_config *out)
{
	uint32_t gen = read_payload(r, out);

	/* The writer is trusted, the memory is shared: never let a string
	 * run past its field. */
	if (gen != 0)
		fc_config_terminate(out);
	return gen;
}

struct fc_confreg *
fc_tlsreg_create(void)
{
	return create(&tls_kind);
}

struct fc_confreg *
fc_tlsreg_attach(int fd)
{
	return attach(&tls_kind, fd);
}

void
fc_tlsreg_publish(struct fc_confreg *r, const struct fc_tls_pem *pem,
    uint32_t gen)
{
	publish(r, pem, gen);
}

uint32_t
fc_tlsreg_read(const struct fc_confreg *r, struct fc_tls_pem *out)
{
	uint32_t gen = read_payload(r, out);

	if (gen != 0 && (out->cert_len >= sizeof(out->cert) ||
	    out->key_len >= sizeof(out->key)))
		return 0;	/* never from our writer */
	return gen;
}

