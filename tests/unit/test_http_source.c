/*
 * Unit tests for the http (relay) source against tests/tools/mjpegsrv,
 * started by each test on a free loopback port and killed by pid.
 *
 * mjpegsrv is looked up as $FC_MJPEGSRV, build/tools/mjpegsrv (from the
 * repository root) or next to this binary's build tree; the tests are
 * skipped when it is not built (`make build/tools/mjpegsrv`).
 *
 * The chunked tests need no mjpegsrv: a forked raw server sends a fixed
 * response, and the source's recv() is capped (see __wrap_recv) so the
 * parsers see it split exactly where each test says.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "../../common/clock.h"
#include "../../common/config.h"
#include "../../common/log.h"
#include "../../capture/source.h"

#define TS_BASE 1000000000LL	/* mjpegsrv --ts-base */

static char srv_path[1024];

struct server {
	pid_t pid;
	int port;
};

static void
find_server(const char *argv0)
{
	const char *env = getenv("FC_MJPEGSRV");
	char *slash;

	if (env != NULL && access(env, X_OK) == 0) {
		snprintf(srv_path, sizeof(srv_path), "%s", env);
		return;
	}
	if (access("build/tools/mjpegsrv", X_OK) == 0) {
		snprintf(srv_path, sizeof(srv_path), "build/tools/mjpegsrv");
		return;
	}
	/* build/san/tests/test_x -> build/tools/mjpegsrv */
	snprintf(srv_path, sizeof(srv_path), "%s", argv0);
	if ((slash = strrchr(srv_path, '/')) != NULL) {
		*slash = '\0';
		strncat(srv_path, "/../../tools/mjpegsrv",
		    sizeof(srv_path) - strlen(srv_path) - 1);
		if (access(srv_path, X_OK) == 0)
			return;
	}
	srv_path[0] = '\0';
}

/* Starts mjpegsrv on port 0 with extra arguments (NULL-terminated) and
 * reads back the port it bound. */
