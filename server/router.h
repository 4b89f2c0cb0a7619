/*
 * Routing: maps a request target to an endpoint and parses the per-client
 * stream options of the query string.  Pure functions, no I/O.
 *
 *   /                         FC_ROUTE_PAGE (any query but action=...)
 *   /stream, /video_feed,
 *   /stream.mjpg,
 *   /?action=stream,
 *   /?action=stream_0         FC_ROUTE_STREAM
 *   /snapshot,
 *   /?action=snapshot,
 *   /?action=snapshot_0       FC_ROUTE_SNAPSHOT
 *   /status                   FC_ROUTE_STATUS
 *   /status?view=page         FC_ROUTE_STATUS_PAGE (the viewer page's poll)
 *   /metrics /events /healthz
 *   anything else             FC_ROUTE_NOT_FOUND
 * The stream_0 / snapshot_0 actions and /stream.mjpg are the URLs of
 * mjpg-streamer's first input and of ustreamer-style clients, so players
 * and home-automation integrations written for those servers work here.
 *
 * Query options (on every route; only streams use the first three):
 *   fps=N        1..240, caps this client's frame rate
 *   maxtime=S    1..FC_ROUTER_MAX_MAXTIME, ends the stream after S seconds
 *   framing=full|advance
 *   view=page    on /status: the compact object of one /events event
 * A bad value makes the request FC_ROUTE_BAD (400).  Unknown keys are
 * ignored.  The target may be origin-form ("/a?b") or absolute-form
 * ("http://host/a?b").
 */
#ifndef FC_ROUTER_H
#define FC_ROUTER_H

#include <stddef.h>

#define FC_ROUTER_MAX_FPS 240
#define FC_ROUTER_MAX_MAXTIME (7 * 24 * 3600)

enum fc_route {
	FC_ROUTE_NOT_FOUND = 0,
	FC_ROUTE_BAD,		/* malformed target or bad option: 400 */
	FC_ROUTE_PAGE,
	FC_ROUTE_STREAM,
	FC_ROUTE_SNAPSHOT,
	FC_ROUTE_STATUS,
	FC_ROUTE_STATUS_PAGE,	/* /status?view=page: one event's object */
	FC_ROUTE_METRICS,
	FC_ROUTE_EVENTS,
	FC_ROUTE_HEALTH,
};

enum fc_framing {
	FC_FRAMING_AUTO = 0,	/* pick from the User-Agent */
	FC_FRAMING_FULL,	/* headers with Content-Length before each JPEG */
	FC_FRAMING_ADVANCE,	/* next part's headers right after each JPEG */
};

struct fc_route_match {
	enum fc_route route;
	int fps;			/* 0 = no cap */
	int maxtime;			/* seconds, 0 = unlimited */
	enum fc_framing framing;
	int view_page;			/* view=page was given */
};

/* Routes the request target url (len bytes, need not be NUL-ended).
 * Returns m->route; m is always filled. */
enum fc_route fc_router_match(const char *url, size_t len,
    struct fc_route_match *m);

/* Framing for a client: FC_FRAMING_ADVANCE when the User-Agent names a
 * browser engine (Mozilla, Chrome, Safari, Firefox, AppleWebKit), else
 * FC_FRAMING_FULL.  ua may be NULL or "". */
enum fc_framing fc_router_framing_for(const char *user_agent);

/* Name of a route for logs. */
const char *fc_router_name(enum fc_route route);

#endif
