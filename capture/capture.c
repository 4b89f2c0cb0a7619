/*
 * The capture loop; see capture.h.
 *
 * One thread does everything, in this order each turn:
 *   1. stop requested or frame budget spent?  leave
 *   2. nobody watching for idle_stop seconds, and no snapshot request for
 *      FC_CAPTURE_SNAPSHOT_AWAKE_NS (or idle_stop if shorter)?  close the
 *      source and sleep on the control region's demand futex (state PAUSED)
 *   3. source closed?  reopen when the backoff allows; meanwhile publish
 *      the no-signal picture about once a second (state FAILING)
 *   4. non-self-paced source: sleep until the next absolute deadline
 *   5. take a frame, count it, drop it if broken or unchanged, publish it
 *
 * A relay (the http source) also keeps the hop delay of its upstream link:
 * the time a part arrived here (CLOCK_REALTIME) minus the capture time the
 * upstream stamped on it (X-Timestamp), over the last HOP_WINDOW parts, and
 * publishes its p50/p99 with the connection state in the bus header.
 *
 * A relay also caps what it publishes at fps, however fast the upstream
 * sends: see rate_allows().
 *
 * Pacing uses absolute CLOCK_MONOTONIC deadlines (TIMER_ABSTIME) so the
 * rate does not drift with the work done per frame; when the loop falls
 * more than a frame behind it skips ahead instead of bursting frames out
 * to catch up.  Long sleeps are cut into short ones so a stop request
 * from another thread is seen quickly; SIGTERM interrupts them anyway.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "capture.h"
#include "encode.h"
#include "nosignal.h"

#define NS_PER_S INT64_C(1000000000)
#define NS_PER_MS INT64_C(1000000)
#define SLEEP_SLICE_NS (200 * NS_PER_MS)	/* stop-check granularity */
#define DEMAND_WAIT_MS 500			/* paused: re-check period */
#define SELF_PACED_TIMEOUT_MS 500		/* next() wait for a frame */
/* A self-paced source that delivers nothing for this long has failed
 * (a wedged device or a silent upstream), whatever it says. */
#define STALL_NS (10 * NS_PER_S)
#define FPS_RING 256				/* > the largest fps allowed */
/* Hop delay window: a few seconds of parts at usual rates, small enough
 * to sort on every part. */
#define HOP_WINDOW 128

static _Atomic int stop_requested;

struct loop {
	const struct fc_config *cfg;
	struct fc_bus *bus;
	struct fc_bus_header *hdr;
	struct fc_ctl *ctl;
	const struct fc_capture_opts *opts;
	const struct fc_source_ops *ops;
	struct fc_source src;

	bool opened;			/* ops->open succeeded, not closed */
	enum fc_capture_state state;	/* as published in the bus */
	uint32_t width, height;		/* size published in the bus info */
	char error[160];		/* error published in the bus info */
	char logged[160];		/* last error logged, once per change */

	int64_t backoff_ns;		/* next reopen delay */
	int64_t next_open_ns;		/* reopen not before (monotonic) */
	int64_t idle_since_ns;		/* last time we saw a viewer */
	uint32_t snap_seen;		/* fc_ctl_snapshot_value seen last */
	int64_t snap_until_ns;		/* awake for snapshots until then */
	int64_t interval_ns;		/* 1 / fps */
	int64_t deadline_ns;		/* next frame due (non-self-paced) */
	int64_t last_frame_ns;		/* last frame from the source */

	/* No-signal picture, rendered once per reason. */
	uint8_t *ns_jpeg;
	size_t ns_len;
	char ns_reason[160];
	int64_t last_nosignal_ns;

	/* Last published picture, for drop_same_frames. */
	uint8_t *prev;
	size_t prev_len, prev_cap;
	int64_t prev_pub_ns;

	/* Publish times of source frames, for the measured rate. */
	int64_t pub_ring[FPS_RING];
	uint64_t pub_count;

	uint64_t published;		/* frames this run published */

	/* Relay hop delay (http source only), reset on every connect. */
	bool relay;			/* cfg->source is http */
	int64_t hop_ring[HOP_WINDOW];	/* ns, newest at hop_count - 1 */
	uint64_t hop_count;		/* samples since connect */
	int64_t hop_last_ts;		/* upstream stamp of the last sample */
	bool warned_oversize;		/* logged once per open */
	int64_t rate_tat_ns;		/* relay rate cap: see rate_allows() */

