/*
 * Incremental HTTP response + multipart/x-mixed-replace parser for the test
 * client; see mpparse.h.
 */
#include "mpparse.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_MAX_PART (UINT64_C(64) << 20)

enum {
	S_RESP_HEAD,	/* status line and headers */
	S_DELIM_LINE,	/* blank lines, then a delimiter line */
	S_DELIM_REST,	/* rest of a delimiter line found by scanning */
	S_PART_HEAD,	/* part header block */
	S_BODY_LEN,	/* Content-Length bytes of body */
	S_BODY_SCAN,	/* body up to the next delimiter */
	S_PLAIN,	/* not multipart: the body as it is */
	S_DONE,
	S_ERROR,
};

void
mp_init(struct mp_parser *mp)
{
	memset(mp, 0, sizeof(*mp));
	mp->content_length = -1;
	mp->state = S_RESP_HEAD;
}

static enum mp_result
fail(struct mp_parser *mp, const char *why)
{
	mp->state = S_ERROR;
	mp->error = why;
	return MP_ERROR;
}

/* Case-insensitive prefix test; returns the rest of s or NULL. */
static const char *
prefix(const char *s, const char *pre)
{
	size_t n = strlen(pre);

	return strncasecmp(s, pre, n) == 0 ? s + n : NULL;
}

static const char *
skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Decimal digits only, at most max; -1 otherwise. */
static int64_t
parse_uint(const char *s, int64_t max)
{
	int64_t v = 0;

	s = skip_ws(s);
	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		v = v * 10 + (*s - '0');
		if (v > max)
			return -1;
	}
	s = skip_ws(s);
	return *s == '\0' ? v : -1;
}

/* "SECONDS[.FRACTION]" -> microseconds; false when malformed. */
static bool
parse_timestamp(const char *s, int64_t *us)
{
	int64_t sec = 0, frac = 0;
	int digits = 0;

	s = skip_ws(s);
	if (!isdigit((unsigned char)*s))
		return false;
	for (; isdigit((unsigned char)*s); s++) {
		sec = sec * 10 + (*s - '0');
		if (sec > INT64_C(100000000000))
			return false;
	}
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return false;
		for (; isdigit((unsigned char)*s); s++)
			if (digits < 6) {
				frac = frac * 10 + (*s - '0');
				digits++;
			}
	}
	for (; digits < 6; digits++)
		frac *= 10;
	if (*skip_ws(s) != '\0')
		return false;
	*us = sec * 1000000 + frac;
	return true;
}

/* Extracts the boundary parameter of a multipart Content-Type. */
static bool
parse_boundary(struct mp_parser *mp, const char *ct)
{
	const char *p = ct, *v;
	size_t n = 0;

	while ((p = strchr(p, ';')) != NULL) {
		p = skip_ws(p + 1);
		if ((v = prefix(p, "boundary=")) == NULL)
			continue;
		if (*v == '"') {
			for (v++; v[n] != '"'; n++)
				if (v[n] == '\0' || n >= MP_BOUNDARY_MAX)
					return false;
		} else {
			while (v[n] != '\0' && v[n] != ';' && v[n] != ' ' &&
			    v[n] != '\t')
				n++;
		}
		if (n == 0 || n > MP_BOUNDARY_MAX - 2)
			return false;
		memcpy(mp->boundary, v, n);
		mp->boundary[n] = '\0';
		return true;
	}
	return false;
}

/*
 * Splits the collected header block into lines and hands each to fn.
 * Lines end in CRLF or LF; the block ends with an empty line.
 */
static bool
each_line(struct mp_parser *mp, bool (*fn)(struct mp_parser *, char *))
{
	char *p = mp->line, *end = mp->line + mp->linelen, *nl;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		*nl = '\0';
		if (nl > p && nl[-1] == '\r')
			nl[-1] = '\0';
		if (*p != '\0' && !fn(mp, p))
			return false;
		p = nl + 1;
	}
	return true;
}

