/*
 * JPEG encoding for capture sources (TurboJPEG).
 *
 * One encoder per capture process, created by capture.c and shared with the
 * source through src->enc.  It keeps one TurboJPEG compressor, one output
 * buffer and one planar scratch buffer, all reused from frame to frame: the
 * JPEG returned by an encode call stays valid until the next encode call on
 * the same encoder (or fc_encoder_free).  Not thread-safe; one caller.
 *
 * Output is always baseline JPEG, 4:2:0 chroma subsampling.
 *
 * Return convention: 0 on success, -1 on failure with a reason readable
 * through fc_encoder_error() (errno is EINVAL for bad arguments, EIO for a
 * TurboJPEG failure, ENOMEM when a buffer could not grow).
 */
#ifndef FC_ENCODE_H
#define FC_ENCODE_H

#include <stddef.h>
#include <stdint.h>

struct fc_encoder;

/* Creates an encoder producing JPEG at quality 1..100 (clamped).  Returns
 * NULL with errno on failure. */
struct fc_encoder *fc_encoder_new(int quality);

/* Frees the encoder and its buffers; accepts NULL. */
void fc_encoder_free(struct fc_encoder *enc);

/* Changes the quality used by later encode calls (clamped to 1..100). */
void fc_encoder_set_quality(struct fc_encoder *enc, int quality);

/*
 * Encodes planar YUV 4:2:0 (I420): planes[0] is Y (w x h), planes[1] U and
 * planes[2] V ((w+1)/2 x (h+1)/2), each with its stride in bytes (0 means
 * tightly packed).  On success *jpeg / *len describe the encoder-owned
 * result.
 */
int fc_encoder_yuv420(struct fc_encoder *enc, const uint8_t *planes[3],
    const int strides[3], int w, int h, uint8_t **jpeg, size_t *len);

/*
 * Encodes packed YUYV 4:2:2 (V4L2_PIX_FMT_YUYV: Y0 U Y1 V), stride bytes per
 * row (0: 2*w).  Converted to 4:2:0 in the encoder's scratch buffer
 * (chroma of each pair of rows averaged).
 */
int fc_encoder_yuyv(struct fc_encoder *enc, const uint8_t *src, int stride,
    int w, int h, uint8_t **jpeg, size_t *len);

/*
 * Encodes NV12 (V4L2_PIX_FMT_NV12: Y plane, then interleaved U/V plane at
 * half resolution).  y / uv point at the two planes (uv may directly follow
 * y); strides in bytes (0: w, and w rounded up to even for uv).
 */
int fc_encoder_nv12(struct fc_encoder *enc, const uint8_t *y, int ystride,
    const uint8_t *uv, int uvstride, int w, int h, uint8_t **jpeg,
    size_t *len);

/* Reason for the last failure ("" when none). */
const char *fc_encoder_error(const struct fc_encoder *enc);

/*
 * Encode statistics: frames encoded successfully since creation, and the
 * wall time (CLOCK_MONOTONIC ns) the last one took.  capture.c reads these
 * around src->ops->next() to fill the bus counters, so sources need not
 * report encoding themselves.
 */
uint64_t fc_encoder_frames(const struct fc_encoder *enc);
uint64_t fc_encoder_last_ns(const struct fc_encoder *enc);

/*
 * Validates a JPEG held in memory: starts with SOI (FF D8), ends with EOI
 * (FF D9) once trailing zero bytes (V4L2 drivers pad buffers) are ignored,
 * and its header decodes (tjDecompressHeader3) to a size > 0.  Returns 0
 * and stores the size in *w / *h (either may be NULL), or -1 with errno
 * EBADMSG.  Safe on any input: never reads outside [p, p+len).
 */
int fc_jpeg_check(const uint8_t *p, size_t len, int *w, int *h);

/* Length of p without trailing zero padding after the EOI marker (len
 * itself when there is none). */
size_t fc_jpeg_trim(const uint8_t *p, size_t len);

#endif
