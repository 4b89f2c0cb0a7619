/*
 * The escape suite: attacks on each role's real sandbox, from inside it.
 *
 * Every attempt runs in a forked child that is set up the way the
 * supervisor sets up that role (descriptors: the row's kept list, the
 * rest closed with fc_fds_close_except() of common/fds.c, the call the
 * supervisor's spawn path makes; stdio on /dev/null and a log pipe; a
 * worker's bus reopened read-only and the writable descriptor dropped, as
 * run_worker() in server/supervisor.c does), then
 * enters the sandbox with fc_role_enter() on a copy of the real row of
 * common/role.c and the real seccomp tables of common/policy_*.c, then
 * tries one way out.  A kill by SIGSYS, or the call failing, is "blocked";
 * where the parent can see the effect (a listener that stopped accepting,
 * bytes in a terminal, a signal received) it checks that too.
 *
 * Each attempt names the defences that stop it.  The suite runs it with
 * every defence in place (must be blocked), with each defence alone when
 * there are several (must be blocked: each layer holds by itself), and
 * with all of them removed from the copied row or table (must succeed: the
 * attempt is real and the defences are what stop it).  Nothing else is
 * changed in those runs.
 *
 * Run as root (the uid drop and the chroot only happen then).  Prints one
 * line per run and "N passed, N failed"; exits 1 on any failure.
 *
 *   escape [-v] [FILTER]     FILTER: only attempts whose name contains it
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../../common/bus.h"
#include "../../common/fds.h"
#include "../../common/log.h"
#include "../../common/policy.h"
#include "../../common/role.h"
#include "../../common/sandbox.h"
#include "../../server/frame.h"

#define SHADOW_FD	200	/* "inherited from the launching shell" */
#define MAX_RULES	200
#define MAX_TABLES	8

/* --- defences an attempt can name --- */
enum defence {
	D_CLOSE = 1 << 0,	/* spawn: every fd outside the kept list closed */
	D_STDIO = 1 << 1,	/* spawn: stdin /dev/null, stdout the log pipe */
	D_CHROOT = 1 << 2,	/* row layer */
	D_USER = 1 << 3,
	D_NODUMP = 1 << 4,
	D_LL_FS = 1 << 5,
	D_LL_NET = 1 << 6,
	D_LL_SCOPE = 1 << 7,
	D_LL_DOMAIN = 1 << 8,	/* any Landlock ruleset: ptrace stays inside */
	D_SECCOMP = 1 << 9,	/* the attempt's rule(s) in the seccomp table */
	D_RO_FD = 1 << 10,	/* the bus reopened read-only (fc_bus_attach) */
	D_MASK32 = 1 << 11,	/* SC_ARG32: the low 32 bits, as the kernel */
	D_RLIMITS = 1 << 12,	/* row layer: RLIMIT_FSIZE 0 and the rest */
};
static const char *const defence_names[] = {
	"fds closed", "stdio", "chroot", "uid drop", "not dumpable",
	"landlock fs", "landlock net", "landlock scope", "landlock domain",
	"seccomp rule", "read-only fd", "32-bit match", "rlimits",
};

/* --- what a child runs with --- */
struct env {
	enum fc_role_id role;
	enum fc_source_kind source;
	unsigned removed;		/* defences taken out for this run */
	/* copies of the row and its tables */
	struct fc_role row;
	struct fc_role_seccomp sc[MAX_TABLES];
	struct fc_sc_table tab[MAX_TABLES];
	struct fc_sc_rule rules[MAX_TABLES][MAX_RULES];
	/* descriptors the parent made for the child */
	int listen_fd;
	int bus_fd;			/* the supervisor's read-write memfd */
	int ctl_fd, conf_fd;
	int parent_rd, parent_wr;	/* the worker's supervisor pipe */
	int log_wr;			/* log pipe (stderr) */
	int res_wr;			/* result pipe: one line from the child */
	int pty_master, pty_slave;
	struct sockaddr_in addr;	/* listen_fd's address */
	pid_t sibling;			/* a sandboxed sibling, or 0 */
	pid_t parent;
};

struct attempt {
	const char *name;
	unsigned roles;			/* 1 << FC_ROLE_* */
	enum fc_source_kind source;	/* capture: the source it runs */
	unsigned defences;		/* what stops it */
	bool keep_tty;			/* the terminal stays on fds 0-1 */
	bool sibling;			/* start a sandboxed sibling first */
	void (*weaken)(struct env *);	/* the D_SECCOMP edit */
	void (*attack)(struct env *);	/* in the child, sandboxed */
	/* parent: did it get out?  (after the child ended) */
	bool (*effect)(struct env *, char *detail, size_t len);
};

static struct {
	bool verbose;
	char dir[64];			/* mkdtemp: chroot, config, exe */
	char empty[96];
	char conf[128];			/* a config file nobody may read */
	char pics[128];			/* the files source's folder, beside
					 * the config file */
	char exe[128];			/* a static ELF that exits 42 */
	struct fc_sandbox_user worker_user, capture_user;
	struct fc_bus *bus;
	/* The bus header as created: restored before each run (an attempt
	 * that writes to every descriptor writes into the bus when the role
	 * keeps it read-write, as capture does). */
	unsigned char bus_hdr0[sizeof(struct fc_bus_header)];
	int passed, failed;
	bool setup_error;		/* this run proves nothing */
	volatile sig_atomic_t usr1;
} G;

/* --- seccomp table edits --- */

static void
copy_row(struct env *e)
{
	const struct fc_role *real = &fc_roles[e->role];

	e->row = *real;
	for (size_t i = 0; i < real->nseccomp && i < MAX_TABLES; i++) {
		const struct fc_sc_table *t = real->seccomp[i].table;

		e->tab[i] = *t;
		memcpy(e->rules[i], t->rules, t->n * sizeof(t->rules[0]));
		e->tab[i].rules = e->rules[i];
		e->sc[i] = real->seccomp[i];
		e->sc[i].table = &e->tab[i];
	}
	e->row.seccomp = e->sc;
}

