/*
 * Control region: create/attach checks, worker slot reset, status code
 * index, age histogram, stream totals, the demand futex across fork, and
 * admission: address keys, the per-address tables, the server-wide limits
 * over live slots, the admission lock, and two processes admitting at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "shm_clone.h"

#include "../../common/clock.h"
#include "../../common/control.h"


/* A copy of a good region with one header edit, size bytes, sealed or not. */
static int
clone_fd(const struct fc_ctl *good, void (*mutate)(struct fc_ctl_header *),
    size_t size, bool seal)
{
	void *map;
	/* The header is all the checks read; the tables stay holes. */
	int fd = shm_clone_start(good->hdr, sizeof(struct fc_ctl_header), size,
	    &map);

	if (mutate != NULL && size >= sizeof(struct fc_ctl_header))
		mutate(map);
	return shm_clone_finish(fd, map, size, seal);
}

/* Slot i's address table, as raw memory. */
static void *
table_of(const struct fc_ctl *ctl, unsigned i)
{
	return (char *)ctl->hdr + FC_CTL_TABLES_OFFSET +
	    (size_t)i * FC_CTL_ADDR_TABLE_BYTES;
}

static bool
all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

static void bad_magic(struct fc_ctl_header *h) { h->magic = 0; }
static void bad_version(struct fc_ctl_header *h) { h->version = 99; }
static void bad_max(struct fc_ctl_header *h) { h->max_workers = 1000; }

static void
expect_attach_error(const struct fc_ctl *good,
    void (*mutate)(struct fc_ctl_header *), size_t size, bool seal, int err)
{
	int fd = clone_fd(good, mutate, size, seal);

	errno = 0;
	assert_null(fc_ctl_attach(fd));
	assert_int_equal(errno, err);
	close(fd);
}

static void
test_create_attach(void **state)
{
	struct fc_ctl *ctl, *other;
	int fd;

	(void)state;
	ctl = fc_ctl_create();
	assert_non_null(ctl);
	assert_true(ctl->hdr->magic == FC_CTL_MAGIC);
	assert_int_equal(ctl->hdr->version, FC_CTL_VERSION);
	assert_int_equal(ctl->hdr->max_workers, FC_CTL_MAX_WORKERS);
	assert_int_equal(ctl->hdr->supervisor_pid, getpid());
	assert_true(ctl->hdr->started_mono_ns > 0);
	assert_true(ctl->map_size >= sizeof(struct fc_ctl_header));
	assert_int_equal(ctl->hdr->workers[7].state, FC_WORKER_EMPTY);
	assert_int_equal(ftruncate(ctl->fd, 0), -1);	/* sealed */

	/* Shared: a write through one mapping shows through the other. */
	assert_int_equal(ctl->map_size, FC_CTL_REGION_SIZE);
	assert_true(ctl->hdr->addr_key[0] != 0 || ctl->hdr->addr_key[1] != 0);
	assert_memory_equal(ctl->addr_key, ctl->hdr->addr_key,
	    sizeof(ctl->addr_key));
	other = fc_ctl_attach(ctl->fd);
	assert_non_null(other);
	assert_true(other->fd != ctl->fd);
	assert_memory_equal(other->addr_key, ctl->addr_key,
	    sizeof(ctl->addr_key));
	atomic_store(&other->hdr->workers[3].bytes, 12345);
	assert_int_equal(atomic_load(&ctl->hdr->workers[3].bytes), 12345);
	fc_ctl_close(other);

	fd = clone_fd(ctl, NULL, ctl->map_size, true);
	other = fc_ctl_attach(fd);
	assert_non_null(other);
	fc_ctl_close(other);
	close(fd);

	expect_attach_error(ctl, bad_magic, ctl->map_size, true, EPROTO);
	expect_attach_error(ctl, bad_version, ctl->map_size, true, EPROTO);
	expect_attach_error(ctl, bad_max, ctl->map_size, true, EINVAL);
	expect_attach_error(ctl, NULL, 0, true, EINVAL);
	expect_attach_error(ctl, NULL, ctl->map_size - 4096, true, EINVAL);
	expect_attach_error(ctl, NULL, ctl->map_size + 4096, true, EINVAL);
	expect_attach_error(ctl, NULL, ctl->map_size, false, EINVAL);
	errno = 0;
	assert_null(fc_ctl_attach(-1));
	assert_int_equal(errno, EBADF);
	{
		int p[2];

		assert_int_equal(pipe(p), 0);
		errno = 0;
		assert_null(fc_ctl_attach(p[0]));
		assert_int_equal(errno, EINVAL);
		close(p[0]);
		close(p[1]);
	}
	fc_ctl_close(ctl);
	fc_ctl_close(NULL);
}

