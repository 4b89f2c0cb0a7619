/*
 * The worker's jail as shipped: every case forks a child that applies the
 * real worker row of the role table with fc_role_enter() (common/role.c:
 * the empty root, the drop to "nobody", not dumpable, the rlimits,
 * Landlock, no_new_privs and the seccomp table of common/policy_worker.c),
 * then tries one thing a compromised worker would try.
 * The parent judges from the wait status and, for the layers a sandboxed
 * process cannot inspect itself (getuid and prctl are not in the
 * allowlist), from /proc/PID of the live child.
 *
 * Each forbidden action must fail with an errno or kill the child (SIGSYS
 * from seccomp, SIGSEGV for a write to the read-only bus).  Children leave
 * with _exit() so no sanitizer exit hook runs under the filter, and reset
 * SIGSEGV to its default so ASan's handler does not turn a fault into a
 * report (whose own syscalls the table would refuse).
 *
 * As root the full jail is built (chroot into an empty directory under a
 * mkdtemp parent, uid nobody); otherwise the uid and chroot checks are
 * skipped and the fs layer is Landlock, but seccomp is checked all the same.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <sys/uio.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/bus.h"
#include "../../common/log.h"
#include "../../common/role.h"
#include "../../common/sandbox.h"

/* Child exit codes. */
#define C_OK		0	/* positive checks passed */
#define C_DENIED	10	/* the forbidden call failed with an errno */
#define C_BADERRNO	11	/* ... with an errno no layer gives */
#define C_ALLOWED	20	/* the forbidden call succeeded: a hole */
#define C_BUS_WRITTEN	21	/* the bus was written through */
#define C_NOSANDBOX	90	/* fc_role_enter() failed */
#define C_SETUP		91	/* setup before the sandbox failed */
#define C_POSITIVE	92	/* an allowed call failed (base) */

static struct {
	bool root;
	struct fc_sandbox_user user;
	char parent_dir[64];		/* mkdtemp */
	char empty_dir[96];		/* parent_dir/empty, the chroot */
	struct fc_bus *bus;		/* created here, attached by children */
} T;

static volatile sig_atomic_t got_sigterm;

static void
on_sigterm(int sig)
{
	(void)sig;
	got_sigterm++;
}

static int
setup(void **state)
{
	char err[256];

	(void)state;
	T.root = geteuid() == 0;
	fc_log_init("test-worker-sandbox", FC_LOG_WARN);
	if (fc_sandbox_resolve_user("nobody", NULL, &T.user, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "resolve nobody: %s\n", err);
		return -1;
	}
	if (T.root) {
		snprintf(T.parent_dir, sizeof(T.parent_dir),
		    "/tmp/fc-wsandbox.XXXXXX");
		if (mkdtemp(T.parent_dir) == NULL)
			return -1;
		snprintf(T.empty_dir, sizeof(T.empty_dir), "%s/empty",
		    T.parent_dir);
		if (fc_sandbox_prepare_empty_dir(T.empty_dir, err,
		    sizeof(err)) != 0) {
			fprintf(stderr, "empty dir: %s\n", err);
			return -1;
		}
	} else {
		fprintf(stderr, "not root: uid drop and chroot checks skipped, "
		    "seccomp still checked\n");
	}
	if ((T.bus = fc_bus_create(3, 64 * 1024)) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	fc_bus_close(T.bus);
	if (T.root) {
		rmdir(T.empty_dir);
		rmdir(T.parent_dir);
	}
	return 0;
}

/* In a child: the real jail, or exit C_NOSANDBOX. */
static void
jail(void)
{
	struct fc_role_ctx ctx;

	memset(&ctx, 0, sizeof(ctx));
	ctx.user = &T.user;
	ctx.empty_dir = T.root ? T.empty_dir : NULL;
	ctx.pdeathsig = SIGKILL;
	ctx.parent = getppid();
	if (fc_role_lockdown(&fc_roles[FC_ROLE_WORKER], &ctx) != 0)
		_exit(C_NOSANDBOX);
}

/*
 * Forks a child that runs fn (which never returns).  The child's stderr is
 * a pipe, as a real worker's is (the supervisor collects their logs): with
 * RLIMIT_FSIZE 0, a log line written to a file would kill it with SIGXFSZ.
 * *logfd is the read end, for pass_log().
 */
static pid_t
start_child(void (*fn)(void *), void *arg, int *logfd)
{
	int p[2];
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (dup2(p[1], STDERR_FILENO) == -1)
			_exit(C_SETUP);
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		fn(arg);
		_exit(C_SETUP);
	}
	close(p[1]);
	*logfd = p[0];
	return pid;
}

