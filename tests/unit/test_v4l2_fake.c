/*
 * The v4l2 source's data path against a fake driver (this machine has no
 * camera and no vivid module).  The test program defines stat(), open() and
 * ioctl() itself, so the source's calls for the path FAKE_DEV land here; a
 * memfd stands in for the device (mmap and poll work on it natively).
 * Every other path goes to the kernel unchanged.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/videodev2.h>
#include <cmocka.h>

#include "../../common/config.h"
#include "../../common/log.h"
#include "../../capture/encode.h"
#include "../../capture/source.h"

#define FAKE_DEV "/fake/video0"
#define FW 320
#define FH 240
#define NBUF 4
#define BUFSIZE ((FW * FH * 2 + 8191) & ~4095)	/* page-aligned offsets */

enum fake_mode { FRAME_OK, FRAME_ERRFLAG, UNPLUG };

static struct fake {
	int fd;
	uint32_t caps;
	uint32_t formats[4];
	int nformats;
	uint32_t cur;
	int fps_set;
	int queue[NBUF], nq;
	unsigned int nbufs;
	bool streaming, streamoff, reqbufs0;
	enum fake_mode mode;
	const uint8_t *payload;
	size_t payload_len, pad;
} fk;

static void
fake_reset(uint32_t caps, const uint32_t *fmts, int n)
{
	memset(&fk, 0, sizeof(fk));
	fk.fd = -1;
	fk.caps = caps;
	for (int i = 0; i < n && i < 4; i++)
		fk.formats[i] = fmts[i];
	fk.nformats = n;
}

int
stat(const char *restrict path, struct stat *restrict st)
{
	if (strcmp(path, FAKE_DEV) == 0) {
		memset(st, 0, sizeof(*st));
		st->st_mode = S_IFCHR | 0660;
		return 0;
	}
	return fstatat(AT_FDCWD, path, st, 0);
}

int
open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = (flags & O_CREAT) ? (mode_t)va_arg(ap, int) : 0;
	va_end(ap);
	if (strcmp(path, FAKE_DEV) == 0) {
		fk.fd = memfd_create("fake-v4l2", MFD_CLOEXEC);
		if (fk.fd < 0 || ftruncate(fk.fd, (off_t)NBUF * BUFSIZE) < 0)
			return -1;
		return fk.fd;
	}
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

