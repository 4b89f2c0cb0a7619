/* HTTP/2 connections and their stream clients; see h2.h. */
#include "h2.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nghttp2/nghttp2.h>

#include "../common/log.h"

#define MAX_HEAD_FIELDS 24	/* fields of one of our response heads */

struct fc_h2 {
	nghttp2_session *ng;
	struct fc_client *conn;
	const struct fc_h2_ops *ops;
	void *arg;
	struct fc_client_env *env;	/* of the call in progress */
	struct fc_client *streams;	/* stream clients (h2next list) */
	unsigned nstreams;
	bool goaway;			/* ours is queued: no new streams */
	bool failed;			/* a callback asked to end it all */
	size_t out_len;
	char out[FC_H2_OUTBUF];
};

static struct fc_client *
stream_of(struct fc_h2 *h, int32_t id)
{
	return nghttp2_session_get_stream_user_data(h->ng, id);
}

static void
link_stream(struct fc_h2 *h, struct fc_client *s)
{
	s->h2prev = NULL;
	s->h2next = h->streams;
	if (h->streams != NULL)
		h->streams->h2prev = s;
	h->streams = s;
	h->nstreams++;
}

static void
unlink_stream(struct fc_h2 *h, struct fc_client *s)
{
	if (s->h2prev != NULL)
		s->h2prev->h2next = s->h2next;
	else if (h->streams == s)
		h->streams = s->h2next;
	else
		return;		/* not linked */
	if (s->h2next != NULL)
		s->h2next->h2prev = s->h2prev;
	s->h2prev = s->h2next = NULL;
	h->nstreams--;
}

void
fc_h2_mark(struct fc_client *conn, struct fc_client_env *env)
{
	if (conn->h2_dirty || env == NULL)
		return;
	conn->h2_dirty = true;
	conn->h2_dirty_next = env->h2_dirty;
	env->h2_dirty = conn;
}

/* --- requests --- */

static int
on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
	struct fc_h2 *h = ud;
	struct fc_client *s;

	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	if (h->goaway || (s = h->ops->open(h->arg, h->conn)) == NULL) {
		(void)nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE,
		    frame->hd.stream_id, NGHTTP2_REFUSED_STREAM);
		return 0;
	}
	s->h2conn = h->conn;
	s->h2_id = frame->hd.stream_id;
	s->rq->hp.req.http_major = 2;
	s->rq->hp.req.keep_alive = false;	/* one request per stream */
	link_stream(h, s);
	nghttp2_session_set_stream_user_data(ng, frame->hd.stream_id, s);
	return 0;
}

/* Records why the request of s will be refused; the first reason wins. */
static void
refuse(struct fc_client *s, int status)
{
	if (s->rq->h2.status == 0)
		s->rq->h2.status = status;
}

/* Copies a header value into a request field of size cap; false when it
 * does not fit. */
static bool
take(char *dst, size_t cap, const uint8_t *v, size_t len)
{
	if (len >= cap)
		return false;
	memcpy(dst, v, len);
	dst[len] = '\0';
	return true;
}

/*
 * One request header (nghttp2 checked it against RFC 9113: field names in
 * lower case, pseudo-headers first and once, no connection-specific
 * fields).  What the router, auth and allowed_hosts read goes into the
 * stream client's request the way the HTTP/1.1 parser fills it; a
 * problem is kept (refuse()) and answered once the headers are in.
 */
