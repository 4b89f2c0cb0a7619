/*
 * Test pattern source: valid frames of the configured size, real motion
 * between frames, the frame counter area changing, the static band
 * staying put; and the time per frame at 720p and 1080p (printed, not
 * asserted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <turbojpeg.h>
#include <cmocka.h>

#include "../../capture/encode.h"
#include "../../capture/source.h"
#include "../../common/clock.h"

static void
setup_source(struct fc_source *src, struct fc_config *cfg, int w, int h)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->source = FC_SOURCE_TESTPATTERN;
	cfg->width = w;
	cfg->height = h;
	cfg->fps = 30;
	cfg->quality = 80;
	memset(src, 0, sizeof(*src));
	src->ops = &fc_source_testpattern;
	src->cfg = cfg;
	src->enc = fc_encoder_new(cfg->quality);
	assert_non_null(src->enc);
	assert_int_equal(src->ops->open(src), 0);
}

static void
teardown_source(struct fc_source *src)
{
	src->ops->close(src);
	src->ops->close(src);	/* closing twice is harmless */
	fc_encoder_free(src->enc);
}

/* Next frame decoded to grey. */
static uint8_t *
grey_frame(struct fc_source *src, int *w, int *h)
{
	struct fc_src_frame f;
	tjhandle tj;
	uint8_t *out;
	int sub, cs;

	assert_int_equal(src->ops->next(src, &f, 0), FC_SRC_OK);
	assert_false(f.broken);
	assert_int_equal(fc_jpeg_check(f.jpeg, f.len, w, h), 0);
	assert_int_equal(*w, (int)f.width);
	assert_int_equal(*h, (int)f.height);
	assert_true(f.ts_real_ns > 0 && f.ts_mono_ns > 0);
	assert_non_null(tj = tjInitDecompress());
	assert_int_equal(tjDecompressHeader3(tj, f.jpeg, f.len, w, h, &sub,
	    &cs), 0);
	assert_int_equal(sub, TJSAMP_420);
	out = malloc((size_t)*w * *h);
	assert_non_null(out);
	assert_int_equal(tjDecompress2(tj, f.jpeg, f.len, out, *w, 0, *h,
	    TJPF_GRAY, 0), 0);
	tjDestroy(tj);
	return out;
}

/* Mean absolute difference over a rectangle. */
static double
diff(const uint8_t *a, const uint8_t *b, int stride, int x0, int y0, int x1,
    int y1)
{
	long sum = 0;
	int x, y;

	for (y = y0; y < y1; y++)
		for (x = x0; x < x1; x++)
			sum += abs(a[y * stride + x] - b[y * stride + x]);
	return (double)sum / ((x1 - x0) * (y1 - y0));
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

static void
test_frames_move_and_count(void **state)
{
	struct fc_config cfg;
	struct fc_source src;
	uint8_t *a, *b;
	int w, h, w2, h2;
	double d_bars, d_counter, d_ramp;

	(void)state;
	setup_source(&src, &cfg, 320, 240);
	a = grey_frame(&src, &w, &h);
	assert_int_equal(w, 320);
	assert_int_equal(h, 240);
	assert_int_equal(src.frame_no, 1);
	sleep_ms(150);	/* the bars move with time: ~12 px in 150 ms */
	b = grey_frame(&src, &w2, &h2);
	assert_int_equal(src.frame_no, 2);
	assert_int_equal(w2, w);

	/* Layout at 240 lines: bars on rows 0..159, text box (scale 2) from
	 * row 164 at x 4, its first line (the frame counter) 14 px high. */
	d_bars = diff(a, b, w, 0, 0, w, 150);
	d_counter = diff(a, b, w, 8, 168, 8 + 12 * 12, 168 + 14);
	d_ramp = diff(a, b, w, 200, 170, 300, 200);
	printf("mean |diff|: bars %.1f, counter line %.1f, static ramp %.1f\n",
	    d_bars, d_counter, d_ramp);
	assert_true(d_bars > 5.0);
	assert_true(d_counter > 1.0);
	assert_true(d_ramp < 1.0);
	free(a);
	free(b);
	teardown_source(&src);
}

static void
test_sizes(void **state)
{
	static const int sizes[][2] = {
		{ 16, 16 }, { 17, 33 }, { 640, 360 }, { 100, 700 },
	};
	struct fc_config cfg;
	struct fc_source src;
	uint8_t *a;
	size_t i;
	int w, h;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		setup_source(&src, &cfg, sizes[i][0], sizes[i][1]);
		a = grey_frame(&src, &w, &h);
		/* Odd sizes are rounded down to even for 4:2:0. */
		assert_int_equal(w, sizes[i][0] & ~1);
		assert_int_equal(h, sizes[i][1] & ~1);
		free(a);
		teardown_source(&src);
	}
}

static void
time_size(int w, int h)
{
	enum { N = 30 };
	struct fc_config cfg;
	struct fc_source src;
	struct fc_src_frame f;
	uint64_t enc_ns = 0;
	size_t bytes = 0;
	int64_t t0, t;
	int i;

	setup_source(&src, &cfg, w, h);
	/* One frame to warm up. */
	assert_int_equal(src.ops->next(&src, &f, 0), FC_SRC_OK);
	t0 = fc_now_mono_ns();
	for (i = 0; i < N; i++) {
		assert_int_equal(src.ops->next(&src, &f, 0), FC_SRC_OK);
		enc_ns += fc_encoder_last_ns(src.enc);
		bytes += f.len;
	}
	t = fc_now_mono_ns() - t0;
	printf("testpattern %dx%d: %.2f ms/frame (encode %.2f ms), "
	    "%zu bytes/frame, max %.0f fps on one core\n", w, h,
	    t / 1e6 / N, enc_ns / 1e6 / N, bytes / N, N * 1e9 / t);
	teardown_source(&src);
}

static void
test_timing(void **state)
{
	(void)state;
	time_size(1280, 720);
	time_size(1920, 1080);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames_move_and_count),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_timing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
