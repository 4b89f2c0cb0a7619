/*
 * The worker as a whole: fc_worker_main runs in a forked child on a
 * loopback listening socket, with a bus this test publishes into; the
 * test talks HTTP to it with plain sockets.  Covers streaming (parts,
 * fresh frames), ordinary endpoints, limits (503, 408, 431), auth, both
 * ways of stopping (parent pipe with grace, SIGTERM), a listening
 * socket that breaks under it, and fresh pictures (a snapshot or a first
 * part waits for a frame published after the request when the newest one
 * is stale).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/bus.h"
#include "../../common/clock.h"
#include "../../common/config.h"
#include "../../common/control.h"
#include "../../common/log.h"
#include "../../server/worker.h"

/* The viewer page normally comes from the Makefile's embed step. */
const unsigned char fc_page_html[] = "<!doctype html><title>t</title>\n";
const size_t fc_page_html_len = sizeof(fc_page_html) - 1;

struct fixture {
	struct fc_config cfg;
	struct fc_bus *bus;
	struct fc_ctl *ctl;
	int lfd;
	int port;
	int stop_wr;		/* parent pipe write end */
	pid_t pid;
	uint64_t frames;
	int (*lockdown)(void *);
	int log_fd;		/* the worker's stderr when not -1 */
	enum fc_log_level log_level;
};

static void
publish(struct fixture *fx, size_t len)
{
	unsigned char *data = malloc(len);
	struct fc_frame_meta m;

	assert_non_null(data);
	memset(data, 0x5a, len);
	data[0] = 0xff;
	data[1] = 0xd8;
	memset(&m, 0, sizeof(m));
	m.len = len;
	m.width = 64;
	m.height = 48;
	m.ts_real_ns = fc_now_real_ns();
	m.ts_mono_ns = fc_now_mono_ns();
	assert_int_equal(fc_bus_publish(fx->bus, data, len, &m), 0);
	fx->frames++;
	free(data);
}

/* Publishes a frame of len bytes captured age_ms ago (monotonic stamp). */
static void
publish_aged(struct fixture *fx, size_t len, int age_ms)
{
	unsigned char *data = malloc(len);
	struct fc_frame_meta m;

	assert_non_null(data);
	memset(data, 0x5a, len);
	data[0] = 0xff;
	data[1] = 0xd8;
	memset(&m, 0, sizeof(m));
	m.len = len;
	m.width = 64;
	m.height = 48;
	m.ts_real_ns = fc_now_real_ns() - (int64_t)age_ms * 1000000;
	m.ts_mono_ns = fc_now_mono_ns() - (int64_t)age_ms * 1000000;
	assert_int_equal(fc_bus_publish(fx->bus, data, len, &m), 0);
	fx->frames++;
	free(data);
}

static void
start_worker(struct fixture *fx)
{
	struct fc_worker_args args;
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fx->pid = fork();
	assert_true(fx->pid >= 0);
	if (fx->pid == 0) {
		close(p[1]);
		if (fx->log_fd >= 0 && dup2(fx->log_fd, STDERR_FILENO) == -1)
			_exit(99);
		fc_log_init("worker 0", fx->log_level);
		memset(&args, 0, sizeof(args));
		args.cfg = &fx->cfg;
		args.index = 0;
		args.bus = fx->bus;
		args.ctl = fx->ctl;
		args.listen_fds = &fx->lfd;
		args.nlisten = 1;
		args.parent_fd = p[0];
		args.lockdown = fx->lockdown;
		args.lockdown_arg = fx;
		exit(fc_worker_main(&args));
	}
	close(p[0]);
	fx->stop_wr = p[1];
}