static void
test_reset_worker(void **state)
{
	struct fc_ctl *ctl;
	struct fc_ctl_worker *w, *n;
	static const uint8_t zero[sizeof(struct fc_ctl_worker)];

	(void)state;
	ctl = fc_ctl_create();
	assert_non_null(ctl);
	w = &ctl->hdr->workers[5];
	n = &ctl->hdr->workers[6];
	/* Dirty every byte of two slots and their tables, reset one. */
	memset(w, 0x5a, sizeof(*w));
	memset(n, 0x5a, sizeof(*n));
	memset(table_of(ctl, 5), 0x5a, FC_CTL_ADDR_TABLE_BYTES);
	memset(table_of(ctl, 6), 0x5a, FC_CTL_ADDR_TABLE_BYTES);
	fc_ctl_reset_worker(ctl, 5);
	assert_memory_equal(w, zero, sizeof(*w));
	assert_true(all_zero(table_of(ctl, 5), FC_CTL_ADDR_TABLE_BYTES));
	assert_int_equal(atomic_load(&n->bytes), UINT64_C(0x5a5a5a5a5a5a5a5a));
	assert_int_equal(((const uint8_t *)table_of(ctl, 6))[0], 0x5a);
	assert_int_equal(((const uint8_t *)table_of(ctl,
	    6))[FC_CTL_ADDR_TABLE_BYTES - 1], 0x5a);
	assert_int_equal(((const uint8_t *)table_of(ctl,
	    4))[FC_CTL_ADDR_TABLE_BYTES - 1], 0);
	/* Out of range: ignored, nothing else touched. */
	fc_ctl_reset_worker(ctl, FC_CTL_MAX_WORKERS);
	fc_ctl_reset_worker(ctl, UINT32_MAX);
	fc_ctl_reset_worker(NULL, 0);
	fc_ctl_reset_worker(ctl, FC_CTL_MAX_WORKERS - 1);
	assert_memory_equal(&ctl->hdr->workers[FC_CTL_MAX_WORKERS - 1], zero,
	    sizeof(zero));
	assert_true(ctl->hdr->magic == FC_CTL_MAGIC);
	fc_ctl_close(ctl);
}

static void
test_status_index(void **state)
{
	static const struct { int code; enum fc_ctl_status st; } cases[] = {
		{ 200, FC_ST_200 }, { 304, FC_ST_304 }, { 400, FC_ST_400 },
		{ 401, FC_ST_401 }, { 403, FC_ST_403 }, { 404, FC_ST_404 },
		{ 405, FC_ST_405 }, { 408, FC_ST_408 }, { 414, FC_ST_414 },
		{ 431, FC_ST_431 }, { 500, FC_ST_500 }, { 503, FC_ST_503 },
		{ 0, FC_ST_OTHER }, { -1, FC_ST_OTHER }, { 201, FC_ST_OTHER },
		{ 302, FC_ST_OTHER }, { 599, FC_ST_OTHER }, { 1000, FC_ST_OTHER },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(fc_ctl_status_index(cases[i].code),
		    cases[i].st);
}

static void
test_observe_age(void **state)
{
	struct fc_ctl *ctl;
	struct fc_ctl_worker *w;
	size_t i;

	(void)state;
	ctl = fc_ctl_create();
	assert_non_null(ctl);
	w = &ctl->hdr->workers[0];

	/* Bounds are increasing. */
	for (i = 1; i < FC_CTL_AGE_BUCKETS - 1; i++)
		assert_true(fc_ctl_age_bounds_ms[i] > fc_ctl_age_bounds_ms[i - 1]);

	fc_ctl_observe_age(w, 0);		/* bucket 0 */
	fc_ctl_observe_age(w, 1000);		/* 1 ms: inclusive, bucket 0 */
	fc_ctl_observe_age(w, 1001);		/* bucket 1 */
	fc_ctl_observe_age(w, -300);		/* clamped to 0: bucket 0 */
	fc_ctl_observe_age(w, 2000000);		/* 2 s: last finite bucket */
	fc_ctl_observe_age(w, 2000001);		/* +Inf */
	fc_ctl_observe_age(w, INT64_C(1) << 40);	/* +Inf */
	assert_int_equal(w->age_bucket[0], 3);
	assert_int_equal(w->age_bucket[1], 1);
	assert_int_equal(w->age_bucket[FC_CTL_AGE_BUCKETS - 2], 1);
	assert_int_equal(w->age_bucket[FC_CTL_AGE_BUCKETS - 1], 2);
	for (i = 2; i < FC_CTL_AGE_BUCKETS - 2; i++)
		assert_int_equal(w->age_bucket[i], 0);
	assert_int_equal(w->age_count, 7);
	assert_int_equal(w->age_sum_us, 0 + 1000 + 1001 + 0 + 2000000 +
	    2000001 + (UINT64_C(1) << 40));

	/* Every bound lands in its own bucket, one more microsecond in the
	 * next. */
	fc_ctl_reset_worker(ctl, 0);
	for (i = 0; i < FC_CTL_AGE_BUCKETS - 1; i++) {
		fc_ctl_observe_age(w, (int64_t)fc_ctl_age_bounds_ms[i] * 1000);
		fc_ctl_observe_age(w, (int64_t)fc_ctl_age_bounds_ms[i] * 1000 + 1);
	}
	assert_int_equal(w->age_bucket[0], 1);
	for (i = 1; i < FC_CTL_AGE_BUCKETS - 1; i++)
		assert_int_equal(w->age_bucket[i], 2);
	assert_int_equal(w->age_bucket[FC_CTL_AGE_BUCKETS - 1], 1);
	fc_ctl_close(ctl);
}

static void
test_total_streams(void **state)
{
	struct fc_ctl *ctl;

	(void)state;
	ctl = fc_ctl_create();
	assert_non_null(ctl);
	assert_int_equal(fc_ctl_total_streams(ctl), 0);
	atomic_store(&ctl->hdr->workers[0].pid, 100);
	atomic_store(&ctl->hdr->workers[0].streams, 3);
	atomic_store(&ctl->hdr->workers[17].pid, 117);
	atomic_store(&ctl->hdr->workers[17].streams, 40);
	atomic_store(&ctl->hdr->workers[FC_CTL_MAX_WORKERS - 1].pid, 300);
	atomic_store(&ctl->hdr->workers[FC_CTL_MAX_WORKERS - 1].streams, 500);
	atomic_store(&ctl->hdr->workers[2].pid, 102);
	atomic_store(&ctl->hdr->workers[2].clients, 9999);	/* not a stream */
	assert_int_equal(fc_ctl_total_streams(ctl), 543);
	fc_ctl_reset_worker(ctl, 17);
	assert_int_equal(fc_ctl_total_streams(ctl), 503);
	/* a reaped worker (pid 0) whose slot was not reset: not counted */
	atomic_store(&ctl->hdr->workers[0].pid, 0);
	assert_int_equal(fc_ctl_total_streams(ctl), 500);
	fc_ctl_close(ctl);
}

static void
test_demand(void **state)
{
	struct fc_ctl *ctl;
	uint32_t seen;
	int64_t t0, el;
	pid_t pid;
	int status;

	(void)state;
	ctl = fc_ctl_create();
	assert_non_null(ctl);

	/* Timeout with nobody signalling. */
	seen = fc_ctl_demand_value(ctl);
	t0 = fc_now_mono_ns();
	assert_int_equal(fc_ctl_wait_demand(ctl, seen, 50), 0);
	el = fc_now_mono_ns() - t0;
	assert_true(el >= 40 * 1000000LL && el < 1000 * 1000000LL);

	/* A worker (child, own mapping) signals; capture (parent) wakes. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct fc_ctl *w = fc_ctl_attach(ctl->fd);

		if (w == NULL)
			_exit(2);
		sleep_ms(50);
		fc_ctl_signal_demand(w);
		fc_ctl_close(w);
		_exit(0);
	}
	t0 = fc_now_mono_ns();
	assert_int_equal(fc_ctl_wait_demand(ctl, seen, 5000), 1);
	el = fc_now_mono_ns() - t0;
	assert_true(el < 4000 * 1000000LL);
	assert_int_equal(fc_ctl_demand_value(ctl), seen + 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* The other direction: a child waits, the parent signals. */
	seen = fc_ctl_demand_value(ctl);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct fc_ctl *c = fc_ctl_attach(ctl->fd);
		int rc;

		if (c == NULL)
			_exit(2);
		rc = fc_ctl_wait_demand(c, seen, 5000);
		fc_ctl_close(c);
		_exit(rc == 1 ? 0 : 3);
	}
	sleep_ms(50);
	fc_ctl_signal_demand(ctl);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* A value already stale returns at once. */
	assert_int_equal(fc_ctl_wait_demand(ctl, seen, 5000), 1);
	fc_ctl_close(ctl);
}