static void
server_start(struct server *s, ...)
{
	const char *argv[24];
	char line[128];
	size_t len = 0;
	int pfd[2], argc = 0;
	va_list ap;

	if (srv_path[0] == '\0')
		skip();
	argv[argc++] = srv_path;
	argv[argc++] = "--port";
	argv[argc++] = "0";
	argv[argc++] = "--ts-base";
	argv[argc++] = "1000000000";
	va_start(ap, s);
	while (argc < 23 && (argv[argc] = va_arg(ap, const char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;

	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		dup2(pfd[1], 1);
		execv(srv_path, (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(pfd[1]);
	/* "listening on 127.0.0.1:PORT\n", within 5 s. */
	while (len < sizeof(line) - 1 && memchr(line, '\n', len) == NULL) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		ssize_t n;

		assert_int_equal(poll(&p, 1, 5000), 1);
		n = read(pfd[0], line + len, sizeof(line) - 1 - len);
		assert_true(n > 0);
		len += (size_t)n;
	}
	line[len] = '\0';
	close(pfd[0]);
	assert_int_equal(sscanf(line, "listening on 127.0.0.1:%d", &s->port),
	    1);
}

static void
server_stop(struct server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
}

struct ctx {
	struct fc_config cfg;
	struct fc_source src;
};

static struct ctx *
ctx_new(const char *url, uint64_t max_frame)
{
	struct ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	snprintf(c->cfg.url, sizeof(c->cfg.url), "%s", url);
	c->cfg.max_frame_size = max_frame;
	c->cfg.width = 1280;
	c->cfg.height = 720;
	c->cfg.fps = 30;
	c->src.ops = &fc_source_http;
	c->src.cfg = &c->cfg;
	return c;
}

static struct ctx *
ctx_host(const char *host, int port, uint64_t max_frame)
{
	char url[128];

	snprintf(url, sizeof(url), "http://%s:%d/stream", host, port);
	return ctx_new(url, max_frame);
}

static struct ctx *
ctx_port(int port, uint64_t max_frame)
{
	return ctx_host("127.0.0.1", port, max_frame);
}

/* Waits up to total_ms for one frame (AGAIN is retried). */
static enum fc_src_result
next_frame(struct ctx *c, struct fc_src_frame *f, int total_ms)
{
	int64_t end = fc_now_mono_ns() + (int64_t)total_ms * 1000000;
	enum fc_src_result r;

	do {
		r = c->src.ops->next(&c->src, f, 200);
	} while (r == FC_SRC_AGAIN && fc_now_mono_ns() < end);
	return r;
}

/* Index n of mjpegsrv's n-th frame on this connection, from X-Timestamp. */
static long
ts_index(const struct fc_src_frame *f)
{
	int64_t d = f->ts_real_ns - TS_BASE * 1000000000LL;

	assert_true(d >= 0);
	assert_int_equal(d % 1000000, 0);
	return (long)(d / 1000000);
}

static void
receive_valid(const char *host, const char *mode, int nframes)
{
	struct server s;
	struct ctx *c;
	struct fc_src_frame f;

	server_start(&s, "--fps", "100", "--mode", mode, NULL);
	c = ctx_host(host, s.port, 1 << 20);
	assert_int_equal(c->src.ops->open(&c->src), 0);
	for (int i = 0; i < nframes; i++) {
		assert_int_equal(next_frame(c, &f, 3000), FC_SRC_OK);
		assert_false(f.broken);
		assert_int_equal(f.width, 160);
		assert_int_equal(f.height, 120);
		assert_true(f.len > 100);
		assert_int_equal(f.jpeg[0], 0xff);
		assert_int_equal(f.jpeg[1], 0xd8);
		/* Upstream capture time kept, in order, none lost. */
		assert_int_equal(ts_index(&f), i);
		assert_int_equal(f.ts_mono_ns, 0);
	}
	c->src.ops->close(&c->src);
	assert_null(c->src.priv);
	free(c);
	server_stop(&s);
}

static void
test_normal(void **state)
{
	(void)state;
	receive_valid("127.0.0.1", "normal", 8);
}

static void
test_nolength(void **state)
{
	(void)state;
	/* A name, resolved by getaddrinfo (may try ::1 first: refused). */
	receive_valid("localhost", "nolength", 8);
}

static void
test_garbage_resync(void **state)
{
	struct server s;
	struct ctx *c;
	struct fc_src_frame f;
	int valid = 0, broken = 0;

	(void)state;
	server_start(&s, "--fps", "100", "--mode", "garbage", NULL);
	c = ctx_port(s.port, 1 << 20);
	assert_int_equal(c->src.ops->open(&c->src), 0);
	for (int i = 0; i < 16; i++) {
		long k;

		assert_int_equal(next_frame(c, &f, 3000), FC_SRC_OK);
		k = ts_index(&f);
		/* Every 5th part has a malformed header: never delivered. */
		assert_true(k % 5 != 4);
		if (f.broken) {
			/* Every 3rd part is not a JPEG: flagged. */
			assert_int_equal(k % 3, 2);
			broken++;
		} else {
			assert_true(k % 3 != 2);
			assert_int_equal(f.width, 160);
			valid++;
		}
	}
	print_message("garbage mode: %d valid, %d broken of 16 parts\n",
	    valid, broken);
	assert_true(valid >= 8);
	assert_true(broken >= 3);
	c->src.ops->close(&c->src);
	free(c);
	server_stop(&s);
}

static void
test_oversize_dropped(void **state)
{
	struct server s;
	struct ctx *c;
	struct fc_src_frame f;

	(void)state;
	server_start(&s, "--fps", "100", "--mode", "oversize", NULL);
	c = ctx_port(s.port, 65536);
	assert_int_equal(c->src.ops->open(&c->src), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(next_frame(c, &f, 3000), FC_SRC_OK);
		assert_false(f.broken);
		/* The 1 MiB odd parts never come through. */
		assert_int_equal(ts_index(&f), 2 * i);
	}
	c->src.ops->close(&c->src);
	free(c);
	server_stop(&s);
}

static void
test_stall(void **state)
{
	struct server s;
	struct ctx *c;
	struct fc_src_frame f;
	enum fc_src_result r;
	int64_t t0, dt;

	(void)state;
	server_start(&s, "--fps", "50", "--mode", "stall", NULL);
	c = ctx_port(s.port, 1 << 20);
	assert_int_equal(c->src.ops->open(&c->src), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(next_frame(c, &f, 3000), FC_SRC_OK);
	t0 = fc_now_mono_ns();
	do {
		r = c->src.ops->next(&c->src, &f, 500);
	} while (r == FC_SRC_AGAIN && fc_now_mono_ns() - t0 < 9000000000LL);
	dt = (fc_now_mono_ns() - t0) / 1000000;
	print_message("stall detected after %lld ms: %s\n", (long long)dt,
	    c->src.error);
	assert_int_equal(r, FC_SRC_ERROR);
	assert_non_null(strstr(c->src.error, "stalled"));
	assert_true(dt >= 4000 && dt <= 6500);
	c->src.ops->close(&c->src);
	free(c);
	server_stop(&s);
}

static void
test_closed_then_refused(void **state)
{
	struct server s;
	struct ctx *c;
	struct fc_src_frame f;
	int status;

	(void)state;
	server_start(&s, "--fps", "100", "--mode", "refuse-after", "2", NULL);
	c = ctx_port(s.port, 1 << 20);
	assert_int_equal(c->src.ops->open(&c->src), 0);
	assert_int_equal(next_frame(c, &f, 3000), FC_SRC_OK);
	assert_int_equal(next_frame(c, &f, 3000), FC_SRC_OK);
	assert_int_equal(next_frame(c, &f, 3000), FC_SRC_ERROR);
	assert_non_null(strstr(c->src.error, "closed the connection"));
	c->src.ops->close(&c->src);
	/* The server exits by itself after 2 frames. */
	assert_int_equal(waitpid(s.pid, &status, 0), s.pid);
	s.pid = 0;
	assert_int_equal(c->src.ops->open(&c->src), -1);
	print_message("reconnect: %s\n", c->src.error);
	assert_non_null(strstr(c->src.error, "Connection refused"));
	assert_null(c->src.priv);
	c->src.ops->close(&c->src);	/* harmless after a failed open */
	free(c);
}

static void
test_bad_answers(void **state)
{
	struct server s;
	struct ctx *c;

	(void)state;
	server_start(&s, "--mode", "notfound", NULL);
	c = ctx_port(s.port, 1 << 20);
	assert_int_equal(c->src.ops->open(&c->src), -1);
	assert_non_null(strstr(c->src.error, "404"));
	free(c);
	server_stop(&s);

	server_start(&s, "--mode", "notmultipart", NULL);
	c = ctx_port(s.port, 1 << 20);
	assert_int_equal(c->src.ops->open(&c->src), -1);
	assert_non_null(strstr(c->src.error, "not a multipart"));
	assert_non_null(strstr(c->src.error, "image/jpeg"));
	free(c);
	server_stop(&s);
}

/* A raw server that answers with a fixed response, for heads mjpegsrv does
 * not produce. */
static void
check_raw_answer(const char *answer, const char *expect_error)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	char shown[41];
	struct ctx *c;
	int lfd, fd;
	pid_t pid;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &sl), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[2048];

		alarm(10);
		if ((fd = accept(lfd, NULL, NULL)) >= 0) {
			(void)!read(fd, buf, sizeof(buf));
			(void)!write(fd, answer, strlen(answer));
			close(fd);
		}
		_exit(0);
	}
	close(lfd);
	c = ctx_port(ntohs(sin.sin_port), 1 << 20);
	assert_int_equal(c->src.ops->open(&c->src), -1);
	fc_log_escape(shown, sizeof(shown), NULL, answer, strlen(answer));
	print_message("answer \"%s...\": %s\n", shown, c->src.error);
	assert_non_null(strstr(c->src.error, expect_error));
	free(c);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

static void
test_raw_heads(void **state)
{
	(void)state;
	check_raw_answer("SSH-2.0-OpenSSH\r\n\r\n", "did not answer HTTP");
	check_raw_answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
	    "Content-Type: multipart/x-mixed-replace; boundary=x\r\n\r\n",
	    "Transfer-Encoding gzip (not supported)");
	check_raw_answer("HTTP/1.1 401 Unauthorized\r\n\r\n",
	    "upstream needs credentials (401)");
	check_raw_answer("HTTP/1.1 403 Forbidden\r\n\r\n",
	    "upstream needs credentials (403)");
	check_raw_answer("HTTP/2.0 200 OK\r\n\r\n", "not HTTP/1.x");
	check_raw_answer("HTTP/1.1 200 OK\r\nContent-Type: "
	    "multipart/x-mixed-replace\r\n\r\n", "not a multipart");
	check_raw_answer("HTTP/1.0 503 Service Unavailable\r\n\r\n",
	    "503 Service Unavailable");
	check_raw_answer("HTTP/1.1 200 OK\r\n", "closed the connection");
	/* Upstream text reaches src->error (/status, the no-signal frame,
	 * the log) as printable ASCII only. */
	check_raw_answer("HTTP/1.0 500 \x1b[2J\x1b]0;pwned\x07\rX\xff\r\n\r\n",
	    "upstream answered 500 \\x1b[2J\\x1b]0;pwned\\x07 with a "
	    "malformed head (HPE_INVALID_HEADER_TOKEN): \"HTTP/1.0 500 "
	    "\\x1b[2J\\x1b]0;pwned\\x07\\x0dX\\xff");
	check_raw_answer("HTTP/1.1 200 OK\r\nContent-Type: text/html\x1b[31m"
	    "\r\n\r\n", "\"Content-Type: text/html\\x1b[31m\"");
	check_raw_answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: x\x07y\r\n"
	    "\r\n", "\"Transfer-Encoding: x\\x07y\"");
	check_raw_answer("HTTP/1.1 200 OK\r\nContent-Type: multipart/x-"
	    "mixed-replace; boundary=\"a\x1b[5m\"\r\n\r\n",
	    "Content-Type: multipart/x-mixed-replace; boundary=\"a\\x1b[5m\"\"");
	check_raw_answer("\x1b[2JSSH-2.0\r\n\r\n",
	    "did not answer HTTP: \"\\x1b[2JSSH-2.0\"");
}

/*
 * Splitting the upstream stream where a test wants.  The .mk links this
 * binary with -Wl,--wrap=recv, so the recv() calls of capture/source_http.c
 * come here.  While cut.armed, no read crosses offset cut.at of the
 * connection (or, with cut.bytewise, every read is one byte): the response
 * reaches the parsers in exactly those pieces, whatever the kernel would
 * have coalesced.  The bytes are the socket's own; only the read length
 * is capped.
 */
static struct {
	bool armed;
	bool bytewise;	/* one byte per read */
	size_t at;	/* stream offset no read crosses */
	size_t pos;	/* bytes read on this connection */
	size_t reads;	/* reads that returned data */
	bool hit;	/* a read ended exactly at cut.at */
} cut;

ssize_t __real_recv(int fd, void *buf, size_t len, int flags);
ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags);

