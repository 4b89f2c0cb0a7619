/* The worker's jail; see worker_sandbox.h. */
#include "worker_sandbox.h"

#include <signal.h>
#include <string.h>

#include "../common/config.h"
#include "../common/log.h"
#include "worker_policy.h"

int
fc_worker_sandbox(const struct fc_sandbox_user *user, const char *empty_dir,
    pid_t parent)
{
	struct fc_sandbox_policy policy;
	struct fc_sandbox_report rep;
	char err[256];
	size_t n;

	memset(&policy, 0, sizeof(policy));
	policy.role = "worker";
	policy.user = user;
	policy.empty_root = true;
	policy.empty_dir = empty_dir;
	policy.no_processes = true;
	policy.pdeathsig = SIGKILL;
	policy.parent = parent;
	policy.rules = fc_worker_policy(&n);
	policy.nrules = n;
	if (fc_sandbox_apply(&policy, &rep, err, sizeof(err)) != 0) {
		log_errorx("sandbox: %s", err);
		return FC_EXIT_CONFIG;
	}
	log_debug("sandbox: root %s, user %s, seccomp on", rep.fs,
	    rep.uid_dropped ? user->name : "unchanged");
	return 0;
}
