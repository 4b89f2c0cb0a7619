/*
 * Control region: create/attach checks, worker slot reset, status code
 * index, age histogram, stream totals and the demand futex across fork.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
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
	int fd = shm_clone_start(good->hdr, good->map_size, size, &map);

	if (mutate != NULL && size >= sizeof(struct fc_ctl_header))
		mutate(map);
	return shm_clone_finish(fd, map, size, seal);
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
	other = fc_ctl_attach(ctl->fd);
	assert_non_null(other);
	assert_true(other->fd != ctl->fd);
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
	/* Dirty every byte of two slots, reset one. */
	memset(w, 0x5a, sizeof(*w));
	memset(n, 0x5a, sizeof(*n));
	fc_ctl_reset_worker(ctl, 5);
	assert_memory_equal(w, zero, sizeof(*w));
	assert_int_equal(atomic_load(&n->bytes), UINT64_C(0x5a5a5a5a5a5a5a5a));
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
	fc_ctl_observe_age(w, 5000);		/* 5 ms: inclusive, bucket 0 */
	fc_ctl_observe_age(w, 5001);		/* bucket 1 */
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
	assert_int_equal(w->age_sum_us, 0 + 5000 + 5001 + 0 + 2000000 +
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
	atomic_store(&ctl->hdr->workers[0].streams, 3);
	atomic_store(&ctl->hdr->workers[17].streams, 40);
	atomic_store(&ctl->hdr->workers[FC_CTL_MAX_WORKERS - 1].streams, 500);
	atomic_store(&ctl->hdr->workers[2].clients, 9999);	/* not a stream */
	assert_int_equal(fc_ctl_total_streams(ctl), 543);
	fc_ctl_reset_worker(ctl, 17);
	assert_int_equal(fc_ctl_total_streams(ctl), 503);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
