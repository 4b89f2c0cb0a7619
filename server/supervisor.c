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
 * The configuration the children see is the exact text the supervisor
 * validated, handed over in a sealed memfd: a file edited between a reload
 * and a capture restart can never put an unvalidated config into a child.
 */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/bus.h"
#include "../common/clock.h"
#include "../common/config.h"
#include "../common/control.h"
#include "../common/log.h"
#include "../common/role.h"
#include "../common/sandbox.h"
#include "listen.h"
#include "worker.h"

#define MS (INT64_C(1000000))
#define BACKOFF_MIN_MS 250	/* first delay after a quick death */
#define BACKOFF_MAX_MS 10000
#define STABLE_MS 5000		/* a child that lived this long died "once" */
#define CONFIG_TEXT_MAX (1 << 20)

enum role { ROLE_CAPTURE, ROLE_WORKER };

static const char *const role_names[] = { "capture", "worker" };

struct child {
	enum role role;
	unsigned index;		/* worker slot in the control region */
	pid_t pid;		/* 0 when not running */
	bool wanted;		/* respawn when it exits */
	int stop_fd;		/* worker: write end of its stop pipe, -1 none */
	int64_t started_ns;	/* CLOCK_MONOTONIC */
	int64_t respawn_at_ns;	/* earliest next start */
	int64_t kill_at_ns;	/* retiring: SIGKILL after this, 0 = none */
	unsigned quick_deaths;	/* consecutive deaths before STABLE_MS */
};

struct supervisor {
	char path[FC_CONFIG_PATH_MAX];	/* the configuration file */
	struct fc_config cfg;		/* the running configuration */
	int cfg_fd;			/* sealed memfd holding its text */
	char exe_dir[PATH_MAX];		/* where forkcast-capture lives */
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
	int64_t stop_deadline_ns;
	bool pid_file_written;
};

static struct supervisor S;

static int prepare_sandbox(const struct fc_config *cfg);
static int write_pid_file(void);

