/*
 * The role table: every forkcast process, one row each, the way OpenBSD
 * httpd's proc.c declares its processes.  A row names the runner, the user
 * and groups, the filesystem view, the resource limits, the seccomp tables,
 * and the descriptors the process keeps; fc_role_enter() applies a row to
 * the calling process.  SECURITY.md's "What each process can do" is
 * printed from this table (tests/tools/roles_md.c), so what the document
 * says is what the code applies.
 *
 * Who calls what:
 *   - the supervisor's spawn path (server/supervisor.c kept_fds(),
 *     child_start()) reads fc_roles[role].fds to know which descriptor
 *     slots a child keeps, fills in their numbers, closes every other
 *     descriptor with fc_fds_close_except() (common/fds.h), and maps
 *     .runner to its run function;
 *   - a worker calls fc_role_lockdown(&fc_roles[FC_ROLE_WORKER], ...) once
 *     it holds every descriptor and thread it needs (server/supervisor.c
 *     worker_lockdown(), the lockdown callback of fc_worker_main);
 *   - capture calls fc_role_lockdown(&fc_roles[FC_ROLE_CAPTURE], ...) once
 *     the shared memory is attached (capture/main.c lockdown());
 *   - the supervisor's row only documents what it holds: nothing applies it.
 */
#ifndef FC_ROLE_H
#define FC_ROLE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "config.h"
#include "sandbox.h"

enum fc_role_id {
	FC_ROLE_SUPERVISOR = 0,
	FC_ROLE_CAPTURE,
	FC_ROLE_WORKER,
	FC_ROLE_COUNT
};

/* Descriptor slots: named descriptors a process holds.  The spawn path
 * fills in the numbers. */
enum fc_fd_slot {
	FC_FD_LOG = 0,		/* 0, 1, 2: stdin /dev/null, stdout and stderr
				 * on the supervisor's log pipe */
	FC_FD_BUS,		/* frame bus memfd */
	FC_FD_CTL,		/* control region memfd */
	FC_FD_CONF,		/* configuration region memfd (read-only) */
	FC_FD_TLS,		/* TLS region memfd (read-only), workers only */
	FC_FD_LISTEN,		/* listening sockets (one per `listen`) */
	FC_FD_PARENT,		/* worker: read end of its supervisor pipe */
	FC_FD_SIGNAL,		/* supervisor: its signalfd */
	FC_FD_LOG_READ,		/* supervisor: read end of the log pipe */
	FC_FD_STOP,		/* supervisor: write ends of the worker pipes */
	FC_FD_SLOT_COUNT
};

/* Name of a slot ("bus", "listen", ...), as --NAME-fd and in SECURITY.md. */
const char *fc_fd_slot_name(enum fc_fd_slot slot);

struct fc_role_fd {
	enum fc_fd_slot slot;
	const char *why;
};

/* Layers of a row (bits of fc_role.layers), in the order fc_role_enter()
 * applies them. */
#define FC_LAYER_CHROOT		(1u << 0)	/* chroot into the empty root
						 * (when root and one exists) */
#define FC_LAYER_USER		(1u << 1)	/* drop to `user` (+ groups) when root */
#define FC_LAYER_NODUMP		(1u << 2)	/* PR_SET_DUMPABLE 0 */
#define FC_LAYER_RLIMITS	(1u << 3)	/* the row's rlimits */
#define FC_LAYER_LANDLOCK_FS	(1u << 4)	/* Landlock: only fs_rules */
#define FC_LAYER_LANDLOCK_NET	(1u << 5)	/* Landlock: no TCP bind, and
						 * TCP connect only where
						 * fc_role.net_connect says */
#define FC_LAYER_LANDLOCK_SCOPE	(1u << 6)	/* Landlock: signals and
						 * abstract unix sockets stay
						 * inside the sandbox */
#define FC_LAYER_NNP		(1u << 7)	/* PR_SET_NO_NEW_PRIVS */
#define FC_LAYER_SECCOMP	(1u << 8)	/* the row's seccomp tables */
#define FC_LAYER_COUNT		9

/* Name of one layer bit ("chroot", "seccomp", ...). */
const char *fc_layer_name(unsigned bit);

/* Capture sources as a bit set: which rows depend on the configured
 * source (FC_SOURCES_ALL: every source, and every role without one). */
#define FC_SOURCE_BIT(kind)	(1u << (kind))
#define FC_SOURCES_ALL		0xffffffffu

struct fc_role_rlimit {
	int resource;			/* RLIMIT_* */
	const char *name;
	rlim_t value;			/* soft and hard */
	unsigned sources;		/* FC_SOURCE_BIT set */
	const char *why;
	bool frame_file;		/* value is fc_role_ctx.frame_file_max
					 * instead (when that is not 0) */
};

