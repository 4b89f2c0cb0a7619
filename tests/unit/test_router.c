/* Unit tests for server/router.c: paths, aliases and query options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../server/router.h"

static enum fc_route
route(const char *url, struct fc_route_match *m)
{
	return fc_router_match(url, strlen(url), m);
}

static void
test_paths(void **state)
{
	static const struct {
		const char *url;
		enum fc_route want;
	} cases[] = {
		{ "/", FC_ROUTE_PAGE },
		{ "/?", FC_ROUTE_PAGE },
		{ "/?foo=bar", FC_ROUTE_PAGE },
		{ "/stream", FC_ROUTE_STREAM },
		{ "/video_feed", FC_ROUTE_STREAM },
		{ "/?action=stream", FC_ROUTE_STREAM },
		{ "/?x=1&action=stream&fps=2", FC_ROUTE_STREAM },
		{ "/snapshot", FC_ROUTE_SNAPSHOT },
		{ "/?action=snapshot", FC_ROUTE_SNAPSHOT },
		{ "/?action=snapshot_0", FC_ROUTE_SNAPSHOT },
		{ "/?action=stream_0", FC_ROUTE_STREAM },
		{ "/stream.mjpg", FC_ROUTE_STREAM },
		{ "/stream.mjpg?fps=5", FC_ROUTE_STREAM },
		{ "/?action=stream_1", FC_ROUTE_NOT_FOUND },
		{ "/?action=snapshot_1", FC_ROUTE_NOT_FOUND },
		{ "/?action=stream_", FC_ROUTE_NOT_FOUND },
		{ "/stream.mjpg/", FC_ROUTE_NOT_FOUND },
		{ "/stream.mjpeg", FC_ROUTE_NOT_FOUND },
		{ "/?action=snapshot_0&action=", FC_ROUTE_NOT_FOUND },
		{ "/status", FC_ROUTE_STATUS },
		{ "/status?view=page", FC_ROUTE_STATUS_PAGE },
		{ "/status?x=1&view=page&fps=3", FC_ROUTE_STATUS_PAGE },
		{ "http://cam.example/status?view=page", FC_ROUTE_STATUS_PAGE },
		{ "/status/?view=page", FC_ROUTE_NOT_FOUND },
		{ "/events?view=page", FC_ROUTE_EVENTS },
		{ "/?view=page", FC_ROUTE_PAGE },
		{ "/metrics", FC_ROUTE_METRICS },
		{ "/events", FC_ROUTE_EVENTS },
		{ "/healthz", FC_ROUTE_HEALTH },
		{ "/healthz?x", FC_ROUTE_HEALTH },
		{ "/stream#frag", FC_ROUTE_STREAM },
		{ "http://cam.example:8080/stream?fps=3", FC_ROUTE_STREAM },
		{ "http://cam.example", FC_ROUTE_PAGE },
		{ "/favicon.ico", FC_ROUTE_NOT_FOUND },
		{ "/stream/", FC_ROUTE_NOT_FOUND },
		{ "/Stream", FC_ROUTE_NOT_FOUND },
		{ "/streamx", FC_ROUTE_NOT_FOUND },
		{ "//stream", FC_ROUTE_NOT_FOUND },
		{ "/stream%20", FC_ROUTE_NOT_FOUND },
		{ "/?action=", FC_ROUTE_NOT_FOUND },
		{ "/?action=shell", FC_ROUTE_NOT_FOUND },
		{ "/status/../stream", FC_ROUTE_NOT_FOUND },
		{ "*", FC_ROUTE_BAD },
		{ "stream", FC_ROUTE_BAD },
		{ "", FC_ROUTE_BAD },
	};
	struct fc_route_match m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (route(cases[i].url, &m) != cases[i].want)
			fail_msg("%s: route %d, want %d", cases[i].url,
			    (int)m.route, (int)cases[i].want);
		assert_int_equal(m.route, cases[i].want);
	}
	assert_int_equal(fc_router_match(NULL, 0, &m), FC_ROUTE_BAD);
}

/* The length counts, not a NUL: "/streamXYZ" cut to 7 bytes is /stream. */
static void
test_length(void **state)
{
	struct fc_route_match m;

	(void)state;
	assert_int_equal(fc_router_match("/streamXYZ", 7, &m), FC_ROUTE_STREAM);
	assert_int_equal(fc_router_match("/status?fps=999", 7, &m),
	    FC_ROUTE_STATUS);
	assert_int_equal(fc_router_match("/status?view=page", 7, &m),
	    FC_ROUTE_STATUS);
}