	/* Size of the last published source frame (0: none yet), which the
	 * no-signal picture takes, so a failure never changes the size a
	 * viewer or recorder sees. */
	uint32_t last_w, last_h;
	uint32_t ns_w, ns_h;		/* size ns_jpeg was rendered at */

	FILE *dump_index;		/* opts->dump_dir/frames.txt */
};

void
fc_capture_request_stop(void)
{
	atomic_store(&stop_requested, 1);
}

void
fc_capture_reset_stop(void)
{
	atomic_store(&stop_requested, 0);
}

bool
fc_capture_stopping(void)
{
	return atomic_load(&stop_requested) != 0;
}

static bool
done(const struct loop *l)
{
	return fc_capture_stopping() || (l->opts->max_frames > 0 &&
	    l->published >= l->opts->max_frames);
}

static void
counter_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static void
publish_info(struct loop *l)
{
	fc_bus_set_info(l->bus, l->ops->name, l->width, l->height,
	    (uint32_t)l->cfg->fps, l->state,
	    l->error[0] != '\0' ? l->error : NULL);
}

static void
set_state(struct loop *l, enum fc_capture_state state, const char *error)
{
	if (error == NULL)
		error = "";
	if (l->state == state && strcmp(l->error, error) == 0)
		return;
	l->state = state;
	snprintf(l->error, sizeof(l->error), "%s", error);
	publish_info(l);
}

/* The caller's per-turn hook (a reload), if any. */
static void
each_turn(const struct loop *l)
{
	if (l->opts->each_turn != NULL)
		l->opts->each_turn(l->opts->each_turn_arg);
}

/* Sleeps until the monotonic time t, in slices, or until a stop request;
 * the per-turn hook runs after each slice, so a long wait (1 fps, a
 * failing source) does not hold a reload back. */
static void
sleep_until(const struct loop *l, int64_t t)
{
	struct timespec ts;
	int64_t now, until;

	while (!fc_capture_stopping() && (now = fc_now_mono_ns()) < t) {
		until = t - now > SLEEP_SLICE_NS ? now + SLEEP_SLICE_NS : t;
		ts.tv_sec = (time_t)(until / NS_PER_S);
		ts.tv_nsec = (long)(until % NS_PER_S);
		/* EINTR: a signal (SIGTERM sets the stop flag); re-check. */
		(void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
		    NULL);
		each_turn(l);
	}
}

/* Measured rate of source frames over a sliding window of about a second
 * (three frame intervals at low rates, so 1 fps still measures). */
static void
update_fps(struct loop *l, int64_t now)
{
	int64_t window = 3 * l->interval_ns, newest = 0, oldest = 0, t;
	uint64_t i, n = 0, fps_milli = 0;

	if (window < NS_PER_S)
		window = NS_PER_S;
	for (i = 0; i < l->pub_count && i < FPS_RING; i++) {
		t = l->pub_ring[(l->pub_count - 1 - i) % FPS_RING];
		if (now - t > window)
			break;
		if (n == 0)
			newest = t;
		oldest = t;
		n++;
	}
	if (n >= 2 && newest > oldest)
		fps_milli = (n - 1) * (uint64_t)NS_PER_S * 1000 /
		    (uint64_t)(newest - oldest);
	if (fps_milli > UINT32_MAX)	/* a burst from a self-paced source */
		fps_milli = UINT32_MAX;
	atomic_store_explicit(&l->hdr->fps_milli, (uint32_t)fps_milli,
	    memory_order_relaxed);
}

static void
dump_frame(struct loop *l, const uint8_t *data, size_t len,
    const struct fc_frame_meta *meta)
{
	char path[FC_CONFIG_PATH_MAX + 64];
	int fd;

	if (l->dump_index == NULL)
		return;
	snprintf(path, sizeof(path), "%s/frame-%06" PRIu64 ".jpg",
	    l->opts->dump_dir, meta->seq);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1 || write(fd, data, len) != (ssize_t)len) {
		log_warn("dump: %s", path);
		if (fd != -1)
			close(fd);
		fclose(l->dump_index);
		l->dump_index = NULL;
		return;
	}
	close(fd);
	fprintf(l->dump_index, "%" PRIu64 " %" PRIu64 " %u %u %u %" PRId64
	    " %" PRId64 "\n", meta->seq, meta->len, meta->width, meta->height,
	    meta->flags, meta->ts_real_ns, meta->ts_mono_ns);
	fflush(l->dump_index);
}

