/*
 * A growable byte buffer for building responses and JSON.  Appends never
 * fail loudly: on allocation failure (or past max) the buffer is marked
 * failed and further appends are ignored; the caller checks sb->failed once
 * at the end and drops that one client instead of aborting the process.
 */
#ifndef FC_STRBUF_H
#define FC_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct fc_strbuf {
	char *data;	/* NUL-terminated while not failed */
	size_t len;
	size_t cap;
	size_t max;	/* 0 = no limit */
	bool failed;
};

/* Initialises an empty buffer with an optional size limit (0: none). */
void fc_strbuf_init(struct fc_strbuf *sb, size_t max);
void fc_strbuf_free(struct fc_strbuf *sb);
void fc_strbuf_reset(struct fc_strbuf *sb);	/* len = 0, keeps memory */
void fc_strbuf_append(struct fc_strbuf *sb, const void *p, size_t n);
void fc_strbuf_puts(struct fc_strbuf *sb, const char *s);
void fc_strbuf_printf(struct fc_strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (quotes and escapes included). */
void fc_strbuf_json_string(struct fc_strbuf *sb, const char *s);

#endif
