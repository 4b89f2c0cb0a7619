/*
 * The frame bus: a memfd shared by capture (the only writer) and the workers
 * (readers, mapped read-only).  Layout in shared memory:
 *
 *   struct fc_bus_header            magic, version, geometry, head, futex,
 *                                   source description, capture counters
 *   K x (struct fc_bus_slot + data) per-slot seqcount and frame metadata,
 *                                   followed by slot_capacity JPEG bytes
 *
 * Writer: fills slot (head+1) % K under the slot's seqcount (odd while
 * being written), stores head with release ordering, bumps the futex word
 * and wakes every waiter.  The writer never waits for a reader and holds no
 * lock a reader could wedge.  Reader: loads head, copies the slot out,
 * re-checks the seqcount, retries (bounded) if it moved.  A reader that dies
 * mid-copy harms nobody.
 *
 * The JPEG bytes are copied with memcpy between the seqcount fences, the
 * usual seqlock pattern: a torn copy is possible and always detected by the
 * seqcount re-check, never delivered.
 *
 * Shared structs are fixed-width and pointer-free; struct fc_bus (the
 * per-process handle) is separate.  Return convention: 0 / -1 with errno for
 * syscall-like calls, NULL for constructors, enum fc_bus_result for reads.
 */
#ifndef FC_BUS_H
#define FC_BUS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FC_BUS_MAGIC UINT64_C(0x53554254534b5246)	/* "FRKSTBUS" */
#define FC_BUS_VERSION 1
#define FC_BUS_MIN_SLOTS 3
#define FC_BUS_MAX_SLOTS 64
#define FC_BUS_MIN_CAPACITY 4096
#define FC_BUS_MAX_CAPACITY (UINT64_C(256) << 20)

/* Slot / frame flags. */
#define FC_FRAME_NOSIGNAL 0x1u	/* a "no signal" picture, not camera data */
#define FC_FRAME_REPEAT 0x2u	/* same picture as the previous frame */

/* Capture state, as published in the header. */
enum fc_capture_state {
	FC_CAPTURE_STARTING = 0,
	FC_CAPTURE_RUNNING = 1,
	FC_CAPTURE_PAUSED = 2,	/* deliberately idle: no viewers */
	FC_CAPTURE_FAILING = 3,	/* source broken, publishing no-signal */
	FC_CAPTURE_STOPPED = 4,
};

/* Metadata of one frame. */
struct fc_frame_meta {
	uint64_t seq;		/* bus sequence number, 1 = first frame */
	uint64_t len;		/* JPEG bytes */
	uint32_t width, height;
	uint32_t flags;		/* FC_FRAME_* */
	uint32_t reserved;
	int64_t ts_real_ns;	/* capture time, CLOCK_REALTIME */
	int64_t ts_mono_ns;	/* capture time, CLOCK_MONOTONIC */
};

/* --- shared memory layout (do not reorder; bump FC_BUS_VERSION) --- */

struct fc_bus_slot {
	_Atomic uint32_t seqcount;	/* odd while the writer fills the slot */
	uint32_t pad;
	struct fc_frame_meta meta;	/* valid when seqcount is even */
	uint8_t reserved[64 - 8 - 48];
	/* slot_capacity bytes of JPEG data follow */
};
_Static_assert(sizeof(struct fc_frame_meta) == 48, "frame meta layout");
_Static_assert(sizeof(struct fc_bus_slot) == 64, "slot header layout");

struct fc_bus_header {
	uint64_t magic;			/* FC_BUS_MAGIC */
	uint32_t version;		/* FC_BUS_VERSION */
	uint32_t slot_count;		/* K >= 3 */
	uint64_t slot_capacity;		/* max JPEG bytes per slot */
	uint64_t slot_stride;		/* bytes from one slot header to the next */
	uint64_t total_size;		/* bytes of the whole mapping */
	_Atomic uint64_t head;		/* seq of the last published frame, 0 = none */
	_Atomic uint32_t futex;		/* bumped and woken on every publish */
	uint32_t pad0;

