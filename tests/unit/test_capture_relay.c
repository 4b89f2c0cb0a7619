/*
 * The capture loop's relay bookkeeping (http source): hop delay p50/p99
 * over a rolling window of parts (receive time minus the upstream's
 * X-Timestamp), connection state and connect/failure counters in the bus
 * header.  The loop runs in a thread against a real bus with a scripted
 * source that stamps its frames as an upstream would.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "../../capture/capture.h"
#include "../../capture/encode.h"
#include "../../common/clock.h"
#include "../../common/log.h"

#define CAP (1u << 20)
#define MS INT64_C(1000000)

/* --- a scripted upstream --- */

enum stamp { STAMP_DELAYED, STAMP_NONE, STAMP_FROZEN };

static struct {
	_Atomic int frames;
	_Atomic int fail_after;	/* next() fails after N frames per open */
	_Atomic int stamp;	/* enum stamp */
	int open_frames;
	int64_t frozen_ts;
	uint8_t *jpeg;
	size_t len;
} up;

static int
up_open(struct fc_source *src)
{
	src->priv = &up;
	up.open_frames = 0;
	return 0;
}

/* Every tenth part 30 ms old on arrival, the others 5 ms. */
static enum fc_src_result
up_next(struct fc_source *src, struct fc_src_frame *out, int timeout_ms)
{
	int n = atomic_fetch_add(&up.frames, 1);
	int fa = atomic_load(&up.fail_after);

	(void)timeout_ms;
	if (fa > 0 && up.open_frames >= fa) {
		snprintf(src->error, sizeof(src->error), "upstream closed");
		return FC_SRC_ERROR;
	}
	up.open_frames++;
	memset(out, 0, sizeof(*out));
	out->jpeg = up.jpeg;
	out->len = up.len;
	out->width = 32;
	out->height = 16;
	switch (atomic_load(&up.stamp)) {
	case STAMP_DELAYED:
		out->ts_real_ns = fc_now_real_ns() - (n % 10 == 9 ? 30 : 5) * MS;
		break;
	case STAMP_FROZEN:
		out->ts_real_ns = up.frozen_ts;
		break;
	default:
		break;
	}
	return FC_SRC_OK;
}

static void
up_close(struct fc_source *src)
{
	src->priv = NULL;
}

static const struct fc_source_ops up_ops = {
	.name = "http", .self_paced = false,
	.open = up_open, .next = up_next, .close = up_close,
};

/* --- harness --- */

struct run {
	struct fc_config cfg;
	struct fc_bus *bus;
	struct fc_capture_opts opts;
	pthread_t thread;
	int rc;
};

static void *
thread_main(void *arg)
{
	struct run *r = arg;

	r->rc = fc_capture_run(&r->cfg, r->bus, NULL, &r->opts);
	return NULL;
}

static struct run *
start(enum fc_source_kind kind, enum stamp stamp, int fail_after)
{
	struct run *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	atomic_store(&up.frames, 0);
	atomic_store(&up.stamp, stamp);
	atomic_store(&up.fail_after, fail_after);
	up.frozen_ts = fc_now_real_ns() - 1000 * MS;
	r->cfg.source = kind;
	r->cfg.width = 32;
	r->cfg.height = 16;
	r->cfg.fps = 200;
	r->cfg.quality = 80;
	r->cfg.max_frame_size = CAP;
	r->cfg.slots = 4;
	r->cfg.idle_stop = 0;
	assert_non_null(r->bus = fc_bus_create(4, CAP));
	r->opts.ops = &up_ops;
	fc_capture_reset_stop();
	assert_int_equal(pthread_create(&r->thread, NULL, thread_main, r), 0);
	return r;
}

static void
stop(struct run *r)
{
	fc_capture_request_stop();
	assert_int_equal(pthread_join(r->thread, NULL), 0);
	fc_capture_reset_stop();
	assert_int_equal(r->rc, 0);
}

