/*
 * Frame bus, single writer: geometry checks on attach, publish/read round
 * trips, wrap-around, oversize and short-buffer paths, the read-only
 * mapping, begin/commit/abort, the info block, and futex waits (with a
 * wake-latency figure measured across processes).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "shm_clone.h"

#include "../../common/bus.h"
#include "../../common/clock.h"

#define CAP 8192u

/* Frame contents derived from the sequence number. */
static void
fill(uint8_t *p, size_t len, uint64_t seq)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seq * 31 + i * 7 + (i >> 8));
}

static int
check(const uint8_t *p, size_t len, uint64_t seq)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (uint8_t)(seq * 31 + i * 7 + (i >> 8)))
			return -1;
	return 0;
}


/*
 * A copy of a good bus in a new memfd, after mutate() edited its header,
 * size bytes long, sealed against shrinking when seal is set.
 */
static int
clone_fd(const struct fc_bus *good, void (*mutate)(struct fc_bus_header *),
    size_t size, bool seal)
{
	void *map;
	int fd = shm_clone_start(good->hdr, good->map_size, size, &map);

	if (mutate != NULL && size >= sizeof(struct fc_bus_header))
		mutate(map);
	return shm_clone_finish(fd, map, size, seal);
}

static void bad_magic(struct fc_bus_header *h) { h->magic ^= 1; }
static void bad_version(struct fc_bus_header *h) { h->version = FC_BUS_VERSION + 1; }
static void few_slots(struct fc_bus_header *h) { h->slot_count = 2; }
static void many_slots(struct fc_bus_header *h) { h->slot_count = FC_BUS_MAX_SLOTS + 1; }
static void big_capacity(struct fc_bus_header *h) { h->slot_capacity += 64; }
static void odd_stride(struct fc_bus_header *h) { h->slot_stride += 8; }
static void huge_stride(struct fc_bus_header *h) { h->slot_stride = UINT64_MAX & ~UINT64_C(63); }
static void small_total(struct fc_bus_header *h) { h->total_size -= 4096; }
static void big_total(struct fc_bus_header *h) { h->total_size += 4096; }

static void
expect_attach_error(const struct fc_bus *good,
    void (*mutate)(struct fc_bus_header *), size_t size, bool seal, int err)
{
	struct fc_bus *bus;
	int fd;

	fd = clone_fd(good, mutate, size, seal);
	errno = 0;
	bus = fc_bus_attach(fd, false);
	assert_null(bus);
	assert_int_equal(errno, err);
	close(fd);
}

