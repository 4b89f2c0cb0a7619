/*
 * One HTTP connection of a worker and its state machine:
 *
 *   READING ──request──> (worker routes it) ──> RESPONDING ──keep-alive──┐
 *      ^                                   │                             │
 *      └───────────────────────────────────┼─────────────────────────────┘
 *                                          ├──> STREAMING  (multipart until
 *                                          │               close/maxtime)
 *                                          ├──> EVENTS     (SSE until close)
 *                                          └──> WAITING    (a snapshot waits
 *                                                  for a fresh frame, then
 *                                                  RESPONDING)
 *
 * A response that ends the connection (errors, Connection: close) is
 * followed by LINGERING: the write side is shut down and what the client
 * still sends is read and dropped until it closes or FC_CLIENT_LINGER_NS
 * pass.  Closing a socket with unread input makes the kernel send a RST,
 * which can destroy the answer (a 414 or 431 refused before the request
 * ended) before the client has read it.
 *
 * All sockets are non-blocking and registered edge-triggered; `writable`
 * remembers whether the last write hit EAGAIN.  Output is an iovec queue
 * over buffers the client owns (hdr, body) or static data (the page),
 * then at most one range of a referenced frame's sealed file, sent with
 * sendfile() (frame.h): frame bytes are never copied per client.
 *
 * TLS connections (a listen address marked tls) read and write through
 * OpenSSL: the same state machine, with SSL_read for read() and, for
 * output, 16 KiB records gathered from the queue (the frame's bytes from
 * its read-only mapping) and written with SSL_write, or, when the kernel
 * took the connection over (kTLS), the frame range with SSL_sendfile.
 * One difference in frame choice: a record that found the socket full
 * stays inside OpenSSL and must be written again with the same bytes, so
 * a TLS part that began is never abandoned for a newer frame; the part
 * still only starts when the socket was writable.
 *
 * Streaming frame choice (DESIGN.md "Fan-out rules"): a part is started
 * only when the socket is writable and then always from the worker's
 * newest frame.  If the first write of a part finds the socket full (no
 * byte sent), the part is abandoned and chosen again when EPOLLOUT comes,
 * so a slow client never commits to an old frame.  The part in flight
 * holds the client's only frame reference.
 *
 * TCP_NOTSENT_LOWAT keeps our side's queue short (EPOLLOUT only below
 * 16 KiB unsent), but that is still most of a small frame, and a client
 * that reads slowly also has a receive buffer full of older pictures
 * (128 KiB and up on Linux: seconds at 50 KB/s).  So before a new part,
 * TCP_INFO tells how much is still unsent (tcpi_notsent_bytes) and how
 * much the peer has not read (its advertised window, tcpi_snd_wnd, below
 * the largest seen), and the next frame waits (re-checked on every new
 * frame and tick) while the client has not taken what it was sent.  A
 * plain-TCP stream in full framing is also asked afresh, one byte of the
 * next part's boundary at a time, and paced by the rate it reads at
 * (peer_backlogged() in client.c), so what a slow reader shows next is
 * about one part's reading time old instead of queued behind old frames.
 */
#ifndef FC_CLIENT_H
#define FC_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../common/config.h"
#include "../common/control.h"
#include "../common/strbuf.h"
#include "../common/tls.h"
#include "frame.h"
#include "http.h"
#include "router.h"
#include "stream.h"

#define FC_CLIENT_INBUF 4096
#define FC_CLIENT_KEEPALIVE_NS INT64_C(1000000000)	/* resend after 1 s */
#define FC_CLIENT_LINGER_NS INT64_C(2000000000)	/* drain before close */
/* A client with more than NOTSENT_MAX bytes still queued on our side or
 * more than BACKLOG_MAX unread in its receive buffer gets its next frame
 * later (see peer_backlogged() in client.c). */
#define FC_CLIENT_NOTSENT_MAX (4 * 1024)
#define FC_CLIENT_BACKLOG_MAX (32 * 1024)
/* ... but never waits longer than this (a window that shrank for good). */
#define FC_CLIENT_BACKLOG_WAIT_NS INT64_C(1000000000)
/* New and slow readers; the rules are peer_backlogged()'s (client.c).
 * DRAINED: with this much or more unread, one waits.  PROBE_NS: a waiting
 * one is asked again with one lead byte at most this often.  SLOW_WAIT_NS:
 * the longest it waits after its last part.  RATE_STEP_NS, RATE_SLOTS:
 * what it read is recorded once a step, this many records kept.
 * PACE_MIN_NS: the span of records its pace needs.  RATE_SLACK: percent
 * taken off the time its pace says a part takes.  FAST_PERCENT: a reader
 * at this share of the stream's rate keeps up.  RECHECK_NS, RECHECKS: an
 * answer still on the way is looked at again this much later, at most this
 * many times in a row. */
