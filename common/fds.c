/* Descriptor hygiene; see fds.h. */
#include "fds.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int
cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static bool
listed(const int *keep, int n, long fd)
{
	for (int i = 0; i < n; i++)
		if (keep[i] == fd)
			return true;
	return false;
}

/*
 * The fallback: every descriptor /proc/self/fd lists, except the kept ones
 * and the directory's own.  /proc numbers its entries by descriptor, so
 * closing while reading skips nothing.
 */
static int
close_listed_in_proc(const int *keep, int n)
{
	struct dirent *e;
	DIR *d;
	char *end;
	long fd;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		fd = strtol(e->d_name, &end, 10);
		if (end == e->d_name || *end != '\0' || fd < 0 || fd > INT_MAX ||
		    fd == dirfd(d) || listed(keep, n, fd))
			continue;
		close((int)fd);
	}
	closedir(d);
	return 0;
}

int
fc_fds_close_except(int *keep, int n)
{
	unsigned next = 0;	/* lowest descriptor that may still be open */

	qsort(keep, (size_t)n, sizeof(*keep), cmp_int);
	for (int i = 0; i < n; i++) {
		if (keep[i] < 0) {
			errno = EBADF;
			return -1;
		}
		if ((unsigned)keep[i] > next &&
		    close_range(next, (unsigned)keep[i] - 1, 0) == -1)
			return close_listed_in_proc(keep, n);
		if ((unsigned)keep[i] + 1 > next)
			next = (unsigned)keep[i] + 1;
	}
	if (close_range(next, ~0U, 0) == -1)
		return close_listed_in_proc(keep, n);
	return 0;
}

int
fc_fds_keep_on_exec(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fcntl(fds[i], F_SETFD, 0) == -1)
			return -1;
	return 0;
}

void
fc_fds_sockname(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
		ss.ss_family = AF_UNSPEC;
	switch (ss.ss_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
		break;
	}
	case AF_UNIX: {
		const struct sockaddr_un *un = (const struct sockaddr_un *)&ss;

		snprintf(buf, len, "unix:%.*s", (int)sizeof(un->sun_path),
		    un->sun_path[0] != '\0' ? un->sun_path : "(abstract)");
		break;
	}
	default:
		snprintf(buf, len, "socket %d", fd);
	}
}
