/* The worker's seccomp table (worker_policy.c). */
#ifndef FC_WORKER_POLICY_H
#define FC_WORKER_POLICY_H

#include <stddef.h>

#include "../common/sandbox.h"

/* The allowlist the workers run under; *n gets its length. */
const struct fc_sc_rule *fc_worker_policy(size_t *n);

#endif
