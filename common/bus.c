/*
 * The frame bus; see bus.h for the layout and the protocol.
 *
 * Memory ordering, in one place:
 *
 *   writer (one process)                 reader (any number)
 *   s = seqcount (odd)                   h = head               (acquire)
 *   fence(release)                       s1 = slot seqcount     (acquire)
 *   meta, data (plain stores)            meta, data (plain loads)
 *   seqcount = s + 1        (release)    fence(acquire)
 *   head = seq              (release)    s2 = slot seqcount     (relaxed)
 *   futex += 1              (release)    s1 odd or s1 != s2: torn, retry
 *   FUTEX_WAKE all
 *
 * The release store of head pairs with the reader's acquire load, so a
 * reader that sees head == N also sees slot N % K committed (or a later
 * write to it in progress, which the seqcount shows).  The release fence
 * after making the seqcount odd keeps the data stores from becoming
 * visible before the odd value: a reader whose copy picked up any new
 * byte is guaranteed to see the seqcount moved when it re-checks after
 * its acquire fence (fence-to-fence synchronisation).
 *
 * The data itself is copied with memcpy, i.e. non-atomically: the classic
 * seqlock compromise.  A torn copy can happen, and is thrown away.
 *
 * 64-bit atomic loads on a PROT_READ mapping are plain loads on x86-64
 * and arm64 (no read-modify-write), so readers never fault on them.
 */
#include "bus.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "futex.h"
#include "shm.h"

#define SLOT_ALIGN 64
#define READ_TRIES 16	/* torn copies before a read gives up with AGAIN */
#define INFO_TRIES 64

/* Geometry of a mapping, copied out of the header once and checked. */
struct geometry {
	uint32_t slots;
	uint64_t capacity;
	uint64_t stride;
	uint64_t total;
};

static size_t
page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? (size_t)ps : 4096;
}

/* Rounds v up to a multiple of align (a power of two); false on overflow. */
static bool
round_up(uint64_t v, uint64_t align, uint64_t *out)
{
	uint64_t r;

	if (__builtin_add_overflow(v, align - 1, &r))
		return false;
	*out = r & ~(align - 1);
	return true;
}

/* Stride and total size for a geometry; false when they overflow. */
static bool
layout(uint32_t slots, uint64_t capacity, uint64_t *stride, uint64_t *total)
{
	uint64_t s, t;

	if (__builtin_add_overflow(capacity, (uint64_t)sizeof(struct fc_bus_slot),
	    &s) || !round_up(s, SLOT_ALIGN, &s))
		return false;
	if (__builtin_mul_overflow(s, (uint64_t)slots, &t) ||
	    __builtin_add_overflow(t, (uint64_t)sizeof(struct fc_bus_header), &t) ||
	    !round_up(t, page_size(), &t))
		return false;
	if (t > SIZE_MAX || t > (uint64_t)INT64_MAX)	/* size_t and off_t */
		return false;
	*stride = s;
	*total = t;
	return true;
}

/*
 * Checks a geometry read from (possibly hostile) shared memory against the
 * size of the mapping.  Returns 0 or an errno value.
 */
static int
check_geometry(const struct geometry *g, uint64_t size)
{
	uint64_t slot_bytes, end;

	if (g->slots < FC_BUS_MIN_SLOTS || g->slots > FC_BUS_MAX_SLOTS)
		return EINVAL;
	if (g->capacity < FC_BUS_MIN_CAPACITY ||
	    g->capacity > FC_BUS_MAX_CAPACITY)
		return EINVAL;
	if (g->stride % SLOT_ALIGN != 0 ||
	    g->stride < sizeof(struct fc_bus_slot) + g->capacity)
		return EINVAL;
	if (__builtin_mul_overflow(g->stride, (uint64_t)g->slots, &slot_bytes) ||
	    __builtin_add_overflow(slot_bytes,
	    (uint64_t)sizeof(struct fc_bus_header), &end))
		return EINVAL;
	/* Exactly what fc_bus_create() would have made of this geometry. */
	if (!round_up(end, page_size(), &end) || end != g->total ||
	    g->total != size)
		return EINVAL;
	return 0;
}

