/*
 * libFuzzer target: the server side of forkcast's HTTP/2 layer (server/h2.c
 * over libnghttp2) with the stream clients of server/client.c, as a worker
 * drives them, minus the socket and TLS.
 *
 * The input is what a client sends on a connection whose ALPN chose h2
 * (the preface first).  It is fed to fc_h2_recv() in pieces: when the first
 * byte is below 0x10 it is a count n of split bytes that follow, each the
 * length of the next piece (as in fuzz_http); otherwise the input is cut
 * into four pieces of about equal size.  Each piece lives in a buffer of
 * exactly its size, so an over-read is an ASan report.  After each piece
 * fc_h2_fill() runs until it has nothing more (what it produces is
 * dropped: the client never reads, so windows only move as the input
 * says).
 *
 * The ops stand in for worker.c: open makes a stream client
 * (fc_client_new(-1, ...), is_stream) on a list; request routes it with
 * server/router.c and answers a few routes the way the worker does (a small
 * body for the page and /status, a 404 through fc_client_error, a snapshot
 * and a multipart stream from env->current, a frame made with
 * fc_frame_from_bytes, so DATA frames are gathered from the frame's
 * read-only mapping, an event stream with one event); closed closes it.
 * Closed stream clients are freed after each step, as the worker frees
 * them after its batch.  At the end, time jumps past send_timeout and every
 * stream gets its tick (streams whose window never opened are dropped and
 * reset), then everything is closed and freed.
 *
 * When the input's length is odd, the worker starts retiring before the
 * last piece (fc_h2_goaway).
 *
 * Properties checked (abort() when broken): every stream client on the
 * list is linked to the connection and h2.c counts as many; a routed
 * request has a NUL-terminated :path and HTTP/2 as its version; after
 * everything is closed, the frame
 * holds no reference but ours (no client kept one) and nothing is left on
 * env.h2_dirty.  Leaks are LeakSanitizer's.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"
#include "../../server/client.h"
#include "../../server/h2.h"
#include "../../server/respond.h"
#include "../../server/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NS_PER_S INT64_C(1000000000)
#define MAX_PIECES 16
#define FILL_ROUNDS 4096	/* fc_h2_fill() calls per step, at most */
#define JPEG_LEN 3000		/* spans more than one DATA frame's worth */

/* One connection's worth of worker state. */
struct fuzz_conn {
	struct fc_client *conn;
	struct fc_client *streams;	/* open stream clients (next/prev) */
	struct fc_client *dead;		/* closed, freed after the step */
	struct fc_client_env *env;
};

static struct fc_config cfg;
static struct fc_ctl_worker stats;
static struct fc_frame *frame;		/* the "newest bus frame" */

static void
init_once(void)
{
	struct fc_frame_meta m;
	static uint8_t jpeg[JPEG_LEN];

	if (frame != NULL)
		return;
	fc_log_init("fuzz", FC_LOG_ERROR);
	cfg.client_timeout = 10;
	cfg.send_timeout = 30;
	memset(jpeg, 'j', sizeof(jpeg));
	jpeg[0] = 0xff;
	jpeg[1] = 0xd8;
	jpeg[JPEG_LEN - 2] = 0xff;
	jpeg[JPEG_LEN - 1] = 0xd9;
	memset(&m, 0, sizeof(m));
	m.seq = 1;
	m.len = JPEG_LEN;
	m.width = 320;
	m.height = 240;
	m.ts_real_ns = INT64_C(1700000000) * NS_PER_S;
	m.ts_mono_ns = 1000 * NS_PER_S;
	if ((frame = fc_frame_from_bytes(&m, jpeg)) == NULL)
		abort();
}

/* worker.c close_client() for a stream client. */
static void
close_stream(struct fuzz_conn *fc, struct fc_client *s)
{
	if (s->closed)
		return;
	s->closed = true;
	fc_h2_stream_detach(s);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		fc->streams = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->prev = NULL;
	s->next = fc->dead;
	fc->dead = s;
}

static void
free_dead(struct fuzz_conn *fc)
{
	struct fc_client *s;

	while ((s = fc->dead) != NULL) {
		fc->dead = s->next;
		fc_client_free(s);
	}
}

static struct fc_client *
op_open(void *arg, struct fc_client *conn)
{
	struct fuzz_conn *fc = arg;
	struct fc_client *s;

	if ((s = fc_client_new(-1, NULL, 0, fc->env->now_mono_ns)) == NULL)
		return NULL;
	(void)conn;
	s->is_stream = true;
	s->next = fc->streams;
	if (fc->streams != NULL)
		fc->streams->prev = s;
	fc->streams = s;
	return s;
}

