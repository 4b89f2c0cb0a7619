/*
 * The capture process's seccomp tables.  Capture's filter is the union of
 * fc_policy_capture (what the loop needs whatever the source) and the
 * table of the configured source (common/role.c picks them).  A
 * testpattern capture therefore opens no file and creates no socket; only
 * the http source may create sockets; the ioctls are v4l2's VIDIOC_*
 * requests (exactly those capture/source_v4l2.c makes) and http's FIONREAD
 * (glibc's resolver); files, v4l2 and http open paths, which Landlock
 * narrows to the folder, the device or the resolver's files.  None of
 * them may exec, fork, start threads, map executable memory, signal or
 * trace a process, or listen (tests/escape/escape.c tries all of these
 * but a thread).
 *
 * The libcamera source is the exception: libcamera starts threads, talks
 * to udev and media devices, loads IPA modules (executable mappings) and
 * may run them in a separate process, in ways this project cannot
 * enumerate without a camera to observe.  It gets a denylist instead
 * (default allow), plus every other layer of the capture row.
 *
 * The lists were checked against strace of capture running each source
 * under the supervisor (testpattern, files, http with a host name from
 * /etc/hosts and one from DNS), through pause, resume and stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/videodev2.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "policy.h"

static const struct fc_sc_rule capture_rules[] = {
	/* --- never --- */
	SC_TTY_KILLS,

	/* --- the loop: capture/capture.c, common/bus.c, common/control.c --- */
	SC_ALLOW("write", "common/log.c vlog(): log lines into the "
	    "supervisor's pipe"),
	SC_ALLOW("close", "the sources' close(); fc_bus_close() and "
	    "fc_ctl_close() at exit"),
	SC_ALLOW_IF("futex", SC_ARG32(1, FUTEX_WAKE),
	    "common/futex.c fc_futex_wake(): bus.c fc_bus_publish() wakes "
	    "every worker's watcher"),
	SC_ALLOW_IF("futex", SC_ARG32(1, FUTEX_WAIT),
	    "common/futex.c fc_futex_wait(): capture.c pause_for_viewers() "
	    "sleeps on the demand word until a worker has a viewer"),
	SC_ALLOW_IF("futex", SC_ARG32(1, FUTEX_WAKE_PRIVATE),
	    "glibc's once-initialisation (the resolver's first use in "
	    "source_http.c) and internal locks"),
	SC_ALLOW_IF("futex", SC_ARG32(1, FUTEX_WAIT_PRIVATE),
	    "the waiting side of the same locks"),
	SC_ALLOW("clock_gettime", "common/clock.h fc_now_*(): answered by the "
	    "vDSO; the system call is its fallback on clock sources the vDSO "
	    "cannot read"),
	SC_ALLOW("clock_nanosleep", "capture.c sleep_until(): frame pacing "
	    "and the reopen backoff"),
	SC_ALLOW("restart_syscall", "the kernel resumes a futex wait or a "
	    "sleep interrupted by SIGSTOP/SIGCONT"),
	SC_ALLOW("getpid", "capture.c fc_capture_run(): its pid into the bus "
	    "header; common/log.c"),

	/* --- memory: never executable --- */
	SC_ALLOW_IF("mmap", SC_ARGMASK(2, PROT_EXEC, 0),
	    "malloc() of large blocks (frames, the encoder's buffers); "
	    "source_v4l2.c start_streaming() maps the driver's buffers.  "
	    "Never PROT_EXEC"),
	SC_ALLOW("munmap", "free() of large blocks; source_v4l2.c "
	    "v4l2_close(); fc_bus_close() and fc_ctl_close() at exit"),
	SC_ALLOW("mremap", "realloc() of a large block"),
	SC_ALLOW("brk", "malloc()"),

	/* --- signals and exit --- */
	SC_ALLOW("rt_sigreturn", "return from main.c on_stop() (SIGTERM, "
	    "SIGINT)"),
	SC_ALLOW("rt_sigprocmask", "liburcu's exit handlers block signals "
	    "(forkcast-capture built with libcamera links lttng-ust, which "
	    "brings liburcu)"),
	SC_ALLOW("rt_sigaction", "glibc pthread_cancel() installs its "
	    "cancellation handler when lttng-ust stops its listener threads "
	    "at exit (forkcast-capture built with libcamera)"),
	SC_ALLOW("membarrier", "liburcu at exit (same)"),
	SC_ALLOW("exit_group", "the capture process ends"),
#ifdef __SANITIZE_ADDRESS__
	SC_ALLOW("sigaltstack", "SAN=1 builds only: the sanitizer runtime "
	    "queries the alternate signal stack"),