static int
on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
    size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
    void *ud)
{
	struct fc_h2 *h = ud;
	struct fc_client *s = stream_of(h, frame->hd.stream_id);
	struct fc_http_request *req;

	(void)ng;
	(void)flags;
	if (s == NULL || s->rq == NULL ||
	    frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	req = &s->rq->hp.req;
	s->rq->h2.hdr_bytes += namelen + valuelen + 32;	/* RFC 9113 6.5.2 */
	if (s->rq->h2.hdr_bytes > FC_H2_MAX_HEADER_LIST) {
		refuse(s, 431);
		return 0;
	}
	if (namelen == 7 && memcmp(name, ":method", 7) == 0) {
		if (valuelen == 3 && memcmp(value, "GET", 3) == 0)
			s->rq->h2.method = true;
		else if (valuelen == 4 && memcmp(value, "HEAD", 4) == 0) {
			s->rq->h2.method = true;
			req->head = true;
		} else if (valuelen == 7 && memcmp(value, "OPTIONS", 7) == 0) {
			s->rq->h2.method = true;
			req->options = true;
		} else
			refuse(s, 405);
	} else if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
		if (!take(req->url, sizeof(req->url), value, valuelen))
			refuse(s, 414);
		else
			req->url_len = valuelen;
	} else if ((namelen == 10 && memcmp(name, ":authority", 10) == 0) ||
	    (namelen == 4 && memcmp(name, "host", 4) == 0)) {
		/* Both may come; they must name the same host (a second,
		 * different name is refused, as two Hosts are on 1.1). */
		char v[FC_HTTP_MAX_HOST];

		if (!take(v, sizeof(v), value, valuelen) ||
		    (req->has_host && strcmp(v, req->host) != 0)) {
			refuse(s, 400);
		} else {
			memcpy(req->host, v, valuelen + 1);
			req->has_host = true;
		}
	} else if (namelen == 13 && memcmp(name, "authorization", 13) == 0) {
		if (req->has_auth)
			refuse(s, 400);
		req->has_auth = true;
		if (!take(req->authorization, sizeof(req->authorization), value,
		    valuelen))
			req->auth_too_long = true;
	} else if (namelen == 10 && memcmp(name, "user-agent", 10) == 0) {
		size_t n = valuelen < sizeof(req->user_agent) - 1 ? valuelen :
		    sizeof(req->user_agent) - 1;

		memcpy(req->user_agent, value, n);
		req->user_agent[n] = '\0';
	} else if (namelen == 14 && memcmp(name, "content-length", 14) == 0) {
		if (valuelen != 1 || value[0] != '0')
			refuse(s, 400);		/* a body on GET, as on 1.1 */
	}
	return 0;
}

/* The request of s is complete: answer it (the worker routes it, or the
 * problem found while reading it is answered). */
static void
request_done(struct fc_h2 *h, struct fc_client *s)
{
	if (s->rq->h2.routed)
		return;
	s->rq->h2.routed = true;
	if (!s->rq->h2.method || s->rq->hp.req.url_len == 0)
		refuse(s, 400);
	if (s->rq->h2.status != 0) {
		fc_client_error(s, h->env, s->rq->h2.status, NULL);
		if (fc_client_pump(s, h->env) == FC_STEP_CLOSE)
			h->ops->closed(h->arg, s);
		return;
	}
	h->ops->request(h->arg, s);
}

static int
on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
	struct fc_h2 *h = ud;
	struct fc_client *s;

	(void)ng;
	if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
		return 0;
	/* (No request side left: the request was routed already.) */
	if ((s = stream_of(h, frame->hd.stream_id)) == NULL || s->closed ||
	    s->rq == NULL)
		return 0;
	if (frame->hd.type == NGHTTP2_HEADERS &&
	    frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
	    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		refuse(s, 400);		/* a body follows: refused as on 1.1 */
	if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) ||
	    s->rq->h2.status != 0)
		request_done(h, s);
	return 0;
}

static int
on_stream_close(nghttp2_session *ng, int32_t id, uint32_t error, void *ud)
{
	struct fc_h2 *h = ud;
	struct fc_client *s = stream_of(h, id);

	(void)error;
	if (s == NULL)
		return 0;
	nghttp2_session_set_stream_user_data(ng, id, NULL);
	s->h2_ended = true;	/* nothing more to reset */
	unlink_stream(h, s);
	if (!s->closed)
		h->ops->closed(h->arg, s);
	return 0;
}

/* --- responses --- */

/* True for the fields HTTP/2 forbids (RFC 9113 8.2.2). */
static bool
hop_by_hop(const char *name, size_t len)
{
	static const char *const names[] = { "connection", "keep-alive",
	    "proxy-connection", "transfer-encoding", "upgrade" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && strncasecmp(name, names[i], len) == 0)
			return true;
	return false;
}

/*
 * The response head s's state machine built ("HTTP/1.1 200 OK\r\n" and
 * fields, our own text) as HTTP/2 fields in nva (names lower-cased in
 * place, values pointing into it).  Returns the field count and the head's
 * length in *used, or -1 when it is not a head.
 */
