/*
 * Reports built from shared memory: /status JSON, /metrics, the /events
 * status event and the /healthz verdict.  See report.h.
 *
 * Everything here reads memory other processes write while we read it.
 * Counters are relaxed atomic loads (recent, not a snapshot); text and
 * geometry come through the seqcount-protected copies (fc_bus_get_info and
 * head_meta below), and every number from shared memory is range-checked
 * or printed as an integer, so a corrupt or racing writer can make a report
 * wrong but never invalid JSON or invalid exposition text.
 */
#include "report.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "../common/url.h"
#include "../common/version.h"

#define NS_PER_MS INT64_C(1000000)
#define NS_PER_S INT64_C(1000000000)

/* No publish for this long while running means capture stalled. */
#define HEALTH_STALL_NS (3 * NS_PER_S)
/* How long a capture may run without its first frame (starting up,
 * opening a camera) before /healthz calls it broken. */
#define HEALTH_START_GRACE_NS (5 * NS_PER_S)

#define LOAD(p) atomic_load_explicit((p), memory_order_relaxed)

static const char *const capture_state_names[] = {
	[FC_CAPTURE_STARTING] = "starting",
	[FC_CAPTURE_RUNNING] = "running",
	[FC_CAPTURE_PAUSED] = "paused",
	[FC_CAPTURE_FAILING] = "failing",
	[FC_CAPTURE_STOPPED] = "stopped",
};
#define NSTATES (sizeof(capture_state_names) / sizeof(capture_state_names[0]))

static const char *const worker_state_names[] = {
	[FC_WORKER_EMPTY] = "empty",
	[FC_WORKER_STARTING] = "starting",
	[FC_WORKER_SERVING] = "serving",
	[FC_WORKER_RETIRING] = "retiring",
};

/* Label values of the per-code response counter, in enum order. */
static const char *const status_codes[FC_ST_COUNT] = {
	[FC_ST_200] = "200", [FC_ST_304] = "304", [FC_ST_400] = "400",
	[FC_ST_401] = "401", [FC_ST_403] = "403", [FC_ST_404] = "404",
	[FC_ST_405] = "405", [FC_ST_408] = "408", [FC_ST_414] = "414",
	[FC_ST_421] = "421", [FC_ST_431] = "431", [FC_ST_500] = "500",
	[FC_ST_503] = "503",
	[FC_ST_OTHER] = "other",
};

/* Refusal reasons in refused[] order (enum fc_ctl_admit - 1): the limit
 * that refused, max_connections, max_clients and max_clients_per_ip
 * without their "max_" (so a report without a configuration never names
 * a configured limit), or a full address table. */
static const char *const refusal_names[FC_CTL_REFUSALS] = {
	[FC_CTL_OVER_CONNECTIONS - 1] = "connections",
	[FC_CTL_OVER_CLIENTS - 1] = "clients",
	[FC_CTL_OVER_PER_ADDR - 1] = "clients_per_ip",
	[FC_CTL_TABLE_FULL - 1] = "address_table_full",
};

static const char *
capture_state_name(uint32_t state)
{
	return state < NSTATES ? capture_state_names[state] : "unknown";
}

static const char *
worker_state_name(uint32_t state)
{
	return state < sizeof(worker_state_names) / sizeof(worker_state_names[0])
	    ? worker_state_names[state] : "unknown";
}

/* A gauge of a worker slot (clients, streams, events, addresses).  Once
 * the supervisor has reaped the slot's worker (pid 0) and until it starts
 * the next owner, the slot's gauges are left-overs that count for nothing
 * (see control.h), so they read as 0. */
static uint64_t
gauge(const struct fc_ctl_worker *w, const _Atomic uint64_t *g)
{
	return LOAD(&w->pid) != 0 ? (uint64_t)LOAD(g) : 0;
}

/* Worker slots that exist in this region (the header says how many). */
static unsigned
worker_slots(const struct fc_ctl *ctl)
{
	uint32_t n = ctl->hdr->max_workers;

	return n < FC_CTL_MAX_WORKERS ? n : FC_CTL_MAX_WORKERS;
}

/*
 * Metadata of the newest frame, read under its slot's seqcount (the JPEG
 * bytes are not copied).  The geometry comes from the header, which only
 * capture can write, but it is still checked against our mapping so a
 * broken writer cannot send us outside it.  False when there is no frame
 * yet or no consistent copy could be taken.
 */
static bool
head_meta(const struct fc_bus *bus, struct fc_frame_meta *out)
{
	const volatile struct fc_bus_header *vh = bus->hdr;
	const struct fc_bus_slot *slot;
	uint64_t head, slots, stride, end;
	uint32_t s1, s2;
	int tries;

	slots = vh->slot_count;
	stride = vh->slot_stride;
	if (slots < FC_BUS_MIN_SLOTS || slots > FC_BUS_MAX_SLOTS ||
	    stride < sizeof(struct fc_bus_slot) ||
	    stride % sizeof(struct fc_bus_slot) != 0 ||	/* 64-byte aligned */
	    __builtin_mul_overflow(slots, stride, &end) ||
	    __builtin_add_overflow(end, (uint64_t)sizeof(struct fc_bus_header),
	    &end) || end > bus->map_size)
		return false;

	for (tries = 0; tries < 8; tries++) {
		head = atomic_load_explicit(&bus->hdr->head,
		    memory_order_acquire);
		if (head == 0)
			return false;
		slot = (const struct fc_bus_slot *)((uintptr_t)bus->hdr +
		    sizeof(struct fc_bus_header) +
		    (uintptr_t)((head % slots) * stride));
		s1 = atomic_load_explicit(&slot->seqcount,
		    memory_order_acquire);
		if (s1 & 1)
			continue;
		*out = slot->meta;
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&slot->seqcount,
		    memory_order_relaxed);
		if (s1 == s2 && out->seq >= head)
			return true;
	}
	return false;
}

