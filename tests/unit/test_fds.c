/*
 * fc_fds_close_except: everything but the kept descriptors is closed, with
 * close_range(2) and, when close_range is refused (a seccomp filter here
 * answers ENOSYS, as an old kernel or a container profile would), through
 * /proc/self/fd.  Each case runs in a forked child, which reports through
 * its exit status, so the test runner's own descriptors are left alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/fds.h"

static bool
is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

/* Makes close_range fail with ENOSYS in this process. */
static int
refuse_close_range(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int rc;

	if (ctx == NULL)
		return -1;
	rc = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
	    seccomp_syscall_resolve_name("close_range"), 0) != 0 ||
	    seccomp_load(ctx) != 0 ? -1 : 0;
	seccomp_release(ctx);
	return rc;
}

/*
 * In the child: opens descriptors at 3.., 200 and 1000, keeps two of them
 * (listed unsorted, one twice) plus 0-2, and checks what is left.
 * Returns the child's exit status: 0 when everything matched.
 */
static int
close_case(bool without_close_range)
{
	int a = open("/dev/null", O_RDONLY);
	int b = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int c = open("/dev/null", O_RDONLY);
	int keep[] = { c, 2, a, 0, 1, c };

	if (a < 3 || b < 3 || c < 3 || dup2(a, 200) != 200 || dup2(b, 1000) != 1000)
		return 10;
	if (without_close_range) {
		if (refuse_close_range() == -1)
			return 11;
		if (close_range(3, 3, 0) != -1 || errno != ENOSYS)
			return 12;
	}
	if (fc_fds_close_except(keep, 6) != 0)
		return 13;
	if (!is_open(0) || !is_open(1) || !is_open(2) || !is_open(a) || !is_open(c))
		return 14;
	if (is_open(b) || is_open(200) || is_open(1000))
		return 15;
	/* Only those five are left. */
	for (int fd = 3; fd < 1100; fd++)
		if (fd != a && fd != c && is_open(fd))
			return 16;
	return 0;
}

static int
run_child(int (*fn)(bool), bool arg)
{
	int st;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(arg));
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void
test_close_range(void **state)
{
	(void)state;
	assert_int_equal(run_child(close_case, false), 0);
}

static void
test_proc_fallback(void **state)
{
	(void)state;
	assert_int_equal(run_child(close_case, true), 0);
}

/* A negative descriptor in the list is a caller's bug: refused before
 * anything is closed. */
static int
negative_case(bool unused)
{
	int a = open("/dev/null", O_RDONLY);
	int keep[] = { 0, 1, 2, -1 };

	(void)unused;
	if (a < 3)
		return 10;
	if (fc_fds_close_except(keep, 4) != -1 || errno != EBADF)
		return 11;
	return is_open(a) ? 0 : 12;
}

static void
test_negative_refused(void **state)
{
	(void)state;
	assert_int_equal(run_child(negative_case, false), 0);
}

static void
test_keep_on_exec(void **state)
{
	int fds[2];

	(void)state;
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	assert_int_equal(fc_fds_keep_on_exec(fds, 2), 0);
	assert_int_equal(fcntl(fds[0], F_GETFD) & FD_CLOEXEC, 0);
	assert_int_equal(fcntl(fds[1], F_GETFD) & FD_CLOEXEC, 0);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(fc_fds_keep_on_exec(fds, 1), -1);
	assert_int_equal(errno, EBADF);
}

/* fc_fds_sockname: the bound address of each kind of socket, and a
 * descriptor that is no socket. */
static void
test_sockname(void **state)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	socklen_t sl = sizeof(in);
	char buf[160], want[160];
	int fd, p[2];

	(void)state;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&in, &sl), 0);
	fc_fds_sockname(fd, buf, sizeof(buf));
	snprintf(want, sizeof(want), "127.0.0.1:%u", ntohs(in.sin_port));
	assert_string_equal(buf, want);
	close(fd);

	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	snprintf(un.sun_path, sizeof(un.sun_path), "/tmp/fc-test-fds.%ld",
	    (long)getpid());
	unlink(un.sun_path);
	assert_int_equal(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	fc_fds_sockname(fd, buf, sizeof(buf));
	snprintf(want, sizeof(want), "unix:%s", un.sun_path);
	assert_string_equal(buf, want);
	unlink(un.sun_path);
	close(fd);

	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(un.sun_path, 0, sizeof(un.sun_path));
	memcpy(un.sun_path + 1, "fc-abstract", 11);
	assert_int_equal(bind(fd, (struct sockaddr *)&un,
	    offsetof(struct sockaddr_un, sun_path) + 12), 0);
	fc_fds_sockname(fd, buf, sizeof(buf));
	assert_string_equal(buf, "unix:(abstract)");
	close(fd);

	assert_int_equal(pipe(p), 0);
	fc_fds_sockname(p[0], buf, sizeof(buf));
	snprintf(want, sizeof(want), "socket %d", p[0]);
	assert_string_equal(buf, want);
	close(p[0]);
	close(p[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_close_range),
		cmocka_unit_test(test_proc_fallback),
		cmocka_unit_test(test_negative_refused),
		cmocka_unit_test(test_keep_on_exec),
		cmocka_unit_test(test_sockname),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