static int
convert_head(char *head, size_t len, nghttp2_nv *nva, char *status,
    size_t *used)
{
	char *p = head, *end = head + len, *eol, *colon, *v;
	int n = 0;

	if (len < 12 || memcmp(head, "HTTP/1.1 ", 9) != 0)
		return -1;
	memcpy(status, head + 9, 3);
	status[3] = '\0';
	nva[n++] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)status, 7, 3,
	    NGHTTP2_NV_FLAG_NO_COPY_NAME };
	if ((eol = memmem(p, (size_t)(end - p), "\r\n", 2)) == NULL)
		return -1;
	for (p = eol + 2; p < end; p = eol + 2) {
		if ((eol = memmem(p, (size_t)(end - p), "\r\n", 2)) == NULL)
			return -1;
		if (eol == p) {		/* the blank line */
			*used = (size_t)(eol + 2 - head);
			return n;
		}
		if ((colon = memchr(p, ':', (size_t)(eol - p))) == NULL)
			return -1;
		if (hop_by_hop(p, (size_t)(colon - p)))
			continue;
		if (n == MAX_HEAD_FIELDS)
			return -1;
		for (char *c = p; c < colon; c++)
			*c = (char)tolower((unsigned char)*c);
		for (v = colon + 1; v < eol && *v == ' '; v++)
			;
		nva[n++] = (nghttp2_nv){ (uint8_t *)p, (uint8_t *)v,
		    (size_t)(colon - p), (size_t)(eol - v), NGHTTP2_NV_FLAG_NONE };
	}
	return -1;
}

/*
 * nghttp2 asks for the next DATA of a stream.  An empty queue first lets
 * the state machine add to it, with the stream client writable (for a
 * multipart stream: the newest frame, now that the windows have room);
 * still empty, the stream waits (DEFERRED) until fc_h2_stream_output()
 * resumes it, or ends when its answer is complete.  The bytes are taken
 * in send_data() (NO_COPY).
 */
static ssize_t
read_data(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
    uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct fc_h2 *h = ud;
	struct fc_client *s = stream_of(h, id);
	enum fc_client_step step = FC_STEP_OK;
	size_t room;

	(void)ng;
	(void)buf;
	(void)src;
	if (s == NULL || s->closed) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		return 0;
	}
	if (s->q.left == 0) {
		s->writable = true;
		step = fc_client_pump(s, h->env);
		if (s->q.left == 0) {
			if (step == FC_STEP_CLOSE ||
			    s->state == FC_CLIENT_RESPONDING) {
				*flags |= NGHTTP2_DATA_FLAG_EOF;
				s->h2_ended = true;
				return 0;
			}
			s->h2_deferred = true;
			return NGHTTP2_ERR_DEFERRED;
		}
	}
	/* Room in the output buffer for the frame header and the payload. */
	room = FC_H2_OUTBUF - h->out_len;
	if (room <= 9)
		return NGHTTP2_ERR_PAUSE;
	if (length > room - 9)
		length = room - 9;
	if (length > s->q.left)
		length = s->q.left;
	*flags |= NGHTTP2_DATA_FLAG_NO_COPY;
	if (length == s->q.left && (s->state == FC_CLIENT_RESPONDING ||
	    (s->state == FC_CLIENT_STREAMING && s->end_queued))) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		s->h2_ended = true;
	}
	return (ssize_t)length;
}

static int
send_data(nghttp2_session *ng, nghttp2_frame *frame, const uint8_t *framehd,
    size_t length, nghttp2_data_source *src, void *ud)
{
	struct fc_h2 *h = ud;
	struct fc_client *s = stream_of(h, frame->hd.stream_id);
	const char *map = NULL;

	(void)ng;
	(void)src;
	if (s == NULL || h->out_len + 9 + length > FC_H2_OUTBUF)
		return NGHTTP2_ERR_WOULDBLOCK;
	if (s->q.file_left > 0 && (s->frame == NULL ||
	    (map = fc_frame_map(s->frame)) == NULL))
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	memcpy(h->out + h->out_len, framehd, 9);
	if (fc_iovq_gather(&s->q, map, h->out + h->out_len + 9, length) !=
	    length)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	h->out_len += 9 + length;
	fc_client_sent(s, h->env, length);
	return 0;
}

/* Frames other than DATA: appended to the output buffer. */
static ssize_t
send_frames(nghttp2_session *ng, const uint8_t *data, size_t len, int flags,
    void *ud)
{
	struct fc_h2 *h = ud;
	size_t room = FC_H2_OUTBUF - h->out_len;

	(void)ng;
	(void)flags;
	if (room == 0)
		return NGHTTP2_ERR_WOULDBLOCK;
	if (len > room)
		len = room;
	memcpy(h->out + h->out_len, data, len);
	h->out_len += len;
	return (ssize_t)len;
}

