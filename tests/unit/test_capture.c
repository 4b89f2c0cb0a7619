/*
 * The capture loop, run in a thread against a real bus and control
 * region, with scripted sources: publishing and counters, pacing,
 * drop_same_frames, a failing source (no-signal frames, backoff,
 * recovery), pausing without viewers / waking on demand, and the short
 * wake of a snapshot request.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../capture/capture.h"
#include "../../capture/encode.h"
#include "../../common/clock.h"
#include "../../common/log.h"

#define CAP (1u << 20)

/* --- a scripted source --- */

static struct {
	_Atomic int opens, closes, frames;
	_Atomic int fail_opens;	/* this many opens fail first (-1: all) */
	_Atomic int fail_after;	/* next() fails after N frames (0: never) */
	_Atomic int alternate;	/* frames alternate between a and b */
	_Atomic int slow_frame;	/* this frame (1-based) takes 130 ms */
	struct fc_ctl *_Atomic snapshot_on_close; /* a snapshot request
				 * races the pause: made while capture closes
				 * its source for it */
	int64_t calls[64];	/* monotonic time of the first next() calls */
	int open_frames;	/* frames since the last open */
	uint8_t *a, *b;
	size_t alen, blen;
} fake;

static int
fake_open(struct fc_source *src)
{
	int n = atomic_fetch_add(&fake.opens, 1);
	int f = atomic_load(&fake.fail_opens);

	if (f < 0 || n < f) {
		snprintf(src->error, sizeof(src->error), "camera unplugged");
		return -1;
	}
	src->priv = &fake;
	fake.open_frames = 0;
	return 0;
}

static enum fc_src_result
fake_next(struct fc_source *src, struct fc_src_frame *out, int timeout_ms)
{
	int n = atomic_fetch_add(&fake.frames, 1);
	int fa = atomic_load(&fake.fail_after);

	(void)timeout_ms;
	if (n < 64)
		fake.calls[n] = fc_now_mono_ns();
	if (n + 1 == atomic_load(&fake.slow_frame)) {
		struct timespec ts = { 0, 130 * 1000000L };

		nanosleep(&ts, NULL);
	}
	if (fa > 0 && fake.open_frames >= fa) {
		snprintf(src->error, sizeof(src->error), "device vanished");
		return FC_SRC_ERROR;
	}
	fake.open_frames++;
	memset(out, 0, sizeof(*out));
	if (atomic_load(&fake.alternate) && n % 2 == 1) {
		out->jpeg = fake.b;
		out->len = fake.blen;
	} else {
		out->jpeg = fake.a;
		out->len = fake.alen;
	}
	out->width = 32;
	out->height = 16;
	return FC_SRC_OK;
}

static void
fake_close(struct fc_source *src)
{
	struct fc_ctl *ctl = atomic_exchange(&fake.snapshot_on_close, NULL);

	atomic_fetch_add(&fake.closes, 1);
	if (ctl != NULL)
		fc_ctl_signal_snapshot(ctl);
	src->priv = NULL;
}

static const struct fc_source_ops fake_ops = {
	.name = "fake", .self_paced = false,
	.open = fake_open, .next = fake_next, .close = fake_close,
};

/* --- harness --- */

struct run {
	struct fc_config cfg;
	struct fc_bus *bus;
	struct fc_ctl *ctl;
	struct fc_capture_opts opts;
	pthread_t thread;
	int rc;
};

static uint8_t *
make_jpeg(int level, size_t *len)
{
	struct fc_encoder *enc = fc_encoder_new(80);
	uint8_t y[32 * 16], c[16 * 8], *jpeg, *copy;
	const uint8_t *planes[3] = { y, c, c };

	memset(y, level, sizeof(y));
	memset(c, 128, sizeof(c));
	assert_int_equal(fc_encoder_yuv420(enc, planes, NULL, 32, 16, &jpeg,
	    len), 0);
	copy = malloc(*len);
	assert_non_null(copy);
	memcpy(copy, jpeg, *len);
	fc_encoder_free(enc);
	return copy;
}

static int
group_setup(void **state)
{
	(void)state;
	fc_log_init("test", FC_LOG_WARN);
	fake.a = make_jpeg(60, &fake.alen);
	fake.b = make_jpeg(200, &fake.blen);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	free(fake.a);
	free(fake.b);
	return 0;
}

