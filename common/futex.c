/* Shared futex wrappers; see futex.h. */
#include "futex.h"

#include <errno.h>
#include <stdint.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int
fc_futex_wait(const _Atomic uint32_t *addr, uint32_t val, int timeout_ms)
{
	struct timespec ts, *tsp = NULL;
	long r;

	if (atomic_load_explicit(addr, memory_order_acquire) != val)
		return 1;
	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		tsp = &ts;
	}
	/* The kernel takes the word's address; uintptr_t sidesteps the _Atomic
	 * qualifier, which only matters to C code touching the word. */
	/* Relative timeout, measured on CLOCK_MONOTONIC by the kernel. */
	r = syscall(SYS_futex, (uintptr_t)addr, FUTEX_WAIT, val, tsp, NULL, 0);
	if (r == 0)
		return 1;
	if (errno == EAGAIN)	/* word changed before we slept */
		return 1;
	if (errno == ETIMEDOUT)
		return 0;
	return -1;
}

int
fc_futex_wake(_Atomic uint32_t *addr, int n)
{
	return (int)syscall(SYS_futex, (uintptr_t)addr, FUTEX_WAKE, n, NULL, NULL, 0);
}