/* --- admission --- */

/* Makes slot i look like a live worker with this pid. */
static void
live_slot(struct fc_ctl *ctl, unsigned i, int32_t pid)
{
	atomic_store(&ctl->hdr->workers[i].pid, pid);
	atomic_store(&ctl->hdr->workers[i].state, FC_WORKER_SERVING);
}

static uint64_t
v4_key(const struct fc_ctl *ctl, const char *text)
{
	struct sockaddr_in sin;
	uint64_t key = 0;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(1234);
	assert_int_equal(inet_pton(AF_INET, text, &sin.sin_addr), 1);
	assert_true(fc_ctl_addr_key(ctl, (struct sockaddr *)&sin, sizeof(sin),
	    &key));
	return key;
}

static uint64_t
v6_key(const struct fc_ctl *ctl, const char *text, uint16_t port)
{
	struct sockaddr_in6 sin6;
	uint64_t key = 0;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, text, &sin6.sin6_addr), 1);
	assert_true(fc_ctl_addr_key(ctl, (struct sockaddr *)&sin6,
	    sizeof(sin6), &key));
	return key;
}

/* The key of 10.a.b.c for a = n >> 16, b = n >> 8, c = n. */
static uint64_t
nth_key(const struct fc_ctl *ctl, unsigned n)
{
	char text[32];

	snprintf(text, sizeof(text), "10.%u.%u.%u", (n >> 16) & 255,
	    (n >> 8) & 255, n & 255);
	return v4_key(ctl, text);
}

static enum fc_ctl_admit
admit_stream(struct fc_ctl *ctl, unsigned self, uint64_t key, uint64_t max,
    uint64_t per_addr, bool *counted)
{
	return fc_ctl_admit_client(ctl, self, FC_CTL_STREAM, max, &key,
	    per_addr, counted);
}