/* A filesystem path the Landlock layer allows.  path is absolute, or
 * "$device" / "$directory" (the configured capture.device, and
 * capture.directory or the bundled samples folder, filled in through
 * fc_role_ctx), or ends in '*' (every entry of that folder whose name
 * starts with what precedes the '*', as found when the sandbox is
 * entered). */
struct fc_role_path {
	const char *path;
	unsigned access;		/* FC_FS_* */
	unsigned sources;		/* FC_SOURCE_BIT set */
	const char *why;
};

struct fc_role_seccomp {
	const struct fc_sc_table *table;
	unsigned sources;		/* FC_SOURCE_BIT set */
	bool tls_only;			/* only when fc_role_ctx.tls */
};

struct fc_role {
	const char *name;		/* "worker": log prefix, SECURITY.md */
	const char *runner;		/* what the spawn path runs in the child */
	const char *user;		/* who it runs as */
	const char *const *groups;	/* supplementary groups, NULL-ended;
					 * NULL: none */
	unsigned layers;		/* FC_LAYER_* bits */
	unsigned net_connect;		/* sources that may connect over TCP */
	const struct fc_role_path *fs_rules;	/* with FC_LAYER_LANDLOCK_FS */
	size_t nfs_rules;
	const struct fc_role_rlimit *rlimits;	/* with FC_LAYER_RLIMITS */
	size_t nrlimits;
	const struct fc_role_seccomp *seccomp;	/* with FC_LAYER_SECCOMP */
	size_t nseccomp;
	const struct fc_role_fd *fds;	/* the descriptors it keeps (holds) */
	size_t nfds;
	const char *can;		/* what the role exists to do, for
					 * SECURITY.md */
};

extern const struct fc_role fc_roles[FC_ROLE_COUNT];

/* What fc_role_enter() needs that is only known at run time. */
struct fc_role_ctx {
	const struct fc_sandbox_user *user;	/* resolved while /etc/passwd
						 * was readable; NULL or
						 * !drop: keep the uid */
	const char *empty_dir;		/* FC_LAYER_CHROOT target; NULL when
					 * none is usable (not root, or it
					 * could not be prepared) */
	int pdeathsig;			/* re-armed after the uid change (the
					 * kernel clears it); 0: none */
	pid_t parent;			/* ... and this must still be the
					 * parent afterwards */
	enum fc_source_kind source;	/* capture: selects source rows */
	const char *device;		/* "$device" */
	const char *directory;		/* "$directory" */
	rlim_t frame_file_max;		/* a worker's largest frame file
					 * (server/frame.h FC_FRAME_FILE_MAX) */
	bool tls;			/* a worker serving listen addresses
					 * marked tls: adds the tls_only
					 * seccomp tables */
};

/* What fc_role_enter() did, for the log line fc_role_lockdown() writes. */
struct fc_role_report {
	bool chroot;
	bool uid_dropped;
	struct fc_landlock_report landlock;
	size_t paths;			/* Landlock fs rules added */
	bool seccomp;
};

/*
 * Applies a role's sandbox to the calling process, in this order: open the
 * Landlock paths (before a chroot can hide them), chroot, drop the user,
 * re-arm the parent-death signal, not dumpable, rlimits, Landlock (fs,
 * net, scope), no_new_privs, seccomp (to every thread).  Layers the kernel
 * lacks are skipped and logged with what is then not enforced.  Threads
 * the caller needs must exist before: RLIMIT_NPROC 0 stops pthread_create.
 * Returns 0, or -1 with a reason in err: the caller must exit without
 * serving (a half-applied sandbox is no state to run in).
 */
int fc_role_enter(const struct fc_role *row, const struct fc_role_ctx *ctx,
    struct fc_role_report *rep, char *err, size_t errlen);

/*
 * fc_role_enter() for a process about to serve: logs what was applied
 * ("sandbox: worker: user nobody, root chroot, landlock ABI 6 (fs nothing,
 * net on, scope on), seccomp on") or why it failed.  Returns 0, or
 * FC_EXIT_CONFIG: the caller exits without serving.
 */
int fc_role_lockdown(const struct fc_role *row, const struct fc_role_ctx *ctx);

/* The numbers of one spawn's descriptors, by slot (-1: none). */
struct fc_role_fdnums {
	int bus, ctl, conf, tls;
	const int *listen;		/* nlisten listening sockets */
	int nlisten;
	int parent;			/* a worker's end of its supervisor pipe */
};

/*
 * The descriptors row keeps, with this spawn's numbers: 0, 1 and 2 for
 * the log slot, then each other slot's numbers (supervisor-only slots are
 * never a child's).  Writes at most max into out; returns the count.  The
 * supervisor's spawn path and the escape suite both build the list a child
 * passes to fc_fds_close_except() with it.
 */
int fc_role_kept_fds(const struct fc_role *row,
    const struct fc_role_fdnums *nums, int *out, int max);

#endif