static void
reset_fake(void)
{
	atomic_store(&fake.opens, 0);
	atomic_store(&fake.closes, 0);
	atomic_store(&fake.frames, 0);
	atomic_store(&fake.fail_opens, 0);
	atomic_store(&fake.fail_after, 0);
	atomic_store(&fake.alternate, 0);
	atomic_store(&fake.slow_frame, 0);
	atomic_store(&fake.snapshot_on_close, NULL);
}

static struct run *
new_run(const struct fc_source_ops *ops, int fps)
{
	struct run *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	reset_fake();
	r->cfg.source = FC_SOURCE_TESTPATTERN;
	r->cfg.width = 160;
	r->cfg.height = 120;
	r->cfg.fps = fps;
	r->cfg.quality = 80;
	r->cfg.max_frame_size = CAP;
	r->cfg.slots = 4;
	assert_non_null(r->bus = fc_bus_create(4, CAP));
	assert_non_null(r->ctl = fc_ctl_create());
	r->opts.ops = ops;
	return r;
}

static void *
thread_main(void *arg)
{
	struct run *r = arg;

	r->rc = fc_capture_run(&r->cfg, r->bus, r->ctl, &r->opts);
	return NULL;
}

static void
start(struct run *r)
{
	fc_capture_reset_stop();
	assert_int_equal(pthread_create(&r->thread, NULL, thread_main, r), 0);
}

/* Stops the loop; returns how long the loop took to notice (ms). */
static double
stop(struct run *r)
{
	int64_t t0 = fc_now_mono_ns();

	fc_capture_request_stop();
	assert_int_equal(pthread_join(r->thread, NULL), 0);
	fc_capture_reset_stop();
	assert_int_equal(r->rc, 0);
	return (fc_now_mono_ns() - t0) / 1e6;
}

