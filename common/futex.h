/*
 * Shared (non-private) futex wrappers: the words live in memfd mappings
 * shared between processes, so FUTEX_PRIVATE_FLAG must never be used.
 * FUTEX_WAIT only reads the word, so it works on a read-only mapping.
 */
#ifndef FC_FUTEX_H
#define FC_FUTEX_H

#include <stdatomic.h>
#include <stdint.h>

/* Sleeps while *addr == val, at most timeout_ms (< 0: forever).
 * Returns 1 when woken or the word already differed, 0 on timeout,
 * -1 with errno (EINTR) otherwise. */
int fc_futex_wait(const _Atomic uint32_t *addr, uint32_t val, int timeout_ms);

/* Wakes up to n waiters (INT32_MAX: all).  Returns the number woken or -1. */
int fc_futex_wake(_Atomic uint32_t *addr, int n);

#endif
