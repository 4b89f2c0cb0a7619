/* Clock helpers: nanoseconds since the epoch / since boot. */
#ifndef FC_CLOCK_H
#define FC_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t
fc_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t fc_now_real_ns(void) { return fc_clock_ns(CLOCK_REALTIME); }
static inline int64_t fc_now_mono_ns(void) { return fc_clock_ns(CLOCK_MONOTONIC); }

#endif
