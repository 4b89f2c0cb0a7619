/* Growable byte buffer; see strbuf.h. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
fc_strbuf_init(struct fc_strbuf *sb, size_t max)
{
	memset(sb, 0, sizeof(*sb));
	sb->max = max;
}

void
fc_strbuf_free(struct fc_strbuf *sb)
{
	free(sb->data);
	sb->data = NULL;
	sb->len = sb->cap = 0;
}

void
fc_strbuf_reset(struct fc_strbuf *sb)
{
	sb->len = 0;
	sb->failed = false;
	if (sb->data != NULL)
		sb->data[0] = '\0';
}

/* Makes room for n more bytes plus the terminating NUL. */
static bool
reserve(struct fc_strbuf *sb, size_t n)
{
	size_t need, cap;
	char *p;

	if (sb->failed)
		return false;
	if (n > SIZE_MAX / 2 - sb->len - 1)
		goto fail;
	need = sb->len + n + 1;
	if (sb->max != 0 && need > sb->max + 1)
		goto fail;
	if (need <= sb->cap)
		return true;
	cap = sb->cap ? sb->cap : 256;
	while (cap < need)
		cap *= 2;
	if ((p = realloc(sb->data, cap)) == NULL)
		goto fail;
	sb->data = p;
	sb->cap = cap;
	return true;
fail:
	sb->failed = true;
	return false;
}

void
fc_strbuf_append(struct fc_strbuf *sb, const void *p, size_t n)
{
	if (!reserve(sb, n))
		return;
	memcpy(sb->data + sb->len, p, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
}

void
fc_strbuf_puts(struct fc_strbuf *sb, const char *s)
{
	fc_strbuf_append(sb, s, strlen(s));
}

void
fc_strbuf_printf(struct fc_strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(sb, (size_t)n)) {
		sb->failed = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

void
fc_strbuf_json_string(struct fc_strbuf *sb, const char *s)
{
	fc_strbuf_append(sb, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fc_strbuf_append(sb, "\\\"", 2); break;
		case '\\': fc_strbuf_append(sb, "\\\\", 2); break;
		case '\n': fc_strbuf_append(sb, "\\n", 2); break;
		case '\r': fc_strbuf_append(sb, "\\r", 2); break;
		case '\t': fc_strbuf_append(sb, "\\t", 2); break;
		default:
			if (*p < 0x20)
				fc_strbuf_printf(sb, "\\u%04x", *p);
			else
				fc_strbuf_append(sb, p, 1);
		}
	}
	fc_strbuf_append(sb, "\"", 1);
}
