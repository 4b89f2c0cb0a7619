/*
 * The control region: a memfd shared read-write by the supervisor, capture
 * and every worker.
 *
 *   struct fc_ctl_header        magic, version, generation, demand futex,
 *                               supervisor facts (start time, capture pid),
 *                               the admission lock and the address hash key
 *   FC_CTL_MAX_WORKERS x struct fc_ctl_worker   one stats slot per worker
 *   (padding to FC_CTL_TABLES_OFFSET)
 *   FC_CTL_MAX_WORKERS x address table          one per worker slot
 *
 * Every worker slot and its address table have exactly one writer, the
 * worker with that index; the supervisor zeroes both (fc_ctl_reset_worker)
 * before it forks the slot's new owner.  Anyone may read any slot (/status,
 * /metrics from any worker).  Counters are relaxed atomics: readers want
 * recent values, not a snapshot.
 *
 * Limits over the whole server (fc_ctl_admit_*).  max_connections,
 * max_clients and max_clients_per_ip are sums over the live worker slots
 * (pid set, state SERVING or RETIRING): the `clients` gauge, `streams` +
 * `events`, and the address's count in every live slot's address table.
 * A worker admits under the admission lock in the header (check the sum,
 * then count itself), so two workers cannot both take the last place.
 * Closing needs no lock: it only lowers counts.  A worker that dies, even
 * by SIGKILL, keeps nothing: the supervisor sets its slot's pid to 0 when
 * it reaps it (readers skip the slot from then on) and zeroes the slot and
 * table before a new owner starts.  Between the death and the reap its
 * last counts still count, so limits err on the side of refusing.
 *
 * The lock is a compare-and-swap word holding the holder's pid.  A waiter
 * gives up after FC_CTL_ADMIT_WAIT_NS, admits without it (counted in
 * lock_timeouts) and does not wait again for the same holding; a holder
 * that is no longer a live worker loses the lock to the next waiter.  So a
 * worker that dies or is compromised while holding it cannot stop the
 * others from serving; it can only make the limits approximate.  A holder
 * that is merely descheduled that long (an overloaded machine) looks the
 * same to the waiter: then too a limit may be passed by one, and
 * lock_timeouts shows it.
 *
 * Demand futex: a worker that gets a streaming client while capture is
 * paused bumps `demand` and wakes it (fc_ctl_signal_demand); capture waits
 * on it while paused (fc_ctl_wait_demand).  A snapshot request bumps
 * `snapshot_demand` first, then `demand` (fc_ctl_signal_snapshot): capture
 * tells from it that a wake-up came from a snapshot, which keeps it awake
 * for a short time only (capture.h FC_CAPTURE_SNAPSHOT_AWAKE_NS).
 */
#ifndef FC_CONTROL_H
#define FC_CONTROL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define FC_CTL_MAGIC UINT64_C(0x4c5254435453524b)	/* "KRSTCTRL" */
#define FC_CTL_VERSION 4	/* 2: status[] counts 421; 3: admission and
				 * address tables; 4: TLS connections */
#define FC_CTL_MAX_WORKERS 256
#define FC_CTL_AGE_BUCKETS 17	/* frame age histogram, see fc_ctl_age_bounds_ms */

/*
 * Address tables: open addressing (linear probing) over 64-bit words,
 *   bits 63..24  tag: 40 bits of the address's keyed hash, never 0
 *   bits 23..0   streams from that address in this worker
 * 0 is an empty word; a tag with count 0 is a free place that keeps
 * probe chains intact (a reader never sees an entry move while it holds
 * the admission lock).  The home index is the tag's low bits.  A table
 * holds FC_CTL_ADDR_LOAD_MAX words in use; past that, free places are
 * swept out (under the lock) and, if it is still full, the table is full.
 */
#define FC_CTL_ADDR_SLOTS 16384			/* words per table, power of 2 */
#define FC_CTL_ADDR_LOAD_MAX (FC_CTL_ADDR_SLOTS / 4 * 3)
#define FC_CTL_ADDR_COUNT_BITS 24
#define FC_CTL_ADDR_COUNT_MAX ((UINT64_C(1) << FC_CTL_ADDR_COUNT_BITS) - 1)
#define FC_CTL_ADDR_TABLE_BYTES (FC_CTL_ADDR_SLOTS * sizeof(uint64_t))
/* Tables start on a boundary of the largest Linux page size, so each one
 * is whole pages everywhere: untouched pages of the memfd cost nothing, and
 * the supervisor frees a dead worker's table by punching a hole. */
#define FC_CTL_PAGE_MAX 65536

/* How long an admission waits for the lock before going without it. */
#define FC_CTL_ADMIT_WAIT_NS INT64_C(5000000)

