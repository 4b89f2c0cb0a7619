/* forkcast logging; see log.h. */
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* log.h promises that a child's line reaches the supervisor's pipe whole:
 * a pipe write of at most PIPE_BUF bytes is atomic (pipe(7)). */
_Static_assert(FC_LOG_LINE_MAX <= PIPE_BUF, "a log line must fit PIPE_BUF");

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

size_t
fc_log_escape(char *out, size_t outlen, size_t *outn, const void *in,
    size_t inlen)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = in;
	size_t i, o = 0;

	if (outlen == 0) {
		if (outn != NULL)
			*outn = 0;
		return 0;
	}
	for (i = 0; i < inlen; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f) {
			if (o + 1 >= outlen)
				break;
			out[o++] = (char)p[i];
		} else {
			if (o + 4 >= outlen)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[p[i] >> 4];
			out[o++] = hex[p[i] & 0xf];
		}
	}
	out[o] = '\0';
	if (outn != NULL)
		*outn = o;
	return i;
}

void
fc_log_relay_feed(struct fc_log_relay *r, int fd, const void *buf, size_t n)
{
	const char *p = buf;
	size_t off = 0;

	while (off < n) {
		const char *nl = memchr(p + off, '\n', n - off);
		size_t seg = nl != NULL ? (size_t)(nl - (p + off)) : n - off;
		size_t used, added;

		/* Into what is left of the line, one byte kept for the
		 * newline (fc_log_escape keeps it for its NUL). */
		used = fc_log_escape(r->line + r->len, sizeof(r->line) - r->len,
		    &added, p + off, seg);
		r->len += added;
		off += used;
		if (used == seg && nl == NULL)
			return;		/* the rest of the line comes later */
		if (used == seg)
			off++;		/* the newline itself */
		r->line[r->len++] = '\n';
		for (size_t done = 0; done < r->len; ) {
			ssize_t w = write(fd, r->line + done, r->len - done);

			if (w <= 0)
				break;
			done += (size_t)w;
		}
		r->len = 0;
	}
}

static void
vlog(enum fc_log_level level, int errnum, const char *fmt, va_list ap)
{
	char line[FC_LOG_LINE_MAX], msg[FC_LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	size_t n, m = 0, w = 0;
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
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	/* The message is formatted apart, then escaped into the line: no
	 * caller has to remember which of its arguments came from outside. */
	r = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (r > 0)
		m = (size_t)r < sizeof(msg) ? (size_t)r : sizeof(msg) - 1;
	if (errnum != 0 && m < sizeof(msg) - 1) {
		r = snprintf(msg + m, sizeof(msg) - m, ": %s", strerror(errnum));
		if (r > 0)
			m += (size_t)r < sizeof(msg) - m ? (size_t)r :
			    sizeof(msg) - m - 1;
	}
	/* Escaped to fit, leaving the last byte for the newline (truncated
	 * lines keep it too). */
	fc_log_escape(line + n, sizeof(line) - n, &w, msg, m);
	n += w;
	line[n++] = '\n';
	/* One write per line; a short write to a pipe or file is not retried. */
	ssize_t wr = write(STDERR_FILENO, line, n);
	(void)wr;
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