static bool
response_line(struct mp_parser *mp, char *l)
{
	const char *v;
	char *colon;

	if (mp->status == 0) {
		if (strncmp(l, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)l[7])
		    || l[8] != ' ' || !isdigit((unsigned char)l[9]) ||
		    !isdigit((unsigned char)l[10]) ||
		    !isdigit((unsigned char)l[11]) ||
		    (l[12] != ' ' && l[12] != '\0'))
			return false;
		mp->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 +
		    (l[11] - '0');
		return true;
	}
	/* Obsolete line folding and header lines without a colon. */
	if (*l == ' ' || *l == '\t' || (colon = strchr(l, ':')) == NULL)
		return false;
	*colon = '\0';
	v = skip_ws(colon + 1);
	if (strcasecmp(l, "Content-Type") == 0) {
		snprintf(mp->content_type, sizeof(mp->content_type), "%s", v);
	} else if (strcasecmp(l, "Content-Length") == 0) {
		if ((mp->content_length = parse_uint(v, INT64_C(1) << 40)) < 0)
			return false;
	} else if (strcasecmp(l, "Transfer-Encoding") == 0) {
		/* DESIGN: streams are never chunked. */
		return false;
	}
	return true;
}

static bool
part_line(struct mp_parser *mp, char *l)
{
	const char *v;
	char *colon;
	int64_t n;
	uint64_t max = mp->max_part ? mp->max_part : DEFAULT_MAX_PART;

	if ((colon = strchr(l, ':')) == NULL || *l == ' ' || *l == '\t')
		return false;
	*colon = '\0';
	v = skip_ws(colon + 1);
	if (strcasecmp(l, "Content-Length") == 0) {
		if ((n = parse_uint(v, (int64_t)max)) < 0)
			return false;
		mp->part.has_length = true;
		mp->remaining = (uint64_t)n;
	} else if (strcasecmp(l, "X-Timestamp") == 0) {
		mp->part.has_ts = parse_timestamp(v, &mp->part.ts_us);
	}
	return true;
}

/* Appends c to the header block; true when the block is complete. */
static bool
collect_block(struct mp_parser *mp, char c, bool *overflow)
{
	size_t n;

	if (mp->linelen >= sizeof(mp->line) - 1) {
		*overflow = true;
		return false;
	}
	mp->line[mp->linelen++] = c;
	mp->line[mp->linelen] = '\0';
	if (c != '\n')
		return false;
	n = mp->linelen;
	/* A block that is nothing but a blank line has no headers. */
	if ((n == 2 && mp->line[0] == '\r') || n == 1)
		return true;
	return (n >= 4 && memcmp(mp->line + n - 4, "\r\n\r\n", 4) == 0) ||
	    (n >= 2 && memcmp(mp->line + n - 2, "\n\n", 2) == 0) ||
	    (n >= 3 && memcmp(mp->line + n - 3, "\n\r\n", 3) == 0);
}

static void
set_delimiter(struct mp_parser *mp, const char *dashes_boundary)
{
	size_t i, k = 0;

	mp->delimlen = (size_t)snprintf(mp->delim, sizeof(mp->delim), "\r\n%s",
	    dashes_boundary);
	/* KMP failure function: longest proper prefix that is a suffix. */
	mp->fail[0] = 0;
	for (i = 1; i < mp->delimlen; i++) {
		while (k > 0 && mp->delim[i] != mp->delim[k])
			k = mp->fail[k - 1];
		if (mp->delim[i] == mp->delim[k])
			k++;
		mp->fail[i] = k;
	}
	mp->match = 0;
}

/* Body bytes of the current part: keep the first and last two. */
static bool
body_bytes(struct mp_parser *mp, const unsigned char *p, size_t n)
{
	uint64_t max = mp->max_part ? mp->max_part : DEFAULT_MAX_PART;
	size_t i;

	if (n == 0)
		return true;
	if (mp->on_part_data != NULL)
		(void)mp->on_part_data(mp->arg, p, n);
	for (i = 0; i < n && mp->part.len + i < 2; i++)
		mp->first[mp->part.len + i] = p[i];
	if (n >= 2) {
		mp->last[0] = p[n - 2];
		mp->last[1] = p[n - 1];
	} else {
		mp->last[0] = mp->last[1];
		mp->last[1] = p[0];
	}
	mp->part.len += n;
	return mp->part.len <= max;
}

static void
start_part(struct mp_parser *mp)
{
	memset(&mp->part, 0, sizeof(mp->part));
	mp->remaining = 0;
	mp->linelen = 0;
}