static void
test_options(void **state)
{
	struct fc_route_match m;

	(void)state;
	assert_int_equal(route("/stream", &m), FC_ROUTE_STREAM);
	assert_int_equal(m.fps, 0);
	assert_int_equal(m.maxtime, 0);
	assert_int_equal(m.framing, FC_FRAMING_AUTO);

	assert_int_equal(route("/stream?fps=1&maxtime=30&framing=full", &m),
	    FC_ROUTE_STREAM);
	assert_int_equal(m.fps, 1);
	assert_int_equal(m.maxtime, 30);
	assert_int_equal(m.framing, FC_FRAMING_FULL);

	assert_int_equal(route("/?action=stream&framing=advance&fps=240", &m),
	    FC_ROUTE_STREAM);
	assert_int_equal(m.fps, 240);
	assert_int_equal(m.framing, FC_FRAMING_ADVANCE);

	/* Every stream alias takes the per-client options. */
	{
		static const char *const aliases[] = {
			"/stream", "/video_feed", "/stream.mjpg",
			"/?action=stream", "/?action=stream_0",
		};
		char url[128];

		for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]);
		    i++) {
			snprintf(url, sizeof(url), "%s%cfps=5&maxtime=9&"
			    "framing=advance", aliases[i],
			    strchr(aliases[i], '?') != NULL ? '&' : '?');
			if (route(url, &m) != FC_ROUTE_STREAM)
				fail_msg("%s: route %d", url, (int)m.route);
			assert_int_equal(m.fps, 5);
			assert_int_equal(m.maxtime, 9);
			assert_int_equal(m.framing, FC_FRAMING_ADVANCE);
		}
		/* Options before the action count too. */
		assert_int_equal(route("/?fps=3&action=stream_0", &m),
		    FC_ROUTE_STREAM);
		assert_int_equal(m.fps, 3);
	}

	/* Last one wins; unknown keys and empty pairs are ignored. */
	assert_int_equal(route("/stream?fps=2&&fps=7&zoom=9&=3&flag", &m),
	    FC_ROUTE_STREAM);
	assert_int_equal(m.fps, 7);

	assert_int_equal(route("/stream?maxtime=604800", &m), FC_ROUTE_STREAM);
	assert_int_equal(m.maxtime, 604800);
}

static void
test_bad_values(void **state)
{
	static const char *const bad[] = {
		"/stream?fps=0", "/stream?fps=241", "/stream?fps=-1",
		"/stream?fps=", "/stream?fps", "/stream?fps=1x",
		"/stream?fps=+5", "/stream?fps= 5", "/stream?fps=5.0",
		"/stream?fps=99999999999999999999", "/stream?fps=0x10",
		"/stream?maxtime=0", "/stream?maxtime=604801",
		"/stream?maxtime=abc", "/stream?framing=FULL",
		"/stream?framing=", "/stream?framing=fullx",
		"/?action=stream&fps=1000",
		"/?action=stream_0&fps=0", "/stream.mjpg?maxtime=x",
		"/?action=snapshot_0&framing=none",
		"/status?view=", "/status?view", "/status?view=full",
		"/status?view=Page", "/status?view=page&view=pagex",
		"/stream?view=x",
	};
	struct fc_route_match m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (route(bad[i], &m) != FC_ROUTE_BAD)
			fail_msg("%s: route %d, want bad", bad[i], (int)m.route);
	}
}

static void
test_framing_for(void **state)
{
	(void)state;
	assert_int_equal(fc_router_framing_for(NULL), FC_FRAMING_FULL);
	assert_int_equal(fc_router_framing_for(""), FC_FRAMING_FULL);
	assert_int_equal(fc_router_framing_for("curl/7.88.1"), FC_FRAMING_FULL);
	assert_int_equal(fc_router_framing_for("Lavf/59.27.100"),
	    FC_FRAMING_FULL);
	assert_int_equal(fc_router_framing_for("python-requests/2.28"),
	    FC_FRAMING_FULL);
	assert_int_equal(fc_router_framing_for(
	    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
	    "Gecko) Chrome/120.0 Safari/537.36"), FC_FRAMING_ADVANCE);
	assert_int_equal(fc_router_framing_for("Firefox/115"),
	    FC_FRAMING_ADVANCE);
	assert_int_equal(fc_router_framing_for("x AppleWebKit/605"),
	    FC_FRAMING_ADVANCE);
	assert_int_equal(fc_router_framing_for("HeadlessChrome/120"),
	    FC_FRAMING_ADVANCE);
	assert_int_equal(fc_router_framing_for("Safari"), FC_FRAMING_ADVANCE);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(fc_router_name(FC_ROUTE_STREAM), "stream");
	assert_string_equal(fc_router_name(FC_ROUTE_NOT_FOUND), "not-found");
	assert_string_equal(fc_router_name(FC_ROUTE_HEALTH), "healthz");
	assert_string_equal(fc_router_name(FC_ROUTE_STATUS_PAGE),
	    "status-page");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_length),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_framing_for),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
