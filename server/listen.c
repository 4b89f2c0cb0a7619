/* Listening sockets for the configured addresses; see listen.h. */
#include "listen.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "../common/fds.h"
#include "../common/log.h"

/* Sockets systemd passed (fc_listen_adopt), and whether a listen line
 * has adopted each. */
static struct passed {
	int fd;
	bool used;
} passed[FC_CONFIG_MAX_LISTEN];
static int npassed;

/*
 * The socket files this process made, by path and inode, so that only
 * those are ever removed: a file put in the same place by someone else
 * since (another instance after a stop, an operator) stays.  Room for the
 * running addresses and a reload's new ones.
 */
static struct made {
	char path[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
	dev_t dev;
	ino_t ino;
} made[FC_CONFIG_MAX_LISTEN * 2];

static void
remember(const char *path, const struct stat *st)
{
	for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
		if (made[i].path[0] == '\0') {
			snprintf(made[i].path, sizeof(made[i].path), "%s", path);
			made[i].dev = st->st_dev;
			made[i].ino = st->st_ino;
			return;
		}
	}
}

int
fc_listen_adopt(int first, int n, char *err, size_t errlen)
{
	if (n > FC_CONFIG_MAX_LISTEN) {
		snprintf(err, errlen, "socket activation: %d sockets passed, "
		    "at most %d are served", n, FC_CONFIG_MAX_LISTEN);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int fd = first + i;

		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
			snprintf(err, errlen, "socket activation: descriptor "
			    "%d is not a listening stream socket", fd);
			return -1;
		}
		passed[i].fd = fd;
		passed[i].used = false;
	}
	npassed = n;
	return 0;
}

int
fc_listen_all_adopted(char *err, size_t errlen)
{
	char where[160];

	for (int i = 0; i < npassed; i++) {
		if (passed[i].used)
			continue;
		fc_fds_sockname(passed[i].fd, where, sizeof(where));
		snprintf(err, errlen, "socket activation: the socket for %s "
		    "(descriptor %d) matches no listen line (write it as a "
		    "listen line, in the same form)", where, passed[i].fd);
		return -1;
	}
	return 0;
}

/* The passed socket serving la, or NULL. */
static struct passed *
passed_for(const struct fc_listen_addr *la)
{
	const char *path = fc_config_unix_path(la);

	for (int i = 0; i < npassed; i++) {
		int r = path != NULL ?
		    sd_is_socket_unix(passed[i].fd, SOCK_STREAM, 1, path, 0) :
		    sd_is_socket_sockaddr(passed[i].fd, SOCK_STREAM,
		    (const struct sockaddr *)&la->addr, la->addrlen, 1);

		if (r > 0)
			return &passed[i];
	}
	return NULL;
}

bool
fc_listen_is_adopted(const struct fc_listen_addr *la)
{
	return passed_for(la) != NULL;
}

/* A descriptor of our own for the passed socket p: close-on-exec,
 * non-blocking, with cfg's backlog.  -1 with err set. */
static int
adopt(const struct fc_config *cfg, const struct fc_listen_addr *la,
    struct passed *p, char *err, size_t errlen)
{
	int fd, fl;

