/*
 * Descriptor hygiene for a freshly forked child: close everything it was
 * not explicitly given.
 *
 * A process inherits every descriptor its parent did not mark close-on-exec
 * and every one the parent itself inherited (a shell's `200</etc/shadow`,
 * a terminal, a log file).  The supervisor's children start from an
 * explicit list of what they keep and close the rest with these calls.
 */
#ifndef FC_FDS_H
#define FC_FDS_H

#include <stddef.h>

/*
 * Closes every descriptor of the calling process except the n listed in
 * keep (order and duplicates do not matter; keep is sorted in place).
 * Uses close_range(2) over the gaps between the kept descriptors and, where
 * the kernel or a seccomp profile refuses close_range, closes what
 * /proc/self/fd lists one by one.  Returns 0, or -1 with errno when neither
 * way works (descriptors may then remain open: the caller must not run).
 * Async-signal-safety is not promised (opendir allocates): call it in a
 * child forked from a single-threaded parent.
 */
int fc_fds_close_except(int *keep, int n);

/* Clears FD_CLOEXEC on the n descriptors in fds, so they survive an
 * execve().  Returns 0, or -1 with errno at the first failure. */
int fc_fds_keep_on_exec(const int *fds, int n);

/* The address socket fd is bound to, for messages: "127.0.0.1:8080",
 * "[::1]:8080", "unix:/run/x.sock", "unix:(abstract)", or "socket N"
 * when it has none getsockname(2) can tell. */
void fc_fds_sockname(int fd, char *buf, size_t len);

#endif
