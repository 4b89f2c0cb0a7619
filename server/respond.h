/*
 * Plain (non-streaming) responses: status lines, headers, and the short
 * text bodies of error answers.  Pure text building into a strbuf; the
 * caller queues the bytes on the socket.
 */
#ifndef FC_RESPOND_H
#define FC_RESPOND_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/bus.h"
#include "../common/strbuf.h"

/* Reason phrase of a status code ("Not Found"); "Unknown" otherwise. */
const char *fc_respond_reason(int status);

/*
 * Appends a response head: status line, Server, Content-Type,
 * Content-Length, Connection (keep-alive or close), Cache-Control:
 * no-store, Access-Control-Allow-Origin when allow_origin is non-empty,
 * then `extra` (complete "Name: value\r\n" lines, may be NULL) and the
 * blank line.
 */
void fc_respond_head(struct fc_strbuf *sb, int status,
    const char *content_type, size_t content_length, bool keep_alive,
    const char *allow_origin, const char *extra);

/*
 * Appends a complete error answer that closes the connection: a short
 * text/plain body ("404 Not Found\n", or `detail` + "\n" when given),
 * plus the headers the status calls for: WWW-Authenticate for 401, Allow
 * for 405, Retry-After: 1 for 503.  head_only leaves the body out but
 * keeps its Content-Length (HEAD).
 */
void fc_respond_error(struct fc_strbuf *sb, int status, const char *detail,
    bool head_only);

/* Appends the head of a snapshot (image/jpeg, X-Timestamp of the capture
 * time, no-cache) for a frame of meta->len bytes. */
void fc_respond_snapshot_head(struct fc_strbuf *sb,
    const struct fc_frame_meta *meta, bool keep_alive,
    const char *allow_origin);

/* Appends the head of a text/event-stream response (no length,
 * Connection: close, no-cache, X-Accel-Buffering: no). */
void fc_respond_events_head(struct fc_strbuf *sb, const char *allow_origin);

/*
 * Appends the whole answer to a CORS preflight (OPTIONS): 204 No Content
 * with Access-Control-Allow-Origin: allow_origin (non-empty),
 * -Allow-Methods: GET, HEAD, OPTIONS, -Allow-Headers: Authorization,
 * Cache-Control, Last-Event-ID, and -Max-Age: 600.
 */
void fc_respond_preflight(struct fc_strbuf *sb, const char *allow_origin,
    bool keep_alive);

#endif
