/*
 * forkcast-capture: the capture process.
 *
 *   forkcast-capture [-c FILE] [--bus-fd N --ctl-fd M [--conf-fd K]]
 *                    [--frames N] [--dump DIR] [--journal]
 *
 * Under the supervisor: it execs us with the frame bus, control region and
 * configuration region memfds it created (--bus-fd, --ctl-fd, --conf-fd);
 * we attach to them, take the configuration in force from the
 * configuration region (never from a file), apply later generations as
 * they are published (see apply_reload), and exit when the supervisor dies
 * (PR_SET_PDEATHSIG).  Standalone (no --bus-fd, for
 * trying a source and for tests): we create our own bus and control region
 * and print "bus fd N ctl fd M" on stdout.  --frames N stops after N
 * published frames; --journal writes log lines in journal format (the
 * supervisor passes it when its stderr is the journal, log.h);
 * --dump DIR writes every published frame to DIR (see
 * capture.h); on exit a standalone run prints its counters as one line of
 * key=value pairs.
 *
 * Exit status: 0 after SIGTERM/SIGINT or --frames, FC_EXIT_CONFIG (2) for
 * a bad configuration, bad arguments, unusable descriptors or a jail that
 * cannot be applied (the supervisor then does not start capture again
 * until a reload is accepted), 1 otherwise.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <nss.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "../common/bus.h"
#include "../common/config.h"
#include "../common/confreg.h"
#include "../common/control.h"
#include "../common/log.h"
#include "../common/role.h"
#include "../common/sandbox.h"
#include "capture.h"
#include "source.h"

static const char *const state_names[] = {
	"starting", "running", "paused", "failing", "stopped",
};

static void
usage(void)
{
	fprintf(stderr, "usage: forkcast-capture [-c FILE] [--bus-fd N "
	    "--ctl-fd M [--conf-fd K]] [--frames N] [--dump DIR] "
	    "[--journal]\n");
	exit(FC_EXIT_CONFIG);
}

static void
on_stop(int sig)
{
	(void)sig;
	fc_capture_request_stop();
}

/* What apply_reload() needs between loop turns. */
struct reload_ctx {
	struct fc_confreg *conf;
	struct fc_ctl *ctl;
	const struct fc_config *running;	/* what this capture runs */
	uint32_t generation;			/* last generation applied */
	struct fc_config next;			/* scratch copy */
};

/*
 * Called once per capture loop turn: when the supervisor published a new
 * configuration generation, applies what capture can apply while running
 * (the log level) and reports the generation in the control region.  A
 * generation that changes capture settings is not acknowledged: the
 * supervisor restarts capture for it, and the new process reports it.
 */
static void
apply_reload(void *arg)
{
	struct reload_ctx *r = arg;
	uint32_t gen;

	if (fc_confreg_generation(r->conf) == r->generation)
		return;
	if ((gen = fc_confreg_read(r->conf, &r->next)) == 0 ||
	    gen == r->generation)
		return;
	r->generation = gen;
	if (fc_config_capture_changed(r->running, &r->next)) {
		log_debug("generation %u changes capture settings: waiting to "
		    "be restarted", gen);
		return;
	}
	fc_log_set_level((enum fc_log_level)r->next.log_level);
	atomic_store(&r->ctl->hdr->capture_generation, gen);
}

/* Parses a non-negative decimal number; -1 on anything else. */
static long long
parse_num(const char *s, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max)
		return -1;
	return v;
}

