/*
 * libcamera source: Raspberry Pi cameras and other devices that only
 * libcamera drives.  The C++ side lives in libcamera_shim.cpp, built only
 * when `pkg-config libcamera` succeeds (FC_HAVE_LIBCAMERA); without it this
 * file still compiles and open() says how forkcast was built.
 *
 * Frames arrive as NV12 (or I420) and are encoded with the shared encoder
 * before the shim's buffer is handed back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "encode.h"
#include "source.h"

#ifdef FC_HAVE_LIBCAMERA

#include "libcamera_shim.h"

static void
lc_close(struct fc_source *src)
{
	fc_lcshim_close(src->priv);
	src->priv = NULL;
}

static int
lc_open(struct fc_source *src)
{
	const struct fc_config *cfg = src->cfg;

	src->error[0] = '\0';
	src->priv = fc_lcshim_open(cfg->camera, cfg->width, cfg->height,
	    cfg->fps, src->error, sizeof(src->error));
	if (src->priv == NULL) {
		if (src->error[0] == '\0')
			snprintf(src->error, sizeof(src->error),
			    "libcamera: cannot open camera");
		return -1;
	}
	src->frame_no = 0;
	log_info("libcamera: camera %s started",
	    cfg->camera[0] ? cfg->camera : "(first)");
	return 0;
}

static enum fc_src_result
lc_next(struct fc_source *src, struct fc_src_frame *out, int timeout_ms)
{
	struct fc_lcshim_frame f;
	uint8_t *jpeg = NULL;
	size_t len = 0;
	int64_t now_m;
	int r;

	if (src->priv == NULL) {
		snprintf(src->error, sizeof(src->error),
		    "libcamera source not open");
		return FC_SRC_ERROR;
	}
	r = fc_lcshim_wait(src->priv, timeout_ms, &f, src->error,
	    sizeof(src->error));
	if (r < 0)
		return FC_SRC_ERROR;
	if (r == 0)
		return FC_SRC_AGAIN;

	memset(out, 0, sizeof(*out));
	out->width = (uint32_t)f.width;
	out->height = (uint32_t)f.height;
	if (f.ts_mono_ns > 0) {
		now_m = fc_now_mono_ns();
		out->ts_mono_ns = f.ts_mono_ns;
		out->ts_real_ns = fc_now_real_ns() - (now_m - f.ts_mono_ns);
	}
	src->frame_no++;
	if (f.broken || src->enc == NULL) {
		out->broken = true;
		return FC_SRC_OK;
	}
	if (f.nv12)
		r = fc_encoder_nv12(src->enc, f.planes[0], f.strides[0],
		    f.planes[1], f.strides[1], f.width, f.height, &jpeg, &len);
	else
		r = fc_encoder_yuv420(src->enc, f.planes, f.strides, f.width,
		    f.height, &jpeg, &len);
	if (r < 0) {
		log_debug("libcamera: encode: %s", fc_encoder_error(src->enc));
		out->broken = true;
		return FC_SRC_OK;
	}
	out->jpeg = jpeg;
	out->len = len;
	return FC_SRC_OK;
}

#else /* !FC_HAVE_LIBCAMERA */

static void
lc_close(struct fc_source *src)
{
	src->priv = NULL;
}

static int
lc_open(struct fc_source *src)
{
	snprintf(src->error, sizeof(src->error),
	    "forkcast was built without libcamera (install libcamera-dev and "
	    "rebuild)");
	return -1;
}

static enum fc_src_result
lc_next(struct fc_source *src, struct fc_src_frame *out, int timeout_ms)
{
	(void)out;
	(void)timeout_ms;
	snprintf(src->error, sizeof(src->error),
	    "forkcast was built without libcamera");
	return FC_SRC_ERROR;
}

#endif /* FC_HAVE_LIBCAMERA */

const struct fc_source_ops fc_source_libcamera = {
	.name = "libcamera",
	.self_paced = true,
	.open = lc_open,
	.next = lc_next,
	.close = lc_close,
};
