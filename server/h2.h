/*
 * HTTP/2 on a TLS connection whose ALPN chose "h2" (Debian's libnghttp2:
 * framing, HPACK, flow control and the flood limits are nghttp2's).
 *
 * Every request stream becomes a client of its own, a "stream client"
 * (struct fc_client with h2conn set, no socket): the worker routes it with
 * the same code as an HTTP/1.1 request and it answers through the same
 * state machine (client.c), so every route, auth, the limits (which then
 * count streams), snapshots that wait and multipart streams behave as on
 * HTTP/1.1.  What differs is where its output goes: its queue is not
 * written to a socket but pulled by nghttp2:
 *
 *   - the response head the state machine builds (HTTP/1.1 text, ours) is
 *     turned into a HEADERS frame (hop-by-hop fields dropped, names in
 *     lower case) the first time the stream flushes;
 *   - the rest of its queue goes out as DATA when nghttp2 asks for it, that
 *     is when the stream's flow-control window, the connection's window
 *     and the connection's output buffer all have room.  A multipart
 *     stream chooses its next frame at that moment, always the newest one
 *     (client.c stream_pump, with the stream client "writable" exactly
 *     while nghttp2 waits for its data): a stream whose window is closed
 *     holds nothing back from the others on the connection, and a stream
 *     whose window stays closed for send_timeout is reset.
 *
 * DATA frames are built without a copy into nghttp2 (NGHTTP2_DATA_FLAG_NO_COPY):
 * the frame header and payload go from the stream's queue (a frame's bytes
 * from its read-only mapping) straight into the connection's output
 * buffer, which client.c writes through TLS.
 *
 * Limits (SETTINGS and nghttp2 options): at most FC_H2_MAX_STREAMS
 * concurrent streams per connection, a 16 KiB header list per request,
 * and nghttp2's defences against SETTINGS, PING and RST_STREAM floods
 * (rapid reset), CONTINUATION floods and unanswered control frames; a
 * connection that trips one is closed: after a GOAWAY for rapid reset and
 * CONTINUATION floods, at once for SETTINGS and PING floods (their sender
 * does not read what we send).
 */
#ifndef FC_H2_H
#define FC_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"

#define FC_H2_MAX_STREAMS 128		/* SETTINGS_MAX_CONCURRENT_STREAMS */
#define FC_H2_MAX_HEADER_LIST 16384	/* bytes of names and values */
#define FC_H2_OUTBUF 32768		/* connection output buffer */

/* What the worker does for the h2 layer. */
struct fc_h2_ops {
	/* A new request stream on conn: its stream client (fd -1, the
	 * connection's peer), linked wherever the worker keeps clients;
	 * NULL refuses the stream. */
	struct fc_client *(*open)(void *arg, struct fc_client *conn);
	/* The request of stream client s is complete (s->rq->hp.req):
	 * route it, start its answer and pump it. */
	void (*request)(void *arg, struct fc_client *s);
	/* The stream of s is closed (ended, reset by the peer, or the
	 * connection is going): the worker closes s. */
	void (*closed)(void *arg, struct fc_client *s);
};

/*
 * Makes conn (a TLS client whose handshake chose "h2") an HTTP/2
 * connection: state FC_CLIENT_H2, our SETTINGS queued, and the bytes
 * already read into conn->rq fed first.  -1 on allocation failure.
 */
int fc_h2_start(struct fc_client *conn, const struct fc_h2_ops *ops,
    void *arg, struct fc_client_env *env);

/* Feeds received bytes; -1 when the connection must close (protocol
 * error, flood: GOAWAY is queued when there is still a way to send it). */
int fc_h2_recv(struct fc_client *conn, struct fc_client_env *env,
    const uint8_t *data, size_t len);

/*
 * Moves what nghttp2 has to send into the connection's output buffer;
 * returns the bytes now in it (0: nothing to send).  *out points at them.
 * Called again only once the caller wrote them all.
 */
size_t fc_h2_fill(struct fc_client *conn, struct fc_client_env *env,
    const char **out);

/* Puts conn on the list of connections to serve again once the current
 * work is done (it has more to read, or output). */
void fc_h2_mark(struct fc_client *conn, struct fc_client_env *env);

/* Whether the connection has no reason to stay open (both sides done,
 * or GOAWAY exchanged and no stream left). */
bool fc_h2_done(const struct fc_client *conn);

/* One stream client of conn, NULL when it has none (closing them all). */
struct fc_client *fc_h2_first_stream(const struct fc_client *conn);

/* Stream clients of conn right now. */
unsigned fc_h2_streams(const struct fc_client *conn);

/* Server is retiring: GOAWAY, no new streams; open ones finish. */
void fc_h2_goaway(struct fc_client *conn);

/*
 * client.c flush() of a stream client with bytes queued: the head goes
 * out as HEADERS the first time, then nghttp2 is told that data waits.
 * Marks the connection for sending (env->h2_dirty).
 */
void fc_h2_stream_output(struct fc_client *s, struct fc_client_env *env);

/* The worker closes stream client s: its stream is reset unless its end
 * was already submitted; nghttp2 forgets it.  Idempotent. */
void fc_h2_stream_detach(struct fc_client *s);

/* Frees conn's session (its stream clients must be closed first). */
void fc_h2_free(struct fc_client *conn);

#endif
