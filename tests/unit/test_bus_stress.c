/*
 * Frame bus under load, across processes: one writer publishing frames of
 * 1 KB..200 KB (paced at TARGET_FPS, then for a while as fast as it can,
 * which is what makes torn copies likely), four readers on read-only
 * mappings waiting on the futex and verifying every byte of every frame
 * they get, and a fifth reader that copies big frames in a loop and is
 * SIGKILLed mid-copy.  The writer and the other readers must not notice.
 *
 * Every byte of frame N is a function of N and its offset, so a torn or
 * mixed copy cannot pass the check.  Figures are printed, not asserted
 * tightly: the machine may be busy.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/bus.h"
#include "../../common/clock.h"

#define SLOTS 3				/* the minimum: the hardest case */
#define CAPACITY (256u * 1024)
#define MIN_LEN 1024u
#define MAX_LEN (200u * 1024)
#define TARGET_FPS 2000
#define PACED_MS 3000			/* writer paced at TARGET_FPS */
#define BURST_MS 2000			/* writer as fast as it can */
#define AFTER_KILL_MS 1000		/* after the copier is killed */
#define READERS 4
#define COPIER READERS			/* index of the reader we kill */
#define LAT_MAX 16384

struct reader_stats {
	_Atomic uint64_t frames;	/* frames read and verified */
	_Atomic uint64_t torn;		/* bus->torn_retries */
	_Atomic uint64_t again;		/* FC_BUS_AGAIN results */
	_Atomic uint64_t bad;		/* wrong bytes/length/meta or error */
	_Atomic uint64_t nonmono;	/* seq not above the previous one */
	_Atomic uint64_t waits;		/* fc_bus_wait calls */
	_Atomic int in_read;		/* copier: inside fc_bus_read_latest */
	_Atomic int started;
	_Atomic uint32_t nlat;
	int64_t lat_ns[LAT_MAX];	/* publish stamp -> frame in hand */
};

struct shared {
	_Atomic int stop_readers;
	_Atomic int stop_writer;
	_Atomic int burst;		/* writer: do not pace */
	_Atomic uint64_t published;
	_Atomic uint64_t max_publish_ns;
	_Atomic uint64_t slow_publishes;	/* > 1 ms */
	_Atomic uint64_t publish_ns_total;
	_Atomic uint64_t failed_publishes;
	_Atomic int64_t writer_start_ns, writer_end_ns;
	struct reader_stats r[READERS + 1];
};

static struct shared *sh;
static pid_t children[READERS + 2];
static size_t nchildren;

/* --- frame contents --- */

static uint64_t
mix(uint64_t x)
{
	x ^= x >> 31;
	x *= UINT64_C(0x7fb5d329728ea185);
	x ^= x >> 27;
	return x;
}

static size_t
frame_len(uint64_t seq)
{
	return MIN_LEN + (size_t)(mix(seq) % (MAX_LEN - MIN_LEN + 1));
}

/* Word j of frame seq: differs between any two frames at every j. */
static uint64_t
frame_word(uint64_t seq, size_t j)
{
	return seq * UINT64_C(0x9e3779b97f4a7c15) +
	    (uint64_t)j * UINT64_C(0xd1b54a32d192ed03);
}

static void
frame_fill(uint8_t *p, size_t len, uint64_t seq)
{
	size_t j, words = len / 8;
	uint64_t w;

	for (j = 0; j < words; j++) {
		w = frame_word(seq, j);
		memcpy(p + j * 8, &w, 8);
	}
	w = frame_word(seq, words);
	memcpy(p + words * 8, &w, len % 8);
}

static bool
frame_ok(const struct fc_frame_meta *m, const uint8_t *p)
{
	size_t j, words;
	uint64_t w;

	if (m->len != frame_len(m->seq) || m->width != (uint32_t)m->seq ||
	    m->height != (uint32_t)~m->seq || m->flags != (m->seq & 1))
		return false;
	words = m->len / 8;
	for (j = 0; j < words; j++) {
		memcpy(&w, p + j * 8, 8);
		if (w != frame_word(m->seq, j))
			return false;
	}
	w = frame_word(m->seq, words);
	return memcmp(p + words * 8, &w, m->len % 8) == 0;
}

