/*
 * The seccomp tables of every sandboxed role, and the row macros they are
 * written with.  A table reads top to bottom like OpenSSH's
 * sandbox-seccomp-filter.c: explicit kills (the attack named), soft
 * denials, then the allowed calls, each with the function and file that
 * makes the call and why.  The mechanism that loads a table is
 * common/sandbox.c; which role loads which table is common/role.c.
 *
 * Integer arguments are compared on their low 32 bits (SC_ARG32): the
 * kernel reads an int or unsigned int argument (a futex op, an ioctl
 * request, a socket option level or name, a shutdown how) from the low
 * half of the register, so an attacker setting the high half gets nothing
 * the low half does not already say, and a caller whose compiler leaves
 * garbage in the high half of an int passed through syscall() is not
 * killed for it.
 */
#ifndef FC_POLICY_H
#define FC_POLICY_H

#include <seccomp.h>
#include <sys/ioctl.h>

#include "sandbox.h"

/* --- row macros --- */
#define SC_ALLOW(name, why) { name, FC_SC_ALLOW, 0, 0, {{0}}, why }
#define SC_ALLOW_IF(name, a0, why) { name, FC_SC_ALLOW, 0, 1, { a0 }, why }
#define SC_ALLOW_IF2(name, a0, a1, why) \
	{ name, FC_SC_ALLOW, 0, 2, { a0, a1 }, why }
#define SC_ERRNO(name, e, why) { name, FC_SC_ERRNO, e, 0, {{0}}, why }
#define SC_ERRNO_IF(name, e, a0, why) { name, FC_SC_ERRNO, e, 1, { a0 }, why }
#define SC_ERRNO_IF2(name, e, a0, a1, why) \
	{ name, FC_SC_ERRNO, e, 2, { a0, a1 }, why }
#define SC_KILL(name, why) { name, FC_SC_KILL, 0, 0, {{0}}, why }
#define SC_KILL_IF(name, a0, why) { name, FC_SC_KILL, 0, 1, { a0 }, why }

/* A named table over a rules array (a role's filter is the union of its
 * tables, common/role.c). */
#define SC_TABLE(var, name, deflt, rules) \
	const struct fc_sc_table var = { name, deflt, rules, \
	    sizeof(rules) / sizeof((rules)[0]) }

/* argument n, low 32 bits, equals v */
#define SC_ARG32(n, v) { n, SCMP_CMP_MASKED_EQ, 0xffffffffu, (uint32_t)(v), \
	"arg" #n " = " #v }
/* argument n, masked with m, equals v */
#define SC_ARGMASK(n, m, v) { n, SCMP_CMP_MASKED_EQ, (m), (v), \
	"arg" #n " & " #m " = " #v }

/*
 * Terminal ioctls no forkcast process makes and every role refuses by
 * name: TIOCSTI pushes bytes into a terminal's input queue (a process
 * that still shares the operator's terminal could type commands into the
 * operator's shell), TIOCLINUX can do the same on a virtual console
 * (selection paste), TIOCCONS redirects console output, TIOCSETD swaps
 * the line discipline.  In an allowlist the default action already kills
 * them (these rows document the attack, and fc_sandbox_seccomp() refuses
 * any later unconditional ALLOW of ioctl that would void them); in the
 * libcamera denylist they are what kills.
 */
#define SC_TTY_KILLS \
	SC_KILL_IF("ioctl", SC_ARG32(1, TIOCSTI), \
	    "inject input into a terminal: never"), \
	SC_KILL_IF("ioctl", SC_ARG32(1, TIOCLINUX), \
	    "console selection paste and other console control: never"), \
	SC_KILL_IF("ioctl", SC_ARG32(1, TIOCCONS), \
	    "redirect the console: never"), \
	SC_KILL_IF("ioctl", SC_ARG32(1, TIOCSETD), \
	    "change a terminal's line discipline: never")

/* common/policy_worker.c */
extern const struct fc_sc_table fc_policy_worker;
extern const struct fc_sc_table fc_policy_worker_tls;	/* with tls listeners */

/* common/policy_capture.c: the calls of every allowlisted source, and what
 * each source adds; libcamera has a denylist of its own. */
extern const struct fc_sc_table fc_policy_capture;
extern const struct fc_sc_table fc_policy_capture_files;
extern const struct fc_sc_table fc_policy_capture_v4l2;
extern const struct fc_sc_table fc_policy_capture_http;
extern const struct fc_sc_table fc_policy_capture_libcamera;

#endif