/* Publishes one frame; 0, or -1 when the bus refused it. */
static int
publish(struct loop *l, const uint8_t *data, size_t len, uint32_t w,
    uint32_t h, uint32_t flags, int64_t ts_real, int64_t ts_mono)
{
	struct fc_frame_meta meta;

	memset(&meta, 0, sizeof(meta));
	meta.width = w;
	meta.height = h;
	meta.flags = flags;
	meta.ts_real_ns = ts_real;
	meta.ts_mono_ns = ts_mono;
	if (fc_bus_publish(l->bus, data, len, &meta) == -1) {
		/* The bus counts oversize frames itself. */
		if (errno == EMSGSIZE && !l->warned_oversize) {
			log_warnx("%s: %zu byte frame exceeds max_frame_size "
			    "(%" PRIu64 "), dropped", l->ops->name, len,
			    l->hdr->slot_capacity);
			l->warned_oversize = true;
		} else if (errno != EMSGSIZE)
			log_warn("publish");
		return -1;
	}
	l->published++;
	if ((flags & FC_FRAME_NOSIGNAL) == 0) {
		l->last_w = w;
		l->last_h = h;
		l->pub_ring[l->pub_count % FPS_RING] = fc_now_mono_ns();
		l->pub_count++;
	}
	dump_frame(l, data, len, &meta);
	return 0;
}

/* While failing: publish the no-signal picture about once a second. */
static void
maybe_nosignal(struct loop *l, int64_t now)
{
	uint8_t *jpeg;
	size_t len;
	uint32_t w = l->last_w ? l->last_w : (uint32_t)l->cfg->width;
	uint32_t h = l->last_h ? l->last_h : (uint32_t)l->cfg->height;

	if (l->state != FC_CAPTURE_FAILING || (l->last_nosignal_ns != 0 &&
	    now - l->last_nosignal_ns < FC_CAPTURE_NOSIGNAL_INTERVAL_NS))
		return;
	l->last_nosignal_ns = now;
	if (l->ns_jpeg == NULL || strcmp(l->ns_reason, l->error) != 0 ||
	    l->ns_w != w || l->ns_h != h) {
		if (fc_nosignal_render(l->src.enc, (int)w, (int)h, l->error,
		    &jpeg, &len) == -1) {
			log_warnx("no-signal frame: %s",
			    fc_encoder_error(l->src.enc));
			return;
		}
		free(l->ns_jpeg);
		l->ns_jpeg = jpeg;
		l->ns_len = len;
		snprintf(l->ns_reason, sizeof(l->ns_reason), "%s", l->error);
		l->ns_w = w;
		l->ns_h = h;
	}
	(void)publish(l, l->ns_jpeg, l->ns_len, w & ~1u, h & ~1u,
	    FC_FRAME_NOSIGNAL,
	    fc_now_real_ns(), now);
}

/*
 * Sorts a few int64s in place.  Not qsort(): glibc's qsort asks sysinfo()
 * for the machine's memory once an array reaches 1 KB (our full window),
 * a syscall the capture sandbox rightly refuses; an insertion sort of
 * HOP_WINDOW values costs nothing next to a frame.
 */
