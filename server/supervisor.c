/*
 * The supervisor; see supervisor.h.
 *
 * The role table (common/role.c) declares every process: user, filesystem,
 * rlimits, seccomp tables and the descriptors each child keeps; one spawn
 * path does the common steps.  A child slot table records pid, start time,
 * respawn backoff and whether the slot is still wanted.  Signals only
 * reach the supervisor through a signalfd read by the single main loop, so
 * no handler ever runs code.
 *
 * The configuration the children see is the struct the supervisor
 * validated, published in the configuration region (common/confreg.h):
 * children never read the file, so a file edited between a reload and a
 * capture restart can never put an unvalidated configuration into a child.
 * A reload publishes the next generation there; running workers and
 * capture apply it within a tick and report it in the control region, and
 * the supervisor logs "generation N in force" only once every serving
 * worker and capture run N (a child that does not report it within
 * RELOAD_ACK_MS is replaced).
 *
 * Under systemd (Type=notify, conf/systemd/forkcast.service.in) it tells
 * the service manager through sd_notify when it is ready, reloading,
 * reloaded and stopping (notify_progress), and adopts the listening
 * sockets of socket activation (fc_listen_adopt) instead of binding them.
 */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "../common/bus.h"
#include "../common/clock.h"
#include "../common/config.h"
#include "../common/confreg.h"
#include "../common/control.h"
#include "../common/fds.h"
#include "../common/log.h"
#include "../common/paths.h"
#include "../common/role.h"
#include "../common/sandbox.h"
#include "frame.h"
#include "listen.h"
#include "report.h"
#include "worker.h"

#define MS (INT64_C(1000000))
#define BACKOFF_MIN_MS 250	/* first delay after a quick death */
#define BACKOFF_MAX_MS 10000
#define STABLE_MS 5000		/* a child that lived this long died "once" */
/* Running children must report a new generation within this long. */
#define RELOAD_ACK_MS 1000

/* The pid file, held open and locked for the supervisor's whole life: the
 * lock, not the pid in it, says that a supervisor runs. */
struct pid_lock {
	int fd;				/* -1: none held */
	dev_t dev;			/* the file locked, so that only it is */
	ino_t ino;			/* ever unlinked */
	char path[FC_CONFIG_PATH_MAX];
};

struct child {
	enum fc_role_id role;		/* FC_ROLE_CAPTURE or FC_ROLE_WORKER */
	unsigned index;		/* worker slot in the control region */
	pid_t pid;		/* 0 when not running */
	bool wanted;		/* respawn when it exits */
	bool held;		/* exited with FC_EXIT_CONFIG: not started
				 * again until a reload is accepted */
	uint32_t generation;	/* config generation it was started with */
	int stop_fd;		/* worker: write end of its stop pipe, -1 none */
	int64_t started_ns;	/* CLOCK_MONOTONIC */
	int64_t respawn_at_ns;	/* earliest next start */
	int64_t kill_at_ns;	/* retiring: SIGKILL after this, 0 = none */
	unsigned quick_deaths;	/* consecutive deaths before STABLE_MS */
	pid_t refused_pid;	/* its signal was refused (logged once) */
};

/* Most descriptors a child keeps (see kept_fds): stdin, stdout, stderr,
 * the shared regions, the listening sockets and a parent pipe. */
#define KEPT_MAX (3 + 4 + FC_CONFIG_MAX_LISTEN + 1)

struct supervisor {
	char path[FC_CONFIG_PATH_MAX];	/* the configuration file */
	struct fc_config cfg;		/* the running configuration */
	struct fc_confreg *conf;	/* ... as published to the children */
	uint32_t generation;		/* its generation */
	/* TLS region (common/confreg.h fc_tlsreg_*): the certificate and
	 * key last read, for workers; NULL until an address is marked tls. */
	struct fc_confreg *tls;
	uint32_t tls_generation;
	int64_t ack_deadline_ns;	/* reload: children report it by then,
					 * 0 = every running child did */
	char capture_exe[PATH_MAX];	/* forkcast-capture (common/paths.h) */
	struct fc_bus *bus;
	struct fc_ctl *ctl;
	int listen_fds[FC_CONFIG_MAX_LISTEN];
	int nlisten;
	int sfd;			/* signalfd */
	int log_rd, log_wr;		/* children's stderr pipe, see relay_logs */
	struct child capture;
	struct child workers[FC_CTL_MAX_WORKERS];
	struct fc_sandbox_user worker_user;	/* resolved before any fork */
	bool have_empty_dir;			/* FC_SANDBOX_EMPTY_DIR usable */
	bool stopping;
	bool ready;			/* READY=1 sent (see notify_progress) */
	int64_t status_at_ns;		/* next STATUS= check */
	char status[160];		/* last STATUS= sent */
	int exit_status;		/* of fc_supervisor_run once stopped */
	int64_t stop_deadline_ns;
	struct pid_lock pid;
};

static struct supervisor S;

static int prepare_sandbox(const struct fc_config *cfg);
static int take_pid_file(const char *path, struct pid_lock *pl);
static void release_pid_file(struct pid_lock *pl);
static void begin_stop(void);

/*
 * Loads and validates the configuration: the one path start, reload and
 * `forkcast -n` (fc_config_load) share.  On success fills *cfg and
 * returns 0; otherwise logs every problem, one line each, and returns -1.
 */
static int
load_config(const char *path, struct fc_config *cfg)
{
	char *errs = NULL;
	size_t errlen = 0;
	FILE *ef;
	int n;

	if ((ef = open_memstream(&errs, &errlen)) == NULL) {
		log_warn("open_memstream");
		return -1;
	}
	n = fc_config_load(cfg, path, ef);
	fclose(ef);
	if (n != 0)
		for (char *line = strtok(errs, "\n"); line; line = strtok(NULL, "\n"))
			log_errorx("%s", line);
	free(errs);
	return n == 0 ? 0 : -1;
}

/*
 * Reads cfg's [tls] files (the same checks as fc_config_load made) into a
 * new heap block for the TLS region.  NULL when cfg marks no address tls
 * or on failure (*failed then says which; logged).
 */
static struct fc_tls_pem *
read_tls(const struct fc_config *cfg, bool *failed)
{
	struct fc_tls_pem *pem;
	enum fc_tls_file which;
	char why[256];

	*failed = false;
	if (!fc_config_has_tls(cfg))
		return NULL;
	if ((pem = malloc(sizeof(*pem))) == NULL) {
		log_warn("TLS material");
		*failed = true;
		return NULL;
	}
	if (fc_tls_read_files(cfg->tls_certificate, cfg->tls_key, pem, &which,
	    why, sizeof(why)) == -1) {
		log_errorx("%s: %s: %s", which == FC_TLS_KEY ? "tls.key" :
		    "tls.certificate", which == FC_TLS_KEY ? cfg->tls_key :
		    cfg->tls_certificate, why);
		fc_tls_pem_wipe(pem);	/* a part of the key may be in */
		free(pem);
		*failed = true;
		return NULL;
	}
	return pem;
}

/* Publishes pem as the next TLS generation (before the configuration's:
 * a worker that reports the new configuration generation has seen it)
 * and frees it. */