void
fc_h2_stream_output(struct fc_client *s, struct fc_client_env *env)
{
	struct fc_h2 *h = s->h2conn->h2;
	nghttp2_nv nva[MAX_HEAD_FIELDS + 1];
	nghttp2_data_provider prd;
	char status[4];
	size_t used = 0;
	int n;

	if (h == NULL || s->closed || s->h2_ended)
		return;
	if (!s->h2_head_sent) {
		if (s->q.cnt == 0 || s->q.iov[s->q.idx].iov_base != s->hdr.data ||
		    (n = convert_head(s->hdr.data, s->hdr.len, nva, status,
		    &used)) < 0) {
			/* Never: every answer starts with its head. */
			(void)nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE,
			    s->h2_id, NGHTTP2_INTERNAL_ERROR);
			s->h2_ended = true;
			fc_h2_mark(s->h2conn, env);
			return;
		}
		fc_iovq_advance(&s->q, used);
		s->h2_head_sent = true;
		memset(&prd, 0, sizeof(prd));
		prd.source.ptr = s;
		prd.read_callback = read_data;
		/* A complete answer without a body (HEAD, 204) ends with its
		 * HEADERS. */
		if (s->q.left == 0 && (s->state == FC_CLIENT_RESPONDING ||
		    s->close_after)) {
			s->h2_ended = true;
			(void)nghttp2_submit_response(h->ng, s->h2_id, nva,
			    (size_t)n, NULL);
		} else {
			(void)nghttp2_submit_response(h->ng, s->h2_id, nva,
			    (size_t)n, &prd);
		}
	} else if (s->h2_deferred) {
		s->h2_deferred = false;
		(void)nghttp2_session_resume_data(h->ng, s->h2_id);
	}
	fc_h2_mark(s->h2conn, env);
}

void
fc_h2_stream_detach(struct fc_client *s)
{
	struct fc_h2 *h;

	if (s->h2conn == NULL || (h = s->h2conn->h2) == NULL)
		return;
	if (nghttp2_session_get_stream_user_data(h->ng, s->h2_id) == s) {
		nghttp2_session_set_stream_user_data(h->ng, s->h2_id, NULL);
		/* Not ended: CANCEL.  Ended by us long ago while the
		 * client's side stays open (a request whose body never
		 * ended; client.c fc_client_tick): NO_ERROR closes the
		 * stream, as RFC 9113 8.1 allows, so it does not stay for the
		 * life of the connection.  (Not at once: while a request is
		 * being received nghttp2 closes the client's side only after
		 * our callbacks return, and a reset then would reach the
		 * client before the answer.) */
		if (!s->h2_ended || (s->h2_reset_half &&
		    nghttp2_session_get_stream_remote_close(h->ng, s->h2_id) == 0)) {
			(void)nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE,
			    s->h2_id, s->h2_ended ? NGHTTP2_NO_ERROR :
			    NGHTTP2_CANCEL);
			/*
			 * The worker closes streams outside any input of
			 * their connection too (send_timeout in a tick, a
			 * reload that revoked credentials): without a send
			 * the RST_STREAM waited in nghttp2 until the peer
			 * sent something, and the peer went on waiting on
			 * streams the server had dropped (found by
			 * tests/integration/h2_hostile.sh, zero-window
			 * streams).  Not for a connection that is closing,
			 * nor from fc_h2_free (env NULL there): the dirty
			 * list must never hold a connection about to be
			 * freed.
			 */
			if (!s->h2conn->closed)
				fc_h2_mark(s->h2conn, h->env);
		}
	}
	s->h2_ended = true;
	unlink_stream(h, s);
	s->h2conn = NULL;
}

/* --- the connection --- */

