/*
 * The role table and the one function that applies a row; see role.h.
 */
#include "role.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "policy.h"

#define SRC(k)		FC_SOURCE_BIT(FC_SOURCE_##k)
#define NOT_LIBCAMERA	(FC_SOURCES_ALL & ~SRC(LIBCAMERA))

static const char *const slot_names[FC_FD_SLOT_COUNT] = {
	[FC_FD_LOG] = "log",
	[FC_FD_BUS] = "bus",
	[FC_FD_CTL] = "ctl",
	[FC_FD_CONF] = "conf",
	[FC_FD_TLS] = "tls",
	[FC_FD_LISTEN] = "listen",
	[FC_FD_PARENT] = "parent",
	[FC_FD_SIGNAL] = "signal",
	[FC_FD_LOG_READ] = "log-read",
	[FC_FD_STOP] = "stop",
};

static const char *const layer_names[FC_LAYER_COUNT] = {
	"chroot", "user", "not dumpable", "rlimits", "landlock fs",
	"landlock net", "landlock scope", "no_new_privs", "seccomp",
};

const char *
fc_fd_slot_name(enum fc_fd_slot slot)
{
	return (unsigned)slot < FC_FD_SLOT_COUNT ? slot_names[slot] : "?";
}

const char *
fc_layer_name(unsigned bit)
{
	for (unsigned i = 0; i < FC_LAYER_COUNT; i++)
		if (bit == 1u << i)
			return layer_names[i];
	return "?";
}

/* --- the supervisor: documented, never applied --- */

static const struct fc_role_fd supervisor_fds[] = {
	{ FC_FD_LOG, "its stderr is the log file or the terminal" },
	{ FC_FD_LISTEN, "binds them (again on reload) and hands them to workers" },
	{ FC_FD_BUS, "creates the frame bus (read-write) for capture and "
	    "workers" },
	{ FC_FD_CTL, "creates the control region; zeroes a worker's stats "
	    "slot when it respawns it" },
	{ FC_FD_CONF, "publishes the validated configuration, and each "
	    "reload's next generation, in the configuration region" },
	{ FC_FD_TLS, "publishes the certificate chain and key it read for "
	    "listen addresses marked tls, again at each reload, in the TLS "
	    "region (made only when an address is marked tls)" },
	{ FC_FD_SIGNAL, "every signal reaches its loop through a signalfd" },
	{ FC_FD_LOG_READ, "reads the children's log lines and relays them" },
	{ FC_FD_STOP, "tells each worker to retire or stop" },
};

/* --- capture --- */

static const char *const capture_groups[] = { "video", NULL };

static const struct fc_role_fd capture_fds[] = {
	{ FC_FD_LOG, "log lines go to the supervisor" },
	{ FC_FD_BUS, "publishes frames (the only writer)" },
	{ FC_FD_CTL, "reads the viewer count and the demand word" },
	{ FC_FD_CONF, "the supervisor's descriptor, reopened read-only "
	    "(fc_confreg_attach) and closed: the configuration in force, and "
	    "each reload's next generation" },
};

static const struct fc_role_rlimit capture_rlimits[] = {
	{ RLIMIT_CORE, "RLIMIT_CORE", 0, FC_SOURCES_ALL,
	    "no core dump of camera data", false },
	{ RLIMIT_FSIZE, "RLIMIT_FSIZE", 0, FC_SOURCES_ALL,
	    "writes no file (a write to one raises SIGXFSZ)", false },
	{ RLIMIT_NPROC, "RLIMIT_NPROC", 0, NOT_LIBCAMERA,
	    "no process or thread (libcamera starts threads of its own)",
	    false },
};

