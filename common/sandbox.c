/* The sandbox mechanism; see sandbox.h. */
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int
fc_sandbox_resolve_user(const char *user, const char *extra_group,
    struct fc_sandbox_user *u, char *err, size_t errlen)
{
	struct passwd *pw;
	struct group *gr;

	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "%s", user);
	if (geteuid() != 0)
		return 0;	/* nothing to drop; the caller logs a warning */
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "user %s: %s", user,
		    errno ? strerror(errno) : "no such user");
		return -1;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		snprintf(err, errlen, "user %s: is root, refusing", user);
		return -1;
	}
	u->drop = true;
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	if (extra_group != NULL && (gr = getgrnam(extra_group)) != NULL &&
	    gr->gr_gid != 0) {
		u->extra_gid = gr->gr_gid;
		u->has_extra = true;
	}
	return 0;
}

int
fc_sandbox_prepare_empty_dir(const char *dir, char *err, size_t errlen)
{
	char path[256];
	struct stat st;
	DIR *d;
	struct dirent *e;

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	/* mkdir -p, each component root-owned (created 0755, the leaf 0555). */
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (mkdir(path, 0555) == -1 && errno != EEXIST)
		goto fail;
	if (lstat(path, &st) == -1)
		goto fail;
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 0222) != 0) {
		snprintf(err, errlen, "%s: must be a root-owned directory nobody can "
		    "write to", path);
		return -1;
	}
	if ((d = opendir(path)) == NULL)
		goto fail;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			closedir(d);
			snprintf(err, errlen, "%s: must be empty", path);
			return -1;
		}
	}
	closedir(d);
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return -1;
}

/* --- Landlock ---
 *
 * Debian 12's <linux/landlock.h> stops at ABI 2; the kernel may offer
 * more.  The later constants are part of the kernel's stable UAPI. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER	(1ULL << 13)	/* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)	/* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV	(1ULL << 15)	/* ABI 5 */
#endif
#define FC_LL_NET_BIND_TCP	(1ULL << 0)	/* ABI 4 */
#define FC_LL_NET_CONNECT_TCP	(1ULL << 1)
#define FC_LL_SCOPE_ABSTRACT_UNIX (1ULL << 0)	/* ABI 6 */
#define FC_LL_SCOPE_SIGNAL	(1ULL << 1)

/* struct landlock_ruleset_attr as of ABI 6; older kernels get a prefix. */
struct fc_ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;	/* ABI 4 */
	uint64_t scoped;		/* ABI 6 */
};

#define FC_LL_FS_FILE (LANDLOCK_ACCESS_FS_EXECUTE | \
	LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE | \
	LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)

int
fc_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);

	return abi < 1 ? 0 : (int)abi;
}

static uint64_t
fs_handled(int abi)
{
	uint64_t h = LANDLOCK_ACCESS_FS_EXECUTE |
	    LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
	    LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |
	    LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
	    LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
	    LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
	    LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;

	if (abi >= 2)
		h |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		h |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		h |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return h;
}

/* FC_FS_* to Landlock rights, limited to what the ruleset handles and to
 * what a rule on a file (as opposed to a directory) may carry. */
static uint64_t
fs_rights(unsigned access, bool is_dir, uint64_t handled)
{
	uint64_t r = 0;

	if (access & FC_FS_READ)
		r |= LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
	if (access & FC_FS_WRITE)
		r |= LANDLOCK_ACCESS_FS_WRITE_FILE;
	if (access & FC_FS_EXEC)
		r |= LANDLOCK_ACCESS_FS_EXECUTE;
	if (access & FC_FS_IOCTL)
		r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	if (!is_dir)
		r &= FC_LL_FS_FILE;
	return r & handled;
}

int
fc_landlock_apply(const struct fc_landlock_spec *spec,
    struct fc_landlock_report *rep, char *err, size_t errlen)
{
	struct fc_ll_ruleset_attr attr;
	struct landlock_path_beneath_attr pb;
	size_t attr_size;
	int abi, fd;

