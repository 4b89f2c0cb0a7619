/*
 * The sandbox mechanism: privilege drop, an empty filesystem view, resource
 * limits and a seccomp allowlist.  The policies (which syscalls a role may
 * make, and why) are data, one table per role: server/worker_policy.c and
 * capture/capture_policy.c.  This module only applies them.
 *
 * Order matters and fc_sandbox_apply() keeps it:
 *   1. empty root: chroot into an empty root-owned directory (needs root),
 *      else Landlock with no allowed paths, else nothing (logged)
 *   2. setgroups / setresgid / setresuid to the unprivileged user, and a
 *      check that the drop cannot be undone
 *   3. PR_SET_NO_NEW_PRIVS, PR_SET_DUMPABLE 0, RLIMIT_NPROC/FSIZE/CORE 0
 *   4. the seccomp filter (default action: kill the process), synchronised
 *      to every thread of the process (TSYNC)
 * Threads the caller needs must exist before step 3: RLIMIT_NPROC 0 also
 * stops pthread_create for an unprivileged user.
 *
 * Build with -DFC_SECCOMP_TRAP to trap instead of kill: the process then
 * logs the number of the refused syscall before it exits (debugging only).
 */
#ifndef FC_SANDBOX_H
#define FC_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FC_SANDBOX_EMPTY_DIR "/var/empty/forkcast"

/* What a seccomp rule does with a matching call. */
enum fc_sc_action {
	FC_SC_ALLOW = 0,
	FC_SC_ERRNO,	/* soft denial: fail with rule.err instead of killing */
};

/* One argument condition, applied as libseccomp's scmp_arg_cmp. */
struct fc_sc_arg {
	unsigned arg;		/* argument index 0..5 */
	int op;			/* enum scmp_compare (SCMP_CMP_EQ, ...) */
	uint64_t a, b;		/* datum_a, datum_b (mask and value for MASKED_EQ) */
};

/* One line of a policy table. */
struct fc_sc_rule {
	const char *syscall;	/* name, resolved for the native architecture */
	enum fc_sc_action action;
	int err;		/* errno for FC_SC_ERRNO */
	unsigned nargs;		/* conditions, ANDed; several rules for one
				 * syscall are ORed */
	struct fc_sc_arg args[3];
	const char *why;	/* the reason, for the reader of the table */
};

struct fc_sandbox_user {
	bool drop;		/* false when not started as root */
	uid_t uid;
	gid_t gid;
	gid_t extra_gid;	/* e.g. "video" for capture */
	bool has_extra;
	char name[64];
};

/* What fc_sandbox_apply() actually did (for the log and tests). */
struct fc_sandbox_report {
	const char *fs;		/* "chroot", "landlock", or "none" */
	bool uid_dropped;
	bool seccomp;
};

struct fc_sandbox_policy {
	const char *role;			/* "worker", "capture" */
	const struct fc_sandbox_user *user;	/* NULL: keep the uid */
	bool empty_root;			/* chroot/Landlock to nothing */
	const char *empty_dir;			/* chroot target */
	bool no_processes;			/* RLIMIT_NPROC 0 */
	int pdeathsig;				/* re-armed after the uid drop
						 * (the kernel clears it), 0 none */
	pid_t parent;				/* expected parent, with pdeathsig */
	const struct fc_sc_rule *rules;		/* NULL: no seccomp */
	size_t nrules;
};

/*
 * Looks up user (and, when extra_group is not NULL, that group) for a later
 * drop.  Must run before any chroot (it reads /etc/passwd).  When the
 * process is not root, u->drop is false and the call succeeds: the other
 * layers still apply.  Returns 0, or -1 with a reason in err.
 */
int fc_sandbox_resolve_user(const char *user, const char *extra_group,
    struct fc_sandbox_user *u, char *err, size_t errlen);

/* Creates dir (and parents) as an empty, root-owned, mode 0555 directory,
 * or checks that an existing one is exactly that.  Root only. */
int fc_sandbox_prepare_empty_dir(const char *dir, char *err, size_t errlen);

/*
 * Applies every layer the policy asks for, in the order above.  Returns 0
 * and fills *rep, or -1 with a reason in err (the caller must then exit:
 * a half-applied sandbox is not a state to serve from).
 */
int fc_sandbox_apply(const struct fc_sandbox_policy *policy,
    struct fc_sandbox_report *rep, char *err, size_t errlen);

/* Loads just the seccomp filter of a table (tests; fc_sandbox_apply). */
int fc_sandbox_seccomp(const struct fc_sc_rule *rules, size_t n, bool tsync,
    char *err, size_t errlen);

#endif
