/*
 * TurboJPEG encoder shared by the capture sources; see encode.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "../common/clock.h"
#include "encode.h"

/* Largest picture we agree to encode (matches the config's limits). */
#define MAX_DIM 8192

struct fc_encoder {
	tjhandle tj;		/* compressor */
	int quality;		/* 1..100 */
	unsigned char *out;	/* TurboJPEG-allocated output, reused */
	unsigned long outcap;	/* its allocated size */
	uint8_t *scratch;	/* planar 4:2:0 for packed inputs */
	size_t scratchcap;
	uint8_t *pad;		/* Y plane padded to even size (odd sizes) */
	size_t padcap;
	uint64_t frames;	/* successful encodes */
	uint64_t last_ns;	/* duration of the last one */
	char error[128];
};

static int
clamp_quality(int q)
{
	if (q < 1)
		return 1;
	if (q > 100)
		return 100;
	return q;
}

static void
set_error(struct fc_encoder *enc, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(enc->error, sizeof(enc->error), fmt, ap);
	va_end(ap);
	errno = err;
}

struct fc_encoder *
fc_encoder_new(int quality)
{
	struct fc_encoder *enc;

	if ((enc = calloc(1, sizeof(*enc))) == NULL)
		return NULL;
	enc->quality = clamp_quality(quality);
	if ((enc->tj = tjInitCompress()) == NULL) {
		free(enc);
		errno = ENOMEM;
		return NULL;
	}
	return enc;
}

void
fc_encoder_free(struct fc_encoder *enc)
{
	if (enc == NULL)
		return;
	if (enc->tj != NULL)
		tjDestroy(enc->tj);
	tjFree(enc->out);
	free(enc->scratch);
	free(enc->pad);
	free(enc);
}

void
fc_encoder_set_quality(struct fc_encoder *enc, int quality)
{
	enc->quality = clamp_quality(quality);
}

const char *
fc_encoder_error(const struct fc_encoder *enc)
{
	return enc->error;
}

uint64_t
fc_encoder_frames(const struct fc_encoder *enc)
{
	return enc->frames;
}

uint64_t
fc_encoder_last_ns(const struct fc_encoder *enc)
{
	return enc->last_ns;
}

static int
check_size(struct fc_encoder *enc, int w, int h)
{
	if (w < 1 || h < 1 || w > MAX_DIM || h > MAX_DIM) {
		set_error(enc, EINVAL, "bad picture size %dx%d", w, h);
		return -1;
	}
	return 0;
}

/* Grows the scratch buffer to hold an I420 picture of w x h. */
static uint8_t *
scratch_for(struct fc_encoder *enc, int w, int h)
{
	size_t cw = (size_t)(w + 1) / 2, ch = (size_t)(h + 1) / 2;
	size_t need = (size_t)w * (size_t)h + 2 * cw * ch;
	uint8_t *p;

	if (need > enc->scratchcap) {
		if ((p = realloc(enc->scratch, need)) == NULL) {
			set_error(enc, ENOMEM, "out of memory (%zu bytes)",
			    need);
			return NULL;
		}
		enc->scratch = p;
		enc->scratchcap = need;
	}
	return enc->scratch;
}

/*
 * TurboJPEG reads the Y plane of a 4:2:0 picture with odd sizes as if it
 * were padded to even ones (tjPlaneWidth/tjPlaneHeight), one byte past the
 * caller's rows.  Odd pictures are therefore copied into a padded plane
 * with the last column and row repeated.  Chroma planes already have
 * ceil(w/2) x ceil(h/2) samples.  Returns the padded plane (stride in
 * *stride) or NULL.
 */