/* The tables of the copy that apply to this run's source. */
static bool
applies(const struct env *e, size_t i)
{
	return e->sc[i].sources & FC_SOURCE_BIT(e->source);
}

/* Removes every rule for name (any action) from the applicable tables. */
static void
sc_remove(struct env *e, const char *name)
{
	for (size_t i = 0; i < e->row.nseccomp; i++) {
		struct fc_sc_rule *r = e->rules[i];
		size_t n = 0;

		if (!applies(e, i))
			continue;
		for (size_t j = 0; j < e->tab[i].n; j++)
			if (strcmp(r[j].syscall, name) != 0)
				r[n++] = r[j];
		e->tab[i].n = n;
	}
}

/* Adds an unconditional ALLOW for name to the first applicable table. */
static void
sc_allow(struct env *e, const char *name)
{
	for (size_t i = 0; i < e->row.nseccomp; i++) {
		if (!applies(e, i))
			continue;
		if (e->tab[i].deflt == FC_SC_DEFAULT_KILL &&
		    e->tab[i].n < MAX_RULES) {
			e->rules[i][e->tab[i].n++] = (struct fc_sc_rule)
			    SC_ALLOW(name, "escape suite: defence removed");
		}
		return;
	}
}

/* Every rule for name allowed without its conditions. */
static void
sc_unconditional(struct env *e, const char *name)
{
	sc_remove(e, name);
	sc_allow(e, name);
}

static void w_ioctl(struct env *e) { sc_unconditional(e, "ioctl"); }
static void w_shutdown(struct env *e) { sc_unconditional(e, "shutdown"); }
static void w_setsockopt(struct env *e) { sc_unconditional(e, "setsockopt"); }
static void w_fcntl(struct env *e) { sc_unconditional(e, "fcntl"); }
static void w_mmap(struct env *e) { sc_unconditional(e, "mmap"); }
static void w_mprotect(struct env *e) { sc_unconditional(e, "mprotect"); }
static void w_prctl(struct env *e) { sc_unconditional(e, "prctl"); }
static void w_ptrace(struct env *e) { sc_unconditional(e, "ptrace"); }
static void w_kill(struct env *e) { sc_unconditional(e, "kill"); }
static void w_openat(struct env *e) { sc_unconditional(e, "openat"); }
static void w_execve(struct env *e) { sc_unconditional(e, "execve"); }
static void w_setuid(struct env *e) { sc_unconditional(e, "setuid"); }

static void
w_fork(struct env *e)
{
	sc_unconditional(e, "clone");
	sc_unconditional(e, "clone3");
}

static void
w_bind_listen(struct env *e)
{
	sc_unconditional(e, "bind");
	sc_unconditional(e, "listen");
}

static void w_listen(struct env *e) { sc_unconditional(e, "listen"); }

static void
w_socket(struct env *e)
{
	sc_unconditional(e, "socket");
	sc_unconditional(e, "connect");
}

static void
w_memfd_exec(struct env *e)
{
	sc_unconditional(e, "memfd_create");
	sc_unconditional(e, "write");
	sc_unconditional(e, "execveat");
}

/* The libcamera denylist's TIOCSTI kill compared on 64 bits: a request
 * with high bits set slips past it, and the kernel still reads TIOCSTI. */
static void
w_mask64(struct env *e)
{
	for (size_t i = 0; i < e->row.nseccomp; i++)
		for (size_t j = 0; applies(e, i) && j < e->tab[i].n; j++) {
			struct fc_sc_rule *r = &e->rules[i][j];

			if (strcmp(r->syscall, "ioctl") == 0 && r->nargs == 1 &&
			    r->args[0].b == TIOCSTI) {
				r->args[0].op = SCMP_CMP_EQ;
				r->args[0].a = TIOCSTI;
				r->args[0].b = 0;
			}
		}
}

/* --- the child --- */

static _Noreturn void
report(struct env *e, bool escaped, const char *fmt, ...)
{
	char line[200];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "%s ", escaped ? "E" : "B");
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	(void)!write(e->res_wr, line, (size_t)n);
	_exit(escaped ? 42 : 10);
}

/* A call's outcome: success escapes, failure reports the errno. */
static _Noreturn void
verdict(struct env *e, long r, const char *what)
{
	if (r < 0)
		report(e, false, "%s: %s", what, strerror(errno));
	report(e, true, "%s succeeded", what);
}

static void
add_kept(int *keep, size_t *n, int fd)
{
	if (fd >= 0)
		keep[(*n)++] = fd;
}

/* What the supervisor's spawn path does before the role runs. */
static void
spawn_setup(struct env *e, const struct attempt *a, bool ctty)
{
	int keep[16], devnull;
	size_t n = 0;

	/* The launching shell's terminal is the controlling terminal and
	 * on fds 0-1, its log on 2: what a child inherits before spawn
	 * cleans up.  (A sibling shares the terminal, not the session.) */
	if (ctty && (setsid() == -1 || ioctl(e->pty_slave, TIOCSCTTY, 0) == -1))
		_exit(90);
	if (dup2(e->pty_slave, 0) == -1 || dup2(e->pty_slave, 1) == -1 ||
	    dup2(e->log_wr, 2) == -1)
		_exit(90);
	if (!a->keep_tty && !(e->removed & D_STDIO)) {
		if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1 ||
		    dup2(devnull, 0) == -1 || dup2(e->log_wr, 1) == -1)
			_exit(90);
		close(devnull);
	}
	if (e->removed & D_CLOSE)
		return;
	/* The row's kept list, with this spawn's numbers, as the
	 * supervisor's kept_fds() builds it. */
	{
		struct fc_role_fdnums nums = {
			.bus = e->bus_fd, .ctl = e->ctl_fd, .conf = e->conf_fd,
			.listen = &e->listen_fd, .nlisten = 1,
			.parent = e->parent_rd,
		};

		n = (size_t)fc_role_kept_fds(&e->row, &nums, keep, 14);
	}
	/* The suite's own channel to this child, and the terminal for the
	 * attempts that keep it. */
	add_kept(keep, &n, e->res_wr);
	if (a->keep_tty)
		add_kept(keep, &n, e->pty_slave);
	if (fc_fds_close_except(keep, (int)n) == -1)
		_exit(91);
}

