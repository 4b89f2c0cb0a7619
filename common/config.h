/*
 * forkcast configuration: one INI file (libinih), every key has a default,
 * so an empty file is a valid configuration.
 *
 * Loading is all-or-nothing: fc_config_load() fills a whole validated
 * struct or reports every problem it found as
 *   FILE:LINE: KEY: what is wrong
 * and leaves the caller's running configuration alone.  Programs exit with
 * FC_EXIT_CONFIG (2) on a bad file.
 *
 * Keys are described by one table in config.c (section, key, type, range,
 * default, offset into struct fc_config); fc_config_write_default() prints
 * the documented default file from the same table.
 */
#ifndef FC_CONFIG_H
#define FC_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "host.h"

/*
 * Exit status for "bad configuration or environment" (a bad file, a sandbox
 * the kernel refuses, a missing executable, a source setting capture
 * rejects).  The supervisor does not restart a child that exits with it:
 * it logs why, once, and holds the child until a reload is accepted
 * (SIGHUP), which may bring a fixed file or follow a fixed environment.
 * While capture is held, /healthz answers 503 saying so.  A held worker
 * leaves the serving to the others; when every worker is held, nothing
 * can serve and the supervisor stops with this status too.
 */
#define FC_EXIT_CONFIG 2

#define FC_CONFIG_MAX_LISTEN 8
#define FC_CONFIG_MAX_HOSTS 16	/* names in allowed_hosts */
#define FC_CONFIG_PATH_MAX 512
#define FC_CONFIG_DEFAULT_FILE "conf/forkcast.conf"

enum fc_source_kind {
	FC_SOURCE_TESTPATTERN = 0,
	FC_SOURCE_FILES,
	FC_SOURCE_V4L2,
	FC_SOURCE_LIBCAMERA,
	FC_SOURCE_HTTP,
};

/* "unix:" and the longest sun_path (107 characters and its NUL). */
#define FC_LISTEN_TEXT_MAX 120

struct fc_listen_addr {
	/* AF_INET or AF_INET6 with the port set, or AF_UNIX with an
	 * absolute path (NUL-ended within sun_path) */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	/* as written: "127.0.0.1:8080", "[::1]:8080", "unix:/run/x.sock" */
	char text[FC_LISTEN_TEXT_MAX];
	bool tls;	/* "ADDR:PORT tls": HTTPS with [tls] certificate, key */
};

struct fc_config {
	char path[FC_CONFIG_PATH_MAX];	/* file it was loaded from ("" = defaults) */

	/* [server] */
	struct fc_listen_addr listen[FC_CONFIG_MAX_LISTEN];
	int nlisten;			/* >= 1 after load (default 127.0.0.1:8080) */
	int workers;			/* 1..256 */
	char user[64];			/* unprivileged user for workers/capture */
	int max_clients;		/* streams + /events over all workers */
	int max_clients_per_ip;		/* streams per address, 0 = no limit */
	int max_connections;		/* open connections over all workers */
	int client_timeout;		/* seconds to receive a whole request */
	int send_timeout;		/* seconds without progress before a drop */
	int shutdown_grace;		/* seconds to close streams on stop/retire */
	int backlog;			/* listen(2) backlog */
	char auth[256];			/* "user:password" or "" for none */
	char allow_origin[256];		/* Access-Control-Allow-Origin or "" */
	char pid_file[FC_CONFIG_PATH_MAX]; /* default: see config.c */
	int socket_mode;		/* permissions of unix: sockets, 0..0777 */
	char socket_group[64];		/* their group, "" = the supervisor's */
	/* Host names served, in host.h's normal form; the list ends at the
	 * first "" and an empty list (the default) serves any host. */
	char allowed_hosts[FC_CONFIG_MAX_HOSTS][FC_HOST_MAX];

	/* [capture] */
	enum fc_source_kind source;
	char device[FC_CONFIG_PATH_MAX];	/* V4L2 device */
	char camera[256];			/* libcamera id, "" = first */
	char directory[FC_CONFIG_PATH_MAX];	/* JPEG folder, "" = bundled samples */
	char url[1024];				/* upstream MJPEG URL for http */
	int width, height;			/* 16..7680 x 16..4320 */
	int fps;				/* 1..240 */
	int quality;				/* 1..100 */
	int idle_stop;				/* seconds, 0 = never pause */
	bool drop_same_frames;
	uint64_t max_frame_size;		/* bytes per bus slot (size: 64K..64M) */
	int slots;				/* bus slots K, 3..64 */

	/* [tls] PEM files for listen addresses marked tls, "" = none */
	char tls_certificate[FC_CONFIG_PATH_MAX];
	char tls_key[FC_CONFIG_PATH_MAX];

	/* [log] */
	int log_level;			/* enum fc_log_level */
	char log_file[FC_CONFIG_PATH_MAX];	/* "" = stderr */
};

/* Fills cfg with every default.  Never fails. */
void fc_config_defaults(struct fc_config *cfg);

/*
 * Loads path into *cfg.  On success returns 0 and *cfg holds the complete
 * validated configuration.  On failure returns the number of problems found
 * (> 0), prints each one as "FILE:LINE: KEY: problem" to errs (if not NULL),
 * and leaves *cfg untouched.  A missing or unreadable file is one problem
 * ("FILE:0: -: cannot open: ...").
 */
int fc_config_load(struct fc_config *cfg, const char *path, FILE *errs);

/* Same, from a string (tests; name is used in messages), checking the
 * text only: fc_config_load() also checks what the file names outside
 * itself (that `user` exists and is not root, that log.file can be
 * appended to or created), the way start will. */
int fc_config_load_string(struct fc_config *cfg, const char *name,
    const char *text, FILE *errs);

/* Name of a source kind ("testpattern", ...). */
const char *fc_config_source_name(enum fc_source_kind kind);

/* Port of the first TCP listen address (for the default pid file and
 * forkcast --paths); 0 when every listen address is a unix: socket. */
int fc_config_first_port(const struct fc_config *cfg);

/* Whether some listen address is marked tls. */
bool fc_config_has_tls(const struct fc_config *cfg);

/* Index of the first TCP listen address, or -1 when there is none. */
int fc_config_first_tcp(const struct fc_config *cfg);

/* Path of listen address la when it is a unix: socket, else NULL. */
const char *fc_config_unix_path(const struct fc_listen_addr *la);

/* Writes the documented default configuration file (every key, its default
 * and a one-line comment), generated from the key table. */
void fc_config_write_default(FILE *out);

/*
 * Reload: for every key a running server cannot change (the frame bus
 * geometry: max_frame_size, slots), puts running's value back into next
 * and appends "section.key" to names (comma-separated, NUL-terminated,
 * cut to len).  Returns how many keys were put back.
 */
int fc_config_restart_changes(struct fc_config *next,
    const struct fc_config *running, char *names, size_t len);

/* NUL-terminates every string field of cfg (a copy taken from shared
 * memory) and clamps nlisten. */
void fc_config_terminate(struct fc_config *cfg);

/* True when capture-relevant settings differ (reload restarts capture). */
bool fc_config_capture_changed(const struct fc_config *a,
    const struct fc_config *b);

#endif