static void
test_addr_key(void **state)
{
	struct fc_ctl *ctl, *other;
	struct sockaddr_un sun;
	struct sockaddr_in sin;
	uint64_t a, k;

	(void)state;
	ctl = fc_ctl_create();
	other = fc_ctl_create();
	assert_non_null(ctl);
	assert_non_null(other);

	a = v4_key(ctl, "192.0.2.7");
	/* Same address, any port, either form: same key. */
	assert_true(v6_key(ctl, "::ffff:192.0.2.7", 80) == a);
	assert_true(v6_key(ctl, "::ffff:192.0.2.7", 9) == a);
	/* Neighbours differ, and so does an IPv4-compatible (not mapped)
	 * form. */
	assert_true(v4_key(ctl, "192.0.2.8") != a);
	assert_true(v6_key(ctl, "::192.0.2.7", 80) != a);
	assert_true(v6_key(ctl, "2001:db8::1", 80) !=
	    v6_key(ctl, "2001:db8::2", 80));
	/* Another region has another random key. */
	assert_true(v4_key(other, "192.0.2.7") != a);

	/* No address: no key. */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_false(fc_ctl_addr_key(ctl, (struct sockaddr *)&sun,
	    sizeof(sun), &k));
	assert_false(fc_ctl_addr_key(ctl, NULL, 0, &k));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	assert_false(fc_ctl_addr_key(ctl, (struct sockaddr *)&sin, 4, &k));
	fc_ctl_close(other);
	fc_ctl_close(ctl);
}

/*
 * The key is SipHash-2-4 as published: with the reference key 00..0f and
 * the 16-byte message 00..0f (here an IPv6 address), the output of the
 * reference implementation's test vector 16 (vectors.h in
 * github.com/veorq/SipHash; its 15-byte vector, a129ca6149be45e5, is the
 * one printed in the paper).
 */
static void
test_addr_key_siphash(void **state)
{
	struct fc_ctl *ctl;
	struct sockaddr_in6 sin6;
	uint64_t key = 0;
	unsigned i;

	(void)state;
	ctl = fc_ctl_create();
	assert_non_null(ctl);
	ctl->addr_key[0] = UINT64_C(0x0706050403020100);
	ctl->addr_key[1] = UINT64_C(0x0f0e0d0c0b0a0908);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	for (i = 0; i < 16; i++)
		sin6.sin6_addr.s6_addr[i] = (uint8_t)i;
	assert_true(fc_ctl_addr_key(ctl, (struct sockaddr *)&sin6,
	    sizeof(sin6), &key));
	assert_true(key == UINT64_C(0x3f2acc7f57c29bdb));
	fc_ctl_close(ctl);
}

/* Insert, count, remove, reuse, in one worker's table. */
static void
test_addr_table(void **state)
{
	struct fc_ctl *ctl;
	struct fc_ctl_worker *w;
	uint64_t a, b, c;
	bool counted;
	int i;

	(void)state;
	ctl = fc_ctl_create();
	assert_non_null(ctl);
	w = &ctl->hdr->workers[0];
	live_slot(ctl, 0, getpid());
	a = v4_key(ctl, "198.51.100.1");
	b = v4_key(ctl, "198.51.100.2");
	c = v6_key(ctl, "::ffff:198.51.100.1", 1);	/* a again */

	assert_int_equal(fc_ctl_addr_count(ctl, 0, a), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(admit_stream(ctl, 0, a, 0, 0, &counted),
		    FC_CTL_ADMITTED);
		assert_true(counted);
	}
	assert_int_equal(admit_stream(ctl, 0, b, 0, 0, &counted),
	    FC_CTL_ADMITTED);
	assert_int_equal(admit_stream(ctl, 0, c, 0, 0, &counted),
	    FC_CTL_ADMITTED);
	assert_int_equal(fc_ctl_addr_count(ctl, 0, a), 4);
	assert_int_equal(fc_ctl_addr_count(ctl, 0, b), 1);
	assert_int_equal(fc_ctl_addr_count(ctl, 1, a), 0);
	assert_int_equal(atomic_load(&w->streams), 5);
	assert_int_equal(atomic_load(&w->addr_live), 2);
	assert_int_equal(atomic_load(&w->addr_used), 2);

	/* Remove: counts go down; an address at 0 keeps its word as a free
	 * place, which it takes back when it returns. */
	fc_ctl_release_client(ctl, 0, FC_CTL_STREAM, &b);
	assert_int_equal(fc_ctl_addr_count(ctl, 0, b), 0);
	assert_int_equal(atomic_load(&w->addr_live), 1);
	assert_int_equal(atomic_load(&w->addr_used), 2);
	assert_int_equal(admit_stream(ctl, 0, b, 0, 0, &counted),
	    FC_CTL_ADMITTED);
	assert_int_equal(fc_ctl_addr_count(ctl, 0, b), 1);
	assert_int_equal(atomic_load(&w->addr_used), 2);
	for (i = 0; i < 4; i++)
		fc_ctl_release_client(ctl, 0, FC_CTL_STREAM, &a);
	assert_int_equal(fc_ctl_addr_count(ctl, 0, a), 0);
	assert_int_equal(fc_ctl_addr_count(ctl, 0, b), 1);
	assert_int_equal(atomic_load(&w->streams), 1);
	assert_int_equal(atomic_load(&w->addr_live), 1);
	/* A stream without an address is counted, not in the table. */
	assert_int_equal(fc_ctl_admit_client(ctl, 0, FC_CTL_STREAM, 0, NULL,
	    5, &counted), FC_CTL_ADMITTED);
	assert_false(counted);
	assert_int_equal(atomic_load(&w->streams), 2);
	/* Releasing an address the table does not hold (or holds at 0)
	 * leaves the table alone. */
	fc_ctl_release_client(ctl, 0, FC_CTL_STREAM, &a);
	fc_ctl_release_client(ctl, 0, FC_CTL_STREAM, &(uint64_t){
	    v4_key(ctl, "198.51.100.3") });
	assert_int_equal(fc_ctl_addr_count(ctl, 0, a), 0);
	assert_int_equal(fc_ctl_addr_count(ctl, 0, b), 1);
	assert_int_equal(atomic_load(&w->addr_live), 1);
	assert_int_equal(atomic_load(&w->addr_used), 2);
	fc_ctl_close(ctl);
}

