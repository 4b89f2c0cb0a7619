/*
 * libcamera shim: the only C++ in forkcast; see libcamera_shim.h.
 *
 * libcamera completes requests on its own thread (requestCompleted signal);
 * the handler only pushes the request onto a queue under a mutex, and the
 * capture thread pops it in fc_lcshim_wait().  Buffers are dmabufs: each
 * distinct fd is mapped once at open, read-only.
 */
#include "libcamera_shim.h"

#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <libcamera/libcamera.h>

using namespace libcamera;

namespace {

struct mapping {
	void *addr;
	size_t len;
};

/* Per-buffer plane pointers, computed once at open. */
struct buffer_view {
	const uint8_t *planes[3];
	int strides[3];
};

void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int64_t
mono_now_ns()
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

} // namespace

struct fc_lcshim {
	std::unique_ptr<CameraManager> cm;
	std::shared_ptr<Camera> camera;
	bool acquired = false;
	bool started = false;
	std::unique_ptr<CameraConfiguration> config;
	Stream *stream = nullptr;
	std::unique_ptr<FrameBufferAllocator> allocator;
	std::vector<std::unique_ptr<Request>> requests;
	std::map<int, mapping> maps;		/* dmabuf fd -> mapping */
	std::map<const FrameBuffer *, buffer_view> views;
	int width = 0, height = 0;
	bool nv12 = true;

	std::mutex lock;
	std::condition_variable cv;
	std::deque<Request *> done;	/* completed, not yet taken */
	Request *held = nullptr;	/* lent to the C side */

	void completed(Request *r)
	{
		if (r->status() == Request::RequestCancelled)
			return;
		{
			std::lock_guard<std::mutex> g(lock);
			done.push_back(r);
		}
		cv.notify_one();
	}
};

static int
map_buffers(struct fc_lcshim *s, char *err, size_t errlen)
{
	const StreamConfiguration &sc = s->config->at(0);
	unsigned int stride = sc.stride ? sc.stride : (unsigned int)s->width;
	size_t ysize = (size_t)stride * s->height;

	for (const std::unique_ptr<FrameBuffer> &fb :
	    s->allocator->buffers(s->stream)) {
		buffer_view v = {};
		std::vector<const uint8_t *> ptrs;

		for (const FrameBuffer::Plane &pl : fb->planes()) {
			int fd = pl.fd.get();
			size_t end = 0;

			if (s->maps.find(fd) == s->maps.end()) {
				/* Map the whole dmabuf once: planes of one
				 * buffer usually share it at offsets. */
				for (const FrameBuffer::Plane &q : fb->planes())
					if (q.fd.get() == fd)
						end = std::max(end,
						    (size_t)q.offset + q.length);
				void *a = mmap(nullptr, end, PROT_READ,
				    MAP_SHARED, fd, 0);
				if (a == MAP_FAILED) {
					set_err(err, errlen, "cannot map camera "
					    "buffer: %s", strerror(errno));
					return -1;
				}
				s->maps[fd] = mapping{ a, end };
			}
			ptrs.push_back(static_cast<const uint8_t *>(
			    s->maps[fd].addr) + pl.offset);
		}
		if (ptrs.empty()) {
			set_err(err, errlen, "camera buffer without planes");
			return -1;
		}
		/* One plane holding everything: derive the others. */
		v.planes[0] = ptrs[0];
		v.strides[0] = (int)stride;
		if (s->nv12) {
			v.planes[1] = ptrs.size() > 1 ? ptrs[1] : ptrs[0] + ysize;
			v.strides[1] = (int)stride;
		} else {
			size_t csize = (size_t)(stride / 2) * ((s->height + 1) / 2);

			v.planes[1] = ptrs.size() > 1 ? ptrs[1] : ptrs[0] + ysize;
			v.planes[2] = ptrs.size() > 2 ? ptrs[2] :
			    v.planes[1] + csize;
			v.strides[1] = v.strides[2] = (int)(stride / 2);
		}
		s->views[fb.get()] = v;
	}
	return 0;
}

extern "C" void
fc_lcshim_close(struct fc_lcshim *s)
{
	if (s == nullptr)
		return;
	if (s->camera) {
		if (s->started)
			s->camera->stop();
		s->camera->requestCompleted.disconnect(s);
	}
	s->requests.clear();
	for (auto &m : s->maps)
		munmap(m.second.addr, m.second.len);
	s->maps.clear();
	if (s->allocator && s->stream != nullptr)
		s->allocator->free(s->stream);
	s->allocator.reset();
	s->config.reset();
	if (s->acquired)
		s->camera->release();
	s->camera.reset();
	if (s->cm)
		s->cm->stop();
	s->cm.reset();
	delete s;
}

