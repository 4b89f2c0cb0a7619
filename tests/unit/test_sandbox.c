/*
 * The sandbox mechanism, tested as shipped: each case forks, applies the
 * layer in the child, makes a call the layer must stop, and the parent
 * checks how the child ended.  Children leave with _exit() so sanitizer
 * exit hooks (which make syscalls of their own) never run under a filter.
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/sandbox.h"

/* A tiny policy: enough for the children below to run and exit. */
static const struct fc_sc_rule tiny[] = {
	{ "exit_group", FC_SC_ALLOW, 0, 0, {{0}}, "leave" },
	{ "exit", FC_SC_ALLOW, 0, 0, {{0}}, "leave" },
	{ "getpid", FC_SC_ALLOW, 0, 0, {{0}}, "the allowed call under test" },
	{ "write", FC_SC_ALLOW, 0, 0, {{0}}, "report" },
	{ "sigaltstack", FC_SC_ALLOW, 0, 0, {{0}}, "sanitizer runtimes at _exit" },
	{ "munmap", FC_SC_ALLOW, 0, 0, {{0}}, "allocator" },
	{ "mmap", FC_SC_ALLOW, 0, 1, {{ 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0 }},
	    "allocator, never executable" },
	{ "openat", FC_SC_ERRNO, EACCES, 0, {{0}}, "soft denial" },
};

/* Runs fn in a child; returns its wait status. */
static int
in_child(void (*fn)(void))
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void
apply_tiny(void)
{
	char err[128];

	if (fc_sandbox_seccomp(tiny, sizeof(tiny) / sizeof(tiny[0]), false, err,
	    sizeof(err)) != 0)
		_exit(90);
}

static void
child_allowed(void)
{
	apply_tiny();
	if (getpid() <= 0)
		_exit(91);
	_exit(7);
}

static void
child_socket(void)
{
	apply_tiny();
	(void)socket(AF_INET, SOCK_STREAM, 0);
	_exit(92);	/* not reached: socket is not in the table */
}

static void
child_exec_mmap(void)
{
	apply_tiny();
	(void)mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	_exit(93);
}

static void
child_plain_mmap(void)
{
	void *p;

	apply_tiny();
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	_exit(p == MAP_FAILED ? 94 : 8);
}

static void
child_soft_open(void)
{
	int fd;

	apply_tiny();
	fd = openat(AT_FDCWD, "/etc/hostname", O_RDONLY);
	_exit(fd == -1 && errno == EACCES ? 9 : 95);
}

static void
test_allowed_call_runs(void **state)
{
	int st;

	(void)state;
	st = in_child(child_allowed);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 7);
}

static void
test_forbidden_call_kills(void **state)
{
	int st;

	(void)state;
	st = in_child(child_socket);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

static void
test_argument_filter(void **state)
{
	int st;

	(void)state;
	st = in_child(child_exec_mmap);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	st = in_child(child_plain_mmap);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 8);
}

static void
test_soft_denial(void **state)
{
	int st;

	(void)state;
	st = in_child(child_soft_open);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 9);
}

static char tmpdir[64];

static void
child_full_policy(void)
{
	struct fc_sandbox_user u;
	struct fc_sandbox_policy p;
	struct fc_sandbox_report rep;
	char err[256];
	int fd;

	if (fc_sandbox_resolve_user("nobody", NULL, &u, err, sizeof(err)) != 0)
		_exit(80);
	memset(&p, 0, sizeof(p));
	p.role = "test";
	p.user = &u;
	p.empty_root = true;
	p.empty_dir = tmpdir;
	p.no_processes = true;
	if (fc_sandbox_apply(&p, &rep, err, sizeof(err)) != 0) {
		fprintf(stderr, "apply: %s\n", err);
		_exit(81);
	}
	if (strcmp(rep.fs, "none") == 0)
		_exit(82);	/* neither chroot nor Landlock applied */
	fd = open("/etc/passwd", O_RDONLY);
	if (fd != -1)
		_exit(83);	/* the filesystem is still visible */
	if (geteuid() == 0 || setuid(0) == 0)
		_exit(84);
	if (getuid() != 0 && fork() != -1)
		_exit(85);	/* RLIMIT_NPROC 0 must stop fork */
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		_exit(86);
	_exit(10);
}

static void
test_full_policy(void **state)
{
	int st;

	(void)state;
	if (geteuid() != 0) {
		/* Unprivileged runs test Landlock alone; skip the uid drop. */
		skip();
	}
	st = in_child(child_full_policy);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 10);
}

static void
test_empty_dir_rules(void **state)
{
	char err[256], path[128];
	int fd;

	(void)state;
	if (geteuid() != 0)
		skip();
	snprintf(path, sizeof(path), "%s/sub/empty", tmpdir);
	/* tmpdir itself is mkdtemp's 0700 dir: not 0555, so refused. */
	assert_int_equal(fc_sandbox_prepare_empty_dir(tmpdir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nobody can write"));
	assert_int_equal(fc_sandbox_prepare_empty_dir(path, err, sizeof(err)), 0);
	/* Idempotent on a good directory. */
	assert_int_equal(fc_sandbox_prepare_empty_dir(path, err, sizeof(err)), 0);
	/* Not empty any more: refused. */
	chmod(path, 0755);
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/f");
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	*strrchr(path, '/') = '\0';
	chmod(path, 0555);
	assert_int_equal(fc_sandbox_prepare_empty_dir(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "must be empty"));
	chmod(path, 0755);
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/f");
	unlink(path);
	*strrchr(path, '/') = '\0';
	rmdir(path);
	*strrchr(path, '/') = '\0';
	rmdir(path);
}

static void
test_resolve_user(void **state)
{
	struct fc_sandbox_user u;
	char err[256];

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(fc_sandbox_resolve_user("nobody", "video", &u, err, sizeof(err)), 0);
	assert_true(u.drop);
	assert_true(u.uid != 0);
	assert_int_equal(fc_sandbox_resolve_user("no-such-user-fc", NULL, &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no-such-user-fc"));
	assert_int_equal(fc_sandbox_resolve_user("root", NULL, &u, err, sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed_call_runs),
		cmocka_unit_test(test_forbidden_call_kills),
		cmocka_unit_test(test_argument_filter),
		cmocka_unit_test(test_soft_denial),
		cmocka_unit_test(test_full_policy),
		cmocka_unit_test(test_empty_dir_rules),
		cmocka_unit_test(test_resolve_user),
	};
	int rc;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/fc-sandbox-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(tmpdir);
	return rc;
}