static const uint8_t *
pad_luma(struct fc_encoder *enc, const uint8_t *y, int ystride, int w, int h,
    int *stride)
{
	size_t pw = (size_t)(w + 1) & ~(size_t)1;
	size_t ph = (size_t)(h + 1) & ~(size_t)1;
	size_t row;
	uint8_t *p;

	if (pw * ph > enc->padcap) {
		if ((p = realloc(enc->pad, pw * ph)) == NULL) {
			set_error(enc, ENOMEM, "out of memory");
			return NULL;
		}
		enc->pad = p;
		enc->padcap = pw * ph;
	}
	for (row = 0; row < (size_t)h; row++) {
		p = enc->pad + row * pw;
		memcpy(p, y + row * (size_t)ystride, (size_t)w);
		p[pw - 1] = p[w - 1];
	}
	if (ph > (size_t)h)
		memcpy(enc->pad + (ph - 1) * pw, enc->pad + (ph - 2) * pw, pw);
	*stride = (int)pw;
	return enc->pad;
}

int
fc_encoder_yuv420(struct fc_encoder *enc, const uint8_t *planes[3],
    const int strides[3], int w, int h, uint8_t **jpeg, size_t *len)
{
	const uint8_t *in[3];
	unsigned long size, need;
	int64_t t0;
	int st[3];

	if (check_size(enc, w, h) == -1)
		return -1;
	if (planes[0] == NULL || planes[1] == NULL || planes[2] == NULL) {
		set_error(enc, EINVAL, "missing plane");
		return -1;
	}
	st[0] = strides != NULL ? strides[0] : 0;
	st[1] = strides != NULL ? strides[1] : 0;
	st[2] = strides != NULL ? strides[2] : 0;
	if (st[0] < 0 || st[1] < 0 || st[2] < 0) {
		set_error(enc, EINVAL, "negative stride");
		return -1;
	}
	memcpy(in, planes, sizeof(in));
	if ((w | h) & 1) {
		if ((in[0] = pad_luma(enc, planes[0], st[0] != 0 ? st[0] : w,
		    w, h, &st[0])) == NULL)
			return -1;
	}

	/*
	 * The output buffer is sized for the worst case of this picture size
	 * (tjBufSize) and TurboJPEG is told never to reallocate it: when it
	 * grows a caller-supplied buffer it does not free the old one.
	 */
	need = tjBufSize(w, h, TJSAMP_420);
	if (need == (unsigned long)-1 || need > (unsigned long)INT32_MAX) {
		set_error(enc, EINVAL, "picture too large");
		return -1;
	}
	if (enc->out == NULL || need > enc->outcap) {
		tjFree(enc->out);
		enc->outcap = 0;
		if ((enc->out = tjAlloc((int)need)) == NULL) {
			set_error(enc, ENOMEM, "out of memory (%lu bytes)",
			    need);
			return -1;
		}
		enc->outcap = need;
	}
	size = enc->outcap;
	t0 = fc_now_mono_ns();
	if (tjCompressFromYUVPlanes(enc->tj, in, w, st, h, TJSAMP_420,
	    &enc->out, &size, enc->quality,
	    TJFLAG_FASTDCT | TJFLAG_NOREALLOC) != 0) {
		set_error(enc, EIO, "jpeg encode: %s",
		    tjGetErrorStr2(enc->tj));
		return -1;
	}
	enc->last_ns = (uint64_t)(fc_now_mono_ns() - t0);
	enc->frames++;
	enc->error[0] = '\0';
	*jpeg = enc->out;
	*len = size;
	return 0;
}