extern "C" struct fc_lcshim *
fc_lcshim_open(const char *camera_id, int width, int height, int fps,
    char *err, size_t errlen)
{
	struct fc_lcshim *s = nullptr;
	int r;

	try {
		s = new fc_lcshim();
		s->cm = std::make_unique<CameraManager>();
		if ((r = s->cm->start()) < 0) {
			set_err(err, errlen, "libcamera: cannot start camera "
			    "manager: %s", strerror(-r));
			s->cm.reset();
			goto fail;
		}
		std::vector<std::shared_ptr<Camera>> cams = s->cm->cameras();
		if (cams.empty()) {
			set_err(err, errlen, "no camera found (libcamera sees "
			    "none)");
			goto fail;
		}
		if (camera_id != nullptr && camera_id[0] != '\0') {
			s->camera = s->cm->get(camera_id);
			if (!s->camera) {
				std::string avail;

				for (auto &c : cams)
					avail += (avail.empty() ? "" : ", ") +
					    c->id();
				set_err(err, errlen, "camera \"%s\" not found "
				    "(available: %s)", camera_id,
				    avail.c_str());
				goto fail;
			}
		} else {
			s->camera = cams[0];
		}
		if (s->camera->acquire() < 0) {
			set_err(err, errlen, "camera %s is busy",
			    s->camera->id().c_str());
			goto fail;
		}
		s->acquired = true;

		s->config = s->camera->generateConfiguration(
		    { StreamRole::VideoRecording });
		if (!s->config || s->config->size() == 0) {
			set_err(err, errlen, "camera %s offers no video stream",
			    s->camera->id().c_str());
			goto fail;
		}
		StreamConfiguration &sc = s->config->at(0);
		sc.pixelFormat = formats::NV12;
		sc.size = Size((unsigned int)width, (unsigned int)height);
		sc.bufferCount = 4;
		if (s->config->validate() == CameraConfiguration::Invalid) {
			set_err(err, errlen, "camera %s: no usable configuration",
			    s->camera->id().c_str());
			goto fail;
		}
		if (sc.pixelFormat != formats::NV12 &&
		    sc.pixelFormat != formats::YUV420) {
			/* Adjusted away from NV12: try planar YUV. */
			sc.pixelFormat = formats::YUV420;
			s->config->validate();
			if (sc.pixelFormat != formats::YUV420) {
				set_err(err, errlen, "camera %s offers neither "
				    "NV12 nor YUV420 (got %s)",
				    s->camera->id().c_str(),
				    sc.pixelFormat.toString().c_str());
				goto fail;
			}
		}
		s->nv12 = sc.pixelFormat == formats::NV12;
		if ((r = s->camera->configure(s->config.get())) < 0) {
			set_err(err, errlen, "camera %s: configure: %s",
			    s->camera->id().c_str(), strerror(-r));
			goto fail;
		}
		s->stream = sc.stream();
		s->width = (int)sc.size.width;
		s->height = (int)sc.size.height;

		s->allocator = std::make_unique<FrameBufferAllocator>(s->camera);
		if (s->allocator->allocate(s->stream) < 0) {
			set_err(err, errlen, "camera %s: cannot allocate buffers",
			    s->camera->id().c_str());
			goto fail;
		}
		if (map_buffers(s, err, errlen) < 0)
			goto fail;
		for (const std::unique_ptr<FrameBuffer> &fb :
		    s->allocator->buffers(s->stream)) {
			std::unique_ptr<Request> req = s->camera->createRequest();

			if (!req || req->addBuffer(s->stream, fb.get()) < 0) {
				set_err(err, errlen, "camera %s: cannot create "
				    "requests", s->camera->id().c_str());
				goto fail;
			}
			s->requests.push_back(std::move(req));
		}
		s->camera->requestCompleted.connect(s, &fc_lcshim::completed);

		ControlList ctrls(controls::controls);
		if (fps > 0 && s->camera->controls().count(
		    controls::FrameDurationLimits.id()) > 0) {
			int64_t d = 1000000 / fps;

			ctrls.set(controls::FrameDurationLimits, { d, d });
		}
		if ((r = s->camera->start(&ctrls)) < 0) {
			set_err(err, errlen, "camera %s: start: %s",
			    s->camera->id().c_str(), strerror(-r));
			goto fail;
		}
		s->started = true;
		for (std::unique_ptr<Request> &req : s->requests) {
			if ((r = s->camera->queueRequest(req.get())) < 0) {
				set_err(err, errlen, "camera %s: queue: %s",
				    s->camera->id().c_str(), strerror(-r));
				goto fail;
			}
		}
		return s;
	} catch (const std::exception &e) {
		set_err(err, errlen, "libcamera: %s", e.what());
	}
fail:
	fc_lcshim_close(s);
	return nullptr;
}

extern "C" int
fc_lcshim_wait(struct fc_lcshim *s, int timeout_ms,
    struct fc_lcshim_frame *f, char *err, size_t errlen)
{
	Request *r;
	int q;

	if (s->held != nullptr) {
		s->held->reuse(Request::ReuseBuffers);
		q = s->camera->queueRequest(s->held);
		s->held = nullptr;
		if (q < 0) {
			set_err(err, errlen, "camera %s: queue: %s",
			    s->camera->id().c_str(), strerror(-q));
			return -1;
		}
	}
	{
		std::unique_lock<std::mutex> g(s->lock);

		if (!s->cv.wait_for(g, std::chrono::milliseconds(
		    timeout_ms > 0 ? timeout_ms : 0),
		    [s] { return !s->done.empty(); }))
			return 0;
		r = s->done.front();
		s->done.pop_front();
	}
	s->held = r;

	const Request::BufferMap &bufs = r->buffers();
	auto it = bufs.find(s->stream);
	if (it == bufs.end()) {
		set_err(err, errlen, "camera %s: request without buffer",
		    s->camera->id().c_str());
		return -1;
	}
	const FrameBuffer *fb = it->second;
	auto v = s->views.find(fb);
	if (v == s->views.end()) {
		set_err(err, errlen, "camera %s: unknown buffer",
		    s->camera->id().c_str());
		return -1;
	}
	std::memset(f, 0, sizeof(*f));
	for (int i = 0; i < 3; i++) {
		f->planes[i] = v->second.planes[i];
		f->strides[i] = v->second.strides[i];
	}
	f->width = s->width;
	f->height = s->height;
	f->nv12 = s->nv12;
	f->broken = fb->metadata().status != FrameMetadata::FrameSuccess;
	int64_t ts = (int64_t)fb->metadata().timestamp, now = mono_now_ns();
	if (ts > 0 && ts <= now && now - ts < 10000000000LL)
		f->ts_mono_ns = ts;
	return 1;
}