static void
read_geometry(const struct fc_bus_header *hdr, struct geometry *g)
{
	/* The geometry never changes after creation; volatile keeps the
	 * compiler from re-reading a field after it was checked. */
	const volatile struct fc_bus_header *v = hdr;

	g->slots = v->slot_count;
	g->capacity = v->slot_capacity;
	g->stride = v->slot_stride;
	g->total = v->total_size;
}

static struct fc_bus_slot *
slot_at(const struct fc_bus *bus, const struct geometry *g, uint64_t seq)
{
	uintptr_t base = (uintptr_t)bus->hdr + sizeof(struct fc_bus_header);

	return (struct fc_bus_slot *)(base +
	    (uintptr_t)((seq % g->slots) * g->stride));
}

static uint8_t *
slot_data(struct fc_bus_slot *slot)
{
	return (uint8_t *)(slot + 1);
}

struct fc_bus *
fc_bus_create(unsigned slots, uint64_t capacity)
{
	struct fc_bus *bus;
	struct fc_bus_header *hdr;
	uint64_t stride, total;
	void *map;
	int saved;

	if (slots < FC_BUS_MIN_SLOTS || slots > FC_BUS_MAX_SLOTS ||
	    capacity < FC_BUS_MIN_CAPACITY || capacity > FC_BUS_MAX_CAPACITY ||
	    !layout(slots, capacity, &stride, &total)) {
		errno = EINVAL;
		return NULL;
	}
	if ((bus = calloc(1, sizeof(*bus))) == NULL)
		return NULL;
	bus->fd = -1;
	bus->writable = true;

	if ((bus->fd = fc_shm_create("forkcast-bus", (size_t)total)) == -1)
		goto fail;
	map = mmap(NULL, (size_t)total, PROT_READ | PROT_WRITE, MAP_SHARED,
	    bus->fd, 0);
	if (map == MAP_FAILED)
		goto fail;
	bus->hdr = map;
	bus->map_size = (size_t)total;

	/* A fresh memfd reads as zeroes: head 0, every seqcount 0 (even). */
	hdr = bus->hdr;
	hdr->version = FC_BUS_VERSION;
	hdr->slot_count = slots;
	hdr->slot_capacity = capacity;
	hdr->slot_stride = stride;
	hdr->total_size = total;
	hdr->state = FC_CAPTURE_STARTING;
	hdr->magic = FC_BUS_MAGIC;
	return bus;

fail:
	saved = errno;
	fc_bus_close(bus);
	errno = saved;
	return NULL;
}

struct fc_bus *
fc_bus_attach(int fd, bool writable)
{
	struct fc_bus *bus;
	struct fc_bus_header *hdr = NULL;
	struct geometry g;
	uint64_t fsize;
	void *map;
	int saved, prot, err;

	if ((bus = calloc(1, sizeof(*bus))) == NULL)
		return NULL;
	bus->fd = -1;
	bus->writable = writable;

	/*
	 * Our own descriptor: the caller may close theirs.  A reader opens a
	 * new, read-only one through /proc: a duplicate of the supervisor's
	 * read-write descriptor would let a compromised worker mprotect() its
	 * mapping writable, or map the bus again read-write, and inject frames
	 * into every other worker's streams.
	 */
	if (fd < 0 || fcntl(fd, F_GETFD) == -1) {
		errno = EBADF;
		goto fail;
	}
	bus->fd = writable ? fcntl(fd, F_DUPFD_CLOEXEC, 0) :
	    fc_shm_reopen_readonly(fd);
	/* A regular file sealed against shrinking: nobody can truncate it
	 * under our mapping and turn reads into SIGBUS. */
	if (bus->fd == -1 || fc_shm_check(bus->fd, &fsize) == -1)
		goto fail;
	if (fsize < sizeof(struct fc_bus_header)) {
		errno = EINVAL;
		goto fail;
	}

	/* Map the header alone first: its geometry says how much to map, and
	 * must not be trusted before it is checked against the file size. */
	map = mmap(NULL, sizeof(*hdr), PROT_READ, MAP_SHARED, bus->fd, 0);
	if (map == MAP_FAILED)
		goto fail;
	hdr = map;
	if (hdr->magic != FC_BUS_MAGIC || hdr->version != FC_BUS_VERSION) {
		errno = EPROTO;
		goto fail;
	}
	read_geometry(hdr, &g);
	munmap(hdr, sizeof(*hdr));
	hdr = NULL;
	if ((err = check_geometry(&g, fsize)) != 0) {
		errno = err;
		goto fail;
	}

	/* Workers map read-only: a compromised worker cannot publish. */
	prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
	map = mmap(NULL, (size_t)g.total, prot, MAP_SHARED, bus->fd, 0);
	if (map == MAP_FAILED)
		goto fail;
	bus->hdr = map;
	bus->map_size = (size_t)g.total;
	return bus;

fail:
	saved = errno;
	if (hdr != NULL)
		munmap(hdr, sizeof(*hdr));
	fc_bus_close(bus);
	errno = saved;
	return NULL;
}