static int
setup_cfg(void **state, void (*tweak)(struct fc_config *))
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	assert_non_null(fx);
	fc_config_defaults(&fx->cfg);
	fx->cfg.client_timeout = 2;
	fx->cfg.send_timeout = 3;
	fx->cfg.shutdown_grace = 1;
	if (tweak != NULL)
		tweak(&fx->cfg);
	fx->bus = fc_bus_create(4, 1 << 20);
	assert_non_null(fx->bus);
	fx->ctl = fc_ctl_create();
	assert_non_null(fx->ctl);
	fx->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fx->lfd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fx->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fx->lfd, 128), 0);
	assert_int_equal(getsockname(fx->lfd, (struct sockaddr *)&sa, &len), 0);
	fx->port = ntohs(sa.sin_port);
	fx->stop_wr = -1;
	fx->log_fd = -1;
	fx->log_level = FC_LOG_WARN;
	start_worker(fx);
	*state = fx;
	return 0;
}

static int
setup(void **state)
{
	return setup_cfg(state, NULL);
}

static void
tweak_limits(struct fc_config *cfg)
{
	cfg->max_clients = 1;
}

static int
setup_limits(void **state)
{
	return setup_cfg(state, tweak_limits);
}

static void
tweak_auth(struct fc_config *cfg)
{
	snprintf(cfg->auth, sizeof(cfg->auth), "a:b");
}

static int
setup_auth(void **state)
{
	return setup_cfg(state, tweak_auth);
}

/* allowed_hosts = cam.example.org, [::1] (stored in normal form), with
 * auth so the order of the two checks shows. */
static void
tweak_hosts(struct fc_config *cfg)
{
	tweak_auth(cfg);
	snprintf(cfg->allowed_hosts[0], sizeof(cfg->allowed_hosts[0]),
	    "cam.example.org");
	snprintf(cfg->allowed_hosts[1], sizeof(cfg->allowed_hosts[1]),
	    "[::1]");
}

static int
setup_hosts(void **state)
{
	return setup_cfg(state, tweak_hosts);
}

/* Waits up to ms for the child; returns its wait status or -1. */
static int
wait_child(pid_t pid, int ms)
{
	int st;

	for (int i = 0; i < ms / 10; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return st;
		usleep(10000);
	}
	return -1;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	if (fx->pid > 0) {
		kill(fx->pid, SIGKILL);
		waitpid(fx->pid, NULL, 0);
	}
	if (fx->stop_wr >= 0)
		close(fx->stop_wr);
	close(fx->lfd);
	fc_bus_close(fx->bus);
	fc_ctl_close(fx->ctl);
	free(fx);
	return 0;
}

static int
connect_to(struct fixture *fx)
{
	struct sockaddr_in sa;
	struct timeval tv = { 5, 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)fx->port);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void
send_str(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* Reads until the peer closes (or timeout); returns bytes. */
static size_t
read_until_close(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	return n;
}

/* Reads until buf contains `want` count times `needle`. */
static size_t
read_until(int fd, char *buf, size_t cap, const char *needle, int want,
    struct fixture *fx)
{
	size_t n = 0;
	ssize_t r;
	int seen = 0;
	const char *p;
	struct pollfd pfd = { fd, POLLIN, 0 };

	for (int round = 0; round < 300 && seen < want && n + 1 < cap; round++) {
		if (fx != NULL)
			publish(fx, 5000);
		if (poll(&pfd, 1, 20) == 1) {
			r = read(fd, buf + n, cap - 1 - n);
			if (r <= 0)
				break;
			n += (size_t)r;
		}
		buf[n] = '\0';
		seen = 0;
		for (p = buf; (p = memmem(p, (size_t)(buf + n - p), needle,
		    strlen(needle))) != NULL; p++)
			seen++;
	}
	return n;
}

static void
test_stream(void **state)
{
	struct fixture *fx = *state;
	static char buf[1 << 20];
	int fd;
	size_t n;

	publish(fx, 3000);
	fd = connect_to(fx);
	send_str(fd, "GET /stream HTTP/1.1\r\nHost: t\r\n"
	    "User-Agent: test\r\n\r\n");
	n = read_until(fd, buf, sizeof(buf), "Content-Length: 5000\r\n", 3, fx);
	assert_true(n > 0);
	assert_int_equal(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17), 0);
	assert_non_null(strstr(buf,
	    "multipart/x-mixed-replace;boundary=forkcastframe"));
	assert_null(strstr(buf, "chunked"));
	/* The first part follows the head at once (full framing). */
	assert_non_null(strstr(buf, "\r\n\r\n--forkcastframe\r\n"
	    "Content-Type: image/jpeg\r\nContent-Length: "));
	assert_non_null(strstr(buf, "X-Timestamp: "));
	close(fd);
	/* The worker counts a part after its writev returns, which can be
	 * just after the client has read it: allow it a moment. */
	for (int i = 0; i < 100 &&
	    atomic_load(&fx->ctl->hdr->workers[0].frames_sent) < 3; i++)
		usleep(10000);
	assert_true(atomic_load(&fx->ctl->hdr->workers[0].frames_sent) >= 3);
}