#endif
};

/* source = files: capture/source_files.c */
static const struct fc_sc_rule files_rules[] = {
	SC_ALLOW("openat", "files_open(): the folder; load_one(): each JPEG "
	    "(Landlock admits that folder only)"),
	SC_ALLOW("getdents64", "files_open(): scandirat() lists the folder"),
	SC_ALLOW("newfstatat", "load_one(): fstat() of each JPEG; "
	    "bundled_dir(): stat() of the candidate folders"),
	SC_ALLOW("read", "load_one(): the JPEG files"),
	SC_ALLOW("readlink", "bundled_dir(): /proc/self/exe, and realpath() "
	    "of the samples folder"),
	SC_ALLOW("faccessat2", "bundled_dir(): glibc realpath() checks that "
	    "the result exists"),
};

/* source = v4l2: capture/source_v4l2.c, exactly the requests it makes */
static const struct fc_sc_rule v4l2_rules[] = {
	SC_ALLOW("openat", "v4l2_open(): the device (Landlock admits the "
	    "configured node only)"),
	SC_ALLOW("newfstatat", "v4l2_open(): stat() to refuse anything but a "
	    "character device"),
	SC_ALLOW("poll", "v4l2_next(): wait for a filled buffer"),
	SC_ALLOW_IF("ioctl", SC_ARG32(1, VIDIOC_QUERYCAP),
	    "v4l2_open(): is it a streaming capture device"),
	SC_ALLOW_IF("ioctl", SC_ARG32(1, VIDIOC_ENUM_FMT),
	    "choose_format(): the formats it offers"),
	SC_ALLOW_IF("ioctl", SC_ARG32(1, VIDIOC_S_FMT),
	    "set_format(): size and format"),
	SC_ALLOW_IF("ioctl", SC_ARG32(1, VIDIOC_G_PARM),
	    "set_format(): current frame rate"),
	SC_ALLOW_IF("ioctl", SC_ARG32(1, VIDIOC_S_PARM),
	    "set_format(): request the configured frame rate"),
	SC_ALLOW_IF("ioctl", SC_ARG32(1, VIDIOC_REQBUFS),
	    "start_streaming(): allocate buffers; v4l2_close(): free them"),
	SC_ALLOW_IF("ioctl", SC_ARG32(1, VIDIOC_QUERYBUF),
	    "start_streaming(): where to map each buffer"),
	SC_ALLOW_IF("ioctl", SC_ARG32(1, VIDIOC_QBUF),
	    "start_streaming(), requeue(): hand a buffer to the driver"),
	SC_ALLOW_IF("ioctl", SC_ARG32(1, VIDIOC_DQBUF),
	    "v4l2_next(): take a filled buffer"),
	SC_ALLOW_IF("ioctl", SC_ARG32(1, VIDIOC_STREAMON),
	    "start_streaming()"),
	SC_ALLOW_IF("ioctl", SC_ARG32(1, VIDIOC_STREAMOFF),
	    "v4l2_close()"),
};