#define FC_CLIENT_DRAINED (8 * 1024)
#define FC_CLIENT_PROBE_NS INT64_C(100000000)
#define FC_CLIENT_SLOW_WAIT_NS INT64_C(2000000000)
#define FC_CLIENT_RATE_STEP_NS INT64_C(1000000000)
#define FC_CLIENT_RATE_SLOTS 8
#define FC_CLIENT_PACE_MIN_NS INT64_C(3000000000)
#define FC_CLIENT_RATE_SLACK 10
#define FC_CLIENT_FAST_PERCENT 80
#define FC_CLIENT_RECHECK_NS INT64_C(2000000)
#define FC_CLIENT_RECHECKS 3
/* Parts a client found caught up (all sent and acknowledged) gets before
 * it is asked again (peer_backlogged() in client.c). */
#define FC_CLIENT_CHECK_SKIP 2
/* Bytes a peer may leave unread of what came before our newest part or
 * event and still count as alive for send_timeout, or, on a stream, must
 * read to count (see peer_alive() in client.c): rides over the window's
 * rounding. */
#define FC_CLIENT_PROGRESS_MIN 1024

/* How a stream's reader keeps up (peer_backlogged() in client.c). */
enum fc_reader {
	FC_READER_FAST = 0,	/* takes each part as it comes */
	FC_READER_NEW,		/* not measured yet */
	FC_READER_SLOW		/* reads slower than the stream */
};

enum fc_client_state {
	FC_CLIENT_READING = 0,	/* waiting for (the rest of) a request */
	FC_CLIENT_RESPONDING,	/* sending a plain response */
	FC_CLIENT_STREAMING,	/* multipart/x-mixed-replace */
	FC_CLIENT_EVENTS,	/* text/event-stream */
	FC_CLIENT_LINGERING,	/* answer sent, write side shut: draining */
	FC_CLIENT_WAITING,	/* a snapshot waiting for a fresh frame; the
				 * worker answers it (fc_client_respond) */
	FC_CLIENT_H2,		/* an HTTP/2 connection (h2.h): its requests
				 * are stream clients of their own */
};

/* What the worker must do after a client call. */
enum fc_client_step {
	FC_STEP_OK = 0,		/* wait for the next event */
	FC_STEP_REQUEST,	/* c->hp.req holds a request: route it */
	FC_STEP_CLOSE,		/* close and free the client */
	FC_STEP_H2,		/* TLS chose h2: the worker makes the
				 * connection HTTP/2 (fc_h2_start), then pumps */
};

/* Worker-wide facts the state machine reads and counters it bumps. */
struct fc_client_env {
	const struct fc_config *cfg;
	struct fc_ctl_worker *stats;	/* this worker's slot (single writer) */
	struct fc_frame *current;	/* newest frame copied from the bus */
	int64_t now_mono_ns;		/* loop time, set before each call */
	uint32_t fps_milli;		/* capture's measured rate x 1000 (0:
					 * not known; the configured one) */
	/* HTTP/2 connections with output to send once the current work is
	 * done (h2.h; list through h2_dirty_next). */
	struct fc_client *h2_dirty;
	/* Streams to look at again FC_CLIENT_RECHECK_NS after they asked
	 * (peer_backlogged() in client.c), oldest first (list through
	 * recheck_next; fc_client_recheck()). */
	struct fc_client *recheck, *recheck_tail;
};

/*
 * What only a client that sends requests needs: the parser and the input
 * buffer (most of a client's memory).  A client that starts streaming
 * never parses again, so it gives this back: thousands of viewers cost
 * little more than their sockets.
 */
struct fc_client_req {
	struct fc_http_parser hp;
	struct {			/* an HTTP/2 request (h2.c) */
		uint32_t hdr_bytes;	/* header list so far */
		int status;		/* a problem in it: its 4xx, 0 = none */
		bool method;		/* :method is one we serve */
		bool routed;		/* answered or handed to the worker */
	} h2;
	size_t in_len;
	char in[FC_CLIENT_INBUF];	/* bytes read, not yet parsed */
};

struct fc_client {
	int fd;
	enum fc_client_state state;
	struct fc_client *prev, *next;		/* worker's list of all clients */
	struct fc_client *sprev, *snext;	/* list of streaming clients */
	struct sockaddr_storage peer;
	socklen_t peerlen;

	/* request side */
	struct fc_client_req *rq;	/* NULL once the client streams */
	int64_t request_start_ns;	/* timer for client_timeout */
	bool served_one;		/* a response went out (keep-alive idle) */
	bool peer_eof;			/* read returned 0 */
	bool close_after;		/* close when the output is sent */

