/*
 * Unit tests for server/report.c: /status JSON, /metrics exposition, the
 * /events status event and /healthz, over a real bus and control region.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/clock.h"
#include "../../server/report.h"

struct fixture {
	struct fc_bus *bus;
	struct fc_ctl *ctl;
	struct fc_strbuf out;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->bus = fc_bus_create(4, 65536);
	f->ctl = fc_ctl_create();
	if (f->bus == NULL || f->ctl == NULL)
		return -1;
	fc_strbuf_init(&f->out, 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	fc_strbuf_free(&f->out);
	fc_bus_close(f->bus);
	fc_ctl_close(f->ctl);
	free(f);
	return 0;
}

/* --- a small strict JSON checker (RFC 8259 grammar) --- */

static const char *json_value(const char *p, int depth);

static const char *
ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *
json_string(const char *p)
{
	int i;

	if (*p++ != '"')
		return NULL;
	for (;;) {
		unsigned char c = (unsigned char)*p++;

		if (c == '"')
			return p;
		if (c < 0x20)
			return NULL;	/* raw control character (or NUL) */
		if (c != '\\')
			continue;
		c = (unsigned char)*p++;
		if (c == 'u') {
			for (i = 0; i < 4; i++)
				if (!strchr("0123456789abcdefABCDEF", *p++) ||
				    p[-1] == '\0')
					return NULL;
		} else if (!strchr("\"\\/bfnrt", c) || c == '\0')
			return NULL;
	}
}

