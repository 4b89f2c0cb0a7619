/*
 * The "no signal" picture: right size, dark, with bright title pixels in
 * the middle and the reason below; sizes from tiny to large; long reasons.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
#include <cmocka.h>

#include "../../capture/encode.h"
#include "../../capture/nosignal.h"

static uint8_t *
render_grey(struct fc_encoder *enc, int w, int h, const char *reason,
    int *ow, int *oh)
{
	tjhandle tj;
	uint8_t *jpeg, *grey;
	size_t len;
	int sub, cs;

	assert_int_equal(fc_nosignal_render(enc, w, h, reason, &jpeg, &len),
	    0);
	assert_int_equal(fc_jpeg_check(jpeg, len, ow, oh), 0);
	assert_non_null(tj = tjInitDecompress());
	assert_int_equal(tjDecompressHeader3(tj, jpeg, len, ow, oh, &sub,
	    &cs), 0);
	grey = malloc((size_t)*ow * *oh);
	assert_non_null(grey);
	assert_int_equal(tjDecompress2(tj, jpeg, len, grey, *ow, 0, *oh,
	    TJPF_GRAY, 0), 0);
	tjDestroy(tj);
	free(jpeg);
	return grey;
}

/* Pixels brighter than 150 in rows [y0, y1). */
static int
bright(const uint8_t *g, int w, int y0, int y1)
{
	int n = 0, i;

	for (i = y0 * w; i < y1 * w; i++)
		n += g[i] > 150;
	return n;
}

static void
test_picture(void **state)
{
	struct fc_encoder *enc = fc_encoder_new(80);
	uint8_t *g, *g2;
	int w, h, dark = 0, i;

	(void)state;
	g = render_grey(enc, 640, 360, "/dev/video0: No such device", &w, &h);
	assert_int_equal(w, 640);
	assert_int_equal(h, 360);
	for (i = 0; i < w * h; i++)
		dark += g[i] < 60;
	assert_true(dark > w * h * 8 / 10);	/* mostly dark */
	assert_int_equal(bright(g, w, 0, h / 4), 0);	/* top quarter empty */
	assert_true(bright(g, w, h / 4, h / 2) > 500);	/* the title */

	/* The reason is drawn under the title: compare with none. */
	g2 = render_grey(enc, 640, 360, NULL, &w, &h);
	assert_true(bright(g, w, h / 2, h) > bright(g2, w, h / 2, h) + 50);
	assert_int_equal(bright(g2, w, h / 2 + 20, h), 0);
	free(g);
	free(g2);
	fc_encoder_free(enc);
}

static void
test_sizes_and_long_reason(void **state)
{
	static const int sizes[][2] = {
		{ 16, 16 }, { 33, 17 }, { 1920, 1080 }, { 200, 900 },
	};
	struct fc_encoder *enc = fc_encoder_new(80);
	char reason[400];
	uint8_t *g, *jpeg;
	size_t i, len;
	int w, h;

	(void)state;
	memset(reason, 'x', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	reason[10] = '\n';	/* control characters are not drawn */
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		g = render_grey(enc, sizes[i][0], sizes[i][1], reason, &w, &h);
		assert_int_equal(w, sizes[i][0] & ~1);
		assert_int_equal(h, sizes[i][1] & ~1);
		free(g);
	}
	assert_int_equal(fc_nosignal_render(enc, 1, 100, "x", &jpeg, &len),
	    -1);
	assert_int_equal(errno, EINVAL);
	fc_encoder_free(enc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_picture),
		cmocka_unit_test(test_sizes_and_long_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