	if ((fd = fcntl(p->fd, F_DUPFD_CLOEXEC, 0)) == -1 ||
	    (fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    listen(fd, cfg->backlog) == -1) {
		snprintf(err, errlen, "listen %s (socket from systemd): %s",
		    la->text, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	p->used = true;
	return fd;
}

/*
 * Makes way for a unix socket at path: nothing there is fine; a socket
 * that refuses connections (ECONNREFUSED: its server is gone) is
 * removed; a socket someone accepts on, or anything that is not a
 * socket, is refused.  Returns 0, or -1 with why set.
 */
static int
clear_stale(const struct fc_listen_addr *la, const char *path,
    const char **why)
{
	struct stat st;
	int fd, r, e;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		*why = strerror(errno);
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		*why = "exists and is not a socket";
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		*why = strerror(errno);
		return -1;
	}
	/* A unix connect never waits: it is accepted into the backlog,
	 * refused (nobody listens), or EAGAIN (a full backlog: alive). */
	r = connect(fd, (const struct sockaddr *)&la->addr, la->addrlen);
	e = errno;
	close(fd);
	if (r == 0 || e == EAGAIN) {
		*why = "another process serves this socket";
		return -1;
	}
	if (e != ECONNREFUSED) {
		*why = strerror(e);
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		*why = strerror(errno);
		return -1;
	}
	log_info("removed the stale socket %s (nobody listened on it)", path);
	return 0;
}

/* The group of socket_group into *gid; *gid is left alone when the key is
 * empty.  -1 with a message when there is no such group. */
static int
socket_gid(const struct fc_config *cfg, const struct fc_listen_addr *la,
    gid_t *gid, char *err, size_t errlen)
{
	struct group *gr;

	if (cfg->socket_group[0] == '\0')
		return 0;
	errno = 0;
	if ((gr = getgrnam(cfg->socket_group)) == NULL) {
		snprintf(err, errlen, "listen %s: socket_group %s: %s",
		    la->text, cfg->socket_group, errno != 0 ?
		    strerror(errno) : "no such group");
		return -1;
	}
	*gid = gr->gr_gid;
	return 0;
}

/* Binds a unix socket with the configured mode and group. */
static int
open_unix(const struct fc_config *cfg, const struct fc_listen_addr *la,
    char *err, size_t errlen)
{
	const char *path = fc_config_unix_path(la), *why = NULL;
	struct stat st;
	mode_t old;
	gid_t gid = (gid_t)-1;
	int fd = -1, e;

	if (socket_gid(cfg, la, &gid, err, errlen) == -1)
		return -1;
	if (clear_stale(la, path, &why) == -1) {
		snprintf(err, errlen, "listen %s: %s", la->text, why);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	/* Made with no permissions at all, then opened up to socket_mode
	 * once it has its group.  The supervisor is single-threaded, so the
	 * umask is its own for this moment. */
	old = umask(0777);
	e = bind(fd, (const struct sockaddr *)&la->addr, la->addrlen);
	umask(old);
	if (e == -1)
		goto fail;
	if (lstat(path, &st) == -1 || !S_ISSOCK(st.st_mode))
		goto fail_made;
	remember(path, &st);
	if (gid != (gid_t)-1 && lchown(path, (uid_t)-1, gid) == -1)
		goto fail_made;
	if (chmod(path, (mode_t)cfg->socket_mode) == -1)
		goto fail_made;
	if (listen(fd, cfg->backlog) == -1)
		goto fail_made;
	return fd;
fail_made:
	e = errno;
	fc_listen_remove(la);
	errno = e;
fail:
	snprintf(err, errlen, "listen %s: %s", la->text, strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

int
fc_listen_open(const struct fc_config *cfg, const struct fc_listen_addr *la,
    char *err, size_t errlen)
{
	struct passed *p;
	int fd, one = 1;

	if ((p = passed_for(la)) != NULL)
		return adopt(cfg, la, p, err, errlen);
	if (la->addr.ss_family == AF_UNIX)
		return open_unix(cfg, la, err, errlen);
	fd = socket(la->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
		goto fail;
	/* "[::]:8080" and "0.0.0.0:8080" are separate entries in the config;
	 * a v6 socket that also took v4 would make the second bind fail. */
	if (la->addr.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&la->addr, la->addrlen) == -1)
		goto fail;
	if (listen(fd, cfg->backlog) == -1)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "listen %s: %s", la->text, strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

int
fc_listen_open_all(const struct fc_config *cfg, int *fds, char *err,
    size_t errlen)
{
	for (int i = 0; i < cfg->nlisten; i++) {
		fds[i] = fc_listen_open(cfg, &cfg->listen[i], err, errlen);
		if (fds[i] == -1) {
			fc_listen_close_all(fds, i);
			for (int j = 0; j < i; j++)
				fc_listen_remove(&cfg->listen[j]);
			return -1;
		}
	}
	return 0;
}

void
fc_listen_close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		if (fds[i] != -1)
			close(fds[i]);
		fds[i] = -1;
	}
}

void
fc_listen_remove(const struct fc_listen_addr *la)
{
	const char *path = fc_config_unix_path(la);
	struct stat st;

	if (path == NULL)
		return;
	for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
		if (made[i].path[0] == '\0' || strcmp(made[i].path, path) != 0)
			continue;
		if (lstat(path, &st) == 0 && st.st_dev == made[i].dev &&
		    st.st_ino == made[i].ino && unlink(path) == -1)
			log_warn("remove %s", path);
		made[i].path[0] = '\0';
	}
}

int
fc_listen_set_access(const struct fc_config *cfg,
    const struct fc_listen_addr *la, char *err, size_t errlen)
{
	const char *path = fc_config_unix_path(la);
	gid_t gid = getegid();

	/* systemd's SocketMode= and SocketGroup= are in force there. */
	if (path == NULL || passed_for(la) != NULL)
		return 0;
	if (socket_gid(cfg, la, &gid, err, errlen) == -1)
		return -1;
	if (lchown(path, (uid_t)-1, gid) == -1 ||
	    chmod(path, (mode_t)cfg->socket_mode) == -1) {
		snprintf(err, errlen, "listen %s: %s", la->text,
		    strerror(errno));
		return -1;
	}
	return 0;
}