static void
publish_tls(struct fc_tls_pem *pem)
{
	if (pem == NULL)
		return;
	S.tls_generation++;
	fc_tlsreg_publish(S.tls, pem, S.tls_generation);
	log_info("TLS certificate %s and key %s read (TLS generation %u)",
	    S.cfg.tls_certificate, S.cfg.tls_key, S.tls_generation);
	fc_tls_pem_wipe(pem);
	free(pem);
}

static _Noreturn void run_capture(struct child *c, int parent_rd);
static _Noreturn void run_worker(struct child *c, int parent_rd);

/*
 * The supervisor's half of the role table (common/role.c holds the rows:
 * user, filesystem, limits, seccomp and the descriptors each role keeps):
 * what runs in the child, and the signal it gets when the supervisor dies.
 */
static const struct {
	int pdeathsig;
	void (*run)(struct child *c, int parent_rd);	/* never returns */
} runners[FC_ROLE_COUNT] = {
	[FC_ROLE_CAPTURE] = { SIGTERM, run_capture },
	[FC_ROLE_WORKER] = { SIGKILL, run_worker },
};

static const char *
child_name(const struct child *c, char *buf, size_t len)
{
	if (c->role == FC_ROLE_WORKER)
		snprintf(buf, len, "%s %u", fc_roles[c->role].name, c->index);
	else
		snprintf(buf, len, "%s", fc_roles[c->role].name);
	return buf;
}

/*
 * The descriptors a child keeps: the slots its row in the role table
 * lists (common/role.c), with this supervisor's numbers.  Fills out
 * (KEPT_MAX entries) and returns the count; parent_rd is a worker's end
 * of its stop pipe.
 */
static int
kept_fds(const struct child *c, int parent_rd, int *out)
{
	struct fc_role_fdnums nums = {
		.bus = S.bus->fd, .ctl = S.ctl->fd, .conf = S.conf->fd,
		.tls = S.tls != NULL ? S.tls->fd : -1,
		.listen = S.listen_fds, .nlisten = S.nlisten,
		.parent = parent_rd,
	};

	return fc_role_kept_fds(&fc_roles[c->role], &nums, out, KEPT_MAX);
}

/*
 * The steps every child takes right after fork(), before its role runs:
 * die with the supervisor; a session of its own, so no terminal controls
 * it (no TIOCSTI into the operator's shell, no hangup or ^C from it);
 * stdin on /dev/null, stdout and stderr on the supervisor's log pipe;
 * every descriptor but the kept ones closed (a shell's redirections, the
 * terminal, the log file, the signalfd, other workers' pipes), the kept
 * ones left open across exec; no signal blocked.  A step that fails ends
 * the child with FC_EXIT_CONFIG: a child that cannot be isolated must not
 * run, and starting it again would fail the same way.
 */