static int
fake_ioctl(unsigned long req, void *arg)
{
	switch (req) {
	case VIDIOC_QUERYCAP: {
		struct v4l2_capability *c = arg;

		memset(c, 0, sizeof(*c));
		snprintf((char *)c->card, sizeof(c->card), "fake camera");
		c->capabilities = fk.caps | V4L2_CAP_DEVICE_CAPS;
		c->device_caps = fk.caps;
		return 0;
	}
	case VIDIOC_ENUM_FMT: {
		struct v4l2_fmtdesc *d = arg;

		if (d->index >= (uint32_t)fk.nformats) {
			errno = EINVAL;
			return -1;
		}
		d->pixelformat = fk.formats[d->index];
		return 0;
	}
	case VIDIOC_S_FMT: {
		struct v4l2_format *f = arg;
		bool known = false;

		for (int i = 0; i < fk.nformats; i++)
			known |= fk.formats[i] == f->fmt.pix.pixelformat;
		fk.cur = known ? f->fmt.pix.pixelformat : fk.formats[0];
		/* The driver picks its own size, as real ones do. */
		f->fmt.pix.pixelformat = fk.cur;
		f->fmt.pix.width = FW;
		f->fmt.pix.height = FH;
		f->fmt.pix.bytesperline = fk.cur == V4L2_PIX_FMT_YUYV ? FW * 2 :
		    fk.cur == V4L2_PIX_FMT_NV12 ? FW : 0;
		f->fmt.pix.sizeimage = BUFSIZE;
		return 0;
	}
	case VIDIOC_G_PARM: {
		struct v4l2_streamparm *p = arg;

		p->parm.capture.capability = V4L2_CAP_TIMEPERFRAME;
		return 0;
	}
	case VIDIOC_S_PARM: {
		struct v4l2_streamparm *p = arg;

		fk.fps_set = (int)p->parm.capture.timeperframe.denominator;
		return 0;
	}
	case VIDIOC_REQBUFS: {
		struct v4l2_requestbuffers *r = arg;

		if (r->count == 0)
			fk.reqbufs0 = true;
		if (r->count > NBUF)
			r->count = NBUF;
		fk.nbufs = r->count;
		return 0;
	}
	case VIDIOC_QUERYBUF: {
		struct v4l2_buffer *b = arg;

		if (b->index >= fk.nbufs) {
			errno = EINVAL;
			return -1;
		}
		b->length = BUFSIZE;
		b->m.offset = b->index * BUFSIZE;
		return 0;
	}
	case VIDIOC_QBUF: {
		struct v4l2_buffer *b = arg;

		assert_true(b->index < fk.nbufs);
		assert_true(fk.nq < NBUF);
		for (int i = 0; i < fk.nq; i++)
			assert_int_not_equal(fk.queue[i], (int)b->index);
		fk.queue[fk.nq++] = (int)b->index;
		return 0;
	}
	case VIDIOC_DQBUF: {
		struct v4l2_buffer *b = arg;
		struct timespec ts;
		uint8_t zeros[64] = { 0 };
		off_t off;

		if (fk.mode == UNPLUG) {
			errno = ENODEV;
			return -1;
		}
		if (!fk.streaming || fk.nq == 0 || fk.payload == NULL) {
			errno = EAGAIN;
			return -1;
		}
		b->index = (uint32_t)fk.queue[0];
		memmove(fk.queue, fk.queue + 1, sizeof(int) * (size_t)--fk.nq);
		off = (off_t)b->index * BUFSIZE;
		assert_int_equal(pwrite(fk.fd, fk.payload, fk.payload_len, off),
		    (ssize_t)fk.payload_len);
		/* Drivers pad MJPEG buffers with zeros after the EOI. */
		assert_true(fk.pad <= sizeof(zeros));
		if (fk.pad > 0)
			assert_int_equal(pwrite(fk.fd, zeros, fk.pad,
			    off + (off_t)fk.payload_len), (ssize_t)fk.pad);
		b->bytesused = (uint32_t)(fk.payload_len + fk.pad);
		b->flags = V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
		if (fk.mode == FRAME_ERRFLAG)
			b->flags |= V4L2_BUF_FLAG_ERROR;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		b->timestamp.tv_sec = ts.tv_sec;
		b->timestamp.tv_usec = ts.tv_nsec / 1000;
		return 0;
	}
	case VIDIOC_STREAMON:
		fk.streaming = true;
		return 0;
	case VIDIOC_STREAMOFF:
		fk.streaming = false;
		fk.streamoff = true;
		return 0;
	default:
		errno = ENOTTY;
		return -1;
	}
}

int
ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd >= 0 && fd == fk.fd)
		return fake_ioctl(req, arg);
	return (int)syscall(SYS_ioctl, fd, req, arg);
}

struct ctx {
	struct fc_config cfg;
	struct fc_source src;
};

static struct ctx *
ctx_new(void)
{
	struct ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	snprintf(c->cfg.device, sizeof(c->cfg.device), FAKE_DEV);
	c->cfg.width = 640;
	c->cfg.height = 480;
	c->cfg.fps = 25;
	c->src.ops = &fc_source_v4l2;
	c->src.cfg = &c->cfg;
	c->src.enc = fc_encoder_new(80);
	assert_non_null(c->src.enc);
	return c;
}

static void
open_ok(struct ctx *c)
{
	if (c->src.ops->open(&c->src) != 0)
		fail_msg("open: %s", c->src.error);
}