static void
free_run(struct run *r)
{
	fc_bus_close(r->bus);
	free(r);
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

#define LOAD(p) atomic_load(p)

static int
group_setup(void **state)
{
	struct fc_encoder *enc = fc_encoder_new(80);
	uint8_t y[32 * 16], c[16 * 8], *jpeg;
	const uint8_t *planes[3] = { y, c, c };

	(void)state;
	fc_log_init("test", FC_LOG_ERROR);
	memset(y, 90, sizeof(y));
	memset(c, 128, sizeof(c));
	assert_int_equal(fc_encoder_yuv420(enc, planes, NULL, 32, 16, &jpeg,
	    &up.len), 0);
	up.jpeg = malloc(up.len);
	assert_non_null(up.jpeg);
	memcpy(up.jpeg, jpeg, up.len);
	fc_encoder_free(enc);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	free(up.jpeg);
	return 0;
}

/* --- tests --- */

static void
test_hop_delay_percentiles(void **state)
{
	struct run *r = start(FC_SOURCE_HTTP, STAMP_DELAYED, 0);
	struct fc_bus_header *h = r->bus->hdr;
	int64_t p50, p99;

	(void)state;
	/* 200 fps: the 128-part window fills in under a second (allow a
	 * loaded machine 5 s), then rolls. */
	for (int i = 0; i < 500 && (LOAD(&h->hop_delay_samples) < 128 ||
	    atomic_load(&up.frames) < 200); i++)
		sleep_ms(10);
	assert_int_equal(LOAD(&h->upstream_connected), 1);
	assert_int_equal(LOAD(&h->upstream_connects), 1);
	assert_int_equal(LOAD(&h->upstream_failures), 0);
	assert_int_equal(LOAD(&h->hop_delay_samples), 128);
	p50 = LOAD(&h->hop_delay_ns_p50);
	p99 = LOAD(&h->hop_delay_ns_p99);
	/* The loop adds its own microseconds to the scripted delays. */
	assert_true(p50 >= 5 * MS && p50 < 8 * MS);
	assert_true(p99 >= 30 * MS && p99 < 33 * MS);
	stop(r);
	/* Closed: no connection, no figure. */
	assert_int_equal(LOAD(&h->upstream_connected), 0);
	assert_int_equal(LOAD(&h->hop_delay_samples), 0);
	free_run(r);
}

/* Parts without X-Timestamp, or resending one stamp, say nothing about
 * the link; the first part of a connection is not counted either. */
static void
test_no_or_frozen_stamps_not_counted(void **state)
{
	struct run *r = start(FC_SOURCE_HTTP, STAMP_NONE, 0);

	(void)state;
	sleep_ms(150);
	assert_true(atomic_load(&up.frames) > 5);
	assert_int_equal(LOAD(&r->bus->hdr->hop_delay_samples), 0);
	assert_int_equal(LOAD(&r->bus->hdr->upstream_connected), 1);
	stop(r);
	free_run(r);

	r = start(FC_SOURCE_HTTP, STAMP_FROZEN, 0);
	sleep_ms(150);
	assert_true(atomic_load(&up.frames) > 5);
	assert_int_equal(LOAD(&r->bus->hdr->hop_delay_samples), 0);
	stop(r);
	free_run(r);
}

static void
test_reconnects_and_failures(void **state)
{
	struct run *r = start(FC_SOURCE_HTTP, STAMP_DELAYED, 20);
	struct fc_bus_header *h = r->bus->hdr;

	(void)state;
	/* Fails after 20 parts, reopens after the 0.5 s backoff (reset by
	 * each successful part), fails again ... */
	sleep_ms(1300);
	stop(r);
	assert_true(LOAD(&h->upstream_connects) >= 2);
	assert_true(LOAD(&h->upstream_failures) >= 2);
	assert_true(LOAD(&h->upstream_failures) <= LOAD(&h->upstream_connects));
	assert_int_equal(LOAD(&h->upstream_connected), 0);
	free_run(r);
}

/* Other sources leave the relay fields alone, whatever their stamps. */
static void
test_not_a_relay(void **state)
{
	struct run *r = start(FC_SOURCE_FILES, STAMP_DELAYED, 0);
	struct fc_bus_header *h = r->bus->hdr;

	(void)state;
	sleep_ms(150);
	assert_int_equal(LOAD(&h->upstream_connected), 0);
	assert_int_equal(LOAD(&h->upstream_connects), 0);
	assert_int_equal(LOAD(&h->hop_delay_samples), 0);
	stop(r);
	free_run(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hop_delay_percentiles),
		cmocka_unit_test(test_no_or_frozen_stamps_not_counted),
		cmocka_unit_test(test_reconnects_and_failures),
		cmocka_unit_test(test_not_a_relay),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
