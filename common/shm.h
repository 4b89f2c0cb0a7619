/*
 * Sealed memfds for forkcast's shared memory (the frame bus, the control
 * region).  A region's size is part of the contract every attaching
 * process checks, so it is frozen at creation: nobody holding the fd can
 * shrink the file under a mapping (which would turn reads into SIGBUS).
 */
#ifndef FC_SHM_H
#define FC_SHM_H

#include <stddef.h>
#include <stdint.h>

/* Creates a close-on-exec memfd of size zeroed bytes, sealed against
 * shrinking, growing and further sealing.  Returns the fd, or -1 + errno. */
int fc_shm_create(const char *name, size_t size);

/* Checks that fd is a regular file sealed against shrinking and stores
 * its size.  Returns 0, or -1 with errno (EINVAL when it is not). */
int fc_shm_check(int fd, uint64_t *size);

/*
 * A new read-only, close-on-exec descriptor of the file fd refers to
 * (through /proc/self/fd), for a process that must only read a region:
 * a duplicate of a read-write descriptor would let it mprotect() its
 * mapping writable or map the region again read-write.  Returns the new
 * descriptor (fd stays the caller's), or -1 + errno (EBADF for a closed
 * fd).
 */
int fc_shm_reopen_readonly(int fd);

#endif
