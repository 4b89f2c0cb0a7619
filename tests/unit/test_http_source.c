/*
 * Unit tests for the http (relay) source against tests/tools/mjpegsrv,
 * started by each test on a free loopback port and killed by pid.
 *
 * mjpegsrv is looked up as $FC_MJPEGSRV, build/tools/mjpegsrv (from the
 * repository root) or next to this binary's build tree; the tests are
 * skipped when it is not built (`make build/tools/mjpegsrv`).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
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
