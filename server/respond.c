/* Plain responses; see respond.h. */
#include "respond.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../common/version.h"

const char *
fc_respond_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 421: return "Misdirected Request";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

void
fc_respond_head(struct fc_strbuf *sb, int status, const char *content_type,
    size_t content_length, bool keep_alive, const char *allow_origin,
    const char *extra)
{
	fc_strbuf_printf(sb,
	    "HTTP/1.1 %d %s\r\n"
	    FC_SERVER_HEADER
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Connection: %s\r\n"
	    "Cache-Control: no-store\r\n",
	    status, fc_respond_reason(status), content_type, content_length,
	    keep_alive ? "keep-alive" : "close");
	if (allow_origin != NULL && allow_origin[0] != '\0')
		fc_strbuf_printf(sb, "Access-Control-Allow-Origin: %s\r\n",
		    allow_origin);
	if (extra != NULL)
		fc_strbuf_puts(sb, extra);
	fc_strbuf_puts(sb, "\r\n");
}

void
fc_respond_error(struct fc_strbuf *sb, int status, const char *detail,
    bool head_only)
{
	char body[256];
	const char *extra = NULL;
	int n;

	if (detail != NULL)
		n = snprintf(body, sizeof(body), "%s\n", detail);
	else
		n = snprintf(body, sizeof(body), "%d %s\n", status,
		    fc_respond_reason(status));
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(body))
		n = sizeof(body) - 1;
	switch (status) {
	case 401:
		extra = "WWW-Authenticate: Basic realm=\"forkcast\"\r\n";
		break;
	case 405:
		extra = "Allow: GET, HEAD\r\n";
		break;
	case 503:
		extra = "Retry-After: 1\r\n";
		break;
	default:
		break;
	}
	fc_respond_head(sb, status, "text/plain; charset=utf-8", (size_t)n,
	    false, NULL, extra);
	if (!head_only)
		fc_strbuf_append(sb, body, (size_t)n);
}

void
fc_respond_snapshot_head(struct fc_strbuf *sb, const struct fc_frame_meta *meta,
    bool keep_alive, const char *allow_origin)
{
	char extra[96];
	int64_t ts = meta->ts_real_ns > 0 ? meta->ts_real_ns : 0;

	snprintf(extra, sizeof(extra),
	    "X-Timestamp: %" PRId64 ".%06" PRId64 "\r\n"
	    "Pragma: no-cache\r\n",
	    ts / 1000000000, (ts % 1000000000) / 1000);
	fc_respond_head(sb, 200, "image/jpeg", (size_t)meta->len, keep_alive,
	    allow_origin, extra);
}

void
fc_respond_events_head(struct fc_strbuf *sb, const char *allow_origin)
{
	fc_strbuf_puts(sb,
	    "HTTP/1.1 200 OK\r\n"
	    FC_SERVER_HEADER
	    "Content-Type: text/event-stream\r\n"
	    "Cache-Control: no-store, no-cache, must-revalidate\r\n"
	    "X-Accel-Buffering: no\r\n"
	    "Connection: close\r\n");
	if (allow_origin != NULL && allow_origin[0] != '\0')
		fc_strbuf_printf(sb, "Access-Control-Allow-Origin: %s\r\n",
		    allow_origin);
	fc_strbuf_puts(sb, "\r\n");
}

/*
 * Request headers a page may send on the GETs it makes here, so that a
 * preflight for them succeeds:
 *   Authorization   fetch()/XHR with the Basic credentials of `auth`
 *   Cache-Control   EventSource polyfills over XHR (for /events) and
 *   Last-Event-ID   fetch wrappers send these two; neither changes the
 *                   answer
 * Browsers send a preflight only for what is not CORS-safelisted, so a
 * plain <img src> or EventSource never needs one.
 */
#define PREFLIGHT_HEADERS "Authorization, Cache-Control, Last-Event-ID"
/* Seconds a browser may reuse the answer (Chromium caps it at 7200): ten
 * minutes, so a changed allow_origin reaches pages soon after a reload. */
#define PREFLIGHT_MAX_AGE 600

void
fc_respond_preflight(struct fc_strbuf *sb, const char *allow_origin,
    bool keep_alive)
{
	/* No Content-Length or Content-Type: a 204 has no content (RFC
	 * 9110, 8.6).  No Vary: Origin: the answer is the same whatever
	 * Origin asks (allow_origin is one fixed value, not an echo). */
	fc_strbuf_printf(sb,
	    "HTTP/1.1 204 No Content\r\n"
	    FC_SERVER_HEADER
	    "Access-Control-Allow-Origin: %s\r\n"
	    "Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n"
	    "Access-Control-Allow-Headers: " PREFLIGHT_HEADERS "\r\n"
	    "Access-Control-Max-Age: %d\r\n"
	    "Connection: %s\r\n"
	    "\r\n",
	    allow_origin, PREFLIGHT_MAX_AGE, keep_alive ? "keep-alive" : "close");
}