static const struct fc_role_path capture_paths[] = {
	{ "/etc/hosts", FC_FS_READ, SRC(HTTP),
	    "glibc getaddrinfo(): names from the hosts file" },
	{ "/etc/resolv.conf", FC_FS_READ, SRC(HTTP),
	    "glibc's resolver: the name servers" },
	{ "/etc/host.conf", FC_FS_READ, SRC(HTTP),
	    "glibc's resolver options" },
	{ "/etc/nsswitch.conf", FC_FS_READ, SRC(HTTP),
	    "glibc reads it before a lookup (capture/main.c makes hosts "
	    "lookups use files and dns only, built into glibc)" },
	{ "/etc/gai.conf", FC_FS_READ, SRC(HTTP),
	    "glibc getaddrinfo(): sorting several addresses" },
	{ "$directory", FC_FS_READ, SRC(FILES),
	    "the JPEG folder (capture.directory, or the bundled samples)" },
	{ "$device", FC_FS_READ | FC_FS_WRITE | FC_FS_IOCTL, SRC(V4L2),
	    "the camera (capture.device), opened read-write" },
	{ "/dev/media*", FC_FS_READ | FC_FS_WRITE | FC_FS_IOCTL, SRC(LIBCAMERA),
	    "libcamera: media controller devices" },
	{ "/dev/video*", FC_FS_READ | FC_FS_WRITE | FC_FS_IOCTL, SRC(LIBCAMERA),
	    "libcamera: V4L2 video nodes" },
	{ "/dev/v4l-subdev*", FC_FS_READ | FC_FS_WRITE | FC_FS_IOCTL,
	    SRC(LIBCAMERA), "libcamera: sensor sub-devices" },
	{ "/dev/dma_heap", FC_FS_READ | FC_FS_WRITE | FC_FS_IOCTL,
	    SRC(LIBCAMERA), "libcamera: buffer allocation" },
	{ "/dev/udmabuf", FC_FS_READ | FC_FS_WRITE | FC_FS_IOCTL,
	    SRC(LIBCAMERA), "libcamera: buffer allocation" },
	{ "/sys", FC_FS_READ, SRC(LIBCAMERA),
	    "libcamera and libudev: device enumeration" },
	{ "/run/udev", FC_FS_READ, SRC(LIBCAMERA),
	    "libudev: the device database" },
	{ "/etc/udev", FC_FS_READ, SRC(LIBCAMERA), "libudev: udev.conf" },
	{ "/usr/share/libcamera", FC_FS_READ, SRC(LIBCAMERA),
	    "libcamera: pipeline and IPA tuning files" },
	{ "/etc/libcamera", FC_FS_READ, SRC(LIBCAMERA),
	    "libcamera: its configuration file, where there is one" },
	{ "/usr/lib", FC_FS_READ | FC_FS_EXEC, SRC(LIBCAMERA),
	    "libcamera: IPA modules (/usr/lib/ARCH/libcamera) and the "
	    "libraries an isolated IPA process loads" },
	{ "/usr/libexec/libcamera", FC_FS_READ | FC_FS_EXEC, SRC(LIBCAMERA),
	    "libcamera: the proxy that runs an IPA module in its own process" },
	{ "/etc/ld.so.cache", FC_FS_READ, SRC(LIBCAMERA),
	    "the dynamic loader of an isolated IPA process" },
};

static const struct fc_role_seccomp capture_seccomp[] = {
	{ &fc_policy_capture, NOT_LIBCAMERA, false },
	{ &fc_policy_capture_files, SRC(FILES), false },
	{ &fc_policy_capture_v4l2, SRC(V4L2), false },
	{ &fc_policy_capture_http, SRC(HTTP), false },
	{ &fc_policy_capture_libcamera, SRC(LIBCAMERA), false },
};

/* --- workers --- */

static const struct fc_role_fd worker_fds[] = {
	{ FC_FD_LOG, "log lines go to the supervisor" },
	{ FC_FD_BUS, "the supervisor's descriptor, reopened read-only "
	    "(fc_bus_attach) and closed before the sandbox is entered" },
	{ FC_FD_CTL, "its own stats slot; /status and /metrics read them all" },
	{ FC_FD_CONF, "the supervisor's descriptor, reopened read-only "
	    "(fc_confreg_attach) and closed before the sandbox is entered; "
	    "each reload's next generation is read from the read-only one" },
	{ FC_FD_TLS, "with listen addresses marked tls: the supervisor's "
	    "descriptor, reopened read-only (fc_tlsreg_attach) and closed "
	    "before the sandbox is entered; the certificate and key, and each "
	    "reload's renewed ones, are read from the read-only mapping" },
	{ FC_FD_LISTEN, "accepts clients (shared by every worker)" },
	{ FC_FD_PARENT, "EOF: retire; 'S' then EOF: stop" },
};

