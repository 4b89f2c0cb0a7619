/*
 * A small built-in bitmap font for burning text into pictures (the test
 * pattern's frame counter and clock, the "no signal" frame).  Glyphs are
 * 5x7 pixels, drawn scaled by an integer factor into one 8-bit plane (the
 * Y plane of a YUV picture).  Covered: digits, A-Z (lower case is drawn as
 * upper case), space and . : - / , ( ) _ = % ' ? ! + < > [ ] "; anything
 * else is drawn as '?'.
 */
#ifndef FC_FONT_H
#define FC_FONT_H

#include <stdint.h>

#define FC_FONT_GLYPH_W 5		/* glyph width in font pixels */
#define FC_FONT_GLYPH_H 7		/* glyph height */
#define FC_FONT_ADVANCE 6	/* glyph width plus one column of spacing */

/* The 7 rows of character c, bit 4 of each row being the leftmost pixel.
 * Never NULL (unknown characters give the '?' glyph). */
const uint8_t *fc_font_glyph(int c);

/* Width in pixels of text drawn at scale (no trailing spacing column). */
int fc_font_text_width(const char *text, int scale);

/*
 * Draws text with its top-left corner at (x, y) into the plane of pw x ph
 * pixels (stride bytes per row), setting glyph pixels to fg and leaving the
 * rest untouched.  Pixels outside the plane are clipped.  scale >= 1.
 * Returns the x just past the text.
 */
int fc_font_draw(uint8_t *plane, int stride, int pw, int ph, int x, int y,
    int scale, uint8_t fg, const char *text);

/* Fills the rectangle (x, y, w, h), clipped to the plane, with value. */
void fc_plane_fill(uint8_t *plane, int stride, int pw, int ph, int x, int y,
    int w, int h, uint8_t value);

#endif
