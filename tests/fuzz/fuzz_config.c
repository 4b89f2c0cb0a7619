/*
 * libFuzzer target: the configuration loader (common/config.c, libinih
 * underneath) on arbitrary text.  A config file is written by an operator,
 * not a client, but the supervisor parses it at start and on every reload
 * while it holds root, so it must never crash, and a refused file must
 * leave the running configuration exactly as it was.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "../../common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

static bool
terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static void
check_valid(const struct fc_config *c)
{
	struct fc_config def;
	int i;

	if (c->nlisten < 1 || c->nlisten > FC_CONFIG_MAX_LISTEN)
		abort();
	for (i = 0; i < c->nlisten; i++) {
		const struct fc_listen_addr *la = &c->listen[i];

		if (!terminated(la->text, sizeof(la->text)))
			abort();
		if (la->addr.ss_family == AF_UNIX) {
			/* unix:PATH: an absolute path, NUL inside sun_path,
			 * not ending in '/', the same as the text says. */
			const struct sockaddr_un *sun =
			    (const struct sockaddr_un *)&la->addr;
			size_t n;

			if (!terminated(sun->sun_path, sizeof(sun->sun_path)))
				abort();
			n = strlen(sun->sun_path);
			if (sun->sun_path[0] != '/' ||
			    sun->sun_path[n - 1] == '/' ||
			    strncmp(la->text, "unix:", 5) != 0 ||
			    strcmp(la->text + 5, sun->sun_path) != 0 ||
			    la->addrlen != offsetof(struct sockaddr_un,
			    sun_path) + n + 1)
				abort();
		} else if (la->addr.ss_family != AF_INET &&
		    la->addr.ss_family != AF_INET6) {
			abort();
		}
	}
	if (c->workers < 1 || c->workers > 256 || c->fps < 1 || c->fps > 240 ||
	    c->quality < 1 || c->quality > 100 || c->slots < 3 ||
	    c->slots > 64 || c->max_frame_size == 0 || c->idle_stop < 0 ||
	    c->max_clients < 0 || c->max_clients_per_ip < 0)
		abort();
	if (!terminated(c->path, sizeof(c->path)) ||
	    !terminated(c->user, sizeof(c->user)) ||
	    !terminated(c->auth, sizeof(c->auth)) ||
	    !terminated(c->allow_origin, sizeof(c->allow_origin)) ||
	    !terminated(c->pid_file, sizeof(c->pid_file)) ||
	    !terminated(c->device, sizeof(c->device)) ||
	    !terminated(c->camera, sizeof(c->camera)) ||
	    !terminated(c->directory, sizeof(c->directory)) ||
	    !terminated(c->url, sizeof(c->url)) ||
	    !terminated(c->log_file, sizeof(c->log_file)))
		abort();
	if (fc_config_source_name(c->source) == NULL)
		abort();
	/* allowed_hosts: names in normal form up to the first "", then only
	 * ""; a Host header naming a stored name is allowed. */
	for (i = 0; i < FC_CONFIG_MAX_HOSTS; i++) {
		const char *h = c->allowed_hosts[i];
		char norm[FC_HOST_MAX];

		if (!terminated(h, FC_HOST_MAX))
			abort();
		if (h[0] == '\0')
			continue;
		if (i > 0 && c->allowed_hosts[i - 1][0] == '\0')
			abort();
		if (fc_host_normalize(h, strlen(h), norm) != NULL ||
		    strcmp(norm, h) != 0)
			abort();
		if (!fc_host_allowed(c->allowed_hosts, FC_CONFIG_MAX_HOSTS, h))
			abort();
	}
	(void)fc_config_first_port(c);
	fc_config_defaults(&def);
	(void)fc_config_capture_changed(c, &def);
}

/* Once: the documented default file loads cleanly and equals the
 * built-in defaults where it matters. */
static void
check_default_file(void)
{
	struct fc_config cfg, def;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if ((f = open_memstream(&text, &len)) == NULL)
		abort();
	fc_config_write_default(f);
	fclose(f);
	if (fc_config_load_string(&cfg, "default.conf", text, stderr) != 0)
		abort();
	free(text);
	check_valid(&cfg);
	fc_config_defaults(&def);
	if (fc_config_capture_changed(&cfg, &def) || cfg.workers != def.workers)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fc_config cfg, before;
	char *text;
	int r;

	if (devnull == NULL) {
		if ((devnull = fopen("/dev/null", "w")) == NULL)
			abort();
		check_default_file();
	}
	/* Exactly size + 1 bytes: an over-read past the NUL is a report. */
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	memset(&cfg, 0xa5, sizeof(cfg));
	memcpy(&before, &cfg, sizeof(cfg));
	r = fc_config_load_string(&cfg, "fuzz.conf", text, devnull);
	if (r < 0)
		abort();
	if (r > 0) {
		/* All or nothing: a refused file changes nothing. */
		if (memcmp(&cfg, &before, sizeof(cfg)) != 0)
			abort();
	} else {
		check_valid(&cfg);
	}
	free(text);
	return 0;
}
