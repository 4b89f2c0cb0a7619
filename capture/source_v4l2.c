/* PLACEHOLDER: replaced by the real v4l2 source. */
#include <stdio.h>
#include "source.h"

static int
ph_open(struct fc_source *src)
{
	snprintf(src->error, sizeof(src->error), "v4l2 source not built yet");
	return -1;
}

static enum fc_src_result
ph_next(struct fc_source *src, struct fc_src_frame *out, int timeout_ms)
{
	(void)src; (void)out; (void)timeout_ms;
	return FC_SRC_ERROR;
}

static void
ph_close(struct fc_source *src)
{
	(void)src;
}

const struct fc_source_ops fc_source_v4l2 = {
	.name = "v4l2", .self_paced = true,
	.open = ph_open, .next = ph_next, .close = ph_close,
};
