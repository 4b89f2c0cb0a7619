/*
 * v4l2 source: a UVC webcam or any V4L2 single-planar capture device,
 * through the kernel API directly (no libv4l).
 *
 * Format preference: MJPEG (passed through untouched, zero copy: the frame
 * points into the driver's mmap buffer, which is held until the next call),
 * then YUYV, then NV12 (both encoded with the shared encoder).  The size and
 * rate are requests; the driver's choice is accepted and logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <linux/videodev2.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "encode.h"
#include "source.h"

#define FC_V4L2_NBUF	4

struct v4l2_map {
	void *start;		/* MAP_FAILED when not mapped */
	size_t len;
};

struct v4l2_priv {
	int fd;
	uint32_t pixfmt;	/* chosen V4L2_PIX_FMT_* */
	uint32_t width, height, stride;
	struct v4l2_map bufs[FC_V4L2_NBUF];
	unsigned int nbufs;	/* buffers granted by REQBUFS */
	bool streaming;
	int held;		/* buffer lent out with the last frame, or -1 */
	uint64_t broken;
};

/* Retries an ioctl interrupted by a signal. */
static int
xioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do {
		r = ioctl(fd, req, arg);
	} while (r < 0 && errno == EINTR);
	return r;
}

static const char *
fourcc(uint32_t f, char out[5])
{
	for (int i = 0; i < 4; i++) {
		char c = (char)((f >> (8 * i)) & 0xff);

		out[i] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	out[4] = '\0';
	return out;
}

static int
fmt_rank(uint32_t f)
{
	switch (f) {
	case V4L2_PIX_FMT_MJPEG:
	case V4L2_PIX_FMT_JPEG:
		return 3;
	case V4L2_PIX_FMT_YUYV:
		return 2;
	case V4L2_PIX_FMT_NV12:
		return 1;
	default:
		return 0;
	}
}

static bool
is_jpeg(uint32_t f)
{
	return f == V4L2_PIX_FMT_MJPEG || f == V4L2_PIX_FMT_JPEG;
}

/* Sets src->error for a failed call on the device, naming the usual
 * causes. */
static void
dev_error(struct fc_source *src, const char *what, int err)
{
	const char *dev = src->cfg->device;

	switch (err) {
	case ENOENT:
		snprintf(src->error, sizeof(src->error), "%.100s: no such device",
		    dev);
		break;
	case EBUSY:
		snprintf(src->error, sizeof(src->error), "%.100s: device busy "
		    "(used by another program)", dev);
		break;
	case ENODEV:
	case ENXIO:
		snprintf(src->error, sizeof(src->error), "%.100s: device "
		    "unplugged or gone", dev);
		break;
	case EACCES:
	case EPERM:
		snprintf(src->error, sizeof(src->error), "%.100s: permission "
		    "denied", dev);
		break;
	case ENOTTY:
		snprintf(src->error, sizeof(src->error), "%.100s is not a V4L2 "
		    "device", dev);
		break;
	default:
		snprintf(src->error, sizeof(src->error), "%.100s: %s: %s", dev,
		    what, strerror(err));
		break;
	}
}

static void
v4l2_close(struct fc_source *src)
{
	struct v4l2_priv *p = src->priv;
	struct v4l2_requestbuffers req;
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;

	if (p == NULL)
		return;
	if (p->streaming && xioctl(p->fd, VIDIOC_STREAMOFF, &type) < 0)
		log_debug("v4l2: STREAMOFF: %s", strerror(errno));
	for (unsigned int i = 0; i < FC_V4L2_NBUF; i++)
		if (p->bufs[i].start != MAP_FAILED)
			munmap(p->bufs[i].start, p->bufs[i].len);
	if (p->nbufs > 0) {
		/* Give the buffers back so a reopen can have them. */
		memset(&req, 0, sizeof(req));
		req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		req.memory = V4L2_MEMORY_MMAP;
		xioctl(p->fd, VIDIOC_REQBUFS, &req);
	}
	if (p->fd >= 0)
		close(p->fd);
	if (p->broken > 0)
		log_debug("v4l2: %llu broken frames",
		    (unsigned long long)p->broken);
	free(p);
	src->priv = NULL;
}

/* Picks the best format the device offers; 0 or -1 with src->error. */
static int
choose_format(struct fc_source *src, struct v4l2_priv *p)
{
	struct v4l2_fmtdesc fd;
	char offered[96] = "", cc[5];
	size_t used = 0;
	int best = 0;

	for (uint32_t i = 0; i < 64; i++) {
		memset(&fd, 0, sizeof(fd));
		fd.index = i;
		fd.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		if (xioctl(p->fd, VIDIOC_ENUM_FMT, &fd) < 0)
			break;	/* EINVAL past the last one */
		if (fmt_rank(fd.pixelformat) > best) {
			best = fmt_rank(fd.pixelformat);
			p->pixfmt = fd.pixelformat;
		}
		if (used + 6 < sizeof(offered))
			used += (size_t)snprintf(offered + used,
			    sizeof(offered) - used, "%s%s", used ? " " : "",
			    fourcc(fd.pixelformat, cc));
	}
	if (best == 0) {
		snprintf(src->error, sizeof(src->error), "%.40s: no supported "
		    "format (device offers: %.60s)", src->cfg->device,
		    used ? offered : "none");
		return -1;
	}
	return 0;
}

static int
set_format(struct fc_source *src, struct v4l2_priv *p)
{
	struct v4l2_format fmt;
	struct v4l2_streamparm parm;
	char cc[5];

	memset(&fmt, 0, sizeof(fmt));
	fmt.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	fmt.fmt.pix.width = (uint32_t)src->cfg->width;
	fmt.fmt.pix.height = (uint32_t)src->cfg->height;
	fmt.fmt.pix.pixelformat = p->pixfmt;
	fmt.fmt.pix.field = V4L2_FIELD_ANY;
	if (xioctl(p->fd, VIDIOC_S_FMT, &fmt) < 0) {
		dev_error(src, "VIDIOC_S_FMT", errno);
		return -1;
	}
	/* The driver may round the size or even swap the format. */
	if (fmt_rank(fmt.fmt.pix.pixelformat) == 0 || fmt.fmt.pix.width == 0 ||
	    fmt.fmt.pix.height == 0 || fmt.fmt.pix.width > 16384 ||
	    fmt.fmt.pix.height > 16384) {
		snprintf(src->error, sizeof(src->error), "%.80s: driver chose "
		    "an unusable format %s %ux%u", src->cfg->device,
		    fourcc(fmt.fmt.pix.pixelformat, cc), fmt.fmt.pix.width,
		    fmt.fmt.pix.height);
		return -1;
	}
	p->pixfmt = fmt.fmt.pix.pixelformat;
	p->width = fmt.fmt.pix.width;
	p->height = fmt.fmt.pix.height;
	p->stride = fmt.fmt.pix.bytesperline;
	if (!is_jpeg(p->pixfmt) && p->stride < p->width *
	    (p->pixfmt == V4L2_PIX_FMT_YUYV ? 2 : 1))
		p->stride = p->width * (p->pixfmt == V4L2_PIX_FMT_YUYV ? 2 : 1);

	memset(&parm, 0, sizeof(parm));
	parm.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	if (xioctl(p->fd, VIDIOC_G_PARM, &parm) == 0 &&
	    (parm.parm.capture.capability & V4L2_CAP_TIMEPERFRAME)) {
		parm.parm.capture.timeperframe.numerator = 1;
		parm.parm.capture.timeperframe.denominator =
		    (uint32_t)src->cfg->fps;
		if (xioctl(p->fd, VIDIOC_S_PARM, &parm) < 0)
			log_warn("v4l2: %s: cannot set %d fps", src->cfg->device,
			    src->cfg->fps);
	}
	log_info("v4l2: %s: %s %ux%u (asked %dx%d at %d fps)",
	    src->cfg->device, fourcc(p->pixfmt, cc), p->width, p->height,
	    src->cfg->width, src->cfg->height, src->cfg->fps);
	return 0;
}

static int
start_streaming(struct fc_source *src, struct v4l2_priv *p)
{
	struct v4l2_requestbuffers req;
	struct v4l2_buffer b;
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;

	memset(&req, 0, sizeof(req));
	req.count = FC_V4L2_NBUF;
	req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	req.memory = V4L2_MEMORY_MMAP;
	if (xioctl(p->fd, VIDIOC_REQBUFS, &req) < 0) {
		dev_error(src, "VIDIOC_REQBUFS", errno);
		return -1;
	}
	p->nbufs = req.count < FC_V4L2_NBUF ? req.count : FC_V4L2_NBUF;
	if (p->nbufs < 2) {
		snprintf(src->error, sizeof(src->error), "%.100s: driver granted "
		    "%u buffers (need 2)", src->cfg->device, req.count);
		return -1;
	}
	for (unsigned int i = 0; i < p->nbufs; i++) {
		memset(&b, 0, sizeof(b));
		b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		b.memory = V4L2_MEMORY_MMAP;
		b.index = i;
		if (xioctl(p->fd, VIDIOC_QUERYBUF, &b) < 0) {
			dev_error(src, "VIDIOC_QUERYBUF", errno);
			return -1;
		}
		p->bufs[i].start = mmap(NULL, b.length, PROT_READ, MAP_SHARED,
		    p->fd, b.m.offset);
		if (p->bufs[i].start == MAP_FAILED) {
			dev_error(src, "mmap", errno);
			return -1;
		}
		p->bufs[i].len = b.length;
		if (xioctl(p->fd, VIDIOC_QBUF, &b) < 0) {
			dev_error(src, "VIDIOC_QBUF", errno);
			return -1;
		}
	}
	if (xioctl(p->fd, VIDIOC_STREAMON, &type) < 0) {
		dev_error(src, "VIDIOC_STREAMON", errno);
		return -1;
	}
	p->streaming = true;
	return 0;
}

static int
v4l2_open(struct fc_source *src)
{
	const char *dev = src->cfg->device;
	struct v4l2_capability cap;
	struct v4l2_priv *p;
	struct stat st;
	uint32_t caps;

	src->error[0] = '\0';
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(src->error, sizeof(src->error), "out of memory");
		return -1;
	}
	p->fd = -1;
	p->held = -1;
	for (unsigned int i = 0; i < FC_V4L2_NBUF; i++)
		p->bufs[i].start = MAP_FAILED;
	src->priv = p;

	if (dev[0] == '\0') {
		snprintf(src->error, sizeof(src->error), "no V4L2 device "
		    "configured: no such device");
		goto fail;
	}
	/* Refuse anything but a character device before opening it
	 * read-write (a mistyped path may name a regular file). */
	if (stat(dev, &st) < 0) {
		dev_error(src, "stat", errno);
		goto fail;
	}
	if (!S_ISCHR(st.st_mode)) {
		snprintf(src->error, sizeof(src->error), "%.100s is not a video "
		    "capture device (not a character device)", dev);
		goto fail;
	}
	if ((p->fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
		dev_error(src, "open", errno);
		goto fail;
	}
	memset(&cap, 0, sizeof(cap));
	if (xioctl(p->fd, VIDIOC_QUERYCAP, &cap) < 0) {
		/* ENOTTY / EINVAL: some other kind of character device. */
		dev_error(src, "VIDIOC_QUERYCAP", errno == EINVAL ? ENOTTY :
		    errno);
		goto fail;
	}
	caps = (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps :
	    cap.capabilities;
	if (!(caps & V4L2_CAP_VIDEO_CAPTURE)) {
		snprintf(src->error, sizeof(src->error), "%.50s is not a video "
		    "capture device (%.32s%s)", dev, (const char *)cap.card,
		    (caps & V4L2_CAP_VIDEO_CAPTURE_MPLANE) ?
		    ", multi-planar API not supported" : "");
		goto fail;
	}
	if (!(caps & V4L2_CAP_STREAMING)) {
		snprintf(src->error, sizeof(src->error), "%.80s does not "
		    "support streaming I/O (%.40s)", dev, (const char *)cap.card);
		goto fail;
	}
	if (choose_format(src, p) < 0 || set_format(src, p) < 0 ||
	    start_streaming(src, p) < 0)
		goto fail;
	src->frame_no = 0;
	return 0;
fail:
	v4l2_close(src);
	return -1;
}

static int
requeue(struct fc_source *src, struct v4l2_priv *p, unsigned int index)
{
	struct v4l2_buffer b;

	memset(&b, 0, sizeof(b));
	b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	b.memory = V4L2_MEMORY_MMAP;
	b.index = index;
	if (xioctl(p->fd, VIDIOC_QBUF, &b) < 0) {
		dev_error(src, "VIDIOC_QBUF", errno);
		return -1;
	}
	return 0;
}

/* Fills out from a dequeued buffer; returns true when the buffer is lent
 * out with the frame (MJPEG) and must be requeued on the next call. */
static bool
convert(struct fc_source *src, struct v4l2_priv *p, const struct v4l2_buffer *b,
    struct fc_src_frame *out)
{
	const uint8_t *data = p->bufs[b->index].start;
	size_t used = b->bytesused, need;
	uint8_t *jpeg = NULL;
	size_t jlen = 0;
	int w = 0, h = 0, r;

	if (used > p->bufs[b->index].len)
		used = p->bufs[b->index].len;
	out->width = p->width;
	out->height = p->height;
	if (b->flags & V4L2_BUF_FLAG_ERROR) {
		out->broken = true;
		return false;
	}
	if (is_jpeg(p->pixfmt)) {
		out->jpeg = data;
		out->len = used;
		if (fc_jpeg_check(data, used, &w, &h) < 0) {
			out->broken = true;
		} else {
			out->len = fc_jpeg_trim(data, used);
			out->width = (uint32_t)w;
			out->height = (uint32_t)h;
		}
		return true;
	}
	need = (size_t)p->stride * p->height;
	if (p->pixfmt == V4L2_PIX_FMT_NV12)
		need += (size_t)p->stride * ((p->height + 1) / 2);
	if (used < need || src->enc == NULL) {
		out->broken = true;
		return false;
	}
	if (p->pixfmt == V4L2_PIX_FMT_YUYV)
		r = fc_encoder_yuyv(src->enc, data, (int)p->stride,
		    (int)p->width, (int)p->height, &jpeg, &jlen);
	else
		r = fc_encoder_nv12(src->enc, data, (int)p->stride,
		    data + (size_t)p->stride * p->height, (int)p->stride,
		    (int)p->width, (int)p->height, &jpeg, &jlen);
	if (r < 0) {
		log_debug("v4l2: encode: %s", fc_encoder_error(src->enc));
		out->broken = true;
		return false;
	}
	out->jpeg = jpeg;
	out->len = jlen;
	return false;
}

static enum fc_src_result
v4l2_next(struct fc_source *src, struct fc_src_frame *out, int timeout_ms)
{
	struct v4l2_priv *p = src->priv;
	int64_t deadline = fc_now_mono_ns() + (int64_t)timeout_ms * 1000000;
	struct v4l2_buffer b;
	struct pollfd pfd;
	int64_t left, now_m, ts;
	int r;

	if (p == NULL || !p->streaming) {
		snprintf(src->error, sizeof(src->error), "v4l2 source not open");
		return FC_SRC_ERROR;
	}
	if (p->held >= 0) {
		r = requeue(src, p, (unsigned int)p->held);
		p->held = -1;
		if (r < 0)
			return FC_SRC_ERROR;
	}
	for (;;) {
		memset(&b, 0, sizeof(b));
		b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		b.memory = V4L2_MEMORY_MMAP;
		if (xioctl(p->fd, VIDIOC_DQBUF, &b) == 0)
			break;
		if (errno != EAGAIN) {
			dev_error(src, "VIDIOC_DQBUF", errno);
			return FC_SRC_ERROR;
		}
		left = deadline - fc_now_mono_ns();
		if (left <= 0)
			return FC_SRC_AGAIN;
		pfd.fd = p->fd;
		pfd.events = POLLIN;
		r = poll(&pfd, 1, (int)((left + 999999) / 1000000));
		if (r < 0 && errno != EINTR) {
			dev_error(src, "poll", errno);
			return FC_SRC_ERROR;
		}
		if (r > 0 && (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) &&
		    !(pfd.revents & POLLIN)) {
			/* DQBUF tells what went wrong (ENODEV when the
			 * camera was unplugged). */
			continue;
		}
	}
	if (b.index >= p->nbufs) {
		snprintf(src->error, sizeof(src->error), "%.100s: driver "
		    "returned buffer %u of %u", src->cfg->device, b.index,
		    p->nbufs);
		return FC_SRC_ERROR;
	}

	memset(out, 0, sizeof(*out));
	if ((b.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) ==
	    V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC) {
		/* Driver time of the capture; the real-time stamp is moved
		 * back by the same age. */
		ts = (int64_t)b.timestamp.tv_sec * 1000000000 +
		    (int64_t)b.timestamp.tv_usec * 1000;
		now_m = fc_now_mono_ns();
		if (ts > 0 && ts <= now_m && now_m - ts < 10000000000LL) {
			out->ts_mono_ns = ts;
			out->ts_real_ns = fc_now_real_ns() - (now_m - ts);
		}
	}
	if (convert(src, p, &b, out))
		p->held = (int)b.index;
	else if (requeue(src, p, b.index) < 0)
		return FC_SRC_ERROR;
	if (out->broken)
		p->broken++;
	src->frame_no++;
	return FC_SRC_OK;
}

const struct fc_source_ops fc_source_v4l2 = {
	.name = "v4l2",
	.self_paced = true,
	.open = v4l2_open,
	.next = v4l2_next,
	.close = v4l2_close,
};