/* Prints a non-negative fixed-point value v / 10^digits, e.g. 29950 with 3
 * digits as "29.950": integers only, so never NaN or inf. */
static void
put_fixed(struct fc_strbuf *out, uint64_t v, unsigned digits)
{
	uint64_t div = 1;
	unsigned i;

	for (i = 0; i < digits; i++)
		div *= 10;
	if (digits == 0)
		fc_strbuf_printf(out, "%" PRIu64, v);
	else
		fc_strbuf_printf(out, "%" PRIu64 ".%0*" PRIu64, v / div,
		    (int)digits, v % div);
}

/* A signed nanosecond figure in microsecond steps: with digits = 3 as
 * milliseconds (/status), with digits = 6 as seconds (/metrics).  Hop
 * delays are negative when the upstream host's clock runs ahead. */
static void
put_ns_signed(struct fc_strbuf *out, int64_t ns, unsigned digits)
{
	uint64_t mag = ns < 0 ? -(uint64_t)ns : (uint64_t)ns;

	if (ns < 0)
		fc_strbuf_puts(out, "-");
	put_fixed(out, mag / 1000, digits);
}

/* Whether capture relays another MJPEG server (the http source): the
 * configuration says so; without one, the source name capture published. */
static bool
is_relay(const struct fc_config *cfg, const struct fc_bus_info *info)
{
	if (cfg != NULL)
		return cfg->source == FC_SOURCE_HTTP;
	return strcmp(info->source, "http") == 0;
}

/* Nanoseconds since a CLOCK_MONOTONIC stamp, 0 for a stamp in the future. */
static uint64_t
ns_since(int64_t stamp_ns, int64_t now_ns)
{
	return now_ns > stamp_ns ? (uint64_t)(now_ns - stamp_ns) : 0;
}

/* --- /status --- */

struct totals {
	uint64_t streams, connections, bytes, frames_sent, frames_skipped;
	uint64_t events, lock_timeouts, refused[FC_CTL_REFUSALS];
	uint64_t tls_user, tls_ktls;
};

/* {"connections": n, "clients": n, ...}: refusals by limit. */
static void
put_refused(struct fc_strbuf *out, const uint64_t *refused)
{
	unsigned k;

	for (k = 0; k < FC_CTL_REFUSALS; k++)
		fc_strbuf_printf(out, "%s\"%s\": %" PRIu64, k == 0 ? "{" : ", ",
		    refusal_names[k], refused[k]);
	fc_strbuf_puts(out, "}");
}

/*
 * "upstream" object of a relay: the URL (its public form: /status may be
 * public, the query and credentials are left out), whether the capture process is
 * connected now (its one connection, whatever the number of viewers),
 * hop delay p50/p99 over its recent parts (null until a part with an
 * X-Timestamp arrived on this connection), and connect counters.
 */
static void
status_upstream(struct fc_strbuf *out, const struct fc_config *cfg,
    const struct fc_bus *bus)
{
	const struct fc_bus_header *h = bus->hdr;
	uint64_t connects = LOAD(&h->upstream_connects);
	uint32_t samples = LOAD(&h->hop_delay_samples);
	char url[sizeof(cfg->url)];

	fc_strbuf_puts(out, "{\"url\": ");
	if (cfg != NULL) {
		fc_url_redact(cfg->url, url, sizeof(url));
		fc_strbuf_json_string(out, url);
	} else
		fc_strbuf_puts(out, "null");
	fc_strbuf_printf(out, ", \"connected\": %s, \"hop_delay_ms_p50\": ",
	    LOAD(&h->upstream_connected) ? "true" : "false");
	if (samples > 0)
		put_ns_signed(out, LOAD(&h->hop_delay_ns_p50), 3);
	else
		fc_strbuf_puts(out, "null");
	fc_strbuf_puts(out, ", \"hop_delay_ms_p99\": ");
	if (samples > 0)
		put_ns_signed(out, LOAD(&h->hop_delay_ns_p99), 3);
	else
		fc_strbuf_puts(out, "null");
	fc_strbuf_printf(out, ", \"hop_delay_samples\": %" PRIu32
	    ", \"connects\": %" PRIu64 ", \"reconnects\": %" PRIu64
	    ", \"failures\": %" PRIu64 "}", samples, connects,
	    connects > 0 ? connects - 1 : 0,
	    (uint64_t)LOAD(&h->upstream_failures));
}