static void
free_run(struct run *r)
{
	fc_ctl_close(r->ctl);
	fc_bus_close(r->bus);
	free(r);
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static uint64_t
counter(_Atomic uint64_t *c)
{
	return atomic_load(c);
}

static uint32_t
state_of(struct run *r, char *error)
{
	struct fc_bus_info info;

	fc_bus_get_info(r->bus, &info);
	if (error != NULL)
		strcpy(error, info.error);
	return info.state;
}

/* Waits up to ms for the bus state; returns the ms it took, -1 if never. */
static int
wait_state(struct run *r, uint32_t state, int ms)
{
	int64_t t0 = fc_now_mono_ns();

	while ((fc_now_mono_ns() - t0) / 1000000 < ms) {
		if (state_of(r, NULL) == state)
			return (int)((fc_now_mono_ns() - t0) / 1000000);
		sleep_ms(10);
	}
	return -1;
}

static uint8_t *
latest(struct run *r, struct fc_frame_meta *meta)
{
	static uint8_t buf[CAP];

	assert_int_equal(fc_bus_read_latest(r->bus, 0, meta, buf, sizeof(buf)),
	    FC_BUS_OK);
	return buf;
}

/* --- tests --- */

static void
test_testpattern_publish_and_dump(void **state)
{
	struct run *r = new_run(&fc_source_testpattern, 30);
	struct fc_bus_header *h = r->bus->hdr;
	struct fc_frame_meta meta;
	char dir[] = "/tmp/fc-test-capture-XXXXXX", path[128], line[256];
	const uint8_t *p;
	FILE *f;
	int w, hh, lines = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	r->opts.max_frames = 5;
	r->opts.dump_dir = dir;
	fc_capture_reset_stop();
	assert_int_equal(fc_capture_run(&r->cfg, r->bus, r->ctl, &r->opts), 0);

	assert_int_equal(fc_bus_head(r->bus), 5);
	assert_int_equal(counter(&h->frames_published), 5);
	assert_int_equal(counter(&h->frames_captured), 5);
	assert_int_equal(counter(&h->frames_encoded), 5);
	assert_true(counter(&h->encode_ns_total) >=
	    counter(&h->encode_ns_last));
	assert_true(counter(&h->encode_ns_last) > 0);
	assert_int_equal(atomic_load(&h->capture_pid), getpid());
	assert_true(atomic_load(&h->last_publish_mono_ns) > 0);
	assert_int_equal(state_of(r, NULL), FC_CAPTURE_STOPPED);
	assert_string_equal(h->source, "testpattern");
	assert_int_equal(h->width, 160);
	assert_int_equal(h->fps_target, 30);

	p = latest(r, &meta);
	assert_int_equal(meta.seq, 5);
	assert_int_equal(meta.flags, 0);
	assert_int_equal(meta.width, 160);
	assert_true(meta.ts_real_ns > 0 && meta.ts_mono_ns > 0);
	assert_int_equal(fc_jpeg_check(p, meta.len, &w, &hh), 0);
	assert_int_equal(w, 160);
	assert_int_equal(hh, 120);

	snprintf(path, sizeof(path), "%s/frames.txt", dir);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		lines++;
	fclose(f);
	assert_int_equal(lines, 5);
	snprintf(path, sizeof(path), "%s/frame-000005.jpg", dir);
	assert_int_equal(access(path, R_OK), 0);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
	free_run(r);
}

static void
test_pacing(void **state)
{
	struct run *r = new_run(&fake_ops, 20);
	struct fc_bus_header *h = r->bus->hdr;
	uint64_t pub;
	uint32_t fps_milli;
	double stop_ms;

	(void)state;
	start(r);
	sleep_ms(1000);
	fps_milli = atomic_load(&h->fps_milli);
	stop_ms = stop(r);
	pub = counter(&h->frames_published);
	printf("fps 20 for 1 s: %llu frames, measured %.2f fps, "
	    "stop in %.1f ms\n", (unsigned long long)pub, fps_milli / 1000.0,
	    stop_ms);
	assert_true(pub >= 15 && pub <= 25);
	assert_true(fps_milli >= 15000 && fps_milli <= 25000);
	/* Passed through, not encoded. */
	assert_int_equal(counter(&h->frames_encoded), 0);
	assert_int_equal(atomic_load(&fake.opens), 1);
	assert_int_equal(atomic_load(&fake.closes), 1);
	assert_int_equal(atomic_load(&h->fps_milli), 0);	/* stopped */
	free_run(r);
}

static void
test_pacing_skips_ahead(void **state)
{
	struct run *r = new_run(&fake_ops, 20);
	int64_t gap, min_gap = INT64_MAX;
	int i, n;

	(void)state;
	atomic_store(&fake.slow_frame, 3);
	start(r);
	sleep_ms(1000);
	stop(r);
	n = atomic_load(&fake.frames);
	assert_true(n > 4 && n < 64);
	/* Frame 3 took 130 ms (2.6 intervals): the next call comes on the
	 * grid after it, never as a burst of catch-up frames. */
	for (i = 1; i < n; i++) {
		gap = fake.calls[i] - fake.calls[i - 1];
		if (gap < min_gap)
			min_gap = gap;
	}
	gap = fake.calls[3] - fake.calls[2];
	printf("slow frame: %d calls in 1 s, gap after it %.1f ms, "
	    "smallest gap %.1f ms\n", n, gap / 1e6, min_gap / 1e6);
	/* Loose bounds: a loaded machine delays wake-ups; a burst would show
	 * as gaps near zero. */
	assert_true(gap >= 130 * 1000000L && gap <= 400 * 1000000L);
	/* A late wake-up followed by an on-time one can be a few ms apart;
	 * catch-up bursts are back to back (well under a millisecond). */
	assert_true(min_gap >= 2 * 1000000L);
	assert_true(n >= 12 && n <= 20);
	free_run(r);
}

static void
test_drop_same_frames(void **state)
{
	struct run *r = new_run(&fake_ops, 50);
	struct fc_bus_header *h = r->bus->hdr;
	struct fc_frame_meta meta;
	uint64_t pub, same, cap;

	(void)state;
	r->cfg.drop_same_frames = true;
	start(r);
	sleep_ms(1500);
	stop(r);
	pub = counter(&h->frames_published);
	same = counter(&h->frames_dropped_same);
	cap = counter(&h->frames_captured);
	printf("identical frames for 1.5 s at 50 fps: captured %llu, "
	    "published %llu, dropped %llu\n", (unsigned long long)cap,
	    (unsigned long long)pub, (unsigned long long)same);
	/* The first frame, then one refresh a second later. */
	assert_true(pub >= 2 && pub <= 3);
	assert_true(same >= 40);
	assert_int_equal(cap, pub + same);
	latest(r, &meta);
	assert_true(meta.flags & FC_FRAME_REPEAT);
	free_run(r);
}

static void
test_drop_same_keeps_changes(void **state)
{
	struct run *r = new_run(&fake_ops, 50);
	struct fc_bus_header *h = r->bus->hdr;

	(void)state;
	r->cfg.drop_same_frames = true;
	start(r);
	atomic_store(&fake.alternate, 1);
	sleep_ms(500);
	stop(r);
	assert_true(counter(&h->frames_published) >= 10);
	assert_int_equal(counter(&h->frames_dropped_same), 0);
	assert_int_equal(counter(&h->frames_published),
	    counter(&h->frames_captured));
	free_run(r);
}

static void
test_failing_source_nosignal(void **state)
{
	struct run *r = new_run(&fake_ops, 30);
	struct fc_bus_header *h = r->bus->hdr;
	struct fc_frame_meta meta;
	char error[160];
	const uint8_t *p;
	int opens, w, hh;
	uint64_t pub;

	(void)state;
	start(r);
	atomic_store(&fake.fail_opens, -1);
	sleep_ms(1300);
	assert_int_equal(state_of(r, error), FC_CAPTURE_FAILING);
	assert_string_equal(error, "camera unplugged");
	opens = atomic_load(&fake.opens);
	pub = counter(&h->frames_published);
	p = latest(r, &meta);
	printf("failing for 1.3 s: %d opens, %llu no-signal frames\n", opens,
	    (unsigned long long)pub);
	/* Backoff 0.5 s then 1 s: attempts at 0, 0.5 and 1.5 s. */
	assert_true(opens >= 2 && opens <= 3);
	assert_int_equal(atomic_load(&fake.closes), opens);
	assert_true(pub >= 1 && pub <= 3);
	assert_true(meta.flags & FC_FRAME_NOSIGNAL);
	assert_int_equal(meta.width, 160);
	assert_int_equal(meta.height, 120);
	assert_int_equal(fc_jpeg_check(p, meta.len, &w, &hh), 0);
	assert_int_equal(w, 160);
	assert_int_equal(counter(&h->frames_captured), 0);
	stop(r);
	free_run(r);
}

static void
test_recovers_after_failures(void **state)
{
	struct run *r = new_run(&fake_ops, 30);
	struct fc_frame_meta meta;
	char error[160];
	int ms;

	(void)state;
	atomic_store(&fake.fail_opens, 2);
	start(r);
	ms = wait_state(r, FC_CAPTURE_RUNNING, 4000);
	printf("recovered after %d ms (two failed opens)\n", ms);
	assert_true(ms >= 1000);	/* 0.5 s + 1 s of backoff */
	sleep_ms(100);
	assert_int_equal(state_of(r, error), FC_CAPTURE_RUNNING);
	assert_string_equal(error, "");
	latest(r, &meta);
	assert_int_equal(meta.flags, 0);
	assert_int_equal(meta.width, 32);	/* the source's own size */
	assert_int_equal(r->bus->hdr->width, 32);
	stop(r);
	free_run(r);
}

static void
test_next_error_reopens(void **state)
{
	struct run *r = new_run(&fake_ops, 30);
	struct fc_bus_header *h = r->bus->hdr;
	int ms;

	(void)state;
	atomic_store(&fake.fail_after, 3);
	start(r);
	ms = wait_state(r, FC_CAPTURE_FAILING, 1000);
	assert_true(ms >= 0);
	sleep_ms(800);
	/* Reopened after 0.5 s, failed again after 3 frames. */
	assert_true(atomic_load(&fake.opens) >= 2);
	assert_true(counter(&h->frames_captured) >= 6);
	stop(r);
	assert_int_equal(atomic_load(&fake.opens), atomic_load(&fake.closes));
	free_run(r);
}

static double
thread_cpu_ms(pthread_t t)
{
	struct timespec ts;
	clockid_t cid;

	assert_int_equal(pthread_getcpuclockid(t, &cid), 0);
	assert_int_equal(clock_gettime(cid, &ts), 0);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Waits up to ms for a frame newer than seq; returns ms taken or -1. */
static int
wait_frame(struct run *r, uint64_t seq, int ms)
{
	int64_t t0 = fc_now_mono_ns();

	while ((fc_now_mono_ns() - t0) / 1000000 < ms) {
		if (fc_bus_head(r->bus) > seq)
			return (int)((fc_now_mono_ns() - t0) / 1000000);
		sleep_ms(5);
	}
	return -1;
}

static void
test_idle_pause_and_wake(void **state)
{
	struct run *r = new_run(&fake_ops, 20);
	struct fc_ctl_worker *w0 = &r->ctl->hdr->workers[0];
	struct fc_ctl_worker *w1 = &r->ctl->hdr->workers[1];
	double cpu0, cpu1, stop_ms;
	uint64_t head;
	int ms;

	(void)state;
	r->cfg.idle_stop = 1;
	atomic_store(&w0->pid, 1);	/* a live worker holds the viewers */
	/* A reaped worker's slot (pid 0) keeps its last count until the
	 * supervisor resets it: nobody's viewers.  Throughout, it must
	 * neither keep capture running nor wake it. */
	atomic_store(&w1->streams, 7);
	start(r);

	/* No viewers: paused after about idle_stop seconds, source closed. */
	ms = wait_state(r, FC_CAPTURE_PAUSED, 3000);
	printf("paused after %d ms without viewers\n", ms);
	assert_true(ms >= 700);
	assert_int_equal(atomic_load(&fake.closes), atomic_load(&fake.opens));
	head = fc_bus_head(r->bus);
	assert_true(head > 0);
	cpu0 = thread_cpu_ms(r->thread);
	sleep_ms(1000);
	cpu1 = thread_cpu_ms(r->thread);
	printf("paused: %.2f ms CPU in 1 s\n", cpu1 - cpu0);
	assert_true(cpu1 - cpu0 < 100);
	assert_int_equal(fc_bus_head(r->bus), head);
	assert_int_equal(atomic_load(&r->bus->hdr->fps_milli), 0);

	/* A viewer arrives: a frame within a second. */
	atomic_store(&w0->streams, 1);
	fc_ctl_signal_demand(r->ctl);
	ms = wait_frame(r, head, 1000);
	printf("woke and published in %d ms\n", ms);
	assert_true(ms >= 0);
	assert_true(wait_state(r, FC_CAPTURE_RUNNING, 500) >= 0);
	assert_int_equal(atomic_load(&fake.opens), 2);

	/* Still running past idle_stop while the viewer stays. */
	sleep_ms(1500);
	assert_int_equal(state_of(r, NULL), FC_CAPTURE_RUNNING);

	/* Viewer gone: paused again. */
	atomic_store(&w0->streams, 0);
	assert_true(wait_state(r, FC_CAPTURE_PAUSED, 3000) >= 0);

	/* Demand alone (stream not counted yet) also wakes it. */
	head = fc_bus_head(r->bus);
	fc_ctl_signal_demand(r->ctl);
	ms = wait_frame(r, head, 1000);
	assert_true(ms >= 0);
	assert_true(wait_state(r, FC_CAPTURE_PAUSED, 3000) >= 0);

	/* The viewer's worker dies and is reaped (pid 0) before its slot is
	 * reset: its stream no longer counts, capture pauses again. */
	atomic_store(&w0->streams, 1);
	fc_ctl_signal_demand(r->ctl);
	assert_true(wait_state(r, FC_CAPTURE_RUNNING, 1000) >= 0);
	atomic_store(&w0->pid, 0);
	ms = wait_state(r, FC_CAPTURE_PAUSED, 3000);
	printf("paused %d ms after the viewer's worker was reaped\n", ms);
	assert_true(ms >= 0);

	stop_ms = stop(r);
	printf("stopped while paused in %.1f ms\n", stop_ms);
	assert_true(stop_ms < 1500);
	assert_int_equal(state_of(r, NULL), FC_CAPTURE_STOPPED);
	free_run(r);
}

/* A snapshot request wakes a paused capture for FC_CAPTURE_SNAPSHOT_AWAKE_NS
 * (3 s) after the last one, not for idle_stop; a stream then gets its
 * idle_stop again. */
static void
test_snapshot_wake_is_short(void **state)
{
	struct run *r = new_run(&fake_ops, 20);
	struct fc_ctl_worker *w0 = &r->ctl->hdr->workers[0];
	uint64_t head;
	int64_t t0;
	int ms;

	(void)state;
	r->cfg.idle_stop = 5;
	atomic_store(&w0->pid, 1);
	start(r);
	assert_true(wait_state(r, FC_CAPTURE_PAUSED, 7000) >= 0);

	/* One snapshot: a frame at once, paused again about 3 s later. */
	head = fc_bus_head(r->bus);
	t0 = fc_now_mono_ns();
	fc_ctl_signal_snapshot(r->ctl);
	ms = wait_frame(r, head, 1000);
	printf("snapshot woke capture: frame in %d ms\n", ms);
	assert_true(ms >= 0);
	/* A second snapshot 1 s later moves the end to 1 + 3 s. */
	sleep_ms(1000);
	fc_ctl_signal_snapshot(r->ctl);
	assert_true(wait_state(r, FC_CAPTURE_PAUSED, 6000) >= 0);
	ms = (int)((fc_now_mono_ns() - t0) / 1000000);
	printf("paused %d ms after the first of two snapshots 1 s apart "
	    "(idle_stop 5 s)\n", ms);
	assert_true(ms >= 3700 && ms < 4900);

	/* A stream viewer that comes and goes at once: idle_stop. */
	t0 = fc_now_mono_ns();
	atomic_store(&w0->streams, 1);
	fc_ctl_signal_demand(r->ctl);
	assert_true(wait_state(r, FC_CAPTURE_RUNNING, 1000) >= 0);
	atomic_store(&w0->streams, 0);
	assert_true(wait_state(r, FC_CAPTURE_PAUSED, 7000) >= 0);
	ms = (int)((fc_now_mono_ns() - t0) / 1000000);
	printf("paused %d ms after a stream viewer left\n", ms);
	assert_true(ms >= 4800);

	stop(r);
	free_run(r);
}

/*
 * A snapshot request that comes while capture is going into its pause (it
 * has decided, and closes the source) is not lost: capture wakes for it at
 * once instead of sleeping until the next request.
 */
static void
test_snapshot_racing_the_pause(void **state)
{
	struct run *r = new_run(&fake_ops, 20);
	struct fc_ctl_worker *w0 = &r->ctl->hdr->workers[0];
	int i, ms;

	(void)state;
	r->cfg.idle_stop = 1;
	atomic_store(&w0->pid, 1);
	start(r);
	assert_true(wait_frame(r, 0, 2000) >= 0);
	atomic_store(&fake.snapshot_on_close, r->ctl);
	/* idle_stop = 1: capture pauses, closing the source, within ~1 s. */
	for (i = 0; i < 300 && atomic_load(&fake.snapshot_on_close) != NULL; i++)
		sleep_ms(10);
	assert_null(atomic_load(&fake.snapshot_on_close));
	/* The request made during the close wakes capture: a new frame. */
	ms = wait_frame(r, fc_bus_head(r->bus), 1500);
	printf("snapshot made while capture closed its source: frame in %d ms\n",
	    ms);
	assert_true(ms >= 0);
	stop(r);
	free_run(r);
}

static void
test_bad_arguments(void **state)
{
	struct run *r = new_run(NULL, 30);

	(void)state;
	assert_int_equal(fc_capture_run(&r->cfg, r->bus, r->ctl, &r->opts),
	    -1);
	assert_int_equal(errno, EINVAL);
	free_run(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_testpattern_publish_and_dump),
		cmocka_unit_test(test_pacing),
		cmocka_unit_test(test_pacing_skips_ahead),
		cmocka_unit_test(test_drop_same_frames),
		cmocka_unit_test(test_drop_same_keeps_changes),
		cmocka_unit_test(test_failing_source_nosignal),
		cmocka_unit_test(test_recovers_after_failures),
		cmocka_unit_test(test_next_error_reopens),
		cmocka_unit_test(test_idle_pause_and_wake),
		cmocka_unit_test(test_snapshot_wake_is_short),
		cmocka_unit_test(test_snapshot_racing_the_pause),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
