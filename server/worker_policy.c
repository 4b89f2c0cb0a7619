/*
 * The worker's seccomp allowlist.  A worker parses untrusted input from the
 * network, so this is the list a reviewer should be able to check line by
 * line: everything else kills the process (SCMP_ACT_KILL_PROCESS).
 *
 * By the time the filter is loaded the worker already holds everything it
 * will ever need: listening sockets, the epoll instance, the eventfd and
 * signalfd, the bus (read-only) and control mappings, its watcher thread.
 * So it may not create sockets, open files, map executable memory, fork,
 * exec, or signal other processes.
 */
#include "worker_policy.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>

#define ALLOW(name, why) { name, FC_SC_ALLOW, 0, 0, {{0}}, why }
#define ALLOW1(name, a0, why) { name, FC_SC_ALLOW, 0, 1, { a0 }, why }
#define DENY(name, e, why) { name, FC_SC_ERRNO, e, 0, {{0}}, why }
/* argument n, masked with m, equals v */
#define ARG_MASK(n, m, v) { n, SCMP_CMP_MASKED_EQ, (m), (v) }
#define ARG_EQ(n, v) { n, SCMP_CMP_EQ, (v), 0 }

static const struct fc_sc_rule worker_rules[] = {
	/* --- soft denials: fail cleanly instead of killing --- */
	DENY("openat", EACCES, "libc may try to open locale or time zone files; "
	    "there is nothing to open in the empty root anyway"),
	DENY("open", EACCES, "same, older ABI"),
	DENY("clone3", ENOSYS, "glibc falls back to clone, which RLIMIT_NPROC 0 "
	    "and the rule below stop"),

	/* --- the event loop --- */
	ALLOW("epoll_wait", "the loop"),
	ALLOW("epoll_pwait", "the loop (libc may use it for epoll_wait)"),
	ALLOW("epoll_ctl", "add, modify and remove client sockets"),
	ALLOW("accept4", "new clients on the inherited listening sockets"),
	ALLOW("accept", "same, older ABI"),
	ALLOW("read", "requests, the eventfd, the signalfd, the stop pipe"),
	ALLOW("readv", "requests"),
	ALLOW("recvfrom", "requests (libc recv)"),
	ALLOW("write", "responses, the eventfd (watcher), log lines"),
	ALLOW("writev", "one writev per multipart part"),
	ALLOW("sendto", "responses (libc send)"),
	ALLOW("sendmsg", "responses"),
	ALLOW("shutdown", "half-close before close"),
	ALLOW("close", "finished clients"),
	ALLOW("poll", "the watcher's and libc's short waits"),
	ALLOW("ppoll", "same"),
	ALLOW("getsockopt", "SO_ERROR on a failed socket"),
	ALLOW("getpeername", "the client address for per-address limits"),
	ALLOW("getsockname", "same"),
	ALLOW1("setsockopt", ARG_EQ(1, IPPROTO_TCP),
	    "TCP_NODELAY and TCP_NOTSENT_LOWAT on streaming sockets"),
	ALLOW1("setsockopt", ARG_EQ(1, SOL_SOCKET),
	    "SO_SNDBUF / SO_LINGER on client sockets"),
	ALLOW1("fcntl", ARG_EQ(1, F_GETFL), "read O_NONBLOCK"),
	ALLOW1("fcntl", ARG_EQ(1, F_SETFL), "set O_NONBLOCK"),
	ALLOW1("fcntl", ARG_EQ(1, F_GETFD), "read FD_CLOEXEC"),
	ALLOW1("fcntl", ARG_EQ(1, F_SETFD), "set FD_CLOEXEC"),

	/* --- frames: the watcher thread and the bus futex --- */
	ALLOW("futex", "FUTEX_WAIT on the bus word, libc locks"),

	/* --- time --- */
	ALLOW("clock_gettime", "timestamps (vDSO fallback)"),
	ALLOW("clock_nanosleep", "short sleeps"),
	ALLOW("nanosleep", "short sleeps"),
	ALLOW("gettimeofday", "vDSO fallback"),

	/* --- memory: never executable --- */
	ALLOW1("mmap", ARG_MASK(2, PROT_EXEC, 0), "malloc arenas and frame buffers"),
	ALLOW1("mprotect", ARG_MASK(2, PROT_EXEC, 0), "malloc guard pages"),
	ALLOW("munmap", "free"),
	ALLOW("mremap", "realloc of large buffers"),
	ALLOW("madvise", "malloc returning memory"),
	ALLOW("brk", "malloc"),

	/* --- signals and process --- */
	ALLOW("rt_sigreturn", "return from a signal handler"),
	ALLOW("rt_sigprocmask", "libc blocks signals around some calls"),
	ALLOW("sigaltstack", "thread exit in libc and sanitizer runtimes"),
	ALLOW("restart_syscall", "an interrupted sleep resumes"),
	ALLOW("getpid", "log lines"),
	ALLOW("gettid", "libc"),
	ALLOW("sched_yield", "libc spin locks"),
	ALLOW("getrandom", "libc malloc randomisation"),
	ALLOW("rseq", "libc registers restartable sequences per thread"),
	ALLOW("set_robust_list", "libc thread bookkeeping"),
	ALLOW("exit", "a thread ends"),
	ALLOW("exit_group", "the worker ends"),
};

const struct fc_sc_rule *
fc_worker_policy(size_t *n)
{
	*n = sizeof(worker_rules) / sizeof(worker_rules[0]);
	return worker_rules;
}
