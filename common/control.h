/*
 * The control region: a memfd shared read-write by the supervisor, capture
 * and every worker.
 *
 *   struct fc_ctl_header        magic, version, generation, demand futex,
 *                               supervisor facts (start time, capture pid)
 *   FC_CTL_MAX_WORKERS x struct fc_ctl_worker   one stats slot per worker
 *
 * Every worker slot has exactly one writer, the worker with that index; the
 * supervisor zeroes a slot (fc_ctl_reset_worker) before it forks the slot's
 * new owner.  Anyone may read any slot (/status, /metrics from any worker).
 * Counters are relaxed atomics: readers want recent values, not a snapshot.
 *
 * Demand futex: a worker that gets a streaming client while capture is
 * paused bumps `demand` and wakes it (fc_ctl_signal_demand); capture waits
 * on it while paused (fc_ctl_wait_demand).
 */
#ifndef FC_CONTROL_H
#define FC_CONTROL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FC_CTL_MAGIC UINT64_C(0x4c5254435453524b)	/* "KRSTCTRL" */
#define FC_CTL_VERSION 2	/* 2: status[] counts 421 */
#define FC_CTL_MAX_WORKERS 256
#define FC_CTL_AGE_BUCKETS 12	/* frame age histogram, see fc_ctl_age_bounds_ms */

/* HTTP status codes counted per worker (index by fc_ctl_status_index). */
enum fc_ctl_status {
	FC_ST_200, FC_ST_304, FC_ST_400, FC_ST_401, FC_ST_403, FC_ST_404,
	FC_ST_405, FC_ST_408, FC_ST_414, FC_ST_421, FC_ST_431, FC_ST_500,
	FC_ST_503,
	FC_ST_OTHER, FC_ST_COUNT
};

enum fc_ctl_worker_state {
	FC_WORKER_EMPTY = 0,	/* slot unused */
	FC_WORKER_STARTING = 1,
	FC_WORKER_SERVING = 2,
	FC_WORKER_RETIRING = 3,	/* stopped accepting, draining */
};

struct fc_ctl_worker {
	_Atomic int32_t pid;
	_Atomic uint32_t state;			/* enum fc_ctl_worker_state */
	_Atomic uint32_t generation;		/* config generation it runs */
	uint32_t pad0;
	_Atomic int64_t started_real_ns;
	_Atomic uint64_t clients;		/* connections open now */
	_Atomic uint64_t streams;		/* streaming clients now */
	_Atomic uint64_t clients_total;		/* connections accepted */
	_Atomic uint64_t requests_total;
	_Atomic uint64_t bytes;			/* bytes written to clients */
	_Atomic uint64_t frames_sent;		/* parts written */
	_Atomic uint64_t frames_skipped;	/* frames a slow client never saw */
	_Atomic uint64_t frames_copied;		/* bus -> worker buffer copies */
	_Atomic uint64_t drops_timeout;		/* clients dropped by send_timeout */
	_Atomic uint64_t status[FC_ST_COUNT];	/* responses by status code */
	/* Frame age at send (capture time -> writev), histogram in ms. */
	_Atomic uint64_t age_bucket[FC_CTL_AGE_BUCKETS];
	_Atomic uint64_t age_count;
	_Atomic uint64_t age_sum_us;
	uint8_t reserved[64];
};

/* restart_pending bits: the frame bus geometry is fixed at start. */
#define FC_CTL_PENDING_MAX_FRAME_SIZE	(1u << 0)
#define FC_CTL_PENDING_SLOTS		(1u << 1)

struct fc_ctl_header {
	uint64_t magic;
	uint32_t version;
	uint32_t max_workers;
	_Atomic uint32_t demand;	/* futex: bumped when a viewer arrives */
	_Atomic uint32_t generation;	/* config generation (1 = first load) */
	_Atomic int64_t started_real_ns;	/* supervisor start */
	_Atomic int64_t started_mono_ns;
	_Atomic int32_t supervisor_pid;
	_Atomic int32_t capture_pid;
	_Atomic uint32_t workers_configured;
	_Atomic uint32_t capture_restarts;
	/* Reloads (SIGHUP) the supervisor has finished handling, applied or
	 * refused, and how many of them it refused: forkcastctl reload
	 * waits for the first to move, then reads the second. */
	_Atomic uint32_t reload_requests;
	_Atomic uint32_t reload_refused;
	/* Configuration generation the capture process runs (it writes it
	 * once it has applied one, see capture/main.c). */
	_Atomic uint32_t capture_generation;
	/* Keys the configuration file changed that wait for a restart
	 * (FC_CTL_PENDING_* bits; the running values stay until then). */
	_Atomic uint32_t restart_pending;
	/* 1 while capture is not restarted because it exited with
	 * FC_EXIT_CONFIG, until the next accepted reload (supervisor only;
	 * /healthz reads it: a dead capture cannot publish its state). */
	_Atomic uint32_t capture_held;
	uint8_t reserved[64];
	struct fc_ctl_worker workers[FC_CTL_MAX_WORKERS];
};

struct fc_ctl {
	int fd;			/* memfd, -1 when closed */
	size_t map_size;
	struct fc_ctl_header *hdr;
};

/* Upper bounds (ms, inclusive) of the age histogram buckets; the last
 * bucket is +Inf. */
extern const uint32_t fc_ctl_age_bounds_ms[FC_CTL_AGE_BUCKETS - 1];

/* Creates, initialises and seals the region (supervisor).  NULL + errno. */
struct fc_ctl *fc_ctl_create(void);
/* Maps an existing region read-write; checks magic/version/size. */
struct fc_ctl *fc_ctl_attach(int fd);
void fc_ctl_close(struct fc_ctl *ctl);

/* Zeroes worker slot i (supervisor, before forking its owner). */
void fc_ctl_reset_worker(struct fc_ctl *ctl, unsigned i);

/* Index into status[] for an HTTP status code. */
enum fc_ctl_status fc_ctl_status_index(int code);
/* Adds one observation (ms) to a worker's age histogram. */
void fc_ctl_observe_age(struct fc_ctl_worker *w, int64_t age_us);

/* Streaming viewers over all worker slots. */
uint64_t fc_ctl_total_streams(const struct fc_ctl *ctl);

/* Demand futex: worker side and capture side.  wait returns 1 when woken
 * (word changed), 0 on timeout, -1 + errno. */
void fc_ctl_signal_demand(struct fc_ctl *ctl);
uint32_t fc_ctl_demand_value(const struct fc_ctl *ctl);
int fc_ctl_wait_demand(const struct fc_ctl *ctl, uint32_t seen, int timeout_ms);

#endif
