/*
 * The control region; see control.h.
 *
 * Every field is an atomic with one writer (a worker's own slot and
 * address table, or the supervisor for the header), so relaxed operations
 * are enough for the counters: readers want recent figures, not a
 * consistent snapshot.  The header's demand word, admission lock and lock
 * counter are the exceptions, changed by any worker with atomic
 * read-modify-writes.  The demand word is a futex, bumped with release
 * order so capture sees whatever the worker wrote before asking for frames.
 *
 * The age histogram stores one count per bucket (not cumulative): bucket i
 * counts ages in (bound[i-1], bound[i]] ms, the last bucket everything
 * above the last bound.  /metrics adds them up into Prometheus "le" form.
 *
 * Admission (see control.h) needs ordering too: the lock is taken with
 * acquire and released with release order, so the holder sees every count
 * the previous holders added.  Counts that go
 * down outside the lock are relaxed: a reader that sees an older, higher
 * count refuses where it could have admitted, never the other way.
 */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "futex.h"
#include "shm.h"

const uint32_t fc_ctl_age_bounds_ms[FC_CTL_AGE_BUCKETS - 1] = {
	1, 2, 3, 5, 7, 10, 15, 20, 35, 50, 75, 100, 200, 500, 1000, 2000,
};

#define LOAD(p) atomic_load_explicit((p), memory_order_relaxed)
#define STORE(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)

#define ADDR_MASK (FC_CTL_ADDR_SLOTS - 1)
#define ADMIT_SPINS 64		/* busy polls before yielding the CPU */

static _Atomic uint64_t *
addr_table(const struct fc_ctl *ctl, unsigned i)
{
	return (_Atomic uint64_t *)(void *)((char *)ctl->hdr +
	    FC_CTL_TABLES_OFFSET + (size_t)i * FC_CTL_ADDR_TABLE_BYTES);
}

struct fc_ctl *
fc_ctl_create(void)
{
	struct fc_ctl *ctl;
	struct fc_ctl_header *hdr;
	size_t size = FC_CTL_REGION_SIZE;
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

	/* The memfd starts zeroed: every worker slot is FC_WORKER_EMPTY and
	 * every address table empty. */
	hdr = ctl->hdr;
	if (getrandom(hdr->addr_key, sizeof(hdr->addr_key), 0) !=
	    (ssize_t)sizeof(hdr->addr_key)) {
		if (errno == 0)
			errno = EIO;
		goto fail;
	}
	memcpy(ctl->addr_key, hdr->addr_key, sizeof(ctl->addr_key));
	ctl->admit_wait_ns = FC_CTL_ADMIT_WAIT_NS;
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
	size_t size = FC_CTL_REGION_SIZE;
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
	memcpy(ctl->addr_key, hdr->addr_key, sizeof(ctl->addr_key));
	ctl->admit_wait_ns = FC_CTL_ADMIT_WAIT_NS;
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
	atomic_store_explicit(&w->events, 0, memory_order_relaxed);
	for (k = 0; k < FC_CTL_REFUSALS; k++)
		atomic_store_explicit(&w->refused[k], 0, memory_order_relaxed);
	atomic_store_explicit(&w->lock_timeouts, 0, memory_order_relaxed);
	atomic_store_explicit(&w->addr_live, 0, memory_order_relaxed);
	atomic_store_explicit(&w->addr_used, 0, memory_order_relaxed);
	atomic_store_explicit(&w->addr_untracked, 0, memory_order_relaxed);
	atomic_store_explicit(&w->tls_user, 0, memory_order_relaxed);
	atomic_store_explicit(&w->tls_ktls, 0, memory_order_relaxed);
	w->pad0 = 0;

	/* The table: a hole punched in the memfd reads as zeros and gives
	 * the pages back; where that fails, zero it word by word. */
	if (fallocate(ctl->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    (off_t)(FC_CTL_TABLES_OFFSET + (size_t)i * FC_CTL_ADDR_TABLE_BYTES),
	    (off_t)FC_CTL_ADDR_TABLE_BYTES) == -1) {
		_Atomic uint64_t *t = addr_table(ctl, i);

		for (k = 0; k < FC_CTL_ADDR_SLOTS; k++)
			STORE(&t[k], 0);
	}
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

	/* A slot whose worker is gone (pid 0: reaped, and not started again,
	 * e.g. held after exit status 2) keeps its last counts until it is
	 * reset; they are nobody's viewers. */
	for (i = 0; i < FC_CTL_MAX_WORKERS; i++)
		if (atomic_load_explicit(&ctl->hdr->workers[i].pid,
		    memory_order_relaxed) != 0)
			sum += atomic_load_explicit(&ctl->hdr->workers[i].streams,
			    memory_order_relaxed);
	return sum;
}

