/*
 * The sandbox mechanism, tested as shipped: each case forks, applies the
 * layer in the child, makes a call the layer must stop, and the parent
 * checks how the child ended.  Children leave with _exit() so sanitizer
 * exit hooks (which make syscalls of their own) never run under a filter.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/policy.h"
#include "../../common/sandbox.h"

/* A tiny policy: enough for the children below to run and exit. */
static const struct fc_sc_rule tiny_rules[] = {
	SC_ALLOW("exit_group", "leave"),
	SC_ALLOW("exit", "leave"),
	SC_ALLOW("getpid", "the allowed call under test"),
	SC_ALLOW("write", "report"),
	SC_ALLOW("sigaltstack", "sanitizer runtimes at _exit"),
	SC_ALLOW("munmap", "allocator"),
	SC_ALLOW_IF("mmap", SC_ARGMASK(2, PROT_EXEC, 0),
	    "allocator, never executable"),
	SC_ERRNO("openat", EACCES, "soft denial"),
	SC_ALLOW_IF("ioctl", SC_ARG32(1, FIONREAD),
	    "the low 32 bits, as the kernel reads them"),
	SC_KILL_IF("ioctl", SC_ARG32(1, TIOCSTI), "never"),
};
static SC_TABLE(tiny, "tiny", FC_SC_DEFAULT_KILL, tiny_rules);
static const struct fc_sc_table *const tiny_set[] = { &tiny };

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

	if (fc_sandbox_seccomp(tiny_set, 1, false, err, sizeof(err)) != 0)
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

/* The low 32 bits of an int argument decide, as in the kernel: FIONREAD
 * with high bits set is still FIONREAD (allowed: the child exits 9, it
 * is not killed by the table's default). */
static void
child_ioctl_high_bits_allowed(void)
{
	int p[2], n = 0;

	if (pipe(p) != 0)
		_exit(96);
	apply_tiny();
	if (syscall(SYS_ioctl, p[0], (1UL << 32) | FIONREAD, &n) != 0)
		_exit(97);
	_exit(9);
}

/* ... and TIOCSTI with high bits set is still TIOCSTI: killed by its own
 * rule in a denylist (default allow), where nothing else would kill it. */
static const struct fc_sc_rule deny_tiocsti_rules[] = {
	SC_KILL_IF("ioctl", SC_ARG32(1, TIOCSTI), "never"),
};
static SC_TABLE(deny_tiocsti, "deny-tiocsti", FC_SC_DEFAULT_ALLOW,
    deny_tiocsti_rules);

static void
child_ioctl_high_bits_killed(void)
{
	const struct fc_sc_table *set[] = { &deny_tiocsti };
	char err[128];
	int p[2];

	if (pipe(p) != 0)
		_exit(96);
	if (fc_sandbox_seccomp(set, 1, false, err, sizeof(err)) != 0)
		_exit(90);
	(void)syscall(SYS_ioctl, p[0], (1UL << 32) | TIOCSTI, "x");
	_exit(98);	/* reached when the rule compared all 64 bits */
}

/* Two tables with different defaults, and an unconditional ALLOW next to
 * a deny of the same call, are refused before anything is loaded. */
