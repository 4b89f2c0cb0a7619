/* forkcast logging; see log.h. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char log_role[32] = "forkcast";
static pid_t log_pid;
static enum fc_log_level log_level = FC_LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
fc_log_init(const char *role, enum fc_log_level level)
{
	snprintf(log_role, sizeof(log_role), "%s", role);
	log_pid = getpid();
	log_level = level;
}

void
fc_log_set_level(enum fc_log_level level)
{
	log_level = level;
}

enum fc_log_level
fc_log_get_level(void)
{
	return log_level;
}

int
fc_log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

static void
vlog(enum fc_log_level level, int errnum, const char *fmt, va_list ap)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int r;

	if (level > log_level)
		return;
	if (log_pid == 0)
		log_pid = getpid();
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ forkcast[%ld] %s: %s: ",
	    ts.tv_nsec / 1000000, (long)log_pid, log_role, level_names[level]);
	if (r > 0)
		n += (size_t)r;
	if (n < sizeof(line)) {
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		if (r > 0)
			n += (size_t)r;
	}
	if (errnum != 0 && n < sizeof(line)) {
		r = snprintf(line + n, sizeof(line) - n, ": %s", strerror(errnum));
		if (r > 0)
			n += (size_t)r;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;	/* truncated: keep the newline */
	line[n++] = '\n';
	/* One write per line; a short write to a pipe or file is not retried. */
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
}

#define FC_LOG_FN(name, level, with_errno)                    \
	void name(const char *fmt, ...)                       \
	{                                                     \
		int saved = errno;                            \
		va_list ap;                                   \
		va_start(ap, fmt);                            \
		vlog(level, (with_errno) ? saved : 0, fmt, ap); \
		va_end(ap);                                   \
		errno = saved;                                \
	}

FC_LOG_FN(log_error, FC_LOG_ERROR, 1)
FC_LOG_FN(log_errorx, FC_LOG_ERROR, 0)
FC_LOG_FN(log_warn, FC_LOG_WARN, 1)
FC_LOG_FN(log_warnx, FC_LOG_WARN, 0)
FC_LOG_FN(log_info, FC_LOG_INFO, 0)
FC_LOG_FN(log_debug, FC_LOG_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(FC_LOG_ERROR, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(FC_LOG_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