	/* output side */
	struct fc_iovq q;
	struct fc_strbuf hdr;		/* response head (and small bodies) */
	struct fc_strbuf body;		/* generated body (status, events) */
	struct fc_frame *frame;		/* frame being sent: the one pinned ref */
	bool writable;			/* no EAGAIN since the last EPOLLOUT */
	int64_t blocked_since_ns;	/* output waiting on the socket, 0 = no */

	/* streaming */
	enum fc_framing framing;
	bool part_queued;		/* q holds a part, not yet committed */
	uint64_t last_seq;		/* newest frame committed, 0 = none */
	int64_t interval_ns;		/* fps cap, 0 = none */
	int64_t last_part_ns;		/* when the last part was committed */
	int64_t end_ns;			/* maxtime deadline, 0 = none */
	bool ending;			/* end after the part in flight */
	bool end_queued;		/* the close delimiter is queued */
	int64_t linger_end_ns;		/* LINGERING: close at the latest then */
	bool check_window;		/* TCP: may read the peer's window */
	uint32_t peer_wnd_max;		/* largest receive window it advertised */
	int check_skip;			/* parts to send before asking again */
	enum fc_reader reader;		/* how it reads (peer_backlogged) */
	size_t probed;			/* bytes of the next part's lead out */
	int64_t probe_ns;		/* when the last of them went */
	size_t part_len;		/* bytes of the last part queued */
	uint32_t wnd_before;		/* its window before the last part */
	bool confirming;		/* a new reader that looked behind */
	int rechecks;			/* ... looked at again so many times */
	bool recheck_on;		/* on env->recheck, due at: */
	int64_t recheck_ns;
	struct fc_client *recheck_next;
	int64_t first_part_ns;		/* its first part went at, after */
	uint64_t first_part_at;		/* bytes_out of so many bytes */
	uint64_t stacked_at;		/* bytes_out before the last part */
	bool part_seen;			/* its first window after it seen */
	int64_t read_from_ns;		/* when it could start reading it
					 * (0 = once the window drains) */
	int64_t rate_ns[FC_CLIENT_RATE_SLOTS];	/* its read record: */
	uint64_t rate_read[FC_CLIENT_RATE_SLOTS];	/* read by then */
	int rate_first, rate_n;
	int64_t rate;			/* bytes/s lately, 0 = unknown */
	int64_t pace;			/* bytes/s over longer, 0 = unknown */
	/* Liveness for send_timeout (streams and /events): how much the
	 * peer application has read (bytes it acknowledged minus what still
	 * sits unread in its receive buffer), and when it last made
	 * progress. */
	uint32_t wnd_peak;		/* largest window seen, never reset */
	int64_t consumed_best;
	int64_t progress_ns;		/* 0 = not measured yet */
	uint64_t bytes_out;		/* written to the socket so far */
	uint64_t newest_at;		/* bytes_out when the newest part or
					 * event was queued */
	bool caught_up;			/* the peer had read all before it */

	/* Freshness (worker.c): a snapshot in WAITING, or a stream before
	 * its first part, wants a frame with seq > fresh_after until
	 * fresh_until_ns (0 = wants nothing newer). */
	uint64_t fresh_after;
	int64_t fresh_until_ns;
	bool wait_keep;			/* WAITING: keep-alive after the answer */

	/* TLS (common/tls.h); NULL on a plain connection.  Every read and
	 * write goes through it (see "TLS" in client.c). */
	SSL *tls;
	struct fc_ctl_worker *tls_stats;	/* counted there once ready */
	_Atomic uint64_t *tls_gauge;	/* ... in this gauge, NULL = not yet */
	bool tls_ktls;			/* the kernel writes the records */
	bool out_pending;		/* bytes of the queue are promised to
					 * the transport (SSL_write must be
					 * called again with them, or nghttp2
					 * will pull them): the queue stays */
	bool h2_alpn;			/* the TLS handshake chose h2 */

	/* HTTP/2 (h2.h).  A connection has its session in h2; a stream
	 * client (is_stream) has its connection in h2conn (NULL once
	 * detached) and no socket (fd -1). */
	struct fc_h2 *h2;
	bool h2_dirty;			/* on env->h2_dirty */
	struct fc_client *h2_dirty_next;
	bool is_stream;
	struct fc_client *h2conn;
	struct fc_client *h2prev, *h2next;	/* the connection's streams */
	int32_t h2_id;
	bool h2_head_sent;		/* HEADERS submitted */
	bool h2_deferred;		/* nghttp2 waits for its data */
	bool h2_ended;			/* END_STREAM or RST submitted */
	bool h2_reset_half;		/* reset on close if the client's side
					 * is still open */
	bool closed;			/* closed by the worker (freed after the
					 * batch) */

