/*
 * The "no signal" picture capture publishes (flag FC_FRAME_NOSIGNAL) while
 * its source fails: a dark frame of the configured size with "NO SIGNAL"
 * and, when it fits, the reason.  Rendered and encoded once per reason,
 * then republished as is.
 */
#ifndef FC_NOSIGNAL_H
#define FC_NOSIGNAL_H

#include <stddef.h>
#include <stdint.h>

struct fc_encoder;

/*
 * Renders a w x h picture (odd sizes are rounded down to even) saying
 * "NO SIGNAL" and reason (NULL or "" for none; shortened or left out when
 * it does not fit) and encodes it with enc.  On success returns 0 and a
 * malloc'ed copy of the JPEG in *jpeg / *len (the caller frees it).
 * Returns -1 with errno on failure.
 */
int fc_nosignal_render(struct fc_encoder *enc, int w, int h,
    const char *reason, uint8_t **jpeg, size_t *len);

#endif