/* max_clients_per_ip over slots: exact, live slots only. */
static void
test_per_addr_limit(void **state)
{
	struct fc_ctl *ctl;
	uint64_t a, b;
	bool counted;
	int i;

	(void)state;
	ctl = fc_ctl_create();
	assert_non_null(ctl);
	live_slot(ctl, 0, getpid());
	live_slot(ctl, 1, getpid() + 100000);
	a = v4_key(ctl, "203.0.113.9");
	b = v6_key(ctl, "2001:db8::9", 1);

	/* Two in slot 0, one in slot 1 (its own table): the limit of 3 is
	 * reached whichever slot asks next. */
	for (i = 0; i < 2; i++)
		assert_int_equal(admit_stream(ctl, 0, a, 0, 3, &counted),
		    FC_CTL_ADMITTED);
	assert_int_equal(admit_stream(ctl, 1, a, 0, 3, &counted),
	    FC_CTL_ADMITTED);
	assert_int_equal(fc_ctl_addr_count(ctl, 1, a), 1);
	assert_int_equal(admit_stream(ctl, 0, a, 0, 3, &counted),
	    FC_CTL_OVER_PER_ADDR);
	assert_false(counted);
	assert_int_equal(admit_stream(ctl, 1, a, 0, 3, &counted),
	    FC_CTL_OVER_PER_ADDR);
	assert_int_equal(atomic_load(&ctl->hdr->workers[0].refused[
	    FC_CTL_OVER_PER_ADDR - 1]), 1);
	assert_int_equal(atomic_load(&ctl->hdr->workers[1].refused[
	    FC_CTL_OVER_PER_ADDR - 1]), 1);
	/* The IPv4-mapped form is the same address. */
	assert_int_equal(admit_stream(ctl, 0, v6_key(ctl, "::ffff:203.0.113.9",
	    8080), 0, 3, &counted), FC_CTL_OVER_PER_ADDR);
	/* Refusals changed no count; another address is not limited. */
	assert_int_equal(atomic_load(&ctl->hdr->workers[0].streams), 2);
	assert_int_equal(admit_stream(ctl, 0, b, 0, 3, &counted),
	    FC_CTL_ADMITTED);

	/* A dead slot's counts disappear: pid 0 (reaped), or a state that
	 * is not serving or retiring. */
	atomic_store(&ctl->hdr->workers[1].pid, 0);
	assert_int_equal(admit_stream(ctl, 0, a, 0, 3, &counted),
	    FC_CTL_ADMITTED);
	assert_int_equal(admit_stream(ctl, 0, a, 0, 3, &counted),
	    FC_CTL_OVER_PER_ADDR);
	live_slot(ctl, 1, getpid() + 100000);
	atomic_store(&ctl->hdr->workers[1].state, FC_WORKER_RETIRING);
	fc_ctl_release_client(ctl, 0, FC_CTL_STREAM, &a);
	assert_int_equal(admit_stream(ctl, 0, a, 0, 3, &counted),
	    FC_CTL_OVER_PER_ADDR);	/* retiring still counts */
	atomic_store(&ctl->hdr->workers[1].state, FC_WORKER_STARTING);
	assert_int_equal(admit_stream(ctl, 0, a, 0, 3, &counted),
	    FC_CTL_ADMITTED);
	/* The supervisor's reset empties the table for the next owner. */
	fc_ctl_reset_worker(ctl, 1);
	assert_int_equal(fc_ctl_addr_count(ctl, 1, a), 0);
	assert_int_equal(fc_ctl_addr_count(ctl, 0, a), 3);
	fc_ctl_close(ctl);
}

/* max_clients counts streams and /events; max_connections every
 * connection; both over live slots only. */