	/* Limits (worker.c): the places this client holds in the control
	 * region besides its connection, given back when it closes. */
	bool counted;			/* a max_clients place, of kind: */
	enum fc_ctl_client_kind counted_kind;
	bool addr_counted;		/* a count of its address, key: */
	uint64_t addr_key;
};

/* A client for an accepted socket (owned from now on), in READING.
 * NULL on allocation failure (fd is then left open for the caller). */
struct fc_client *fc_client_new(int fd, const struct sockaddr *peer,
    socklen_t peerlen, int64_t now_mono_ns);

/*
 * The first stream on env->recheck that is due (its recheck_ns at or
 * before now), taken off the list; NULL when none is.  The worker pumps
 * it again (fc_client_pump).  fc_client_recheck_next_ns() tells when the
 * first one is due (INT64_MAX: none), fc_client_recheck_drop() takes a
 * closing client off the list.
 */
struct fc_client *fc_client_recheck(struct fc_client_env *env);
int64_t fc_client_recheck_next_ns(const struct fc_client_env *env);
void fc_client_recheck_drop(struct fc_client *c, struct fc_client_env *env);

/* Closes the socket and releases everything; accepts NULL. */
void fc_client_free(struct fc_client *c);

/* An HTTP/2 stream client's n next queued bytes went into a DATA frame
 * (h2.c): counted as sent. */
void fc_client_sent(struct fc_client *c, struct fc_client_env *env,
    size_t n);

/*
 * Handles epoll events (EPOLLIN/OUT/RDHUP/HUP/ERR) then does all the
 * work possible without blocking.  FC_STEP_REQUEST: the caller routes
 * c->hp.req and starts a response, then calls fc_client_pump().
 */
enum fc_client_step fc_client_handle(struct fc_client *c,
    struct fc_client_env *env, uint32_t events);

/* Does all the work possible now (reading, writing, choosing frames). */
enum fc_client_step fc_client_pump(struct fc_client *c,
    struct fc_client_env *env);

/*
 * Starts a plain response: c->hdr holds the head; the body is body/len
 * (static data the caller keeps alive, may be NULL), else c->body when
 * non-empty, else c->frame's data when set.  Counts the status and the
 * request.  keep_alive false closes after sending.
 */
void fc_client_respond(struct fc_client *c, struct fc_client_env *env,
    int status, const void *body, size_t len, bool keep_alive);

/* Starts an error answer (fc_respond_error) and closes after it. */
void fc_client_error(struct fc_client *c, struct fc_client_env *env,
    int status, const char *detail);

/*
 * Starts a multipart stream (state STREAMING): queues the response head;
 * frames follow as the client can take them.  fps 0 = no cap, maxtime 0 =
 * none.  head_only (HEAD): the head only, then close.
 */
void fc_client_start_stream(struct fc_client *c, struct fc_client_env *env,
    enum fc_framing framing, int fps, int maxtime, bool head_only);

/*
 * Puts a client whose request was routed into WAITING: it sends nothing
 * until the worker answers it (fc_client_respond or fc_client_error, then
 * fc_client_pump).  Input that arrives meanwhile is kept for the next
 * request; end of input or a hangup closes it (FC_STEP_CLOSE).
 */
void fc_client_start_wait(struct fc_client *c, uint64_t after_seq,
    int64_t until_ns, bool keep_alive);

/*
 * Ends a stream the way a multipart body ends: the part in flight is
 * finished, then the close delimiter goes out and the connection closes
 * (maxtime does the same by itself).  Returns FC_STEP_CLOSE once all of
 * it is sent; otherwise the pump finishes it when the socket can take
 * more.  Not for other states.
 */
enum fc_client_step fc_client_end_stream(struct fc_client *c,
    struct fc_client_env *env);

/* Starts an event stream (state EVENTS) with c->hdr as head. */
void fc_client_start_events(struct fc_client *c, struct fc_client_env *env);

/* Queues c->body as the next event unless one is still being sent;
 * returns false when skipped. */
bool fc_client_queue_event(struct fc_client *c);

/*
 * Once-per-tick checks: client_timeout (408 or a silent close of an idle
 * keep-alive connection), send_timeout (drop, counted in drops_timeout:
 * output blocked that long, or a stream or event stream whose peer read
 * nothing that long), and for streams maxtime and the keepalive resend.
 */
enum fc_client_step fc_client_tick(struct fc_client *c,
    struct fc_client_env *env);

#endif