static void
child_start(const struct child *c, pid_t parent, int parent_rd)
{
	int keep[KEPT_MAX], n, null;
	char name[32];
	sigset_t all;

	fc_log_init(child_name(c, name, sizeof(name)),
	    (enum fc_log_level)S.cfg.log_level);
	if (prctl(PR_SET_PDEATHSIG, runners[c->role].pdeathsig) == -1) {
		log_error("prctl(PR_SET_PDEATHSIG)");
		_exit(FC_EXIT_CONFIG);
	}
	if (getppid() != parent)
		_exit(1);	/* the supervisor died before prctl() */
	if (setsid() == -1) {
		log_error("setsid");
		_exit(FC_EXIT_CONFIG);
	}
	/* Children log into the supervisor's pipe, never into a file or a
	 * terminal: their RLIMIT_FSIZE is 0 (a write to a file would kill
	 * them), and a terminal is the operator's.  (setup() made sure 0-2
	 * were open before any kept descriptor was created, so none of the
	 * kept ones is among them.) */
	if ((null = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1 ||
	    dup2(null, STDIN_FILENO) == -1 ||
	    dup2(S.log_wr, STDOUT_FILENO) == -1 ||
	    dup2(S.log_wr, STDERR_FILENO) == -1) {
		log_error("stdin on /dev/null, stdout and stderr on the log pipe");
		_exit(FC_EXIT_CONFIG);
	}
	n = kept_fds(c, parent_rd, keep);
	if (fc_fds_close_except(keep, n) == -1 ||
	    fc_fds_keep_on_exec(keep, n) == -1) {
		log_error("closing the descriptors %s must not keep", name);
		_exit(FC_EXIT_CONFIG);
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

/* Set in a worker child before worker_lockdown() runs: its RLIMIT_FSIZE. */
static rlim_t worker_frame_file_max;

/* The worker row of the role table (common/role.c), with what the
 * supervisor resolved while it could still read /etc/passwd. */
static int
worker_lockdown(void *arg)
{
	struct fc_role_ctx ctx;

	(void)arg;
	memset(&ctx, 0, sizeof(ctx));
	ctx.user = &S.worker_user;
	ctx.empty_dir = S.have_empty_dir ? FC_SANDBOX_EMPTY_DIR : NULL;
	ctx.pdeathsig = runners[FC_ROLE_WORKER].pdeathsig;
	ctx.parent = getppid();
	ctx.frame_file_max = worker_frame_file_max;
	ctx.tls = fc_config_has_tls(&S.cfg);
	return fc_role_lockdown(&fc_roles[FC_ROLE_WORKER], &ctx);
}

static _Noreturn void
run_worker(struct child *c, int parent_rd)
{
	struct fc_worker_args args;
	struct fc_confreg *conf, *tls = NULL;
	struct fc_bus *ro;

	/* Workers see the bus and the configuration read-only: drop the
	 * supervisor's writable mappings once the read-only ones exist. */
	if ((ro = fc_bus_attach(S.bus->fd, false)) == NULL)
		fatal("attach bus read-only");
	fc_bus_close(S.bus);
	S.bus = NULL;
	worker_frame_file_max = (rlim_t)FC_FRAME_FILE_MAX(fc_bus_capacity(ro));
	if ((conf = fc_confreg_attach(S.conf->fd)) == NULL)
		fatal("attach the configuration region read-only");
	fc_confreg_close(S.conf);
	S.conf = NULL;
	if (S.tls != NULL && fc_config_has_tls(&S.cfg) &&
	    (tls = fc_tlsreg_attach(S.tls->fd)) == NULL)
		fatal("attach the TLS region read-only");
	fc_confreg_close(S.tls);
	S.tls = NULL;

	memset(&args, 0, sizeof(args));
	args.cfg = &S.cfg;
	args.conf = conf;
	args.tls = tls;
	args.generation = S.generation;
	args.index = c->index;
	args.bus = ro;
	args.ctl = S.ctl;
	args.listen_fds = S.listen_fds;
	args.nlisten = S.nlisten;
	args.parent_fd = parent_rd;
	args.lockdown = worker_lockdown;
	exit(fc_worker_main(&args));
}

/* Execs forkcast-capture with the three shared regions, the
 * configuration region among them (kept open across exec by
 * child_start()). */
static _Noreturn void
run_capture(struct child *c, int parent_rd)
{
	char busfd[16], ctlfd[16], conffd[16];

	(void)c;
	(void)parent_rd;
	snprintf(busfd, sizeof(busfd), "%d", S.bus->fd);
	snprintf(ctlfd, sizeof(ctlfd), "%d", S.ctl->fd);
	snprintf(conffd, sizeof(conffd), "%d", S.conf->fd);
	execl(S.capture_exe, "forkcast-capture", "--bus-fd", busfd, "--ctl-fd", ctlfd,
	    "--conf-fd", conffd, fc_log_journal() ? "--journal" : (char *)NULL,
	    (char *)NULL);
	log_error("exec %s", S.capture_exe);
	_exit(FC_EXIT_CONFIG);
}

/* Starts one child: the one path for every role (child_start(), then the
 * role's runner). */
static void
spawn(struct child *c)
{
	char name[32];
	int p[2] = { -1, -1 };
	pid_t parent = getpid(), pid;

	if (c->role == FC_ROLE_WORKER) {
		if (pipe2(p, O_CLOEXEC) == -1) {
			log_warn("pipe for worker %u", c->index);
			c->respawn_at_ns = fc_now_mono_ns() + 1000 * MS;
			return;
		}
		/* The new owner starts from a zeroed stats slot. */
		fc_ctl_reset_worker(S.ctl, c->index);
	}
	pid = fork();
	if (pid == -1) {
		log_warn("fork %s", child_name(c, name, sizeof(name)));
		if (p[0] != -1) {
			close(p[0]);
			close(p[1]);
		}
		c->respawn_at_ns = fc_now_mono_ns() + 1000 * MS;
		return;
	}
	if (pid == 0) {
		child_start(c, parent, p[0]);
		runners[c->role].run(c, p[0]);
		_exit(1);	/* not reached: runners exit or exec */
	}
	c->pid = pid;
	c->generation = S.generation;
	c->started_ns = fc_now_mono_ns();
	c->kill_at_ns = 0;
	if (c->role == FC_ROLE_WORKER) {
		close(p[0]);
		c->stop_fd = p[1];
		atomic_store(&S.ctl->hdr->workers[c->index].pid, pid);
	} else {
		atomic_store(&S.ctl->hdr->capture_pid, pid);
	}
	log_info("started %s (pid %ld)", child_name(c, name, sizeof(name)), (long)pid);
}

/* Sends sig to a child; a refusal is logged once per child process
 * (EPERM: the supervisor lacks CAP_KILL for a child running as another
 * user, e.g. a too narrow CapabilityBoundingSet=; tick() tries again). */
static void
signal_child(struct child *c, int sig)
{
	char name[32];

	if (kill(c->pid, sig) == -1 && errno != ESRCH &&
	    c->refused_pid != c->pid) {
		c->refused_pid = c->pid;
		log_warn("cannot signal %s (pid %ld) with %s",
		    child_name(c, name, sizeof(name)), (long)c->pid,
		    sig == SIGKILL ? "SIGKILL" : "SIGTERM");
	}
}

/* Asks a child to stop: capture with SIGTERM, workers through their stop
 * pipe: EOF alone retires a worker (its clients keep streaming for
 * shutdown_grace), a byte 'S' before it stops it (each client gets the
 * part in flight, then the connection closes). */
static void
ask_stop(struct child *c, int64_t kill_at_ns, bool server_stop)
{
	if (c->stop_fd != -1) {
		if (server_stop)
			(void)!write(c->stop_fd, "S", 1);
		close(c->stop_fd);
		c->stop_fd = -1;
	}
	if (c->pid > 0 && c->role == FC_ROLE_CAPTURE)
		signal_child(c, SIGTERM);
	c->kill_at_ns = kill_at_ns;
}

static struct child *
find_child(pid_t pid)
{
	if (S.capture.pid == pid)
		return &S.capture;
	for (unsigned i = 0; i < FC_CTL_MAX_WORKERS; i++)
		if (S.workers[i].pid == pid)
			return &S.workers[i];
	return NULL;
}

/*
 * A child that exited with FC_EXIT_CONFIG found its configuration or its
 * environment unusable (a sandbox the kernel refuses, a missing
 * executable, a source setting capture rejects): started again, it would
 * fail the same way.  It is held instead of restarted until a reload is
 * accepted (tick() sees the generation move past the one the child was
 * started with): the reload may fix the file, and the operator the
 * environment.  While capture is held, workers answer
 * /healthz with 503 and say why (capture_held in the control region).  A
 * held worker leaves its connections to the others; when no worker is
 * left that could serve, the supervisor stops with FC_EXIT_CONFIG.
 */
static void
hold(struct child *c, const char *name, pid_t pid, int64_t lived_ms)
{
	c->held = true;
	log_errorx("%s (pid %ld) exited with status %d after %lld ms: its "
	    "configuration or environment is unusable; not restarting it until "
	    "a reload (SIGHUP) is accepted", name, (long)pid, FC_EXIT_CONFIG,
	    (long long)lived_ms);
	if (c->role == FC_ROLE_CAPTURE) {
		atomic_store(&S.ctl->hdr->capture_held, 1);
		return;
	}
	for (unsigned i = 0; i < FC_CTL_MAX_WORKERS; i++)
		if (S.workers[i].wanted && !S.workers[i].held)
			return;
	log_errorx("no worker left to serve: every worker exited with status %d; "
	    "stopping", FC_EXIT_CONFIG);
	S.exit_status = FC_EXIT_CONFIG;
	begin_stop();
}

/* Ends a hold once a reload was accepted (see hold()). */
static void
release(struct child *c)
{
	char name[32];

	c->held = false;
	c->quick_deaths = 0;
	c->respawn_at_ns = 0;
	if (c->role == FC_ROLE_CAPTURE)
		atomic_store(&S.ctl->hdr->capture_held, 0);
	if (c->wanted)
		log_info("configuration generation %u accepted: starting %s again",
		    S.generation, child_name(c, name, sizeof(name)));
}

static void
reap(void)
{
	struct child *c;
	char name[32];
	int64_t now, lived_ms, delay_ms;
	bool config_exit;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((c = find_child(pid)) == NULL)
			continue;
		now = fc_now_mono_ns();
		lived_ms = (now - c->started_ns) / MS;
		child_name(c, name, sizeof(name));
		config_exit = WIFEXITED(status) &&
		    WEXITSTATUS(status) == FC_EXIT_CONFIG;
		if (config_exit && c->wanted && !S.stopping) {
			/* hold() below says it, once */
		} else if (WIFSIGNALED(status)) {
			log_warnx("%s (pid %ld) exited on signal %d after %lld ms", name,
			    (long)pid, WTERMSIG(status), (long long)lived_ms);
		} else if (WEXITSTATUS(status) != 0) {
			log_warnx("%s (pid %ld) exited with status %d after %lld ms",
			    name, (long)pid, WEXITSTATUS(status), (long long)lived_ms);
		} else {
			log_info("%s (pid %ld) exited", name, (long)pid);
		}
		c->pid = 0;
		c->kill_at_ns = 0;
		if (c->stop_fd != -1) {
			close(c->stop_fd);
			c->stop_fd = -1;
		}
		if (c->role == FC_ROLE_WORKER) {
			atomic_store(&S.ctl->hdr->workers[c->index].pid, 0);
			if (!c->wanted)	/* retired: free the slot for /status */
				fc_ctl_reset_worker(S.ctl, c->index);
		} else {
			atomic_store(&S.ctl->hdr->capture_pid, 0);
		}
		if (!c->wanted || S.stopping)
			continue;
		if (config_exit) {
			hold(c, name, pid, lived_ms);
			continue;
		}
		if (c->role == FC_ROLE_CAPTURE)
			atomic_fetch_add(&S.ctl->hdr->capture_restarts, 1);
		/* Backoff: a child that ran for a while is restarted at once; one
		 * that keeps dying waits 0.25 s, 0.5 s, ... up to 10 s. */
		if (lived_ms >= STABLE_MS) {
			c->quick_deaths = 0;
			delay_ms = 0;
		} else {
			unsigned shift = c->quick_deaths < 6 ? c->quick_deaths : 6;
			delay_ms = (int64_t)BACKOFF_MIN_MS << shift;
			if (delay_ms > BACKOFF_MAX_MS)
				delay_ms = BACKOFF_MAX_MS;
			c->quick_deaths++;
		}
		c->respawn_at_ns = now + delay_ms * MS;
		if (delay_ms > 0)
			log_info("restarting %s in %lld ms", name, (long long)delay_ms);
	}
}

/*
 * Grows or shrinks the pool to n workers.  A worker's control slot is its
 * index in S.workers; a retiring worker keeps its slot until it exits, so
 * growing takes the lowest slots that are neither wanted nor draining.
 */
static void
set_worker_count(int n)
{
	int64_t deadline = fc_now_mono_ns() + ((int64_t)S.cfg.shutdown_grace + 2) * 1000 * MS;
	int have = 0, i;

	for (i = 0; i < FC_CTL_MAX_WORKERS; i++)
		if (S.workers[i].wanted)
			have++;
	for (i = FC_CTL_MAX_WORKERS - 1; i >= 0 && have > n; i--) {
		struct child *c = &S.workers[i];

		if (!c->wanted)
			continue;
		c->wanted = false;
		have--;
		if (c->pid > 0) {
			log_info("retiring worker %d (pid %ld)", i, (long)c->pid);
			ask_stop(c, deadline, false);
		}
	}
	for (i = 0; i < FC_CTL_MAX_WORKERS && have < n; i++) {
		struct child *c = &S.workers[i];

		if (c->wanted || c->pid > 0)
			continue;
		c->wanted = true;
		c->quick_deaths = 0;
		c->respawn_at_ns = 0;
		have++;
	}
	if (have < n)
		log_warnx("only %d worker slots free: running %d workers", have, have);
	atomic_store(&S.ctl->hdr->workers_configured, (uint32_t)n);
}

static bool
listen_changed(const struct fc_config *a, const struct fc_config *b)
{
	if (a->nlisten != b->nlisten)
		return true;
	for (int i = 0; i < a->nlisten; i++)
		if (strcmp(a->listen[i].text, b->listen[i].text) != 0 ||
		    a->listen[i].tls != b->listen[i].tls)
			return true;
	return false;
}

/*
 * Opens the listening sockets of next into fds: an address the running
 * configuration already listens on keeps its socket (binding it twice
 * would fail), a new one is bound now.  All or nothing: -1 with err set
 * and nothing left open.
 */
/* True when cfg listens on la (same address as written). */
static bool
listens_on(const struct fc_config *cfg, const struct fc_listen_addr *la)
{
	for (int i = 0; i < cfg->nlisten; i++)
		if (strcmp(cfg->listen[i].text, la->text) == 0)
			return true;
	return false;
}

/* Removes the socket files of a's unix: addresses that b does not have
 * (all of them when b is NULL). */
static void
remove_sockets(const struct fc_config *a, const struct fc_config *b)
{
	for (int i = 0; i < a->nlisten; i++)
		if (b == NULL || !listens_on(b, &a->listen[i]))
			fc_listen_remove(&a->listen[i]);
}

static int
rebind(const struct fc_config *next, int *fds, char *err, size_t errlen)
{
	for (int i = 0; i < next->nlisten; i++) {
		fds[i] = -1;
		for (int j = 0; j < S.nlisten && fds[i] == -1; j++)
			if (strcmp(next->listen[i].text, S.cfg.listen[j].text) == 0)
				fds[i] = fcntl(S.listen_fds[j], F_DUPFD_CLOEXEC, 0);
		if (fds[i] == -1)
			fds[i] = fc_listen_open(next, &next->listen[i], err,
			    errlen);
		if (fds[i] == -1) {
			fc_listen_close_all(fds, i);
			/* The unix sockets made for next go too. */
			for (int j = 0; j < i; j++)
				if (!listens_on(&S.cfg, &next->listen[j]))
					fc_listen_remove(&next->listen[j]);
			return -1;
		}
	}
	return 0;
}

/* "http://127.0.0.1:8080/" or "unix:/run/x.sock" for the log. */
static void
log_listening(const struct fc_config *cfg)
{
	for (int i = 0; i < cfg->nlisten; i++) {
		if (fc_listen_is_adopted(&cfg->listen[i]))
			log_info("listening on %s%s%s (socket from systemd)",
			    fc_config_unix_path(&cfg->listen[i]) ? "" : "http://",
			    cfg->listen[i].text,
			    fc_config_unix_path(&cfg->listen[i]) ? "" : "/");
		else if (fc_config_unix_path(&cfg->listen[i]) != NULL)
			log_info("listening on %s (mode %04o)",
			    cfg->listen[i].text, (unsigned)cfg->socket_mode);
		else
			log_info("listening on %s://%s/", cfg->listen[i].tls ?
			    "https" : "http", cfg->listen[i].text);
	}
}

/* Retires every worker (they drain on the old sockets for
 * shutdown_grace); set_worker_count() then starts new ones. */
static void
retire_all_workers(void)
{
	int64_t deadline = fc_now_mono_ns() + ((int64_t)S.cfg.shutdown_grace + 2) * 1000 * MS;

	for (int i = 0; i < FC_CTL_MAX_WORKERS; i++) {
		struct child *c = &S.workers[i];

		if (!c->wanted)
			continue;
		c->wanted = false;
		if (c->pid > 0)
			ask_stop(c, deadline, false);
	}
}

/* Opens the log file cfg names (O_APPEND); -1 on error (logged). */
static int
open_log_file(const struct fc_config *cfg)
{
	int fd;

	fd = open(cfg->log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOCTTY, 0640);
	if (fd == -1)
		log_error("log file %s", cfg->log_file);
	return fd;
}

/*
 * Handles SIGHUP.  Everything that can fail is tried first (reading and
 * checking the file, binding new addresses, resolving a new user, opening
 * a new log file); only then is the new configuration committed: published
 * to the children as the next generation, applied by the supervisor
 * itself, and the children that cannot apply it while running (workers
 * after a listen or user change, capture after a capture change) replaced.
 * Returns false when the reload was refused (the running configuration
 * stays in force, nothing changed).
 */
static bool
reload(void)
{
	struct fc_config next;
	struct pid_lock moved = { .fd = -1 };
	int fds[FC_CONFIG_MAX_LISTEN], nfds = 0, logfd = -1;
	char err[256], pending[128];
	uint32_t pending_bits = 0;
	bool restart_capture, new_sockets, new_user, new_log, tls_failed;
	struct fc_tls_pem *pem = NULL;

	log_info("reloading %s", S.path);
	if (load_config(S.path, &next) == -1)
		goto refused;
	/* Renewed certificates (certbot, ACME clients) are read at every
	 * reload; the files just checked are read once more here. */
	pem = read_tls(&next, &tls_failed);
	if (tls_failed)
		goto refused;
	if (pem != NULL && S.tls == NULL && (S.tls = fc_tlsreg_create()) == NULL) {
		log_warn("create the TLS region");
		goto refused;
	}
	new_sockets = listen_changed(&S.cfg, &next);
	new_user = strcmp(next.user, S.cfg.user) != 0;
	new_log = strcmp(next.log_file, S.cfg.log_file) != 0;
	if ((new_sockets || new_user) && next.workers * 2 > FC_CTL_MAX_WORKERS) {
		log_errorx("changing the listen addresses or the user needs "
		    "room for twice the workers while the old ones drain");
		goto refused;
	}
	if (new_log && next.log_file[0] != '\0' &&
	    (logfd = open_log_file(&next)) == -1)
		goto refused;
	if (new_sockets) {
		if (rebind(&next, fds, err, sizeof(err)) == -1) {
			log_errorx("%s", err);
			goto refused;
		}
		nfds = next.nlisten;
	}
	/* A new pid file is taken (checked, locked, written) before the old
	 * one is let go: forkcastctl finds us through one of them throughout. */
	if (strcmp(next.pid_file, S.pid.path) != 0 &&
	    take_pid_file(next.pid_file, &moved) != 0)
		goto refused;
	if (new_user && prepare_sandbox(&next) == -1)
		goto refused;
	/* Unix sockets kept from the running configuration take the new
	 * socket_mode and socket_group (new ones were made with them). */
	for (int i = 0; i < next.nlisten; i++) {
		if (!listens_on(&S.cfg, &next.listen[i]))
			continue;
		if (fc_listen_set_access(&next, &next.listen[i], err,
		    sizeof(err)) == -1) {
			log_errorx("%s", err);
			goto refused;
		}
	}

	/* Committed from here on. */
	/* The bus was sized at start and every worker maps it: its geometry
	 * stays until the next restart (/status "reload"."pending_restart"
	 * says so while the file asks for another value). */
	if (next.max_frame_size != S.cfg.max_frame_size)
		pending_bits |= FC_CTL_PENDING_MAX_FRAME_SIZE;
	if (next.slots != S.cfg.slots)
		pending_bits |= FC_CTL_PENDING_SLOTS;
	if (fc_config_restart_changes(&next, &S.cfg, pending, sizeof(pending)) > 0)
		log_warnx("%s: the new value applies at the next restart; the "
		    "running value stays until then", pending);
	atomic_store(&S.ctl->hdr->restart_pending, pending_bits);
	restart_capture = fc_config_capture_changed(&S.cfg, &next) || new_user;
	if (moved.fd != -1) {
		release_pid_file(&S.pid);
		S.pid = moved;
		log_info("pid file moved to %s", S.pid.path);
	}
	if (next.backlog != S.cfg.backlog && !new_sockets)
		for (int i = 0; i < S.nlisten; i++)
			if (listen(S.listen_fds[i], next.backlog) == -1)
				log_warn("listen backlog %d on %s", next.backlog,
				    next.listen[i].text);
	if (new_log) {
		if (logfd != -1) {
			dup2(logfd, STDERR_FILENO);
			close(logfd);
			/* Capture started from now on writes plain lines;
			 * the running one keeps its format until it restarts. */
			fc_log_set_journal(false);
		} else {
			log_warnx("log file removed from the configuration: "
			    "logging on where the log already goes");
		}
	}
	/* Addresses the new file drops: their socket files go now (the old
	 * workers drain what they accepted). */
	if (new_sockets)
		remove_sockets(&S.cfg, &next);
	S.cfg = next;
	fc_log_set_level((enum fc_log_level)S.cfg.log_level);

	/* Running children apply it from the configuration region. */
	publish_tls(pem);
	pem = NULL;
	S.generation++;
	fc_confreg_publish(S.conf, &S.cfg, S.generation);
	atomic_store(&S.ctl->hdr->generation, S.generation);
	S.ack_deadline_ns = fc_now_mono_ns() + RELOAD_ACK_MS * MS;

	if (new_sockets) {
		/* New workers get the new sockets; the old ones drain. */
		fc_listen_close_all(S.listen_fds, S.nlisten);
		memcpy(S.listen_fds, fds, sizeof(int) * (size_t)S.cfg.nlisten);
		S.nlisten = S.cfg.nlisten;
		log_listening(&S.cfg);
	}
	if (new_sockets || new_user) {
		/* Workers cannot change their sockets or their uid: new ones
		 * start, the old ones drain (with the new configuration, so
		 * revoked credentials are closed there too). */
		if (new_user)
			log_info("user changed to %s: replacing workers and "
			    "capture", S.cfg.user);
		retire_all_workers();
	}
	set_worker_count(S.cfg.workers);
	if (restart_capture && S.capture.pid > 0) {
		log_info("capture settings changed: restarting capture");
		S.capture.quick_deaths = 0;
		ask_stop(&S.capture, fc_now_mono_ns() + 5000 * MS, false);
	}
	log_info("configuration generation %u published; waiting for every "
	    "running process to apply it", S.generation);
	return true;

refused:
	if (pem != NULL) {
		fc_tls_pem_wipe(pem);
		free(pem);
	}
	log_errorx("reload refused: the running configuration stays in force");
	release_pid_file(&moved);
	fc_listen_close_all(fds, nfds);
	if (nfds > 0)
		remove_sockets(&next, &S.cfg);
	if (logfd != -1)
		close(logfd);
	return false;
}

/*
 * After a reload: logs "generation N in force" once every serving worker
 * and the running capture run N: they report it, or were started with it
 * (a child spawned after the reload, a replacement among them, takes N at
 * start and is not judged by this reload's deadline).  One that has not
 * within RELOAD_ACK_MS is replaced (it then starts with N).  Returns ms
 * until the deadline, or -1 when nothing is pending.
 */
static int
check_reload_acks(void)
{
	int64_t now = fc_now_mono_ns();
	unsigned lagging = 0, workers = 0;
	char name[32];

	if (S.ack_deadline_ns == 0)
		return -1;
	for (unsigned i = 0; i < FC_CTL_MAX_WORKERS; i++) {
		struct child *c = &S.workers[i];
		struct fc_ctl_worker *w = &S.ctl->hdr->workers[i];

		if (c->pid <= 0 || !c->wanted)
			continue;
		workers++;
		if (c->generation == S.generation ||
		    atomic_load(&w->generation) == S.generation)
			continue;
		lagging++;
		if (now >= S.ack_deadline_ns && c->kill_at_ns == 0) {
			log_warnx("%s (pid %ld) did not apply generation %u within "
			    "%d ms: replacing it", child_name(c, name,
			    sizeof(name)), (long)c->pid, S.generation,
			    RELOAD_ACK_MS);
			signal_child(c, SIGKILL);
			c->kill_at_ns = now;
		}
	}
	if (S.capture.pid > 0 && S.capture.kill_at_ns == 0 &&
	    S.capture.generation != S.generation &&
	    atomic_load(&S.ctl->hdr->capture_generation) != S.generation) {
		lagging++;
		if (now >= S.ack_deadline_ns) {
			log_warnx("capture (pid %ld) did not apply generation %u "
			    "within %d ms: restarting it", (long)S.capture.pid,
			    S.generation, RELOAD_ACK_MS);
			ask_stop(&S.capture, now + 5000 * MS, false);
		}
	}
	if (lagging == 0) {
		log_info("configuration generation %u in force (%u workers%s)",
		    S.generation, workers, S.capture.pid > 0 ? " and capture" : "");
		S.ack_deadline_ns = 0;
		/* The reload is over (READY=1 ends RELOADING=1); before the
		 * first READY=1, notify_progress() sends it. */
		if (S.ready)
			sd_notifyf(0, "READY=1\nSTATUS=configuration generation "
			    "%u in force", S.generation);
		return -1;
	}
	/* Workers apply it on their next tick: look again soon. */
	return 50;
}

static void
begin_stop(void)
{
	int64_t deadline;

	if (S.stopping) {
		log_warnx("second stop request: killing children now");
		/* Due now: tick() kills every child still running. */
		S.stop_deadline_ns = fc_now_mono_ns();
		return;
	}
	S.stopping = true;
	sd_notify(0, "STOPPING=1");
	deadline = fc_now_mono_ns() + ((int64_t)S.cfg.shutdown_grace + 1) * 1000 * MS;
	S.stop_deadline_ns = deadline;
	log_info("stopping (grace %d s)", S.cfg.shutdown_grace);
	fc_listen_close_all(S.listen_fds, S.nlisten);
	/* Nothing new can connect from now on; streams drain. */
	remove_sockets(&S.cfg, NULL);
	for (unsigned i = 0; i < FC_CTL_MAX_WORKERS; i++) {
		S.workers[i].wanted = false;
		if (S.workers[i].pid > 0)
			ask_stop(&S.workers[i], deadline, true);
	}
	S.capture.wanted = false;
	if (S.capture.pid > 0)
		ask_stop(&S.capture, deadline, true);
}

static bool
any_child(void)
{
	if (S.capture.pid > 0)
		return true;
	for (unsigned i = 0; i < FC_CTL_MAX_WORKERS; i++)
		if (S.workers[i].pid > 0)
			return true;
	return false;
}

/* Starts what is due, kills what overstayed, releases held children once
 * a reload was accepted; returns ms until the next timer (capped). */
static int
tick(void)
{
	int64_t now = fc_now_mono_ns(), next = now + 500 * MS;
	struct child *all[FC_CTL_MAX_WORKERS + 1];
	unsigned n = 0;

	all[n++] = &S.capture;
	for (unsigned i = 0; i < FC_CTL_MAX_WORKERS; i++)
		all[n++] = &S.workers[i];
	for (unsigned i = 0; i < n; i++) {
		struct child *c = all[i];
		int64_t kill_at = S.stopping ? S.stop_deadline_ns : c->kill_at_ns;

		if (c->pid > 0 && kill_at != 0 && (S.stopping || !c->wanted ||
		    c->role == FC_ROLE_CAPTURE)) {
			if (now >= kill_at) {
				signal_child(c, SIGKILL);
				c->kill_at_ns = 0;
			} else if (kill_at < next) {
				next = kill_at;
			}
		}
		/* S.generation, not the control region's copy: workers can
		 * write that region. */
		if (c->held && !S.stopping && S.generation != c->generation)
			release(c);
		if (c->pid == 0 && c->wanted && !c->held && !S.stopping) {
			if (now >= c->respawn_at_ns)
				spawn(c);
			else if (c->respawn_at_ns < next)
				next = c->respawn_at_ns;
		}
	}
	{
		int ack = check_reload_acks();
		int ms = (int)((next - now) / MS) + 1;

		return ack >= 0 && ack < ms ? ack : ms;
	}
}

/* Folder of the default pid file when running as root. */
#define PID_RUN_DIR "/run/forkcast"

/* PID_RUN_DIR is created 0755 when missing; it must be a directory owned
 * by root that nobody else can write.  NULL when fine, else why not. */
static const char *
run_dir_problem(char *why, size_t len)
{
	struct stat st;

	if (mkdir(PID_RUN_DIR, 0755) == 0) {
		if (chmod(PID_RUN_DIR, 0755) == -1) {	/* whatever the umask */
			snprintf(why, len, "chmod %s: %s", PID_RUN_DIR,
			    strerror(errno));
			return why;
		}
	} else if (errno != EEXIST) {
		snprintf(why, len, "cannot create %s: %s", PID_RUN_DIR,
		    strerror(errno));
		return why;
	}
	if (lstat(PID_RUN_DIR, &st) == -1) {
		snprintf(why, len, "%s: %s", PID_RUN_DIR, strerror(errno));
		return why;
	}
	if (!S_ISDIR(st.st_mode))
		snprintf(why, len, "%s is not a directory", PID_RUN_DIR);
	else if (st.st_uid != 0)
		snprintf(why, len, "%s is owned by uid %ld, not by root",
		    PID_RUN_DIR, (long)st.st_uid);
	else if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		snprintf(why, len, "%s is writable by group or others",
		    PID_RUN_DIR);
	else
		return NULL;
	return why;
}

/* A pid file is the supervisor's own: a regular file with one link, owned
 * by its euid, that nobody else can write.  NULL when fine, else why not. */
static const char *
pid_file_problem(const struct stat *st, char *why, size_t len)
{
	if (!S_ISREG(st->st_mode))
		return "it is not a regular file";
	if (st->st_uid != geteuid()) {
		snprintf(why, len, "it is owned by uid %ld, not by the "
		    "supervisor's uid %ld", (long)st->st_uid, (long)geteuid());
		return why;
	}
	if (st->st_nlink != 1) {
		snprintf(why, len, "it has %lu hard links",
		    (unsigned long)st->st_nlink);
		return why;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return "it is writable by group or others";
	return NULL;
}

/*
 * Opens path without following a symbolic link, checks that it is the
 * supervisor's own file, locks it (LOCK_EX, held until release_pid_file()
 * or exit) and writes our pid into it; the descriptor stays open (close on
 * exec; child_start() closes it in every child).  A file held by another
 * process means another instance runs.  Returns 0, 1 (another instance
 * runs, or a system error) or FC_EXIT_CONFIG (a pid file or folder that is
 * not ours: refused and left as it is, nothing signalled); logs why.
 */
static int
take_pid_file(const char *path, struct pid_lock *pl)
{
	struct stat st, now;
	char buf[32], why[160];
	const char *problem;
	ssize_t r;
	int fd, n, tries;

	if (strlen(path) >= sizeof(pl->path)) {
		log_errorx("pid file %s: path too long", path);
		return FC_EXIT_CONFIG;
	}
	if (strncmp(path, PID_RUN_DIR "/", sizeof(PID_RUN_DIR)) == 0 &&
	    strchr(path + sizeof(PID_RUN_DIR), '/') == NULL &&
	    (problem = run_dir_problem(why, sizeof(why))) != NULL) {
		log_errorx("refusing pid file %s: %s", path, problem);
		return FC_EXIT_CONFIG;
	}
	for (tries = 0;; tries++) {
		/* O_NONBLOCK: a FIFO put in its place must not hang us. */
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
		    O_NOCTTY | O_NONBLOCK, 0644);
		if (fd == -1) {
			if (errno == ELOOP)
				log_errorx("refusing pid file %s: it is a "
				    "symbolic link; it is left as it is", path);
			else
				log_errorx("pid file %s: cannot open: %s", path,
				    strerror(errno));
			return FC_EXIT_CONFIG;
		}
		if (fstat(fd, &st) == -1) {
			log_error("pid file %s: fstat", path);
			close(fd);
			return 1;
		}
		if ((problem = pid_file_problem(&st, why, sizeof(why))) != NULL) {
			log_errorx("refusing pid file %s: %s; it is left as it "
			    "is", path, problem);
			close(fd);
			return FC_EXIT_CONFIG;
		}
		/* forkcastctl's probe (flock -n) holds the lock for a moment:
		 * try for 100 ms before calling it another instance. */
		for (int i = 0; flock(fd, LOCK_EX | LOCK_NB) == -1; i++) {
			struct timespec ms20 = { 0, 20 * 1000 * 1000 };

			if (errno == EINTR)
				continue;
			if (errno != EWOULDBLOCK) {
				log_error("pid file %s: flock", path);
				close(fd);
				return 1;
			}
			if (i < 5) {
				nanosleep(&ms20, NULL);
				continue;
			}
			r = pread(fd, buf, sizeof(buf) - 1, 0);
			buf[r > 0 ? r : 0] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			log_errorx("already running (pid %s, pid file %s)",
			    buf[0] != '\0' ? buf : "unknown", path);
			close(fd);
			return 1;
		}
		/* A supervisor that was exiting may have unlinked the file
		 * between our open and our lock: hold the file the path
		 * names, or another instance could lock a new one. */
		if (lstat(path, &now) == 0 && now.st_dev == st.st_dev &&
		    now.st_ino == st.st_ino)
			break;
		close(fd);
		if (tries == 2) {
			log_errorx("pid file %s: replaced while it was being "
			    "locked, three times", path);
			return 1;
		}
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n) {
		log_error("pid file %s: write", path);
		close(fd);
		return 1;
	}
	pl->fd = fd;
	pl->dev = st.st_dev;
	pl->ino = st.st_ino;
	memcpy(pl->path, path, strlen(path) + 1);
	return 0;
}

/* Unlinks the pid file if the path still names the file we locked (a file
 * put in its place stays), then lets the lock go. */
static void
release_pid_file(struct pid_lock *pl)
{
	struct stat st;

	if (pl->fd == -1)
		return;
	if (lstat(pl->path, &st) == 0 && st.st_dev == pl->dev &&
	    st.st_ino == pl->ino)
		unlink(pl->path);
	close(pl->fd);
	pl->fd = -1;
}

/* Resolves the workers' user and the empty root while the supervisor can
 * still read /etc/passwd and create directories; logs what will apply. */
static int
prepare_sandbox(const struct fc_config *cfg)
{
	struct fc_sandbox_user u;
	char err[256];

	if (fc_sandbox_resolve_user(cfg->user, NULL, &u, err, sizeof(err)) == -1) {
		log_errorx("%s", err);
		return -1;
	}
	S.worker_user = u;
	if (!u.drop) {
		log_warnx("not started as root: workers keep uid %ld (every other "
		    "sandbox layer still applies)", (long)getuid());
		S.have_empty_dir = false;
	} else if (fc_sandbox_prepare_empty_dir(FC_SANDBOX_EMPTY_DIR, err,
	    sizeof(err)) == -1) {
		log_warnx("empty root: %s; workers fall back to Landlock", err);
		S.have_empty_dir = false;
	} else {
		S.have_empty_dir = true;
	}
	log_info("workers run as %s in %s", u.drop ? u.name : "the current user",
	    S.have_empty_dir ? "an empty chroot" : "a Landlock jail where the "
	    "kernel has Landlock");
	return 0;
}

/*
 * Opens /dev/null on whichever of descriptors 0-2 the supervisor was
 * started without, before anything else is created: a child puts /dev/null
 * and the log pipe there (child_start), which must not replace a shared
 * region or a socket that landed on one of them.  -1 + errno.
 */
static int
open_std_fds(void)
{
	int fd;

	do
		fd = open("/dev/null", O_RDWR);
	while (fd >= 0 && fd <= STDERR_FILENO);
	if (fd == -1)
		return -1;
	close(fd);
	return 0;
}

static int
setup(const char *path)
{
	char err[256];
	sigset_t set;
	int rc;

	if (open_std_fds() == -1) {
		log_error("/dev/null");
		return 1;
	}
	snprintf(S.path, sizeof(S.path), "%s", path);
	S.sfd = -1;
	S.pid.fd = -1;
	S.log_rd = S.log_wr = -1;
	S.capture.role = FC_ROLE_CAPTURE;
	S.capture.stop_fd = -1;
	for (unsigned i = 0; i < FC_CTL_MAX_WORKERS; i++) {
		S.workers[i].role = FC_ROLE_WORKER;
		S.workers[i].index = i;
		S.workers[i].stop_fd = -1;
	}
	for (int i = 0; i < FC_CONFIG_MAX_LISTEN; i++)
		S.listen_fds[i] = -1;

	if (load_config(path, &S.cfg) == -1)
		return FC_EXIT_CONFIG;
	fc_log_set_level((enum fc_log_level)S.cfg.log_level);

	if (S.cfg.log_file[0] != '\0') {
		int fd = open_log_file(&S.cfg);

		if (fd == -1)
			return FC_EXIT_CONFIG;
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	/* Under systemd without a log file: lines with priorities, for the
	 * journal (the file's lines keep their timestamps). */
	fc_log_set_journal(fc_log_stderr_is_journal());

	if (prepare_sandbox(&S.cfg) == -1)
		return FC_EXIT_CONFIG;

	if (fc_path_capture_exe(S.capture_exe, sizeof(S.capture_exe)) == -1) {
		log_errorx("forkcast-capture not found next to %s or in "
		    "../libexec/forkcast/ from there", S.capture_exe);
		return FC_EXIT_CONFIG;
	}

	/* Signals only arrive through the signalfd. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((S.sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) == -1) {
		log_error("signalfd");
		return 1;
	}
	/* Non-blocking on both ends: a child whose log line does not fit in a
	 * full pipe loses that line instead of stalling its clients. */
	{
		int lp[2];

		if (pipe2(lp, O_CLOEXEC | O_NONBLOCK) == -1) {
			log_error("log pipe");
			return 1;
		}
		S.log_rd = lp[0];
		S.log_wr = lp[1];
	}

	/* Before binding: a second instance says "already running", not
	 * "address in use". */
	if ((rc = take_pid_file(S.cfg.pid_file, &S.pid)) != 0)
		return rc;
	/* Socket activation: the sockets systemd passed are adopted by the
	 * listen lines they match (and kept across reloads); sd_listen_fds
	 * takes LISTEN_FDS and LISTEN_PID out of the environment, so no
	 * child sees them. */
	if ((rc = sd_listen_fds(1)) < 0) {
		log_errorx("socket activation (LISTEN_FDS): %s", strerror(-rc));
		return FC_EXIT_CONFIG;
	}
	if (rc > 0 && fc_listen_adopt(SD_LISTEN_FDS_START, rc, err,
	    sizeof(err)) == -1) {
		log_errorx("%s", err);
		return FC_EXIT_CONFIG;
	}
	if (fc_listen_open_all(&S.cfg, S.listen_fds, err, sizeof(err)) == -1) {
		log_errorx("%s", err);
		return FC_EXIT_CONFIG;
	}
	S.nlisten = S.cfg.nlisten;
	if (fc_listen_all_adopted(err, sizeof(err)) == -1) {
		log_errorx("%s: %s", S.path, err);
		return FC_EXIT_CONFIG;
	}

	if ((S.bus = fc_bus_create((unsigned)S.cfg.slots, S.cfg.max_frame_size)) == NULL) {
		log_error("create frame bus");
		return 1;
	}
	if ((S.ctl = fc_ctl_create()) == NULL) {
		log_error("create control region");
		return 1;
	}
	if ((S.conf = fc_confreg_create()) == NULL) {
		log_error("create configuration region");
		return 1;
	}
	{
		bool tls_failed;
		struct fc_tls_pem *pem = read_tls(&S.cfg, &tls_failed);

		if (tls_failed)
			return FC_EXIT_CONFIG;
		if (pem != NULL && (S.tls = fc_tlsreg_create()) == NULL) {
			log_error("create TLS region");
			fc_tls_pem_wipe(pem);
			free(pem);
			return 1;
		}
		publish_tls(pem);
	}
	S.generation = 1;
	fc_confreg_publish(S.conf, &S.cfg, S.generation);
	atomic_store(&S.ctl->hdr->generation, S.generation);
	atomic_store(&S.ctl->hdr->supervisor_pid, getpid());
	atomic_store(&S.ctl->hdr->started_real_ns, fc_now_real_ns());
	atomic_store(&S.ctl->hdr->started_mono_ns, fc_now_mono_ns());

	return 0;
}

static void
teardown(void)
{
	release_pid_file(&S.pid);
	fc_listen_close_all(S.listen_fds, S.nlisten);
	remove_sockets(&S.cfg, NULL);
	fc_bus_close(S.bus);
	fc_ctl_close(S.ctl);
	fc_confreg_close(S.conf);
	fc_confreg_close(S.tls);
	if (S.sfd != -1)
		close(S.sfd);
	if (S.log_rd != -1)
		close(S.log_rd);
	if (S.log_wr != -1)
		close(S.log_wr);
}

/* Copies what the children logged to the supervisor's stderr (the log
 * file or the terminal).  An honest child writes each line, already
 * escaped, in one pipe write; a compromised one can write any bytes, so
 * the lines are escaped again and written whole (fc_log_relay_feed). */
static void
relay_logs(void)
{
	static struct fc_log_relay relay;
	char buf[16384];
	ssize_t n;

	while ((n = read(S.log_rd, buf, sizeof(buf))) > 0)
		fc_log_relay_feed(&relay, STDERR_FILENO, buf, (size_t)n);
}

/* True when every worker that should run serves (has reported it). */
static bool
workers_serving(void)
{
	for (unsigned i = 0; i < FC_CTL_MAX_WORKERS; i++) {
		const struct child *c = &S.workers[i];

		if (c->wanted && (c->pid <= 0 ||
		    atomic_load(&S.ctl->hdr->workers[i].state) !=
		    FC_WORKER_SERVING))
			return false;
	}
	return true;
}

/*
 * systemd's view of the service (sd_notify; nothing without
 * NOTIFY_SOCKET): READY=1 once the first frame (a "no signal" picture
 * counts: a missing camera must not keep the unit starting) is on the bus
 * and every worker serves; then STATUS= with viewers and fps, at most
 * every STATUS_EVERY_MS and only when the line changed.
 */
#define STATUS_EVERY_MS 2000
static void
notify_progress(void)
{
	int64_t now = fc_now_mono_ns();
	char line[sizeof(S.status)];

	if (S.stopping)
		return;
	if (!S.ready) {
		if (fc_bus_head(S.bus) == 0 || !workers_serving())
			return;
		S.ready = true;
		fc_report_summary(line, sizeof(line), S.bus, S.ctl);
		log_info("ready: %s", line);
		sd_notifyf(0, "READY=1\nSTATUS=%s", line);
		memcpy(S.status, line, sizeof(line));
		S.status_at_ns = now + STATUS_EVERY_MS * MS;
		return;
	}
	if (now < S.status_at_ns)
		return;
	S.status_at_ns = now + STATUS_EVERY_MS * MS;
	fc_report_summary(line, sizeof(line), S.bus, S.ctl);
	if (strcmp(line, S.status) == 0)
		return;
	memcpy(S.status, line, sizeof(line));
	sd_notifyf(0, "STATUS=%s", line);
}

int
fc_supervisor_run(const char *path)
{
	struct signalfd_siginfo si;
	struct pollfd pfd[2];
	int rc, timeout;

	fc_log_init("supervisor", FC_LOG_INFO);
	if ((rc = setup(path)) != 0) {
		teardown();
		return rc;
	}
	log_listening(&S.cfg);
	S.capture.wanted = true;
	set_worker_count(S.cfg.workers);

	for (;;) {
		timeout = tick();
		if (S.stopping && !any_child())
			break;
		notify_progress();
		pfd[0].fd = S.sfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = S.log_rd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, timeout) == -1 && errno != EINTR) {
			log_warn("poll");
			continue;
		}
		relay_logs();
		while (read(S.sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			switch (si.ssi_signo) {
			case SIGCHLD:
				break;
			case SIGHUP:
				if (S.stopping)
					break;
				sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRId64,
				    fc_now_mono_ns() / 1000);
				if (!reload()) {
					atomic_fetch_add(&S.ctl->hdr->reload_refused, 1);
					/* Nothing changed: the reload is over. */
					sd_notify(0, "READY=1\nSTATUS=reload refused: "
					    "the running configuration stays in force");
				}
				atomic_fetch_add(&S.ctl->hdr->reload_requests, 1);
				break;
			default:	/* SIGTERM, SIGINT */
				begin_stop();
				break;
			}
		}
		reap();
	}
	relay_logs();
	log_info("stopped");
	teardown();
	return S.exit_status;
}