static void
status_capture(struct fc_strbuf *out, const struct fc_config *cfg,
    const struct fc_bus *bus, const struct fc_ctl *ctl, int64_t now_mono)
{
	const struct fc_bus_header *h = bus->hdr;
	struct fc_bus_info info;
	uint64_t encoded, enc_total, fps_milli;
	int64_t last;
	int32_t pid;

	fc_bus_get_info(bus, &info);
	/* The supervisor knows the pid it forked; capture's own report is
	 * the fallback while the supervisor has not written it yet. */
	pid = LOAD(&ctl->hdr->capture_pid);
	if (pid <= 0)
		pid = LOAD(&h->capture_pid);
	fps_milli = LOAD(&h->fps_milli);

	if (pid > 0)
		fc_strbuf_printf(out, "{\"pid\": %" PRId32, pid);
	else
		fc_strbuf_puts(out, "{\"pid\": null");
	fc_strbuf_puts(out, ", \"state\": ");
	fc_strbuf_json_string(out, capture_state_name(info.state));
	fc_strbuf_puts(out, ", \"source\": ");
	fc_strbuf_json_string(out, info.source);
	fc_strbuf_printf(out, ", \"width\": %" PRIu32 ", \"height\": %" PRIu32
	    ", \"fps_target\": %" PRIu32 ", \"fps\": ",
	    info.width, info.height, info.fps_target);
	put_fixed(out, fps_milli, 3);
	fc_strbuf_printf(out, ", \"frames\": %" PRIu64
	    ", \"frames_captured\": %" PRIu64
	    ", \"dropped\": {\"broken\": %" PRIu64 ", \"oversize\": %" PRIu64
	    ", \"same\": %" PRIu64 ", \"rate\": %" PRIu64
	    "}, \"restarts\": %" PRIu32
	    ", \"encode_ms_avg\": ",
	    (uint64_t)LOAD(&h->frames_published),
	    (uint64_t)LOAD(&h->frames_captured),
	    (uint64_t)LOAD(&h->frames_dropped_broken),
	    (uint64_t)LOAD(&h->frames_dropped_oversize),
	    (uint64_t)LOAD(&h->frames_dropped_same),
	    (uint64_t)LOAD(&h->frames_dropped_rate),
	    (uint32_t)LOAD(&ctl->hdr->capture_restarts));
	encoded = LOAD(&h->frames_encoded);
	enc_total = LOAD(&h->encode_ns_total);
	/* Microseconds per frame, printed as ms with three decimals. */
	put_fixed(out, encoded ? enc_total / encoded / 1000 : 0, 3);

	fc_strbuf_puts(out, ", \"last_frame_age_ms\": ");
	last = LOAD(&h->last_publish_mono_ns);
	if (last == 0)
		fc_strbuf_puts(out, "null");
	else
		fc_strbuf_printf(out, "%" PRIu64,
		    ns_since(last, now_mono) / NS_PER_MS);

	fc_strbuf_puts(out, ", \"error\": ");
	if (info.error[0] == '\0')
		fc_strbuf_puts(out, "null");
	else
		fc_strbuf_json_string(out, info.error);
	fc_strbuf_printf(out, ", \"generation\": %" PRIu32,
	    (uint32_t)LOAD(&ctl->hdr->capture_generation));
	if (is_relay(cfg, &info)) {
		fc_strbuf_puts(out, ", \"upstream\": ");
		status_upstream(out, cfg, bus);
	}
	fc_strbuf_puts(out, "}");
}

static void
status_workers(struct fc_strbuf *out, const struct fc_ctl *ctl,
    struct totals *t)
{
	const struct fc_ctl_worker *w;
	unsigned i, k, n = worker_slots(ctl);
	uint32_t state;
	uint64_t streams, conns, bytes, sent, skipped, events, timeouts;
	uint64_t refused[FC_CTL_REFUSALS], tls_user, tls_ktls;
	bool first = true;

	fc_strbuf_puts(out, "[");
	for (i = 0; i < n; i++) {
		w = &ctl->hdr->workers[i];
		if ((state = LOAD(&w->state)) == FC_WORKER_EMPTY)
			continue;
		streams = gauge(w, &w->streams);
		conns = gauge(w, &w->clients);
		bytes = LOAD(&w->bytes);
		sent = LOAD(&w->frames_sent);
		skipped = LOAD(&w->frames_skipped);
		events = gauge(w, &w->events);
		timeouts = LOAD(&w->lock_timeouts);
		tls_user = gauge(w, &w->tls_user);
		tls_ktls = gauge(w, &w->tls_ktls);
		t->tls_user += tls_user;
		t->tls_ktls += tls_ktls;
		t->streams += streams;
		t->connections += conns;
		t->bytes += bytes;
		t->frames_sent += sent;
		t->frames_skipped += skipped;
		t->events += events;
		t->lock_timeouts += timeouts;
		for (k = 0; k < FC_CTL_REFUSALS; k++) {
			refused[k] = LOAD(&w->refused[k]);
			t->refused[k] += refused[k];
		}

		/* DESIGN.md's fields first, in its order (scripts grep it). */
		fc_strbuf_printf(out, "%s{\"index\": %u, \"pid\": %" PRId32
		    ", \"state\": \"%s\", \"clients\": %" PRIu64
		    ", \"connections\": %" PRIu64
		    ", \"bytes\": %" PRIu64 ", \"frames_sent\": %" PRIu64
		    ", \"frames_skipped\": %" PRIu64
		    ", \"frames_copied\": %" PRIu64
		    ", \"clients_total\": %" PRIu64
		    ", \"requests\": %" PRIu64
		    ", \"dropped_timeout\": %" PRIu64
		    ", \"generation\": %" PRIu32
		    ", \"events\": %" PRIu64
		    ", \"addresses\": %" PRIu64
		    ", \"untracked_streams\": %" PRIu64
		    ", \"lock_timeouts\": %" PRIu64 ", \"refused\": ",
		    first ? "" : ", ", i, (int32_t)LOAD(&w->pid),
		    worker_state_name(state), streams, conns, bytes, sent,
		    skipped, (uint64_t)LOAD(&w->frames_copied),
		    (uint64_t)LOAD(&w->clients_total),
		    (uint64_t)LOAD(&w->requests_total),
		    (uint64_t)LOAD(&w->drops_timeout),
		    (uint32_t)LOAD(&w->generation), events,
		    gauge(w, &w->addr_live),
		    (uint64_t)LOAD(&w->addr_untracked), timeouts);
		put_refused(out, refused);
		fc_strbuf_printf(out, ", \"tls\": {\"user_space\": %" PRIu64
		    ", \"ktls\": %" PRIu64 "}}", tls_user, tls_ktls);
		first = false;
	}
	fc_strbuf_puts(out, "]");
}

/*
 * ", "reload": {...}": reloads handled and refused, how many running
 * processes (serving workers, capture) do not run the current generation
 * yet (forkcastctl reload waits for 0), keys waiting for a restart.
 */