static void
sort_i64(int64_t *v, size_t n)
{
	size_t i, j;
	int64_t x;

	for (i = 1; i < n; i++) {
		x = v[i];
		for (j = i; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* Forgets the hop delay figures: they describe one connection. */
static void
hop_reset(struct loop *l)
{
	l->hop_count = 0;
	l->hop_last_ts = 0;
	atomic_store_explicit(&l->hdr->hop_delay_samples, 0,
	    memory_order_relaxed);
	atomic_store_explicit(&l->hdr->hop_delay_ns_p50, 0,
	    memory_order_relaxed);
	atomic_store_explicit(&l->hdr->hop_delay_ns_p99, 0,
	    memory_order_relaxed);
}

/*
 * Adds one part's hop delay (received_real - upstream_ts) and republishes
 * p50/p99 (nearest rank) of the window.  Parts without an upstream stamp
 * say nothing about the hop; a stamp equal to the previous one is a
 * resent picture (an upstream keeping a still stream alive), whose delay
 * would measure the resend interval rather than the link.  The first part
 * of a connection is the upstream's newest picture at connect time,
 * captured before we asked: it is not counted either.
 */
static void
hop_sample(struct loop *l, int64_t upstream_ts, int64_t received_real)
{
	int64_t sorted[HOP_WINDOW];
	bool first = l->hop_last_ts == 0;
	size_t n;

	if (upstream_ts <= 0 || upstream_ts == l->hop_last_ts)
		return;
	l->hop_last_ts = upstream_ts;
	if (first)
		return;
	l->hop_ring[l->hop_count % HOP_WINDOW] = received_real - upstream_ts;
	l->hop_count++;
	n = l->hop_count < HOP_WINDOW ? (size_t)l->hop_count : HOP_WINDOW;
	memcpy(sorted, l->hop_ring, n * sizeof(sorted[0]));
	sort_i64(sorted, n);
	atomic_store_explicit(&l->hdr->hop_delay_ns_p50,
	    sorted[(n * 50 + 99) / 100 - 1], memory_order_relaxed);
	atomic_store_explicit(&l->hdr->hop_delay_ns_p99,
	    sorted[(n * 99 + 99) / 100 - 1], memory_order_relaxed);
	atomic_store_explicit(&l->hdr->hop_delay_samples, (uint32_t)n,
	    memory_order_relaxed);
}

static void
close_source(struct loop *l)
{
	if (l->opened)
		l->ops->close(&l->src);
	l->opened = false;
	l->src.priv = NULL;
	if (l->relay) {
		atomic_store_explicit(&l->hdr->upstream_connected, 0,
		    memory_order_relaxed);
		hop_reset(l);
	}
}

/* The source failed (open or next): close, back off, show no-signal. */
static void
source_failed(struct loop *l, int64_t now)
{
	char reason[sizeof(l->src.error)];

	close_source(l);
	if (l->relay)
		counter_add(&l->hdr->upstream_failures, 1);
	snprintf(reason, sizeof(reason), "%s",
	    l->src.error[0] != '\0' ? l->src.error : "source failed");
	if (strcmp(reason, l->logged) != 0) {
		log_warnx("%s: %s (retrying)", l->ops->name, reason);
		snprintf(l->logged, sizeof(l->logged), "%s", reason);
	}
	set_state(l, FC_CAPTURE_FAILING, reason);
	l->next_open_ns = now + l->backoff_ns;
	l->backoff_ns *= 2;
	if (l->backoff_ns > FC_CAPTURE_BACKOFF_MAX_NS)
		l->backoff_ns = FC_CAPTURE_BACKOFF_MAX_NS;
	atomic_store_explicit(&l->hdr->fps_milli, 0, memory_order_relaxed);
	maybe_nosignal(l, now);
}

static void
open_source(struct loop *l, int64_t now)
{
	l->src.error[0] = '\0';
	l->src.priv = NULL;
	l->src.frame_no = 0;
	if (l->ops->open(&l->src) == -1) {
		/* close accepts a half-opened source. */
		l->ops->close(&l->src);
		l->src.priv = NULL;
		source_failed(l, now);
		return;
	}
	l->opened = true;
	l->warned_oversize = false;
	if (l->relay) {
		hop_reset(l);
		counter_add(&l->hdr->upstream_connects, 1);
		atomic_store_explicit(&l->hdr->upstream_connected, 1,
		    memory_order_relaxed);
	}
	l->deadline_ns = now;
	l->last_frame_ns = now;
	log_debug("%s: opened", l->ops->name);
}

/* How long one snapshot request keeps capture awake: a few seconds, never
 * longer than idle_stop (what a stream viewer that left gets). */
static int64_t
snapshot_awake_ns(const struct loop *l)
{
	int64_t idle = (int64_t)l->cfg->idle_stop * NS_PER_S;

	return idle < FC_CAPTURE_SNAPSHOT_AWAKE_NS ? idle :
	    FC_CAPTURE_SNAPSHOT_AWAKE_NS;
}

/* True when a snapshot was requested since the last look; it then keeps
 * capture awake for snapshot_awake_ns() from now. */
static bool
snapshot_requested(struct loop *l, int64_t now)
{
	uint32_t v = fc_ctl_snapshot_value(l->ctl);

	if (v == l->snap_seen)
		return false;
	l->snap_seen = v;
	l->snap_until_ns = now + snapshot_awake_ns(l);
	return true;
}

/*
 * No viewers: close the source and sleep on the demand futex until a
 * worker reports a streaming client or bumps demand.  A wake-up with no
 * stream counted and a new snapshot request is a snapshot's: capture then
 * stays awake for snapshot_awake_ns() after the last snapshot request, not
 * for idle_stop.  Any other wake-up (a stream, or demand from a stream not
 * counted yet) gets the stream viewer's idle_stop.
 */
static void
pause_for_viewers(struct loop *l, int64_t now)
{
	uint32_t seen;

	/* Read before PAUSED is published: a worker that sees PAUSED and
	 * signals demand after this moves the word past `seen`, so the
	 * wait below cannot miss it (read later, a request arriving in
	 * between would be counted in `seen` and sleep with capture). */
	seen = fc_ctl_demand_value(l->ctl);
	close_source(l);
	set_state(l, FC_CAPTURE_PAUSED, NULL);
	atomic_store_explicit(&l->hdr->fps_milli, 0, memory_order_relaxed);
	if (l->snap_until_ns > l->idle_since_ns +
	    (int64_t)l->cfg->idle_stop * NS_PER_S)
		log_info("no viewers, no snapshot request for %lld ms: "
		    "capture paused", (long long)((now - l->snap_until_ns +
		    snapshot_awake_ns(l)) / NS_PER_MS));
	else
		log_info("no viewers for %d s: capture paused",
		    l->cfg->idle_stop);
	while (!fc_capture_stopping()) {
		each_turn(l);
		if (fc_ctl_total_streams(l->ctl) > 0 ||
		    fc_ctl_demand_value(l->ctl) != seen)
			break;
		(void)fc_ctl_wait_demand(l->ctl, seen, DEMAND_WAIT_MS);
	}
	if (fc_capture_stopping())
		return;
	now = fc_now_mono_ns();
	if (snapshot_requested(l, now) && fc_ctl_total_streams(l->ctl) == 0) {
		log_info("snapshot request: capture resumed for %lld ms",
		    (long long)(snapshot_awake_ns(l) / NS_PER_MS));
		/* idle_stop counts as spent: only the snapshot's time. */
		l->idle_since_ns = now - (int64_t)l->cfg->idle_stop * NS_PER_S;
	} else {
		log_info("viewer arrived: capture resumed");
		/* A new viewer gets idle_stop seconds even before its stream
		 * is counted. */
		l->idle_since_ns = now;
	}
	/* The source is reopened right away. */
	l->next_open_ns = 0;
	l->backoff_ns = FC_CAPTURE_BACKOFF_MIN_NS;
	l->logged[0] = '\0';
	l->last_nosignal_ns = 0;
	set_state(l, FC_CAPTURE_STARTING, NULL);
}

static bool
should_pause(struct loop *l, int64_t now)
{
	if (l->ctl == NULL || l->cfg->idle_stop <= 0)
		return false;
	(void)snapshot_requested(l, now);
	if (fc_ctl_total_streams(l->ctl) > 0) {
		l->idle_since_ns = now;
		return false;
	}
	return now - l->idle_since_ns >= (int64_t)l->cfg->idle_stop * NS_PER_S &&
	    now >= l->snap_until_ns;
}

/* drop_same_frames: true when this frame repeats the last published one
 * and was published less than a second ago. */
static bool
same_as_prev(struct loop *l, const struct fc_src_frame *f, int64_t now,
    bool *repeat)
{
	*repeat = l->prev_len == f->len && l->prev_len > 0 &&
	    memcmp(l->prev, f->jpeg, f->len) == 0;
	return *repeat && now - l->prev_pub_ns < FC_CAPTURE_SAME_REFRESH_NS;
}

static void
remember(struct loop *l, const struct fc_src_frame *f, int64_t now)
{
	uint8_t *p;

	l->prev_pub_ns = now;
	if (f->len > l->prev_cap) {
		if ((p = realloc(l->prev, f->len)) == NULL) {
			l->prev_len = 0;	/* compare nothing next time */
			return;
		}
		l->prev = p;
		l->prev_cap = f->len;
	}
	memcpy(l->prev, f->jpeg, f->len);
	l->prev_len = f->len;
}

/*
 * Relay rate cap: may a part that arrived at now be published?  A
 * self-paced upstream may send far faster than fps (a flood once made a
 * viewer receive 3,488 fps with fps = 30); the excess is dropped, counted
 * in frames_dropped_rate.
 *
 * The rule is GCRA, a token bucket in one number: rate_tat_ns is the
 * earliest time the next part is due at exactly fps.  A part is allowed
 * when it comes no more than half an interval before that time; it then
 * moves the due time one interval past max(due, now).  So over any span T
 * at most T * fps + 1.5 parts are published (never more than fps on
 * average, whatever the upstream does), while an upstream at exactly fps
 * loses nothing to arrival jitter of up to a quarter interval either way
 * (a part late by d moves the due time by d; the next one may then come
 * up to interval/2 - d early), and a pause never builds up credit for a
 * burst.
 */
static bool
rate_allows(struct loop *l, int64_t now)
{
	if (l->rate_tat_ns != 0 && now < l->rate_tat_ns - l->interval_ns / 2)
		return false;
	l->rate_tat_ns = (now > l->rate_tat_ns ? now : l->rate_tat_ns) +
	    l->interval_ns;
	return true;
}

/* Takes one frame from the open source and publishes it. */
static void
take_frame(struct loop *l)
{
	struct fc_src_frame f;
	enum fc_src_result r;
	uint64_t enc0, enc1, ns;
	int64_t now, now_real;
	bool repeat = false;

	enc0 = fc_encoder_frames(l->src.enc);
	memset(&f, 0, sizeof(f));
	r = l->ops->next(&l->src, &f, l->ops->self_paced ?
	    SELF_PACED_TIMEOUT_MS : 0);
	now = fc_now_mono_ns();
	now_real = fc_now_real_ns();
	enc1 = fc_encoder_frames(l->src.enc);
	if (enc1 > enc0) {
		ns = fc_encoder_last_ns(l->src.enc);
		counter_add(&l->hdr->frames_encoded, enc1 - enc0);
		counter_add(&l->hdr->encode_ns_total, ns * (enc1 - enc0));
		atomic_store_explicit(&l->hdr->encode_ns_last, ns,
		    memory_order_relaxed);
	}
	if (l->src.dropped_oversize > 0) {
		counter_add(&l->hdr->frames_dropped_oversize,
		    l->src.dropped_oversize);
		l->src.dropped_oversize = 0;
	}
	if (r == FC_SRC_ERROR) {
		source_failed(l, now);
		return;
	}
	if (r == FC_SRC_AGAIN) {
		if (now - l->last_frame_ns > STALL_NS) {
			snprintf(l->src.error, sizeof(l->src.error),
			    "no frames for %d s", (int)(STALL_NS / NS_PER_S));
			source_failed(l, now);
		}
		return;
	}
	l->last_frame_ns = now;
	counter_add(&l->hdr->frames_captured, 1);
	/* Before any drop: the hop is measured on what arrived, whether or
	 * not it is published. */
	if (l->relay)
		hop_sample(l, f.ts_real_ns, now_real);
	if (f.broken || f.jpeg == NULL || f.len == 0) {
		counter_add(&l->hdr->frames_dropped_broken, 1);
		return;
	}

	/* The source works: clear a previous failure. */
	l->backoff_ns = FC_CAPTURE_BACKOFF_MIN_NS;
	if (l->logged[0] != '\0') {
		log_info("%s: source recovered", l->ops->name);
		l->logged[0] = '\0';
	}
	if (f.width != l->width || f.height != l->height) {
		l->width = f.width;
		l->height = f.height;
		publish_info(l);
	}
	set_state(l, FC_CAPTURE_RUNNING, NULL);

	if (l->relay && !rate_allows(l, now)) {
		counter_add(&l->hdr->frames_dropped_rate, 1);
		return;
	}
	if (l->cfg->drop_same_frames && same_as_prev(l, &f, now, &repeat)) {
		counter_add(&l->hdr->frames_dropped_same, 1);
		return;
	}
	if (f.ts_real_ns == 0)
		f.ts_real_ns = fc_now_real_ns();
	if (f.ts_mono_ns == 0)
		f.ts_mono_ns = now;
	if (publish(l, f.jpeg, f.len, f.width, f.height,
	    repeat ? FC_FRAME_REPEAT : 0, f.ts_real_ns, f.ts_mono_ns) == 0 &&
	    l->cfg->drop_same_frames)
		remember(l, &f, now);
}

/*
 * Next deadline of a paced source.  Up to a frame late, the next frame is
 * taken at once (the rate holds through small hiccups); later than that,
 * the missed deadlines are skipped, keeping the phase of the grid, rather
 * than bursting frames out to catch up.
 */
static void
advance_deadline(struct loop *l)
{
	int64_t now = fc_now_mono_ns(), late;

	l->deadline_ns += l->interval_ns;
	late = now - l->deadline_ns;
	if (late > l->interval_ns)
		l->deadline_ns += (late / l->interval_ns + 1) * l->interval_ns;
}

static void
run(struct loop *l)
{
	int64_t now, wake;

	while (!done(l)) {
		each_turn(l);
		now = fc_now_mono_ns();
		update_fps(l, now);
		if (should_pause(l, now)) {
			pause_for_viewers(l, now);
			continue;
		}
		if (!l->opened) {
			if (now < l->next_open_ns) {
				maybe_nosignal(l, now);
				wake = l->last_nosignal_ns +
				    FC_CAPTURE_NOSIGNAL_INTERVAL_NS;
				if (wake > l->next_open_ns)
					wake = l->next_open_ns;
				if (!done(l))
					sleep_until(l, wake);
				continue;
			}
			open_source(l, now);
			continue;
		}
		if (!l->ops->self_paced) {
			if (now < l->deadline_ns) {
				sleep_until(l, l->deadline_ns);
				continue;
			}
			take_frame(l);
			advance_deadline(l);
		} else
			take_frame(l);
	}
}

static void
open_dump(struct loop *l)
{
	char path[FC_CONFIG_PATH_MAX + 64];

	if (l->opts->dump_dir == NULL)
		return;
	if (mkdir(l->opts->dump_dir, 0755) == -1 && errno != EEXIST) {
		log_warn("dump: %s", l->opts->dump_dir);
		return;
	}
	snprintf(path, sizeof(path), "%s/frames.txt", l->opts->dump_dir);
	if ((l->dump_index = fopen(path, "ae")) == NULL)
		log_warn("dump: %s", path);
}

int
fc_capture_run(const struct fc_config *cfg, struct fc_bus *bus,
    struct fc_ctl *ctl, const struct fc_capture_opts *opts)
{
	struct loop *l;
	int rc = -1;

	if (opts == NULL || opts->ops == NULL || bus == NULL ||
	    !bus->writable) {
		errno = EINVAL;
		return -1;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -1;
	l->cfg = cfg;
	l->bus = bus;
	l->hdr = bus->hdr;
	l->ctl = ctl;
	l->opts = opts;
	l->ops = opts->ops;
	l->src.ops = opts->ops;
	l->src.cfg = cfg;
	l->width = (uint32_t)cfg->width;
	l->height = (uint32_t)cfg->height;
	l->interval_ns = NS_PER_S / (cfg->fps > 0 ? cfg->fps : 1);
	l->backoff_ns = FC_CAPTURE_BACKOFF_MIN_NS;
	l->idle_since_ns = fc_now_mono_ns();
	if (ctl != NULL)
		l->snap_seen = fc_ctl_snapshot_value(ctl);
	l->relay = cfg->source == FC_SOURCE_HTTP;
	if ((l->src.enc = fc_encoder_new(cfg->quality)) == NULL) {
		log_warn("cannot create the JPEG encoder");
		goto done;
	}
	open_dump(l);
	atomic_store_explicit(&l->hdr->capture_pid, (int32_t)getpid(),
	    memory_order_relaxed);
	l->state = FC_CAPTURE_STARTING;
	publish_info(l);
	if (l->relay) {
		/* A capture that crashed may have left "connected" set. */
		atomic_store_explicit(&l->hdr->upstream_connected, 0,
		    memory_order_relaxed);
		hop_reset(l);
	}
	log_info("source %s, %dx%d at %d fps, quality %d", l->ops->name,
	    cfg->width, cfg->height, cfg->fps, cfg->quality);

	run(l);

	close_source(l);
	atomic_store_explicit(&l->hdr->fps_milli, 0, memory_order_relaxed);
	set_state(l, FC_CAPTURE_STOPPED, NULL);
	rc = 0;
done:
	if (l->dump_index != NULL)
		fclose(l->dump_index);
	fc_encoder_free(l->src.enc);
	free(l->ns_jpeg);
	free(l->prev);
	free(l);
	return rc;
}