static void
test_server_limits(void **state)
{
	struct fc_ctl *ctl;
	struct fc_ctl_worker *w0, *w1;
	uint64_t a;
	bool counted;

	(void)state;
	ctl = fc_ctl_create();
	assert_non_null(ctl);
	w0 = &ctl->hdr->workers[0];
	w1 = &ctl->hdr->workers[1];
	live_slot(ctl, 0, getpid());
	live_slot(ctl, 1, getpid() + 100000);
	a = v4_key(ctl, "192.0.2.1");

	assert_int_equal(admit_stream(ctl, 0, a, 4, 0, &counted),
	    FC_CTL_ADMITTED);
	assert_int_equal(fc_ctl_admit_client(ctl, 1, FC_CTL_EVENTS, 4, &a, 0,
	    &counted), FC_CTL_ADMITTED);
	assert_false(counted);		/* events are not counted by address */
	assert_int_equal(fc_ctl_admit_client(ctl, 0, FC_CTL_EVENTS, 4, NULL,
	    0, &counted), FC_CTL_ADMITTED);
	assert_int_equal(admit_stream(ctl, 1, a, 4, 0, &counted),
	    FC_CTL_ADMITTED);
	assert_int_equal(atomic_load(&w0->events), 1);
	assert_int_equal(atomic_load(&w1->events), 1);
	assert_int_equal(fc_ctl_admit_client(ctl, 0, FC_CTL_EVENTS, 4, NULL,
	    0, &counted), FC_CTL_OVER_CLIENTS);
	assert_int_equal(admit_stream(ctl, 1, a, 4, 0, &counted),
	    FC_CTL_OVER_CLIENTS);
	assert_int_equal(atomic_load(&w0->refused[FC_CTL_OVER_CLIENTS - 1]), 1);
	assert_int_equal(atomic_load(&w1->refused[FC_CTL_OVER_CLIENTS - 1]), 1);
	fc_ctl_release_client(ctl, 1, FC_CTL_EVENTS, NULL);
	assert_int_equal(atomic_load(&w1->events), 0);
	assert_int_equal(admit_stream(ctl, 0, a, 4, 0, &counted),
	    FC_CTL_ADMITTED);
	/* Slot 1 dies: its stream no longer counts. */
	atomic_store(&w1->pid, 0);
	assert_int_equal(admit_stream(ctl, 0, a, 4, 0, &counted),
	    FC_CTL_ADMITTED);
	assert_int_equal(admit_stream(ctl, 0, a, 4, 0, &counted),
	    FC_CTL_OVER_CLIENTS);

	/* Connections. */
	live_slot(ctl, 1, getpid() + 100000);
	assert_int_equal(fc_ctl_admit_connection(ctl, 0, 3), FC_CTL_ADMITTED);
	assert_int_equal(fc_ctl_admit_connection(ctl, 1, 3), FC_CTL_ADMITTED);
	assert_int_equal(fc_ctl_admit_connection(ctl, 1, 3), FC_CTL_ADMITTED);
	assert_int_equal(fc_ctl_admit_connection(ctl, 0, 3),
	    FC_CTL_OVER_CONNECTIONS);
	assert_int_equal(atomic_load(&w0->refused[FC_CTL_OVER_CONNECTIONS - 1]),
	    1);
	assert_int_equal(atomic_load(&w0->clients), 1);
	fc_ctl_release_connection(ctl, 1);
	assert_int_equal(atomic_load(&w1->clients), 1);
	assert_int_equal(fc_ctl_admit_connection(ctl, 0, 3), FC_CTL_ADMITTED);
	assert_int_equal(fc_ctl_admit_connection(ctl, 0, 3),
	    FC_CTL_OVER_CONNECTIONS);
	atomic_store(&w1->state, FC_WORKER_EMPTY);
	assert_int_equal(fc_ctl_admit_connection(ctl, 0, 3), FC_CTL_ADMITTED);
	/* No limit: always admitted, still counted. */
	assert_int_equal(fc_ctl_admit_connection(ctl, 0, 0), FC_CTL_ADMITTED);
	assert_int_equal(atomic_load(&w0->clients), 4);
	/* Gauges never go below zero. */
	fc_ctl_release_client(ctl, 1, FC_CTL_EVENTS, NULL);
	assert_int_equal(atomic_load(&w1->events), 0);
	assert_int_equal(atomic_load(&w0->lock_timeouts), 0);
	fc_ctl_close(ctl);
}

/* A full table refuses when a per-address limit is set, else admits
 * uncounted; released places are swept out and used again. */
static void
test_addr_table_full(void **state)
{
	struct fc_ctl *ctl;
	struct fc_ctl_worker *w;
	bool counted;
	unsigned n;

	(void)state;
	ctl = fc_ctl_create();
	assert_non_null(ctl);
	w = &ctl->hdr->workers[0];
	live_slot(ctl, 0, getpid());

	for (n = 0; n < FC_CTL_ADDR_LOAD_MAX; n++)
		assert_int_equal(admit_stream(ctl, 0, nth_key(ctl, n), 0, 2,
		    &counted), FC_CTL_ADMITTED);
	assert_int_equal(atomic_load(&w->addr_live), FC_CTL_ADDR_LOAD_MAX);
	/* Every one is still found. */
	for (n = 0; n < FC_CTL_ADDR_LOAD_MAX; n += 97)
		assert_int_equal(fc_ctl_addr_count(ctl, 0, nth_key(ctl, n)), 1);
	/* Full: a new address is refused while a limit is set, ... */
	assert_int_equal(admit_stream(ctl, 0, nth_key(ctl, n), 0, 2, &counted),
	    FC_CTL_TABLE_FULL);
	assert_false(counted);
	assert_int_equal(atomic_load(&w->refused[FC_CTL_TABLE_FULL - 1]), 1);
	/* ... an address already in it still gets its second stream, ... */
	assert_int_equal(admit_stream(ctl, 0, nth_key(ctl, 5), 0, 2, &counted),
	    FC_CTL_ADMITTED);
	assert_true(counted);
	fc_ctl_release_client(ctl, 0, FC_CTL_STREAM, &(uint64_t){
	    nth_key(ctl, 5) });
	/* ... and without a limit a new one streams uncounted. */
	assert_int_equal(admit_stream(ctl, 0, nth_key(ctl, n), 0, 0, &counted),
	    FC_CTL_ADMITTED);
	assert_false(counted);
	assert_int_equal(atomic_load(&w->addr_untracked), 1);
	assert_int_equal(atomic_load(&w->streams), FC_CTL_ADDR_LOAD_MAX + 1);

	/* Release half: new addresses fit again (into free places, or
	 * after a sweep), and the survivors keep their counts. */
	for (n = 0; n < FC_CTL_ADDR_LOAD_MAX; n += 2)
		fc_ctl_release_client(ctl, 0, FC_CTL_STREAM, &(uint64_t){
		    nth_key(ctl, n) });
	assert_int_equal(atomic_load(&w->addr_live), FC_CTL_ADDR_LOAD_MAX / 2);
	for (n = 0; n < FC_CTL_ADDR_LOAD_MAX / 2; n++)
		assert_int_equal(admit_stream(ctl, 0, nth_key(ctl, 100000 + n),
		    0, 2, &counted), FC_CTL_ADMITTED);
	assert_int_equal(atomic_load(&w->addr_live), FC_CTL_ADDR_LOAD_MAX);
	assert_true(atomic_load(&w->addr_used) <= FC_CTL_ADDR_LOAD_MAX);
	for (n = 1; n < FC_CTL_ADDR_LOAD_MAX; n += 2)
		assert_int_equal(fc_ctl_addr_count(ctl, 0, nth_key(ctl, n)), 1);
	for (n = 0; n < FC_CTL_ADDR_LOAD_MAX; n += 2)
		assert_int_equal(fc_ctl_addr_count(ctl, 0, nth_key(ctl, n)), 0);
	assert_int_equal(admit_stream(ctl, 0, nth_key(ctl, 200000), 0, 2,
	    &counted), FC_CTL_TABLE_FULL);
	fc_ctl_close(ctl);
}

