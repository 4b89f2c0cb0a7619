/* The sandbox mechanism; see sandbox.h. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <dirent.h>

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

/*
 * Landlock with every filesystem right handled and no rule allowing any:
 * no file can be opened, created or executed afterwards.  Returns 0, or -1
 * when the kernel has no Landlock (the caller falls back and logs it).
 */
static int
landlock_nothing(void)
{
	struct landlock_ruleset_attr attr;
	long abi;
	int fd;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1)
		return -1;
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = LANDLOCK_ACCESS_FS_EXECUTE |
	    LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
	    LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |
	    LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
	    LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
	    LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
	    LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
#ifdef LANDLOCK_ACCESS_FS_REFER
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
#endif
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
#endif
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (fd == -1)
		return -1;
	/* landlock_restrict_self needs no_new_privs (or CAP_SYS_ADMIN). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    syscall(SYS_landlock_restrict_self, fd, 0) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
drop_user(const struct fc_sandbox_user *u, char *err, size_t errlen)
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

int
fc_sandbox_seccomp(const struct fc_sc_rule *rules, size_t n, bool tsync,
    char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	uint32_t deflt = SCMP_ACT_KILL_PROCESS;
	int rc;

#ifdef FC_SECCOMP_TRAP
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sigsys_handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSYS, &sa, NULL);
	deflt = SCMP_ACT_TRAP;
#endif
	/* Only the native architecture is allowed; a call made through
	 * another ABI (x32, ia32 on x86_64) gets the default action. */
	if ((ctx = seccomp_init(deflt)) == NULL) {
		snprintf(err, errlen, "seccomp_init failed");
		return -1;
	}
	if (seccomp_arch_native() == 0) {
		snprintf(err, errlen, "seccomp: unknown architecture");
		goto fail_ctx;
	}
	if (tsync && (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) != 0) {
		snprintf(err, errlen, "seccomp TSYNC: %s", strerror(-rc));
		goto fail_ctx;
	}
	for (size_t i = 0; i < n; i++) {
		const struct fc_sc_rule *r = &rules[i];
		struct scmp_arg_cmp cmp[3];
		uint32_t act;
		int nr;

		nr = seccomp_syscall_resolve_name(r->syscall);
		if (nr == __NR_SCMP_ERROR) {
			/* Not on this architecture (e.g. open on arm64): the
			 * libc there uses another call the table also lists. */
			continue;
		}
		for (unsigned j = 0; j < r->nargs && j < 3; j++) {
			cmp[j].arg = r->args[j].arg;
			cmp[j].op = (enum scmp_compare)r->args[j].op;
			cmp[j].datum_a = r->args[j].a;
			cmp[j].datum_b = r->args[j].b;
		}
		act = r->action == FC_SC_ERRNO ? SCMP_ACT_ERRNO((uint32_t)r->err) :
		    SCMP_ACT_ALLOW;
		rc = seccomp_rule_add_array(ctx, act, nr, r->nargs, cmp);
		if (rc != 0) {
			snprintf(err, errlen, "seccomp rule %s: %s", r->syscall,
			    strerror(-rc));
			goto fail_ctx;
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

int
fc_sandbox_apply(const struct fc_sandbox_policy *p,
    struct fc_sandbox_report *rep, char *err, size_t errlen)
{
	struct rlimit zero = { 0, 0 };

	memset(rep, 0, sizeof(*rep));
	rep->fs = "none";

	if (p->empty_root) {
		if (geteuid() == 0 && p->empty_dir != NULL) {
			if (chroot(p->empty_dir) == -1 || chdir("/") == -1) {
				snprintf(err, errlen, "chroot %s: %s", p->empty_dir,
				    strerror(errno));
				return -1;
			}
			rep->fs = "chroot";
		} else if (landlock_nothing() == 0) {
			rep->fs = "landlock";
		}
	}
	if (p->user != NULL && p->user->drop) {
		if (drop_user(p->user, err, errlen) == -1)
			return -1;
		rep->uid_dropped = true;
	}
	/* A credential change clears the parent-death signal: set it again,
	 * then make sure the parent did not die in between. */
	if (p->pdeathsig != 0) {
		if (prctl(PR_SET_PDEATHSIG, p->pdeathsig, 0, 0, 0) == -1) {
			snprintf(err, errlen, "prctl(PR_SET_PDEATHSIG): %s", strerror(errno));
			return -1;
		}
		if (getppid() != p->parent) {
			snprintf(err, errlen, "parent %ld is gone", (long)p->parent);
			return -1;
		}
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
		snprintf(err, errlen, "prctl: %s", strerror(errno));
		return -1;
	}
	if (setrlimit(RLIMIT_CORE, &zero) == -1 ||
	    setrlimit(RLIMIT_FSIZE, &zero) == -1 ||
	    (p->no_processes && setrlimit(RLIMIT_NPROC, &zero) == -1)) {
		snprintf(err, errlen, "setrlimit: %s", strerror(errno));
		return -1;
	}
	if (p->rules != NULL) {
		if (fc_sandbox_seccomp(p->rules, p->nrules, true, err, errlen) == -1)
			return -1;
		rep->seccomp = true;
	}
	return 0;
}
