/*
 * C interface to libcamera (a C++ library), implemented in
 * libcamera_shim.cpp: the only C++ in forkcast, built only when
 * `pkg-config libcamera` succeeds (FC_HAVE_LIBCAMERA).
 *
 * One camera per process (libcamera allows one CameraManager).  The shim
 * configures one stream in NV12 (or YUV420) at the requested size, allocates
 * and maps the buffers, queues every request, and hands completed frames to
 * the C side through a queue that fc_lcshim_wait() blocks on.  Errors come
 * back as text in err (never NULL, errlen > 0).
 */
#ifndef FC_LIBCAMERA_SHIM_H
#define FC_LIBCAMERA_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fc_lcshim;

/* A completed frame, valid until the next fc_lcshim_wait() or
 * fc_lcshim_close().  nv12: planes[1] holds interleaved U/V and planes[2]
 * is NULL; otherwise planar I420. */
struct fc_lcshim_frame {
	const uint8_t *planes[3];
	int strides[3];
	int width, height;
	int nv12;
	int64_t ts_mono_ns;	/* sensor time (CLOCK_MONOTONIC), 0 if unknown */
	int broken;		/* the pipeline flagged the frame bad */
};

/* Starts libcamera, picks camera_id ("" or NULL = first camera), configures
 * width x height at fps and starts streaming.  Returns NULL with a reason
 * in err ("no camera found", "camera X not found (available: ...)", ...). */
struct fc_lcshim *fc_lcshim_open(const char *camera_id, int width,
    int height, int fps, char *err, size_t errlen);

/* Waits up to timeout_ms for the next frame.  Returns 1 with *f filled, 0 on
 * timeout, -1 with err set when the camera failed.  The previous frame's
 * buffer goes back to the camera on entry. */
int fc_lcshim_wait(struct fc_lcshim *s, int timeout_ms,
    struct fc_lcshim_frame *f, char *err, size_t errlen);

/* Stops streaming, unmaps, releases the camera; accepts NULL. */
void fc_lcshim_close(struct fc_lcshim *s);

#ifdef __cplusplus
}
#endif

#endif