static void
test_create_geometry(void **state)
{
	struct fc_bus *bus;
	struct fc_bus_header *h;
	long page = sysconf(_SC_PAGESIZE);
	int seals;

	(void)state;
	errno = 0;
	assert_null(fc_bus_create(2, CAP));
	assert_int_equal(errno, EINVAL);
	assert_null(fc_bus_create(FC_BUS_MAX_SLOTS + 1, CAP));
	assert_null(fc_bus_create(3, FC_BUS_MIN_CAPACITY - 1));
	assert_null(fc_bus_create(3, FC_BUS_MAX_CAPACITY + 1));

	bus = fc_bus_create(5, 10000);
	assert_non_null(bus);
	h = bus->hdr;
	assert_true(h->magic == FC_BUS_MAGIC);
	assert_int_equal(h->version, FC_BUS_VERSION);
	assert_int_equal(h->slot_count, 5);
	assert_int_equal(h->slot_capacity, 10000);
	/* 64 + 10000 rounded up to 64 */
	assert_int_equal(h->slot_stride, 10112);
	assert_int_equal(h->total_size % (uint64_t)page, 0);
	assert_true(h->total_size >= sizeof(*h) + 5 * h->slot_stride);
	assert_true(h->total_size < sizeof(*h) + 5 * h->slot_stride +
	    (uint64_t)page);
	assert_int_equal(bus->map_size, h->total_size);
	assert_int_equal(fc_bus_head(bus), 0);
	seals = fcntl(bus->fd, F_GET_SEALS);
	assert_int_equal(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
	    F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	/* Sealed: nobody can resize it. */
	assert_int_equal(ftruncate(bus->fd, 0), -1);
	fc_bus_close(bus);
	fc_bus_close(NULL);
}

static void
test_attach_checks(void **state)
{
	struct fc_bus *good, *bus;
	int fd;

	(void)state;
	good = fc_bus_create(4, CAP);
	assert_non_null(good);

	/* A faithful, sealed copy attaches: the checks below are the only
	 * differences. */
	fd = clone_fd(good, NULL, good->map_size, true);
	bus = fc_bus_attach(fd, false);
	assert_non_null(bus);
	assert_int_equal(bus->map_size, good->map_size);
	fc_bus_close(bus);
	close(fd);

	expect_attach_error(good, bad_magic, good->map_size, true, EPROTO);
	expect_attach_error(good, bad_version, good->map_size, true, EPROTO);
	expect_attach_error(good, few_slots, good->map_size, true, EINVAL);
	expect_attach_error(good, many_slots, good->map_size, true, EINVAL);
	expect_attach_error(good, big_capacity, good->map_size, true, EINVAL);
	expect_attach_error(good, odd_stride, good->map_size, true, EINVAL);
	expect_attach_error(good, huge_stride, good->map_size, true, EINVAL);
	expect_attach_error(good, small_total, good->map_size, true, EINVAL);
	/* Size and header agree, but not with the geometry. */
	expect_attach_error(good, big_total, good->map_size + 4096, true, EINVAL);
	/* Truncated: shorter than the header, and shorter than the slots. */
	expect_attach_error(good, NULL, 0, true, EINVAL);
	expect_attach_error(good, NULL, 100, true, EINVAL);
	expect_attach_error(good, NULL, good->map_size - 4096, true, EINVAL);
	/* Wrong size: longer than the header says. */
	expect_attach_error(good, NULL, good->map_size + 4096, true, EINVAL);
	/* Not sealed against shrinking. */
	expect_attach_error(good, NULL, good->map_size, false, EINVAL);

	/* Not a regular file, not a file at all. */
	errno = 0;
	assert_null(fc_bus_attach(-1, false));
	assert_int_equal(errno, EBADF);
	{
		int p[2];

		assert_int_equal(pipe(p), 0);
		errno = 0;
		assert_null(fc_bus_attach(p[0], false));
		assert_int_equal(errno, EINVAL);
		close(p[0]);
		close(p[1]);
	}
	fc_bus_close(good);
}

static void
test_round_trip(void **state)
{
	struct fc_bus *w, *r;
	struct fc_frame_meta in, out;
	uint8_t data[3000], buf[CAP];

	(void)state;
	w = fc_bus_create(3, CAP);
	assert_non_null(w);
	r = fc_bus_attach(w->fd, false);
	assert_non_null(r);
	assert_false(r->writable);

	assert_int_equal(fc_bus_read_latest(r, 0, &out, buf, sizeof(buf)),
	    FC_BUS_NONE);

	fill(data, sizeof(data), 1);
	memset(&in, 0, sizeof(in));
	in.width = 640;
	in.height = 480;
	in.flags = FC_FRAME_NOSIGNAL | FC_FRAME_REPEAT;
	in.ts_real_ns = INT64_C(1700000000123456789);
	in.ts_mono_ns = INT64_C(987654321);
	assert_int_equal(fc_bus_publish(w, data, sizeof(data), &in), 0);
	assert_int_equal(in.seq, 1);
	assert_int_equal(in.len, sizeof(data));
	assert_int_equal(fc_bus_head(r), 1);
	assert_int_equal(w->hdr->frames_published, 1);

	memset(&out, 0xa5, sizeof(out));
	assert_int_equal(fc_bus_read_latest(r, 0, &out, buf, sizeof(buf)),
	    FC_BUS_OK);
	assert_int_equal(out.seq, 1);
	assert_int_equal(out.len, sizeof(data));
	assert_int_equal(out.width, 640);
	assert_int_equal(out.height, 480);
	assert_int_equal(out.flags, FC_FRAME_NOSIGNAL | FC_FRAME_REPEAT);
	assert_true(out.ts_real_ns == in.ts_real_ns);
	assert_true(out.ts_mono_ns == in.ts_mono_ns);
	assert_memory_equal(buf, data, sizeof(data));

	/* Nothing newer. */
	assert_int_equal(fc_bus_read_latest(r, 1, &out, buf, sizeof(buf)),
	    FC_BUS_NONE);
	assert_int_equal(fc_bus_read_latest(r, 7, &out, buf, sizeof(buf)),
	    FC_BUS_NONE);

	/* Empty frames are frames too; NULL meta is accepted. */
	assert_int_equal(fc_bus_publish(w, NULL, 0, NULL), 0);
	assert_int_equal(fc_bus_read_latest(r, 1, &out, buf, sizeof(buf)),
	    FC_BUS_OK);
	assert_int_equal(out.seq, 2);
	assert_int_equal(out.len, 0);
	assert_int_equal(r->torn_retries, 0);

	fc_bus_close(r);
	fc_bus_close(w);
}

static void
test_wrap_around(void **state)
{
	enum { K = 4 };
	struct fc_bus *w, *r;
	struct fc_frame_meta in, out;
	static uint8_t data[CAP], buf[CAP];
	uint64_t seq, last = 0;
	size_t len;

	(void)state;
	w = fc_bus_create(K, CAP);
	r = fc_bus_attach(w->fd, false);
	assert_non_null(w);
	assert_non_null(r);
	for (seq = 1; seq <= 3 * K + 1; seq++) {
		len = (size_t)(seq * 613) % CAP + 1;
		fill(data, len, seq);
		memset(&in, 0, sizeof(in));
		in.width = (uint32_t)seq;
		assert_int_equal(fc_bus_publish(w, data, len, &in), 0);
		assert_int_equal(in.seq, seq);
		assert_int_equal(fc_bus_read_latest(r, last, &out, buf,
		    sizeof(buf)), FC_BUS_OK);
		assert_int_equal(out.seq, seq);
		assert_int_equal(out.len, len);
		assert_int_equal(out.width, seq);
		assert_int_equal(check(buf, len, seq), 0);
		last = out.seq;
	}
	/* A reader that fell behind gets the newest frame, not the next. */
	for (seq = 0; seq < 2 * K; seq++)
		assert_int_equal(fc_bus_publish(w, data, 10, NULL), 0);
	assert_int_equal(fc_bus_read_latest(r, last, &out, buf, sizeof(buf)),
	    FC_BUS_OK);
	assert_int_equal(out.seq, last + 2 * K);
	fc_bus_close(r);
	fc_bus_close(w);
}

static void
test_oversize_and_nospace(void **state)
{
	struct fc_bus *w, *r;
	struct fc_frame_meta out;
	static uint8_t data[CAP + 1], buf[CAP];

	(void)state;
	w = fc_bus_create(3, CAP);
	r = fc_bus_attach(w->fd, false);
	assert_non_null(r);

	fill(data, sizeof(data), 9);
	errno = 0;
	assert_int_equal(fc_bus_publish(w, data, CAP + 1, NULL), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(w->hdr->frames_dropped_oversize, 1);
	assert_int_equal(fc_bus_head(w), 0);
	assert_int_equal(w->hdr->frames_published, 0);

	/* Exactly the capacity fits, and the bus works on. */
	assert_int_equal(fc_bus_publish(w, data, CAP, NULL), 0);
	assert_int_equal(fc_bus_read_latest(r, 0, &out, buf, sizeof(buf)),
	    FC_BUS_OK);
	assert_int_equal(out.seq, 1);
	assert_int_equal(out.len, CAP);
	assert_memory_equal(buf, data, CAP);

	/* Short buffer: NOSPACE and the size needed, nothing copied. */
	memset(buf, 0, sizeof(buf));
	memset(&out, 0, sizeof(out));
	assert_int_equal(fc_bus_read_latest(r, 0, &out, buf, 100),
	    FC_BUS_NOSPACE);
	assert_int_equal(out.len, CAP);
	assert_int_equal(out.seq, 1);
	assert_int_equal(buf[0], 0);
	fc_bus_close(r);
	fc_bus_close(w);
}

static void
test_corrupt_slot(void **state)
{
	struct fc_bus *w, *r;
	struct fc_bus_slot *slot;
	struct fc_frame_meta out;
	static uint8_t buf[CAP];

	(void)state;
	w = fc_bus_create(3, CAP);
	r = fc_bus_attach(w->fd, false);
	assert_non_null(r);
	assert_int_equal(fc_bus_publish(w, buf, 100, NULL), 0);
	slot = (struct fc_bus_slot *)(void *)((uint8_t *)w->hdr +
	    sizeof(struct fc_bus_header) + 1 * w->hdr->slot_stride);
	assert_int_equal(slot->meta.seq, 1);

	/* A length beyond the slot is refused, never copied. */
	slot->meta.len = CAP + 1;
	assert_int_equal(fc_bus_read_latest(r, 0, &out, buf, sizeof(buf)),
	    FC_BUS_CORRUPT);
	/* So is a slot holding an older frame than head says. */
	slot->meta.len = 100;
	slot->meta.seq = 0;
	assert_int_equal(fc_bus_read_latest(r, 0, &out, buf, sizeof(buf)),
	    FC_BUS_CORRUPT);
	/* A geometry changed after attach. */
	slot->meta.seq = 1;
	assert_int_equal(fc_bus_read_latest(r, 0, &out, buf, sizeof(buf)),
	    FC_BUS_OK);
	w->hdr->slot_capacity = w->hdr->slot_stride;
	assert_int_equal(fc_bus_read_latest(r, 0, &out, buf, sizeof(buf)),
	    FC_BUS_CORRUPT);
	w->hdr->slot_capacity = CAP;
	/* A slot left odd (writer died) is retried, then AGAIN. */
	atomic_store(&slot->seqcount, 7);
	assert_int_equal(fc_bus_read_latest(r, 0, &out, buf, sizeof(buf)),
	    FC_BUS_AGAIN);
	assert_true(r->torn_retries > 0);
	fc_bus_close(r);
	fc_bus_close(w);
}

static void
test_readonly(void **state)
{
	struct fc_bus *w, *r;
	size_t cap;
	pid_t pid;
	int status;

	(void)state;
	w = fc_bus_create(3, CAP);
	r = fc_bus_attach(w->fd, false);
	assert_non_null(r);

	errno = 0;
	assert_int_equal(fc_bus_publish(r, "x", 1, NULL), -1);
	assert_int_equal(errno, EBADF);
	errno = 0;
	assert_null(fc_bus_begin(r, &cap));
	assert_int_equal(errno, EBADF);
	assert_int_equal(fc_bus_commit(r, 1, NULL), -1);
	fc_bus_abort(r);
	fc_bus_set_info(r, "evil", 1, 1, 1, FC_CAPTURE_FAILING, "x");
	assert_int_equal(w->hdr->source[0], '\0');
	assert_int_equal(fc_bus_head(w), 0);

	/* The mapping itself is read-only: a store faults. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* ASan catches SIGSEGV to print a report; let the signal kill
		 * us so the parent sees what the kernel did. */
		signal(SIGSEGV, SIG_DFL);
		*(volatile uint64_t *)&r->hdr->magic = 0;
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
	assert_true(w->hdr->magic == FC_BUS_MAGIC);

	/* A writer attaching later (capture restarted) continues from head. */
	assert_int_equal(fc_bus_publish(w, "a", 1, NULL), 0);
	assert_int_equal(fc_bus_publish(w, "b", 1, NULL), 0);
	{
		struct fc_bus *w2 = fc_bus_attach(w->fd, true);
		struct fc_frame_meta m;
		char c;

		assert_non_null(w2);
		assert_true(w2->writable);
		memset(&m, 0, sizeof(m));
		assert_int_equal(fc_bus_publish(w2, "c", 1, &m), 0);
		assert_int_equal(m.seq, 3);
		assert_int_equal(fc_bus_read_latest(r, 2, &m, &c, 1),
		    FC_BUS_OK);
		assert_int_equal(c, 'c');
		fc_bus_close(w2);
	}
	fc_bus_close(r);
	fc_bus_close(w);
}

static void
test_begin_commit_abort(void **state)
{
	struct fc_bus *w, *r;
	struct fc_frame_meta in, out;
	static uint8_t buf[CAP];
	uint8_t *p;
	size_t cap = 0;

	(void)state;
	w = fc_bus_create(3, CAP);
	r = fc_bus_attach(w->fd, false);
	assert_non_null(r);

	/* Commit without begin is a caller bug. */
	errno = 0;
	assert_int_equal(fc_bus_commit(w, 10, NULL), -1);
	assert_int_equal(errno, EINVAL);

	p = fc_bus_begin(w, &cap);
	assert_non_null(p);
	assert_int_equal(cap, CAP);
	fill(p, 500, 1);
	/* Nothing visible before commit. */
	assert_int_equal(fc_bus_read_latest(r, 0, &out, buf, sizeof(buf)),
	    FC_BUS_NONE);
	memset(&in, 0, sizeof(in));
	in.width = 33;
	assert_int_equal(fc_bus_commit(w, 500, &in), 0);
	assert_int_equal(in.seq, 1);
	assert_int_equal(fc_bus_read_latest(r, 0, &out, buf, sizeof(buf)),
	    FC_BUS_OK);
	assert_int_equal(out.len, 500);
	assert_int_equal(out.width, 33);
	assert_int_equal(check(buf, 500, 1), 0);

	/* Abort: head stays, the old frame stays readable. */
	p = fc_bus_begin(w, &cap);
	assert_non_null(p);
	memset(p, 0xff, 100);
	assert_int_equal(fc_bus_read_latest(r, 0, &out, buf, sizeof(buf)),
	    FC_BUS_OK);
	assert_int_equal(out.seq, 1);
	fc_bus_abort(w);
	assert_int_equal(fc_bus_head(r), 1);
	assert_int_equal(fc_bus_read_latest(r, 1, &out, buf, sizeof(buf)),
	    FC_BUS_NONE);

	/* Commit beyond the capacity: refused and counted. */
	p = fc_bus_begin(w, &cap);
	assert_non_null(p);
	errno = 0;
	assert_int_equal(fc_bus_commit(w, CAP + 1, NULL), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(w->hdr->frames_dropped_oversize, 1);
	assert_int_equal(fc_bus_head(r), 1);

	/* A writer that died inside begin left the slot odd; the next one
	 * takes it over and readers never saw it. */
	p = fc_bus_begin(w, &cap);
	assert_non_null(p);
	p = fc_bus_begin(w, &cap);	/* "restarted" writer */
	fill(p, 700, 2);
	assert_int_equal(fc_bus_commit(w, 700, NULL), 0);
	assert_int_equal(fc_bus_read_latest(r, 1, &out, buf, sizeof(buf)),
	    FC_BUS_OK);
	assert_int_equal(out.seq, 2);
	assert_int_equal(check(buf, 700, 2), 0);
	fc_bus_close(r);
	fc_bus_close(w);
}

static void
test_info(void **state)
{
	struct fc_bus *w, *r;
	struct fc_bus_info info;
	char longname[100];

	(void)state;
	w = fc_bus_create(3, CAP);
	r = fc_bus_attach(w->fd, false);
	assert_non_null(r);
	fc_bus_get_info(r, &info);
	assert_string_equal(info.source, "");
	assert_int_equal(info.state, FC_CAPTURE_STARTING);

	fc_bus_set_info(w, "testpattern", 1280, 720, 30, FC_CAPTURE_RUNNING,
	    NULL);
	fc_bus_get_info(r, &info);
	assert_string_equal(info.source, "testpattern");
	assert_string_equal(info.error, "");
	assert_int_equal(info.width, 1280);
	assert_int_equal(info.height, 720);
	assert_int_equal(info.fps_target, 30);
	assert_int_equal(info.state, FC_CAPTURE_RUNNING);
	assert_int_equal(atomic_load(&w->hdr->info_seq) % 2, 0);

	memset(longname, 'v', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	fc_bus_set_info(w, longname, 1, 2, 3, FC_CAPTURE_FAILING,
	    "open /dev/video0: No such device");
	fc_bus_get_info(r, &info);
	assert_int_equal(strlen(info.source), sizeof(info.source) - 1);
	assert_string_equal(info.error, "open /dev/video0: No such device");
	assert_int_equal(info.state, FC_CAPTURE_FAILING);

	/* Unterminated bytes in shared memory still read as a string. */
	memset(w->hdr->error, 'e', sizeof(w->hdr->error));
	fc_bus_get_info(r, &info);
	assert_int_equal(strlen(info.error), sizeof(info.error) - 1);
	fc_bus_close(r);
	fc_bus_close(w);
}

static void *
publish_later(void *arg)
{
	sleep_ms(50);
	fc_bus_publish(arg, "z", 1, NULL);
	return NULL;
}

static void
test_wait(void **state)
{
	struct fc_bus *w, *r;
	pthread_t t;
	uint32_t f;
	int64_t t0, el;
	pid_t pid;
	int status;

	(void)state;
	w = fc_bus_create(3, CAP);
	r = fc_bus_attach(w->fd, false);
	assert_non_null(r);

	f = fc_bus_futex_value(r);
	t0 = fc_now_mono_ns();
	assert_int_equal(fc_bus_wait(r, f, 50), 0);
	el = fc_now_mono_ns() - t0;
	assert_true(el >= 40 * 1000000LL);
	assert_true(el < 1000 * 1000000LL);

	/* A stale value returns at once. */
	assert_int_equal(fc_bus_wait(r, f + 1, 5000), 1);

	/* Woken by a publish from another thread. */
	assert_int_equal(pthread_create(&t, NULL, publish_later, w), 0);
	assert_int_equal(fc_bus_wait(r, f, 5000), 1);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(fc_bus_head(r), 1);

	/* Woken by a publish from another process (the capture case). */
	f = fc_bus_futex_value(r);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sleep_ms(50);
		_exit(fc_bus_publish(w, "y", 1, NULL) == 0 ? 0 : 1);
	}
	assert_int_equal(fc_bus_wait(r, f, 5000), 1);
	assert_int_equal(fc_bus_head(r), 2);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fc_bus_close(r);
	fc_bus_close(w);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/*
 * Wake latency: a child blocked in fc_bus_wait on its own read-only
 * mapping; the parent stamps CLOCK_MONOTONIC into the frame and publishes;
 * the child measures stamp -> return from the wait.
 */
static void
test_wake_latency(void **state)
{
	enum { ROUNDS = 200 };
	struct fc_bus *w;
	struct fc_frame_meta m;
	int64_t *lat;
	int ready[2], i, status;
	pid_t pid;
	char c;

	(void)state;
	w = fc_bus_create(3, CAP);
	assert_non_null(w);
	lat = mmap(NULL, ROUNDS * sizeof(*lat), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(lat != MAP_FAILED);
	assert_int_equal(pipe(ready), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct fc_bus *r = fc_bus_attach(w->fd, false);
		struct fc_frame_meta rm;
		uint64_t last = 0;
		uint8_t b[16];
		int64_t woke;
		uint32_t f;

		close(ready[0]);
		if (r == NULL)
			_exit(2);
		for (i = 0; i < ROUNDS; i++) {
			f = fc_bus_futex_value(r);
			if (write(ready[1], "r", 1) != 1)
				_exit(3);
			if (fc_bus_wait(r, f, 5000) != 1)
				_exit(4);
			woke = fc_now_mono_ns();
			if (fc_bus_read_latest(r, last, &rm, b, sizeof(b)) !=
			    FC_BUS_OK)
				_exit(5);
			last = rm.seq;
			lat[i] = woke - rm.ts_mono_ns;
		}
		fc_bus_close(r);
		_exit(0);
	}
	close(ready[1]);
	for (i = 0; i < ROUNDS; i++) {
		assert_int_equal(read(ready[0], &c, 1), 1);
		/* Give the child time to actually sleep in the kernel. */
		sleep_ms(1);
		memset(&m, 0, sizeof(m));
		m.ts_mono_ns = fc_now_mono_ns();
		assert_int_equal(fc_bus_publish(w, "L", 1, &m), 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(ready[0]);

	qsort(lat, ROUNDS, sizeof(*lat), cmp_i64);
	printf("wake latency (publish -> waiter running, %d rounds, us): "
	    "p50 %.1f  p99 %.1f  max %.1f\n", ROUNDS,
	    lat[ROUNDS / 2] / 1e3, lat[ROUNDS * 99 / 100] / 1e3,
	    lat[ROUNDS - 1] / 1e3);
	assert_true(lat[0] >= 0);
	assert_true(lat[ROUNDS - 1] < 1000 * 1000000LL);
	munmap(lat, ROUNDS * sizeof(*lat));
	fc_bus_close(w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_geometry),
		cmocka_unit_test(test_attach_checks),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_wrap_around),
		cmocka_unit_test(test_oversize_and_nospace),
		cmocka_unit_test(test_corrupt_slot),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_begin_commit_abort),
		cmocka_unit_test(test_info),
		cmocka_unit_test(test_wait),
		cmocka_unit_test(test_wake_latency),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
