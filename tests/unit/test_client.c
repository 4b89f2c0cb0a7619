/*
 * Unit tests for server/client.c: the connection state machine over
 * socketpairs (request reading, pipelining, error answers, frame choice,
 * skipped counting, the one pinned buffer, timeouts, keepalive resends).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../server/client.h"

#define NS_PER_S INT64_C(1000000000)

struct fixture {
	struct fc_config cfg;
	struct fc_ctl_worker stats;
	struct fc_client_env env;
	struct fc_client *c;
	int peer;
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	int sv[2];

	assert_non_null(fx);
	fx->cfg.client_timeout = 10;
	fx->cfg.send_timeout = 30;
	fx->env.cfg = &fx->cfg;
	fx->env.stats = &fx->stats;
	fx->env.now_mono_ns = 1000 * NS_PER_S;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	fx->c = fc_client_new(sv[0], NULL, 0, fx->env.now_mono_ns);
	assert_non_null(fx->c);
	fx->peer = sv[1];
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	fc_client_free(fx->c);
	fc_frame_unref(fx->env.current);
	if (fx->peer >= 0)
		close(fx->peer);
	free(fx);
	return 0;
}

static void
send_str(struct fixture *fx, const char *s)
{
	assert_int_equal(write(fx->peer, s, strlen(s)), (ssize_t)strlen(s));
}

/* Reads what is available (non-blocking) into buf, NUL-terminated. */
static size_t
recv_all(struct fixture *fx, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	while (n + 1 < cap) {
		r = read(fx->peer, buf + n, cap - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return n;
}

static struct fc_frame *
make_frame(uint64_t seq, size_t len)
{
	struct fc_frame_meta m;
	struct fc_frame *f;
	char *data = malloc(len);

	assert_non_null(data);
	memset(data, (int)('a' + seq % 26), len);
	memset(&m, 0, sizeof(m));
	m.seq = seq;
	m.len = len;
	/* The timestamp names the frame in the part headers. */
	m.ts_real_ns = (int64_t)seq * NS_PER_S;
	f = fc_frame_from_bytes(&m, data);
	assert_non_null(f);
	free(data);
	return f;
}

static void
set_current(struct fixture *fx, struct fc_frame *f)
{
	fc_frame_unref(fx->env.current);
	fx->env.current = f;
}

/* Counts parts and remembers the last X-Timestamp second seen. */
static int
count_parts(const char *buf, size_t len, long *last_ts)
{
	const char *p = buf, *end = buf + len;
	int n = 0;

	while ((p = memmem(p, (size_t)(end - p), "X-Timestamp: ", 13))
	    != NULL) {
		p += 13;
		*last_ts = strtol(p, NULL, 10);
		n++;
	}
	return n;
}

static void
test_request_and_pipelining(void **state)
{
	struct fixture *fx = *state;
	struct fc_client *c = fx->c;
	char buf[4096];

	/* Nothing yet. */
	assert_int_equal(fc_client_pump(c, &fx->env), FC_STEP_OK);
	send_str(fx, "GET /one HTTP/1.1\r\nHost: t\r\nUser-Agent: t\r\n\r\n"
	    "GET /two HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(fc_client_handle(c, &fx->env, EPOLLIN),
	    FC_STEP_REQUEST);
	assert_string_equal(c->rq->hp.req.url, "/one");
	assert_string_equal(c->rq->hp.req.user_agent, "t");
	fc_strbuf_puts(&c->hdr, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n");
	fc_client_respond(c, &fx->env, 200, "one", 3, c->rq->hp.req.keep_alive);
	/* The answer goes out, then the pipelined request is parsed. */
	assert_int_equal(fc_client_pump(c, &fx->env), FC_STEP_REQUEST);
	assert_string_equal(c->rq->hp.req.url, "/two");
	recv_all(fx, buf, sizeof(buf));
	assert_string_equal(buf,
	    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none");
	fc_strbuf_puts(&c->hdr, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n");
	fc_client_respond(c, &fx->env, 200, "two", 3, c->rq->hp.req.keep_alive);
	/* Connection: close: our side is shut, theirs drained until EOF. */
	assert_int_equal(fc_client_pump(c, &fx->env), FC_STEP_OK);
	assert_int_equal(c->state, FC_CLIENT_LINGERING);
	recv_all(fx, buf, sizeof(buf));
	assert_string_equal(buf + strlen(buf) - 3, "two");
	assert_int_equal(read(fx->peer, buf, 1), 0);	/* FIN seen */
	shutdown(fx->peer, SHUT_WR);
	assert_int_equal(fc_client_handle(c, &fx->env, EPOLLIN | EPOLLRDHUP),
	    FC_STEP_CLOSE);
	assert_int_equal(fx->stats.requests_total, 2);
	assert_int_equal(fx->stats.status[FC_ST_200], 2);
}

static void
test_error_answer(void **state)
{
	struct fixture *fx = *state;
	char buf[4096];

	/* Refused at the method: the rest of the request is still
	 * unread when the answer goes out. */
	send_str(fx, "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(fc_client_handle(fx->c, &fx->env, EPOLLIN),
	    FC_STEP_OK);
	assert_int_equal(fx->c->state, FC_CLIENT_LINGERING);
	send_str(fx, "more bytes the client had in flight");
	assert_int_equal(fc_client_handle(fx->c, &fx->env, EPOLLIN),
	    FC_STEP_OK);
	/* A client that never closes is cut after the linger time. */
	fx->env.now_mono_ns += FC_CLIENT_LINGER_NS - 1;
	assert_int_equal(fc_client_tick(fx->c, &fx->env), FC_STEP_OK);
	fx->env.now_mono_ns += 1;
	assert_int_equal(fc_client_tick(fx->c, &fx->env), FC_STEP_CLOSE);
	recv_all(fx, buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 405 Method Not Allowed\r\n"));
	assert_non_null(strstr(buf, "Allow: GET, HEAD\r\n"));
	assert_non_null(strstr(buf, "Connection: close\r\n"));
	assert_int_equal(fx->stats.status[FC_ST_405], 1);
}

static void
test_peer_eof_mid_request(void **state)
{
	struct fixture *fx = *state;

	send_str(fx, "GET /incompl");
	shutdown(fx->peer, SHUT_WR);
	assert_int_equal(fc_client_handle(fx->c, &fx->env, EPOLLIN | EPOLLRDHUP),
	    FC_STEP_CLOSE);
}

static void
test_request_timeout(void **state)
{
	struct fixture *fx = *state;
	char buf[4096];

	send_str(fx, "GET / HTTP/1.1\r\nHost: slow");
	assert_int_equal(fc_client_handle(fx->c, &fx->env, EPOLLIN), FC_STEP_OK);
	fx->env.now_mono_ns += 9 * NS_PER_S;
	assert_int_equal(fc_client_tick(fx->c, &fx->env), FC_STEP_OK);
	fx->env.now_mono_ns += 2 * NS_PER_S;
	assert_int_equal(fc_client_tick(fx->c, &fx->env), FC_STEP_OK);
	assert_int_equal(fx->c->state, FC_CLIENT_LINGERING);
	recv_all(fx, buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 408 Request Timeout\r\n"));
	close(fx->peer);
	fx->peer = -1;
	assert_int_equal(fc_client_handle(fx->c, &fx->env, EPOLLIN | EPOLLRDHUP),
	    FC_STEP_CLOSE);
	assert_int_equal(fx->stats.status[FC_ST_408], 1);
}

static void
test_idle_keepalive_timeout(void **state)
{
	struct fixture *fx = *state;
	char buf[4096];

	send_str(fx, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
	assert_int_equal(fc_client_handle(fx->c, &fx->env, EPOLLIN),
	    FC_STEP_REQUEST);
	fc_strbuf_puts(&fx->c->hdr, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fc_client_respond(fx->c, &fx->env, 200, NULL, 0, true);
	assert_int_equal(fc_client_pump(fx->c, &fx->env), FC_STEP_OK);
	recv_all(fx, buf, sizeof(buf));
	/* Idle between requests: closed silently, no 408. */
	fx->env.now_mono_ns += 11 * NS_PER_S;
	assert_int_equal(fc_client_tick(fx->c, &fx->env), FC_STEP_CLOSE);
	assert_int_equal(recv_all(fx, buf, sizeof(buf)), 0);
}

static void
start_stream(struct fixture *fx, enum fc_framing framing, int fps,
    int maxtime)
{
	send_str(fx, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
	assert_int_equal(fc_client_handle(fx->c, &fx->env, EPOLLIN),
	    FC_STEP_REQUEST);
	fc_client_start_stream(fx->c, &fx->env, framing, fps, maxtime, false);
}

/* Newest frame, skipped counting, keepalive resend. */
static void
test_stream_newest_and_skips(void **state)
{
	struct fixture *fx = *state;
	char buf[65536];
	long ts = 0;
	size_t n;

	start_stream(fx, FC_FRAMING_FULL, 0, 0);
	/* No frame yet: the head goes out alone. */
	assert_int_equal(fc_client_pump(fx->c, &fx->env), FC_STEP_OK);
	n = recv_all(fx, buf, sizeof(buf));
	assert_non_null(strstr(buf, "multipart/x-mixed-replace"));
	assert_int_equal(count_parts(buf, n, &ts), 0);

	set_current(fx, make_frame(1, 1000));
	assert_int_equal(fc_client_pump(fx->c, &fx->env), FC_STEP_OK);
	n = recv_all(fx, buf, sizeof(buf));
	assert_int_equal(count_parts(buf, n, &ts), 1);
	assert_int_equal(ts, 1);
	assert_non_null(strstr(buf, "Content-Length: 1000\r\n"));
	assert_null(fx->c->frame);		/* nothing pinned when done */
	assert_int_equal(fx->env.current->refs, 1);

	/* Frames 2..4 never reached this worker's current buffer in time:
	 * the client gets 5 and 3 frames count as skipped. */
	set_current(fx, make_frame(5, 800));
	fx->env.now_mono_ns += NS_PER_S / 30;
	assert_int_equal(fc_client_pump(fx->c, &fx->env), FC_STEP_OK);
	n = recv_all(fx, buf, sizeof(buf));
	assert_int_equal(count_parts(buf, n, &ts), 1);
	assert_int_equal(ts, 5);
	assert_int_equal(fx->stats.frames_skipped, 3);
	assert_int_equal(fx->stats.frames_sent, 2);

	/* Same frame again: nothing until a second passes, then a resend
	 * (not a skip). */
	assert_int_equal(fc_client_pump(fx->c, &fx->env), FC_STEP_OK);
	assert_int_equal(recv_all(fx, buf, sizeof(buf)), 0);
	fx->env.now_mono_ns += NS_PER_S + 1;
	assert_int_equal(fc_client_tick(fx->c, &fx->env), FC_STEP_OK);
	n = recv_all(fx, buf, sizeof(buf));
	assert_int_equal(count_parts(buf, n, &ts), 1);
	assert_int_equal(ts, 5);
	assert_int_equal(fx->stats.frames_sent, 3);
	assert_int_equal(fx->stats.frames_skipped, 3);
	/* Ages were observed for the two new pictures only. */
	assert_int_equal(fx->stats.age_count, 2);
	assert_true(fx->stats.bytes > 1800);
}

/* A slow client pins one buffer and, when it can take more, gets the
 * newest frame, not the next one. */
static void
test_stream_slow_client(void **state)
{
	struct fixture *fx = *state;
	enum { BIG = 200000 };
	struct fc_frame *f1, *f2;
	char *buf = malloc(4 * BIG);
	long ts = 0;
	size_t n, total = 0;
	int small = 8192, parts;

	assert_non_null(buf);
	setsockopt(fx->c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(fx->peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	start_stream(fx, FC_FRAMING_ADVANCE, 0, 0);
	f1 = make_frame(1, BIG);
	set_current(fx, f1);
	assert_int_equal(fc_client_pump(fx->c, &fx->env), FC_STEP_OK);
	/* Mid-part: the client holds f1. */
	assert_ptr_equal(fx->c->frame, f1);
	assert_int_equal(f1->refs, 2);
	assert_false(fx->c->writable);
	assert_true(fx->c->blocked_since_ns != 0);

	/* New frames arrive meanwhile; f1 stays pinned by the client only,
	 * f2 is never pinned by it. */
	f2 = make_frame(2, BIG);
	set_current(fx, f2);
	assert_int_equal(f1->refs, 1);
	set_current(fx, make_frame(3, 1000));
	assert_int_equal(fc_client_pump(fx->c, &fx->env), FC_STEP_OK);
	assert_ptr_equal(fx->c->frame, f1);

	/* The reader catches up; EPOLLOUT resumes the part, then the
	 * newest frame (3) follows. */
	parts = 0;
	for (int i = 0; i < 10000 && fx->c->last_seq != 3; i++) {
		n = recv_all(fx, buf + total, 4 * BIG - total);
		total += n;
		fx->env.now_mono_ns += 1000;
		assert_int_not_equal(fc_client_handle(fx->c, &fx->env,
		    EPOLLOUT), FC_STEP_CLOSE);
	}
	total += recv_all(fx, buf + total, 4 * BIG - total);
	assert_int_equal(fx->c->last_seq, 3);
	assert_int_equal(fx->stats.frames_skipped, 1);	/* frame 2 */
	assert_int_equal(fx->stats.frames_sent, 2);
	assert_null(fx->c->frame);
	assert_int_equal(fx->c->blocked_since_ns, 0);
	/* Advance framing: head + first part header, JPEG 1 + next header,
	 * JPEG 3 + next header; three boundaries in all. */
	for (const char *p = buf; (p = memmem(p, (size_t)(buf + total - p),
	    "--forkcastframe\r\n", 17)) != NULL; p++)
		parts++;
	assert_int_equal(parts, 3);
	assert_int_equal(count_parts(buf, total, &ts), 0);	/* no X-Timestamp */
	/* The stream ends with JPEG 3 (1000 x 'd') and the 47-byte tail. */
	assert_int_equal(buf[total - 47 - 1], 'd');
	assert_int_equal(buf[total - 47 - 1000], 'd');
	assert_int_equal(buf[total - 47 - 1001], '\n');
	free(buf);
}

/* A part nothing of which went out is dropped, so the frame is chosen
 * again when the socket has room. */
static void
test_stream_abandon_unstarted_part(void **state)
{
	struct fixture *fx = *state;
	char *buf = malloc(1 << 20);
	int small = 4096;

	assert_non_null(buf);
	setsockopt(fx->c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(fx->peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	start_stream(fx, FC_FRAMING_FULL, 0, 0);
	set_current(fx, make_frame(1, 100000));
	assert_int_equal(fc_client_pump(fx->c, &fx->env), FC_STEP_OK);
	/* Drain exactly enough to finish part 1 but leave the socket
	 * blocked for part 2 by filling it with a fresh frame first. */
	for (int i = 0; i < 1000 && fx->c->frame != NULL; i++) {
		recv_all(fx, buf, 1 << 20);
		fc_client_handle(fx->c, &fx->env, EPOLLOUT);
	}
	assert_null(fx->c->frame);
	assert_int_equal(fx->c->last_seq, 1);
	/* Socket full again with a big new frame in flight. */
	set_current(fx, make_frame(2, 100000));
	fx->c->writable = true;
	assert_int_equal(fc_client_pump(fx->c, &fx->env), FC_STEP_OK);
	/* Either part 2 started (it pins 2) or it was abandoned (pins
	 * nothing); never more than one frame. */
	assert_true(fx->c->frame == NULL || fx->c->frame->meta.seq == 2);
	assert_true(fx->env.current->refs <= 2);
	free(buf);
}

static void
test_send_timeout(void **state)
{
	struct fixture *fx = *state;
	int small = 4096;

	setsockopt(fx->c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(fx->peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	start_stream(fx, FC_FRAMING_FULL, 0, 0);
	set_current(fx, make_frame(1, 300000));
	assert_int_equal(fc_client_pump(fx->c, &fx->env), FC_STEP_OK);
	assert_true(fx->c->blocked_since_ns != 0);
	/* The peer never reads. */
	fx->env.now_mono_ns += 29 * NS_PER_S;
	assert_int_equal(fc_client_tick(fx->c, &fx->env), FC_STEP_OK);
	fx->env.now_mono_ns += 2 * NS_PER_S;
	assert_int_equal(fc_client_tick(fx->c, &fx->env), FC_STEP_CLOSE);
	assert_int_equal(fx->stats.drops_timeout, 1);
}

/*
 * A loopback TCP connection: *server gets the accepted end (non-blocking),
 * the return value is the peer.  rcvbuf > 0 shrinks the peer's receive
 * buffer before it connects (and so its window scale).
 */
static int
tcp_pair(int *server, int rcvbuf)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int l, p;

	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	p = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(l >= 0 && p >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &len), 0);
	if (rcvbuf > 0)
		setsockopt(p, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	assert_int_equal(connect(p, (struct sockaddr *)&sa, sizeof(sa)), 0);
	*server = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	assert_true(*server >= 0);
	close(l);
	fcntl(p, F_SETFL, O_NONBLOCK);
	return p;
}

/*
 * An event stream whose peer reads nothing is dropped after send_timeout
 * although every event still fits in its socket; one whose peer reads is
 * not.  One event a (simulated) second, with real time for the ACKs.
 */
static void
test_events_send_timeout(void **state)
{
	struct fixture *fx = *state;
	struct fc_client *c[2];
	char event[350], buf[65536];
	int peer[2], fd, i, k, closed_at[2] = { -1, -1 };

	fx->cfg.send_timeout = 3;
	memset(event, 'e', sizeof(event));
	for (k = 0; k < 2; k++) {
		peer[k] = tcp_pair(&fd, k == 0 ? 1 : 0);
		c[k] = fc_client_new(fd, NULL, 0, fx->env.now_mono_ns);
		assert_non_null(c[k]);
		fc_strbuf_puts(&c[k]->hdr, "HTTP/1.1 200 OK\r\n\r\n");
		fc_client_start_events(c[k], &fx->env);
		assert_int_equal(fc_client_pump(c[k], &fx->env), FC_STEP_OK);
	}
	for (i = 0; i < 40; i++) {
		fx->env.now_mono_ns += NS_PER_S;
		for (k = 0; k < 2; k++) {
			if (closed_at[k] >= 0)
				continue;
			fc_strbuf_reset(&c[k]->body);
			fc_strbuf_append(&c[k]->body, event, sizeof(event));
			if (fc_client_queue_event(c[k]))
				assert_int_equal(fc_client_pump(c[k], &fx->env),
				    FC_STEP_OK);
		}
		usleep(60000);		/* the ACKs */
		while (read(peer[1], buf, sizeof(buf)) > 0)
			;		/* peer 1 reads, peer 0 never */
		usleep(20000);
		for (k = 0; k < 2; k++)
			if (closed_at[k] < 0 &&
			    fc_client_tick(c[k], &fx->env) == FC_STEP_CLOSE)
				closed_at[k] = i;
	}
	printf("# non-reader dropped after %d events\n", closed_at[0] + 1);
	assert_true(closed_at[0] >= 0);
	assert_int_equal(closed_at[1], -1);
	assert_int_equal(fx->stats.drops_timeout, 1);
	/* Its socket still took every event: the write-side rule alone
	 * would not have fired. */
	assert_int_equal(c[0]->q.left, 0);
	assert_int_equal(c[0]->blocked_since_ns, 0);
	for (k = 0; k < 2; k++) {
		fc_client_free(c[k]);
		close(peer[k]);
	}
}

/*
 * An event stream whose peer has read everything is not asked about again
 * (no TCP_INFO) until the next event is queued, however many ticks pass,
 * and stays alive meanwhile: it has nothing to read.  Seen through a
 * socket without TCP_INFO put in place of the connection between ticks:
 * asking the kernel about it turns the window checks off.
 */
static void
test_events_liveness_reads(void **state)
{
	struct fixture *fx = *state;
	struct fc_client *c;
	char event[350], buf[65536];
	int peer, fd, tcp, i;

	fx->cfg.send_timeout = 3;
	memset(event, 'e', sizeof(event));
	peer = tcp_pair(&fd, 0);
	c = fc_client_new(fd, NULL, 0, fx->env.now_mono_ns);
	assert_non_null(c);
	fc_strbuf_puts(&c->hdr, "HTTP/1.1 200 OK\r\n\r\n");
	fc_client_start_events(c, &fx->env);
	assert_int_equal(fc_client_pump(c, &fx->env), FC_STEP_OK);
	fc_strbuf_append(&c->body, event, sizeof(event));
	assert_true(fc_client_queue_event(c));
	assert_int_equal(fc_client_pump(c, &fx->env), FC_STEP_OK);
	usleep(50000);
	while (read(peer, buf, sizeof(buf)) > 0)
		;
	usleep(50000);		/* its window update */
	fx->env.now_mono_ns += NS_PER_S;
	assert_int_equal(fc_client_tick(c, &fx->env), FC_STEP_OK);
	assert_true(c->check_window);

	/* Caught up: ten seconds of ticks (send_timeout is 3) ask nothing. */
	tcp = c->fd;
	c->fd = fx->peer;	/* the fixture's AF_UNIX socket */
	for (i = 0; i < 40; i++) {
		fx->env.now_mono_ns += NS_PER_S / 4;
		assert_int_equal(fc_client_tick(c, &fx->env), FC_STEP_OK);
	}
	assert_true(c->check_window);

	/* A new event: the next tick asks. */
	c->fd = tcp;
	assert_true(fc_client_queue_event(c));
	assert_int_equal(fc_client_pump(c, &fx->env), FC_STEP_OK);
	c->fd = fx->peer;
	fx->env.now_mono_ns += NS_PER_S / 4;
	assert_int_equal(fc_client_tick(c, &fx->env), FC_STEP_OK);
	assert_false(c->check_window);
	c->fd = tcp;
	assert_int_equal(fx->stats.drops_timeout, 0);
	fc_client_free(c);
	close(peer);
}

/*
 * A stream whose reader has taken everything is not asked about its
 * window (TCP_INFO) for its next FC_CLIENT_CHECK_SKIP parts; the part
 * after them asks again.  Seen as in test_events_liveness_reads: a socket
 * without TCP_INFO put in place of the connection turns the window checks
 * off when it is asked.
 */
static void
test_stream_check_skip(void **state)
{
	struct fixture *fx = *state;
	struct fc_client *c;
	char buf[65536];
	const char *req = "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n";
	int peer, fd, tcp, sv[2], i;
	uint64_t seq = 0;

	peer = tcp_pair(&fd, 0);
	c = fc_client_new(fd, NULL, 0, fx->env.now_mono_ns);
	assert_non_null(c);
	assert_int_equal(write(peer, req, strlen(req)), (ssize_t)strlen(req));
	usleep(20000);
	assert_int_equal(fc_client_handle(c, &fx->env, EPOLLIN),
	    FC_STEP_REQUEST);
	fc_client_start_stream(c, &fx->env, FC_FRAMING_FULL, 0, 0, false);
	c->check_window = true;		/* as the worker sets it for TCP */
	/* Parts over TCP, each read at once, until one is sent after a
	 * check that found all sent and acknowledged (the first may find
	 * the response head still unacknowledged). */
	for (i = 0; i < 4; i++) {
		fc_frame_unref(fx->env.current);
		fx->env.current = make_frame(++seq, 20000);
		fx->env.now_mono_ns += NS_PER_S / 10;
		assert_int_equal(fc_client_pump(c, &fx->env), FC_STEP_OK);
		assert_int_equal(c->q.left, 0);
		if (c->check_skip == FC_CLIENT_CHECK_SKIP)
			break;
		usleep(20000);
		while (read(peer, buf, sizeof(buf)) > 0)
			;
		usleep(20000);		/* the ACKs */
	}
	assert_true(c->check_window);
	assert_int_equal(c->check_skip, FC_CLIENT_CHECK_SKIP);

	/* The next FC_CLIENT_CHECK_SKIP parts ask nothing. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	tcp = c->fd;
	c->fd = sv[0];
	for (i = 0; i < FC_CLIENT_CHECK_SKIP; i++) {
		fc_frame_unref(fx->env.current);
		fx->env.current = make_frame(++seq, 20000);
		fx->env.now_mono_ns += NS_PER_S / 10;
		assert_int_equal(fc_client_pump(c, &fx->env), FC_STEP_OK);
		assert_int_equal(c->last_seq, seq);
		while (read(sv[1], buf, sizeof(buf)) > 0)
			;
	}
	assert_true(c->check_window);
	/* The one after them asks. */
	fc_frame_unref(fx->env.current);
	fx->env.current = make_frame(++seq, 20000);
	fx->env.now_mono_ns += NS_PER_S / 10;
	assert_int_equal(fc_client_pump(c, &fx->env), FC_STEP_OK);
	assert_false(c->check_window);
	c->fd = tcp;
	close(sv[0]);
	close(sv[1]);
	fc_client_free(c);
	close(peer);
}

/* A stream over TCP as the worker starts it (TCP_INFO allowed); rcvbuf
 * as for tcp_pair(). */
static struct fc_client *
tcp_stream(struct fixture *fx, int *peer, int rcvbuf, enum fc_framing framing)
{
	const char *req = "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n";
	struct fc_client *c;
	int fd;

	*peer = tcp_pair(&fd, rcvbuf);
	c = fc_client_new(fd, NULL, 0, fx->env.now_mono_ns);
	assert_non_null(c);
	c->check_window = true;		/* as the worker sets it for TCP */
	assert_int_equal(write(*peer, req, strlen(req)), (ssize_t)strlen(req));
	usleep(20000);
	assert_int_equal(fc_client_handle(c, &fx->env, EPOLLIN),
	    FC_STEP_REQUEST);
	fc_client_start_stream(c, &fx->env, framing, 0, 0, false);
	return c;
}

/* Reads everything the peer has now (non-blocking) into buf. */
static size_t
drain(int peer, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	while (n < cap && (r = read(peer, buf + n, cap - n)) > 0)
		n += (size_t)r;
	return n;
}

/*
 * Offers frame seq (len bytes) step_ns later, lets the ACKs come (real
 * time) and runs the rechecks the client asks for as they fall due.  With
 * peer >= 0 the peer reads everything 1 ms after the part goes (after its
 * ACK) and after each recheck.  True when the client was confirming a new
 * reader that looked behind right after the part was offered.
 */
static bool
offer_read(struct fixture *fx, struct fc_client *c, uint64_t seq,
    size_t len, int64_t step_ns, int peer)
{
	static char buf[1 << 17];
	struct fc_client *r;
	bool confirming;

	fc_frame_unref(fx->env.current);
	fx->env.current = make_frame(seq, len);
	fx->env.now_mono_ns += step_ns;
	assert_int_equal(fc_client_pump(c, &fx->env), FC_STEP_OK);
	confirming = c->confirming;
	usleep(peer >= 0 ? 1000 : 3000);
	if (peer >= 0)
		(void)drain(peer, buf, sizeof(buf));
	while (fx->env.recheck != NULL) {
		fx->env.now_mono_ns = fc_client_recheck_next_ns(&fx->env);
		usleep(2000);
		while ((r = fc_client_recheck(&fx->env)) != NULL)
			assert_int_equal(fc_client_pump(r, &fx->env),
			    FC_STEP_OK);
		if (peer >= 0)
			(void)drain(peer, buf, sizeof(buf));
	}
	return confirming;
}

/* offer_read() to a peer that reads nothing. */
static void
offer(struct fixture *fx, struct fc_client *c, uint64_t seq, size_t len,
    int64_t step_ns)
{
	(void)offer_read(fx, c, seq, len, step_ns, -1);
}

/* The end of a stream test: c keeps up, has no lead bytes out and is not
 * waiting to be looked at again; then it and its peer are closed. */
static void
end_fast(struct fixture *fx, struct fc_client *c, int peer)
{
	assert_int_equal(c->reader, FC_READER_FAST);
	assert_int_equal(c->probed, 0);
	assert_null(fx->env.recheck);
	fc_client_free(c);
	close(peer);
}

/*
 * Whole full-framing parts from p on (n bytes): their count, the last
 * one's X-Timestamp second in *last_ts, and in *rest where the bytes
 * after the last whole part begin.
 */
static int
whole_parts(const char *p, size_t n, long *last_ts, const char **rest)
{
	const char *end = p + n, *h, *cl, *ts;
	int parts = 0;
	long len;

	for (;;) {
		*rest = p;
		if ((size_t)(end - p) < 17 || memcmp(p, "--forkcastframe\r\n", 17))
			return parts;
		if ((h = memmem(p, (size_t)(end - p), "\r\n\r\n", 4)) == NULL)
			return parts;
		cl = memmem(p, (size_t)(h - p), "Content-Length: ", 16);
		ts = memmem(p, (size_t)(h - p), "X-Timestamp: ", 13);
		assert_non_null(cl);
		assert_non_null(ts);
		len = strtol(cl + 16, NULL, 10);
		if (end - (h + 4) < len + 2)
			return parts;
		assert_memory_equal(h + 4 + len, "\r\n", 2);
		*last_ts = strtol(ts + 13, NULL, 10);
		p = h + 4 + len + 2;
		parts++;
	}
}

/*
 * A reader that reads nothing gets a few parts, then is held as slow;
 * while it waits it is sent the next part's lead a byte at a time, and
 * what it has is whole parts and lead bytes only.  Once it read, the
 * newest frame's part continues the lead, and a stream ended while lead
 * bytes are out ends with a whole close delimiter.
 */
static void
test_stream_slow_reader_lead(void **state)
{
	struct fixture *fx = *state;
	static char buf[1 << 20];
	struct fc_client *c;
	const char *rest, *p;
	size_t n, lead_len;
	uint64_t seq = 0;
	long ts = 0;
	int peer, i, parts;

	fx->cfg.fps = 30;
	c = tcp_stream(fx, &peer, 0, FC_FRAMING_FULL);
	assert_int_equal(c->reader, FC_READER_NEW);
	(void)fc_stream_lead(FC_FRAMING_FULL, &lead_len);
	for (i = 0; i < 30; i++)
		offer(fx, c, ++seq, 20000, NS_PER_S / 30);
	/* The old rule let parts on until the window shut (six and more of
	 * these into a default buffer). */
	assert_true(c->last_seq >= 1 && c->last_seq <= 4);
	assert_int_equal(c->reader, FC_READER_SLOW);
	assert_true(c->probed > 0 && c->probed <= lead_len);
	n = drain(peer, buf, sizeof(buf));
	p = memmem(buf, n, "\r\n\r\n", 4);
	assert_non_null(p);
	parts = whole_parts(p + 4, n - (size_t)(p + 4 - buf), &ts, &rest);
	assert_int_equal(parts, (int)fx->stats.frames_sent);
	assert_int_equal(ts, (long)c->last_seq);
	assert_int_equal(buf + n - rest, (long)c->probed);
	assert_memory_equal(rest, "--forkcastframe", c->probed);
	memmove(buf, rest, c->probed);
	n = c->probed;

	/* It read: within FC_CLIENT_SLOW_WAIT_NS the newest frame goes. */
	usleep(20000);
	for (i = 0; i < 70 && c->last_seq != seq; i++)
		offer(fx, c, ++seq, 20000, NS_PER_S / 30);
	assert_int_equal(c->last_seq, seq);
	usleep(20000);
	n += drain(peer, buf + n, sizeof(buf) - n);
	assert_int_equal(whole_parts(buf, n, &ts, &rest), 1);
	assert_int_equal(ts, (long)seq);

	/* Held again with lead bytes out, then ended. */
	memmove(buf, rest, (size_t)(buf + n - rest));
	n = (size_t)(buf + n - rest);
	for (i = 0; i < 20 && c->probed < 2; i++)
		offer(fx, c, ++seq, 20000, NS_PER_S / 30);
	assert_true(c->probed >= 2);
	assert_int_equal(fc_client_end_stream(c, &fx->env), FC_STEP_CLOSE);
	usleep(20000);
	n += drain(peer, buf + n, sizeof(buf) - n);
	whole_parts(buf, n, &ts, &rest);
	assert_int_equal(buf + n - rest, 19);
	assert_memory_equal(rest, "--forkcastframe--\r\n", 19);
	fc_client_free(c);
	close(peer);
}

/* A reader that reads each part about 3 ms after it goes (after its ACKs
 * and any recheck) gets every frame while it is new, and keeps up once
 * its rate is measured (about a second) against
 * the capture's measured rate (15 fps here, though 30 are configured). */
static void
test_stream_new_reader_keeps_up(void **state)
{
	struct fixture *fx = *state;
	static char buf[1 << 17];
	struct fc_client *c;
	uint64_t seq = 0;
	int peer, i;

	fx->cfg.fps = 30;
	fx->env.fps_milli = 15000;
	c = tcp_stream(fx, &peer, 0, FC_FRAMING_FULL);
	assert_int_equal(c->reader, FC_READER_NEW);
	for (i = 0; i < 40; i++) {
		offer(fx, c, ++seq, 20000, NS_PER_S / 15);
		assert_int_equal(c->last_seq, seq);
		(void)drain(peer, buf, sizeof(buf));
		usleep(2000);
	}
	end_fast(fx, c, peer);
}

/*
 * A new reader whose ACKs come before it reads: a 64 KiB receive buffer
 * (so the window shows a 30,000-byte part unread when it arrives), read
 * a millisecond after each part.  Asked once more and looked at again
 * (the confirm probe and recheck), it shows it read, and gets every frame
 * while it is new; taken for slow at its first window it would miss
 * frames (6 of these 40, seen here).
 */
static void
test_stream_new_reader_acked_before_read(void **state)
{
	struct fixture *fx = *state;
	struct fc_client *c;
	uint64_t seq = 0;
	int peer, i;
	bool confirmed = false;

	fx->cfg.fps = 15;
	fx->env.fps_milli = 15000;
	c = tcp_stream(fx, &peer, 32768, FC_FRAMING_FULL);
	assert_int_equal(c->reader, FC_READER_NEW);
	for (i = 0; i < 40; i++) {
		/* The ACK comes first, then it reads. */
		confirmed |= offer_read(fx, c, ++seq, 30000, NS_PER_S / 15,
		    peer);
		assert_int_equal(c->last_seq, seq);
		assert_int_not_equal(c->reader, FC_READER_SLOW);
	}
	assert_true(confirmed);
	end_fast(fx, c, peer);
}

/*
 * The recheck list (fc_client_recheck*()): two new readers with 64 KiB
 * buffers that read nothing are put on it in turn once their windows show
 * a part unread (the confirm step); dropping one leaves the
 * other first, dropping both empties it, and dropping a client that is
 * not on it changes nothing.  The worker's close_client() relies on this
 * to keep closed clients off the list.
 */
static void
test_recheck_drop(void **state)
{
	struct fixture *fx = *state;
	struct fc_client *c[2];
	uint64_t seq = 0;
	int peer[2], i, k;

	fx->cfg.fps = 15;
	for (i = 0; i < 2; i++) {
		c[i] = tcp_stream(fx, &peer[i], 32768, FC_FRAMING_FULL);
		/* Frames until it asks to be looked at again (its rechecks
		 * are not run: it stays on the list). */
		for (k = 0; k < 10 && !c[i]->recheck_on; k++) {
			fx->env.now_mono_ns += NS_PER_S / 15;
			set_current(fx, make_frame(++seq, 30000));
			assert_int_equal(fc_client_pump(c[i], &fx->env),
			    FC_STEP_OK);
			usleep(5000);		/* the ACKs */
		}
		assert_true(c[i]->recheck_on);
	}
	assert_ptr_equal(fx->env.recheck, c[0]);
	assert_ptr_equal(fx->env.recheck_tail, c[1]);
	fc_client_recheck_drop(c[0], &fx->env);
	assert_false(c[0]->recheck_on);
	assert_ptr_equal(fx->env.recheck, c[1]);
	assert_ptr_equal(fx->env.recheck_tail, c[1]);
	fc_client_recheck_drop(c[0], &fx->env);	/* not on it */
	assert_ptr_equal(fx->env.recheck, c[1]);
	fc_client_recheck_drop(c[1], &fx->env);
	assert_null(fx->env.recheck);
	assert_null(fx->env.recheck_tail);
	for (i = 0; i < 2; i++) {
		fc_client_free(c[i]);
		close(peer[i]);
	}
}

/* A stream in the browser (advance) framing has no lead: it keeps the
 * window rules and is never sent a byte ahead of its next part. */
static void
test_stream_advance_not_probed(void **state)
{
	struct fixture *fx = *state;
	struct fc_client *c;
	uint64_t seq = 0;
	int peer, i;

	fx->cfg.fps = 30;
	c = tcp_stream(fx, &peer, 0, FC_FRAMING_ADVANCE);
	assert_int_equal(c->reader, FC_READER_FAST);
	for (i = 0; i < 20; i++)	/* it reads nothing */
		offer(fx, c, ++seq, 20000, NS_PER_S / 30);
	end_fast(fx, c, peer);
}

/* An idle stream waiting for frames is not "accepting no data". */
static void
test_idle_stream_not_dropped(void **state)
{
	struct fixture *fx = *state;
	char buf[4096];

	start_stream(fx, FC_FRAMING_FULL, 0, 0);
	assert_int_equal(fc_client_pump(fx->c, &fx->env), FC_STEP_OK);
	recv_all(fx, buf, sizeof(buf));
	fx->env.now_mono_ns += 100 * NS_PER_S;
	assert_int_equal(fc_client_tick(fx->c, &fx->env), FC_STEP_OK);
	assert_int_equal(fx->stats.drops_timeout, 0);
}

static void
test_fps_cap_and_maxtime(void **state)
{
	struct fixture *fx = *state;
	char buf[65536];

	start_stream(fx, FC_FRAMING_FULL, 10, 2);
	set_current(fx, make_frame(1, 100));
	assert_int_equal(fc_client_pump(fx->c, &fx->env), FC_STEP_OK);
	assert_int_equal(fx->stats.frames_sent, 1);
	/* 33 ms later a new frame: too early for 10 fps. */
	fx->env.now_mono_ns += NS_PER_S / 30;
	set_current(fx, make_frame(2, 100));
	assert_int_equal(fc_client_pump(fx->c, &fx->env), FC_STEP_OK);
	assert_int_equal(fx->stats.frames_sent, 1);
	fx->env.now_mono_ns += NS_PER_S / 10;
	set_current(fx, make_frame(3, 100));
	assert_int_equal(fc_client_pump(fx->c, &fx->env), FC_STEP_OK);
	assert_int_equal(fx->stats.frames_sent, 2);
	recv_all(fx, buf, sizeof(buf));
	/* maxtime=2 s ends the stream, with the close delimiter after the
	 * last part's tail. */
	fx->env.now_mono_ns += 2 * NS_PER_S;
	assert_int_equal(fc_client_tick(fx->c, &fx->env), FC_STEP_CLOSE);
	assert_int_equal(recv_all(fx, buf, sizeof(buf)), 19);
	assert_string_equal(buf, "--forkcastframe--\r\n");
}

/* A stream ended from outside (server stop) finishes the part in
 * flight, then sends the close delimiter; in advance framing it also
 * closes the part whose header block went out after the last JPEG. */
static void
test_end_stream_after_part(void **state)
{
	struct fixture *fx = *state;
	static char buf[1 << 20];
	size_t n, total = 0;
	int sz = 4096, i;

	/* A small send buffer so a 600 KB part stays in flight. */
	assert_int_equal(setsockopt(fx->c->fd, SOL_SOCKET, SO_SNDBUF, &sz,
	    sizeof(sz)), 0);
	start_stream(fx, FC_FRAMING_ADVANCE, 0, 0);
	set_current(fx, make_frame(1, 600000));
	assert_int_equal(fc_client_pump(fx->c, &fx->env), FC_STEP_OK);
	assert_true(fx->c->q.left > 0);
	assert_int_equal(fc_client_end_stream(fx->c, &fx->env), FC_STEP_OK);
	/* A newer frame does not start another part. */
	set_current(fx, make_frame(2, 100));
	for (i = 0; i < 10000; i++) {
		total += recv_all(fx, buf + total, sizeof(buf) - total);
		if (fc_client_handle(fx->c, &fx->env, EPOLLOUT) == FC_STEP_CLOSE)
			break;
	}
	assert_true(i < 10000);
	total += recv_all(fx, buf + total, sizeof(buf) - total);
	n = strlen("\r\n--forkcastframe\r\nContent-Type: image/jpeg\r\n\r\n"
	    "\r\n--forkcastframe--\r\n");
	assert_true(total > 600000 + n);
	assert_memory_equal(buf + total - n,
	    "\r\n--forkcastframe\r\nContent-Type: image/jpeg\r\n\r\n"
	    "\r\n--forkcastframe--\r\n", n);
	/* The JPEG before the tail is all of frame 1's bytes. */
	assert_int_equal(buf[total - n - 1], 'b');
	assert_null(memmem(buf, total, "cccc", 4));
	assert_int_equal(fx->stats.frames_sent, 1);
}

static void
test_stream_peer_gone(void **state)
{
	struct fixture *fx = *state;

	start_stream(fx, FC_FRAMING_FULL, 0, 0);
	assert_int_equal(fc_client_pump(fx->c, &fx->env), FC_STEP_OK);
	/* Chatter from the client is read and ignored. */
	send_str(fx, "junk after the request");
	assert_int_equal(fc_client_handle(fx->c, &fx->env, EPOLLIN), FC_STEP_OK);
	close(fx->peer);
	fx->peer = -1;
	assert_int_equal(fc_client_handle(fx->c, &fx->env, EPOLLIN | EPOLLRDHUP),
	    FC_STEP_CLOSE);
}

static void
test_head_stream(void **state)
{
	struct fixture *fx = *state;
	char buf[4096];

	send_str(fx, "HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n");
	assert_int_equal(fc_client_handle(fx->c, &fx->env, EPOLLIN),
	    FC_STEP_REQUEST);
	fc_client_start_stream(fx->c, &fx->env, FC_FRAMING_ADVANCE, 0, 0, true);
	set_current(fx, make_frame(1, 100));
	assert_int_equal(fc_client_pump(fx->c, &fx->env), FC_STEP_CLOSE);
	recv_all(fx, buf, sizeof(buf));
	assert_string_equal(buf + strlen(buf) - 4, "\r\n\r\n");
	assert_null(strstr(buf, "--forkcastframe"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_request_and_pipelining,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_answer, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_peer_eof_mid_request,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_timeout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_idle_keepalive_timeout,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_newest_and_skips,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_slow_client, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_stream_abandon_unstarted_part, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_timeout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_idle_stream_not_dropped,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_send_timeout,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_check_skip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_events_liveness_reads,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_slow_reader_lead,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_new_reader_keeps_up,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_stream_new_reader_acked_before_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recheck_drop, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stream_advance_not_probed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fps_cap_and_maxtime, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_end_stream_after_part,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_peer_gone, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_head_stream, setup,
		    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