static void
ctx_free(struct ctx *c)
{
	int fd = fk.fd;

	c->src.ops->close(&c->src);
	assert_null(c->src.priv);
	/* The device fd was closed. */
	if (fd >= 0)
		assert_int_equal(fcntl(fd, F_GETFD), -1);
	fk.fd = -1;
	fc_encoder_free(c->src.enc);
	free(c);
}

/* A YUYV test picture and, from it, NV12 and a JPEG. */
static uint8_t yuyv[FW * FH * 2], nv12[FW * FH * 3 / 2];

static void
make_pictures(void)
{
	for (int y = 0; y < FH; y++) {
		for (int x = 0; x < FW; x += 2) {
			uint8_t *p = yuyv + (size_t)y * FW * 2 + (size_t)x * 2;

			p[0] = (uint8_t)(x * 255 / FW);
			p[1] = (uint8_t)(y * 255 / FH);
			p[2] = (uint8_t)((x + 1) * 255 / FW);
			p[3] = 128;
		}
	}
	for (int i = 0; i < FW * FH; i++)
		nv12[i] = (uint8_t)(i % 251);
	memset(nv12 + FW * FH, 128, FW * FH / 2);
}

static void
expect_frames(struct ctx *c, int n, bool broken, const uint8_t *same,
    size_t same_len)
{
	struct fc_src_frame f;
	int w = 0, h = 0;

	for (int i = 0; i < n; i++) {
		assert_int_equal(c->src.ops->next(&c->src, &f, 500), FC_SRC_OK);
		assert_int_equal(f.broken, broken);
		if (broken)
			continue;
		assert_int_equal(f.width, FW);
		assert_int_equal(f.height, FH);
		assert_true(f.ts_mono_ns > 0);
		assert_true(f.ts_real_ns > 0);
		assert_int_equal(fc_jpeg_check(f.jpeg, f.len, &w, &h), 0);
		assert_int_equal(w, FW);
		assert_int_equal(h, FH);
		if (same != NULL) {
			/* MJPEG is passed through untouched, padding cut. */
			assert_int_equal(f.len, same_len);
			assert_memory_equal(f.jpeg, same, same_len);
		}
	}
}

static void
test_mjpeg_passthrough(void **state)
{
	static const uint32_t fmts[] = { V4L2_PIX_FMT_YUYV,
	    V4L2_PIX_FMT_MJPEG, V4L2_PIX_FMT_NV12 };
	struct ctx *c;
	struct fc_encoder *enc = fc_encoder_new(70);
	uint8_t *jpeg, *copy;
	size_t len;

	(void)state;
	make_pictures();
	assert_int_equal(fc_encoder_yuyv(enc, yuyv, 0, FW, FH, &jpeg, &len), 0);
	copy = malloc(len);
	memcpy(copy, jpeg, len);
	fc_encoder_free(enc);

	fake_reset(V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING, fmts, 3);
	c = ctx_new();
	open_ok(c);
	assert_int_equal(fk.cur, V4L2_PIX_FMT_MJPEG);	/* preferred */
	assert_int_equal(fk.fps_set, 25);
	assert_true(fk.streaming);
	fk.payload = copy;
	fk.payload_len = len;
	fk.pad = 37;
	/* More frames than buffers: each one goes back to the driver. */
	expect_frames(c, 3 * NBUF, false, copy, len);

	/* A corrupt MJPEG frame is flagged, not dropped silently. */
	fk.payload = (const uint8_t *)"definitely not a jpeg";
	fk.payload_len = 21;
	fk.pad = 0;
	expect_frames(c, 2, true, NULL, 0);
	/* A buffer the driver flagged bad. */
	fk.payload = copy;
	fk.payload_len = len;
	fk.mode = FRAME_ERRFLAG;
	expect_frames(c, 1, true, NULL, 0);
	fk.mode = FRAME_OK;
	expect_frames(c, 1, false, copy, len);
	ctx_free(c);
	assert_true(fk.streamoff);
	assert_true(fk.reqbufs0);
	free(copy);
}