static void
weaken_row(struct env *e, const struct attempt *a)
{
	unsigned r = e->removed;

	if (r & D_CHROOT)
		e->row.layers &= ~FC_LAYER_CHROOT;
	if (r & D_USER)
		e->row.layers &= ~FC_LAYER_USER;
	if (r & D_NODUMP)
		e->row.layers &= ~FC_LAYER_NODUMP;
	if (r & D_RLIMITS)
		e->row.layers &= ~FC_LAYER_RLIMITS;
	if (r & D_LL_FS)
		e->row.layers &= ~FC_LAYER_LANDLOCK_FS;
	if (r & D_LL_NET)
		e->row.layers &= ~FC_LAYER_LANDLOCK_NET;
	if (r & D_LL_SCOPE)
		e->row.layers &= ~FC_LAYER_LANDLOCK_SCOPE;
	if (r & D_LL_DOMAIN)
		e->row.layers &= ~(FC_LAYER_LANDLOCK_FS | FC_LAYER_LANDLOCK_NET |
		    FC_LAYER_LANDLOCK_SCOPE);
	if ((r & D_SECCOMP) && a->weaken != NULL)
		a->weaken(e);
	if (r & D_MASK32)
		w_mask64(e);
}

static void
enter(struct env *e)
{
	struct fc_role_report rep;
	struct fc_role_ctx ctx;
	char err[256];

	memset(&ctx, 0, sizeof(ctx));
	ctx.source = e->source;
	if (e->role == FC_ROLE_WORKER) {
		ctx.user = &G.worker_user;
		ctx.empty_dir = G.empty;
		/* What the supervisor gives a worker (worker_lockdown()). */
		ctx.frame_file_max =
		    (rlim_t)FC_FRAME_FILE_MAX(fc_bus_capacity(G.bus));
		/* The widest worker filter: with the TLS table a server
		 * with a listen address marked tls adds (role.c). */
		ctx.tls = true;
	} else {
		ctx.user = &G.capture_user;
		ctx.device = "/dev/null";
		ctx.directory = G.pics;
	}
	if (fc_role_enter(&e->row, &ctx, &rep, err, sizeof(err)) == -1) {
		dprintf(2, "escape: fc_role_enter: %s\n", err);
		_exit(92);
	}
}

static _Noreturn void
run_child(struct env *e, const struct attempt *a)
{
	signal(SIGUSR1, SIG_DFL);
	/* A write past RLIMIT_FSIZE then fails with EFBIG instead of
	 * killing: the line says which write it was. */
	signal(SIGXFSZ, SIG_IGN);
	spawn_setup(e, a, true);
	enter(e);
	a->attack(e);
	_exit(93);	/* an attack always reports */
}

/* A sandboxed sibling that waits until it is killed. */
static pid_t
start_sibling(struct env *e, const struct attempt *a)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) == -1 || (pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		close(p[0]);
		e->res_wr = p[1];
		signal(SIGUSR1, SIG_DFL);
		spawn_setup(e, a, false);
		enter(e);
		(void)!write(p[1], "R", 1);
		for (;;) {	/* clock_nanosleep: in every role's table */
			struct timespec t = { 1, 0 };

			clock_nanosleep(CLOCK_MONOTONIC, 0, &t, NULL);
		}
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1) {
		close(p[0]);
		waitpid(pid, NULL, 0);
		return -1;
	}
	close(p[0]);
	return pid;
}

/* --- attacks (in the child, inside the sandbox) --- */

static void
a_inherited(struct env *e)
{
	char buf[64];
	ssize_t n = read(SHADOW_FD, buf, sizeof(buf));

	/* Never print what was read. */
	if (n > 0)
		report(e, true, "read %zd bytes of /etc/shadow from fd %d", n,
		    SHADOW_FD);
	verdict(e, -1, "read(fd 200)");
}

static void
a_write_tty(struct env *e)
{
	static const char mark[] = "ESCAPE-MARK\n";

	for (int fd = 0; fd < 64; fd++)
		if (fd != e->res_wr)
			(void)!write(fd, mark, sizeof(mark) - 1);
	report(e, false, "wrote to every descriptor 0-63");
}

static void
a_tiocsti(struct env *e)
{
	static const char cmd[] = "id\n";
	int hits = 0;

	for (int fd = 0; fd < 64; fd++)
		for (size_t i = 0; fd != e->res_wr && i < sizeof(cmd) - 1; i++)
			if (ioctl(fd, TIOCSTI, &cmd[i]) == 0)
				hits++;
	if (hits > 0)
		report(e, true, "%d bytes pushed into the terminal", hits);
	report(e, false, "no TIOCSTI got through (%s)", strerror(errno));
}

static void
a_tiocsti_high(struct env *e)
{
	int hits = 0;

	for (int fd = 0; fd < 64; fd++)
		if (fd != e->res_wr && syscall(SYS_ioctl, fd,
		    (1UL << 32) | TIOCSTI, "i") == 0)
			hits++;
	if (hits > 0)
		report(e, true, "TIOCSTI|1<<32 pushed %d bytes", hits);
	report(e, false, "no TIOCSTI|1<<32 got through (%s)", strerror(errno));
}

static void
a_open_shadow(struct env *e)
{
	verdict(e, openat(AT_FDCWD, "/etc/shadow", O_RDONLY), "open(/etc/shadow)");
}

static void
a_open_conf(struct env *e)
{
	verdict(e, openat(AT_FDCWD, G.conf, O_RDONLY), "open(config file)");
}