static void
print_summary(const struct fc_bus *bus)
{
	const struct fc_bus_header *h = bus->hdr;
	struct fc_bus_info info;

	fc_bus_get_info(bus, &info);
	printf("frames_captured=%" PRIu64 " frames_published=%" PRIu64
	    " dropped_broken=%" PRIu64 " dropped_oversize=%" PRIu64
	    " dropped_same=%" PRIu64 " frames_encoded=%" PRIu64
	    " encode_ns_last=%" PRIu64 " encode_ns_total=%" PRIu64
	    " fps_milli=%u source=%s width=%u height=%u state=%s\n",
	    atomic_load(&h->frames_captured),
	    atomic_load(&h->frames_published),
	    atomic_load(&h->frames_dropped_broken),
	    atomic_load(&h->frames_dropped_oversize),
	    atomic_load(&h->frames_dropped_same),
	    atomic_load(&h->frames_encoded),
	    atomic_load(&h->encode_ns_last),
	    atomic_load(&h->encode_ns_total),
	    atomic_load(&h->fps_milli), info.source, info.width, info.height,
	    info.state < 5 ? state_names[info.state] : "?");
	fflush(stdout);
}

/*
 * Capture's jail, applied under the supervisor once the shared memory is
 * attached: the capture row of the role table (common/role.c), with the
 * paths of the configured source.  A standalone run (tests, trying a
 * source) is not jailed: --dump writes files.
 */