ssize_t
__wrap_recv(int fd, void *buf, size_t len, int flags)
{
	ssize_t n;

	if (cut.armed) {
		if (cut.bytewise && len > 1)
			len = 1;
		else if (cut.pos < cut.at && len > cut.at - cut.pos)
			len = cut.at - cut.pos;
	}
	n = __real_recv(fd, buf, len, flags);
	if (cut.armed && n > 0) {
		cut.pos += (size_t)n;
		cut.reads++;
		if (cut.pos == cut.at)
			cut.hit = true;
	}
	return n;
}

static void
cut_arm(size_t at, bool bytewise)
{
	memset(&cut, 0, sizeof(cut));
	cut.armed = true;
	cut.at = at;
	cut.bytewise = bytewise;
}

/* A raw server on a loopback port that answers each of up to nconn
 * connections with the len bytes at answer (after reading the request
 * head, so closing never resets the connection). */
struct raw_server {
	pid_t pid;
	int port;
};

static void
raw_server_start(struct raw_server *rs, const uint8_t *answer, size_t len,
    int nconn)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int lfd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 16), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &sl), 0);
	rs->port = ntohs(sin.sin_port);
	rs->pid = fork();
	assert_true(rs->pid >= 0);
	if (rs->pid == 0) {
		alarm(60);
		for (int i = 0; i < nconn; i++) {
			char req[4096];
			size_t have = 0, off = 0;
			ssize_t n;
			int fd;

			if ((fd = accept(lfd, NULL, NULL)) < 0)
				_exit(1);
			while (have < sizeof(req) - 1 &&
			    (n = read(fd, req + have, sizeof(req) - 1 - have)) >
			    0) {
				have += (size_t)n;
				req[have] = '\0';
				if (strstr(req, "\r\n\r\n") != NULL)
					break;
			}
			while (off < len &&
			    (n = write(fd, answer + off, len - off)) > 0)
				off += (size_t)n;
			shutdown(fd, SHUT_WR);
			/* Wait for the client's close: no reset on unread data. */
			while (read(fd, req, sizeof(req)) > 0)
				;
			close(fd);
		}
		_exit(0);
	}
	close(lfd);
}