void
fc_bus_close(struct fc_bus *bus)
{
	if (bus == NULL)
		return;
	if (bus->hdr != NULL)
		munmap(bus->hdr, bus->map_size);
	if (bus->fd != -1)
		close(bus->fd);
	free(bus);
}

/* --- writer --- */

/*
 * The geometry as the writer uses it.  The writer created or checked the
 * mapping itself, and is the only process able to change the header.
 */
static bool
writer_geometry(const struct fc_bus *bus, struct geometry *g)
{
	if (bus == NULL || bus->hdr == NULL || !bus->writable) {
		errno = EBADF;
		return false;
	}
	read_geometry(bus->hdr, g);
	return true;
}

/* The slot the next frame goes to: head + 1, continuing from whatever a
 * previous capture process left (single writer, so relaxed is enough). */
static uint64_t
next_seq(const struct fc_bus *bus)
{
	return atomic_load_explicit(&bus->hdr->head, memory_order_relaxed) + 1;
}

/* Makes the slot's seqcount odd and orders it before the data stores. */
static void
slot_begin(struct fc_bus_slot *slot)
{
	uint32_t s;

	s = atomic_load_explicit(&slot->seqcount, memory_order_relaxed);
	/* Odd already means a writer died mid-frame; the slot is marked as
	 * being written, which is exactly what we are about to do. */
	if ((s & 1) == 0)
		atomic_store_explicit(&slot->seqcount, s + 1,
		    memory_order_relaxed);
	/* Data and meta stores after this fence cannot be seen before the
	 * odd seqcount by a reader that fences after its copy. */
	atomic_thread_fence(memory_order_release);
}

/* Makes the seqcount even again; the release store publishes the data. */
static void
slot_end(struct fc_bus_slot *slot)
{
	uint32_t s;

	s = atomic_load_explicit(&slot->seqcount, memory_order_relaxed);
	/* Always forward (odd + 1), never back to the old even value: a
	 * reader that started before the write must see a change. */
	atomic_store_explicit(&slot->seqcount, s + 1, memory_order_release);
}

/* Fills meta, advances head and wakes the readers. */
static void
finish_publish(struct fc_bus *bus, struct fc_bus_slot *slot, uint64_t seq,
    size_t len, struct fc_frame_meta *meta)
{
	struct fc_bus_header *hdr = bus->hdr;
	struct fc_frame_meta none;

	if (meta == NULL) {
		memset(&none, 0, sizeof(none));
		meta = &none;
	}
	meta->seq = seq;
	meta->len = len;
	slot->meta = *meta;
	slot_end(slot);

	/* Pairs with the readers' acquire load of head: a reader that sees
	 * seq also sees the committed slot. */
	atomic_store_explicit(&hdr->head, seq, memory_order_release);
	atomic_fetch_add_explicit(&hdr->frames_published, 1,
	    memory_order_relaxed);
	atomic_store_explicit(&hdr->last_publish_mono_ns, fc_now_mono_ns(),
	    memory_order_relaxed);
	/* The futex word changes after head, so a waiter that wakes (or sees
	 * the new word and never sleeps) finds the new head. */
	atomic_fetch_add_explicit(&hdr->futex, 1, memory_order_release);
	fc_futex_wake(&hdr->futex, INT32_MAX);
}

int
fc_bus_publish(struct fc_bus *bus, const void *data, size_t len,
    struct fc_frame_meta *meta)
{
	struct geometry g;
	struct fc_bus_slot *slot;
	uint64_t seq;

