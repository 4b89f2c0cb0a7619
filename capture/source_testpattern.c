/*
 * The test pattern: an emulated camera that needs no hardware.
 *
 * The picture is generated directly as YUV 4:2:0 planes (no RGB step) and
 * encoded with the shared TurboJPEG encoder:
 *
 *   top two thirds   75% colour bars scrolling sideways (real motion: every
 *                    frame differs, as a camera's would), one full turn
 *                    every four seconds
 *   bottom third     a static luma ramp with a "FORKCAST" label, drawn once
 *                    at open; over it a dark box with the frame number and
 *                    the wall clock (UTC, HH:MM:SS.mmm) of the capture,
 *                    redrawn each frame
 *
 * Per frame the work is one memcpy-style copy per bar row (from a
 * precomputed double-width row, so the scroll is just an offset) and a
 * small text box: the encoder dominates, as it should.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/clock.h"
#include "encode.h"
#include "font.h"
#include "source.h"

/* 75% colour bars in BT.601 limited range: white, yellow, cyan, green,
 * magenta, red, blue, black. */
static const uint8_t bar_y[8] = { 180, 162, 131, 112, 84, 65, 35, 16 };
static const uint8_t bar_u[8] = { 128, 44, 156, 72, 184, 100, 212, 128 };
static const uint8_t bar_v[8] = { 128, 142, 44, 58, 198, 212, 114, 128 };

#define SCROLL_PERIOD_S 4	/* seconds per full turn of the bars */
#define BOX_BG_Y 24		/* dark text box */
#define TEXT_Y 235		/* white text */

struct pattern {
	int w, h;		/* picture size (even) */
	int cw, ch;		/* chroma plane size */
	uint8_t *y, *u, *v;	/* one allocation, planes in order */
	/* One row of bars, twice as wide as the picture (luma and chroma),
	 * so any scroll offset is a single contiguous copy. */
	uint8_t *row_y, *row_u, *row_v;
	int bars_h;		/* luma rows covered by bars (even) */
	int scale;		/* font scale */
	int box_x, box_y, box_w, box_h;	/* text box, even coordinates */
};

static void
pattern_free(struct pattern *p)
{
	if (p == NULL)
		return;
	free(p->y);
	free(p->row_y);
	free(p);
}

/* Draws the parts that never change: the ramp band and the label. */
static void
draw_static(struct pattern *p)
{
	int x, row, lx, ly;
	uint8_t *line;

	line = p->y + (size_t)p->bars_h * p->w;
	for (x = 0; x < p->w; x++)
		line[x] = (uint8_t)(16 + (219 * x) / (p->w > 1 ? p->w - 1 : 1));
	for (row = p->bars_h + 1; row < p->h; row++)
		memcpy(p->y + (size_t)row * p->w, line, (size_t)p->w);
	memset(p->u + (size_t)(p->bars_h / 2) * p->cw, 128,
	    (size_t)p->cw * (size_t)(p->ch - p->bars_h / 2));
	memset(p->v + (size_t)(p->bars_h / 2) * p->cw, 128,
	    (size_t)p->cw * (size_t)(p->ch - p->bars_h / 2));

	/* Label at the bottom right, on a dark plate so it reads on the
	 * bright end of the ramp. */
	lx = p->w - fc_font_text_width("FORKCAST", p->scale) - 3 * p->scale;
	ly = p->h - (FC_FONT_GLYPH_H + 3) * p->scale;
	if (lx > p->box_x + p->box_w && ly > p->bars_h) {
		fc_plane_fill(p->y, p->w, p->w, p->h, lx - p->scale,
		    ly - p->scale, fc_font_text_width("FORKCAST", p->scale) +
		    2 * p->scale, (FC_FONT_GLYPH_H + 2) * p->scale, BOX_BG_Y);
		fc_font_draw(p->y, p->w, p->w, p->h, lx, ly, p->scale, TEXT_Y,
		    "FORKCAST");
	}
}

static struct pattern *
pattern_new(int w, int h)
{
	struct pattern *p;
	size_t ysize, csize;
	int x, bar;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	/* 4:2:0 wants even sizes; the config allows any size >= 16, so an odd
	 * one is rounded down (the JPEG says the real size). */
	p->w = w & ~1;
	p->h = h & ~1;
	p->cw = p->w / 2;
	p->ch = p->h / 2;
	ysize = (size_t)p->w * p->h;
	csize = (size_t)p->cw * p->ch;
	if ((p->y = malloc(ysize + 2 * csize)) == NULL)
		goto fail;
	p->u = p->y + ysize;
	p->v = p->u + csize;
	if ((p->row_y = malloc(4 * (size_t)p->w)) == NULL)
		goto fail;
	p->row_u = p->row_y + 2 * (size_t)p->w;
	p->row_v = p->row_u + p->w;

	for (x = 0; x < 2 * p->w; x++) {
		bar = ((x % p->w) * 8) / p->w;
		p->row_y[x] = bar_y[bar];
	}
	for (x = 0; x < p->w; x++) {
		bar = ((x % p->cw) * 8) / p->cw;
		p->row_u[x] = bar_u[bar];
		p->row_v[x] = bar_v[bar];
	}

	p->bars_h = (p->h * 2 / 3) & ~1;
	/* Text 2x to 4x (1x only on tiny pictures): 360p -> 2, 720p -> 4. */
	p->scale = p->h / 180;
	if (p->scale < 2)
		p->scale = p->h >= 120 ? 2 : 1;
	if (p->scale > 4)
		p->scale = 4;
	/* Two lines of up to 16 characters with a margin of one glyph cell. */
	p->box_w = (fc_font_text_width("FRAME 0000000000", p->scale) +
	    4 * p->scale + 1) & ~1;
	p->box_h = ((2 * FC_FONT_GLYPH_H + 7) * p->scale + 1) & ~1;
	p->box_x = (2 * p->scale) & ~1;
	p->box_y = (p->bars_h + 2 * p->scale) & ~1;
	draw_static(p);
	return p;
fail:
	pattern_free(p);
	return NULL;
}