static enum mp_result
finish_part(struct mp_parser *mp)
{
	mp->part.jpeg_ok = mp->part.len >= 4 && mp->first[0] == 0xff &&
	    mp->first[1] == 0xd8 && mp->last[0] == 0xff && mp->last[1] == 0xd9;
	mp->parts++;
	if (mp->on_part != NULL && mp->on_part(mp->arg, &mp->part) != 0)
		return fail(mp, "callback");
	return MP_OK;
}

/* A complete delimiter line (CR, trailing whitespace removed). */
static enum mp_result
delimiter_line(struct mp_parser *mp, char *l)
{
	size_t n = strlen(l), b = strlen(mp->boundary);
	char want[MP_BOUNDARY_MAX + 3];
	const char *rest = NULL;

	while (n > 0 && (l[n - 1] == ' ' || l[n - 1] == '\t'))
		l[--n] = '\0';
	if (n == 0)
		return MP_OK;			/* blank line between parts */
	if (mp->delimlen == 0) {
		/* First delimiter: RFC form "--b", or "b" itself when the
		 * server put the dashes into the parameter. */
		snprintf(want, sizeof(want), "--%s", mp->boundary);
		if (strncmp(l, want, b + 2) == 0)
			set_delimiter(mp, want);
		else if (strncmp(mp->boundary, "--", 2) == 0 &&
		    strncmp(l, mp->boundary, b) == 0)
			set_delimiter(mp, mp->boundary);
		else if (mp->parts == 0)
			return MP_OK;		/* preamble, ignored */
		else
			return fail(mp, "garbage between parts");
	}
	if (strncmp(l, mp->delim + 2, mp->delimlen - 2) == 0)
		rest = l + mp->delimlen - 2;
	if (rest == NULL || (*rest != '\0' && strcmp(rest, "--") != 0)) {
		if (mp->parts == 0 && rest == NULL)
			return MP_OK;
		return fail(mp, "garbage between parts");
	}
	if (*rest != '\0') {
		mp->state = S_DONE;
		return MP_DONE;
	}
	start_part(mp);
	mp->state = S_PART_HEAD;
	return MP_OK;
}

static enum mp_result
headers_complete(struct mp_parser *mp)
{
	if (!each_line(mp, response_line) || mp->status == 0)
		return fail(mp, "malformed response header");
	mp->headers_done = true;
	mp->linelen = 0;
	if (prefix(mp->content_type, "multipart/") != NULL) {
		if (!parse_boundary(mp, mp->content_type))
			return fail(mp, "multipart without a usable boundary");
		mp->multipart = true;
		mp->state = S_DELIM_LINE;
		return MP_OK;
	}
	mp->state = S_PLAIN;
	if (mp->content_length == 0) {
		mp->state = S_DONE;
		return MP_DONE;
	}
	return MP_OK;
}

/*
 * Scans body bytes for the delimiter (KMP, with memchr for the first CR);
 * returns bytes consumed.  *found: the delimiter ended at the last byte
 * consumed.  Bytes held as a partial match are body if the match fails.
 */
static size_t
scan_body(struct mp_parser *mp, const unsigned char *p, size_t n, bool *found,
    bool *toobig)
{
	const unsigned char *cr;
	size_t i = 0, k, keep;

	*found = *toobig = false;
	while (i < n) {
		if (mp->match == 0) {
			cr = memchr(p + i, '\r', n - i);
			k = cr != NULL ? (size_t)(cr - (p + i)) : n - i;
			if (!body_bytes(mp, p + i, k)) {
				*toobig = true;
				return i;
			}
			i += k;
			if (cr == NULL)
				break;
			mp->match = 1;	/* delim[0] is the CR */
			i++;
			continue;
		}
		while (mp->match > 0 &&
		    (unsigned char)mp->delim[mp->match] != p[i]) {
			keep = mp->fail[mp->match - 1];
			if (!body_bytes(mp, (const unsigned char *)mp->delim,
			    mp->match - keep)) {
				*toobig = true;
				return i;
			}
			mp->match = keep;
		}
		if ((unsigned char)mp->delim[mp->match] == p[i]) {
			mp->match++;
			i++;
			if (mp->match == mp->delimlen) {
				mp->match = 0;
				*found = true;
				return i;
			}
		} else {
			if (!body_bytes(mp, p + i, 1)) {
				*toobig = true;
				return i;
			}
			i++;
		}
	}
	return i;
}