/* The lock: a live holder that never lets go costs one bounded wait,
 * then nothing; a dead holder loses it at once. */
static void
test_admit_lock(void **state)
{
	struct fc_ctl *ctl;
	struct fc_ctl_worker *w;
	int64_t t0, el;
	uint32_t other = (uint32_t)getpid() + 100000;

	(void)state;
	ctl = fc_ctl_create();
	assert_non_null(ctl);
	w = &ctl->hdr->workers[0];
	live_slot(ctl, 0, getpid());
	live_slot(ctl, 1, (int32_t)other);

	/* Wedged by live worker 1. */
	atomic_store(&ctl->hdr->admit_lock, other);
	t0 = fc_now_mono_ns();
	assert_int_equal(fc_ctl_admit_connection(ctl, 0, 10), FC_CTL_ADMITTED);
	el = fc_now_mono_ns() - t0;
	assert_true(el >= FC_CTL_ADMIT_WAIT_NS);
	assert_true(el < 1000 * 1000000LL);
	assert_int_equal(atomic_load(&w->lock_timeouts), 1);
	/* The limits still apply, approximately: counted without it. */
	assert_int_equal(atomic_load(&w->clients), 1);
	/* The same holding: no second wait. */
	t0 = fc_now_mono_ns();
	assert_int_equal(fc_ctl_admit_connection(ctl, 0, 10), FC_CTL_ADMITTED);
	el = fc_now_mono_ns() - t0;
	assert_true(el < FC_CTL_ADMIT_WAIT_NS);
	assert_int_equal(atomic_load(&w->lock_timeouts), 2);
	assert_int_equal(atomic_load(&ctl->hdr->admit_lock), other);

	/* Worker 1 is reaped (pid 0): the lock is taken from it. */
	atomic_store(&ctl->hdr->workers[1].pid, 0);
	assert_int_equal(fc_ctl_admit_connection(ctl, 0, 10), FC_CTL_ADMITTED);
	assert_int_equal(atomic_load(&w->lock_timeouts), 2);
	assert_int_equal(atomic_load(&ctl->hdr->admit_lock), 0);
	/* A normal holding is released after each admission. */
	assert_int_equal(fc_ctl_admit_connection(ctl, 0, 10), FC_CTL_ADMITTED);
	assert_int_equal(atomic_load(&ctl->hdr->admit_lock), 0);
	assert_int_equal(atomic_load(&w->clients), 4);
	fc_ctl_close(ctl);
}

/*
 * Two worker processes admit and release at once against the same limits.
 * Besides the region, they share `held`: a process adds to it after an
 * admission and takes from it before the release, so held never exceeds
 * what the region counts; if held ever exceeds the limit, two processes
 * took the same last place.  This tests the lock, so its wait is raised
 * far above FC_CTL_ADMIT_WAIT_NS: on a busy machine a holder descheduled
 * for 5 ms inside the lock would otherwise be taken for a wedged one, and
 * the admissions made without the lock may pass a limit by design (see
 * control.h; test_admit_lock covers that path).
 */
#define RACE_ROUNDS 20000
#define RACE_LIMIT 4
#define RACE_WAIT_NS INT64_C(10000000000)	/* for the other process */

struct race {
	_Atomic int held[3];		/* per phase: per address, clients, connections */
	_Atomic int over;		/* times held went past the limit */
	_Atomic int admitted[2], refused[2];
	_Atomic int ready[3];		/* per phase: processes that began it */
	_Atomic int phase_refused[3][2];
};

/* Both processes met a full server in this phase: they did compete. */
static bool
competed(struct race *r, int phase)
{
	return atomic_load(&r->phase_refused[phase][0]) > 0 &&
	    atomic_load(&r->phase_refused[phase][1]) > 0;
}