static void
test_yuyv_nv12_encoded(void **state)
{
	static const uint32_t yfmt[] = { V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_YUYV };
	static const uint32_t nfmt[] = { V4L2_PIX_FMT_NV12 };
	struct ctx *c;

	(void)state;
	make_pictures();
	fake_reset(V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING, yfmt, 2);
	c = ctx_new();
	open_ok(c);
	assert_int_equal(fk.cur, V4L2_PIX_FMT_YUYV);
	fk.payload = yuyv;
	fk.payload_len = sizeof(yuyv);
	expect_frames(c, 6, false, NULL, 0);
	/* A short buffer is flagged broken, not read past its end. */
	fk.payload_len = sizeof(yuyv) / 2;
	expect_frames(c, 1, true, NULL, 0);
	ctx_free(c);

	fake_reset(V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING, nfmt, 1);
	c = ctx_new();
	open_ok(c);
	assert_int_equal(fk.cur, V4L2_PIX_FMT_NV12);
	fk.payload = nv12;
	fk.payload_len = sizeof(nv12);
	expect_frames(c, 6, false, NULL, 0);
	ctx_free(c);
}

static void
test_timeout_and_unplug(void **state)
{
	static const uint32_t fmts[] = { V4L2_PIX_FMT_YUYV };
	struct fc_src_frame f;
	struct ctx *c;
	struct timespec a, b;
	long ms;

	(void)state;
	make_pictures();
	fake_reset(V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING, fmts, 1);
	c = ctx_new();
	open_ok(c);
	/* No frame: AGAIN after about the timeout. */
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(c->src.ops->next(&c->src, &f, 50), FC_SRC_AGAIN);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	assert_true(ms >= 45 && ms < 1000);
	fk.payload = yuyv;
	fk.payload_len = sizeof(yuyv);
	expect_frames(c, 1, false, NULL, 0);
	fk.mode = UNPLUG;
	assert_int_equal(c->src.ops->next(&c->src, &f, 100), FC_SRC_ERROR);
	print_message("unplug: %s\n", c->src.error);
	assert_non_null(strstr(c->src.error, "unplugged"));
	ctx_free(c);
}

static void
expect_open_fail(uint32_t caps, const uint32_t *fmts, int n, const char *want)
{
	struct ctx *c;

	fake_reset(caps, fmts, n);
	c = ctx_new();
	assert_int_equal(c->src.ops->open(&c->src), -1);
	print_message("open: %s\n", c->src.error);
	if (strstr(c->src.error, want) == NULL)
		fail_msg("error \"%s\", expected \"%s\"", c->src.error, want);
	ctx_free(c);
}

static void
test_open_refusals(void **state)
{
	static const uint32_t odd[] = { V4L2_PIX_FMT_RGB24, V4L2_PIX_FMT_GREY };
	static const uint32_t ok[] = { V4L2_PIX_FMT_MJPEG };

	(void)state;
	expect_open_fail(V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING, odd, 2,
	    "no supported format (device offers: RGB3 GREY)");
	expect_open_fail(V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING, odd, 0,
	    "device offers: none");
	expect_open_fail(V4L2_CAP_VIDEO_OUTPUT | V4L2_CAP_STREAMING, ok, 1,
	    "is not a video capture device (fake camera)");
	expect_open_fail(V4L2_CAP_VIDEO_CAPTURE_MPLANE | V4L2_CAP_STREAMING,
	    ok, 1, "multi-planar");
	expect_open_fail(V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_READWRITE, ok, 1,
	    "does not support streaming");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mjpeg_passthrough),
		cmocka_unit_test(test_yuyv_nv12_encoded),
		cmocka_unit_test(test_timeout_and_unplug),
		cmocka_unit_test(test_open_refusals),
	};

	fk.fd = -1;
	fc_log_init("test", FC_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