/* Copies what a finished child logged to our stderr, then closes fd. */
static void
pass_log(int fd)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		(void)!write(STDERR_FILENO, buf, (size_t)n);
	close(fd);
}

/* Runs fn in a child; returns its wait status. */
static int
in_child(void (*fn)(void *), void *arg)
{
	int status, logfd;
	pid_t pid;

	pid = start_child(fn, arg, &logfd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	pass_log(logfd);
	return status;
}

static const char *
describe(int st, char *buf, size_t len)
{
	if (WIFSIGNALED(st))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(st));
	else if (WIFEXITED(st))
		snprintf(buf, len, "exit %d", WEXITSTATUS(st));
	else
		snprintf(buf, len, "status 0x%x", (unsigned)st);
	return buf;
}

/* Forbidden: either the call failed (C_DENIED) or seccomp killed the
 * child.  Anything else (success, a failed jail) fails the test. */
static void
assert_forbidden(const char *what, int st)
{
	char buf[64];

	print_message("  %-28s %s\n", what, describe(st, buf, sizeof(buf)));
	if (WIFSIGNALED(st)) {
		assert_int_equal(WTERMSIG(st), SIGSYS);
		return;
	}
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), C_DENIED);
}

/* Exits C_DENIED when r says the call failed, C_ALLOWED otherwise. */
static _Noreturn void
verdict(long r)
{
	_exit(r == -1 ? C_DENIED : C_ALLOWED);
}

/* --- forbidden actions, one per child --- */

static void
do_open(void *arg)
{
	int fd;

	(void)arg;
	jail();
	fd = open("/etc/passwd", O_RDONLY);
	if (fd >= 0)
		_exit(C_ALLOWED);
	/* seccomp kills at openat; an errno means it let the call through
	 * to the kernel (and only the empty root stopped it). */
	_exit(C_BADERRNO);
}

static void
do_execve(void *arg)
{
	char *const argv[] = { "sh", "-c", "exit 42", NULL };
	char *const envp[] = { NULL };

	(void)arg;
	jail();
	execve("/bin/sh", argv, envp);
	_exit(C_DENIED);	/* execve returned: it failed */
}

static void
do_socket(void *arg)
{
	(void)arg;
	jail();
	verdict(socket(AF_INET, SOCK_STREAM, 0));
}

static void
do_fork(void *arg)
{
	pid_t pid;

	(void)arg;
	jail();
	pid = fork();
	if (pid == 0)
		_exit(0);	/* the grandchild, should it exist */
	verdict(pid == -1 ? -1 : 0);
}