/* --- children --- */

static void
child_setup(void)
{
	/* A child must never outlive a test that failed in the parent. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(9);
}

static void
sleep_until(int64_t deadline_ns)
{
	struct timespec ts = {
		.tv_sec = deadline_ns / 1000000000,
		.tv_nsec = deadline_ns % 1000000000,
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	    EINTR)
		;
}

static void
atomic_max(_Atomic uint64_t *a, uint64_t v)
{
	uint64_t cur = atomic_load(a);

	while (v > cur && !atomic_compare_exchange_weak(a, &cur, v))
		;
}

static void
frame_meta(struct fc_frame_meta *m, uint64_t seq)
{
	memset(m, 0, sizeof(*m));
	m->width = (uint32_t)seq;
	m->height = (uint32_t)~seq;
	m->flags = (uint32_t)(seq & 1);
	m->ts_real_ns = fc_now_real_ns();
	m->ts_mono_ns = fc_now_mono_ns();
}

static _Noreturn void
writer_main(int fd)
{
	struct fc_bus *bus;
	struct fc_frame_meta m;
	uint8_t *buf, *slot;
	int64_t next, t0, dt;
	uint64_t seq;
	size_t len, cap;
	int rc;

	child_setup();
	/* Attach like a restarted capture would; continues from head. */
	if ((bus = fc_bus_attach(fd, true)) == NULL ||
	    (buf = malloc(CAPACITY)) == NULL)
		_exit(2);
	next = fc_now_mono_ns();
	atomic_store(&sh->writer_start_ns, next);
	while (!atomic_load(&sh->stop_writer)) {
		seq = fc_bus_head(bus) + 1;
		len = frame_len(seq);
		frame_fill(buf, len, seq);
		frame_meta(&m, seq);
		if (seq % 4 == 0) {
			/* Zero-copy path: the frame is built inside the slot,
			 * a long window with the seqcount odd.  Only the
			 * commit is timed; the fill is the "encoder". */
			if ((slot = fc_bus_begin(bus, &cap)) == NULL ||
			    cap < len)
				_exit(3);
			frame_fill(slot, len, seq);
			t0 = fc_now_mono_ns();
			rc = fc_bus_commit(bus, len, &m);
		} else {
			t0 = fc_now_mono_ns();
			rc = fc_bus_publish(bus, buf, len, &m);
		}
		if (rc != 0 || m.seq != seq)
			atomic_fetch_add(&sh->failed_publishes, 1);
		dt = fc_now_mono_ns() - t0;
		atomic_fetch_add(&sh->publish_ns_total, (uint64_t)dt);
		atomic_max(&sh->max_publish_ns, (uint64_t)dt);
		if (dt > 1000000)
			atomic_fetch_add(&sh->slow_publishes, 1);
		atomic_fetch_add(&sh->published, 1);

		/* Paced at TARGET_FPS; when late, carry on without sleeping
		 * and without trying to catch up in a burst. */
		next += 1000000000 / TARGET_FPS;
		t0 = fc_now_mono_ns();
		if (atomic_load(&sh->burst))
			next = t0;
		else if (next > t0)
			sleep_until(next);
		else
			next = t0;
	}
	atomic_store(&sh->writer_end_ns, fc_now_mono_ns());
	free(buf);
	fc_bus_close(bus);
	_exit(0);
}