	memset(rep, 0, sizeof(*rep));
	/* landlock_restrict_self needs no_new_privs (or CAP_SYS_ADMIN). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s",
		    strerror(errno));
		return -1;
	}
	if ((abi = fc_landlock_abi()) == 0)
		return 0;
	rep->abi = abi;
	memset(&attr, 0, sizeof(attr));
	attr_size = sizeof(attr.handled_access_fs);
	if (spec->fs) {
		attr.handled_access_fs = fs_handled(abi);
		rep->fs = true;
		rep->truncate = abi >= 3;
		rep->ioctl_dev = abi >= 5;
	}
	if (spec->net && abi >= 4) {
		attr.handled_access_net = FC_LL_NET_BIND_TCP |
		    (spec->net_connect ? 0 : FC_LL_NET_CONNECT_TCP);
		attr_size = offsetof(struct fc_ll_ruleset_attr, scoped);
		rep->net = true;
	}
	if (spec->scope && abi >= 6) {
		attr.scoped = FC_LL_SCOPE_ABSTRACT_UNIX | FC_LL_SCOPE_SIGNAL;
		attr_size = sizeof(attr);
		rep->scope = true;
	}
	if (attr.handled_access_fs == 0 && attr.handled_access_net == 0 &&
	    attr.scoped == 0)
		return 0;
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	if (fd == -1) {
		snprintf(err, errlen, "landlock_create_ruleset: %s",
		    strerror(errno));
		return -1;
	}
	for (size_t i = 0; spec->fs && i < spec->npaths; i++) {
		const struct fc_landlock_path *p = &spec->paths[i];

		if (p->fd < 0)
			continue;
		memset(&pb, 0, sizeof(pb));
		pb.parent_fd = p->fd;
		pb.allowed_access = fs_rights(p->access, p->is_dir,
		    attr.handled_access_fs);
		if (pb.allowed_access == 0)
			continue;
		if (syscall(SYS_landlock_add_rule, fd, LANDLOCK_RULE_PATH_BENEATH,
		    &pb, 0) == -1) {
			snprintf(err, errlen, "landlock_add_rule: %s",
			    strerror(errno));
			close(fd);
			return -1;
		}
	}
	if (syscall(SYS_landlock_restrict_self, fd, 0) == -1) {
		snprintf(err, errlen, "landlock_restrict_self: %s",
		    strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
fc_sandbox_drop_user(const struct fc_sandbox_user *u, char *err, size_t errlen)
{
	gid_t groups[1];
	uid_t r, e, s;

	groups[0] = u->extra_gid;
	if (setgroups(u->has_extra ? 1 : 0, groups) == -1 ||
	    setresgid(u->gid, u->gid, u->gid) == -1 ||
	    setresuid(u->uid, u->uid, u->uid) == -1) {
		snprintf(err, errlen, "drop to %s: %s", u->name, strerror(errno));
		return -1;
	}
	/* The drop must be permanent: no way back to root. */
	if (getresuid(&r, &e, &s) == -1 || r != u->uid || e != u->uid ||
	    s != u->uid || setuid(0) != -1 || seteuid(0) != -1) {
		snprintf(err, errlen, "drop to %s: can still regain root", u->name);
		return -1;
	}
	return 0;
}

#ifdef FC_SECCOMP_TRAP
/* Debug build: name the refused syscall before dying. */
static void
sigsys_handler(int sig, siginfo_t *si, void *ctx)
{
	char msg[80];
	int n;

	(void)ctx;
	n = snprintf(msg, sizeof(msg), "forkcast: seccomp refused syscall %d\n",
	    si->si_syscall);
	if (n > 0)
		(void)!write(STDERR_FILENO, msg, (size_t)n);
	_exit(128 + sig);
}
#endif

/* A table set where a syscall has an unconditional ALLOW and also a rule
 * that denies some of its calls: libseccomp keeps the ALLOW, so the deny
 * would be dead text.  Returns the syscall's name, or NULL. */
static const char *
voided_deny(const struct fc_sc_table *const *t, size_t nt)
{
	for (size_t i = 0; i < nt; i++)
		for (size_t j = 0; j < t[i]->n; j++) {
			const struct fc_sc_rule *a = &t[i]->rules[j];

			if (a->action != FC_SC_ALLOW || a->nargs != 0)
				continue;
			for (size_t k = 0; k < nt; k++)
				for (size_t l = 0; l < t[k]->n; l++) {
					const struct fc_sc_rule *d = &t[k]->rules[l];

					if (d->action != FC_SC_ALLOW &&
					    strcmp(d->syscall, a->syscall) == 0)
						return a->syscall;
				}
		}
	return NULL;
}