static void
draw_frame(struct pattern *p, uint64_t frame_no, int64_t ts_real_ns,
    int64_t ts_mono_ns)
{
	char line1[32], line2[32];
	struct tm tm;
	time_t secs;
	int64_t period;
	int row, off, coff;

	/* The scroll follows the monotonic clock, not the frame count, so the
	 * motion speed does not depend on the frame rate. */
	period = (int64_t)SCROLL_PERIOD_S * 1000000000;
	coff = (int)(((ts_mono_ns % period) * p->cw) / period);
	off = 2 * coff;
	for (row = 0; row < p->bars_h; row++)
		memcpy(p->y + (size_t)row * p->w, p->row_y + off, (size_t)p->w);
	for (row = 0; row < p->bars_h / 2; row++) {
		memcpy(p->u + (size_t)row * p->cw, p->row_u + coff,
		    (size_t)p->cw);
		memcpy(p->v + (size_t)row * p->cw, p->row_v + coff,
		    (size_t)p->cw);
	}

	secs = (time_t)(ts_real_ns / 1000000000);
	gmtime_r(&secs, &tm);
	snprintf(line1, sizeof(line1), "FRAME %" PRIu64, frame_no);
	snprintf(line2, sizeof(line2), "%02d:%02d:%02d.%03d UTC",
	    tm.tm_hour, tm.tm_min, tm.tm_sec,
	    (int)((ts_real_ns / 1000000) % 1000));

	fc_plane_fill(p->y, p->w, p->w, p->h, p->box_x, p->box_y, p->box_w,
	    p->box_h, BOX_BG_Y);
	fc_plane_fill(p->u, p->cw, p->cw, p->ch, p->box_x / 2, p->box_y / 2,
	    p->box_w / 2, p->box_h / 2, 128);
	fc_plane_fill(p->v, p->cw, p->cw, p->ch, p->box_x / 2, p->box_y / 2,
	    p->box_w / 2, p->box_h / 2, 128);
	fc_font_draw(p->y, p->w, p->w, p->h, p->box_x + 2 * p->scale,
	    p->box_y + 2 * p->scale, p->scale, TEXT_Y, line1);
	fc_font_draw(p->y, p->w, p->w, p->h, p->box_x + 2 * p->scale,
	    p->box_y + (FC_FONT_GLYPH_H + 5) * p->scale, p->scale, TEXT_Y,
	    line2);
}

static int
tp_open(struct fc_source *src)
{
	struct pattern *p;

	if (src->enc == NULL) {
		snprintf(src->error, sizeof(src->error), "no encoder");
		return -1;
	}
	if ((p = pattern_new(src->cfg->width, src->cfg->height)) == NULL) {
		snprintf(src->error, sizeof(src->error),
		    "cannot allocate a %dx%d picture: %s", src->cfg->width,
		    src->cfg->height, strerror(errno));
		return -1;
	}
	fc_encoder_set_quality(src->enc, src->cfg->quality);
	src->priv = p;
	src->frame_no = 0;
	return 0;
}

static enum fc_src_result
tp_next(struct fc_source *src, struct fc_src_frame *out, int timeout_ms)
{
	struct pattern *p = src->priv;
	const uint8_t *planes[3];
	int strides[3];
	uint8_t *jpeg;
	size_t len;

	(void)timeout_ms;
	memset(out, 0, sizeof(*out));
	out->ts_real_ns = fc_now_real_ns();
	out->ts_mono_ns = fc_now_mono_ns();
	src->frame_no++;
	draw_frame(p, src->frame_no, out->ts_real_ns, out->ts_mono_ns);

	planes[0] = p->y;
	planes[1] = p->u;
	planes[2] = p->v;
	strides[0] = p->w;
	strides[1] = p->cw;
	strides[2] = p->cw;
	if (fc_encoder_yuv420(src->enc, planes, strides, p->w, p->h, &jpeg,
	    &len) == -1) {
		snprintf(src->error, sizeof(src->error), "%s",
		    fc_encoder_error(src->enc));
		return FC_SRC_ERROR;
	}
	out->jpeg = jpeg;
	out->len = len;
	out->width = (uint32_t)p->w;
	out->height = (uint32_t)p->h;
	return FC_SRC_OK;
}

static void
tp_close(struct fc_source *src)
{
	pattern_free(src->priv);
	src->priv = NULL;
}

const struct fc_source_ops fc_source_testpattern = {
	.name = "testpattern",
	.self_paced = false,
	.open = tp_open,
	.next = tp_next,
	.close = tp_close,
};