static void
status_reload(struct fc_strbuf *out, const struct fc_ctl *ctl)
{
	uint32_t pending = LOAD(&ctl->hdr->restart_pending);
	uint32_t gen = LOAD(&ctl->hdr->generation), lagging = 0;
	unsigned n = worker_slots(ctl);

	for (unsigned i = 0; i < n; i++) {
		const struct fc_ctl_worker *w = &ctl->hdr->workers[i];

		if (LOAD(&w->state) == FC_WORKER_SERVING && LOAD(&w->pid) != 0 &&
		    LOAD(&w->generation) != gen)
			lagging++;
	}
	if (LOAD(&ctl->hdr->capture_pid) > 0 &&
	    LOAD(&ctl->hdr->capture_generation) != gen)
		lagging++;
	fc_strbuf_printf(out, ", \"reload\": {\"requests\": %" PRIu32
	    ", \"refused\": %" PRIu32 ", \"lagging\": %" PRIu32
	    ", \"pending_restart\": [",
	    (uint32_t)LOAD(&ctl->hdr->reload_requests),
	    (uint32_t)LOAD(&ctl->hdr->reload_refused), lagging);
	if (pending & FC_CTL_PENDING_MAX_FRAME_SIZE)
		fc_strbuf_puts(out, "\"capture.max_frame_size\"");
	if (pending & FC_CTL_PENDING_SLOTS)
		fc_strbuf_printf(out, "%s\"capture.slots\"",
		    (pending & FC_CTL_PENDING_MAX_FRAME_SIZE) ? ", " : "");
	fc_strbuf_puts(out, "]}");
}

void
fc_report_summary(char *buf, size_t len, const struct fc_bus *bus,
    const struct fc_ctl *ctl)
{
	struct fc_bus_info info;
	uint64_t viewers = 0, fps_milli;
	unsigned n = worker_slots(ctl);
	char source[4 * sizeof(info.source) + 1];

	for (unsigned i = 0; i < n; i++)
		viewers += gauge(&ctl->hdr->workers[i],
		    &ctl->hdr->workers[i].streams);
	fc_bus_get_info(bus, &info);
	/* Capture wrote it: escaped, so that it cannot end the line (a
	 * newline in STATUS= would start another sd_notify assignment). */
	fc_log_escape(source, sizeof(source), NULL, info.source,
	    strnlen(info.source, sizeof(info.source)));
	fps_milli = LOAD(&bus->hdr->fps_milli);
	snprintf(buf, len, "%" PRIu64 " viewer%s, capture %s (%s %" PRIu32
	    "x%" PRIu32 " at %" PRIu64 ".%" PRIu64 " fps)", viewers,
	    viewers == 1 ? "" : "s", capture_state_name(info.state),
	    source, info.width, info.height, fps_milli / 1000,
	    fps_milli % 1000 / 100);
}

void
fc_report_status_json(struct fc_strbuf *out, const struct fc_config *cfg,
    const struct fc_bus *bus, const struct fc_ctl *ctl)
{
	struct fc_strbuf workers;
	struct totals t;
	int64_t now_mono = fc_now_mono_ns(), started;
	const char *why;
	int health;

	memset(&t, 0, sizeof(t));
	/* Workers first, into their own buffer: the totals go in front. */
	fc_strbuf_init(&workers, 0);
	status_workers(&workers, ctl, &t);

	started = LOAD(&ctl->hdr->started_mono_ns);
	fc_strbuf_printf(out, "{\"version\": \"" FC_VERSION "\", "
	    "\"generation\": %" PRIu32 ", \"uptime_s\": ",
	    (uint32_t)LOAD(&ctl->hdr->generation));
	put_fixed(out, started > 0 ? ns_since(started, now_mono) /
	    (NS_PER_S / 10) : 0, 1);
	fc_strbuf_printf(out, ", \"clients\": %" PRIu64
	    ", \"connections\": %" PRIu64 ", \"events\": %" PRIu64,
	    t.streams, t.connections, t.events);
	if (cfg != NULL)
		fc_strbuf_printf(out, ", \"max_clients\": %d"
		    ", \"workers_configured\": %d"
		    ", \"max_clients_per_ip\": %d, \"max_connections\": %d",
		    cfg->max_clients, cfg->workers, cfg->max_clients_per_ip,
		    cfg->max_connections);
	/* Admissions over the whole server (control.h): refusals by limit,
	 * and those made without the lock (limits then approximate). */
	fc_strbuf_puts(out, ", \"refused\": ");
	put_refused(out, t.refused);
	fc_strbuf_printf(out, ", \"admission_lock_timeouts\": %" PRIu64,
	    t.lock_timeouts);
	health = fc_report_health(bus, ctl, &why);
	fc_strbuf_printf(out, ", \"healthy\": %s, \"health\": ",
	    health == 200 ? "true" : "false");
	fc_strbuf_json_string(out, why);
	fc_strbuf_puts(out, ", \"capture\": ");
	status_capture(out, cfg, bus, ctl, now_mono);
	status_reload(out, ctl);
	fc_strbuf_puts(out, ", \"workers\": ");
	if (workers.failed)
		out->failed = true;
	else
		fc_strbuf_append(out, workers.data, workers.len);
	/* TLS connections by who writes their records: OpenSSL in the
	 * worker (user_space) or the kernel (ktls). */
	fc_strbuf_printf(out, ", \"tls\": {\"user_space\": %" PRIu64
	    ", \"ktls\": %" PRIu64 "}", t.tls_user, t.tls_ktls);
	fc_strbuf_printf(out, ", \"bytes\": %" PRIu64 ", \"frames_sent\": %"
	    PRIu64 ", \"frames_skipped\": %" PRIu64 "}\n", t.bytes,
	    t.frames_sent, t.frames_skipped);
	fc_strbuf_free(&workers);
}