static void
do_ptrace(void *arg)
{
	(void)arg;
	jail();
	verdict(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
}

static void
do_mprotect_exec(void *arg)
{
	void *p;

	(void)arg;
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(C_SETUP);
	jail();
	verdict(mprotect(p, 4096, PROT_READ | PROT_EXEC));
}

static void
do_mmap_exec(void *arg)
{
	void *p;

	(void)arg;
	jail();
	p = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	verdict(p == MAP_FAILED ? -1 : 0);
}

static void *
idle_thread(void *arg)
{
	return arg;
}

/* RLIMIT_NPROC 0 and no clone in the table: no new thread. */
static void
do_thread(void *arg)
{
	pthread_t th;

	(void)arg;
	jail();
	verdict(pthread_create(&th, NULL, idle_thread, NULL) == 0 ? 0 : -1);
}

static void
do_kill_parent(void *arg)
{
	pid_t parent = getppid();	/* getppid is not in the table */

	(void)arg;
	jail();
	verdict(kill(parent, SIGTERM));
}

/* Calls the worker table restricts by argument: each must kill.  The
 * listening socket is a real one, shared with the parent like a worker's. */
enum narrow { N_SHUT_RD, N_SHUT_RDWR, N_SETSOCKOPT_SOL, N_GETSOCKOPT_ERR,
	N_FCNTL_SETFL, N_IOCTL_TIOCSTI, N_IOCTL_FIONREAD, N_FUTEX_REQUEUE,
	N_EPOLL_MOD, N_COUNT };
static const char *const narrow_names[N_COUNT] = {
	"shutdown(listen, SHUT_RD)", "shutdown(listen, SHUT_RDWR)",
	"setsockopt(SOL_SOCKET)", "getsockopt(SO_ERROR)",
	"fcntl(listen, F_SETFL)", "ioctl(TIOCSTI)", "ioctl(FIONREAD)",
	"futex(FUTEX_CMP_REQUEUE)", "epoll_ctl(EPOLL_CTL_MOD)",
};
static int listen_fd = -1;

static void
do_narrow(void *arg)
{
	int what = *(const int *)arg, one = 1, ep;
	socklen_t len = sizeof(one);
	struct epoll_event ev;
	uint32_t word = 0;
	char c = 'x';

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		_exit(C_SETUP);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev) == -1)
		_exit(C_SETUP);
	jail();
	switch (what) {
	case N_SHUT_RD:
		verdict(shutdown(listen_fd, SHUT_RD));
	case N_SHUT_RDWR:
		verdict(shutdown(listen_fd, SHUT_RDWR));
	case N_SETSOCKOPT_SOL:
		verdict(setsockopt(listen_fd, SOL_SOCKET, SO_RCVBUF, &one,
		    sizeof(one)));
	case N_GETSOCKOPT_ERR:
		verdict(getsockopt(listen_fd, SOL_SOCKET, SO_ERROR, &one, &len));
	case N_FCNTL_SETFL:
		verdict(fcntl(listen_fd, F_SETFL, 0));
	case N_IOCTL_TIOCSTI:
		verdict(ioctl(STDERR_FILENO, TIOCSTI, &c));
	case N_IOCTL_FIONREAD:
		verdict(ioctl(listen_fd, FIONREAD, &one));
	case N_FUTEX_REQUEUE:
		verdict(syscall(SYS_futex, &word, FUTEX_CMP_REQUEUE, 1, NULL,
		    &word, 0));
	default:
		verdict(epoll_ctl(ep, EPOLL_CTL_MOD, listen_fd, &ev));
	}
}

static void
test_forbidden_arguments(void **state)
{
	struct sockaddr_in a;
	int i, c;

	(void)state;
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(listen_fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(listen_fd, 8), 0);
	for (i = 0; i < N_COUNT; i++) {
		int st = in_child(do_narrow, &i);

		assert_forbidden(narrow_names[i], st);
		/* Only a kill counts: none of these may reach the kernel. */
		assert_true(WIFSIGNALED(st));
	}
	/* The listener still takes connections and is still non-blocking. */
	assert_true(fcntl(listen_fd, F_GETFL) & O_NONBLOCK);
	c = socket(AF_INET, SOCK_STREAM, 0);
	{
		socklen_t l = sizeof(a);

		assert_int_equal(getsockname(listen_fd, (struct sockaddr *)&a,
		    &l), 0);
	}
	assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	close(c);
	close(listen_fd);
	listen_fd = -1;
}

/* A thread that exists before the filter (like the worker's watcher) is
 * bound by it too (TSYNC): its forbidden call kills the whole process. */