/* --- address keys --- */

static uint64_t
rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

#define SIPROUND do {							\
	v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);	\
	v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);	\
} while (0)

/* SipHash-2-4 (Aumasson and Bernstein), key as two little-endian words. */
static uint64_t
siphash24(const uint64_t k[2], const uint8_t *in, size_t len)
{
	uint64_t v0 = UINT64_C(0x736f6d6570736575) ^ k[0];
	uint64_t v1 = UINT64_C(0x646f72616e646f6d) ^ k[1];
	uint64_t v2 = UINT64_C(0x6c7967656e657261) ^ k[0];
	uint64_t v3 = UINT64_C(0x7465646279746573) ^ k[1];
	uint64_t m, b = (uint64_t)len << 56;
	size_t i, j;

	for (i = 0; i + 8 <= len; i += 8) {
		m = le64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (j = 0; i + j < len; j++)
		b |= (uint64_t)in[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

bool
fc_ctl_addr_key(const struct fc_ctl *ctl, const struct sockaddr *sa,
    socklen_t len, uint64_t *key)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	uint8_t a[16];

	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET && len >= sizeof(sin)) {
		memcpy(&sin, sa, sizeof(sin));
		/* As ::ffff:a.b.c.d, the form a dual-stack socket reports. */
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &sin.sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(sin6)) {
		memcpy(&sin6, sa, sizeof(sin6));
		memcpy(a, &sin6.sin6_addr, 16);
	} else {
		return false;
	}
	*key = siphash24(ctl->addr_key, a, sizeof(a));
	return true;
}

/* --- address tables --- */

/* The tag of a key (never 0: 0 is an empty word); its home index is the
 * tag's low bits, so a table can be rebuilt from its words alone. */
static uint64_t
tag_of(uint64_t key)
{
	uint64_t tag = key >> FC_CTL_ADDR_COUNT_BITS;

	return tag != 0 ? tag : 1;
}

static uint64_t
word_tag(uint64_t w)
{
	return w >> FC_CTL_ADDR_COUNT_BITS;
}

static uint64_t
word_count(uint64_t w)
{
	return w & FC_CTL_ADDR_COUNT_MAX;
}

/* Count of tag in table t: probe from its home to the first empty word.
 * Bounded by the table size even if its writer filled every word. */
static uint64_t
table_count(_Atomic uint64_t *t, uint64_t tag)
{
	uint64_t w;
	size_t n;

	for (n = 0; n < FC_CTL_ADDR_SLOTS; n++) {
		w = LOAD(&t[(tag + n) & ADDR_MASK]);
		if (w == 0)
			break;
		if (word_tag(w) == tag)
			return word_count(w);
	}
	return 0;
}

uint64_t
fc_ctl_addr_count(const struct fc_ctl *ctl, unsigned i, uint64_t key)
{
	if (i >= FC_CTL_MAX_WORKERS)
		return 0;
	return table_count(addr_table(ctl, i), tag_of(key));
}

/* Puts word w (count > 0) at the first empty place of its chain; the
 * table is being rebuilt, so there is one. */
static void
table_place(_Atomic uint64_t *t, uint64_t w)
{
	size_t n, p;

	for (n = 0; n < FC_CTL_ADDR_SLOTS; n++) {
		p = (word_tag(w) + n) & ADDR_MASK;
		if (LOAD(&t[p]) == 0) {
			STORE(&t[p], w);
			return;
		}
	}
}

/*
 * Rebuilds the table of slot `me` without its free places (tags with count
 * 0), which are kept only so that chains stay intact for readers.  Only
 * under the admission lock: entries move, and a reader holding the lock
 * must never miss one.  False when there was no memory for it.
 */
static bool
table_sweep(_Atomic uint64_t *t, struct fc_ctl_worker *me)
{
	uint64_t *keep, w;
	size_t i, n = 0;

	if ((keep = malloc(FC_CTL_ADDR_TABLE_BYTES)) == NULL)
		return false;
	for (i = 0; i < FC_CTL_ADDR_SLOTS; i++) {
		w = LOAD(&t[i]);
		if (word_count(w) > 0)
			keep[n++] = w;
	}
	for (i = 0; i < FC_CTL_ADDR_SLOTS; i++)
		STORE(&t[i], 0);
	for (i = 0; i < n; i++)
		table_place(t, keep[i]);
	free(keep);
	STORE(&me->addr_used, (uint64_t)n);
	STORE(&me->addr_live, (uint64_t)n);
	return true;
}

/* One more stream of tag in slot me's own table.  False when the table
 * is full (or the count would overflow).  may_sweep: the lock is held. */
static bool
table_take(_Atomic uint64_t *t, struct fc_ctl_worker *me, uint64_t tag,
    bool may_sweep)
{
	uint64_t w, used, live;
	size_t n, p = 0, free_at = SIZE_MAX;

	for (n = 0; n < FC_CTL_ADDR_SLOTS; n++) {
		p = (tag + n) & ADDR_MASK;
		w = LOAD(&t[p]);
		if (w == 0)
			break;
		if (word_tag(w) == tag) {
			if (word_count(w) == FC_CTL_ADDR_COUNT_MAX)
				return false;
			STORE(&t[p], w + 1);
			if (word_count(w) == 0)
				STORE(&me->addr_live, LOAD(&me->addr_live) + 1);
			return true;
		}
		if (word_count(w) == 0 && free_at == SIZE_MAX)
			free_at = p;
	}
	/* Not in the table: the first free place on the chain, else the
	 * empty word that ends it. */
	if (free_at != SIZE_MAX) {
		STORE(&t[free_at], tag << FC_CTL_ADDR_COUNT_BITS | 1);
		STORE(&me->addr_live, LOAD(&me->addr_live) + 1);
		return true;
	}
	used = LOAD(&me->addr_used);
	live = LOAD(&me->addr_live);
	if (n == FC_CTL_ADDR_SLOTS || used >= FC_CTL_ADDR_LOAD_MAX) {
		if (!may_sweep || live >= FC_CTL_ADDR_LOAD_MAX ||
		    !table_sweep(t, me))
			return false;
		return table_take(t, me, tag, false);
	}
	STORE(&t[p], tag << FC_CTL_ADDR_COUNT_BITS | 1);
	STORE(&me->addr_used, used + 1);
	STORE(&me->addr_live, live + 1);
	return true;
}

/* One stream of tag less in slot me's own table (the word stays, with
 * count 0, as a free place). */
static void
table_drop(_Atomic uint64_t *t, struct fc_ctl_worker *me, uint64_t tag)
{
	uint64_t w;
	size_t n, p;

	for (n = 0; n < FC_CTL_ADDR_SLOTS; n++) {
		p = (tag + n) & ADDR_MASK;
		w = LOAD(&t[p]);
		if (w == 0)
			return;
		if (word_tag(w) == tag) {
			if (word_count(w) == 0)
				return;
			STORE(&t[p], w - 1);
			if (word_count(w) == 1)
				STORE(&me->addr_live, LOAD(&me->addr_live) - 1);
			return;
		}
	}
}

/* --- the admission lock --- */

static void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Whether pid is the pid of a worker slot in use. */
static bool
holder_alive(const struct fc_ctl *ctl, uint32_t pid)
{
	const struct fc_ctl_worker *s;
	unsigned i;

	for (i = 0; i < FC_CTL_MAX_WORKERS; i++) {
		s = &ctl->hdr->workers[i];
		if ((uint32_t)LOAD(&s->pid) == pid &&
		    LOAD(&s->state) != FC_WORKER_EMPTY)
			return true;
	}
	return false;
}

/*
 * Takes the admission lock; false when it could not within
 * ctl->admit_wait_ns (counted in me->lock_timeouts): the caller admits
 * without it.  A holding this process already gave up on is not waited
 * for again; a holder that is not a live worker any more (it died; the
 * supervisor cleared its pid) loses the lock to us.
 */
static bool
admit_lock(struct fc_ctl *ctl, struct fc_ctl_worker *me)
{
	_Atomic uint32_t *lock = &ctl->hdr->admit_lock;
	uint32_t self = (uint32_t)getpid(), held, seq;
	int64_t deadline = 0, now;
	unsigned spins = 0;
	bool wedged;

	for (;;) {
		held = 0;
		if (atomic_compare_exchange_weak_explicit(lock, &held, self,
		    memory_order_acquire, memory_order_relaxed))
			break;
		if (held == 0)
			continue;	/* spurious failure of the weak CAS */
		seq = LOAD(&ctl->hdr->admit_seq);
		wedged = held == ctl->wedged_holder && seq == ctl->wedged_seq;
		if (++spins < ADMIT_SPINS && !wedged) {
			cpu_relax();
			continue;
		}
		if (!holder_alive(ctl, held)) {
			if (atomic_compare_exchange_strong_explicit(lock, &held,
			    self, memory_order_acquire, memory_order_relaxed))
				break;
			continue;
		}
		if (wedged)
			goto timeout;
		now = fc_now_mono_ns();
		if (deadline == 0)
			deadline = now + ctl->admit_wait_ns;
		else if (now >= deadline)
			goto timeout;
		/* The holder may be waiting for this CPU. */
		sched_yield();
	}
	atomic_fetch_add_explicit(&ctl->hdr->admit_seq, 1, memory_order_relaxed);
	ctl->wedged_holder = 0;
	return true;

timeout:
	ctl->wedged_holder = held;
	ctl->wedged_seq = seq;
	atomic_fetch_add_explicit(&me->lock_timeouts, 1, memory_order_relaxed);
	return false;
}

static void
admit_unlock(struct fc_ctl *ctl)
{
	uint32_t self = (uint32_t)getpid();

	/* Release: the next holder sees our counts.  Only our own holding
	 * (it may have been taken from us if our slot was cleared). */
	(void)atomic_compare_exchange_strong_explicit(&ctl->hdr->admit_lock,
	    &self, 0, memory_order_release, memory_order_relaxed);
}

/* --- admission --- */

/* Slots whose counts hold: self, and every slot with a live owner. */
static bool
counts(const struct fc_ctl *ctl, unsigned i, unsigned self)
{
	const struct fc_ctl_worker *s = &ctl->hdr->workers[i];
	uint32_t state;

	if (i == self)
		return true;
	if (LOAD(&s->pid) == 0)
		return false;
	state = LOAD(&s->state);
	return state == FC_WORKER_SERVING || state == FC_WORKER_RETIRING;
}

static void
refuse(struct fc_ctl_worker *me, enum fc_ctl_admit r)
{
	atomic_fetch_add_explicit(&me->refused[r - 1], 1, memory_order_relaxed);
}

enum fc_ctl_admit
fc_ctl_admit_connection(struct fc_ctl *ctl, unsigned self,
    uint64_t max_connections)
{
	struct fc_ctl_worker *me = &ctl->hdr->workers[self];
	enum fc_ctl_admit r = FC_CTL_ADMITTED;
	uint64_t sum = 0;
	bool locked;
	unsigned i;

	if (max_connections == 0) {
		atomic_fetch_add_explicit(&me->clients, 1, memory_order_relaxed);
		return FC_CTL_ADMITTED;
	}
	locked = admit_lock(ctl, me);
	for (i = 0; i < FC_CTL_MAX_WORKERS; i++)
		if (counts(ctl, i, self))
			sum += LOAD(&ctl->hdr->workers[i].clients);
	if (sum >= max_connections)
		r = FC_CTL_OVER_CONNECTIONS;
	else
		atomic_fetch_add_explicit(&me->clients, 1, memory_order_relaxed);
	if (locked)
		admit_unlock(ctl);
	if (r != FC_CTL_ADMITTED)
		refuse(me, r);
	return r;
}

enum fc_ctl_admit
fc_ctl_admit_client(struct fc_ctl *ctl, unsigned self,
    enum fc_ctl_client_kind kind, uint64_t max_clients, const uint64_t *addr,
    uint64_t max_per_addr, bool *addr_counted)
{
	struct fc_ctl_worker *me = &ctl->hdr->workers[self];
	const struct fc_ctl_worker *s;
	enum fc_ctl_admit r = FC_CTL_ADMITTED;
	uint64_t sum = 0, tag = 0;
	bool locked, stream = kind == FC_CTL_STREAM;
	unsigned i;

	*addr_counted = false;
	if (!stream)
		addr = NULL;
	if (addr != NULL)
		tag = tag_of(*addr);
	locked = admit_lock(ctl, me);
	if (max_clients > 0) {
		for (i = 0; i < FC_CTL_MAX_WORKERS; i++) {
			if (!counts(ctl, i, self))
				continue;
			s = &ctl->hdr->workers[i];
			sum += LOAD(&s->streams) + LOAD(&s->events);
		}
		if (sum >= max_clients) {
			r = FC_CTL_OVER_CLIENTS;
			goto done;
		}
	}
	if (addr != NULL && max_per_addr > 0) {
		sum = 0;
		for (i = 0; i < FC_CTL_MAX_WORKERS && sum < max_per_addr; i++)
			if (counts(ctl, i, self))
				sum += table_count(addr_table(ctl, i), tag);
		if (sum >= max_per_addr) {
			r = FC_CTL_OVER_PER_ADDR;
			goto done;
		}
	}
	if (addr != NULL) {
		if (table_take(addr_table(ctl, self), me, tag, locked)) {
			*addr_counted = true;
		} else if (max_per_addr > 0) {
			r = FC_CTL_TABLE_FULL;
			goto done;
		} else {
			atomic_fetch_add_explicit(&me->addr_untracked, 1,
			    memory_order_relaxed);
		}
	}
	atomic_fetch_add_explicit(stream ? &me->streams : &me->events, 1,
	    memory_order_relaxed);
done:
	if (locked)
		admit_unlock(ctl);
	if (r != FC_CTL_ADMITTED)
		refuse(me, r);
	return r;
}

/* Lowers a gauge of our own slot, never below 0. */
static void
gauge_down(_Atomic uint64_t *g)
{
	uint64_t v = LOAD(g);

	if (v > 0)
		STORE(g, v - 1);
}

void
fc_ctl_release_connection(struct fc_ctl *ctl, unsigned self)
{
	gauge_down(&ctl->hdr->workers[self].clients);
}

void
fc_ctl_release_client(struct fc_ctl *ctl, unsigned self,
    enum fc_ctl_client_kind kind, const uint64_t *addr)
{
	struct fc_ctl_worker *me = &ctl->hdr->workers[self];

	if (kind == FC_CTL_STREAM) {
		gauge_down(&me->streams);
		if (addr != NULL)
			table_drop(addr_table(ctl, self), me, tag_of(*addr));
	} else {
		gauge_down(&me->events);
	}
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

void
fc_ctl_signal_snapshot(struct fc_ctl *ctl)
{
	/* Before the demand word: a capture woken by it sees this count. */
	atomic_fetch_add_explicit(&ctl->hdr->snapshot_demand, 1,
	    memory_order_relaxed);
	fc_ctl_signal_demand(ctl);
}

uint32_t
fc_ctl_snapshot_value(const struct fc_ctl *ctl)
{
	return atomic_load_explicit(&ctl->hdr->snapshot_demand,
	    memory_order_acquire);
}
