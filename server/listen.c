/* Listening sockets for the configured addresses; see listen.h. */
#include "listen.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/log.h"

int
fc_listen_open(const struct fc_listen_addr *la, int backlog, char *err,
    size_t errlen)
{
	int fd, one = 1;

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
	if (listen(fd, backlog) == -1)
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
		fds[i] = fc_listen_open(&cfg->listen[i], cfg->backlog, err, errlen);
		if (fds[i] == -1) {
			fc_listen_close_all(fds, i);
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
