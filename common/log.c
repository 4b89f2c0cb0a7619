/* forkcast logging; see log.h. */
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* log.h promises that a child's line reaches the supervisor's pipe whole:
 * a pipe write of at most PIPE_BUF bytes is atomic (pipe(7)). */
_Static_assert(FC_LOG_LINE_MAX <= PIPE_BUF, "a log line must fit PIPE_BUF");

static char log_role[32] = "forkcast";
static pid_t log_pid;
static enum fc_log_level log_level = FC_LOG_INFO;
static bool log_journal;

static const char *const level_names[] = { "error", "warn", "info", "debug" };
/* syslog priorities of the levels (LOG_ERR, LOG_WARNING, LOG_INFO,
 * LOG_DEBUG). */
static const char level_prio[] = { '3', '4', '6', '7' };

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

void
fc_log_set_journal(bool on)
{
	log_journal = on;
}

bool
fc_log_journal(void)
{
	return log_journal;
}

bool
fc_log_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int end = 0;

	if (e == NULL || sscanf(e, "%llu:%llu%n", &dev, &ino, &end) != 2 ||
	    e[end] != '\0')
		return false;
	if (fstat(STDERR_FILENO, &st) == -1)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
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

/* True when line starts with one of the priorities vlog() writes. */
static bool
own_priority(const char *line, size_t len)
{
	return len >= 3 && line[0] == '<' && line[2] == '>' &&
	    memchr(level_prio, line[1], sizeof(level_prio)) != NULL;
}

/* Writes a relayed line (newline included) whole, with "<4>" in front of
 * a line that would otherwise set its own priority in journal format. */
static void
write_line(int fd, const char *line, size_t len)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)(uintptr_t)"<4>", .iov_len = 3 },
		{ .iov_base = (void *)(uintptr_t)line, .iov_len = len },
	};
	int i = log_journal && line[0] == '<' && !own_priority(line, len) ?
	    0 : 1;

	while (i < 2) {
		ssize_t w = writev(fd, iov + i, 2 - i);

		if (w <= 0)
			return;
		/* A short write continues where it stopped. */
		while (i < 2 && (size_t)w >= iov[i].iov_len)
			w -= (ssize_t)iov[i++].iov_len;
		if (i < 2) {
			iov[i].iov_base = (char *)iov[i].iov_base + w;
			iov[i].iov_len -= (size_t)w;
		}
	}
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
		write_line(fd, r->line, r->len);
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
	if (log_journal) {
		/* The journal stamps the line itself. */
		line[0] = '<';
		line[1] = level_prio[level];
		line[2] = '>';
		n = 3;
		r = snprintf(line + n, sizeof(line) - n, "forkcast[%ld] %s: %s: ",
		    (long)log_pid, log_role, level_names[level]);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		r = snprintf(line + n, sizeof(line) - n,
		    ".%03ldZ forkcast[%ld] %s: %s: ", ts.tv_nsec / 1000000,
		    (long)log_pid, log_role, level_names[level]);
	}
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