/* A few routes, answered as worker.c dispatch() does. */
static void
op_request(void *arg, struct fc_client *s)
{
	static const char small[] = "{\"clients\": 0}\n";
	struct fuzz_conn *fc = arg;
	struct fc_client_env *env = fc->env;
	const struct fc_http_request *req = &s->rq->hp.req;
	struct fc_route_match m;

	if (req->url_len == 0 || req->url[req->url_len] != '\0' ||
	    req->http_major != 2)
		abort();
	fc_router_match(req->url, req->url_len, &m);
	if (req->options) {
		fc_client_error(s, env, 405, NULL);
	} else {
		switch (m.route) {
		case FC_ROUTE_BAD:
			fc_client_error(s, env, 400, NULL);
			break;
		case FC_ROUTE_STREAM:
			fc_client_start_stream(s, env, m.framing ==
			    FC_FRAMING_AUTO ? fc_router_framing_for(req->user_agent) :
			    m.framing, m.fps, m.maxtime, req->head);
			break;
		case FC_ROUTE_SNAPSHOT:
			fc_strbuf_reset(&s->hdr);
			fc_respond_snapshot_head(&s->hdr, &env->current->meta,
			    false, cfg.allow_origin);
			s->frame = fc_frame_ref(env->current);
			fc_client_respond(s, env, 200, NULL, 0, false);
			break;
		case FC_ROUTE_EVENTS:
			fc_strbuf_reset(&s->hdr);
			fc_respond_events_head(&s->hdr, cfg.allow_origin);
			fc_client_start_events(s, env);
			fc_strbuf_reset(&s->body);
			fc_strbuf_puts(&s->body, "event: status\ndata: {}\n\n");
			(void)fc_client_queue_event(s);
			break;
		case FC_ROUTE_PAGE:
		case FC_ROUTE_STATUS:
		case FC_ROUTE_STATUS_PAGE:
		case FC_ROUTE_METRICS:
			fc_strbuf_reset(&s->hdr);
			fc_respond_head(&s->hdr, 200, "application/json",
			    sizeof(small) - 1, false, cfg.allow_origin, NULL);
			fc_client_respond(s, env, 200, small, sizeof(small) - 1,
			    false);
			break;
		case FC_ROUTE_NOT_FOUND:
		case FC_ROUTE_HEALTH:
			fc_client_error(s, env, 404, NULL);
			break;
		}
	}
	if (fc_client_pump(s, env) == FC_STEP_CLOSE)
		close_stream(fc, s);
}

static void
op_closed(void *arg, struct fc_client *s)
{
	close_stream(arg, s);
}

static const struct fc_h2_ops ops = { op_open, op_request, op_closed };

/* The worker's send_h2(): the connection's output, dropped. */
static void
send_out(struct fuzz_conn *fc)
{
	const char *out;
	unsigned n = 0;
	int i;

	fc->env->h2_dirty = NULL;
	fc->conn->h2_dirty = false;
	fc->conn->h2_dirty_next = NULL;
	for (i = 0; i < FILL_ROUNDS; i++)
		if (fc_h2_fill(fc->conn, fc->env, &out) == 0)
			break;
	/* Sending may close streams (their answers ended): that marks the
	 * connection again, for the next round. */
	fc->env->h2_dirty = NULL;
	fc->conn->h2_dirty = false;
	for (struct fc_client *s = fc->streams; s != NULL; s = s->next) {
		if (!s->is_stream || s->h2conn != fc->conn)
			abort();
		n++;
	}
	if (n != fc_h2_streams(fc->conn))
		abort();
}

/* Splits the input into pieces (see the top comment). */
static size_t
split(const uint8_t *data, size_t size, const uint8_t **body,
    size_t *lens)
{
	size_t n = 0, i, left;

	if (size > 0 && data[0] < 0x10) {
		size_t k = data[0];

		if (k + 1 > size)
			k = size - 1;
		*body = data + 1 + k;
		left = size - 1 - k;
		for (i = 0; i < k && n < MAX_PIECES - 1; i++) {
			lens[n] = data[1 + i] < left ? data[1 + i] : left;
			left -= lens[n++];
		}
		lens[n++] = left;
		return n;
	}
	*body = data;
	for (i = 0; i < 4; i++)
		lens[n++] = i < 3 ? size / 4 : size - 3 * (size / 4);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fc_client_env env;
	struct fuzz_conn fc;
	struct fc_client *s, *next;
	const uint8_t *body;
	size_t lens[MAX_PIECES], npieces, i, off = 0;
	bool failed = false;

	init_once();
	memset(&env, 0, sizeof(env));
	env.cfg = &cfg;
	env.stats = &stats;
	env.current = frame;
	env.now_mono_ns = 1000 * NS_PER_S;
	memset(&fc, 0, sizeof(fc));
	fc.env = &env;
	if ((fc.conn = fc_client_new(-1, NULL, 0, env.now_mono_ns)) == NULL)
		return 0;
	if (fc_h2_start(fc.conn, &ops, &fc, &env) == -1) {
		fc_client_free(fc.conn);
		return 0;
	}
	npieces = split(data, size, &body, lens);
	for (i = 0; i < npieces && !failed; i++) {
		uint8_t *piece = malloc(lens[i] > 0 ? lens[i] : 1);

		if (piece == NULL)
			break;
		memcpy(piece, body + off, lens[i]);
		off += lens[i];
		env.now_mono_ns += NS_PER_S / 10;
		/* An odd length: the worker retires before the last piece. */
		if (i == npieces - 1 && i > 0 && (size & 1))
			fc_h2_goaway(fc.conn);
		if (lens[i] > 0 && fc_h2_recv(fc.conn, &env, piece, lens[i]) == -1)
			failed = true;	/* its GOAWAY still goes out */
		free(piece);
		send_out(&fc);
		free_dead(&fc);
		if (fc_h2_done(fc.conn))
			break;
	}
	/* send_timeout passes: the worker's tick for every stream. */
	env.now_mono_ns += (cfg.send_timeout + 1) * NS_PER_S;
	for (s = fc.streams; s != NULL; s = next) {
		next = s->next;
		if (fc_client_tick(s, &env) == FC_STEP_CLOSE)
			close_stream(&fc, s);
	}
	send_out(&fc);
	free_dead(&fc);
	/* worker.c close_client() on the connection: its streams first. */
	fc.conn->closed = true;
	while ((s = fc_h2_first_stream(fc.conn)) != NULL)
		close_stream(&fc, s);
	while ((s = fc.streams) != NULL)	/* not linked any more */
		close_stream(&fc, s);
	if (env.h2_dirty != NULL)
		abort();	/* a closing connection is never marked */
	free_dead(&fc);
	fc_client_free(fc.conn);
	if (frame->refs != 1)
		abort();	/* a client kept a reference to the frame */
	return 0;
}
