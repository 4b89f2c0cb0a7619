/*
 * A prefork HTTP worker: one epoll loop serving thousands of clients.
 * Called by the supervisor in the forked child after the bus, control region
 * and listening sockets were inherited; never returns to the supervisor's
 * code.
 */
#ifndef FC_WORKER_H
#define FC_WORKER_H

#include "../common/bus.h"
#include "../common/config.h"
#include "../common/confreg.h"
#include "../common/control.h"

struct fc_worker_args {
	const struct fc_config *cfg;	/* configuration at start (copied) */
	uint32_t generation;		/* ... its generation */
	/* Configuration region (read-only): later generations are applied
	 * from here on the worker's tick.  NULL: cfg stays for good. */
	const struct fc_confreg *conf;
	/* TLS region (read-only, common/confreg.h fc_tlsreg_*): the
	 * certificate and key for listen addresses marked tls, renewed by
	 * reloads.  NULL when no address is marked tls. */
	const struct fc_confreg *tls;
	unsigned index;			/* slot in the control region */
	struct fc_bus *bus;		/* attached read-only */
	struct fc_ctl *ctl;
	const int *listen_fds;		/* non-blocking listening sockets */
	int nlisten;
	int parent_fd;			/* supervisor pipe: EOF/readable = stop; -1 none */
	/*
	 * Optional (NULL: none).  Called once the worker holds everything it
	 * will use (epoll instance, eventfd, signalfd, watcher thread, raised
	 * RLIMIT_NOFILE) and before the first accept: the place to drop
	 * privileges and load the seccomp filter, so the allowlist need not
	 * cover setup calls (clone, eventfd2, signalfd4, epoll_create1,
	 * prlimit64, rt_sigaction).  Non-zero return: the worker exits with
	 * that status without serving.
	 */
	int (*lockdown)(void *arg);
	void *lockdown_arg;
};

/* Runs the worker until told to stop; returns the process exit status. */
int fc_worker_main(const struct fc_worker_args *args);

#endif