/* --- /metrics --- */

/* "# HELP" and "# TYPE" lines of one family (help text is ours: no
 * escaping needed). */
static void
family(struct fc_strbuf *out, const char *name, const char *type,
    const char *help)
{
	fc_strbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

/* A label value, escaped as the text format wants: backslash, double
 * quote and line feed. */
static void
label_value(struct fc_strbuf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '\\': fc_strbuf_puts(out, "\\\\"); break;
		case '"': fc_strbuf_puts(out, "\\\""); break;
		case '\n': fc_strbuf_puts(out, "\\n"); break;
		default: fc_strbuf_append(out, s, 1);
		}
	}
}

/* One sample per non-empty worker: name{worker="i"} value. */
static void
per_worker(struct fc_strbuf *out, const struct fc_ctl *ctl, const char *name,
    const char *type, const char *help, size_t field)
{
	const struct fc_ctl_worker *w;
	const _Atomic uint64_t *v;
	unsigned i, n = worker_slots(ctl);

	family(out, name, type, help);
	for (i = 0; i < n; i++) {
		w = &ctl->hdr->workers[i];
		if (LOAD(&w->state) == FC_WORKER_EMPTY)
			continue;
		v = (const _Atomic uint64_t *)(const void *)((const char *)w +
		    field);
		fc_strbuf_printf(out, "%s{worker=\"%u\"} %" PRIu64 "\n", name,
		    i, strcmp(type, "gauge") == 0 ? gauge(w, v) :
		    (uint64_t)LOAD(v));
	}
}

/* The per-worker families of /metrics: one row each, one sample per worker
 * from that field of its control slot. */
static const struct {
	const char *name, *type, *help;
	size_t field;		/* offsetof(struct fc_ctl_worker, ...) */
} worker_families[] = {
	{ "forkcast_clients", "gauge", "Streaming clients now.",
	    offsetof(struct fc_ctl_worker, streams) },
	{ "forkcast_event_clients", "gauge",
	    "Event stream (/events) clients now.",
	    offsetof(struct fc_ctl_worker, events) },
	{ "forkcast_connections", "gauge",
	    "Open connections now (streaming or not).",
	    offsetof(struct fc_ctl_worker, clients) },
	{ "forkcast_connections_accepted_total", "counter",
	    "Connections accepted.", offsetof(struct fc_ctl_worker, clients_total) },
	{ "forkcast_requests_total", "counter", "HTTP requests parsed.",
	    offsetof(struct fc_ctl_worker, requests_total) },
	{ "forkcast_bytes_sent_total", "counter", "Bytes written to clients.",
	    offsetof(struct fc_ctl_worker, bytes) },
	{ "forkcast_frames_sent_total", "counter",
	    "Multipart parts (frames) written to clients.",
	    offsetof(struct fc_ctl_worker, frames_sent) },
	{ "forkcast_frames_skipped_total", "counter",
	    "Frames a slow client never saw because a newer one replaced them.",
	    offsetof(struct fc_ctl_worker, frames_skipped) },
	{ "forkcast_frames_copied_total", "counter",
	    "Frames copied from the bus into the worker's buffer.",
	    offsetof(struct fc_ctl_worker, frames_copied) },
	{ "forkcast_send_timeouts_total", "counter",
	    "Clients dropped for accepting no data for send_timeout.",
	    offsetof(struct fc_ctl_worker, drops_timeout) },
	{ "forkcast_client_addresses", "gauge",
	    "Client addresses with streams now (the worker's address table).",
	    offsetof(struct fc_ctl_worker, addr_live) },
	{ "forkcast_untracked_streams_total", "counter",
	    "Streams admitted without an address count (address table full, "
	    "no max_clients_per_ip set).",
	    offsetof(struct fc_ctl_worker, addr_untracked) },
	{ "forkcast_admission_lock_timeouts_total", "counter",
	    "Admissions made without the admission lock (limits approximate).",
	    offsetof(struct fc_ctl_worker, lock_timeouts) },
};

/* A bucket bound in seconds from milliseconds: 5 -> "0.005", 2500 ->
 * "2.5", 1000 -> "1" (the form Prometheus client libraries print). */
static void
put_le(struct fc_strbuf *out, uint32_t ms)
{
	char frac[4];
	int n;

	if (ms % 1000 == 0) {
		fc_strbuf_printf(out, "%" PRIu32, ms / 1000);
		return;
	}
	snprintf(frac, sizeof(frac), "%03" PRIu32, ms % 1000);
	for (n = 3; n > 0 && frac[n - 1] == '0'; n--)
		frac[n - 1] = '\0';
	fc_strbuf_printf(out, "%" PRIu32 ".%s", ms / 1000, frac);
}

static void
age_histogram(struct fc_strbuf *out, const struct fc_ctl *ctl)
{
	uint64_t buckets[FC_CTL_AGE_BUCKETS], sum_us = 0, cum = 0;
	const struct fc_ctl_worker *w;
	unsigned i, k, n = worker_slots(ctl);

	memset(buckets, 0, sizeof(buckets));
	for (i = 0; i < n; i++) {
		w = &ctl->hdr->workers[i];
		if (LOAD(&w->state) == FC_WORKER_EMPTY)
			continue;
		for (k = 0; k < FC_CTL_AGE_BUCKETS; k++)
			buckets[k] += LOAD(&w->age_bucket[k]);
		sum_us += LOAD(&w->age_sum_us);
	}

	family(out, "forkcast_frame_age_seconds", "histogram",
	    "Age of a frame when it is sent to a client "
	    "(capture time to the part's first bytes on the socket).");
	/* The region stores one count per bucket; Prometheus wants running
	 * totals.  _count is the +Inf total rather than age_count so the
	 * two always agree even though the counters are read one by one. */
	for (k = 0; k < FC_CTL_AGE_BUCKETS; k++) {
		cum += buckets[k];
		fc_strbuf_puts(out, "forkcast_frame_age_seconds_bucket{le=\"");
		if (k < FC_CTL_AGE_BUCKETS - 1)
			put_le(out, fc_ctl_age_bounds_ms[k]);
		else
			fc_strbuf_puts(out, "+Inf");
		fc_strbuf_printf(out, "\"} %" PRIu64 "\n", cum);
	}
	fc_strbuf_puts(out, "forkcast_frame_age_seconds_sum ");
	put_fixed(out, sum_us, 6);
	fc_strbuf_printf(out, "\nforkcast_frame_age_seconds_count %" PRIu64 "\n",
	    cum);
}

