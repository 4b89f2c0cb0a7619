/*
 * Built-in bitmap font: glyph shapes, scaling, clipping, fills.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../capture/font.h"

/* Expected shapes, written out independently of the glyph table. */
static const char *const art_1[FC_FONT_GLYPH_H] = {
	"..#..",
	".##..",
	"..#..",
	"..#..",
	"..#..",
	"..#..",
	".###.",
};
static const char *const art_colon[FC_FONT_GLYPH_H] = {
	".....",
	".##..",
	".##..",
	".....",
	".##..",
	".##..",
	".....",
};
static const char *const art_N[FC_FONT_GLYPH_H] = {
	"#...#",
	"#...#",
	"##..#",
	"#.#.#",
	"#..##",
	"#...#",
	"#...#",
};

static void
check_glyph(int c, const char *const art[FC_FONT_GLYPH_H])
{
	const uint8_t *g = fc_font_glyph(c);
	int x, y;

	assert_non_null(g);
	for (y = 0; y < FC_FONT_GLYPH_H; y++)
		for (x = 0; x < FC_FONT_GLYPH_W; x++)
			assert_int_equal((g[y] >> (4 - x)) & 1,
			    art[y][x] == '#');
}

static void
test_glyph_shapes(void **state)
{
	(void)state;
	check_glyph('1', art_1);
	check_glyph(':', art_colon);
	check_glyph('N', art_N);
	/* Lower case is drawn as upper case. */
	check_glyph('n', art_N);
}

static void
test_unknown_is_question_mark(void **state)
{
	const uint8_t *q = fc_font_glyph('?');

	(void)state;
	assert_memory_equal(fc_font_glyph('~'), q, FC_FONT_GLYPH_H);
	assert_memory_equal(fc_font_glyph(0x7f), q, FC_FONT_GLYPH_H);
	assert_memory_equal(fc_font_glyph(200), q, FC_FONT_GLYPH_H);
	assert_memory_equal(fc_font_glyph(-5), q, FC_FONT_GLYPH_H);
	/* Space is known and blank. */
	assert_int_equal(fc_font_glyph(' ')[3], 0);
}

static void
test_every_label_char_known(void **state)
{
	static const char needed[] = "0123456789:.FORKCASTNOSIGNALFRAME -/";
	const uint8_t *q = fc_font_glyph('?');
	size_t i;

	(void)state;
	for (i = 0; needed[i] != '\0'; i++)
		assert_ptr_not_equal(fc_font_glyph(needed[i]), q);
}

static void
test_draw_scaled(void **state)
{
	enum { W = 40, H = 30, X0 = 3, Y0 = 4, S = 3 };
	uint8_t plane[H][W];
	int x, y, want;

	(void)state;
	memset(plane, 7, sizeof(plane));
	assert_int_equal(fc_font_draw(&plane[0][0], W, W, H, X0, Y0, S, 200,
	    "1"), X0 + FC_FONT_GLYPH_W * S);
	for (y = 0; y < H; y++) {
		for (x = 0; x < W; x++) {
			int gx = (x - X0) / S, gy = (y - Y0) / S;

			want = x >= X0 && y >= Y0 && gx < FC_FONT_GLYPH_W &&
			    gy < FC_FONT_GLYPH_H && art_1[gy][gx] == '#';
			assert_int_equal(plane[y][x], want ? 200 : 7);
		}
	}
}

static void
test_text_width_and_advance(void **state)
{
	enum { W = 64, H = 10 };
	uint8_t plane[H][W];

	(void)state;
	assert_int_equal(fc_font_text_width("", 2), 0);
	assert_int_equal(fc_font_text_width("A", 1), 5);
	assert_int_equal(fc_font_text_width("AB", 3), (2 * 6 - 1) * 3);
	/* Second glyph starts FC_FONT_ADVANCE pixels after the first. */
	memset(plane, 0, sizeof(plane));
	fc_font_draw(&plane[0][0], W, W, H, 0, 0, 1, 255, "11");
	assert_int_equal(plane[0][2], 255);
	assert_int_equal(plane[0][2 + FC_FONT_ADVANCE], 255);
	assert_int_equal(plane[0][2 + FC_FONT_ADVANCE - 1], 0);
}

static void
test_clipping(void **state)
{
	enum { W = 16, H = 12, PAD = 64 };
	uint8_t buf[PAD + W * H + PAD];
	uint8_t *plane = buf + PAD;
	size_t i;

	(void)state;
	memset(buf, 0xaa, sizeof(buf));
	memset(plane, 0, W * H);
	/* Text hanging over every edge; scale large. */
	fc_font_draw(plane, W, W, H, -7, -9, 4, 255, "NO SIGNAL");
	fc_font_draw(plane, W, W, H, 10, 8, 4, 255, "88");
	fc_plane_fill(plane, W, W, H, -5, -5, 100, 100, 1);
	fc_plane_fill(plane, W, W, H, 20, 20, 5, 5, 2);
	for (i = 0; i < PAD; i++) {
		assert_int_equal(buf[i], 0xaa);
		assert_int_equal(buf[PAD + W * H + i], 0xaa);
	}
	for (i = 0; i < W * H; i++)
		assert_int_equal(plane[i], 1);
}

static void
test_fill_with_stride(void **state)
{
	enum { W = 8, H = 4, STRIDE = 12 };
	uint8_t plane[H * STRIDE];
	int x, y;

	(void)state;
	memset(plane, 0, sizeof(plane));
	fc_plane_fill(plane, STRIDE, W, H, 2, 1, 100, 2, 9);
	for (y = 0; y < H; y++)
		for (x = 0; x < STRIDE; x++)
			assert_int_equal(plane[y * STRIDE + x],
			    (y >= 1 && y < 3 && x >= 2 && x < W) ? 9 : 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glyph_shapes),
		cmocka_unit_test(test_unknown_is_question_mark),
		cmocka_unit_test(test_every_label_char_known),
		cmocka_unit_test(test_draw_scaled),
		cmocka_unit_test(test_text_width_and_advance),
		cmocka_unit_test(test_clipping),
		cmocka_unit_test(test_fill_with_stride),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