static void
raw_server_stop(struct raw_server *rs)
{
	kill(rs->pid, SIGTERM);
	waitpid(rs->pid, NULL, 0);
	rs->pid = 0;
}

struct buf {
	uint8_t d[4096];
	size_t len;
};

static void
buf_add(struct buf *b, const void *d, size_t n)
{
	assert_true(n <= sizeof(b->d) - b->len);
	memcpy(b->d + b->len, d, n);
	b->len += n;
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Offset of the nth (0-based) occurrence of s in b. */
static size_t
buf_find(const struct buf *b, const char *s, int nth)
{
	const uint8_t *at = b->d;
	size_t n = strlen(s);

	for (;;) {
		at = memmem(at, b->len - (size_t)(at - b->d), s, n);
		assert_non_null(at);
		if (nth-- == 0)
			return (size_t)(at - b->d);
		at++;
	}
}

static const char chunked_head[] = "HTTP/1.1 200 OK\r\n"
    "Content-Type: multipart/x-mixed-replace; boundary=frame\r\n"
    "Transfer-Encoding: chunked\r\n"
    "Cache-Control: no-cache\r\n\r\n";

/* Three JPEG-like parts (SOI ... EOI, not decodable: delivered flagged
 * broken, bytes untouched).  Their data holds what chunked framing and
 * multipart framing look like: a chunk-size line, a last-chunk line, CRLF,
 * NUL, a partial delimiter. */
static const uint8_t jpeg1[] = {
	0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00,
	'\r', '\n', '0', '\r', '\n', '\r', '\n', 0xff, 0xdb, 0x00, 0x43,
	'5', ';', 'x', '=', 'y', '\r', '\n', 0x00, 0xff, 0xd9,
};
static const uint8_t jpeg2[] = {
	0xff, 0xd8, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x08, 0x06, 0x06,
	'\r', '\n', '-', '-', 'f', 'r', 'a', 0x0d, 0x0a, 'a', ';', 'b',
	0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x10, 0x00, 0x10, 0xff, 0xd9,
};
#define JPEG3_LEN 200
#define TS_PART(i) (1700000000LL * 1000000000LL + (i) * 1000LL)

struct chunked_case {
	struct buf body;	/* the de-chunked multipart body */
	struct buf resp;	/* the whole response, chunked */
	uint8_t jpeg3[JPEG3_LEN];
	const uint8_t *part[3];
	size_t part_len[3];
};

static void
part_head(struct buf *b, int i, size_t clen)
{
	char h[160];

	snprintf(h, sizeof(h), "%s--frame\r\nContent-Type: image/jpeg\r\n",
	    i == 1 ? "" : "\r\n");
	buf_str(b, h);
	if (clen > 0) {
		snprintf(h, sizeof(h), "Content-Length: %zu\r\n", clen);
		buf_str(b, h);
	}
	snprintf(h, sizeof(h), "X-Timestamp: 1700000000.%06d\r\n\r\n", i);
	buf_str(b, h);
}

/* Builds the body, then chunks it with boundaries inside part headers,
 * inside JPEG data and between CR and LF, sizes in both cases of hex, with
 * chunk extensions, and a last chunk with a trailer. */
static void
chunked_case_build(struct chunked_case *c)
{
	size_t cuts[16], ncut = 0, prev = 0;
	char line[64];

	for (int i = 0; i < JPEG3_LEN; i++)
		c->jpeg3[i] = (uint8_t)(i * 37 + 11);
	c->jpeg3[0] = 0xff;
	c->jpeg3[1] = 0xd8;
	c->jpeg3[JPEG3_LEN - 2] = 0xff;
	c->jpeg3[JPEG3_LEN - 1] = 0xd9;
	c->part[0] = jpeg1;
	c->part_len[0] = sizeof(jpeg1);
	c->part[1] = jpeg2;
	c->part_len[1] = sizeof(jpeg2);
	c->part[2] = c->jpeg3;
	c->part_len[2] = JPEG3_LEN;

	/* Parts 1 and 3 with Content-Length, part 2 ended by the next
	 * delimiter. */
	part_head(&c->body, 1, sizeof(jpeg1));
	buf_add(&c->body, jpeg1, sizeof(jpeg1));
	part_head(&c->body, 2, 0);
	buf_add(&c->body, jpeg2, sizeof(jpeg2));
	part_head(&c->body, 3, JPEG3_LEN);
	buf_add(&c->body, c->jpeg3, JPEG3_LEN);
	buf_str(&c->body, "\r\n--frame--\r\n");

	/* In part 1's header name, inside its data (between FF and D8, and
	 * inside the fake last-chunk line), in part 2's X-Timestamp, inside
	 * its data, between CR and LF of part 3's delimiter line, in part
	 * 3's Content-Length value, twice inside its data. */
	cuts[ncut++] = buf_find(&c->body, "Content-Type", 0) + 8;
	cuts[ncut++] = buf_find(&c->body, "JFIF", 0) - 5;
	cuts[ncut++] = buf_find(&c->body, "\r\n0\r\n", 0) + 3;
	cuts[ncut++] = buf_find(&c->body, "X-Timestamp", 1) + 2;
	cuts[ncut++] = buf_find(&c->body, "--fra\r\n", 0) + 3;
	cuts[ncut++] = buf_find(&c->body, "--frame\r\n", 2) + 8;
	cuts[ncut++] = buf_find(&c->body, "Content-Length: 200", 0) + 17;
	cuts[ncut++] = buf_find(&c->body, "X-Timestamp", 2) + 40;
	cuts[ncut++] = buf_find(&c->body, "X-Timestamp", 2) + 150;
	cuts[ncut++] = c->body.len;

	buf_str(&c->resp, chunked_head);
	for (size_t i = 0; i < ncut; i++) {
		assert_true(cuts[i] > prev);
		snprintf(line, sizeof(line), i % 3 == 0 ? "%zx\r\n" :
		    i % 3 == 1 ? "%zX;x=y\r\n" : "%zx;ext;q=\"a b\"\r\n",
		    cuts[i] - prev);
		buf_str(&c->resp, line);
		buf_add(&c->resp, c->body.d + prev, cuts[i] - prev);
		buf_str(&c->resp, "\r\n");
		prev = cuts[i];
	}
	buf_str(&c->resp, "0;x=y\r\nX-Trailer: done\r\n\r\n");
}

/* Opens a source on the raw server, reads the three parts and the end of
 * the stream, checking every byte.  what names the split in messages. */
static void
read_chunked(const struct chunked_case *c, int port, const char *what)
{
	struct fc_src_frame f;
	struct ctx *x = ctx_port(port, 1 << 20);
	enum fc_src_result r;

	if (x->src.ops->open(&x->src) != 0)
		fail_msg("%s: open: %s", what, x->src.error);
	/* Without de-chunking, the chunk-size lines land inside every part
	 * header, so no part comes: the first check below fails with
	 * "unsplit: part 1: result 2 (... closed the connection)".  A size
	 * line inside JPEG data would fail the length/bytes check. */
	for (int i = 0; i < 3; i++) {
		r = next_frame(x, &f, 3000);
		if (r != FC_SRC_OK)
			fail_msg("%s: part %d: result %d (%s)", what, i + 1, r,
			    x->src.error);
		if (f.len != c->part_len[i] ||
		    memcmp(f.jpeg, c->part[i], f.len) != 0)
			fail_msg("%s: part %d: %zu bytes, expected %zu%s", what,
			    i + 1, f.len, c->part_len[i],
			    f.len == c->part_len[i] ? " (bytes differ)" : "");
		assert_true(f.broken);
		if (f.ts_real_ns != TS_PART(i + 1))
			fail_msg("%s: part %d: X-Timestamp %lld, expected "
			    "%lld", what, i + 1, (long long)f.ts_real_ns,
			    (long long)TS_PART(i + 1));
	}
	/* The last chunk and trailer end the message: nothing more. */
	r = next_frame(x, &f, 3000);
	if (r != FC_SRC_ERROR || strstr(x->src.error, "ended the stream") ==
	    NULL)
		fail_msg("%s: after 3 parts: result %d (%s)", what, r,
		    x->src.error);
	assert_int_equal(x->src.dropped_oversize, 0);
	x->src.ops->close(&x->src);
	assert_null(x->src.priv);
	free(x);
}

static void
test_chunked_every_split(void **state)
{
	struct chunked_case *c = calloc(1, sizeof(*c));
	struct raw_server rs;
	char what[64];
	size_t k;

	(void)state;
	assert_non_null(c);
	chunked_case_build(c);
	/* One connection per split point, plus one unsplit and one bytewise. */
	raw_server_start(&rs, c->resp.d, c->resp.len, (int)c->resp.len + 1);

	cut_arm(0, false);
	read_chunked(c, rs.port, "unsplit");
	for (k = 1; k < c->resp.len; k++) {
		snprintf(what, sizeof(what), "split at %zu of %zu", k,
		    c->resp.len);
		cut_arm(k, false);
		read_chunked(c, rs.port, what);
		/* The split really happened, and every byte was read. */
		assert_true(cut.hit);
		assert_int_equal(cut.pos, c->resp.len);
	}
	cut_arm(0, true);
	read_chunked(c, rs.port, "one byte per read");
	assert_int_equal(cut.reads, c->resp.len);
	cut.armed = false;
	print_message("chunked response of %zu bytes (body %zu): 3 parts "
	    "exact at each of %zu splits and one byte per read\n",
	    c->resp.len, c->body.len, c->resp.len - 1);
	raw_server_stop(&rs);
	free(c);
}

/* A response whose chunked body goes bad after one good part (or at
 * once): refused with the error expected, at every split, no crash. */
static void
check_bad_chunks(const char *body, bool first_part, const char *expect)
{
	struct buf *resp = calloc(1, sizeof(*resp));
	struct raw_server rs;
	struct fc_src_frame f;
	struct ctx *x;
	enum fc_src_result r;

	assert_non_null(resp);
	buf_str(resp, chunked_head);
	buf_str(resp, body);
	raw_server_start(&rs, resp->d, resp->len, (int)resp->len);
	for (size_t k = 1; k <= resp->len; k++) {
		cut_arm(k, false);
		x = ctx_port(rs.port, 1 << 20);
		if (x->src.ops->open(&x->src) != 0)
			fail_msg("split at %zu: open: %s", k, x->src.error);
		if (first_part) {
			r = next_frame(x, &f, 3000);
			if (r != FC_SRC_OK)
				fail_msg("split at %zu: first part: result %d "
				    "(%s)", k, r, x->src.error);
			assert_int_equal(f.len, 4);
			assert_memory_equal(f.jpeg, "\xff\xd8\xff\xd9", 4);
		}
		r = next_frame(x, &f, 3000);
		if (r != FC_SRC_ERROR || strstr(x->src.error, expect) == NULL)
			fail_msg("split at %zu: result %d (%s), expected "
			    "\"%s\"", k, r, x->src.error, expect);
		if (k == resp->len)
			print_message("%s\n", x->src.error);
		x->src.ops->close(&x->src);
		free(x);
	}
	cut.armed = false;
	raw_server_stop(&rs);
	free(resp);
}

/* One chunk of 0x3c bytes carrying a whole 4-byte part. */
#define GOOD_CHUNK "3c\r\n--frame\r\nContent-Type: image/jpeg\r\n" \
	"Content-Length: 4\r\n\r\n\xff\xd8\xff\xd9\r\n"

static void
test_chunked_bad_size(void **state)
{
	(void)state;
	assert_int_equal(strlen(GOOD_CHUNK), 4 + 0x3c + 2);
	check_bad_chunks("zz\r\nabc\r\n0\r\n\r\n", false,
	    "malformed response body: bad chunk size line "
	    "(HPE_INVALID_CHUNK_SIZE)");
	/* 2^64, and 2^64 - 1 (over the parser's limit, just below 2^60). */
	check_bad_chunks(GOOD_CHUNK "10000000000000000\r\nx", true,
	    "malformed response body: chunk size too large "
	    "(HPE_INVALID_CONTENT_LENGTH)");
	check_bad_chunks(GOOD_CHUNK "ffffffffffffffff;x=y\r\nx", true,
	    "malformed response body: chunk size too large");
	/* Chunk data longer than its size: the extra bytes stand where
	 * the next size line should. */
	check_bad_chunks(GOOD_CHUNK "5\r\nabcdeXX\r\n0\r\n\r\n", true,
	    "malformed response body: bad chunk size line");
}

static void
test_bad_urls(void **state)
{
	static const struct {
		const char *url, *err;
	} cases[] = {
		/* The reasons of common/url.c (test_url has them all). */
		{ "", "capture.url: empty url" },
		{ "ftp://127.0.0.1/", "capture.url: must start with http://" },
		{ "http://", "capture.url: no host after http://" },
		{ "http://:80/", "capture.url: no host after http://" },
		{ "http://127.0.0.1:0/", "capture.url: port 0 is out of range" },
		{ "http://127.0.0.1:99999/",
		  "capture.url: port 99999 is out of range" },
		{ "http://127.0.0.1:8x/", "capture.url: port '8x' is not a "
		  "number" },
		{ "http://[::1/", "capture.url: unterminated" },
		{ "http://user@127.0.0.1/",
		  "capture.url: credentials must be user:password" },
		{ "http://127.0.0.1:80/a b", "capture.url: spaces" },
	};
	struct ctx *c;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = ctx_new(cases[i].url, 1 << 20);
		assert_int_equal(c->src.ops->open(&c->src), -1);
		if (strstr(c->src.error, cases[i].err) == NULL)
			fail_msg("url \"%s\": error \"%s\", expected \"%s\"",
			    cases[i].url, c->src.error, cases[i].err);
		assert_null(c->src.priv);
		free(c);
	}
}

