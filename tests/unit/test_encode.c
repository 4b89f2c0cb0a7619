/*
 * TurboJPEG encoder: planar, YUYV and NV12 input round-trip through a
 * decoder; fc_jpeg_check accepts good pictures and refuses broken ones,
 * without reading past the buffer.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <turbojpeg.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../capture/encode.h"

#define W 64
#define H 48

/* Decodes to 8-bit grey or RGB; returns a malloc'ed buffer. */
static uint8_t *
decode(const uint8_t *jpeg, size_t len, int pf, int *w, int *h)
{
	tjhandle tj = tjInitDecompress();
	int sub, cs;
	uint8_t *out;

	assert_non_null(tj);
	assert_int_equal(tjDecompressHeader3(tj, jpeg, (unsigned long)len, w,
	    h, &sub, &cs), 0);
	out = malloc((size_t)*w * *h * tjPixelSize[pf]);
	assert_non_null(out);
	assert_int_equal(tjDecompress2(tj, jpeg, (unsigned long)len, out, *w,
	    0, *h, pf, 0), 0);
	tjDestroy(tj);
	return out;
}

static void
assert_near(int got, int want, int tol)
{
	if (got < want - tol || got > want + tol)
		fail_msg("value %d not within %d of %d", got, tol, want);
}

/* Left half dark (Y 50), right half bright (Y 200), neutral chroma, except
 * a red block (Y 81, U 90, V 240) in the bottom-left quarter. */
static uint8_t
ref_y(int x, int y)
{
	if (x < W / 2 && y >= H / 2)
		return 81;
	return x < W / 2 ? 50 : 200;
}

static uint8_t
ref_u(int cx, int cy)
{
	return (cx < W / 4 && cy >= H / 4) ? 90 : 128;
}

static uint8_t
ref_v(int cx, int cy)
{
	return (cx < W / 4 && cy >= H / 4) ? 240 : 128;
}

static void
check_decoded(const uint8_t *jpeg, size_t len)
{
	uint8_t *grey, *rgb, *p;
	int w, h;

	assert_int_equal(fc_jpeg_check(jpeg, len, &w, &h), 0);
	assert_int_equal(w, W);
	assert_int_equal(h, H);
	grey = decode(jpeg, len, TJPF_GRAY, &w, &h);
	assert_int_equal(w, W);
	assert_int_equal(h, H);
	assert_near(grey[10 * W + 10], 50, 6);
	assert_near(grey[10 * W + 50], 200, 6);
	assert_near(grey[40 * W + 50], 200, 6);
	free(grey);

	rgb = decode(jpeg, len, TJPF_RGB, &w, &h);
	p = rgb + (size_t)(40 * W + 10) * 3;	/* inside the red block */
	if (p[0] < 200 || p[1] > 60 || p[2] > 60)
		fail_msg("red block decoded as %d,%d,%d", p[0], p[1], p[2]);
	p = rgb + (size_t)(10 * W + 50) * 3;	/* bright neutral */
	assert_near(p[0], p[1], 8);
	assert_near(p[1], p[2], 8);
	free(rgb);
}

static void
test_yuv420_roundtrip(void **state)
{
	/* Padded strides, to show they are honoured. */
	enum { YS = W + 16, CS = W / 2 + 8 };
	static uint8_t y[H * YS], u[H / 2 * CS], v[H / 2 * CS];
	const uint8_t *planes[3] = { y, u, v };
	const int strides[3] = { YS, CS, CS };
	struct fc_encoder *enc;
	uint8_t *jpeg;
	size_t len;
	int i, j;

	(void)state;
	memset(y, 0xee, sizeof(y));
	memset(u, 0xee, sizeof(u));
	memset(v, 0xee, sizeof(v));
	for (j = 0; j < H; j++)
		for (i = 0; i < W; i++)
			y[j * YS + i] = ref_y(i, j);
	for (j = 0; j < H / 2; j++)
		for (i = 0; i < W / 2; i++) {
			u[j * CS + i] = ref_u(i, j);
			v[j * CS + i] = ref_v(i, j);
		}
	assert_non_null(enc = fc_encoder_new(95));
	assert_int_equal(fc_encoder_frames(enc), 0);
	assert_int_equal(fc_encoder_yuv420(enc, planes, strides, W, H, &jpeg,
	    &len), 0);
	assert_int_equal(fc_encoder_frames(enc), 1);
	assert_true(fc_encoder_last_ns(enc) > 0);
	assert_string_equal(fc_encoder_error(enc), "");
	check_decoded(jpeg, len);
	/* A second frame reuses the buffer. */
	assert_int_equal(fc_encoder_yuv420(enc, planes, strides, W, H, &jpeg,
	    &len), 0);
	check_decoded(jpeg, len);
	assert_int_equal(fc_encoder_frames(enc), 2);
	fc_encoder_free(enc);
}