	/* Source description and status text, written by capture under
	 * info_seq (a seqcount like the slots'). */
	_Atomic uint32_t info_seq;
	uint32_t width, height;		/* configured/negotiated frame size */
	uint32_t fps_target;
	uint32_t state;			/* enum fc_capture_state */
	char source[32];		/* "testpattern", "v4l2", ... */
	char error[160];		/* last error text, "" when none */

	/* Counters, written by capture only (relaxed atomics). */
	_Atomic int32_t capture_pid;
	_Atomic uint32_t fps_milli;		/* measured fps x 1000 */
	_Atomic uint64_t frames_captured;	/* frames the source produced */
	_Atomic uint64_t frames_published;
	_Atomic uint64_t frames_dropped_broken;	/* corrupt JPEG from the source */
	_Atomic uint64_t frames_dropped_oversize; /* larger than slot_capacity */
	_Atomic uint64_t frames_dropped_same;	/* drop_same_frames */
	_Atomic uint64_t encode_ns_last;	/* time to encode the last frame */
	_Atomic uint64_t encode_ns_total;	/* sum over encoded frames */
	_Atomic uint64_t frames_encoded;
	_Atomic int64_t last_publish_mono_ns;	/* for stall detection */
	_Atomic uint64_t capture_restarts;	/* maintained by the supervisor */

	/* Relay (http source) figures, written by capture only (relaxed
	 * atomics; a reader may pair a p50 with the previous p99).  Hop
	 * delay = CLOCK_REALTIME when this process received a part minus
	 * the upstream's X-Timestamp, over a rolling window of recent
	 * parts; signed, since two hosts' clocks may disagree. */
	_Atomic int64_t hop_delay_ns_p50;
	_Atomic int64_t hop_delay_ns_p99;
	_Atomic uint64_t upstream_connects;	/* successful connects */
	_Atomic uint64_t upstream_failures;	/* connect or stream failures */
	_Atomic uint32_t upstream_connected;	/* 1 while connected */
	_Atomic uint32_t hop_delay_samples;	/* window fill, 0 = no figure */
	_Atomic uint64_t frames_dropped_rate;	/* relay parts over fps */
	uint8_t reserved[104];		/* pads the header to 512 bytes */
};
_Static_assert(sizeof(struct fc_bus_header) % 64 == 0, "header is cache aligned");
_Static_assert(sizeof(struct fc_bus_header) == 512, "header layout");
_Static_assert(offsetof(struct fc_bus_header, hop_delay_ns_p50) % 8 == 0,
    "relay figures are naturally aligned");

/* --- per-process handle --- */

struct fc_bus {
	int fd;				/* memfd, -1 when closed */
	bool writable;			/* capture's mapping */
	size_t map_size;
	struct fc_bus_header *hdr;	/* the mapping */
	/* Reader statistics, local to this process. */
	uint64_t torn_retries;		/* copies discarded because the slot moved */
};

enum fc_bus_result {
	FC_BUS_OK = 0,		/* frame copied, meta filled */
	FC_BUS_NONE = 1,	/* no frame newer than `after` */
	FC_BUS_AGAIN = 2,	/* writer kept overtaking us; try later */
	FC_BUS_NOSPACE = 3,	/* buffer too small; meta->len says how big */
	FC_BUS_CORRUPT = 4,	/* slot metadata out of range (named error) */
	FC_BUS_COPY_FAILED = 5,	/* the copy function failed (errno set) */
};

/* Where a reader's copy of a frame goes: copies len bytes from src (the
 * slot in the shared mapping) and returns 0, or -1 with errno.  Called
 * again, from the start, when the copy turns out torn. */
typedef int fc_bus_copy_fn(void *arg, const void *src, size_t len);

/*
 * Creates a bus memfd of `slots` slots of `capacity` bytes, initialises the
 * header, seals it against resizing (F_SEAL_SHRINK | F_SEAL_GROW |
 * F_SEAL_SEAL) and maps it read-write.  Returns NULL with errno on failure
 * (EINVAL for out-of-range geometry).  Called by the supervisor.
 */
struct fc_bus *fc_bus_create(unsigned slots, uint64_t capacity);

/*
 * Maps an existing bus fd (dup'ed; the caller keeps its own fd).  writable
 * is for capture only; workers attach read-only.  Checks magic, version,
 * slot count, capacity and stride against fstat(); returns NULL with errno
 * EPROTO (bad magic/version) or EINVAL (inconsistent geometry) otherwise.
 */