/* Sums the array of counters at byte offset field of every non-empty
 * worker slot into sum[0..count). */
static void
sum_workers(const struct fc_ctl *ctl, size_t field, unsigned count,
    uint64_t *sum)
{
	unsigned i, k, n = worker_slots(ctl);

	memset(sum, 0, count * sizeof(*sum));
	for (i = 0; i < n; i++) {
		const struct fc_ctl_worker *w = &ctl->hdr->workers[i];
		const _Atomic uint64_t *v = (const _Atomic uint64_t *)
		    (const void *)((const char *)w + field);

		if (LOAD(&w->state) == FC_WORKER_EMPTY)
			continue;
		for (k = 0; k < count; k++)
			sum[k] += LOAD(&v[k]);
	}
}

static void
refusals(struct fc_strbuf *out, const struct fc_ctl *ctl)
{
	uint64_t sum[FC_CTL_REFUSALS];

	sum_workers(ctl, offsetof(struct fc_ctl_worker, refused),
	    FC_CTL_REFUSALS, sum);
	family(out, "forkcast_refused_total", "counter",
	    "Connections and clients refused with 503 by a limit, by limit, "
	    "over all workers.");
	for (unsigned k = 0; k < FC_CTL_REFUSALS; k++)
		fc_strbuf_printf(out, "forkcast_refused_total{limit=\"%s\"} %"
		    PRIu64 "\n", refusal_names[k], sum[k]);
}

static void
http_responses(struct fc_strbuf *out, const struct fc_ctl *ctl)
{
	uint64_t sum[FC_ST_COUNT];
	unsigned k;

	sum_workers(ctl, offsetof(struct fc_ctl_worker, status), FC_ST_COUNT,
	    sum);
	family(out, "forkcast_http_responses_total", "counter",
	    "HTTP responses by status code, over all workers.");
	for (k = 0; k < FC_ST_COUNT; k++)
		fc_strbuf_printf(out, "forkcast_http_responses_total{code=\"%s\"}"
		    " %" PRIu64 "\n", status_codes[k], sum[k]);
}

/* Relay figures; families appear only on a relay (http source). */
static void
upstream_metrics(struct fc_strbuf *out, const struct fc_config *cfg,
    const struct fc_bus *bus)
{
	const struct fc_bus_header *h = bus->hdr;
	uint32_t samples = LOAD(&h->hop_delay_samples);
	char url[sizeof(cfg->url)] = "";

	if (cfg != NULL)
		fc_url_redact(cfg->url, url, sizeof(url));
	family(out, "forkcast_upstream_info", "gauge",
	    "Upstream MJPEG URL this relay reads, without its query string "
	    "(value is always 1).");
	fc_strbuf_puts(out, "forkcast_upstream_info{url=\"");
	label_value(out, url);
	fc_strbuf_puts(out, "\"} 1\n");
	family(out, "forkcast_upstream_connected", "gauge",
	    "1 while the relay's single upstream connection is open.");
	fc_strbuf_printf(out, "forkcast_upstream_connected %u\n",
	    LOAD(&h->upstream_connected) ? 1u : 0u);
	family(out, "forkcast_upstream_connects_total", "counter",
	    "Successful connections to the upstream (first one included).");
	fc_strbuf_printf(out, "forkcast_upstream_connects_total %" PRIu64 "\n",
	    (uint64_t)LOAD(&h->upstream_connects));
	family(out, "forkcast_upstream_failures_total", "counter",
	    "Upstream connects or streams that failed.");
	fc_strbuf_printf(out, "forkcast_upstream_failures_total %" PRIu64 "\n",
	    (uint64_t)LOAD(&h->upstream_failures));
	if (samples == 0)
		return;
	family(out, "forkcast_upstream_hop_delay_seconds", "gauge",
	    "Receive time minus the upstream's X-Timestamp over recent parts, "
	    "by quantile.");
	fc_strbuf_puts(out,
	    "forkcast_upstream_hop_delay_seconds{quantile=\"0.5\"} ");
	put_ns_signed(out, LOAD(&h->hop_delay_ns_p50), 6);
	fc_strbuf_puts(out,
	    "\nforkcast_upstream_hop_delay_seconds{quantile=\"0.99\"} ");
	put_ns_signed(out, LOAD(&h->hop_delay_ns_p99), 6);
	fc_strbuf_puts(out, "\n");
}

