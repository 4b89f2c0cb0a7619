/*
 * The worker's jail: what a worker applies to itself once it holds every
 * descriptor and thread it will use, before it reads the first request.
 */
#ifndef FC_WORKER_SANDBOX_H
#define FC_WORKER_SANDBOX_H

#include "../common/sandbox.h"

/*
 * Applies, in order: an empty root (chroot into empty_dir when not NULL and
 * running as root, else Landlock with no allowed path), the drop to *user
 * (when user->drop), no_new_privs, not dumpable, RLIMIT_NPROC/FSIZE/CORE 0,
 * and the seccomp allowlist of worker_policy.c (synchronised to every
 * thread).  The worker dies with SIGKILL when parent (the supervisor) dies,
 * also after the uid change, which clears that setting.  Returns 0, or FC_EXIT_CONFIG after logging why: the worker must
 * then exit without serving.
 */
int fc_worker_sandbox(const struct fc_sandbox_user *user, const char *empty_dir,
    pid_t parent);

#endif