static void
a_execve(struct env *e)
{
	char *const argv[] = { G.exe, NULL }, *const envp[] = { NULL };

	execve(G.exe, argv, envp);
	verdict(e, -1, "execve");
}

static void
a_ptrace_sibling(struct env *e)
{
	verdict(e, ptrace(PTRACE_SEIZE, e->sibling, NULL, NULL),
	    "ptrace(SEIZE, sibling)");
}

static void
a_ptrace_parent(struct env *e)
{
	verdict(e, ptrace(PTRACE_SEIZE, e->parent, NULL, NULL),
	    "ptrace(SEIZE, parent)");
}

static void
a_kill_sibling(struct env *e)
{
	verdict(e, kill(e->sibling, SIGUSR1), "kill(sibling, SIGUSR1)");
}

static void
a_kill_parent(struct env *e)
{
	verdict(e, kill(e->parent, SIGUSR1), "kill(parent, SIGUSR1)");
}

static void
a_connect(struct env *e)
{
	int fd;

	/* The suite's listener: a port on this host. */
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		verdict(e, -1, "socket(AF_INET)");
	verdict(e, connect(fd, (struct sockaddr *)&e->addr, sizeof(e->addr)),
	    "connect(127.0.0.1)");
}

/* A server of its own: bound to a port of this host's choosing. */
static void
a_bind_listen(struct env *e)
{
	struct sockaddr_in a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		verdict(e, -1, "socket(AF_INET)");
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == -1)
		verdict(e, -1, "bind(127.0.0.1:0)");
	verdict(e, listen(fd, 1), "listen");
}

/* listen() on a socket never bound: the kernel picks a port itself
 * (autobind), with no bind() for Landlock to refuse. */
static void
a_listen_unbound(struct env *e)
{
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		verdict(e, -1, "socket(AF_INET)");
	verdict(e, listen(fd, 1), "listen(unbound socket)");
}

static void
a_fork(struct env *e)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	verdict(e, pid, "fork");
}

static void
a_shut_rd(struct env *e)
{
	verdict(e, shutdown(e->listen_fd, SHUT_RD), "shutdown(listen, SHUT_RD)");
}

static void
a_shut_rdwr(struct env *e)
{
	verdict(e, shutdown(e->listen_fd, SHUT_RDWR),
	    "shutdown(listen, SHUT_RDWR)");
}

static void
a_sockfilter(struct env *e)
{
	/* A classic BPF socket filter that drops every packet: on the
	 * listening socket, no SYN reaches any worker again. */
	struct sock_filter drop[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	struct sock_fprog prog = { 1, drop };

	verdict(e, setsockopt(e->listen_fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
	    sizeof(prog)), "setsockopt(listen, SO_ATTACH_FILTER)");
}

static void
a_setfl(struct env *e)
{
	verdict(e, fcntl(e->listen_fd, F_SETFL, 0), "fcntl(listen, F_SETFL, 0)");
}

/* Set up in the child before the sandbox (see prep_bus): the bus mapped
 * read-only, from a read-only descriptor unless D_RO_FD is removed. */
static volatile uint8_t *bus_map;
static size_t bus_len;

static void
a_mprotect_bus(struct env *e)
{
	if (mprotect((void *)(uintptr_t)bus_map, bus_len, PROT_READ | PROT_WRITE) == -1)
		verdict(e, -1, "mprotect(bus, PROT_WRITE)");
	bus_map[offsetof(struct fc_bus_header, reserved)] ^= 0x5a;
	report(e, true, "the bus was made writable and written");
}

static void
a_map_bus_rw(struct env *e)
{
	/* A second, writable mapping of the bus through any descriptor the
	 * worker holds (mmap without PROT_EXEC is allowed): the bus is the
	 * one whose header has the bus magic. */
	for (int fd = 0; fd < 64; fd++) {
		volatile struct fc_bus_header *h;
		void *p;

		if (fd == e->res_wr)
			continue;
		p = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd, 0);
		if (p == MAP_FAILED)
			continue;
		h = p;
		if (h->magic == FC_BUS_MAGIC) {
			h->reserved[0] ^= 0x5a;
			report(e, true, "fd %d mapped read-write and written", fd);
		}
		munmap(p, sizeof(*h));
	}
	report(e, false, "no descriptor maps the bus read-write");
}

static void
a_mmap_exec(struct env *e)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	verdict(e, p == MAP_FAILED ? -1 : 0, "mmap(PROT_EXEC)");
}

static void
a_setuid(struct env *e)
{
	/* Success means uid 0: setuid(0) only succeeds for root. */
	verdict(e, setuid(0), "setuid(0)");
}

static void
a_dumpable(struct env *e)
{
	verdict(e, prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "prctl(PR_SET_DUMPABLE, 1)");
}

/* A static x86_64 ELF of 132 bytes: exit_group(42). */
static const unsigned char exit42[] = {
	0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	2, 0, 0x3e, 0, 1, 0, 0, 0, 0x78, 0, 0x40, 0, 0, 0, 0, 0,
	0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0x40, 0, 0x38, 0, 1, 0, 0, 0, 0, 0, 0, 0,
	1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0,
	0x84, 0, 0, 0, 0, 0, 0, 0, 0x84, 0, 0, 0, 0, 0, 0, 0,
	0, 0x10, 0, 0, 0, 0, 0, 0,
	0xbf, 42, 0, 0, 0, 0xb8, 0xe7, 0, 0, 0, 0x0f, 0x05,
};

static void
a_memfd_exec(struct env *e)
{
	char *const argv[] = { "x", NULL }, *const envp[] = { NULL };
	int fd = (int)syscall(SYS_memfd_create, "x", 0);

	if (fd == -1)
		verdict(e, -1, "memfd_create");
	if (write(fd, exit42, sizeof(exit42)) != (ssize_t)sizeof(exit42))
		verdict(e, -1, "write(memfd)");
	syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
	verdict(e, -1, "execveat(memfd)");
}