static void
lockdown(const struct fc_config *cfg)
{
	const struct fc_role *row = &fc_roles[FC_ROLE_CAPTURE];
	struct fc_sandbox_user user;
	struct fc_role_ctx ctx;
	char err[256], dir[FC_CONFIG_PATH_MAX + 64];
	int rc;

	if (fc_sandbox_resolve_user(cfg->user, row->groups != NULL ?
	    row->groups[0] : NULL, &user, err, sizeof(err)) != 0) {
		log_warnx("sandbox: %s", err);
		exit(FC_EXIT_CONFIG);
	}
	if (!user.drop)
		log_warnx("sandbox: not started as root, capture keeps uid %ld",
		    (long)getuid());
	/* Host names resolve through /etc/hosts and DNS, both built into
	 * glibc: another module named in nsswitch.conf would be loaded with
	 * dlopen (an executable mapping seccomp refuses) and talk over
	 * sockets the jail does not have. */
	if (cfg->source == FC_SOURCE_HTTP &&
	    __nss_configure_lookup("hosts", "files dns") != 0)
		log_warnx("sandbox: cannot limit host lookups to files and dns");
	memset(&ctx, 0, sizeof(ctx));
	ctx.user = &user;
	/* Die with the supervisor, also after the uid change clears it. */
	ctx.pdeathsig = SIGTERM;
	ctx.parent = getppid();
	ctx.source = cfg->source;
	ctx.device = cfg->device;
	if (cfg->source == FC_SOURCE_FILES &&
	    fc_source_files_dir(cfg, dir, sizeof(dir)) == 0)
		ctx.directory = dir;
	/* FC_EXIT_CONFIG when it fails: the same jail would fail again, so
	 * the supervisor holds capture instead of restarting it. */
	if ((rc = fc_role_lockdown(row, &ctx)) != 0)
		exit(rc);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "bus-fd", required_argument, NULL, 'b' },
		{ "ctl-fd", required_argument, NULL, 't' },
		{ "conf-fd", required_argument, NULL, 'k' },
		{ "frames", required_argument, NULL, 'f' },
		{ "dump", required_argument, NULL, 'd' },
		{ "journal", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fc_capture_opts opts;
	struct fc_config *cfg;
	struct fc_bus *bus = NULL;
	struct fc_ctl *ctl = NULL;
	struct reload_ctx reload;
	struct sigaction sa;
	const char *path = NULL;
	long long bus_fd = -1, ctl_fd = -1, conf_fd = -1, n;
	int ch, rc = 1;

	fc_log_init("capture", FC_LOG_INFO);
	memset(&opts, 0, sizeof(opts));
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'b':
			if ((bus_fd = parse_num(optarg, INT_MAX)) < 0)
				usage();
			break;
		case 't':
			if ((ctl_fd = parse_num(optarg, INT_MAX)) < 0)
				usage();
			break;
		case 'k':
			if ((conf_fd = parse_num(optarg, INT_MAX)) < 0)
				usage();
			break;
		case 'f':
			if ((n = parse_num(optarg, LLONG_MAX)) < 1)
				usage();
			opts.max_frames = (uint64_t)n;
			break;
		case 'd':
			opts.dump_dir = optarg;
			break;
		case 'j':
			fc_log_set_journal(true);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || (ctl_fd >= 0 && bus_fd < 0) ||
	    (conf_fd >= 0 && (ctl_fd < 0 || path != NULL)))
		usage();
	memset(&reload, 0, sizeof(reload));

	/* Handlers first, so a stop during start-up is a clean stop too.
	 * No SA_RESTART: a stop signal must cut sleeps short. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		fatal("calloc");
	fc_config_defaults(cfg);
	if (conf_fd >= 0) {
		/* The supervisor's validated configuration in force. */
		if ((reload.conf = fc_confreg_attach((int)conf_fd)) == NULL) {
			log_warn("cannot attach the configuration region (fd "
			    "%lld)", conf_fd);
			exit(FC_EXIT_CONFIG);
		}
		close((int)conf_fd);
		if ((reload.generation = fc_confreg_read(reload.conf, cfg)) == 0) {
			log_warnx("no configuration in the configuration region");
			exit(FC_EXIT_CONFIG);
		}
	} else {
		/* Without -c the default file is used when there is one; an
		 * absent default file means the built-in defaults. */
		if (path == NULL && access(FC_CONFIG_DEFAULT_FILE, F_OK) == 0)
			path = FC_CONFIG_DEFAULT_FILE;
		if (path != NULL && fc_config_load(cfg, path, stderr) != 0)
			exit(FC_EXIT_CONFIG);
	}
	fc_log_set_level((enum fc_log_level)cfg->log_level);
	if ((opts.ops = fc_source_for(cfg->source)) == NULL) {
		log_warnx("unknown source kind %d", (int)cfg->source);
		exit(FC_EXIT_CONFIG);
	}

	if (bus_fd >= 0) {
		/* Die with the supervisor. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
			log_warn("prctl(PR_SET_PDEATHSIG)");
		if ((bus = fc_bus_attach((int)bus_fd, true)) == NULL) {
			log_warn("cannot attach the frame bus (fd %lld)",
			    bus_fd);
			exit(FC_EXIT_CONFIG);
		}
		close((int)bus_fd);
		if (ctl_fd >= 0) {
			if ((ctl = fc_ctl_attach((int)ctl_fd)) == NULL) {
				log_warn("cannot attach the control region "
				    "(fd %lld)", ctl_fd);
				exit(FC_EXIT_CONFIG);
			}
			close((int)ctl_fd);
			/* It may have died before prctl() took effect.  (Not
			 * "parent is pid 1": in a container it may be.) */
			if (getppid() != atomic_load(
			    &ctl->hdr->supervisor_pid)) {
				log_warnx("supervisor gone, exiting");
				exit(0);
			}
		}
	} else {
		if ((bus = fc_bus_create((unsigned)cfg->slots,
		    cfg->max_frame_size)) == NULL)
			fatal("cannot create the frame bus");
		if ((ctl = fc_ctl_create()) == NULL)
			fatal("cannot create the control region");
		printf("bus fd %d ctl fd %d\n", bus->fd, ctl->fd);
		fflush(stdout);
	}

	if (reload.conf != NULL && ctl != NULL) {
		reload.ctl = ctl;
		reload.running = cfg;
		atomic_store(&ctl->hdr->capture_generation, reload.generation);
		opts.each_turn = apply_reload;
		opts.each_turn_arg = &reload;
	}
	if (bus_fd >= 0)
		lockdown(cfg);
	if (fc_capture_run(cfg, bus, ctl, &opts) == 0)
		rc = 0;
	if (bus_fd < 0)
		print_summary(bus);
	fc_ctl_close(ctl);
	fc_bus_close(bus);
	fc_confreg_close(reload.conf);
	free(cfg);
	return rc;
}