static const struct fc_role_rlimit worker_rlimits[] = {
	{ RLIMIT_CORE, "RLIMIT_CORE", 0, FC_SOURCES_ALL,
	    "no core dump of client data", false },
	{ RLIMIT_FSIZE, "RLIMIT_FSIZE", 0, FC_SOURCES_ALL,
	    "the sealed memory file each frame is sent from "
	    "(server/frame.c) holds the bus's slot capacity "
	    "(max_frame_size) plus room for the part head and tail; no file "
	    "may grow past that (a longer write raises SIGXFSZ)", true },
	{ RLIMIT_NPROC, "RLIMIT_NPROC", 0, FC_SOURCES_ALL,
	    "no process or thread (the watcher thread exists before)", false },
};

static const struct fc_role_seccomp worker_seccomp[] = {
	{ &fc_policy_worker, FC_SOURCES_ALL, false },
	{ &fc_policy_worker_tls, FC_SOURCES_ALL, true },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

const struct fc_role fc_roles[FC_ROLE_COUNT] = {
	[FC_ROLE_SUPERVISOR] = {
		.name = "supervisor",
		.runner = "fc_supervisor_run (server/supervisor.c)",
		.user = "the user that started it",
		.groups = NULL,
		.layers = 0,
		.fds = supervisor_fds, .nfds = N(supervisor_fds),
		.can = "reads the configuration file, binds the listening "
		    "sockets, creates the three shared-memory regions (four "
		    "with TLS), reads the TLS certificate and key, forks "
		    "the children and respawns them, creates, locks and writes "
		    "its own pid file, relays the children's log lines; never "
		    "reads a byte from a client",
	},
	[FC_ROLE_CAPTURE] = {
		.name = "capture",
		.runner = "run_capture (server/supervisor.c) execs "
		    "forkcast-capture (capture/main.c)",
		.user = "`user` (default nobody)",
		.groups = capture_groups,
		.layers = FC_LAYER_USER | FC_LAYER_NODUMP | FC_LAYER_RLIMITS |
		    FC_LAYER_LANDLOCK_FS | FC_LAYER_LANDLOCK_NET |
		    FC_LAYER_LANDLOCK_SCOPE | FC_LAYER_NNP | FC_LAYER_SECCOMP,
		.net_connect = SRC(HTTP),
		.fs_rules = capture_paths, .nfs_rules = N(capture_paths),
		.rlimits = capture_rlimits, .nrlimits = N(capture_rlimits),
		.seccomp = capture_seccomp, .nseccomp = N(capture_seccomp),
		.fds = capture_fds, .nfds = N(capture_fds),
		.can = "opens its source (again after a failure), encodes, "
		    "publishes frames into the bus, pauses while nobody "
		    "watches",
	},
	[FC_ROLE_WORKER] = {
		.name = "worker",
		.runner = "run_worker (server/supervisor.c) calls "
		    "fc_worker_main (server/worker.c)",
		.user = "`user` (default nobody)",
		.groups = NULL,
		.layers = FC_LAYER_CHROOT | FC_LAYER_USER | FC_LAYER_NODUMP |
		    FC_LAYER_RLIMITS | FC_LAYER_LANDLOCK_FS |
		    FC_LAYER_LANDLOCK_NET | FC_LAYER_LANDLOCK_SCOPE |
		    FC_LAYER_NNP | FC_LAYER_SECCOMP,
		.net_connect = 0,
		.fs_rules = NULL, .nfs_rules = 0,
		.rlimits = worker_rlimits, .nrlimits = N(worker_rlimits),
		.seccomp = worker_seccomp, .nseccomp = N(worker_seccomp),
		.fds = worker_fds, .nfds = N(worker_fds),
		.can = "accepts clients on the shared listening sockets, reads "
		    "requests, streams frames from the bus (mapped read-only), "
		    "writes its own stats slot, wakes a paused capture",
	},
};

/* --- fc_role_enter --- */

#define MAX_PATHS 128

struct paths {
	struct fc_landlock_path p[MAX_PATHS];
	size_t n;
};

static void
paths_close(struct paths *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		if (ps->p[i].fd >= 0)
			close(ps->p[i].fd);
	ps->n = 0;
}

static int
add_path(struct paths *ps, const char *path, unsigned access,
    const char *role, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (ps->n == MAX_PATHS) {
		snprintf(err, errlen, "more than %d Landlock paths", MAX_PATHS);
		return -1;
	}
	if ((fd = open(path, O_PATH | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		/* Absent here (e.g. no /etc/gai.conf): nothing to allow. */
		log_info("sandbox: %s: %s: %s: not reachable inside", role,
		    path, strerror(errno));
		if (fd != -1)
			close(fd);
		return 0;
	}
	ps->p[ps->n].fd = fd;
	ps->p[ps->n].access = access;
	ps->p[ps->n].is_dir = S_ISDIR(st.st_mode);
	ps->n++;
	return 0;
}

/* "DIR/PREFIX*": every entry of DIR whose name starts with PREFIX. */
static int
add_glob(struct paths *ps, const char *pattern, unsigned access,
    const char *role, char *err, size_t errlen)
{
	char dir[256], path[512];
	const char *slash = strrchr(pattern, '/');
	size_t plen;
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (slash == NULL || (size_t)(slash - pattern) >= sizeof(dir))
		return 0;
	memcpy(dir, pattern, (size_t)(slash - pattern));
	dir[slash - pattern] = '\0';
	plen = strlen(slash + 1) - 1;	/* without the '*' */
	if ((d = opendir(dir[0] ? dir : "/")) == NULL)
		return 0;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strncmp(e->d_name, slash + 1, plen) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		rc = add_path(ps, path, access, role, err, errlen);
	}
	closedir(d);
	return rc;
}

static int
open_paths(const struct fc_role *row, const struct fc_role_ctx *ctx,
    struct paths *ps, char *err, size_t errlen)
{
	unsigned bit = FC_SOURCE_BIT(ctx->source);

	for (size_t i = 0; i < row->nfs_rules; i++) {
		const struct fc_role_path *r = &row->fs_rules[i];
		const char *path = r->path;
		size_t len = strlen(path);
		int rc;

		if (!(r->sources & bit))
			continue;
		if (strcmp(path, "$device") == 0)
			path = ctx->device;
		else if (strcmp(path, "$directory") == 0)
			path = ctx->directory;
		if (path == NULL || path[0] == '\0') {
			log_warnx("sandbox: %s: no path for %s: nothing allowed "
			    "there", row->name, r->path);
			continue;
		}
		if (len > 0 && r->path[len - 1] == '*')
			rc = add_glob(ps, path, r->access, row->name, err, errlen);
		else
			rc = add_path(ps, path, r->access, row->name, err, errlen);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* What the kernel's Landlock does not enforce of what the row asks (ABI 0:
 * no Landlock at all), one warning per gap. */
static void
log_landlock_gaps(const struct fc_role *row, const struct fc_landlock_report *ll)
{
	const char *role = row->name;
	unsigned L = row->layers;

	if ((L & FC_LAYER_LANDLOCK_FS) && !ll->fs)
		log_warnx("sandbox: %s: Landlock ABI %d: the filesystem is %s",
		    role, ll->abi, (L & FC_LAYER_CHROOT) ? "hidden only by the "
		    "chroot (when started as root)" : "limited only by file "
		    "permissions");
	if ((L & FC_LAYER_LANDLOCK_FS) && ll->fs && !ll->truncate)
		log_warnx("sandbox: %s: Landlock ABI %d: truncating files is "
		    "not restricted by Landlock", role, ll->abi);
	if ((L & FC_LAYER_LANDLOCK_FS) && ll->fs && !ll->ioctl_dev)
		log_warnx("sandbox: %s: Landlock ABI %d: ioctl on device nodes "
		    "is not restricted by Landlock (seccomp still filters "
		    "ioctl)", role, ll->abi);
	if ((L & FC_LAYER_LANDLOCK_NET) && !ll->net)
		log_warnx("sandbox: %s: Landlock ABI %d: TCP bind and connect "
		    "are not restricted by Landlock", role, ll->abi);
	if ((L & FC_LAYER_LANDLOCK_SCOPE) && !ll->scope)
		log_warnx("sandbox: %s: Landlock ABI %d: signals and abstract "
		    "unix sockets are not scoped by Landlock (seccomp and the "
		    "uid still limit them)", role, ll->abi);
}

int
fc_role_enter(const struct fc_role *row, const struct fc_role_ctx *ctx,
    struct fc_role_report *rep, char *err, size_t errlen)
{
	const struct fc_sc_table *tables[8];
	struct fc_landlock_spec spec;
	struct paths ps;
	unsigned bit = FC_SOURCE_BIT(ctx->source), L = row->layers;
	size_t nt = 0;
	int rc = -1;

	memset(rep, 0, sizeof(*rep));
	memset(&ps, 0, sizeof(ps));
	if (L == 0) {
		snprintf(err, errlen, "role %s has no sandbox", row->name);
		return -1;
	}
	/* 1. What the jail will hide: glibc reads /etc/localtime the first
	 * time a process converts a time (gmtime_r in common/log.c, the
	 * test pattern's localtime_r), then keeps it.  And the Landlock
	 * paths, while the whole filesystem is reachable. */
	tzset();
	if ((L & FC_LAYER_LANDLOCK_FS) &&
	    open_paths(row, ctx, &ps, err, errlen) == -1)
		goto done;
	rep->paths = ps.n;

	/* 2. The empty root. */
	if ((L & FC_LAYER_CHROOT) && ctx->empty_dir != NULL && geteuid() == 0) {
		if (chroot(ctx->empty_dir) == -1 || chdir("/") == -1) {
			snprintf(err, errlen, "chroot %s: %s", ctx->empty_dir,
			    strerror(errno));
			goto done;
		}
		rep->chroot = true;
	}

	/* 3. The unprivileged user. */
	if ((L & FC_LAYER_USER) && ctx->user != NULL && ctx->user->drop) {
		if (fc_sandbox_drop_user(ctx->user, err, errlen) == -1)
			goto done;
		rep->uid_dropped = true;
	}
	/* A credential change clears the parent-death signal: set it again,
	 * then make sure the parent did not die in between. */
	if (ctx->pdeathsig != 0) {
		if (prctl(PR_SET_PDEATHSIG, ctx->pdeathsig, 0, 0, 0) == -1) {
			snprintf(err, errlen, "prctl(PR_SET_PDEATHSIG): %s",
			    strerror(errno));
			goto done;
		}
		if (getppid() != ctx->parent) {
			snprintf(err, errlen, "parent %ld is gone",
			    (long)ctx->parent);
			goto done;
		}
	}

	/* 4. Not dumpable: no core, no ptrace by the same uid, /proc/PID
	 * owned by root. */
	if ((L & FC_LAYER_NODUMP) && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
		snprintf(err, errlen, "prctl(PR_SET_DUMPABLE): %s", strerror(errno));
		goto done;
	}

	/* 5. Resource limits. */
	for (size_t i = 0; (L & FC_LAYER_RLIMITS) && i < row->nrlimits; i++) {
		const struct fc_role_rlimit *r = &row->rlimits[i];
		rlim_t v = r->frame_file && ctx->frame_file_max != 0 ?
		    ctx->frame_file_max : r->value;
		struct rlimit rl = { v, v };

		if ((r->sources & bit) && setrlimit(r->resource, &rl) == -1) {
			snprintf(err, errlen, "setrlimit(%s): %s", r->name,
			    strerror(errno));
			goto done;
		}
	}

	/* 6. Landlock. */
	memset(&spec, 0, sizeof(spec));
	spec.fs = (L & FC_LAYER_LANDLOCK_FS) != 0;
	spec.paths = ps.p;
	spec.npaths = ps.n;
	spec.net = (L & FC_LAYER_LANDLOCK_NET) != 0;
	spec.net_connect = (row->net_connect & bit) != 0;
	spec.scope = (L & FC_LAYER_LANDLOCK_SCOPE) != 0;
	if (spec.fs || spec.net || spec.scope) {
		if (fc_landlock_apply(&spec, &rep->landlock, err, errlen) == -1)
			goto done;
		log_landlock_gaps(row, &rep->landlock);
	}

	/* 7. no_new_privs (Landlock and seccomp set it too). */
	if ((L & FC_LAYER_NNP) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s",
		    strerror(errno));
		goto done;
	}

	/* 8. seccomp, last: everything above needs calls it forbids. */
	if (L & FC_LAYER_SECCOMP) {
		for (size_t i = 0; i < row->nseccomp; i++) {
			if (!(row->seccomp[i].sources & bit) ||
			    (row->seccomp[i].tls_only && !ctx->tls))
				continue;
			if (nt == sizeof(tables) / sizeof(tables[0])) {
				snprintf(err, errlen, "too many seccomp tables");
				goto done;
			}
			tables[nt++] = row->seccomp[i].table;
		}
		if (nt > 0) {
			if (fc_sandbox_seccomp(tables, nt, true, err, errlen) == -1)
				goto done;
			rep->seccomp = true;
		}
	}
	rc = 0;
done:
	paths_close(&ps);
	return rc;
}

/* One line saying what rep enforced, e.g. "user nobody, root chroot,
 * landlock ABI 6 (fs nothing, net on, scope on), seccomp on". */
static void
describe(const struct fc_role_report *rep,
    const struct fc_role_ctx *ctx, char *buf, size_t len)
{
	const struct fc_landlock_report *ll = &rep->landlock;
	char lbuf[96] = "";

	if (ll->abi > 0)
		snprintf(lbuf, sizeof(lbuf), "landlock ABI %d (fs %s, net %s, "
		    "scope %s)", ll->abi, ll->fs ? (rep->paths ? "paths" :
		    "nothing") : "off", ll->net ? "on" : "off",
		    ll->scope ? "on" : "off");
	else
		snprintf(lbuf, sizeof(lbuf), "no landlock");
	snprintf(buf, len, "user %s, root %s, %s, seccomp %s",
	    rep->uid_dropped ? ctx->user->name : "unchanged",
	    rep->chroot ? "chroot" : "unchanged", lbuf,
	    rep->seccomp ? "on" : "off");
}

int
fc_role_lockdown(const struct fc_role *row, const struct fc_role_ctx *ctx)
{
	struct fc_role_report rep;
	char err[256], line[256];

	if (fc_role_enter(row, ctx, &rep, err, sizeof(err)) == -1) {
		log_errorx("sandbox: %s: %s", row->name, err);
		return FC_EXIT_CONFIG;
	}
	describe(&rep, ctx, line, sizeof(line));
	log_info("sandbox: %s: %s", row->name, line);
	return 0;
}

/* Appends fd to out unless it is -1 or out is full. */
static void
keep(int *out, int *n, int max, int fd)
{
	if (fd >= 0 && *n < max)
		out[(*n)++] = fd;
}

int
fc_role_kept_fds(const struct fc_role *row, const struct fc_role_fdnums *nums,
    int *out, int max)
{
	int n = 0;

	for (size_t i = 0; i < row->nfds; i++) {
		switch (row->fds[i].slot) {
		case FC_FD_LOG:
			keep(out, &n, max, STDIN_FILENO);
			keep(out, &n, max, STDOUT_FILENO);
			keep(out, &n, max, STDERR_FILENO);
			break;
		case FC_FD_BUS:
			keep(out, &n, max, nums->bus);
			break;
		case FC_FD_CTL:
			keep(out, &n, max, nums->ctl);
			break;
		case FC_FD_CONF:
			keep(out, &n, max, nums->conf);
			break;
		case FC_FD_TLS:
			keep(out, &n, max, nums->tls);
			break;
		case FC_FD_LISTEN:
			for (int j = 0; j < nums->nlisten; j++)
				keep(out, &n, max, nums->listen[j]);
			break;
		case FC_FD_PARENT:
			keep(out, &n, max, nums->parent);
			break;
		case FC_FD_SIGNAL:	/* the supervisor's own: never a child's */
		case FC_FD_LOG_READ:
		case FC_FD_STOP:
		case FC_FD_SLOT_COUNT:
			break;
		}
	}
	return n;
}
