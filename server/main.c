/*
 * forkcast: the supervisor's command line.
 *
 *   forkcast [-c FILE]            run (foreground; forkcastctl backgrounds it)
 *   forkcast -n [-c FILE]         check the configuration and exit
 *   forkcast --paths [-c FILE]    print pid_file, log_file, url and (when
 *                                 set) auth, for forkcastctl
 *   forkcast --default-config     print the documented default configuration
 *   forkcast --config-file        print the file read without -c
 *   forkcast -V | --version       print the version
 *
 * Exit status 2 (FC_EXIT_CONFIG) means a bad configuration or environment
 * (including a pid file that is not the supervisor's own: another owner, a
 * symbolic link, hard links, writable by others); 1 means another instance
 * holds the pid file, or another failure at start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/config.h"
#include "../common/log.h"
#include "../common/paths.h"
#include "../common/version.h"
#include "supervisor.h"

static void
usage(FILE *out, const char *def)
{
	fprintf(out,
	    "usage: forkcast [-c FILE] [-n | --paths]\n"
	    "       forkcast --default-config | --config-file | -V\n"
	    "  -c FILE           configuration file (default %s)\n"
	    "  -n                check the configuration and exit\n"
	    "  --paths           print pid_file, log_file, url (and auth when set)\n"
	    "                    of FILE, for forkcastctl\n"
	    "  --default-config  print the documented default configuration\n"
	    "  --config-file     print the file read without -c\n"
	    "  -V, --version     print the version\n", def);
}

/*
 * What forkcastctl needs, one KEY=VALUE a line: the pid file (its default
 * depends on this process's euid and environment: forkcastctl runs this as
 * the user that runs the supervisor), the log file, the URL a user opens for
 * the first TCP listen address (when every address is a unix: socket,
 * http://localhost/ and unix_socket=PATH of the first one) and, only when
 * set, the auth credentials for /status (a value holds no control
 * characters, so no newline).
 */
static void
print_paths(const struct fc_config *cfg)
{
	int first = fc_config_first_tcp(cfg);
	const char *host;
	char buf[96];

	/* Only unix: sockets: curl reaches the first one with --unix-socket
	 * PATH http://localhost/ (forkcastctl does). */
	if (first < 0) {
		printf("pid_file=%s\nlog_file=%s\nurl=http://localhost/\n"
		    "unix_socket=%s\n", cfg->pid_file, cfg->log_file,
		    fc_config_unix_path(&cfg->listen[0]));
		if (cfg->auth[0] != '\0')
			printf("auth=%s\n", cfg->auth);
		return;
	}
	host = cfg->listen[first].text;

	/* A wildcard address is not something to type into a browser. */
	if (strncmp(host, "0.0.0.0:", 8) == 0 || strncmp(host, "*:", 2) == 0) {
		snprintf(buf, sizeof(buf), "127.0.0.1:%d", fc_config_first_port(cfg));
		host = buf;
	} else if (strncmp(host, "[::]:", 5) == 0) {
		snprintf(buf, sizeof(buf), "[::1]:%d", fc_config_first_port(cfg));
		host = buf;
	}
	printf("pid_file=%s\nlog_file=%s\nurl=http://%s/\n", cfg->pid_file,
	    cfg->log_file, host);
	if (cfg->auth[0] != '\0')
		printf("auth=%s\n", cfg->auth);
}

int
main(int argc, char **argv)
{
	char deffile[FC_CONFIG_PATH_MAX];
	const char *path = deffile;
	struct fc_config cfg;
	enum { RUN, CHECK, PATHS } mode = RUN;

	fc_path_default_config(deffile, sizeof(deffile));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "-n") == 0) {
			mode = CHECK;
		} else if (strcmp(argv[i], "--paths") == 0) {
			mode = PATHS;
		} else if (strcmp(argv[i], "--default-config") == 0) {
			fc_config_write_default(stdout);
			return 0;
		} else if (strcmp(argv[i], "--config-file") == 0) {
			printf("%s\n", deffile);
			return 0;
		} else if (strcmp(argv[i], "-V") == 0 ||
		    strcmp(argv[i], "--version") == 0) {
			printf("forkcast %s\n", FC_VERSION);
			return 0;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout, deffile);
			return 0;
		} else {
			usage(stderr, deffile);
			return FC_EXIT_CONFIG;
		}
	}

	if (mode != RUN) {
		if (fc_config_load(&cfg, path, stderr) != 0)
			return FC_EXIT_CONFIG;
		if (mode == CHECK) {
			struct fc_config def;
			char names[128];

			printf("%s: configuration OK\n", path);
			/* A reload cannot apply these: say so before one is
			 * tried (forkcastctl reload runs -n first). */
			fc_config_defaults(&def);
			if (fc_config_restart_changes(&def, &cfg, names,
			    sizeof(names)) > 0)
				fprintf(stderr, "%s: note: %s: set here, applied "
				    "at start only (a reload keeps the running "
				    "value)\n", path, names);
		} else
			print_paths(&cfg);
		return 0;
	}
	return fc_supervisor_run(path);
}