int
fc_encoder_yuyv(struct fc_encoder *enc, const uint8_t *src, int stride,
    int w, int h, uint8_t **jpeg, size_t *len)
{
	const uint8_t *planes[3];
	uint8_t *y, *u, *v;
	int cw, ch, row, x, strides[3];

	if (check_size(enc, w, h) == -1)
		return -1;
	/* YUYV carries chroma per pair of pixels: V4L2 never offers an odd
	 * width, and refusing one keeps the loop below inside each row. */
	if (w % 2 != 0) {
		set_error(enc, EINVAL, "YUYV needs an even width (%d)", w);
		return -1;
	}
	if (stride == 0)
		stride = 2 * w;
	if (src == NULL || stride < 2 * w) {
		set_error(enc, EINVAL, "bad YUYV buffer (stride %d)", stride);
		return -1;
	}
	if ((y = scratch_for(enc, w, h)) == NULL)
		return -1;
	cw = (w + 1) / 2;
	ch = (h + 1) / 2;
	u = y + (size_t)w * h;
	v = u + (size_t)cw * ch;

	for (row = 0; row < h; row++) {
		const uint8_t *s = src + (size_t)row * stride;
		uint8_t *yd = y + (size_t)row * w;

		for (x = 0; x < w; x++)
			yd[x] = s[2 * x];
	}
	/* Chroma: each YUYV pair carries one U and one V; average two rows
	 * (the last odd row stands alone). */
	for (row = 0; row < ch; row++) {
		const uint8_t *s0 = src + (size_t)(2 * row) * stride;
		const uint8_t *s1 = 2 * row + 1 < h ? s0 + stride : s0;
		uint8_t *ud = u + (size_t)row * cw, *vd = v + (size_t)row * cw;

		for (x = 0; x < cw; x++) {
			int i = 4 * x;

			ud[x] = (uint8_t)((s0[i + 1] + s1[i + 1] + 1) / 2);
			vd[x] = (uint8_t)((s0[i + 3] + s1[i + 3] + 1) / 2);
		}
	}
	planes[0] = y;
	planes[1] = u;
	planes[2] = v;
	strides[0] = w;
	strides[1] = cw;
	strides[2] = cw;
	return fc_encoder_yuv420(enc, planes, strides, w, h, jpeg, len);
}

int
fc_encoder_nv12(struct fc_encoder *enc, const uint8_t *y, int ystride,
    const uint8_t *uv, int uvstride, int w, int h, uint8_t **jpeg,
    size_t *len)
{
	const uint8_t *planes[3];
	uint8_t *u, *v;
	int cw, ch, row, x, strides[3];

	if (check_size(enc, w, h) == -1)
		return -1;
	cw = (w + 1) / 2;
	ch = (h + 1) / 2;
	if (ystride == 0)
		ystride = w;
	if (uvstride == 0)
		uvstride = 2 * cw;
	if (y == NULL || uv == NULL || ystride < w || uvstride < 2 * cw) {
		set_error(enc, EINVAL, "bad NV12 buffer");
		return -1;
	}
	/* Only the chroma needs de-interleaving; Y is used in place. */
	if ((u = scratch_for(enc, 2 * cw, h)) == NULL)
		return -1;
	v = u + (size_t)cw * ch;
	for (row = 0; row < ch; row++) {
		const uint8_t *s = uv + (size_t)row * uvstride;
		uint8_t *ud = u + (size_t)row * cw, *vd = v + (size_t)row * cw;

		for (x = 0; x < cw; x++) {
			ud[x] = s[2 * x];
			vd[x] = s[2 * x + 1];
		}
	}
	planes[0] = y;
	planes[1] = u;
	planes[2] = v;
	strides[0] = ystride;
	strides[1] = cw;
	strides[2] = cw;
	return fc_encoder_yuv420(enc, planes, strides, w, h, jpeg, len);
}

size_t
fc_jpeg_trim(const uint8_t *p, size_t len)
{
	while (len > 0 && p[len - 1] == 0x00)
		len--;
	return len;
}

int
fc_jpeg_check(const uint8_t *p, size_t len, int *w, int *h)
{
	tjhandle tj;
	/* Initialised: for a tables-only stream (SOI, EOI, no frame header)
	 * TurboJPEG 2.1 can return success without setting them. */
	int jw = 0, jh = 0, sub = -1, cs = -1, rc;

	len = p != NULL ? fc_jpeg_trim(p, len) : 0;
	if (len < 4 || p[0] != 0xff || p[1] != 0xd8 ||
	    p[len - 2] != 0xff || p[len - 1] != 0xd9 ||
	    len > (size_t)0x7fffffff)
		goto bad;
	if ((tj = tjInitDecompress()) == NULL)
		goto bad;
	rc = tjDecompressHeader3(tj, p, (unsigned long)len, &jw, &jh, &sub,
	    &cs);
	tjDestroy(tj);
	if (rc != 0 || jw < 1 || jh < 1 || sub < 0)
		goto bad;
	if (w != NULL)
		*w = jw;
	if (h != NULL)
		*h = jh;
	return 0;
bad:
	errno = EBADMSG;
	return -1;
}