/* A worker may write a frame file (memfd_create with its flags, pwrite,
 * RLIMIT_FSIZE): one byte past the largest frame file is refused. */
static void
a_big_file(struct env *e)
{
	rlim_t max = (rlim_t)FC_FRAME_FILE_MAX(fc_bus_capacity(G.bus));
	int fd = memfd_create("x", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd == -1)
		verdict(e, -1, "memfd_create");
	if (pwrite(fd, "x", 1, (off_t)max - 1) != 1)
		verdict(e, -1, "pwrite up to the frame file bound");
	verdict(e, pwrite(fd, "x", 1, (off_t)max) == 1 ? 0 : -1,
	    "pwrite one byte past it");
}

/* --- effects the parent checks --- */

static bool
listener_alive(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	struct pollfd p;
	int c, err = 0, acc;
	bool ok = false;

	if (getsockname(fd, (struct sockaddr *)&a, &len) == -1)
		return false;
	if ((c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		return false;
	if (connect(c, (struct sockaddr *)&a, sizeof(a)) == -1 &&
	    errno != EINPROGRESS)
		goto done;
	p.fd = c;
	p.events = POLLOUT;
	len = sizeof(err);
	if (poll(&p, 1, 500) != 1 ||
	    getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0)
		goto done;
	/* ... and the listener hands it out. */
	p.fd = fd;
	p.events = POLLIN;
	if (poll(&p, 1, 500) == 1 &&
	    (acc = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		close(acc);
		ok = true;
	}
done:
	close(c);
	return ok;
}

static bool
e_listener(struct env *e, char *d, size_t len)
{
	if (listener_alive(e->listen_fd))
		return false;
	snprintf(d, len, "the listening socket accepts no more connections");
	return true;
}

static bool
e_nonblock(struct env *e, char *d, size_t len)
{
	int fl = fcntl(e->listen_fd, F_GETFL);

	if (fl != -1 && (fl & O_NONBLOCK))
		return false;
	snprintf(d, len, "O_NONBLOCK cleared on the shared listener");
	return true;
}

/* What reached the terminal: output (master side) or pushed input
 * (slave side). */
static bool
e_tty_output(struct env *e, char *d, size_t len)
{
	char buf[256];
	ssize_t n;

	n = read(e->pty_master, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	if (strstr(buf, "ESCAPE-MARK") == NULL)
		return false;
	snprintf(d, len, "the mark reached the terminal");
	return true;
}

static bool
e_tty_input(struct env *e, char *d, size_t len)
{
	char buf[256];
	ssize_t n;

	n = read(e->pty_slave, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	snprintf(d, len, "%zd bytes arrived in the terminal's input", n);
	return true;
}

static bool
e_sibling_signalled(struct env *e, char *d, size_t len)
{
	int st;

	if (waitpid(e->sibling, &st, WNOHANG) == e->sibling) {
		e->sibling = 0;
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1) {
			snprintf(d, len, "the sibling died of SIGUSR1");
			return true;
		}
		G.setup_error = true;	/* it died of something else */
	}
	return false;
}

static bool
e_parent_signalled(struct env *e, char *d, size_t len)
{
	(void)e;
	if (G.usr1 == 0)
		return false;
	snprintf(d, len, "the parent received SIGUSR1");
	return true;
}

static bool
e_bus_written(struct env *e, char *d, size_t len)
{
	volatile uint8_t *r = (volatile uint8_t *)G.bus->hdr +
	    offsetof(struct fc_bus_header, reserved);

	(void)e;
	if (*r == 0)
		return false;
	*r = 0;
	snprintf(d, len, "the frame bus was written");
	return true;
}

/* --- the attempts --- */

#define W (1u << FC_ROLE_WORKER)
#define C (1u << FC_ROLE_CAPTURE)

static const struct attempt attempts[] = {
	{ "read an fd inherited from the shell (/etc/shadow on fd 200)",
	    W | C, FC_SOURCE_HTTP, D_CLOSE, false, false, NULL,
	    a_inherited, NULL },
	{ "write to the launching terminal on fds 0-63",
	    W | C, FC_SOURCE_TESTPATTERN, D_STDIO, false, false, NULL,
	    a_write_tty, e_tty_output },
	{ "TIOCSTI on fds 0-63 (terminal kept as ctty on 0-1)",
	    W, FC_SOURCE_TESTPATTERN, D_SECCOMP, true, false, w_ioctl,
	    a_tiocsti, e_tty_input },
	{ "TIOCSTI on fds 0-63, v4l2 source (VIDIOC_* allowed)",
	    C, FC_SOURCE_V4L2, D_SECCOMP, true, false, w_ioctl,
	    a_tiocsti, e_tty_input },
	{ "TIOCSTI on fds 0-63, http source (FIONREAD allowed)",
	    C, FC_SOURCE_HTTP, D_SECCOMP, true, false, w_ioctl,
	    a_tiocsti, e_tty_input },
	{ "TIOCSTI on fds 0-63, libcamera source (denylist)",
	    C, FC_SOURCE_LIBCAMERA, D_SECCOMP, true, false, w_ioctl,
	    a_tiocsti, e_tty_input },
	{ "TIOCSTI|1<<32 past a deny rule, libcamera source",
	    C, FC_SOURCE_LIBCAMERA, D_MASK32, true, false, NULL,
	    a_tiocsti_high, e_tty_input },
	{ "open /etc/shadow",
	    W, FC_SOURCE_TESTPATTERN,
	    D_SECCOMP | D_CHROOT | D_LL_FS | D_USER, false, false, w_openat,
	    a_open_shadow, NULL },
	{ "open /etc/shadow",
	    C, FC_SOURCE_TESTPATTERN, D_SECCOMP | D_LL_FS | D_USER, false,
	    false, w_openat, a_open_shadow, NULL },
	{ "open /etc/shadow, files source (openat allowed)",
	    C, FC_SOURCE_FILES, D_LL_FS | D_USER, false, false, NULL,
	    a_open_shadow, NULL },
	{ "open /etc/shadow, v4l2 source (openat allowed)",
	    C, FC_SOURCE_V4L2, D_LL_FS | D_USER, false, false, NULL,
	    a_open_shadow, NULL },
	{ "open /etc/shadow, http source (openat allowed)",
	    C, FC_SOURCE_HTTP, D_LL_FS | D_USER, false, false, NULL,
	    a_open_shadow, NULL },
	{ "open a config file",
	    W, FC_SOURCE_TESTPATTERN, D_SECCOMP | D_CHROOT | D_LL_FS, false,
	    false, w_openat, a_open_conf, NULL },
	{ "open a config file, http source (openat allowed)",
	    C, FC_SOURCE_HTTP, D_LL_FS, false, false, NULL, a_open_conf, NULL },
	{ "open a config file, v4l2 source (openat allowed)",
	    C, FC_SOURCE_V4L2, D_LL_FS, false, false, NULL, a_open_conf, NULL },
	{ "open a file beside the picture folder, files source",
	    C, FC_SOURCE_FILES, D_LL_FS, false, false, NULL, a_open_conf, NULL },
	{ "execve a program",
	    W, FC_SOURCE_TESTPATTERN, D_SECCOMP | D_CHROOT | D_LL_FS, false,
	    false, w_execve, a_execve, NULL },
	{ "execve a program",
	    C, FC_SOURCE_TESTPATTERN, D_SECCOMP | D_LL_FS, false, false,
	    w_execve, a_execve, NULL },
	/* The sibling runs as the same user: what stops the uid drop's
	 * attacker is that the kernel makes a process whose uid changed
	 * non-dumpable.  The "not dumpable" layer does the same when there
	 * is no drop (test_worker_sandbox.c, run as another user than root,
	 * checks that /proc/PID is still root's). */
	{ "ptrace a sibling",
	    W | C, FC_SOURCE_TESTPATTERN, D_SECCOMP | D_USER | D_LL_DOMAIN,
	    false, true, w_ptrace, a_ptrace_sibling, NULL },
	{ "ptrace the parent",
	    W | C, FC_SOURCE_TESTPATTERN, D_SECCOMP | D_USER | D_LL_DOMAIN,
	    false, false, w_ptrace, a_ptrace_parent, NULL },
	{ "kill a sibling",
	    W | C, FC_SOURCE_TESTPATTERN, D_SECCOMP | D_LL_SCOPE, false, true,
	    w_kill, a_kill_sibling, e_sibling_signalled },
	{ "kill the parent",
	    W | C, FC_SOURCE_TESTPATTERN, D_SECCOMP | D_USER | D_LL_SCOPE,
	    false, false, w_kill, a_kill_parent, e_parent_signalled },
	{ "socket + connect",
	    W | C, FC_SOURCE_TESTPATTERN, D_SECCOMP | D_LL_NET, false, false,
	    w_socket, a_connect, NULL },
	{ "bind + listen, http source (socket allowed)",
	    C, FC_SOURCE_HTTP, D_SECCOMP | D_LL_NET, false, false,
	    w_bind_listen, a_bind_listen, NULL },
	{ "listen unbound (the kernel picks a port), http source",
	    C, FC_SOURCE_HTTP, D_SECCOMP, false, false, w_listen,
	    a_listen_unbound, NULL },
	{ "fork",
	    W | C, FC_SOURCE_TESTPATTERN, D_SECCOMP | D_RLIMITS, false, false,
	    w_fork, a_fork, NULL },
	{ "shutdown(listen, SHUT_RD)",
	    W, FC_SOURCE_TESTPATTERN, D_SECCOMP, false, false, w_shutdown,
	    a_shut_rd, e_listener },
	{ "shutdown(listen, SHUT_RDWR)",
	    W, FC_SOURCE_TESTPATTERN, D_SECCOMP, false, false, w_shutdown,
	    a_shut_rdwr, e_listener },
	{ "setsockopt(listen, SO_ATTACH_FILTER drop-all)",
	    W, FC_SOURCE_TESTPATTERN, D_SECCOMP | D_USER, false, false, w_setsockopt,
	    a_sockfilter, e_listener },
	{ "fcntl(listen, F_SETFL) clearing O_NONBLOCK",
	    W, FC_SOURCE_TESTPATTERN, D_SECCOMP, false, false, w_fcntl,
	    a_setfl, e_nonblock },
	{ "mprotect the read-only bus mapping writable",
	    W, FC_SOURCE_TESTPATTERN, D_SECCOMP | D_RO_FD, false, false,
	    w_mprotect, a_mprotect_bus, e_bus_written },
	{ "map the bus read-write through any descriptor",
	    W, FC_SOURCE_TESTPATTERN, D_RO_FD, false, false, NULL,
	    a_map_bus_rw, e_bus_written },
	{ "mmap(PROT_EXEC)",
	    W | C, FC_SOURCE_TESTPATTERN, D_SECCOMP, false, false, w_mmap,
	    a_mmap_exec, NULL },
	{ "setuid(0)",
	    W | C, FC_SOURCE_TESTPATTERN, D_SECCOMP | D_USER, false, false,
	    w_setuid, a_setuid, NULL },
	{ "prctl(PR_SET_DUMPABLE, 1)",
	    W | C, FC_SOURCE_TESTPATTERN, D_SECCOMP, false, false, w_prctl,
	    a_dumpable, NULL },
	/* A worker writes its frames into memory files (server/frame.c), so
	 * its RLIMIT_FSIZE is one frame file, not 0: for it only seccomp
	 * (memfd_create with the worker's own flags only, no execveat) is
	 * in the way. */
	{ "memfd_create + execveat",
	    C, FC_SOURCE_TESTPATTERN, D_SECCOMP | D_RLIMITS, false, false,
	    w_memfd_exec, a_memfd_exec, NULL },
	{ "memfd_create + execveat",
	    W, FC_SOURCE_TESTPATTERN, D_SECCOMP, false, false,
	    w_memfd_exec, a_memfd_exec, NULL },
	{ "a file larger than one frame file",
	    W, FC_SOURCE_TESTPATTERN, D_RLIMITS, false, false,
	    NULL, a_big_file, NULL },
};

/* --- the parent --- */

static void
on_usr1(int sig)
{
	(void)sig;
	G.usr1++;
}

static int
listener(void)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    listen(fd, 16) == -1)
		return -1;
	return fd;
}

static void
drain(int fd)
{
	char buf[512];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void
defence_list(unsigned d, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < sizeof(defence_names) / sizeof(defence_names[0]);
	    i++)
		if (d & (1u << i))
			off += (size_t)snprintf(buf + off, off < len ? len - off : 0,
			    "%s%s", off ? " + " : "", defence_names[i]);
}

/* One run: returns true when the attempt got out. */
static bool
run_one(const struct attempt *a, enum fc_role_id role, unsigned removed,
    char *how, size_t howlen)
{
	struct env *e;
	struct termios tio;
	char res[200] = "", detail[160] = "";
	int res_p[2], log_p[2], par_p[2], st = 0;
	bool escaped = false;
	pid_t pid;
	ssize_t n;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		exit(2);
	e->role = role;
	e->source = role == FC_ROLE_CAPTURE ? a->source : FC_SOURCE_TESTPATTERN;
	e->removed = removed;
	e->parent = getpid();
	copy_row(e);
	weaken_row(e, a);
	G.usr1 = 0;
	G.setup_error = false;
	memcpy((void *)G.bus->hdr, G.bus_hdr0, sizeof(G.bus_hdr0));
	if (pipe2(res_p, O_CLOEXEC) == -1 || pipe2(log_p, O_CLOEXEC | O_NONBLOCK) == -1 ||
	    pipe2(par_p, O_CLOEXEC) == -1 ||
	    openpty(&e->pty_master, &e->pty_slave, NULL, NULL, NULL) == -1 ||
	    (e->listen_fd = listener()) == -1) {
		perror("escape: setup");
		exit(2);
	}
	cfmakeraw(&tio);
	tcsetattr(e->pty_slave, TCSANOW, &tio);
	fcntl(e->pty_master, F_SETFL, O_NONBLOCK);
	fcntl(e->pty_slave, F_SETFL, O_NONBLOCK);
	e->res_wr = res_p[1];
	e->log_wr = log_p[1];
	e->parent_rd = par_p[0];
	e->parent_wr = par_p[1];
	e->bus_fd = G.bus->fd;
	e->ctl_fd = e->conf_fd = -1;
	{
		socklen_t alen = sizeof(e->addr);

		getsockname(e->listen_fd, (struct sockaddr *)&e->addr, &alen);
	}
	if (a->sibling && (e->sibling = start_sibling(e, a)) <= 0) {
		fprintf(stderr, "escape: sibling did not start\n");
		exit(2);
	}
	if ((pid = fork()) == -1)
		exit(2);
	if (pid == 0) {
		close(res_p[0]);
		if (role == FC_ROLE_WORKER) {
			/* What run_worker() does before the worker runs: the
			 * bus reopened read-only (fc_bus_attach) and the
			 * supervisor's read-write descriptor closed (here: not
			 * in the kept list, so spawn_setup closes it).  With
			 * the defence removed, the read-write descriptor stays
			 * and is mapped read-only. */
			struct fc_bus *ro = NULL;

			if (!(removed & D_RO_FD)) {
				if ((ro = fc_bus_attach(G.bus->fd, false)) == NULL)
					_exit(94);
				e->bus_fd = ro->fd;
				bus_map = (volatile uint8_t *)ro->hdr;
				bus_len = ro->map_size;
			} else {
				bus_len = G.bus->map_size;
				bus_map = mmap(NULL, bus_len, PROT_READ, MAP_SHARED,
				    G.bus->fd, 0);
			}
		}
		run_child(e, a);
	}
	close(res_p[1]);
	waitpid(pid, &st, 0);
	n = read(res_p[0], res, sizeof(res) - 1);
	res[n > 0 ? n : 0] = '\0';
	close(res_p[0]);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS) {
		snprintf(how, howlen, "blocked (SIGSYS)");
	} else if (WIFEXITED(st) && WEXITSTATUS(st) == 42 && res[0] == '\0') {
		/* an exec'd program ran: exit_group(42) */
		escaped = true;
		snprintf(how, howlen, "ESCAPED (the new program ran: exit 42)");
	} else if (res[0] == 'E') {
		escaped = true;
		snprintf(how, howlen, "ESCAPED (%s)", res + 2);
	} else if (res[0] == 'B') {
		snprintf(how, howlen, "blocked (%s)", res + 2);
	} else if (WIFSIGNALED(st)) {
		snprintf(how, howlen, "blocked (killed by signal %d%s)",
		    WTERMSIG(st), WTERMSIG(st) == SIGXFSZ ? ", SIGXFSZ" : "");
	} else {
		/* The child ended before trying (a setup step failed): this
		 * run proves nothing, so it cannot pass. */
		G.setup_error = true;
		snprintf(how, howlen, "SETUP: no result (status 0x%x)",
		    (unsigned)st);
	}
	if (a->effect != NULL && a->effect(e, detail, sizeof(detail))) {
		if (!escaped)
			snprintf(how, howlen, "ESCAPED (%s)", detail);
		escaped = true;
	}
	if (e->sibling > 0 && waitpid(e->sibling, &st, WNOHANG) != 0) {
		G.setup_error = true;
		snprintf(how, howlen, "SETUP: the sibling died before the end "
		    "(status 0x%x)", (unsigned)st);
		e->sibling = 0;
	}
	if (e->sibling > 0) {
		kill(e->sibling, SIGKILL);
		waitpid(e->sibling, NULL, 0);
	}
	if (G.verbose)
		drain(log_p[0]);
	close(log_p[0]);
	close(log_p[1]);
	close(par_p[0]);
	close(par_p[1]);
	close(e->pty_master);
	close(e->pty_slave);
	close(e->listen_fd);
	free(e);
	return escaped;
}

static void
line(const char *role, const struct attempt *a, const char *variant,
    bool expect_escape, bool escaped, const char *how)
{
	bool ok = escaped == expect_escape && !G.setup_error;

	printf("%-4s %-7s %-55.55s %-36s %s\n", ok ? "ok" : "FAIL", role, a->name,
	    variant, how);
	fflush(stdout);
	if (ok)
		G.passed++;
	else
		G.failed++;
}

static void
run_attempt(const struct attempt *a, enum fc_role_id role)
{
	char how[512], variant[256], names[160];
	unsigned d = a->defences, n = 0;
	const char *rname = fc_roles[role].name;

	if (a->attack == a_memfd_exec || a->attack == a_execve) {
#ifndef __x86_64__
		printf("skip %-7s %s: the test program is x86_64 only\n", rname,
		    a->name);
		return;
#endif
	}
	for (unsigned i = 0; i < 32; i++)
		if (d & (1u << i))
			n++;
	defence_list(d, names, sizeof(names));
	/* Every defence in place. */
	snprintf(variant, sizeof(variant), "[%s]", names);
	line(rname, a, variant, false, run_one(a, role, 0, how, sizeof(how)), how);
	/* Each alone, when there are several. */
	for (unsigned i = 0; n > 1 && i < 32; i++) {
		if (!(d & (1u << i)))
			continue;
		defence_list(1u << i, names, sizeof(names));
		snprintf(variant, sizeof(variant), "[only %s]", names);
		line(rname, a, variant, false,
		    run_one(a, role, d & ~(1u << i), how, sizeof(how)), how);
	}
	/* None. */
	defence_list(d, names, sizeof(names));
	snprintf(variant, sizeof(variant), "[without %s]", names);
	line(rname, a, variant, true, run_one(a, role, d, how, sizeof(how)), how);
}

static int
setup(void)
{
	struct sigaction sa;
	char err[256];
	int fd;

	snprintf(G.dir, sizeof(G.dir), "/tmp/fc-escape.XXXXXX");
	if (mkdtemp(G.dir) == NULL || chmod(G.dir, 0755) == -1)
		return -1;
	snprintf(G.empty, sizeof(G.empty), "%s/empty", G.dir);
	if (fc_sandbox_prepare_empty_dir(G.empty, err, sizeof(err)) == -1) {
		fprintf(stderr, "escape: %s\n", err);
		return -1;
	}
	/* A config file the unprivileged user could read: only the jail
	 * keeps it out of reach. */
	snprintf(G.conf, sizeof(G.conf), "%s/forkcast.conf", G.dir);
	if ((fd = open(G.conf, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1 ||
	    write(fd, "[server]\nauth = viewer:secret\n", 30) != 30)
		return -1;
	close(fd);
	snprintf(G.pics, sizeof(G.pics), "%s/pictures", G.dir);
	if (mkdir(G.pics, 0755) == -1)
		return -1;
	snprintf(G.exe, sizeof(G.exe), "%s/exit42", G.dir);
	if ((fd = open(G.exe, O_WRONLY | O_CREAT | O_TRUNC, 0755)) == -1 ||
	    write(fd, exit42, sizeof(exit42)) != (ssize_t)sizeof(exit42))
		return -1;
	close(fd);
	if (fc_sandbox_resolve_user("nobody", NULL, &G.worker_user, err,
	    sizeof(err)) == -1 ||
	    fc_sandbox_resolve_user("nobody", fc_roles[FC_ROLE_CAPTURE].groups[0],
	    &G.capture_user, err, sizeof(err)) == -1) {
		fprintf(stderr, "escape: %s\n", err);
		return -1;
	}
	if ((G.bus = fc_bus_create(3, 64 * 1024)) == NULL)
		return -1;
	memcpy(G.bus_hdr0, (const void *)G.bus->hdr, sizeof(G.bus_hdr0));
	/* The shell that starts forkcast may leak a descriptor. */
	if ((fd = open("/etc/shadow", O_RDONLY)) == -1 ||
	    dup2(fd, SHADOW_FD) == -1)
		return -1;
	close(fd);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static void
teardown(void)
{
	unlink(G.conf);
	unlink(G.exe);
	rmdir(G.empty);
	rmdir(G.pics);
	rmdir(G.dir);
	fc_bus_close(G.bus);
}

int
main(int argc, char **argv)
{
	const char *filter = NULL;
	int opt;

	while ((opt = getopt(argc, argv, "v")) != -1) {
		if (opt == 'v')
			G.verbose = true;
		else
			return 2;
	}
	if (optind < argc)
		filter = argv[optind];
	if (geteuid() != 0) {
		fprintf(stderr, "escape: run as root (the uid drop and the chroot "
		    "only happen then)\n");
		return 77;
	}
	fc_log_init("escape", FC_LOG_WARN);
	if (setup() == -1) {
		perror("escape: setup");
		teardown();
		return 2;
	}
	printf("Landlock ABI %d\n", fc_landlock_abi());
	for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
		const struct attempt *a = &attempts[i];

		if (filter != NULL && strstr(a->name, filter) == NULL)
			continue;
		if (a->roles & W)
			run_attempt(a, FC_ROLE_WORKER);
		if (a->roles & C)
			run_attempt(a, FC_ROLE_CAPTURE);
	}
	teardown();
	printf("%d passed, %d failed\n", G.passed, G.failed);
	return G.failed == 0 ? 0 : 1;
}
