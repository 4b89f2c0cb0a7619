/*
 * The sandbox mechanism: the layers one process applies to itself.  What
 * each process applies (which layers, which paths, which system calls and
 * why) is data in the role table, common/role.c, and the seccomp tables it
 * names (common/policy_*.c); fc_role_enter() applies a row with the
 * functions here.  Nothing in this file knows about workers or capture.
 *
 * The layers:
 *   - fc_sandbox_resolve_user / fc_sandbox_drop_user: setgroups,
 *     setresgid, setresuid, and a check that the drop cannot be undone
 *   - fc_sandbox_prepare_empty_dir: the empty root a chroot goes into
 *   - fc_landlock_apply: Landlock filesystem rules (a path list, or none),
 *     TCP bind/connect restrictions and scoping of signals and abstract
 *     unix sockets, each as far as the running kernel's ABI goes
 *   - fc_sandbox_seccomp: one or more seccomp tables, loaded as one filter
 *
 * Build with -DFC_SECCOMP_TRAP to trap instead of kill: the process then
 * writes the number of the refused syscall to stderr before it exits
 * (debugging only).
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
	FC_SC_KILL,	/* explicit kill (the default action of an allowlist,
			 * spelled out where the call is an attack) */
};

/* One argument condition, applied as libseccomp's scmp_arg_cmp. */
struct fc_sc_arg {
	unsigned arg;		/* argument index 0..5 */
	int op;			/* enum scmp_compare (SCMP_CMP_EQ, ...) */
	uint64_t a, b;		/* datum_a, datum_b (mask and value for MASKED_EQ) */
	const char *text;	/* the condition as written, for SECURITY.md */
};

/* One line of a policy table. */
struct fc_sc_rule {
	const char *syscall;	/* name, resolved for the native architecture */
	enum fc_sc_action action;
	int err;		/* errno for FC_SC_ERRNO */
	unsigned nargs;		/* conditions, ANDed; several rules for one
				 * syscall are ORed */
	struct fc_sc_arg args[3];
	const char *why;	/* who makes the call (function, file) and why */
};

/* What the filter does with a call no rule matches. */
enum fc_sc_default {
	FC_SC_DEFAULT_KILL = 0,	/* an allowlist */
	FC_SC_DEFAULT_ALLOW,	/* a denylist (only for a role whose calls
				 * cannot be enumerated: see policy_capture.c) */
};

/* A named table; a role's filter is the union of its tables. */
struct fc_sc_table {
	const char *name;		/* "worker", "capture: files", ... */
	enum fc_sc_default deflt;
	const struct fc_sc_rule *rules;
	size_t n;
};

struct fc_sandbox_user {
	bool drop;		/* false when not started as root */
	uid_t uid;
	gid_t gid;
	gid_t extra_gid;	/* e.g. "video" for capture */
	bool has_extra;
	char name[64];
};

/*
 * Looks up user (and, when extra_group is not NULL, that group) for a later
 * drop.  Must run before any chroot (it reads /etc/passwd).  When the
 * process is not root, u->drop is false and the call succeeds: the other
 * layers still apply.  A missing extra group is not an error (the user
 * then has no supplementary group).  Returns 0, or -1 with a reason in err.
 */
int fc_sandbox_resolve_user(const char *user, const char *extra_group,
    struct fc_sandbox_user *u, char *err, size_t errlen);

/* setgroups (none, or the extra group), setresgid, setresuid, then checks
 * that neither setuid(0) nor seteuid(0) works.  0, or -1 with err. */
int fc_sandbox_drop_user(const struct fc_sandbox_user *u, char *err,
    size_t errlen);

/* Creates dir (and parents) as an empty, root-owned, mode 0555 directory,
 * or checks that an existing one is exactly that.  Root only. */
int fc_sandbox_prepare_empty_dir(const char *dir, char *err, size_t errlen);

/*
 * Loads the union of the tables as one filter (all tables must have the
 * same default).  Refused: an unknown architecture, and a table set where
 * one syscall has an unconditional ALLOW next to a deny rule (libseccomp
 * would let the ALLOW win, silently voiding the deny).  A call made
 * through another ABI than the native one (ia32 on x86_64) kills the
 * process whatever the tables say.  tsync: apply to every thread of the
 * process.  Returns 0, or -1 with a reason in err.
 */
int fc_sandbox_seccomp(const struct fc_sc_table *const *tables, size_t ntables,
    bool tsync, char *err, size_t errlen);

/* --- Landlock --- */

/* Access a filesystem rule grants (mapped to Landlock rights). */
#define FC_FS_READ	(1u << 0)	/* read files; list directories */
#define FC_FS_WRITE	(1u << 1)	/* write (not create, not truncate) files */
#define FC_FS_EXEC	(1u << 2)	/* execute files */
#define FC_FS_IOCTL	(1u << 3)	/* ioctl on device nodes (ABI 5) */

/* One path a Landlock ruleset allows, with an O_PATH descriptor opened
 * while the path was still reachable (before a chroot). */
struct fc_landlock_path {
	int fd;			/* O_PATH; -1: skipped */
	unsigned access;	/* FC_FS_* */
	bool is_dir;
};

struct fc_landlock_spec {
	bool fs;			/* handle every filesystem right; only
					 * paths[] are allowed */
	const struct fc_landlock_path *paths;
	size_t npaths;
	bool net;			/* handle TCP bind and connect */
	bool net_connect;		/* ... but allow connect to any port */
	bool scope;			/* signals and abstract unix sockets stay
					 * inside the sandbox (ABI 6) */
};

/* What the kernel enforced of a spec. */
struct fc_landlock_report {
	int abi;			/* 0: no Landlock */
	bool fs, net, scope, ioctl_dev, truncate;
};

/* The kernel's Landlock ABI version, 0 when it has none. */
int fc_landlock_abi(void);

/*
 * Restricts the calling process (and its future children) to spec, as far
 * as the kernel's ABI allows; rep says what is enforced.  Sets
 * no_new_privs (Landlock requires it).  Returns 0 (also when the kernel
 * has no Landlock: rep->abi 0), or -1 with a reason in err.
 */
int fc_landlock_apply(const struct fc_landlock_spec *spec,
    struct fc_landlock_report *rep, char *err, size_t errlen);

#endif