	if (!writer_geometry(bus, &g))
		return -1;
	if (len > g.capacity) {
		/* Never truncate a JPEG: a cut frame is a broken picture. */
		atomic_fetch_add_explicit(&bus->hdr->frames_dropped_oversize, 1,
		    memory_order_relaxed);
		errno = EMSGSIZE;
		return -1;
	}
	seq = next_seq(bus);
	slot = slot_at(bus, &g, seq);
	slot_begin(slot);
	if (len > 0)
		memcpy(slot_data(slot), data, len);
	finish_publish(bus, slot, seq, len, meta);
	return 0;
}

void *
fc_bus_begin(struct fc_bus *bus, size_t *cap)
{
	struct geometry g;
	struct fc_bus_slot *slot;

	if (!writer_geometry(bus, &g))
		return NULL;
	slot = slot_at(bus, &g, next_seq(bus));
	slot_begin(slot);
	*cap = (size_t)g.capacity;
	return slot_data(slot);
}

int
fc_bus_commit(struct fc_bus *bus, size_t len, struct fc_frame_meta *meta)
{
	struct geometry g;
	struct fc_bus_slot *slot;
	uint64_t seq;

	if (!writer_geometry(bus, &g))
		return -1;
	seq = next_seq(bus);
	slot = slot_at(bus, &g, seq);
	if ((atomic_load_explicit(&slot->seqcount, memory_order_relaxed) &
	    1) == 0) {
		errno = EINVAL;		/* no fc_bus_begin() pending */
		return -1;
	}
	if (len > g.capacity) {
		slot_end(slot);
		atomic_fetch_add_explicit(&bus->hdr->frames_dropped_oversize, 1,
		    memory_order_relaxed);
		errno = EMSGSIZE;
		return -1;
	}
	finish_publish(bus, slot, seq, len, meta);
	return 0;
}

void
fc_bus_abort(struct fc_bus *bus)
{
	struct geometry g;
	struct fc_bus_slot *slot;

	if (!writer_geometry(bus, &g))
		return;
	slot = slot_at(bus, &g, next_seq(bus));
	/* The data area may be half overwritten; ending the write (seqcount
	 * moves forward) makes any reader still copying the old contents
	 * notice.  head does not move, so nobody reads this slot again until
	 * the next frame fills it. */
	if (atomic_load_explicit(&slot->seqcount, memory_order_relaxed) & 1)
		slot_end(slot);
}

static void
copy_string(char *dst, size_t size, const char *src)
{
	size_t n = 0;

	if (src != NULL) {
		n = strnlen(src, size - 1);
		memcpy(dst, src, n);
	}
	memset(dst + n, 0, size - n);
}

