/*
 * forkcast logging: one vocabulary for every process.
 *
 * Each line goes to stderr as
 *   2026-11-25T12:00:00.123Z forkcast[1234] worker 0: warn: message: strerror
 * The supervisor decides where stderr points (terminal, log file), children
 * inherit it.  Lines are written with a single write(2) so lines of different
 * processes sharing one file do not interleave.
 *
 * The formatted message (strerror included) is escaped before it is
 * written: every byte that is not printable ASCII becomes \xNN, so text
 * from outside (requests, upstream responses, camera strings) logged by any
 * caller can neither move the operator's terminal nor forge a second line.
 * A line is at most FC_LOG_LINE_MAX bytes (below PIPE_BUF, so a child's
 * line reaches the supervisor's pipe whole or not at all); longer ones are
 * cut.
 *
 *   log_warn / log_errorf  add ": strerror(errno)"; the x variants do not.
 *   fatal / fatalx         log at error level and exit(1); use them only
 *                          before serving or on a broken invariant.
 */
#ifndef FC_LOG_H
#define FC_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define FC_LOG_LINE_MAX	2048	/* bytes of one line, newline included */

enum fc_log_level {
	FC_LOG_ERROR = 0,
	FC_LOG_WARN = 1,
	FC_LOG_INFO = 2,
	FC_LOG_DEBUG = 3,
};

/* Sets the role shown in every line ("supervisor", "capture", "worker 3")
 * and caches the pid.  Call again after fork().  role is copied. */
void fc_log_init(const char *role, enum fc_log_level level);
void fc_log_set_level(enum fc_log_level level);

/*
 * Journal format: each line starts with its syslog priority ("<3>" error,
 * "<4>" warn, "<6>" info, "<7>" debug), the way systemd-journald reads a
 * service's stderr, and carries no timestamp (the journal stamps it).
 * Off by default; children inherit it through fork, and the supervisor
 * passes it to forkcast-capture (--journal).
 */
void fc_log_set_journal(bool on);
bool fc_log_journal(void);
/* True when stderr is the stream systemd named in JOURNAL_STREAM
 * ("DEV:INODE" of the descriptor it connected to stderr). */
bool fc_log_stderr_is_journal(void);
enum fc_log_level fc_log_get_level(void);
/* Parses "error", "warn", "info", "debug"; returns -1 on anything else. */
int fc_log_level_parse(const char *name);

/*
 * Copies the inlen bytes at in to out as printable ASCII: each byte below
 * 0x20, 0x7f and each byte from 0x80 up becomes \xNN (lower-case hex), every
 * other byte is copied as it is.  Stops where the next byte would not fit,
 * so out (outlen > 0) is always NUL-terminated and never ends in half an
 * escape.  Stores the bytes written (NUL excluded) in *outn when outn is not
 * NULL; returns how many bytes of in were consumed.  Any caller.
 */
size_t fc_log_escape(char *out, size_t outlen, size_t *outn, const void *in,
    size_t inlen);

/*
 * Relay of log lines written by other processes (the supervisor reads its
 * children's pipe): the bytes may come from a compromised process and a
 * read may end inside a line.  '\n' separates lines; every other byte that
 * is not printable ASCII is escaped as above.  A line is gathered across
 * calls and written to its fd in one write(2), newline included, so lines
 * of the relaying process never land inside it; a line longer than
 * FC_LOG_LINE_MAX escaped bytes is cut into several.  Memory is the fixed
 * struct; zero it before the first call.
 */
struct fc_log_relay {
	size_t len;			/* escaped bytes of a partial line */
	char line[FC_LOG_LINE_MAX];	/* that partial line */
};

/* Feeds the n bytes at buf; writes every line they complete to fd.  A
 * failed write drops that line (the log target is gone).  In journal
 * format, a line that starts with '<' but not with one of the four
 * priorities above gets "<4>" in front: a child cannot raise a line to
 * critical, alert or emergency (which journald may broadcast to every
 * terminal). */
void fc_log_relay_feed(struct fc_log_relay *r, int fd, const void *buf,
    size_t n);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errorx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