int
fc_sandbox_seccomp(const struct fc_sc_table *const *tables, size_t ntables,
    bool tsync, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	enum fc_sc_default dflt;
	uint32_t kill = SCMP_ACT_KILL_PROCESS, deflt;
	const char *name;
	int rc;

	if (ntables == 0) {
		snprintf(err, errlen, "seccomp: no table");
		return -1;
	}
	dflt = tables[0]->deflt;
	for (size_t i = 1; i < ntables; i++)
		if (tables[i]->deflt != dflt) {
			snprintf(err, errlen, "seccomp: tables %s and %s have "
			    "different defaults", tables[0]->name, tables[i]->name);
			return -1;
		}
	if ((name = voided_deny(tables, ntables)) != NULL) {
		snprintf(err, errlen, "seccomp: %s is allowed unconditionally "
		    "and denied by another rule", name);
		return -1;
	}
#ifdef FC_SECCOMP_TRAP
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sigsys_handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSYS, &sa, NULL);
	kill = SCMP_ACT_TRAP;
#endif
	deflt = dflt == FC_SC_DEFAULT_KILL ? kill : SCMP_ACT_ALLOW;
	if ((ctx = seccomp_init(deflt)) == NULL) {
		snprintf(err, errlen, "seccomp_init failed");
		return -1;
	}
	if (seccomp_arch_native() == 0) {
		snprintf(err, errlen, "seccomp: unknown architecture");
		goto fail_ctx;
	}
	/* Only the native architecture's calls are filtered; one made
	 * through another ABI (ia32 int 0x80, x32 on x86_64) kills the
	 * process, also under a denylist.  libseccomp's own bad-arch action
	 * kills only the calling thread. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, kill)) != 0) {
		snprintf(err, errlen, "seccomp bad-arch action: %s", strerror(-rc));
		goto fail_ctx;
	}
	if (tsync && (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) != 0) {
		snprintf(err, errlen, "seccomp TSYNC: %s", strerror(-rc));
		goto fail_ctx;
	}
	for (size_t t = 0; t < ntables; t++) {
		for (size_t i = 0; i < tables[t]->n; i++) {
			const struct fc_sc_rule *r = &tables[t]->rules[i];
			struct scmp_arg_cmp cmp[3];
			uint32_t act;
			int nr;

			nr = seccomp_syscall_resolve_name(r->syscall);
			if (nr == __NR_SCMP_ERROR) {
				/* Not on this architecture (e.g. open on
				 * arm64): the libc there uses another call
				 * the table also lists. */
				continue;
			}
			for (unsigned j = 0; j < r->nargs && j < 3; j++) {
				cmp[j].arg = r->args[j].arg;
				cmp[j].op = (enum scmp_compare)r->args[j].op;
				cmp[j].datum_a = r->args[j].a;
				cmp[j].datum_b = r->args[j].b;
			}
			switch (r->action) {
			case FC_SC_ERRNO:
				act = SCMP_ACT_ERRNO((uint32_t)r->err);
				break;
			case FC_SC_KILL:
				act = kill;
				break;
			default:
				act = SCMP_ACT_ALLOW;
				break;
			}
			if (act == deflt)
				continue;	/* libseccomp refuses a rule
						 * equal to the default */
			rc = seccomp_rule_add_array(ctx, act, nr, r->nargs, cmp);
			if (rc != 0) {
				snprintf(err, errlen, "seccomp rule %s (%s): %s",
				    r->syscall, tables[t]->name, strerror(-rc));
				goto fail_ctx;
			}
		}
	}
	if ((rc = seccomp_load(ctx)) != 0) {
		snprintf(err, errlen, "seccomp_load: %s", strerror(-rc));
		goto fail_ctx;
	}
	seccomp_release(ctx);
	return 0;
fail_ctx:
	seccomp_release(ctx);
	return -1;
}
