/*
 * The source registry: which ops implement a configured source kind.
 */
#include <stddef.h>

#include "source.h"

const struct fc_source_ops *
fc_source_for(enum fc_source_kind kind)
{
	switch (kind) {
	case FC_SOURCE_TESTPATTERN:
		return &fc_source_testpattern;
	case FC_SOURCE_FILES:
		return &fc_source_files;
	case FC_SOURCE_V4L2:
		return &fc_source_v4l2;
	case FC_SOURCE_LIBCAMERA:
		return &fc_source_libcamera;
	case FC_SOURCE_HTTP:
		return &fc_source_http;
	}
	return NULL;
}