static void
capture_metrics(struct fc_strbuf *out, const struct fc_config *cfg,
    const struct fc_bus *bus, const struct fc_ctl *ctl, int64_t now_mono)
{
	const struct fc_bus_header *h = bus->hdr;
	struct fc_bus_info info;
	const char *why;
	int64_t last;
	size_t s;

	fc_bus_get_info(bus, &info);

	family(out, "forkcast_capture_info", "gauge",
	    "Capture source description (value is always 1).");
	fc_strbuf_puts(out, "forkcast_capture_info{source=\"");
	label_value(out, info.source);
	fc_strbuf_printf(out, "\",width=\"%" PRIu32 "\",height=\"%" PRIu32
	    "\"} 1\n", info.width, info.height);

	family(out, "forkcast_capture_up", "gauge",
	    "1 when capture runs or is paused for lack of viewers (/healthz 200).");
	fc_strbuf_printf(out, "forkcast_capture_up %d\n",
	    fc_report_health(bus, ctl, &why) == 200);

	family(out, "forkcast_capture_state", "gauge",
	    "Capture state: 1 for the current state, 0 for the others.");
	for (s = 0; s < NSTATES; s++)
		fc_strbuf_printf(out, "forkcast_capture_state{state=\"%s\"} %d\n",
		    capture_state_names[s], info.state == s);

	family(out, "forkcast_capture_fps", "gauge",
	    "Measured capture frame rate.");
	fc_strbuf_puts(out, "forkcast_capture_fps ");
	put_fixed(out, LOAD(&h->fps_milli), 3);
	fc_strbuf_puts(out, "\n");
	family(out, "forkcast_capture_fps_target", "gauge",
	    "Configured capture frame rate.");
	fc_strbuf_printf(out, "forkcast_capture_fps_target %" PRIu32 "\n",
	    info.fps_target);

	family(out, "forkcast_capture_frames_total", "counter",
	    "Frames published on the frame bus.");
	fc_strbuf_printf(out, "forkcast_capture_frames_total %" PRIu64 "\n",
	    (uint64_t)LOAD(&h->frames_published));
	family(out, "forkcast_capture_source_frames_total", "counter",
	    "Frames the source produced (published or dropped).");
	fc_strbuf_printf(out, "forkcast_capture_source_frames_total %" PRIu64
	    "\n", (uint64_t)LOAD(&h->frames_captured));
	family(out, "forkcast_capture_dropped_total", "counter",
	    "Frames capture did not publish, by reason.");
	fc_strbuf_printf(out,
	    "forkcast_capture_dropped_total{reason=\"broken\"} %" PRIu64 "\n"
	    "forkcast_capture_dropped_total{reason=\"oversize\"} %" PRIu64 "\n"
	    "forkcast_capture_dropped_total{reason=\"same\"} %" PRIu64 "\n"
	    "forkcast_capture_dropped_total{reason=\"rate\"} %" PRIu64 "\n",
	    (uint64_t)LOAD(&h->frames_dropped_broken),
	    (uint64_t)LOAD(&h->frames_dropped_oversize),
	    (uint64_t)LOAD(&h->frames_dropped_same),
	    (uint64_t)LOAD(&h->frames_dropped_rate));

	family(out, "forkcast_capture_encoded_frames_total", "counter",
	    "Frames forkcast encoded itself (not passed through).");
	fc_strbuf_printf(out, "forkcast_capture_encoded_frames_total %" PRIu64
	    "\n", (uint64_t)LOAD(&h->frames_encoded));
	family(out, "forkcast_capture_encode_seconds_total", "counter",
	    "Time spent encoding frames.");
	fc_strbuf_puts(out, "forkcast_capture_encode_seconds_total ");
	put_fixed(out, LOAD(&h->encode_ns_total), 9);
	fc_strbuf_puts(out, "\n");

	family(out, "forkcast_capture_restarts_total", "counter",
	    "Capture processes the supervisor restarted.");
	fc_strbuf_printf(out, "forkcast_capture_restarts_total %" PRIu32 "\n",
	    (uint32_t)LOAD(&ctl->hdr->capture_restarts));

	last = LOAD(&h->last_publish_mono_ns);
	if (last != 0) {
		family(out, "forkcast_capture_last_frame_age_seconds", "gauge",
		    "Time since the last frame was published.");
		fc_strbuf_puts(out, "forkcast_capture_last_frame_age_seconds ");
		put_fixed(out, ns_since(last, now_mono) / 1000, 6);
		fc_strbuf_puts(out, "\n");
	}

	if (is_relay(cfg, &info))
		upstream_metrics(out, cfg, bus);
}

void
fc_report_metrics(struct fc_strbuf *out, const struct fc_config *cfg,
    const struct fc_bus *bus, const struct fc_ctl *ctl)
{
	int64_t now_mono = fc_now_mono_ns(), started;

	family(out, "forkcast_generation", "gauge",
	    "Configuration generation (1 = first load, +1 per reload).");
	fc_strbuf_printf(out, "forkcast_generation %" PRIu32 "\n",
	    (uint32_t)LOAD(&ctl->hdr->generation));
	family(out, "forkcast_uptime_seconds", "gauge",
	    "Seconds since the supervisor started.");
	started = LOAD(&ctl->hdr->started_mono_ns);
	fc_strbuf_puts(out, "forkcast_uptime_seconds ");
	put_fixed(out, started > 0 ? ns_since(started, now_mono) / 1000 : 0, 6);
	fc_strbuf_puts(out, "\n");
	if (cfg != NULL) {
		family(out, "forkcast_max_clients", "gauge",
		    "Configured limit of streams and /events streams over all "
		    "workers.");
		fc_strbuf_printf(out, "forkcast_max_clients %d\n",
		    cfg->max_clients);
		family(out, "forkcast_max_clients_per_ip", "gauge",
		    "Configured limit of streams from one address over all "
		    "workers (0 = none).");
		fc_strbuf_printf(out, "forkcast_max_clients_per_ip %d\n",
		    cfg->max_clients_per_ip);
		family(out, "forkcast_max_connections", "gauge",
		    "Configured limit of open connections over all workers.");
		fc_strbuf_printf(out, "forkcast_max_connections %d\n",
		    cfg->max_connections);
	}

	capture_metrics(out, cfg, bus, ctl, now_mono);

	for (size_t i = 0; i < sizeof(worker_families) / sizeof(worker_families[0]); i++)
		per_worker(out, ctl, worker_families[i].name,
		    worker_families[i].type, worker_families[i].help,
		    worker_families[i].field);

	http_responses(out, ctl);
	refusals(out, ctl);
	age_histogram(out, ctl);
}

