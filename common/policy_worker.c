/*
 * The worker's seccomp allowlist.  A worker parses untrusted input from the
 * network, so this is the list a reviewer should check line by line:
 * anything else kills the process (SCMP_ACT_KILL_PROCESS).
 *
 * The filter is loaded (server/supervisor.c worker_lockdown, through
 * fc_role_enter) once the worker holds everything it will use: the
 * listening sockets, the epoll instance, the eventfd and signalfd, the bus
 * (read-only) and control mappings, and its watcher thread.  So it opens
 * no file, creates no descriptor but the client sockets accept4() hands
 * it and its frames' sealed memory files, maps nothing executable, starts no thread or process, execs
 * nothing, signals no process and issues no ioctl (the TIOC* rows below
 * only name the worst of them).  The list was checked against strace of
 * workers under streaming load, every endpoint, reload and stop
 * (tests/integration/sandbox.sh runs that load against this table).
 */
#include <fcntl.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <errno.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <linux/tls.h>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

#include "policy.h"

static const struct fc_sc_rule worker_rules[] = {
	/* --- never --- */
	SC_TTY_KILLS,

	/* --- clients: server/worker.c, server/client.c, server/stream.c --- */
	SC_ALLOW("epoll_wait", "worker.c run(): the event loop"),
	SC_ALLOW_IF("epoll_ctl", SC_ARG32(1, EPOLL_CTL_ADD),
	    "worker.c ep_add(): accept_clients() adds each client, "
	    "set_listening() puts the listening sockets back"),
	SC_ALLOW_IF("epoll_ctl", SC_ARG32(1, EPOLL_CTL_DEL),
	    "worker.c set_listening(): the listening sockets out while this "
	    "worker is above the average load, out of descriptors or "
	    "retiring; listener_failed(): one in its error backoff; "
	    "start_retiring(): the supervisor's pipe out"),
	SC_ALLOW("accept4", "worker.c accept_clients(): new clients on the "
	    "inherited listening sockets"),
	SC_ALLOW("read", "client.c read_request(), drain_input(): requests; "
	    "worker.c refuse_connection(), refused_event(): what a refused "
	    "connection sends, dropped; watcher.c fc_watcher_ack(): the "
	    "eventfd; worker.c handle_signal(), handle_parent(): the signalfd "
	    "and the supervisor's pipe"),
	SC_ALLOW("writev", "stream.c fc_iovq_write(): every response head "
	    "and body"),
	SC_ALLOW("sendfile", "stream.c fc_iovq_write(): multipart parts and "
	    "snapshots, from a frame's sealed memory file (frame.h): the "
	    "kernel sends the file's pages by reference, no copy per client"),

	/* --- frames: one sealed memory file per frame (server/frame.c) --- */
	SC_ALLOW_IF("memfd_create", SC_ARG32(1, MFD_CLOEXEC | MFD_ALLOW_SEALING),
	    "frame.c frame_new(): the file a new bus frame is copied into; "
	    "only these flags"),
	SC_ALLOW("pwrite64", "frame.c put(): the frame's part head, JPEG and "
	    "tail into its new file, once, before it is sealed (on a socket "
	    "it fails with ESPIPE); RLIMIT_FSIZE bounds the file to one frame"),
	SC_ALLOW_IF2("fcntl", SC_ARG32(1, F_ADD_SEALS),
	    SC_ARG32(2, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
	    "frame.c frame_finish(): seals the written frame file so no one, "
	    "this worker included, can change it while sockets send from it; "
	    "no other fcntl (F_SETFL on the shared listening socket stays "
	    "refused)"),
	SC_ALLOW("write", "common/log.c vlog(): log lines into the supervisor's "
	    "pipe; watcher.c watch(): the eventfd; worker.c "
	    "refuse_connection(): the 503 to a connection over "
	    "max_connections; client.c probe(): one byte of a new or slow "
	    "reader's next part, whose ACK tells what it has read"),
	SC_ALLOW("close", "worker.c close_client(), client.c fc_client_free(): "
	    "finished clients; frame.c frame_free(): a frame's file once no "
	    "client sends from it; worker.c refuse_connection(), refused_close(): "
	    "refused connections; worker.c cleanup(), watcher.c "
	    "fc_watcher_stop() at exit"),
	SC_ALLOW_IF("shutdown", SC_ARG32(1, SHUT_WR),
	    "client.c start_lingering(), worker.c refuse_connection(): FIN "
	    "our side, then read what the client still sends.  Only SHUT_WR: "
	    "on the listening socket all workers share, SHUT_RD or SHUT_RDWR "
	    "would disconnect it for every worker for good; SHUT_WR does "
	    "nothing to a listening socket"),
	SC_ALLOW_IF2("getsockopt", SC_ARG32(1, IPPROTO_TCP),
	    SC_ARG32(2, TCP_INFO),
	    "client.c peer_backlogged(), peer_alive(): TCP_INFO, how much "
	    "the client has taken (freshness and send_timeout)"),
	SC_ALLOW_IF2("setsockopt", SC_ARG32(1, IPPROTO_TCP),
	    SC_ARG32(2, TCP_NODELAY),
	    "worker.c stream_socket_options(): TCP_NODELAY on streams"),
	SC_ALLOW_IF2("setsockopt", SC_ARG32(1, IPPROTO_TCP),
	    SC_ARG32(2, TCP_NOTSENT_LOWAT),
	    "worker.c stream_socket_options(): TCP_NOTSENT_LOWAT on streams, "
	    "so a slow client's next frame is chosen when it can take it"),
	SC_ALLOW_IF2("setsockopt", SC_ARG32(1, SOL_SOCKET),
	    SC_ARG32(2, SO_SNDBUF),
	    "worker.c stream_socket_options(): a small SO_SNDBUF on streams "
	    "over a unix: listen socket (no TCP_NOTSENT_LOWAT there), so a "
	    "slow reader's next frame is chosen when it can take it"),

	/* --- frames: the watcher thread and the bus futex --- */
	SC_ALLOW_IF("futex", SC_ARG32(1, FUTEX_WAIT),
	    "common/futex.c fc_futex_wait(): watcher.c watch() sleeps on the "
	    "bus word (shared memory, so no private flag)"),
	SC_ALLOW_IF("futex", SC_ARG32(1, FUTEX_WAKE),
	    "common/futex.c fc_futex_wake(): control.c fc_ctl_signal_demand() "
	    "wakes a capture paused for lack of viewers (worker.c "
	    "start_stream(), respond_snapshot()); watcher.c fc_watcher_stop() "
	    "wakes the watcher thread at exit"),
	SC_ALLOW_IF("futex", SC_ARG32(1, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME),
	    "glibc pthread_join() in watcher.c fc_watcher_stop(): waits for "
	    "the thread's tid word"),
	SC_ALLOW_IF("futex", SC_ARG32(1, FUTEX_WAIT_PRIVATE),
	    "glibc's internal locks (malloc arenas, the thread stack cache) "
	    "when the main thread and the watcher contend, and the sanitizer "
	    "runtime's mutexes in SAN=1 builds"),
	SC_ALLOW_IF("futex", SC_ARG32(1, FUTEX_WAKE_PRIVATE),
	    "the unlock side of the same locks"),

	/* --- time --- */
	SC_ALLOW("clock_gettime", "common/clock.h fc_now_*(), common/log.c: "
	    "answered by the vDSO; the system call is its fallback on clock "
	    "sources the vDSO cannot read"),
	SC_ALLOW("clock_nanosleep", "watcher.c watch(): usleep() after a "
	    "failed bus wait"),
	SC_ALLOW("restart_syscall", "the kernel resumes a futex wait or a "
	    "sleep interrupted by SIGSTOP/SIGCONT"),
	SC_ALLOW("sched_yield", "common/control.c admit_lock(): yields the "
	    "CPU while another worker holds the admission lock (at most "
	    "FC_CTL_ADMIT_WAIT_NS)"),

	/* --- memory: never executable --- */
	SC_ALLOW_IF("mmap", SC_ARGMASK(2, PROT_EXEC, 0),
	    "client.c rq_alloc(): a request's pages; malloc() of large "
	    "blocks.  Never PROT_EXEC"),
	SC_ALLOW("munmap", "client.c rq_free(); free() of large blocks"),
	SC_ALLOW("mremap", "realloc() of a large block (common/strbuf.c "
	    "reserve() growing a /status, /metrics or /events body)"),
	SC_ALLOW("madvise", "worker.c tick(): malloc_trim(); glibc returns "
	    "the watcher thread's stack when it exits"),
	SC_ALLOW("brk", "malloc()"),

	/* --- signals and process --- */
	SC_ALLOW("rt_sigprocmask", "glibc's thread exit: the watcher blocks "
	    "signals before it ends"),
	SC_ALLOW("rt_sigreturn", "return from a signal handler (the SIGSYS "
	    "handler of FC_SECCOMP_TRAP builds)"),
	SC_ALLOW("getpid", "worker.c fc_worker_main(): its pid into its "
	    "stats slot; common/log.c"),
	SC_ALLOW("exit", "the watcher thread ends (fc_watcher_stop)"),
#ifdef __SANITIZE_ADDRESS__
	SC_ALLOW("sigaltstack", "SAN=1 builds only: the sanitizer runtime "
	    "removes the watcher thread's alternate signal stack when it ends"),
#endif
	SC_ALLOW("exit_group", "the worker ends"),
};

SC_TABLE(fc_policy_worker, "worker", FC_SC_DEFAULT_KILL, worker_rules);

/*
 * Added to the worker's filter only when some listen address is marked
 * tls (common/role.c): what OpenSSL needs beyond the calls above, which
 * its reads and writes already use (read, write, mmap, futex).
 */
static const struct fc_sc_rule worker_tls_rules[] = {
	SC_ALLOW_IF("getrandom", SC_ARGMASK(2, GRND_RANDOM, 0),
	    "OpenSSL's random generator (common/tls.c, client.c): key "
	    "shares, nonces, reseeding after fork"),
	SC_ALLOW_IF2("setsockopt", SC_ARG32(1, IPPROTO_TCP),
	    SC_ARG32(2, TCP_ULP),
	    "kTLS (SSL_OP_ENABLE_KTLS): OpenSSL asks for the kernel's tls "
	    "layer after the handshake; without it (no tls module) the call "
	    "fails and OpenSSL writes the records itself"),
	SC_ALLOW_IF2("setsockopt", SC_ARG32(1, SOL_TLS), SC_ARG32(2, TLS_TX),
	    "kTLS: hands the sending keys to the kernel"),
	SC_ERRNO_IF2("setsockopt", EPERM, SC_ARG32(1, SOL_TLS),
	    SC_ARG32(2, TLS_RX),
	    "kTLS receive (OpenSSL tries it for TLS 1.2): refused, so OpenSSL "
	    "decrypts what clients send itself and recvmsg, which could take "
	    "descriptors from a unix: peer, stays forbidden"),
	SC_ALLOW("sendmsg", "kTLS: OpenSSL sends alerts and handshake "
	    "records with their record type as a control message"),
	SC_ALLOW("gettimeofday", "OpenSSL 3.2 and later read the time with "
	    "it (the vDSO answers on most clock sources)"),
};

SC_TABLE(fc_policy_worker_tls, "worker, TLS", FC_SC_DEFAULT_KILL,
    worker_tls_rules);