struct thread_probe {
	int go[2];	/* main -> thread: jail is on */
	int done[2];	/* thread -> main: the call returned */
};

static void *
probe_thread(void *arg)
{
	struct thread_probe *tp = arg;
	char c;
	int fd;

	if (read(tp->go[0], &c, 1) != 1)
		return NULL;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	c = fd >= 0 ? 'A' : 'D';
	(void)!write(tp->done[1], &c, 1);
	return NULL;
}

static void
do_thread_socket(void *arg)
{
	struct thread_probe tp;
	struct pollfd pfd;
	pthread_t th;
	char c = 'g';

	(void)arg;
	if (pipe(tp.go) != 0 || pipe(tp.done) != 0 ||
	    pthread_create(&th, NULL, probe_thread, &tp) != 0)
		_exit(C_SETUP);
	jail();
	if (write(tp.go[1], &c, 1) != 1)
		_exit(C_POSITIVE);
	pfd.fd = tp.done[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 5000) != 1 || read(tp.done[0], &c, 1) != 1)
		_exit(C_POSITIVE);
	_exit(c == 'A' ? C_ALLOWED : C_DENIED);
}

/* The bus is mapped read-only before the jail: a store faults. */
static void
do_bus_write(void *arg)
{
	struct fc_bus *ro;
	volatile uint8_t *p;

	(void)arg;
	if ((ro = fc_bus_attach(T.bus->fd, false)) == NULL)
		_exit(C_SETUP);
	jail();
	p = (volatile uint8_t *)ro->hdr;
	p[0] = (uint8_t)(p[0] ^ 0xff);
	_exit(C_BUS_WRITTEN);
}

static void
test_forbidden_open(void **state)
{
	(void)state;
	assert_forbidden("open(/etc/passwd)", in_child(do_open, NULL));
}

static void
test_forbidden_execve(void **state)
{
	(void)state;
	assert_forbidden("execve(/bin/sh)", in_child(do_execve, NULL));
}

static void
test_forbidden_socket(void **state)
{
	(void)state;
	assert_forbidden("socket(AF_INET)", in_child(do_socket, NULL));
}

static void
test_forbidden_fork(void **state)
{
	(void)state;
	assert_forbidden("fork()", in_child(do_fork, NULL));
}

static void
test_forbidden_thread(void **state)
{
	(void)state;
	assert_forbidden("pthread_create()", in_child(do_thread, NULL));
}

static void
test_forbidden_ptrace(void **state)
{
	(void)state;
	assert_forbidden("ptrace(TRACEME)", in_child(do_ptrace, NULL));
}

static void
test_forbidden_mprotect_exec(void **state)
{
	(void)state;
	assert_forbidden("mprotect(PROT_EXEC)", in_child(do_mprotect_exec, NULL));
}

static void
test_forbidden_mmap_exec(void **state)
{
	(void)state;
	assert_forbidden("mmap(PROT_EXEC)", in_child(do_mmap_exec, NULL));
}

static void
test_forbidden_kill_parent(void **state)
{
	struct sigaction sa, old;
	int st;

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigterm;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGTERM, &sa, &old), 0);
	got_sigterm = 0;
	st = in_child(do_kill_parent, NULL);
	/* A signal sent before the child died is pending or handled by now. */
	usleep(10000);
	assert_int_equal(sigaction(SIGTERM, &old, NULL), 0);
	assert_int_equal(got_sigterm, 0);
	assert_forbidden("kill(parent, SIGTERM)", st);
}

static void
test_forbidden_from_thread(void **state)
{
	(void)state;
	assert_forbidden("socket() from a thread", in_child(do_thread_socket, NULL));
}

