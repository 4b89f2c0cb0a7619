/* The capture process's seccomp table (capture_policy.c). */
#ifndef FC_CAPTURE_POLICY_H
#define FC_CAPTURE_POLICY_H

#include <stddef.h>

#include "../common/config.h"
#include "../common/sandbox.h"

/* The allowlist capture runs under for a source kind; NULL (and *n = 0)
 * when that source runs without a filter (libcamera, see the .c). */
const struct fc_sc_rule *fc_capture_policy(enum fc_source_kind kind, size_t *n);

#endif