void
fc_bus_set_info(struct fc_bus *bus, const char *source, uint32_t width,
    uint32_t height, uint32_t fps_target, enum fc_capture_state state,
    const char *error)
{
	struct fc_bus_header *hdr;
	uint32_t s;

	if (bus == NULL || bus->hdr == NULL || !bus->writable) {
		errno = EBADF;
		return;
	}
	hdr = bus->hdr;
	/* Same seqcount protocol as a slot. */
	s = atomic_load_explicit(&hdr->info_seq, memory_order_relaxed);
	if ((s & 1) == 0)
		atomic_store_explicit(&hdr->info_seq, ++s, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	copy_string(hdr->source, sizeof(hdr->source), source);
	copy_string(hdr->error, sizeof(hdr->error), error);
	hdr->width = width;
	hdr->height = height;
	hdr->fps_target = fps_target;
	hdr->state = (uint32_t)state;
	atomic_store_explicit(&hdr->info_seq, s + 1, memory_order_release);
}

/* --- readers --- */

uint64_t
fc_bus_head(const struct fc_bus *bus)
{
	return atomic_load_explicit(&bus->hdr->head, memory_order_acquire);
}

uint64_t
fc_bus_capacity(const struct fc_bus *bus)
{
	struct geometry g;

	read_geometry(bus->hdr, &g);
	return check_geometry(&g, bus->map_size) == 0 ? g.capacity : 0;
}

static int
copy_to_buffer(void *arg, const void *src, size_t len)
{
	memcpy(arg, src, len);
	return 0;
}

enum fc_bus_result
fc_bus_read_latest(struct fc_bus *bus, uint64_t after,
    struct fc_frame_meta *meta, void *buf, size_t bufsize)
{
	return fc_bus_read_latest_fn(bus, after, meta, bufsize,
	    copy_to_buffer, buf);
}

enum fc_bus_result
fc_bus_read_latest_fn(struct fc_bus *bus, uint64_t after,
    struct fc_frame_meta *meta, size_t maxlen, fc_bus_copy_fn *copy,
    void *arg)
{
	struct geometry g;
	struct fc_bus_slot *slot;
	struct fc_frame_meta m;
	uint64_t head;
	uint32_t s1, s2;
	int tries;

	/* Re-check the geometry on every read: it is cheap, and a header
	 * changed behind our back must not turn into an out-of-bounds copy. */
	read_geometry(bus->hdr, &g);
	if (check_geometry(&g, bus->map_size) != 0)
		return FC_BUS_CORRUPT;

	for (tries = 0; tries < READ_TRIES; tries++) {
		/* Pairs with the writer's release store of head. */
		head = atomic_load_explicit(&bus->hdr->head,
		    memory_order_acquire);
		if (head <= after)
			return FC_BUS_NONE;
		slot = slot_at(bus, &g, head);

		/* Acquire: the meta and data loads below stay after it. */
		s1 = atomic_load_explicit(&slot->seqcount, memory_order_acquire);
		if (s1 & 1) {
			/* The writer lapped us and is refilling this slot;
			 * head will have moved on. */
			bus->torn_retries++;
			continue;
		}
		m = slot->meta;
		/* Keeps the meta loads before the re-check. */
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&slot->seqcount, memory_order_relaxed);
		if (s1 != s2) {
			bus->torn_retries++;
			continue;
		}

		/* A consistent meta that does not describe frame `head` (or a
		 * newer frame that landed in the same slot) is not a race:
		 * the writer or the memory is broken. */
		if (m.seq < head || m.seq % g.slots != head % g.slots ||
		    m.len > g.capacity)
			return FC_BUS_CORRUPT;
		if (m.len > maxlen) {
			*meta = m;
			return FC_BUS_NOSPACE;
		}

		if (copy(arg, slot_data(slot), (size_t)m.len) == -1)
			return FC_BUS_COPY_FAILED;
		/* Keeps the data loads before the re-check. */
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&slot->seqcount, memory_order_relaxed);
		if (s1 != s2) {
			/* The copy may mix two frames: throw it away. */
			bus->torn_retries++;
			continue;
		}
		*meta = m;
		return FC_BUS_OK;
	}
	return FC_BUS_AGAIN;
}

void
fc_bus_get_info(const struct fc_bus *bus, struct fc_bus_info *info)
{
	const struct fc_bus_header *hdr = bus->hdr;
	uint32_t s1, s2;
	int tries;

	memset(info, 0, sizeof(*info));
	for (tries = 0; tries < INFO_TRIES; tries++) {
		s1 = atomic_load_explicit(&hdr->info_seq, memory_order_acquire);
		if (s1 & 1)
			continue;
		memcpy(info->source, hdr->source, sizeof(info->source));
		memcpy(info->error, hdr->error, sizeof(info->error));
		info->width = hdr->width;
		info->height = hdr->height;
		info->fps_target = hdr->fps_target;
		info->state = hdr->state;
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&hdr->info_seq, memory_order_relaxed);
		if (s1 == s2)
			break;
	}
	/* After INFO_TRIES (a writer that died mid-update) the copy may be
	 * mixed; the strings are at least terminated. */
	info->source[sizeof(info->source) - 1] = '\0';
	info->error[sizeof(info->error) - 1] = '\0';
}

uint32_t
fc_bus_futex_value(const struct fc_bus *bus)
{
	/* Pairs with the writer's release increment: a reader that takes
	 * the value and then reads head misses no wake-up. */
	return atomic_load_explicit(&bus->hdr->futex, memory_order_acquire);
}

int
fc_bus_wait(const struct fc_bus *bus, uint32_t seen, int timeout_ms)
{
	return fc_futex_wait(&bus->hdr->futex, seen, timeout_ms);
}