static void
test_bus_read_only(void **state)
{
	uint64_t magic = T.bus->hdr->magic;
	char buf[64];
	int st;

	(void)state;
	st = in_child(do_bus_write, NULL);
	print_message("  %-28s %s\n", "write to the bus", describe(st, buf,
	    sizeof(buf)));
	if (T.bus->hdr->magic != magic) {
		T.bus->hdr->magic = magic;	/* for the cases after this one */
		fail_msg("a read-only attached worker wrote the bus");
	}
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSEGV);
	assert_true(T.bus->hdr->magic == magic);
}

/*
 * A read-only MAP_SHARED mapping of a descriptor opened read-write can be
 * made writable again with mprotect(PROT_WRITE), and the descriptor can be
 * mapped writable anew; the table allows both (neither asks for
 * PROT_EXEC).  The bus stays read-only for a worker only if its descriptor
 * is read-only too.
 */
static void
do_bus_remap(void *arg)
{
	struct fc_bus *ro;
	volatile uint8_t *p;
	void *m;

	if ((ro = fc_bus_attach(T.bus->fd, false)) == NULL)
		_exit(C_SETUP);
	jail();
	if (*(const int *)arg == 0) {
		if (mprotect(ro->hdr, ro->map_size, PROT_READ | PROT_WRITE) != 0)
			_exit(C_DENIED);
		p = (volatile uint8_t *)ro->hdr;
	} else {
		m = mmap(NULL, ro->map_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    ro->fd, 0);
		if (m == MAP_FAILED)
			_exit(C_DENIED);
		p = m;
	}
	p[offsetof(struct fc_bus_header, reserved)] ^= 0x5a;
	_exit(C_BUS_WRITTEN);
}

static void
check_bus_remap(int how, const char *what)
{
	volatile uint8_t *r = (volatile uint8_t *)T.bus->hdr +
	    offsetof(struct fc_bus_header, reserved);
	uint8_t before = *r;
	char buf[64];
	int st;

	st = in_child(do_bus_remap, &how);
	print_message("  %-28s %s\n", what, describe(st, buf, sizeof(buf)));
	if (WIFEXITED(st) && WEXITSTATUS(st) == C_BUS_WRITTEN)
		*r = before;	/* undo, then fail below */
	/* fc_bus_attach() gives readers a descriptor opened read-only, so
	 * neither mprotect(PROT_WRITE) nor a new writable mapping works. */
	assert_false(WIFEXITED(st) && WEXITSTATUS(st) == C_BUS_WRITTEN);
	assert_true(*r == before);
	if (WIFSIGNALED(st))
		assert_true(WTERMSIG(st) == SIGSYS || WTERMSIG(st) == SIGSEGV);
	else
		assert_int_equal(WEXITSTATUS(st), C_DENIED);
}

static void
test_bus_mprotect_write(void **state)
{
	(void)state;
	check_bus_remap(0, "mprotect(bus, PROT_WRITE)");
}

static void
test_bus_mmap_write(void **state)
{
	(void)state;
	check_bus_remap(1, "mmap(bus fd, PROT_WRITE)");
}

/* --- what must still work --- */

/* Sleeps on *arg like the watcher sleeps on the bus word. */
static void *
futex_sleeper(void *arg)
{
	_Atomic uint32_t *w = arg;

	while (atomic_load(w) == 0)
		syscall(SYS_futex, w, FUTEX_WAIT, 0, NULL, NULL, 0);
	return NULL;
}

struct positive {
	int pipe[2];
};