static void
test_ipv6_refused(void **state)
{
	struct ctx *c;
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	socklen_t sl = sizeof(sin6);
	char url[64];
	int fd;

	(void)state;
	/* A free port on [::1]: bound, then closed. */
	sin6.sin6_addr = in6addr_loopback;
	if ((fd = socket(AF_INET6, SOCK_STREAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) < 0) {
		if (fd >= 0)
			close(fd);
		skip();
	}
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin6, &sl), 0);
	close(fd);
	snprintf(url, sizeof(url), "http://[::1]:%d/", ntohs(sin6.sin6_port));
	c = ctx_new(url, 1 << 20);
	assert_int_equal(c->src.ops->open(&c->src), -1);
	assert_non_null(strstr(c->src.error, "Connection refused"));
	assert_non_null(strstr(c->src.error, "[::1]"));
	free(c);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_urls),
		cmocka_unit_test(test_ipv6_refused),
		cmocka_unit_test(test_raw_heads),
		cmocka_unit_test(test_chunked_every_split),
		cmocka_unit_test(test_chunked_bad_size),
		cmocka_unit_test(test_normal),
		cmocka_unit_test(test_nolength),
		cmocka_unit_test(test_garbage_resync),
		cmocka_unit_test(test_oversize_dropped),
		cmocka_unit_test(test_bad_answers),
		cmocka_unit_test(test_closed_then_refused),
		cmocka_unit_test(test_stall),
	};

	(void)argc;
	signal(SIGPIPE, SIG_IGN);
	fc_log_init("test", FC_LOG_WARN);
	find_server(argv[0]);
	if (srv_path[0] == '\0')
		fprintf(stderr, "mjpegsrv not built: server tests skipped\n");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
