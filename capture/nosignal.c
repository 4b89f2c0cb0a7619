/*
 * The "no signal" picture; see nosignal.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "font.h"
#include "nosignal.h"

#define BG_Y 28		/* dark grey */
#define TITLE_Y 235	/* white */
#define REASON_Y 170	/* light grey */
#define REASON_MAX 96	/* characters of the reason we try to show */

/* Largest scale (up to max) at which text is at most width pixels wide;
 * 0 when even scale 1 is too wide. */
static int
fit_scale(const char *text, int width, int max)
{
	int s;

	for (s = max; s >= 1; s--)
		if (fc_font_text_width(text, s) <= width)
			return s;
	return 0;
}

int
fc_nosignal_render(struct fc_encoder *enc, int w, int h,
    const char *reason, uint8_t **jpeg, size_t *len)
{
	static const char title[] = "NO SIGNAL";
	const uint8_t *planes[3];
	char text[REASON_MAX + 4];
	uint8_t *buf = NULL, *out, *y, *u, *v;
	size_t ysize, csize, n, olen;
	int cw, ch, strides[3], ts, rs, tx, ty, ry, rc = -1;

	w &= ~1;
	h &= ~1;
	if (w < 2 || h < 2) {
		errno = EINVAL;
		return -1;
	}
	cw = w / 2;
	ch = h / 2;
	ysize = (size_t)w * h;
	csize = (size_t)cw * ch;
	if ((buf = malloc(ysize + 2 * csize)) == NULL)
		return -1;
	y = buf;
	u = y + ysize;
	v = u + csize;
	memset(y, BG_Y, ysize);
	memset(u, 128, 2 * csize);

	/* Title: about half the width, centred a little above the middle. */
	ts = fit_scale(title, w / 2, 12);
	if (ts == 0)
		ts = 1;
	tx = (w - fc_font_text_width(title, ts)) / 2;
	ty = h / 2 - FC_FONT_GLYPH_H * ts;
	fc_font_draw(y, w, w, h, tx, ty, ts, TITLE_Y, title);

	/* Reason below it, smaller, shortened with "..." if too long. */
	if (reason != NULL && reason[0] != '\0') {
		for (n = 0; reason[n] != '\0' && n < REASON_MAX; n++)
			text[n] = isprint((unsigned char)reason[n]) ?
			    reason[n] : ' ';
		text[n] = '\0';
		rs = ts / 3 > 0 ? ts / 3 : 1;
		while (n > 0 && fc_font_text_width(text, rs) > w - 2 * rs) {
			n--;
			strcpy(text + (n > 3 ? n - 3 : 0), "...");
			text[n] = '\0';
		}
		ry = ty + (FC_FONT_GLYPH_H + 4) * ts;
		if (n > 3 && ry + FC_FONT_GLYPH_H * rs <= h)
			fc_font_draw(y, w, w, h,
			    (w - fc_font_text_width(text, rs)) / 2, ry, rs,
			    REASON_Y, text);
	}

	planes[0] = y;
	planes[1] = u;
	planes[2] = v;
	strides[0] = w;
	strides[1] = cw;
	strides[2] = cw;
	if (fc_encoder_yuv420(enc, planes, strides, w, h, &out, &olen) == -1)
		goto done;
	if ((*jpeg = malloc(olen)) == NULL)
		goto done;
	memcpy(*jpeg, out, olen);
	*len = olen;
	rc = 0;
done:
	free(buf);
	return rc;
}