static const char *
json_number(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (*p == '.') {
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return p;
}

static const char *
json_value(const char *p, int depth)
{
	if (depth > 32)
		return NULL;
	p = ws(p);
	switch (*p) {
	case '{':
		p = ws(p + 1);
		if (*p == '}')
			return p + 1;
		for (;;) {
			if ((p = json_string(ws(p))) == NULL)
				return NULL;
			p = ws(p);
			if (*p++ != ':')
				return NULL;
			if ((p = json_value(p, depth + 1)) == NULL)
				return NULL;
			p = ws(p);
			if (*p == '}')
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	case '[':
		p = ws(p + 1);
		if (*p == ']')
			return p + 1;
		for (;;) {
			if ((p = json_value(p, depth + 1)) == NULL)
				return NULL;
			p = ws(p);
			if (*p == ']')
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	case '"':
		return json_string(p);
	case 't':
		return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
	case 'f':
		return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
	case 'n':
		return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
	default:
		return json_number(p);
	}
}

/* True when s is exactly one JSON object (plus whitespace). */
static bool
json_valid(const char *s)
{
	const char *end;

	if (*ws(s) != '{')
		return false;
	end = json_value(s, 0);
	return end != NULL && *ws(end) == '\0';
}

static void
test_json_checker(void **state)
{
	(void)state;
	/* The checker itself must be able to say no. */
	assert_true(json_valid("{\"a\": [1, 2.5, -0.1e3, null, true], \"b\": {}}"));
	assert_false(json_valid("{\"a\": 1,}"));
	assert_false(json_valid("{\"a\": nan}"));
	assert_false(json_valid("{\"a\": inf}"));
	assert_false(json_valid("{\"a\": 01}"));
	assert_false(json_valid("{\"a\": \"x\ny\"}"));
	assert_false(json_valid("{\"a\": [1, 2}"));
	assert_false(json_valid("{\"a\": 1} x"));
	assert_false(json_valid("{\"a\": \"\\x\"}"));
}

/* --- helpers --- */

static void
set_worker(struct fc_ctl *ctl, unsigned i, int32_t pid, uint64_t streams,
    uint64_t conns, uint64_t bytes, uint64_t sent, uint64_t skipped)
{
	struct fc_ctl_worker *w = &ctl->hdr->workers[i];

	atomic_store(&w->pid, pid);
	atomic_store(&w->state, FC_WORKER_SERVING);
	atomic_store(&w->streams, streams);
	atomic_store(&w->clients, conns);
	atomic_store(&w->bytes, bytes);
	atomic_store(&w->frames_sent, sent);
	atomic_store(&w->frames_skipped, skipped);
	atomic_store(&w->clients_total, conns + 10);
	atomic_store(&w->requests_total, conns + 20);
}

static void
publish(struct fc_bus *bus, int64_t ts_real_ns)
{
	static const unsigned char jpeg[] = { 0xff, 0xd8, 1, 2, 3, 0xff, 0xd9 };
	struct fc_frame_meta m;

	memset(&m, 0, sizeof(m));
	m.width = 64;
	m.height = 48;
	m.ts_real_ns = ts_real_ns;
	m.ts_mono_ns = fc_now_mono_ns();
	assert_int_equal(fc_bus_publish(bus, jpeg, sizeof(jpeg), &m), 0);
}

static void
assert_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("missing \"%s\" in:\n%s", needle, hay);
}

static void
assert_lacks(const char *hay, const char *needle)
{
	if (strstr(hay, needle) != NULL)
		fail_msg("unexpected \"%s\" in:\n%s", needle, hay);
}

/* --- /status --- */

static void
test_status_fresh(void **state)
{
	struct fixture *f = *state;

	fc_report_status_json(&f->out, NULL, f->bus, f->ctl);
	assert_false(f->out.failed);
	assert_true(json_valid(f->out.data));
	assert_contains(f->out.data, "\"generation\": 0");
	assert_contains(f->out.data, "\"clients\": 0");
	assert_contains(f->out.data, "\"state\": \"starting\"");
	assert_contains(f->out.data, "\"workers\": []");
	assert_contains(f->out.data, "\"error\": null");
	assert_contains(f->out.data, "\"last_frame_age_ms\": null");
	assert_contains(f->out.data, "\"fps\": 0.000");
	assert_lacks(f->out.data, "max_clients");
}

static void
test_status_populated(void **state)
{
	struct fixture *f = *state;
	struct fc_bus_header *h = f->bus->hdr;
	struct fc_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.max_clients = 4096;
	cfg.workers = 3;
	atomic_store(&f->ctl->hdr->generation, 7);
	atomic_store(&f->ctl->hdr->capture_pid, 4321);
	/* Hostile-looking text from capture must stay a JSON string. */
	fc_bus_set_info(f->bus, "te\"st\\pat\ntern", 1280, 720, 30,
	    FC_CAPTURE_FAILING, "open /dev/video0: \"No such\"\tdevice\x01");
	atomic_store(&h->fps_milli, 29950);
	atomic_store(&h->frames_captured, 400);
	atomic_store(&h->frames_dropped_broken, 2);
	atomic_store(&h->frames_dropped_oversize, 3);
	atomic_store(&h->frames_dropped_same, 4);
	atomic_store(&h->frames_encoded, 10);
	atomic_store(&h->encode_ns_total, 10 * 4500000);	/* 4.5 ms each */
	publish(f->bus, fc_now_real_ns());
	set_worker(f->ctl, 0, 1001, 2, 3, 1000, 50, 5);
	set_worker(f->ctl, 2, 1003, 5, 6, 2000, 70, 7);
	/* Slot 4's worker was reaped (pid 0), not yet replaced: its gauges
	 * are left-overs and read as 0. */
	set_worker(f->ctl, 4, 0, 50, 60, 0, 0, 0);
	atomic_store(&f->ctl->hdr->workers[4].events, 40);
	cfg.max_clients_per_ip = 3;
	cfg.max_connections = 8192;
	atomic_store(&f->ctl->hdr->workers[0].events, 4);
	atomic_store(&f->ctl->hdr->workers[2].events, 1);
	atomic_store(&f->ctl->hdr->workers[0].addr_live, 2);
	atomic_store(&f->ctl->hdr->workers[2].lock_timeouts, 3);
	atomic_store(&f->ctl->hdr->workers[0].refused[FC_CTL_OVER_PER_ADDR - 1],
	    6);
	atomic_store(&f->ctl->hdr->workers[2].refused[FC_CTL_OVER_PER_ADDR - 1],
	    1);
	atomic_store(&f->ctl->hdr->workers[2].refused[
	    FC_CTL_OVER_CONNECTIONS - 1], 9);
	atomic_store(&f->ctl->hdr->workers[0].tls_user, 2);
	atomic_store(&f->ctl->hdr->workers[2].tls_user, 1);
	atomic_store(&f->ctl->hdr->workers[2].tls_ktls, 4);

	fc_report_status_json(&f->out, &cfg, f->bus, f->ctl);
	assert_false(f->out.failed);
	if (!json_valid(f->out.data))
		fail_msg("invalid JSON:\n%s", f->out.data);
	assert_contains(f->out.data, "\"generation\": 7");
	assert_contains(f->out.data, "\"clients\": 7, \"connections\": 9");
	assert_contains(f->out.data, "\"max_clients\": 4096");
	assert_contains(f->out.data, "\"pid\": 4321");
	assert_contains(f->out.data, "\"state\": \"failing\"");
	assert_contains(f->out.data, "\"source\": \"te\\\"st\\\\pat\\ntern\"");
	assert_contains(f->out.data, "\"width\": 1280, \"height\": 720");
	assert_contains(f->out.data, "\"fps_target\": 30, \"fps\": 29.950");
	assert_contains(f->out.data, "\"frames\": 1, \"frames_captured\": 400");
	assert_contains(f->out.data,
	    "\"dropped\": {\"broken\": 2, \"oversize\": 3, \"same\": 4, \"rate\": 0}");
	assert_contains(f->out.data, "\"encode_ms_avg\": 4.500");
	assert_contains(f->out.data,
	    "\"error\": \"open /dev/video0: \\\"No such\\\"\\tdevice\\u0001\"");
	assert_contains(f->out.data, "\"healthy\": false");
	/* Slots 0 and 2, not the empty slot 1. */
	assert_contains(f->out.data, "{\"index\": 0, \"pid\": 1001, "
	    "\"state\": \"serving\", \"clients\": 2, \"connections\": 3");
	assert_contains(f->out.data, "{\"index\": 2, \"pid\": 1003");
	assert_lacks(f->out.data, "\"index\": 1,");
	assert_contains(f->out.data, "\"clients\": 5, \"connections\": 6, "
	    "\"bytes\": 2000, \"frames_sent\": 70, \"frames_skipped\": 7");
	assert_contains(f->out.data, "\"clients_total\": 16, \"requests\": 26");
	/* Totals at the end. */
	assert_contains(f->out.data, "\"bytes\": 3000, \"frames_sent\": 120, "
	    "\"frames_skipped\": 12}");
	assert_contains(f->out.data, "{\"index\": 4, \"pid\": 0, "
	    "\"state\": \"serving\", \"clients\": 0, \"connections\": 0");
	/* Limits: per worker, totals, configured values. */
	assert_contains(f->out.data, "\"clients\": 7, \"connections\": 9, "
	    "\"events\": 5");
	assert_contains(f->out.data, "\"max_clients_per_ip\": 3, "
	    "\"max_connections\": 8192");
	assert_contains(f->out.data, "\"refused\": {\"connections\": 9, "
	    "\"clients\": 0, \"clients_per_ip\": 7, \"address_table_full\": 0}, "
	    "\"admission_lock_timeouts\": 3");
	assert_contains(f->out.data, "\"events\": 4, \"addresses\": 2, "
	    "\"untracked_streams\": 0, \"lock_timeouts\": 0, \"refused\": "
	    "{\"connections\": 0, \"clients\": 0, \"clients_per_ip\": 6, "
	    "\"address_table_full\": 0}, \"tls\": {\"user_space\": 2, "
	    "\"ktls\": 0}}");
	/* TLS connections by who writes the records: per worker, total. */
	assert_contains(f->out.data, "\"tls\": {\"user_space\": 1, "
	    "\"ktls\": 4}}");
	assert_contains(f->out.data, "\"tls\": {\"user_space\": 3, "
	    "\"ktls\": 4}, \"bytes\": 3000");
}

/*
 * "reload": requests and refusals as the supervisor counted them;
 * "lagging" counts serving workers and a running capture that do not run
 * the published generation (forkcastctl reload waits for 0), not slots
 * that are starting, draining or left over; "pending_restart" names the
 * restart_pending bits.
 */
static void
test_status_reload(void **state)
{
	struct fixture *f = *state;
	struct fc_ctl_header *hdr = f->ctl->hdr;

	atomic_store(&hdr->generation, 5);
	atomic_store(&hdr->reload_requests, 4);
	atomic_store(&hdr->reload_refused, 1);
	atomic_store(&hdr->restart_pending, FC_CTL_PENDING_MAX_FRAME_SIZE |
	    FC_CTL_PENDING_SLOTS);
	set_worker(f->ctl, 0, 1001, 0, 0, 0, 0, 0);
	atomic_store(&hdr->workers[0].generation, 5);
	set_worker(f->ctl, 1, 1002, 0, 0, 0, 0, 0);
	atomic_store(&hdr->workers[1].generation, 4);		/* lagging */
	set_worker(f->ctl, 2, 1003, 0, 0, 0, 0, 0);
	atomic_store(&hdr->workers[2].state, FC_WORKER_RETIRING);
	atomic_store(&hdr->workers[2].generation, 4);		/* draining */
	set_worker(f->ctl, 3, 0, 0, 0, 0, 0, 0);
	atomic_store(&hdr->workers[3].generation, 3);		/* reaped */
	set_worker(f->ctl, 4, 1005, 0, 0, 0, 0, 0);
	atomic_store(&hdr->workers[4].state, FC_WORKER_STARTING);
	atomic_store(&hdr->capture_pid, 4321);
	atomic_store(&hdr->capture_generation, 4);		/* lagging */

	fc_report_status_json(&f->out, NULL, f->bus, f->ctl);
	assert_false(f->out.failed);
	assert_true(json_valid(f->out.data));
	assert_contains(f->out.data, "\"reload\": {\"requests\": 4, "
	    "\"refused\": 1, \"lagging\": 2, \"pending_restart\": "
	    "[\"capture.max_frame_size\", \"capture.slots\"]}");

	/* Both catch up; then capture exits (its old generation no longer
	 * counts). */
	atomic_store(&hdr->workers[1].generation, 5);
	atomic_store(&hdr->capture_generation, 5);
	atomic_store(&hdr->restart_pending, FC_CTL_PENDING_SLOTS);
	fc_strbuf_reset(&f->out);
	fc_report_status_json(&f->out, NULL, f->bus, f->ctl);
	assert_contains(f->out.data, "\"lagging\": 0, \"pending_restart\": "
	    "[\"capture.slots\"]}");
	atomic_store(&hdr->capture_generation, 4);
	atomic_store(&hdr->capture_pid, 0);
	atomic_store(&hdr->restart_pending, 0);
	fc_strbuf_reset(&f->out);
	fc_report_status_json(&f->out, NULL, f->bus, f->ctl);
	assert_contains(f->out.data, "\"lagging\": 0, \"pending_restart\": "
	    "[]}");
}

static void
test_status_limit(void **state)
{
	struct fixture *f = *state;
	struct fc_strbuf small;
	unsigned i;

	for (i = 0; i < FC_CTL_MAX_WORKERS; i++)
		set_worker(f->ctl, i, (int32_t)(1000 + i), i, i, i, i, i);
	/* A buffer limit is reported through failed, never overrun. */
	fc_strbuf_init(&small, 128);
	fc_report_status_json(&small, NULL, f->bus, f->ctl);
	assert_true(small.failed);
	fc_strbuf_free(&small);
	/* Every slot in use still gives valid JSON. */
	fc_report_status_json(&f->out, NULL, f->bus, f->ctl);
	assert_false(f->out.failed);
	assert_true(json_valid(f->out.data));
	assert_contains(f->out.data, "\"index\": 255,");
}

/* --- /metrics --- */

/*
 * Checks the whole exposition: every sample belongs to a family announced
 * by HELP and TYPE before it, counters end in _total, label sets are
 * well-formed, every value is a finite number.
 */
static void
check_exposition(const char *text)
{
	char typed[64][96], name[96], *copy, *line, *save = NULL;
	int ntyped = 0, i, helps = 0;

	copy = strdup(text);
	assert_non_null(copy);
	assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char type[16], *p, *end;
		size_t n;
		bool found = false;

		if (strncmp(line, "# HELP ", 7) == 0) {
			helps++;
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			assert_int_equal(sscanf(line, "# TYPE %95s %15s",
			    name, type), 2);
			assert_true(strcmp(type, "counter") == 0 ||
			    strcmp(type, "gauge") == 0 ||
			    strcmp(type, "histogram") == 0);
			if (strcmp(type, "counter") == 0) {
				n = strlen(name);
				assert_true(n > 6 &&
				    strcmp(name + n - 6, "_total") == 0);
			}
			assert_true(ntyped < 64);
			/* Announced once. */
			for (i = 0; i < ntyped; i++)
				assert_string_not_equal(typed[i], name);
			strcpy(typed[ntyped++], name);
			continue;
		}
		assert_true(line[0] != '#');
		n = strcspn(line, "{ ");
		assert_true(n > 0 && n < sizeof(name));
		memcpy(name, line, n);
		name[n] = '\0';
		for (i = 0; i < ntyped && !found; i++) {
			size_t tl = strlen(typed[i]);

			found = strcmp(name, typed[i]) == 0 ||
			    (strncmp(name, typed[i], tl) == 0 &&
			    (strcmp(name + tl, "_bucket") == 0 ||
			    strcmp(name + tl, "_sum") == 0 ||
			    strcmp(name + tl, "_count") == 0));
		}
		if (!found)
			fail_msg("sample without TYPE: %s", line);
		p = line + n;
		if (*p == '{') {
			/* name="value"(,name="value")* } */
			p++;
			for (;;) {
				while ((*p >= 'a' && *p <= 'z') || *p == '_')
					p++;
				assert_true(p[0] == '=' && p[1] == '"');
				p += 2;
				while (*p != '"') {
					assert_true(*p != '\0');
					if (*p == '\\') {
						assert_non_null(strchr("\\\"n",
						    p[1]));
						p++;
					}
					p++;
				}
				p++;
				if (*p == '}')
					break;
				assert_int_equal(*p++, ',');
			}
			p++;
		}
		assert_int_equal(*p++, ' ');
		(void)strtod(p, &end);
		if (end == p || *end != '\0')
			fail_msg("bad value: %s", line);
		assert_null(strstr(p, "nan"));
		assert_null(strstr(p, "inf"));
	}
	assert_int_equal(helps, ntyped);
	free(copy);
}

static void
test_metrics(void **state)
{
	struct fixture *f = *state;
	struct fc_bus_header *h = f->bus->hdr;
	static const int64_t ages_ms[] = { 3, 7, 7, 150, 5000 };
	size_t i;

	fc_bus_set_info(f->bus, "testpattern", 640, 480, 25,
	    FC_CAPTURE_RUNNING, NULL);
	atomic_store(&f->ctl->hdr->generation, 2);
	atomic_store(&h->fps_milli, 24990);
	atomic_store(&h->frames_dropped_oversize, 9);
	publish(f->bus, fc_now_real_ns());
	publish(f->bus, fc_now_real_ns());
	set_worker(f->ctl, 0, 1001, 2, 3, 1000, 50, 5);
	set_worker(f->ctl, 3, 1004, 1, 1, 77, 8, 0);
	atomic_store(&f->ctl->hdr->workers[0].status[FC_ST_404], 4);
	atomic_store(&f->ctl->hdr->workers[3].status[FC_ST_404], 1);
	atomic_store(&f->ctl->hdr->workers[3].status[FC_ST_OTHER], 2);
	/* Ages spread over two workers; the histogram sums them. */
	for (i = 0; i < sizeof(ages_ms) / sizeof(ages_ms[0]); i++)
		fc_ctl_observe_age(&f->ctl->hdr->workers[i % 2 ? 3 : 0],
		    ages_ms[i] * 1000);
	/* An empty slot's leftovers are not reported. */
	atomic_store(&f->ctl->hdr->workers[1].bytes, 999);
	atomic_store(&f->ctl->hdr->workers[1].refused[FC_CTL_OVER_CLIENTS - 1],
	    99);
	atomic_store(&f->ctl->hdr->workers[0].refused[FC_CTL_OVER_CLIENTS - 1],
	    2);
	atomic_store(&f->ctl->hdr->workers[3].refused[FC_CTL_OVER_CLIENTS - 1],
	    1);
	atomic_store(&f->ctl->hdr->workers[3].events, 6);

	fc_report_metrics(&f->out, NULL, f->bus, f->ctl);
	assert_false(f->out.failed);
	check_exposition(f->out.data);

	assert_contains(f->out.data,
	    "# TYPE forkcast_bytes_sent_total counter\n"
	    "forkcast_bytes_sent_total{worker=\"0\"} 1000\n"
	    "forkcast_bytes_sent_total{worker=\"3\"} 77\n#");
	assert_contains(f->out.data,
	    "forkcast_frames_sent_total{worker=\"0\"} 50\n");
	assert_contains(f->out.data,
	    "forkcast_frames_skipped_total{worker=\"0\"} 5\n");
	assert_contains(f->out.data,
	    "forkcast_connections_accepted_total{worker=\"3\"} 11\n");
	assert_contains(f->out.data, "forkcast_clients{worker=\"0\"} 2\n");
	assert_contains(f->out.data, "forkcast_clients{worker=\"3\"} 1\n");
	assert_contains(f->out.data,
	    "forkcast_event_clients{worker=\"3\"} 6\n");
	assert_contains(f->out.data,
	    "# TYPE forkcast_refused_total counter\n"
	    "forkcast_refused_total{limit=\"connections\"} 0\n"
	    "forkcast_refused_total{limit=\"clients\"} 3\n"
	    "forkcast_refused_total{limit=\"clients_per_ip\"} 0\n"
	    "forkcast_refused_total{limit=\"address_table_full\"} 0\n");
	assert_contains(f->out.data,
	    "forkcast_admission_lock_timeouts_total{worker=\"0\"} 0\n");
	assert_lacks(f->out.data, "worker=\"1\"");
	assert_contains(f->out.data,
	    "forkcast_http_responses_total{code=\"404\"} 5\n");
	assert_contains(f->out.data,
	    "forkcast_http_responses_total{code=\"other\"} 2\n");
	assert_contains(f->out.data,
	    "forkcast_http_responses_total{code=\"200\"} 0\n");
	assert_contains(f->out.data, "\nforkcast_capture_frames_total 2\n");
	assert_contains(f->out.data,
	    "forkcast_capture_dropped_total{reason=\"oversize\"} 9\n");
	assert_contains(f->out.data, "\nforkcast_capture_fps 24.990\n");
	assert_contains(f->out.data, "\nforkcast_capture_up 1\n");
	assert_contains(f->out.data,
	    "forkcast_capture_state{state=\"running\"} 1\n");
	assert_contains(f->out.data,
	    "forkcast_capture_state{state=\"paused\"} 0\n");
	assert_contains(f->out.data, "\nforkcast_generation 2\n");
	assert_contains(f->out.data, "# TYPE forkcast_uptime_seconds gauge\n");
	assert_contains(f->out.data, "forkcast_capture_info{source="
	    "\"testpattern\",width=\"640\",height=\"480\"} 1\n");

	/* Cumulative buckets: 3 | 7 7 | ... | 150 | ... | 5000 (+Inf). */
	assert_contains(f->out.data,
	    "# TYPE forkcast_frame_age_seconds histogram\n"
	    "forkcast_frame_age_seconds_bucket{le=\"0.001\"} 0\n"
	    "forkcast_frame_age_seconds_bucket{le=\"0.002\"} 0\n"
	    "forkcast_frame_age_seconds_bucket{le=\"0.003\"} 1\n"
	    "forkcast_frame_age_seconds_bucket{le=\"0.005\"} 1\n"
	    "forkcast_frame_age_seconds_bucket{le=\"0.007\"} 3\n"
	    "forkcast_frame_age_seconds_bucket{le=\"0.01\"} 3\n"
	    "forkcast_frame_age_seconds_bucket{le=\"0.015\"} 3\n"
	    "forkcast_frame_age_seconds_bucket{le=\"0.02\"} 3\n"
	    "forkcast_frame_age_seconds_bucket{le=\"0.035\"} 3\n"
	    "forkcast_frame_age_seconds_bucket{le=\"0.05\"} 3\n"
	    "forkcast_frame_age_seconds_bucket{le=\"0.075\"} 3\n"
	    "forkcast_frame_age_seconds_bucket{le=\"0.1\"} 3\n"
	    "forkcast_frame_age_seconds_bucket{le=\"0.2\"} 4\n"
	    "forkcast_frame_age_seconds_bucket{le=\"0.5\"} 4\n"
	    "forkcast_frame_age_seconds_bucket{le=\"1\"} 4\n"
	    "forkcast_frame_age_seconds_bucket{le=\"2\"} 4\n"
	    "forkcast_frame_age_seconds_bucket{le=\"+Inf\"} 5\n"
	    "forkcast_frame_age_seconds_sum 5.167000\n"
	    "forkcast_frame_age_seconds_count 5\n");
}

static void
test_metrics_label_escaping(void **state)
{
	struct fixture *f = *state;

	fc_bus_set_info(f->bus, "a\"b\\c\nd", 1, 2, 3, FC_CAPTURE_STOPPED,
	    NULL);
	fc_report_metrics(&f->out, NULL, f->bus, f->ctl);
	assert_false(f->out.failed);
	check_exposition(f->out.data);
	assert_contains(f->out.data,
	    "forkcast_capture_info{source=\"a\\\"b\\\\c\\nd\",");
	assert_contains(f->out.data, "\nforkcast_capture_up 0\n");
	/* Nothing observed: every bucket 0, sum 0. */
	assert_contains(f->out.data,
	    "forkcast_frame_age_seconds_bucket{le=\"+Inf\"} 0\n"
	    "forkcast_frame_age_seconds_sum 0.000000\n"
	    "forkcast_frame_age_seconds_count 0\n");
}

/* --- /events --- */

static void
test_event(void **state)
{
	struct fixture *f = *state;
	int64_t ts = fc_now_real_ns() - 40 * INT64_C(1000000);
	const char *data, *json;
	char *one;
	long long now_ms, frame_ms;
	const char *p;

	fc_bus_set_info(f->bus, "files\n", 320, 240, 15, FC_CAPTURE_PAUSED,
	    NULL);
	atomic_store(&f->bus->hdr->fps_milli, 14500);
	set_worker(f->ctl, 1, 1002, 3, 4, 0, 0, 0);
	publish(f->bus, ts - 1000000000);
	publish(f->bus, ts);

	fc_report_event(&f->out, NULL, f->bus, f->ctl);
	assert_false(f->out.failed);
	data = f->out.data;
	assert_int_equal(strncmp(data, "event: status\ndata: {", 21), 0);
	assert_int_equal(strcmp(data + f->out.len - 2, "\n\n"), 0);
	/* Exactly one data line: two newlines in all after "event:". */
	json = data + strlen("event: status\ndata: ");
	assert_ptr_equal(strchr(json, '\n'), data + f->out.len - 2);
	one = strndup(json, (size_t)(data + f->out.len - 2 - json));
	assert_non_null(one);
	if (!json_valid(one))
		fail_msg("invalid JSON: %s", one);
	assert_contains(one, "\"source\":\"files\\n\"");
	assert_contains(one, "\"width\":320,\"height\":240,\"fps\":14.500");
	assert_contains(one, "\"fps_target\":15,\"viewers\":3,"
	    "\"connections\":4,\"state\":\"paused\",\"frames\":2");
	p = strstr(one, "\"frame_ts_ms\":");
	assert_non_null(p);
	frame_ms = strtoll(p + 14, NULL, 10);
	assert_int_equal(frame_ms, ts / 1000000);	/* the newest frame */
	p = strstr(one, "\"now_ms\":");
	assert_non_null(p);
	now_ms = strtoll(p + 9, NULL, 10);
	assert_true(now_ms - frame_ms >= 40 && now_ms - frame_ms < 10000);
	free(one);
}

/* /status?view=page answers with exactly the object of an event. */
static void
test_event_json(void **state)
{
	struct fixture *f = *state;
	struct fc_strbuf ev;
	const char *want;

	fc_bus_set_info(f->bus, "testpattern", 640, 360, 15,
	    FC_CAPTURE_RUNNING, "cam \"gone\"");
	set_worker(f->ctl, 0, 1001, 2, 3, 0, 0, 0);
	publish(f->bus, fc_now_real_ns());

	fc_report_event_json(&f->out, NULL, f->bus, f->ctl);
	assert_false(f->out.failed);
	assert_true(f->out.len > 2);
	assert_int_equal(f->out.data[0], '{');
	assert_int_equal(f->out.data[f->out.len - 1], '}');
	assert_null(memchr(f->out.data, '\n', f->out.len));
	if (!json_valid(f->out.data))
		fail_msg("invalid JSON: %s", f->out.data);
	assert_contains(f->out.data, "\"viewers\":2,\"connections\":3,"
	    "\"state\":\"running\"");
	assert_contains(f->out.data, "\"error\":\"cam \\\"gone\\\"\"}");

	/* The event wraps the same object (now_ms aside, which may have
	 * moved on by a millisecond: compare up to it). */
	fc_strbuf_init(&ev, 0);
	fc_report_event(&ev, NULL, f->bus, f->ctl);
	assert_false(ev.failed);
	want = strstr(f->out.data, "\"now_ms\":");
	assert_non_null(want);
	assert_int_equal(strncmp(ev.data, "event: status\ndata: ", 20), 0);
	assert_int_equal(strncmp(ev.data + 20, f->out.data,
	    (size_t)(want - f->out.data)), 0);
	assert_int_equal(strcmp(ev.data + ev.len - 2, "\n\n"), 0);
	fc_strbuf_free(&ev);
}

static void
test_event_torn_head(void **state)
{
	struct fixture *f = *state;
	struct fc_bus_header *h = f->bus->hdr;
	struct fc_bus_slot *slot;
	uint64_t head;

	fc_report_event(&f->out, NULL, f->bus, f->ctl);
	assert_contains(f->out.data, "\"frame_ts_ms\":null");
	assert_contains(f->out.data, "\"source\":\"\"");

	publish(f->bus, fc_now_real_ns());
	head = fc_bus_head(f->bus);
	/* A writer stuck in the head slot (odd seqcount): no timestamp is
	 * better than a torn one. */
	slot = (struct fc_bus_slot *)((char *)h + sizeof(*h) +
	    (head % h->slot_count) * h->slot_stride);
	atomic_fetch_add(&slot->seqcount, 1);
	fc_strbuf_reset(&f->out);
	fc_report_event(&f->out, NULL, f->bus, f->ctl);
	assert_contains(f->out.data, "\"frame_ts_ms\":null");
	atomic_fetch_add(&slot->seqcount, 1);
	fc_strbuf_reset(&f->out);
	fc_report_event(&f->out, NULL, f->bus, f->ctl);
	assert_lacks(f->out.data, "\"frame_ts_ms\":null");
}

/* --- /healthz --- */

static void
test_health(void **state)
{
	struct fixture *f = *state;
	struct fc_bus_header *h = f->bus->hdr;
	const char *why = NULL;
	int64_t now = fc_now_mono_ns();

	/* A fresh capture gets a grace period to start. */
	assert_int_equal(fc_report_health(f->bus, f->ctl, &why), 200);
	assert_non_null(why);

	fc_bus_set_info(f->bus, "testpattern", 1, 1, 1, FC_CAPTURE_RUNNING,
	    NULL);
	publish(f->bus, fc_now_real_ns());
	assert_int_equal(fc_report_health(f->bus, f->ctl, &why), 200);
	assert_string_equal(why, "capture running");

	/* Running but no frame for 4 s: stalled. */
	atomic_store(&h->last_publish_mono_ns, now - 4 * INT64_C(1000000000));
	assert_int_equal(fc_report_health(f->bus, f->ctl, &why), 503);
	assert_non_null(strstr(why, "stalled"));

	/* Paused on purpose: healthy even with old frames. */
	fc_bus_set_info(f->bus, "testpattern", 1, 1, 1, FC_CAPTURE_PAUSED,
	    NULL);
	atomic_store(&h->last_publish_mono_ns, now - 600 * INT64_C(1000000000));
	assert_int_equal(fc_report_health(f->bus, f->ctl, &why), 200);
	assert_non_null(strstr(why, "paused"));

	fc_bus_set_info(f->bus, "v4l2", 1, 1, 1, FC_CAPTURE_FAILING, "gone");
	atomic_store(&h->last_publish_mono_ns, fc_now_mono_ns());
	assert_int_equal(fc_report_health(f->bus, f->ctl, &why), 503);
	assert_string_equal(why, "capture failing");

	fc_bus_set_info(f->bus, "v4l2", 1, 1, 1, FC_CAPTURE_STOPPED, NULL);
	assert_int_equal(fc_report_health(f->bus, f->ctl, &why), 503);
	assert_string_equal(why, "capture stopped");

	fc_bus_set_info(f->bus, "v4l2", 1, 1, 1, (enum fc_capture_state)77,
	    NULL);
	assert_int_equal(fc_report_health(f->bus, f->ctl, &why), 503);

	/* why may be NULL; a missing bus is unhealthy, not a crash. */
	fc_bus_set_info(f->bus, "v4l2", 1, 1, 1, FC_CAPTURE_RUNNING, NULL);
	assert_int_equal(fc_report_health(f->bus, f->ctl, NULL), 200);
	assert_int_equal(fc_report_health(NULL, f->ctl, &why), 503);

	/* Held by the supervisor (capture exited with FC_EXIT_CONFIG): 503
	 * with that reason, whatever the bus last said; without a control
	 * region the bus decides. */
	atomic_store(&f->ctl->hdr->capture_held, 1);
	assert_int_equal(fc_report_health(f->bus, f->ctl, &why), 503);
	assert_non_null(strstr(why, "exited with status 2"));
	assert_non_null(strstr(why, "not restarted until a reload is accepted"));
	assert_int_equal(fc_report_health(f->bus, NULL, &why), 200);
	fc_strbuf_reset(&f->out);
	fc_report_status_json(&f->out, NULL, f->bus, f->ctl);
	assert_contains(f->out.data, "\"healthy\": false");
	assert_contains(f->out.data, "not restarted until a reload is accepted");
	atomic_store(&f->ctl->hdr->capture_held, 0);
	assert_int_equal(fc_report_health(f->bus, f->ctl, &why), 200);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_checker),
		cmocka_unit_test_setup_teardown(test_status_fresh, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_status_populated, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_status_reload, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_status_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_label_escaping,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_json, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_event_torn_head, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_health, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