enum mp_result
mp_feed(struct mp_parser *mp, const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t i = 0, k;
	bool overflow = false, found, toobig;
	enum mp_result r;

	mp->bytes += n;
	while (i < n) {
		switch (mp->state) {
		case S_RESP_HEAD:
			if (collect_block(mp, (char)p[i++], &overflow)) {
				if ((r = headers_complete(mp)) != MP_OK)
					return r;
			} else if (overflow)
				return fail(mp, "response header too long");
			break;
		case S_DELIM_LINE:
		case S_DELIM_REST:
			if (mp->linelen >= sizeof(mp->line) - 1)
				return fail(mp, "delimiter line too long");
			if (p[i] != '\n') {
				mp->line[mp->linelen++] = (char)p[i++];
				break;
			}
			i++;
			if (mp->linelen > 0 && mp->line[mp->linelen - 1] == '\r')
				mp->linelen--;
			mp->line[mp->linelen] = '\0';
			mp->linelen = 0;
			if (mp->state == S_DELIM_REST) {
				/* "--b" was matched by the scanner; prepend it
				 * so one function judges the whole line. */
				char full[MP_HEADER_MAX + MP_BOUNDARY_MAX + 8];

				snprintf(full, sizeof(full), "%s%s",
				    mp->delim + 2, mp->line);
				r = delimiter_line(mp, full);
			} else
				r = delimiter_line(mp, mp->line);
			if (r != MP_OK)
				return r;
			break;
		case S_PART_HEAD:
			if (collect_block(mp, (char)p[i++], &overflow)) {
				if (!each_line(mp, part_line))
					return fail(mp, "malformed part header");
				mp->linelen = 0;
				if (mp->part.has_length) {
					mp->state = S_BODY_LEN;
					if (mp->remaining > 0)
						break;
					if ((r = finish_part(mp)) != MP_OK)
						return r;
					mp->state = S_DELIM_LINE;
				} else
					mp->state = S_BODY_SCAN;
			} else if (overflow)
				return fail(mp, "part header too long");
			break;
		case S_BODY_LEN:
			k = n - i;
			if (k > mp->remaining)
				k = (size_t)mp->remaining;
			body_bytes(mp, p + i, k);
			mp->remaining -= k;
			i += k;
			if (mp->remaining == 0) {
				if ((r = finish_part(mp)) != MP_OK)
					return r;
				mp->state = S_DELIM_LINE;
			}
			break;
		case S_BODY_SCAN:
			i += scan_body(mp, p + i, n - i, &found, &toobig);
			if (toobig)
				return fail(mp, "part too large");
			if (found) {
				if ((r = finish_part(mp)) != MP_OK)
					return r;
				mp->state = S_DELIM_REST;
				mp->linelen = 0;
			}
			break;
		case S_PLAIN:
			k = n - i;
			if (mp->content_length >= 0 &&
			    k > (uint64_t)mp->content_length - mp->plain_seen)
				k = (size_t)((uint64_t)mp->content_length -
				    mp->plain_seen);
			if (mp->on_body != NULL &&
			    mp->on_body(mp->arg, p + i, k) != 0)
				return fail(mp, "callback");
			mp->plain_seen += k;
			i += k;
			if (mp->content_length >= 0 &&
			    mp->plain_seen == (uint64_t)mp->content_length) {
				mp->state = S_DONE;
				return MP_DONE;
			}
			break;
		case S_DONE:
			return MP_DONE;	/* epilogue: ignored */
		default:
			return MP_ERROR;
		}
	}
	return MP_OK;
}

enum mp_result
mp_eof(struct mp_parser *mp)
{
	switch (mp->state) {
	case S_DONE:
		return MP_DONE;
	case S_PLAIN:
		if (mp->content_length < 0) {
			mp->state = S_DONE;
			return MP_DONE;
		}
		return fail(mp, "body shorter than Content-Length");
	case S_DELIM_LINE:
		/* Between parts (a server ending the stream, maxtime). */
		if (mp->linelen == 0) {
			mp->state = S_DONE;
			return MP_DONE;
		}
		return fail(mp, "connection closed mid-line");
	case S_ERROR:
		return MP_ERROR;
	case S_RESP_HEAD:
		return fail(mp, "connection closed before the response header");
	default:
		return fail(mp, "connection closed mid-part");
	}
}
