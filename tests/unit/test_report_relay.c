/*
 * server/report.c for a relay (http source): the "upstream" object in
 * /status and the forkcast_upstream_* families in /metrics, read from the
 * relay fields of the bus header; absent for other sources.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../server/report.h"

struct fixture {
	struct fc_bus *bus;
	struct fc_ctl *ctl;
	struct fc_config cfg;
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
	f->cfg.source = FC_SOURCE_HTTP;
	snprintf(f->cfg.url, sizeof(f->cfg.url), "http://origin:8080/stream");
	fc_strbuf_init(&f->out, 0);
	fc_bus_set_info(f->bus, "http", 320, 240, 15, FC_CAPTURE_RUNNING, NULL);
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

static void
has(const char *text, const char *what)
{
	if (strstr(text, what) == NULL) {
		print_error("missing <%s> in:\n%s\n", what, text);
		fail();
	}
}

static void
test_status_upstream(void **state)
{
	struct fixture *f = *state;
	struct fc_bus_header *h = f->bus->hdr;

	/* Connected, no part counted yet: the delays are null. */
	atomic_store(&h->upstream_connected, 1);
	atomic_store(&h->upstream_connects, 3);
	atomic_store(&h->upstream_failures, 2);
	fc_report_status_json(&f->out, &f->cfg, f->bus, f->ctl);
	assert_false(f->out.failed);
	has(f->out.data, "\"upstream\": {\"url\": \"http://origin:8080/stream\", "
	    "\"connected\": true, \"hop_delay_ms_p50\": null, "
	    "\"hop_delay_ms_p99\": null, \"hop_delay_samples\": 0, "
	    "\"connects\": 3, \"reconnects\": 2, \"failures\": 2}");

	/* Figures, one negative (the upstream's clock runs ahead). */
	atomic_store(&h->hop_delay_ns_p50, -1500000);	/* -1.5 ms */
	atomic_store(&h->hop_delay_ns_p99, 42123456);	/* 42.123 ms */
	atomic_store(&h->hop_delay_samples, 128);
	fc_strbuf_reset(&f->out);
	fc_report_status_json(&f->out, &f->cfg, f->bus, f->ctl);
	has(f->out.data, "\"hop_delay_ms_p50\": -1.500, "
	    "\"hop_delay_ms_p99\": 42.123, \"hop_delay_samples\": 128");
}

static void
test_metrics_upstream(void **state)
{
	struct fixture *f = *state;
	struct fc_bus_header *h = f->bus->hdr;

	atomic_store(&h->upstream_connected, 1);
	atomic_store(&h->upstream_connects, 1);
	fc_report_metrics(&f->out, &f->cfg, f->bus, f->ctl);
	has(f->out.data, "forkcast_upstream_info{url=\"http://origin:8080/stream\"} 1\n");
	has(f->out.data, "forkcast_upstream_connected 1\n");
	has(f->out.data, "forkcast_upstream_connects_total 1\n");
	has(f->out.data, "forkcast_upstream_failures_total 0\n");
	/* No samples: no gauge rather than a made-up value. */
	assert_null(strstr(f->out.data, "forkcast_upstream_hop_delay_seconds"));

	atomic_store(&h->hop_delay_ns_p50, 2500000);
	atomic_store(&h->hop_delay_ns_p99, 9000000);
	atomic_store(&h->hop_delay_samples, 10);
	fc_strbuf_reset(&f->out);
	fc_report_metrics(&f->out, &f->cfg, f->bus, f->ctl);
	has(f->out.data, "# TYPE forkcast_upstream_hop_delay_seconds gauge\n");
	has(f->out.data, "forkcast_upstream_hop_delay_seconds{quantile=\"0.5\"} 0.002500\n");
	has(f->out.data, "forkcast_upstream_hop_delay_seconds{quantile=\"0.99\"} 0.009000\n");
}

/* /status and /metrics may be public (auth unset): the upstream url is
 * shown as scheme://host:port/path, never its credentials, query or
 * fragment. */
static void
test_url_redacted(void **state)
{
	static const struct {
		const char *url, *shown;
	} cases[] = {
		{ "http://ALICE:pw-SECRET@origin:8080/stream?token=SECRET#SECRET",
		  "http://origin:8080/stream" },
		{ "http://origin/live.mjpg?user=admin&password=SECRET",
		  "http://origin:80/live.mjpg" },
		{ "http://[fd00::5]?SECRET", "http://[fd00::5]:80/" },
		/* Not a url the configuration accepts: nothing of it. */
		{ "http://origin:99999/?token=SECRET", "(invalid url)" },
	};
	struct fixture *f = *state;
	char want[200];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(f->cfg.url, sizeof(f->cfg.url), "%s", cases[i].url);
		fc_strbuf_reset(&f->out);
		fc_report_status_json(&f->out, &f->cfg, f->bus, f->ctl);
		assert_false(f->out.failed);
		snprintf(want, sizeof(want), "\"upstream\": {\"url\": \"%s\", ",
		    cases[i].shown);
		has(f->out.data, want);
		assert_null(strstr(f->out.data, "SECRET"));
		assert_null(strstr(f->out.data, "ALICE"));

		fc_strbuf_reset(&f->out);
		fc_report_metrics(&f->out, &f->cfg, f->bus, f->ctl);
		assert_false(f->out.failed);
		snprintf(want, sizeof(want),
		    "forkcast_upstream_info{url=\"%s\"} 1\n", cases[i].shown);
		has(f->out.data, want);
		assert_null(strstr(f->out.data, "SECRET"));
		assert_null(strstr(f->out.data, "ALICE"));
	}
}

/* Without a configuration the source name decides; other sources get no
 * upstream object or families at all. */
static void
test_not_a_relay(void **state)
{
	struct fixture *f = *state;

	fc_report_status_json(&f->out, NULL, f->bus, f->ctl);
	has(f->out.data, "\"upstream\": {\"url\": null, ");
	f->cfg.source = FC_SOURCE_TESTPATTERN;
	fc_bus_set_info(f->bus, "testpattern", 320, 240, 15,
	    FC_CAPTURE_RUNNING, NULL);
	fc_strbuf_reset(&f->out);
	fc_report_status_json(&f->out, &f->cfg, f->bus, f->ctl);
	assert_null(strstr(f->out.data, "upstream"));
	fc_strbuf_reset(&f->out);
	fc_report_metrics(&f->out, &f->cfg, f->bus, f->ctl);
	assert_null(strstr(f->out.data, "forkcast_upstream"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_upstream, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_metrics_upstream, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_not_a_relay, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_url_redacted, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
