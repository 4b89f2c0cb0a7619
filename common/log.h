/*
 * forkcast logging: one vocabulary for every process.
 *
 * Each line goes to stderr as
 *   2026-11-25T12:00:00.123Z forkcast[1234] worker 0: warn: message: strerror
 * The supervisor decides where stderr points (terminal, log file), children
 * inherit it.  Lines are written with a single write(2) so lines of different
 * processes sharing one file do not interleave.
 *
 *   log_warn / log_errorf  add ": strerror(errno)"; the x variants do not.
 *   fatal / fatalx         log at error level and exit(1); use them only
 *                          before serving or on a broken invariant.
 */
#ifndef FC_LOG_H
#define FC_LOG_H

#include <stdarg.h>

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
enum fc_log_level fc_log_get_level(void);
/* Parses "error", "warn", "info", "debug"; returns -1 on anything else. */
int fc_log_level_parse(const char *name);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errorx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