struct fc_bus *fc_bus_attach(int fd, bool writable);

/* Unmaps and closes; accepts NULL and half-built handles. */
void fc_bus_close(struct fc_bus *bus);

/* --- writer (capture only) --- */

/*
 * Publishes one frame: copies len bytes into the next slot, fills its
 * metadata from *meta (seq is assigned and returned in meta->seq), advances
 * head, bumps the futex and wakes all waiters.  Returns 0, or -1 with errno
 * EMSGSIZE when len > slot_capacity (frame refused, counted in
 * frames_dropped_oversize, never truncated) or EBADF on a read-only bus.
 */
int fc_bus_publish(struct fc_bus *bus, const void *data, size_t len,
    struct fc_frame_meta *meta);

/*
 * Zero-copy variant: fc_bus_begin() returns the data area of the next slot
 * (capacity in *cap) with its seqcount made odd; the caller writes up to
 * *cap bytes and calls fc_bus_commit() with the length, or fc_bus_abort().
 * fc_bus_begin() returns NULL with EBADF on a read-only bus.  commit returns
 * 0, or -1 with EMSGSIZE (len > *cap: nothing published, counted as
 * oversize), EINVAL (no begin pending) or EBADF.  For publish and commit,
 * meta may be NULL (all-zero metadata).
 */
void *fc_bus_begin(struct fc_bus *bus, size_t *cap);
int fc_bus_commit(struct fc_bus *bus, size_t len, struct fc_frame_meta *meta);
void fc_bus_abort(struct fc_bus *bus);

/* Updates source description / state / error text under info_seq.
 * error may be NULL for "no error". */
void fc_bus_set_info(struct fc_bus *bus, const char *source, uint32_t width,
    uint32_t height, uint32_t fps_target, enum fc_capture_state state,
    const char *error);

/* --- readers --- */

/* Sequence number of the newest published frame (0 = none yet). */
uint64_t fc_bus_head(const struct fc_bus *bus);

/* The slot capacity (the largest frame the bus carries), 0 when the
 * header is inconsistent. */
uint64_t fc_bus_capacity(const struct fc_bus *bus);

/*
 * Copies the newest frame whose seq > after into buf (bufsize bytes).
 * Retries a torn copy up to a bounded number of times (counted in
 * bus->torn_retries).  See enum fc_bus_result.  Never blocks.
 */
enum fc_bus_result fc_bus_read_latest(struct fc_bus *bus, uint64_t after,
    struct fc_frame_meta *meta, void *buf, size_t bufsize);

/*
 * fc_bus_read_latest() with the copy done by copy(arg, ...) instead of
 * memcpy into a buffer: for frames at most maxlen bytes long (else
 * FC_BUS_NOSPACE, meta->len says how big).  What copy() wrote is valid
 * only when FC_BUS_OK comes back; the seqcount is re-checked after it.
 */
enum fc_bus_result fc_bus_read_latest_fn(struct fc_bus *bus, uint64_t after,
    struct fc_frame_meta *meta, size_t maxlen, fc_bus_copy_fn *copy,
    void *arg);

/* Snapshot of the info block (consistent copy, bounded retry). */
struct fc_bus_info {
	char source[32];
	char error[160];
	uint32_t width, height, fps_target, state;
};
void fc_bus_get_info(const struct fc_bus *bus, struct fc_bus_info *info);

/*
 * Current futex word; pass it to fc_bus_wait().  Pattern:
 *   uint32_t f = fc_bus_futex_value(bus);
 *   ... read frames ...
 *   fc_bus_wait(bus, f, 1000);
 */
uint32_t fc_bus_futex_value(const struct fc_bus *bus);

/*
 * Sleeps until the futex word differs from `seen` or timeout_ms passes
 * (timeout_ms < 0: no timeout).  Works on a read-only mapping (shared,
 * non-private futex).  Returns 1 when the word changed, 0 on timeout,
 * -1 with errno on error (EINTR included).
 */
int fc_bus_wait(const struct fc_bus *bus, uint32_t seen, int timeout_ms);

#endif
