/* Where forkcast's own files are; see paths.h. */
#include "paths.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
fc_path_exe_dir(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) < 0)
		return -1;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL) {
		errno = EINVAL;
		return -1;
	}
	*slash = '\0';
	if ((size_t)snprintf(buf, len, "%s", exe) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
fc_path_find(char *buf, size_t len, const char *const *rel, size_t n,
    enum fc_path_kind kind)
{
	char dir[PATH_MAX], tidy[PATH_MAX];
	struct stat st;

	if (fc_path_exe_dir(dir, sizeof(dir)) == -1) {
		snprintf(buf, len, "(cannot read /proc/self/exe: %s)",
		    strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if ((size_t)snprintf(buf, len, "%s/%s", dir, rel[i]) >= len ||
		    stat(buf, &st) != 0)
			continue;
		if (kind == FC_PATH_DIR ? S_ISDIR(st.st_mode) :
		    S_ISREG(st.st_mode) &&
		    (kind == FC_PATH_FILE || access(buf, X_OK) == 0)) {
			if (realpath(buf, tidy) != NULL && strlen(tidy) < len)
				memcpy(buf, tidy, strlen(tidy) + 1);
			return 0;
		}
	}
	snprintf(buf, len, "%s", dir);
	return -1;
}

int
fc_path_capture_exe(char *buf, size_t len)
{
	static const char *const rel[] = {
		"forkcast-capture",				/* checkout */
		"../libexec/forkcast/forkcast-capture",		/* installed */
	};

	return fc_path_find(buf, len, rel, sizeof(rel) / sizeof(rel[0]),
	    FC_PATH_EXEC);
}

void
fc_path_default_config(char *buf, size_t len)
{
	/* build/forkcast and build/san/forkcast of a checkout. */
	static const char *const rel[] = {
		"../conf/forkcast.conf", "../../conf/forkcast.conf",
	};

	if (fc_path_find(buf, len, rel, sizeof(rel) / sizeof(rel[0]),
	    FC_PATH_FILE) == -1)
		snprintf(buf, len, "%s/forkcast/forkcast.conf", FC_SYSCONFDIR);
}