/* --- /events --- */

void
fc_report_event_json(struct fc_strbuf *out, const struct fc_config *cfg,
    const struct fc_bus *bus, const struct fc_ctl *ctl)
{
	const struct fc_bus_header *h = bus->hdr;
	struct fc_bus_info info;
	struct fc_frame_meta m;
	const struct fc_ctl_worker *w;
	uint64_t streams = 0, conns = 0;
	unsigned i, n = worker_slots(ctl);

	(void)cfg;
	fc_bus_get_info(bus, &info);
	for (i = 0; i < n; i++) {
		w = &ctl->hdr->workers[i];
		if (LOAD(&w->state) == FC_WORKER_EMPTY)
			continue;
		streams += gauge(w, &w->streams);
		conns += gauge(w, &w->clients);
	}

	/* One line: a newline inside "data:" would split the event. */
	fc_strbuf_puts(out, "{\"source\":");
	fc_strbuf_json_string(out, info.source);
	fc_strbuf_printf(out, ",\"width\":%" PRIu32 ",\"height\":%" PRIu32
	    ",\"fps\":", info.width, info.height);
	put_fixed(out, LOAD(&h->fps_milli), 3);
	fc_strbuf_printf(out, ",\"fps_target\":%" PRIu32 ",\"viewers\":%" PRIu64
	    ",\"connections\":%" PRIu64 ",\"state\":\"%s\",\"frames\":%" PRIu64
	    ",\"frame_ts_ms\":", info.fps_target, streams, conns,
	    capture_state_name(info.state),
	    (uint64_t)LOAD(&h->frames_published));
	if (head_meta(bus, &m) && m.ts_real_ns > 0)
		fc_strbuf_printf(out, "%" PRId64, m.ts_real_ns / NS_PER_MS);
	else
		fc_strbuf_puts(out, "null");
	/* The server's clock, so the page can tell its own clock's offset
	 * from the frame's age. */
	fc_strbuf_printf(out, ",\"now_ms\":%" PRId64 ",\"error\":",
	    fc_now_real_ns() / NS_PER_MS);
	if (info.error[0] == '\0')
		fc_strbuf_puts(out, "null");
	else
		fc_strbuf_json_string(out, info.error);
	fc_strbuf_puts(out, "}");
}

void
fc_report_event(struct fc_strbuf *out, const struct fc_config *cfg,
    const struct fc_bus *bus, const struct fc_ctl *ctl)
{
	fc_strbuf_puts(out, "event: status\ndata: ");
	fc_report_event_json(out, cfg, bus, ctl);
	fc_strbuf_puts(out, "\n\n");
}

/* --- /healthz --- */

/*
 * How long capture has gone without a frame, for the states that should
 * produce one soon.  The bus has no "capture started" stamp, so this
 * process remembers when it first saw the current capture (pid) without a
 * recent frame.  Only /healthz calls this, from one thread per worker.
 */
static int64_t
frameless_for(const struct fc_bus *bus, int64_t now_mono)
{
	static int32_t seen_pid = -1;
	static uint64_t seen_head;
	static int64_t seen_since;
	int32_t pid = LOAD(&bus->hdr->capture_pid);
	uint64_t head = atomic_load_explicit(&bus->hdr->head,
	    memory_order_acquire);

	if (pid != seen_pid || head != seen_head) {
		seen_pid = pid;
		seen_head = head;
		seen_since = now_mono;
	}
	return now_mono - seen_since;
}

int
fc_report_health(const struct fc_bus *bus, const struct fc_ctl *ctl,
    const char **why)
{
	struct fc_bus_info info;
	int64_t now = fc_now_mono_ns(), last;
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	if (bus == NULL || bus->hdr == NULL) {
		*why = "no frame bus";
		return 503;
	}
	/* Checked first: the state in the bus is the last one the dead
	 * capture published. */
	if (ctl != NULL && ctl->hdr != NULL && LOAD(&ctl->hdr->capture_held)) {
		*why = "capture exited with status 2 (bad configuration or "
		    "environment): not restarted until a reload is accepted";
		return 503;
	}
	fc_bus_get_info(bus, &info);
	last = LOAD(&bus->hdr->last_publish_mono_ns);

	switch (info.state) {
	case FC_CAPTURE_PAUSED:
		*why = "capture paused (no viewers)";
		return 200;
	case FC_CAPTURE_RUNNING:
		if (last != 0 && now - last <= HEALTH_STALL_NS) {
			*why = "capture running";
			return 200;
		}
		if (last == 0 &&
		    frameless_for(bus, now) <= HEALTH_START_GRACE_NS) {
			*why = "capture running, first frame pending";
			return 200;
		}
		*why = "capture stalled: no frame for 3 s";
		return 503;
	case FC_CAPTURE_STARTING:
		/* A restarted capture whose previous frames are recent, or a
		 * first start, gets a grace period to open its source. */
		if ((last != 0 && now - last <= HEALTH_START_GRACE_NS) ||
		    frameless_for(bus, now) <= HEALTH_START_GRACE_NS) {
			*why = "capture starting";
			return 200;
		}
		*why = "capture starting for too long";
		return 503;
	case FC_CAPTURE_FAILING:
		*why = "capture failing";
		return 503;
	case FC_CAPTURE_STOPPED:
		*why = "capture stopped";
		return 503;
	default:
		*why = "capture state unknown";
		return 503;
	}
}