static void
do_positive(void *arg)
{
	struct positive *pp = arg;
	struct epoll_event ev;
	struct timespec ts;
	struct sockaddr_in a;
	struct tcp_info ti;
	socklen_t len = sizeof(a);
	_Atomic uint32_t word = 0;
	pthread_t th;
	char *big;
	int ep, lfd, cfd, sfd, one = 1;

	/* What a worker holds when it locks down: an epoll instance, a
	 * listening socket, a client, and a thread sleeping on a futex word
	 * (the watcher), which it wakes and joins at exit. */
	ep = epoll_create1(EPOLL_CLOEXEC);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (ep == -1 || lfd == -1 ||
	    bind(lfd, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    listen(lfd, 8) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&a, &len) == -1 ||
	    (cfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(cfd, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    pthread_create(&th, NULL, futex_sleeper, &word) != 0)
		_exit(C_SETUP);
	/* The info line fc_role_lockdown() logs after the filter is on
	 * proves the logging path is in the table. */
	fc_log_set_level(FC_LOG_INFO);
	jail();
	fc_log_set_level(FC_LOG_WARN);

	if (write(pp->pipe[1], "ok", 2) != 2)
		_exit(C_POSITIVE + 1);
	if (epoll_wait(ep, &ev, 1, 0) != 0)
		_exit(C_POSITIVE + 2);
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0 ||
	    clock_gettime(CLOCK_REALTIME, &ts) != 0)
		_exit(C_POSITIVE + 3);
	/* Large enough for mmap rather than the heap. */
	if ((big = malloc(4 << 20)) == NULL)
		_exit(C_POSITIVE + 4);
	memset(big, 1, 4 << 20);
	free(big);
	/* worker.c accept_clients(), stream_socket_options(); client.c
	 * peer_backlogged(), start_lingering(); worker.c refuse_connection()
	 * answers with write(). */
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0 ||
	    epoll_wait(ep, &ev, 1, 1000) != 1 ||
	    (sfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_DEL, lfd, NULL) != 0)
		_exit(C_POSITIVE + 6);
	len = sizeof(ti);
	if (setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    setsockopt(sfd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &one,
	    sizeof(one)) != 0 ||
	    getsockopt(sfd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
	    writev(sfd, &(struct iovec){ "hi", 2 }, 1) != 2 ||
	    write(sfd, "!", 1) != 1 ||
	    shutdown(sfd, SHUT_WR) != 0 || close(sfd) != 0)
		_exit(C_POSITIVE + 7);
	/* control.c admit_lock() while another worker holds the lock. */
	if (sched_yield() != 0)
		_exit(C_POSITIVE + 10);
	/* SHUT_WR is allowed on any socket; on the listener it is a no-op. */
	if (shutdown(lfd, SHUT_WR) != 0)
		_exit(C_POSITIVE + 8);
	/* watcher.c fc_watcher_stop(): wake the thread, join it. */
	atomic_store(&word, 1);
	if (syscall(SYS_futex, &word, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0) < 0 ||
	    pthread_join(th, NULL) != 0)
		_exit(C_POSITIVE + 9);
	log_warnx("a log line from inside the jail");
	_exit(C_OK);
}

static void
test_allowed_calls_work(void **state)
{
	struct positive pp;
	char buf[64] = "";
	int st;

	(void)state;
	assert_int_equal(pipe(pp.pipe), 0);
	st = in_child(do_positive, &pp);
	print_message("  %-28s %s\n", "allowed calls", describe(st, buf,
	    sizeof(buf)));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), C_OK);
	assert_int_equal(read(pp.pipe[0], buf, 2), 2);
	assert_memory_equal(buf, "ok", 2);
	close(pp.pipe[0]);
	close(pp.pipe[1]);
}

/* The child jails itself, says so, and waits; the parent inspects it. */
struct hold {
	int ready[2];
	int release[2];
};

static void
do_hold(void *arg)
{
	struct hold *h = arg;
	char c;

	close(h->ready[0]);
	close(h->release[1]);
	jail();
	if (write(h->ready[1], "R", 1) != 1)
		_exit(C_POSITIVE);
	(void)!read(h->release[0], &c, 1);
	_exit(C_OK);
}

/* Value of "Key:" in a /proc file, or NULL. */
static char *
proc_field(const char *text, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key);
	const char *p = text;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
			const char *v = p + klen + 1, *end;

			while (*v == ' ' || *v == '\t')
				v++;
			end = strchr(v, '\n');
			if (end == NULL)
				end = v + strlen(v);
			snprintf(out, len, "%.*s", (int)(end - v), v);
			return out;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