static void
test_yuyv_roundtrip(void **state)
{
	enum { STRIDE = 2 * W + 12 };
	static uint8_t buf[H * STRIDE];
	struct fc_encoder *enc;
	uint8_t *jpeg, *row;
	size_t len;
	int i, j;

	(void)state;
	for (j = 0; j < H; j++) {
		row = buf + j * STRIDE;
		for (i = 0; i < W; i += 2) {
			row[2 * i] = ref_y(i, j);
			row[2 * i + 1] = ref_u(i / 2, j / 2);
			row[2 * i + 2] = ref_y(i + 1, j);
			row[2 * i + 3] = ref_v(i / 2, j / 2);
		}
	}
	assert_non_null(enc = fc_encoder_new(95));
	assert_int_equal(fc_encoder_yuyv(enc, buf, STRIDE, W, H, &jpeg, &len),
	    0);
	check_decoded(jpeg, len);
	/* Odd widths do not exist in YUYV. */
	assert_int_equal(fc_encoder_yuyv(enc, buf, STRIDE, W - 1, H, &jpeg,
	    &len), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_not_equal(fc_encoder_error(enc), "");
	fc_encoder_free(enc);
}

static void
test_nv12_roundtrip(void **state)
{
	static uint8_t buf[W * H + W * H / 2];
	uint8_t *uv = buf + W * H;
	struct fc_encoder *enc;
	uint8_t *jpeg;
	size_t len;
	int i, j;

	(void)state;
	for (j = 0; j < H; j++)
		for (i = 0; i < W; i++)
			buf[j * W + i] = ref_y(i, j);
	for (j = 0; j < H / 2; j++)
		for (i = 0; i < W / 2; i++) {
			uv[j * W + 2 * i] = ref_u(i, j);
			uv[j * W + 2 * i + 1] = ref_v(i, j);
		}
	assert_non_null(enc = fc_encoder_new(95));
	assert_int_equal(fc_encoder_nv12(enc, buf, 0, uv, 0, W, H, &jpeg,
	    &len), 0);
	check_decoded(jpeg, len);
	fc_encoder_free(enc);
}

static void
test_odd_size_and_bad_args(void **state)
{
	static uint8_t y[33 * 17], u[17 * 9], v[17 * 9];
	const uint8_t *planes[3] = { y, u, v };
	struct fc_encoder *enc;
	uint8_t *jpeg;
	size_t len;
	int w, h;

	(void)state;
	memset(y, 100, sizeof(y));
	memset(u, 128, sizeof(u));
	memset(v, 128, sizeof(v));
	assert_non_null(enc = fc_encoder_new(500));	/* clamped */
	assert_int_equal(fc_encoder_yuv420(enc, planes, NULL, 33, 17, &jpeg,
	    &len), 0);
	assert_int_equal(fc_jpeg_check(jpeg, len, &w, &h), 0);
	assert_int_equal(w, 33);
	assert_int_equal(h, 17);
	/* A larger picture after a smaller one grows the buffer. */
	{
		static uint8_t by[640 * 480], bu[320 * 240], bv[320 * 240];
		const uint8_t *bp[3] = { by, bu, bv };

		memset(bu, 128, sizeof(bu));
		memset(bv, 128, sizeof(bv));
		assert_int_equal(fc_encoder_yuv420(enc, bp, NULL, 640, 480,
		    &jpeg, &len), 0);
		assert_int_equal(fc_jpeg_check(jpeg, len, &w, &h), 0);
		assert_int_equal(w, 640);
	}
	assert_int_equal(fc_encoder_yuv420(enc, planes, NULL, 0, 17, &jpeg,
	    &len), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(fc_encoder_yuv420(enc, planes, NULL, 33, 100000,
	    &jpeg, &len), -1);
	fc_encoder_set_quality(enc, -3);
	assert_int_equal(fc_encoder_yuv420(enc, planes, NULL, 33, 17, &jpeg,
	    &len), 0);
	fc_encoder_free(enc);
	fc_encoder_free(NULL);
}

/* Copies data to the very end of a page followed by an unreadable page,
 * so reading one byte past it crashes. */
static const uint8_t *
at_page_end(const uint8_t *data, size_t len, void **map, size_t *maplen)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = (len + pg - 1) / pg + 1;
	uint8_t *m;

	*maplen = (pages + 1) * pg;
	m = mmap(NULL, *maplen, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m != MAP_FAILED);
	assert_int_equal(mprotect(m + pages * pg, pg, PROT_NONE), 0);
	memcpy(m + pages * pg - len, data, len);
	*map = m;
	return m + pages * pg - len;
}

static void
check_rejected(const uint8_t *data, size_t len)
{
	const uint8_t *p;
	size_t maplen;
	void *map;

	p = at_page_end(data, len, &map, &maplen);
	errno = 0;
	assert_int_equal(fc_jpeg_check(p, len, NULL, NULL), -1);
	assert_int_equal(errno, EBADMSG);
	munmap(map, maplen);
}

static void
test_jpeg_check(void **state)
{
	static uint8_t y[W * H], u[W * H / 4], v[W * H / 4];
	const uint8_t *planes[3] = { y, u, v };
	static const uint8_t soi_eoi[] = { 0xff, 0xd8, 0xff, 0xd9 };
	struct fc_encoder *enc;
	uint8_t *jpeg, *copy, garbage[300];
	const uint8_t *p;
	size_t len, i, maplen;
	void *map;
	int w = 0, h = 0;

	(void)state;
	memset(y, 80, sizeof(y));
	memset(u, 128, sizeof(u));
	memset(v, 128, sizeof(v));
	assert_non_null(enc = fc_encoder_new(80));
	assert_int_equal(fc_encoder_yuv420(enc, planes, NULL, W, H, &jpeg,
	    &len), 0);

	/* Good, at a page end. */
	p = at_page_end(jpeg, len, &map, &maplen);
	assert_int_equal(fc_jpeg_check(p, len, &w, &h), 0);
	assert_int_equal(w, W);
	assert_int_equal(h, H);
	munmap(map, maplen);

	/* Trailing zero padding (V4L2 buffers) is fine and trimmed. */
	copy = calloc(1, len + 100);
	assert_non_null(copy);
	memcpy(copy, jpeg, len);
	assert_int_equal(fc_jpeg_check(copy, len + 100, NULL, NULL), 0);
	assert_int_equal(fc_jpeg_trim(copy, len + 100), len);
	assert_int_equal(fc_jpeg_trim(copy, len), len);
	free(copy);

	/* Truncated anywhere, missing EOI, garbage, SOI+EOI only. */
	check_rejected(jpeg, len / 2);
	check_rejected(jpeg, len - 1);
	check_rejected(jpeg, len - 2);
	check_rejected(jpeg, 2);
	check_rejected(soi_eoi, sizeof(soi_eoi));
	for (i = 0; i < sizeof(garbage); i++)
		garbage[i] = (uint8_t)(i * 37 + 11);
	check_rejected(garbage, sizeof(garbage));
	/* Garbage that starts and ends like a JPEG. */
	garbage[0] = 0xff;
	garbage[1] = 0xd8;
	garbage[sizeof(garbage) - 2] = 0xff;
	garbage[sizeof(garbage) - 1] = 0xd9;
	check_rejected(garbage, sizeof(garbage));
	/* Wrong start. */
	copy = malloc(len);
	assert_non_null(copy);
	memcpy(copy, jpeg, len);
	copy[1] = 0xd9;
	check_rejected(copy, len);
	free(copy);
	assert_int_equal(fc_jpeg_check(NULL, 0, NULL, NULL), -1);
	assert_int_equal(fc_jpeg_check(jpeg, 0, NULL, NULL), -1);
	fc_encoder_free(enc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yuv420_roundtrip),
		cmocka_unit_test(test_yuyv_roundtrip),
		cmocka_unit_test(test_nv12_roundtrip),
		cmocka_unit_test(test_odd_size_and_bad_args),
		cmocka_unit_test(test_jpeg_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