int
fc_h2_start(struct fc_client *conn, const struct fc_h2_ops *ops, void *arg,
    struct fc_client_env *env)
{
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;
	struct fc_h2 *h;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, FC_H2_MAX_STREAMS },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, FC_H2_MAX_HEADER_LIST },
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
	};
	int rv;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -1;
	if (nghttp2_session_callbacks_new(&cb) != 0) {
		free(h);
		return -1;
	}
	nghttp2_session_callbacks_set_send_callback(cb, send_frames);
	nghttp2_session_callbacks_set_send_data_callback(cb, send_data);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb,
	    on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb,
	    on_stream_close);
	if (nghttp2_option_new(&opt) != 0) {
		nghttp2_session_callbacks_del(cb);
		free(h);
		return -1;
	}
	/* Floods (nghttp2's defaults, written down): unanswered SETTINGS
	 * and PING acks queue at most 1000 frames, a SETTINGS frame has at
	 * most 32 entries, a header block at most 8 CONTINUATIONs, and
	 * streams reset by the peer are refilled at 33 a second after a
	 * burst of 1000 (rapid reset).  Tripping one ends the connection. */
	nghttp2_option_set_max_outbound_ack(opt, 1000);
	nghttp2_option_set_max_settings(opt, 32);
	nghttp2_option_set_max_continuations(opt, 8);
	nghttp2_option_set_stream_reset_rate_limit(opt, 1000, 33);
	rv = nghttp2_session_server_new2(&h->ng, cb, h, opt);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	if (rv != 0) {
		free(h);
		return -1;
	}
	h->conn = conn;
	h->ops = ops;
	h->arg = arg;
	h->env = env;
	conn->h2 = h;
	conn->state = FC_CLIENT_H2;
	(void)nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv,
	    sizeof(iv) / sizeof(iv[0]));
	/* What the handshake's read brought along. */
	if (conn->rq != NULL && conn->rq->in_len > 0) {
		size_t len = conn->rq->in_len;

		conn->rq->in_len = 0;
		if (fc_h2_recv(conn, env, (const uint8_t *)conn->rq->in,
		    len) == -1)
			return 0;	/* the caller sees fc_h2_done() */
	}
	return 0;
}

int
fc_h2_recv(struct fc_client *conn, struct fc_client_env *env,
    const uint8_t *data, size_t len)
{
	struct fc_h2 *h = conn->h2;
	ssize_t rv;

	h->env = env;
	rv = nghttp2_session_mem_recv(h->ng, data, len);
	if (rv < 0) {
		log_debug("fd %d: h2: %s", conn->fd, nghttp2_strerror((int)rv));
		if (rv == NGHTTP2_ERR_FLOODED || rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC)
			h->failed = true;
		else
			(void)nghttp2_session_terminate_session(h->ng,
			    NGHTTP2_PROTOCOL_ERROR);
		return -1;
	}
	return 0;
}

size_t
fc_h2_fill(struct fc_client *conn, struct fc_client_env *env,
    const char **out)
{
	struct fc_h2 *h = conn->h2;
	int rv;

	h->env = env;
	h->out_len = 0;
	if (!h->failed && (rv = nghttp2_session_send(h->ng)) != 0) {
		log_debug("fd %d: h2 send: %s", conn->fd, nghttp2_strerror(rv));
		h->failed = true;
	}
	*out = h->out;
	return h->out_len;
}

bool
fc_h2_done(const struct fc_client *conn)
{
	const struct fc_h2 *h = conn->h2;

	return h == NULL || h->failed ||
	    (!nghttp2_session_want_read(h->ng) &&
	    !nghttp2_session_want_write(h->ng)) ||
	    (h->goaway && h->nstreams == 0 &&
	    !nghttp2_session_want_write(h->ng));
}

struct fc_client *
fc_h2_first_stream(const struct fc_client *conn)
{
	return conn->h2 != NULL ? conn->h2->streams : NULL;
}

unsigned
fc_h2_streams(const struct fc_client *conn)
{
	return conn->h2 != NULL ? conn->h2->nstreams : 0;
}

void
fc_h2_goaway(struct fc_client *conn)
{
	struct fc_h2 *h = conn->h2;

	if (h == NULL || h->goaway)
		return;
	h->goaway = true;
	(void)nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE,
	    nghttp2_session_get_last_proc_stream_id(h->ng), NGHTTP2_NO_ERROR,
	    NULL, 0);
}

void
fc_h2_free(struct fc_client *conn)
{
	struct fc_h2 *h = conn->h2;

	if (h == NULL)
		return;
	h->env = NULL;		/* no send is marked from here on */
	while (h->streams != NULL)
		fc_h2_stream_detach(h->streams);
	nghttp2_session_del(h->ng);
	free(h);
	conn->h2 = NULL;
}