/* Reads the whole configuration file (bounded). NULL + errno. */
static char *
read_text(const char *path, size_t *lenp)
{
	FILE *f;
	char *buf;
	size_t n;

	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	if ((buf = malloc(CONFIG_TEXT_MAX + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, CONFIG_TEXT_MAX + 1, f);
	fclose(f);
	if (n > CONFIG_TEXT_MAX) {
		free(buf);
		errno = EFBIG;
		return NULL;
	}
	buf[n] = '\0';
	if (memchr(buf, '\0', n) != NULL) {	/* the text would end early */
		free(buf);
		errno = EINVAL;
		return NULL;
	}
	*lenp = n;
	return buf;
}

/* Puts text into a sealed memfd for the children.  -1 + errno. */
static int
text_memfd(const char *text, size_t len)
{
	int fd;

	if ((fd = memfd_create("forkcast-config", MFD_CLOEXEC | MFD_ALLOW_SEALING)) == -1)
		return -1;
	if (write(fd, text, len) != (ssize_t)len ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
	    F_SEAL_SEAL) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Loads and validates the configuration.  On success fills *cfg and *fdp
 * (the memfd with the validated text) and returns 0; otherwise logs every
 * problem, one line each, and returns -1.
 */
static int
load_config(const char *path, struct fc_config *cfg, int *fdp)
{
	char *text, *errs = NULL;
	size_t len = 0, errlen = 0;
	FILE *ef;
	int n, fd;

	if ((text = read_text(path, &len)) == NULL) {
		log_warnx("%s:0: -: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if ((ef = open_memstream(&errs, &errlen)) == NULL) {
		free(text);
		return -1;
	}
	n = fc_config_load_string(cfg, path, text, ef);
	fclose(ef);
	if (n != 0) {
		for (char *line = strtok(errs, "\n"); line; line = strtok(NULL, "\n"))
			log_errorx("%s", line);
		free(errs);
		free(text);
		return -1;
	}
	free(errs);
	fd = text_memfd(text, len);
	free(text);
	if (fd == -1) {
		log_warn("config memfd");
		return -1;
	}
	*fdp = fd;
	return 0;
}

static const char *
child_name(const struct child *c, char *buf, size_t len)
{
	if (c->role == ROLE_WORKER)
		snprintf(buf, len, "worker %u", c->index);
	else
		snprintf(buf, len, "%s", role_names[c->role]);
	return buf;
}

/* Closes, in a freshly forked child, what only the supervisor needs. */
static void
child_common(void)
{
	sigset_t all;

	close(S.sfd);
	/* Children log into the supervisor's pipe, never into a file: their
	 * RLIMIT_FSIZE is 0, and a write to a file would kill them. */
	dup2(S.log_wr, STDERR_FILENO);
	close(S.log_wr);
	close(S.log_rd);
	for (unsigned i = 0; i < FC_CTL_MAX_WORKERS; i++)
		if (S.workers[i].stop_fd != -1)
			close(S.workers[i].stop_fd);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

/* The worker row of the role table (common/role.c), with what the
 * supervisor resolved while it could still read /etc/passwd.  A worker
 * dies with SIGKILL when the supervisor does. */
static int
worker_lockdown(void *arg)
{
	struct fc_role_ctx ctx;

	(void)arg;
	memset(&ctx, 0, sizeof(ctx));
	ctx.user = &S.worker_user;
	ctx.empty_dir = S.have_empty_dir ? FC_SANDBOX_EMPTY_DIR : NULL;
	ctx.pdeathsig = SIGKILL;
	ctx.parent = getppid();
	return fc_role_lockdown(&fc_roles[FC_ROLE_WORKER], &ctx);
}

static _Noreturn void
run_worker(struct child *c, int stop_rd, pid_t parent)
{
	struct fc_worker_args args;
	struct fc_bus *ro;
	char name[32];

	/* A supervisor killed with SIGKILL takes its workers with it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	child_common();
	fc_log_init(child_name(c, name, sizeof(name)), (enum fc_log_level)S.cfg.log_level);
	close(S.cfg_fd);

	/* Workers see the bus read-only: drop the supervisor's writable
	 * mapping once the read-only one exists. */
	if ((ro = fc_bus_attach(S.bus->fd, false)) == NULL)
		fatal("attach bus read-only");
	fc_bus_close(S.bus);
	S.bus = NULL;

	memset(&args, 0, sizeof(args));
	args.cfg = &S.cfg;
	args.index = c->index;
	args.bus = ro;
	args.ctl = S.ctl;
	args.listen_fds = S.listen_fds;
	args.nlisten = S.nlisten;
	args.parent_fd = stop_rd;
	args.lockdown = worker_lockdown;
	exit(fc_worker_main(&args));
}

static _Noreturn void
run_capture(void)
{
	char busfd[16], ctlfd[16], cfgpath[64], exe[PATH_MAX + 32];

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	child_common();
	fc_listen_close_all(S.listen_fds, S.nlisten);
	/* Hand the shared memory and the validated config across exec. */
	if (fcntl(S.bus->fd, F_SETFD, 0) == -1 || fcntl(S.ctl->fd, F_SETFD, 0) == -1 ||
	    fcntl(S.cfg_fd, F_SETFD, 0) == -1)
		_exit(1);
	snprintf(busfd, sizeof(busfd), "%d", S.bus->fd);
	snprintf(ctlfd, sizeof(ctlfd), "%d", S.ctl->fd);
	snprintf(cfgpath, sizeof(cfgpath), "/proc/self/fd/%d", S.cfg_fd);
	snprintf(exe, sizeof(exe), "%s/forkcast-capture", S.exe_dir);
	execl(exe, "forkcast-capture", "-c", cfgpath, "--bus-fd", busfd,
	    "--ctl-fd", ctlfd, (char *)NULL);
	log_error("exec %s", exe);
	_exit(FC_EXIT_CONFIG);
}

static void
spawn(struct child *c)
{
	char name[32];
	int p[2] = { -1, -1 };
	pid_t parent = getpid(), pid;

	if (c->role == ROLE_WORKER) {
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
		if (c->role == ROLE_WORKER) {
			close(p[1]);
			run_worker(c, p[0], parent);
		}
		run_capture();
	}
	c->pid = pid;
	c->started_ns = fc_now_mono_ns();
	c->kill_at_ns = 0;
	if (c->role == ROLE_WORKER) {
		close(p[0]);
		c->stop_fd = p[1];
		atomic_store(&S.ctl->hdr->workers[c->index].pid, pid);
	} else {
		atomic_store(&S.ctl->hdr->capture_pid, pid);
	}
	log_info("started %s (pid %ld)", child_name(c, name, sizeof(name)), (long)pid);
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
	if (c->pid > 0 && c->role == ROLE_CAPTURE)
		kill(c->pid, SIGTERM);
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

static void
reap(void)
{
	struct child *c;
	char name[32];
	int64_t now, lived_ms, delay_ms;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((c = find_child(pid)) == NULL)
			continue;
		now = fc_now_mono_ns();
		lived_ms = (now - c->started_ns) / MS;
		child_name(c, name, sizeof(name));
		if (WIFSIGNALED(status))
			log_warnx("%s (pid %ld) exited on signal %d after %lld ms", name,
			    (long)pid, WTERMSIG(status), (long long)lived_ms);
		else if (WEXITSTATUS(status) != 0)
			log_warnx("%s (pid %ld) exited with status %d after %lld ms",
			    name, (long)pid, WEXITSTATUS(status), (long long)lived_ms);
		else
			log_info("%s (pid %ld) exited", name, (long)pid);
		c->pid = 0;
		c->kill_at_ns = 0;
		if (c->stop_fd != -1) {
			close(c->stop_fd);
			c->stop_fd = -1;
		}
		if (c->role == ROLE_WORKER) {
			atomic_store(&S.ctl->hdr->workers[c->index].pid, 0);
			if (!c->wanted)	/* retired: free the slot for /status */
				fc_ctl_reset_worker(S.ctl, c->index);
		} else {
			atomic_store(&S.ctl->hdr->capture_pid, 0);
			atomic_fetch_add(&S.ctl->hdr->capture_restarts, 1);
		}
		if (!c->wanted || S.stopping)
			continue;
		if (WIFEXITED(status) && WEXITSTATUS(status) == FC_EXIT_CONFIG &&
		    c->role == ROLE_CAPTURE)
			log_errorx("capture reports an unusable environment; retrying slowly");
		/* Backoff: a child that ran for a while is restarted at once; one
		 * that keeps dying waits 0.25 s, 0.5 s, ... up to 10 s. */
		if (lived_ms >= STABLE_MS && !(WIFEXITED(status) &&
		    WEXITSTATUS(status) == FC_EXIT_CONFIG)) {
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
		if (strcmp(a->listen[i].text, b->listen[i].text) != 0)
			return true;
	return false;
}

/*
 * Opens the listening sockets of next into fds: an address the running
 * configuration already listens on keeps its socket (binding it twice
 * would fail), a new one is bound now.  All or nothing: -1 with err set
 * and nothing left open.
 */
static int
rebind(const struct fc_config *next, int *fds, char *err, size_t errlen)
{
	for (int i = 0; i < next->nlisten; i++) {
		fds[i] = -1;
		for (int j = 0; j < S.nlisten && fds[i] == -1; j++)
			if (strcmp(next->listen[i].text, S.cfg.listen[j].text) == 0)
				fds[i] = fcntl(S.listen_fds[j], F_DUPFD_CLOEXEC, 0);
		if (fds[i] == -1)
			fds[i] = fc_listen_open(&next->listen[i], next->backlog, err,
			    errlen);
		if (fds[i] == -1) {
			fc_listen_close_all(fds, i);
			return -1;
		}
	}
	return 0;
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

static void
reload(void)
{
	struct fc_config next;
	int fd, fds[FC_CONFIG_MAX_LISTEN];
	char err[256];
	bool restart_capture, new_sockets;

	log_info("reloading %s", S.path);
	if (load_config(S.path, &next, &fd) == -1) {
		log_errorx("reload refused: the running configuration stays in force");
		return;
	}
	new_sockets = listen_changed(&S.cfg, &next);
	if (new_sockets && next.workers * 2 > FC_CTL_MAX_WORKERS) {
		log_errorx("reload refused: changing the listen addresses needs room "
		    "for twice the workers while the old ones drain");
		close(fd);
		return;
	}
	if (new_sockets && rebind(&next, fds, err, sizeof(err)) == -1) {
		log_errorx("reload refused: %s", err);
		close(fd);
		return;
	}
	if (strcmp(next.user, S.cfg.user) != 0 && prepare_sandbox(&next) == -1) {
		log_errorx("reload refused: the running configuration stays in force");
		if (new_sockets)
			fc_listen_close_all(fds, next.nlisten);
		close(fd);
		return;
	}
	/* The bus was sized at start and every worker maps it: its geometry
	 * stays until the next restart. */
	if (next.max_frame_size != S.cfg.max_frame_size || next.slots != S.cfg.slots) {
		log_warnx("max_frame_size and slots apply at the next restart");
		next.max_frame_size = S.cfg.max_frame_size;
		next.slots = S.cfg.slots;
	}
	restart_capture = fc_config_capture_changed(&S.cfg, &next);
	if (strcmp(next.pid_file, S.cfg.pid_file) != 0 && S.pid_file_written) {
		/* forkcastctl finds us through the new file from now on. */
		unlink(S.cfg.pid_file);
		S.pid_file_written = false;
	}
	S.cfg = next;
	if (!S.pid_file_written)
		(void)write_pid_file();
	close(S.cfg_fd);
	S.cfg_fd = fd;
	fc_log_set_level((enum fc_log_level)S.cfg.log_level);
	atomic_fetch_add(&S.ctl->hdr->generation, 1);
	if (new_sockets) {
		/* New workers get the new sockets; the old ones drain. */
		fc_listen_close_all(S.listen_fds, S.nlisten);
		memcpy(S.listen_fds, fds, sizeof(int) * (size_t)S.cfg.nlisten);
		S.nlisten = S.cfg.nlisten;
		for (int i = 0; i < S.nlisten; i++)
			log_info("listening on http://%s/", S.cfg.listen[i].text);
		retire_all_workers();
	}
	set_worker_count(S.cfg.workers);
	if (restart_capture && S.capture.pid > 0) {
		log_info("capture settings changed: restarting capture");
		S.capture.quick_deaths = 0;
		ask_stop(&S.capture, fc_now_mono_ns() + 5000 * MS, false);
	}
	log_info("configuration generation %u in force",
	    atomic_load(&S.ctl->hdr->generation));
}

static void
begin_stop(void)
{
	int64_t deadline;

	if (S.stopping) {
		log_warnx("second stop request: killing children now");
		S.stop_deadline_ns = 0;
		return;
	}
	S.stopping = true;
	deadline = fc_now_mono_ns() + ((int64_t)S.cfg.shutdown_grace + 1) * 1000 * MS;
	S.stop_deadline_ns = deadline;
	log_info("stopping (grace %d s)", S.cfg.shutdown_grace);
	fc_listen_close_all(S.listen_fds, S.nlisten);
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

/* Starts what is due, kills what overstayed; returns ms until the next
 * timer (capped). */
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
		    c->role == ROLE_CAPTURE)) {
			if (now >= kill_at) {
				kill(c->pid, SIGKILL);
				c->kill_at_ns = 0;
			} else if (kill_at < next) {
				next = kill_at;
			}
		}
		if (c->pid == 0 && c->wanted && !S.stopping) {
			if (now >= c->respawn_at_ns)
				spawn(c);
			else if (c->respawn_at_ns < next)
				next = c->respawn_at_ns;
		}
	}
	return (int)((next - now) / MS) + 1;
}

/* Refuses to start when a live supervisor owns the pid file; a stale
 * file (its process gone, or not forkcast) is taken over. */
static int
check_pid_file(void)
{
	FILE *f;
	long pid;

	if ((f = fopen(S.cfg.pid_file, "re")) != NULL) {
		if (fscanf(f, "%ld", &pid) == 1 && pid > 0 && pid != getpid() &&
		    kill((pid_t)pid, 0) == 0) {
			char exe[64], target[PATH_MAX];
			ssize_t r;

			snprintf(exe, sizeof(exe), "/proc/%ld/exe", pid);
			r = readlink(exe, target, sizeof(target) - 1);
			if (r > 0) {
				target[r] = '\0';
				if (strstr(target, "forkcast") != NULL) {
					fclose(f);
					log_errorx("already running (pid %ld, %s)", pid,
					    S.cfg.pid_file);
					return -1;
				}
			}
		}
		fclose(f);
	}
	return 0;
}

/* Writes the pid file (after the sockets are bound). */
static int
write_pid_file(void)
{
	char buf[32];
	int fd, n;

	fd = open(S.cfg.pid_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0644);
	if (fd == -1) {
		log_error("pid file %s", S.cfg.pid_file);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		log_error("pid file %s", S.cfg.pid_file);
		close(fd);
		return -1;
	}
	close(fd);
	S.pid_file_written = true;
	return 0;
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

static int
setup(const char *path)
{
	char err[256];
	sigset_t set;
	ssize_t r;

	snprintf(S.path, sizeof(S.path), "%s", path);
	S.cfg_fd = -1;
	S.sfd = -1;
	S.log_rd = S.log_wr = -1;
	S.capture.role = ROLE_CAPTURE;
	S.capture.stop_fd = -1;
	for (unsigned i = 0; i < FC_CTL_MAX_WORKERS; i++) {
		S.workers[i].role = ROLE_WORKER;
		S.workers[i].index = i;
		S.workers[i].stop_fd = -1;
	}
	for (int i = 0; i < FC_CONFIG_MAX_LISTEN; i++)
		S.listen_fds[i] = -1;

	if (load_config(path, &S.cfg, &S.cfg_fd) == -1)
		return FC_EXIT_CONFIG;
	fc_log_set_level((enum fc_log_level)S.cfg.log_level);

	if (S.cfg.log_file[0] != '\0') {
		int fd = open(S.cfg.log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		    0640);
		if (fd == -1) {
			log_error("log file %s", S.cfg.log_file);
			return FC_EXIT_CONFIG;
		}
		dup2(fd, STDERR_FILENO);
		close(fd);
	}

	if (prepare_sandbox(&S.cfg) == -1)
		return FC_EXIT_CONFIG;

	r = readlink("/proc/self/exe", S.exe_dir, sizeof(S.exe_dir) - 1);
	if (r <= 0) {
		log_error("readlink /proc/self/exe");
		return FC_EXIT_CONFIG;
	}
	S.exe_dir[r] = '\0';
	*strrchr(S.exe_dir, '/') = '\0';

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

	if (check_pid_file() == -1)
		return 1;
	if (fc_listen_open_all(&S.cfg, S.listen_fds, err, sizeof(err)) == -1) {
		log_errorx("%s", err);
		return FC_EXIT_CONFIG;
	}
	S.nlisten = S.cfg.nlisten;

	if ((S.bus = fc_bus_create((unsigned)S.cfg.slots, S.cfg.max_frame_size)) == NULL) {
		log_error("create frame bus");
		return 1;
	}
	if ((S.ctl = fc_ctl_create()) == NULL) {
		log_error("create control region");
		return 1;
	}
	atomic_store(&S.ctl->hdr->generation, 1);
	atomic_store(&S.ctl->hdr->supervisor_pid, getpid());
	atomic_store(&S.ctl->hdr->started_real_ns, fc_now_real_ns());
	atomic_store(&S.ctl->hdr->started_mono_ns, fc_now_mono_ns());

	if (write_pid_file() == -1)
		return 1;
	return 0;
}

static void
teardown(void)
{
	if (S.pid_file_written)
		unlink(S.cfg.pid_file);
	fc_listen_close_all(S.listen_fds, S.nlisten);
	fc_bus_close(S.bus);
	fc_ctl_close(S.ctl);
	if (S.cfg_fd != -1)
		close(S.cfg_fd);
	if (S.sfd != -1)
		close(S.sfd);
	if (S.log_rd != -1)
		close(S.log_rd);
	if (S.log_wr != -1)
		close(S.log_wr);
}

/* Copies what the children logged to the supervisor's stderr (the log
 * file or the terminal).  Each child line arrives in one pipe write. */
static void
relay_logs(void)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(S.log_rd, buf, sizeof(buf))) > 0) {
		ssize_t off = 0;

		while (off < n) {
			ssize_t w = write(STDERR_FILENO, buf + off, (size_t)(n - off));
			if (w <= 0)
				return;	/* log target gone: drop, keep running */
			off += w;
		}
	}
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
	for (int i = 0; i < S.cfg.nlisten; i++)
		log_info("listening on http://%s/", S.cfg.listen[i].text);
	S.capture.wanted = true;
	set_worker_count(S.cfg.workers);

	for (;;) {
		timeout = tick();
		if (S.stopping && !any_child())
			break;
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
				if (!S.stopping)
					reload();
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
	return 0;
}