/* A well-behaved reader: wait for a wake-up, take the newest frame. */
static _Noreturn void
reader_main(int fd, struct reader_stats *st)
{
	struct fc_bus *bus;
	struct fc_frame_meta m;
	enum fc_bus_result res;
	uint8_t *buf;
	uint64_t last = 0;
	uint32_t f, n;
	bool woke = false;
	int rc;

	child_setup();
	if ((bus = fc_bus_attach(fd, false)) == NULL ||
	    (buf = malloc(CAPACITY)) == NULL)
		_exit(2);
	atomic_store(&st->started, 1);
	while (!atomic_load(&sh->stop_readers)) {
		f = fc_bus_futex_value(bus);
		res = fc_bus_read_latest(bus, last, &m, buf, CAPACITY);
		atomic_store(&st->torn, bus->torn_retries);
		switch (res) {
		case FC_BUS_OK:
			if (woke && (n = atomic_load(&st->nlat)) < LAT_MAX) {
				st->lat_ns[n] = fc_now_mono_ns() - m.ts_mono_ns;
				atomic_store(&st->nlat, n + 1);
			}
			woke = false;
			if (!frame_ok(&m, buf))
				atomic_fetch_add(&st->bad, 1);
			if (m.seq <= last)
				atomic_fetch_add(&st->nonmono, 1);
			last = m.seq;
			atomic_fetch_add(&st->frames, 1);
			break;
		case FC_BUS_NONE:
			atomic_fetch_add(&st->waits, 1);
			rc = fc_bus_wait(bus, f, 100);
			if (rc == -1 && errno != EINTR)
				atomic_fetch_add(&st->bad, 1);
			woke = rc == 1;
			break;
		case FC_BUS_AGAIN:
			atomic_fetch_add(&st->again, 1);
			break;
		default:
			atomic_fetch_add(&st->bad, 1);
			break;
		}
	}
	free(buf);
	fc_bus_close(bus);
	_exit(0);
}

/* The victim: copies the newest frame over and over, new or not. */
static _Noreturn void
copier_main(int fd, struct reader_stats *st)
{
	struct fc_bus *bus;
	struct fc_frame_meta m;
	enum fc_bus_result res;
	uint8_t *buf;
	uint64_t i;

	child_setup();
	if ((bus = fc_bus_attach(fd, false)) == NULL ||
	    (buf = malloc(CAPACITY)) == NULL)
		_exit(2);
	atomic_store(&st->started, 1);
	for (i = 0; !atomic_load(&sh->stop_readers); i++) {
		atomic_store(&st->in_read, 1);
		res = fc_bus_read_latest(bus, 0, &m, buf, CAPACITY);
		atomic_store(&st->in_read, 0);
		atomic_store(&st->torn, bus->torn_retries);
		if (res == FC_BUS_OK) {
			/* Verify now and then; mostly just copy, so that the
			 * kill lands inside a copy. */
			if (i % 16 == 0 && !frame_ok(&m, buf))
				atomic_fetch_add(&st->bad, 1);
			atomic_fetch_add(&st->frames, 1);
		} else if (res == FC_BUS_AGAIN) {
			atomic_fetch_add(&st->again, 1);
		} else if (res != FC_BUS_NONE) {
			atomic_fetch_add(&st->bad, 1);
		}
	}
	free(buf);
	fc_bus_close(bus);
	_exit(0);
}

/* --- parent --- */

static void
sleep_ms(long ms)
{
	sleep_until(fc_now_mono_ns() + (int64_t)ms * 1000000);
}

static pid_t
spawn(void (*fn)(int, struct reader_stats *), int fd, struct reader_stats *st)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		fn(fd, st);
	children[nchildren++] = pid;
	return pid;
}

static void
writer_entry(int fd, struct reader_stats *st)
{
	(void)st;
	writer_main(fd);
}

static void
reader_entry(int fd, struct reader_stats *st)
{
	reader_main(fd, st);
}

static void
copier_entry(int fd, struct reader_stats *st)
{
	copier_main(fd, st);
}

