/*
 * denysys: runs a command in an environment that refuses some system
 * calls, the way an older kernel (ENOSYS) or a container's seccomp profile
 * (EPERM) would.  Integration tests use it to reach forkcast's fallbacks
 * and its "bad environment" paths with the real binaries.
 *
 *   denysys NAME=ERRNO [NAME=ERRNO...] -- COMMAND [ARG...]
 *
 * NAME is a system call ("close_range", "chroot"); ERRNO is EPERM, ENOSYS,
 * EACCES or a number.  The filter allows everything else, is inherited by
 * every descendant across fork and exec, and is loaded without
 * no_new_privs when running as root (so the command's own privileges stay
 * as they would be).  Exit status 127 when the filter cannot be set up.
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
errno_value(const char *s)
{
	char *end;
	long v;

	if (strcmp(s, "EPERM") == 0)
		return EPERM;
	if (strcmp(s, "ENOSYS") == 0)
		return ENOSYS;
	if (strcmp(s, "EACCES") == 0)
		return EACCES;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || v < 1 || v > 4095)
		return -1;
	return (int)v;
}

int
main(int argc, char **argv)
{
	scmp_filter_ctx ctx;
	int i, nr, err;

	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL) {
		fprintf(stderr, "denysys: seccomp_init failed\n");
		return 127;
	}
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		char *eq = strchr(argv[i], '=');

		if (eq == NULL)
			goto usage;
		*eq = '\0';
		if ((nr = seccomp_syscall_resolve_name(argv[i])) == __NR_SCMP_ERROR ||
		    (err = errno_value(eq + 1)) == -1) {
			fprintf(stderr, "denysys: %s=%s: unknown system call or "
			    "errno\n", argv[i], eq + 1);
			return 127;
		}
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO((unsigned)err), nr, 0) != 0) {
			fprintf(stderr, "denysys: rule for %s failed\n", argv[i]);
			return 127;
		}
	}
	if (i + 1 >= argc)
		goto usage;
	if (geteuid() == 0 && seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) != 0) {
		fprintf(stderr, "denysys: cannot leave no_new_privs off\n");
		return 127;
	}
	if (seccomp_load(ctx) != 0) {
		fprintf(stderr, "denysys: seccomp_load failed\n");
		return 127;
	}
	seccomp_release(ctx);
	execvp(argv[i + 1], argv + i + 1);
	fprintf(stderr, "denysys: %s: %s\n", argv[i + 1], strerror(errno));
	return 127;
usage:
	fprintf(stderr, "usage: denysys NAME=ERRNO [NAME=ERRNO...] -- COMMAND "
	    "[ARG...]\n");
	return 127;
}
