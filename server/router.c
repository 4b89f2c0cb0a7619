/* Routing and query options; see router.h. */
#include "router.h"

#include <stdbool.h>
#include <string.h>

#include <http_parser.h>

struct span {
	const char *p;
	size_t n;
};

static bool
span_is(struct span s, const char *want)
{
	size_t n = strlen(want);

	return s.n == n && memcmp(s.p, want, n) == 0;
}

/* Decimal in [lo, hi]; digits only, no sign, no spaces. */
static bool
parse_int(struct span s, int lo, int hi, int *out)
{
	long v = 0;
	size_t i;

	if (s.n == 0 || s.n > 9)
		return false;
	for (i = 0; i < s.n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
		v = v * 10 + (s.p[i] - '0');
	}
	if (v < lo || v > hi)
		return false;
	*out = (int)v;
	return true;
}

/* Applies one key=value pair; false on a bad value of a known key. */
static bool
apply_option(struct fc_route_match *m, struct span key, struct span val,
    struct span *action)
{
	if (span_is(key, "fps"))
		return parse_int(val, 1, FC_ROUTER_MAX_FPS, &m->fps);
	if (span_is(key, "maxtime"))
		return parse_int(val, 1, FC_ROUTER_MAX_MAXTIME, &m->maxtime);
	if (span_is(key, "framing")) {
		if (span_is(val, "full"))
			m->framing = FC_FRAMING_FULL;
		else if (span_is(val, "advance"))
			m->framing = FC_FRAMING_ADVANCE;
		else
			return false;
		return true;
	}
	if (span_is(key, "view")) {
		/* The only other view of /status is the default one. */
		if (!span_is(val, "page"))
			return false;
		m->view_page = 1;
		return true;
	}
	if (span_is(key, "action"))
		*action = val;
	return true;
}

static bool
parse_query(struct fc_route_match *m, struct span q, struct span *action)
{
	size_t i = 0, start, eq;
	struct span key, val;

	while (i < q.n) {
		start = i;
		eq = (size_t)-1;
		while (i < q.n && q.p[i] != '&') {
			if (q.p[i] == '=' && eq == (size_t)-1)
				eq = i;
			i++;
		}
		if (eq == (size_t)-1) {
			key = (struct span){ q.p + start, i - start };
			val = (struct span){ q.p + i, 0 };
		} else {
			key = (struct span){ q.p + start, eq - start };
			val = (struct span){ q.p + eq + 1, i - eq - 1 };
		}
		if (key.n > 0 && !apply_option(m, key, val, action))
			return false;
		i++;	/* skip '&' */
	}
	return true;
}

enum fc_route
fc_router_match(const char *url, size_t len, struct fc_route_match *m)
{
	struct http_parser_url u;
	struct span path = { "/", 1 }, query = { "", 0 }, action = { NULL, 0 };

	memset(m, 0, sizeof(*m));
	m->route = FC_ROUTE_BAD;
	if (url == NULL || len == 0)
		return m->route;
	http_parser_url_init(&u);
	if (http_parser_parse_url(url, len, 0, &u) != 0)
		return m->route;
	if (u.field_set & (1 << UF_PATH)) {
		path.p = url + u.field_data[UF_PATH].off;
		path.n = u.field_data[UF_PATH].len;
		if (path.n == 0 || path.p[0] != '/')
			return m->route;	/* "*" and other oddities */
	}
	if (u.field_set & (1 << UF_QUERY)) {
		query.p = url + u.field_data[UF_QUERY].off;
		query.n = u.field_data[UF_QUERY].len;
	}
	if (!parse_query(m, query, &action))
		return m->route;

	if (span_is(path, "/")) {
		if (action.p == NULL)
			m->route = FC_ROUTE_PAGE;
		else if (span_is(action, "stream") ||
		    span_is(action, "stream_0"))
			m->route = FC_ROUTE_STREAM;
		else if (span_is(action, "snapshot") ||
		    span_is(action, "snapshot_0"))
			m->route = FC_ROUTE_SNAPSHOT;
		else
			m->route = FC_ROUTE_NOT_FOUND;
	} else if (span_is(path, "/stream") || span_is(path, "/video_feed") ||
	    span_is(path, "/stream.mjpg"))
		m->route = FC_ROUTE_STREAM;
	else if (span_is(path, "/snapshot"))
		m->route = FC_ROUTE_SNAPSHOT;
	else if (span_is(path, "/status"))
		m->route = m->view_page ? FC_ROUTE_STATUS_PAGE :
		    FC_ROUTE_STATUS;
	else if (span_is(path, "/metrics"))
		m->route = FC_ROUTE_METRICS;
	else if (span_is(path, "/events"))
		m->route = FC_ROUTE_EVENTS;
	else if (span_is(path, "/healthz"))
		m->route = FC_ROUTE_HEALTH;
	else
		m->route = FC_ROUTE_NOT_FOUND;
	return m->route;
}

enum fc_framing
fc_router_framing_for(const char *ua)
{
	static const char *const engines[] = {
		"Mozilla", "Chrome", "Safari", "Firefox", "AppleWebKit",
	};
	size_t i;

	if (ua == NULL)
		return FC_FRAMING_FULL;
	for (i = 0; i < sizeof(engines) / sizeof(engines[0]); i++)
		if (strstr(ua, engines[i]) != NULL)
			return FC_FRAMING_ADVANCE;
	return FC_FRAMING_FULL;
}

const char *
fc_router_name(enum fc_route route)
{
	switch (route) {
	case FC_ROUTE_BAD: return "bad";
	case FC_ROUTE_PAGE: return "page";
	case FC_ROUTE_STREAM: return "stream";
	case FC_ROUTE_SNAPSHOT: return "snapshot";
	case FC_ROUTE_STATUS: return "status";
	case FC_ROUTE_STATUS_PAGE: return "status-page";
	case FC_ROUTE_METRICS: return "metrics";
	case FC_ROUTE_EVENTS: return "events";
	case FC_ROUTE_HEALTH: return "healthz";
	case FC_ROUTE_NOT_FOUND: break;
	}
	return "not-found";
}