/* HTTP status codes counted per worker (index by fc_ctl_status_index). */
enum fc_ctl_status {
	FC_ST_200, FC_ST_304, FC_ST_400, FC_ST_401, FC_ST_403, FC_ST_404,
	FC_ST_405, FC_ST_408, FC_ST_414, FC_ST_421, FC_ST_431, FC_ST_500,
	FC_ST_503,
	FC_ST_OTHER, FC_ST_COUNT
};

/* Outcome of an admission; the refusals index refused[] (minus one). */
enum fc_ctl_admit {
	FC_CTL_ADMITTED = 0,
	FC_CTL_OVER_CONNECTIONS,	/* max_connections reached */
	FC_CTL_OVER_CLIENTS,		/* max_clients reached */
	FC_CTL_OVER_PER_ADDR,		/* the address has max_clients_per_ip */
	FC_CTL_TABLE_FULL,		/* per-address limit set, table full */
	FC_CTL_ADMIT_COUNT
};
#define FC_CTL_REFUSALS (FC_CTL_ADMIT_COUNT - 1)

/* What a client counts against max_clients. */
enum fc_ctl_client_kind {
	FC_CTL_STREAM = 0,	/* a multipart stream (also per address) */
	FC_CTL_EVENTS,		/* an /events stream */
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
	_Atomic uint64_t events;		/* /events clients now */
	_Atomic uint64_t clients_total;		/* connections accepted */
	_Atomic uint64_t requests_total;
	_Atomic uint64_t bytes;			/* bytes written to clients */
	_Atomic uint64_t frames_sent;		/* parts written */
	_Atomic uint64_t frames_skipped;	/* frames a slow client never saw */
	_Atomic uint64_t frames_copied;		/* bus -> worker buffer copies */
	_Atomic uint64_t drops_timeout;		/* clients dropped by send_timeout */
	_Atomic uint64_t status[FC_ST_COUNT];	/* responses by status code */
	/* Frame age at send (capture time -> the part's first bytes
	 * handed to the socket), histogram in ms. */
	_Atomic uint64_t age_bucket[FC_CTL_AGE_BUCKETS];
	_Atomic uint64_t age_count;
	_Atomic uint64_t age_sum_us;
	/* Admission: refusals by reason (enum fc_ctl_admit - 1), admissions
	 * made without the lock, and this slot's address table. */
	_Atomic uint64_t refused[FC_CTL_REFUSALS];
	_Atomic uint64_t lock_timeouts;
	_Atomic uint64_t addr_live;		/* addresses with streams now */
	_Atomic uint64_t addr_used;		/* table words not empty */
	_Atomic uint64_t addr_untracked;	/* streams admitted uncounted
						 * (table full, no limit set) */
	/* TLS connections open now whose handshake is done, by who writes
	 * the records: OpenSSL in the worker, or the kernel (kTLS). */
	_Atomic uint64_t tls_user;
	_Atomic uint64_t tls_ktls;
};
_Static_assert(sizeof(struct fc_ctl_worker) % 64 == 0,
    "worker slots do not share cache lines");
_Static_assert(sizeof(struct fc_ctl_worker) == 448, "worker slot layout");

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
	_Atomic uint32_t admit_lock;	/* 0 = free, else the holder's pid */
	_Atomic uint32_t admit_seq;	/* lock acquisitions so far */
	/* SipHash key for address tags, from getrandom(2) at creation
	 * (written before any child exists, never again).  A client picks
	 * its address (an IPv6 /64 offers plenty): with a public hash it
	 * could aim its addresses at one probe chain, making every table
	 * lookup long, or at a victim's tag, sharing the victim's count. */
	uint64_t addr_key[2];
	/* Bumped (before `demand`) by every snapshot request. */
	_Atomic uint32_t snapshot_demand;
	uint8_t reserved[20];
	struct fc_ctl_worker workers[FC_CTL_MAX_WORKERS];
};
_Static_assert(offsetof(struct fc_ctl_header, workers) % 64 == 0,
    "worker slots are cache aligned");
_Static_assert(offsetof(struct fc_ctl_header, workers) == 128,
    "header layout");

/* Where the address tables start, and the size of the whole region. */
#define FC_CTL_TABLES_OFFSET \
	((sizeof(struct fc_ctl_header) + FC_CTL_PAGE_MAX - 1) / \
	FC_CTL_PAGE_MAX * FC_CTL_PAGE_MAX)
#define FC_CTL_REGION_SIZE \
	(FC_CTL_TABLES_OFFSET + FC_CTL_MAX_WORKERS * FC_CTL_ADDR_TABLE_BYTES)
_Static_assert(FC_CTL_ADDR_TABLE_BYTES % FC_CTL_PAGE_MAX == 0,
    "address tables are whole pages");
_Static_assert((FC_CTL_ADDR_SLOTS & (FC_CTL_ADDR_SLOTS - 1)) == 0,
    "address table size is a power of two");