static size_t
read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, len - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	return (size_t)n;
}

/* All four ids of a Uid:/Gid: line are non-zero. */
static bool
ids_nonzero(const char *v)
{
	unsigned long a, b, c, d;

	return sscanf(v, "%lu %lu %lu %lu", &a, &b, &c, &d) == 4 &&
	    a != 0 && b != 0 && c != 0 && d != 0;
}

/* "Max processes   0   0   processes" */
static bool
limit_zero(const char *limits, const char *name)
{
	const char *p = strstr(limits, name);
	unsigned long soft, hard;

	return p != NULL && sscanf(p + strlen(name), " %lu %lu", &soft,
	    &hard) == 2 && soft == 0 && hard == 0;
}

static void
test_layers_seen_from_outside(void **state)
{
	char path[64], text[4096], limits[4096], v[128], link[256];
	struct hold h;
	struct stat st;
	ssize_t n;
	int status, logfd;
	pid_t pid;
	char c;

	(void)state;
	assert_int_equal(pipe(h.ready), 0);
	assert_int_equal(pipe(h.release), 0);
	pid = start_child(do_hold, &h, &logfd);
	close(h.ready[1]);
	close(h.release[0]);
	if (read(h.ready[0], &c, 1) != 1) {
		waitpid(pid, &status, 0);
		pass_log(logfd);
		fail_msg("child did not jail itself: %s",
		    describe(status, v, sizeof(v)));
	}

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	read_file(path, text, sizeof(text));
	assert_non_null(proc_field(text, "NoNewPrivs", v, sizeof(v)));
	print_message("  NoNewPrivs: %s\n", v);
	assert_string_equal(v, "1");
	assert_non_null(proc_field(text, "Seccomp", v, sizeof(v)));
	print_message("  Seccomp: %s\n", v);
	assert_string_equal(v, "2");
	/* Not dumpable: the kernel gives its /proc files to root, whoever
	 * the process runs as. */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 0);
	if (T.root) {
		assert_non_null(proc_field(text, "Uid", v, sizeof(v)));
		print_message("  Uid: %s\n", v);
		assert_true(ids_nonzero(v));
		assert_non_null(proc_field(text, "Gid", v, sizeof(v)));
		print_message("  Gid: %s\n", v);
		assert_true(ids_nonzero(v));
		assert_non_null(proc_field(text, "Groups", v, sizeof(v)));
		assert_string_equal(v, "");

		snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
		n = readlink(path, link, sizeof(link) - 1);
		assert_true(n > 0);
		link[n] = '\0';
		print_message("  root: %s\n", link);
		assert_string_equal(link, T.empty_dir);
	}
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	read_file(path, limits, sizeof(limits));
	assert_true(limit_zero(limits, "Max processes"));
	assert_true(limit_zero(limits, "Max core file size"));
	assert_true(limit_zero(limits, "Max file size"));

	assert_int_equal(write(h.release[1], "x", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	pass_log(logfd);
	close(h.ready[0]);
	close(h.release[1]);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), C_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed_calls_work),
		cmocka_unit_test(test_layers_seen_from_outside),
		cmocka_unit_test(test_forbidden_open),
		cmocka_unit_test(test_forbidden_execve),
		cmocka_unit_test(test_forbidden_socket),
		cmocka_unit_test(test_forbidden_fork),
		cmocka_unit_test(test_forbidden_thread),
		cmocka_unit_test(test_forbidden_ptrace),
		cmocka_unit_test(test_forbidden_mprotect_exec),
		cmocka_unit_test(test_forbidden_mmap_exec),
		cmocka_unit_test(test_forbidden_kill_parent),
		cmocka_unit_test(test_forbidden_from_thread),
		cmocka_unit_test(test_forbidden_arguments),
		cmocka_unit_test(test_bus_read_only),
		cmocka_unit_test(test_bus_mprotect_write),
		cmocka_unit_test(test_bus_mmap_write),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