static void
test_refused_tables(void **state)
{
	static const struct fc_sc_rule allow_all[] = {
		SC_ALLOW("ioctl", "voids the TIOCSTI kill"),
	};
	static const struct fc_sc_table voiding = { "voiding",
	    FC_SC_DEFAULT_KILL, allow_all, 1 };
	static const struct fc_sc_table deny = { "deny", FC_SC_DEFAULT_ALLOW,
	    tiny_rules, 1 };
	const struct fc_sc_table *set1[] = { &tiny, &voiding };
	const struct fc_sc_table *set2[] = { &tiny, &deny };
	char err[256];

	(void)state;
	assert_int_equal(fc_sandbox_seccomp(set1, 2, false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ioctl"));
	assert_int_equal(fc_sandbox_seccomp(set2, 2, false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "defaults"));
}

static void
test_argument_high_bits(void **state)
{
	int st;

	(void)state;
	st = in_child(child_ioctl_high_bits_allowed);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 9);
	st = in_child(child_ioctl_high_bits_killed);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

#ifdef __x86_64__
/* getpid through the ia32 ABI (int 0x80, ia32 syscall 20). */
static void *
ia32_getpid(void *arg)
{
	long r;

	(void)arg;
	__asm__ volatile ("int $0x80" : "=a"(r) : "a"(20L) : "memory");
	return (void *)r;
}

static void
child_ia32_plain(void)
{
	_exit(ia32_getpid(NULL) == (void *)(long)getpid() ? 12 : 99);
}

/* A denylist (default allow) with nothing in it, and a call made through
 * the ia32 ABI from a second thread: the whole process dies, not only
 * that thread (the main thread would then leave with 11). */
static void
child_ia32_thread(void)
{
	static const struct fc_sc_rule none[] = {
		SC_KILL("ptrace", "something to deny"),
	};
	static const struct fc_sc_table deny = { "deny", FC_SC_DEFAULT_ALLOW,
	    none, 1 };
	const struct fc_sc_table *set[] = { &deny };
	char err[128];
	pthread_t th;

	if (fc_sandbox_seccomp(set, 1, false, err, sizeof(err)) != 0)
		_exit(90);
	if (pthread_create(&th, NULL, ia32_getpid, NULL) != 0)
		_exit(91);
	pthread_join(th, NULL);
	_exit(11);
}
#endif

static void
test_foreign_abi_kills_process(void **state)
{
	int st;

	(void)state;
#ifdef __x86_64__
	st = in_child(child_ia32_plain);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 12)
		skip();		/* no ia32 emulation in this kernel */
	st = in_child(child_ia32_thread);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
#else
	(void)st;
	skip();
#endif
}

/* Landlock with no path: nothing can be opened, not even for reading. */
static void
child_landlock_nothing(void)
{
	struct fc_landlock_spec spec;
	struct fc_landlock_report rep;
	char err[256];

	memset(&spec, 0, sizeof(spec));
	spec.fs = true;
	if (fc_landlock_apply(&spec, &rep, err, sizeof(err)) != 0)
		_exit(81);
	if (rep.abi == 0)
		_exit(82);
	if (open("/etc/passwd", O_RDONLY) != -1 || errno != EACCES)
		_exit(83);
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		_exit(84);
	_exit(10);
}

/* Landlock with one path: that one opens, its neighbour does not. */
static void
child_landlock_one(void)
{
	struct fc_landlock_path p = { -1, FC_FS_READ, false };
	struct fc_landlock_spec spec;
	struct fc_landlock_report rep;
	char err[256];
	int fd;

	memset(&spec, 0, sizeof(spec));
	spec.fs = true;
	if ((p.fd = open("/etc/hostname", O_PATH | O_CLOEXEC)) == -1)
		_exit(80);
	spec.paths = &p;
	spec.npaths = 1;
	if (fc_landlock_apply(&spec, &rep, err, sizeof(err)) != 0)
		_exit(81);
	if ((fd = open("/etc/hostname", O_RDONLY)) == -1)
		_exit(82);
	close(fd);
	if (open("/etc/hostname", O_WRONLY) != -1 || errno != EACCES)
		_exit(83);
	if (open("/etc/passwd", O_RDONLY) != -1 || errno != EACCES)
		_exit(84);
	_exit(10);
}

static void
test_landlock(void **state)
{
	int st;

	(void)state;
	if (fc_landlock_abi() == 0)
		skip();
	st = in_child(child_landlock_nothing);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 10);
	st = in_child(child_landlock_one);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 10);
}

/* The drop is permanent. */
static void
child_drop(void)
{
	struct fc_sandbox_user u;
	char err[256];

	if (fc_sandbox_resolve_user("nobody", NULL, &u, err, sizeof(err)) != 0)
		_exit(80);
	if (fc_sandbox_drop_user(&u, err, sizeof(err)) != 0)
		_exit(81);
	if (geteuid() == 0 || setuid(0) == 0 || getgroups(0, NULL) != 0)
		_exit(84);
	_exit(10);
}

static void
test_drop_user(void **state)
{
	int st;

	(void)state;
	if (geteuid() != 0)
		skip();
	st = in_child(child_drop);
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
		cmocka_unit_test(test_argument_high_bits),
		cmocka_unit_test(test_refused_tables),
		cmocka_unit_test(test_foreign_abi_kills_process),
		cmocka_unit_test(test_landlock),
		cmocka_unit_test(test_drop_user),
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