struct fc_ctl {
	int fd;			/* memfd, -1 when closed */
	size_t map_size;
	struct fc_ctl_header *hdr;
	/* The address hash key, copied from the header at create/attach
	 * (workers inherit the supervisor's copy), so a worker that
	 * rewrites the shared one changes nobody else's keys. */
	uint64_t addr_key[2];
	/* The lock holding this process last gave up on (holder pid and
	 * admit_seq then): while it lasts, admissions do not wait again. */
	uint32_t wedged_holder, wedged_seq;
	/* How long an admission waits for the lock: FC_CTL_ADMIT_WAIT_NS
	 * from create/attach (a test of the lock itself raises it). */
	int64_t admit_wait_ns;
};

/* Upper bounds (ms, inclusive) of the age histogram buckets; the last
 * bucket is +Inf. */
extern const uint32_t fc_ctl_age_bounds_ms[FC_CTL_AGE_BUCKETS - 1];

/* Creates, initialises and seals the region (supervisor).  NULL + errno. */
struct fc_ctl *fc_ctl_create(void);
/* Maps an existing region read-write; checks magic/version/size. */
struct fc_ctl *fc_ctl_attach(int fd);
void fc_ctl_close(struct fc_ctl *ctl);

/* Zeroes worker slot i and its address table (supervisor, before
 * forking its owner, or once a retired owner is gone). */
void fc_ctl_reset_worker(struct fc_ctl *ctl, unsigned i);

/* Index into status[] for an HTTP status code. */
enum fc_ctl_status fc_ctl_status_index(int code);
/* Adds one observation (ms) to a worker's age histogram. */
void fc_ctl_observe_age(struct fc_ctl_worker *w, int64_t age_us);

/* Streaming viewers over the worker slots of live workers (pid set). */
uint64_t fc_ctl_total_streams(const struct fc_ctl *ctl);

/*
 * Admission, called by worker `self` (its slot's pid and state set) from
 * one thread.  A limit of 0 means none.
 *
 * fc_ctl_admit_connection: one more open connection for self unless the
 * live slots' `clients` add up to max_connections already.
 *
 * fc_ctl_admit_client: one more stream or /events client unless the live
 * slots' streams + events add up to max_clients, and, for a stream with an
 * address (addr not NULL, from fc_ctl_addr_key), unless that address's
 * streams over the live slots add up to max_per_addr.  A stream's address
 * is counted in self's table whether or not max_per_addr is set (so a
 * limit set later by a reload sees streams already open); *addr_counted
 * says whether it was.  With a full table the stream is refused
 * (FC_CTL_TABLE_FULL) when max_per_addr is set, else admitted uncounted.
 *
 * Both count a refusal in self's refused[] and return its reason.
 */
enum fc_ctl_admit fc_ctl_admit_connection(struct fc_ctl *ctl, unsigned self,
    uint64_t max_connections);
enum fc_ctl_admit fc_ctl_admit_client(struct fc_ctl *ctl, unsigned self,
    enum fc_ctl_client_kind kind, uint64_t max_clients, const uint64_t *addr,
    uint64_t max_per_addr, bool *addr_counted);

/* Undo one admission of self (no lock: counts only go down).  addr is the
 * address key when *addr_counted was set, else NULL. */
void fc_ctl_release_connection(struct fc_ctl *ctl, unsigned self);
void fc_ctl_release_client(struct fc_ctl *ctl, unsigned self,
    enum fc_ctl_client_kind kind, const uint64_t *addr);

/*
 * The address key of a peer for the tables: SipHash-2-4 of its 16-byte
 * IPv6 form under the region's key, so an IPv4 address and its
 * IPv4-mapped IPv6 form (::ffff:a.b.c.d, from a dual-stack listener) are
 * the same address.  False for anything but AF_INET and AF_INET6.
 */
bool fc_ctl_addr_key(const struct fc_ctl *ctl, const struct sockaddr *sa,
    socklen_t len, uint64_t *key);

/* Streams from the address with key `key` in worker slot i's table. */
uint64_t fc_ctl_addr_count(const struct fc_ctl *ctl, unsigned i, uint64_t key);

/* Demand futex: worker side and capture side.  wait returns 1 when woken
 * (word changed), 0 on timeout, -1 + errno. */
void fc_ctl_signal_demand(struct fc_ctl *ctl);
uint32_t fc_ctl_demand_value(const struct fc_ctl *ctl);
int fc_ctl_wait_demand(const struct fc_ctl *ctl, uint32_t seen, int timeout_ms);

/* A snapshot wants a fresh frame (worker): bumps snapshot_demand, then
 * does what fc_ctl_signal_demand does.  fc_ctl_snapshot_value reads the
 * counter (capture compares it with the value it saw last). */
void fc_ctl_signal_snapshot(struct fc_ctl *ctl);
uint32_t fc_ctl_snapshot_value(const struct fc_ctl *ctl);

#endif