/* Stops and reaps whatever is still running (also after a failure). */
static void
reap_all(bool check)
{
	int64_t deadline;
	size_t i;
	int status;
	pid_t r;

	atomic_store(&sh->stop_readers, 1);
	atomic_store(&sh->stop_writer, 1);
	deadline = fc_now_mono_ns() + INT64_C(3000000000);
	for (i = 0; i < nchildren; i++) {
		if (children[i] <= 0)
			continue;
		while ((r = waitpid(children[i], &status, WNOHANG)) == 0 &&
		    fc_now_mono_ns() < deadline)
			sleep_ms(5);
		if (r == 0) {
			kill(children[i], SIGKILL);
			r = waitpid(children[i], &status, 0);
		}
		children[i] = 0;
		if (check) {
			assert_true(r > 0);
			assert_true(WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), 0);
		}
	}
	nchildren = 0;
}

static int
teardown(void **state)
{
	(void)state;
	if (sh != NULL) {
		reap_all(false);
		munmap(sh, sizeof(*sh));
		sh = NULL;
	}
	return 0;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void
test_stress(void **state)
{
	struct fc_bus *bus;
	uint64_t before[READERS], pub_before, pub_kill, total_lat = 0, n;
	uint64_t frames_kill[READERS];
	int64_t *lat, t_start, t_kill, wait_until, t_burst, t_burst_end;
	uint64_t pub_paced, pub_burst, pub_alone;
	double alone_us;
	double secs;
	pid_t victim;
	size_t i, k;
	int status;

	(void)state;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(sh != MAP_FAILED);
	bus = fc_bus_create(SLOTS, CAPACITY);
	assert_non_null(bus);
	srandom((unsigned)getpid());

	/* Baseline: what a publish costs with nobody waiting. */
	{
		enum { N = 2000 };
		struct fc_frame_meta m;
		uint8_t *buf = malloc(CAPACITY);
		uint64_t seq;
		int64_t t0, total = 0;

		assert_non_null(buf);
		for (seq = 1; seq <= N; seq++) {
			frame_fill(buf, frame_len(seq), seq);
			frame_meta(&m, seq);
			t0 = fc_now_mono_ns();
			assert_int_equal(fc_bus_publish(bus, buf,
			    frame_len(seq), &m), 0);
			total += fc_now_mono_ns() - t0;
		}
		free(buf);
		alone_us = (double)total / N / 1e3;
		pub_alone = N;
	}

	for (i = 0; i < READERS; i++)
		spawn(reader_entry, bus->fd, &sh->r[i]);
	victim = spawn(copier_entry, bus->fd, &sh->r[COPIER]);
	spawn(writer_entry, bus->fd, NULL);
	t_start = fc_now_mono_ns();

	/* Phase 1: everybody runs, writer paced, then unpaced. */
	sleep_ms(PACED_MS);
	pub_paced = atomic_load(&sh->published);
	t_burst = fc_now_mono_ns();
	atomic_store(&sh->burst, 1);
	sleep_ms(BURST_MS);
	atomic_store(&sh->burst, 0);
	t_burst_end = fc_now_mono_ns();
	pub_burst = atomic_load(&sh->published) - pub_paced;
	for (i = 0; i <= READERS; i++)
		assert_int_equal(atomic_load(&sh->r[i].started), 1);

	/* Kill the copier at a random moment, preferably inside a read. */
	sleep_ms(random() % 200);
	wait_until = fc_now_mono_ns() + 100000000;
	while (!atomic_load(&sh->r[COPIER].in_read) &&
	    fc_now_mono_ns() < wait_until)
		;
	assert_int_equal(kill(victim, SIGKILL), 0);
	t_kill = fc_now_mono_ns();
	assert_int_equal(waitpid(victim, &status, 0), victim);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	for (i = 0; i < nchildren; i++)
		if (children[i] == victim)
			children[i] = 0;

	/* Phase 2: the others carry on. */
	pub_kill = atomic_load(&sh->published);
	for (i = 0; i < READERS; i++)
		frames_kill[i] = atomic_load(&sh->r[i].frames);
	pub_before = pub_kill;
	for (i = 0; i < READERS; i++)
		before[i] = frames_kill[i];
	sleep_ms(AFTER_KILL_MS);
	assert_true(atomic_load(&sh->published) - pub_before >
	    (uint64_t)TARGET_FPS / 10);
	for (i = 0; i < READERS; i++)
		assert_true(atomic_load(&sh->r[i].frames) - before[i] >= 20);

	reap_all(true);
	secs = (double)(sh->writer_end_ns - sh->writer_start_ns) / 1e9;

	/* Wake latency over every reader's samples. */
	for (i = 0; i < READERS; i++)
		total_lat += sh->r[i].nlat;
	lat = calloc(total_lat + 1, sizeof(*lat));
	assert_non_null(lat);
	for (i = 0, n = 0; i < READERS; i++)
		for (k = 0; k < sh->r[i].nlat; k++)
			lat[n++] = sh->r[i].lat_ns[k];
	qsort(lat, total_lat, sizeof(*lat), cmp_i64);

	printf("\n---- frame bus stress: %d slots, frames %u..%u bytes, "
	    "1 writer + %d readers + 1 killed ----\n",
	    SLOTS, MIN_LEN, MAX_LEN, READERS);
	printf("writer: %llu frames in %.2f s = %.0f frames/s overall; "
	    "paced at %d: %.0f frames/s; unpaced burst: %.0f frames/s\n",
	    (unsigned long long)sh->published, secs,
	    (double)sh->published / secs, TARGET_FPS,
	    (double)pub_paced / ((double)(t_burst - t_start) / 1e9),
	    (double)pub_burst / ((double)(t_burst_end - t_burst) / 1e9));
	printf("writer: publish/commit call mean %.1f us, max %.1f us (preemption "
	    "included: the writer never waits), > 1 ms: %llu, failed: %llu\n"
	    "writer: publish alone (no waiters, %llu frames) mean %.2f us\n",
	    (double)sh->publish_ns_total / 1e3 / (double)sh->published,
	    (double)sh->max_publish_ns / 1e3,
	    (unsigned long long)sh->slow_publishes,
	    (unsigned long long)sh->failed_publishes,
	    (unsigned long long)pub_alone, alone_us);
	for (i = 0; i <= READERS; i++)
		printf("%s %zu: frames %llu, torn reads retried %llu, AGAIN %llu,"
		    " waits %llu, bad %llu, non-monotonic %llu\n",
		    i == COPIER ? "copier(killed)" : "reader", i,
		    (unsigned long long)sh->r[i].frames,
		    (unsigned long long)sh->r[i].torn,
		    (unsigned long long)sh->r[i].again,
		    (unsigned long long)sh->r[i].waits,
		    (unsigned long long)sh->r[i].bad,
		    (unsigned long long)sh->r[i].nonmono);
	printf("after the kill (%.0f ms in): writer +%llu frames, readers +",
	    (double)(t_kill - t_start) / 1e6,
	    (unsigned long long)(sh->published - pub_kill));
	for (i = 0; i < READERS; i++)
		printf("%llu%s", (unsigned long long)(sh->r[i].frames -
		    frames_kill[i]), i + 1 < READERS ? "/" : " frames\n");
	if (total_lat > 0)
		printf("wake latency (publish -> reader has the frame, %llu "
		    "samples, us): p50 %.1f  p99 %.1f  max %.1f\n",
		    (unsigned long long)total_lat,
		    lat[total_lat / 2] / 1e3, lat[total_lat * 99 / 100] / 1e3,
		    lat[total_lat - 1] / 1e3);
	printf("----\n");

	assert_int_equal(sh->failed_publishes, 0);
	assert_true(sh->published > 1000);
	for (i = 0; i <= READERS; i++) {
		assert_int_equal(sh->r[i].bad, 0);
		assert_int_equal(sh->r[i].nonmono, 0);
		assert_true(sh->r[i].frames >= 100);
	}
	assert_true(total_lat > 0);
	assert_true(lat[total_lat - 1] < INT64_C(1000000000));
	free(lat);
	fc_bus_close(bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_stress, teardown),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