static void
test_endpoints(void **state)
{
	struct fixture *fx = *state;
	char buf[65536];
	int fd;

	publish(fx, 4321);
	fd = connect_to(fx);
	/* Three pipelined requests on one connection, answered in order. */
	send_str(fd, "GET /snapshot HTTP/1.1\r\nHost: t\r\n\r\n"
	    "HEAD /status HTTP/1.1\r\nHost: t\r\n\r\n"
	    "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	read_until_close(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17), 0);
	assert_non_null(strstr(buf, "Content-Type: image/jpeg\r\n"
	    "Content-Length: 4321\r\n"));
	assert_non_null(strstr(buf, "Content-Type: application/json\r\n"));
	assert_null(strstr(buf, "\"workers\""));	/* HEAD: no body */
	assert_non_null(strstr(buf, "\r\n\r\nok\n"));

	fd = connect_to(fx);
	send_str(fd, "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
	read_until_close(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(strncmp(buf, "HTTP/1.1 404 ", 13), 0);

	fd = connect_to(fx);
	send_str(fd, "GET /status HTTP/1.0\r\n\r\n");
	read_until_close(fd, buf, sizeof(buf));
	close(fd);
	assert_non_null(strstr(buf, "Connection: close\r\n"));
	assert_non_null(strstr(buf, "\"workers\""));

	fd = connect_to(fx);
	send_str(fd, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	read_until_close(fd, buf, sizeof(buf));
	close(fd);
	assert_non_null(strstr(buf, "text/html; charset=utf-8"));
	assert_non_null(strstr(buf, "<title>t</title>"));

	fd = connect_to(fx);
	send_str(fd, "GET /metrics HTTP/1.1\r\nHost: t\r\n"
	    "Connection: close\r\n\r\n");
	read_until_close(fd, buf, sizeof(buf));
	close(fd);
	assert_non_null(strstr(buf, "text/plain; version=0.0.4"));

	fd = connect_to(fx);
	send_str(fd, "GET /events HTTP/1.1\r\nHost: t\r\n\r\n");
	read_until(fd, buf, sizeof(buf), "event: status", 2, NULL);
	close(fd);
	assert_non_null(strstr(buf, "text/event-stream"));
}

static void
test_bad_requests(void **state)
{
	struct fixture *fx = *state;
	char buf[65536], big[10000];
	int fd;

	fd = connect_to(fx);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	send_str(fd, "GET / HTTP/1.1\r\nHost: t\r\nX: ");
	send_str(fd, big);
	read_until_close(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(strncmp(buf, "HTTP/1.1 431 ", 13), 0);

	/* Slowloris: half a request, then nothing: 408 after
	 * client_timeout (2 s), not a hang. */
	fd = connect_to(fx);
	send_str(fd, "GET / HTTP/1.1\r\nHost: x\r\n");
	read_until_close(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(strncmp(buf, "HTTP/1.1 408 ", 13), 0);

	fd = connect_to(fx);
	send_str(fd, "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03");
	read_until_close(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(strncmp(buf, "HTTP/1.1 400 ", 13), 0);
	assert_int_equal(atomic_load(&fx->ctl->hdr->workers[0].status[FC_ST_408]),
	    1);
}

static void
test_max_clients(void **state)
{
	struct fixture *fx = *state;
	char buf[65536];
	int a, b;

	publish(fx, 1000);
	a = connect_to(fx);
	send_str(a, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
	read_until(a, buf, sizeof(buf), "Content-Length: 5000", 1, fx);
	b = connect_to(fx);
	send_str(b, "GET /?action=stream HTTP/1.1\r\nHost: t\r\n\r\n");
	read_until_close(b, buf, sizeof(buf));
	assert_int_equal(strncmp(buf, "HTTP/1.1 503 ", 13), 0);
	assert_non_null(strstr(buf, "Retry-After: 1\r\n"));
	close(b);
	close(a);
}

static void
test_auth(void **state)
{
	struct fixture *fx = *state;
	char buf[65536];
	int fd;

	fd = connect_to(fx);
	send_str(fd, "GET /status HTTP/1.1\r\nHost: t\r\n\r\n");
	read_until_close(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(strncmp(buf, "HTTP/1.1 401 ", 13), 0);
	assert_non_null(strstr(buf, "WWW-Authenticate: Basic realm=\"forkcast\""));

	fd = connect_to(fx);
	send_str(fd, "GET /status HTTP/1.1\r\nHost: t\r\n"
	    "Authorization: Basic YTpi\r\n"
	    "Connection: close\r\n\r\n");
	read_until_close(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(strncmp(buf, "HTTP/1.1 200 ", 13), 0);

	/* /healthz is never behind auth (capture is "starting" here, so
	 * any verdict will do as long as it is not 401). */
	fd = connect_to(fx);
	send_str(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n"
	    "Connection: close\r\n\r\n");
	read_until_close(fd, buf, sizeof(buf));
	close(fd);
	assert_null(strstr(buf, " 401 "));
}

/* Sends req on a fresh connection; buf gets the whole answer. */
static void
exchange(struct fixture *fx, const char *req, char *buf, size_t size)
{
	int fd = connect_to(fx);

	send_str(fd, req);
	read_until_close(fd, buf, size);
	close(fd);
}

static void
test_allowed_hosts(void **state)
{
	static const char *const served[] = {
		"GET /status HTTP/1.1\r\nHost: cam.example.org\r\n",
		"GET /status HTTP/1.1\r\nHost: CAM.Example.ORG.:8080\r\n",
		"GET /status HTTP/1.1\r\nHost: [0:0::1]:8080\r\n",
	};
	static const char *const misdirected[] = {
		"GET /status HTTP/1.1\r\nHost: evil.example\r\n",
		"GET /stream HTTP/1.1\r\nHost: cam.example.org.evil.example\r\n",
		"GET /status HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n",
		"GET /status HTTP/1.0\r\n",
	};
	struct fixture *fx = *state;
	char buf[65536], req[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(served) / sizeof(served[0]); i++) {
		snprintf(req, sizeof(req), "%sAuthorization: Basic YTpi\r\n"
		    "Connection: close\r\n\r\n", served[i]);
		exchange(fx, req, buf, sizeof(buf));
		if (strncmp(buf, "HTTP/1.1 200 ", 13) != 0)
			fail_msg("not served: %s", served[i]);
	}
	/* 421 comes before auth: no password prompt for another site. */
	for (i = 0; i < sizeof(misdirected) / sizeof(misdirected[0]); i++) {
		snprintf(req, sizeof(req), "%s\r\n", misdirected[i]);
		exchange(fx, req, buf, sizeof(buf));
		if (strncmp(buf, "HTTP/1.1 421 Misdirected Request\r\n",
		    strlen("HTTP/1.1 421 Misdirected Request\r\n")) != 0)
			fail_msg("not 421: %s", misdirected[i]);
		assert_non_null(strstr(buf, "Connection: close\r\n"));
		assert_null(strstr(buf, "WWW-Authenticate"));
	}
	assert_int_equal(atomic_load(&fx->ctl->hdr->workers[0].status[FC_ST_421]),
	    sizeof(misdirected) / sizeof(misdirected[0]));
	/* /healthz answers whatever the Host, as load balancers send. */
	exchange(fx, "GET /healthz HTTP/1.1\r\nHost: 10.0.0.7:8080\r\n"
	    "Connection: close\r\n\r\n", buf, sizeof(buf));
	assert_null(strstr(buf, " 421 "));
	exchange(fx, "GET /healthz HTTP/1.0\r\n\r\n", buf, sizeof(buf));
	assert_null(strstr(buf, " 421 "));
}

static void
test_graceful_stop(void **state)
{
	struct fixture *fx = *state;
	char buf[65536];
	size_t n;
	int fd, st;
	int64_t t0;

	publish(fx, 1000);
	fd = connect_to(fx);
	send_str(fd, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
	read_until(fd, buf, sizeof(buf), "Content-Length:", 1, fx);
	t0 = fc_now_mono_ns();
	close(fx->stop_wr);		/* EOF: retire */
	fx->stop_wr = -1;
	st = wait_child(fx->pid, 4000);
	assert_true(st != -1);
	fx->pid = 0;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* The stream got its grace (1 s), not much more. */
	printf("# retired in %.2f s\n", (fc_now_mono_ns() - t0) / 1e9);
	assert_true(fc_now_mono_ns() - t0 >= 900000000);
	/* Closed, not hung, and the body ends with the close delimiter
	 * (DESIGN: a stream ends, by maxtime, stop or retire, with it). */
	n = read_until_close(fd, buf, sizeof(buf));
	assert_true(n >= 19);
	assert_memory_equal(buf + n - 19, "--forkcastframe--\r\n", 19);
	close(fd);
}

static int
refuse_lockdown(void *arg)
{
	struct fixture *fx = arg;

	/* Runs in the child, after setup: the listener must not be in use
	 * yet, and the status comes back as the exit status. */
	return fx->lfd >= 0 ? 3 : 4;
}

/* A failed lockdown ends the worker before it serves anything. */
static void
test_lockdown_failure(void **state)
{
	struct fixture *fx = *state;
	int st;

	/* The fixture's worker runs without a hook; start a second one. */
	kill(fx->pid, SIGKILL);
	waitpid(fx->pid, NULL, 0);
	close(fx->stop_wr);
	fc_ctl_reset_worker(fx->ctl, 0);	/* as the supervisor does */
	fx->lockdown = refuse_lockdown;
	start_worker(fx);
	st = wait_child(fx->pid, 3000);
	assert_true(st != -1);
	fx->pid = 0;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 3);
	assert_int_equal(atomic_load(&fx->ctl->hdr->workers[0].state),
	    FC_WORKER_EMPTY);
}

/* utime + stime of a process (all its threads), in clock ticks. */
static long
cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name (which may hold spaces). */
	p = strrchr(buf, ')');
	assert_non_null(p);
	assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
	    "%*u %*u %lu %lu", &ut, &st), 2);
	return (long)(ut + st);
}

/* Appends what the worker logged so far (non-blocking pipe) to log. */
static void
drain_log(int fd, char *log, size_t cap, size_t *len)
{
	char tmp[4096];
	ssize_t r;

	while ((r = read(fd, tmp, sizeof(tmp))) > 0) {
		size_t take = (size_t)r < cap - 1 - *len ? (size_t)r :
		    cap - 1 - *len;

		memcpy(log + *len, tmp, take);
		*len += take;
	}
	log[*len] = '\0';
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/*
 * The shared listening socket breaks under the worker (shut down for
 * reading here, as a compromised worker could do it): accept() fails with
 * EINVAL while epoll keeps reporting the socket.  The worker backs off
 * instead of spinning (little CPU, one log line per backoff step, not one
 * per call), keeps running, and accepts again once the socket listens
 * again, saying so once.
 */
static void
test_listener_broken(void **state)
{
	struct fixture *fx = *state;
	static char log[1 << 20];
	char buf[65536];
	size_t loglen = 0;
	long t0, t1, hz = sysconf(_SC_CLK_TCK);
	int p[2], fd, lines, st;

	/* A worker of our own whose log we read. */
	kill(fx->pid, SIGKILL);
	waitpid(fx->pid, NULL, 0);
	close(fx->stop_wr);
	fc_ctl_reset_worker(fx->ctl, 0);
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	fx->log_fd = p[1];
	fx->log_level = FC_LOG_INFO;
	start_worker(fx);
	close(p[1]);
	fx->log_fd = -1;

	fd = connect_to(fx);
	send_str(fd, "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
	read_until_close(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(strncmp(buf, "HTTP/1.1 ", 9), 0);

	assert_int_equal(shutdown(fx->lfd, SHUT_RD), 0);
	t0 = cpu_ticks(fx->pid);
	for (int i = 0; i < 20; i++) {
		usleep(100000);
		drain_log(p[0], log, sizeof(log), &loglen);
	}
	t1 = cpu_ticks(fx->pid);
	lines = count(log, "accept on 127.0.0.1:");
	printf("# broken listener: %ld ms CPU and %d log lines in 2 s\n",
	    (t1 - t0) * 1000 / hz, lines);
	assert_int_equal(waitpid(fx->pid, &st, WNOHANG), 0);	/* alive */
	assert_true((t1 - t0) * 1000 / hz < 200);
	/* 100, 200, 400, 800 ms, ...: five steps in 2 s. */
	assert_true(lines >= 3 && lines <= 8);
	assert_non_null(strstr(log, "accept on 127.0.0.1:"));
	assert_non_null(strstr(log, "Invalid argument; trying again in 100 ms"));
	assert_non_null(strstr(log, "trying again in 800 ms"));

	/* Listening again (a socket bound to port 0 gets a new port): served
	 * after the current delay (1.6 s at most from now), and said once. */
	assert_int_equal(listen(fx->lfd, 128), 0);
	{
		struct sockaddr_in sa;
		socklen_t len = sizeof(sa);

		assert_int_equal(getsockname(fx->lfd, (struct sockaddr *)&sa,
		    &len), 0);
		fx->port = ntohs(sa.sin_port);
	}
	fd = connect_to(fx);
	send_str(fd, "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
	read_until_close(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(strncmp(buf, "HTTP/1.1 ", 9), 0);
	usleep(100000);
	drain_log(p[0], log, sizeof(log), &loglen);
	assert_int_equal(count(log, "works again"), 1);
	close(p[0]);
}

static void
test_sigterm(void **state)
{
	struct fixture *fx = *state;
	int st;

	usleep(100000);
	kill(fx->pid, SIGTERM);
	st = wait_child(fx->pid, 3000);
	assert_true(st != -1);
	fx->pid = 0;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}


/* Milliseconds since t0 (monotonic ns). */
static int
ms_since(int64_t t0)
{
	return (int)((fc_now_mono_ns() - t0) / 1000000);
}

/* True when fd has something to read within ms. */
static bool
readable_within(int fd, int ms)
{
	struct pollfd pfd = { fd, POLLIN, 0 };

	return poll(&pfd, 1, ms) == 1;
}

static void
test_snapshot_fresh(void **state)
{
	struct fixture *fx = *state;
	char buf[65536];
	uint32_t snaps;
	int fd, ms;
	int64_t t0;

	/* Capture paused 5 s ago (30 fps: stale after 100 ms). */
	fc_bus_set_info(fx->bus, "test", 64, 48, 30, FC_CAPTURE_PAUSED, NULL);
	publish_aged(fx, 1111, 5000);
	snaps = fc_ctl_snapshot_value(fx->ctl);

	/* The old frame is not sent: the request waits and wakes capture;
	 * the next frame published answers it, on the same keep-alive
	 * connection. */
	fd = connect_to(fx);
	send_str(fd, "GET /snapshot HTTP/1.1\r\nHost: t\r\n\r\n");
	assert_false(readable_within(fd, 300));
	assert_true(fc_ctl_snapshot_value(fx->ctl) != snaps);
	fc_bus_set_info(fx->bus, "test", 64, 48, 30, FC_CAPTURE_RUNNING, NULL);
	publish(fx, 2222);
	assert_true(readable_within(fd, 2000));
	/* A second request on the connection: the frame is recent now. */
	send_str(fd, "GET /snapshot HTTP/1.1\r\nHost: t\r\n"
	    "Connection: close\r\n\r\n");
	read_until_close(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17), 0);
	assert_non_null(strstr(buf, "Content-Length: 2222\r\n"));
	assert_null(strstr(buf, "Content-Length: 1111\r\n"));
	assert_non_null(strstr(buf, "Connection: keep-alive\r\n"));
	assert_non_null(strstr(strstr(buf, "keep-alive") + 1,
	    "HTTP/1.1 200 OK\r\n"));

	/* HEAD neither waits nor wakes capture. */
	fc_bus_set_info(fx->bus, "test", 64, 48, 30, FC_CAPTURE_PAUSED, NULL);
	publish_aged(fx, 3333, 5000);
	snaps = fc_ctl_snapshot_value(fx->ctl);
	t0 = fc_now_mono_ns();
	exchange(fx, "HEAD /snapshot HTTP/1.1\r\nHost: t\r\n"
	    "Connection: close\r\n\r\n", buf, sizeof(buf));
	assert_true(ms_since(t0) < 1000);
	assert_non_null(strstr(buf, "Content-Length: 3333\r\n"));
	assert_int_equal(fc_ctl_snapshot_value(fx->ctl), snaps);

	/* A client that goes away while waiting is released; the worker
	 * keeps serving. */
	fd = connect_to(fx);
	send_str(fd, "GET /snapshot HTTP/1.1\r\nHost: t\r\n\r\n");
	usleep(100000);
	close(fd);
	usleep(100000);
	assert_int_equal(atomic_load(&fx->ctl->hdr->workers[0].clients), 0);

	/* Nothing new within the wait (client_timeout = 2 s here): the
	 * newest frame, with its true (old) X-Timestamp. */
	t0 = fc_now_mono_ns();
	exchange(fx, "GET /snapshot HTTP/1.1\r\nHost: t\r\n"
	    "Connection: close\r\n\r\n", buf, sizeof(buf));
	ms = ms_since(t0);
	printf("snapshot of a stale frame answered after %d ms\n", ms);
	assert_true(ms >= 1800 && ms < 4000);
	assert_int_equal(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17), 0);
	assert_non_null(strstr(buf, "Content-Length: 3333\r\n"));
}

static void
test_snapshot_failing(void **state)
{
	struct fixture *fx = *state;
	char buf[65536];
	int64_t t0;

	/* Failing already: 503 at once, with the reason. */
	fc_bus_set_info(fx->bus, "test", 64, 48, 30, FC_CAPTURE_FAILING,
	    "camera unplugged");
	publish_aged(fx, 1111, 5000);
	t0 = fc_now_mono_ns();
	exchange(fx, "GET /snapshot HTTP/1.1\r\nHost: t\r\n\r\n", buf,
	    sizeof(buf));
	assert_true(ms_since(t0) < 1000);
	assert_int_equal(strncmp(buf, "HTTP/1.1 503 ", 13), 0);
	assert_non_null(strstr(buf, "Retry-After: 1\r\n"));
	assert_non_null(strstr(buf, "\r\n\r\ncapture failing: camera unplugged\n"));

	/* Paused, then the wake-up fails: the no-signal frame it publishes
	 * is not a picture; 503. */
	fc_bus_set_info(fx->bus, "test", 64, 48, 30, FC_CAPTURE_PAUSED, NULL);
	{
		int fd = connect_to(fx);
		struct fc_frame_meta m;
		unsigned char ns[100] = { 0xff, 0xd8 };

		send_str(fd, "GET /snapshot HTTP/1.1\r\nHost: t\r\n\r\n");
		assert_false(readable_within(fd, 200));
		fc_bus_set_info(fx->bus, "test", 64, 48, 30, FC_CAPTURE_FAILING,
		    "no device");
		memset(&m, 0, sizeof(m));
		m.len = sizeof(ns);
		m.flags = FC_FRAME_NOSIGNAL;
		m.ts_real_ns = fc_now_real_ns();
		m.ts_mono_ns = fc_now_mono_ns();
		assert_int_equal(fc_bus_publish(fx->bus, ns, sizeof(ns), &m), 0);
		read_until_close(fd, buf, sizeof(buf));
		close(fd);
	}
	assert_int_equal(strncmp(buf, "HTTP/1.1 503 ", 13), 0);
	assert_non_null(strstr(buf, "capture failing: no device\n"));
}

/* The X-Timestamp of the first part in buf, in ns (0: none). */
static int64_t
first_part_ts(const char *buf)
{
	const char *p = strstr(buf, "X-Timestamp: ");
	long long s, us;

	if (p == NULL || sscanf(p, "X-Timestamp: %lld.%lld", &s, &us) != 2)
		return 0;
	return (int64_t)s * 1000000000 + us * 1000;
}

static void
test_stream_first_part_fresh(void **state)
{
	struct fixture *fx = *state;
	static char buf[1 << 20];
	int64_t t0;
	size_t n;
	int fd;

	fc_bus_set_info(fx->bus, "test", 64, 48, 30, FC_CAPTURE_PAUSED, NULL);
	publish_aged(fx, 1111, 5000);
	fd = connect_to(fx);
	t0 = fc_now_real_ns();
	send_str(fd, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
	/* The head comes at once; the old frame never does. */
	assert_true(readable_within(fd, 1000));
	usleep(300000);
	n = (size_t)read(fd, buf, sizeof(buf) - 1);
	assert_true(n > 0 && n < sizeof(buf));
	buf[n] = '\0';
	assert_int_equal(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17), 0);
	assert_null(strstr(buf, "Content-Length: "));
	fc_bus_set_info(fx->bus, "test", 64, 48, 30, FC_CAPTURE_RUNNING, NULL);
	read_until(fd, buf + n, sizeof(buf) - n, "Content-Length: 5000\r\n", 1,
	    fx);
	close(fd);
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
	assert_null(strstr(buf, "Content-Length: 1111\r\n"));
	assert_true(first_part_ts(buf) >= t0);
}

static void
tweak_short_timeout(struct fc_config *cfg)
{
	cfg->client_timeout = 1;
}

static int
setup_short_timeout(void **state)
{
	return setup_cfg(state, tweak_short_timeout);
}

/* The wait ends after client_timeout when that is below 2 s, and a
 * waiting snapshot holds nobody else up. */
static void
test_snapshot_wait_bounded(void **state)
{
	struct fixture *fx = *state;
	char buf[65536];
	int64_t t0;
	int fd, ms;

	fc_bus_set_info(fx->bus, "test", 64, 48, 30, FC_CAPTURE_PAUSED, NULL);
	publish_aged(fx, 1111, 5000);
	t0 = fc_now_mono_ns();
	fd = connect_to(fx);
	send_str(fd, "GET /snapshot HTTP/1.1\r\nHost: t\r\n"
	    "Connection: close\r\n\r\n");
	usleep(100000);
	exchange(fx, "GET /healthz HTTP/1.1\r\nHost: t\r\n"
	    "Connection: close\r\n\r\n", buf, sizeof(buf));
	ms = ms_since(t0);
	printf("/healthz answered %d ms after a snapshot began to wait\n", ms);
	assert_true(ms < 700);
	assert_int_equal(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17), 0);
	read_until_close(fd, buf, sizeof(buf));
	close(fd);
	ms = ms_since(t0);
	printf("snapshot wait with client_timeout = 1: %d ms\n", ms);
	assert_true(ms >= 900 && ms < 1800);
	assert_non_null(strstr(buf, "Content-Length: 1111\r\n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_endpoints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_max_clients, setup_limits,
		    teardown),
		cmocka_unit_test_setup_teardown(test_auth, setup_auth, teardown),
		cmocka_unit_test_setup_teardown(test_allowed_hosts, setup_hosts,
		    teardown),
		cmocka_unit_test_setup_teardown(test_graceful_stop, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sigterm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lockdown_failure, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_listener_broken, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_fresh, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_failing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stream_first_part_fresh,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_wait_bounded,
		    setup_short_timeout, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
