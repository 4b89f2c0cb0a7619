/*
 * The capture process's seccomp allowlist: looser than the workers' (it
 * reopens devices and files after a failure, and the http source makes
 * outbound connections) but still no listening sockets, no exec, no fork,
 * no executable memory, no signals to other processes.
 *
 * The libcamera source runs without a filter: libcamera starts threads and
 * talks to udev and media devices in ways this table does not enumerate,
 * and no camera is available here to observe them.  It still gets the uid
 * drop, no_new_privs and the resource limits.
 */
#include "capture_policy.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>

#define ALLOW(name, why) { name, FC_SC_ALLOW, 0, 0, {{0}}, why }
#define ALLOW1(name, a0, why) { name, FC_SC_ALLOW, 0, 1, { a0 }, why }
#define DENY(name, e, why) { name, FC_SC_ERRNO, e, 0, {{0}}, why }
#define ARG_MASK(n, m, v) { n, SCMP_CMP_MASKED_EQ, (m), (v) }
#define ARG_EQ(n, v) { n, SCMP_CMP_EQ, (v), 0 }

static const struct fc_sc_rule capture_rules[] = {
	/* --- soft denials (a rule without arguments would override every
	 * conditional rule for the same syscall in libseccomp, so a soft
	 * denial next to allowed variants carries its own condition) --- */
	DENY("clone3", ENOSYS, "no threads or processes: fail, do not kill"),
	DENY("clone", EPERM, "same"),
	DENY("fork", EPERM, "same"),
	DENY("vfork", EPERM, "same"),
	DENY("execve", EPERM, "never exec"),
	DENY("execveat", EPERM, "never exec"),

	/* --- devices and files (v4l2 device, files directory, resolver) --- */
	ALLOW("openat", "reopen the camera or the JPEG folder after a failure"),
	ALLOW("open", "same, older ABI"),
	ALLOW("close", "release them"),
	ALLOW("read", "JPEG files, the upstream socket, resolver files"),
	ALLOW("pread64", "JPEG files"),
	ALLOW("write", "log lines, upstream request"),
	ALLOW("writev", "log lines, upstream request"),
	ALLOW("lseek", "file sizes"),
	ALLOW("fstat", "file sizes"),
	ALLOW("newfstatat", "file type checks"),
	ALLOW("statx", "file type checks"),
	ALLOW("stat", "same, older ABI"),
	ALLOW("getdents64", "list the JPEG folder"),
	ALLOW("readlink", "locate the bundled samples via /proc/self/exe"),
	ALLOW("readlinkat", "same"),
	ALLOW("ioctl", "V4L2 (VIDIOC_*) on the camera"),
	ALLOW("poll", "wait for a camera buffer or upstream data"),
	ALLOW("ppoll", "same"),
	ALLOW("select", "same"),
	ALLOW("pselect6", "same"),
	ALLOW1("fcntl", ARG_EQ(1, F_GETFL), "O_NONBLOCK"),
	ALLOW1("fcntl", ARG_EQ(1, F_SETFL), "O_NONBLOCK"),
	ALLOW1("fcntl", ARG_EQ(1, F_GETFD), "FD_CLOEXEC"),
	ALLOW1("fcntl", ARG_EQ(1, F_SETFD), "FD_CLOEXEC"),

	/* --- one kind of outbound connection, for the http source --- */
	ALLOW1("socket", ARG_EQ(0, AF_INET), "connect to the upstream (and DNS)"),
	ALLOW1("socket", ARG_EQ(0, AF_INET6), "same, IPv6"),
	{ "socket", FC_SC_ERRNO, EACCES, 1, { ARG_EQ(0, AF_UNIX) },
	    "nscd's unix socket: the resolver falls back to files and DNS" },
	{ "socket", FC_SC_ERRNO, EACCES, 1, { ARG_EQ(0, AF_NETLINK) },
	    "getaddrinfo's AI_ADDRCONFIG probe: glibc then assumes v4 and v6" },
	ALLOW("connect", "the upstream, the DNS server"),
	ALLOW("getsockopt", "SO_ERROR after a non-blocking connect"),
	ALLOW("setsockopt", "timeouts, TCP_NODELAY"),
	ALLOW("getsockname", "resolver"),
	ALLOW("getpeername", "resolver"),
	ALLOW("sendto", "upstream request, DNS query"),
	ALLOW("sendmmsg", "DNS queries (A and AAAA together)"),
	ALLOW("recvfrom", "upstream data, DNS answer"),
	ALLOW("recvmsg", "DNS answer"),
	ALLOW("shutdown", "close the upstream"),
	ALLOW("bind", "resolver binds UDP sockets on some libcs"),

	/* --- frames, time, demand --- */
	ALLOW("futex", "wake workers on publish, wait on the demand word"),
	ALLOW("membarrier", "liburcu (loaded with libcamera's tracing) at exit"),
	ALLOW("clock_gettime", "timestamps (vDSO fallback)"),
	ALLOW("gettimeofday", "vDSO fallback"),
	ALLOW("clock_nanosleep", "frame pacing"),
	ALLOW("nanosleep", "backoff"),

	/* --- memory: never executable --- */
	ALLOW1("mmap", ARG_MASK(2, PROT_EXEC, 0), "malloc, V4L2 buffers"),
	ALLOW1("mprotect", ARG_MASK(2, PROT_EXEC, 0), "malloc guard pages"),
	ALLOW("munmap", "free, V4L2 buffers"),
	ALLOW("mremap", "realloc"),
	ALLOW("madvise", "malloc returning memory"),
	ALLOW("brk", "malloc"),

	/* --- signals and process --- */
	ALLOW("rt_sigreturn", "return from the SIGTERM handler"),
	ALLOW("rt_sigprocmask", "libc"),
	ALLOW("rt_sigaction", "libc"),
	ALLOW("sigaltstack", "libc"),
	ALLOW("restart_syscall", "an interrupted sleep resumes"),
	ALLOW("getpid", "log lines"),
	ALLOW("gettid", "libc"),
	ALLOW("getppid", "parent-death check"),
	ALLOW("uname", "resolver"),
	ALLOW("getrandom", "resolver query ids, malloc"),
	ALLOW("sched_yield", "libc"),
	ALLOW("exit", "libc"),
	ALLOW("exit_group", "the capture process ends"),
};

const struct fc_sc_rule *
fc_capture_policy(enum fc_source_kind kind, size_t *n)
{
	if (kind == FC_SOURCE_LIBCAMERA) {
		*n = 0;
		return NULL;
	}
	*n = sizeof(capture_rules) / sizeof(capture_rules[0]);
	return capture_rules;
}