/* source = http: capture/source_http.c and glibc's resolver */
static const struct fc_sc_rule http_rules[] = {
	SC_ALLOW_IF2("socket", SC_ARG32(0, AF_INET),
	    SC_ARGMASK(1, 0xf, SOCK_STREAM),
	    "connect_one(): the upstream over IPv4"),
	SC_ALLOW_IF2("socket", SC_ARG32(0, AF_INET6),
	    SC_ARGMASK(1, 0xf, SOCK_STREAM),
	    "connect_one(): the upstream over IPv6"),
	SC_ALLOW_IF2("socket", SC_ARG32(0, AF_INET),
	    SC_ARGMASK(1, 0xf, SOCK_DGRAM),
	    "glibc res_send.c: DNS queries; getaddrinfo() sorting several "
	    "addresses (RFC 3484) probes each with a UDP socket"),
	SC_ALLOW_IF2("socket", SC_ARG32(0, AF_INET6),
	    SC_ARGMASK(1, 0xf, SOCK_DGRAM),
	    "same, IPv6"),
	SC_ERRNO_IF("socket", EACCES, SC_ARG32(0, AF_NETLINK),
	    "glibc getaddrinfo() AI_ADDRCONFIG asks the kernel for the "
	    "interface addresses: refused, it then assumes IPv4 and IPv6"),
	SC_ALLOW("connect", "connect_one(): the upstream; glibc: the DNS "
	    "server, and the RFC 3484 probes"),
	SC_ALLOW_IF2("getsockopt", SC_ARG32(1, SOL_SOCKET),
	    SC_ARG32(2, SO_ERROR),
	    "connect_one(): the result of a non-blocking connect"),
	SC_ALLOW_IF2("setsockopt", SC_ARG32(1, IPPROTO_TCP),
	    SC_ARG32(2, TCP_NODELAY),
	    "http_open(): TCP_NODELAY for the request"),
	SC_ALLOW_IF2("setsockopt", SC_ARG32(1, SOL_IP), SC_ARG32(2, IP_RECVERR),
	    "glibc res_send.c send_dg(): ICMP errors on the DNS socket"),
	SC_ALLOW_IF2("setsockopt", SC_ARG32(1, SOL_IPV6),
	    SC_ARG32(2, IPV6_RECVERR),
	    "same, IPv6 name server"),
	SC_ALLOW("getsockname", "glibc getaddrinfo(): the source address of "
	    "each RFC 3484 probe"),
	SC_ALLOW("sendto", "send_all(): the request; glibc: a DNS query"),
	SC_ALLOW("sendmmsg", "glibc res_send.c: the A and AAAA queries "
	    "together"),
	SC_ALLOW("recvfrom", "http_open(), http_next(): the response; glibc: "
	    "DNS answers"),
	SC_ALLOW("writev", "glibc res_send.c send_vc(): a DNS query over TCP "
	    "after a truncated answer"),
	SC_ALLOW("poll", "connect_one(), send_all(), http_open(), "
	    "http_next(): deadlines; glibc: DNS answers"),
	SC_ALLOW_IF("ioctl", SC_ARG32(1, FIONREAD),
	    "glibc res_send.c send_dg(): size of a DNS answer"),
	SC_ALLOW("openat", "glibc: /etc/hosts, /etc/resolv.conf, "
	    "/etc/host.conf, /etc/gai.conf, /etc/nsswitch.conf (Landlock "
	    "admits those only)"),
	SC_ALLOW("read", "glibc: the same files; DNS over TCP"),
	SC_ALLOW("lseek", "glibc: rewinds /etc/hosts between lookups"),
	SC_ALLOW("newfstatat", "glibc: has resolv.conf or nsswitch.conf "
	    "changed"),
	SC_ALLOW("uname", "glibc res_init(): the host name, for the search "
	    "domain"),
};

/*
 * source = libcamera: a denylist (default allow, see the top).  These are
 * calls libcamera has no use for that a compromised capture would want.
 */
static const struct fc_sc_rule libcamera_rules[] = {
	SC_TTY_KILLS,
	SC_KILL("ptrace", "inspect or control another process"),
	SC_KILL("process_vm_readv", "read another process's memory"),
	SC_KILL("process_vm_writev", "write another process's memory"),
	SC_KILL("mount", "change the filesystem view"),
	SC_KILL("umount2", "same"),
	SC_KILL("pivot_root", "same"),
	SC_KILL("chroot", "same"),
	SC_KILL("unshare", "new namespaces"),
	SC_KILL("setns", "enter another namespace"),
	SC_KILL("bpf", "load kernel programs"),
	SC_KILL("perf_event_open", "kernel and hardware tracing"),
	SC_KILL("userfaultfd", "a classic kernel exploitation aid"),
	SC_KILL("keyctl", "kernel keyrings"),
	SC_KILL("add_key", "same"),
	SC_KILL("request_key", "same"),
	SC_KILL("init_module", "load kernel modules"),
	SC_KILL("finit_module", "same"),
	SC_KILL("delete_module", "unload kernel modules"),
	SC_KILL("kexec_load", "replace the kernel"),
	SC_KILL("kexec_file_load", "same"),
	SC_KILL("setuid", "change credentials (the drop is done before)"),
	SC_KILL("setgid", "same"),
	SC_KILL("setreuid", "same"),
	SC_KILL("setregid", "same"),
	SC_KILL("setresuid", "same"),
	SC_KILL("setresgid", "same"),
	SC_KILL("setgroups", "same"),
	SC_KILL("listen", "serve connections"),
	SC_KILL("accept4", "same"),
	SC_KILL("accept", "same"),
};

SC_TABLE(fc_policy_capture, "capture", FC_SC_DEFAULT_KILL, capture_rules);
SC_TABLE(fc_policy_capture_files, "capture: files", FC_SC_DEFAULT_KILL,
    files_rules);
SC_TABLE(fc_policy_capture_v4l2, "capture: v4l2", FC_SC_DEFAULT_KILL,
    v4l2_rules);
SC_TABLE(fc_policy_capture_http, "capture: http", FC_SC_DEFAULT_KILL,
    http_rules);
SC_TABLE(fc_policy_capture_libcamera, "capture: libcamera",
    FC_SC_DEFAULT_ALLOW, libcamera_rules);