static int
race_child(struct fc_ctl *parent, unsigned self, struct race *r, uint64_t key)
{
	struct fc_ctl *ctl = fc_ctl_attach(parent->fd);
	uint64_t rnd = 0x9e3779b97f4a7c15ULL * (self + 1);
	int64_t deadline;
	int phase, i, mine;
	enum fc_ctl_admit a;
	bool counted;

	if (ctl == NULL)
		return 2;
	ctl->admit_wait_ns = INT64_C(10000000000);
	live_slot(ctl, self, getpid());
	for (phase = 0; phase < 3; phase++) {
		/* Begin each phase together, and go on past RACE_ROUNDS until
		 * both have met a full server: on a busy machine one process
		 * could otherwise be done before the other runs. */
		deadline = fc_now_mono_ns() + RACE_WAIT_NS;
		atomic_fetch_add(&r->ready[phase], 1);
		while (atomic_load(&r->ready[phase]) < 2) {
			if (fc_now_mono_ns() > deadline)
				return 3;
			sched_yield();
		}
		deadline = fc_now_mono_ns() + RACE_WAIT_NS;
		mine = 0;
		for (i = 0; i < RACE_ROUNDS || (!competed(r, phase) &&
		    fc_now_mono_ns() < deadline); i++) {
			rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
			if (mine < RACE_LIMIT && (mine == 0 || (rnd >> 40) & 1)) {
				if (phase == 0)
					a = admit_stream(ctl, self, key, 0,
					    RACE_LIMIT, &counted);
				else if (phase == 1)
					a = fc_ctl_admit_client(ctl, self,
					    FC_CTL_EVENTS, RACE_LIMIT, NULL, 0,
					    &counted);
				else
					a = fc_ctl_admit_connection(ctl, self,
					    RACE_LIMIT);
				if (a != FC_CTL_ADMITTED) {
					atomic_fetch_add(&r->refused[self], 1);
					atomic_fetch_add(
					    &r->phase_refused[phase][self], 1);
					continue;
				}
				atomic_fetch_add(&r->admitted[self], 1);
				if (atomic_fetch_add(&r->held[phase], 1) >=
				    RACE_LIMIT)
					atomic_fetch_add(&r->over, 1);
				mine++;
			} else if (mine > 0) {
				atomic_fetch_sub(&r->held[phase], 1);
				if (phase == 0)
					fc_ctl_release_client(ctl, self,
					    FC_CTL_STREAM, &key);
				else if (phase == 1)
					fc_ctl_release_client(ctl, self,
					    FC_CTL_EVENTS, NULL);
				else
					fc_ctl_release_connection(ctl, self);
				mine--;
			}
		}
		while (mine-- > 0) {
			atomic_fetch_sub(&r->held[phase], 1);
			if (phase == 0)
				fc_ctl_release_client(ctl, self, FC_CTL_STREAM,
				    &key);
			else if (phase == 1)
				fc_ctl_release_client(ctl, self, FC_CTL_EVENTS,
				    NULL);
			else
				fc_ctl_release_connection(ctl, self);
		}
	}
	fc_ctl_close(ctl);
	return 0;
}

static void
test_admit_race(void **state)
{
	struct fc_ctl *ctl;
	struct race *r;
	uint64_t key;
	pid_t pid[2];
	int st;
	unsigned i;

	(void)state;
	ctl = fc_ctl_create();
	assert_non_null(ctl);
	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(r != MAP_FAILED);
	memset(r, 0, sizeof(*r));
	key = v4_key(ctl, "192.0.2.200");
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0)
			_exit(race_child(ctl, i, r, key));
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(waitpid(pid[i], &st, 0), pid[i]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	printf("# admitted %d + %d, refused %d + %d, lock timeouts %d + %d\n",
	    r->admitted[0], r->admitted[1], r->refused[0], r->refused[1],
	    (int)atomic_load(&ctl->hdr->workers[0].lock_timeouts),
	    (int)atomic_load(&ctl->hdr->workers[1].lock_timeouts));
	assert_int_equal(r->over, 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(atomic_load(
		    &ctl->hdr->workers[i].lock_timeouts), 0);
	/* Both admitted and both met a full server: they did compete. */
	for (i = 0; i < 2; i++) {
		assert_true(r->admitted[i] > 0);
		assert_true(r->refused[i] > 0);
	}
	for (i = 0; i < 3; i++)
		assert_true(competed(r, (int)i));
	/* Everything given back. */
	for (i = 0; i < 2; i++) {
		assert_int_equal(atomic_load(&ctl->hdr->workers[i].streams), 0);
		assert_int_equal(atomic_load(&ctl->hdr->workers[i].events), 0);
		assert_int_equal(atomic_load(&ctl->hdr->workers[i].clients), 0);
		assert_int_equal(fc_ctl_addr_count(ctl, i, key), 0);
	}
	munmap(r, sizeof(*r));
	fc_ctl_close(ctl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_attach),
		cmocka_unit_test(test_reset_worker),
		cmocka_unit_test(test_status_index),
		cmocka_unit_test(test_observe_age),
		cmocka_unit_test(test_total_streams),
		cmocka_unit_test(test_demand),
		cmocka_unit_test(test_addr_key),
		cmocka_unit_test(test_addr_key_siphash),
		cmocka_unit_test(test_addr_table),
		cmocka_unit_test(test_per_addr_limit),
		cmocka_unit_test(test_server_limits),
		cmocka_unit_test(test_addr_table_full),
		cmocka_unit_test(test_admit_lock),
		cmocka_unit_test(test_admit_race),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
