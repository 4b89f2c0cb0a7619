/* multipart/x-mixed-replace push parser; see multipart.h. */
#include "multipart.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
	ST_SEEK = 0,	/* skipping until a delimiter */
	ST_DELIM_LINE,	/* rest of the delimiter line ("", "--", junk) */
	ST_HEADERS,	/* part header lines until a blank one */
	ST_BODY_LEN,	/* body with a known Content-Length */
	ST_SKIP_LEN,	/* oversize body with a known length: discard it */
	ST_BODY_SCAN,	/* body without length: ends at the next delimiter */
};

#define MAX_EXTRA_DASHES	8
#define DELIM_LINE_MAX		80

static const char *const no_reason = "";

int64_t
fc_multipart_parse_ts(const char *s)
{
	int64_t sec = 0, frac = 0, scale = 100000000;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		sec = sec * 10 + (*p - '0');
		/* Year 2255: beyond any real clock.  Checked after each digit
		 * so sec * 10^9 below cannot overflow. */
		if (sec > 9000000000LL)
			return 0;
	}
	if (*p == '.') {
		p++;
		for (; *p >= '0' && *p <= '9'; p++) {
			/* Digits past nanoseconds are ignored, not an error. */
			if (scale > 0) {
				frac += (*p - '0') * scale;
				scale /= 10;
			}
		}
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0')
		return 0;
	return sec * 1000000000LL + frac;
}

static bool
boundary_char_ok(unsigned char c)
{
	/* Printable ASCII; quotes and control characters never belong. */
	return c >= 0x20 && c < 0x7f && c != '"';
}

int
fc_multipart_boundary(const char *ct, char *out, size_t outlen)
{
	const char *p = ct, *v, *end;
	size_t n;

	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "multipart/", 10) != 0)
		return -1;
	/* Walk the ;-separated parameters looking for boundary=. */
	while ((p = strchr(p, ';')) != NULL) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "boundary", 8) != 0)
			continue;
		v = p + 8;
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v != '=')
			continue;
		v++;
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v == '"') {
			v++;
			if ((end = strchr(v, '"')) == NULL)
				return -1;
		} else {
			end = v;
			while (*end != '\0' && *end != ';' && *end != ' ' &&
			    *end != '\t')
				end++;
		}
		n = (size_t)(end - v);
		/* "--frame" in the header while parts say "--frame": the
		 * dashes were meant as part of the delimiter.  The matcher
		 * tolerates extra dashes, so strip them here. */
		if (n > 2 && v[0] == '-' && v[1] == '-') {
			v += 2;
			n -= 2;
		}
		if (n == 0 || n > FC_MP_BOUNDARY_MAX || n >= outlen)
			return -1;
		for (size_t i = 0; i < n; i++)
			if (!boundary_char_ok((unsigned char)v[i]))
				return -1;
		memcpy(out, v, n);
		out[n] = '\0';
		return 0;
	}
	return -1;
}

static void
seek(struct fc_multipart *mp, bool at_line_start)
{
	mp->state = ST_SEEK;
	mp->match = at_line_start ? 1 : 0;
	mp->extra_dashes = 0;
	mp->skipped_here = 0;
}

void
fc_multipart_reset(struct fc_multipart *mp)
{
	seek(mp, true);		/* a stream may start with the delimiter */
	mp->body_len = 0;
	mp->want = 0;
	mp->line_len = 0;
	mp->line_overflow = false;
}

int
fc_multipart_init(struct fc_multipart *mp, const char *boundary,
    size_t max_part)
{
	size_t blen;

	memset(mp, 0, sizeof(*mp));
	mp->reason = no_reason;
	blen = strlen(boundary);
	if (blen == 0 || blen > FC_MP_BOUNDARY_MAX || max_part == 0 ||
	    max_part > ((size_t)1 << 30)) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < blen; i++) {
		if (!boundary_char_ok((unsigned char)boundary[i])) {
			errno = EINVAL;
			return -1;
		}
	}
	mp->delim[0] = '\n';
	mp->delim[1] = '-';
	mp->delim[2] = '-';
	memcpy(mp->delim + 3, boundary, blen + 1);
	mp->dlen = blen + 3;
	mp->max_part = max_part;
	/* Room for a full body plus the CR and delimiter that end it, which
	 * land in the buffer before they are recognised. */
	mp->body_cap = max_part + mp->dlen + MAX_EXTRA_DASHES + 2;
	if ((mp->body = malloc(mp->body_cap)) == NULL)
		return -1;
	fc_multipart_reset(mp);
	return 0;
}

void
fc_multipart_free(struct fc_multipart *mp)
{
	free(mp->body);
	mp->body = NULL;
	mp->body_cap = 0;
}

const char *
fc_multipart_reason(const struct fc_multipart *mp)
{
	return mp->reason != NULL ? mp->reason : no_reason;
}

/* Advances the delimiter matcher by one byte; true when "\n--boundary" is
 * complete.  '\n' appears only at delim[0], so a mismatch restarts at 1
 * after a newline and at 0 otherwise (no general KMP table needed). */
static bool
match_step(struct fc_multipart *mp, unsigned char c)
{
	if (c == (unsigned char)mp->delim[mp->match]) {
		if (++mp->match == mp->dlen)
			return true;
		return false;
	}
	if (mp->match == 3 && c == '-' && mp->extra_dashes < MAX_EXTRA_DASHES) {
		mp->extra_dashes++;
		return false;
	}
	mp->extra_dashes = 0;
	mp->match = c == '\n' ? 1 : 0;
	return false;
}

static enum fc_mp_result
bad(struct fc_multipart *mp, const char *why, bool oversize, bool line_start)
{
	if (oversize)
		mp->dropped_oversize++;
	else
		mp->dropped_bad++;
	mp->reason = why;
	mp->body_len = 0;
	seek(mp, line_start);
	return FC_MP_BAD;
}

static void
start_headers(struct fc_multipart *mp)
{
	mp->state = ST_HEADERS;
	mp->line_len = 0;
	mp->line_overflow = false;
	mp->nheaders = 0;
	memset(&mp->cur, 0, sizeof(mp->cur));
}

static enum fc_mp_result
deliver(struct fc_multipart *mp, struct fc_mp_part *part)
{
	*part = mp->cur;
	part->data = mp->body;
	part->len = mp->body_len;
	mp->parts++;
	mp->body_len = 0;
	return FC_MP_PART;
}

/* Trims trailing CR, spaces and tabs from the collected line. */
static void
trim_line(struct fc_multipart *mp)
{
	while (mp->line_len > 0 && (mp->line[mp->line_len - 1] == '\r' ||
	    mp->line[mp->line_len - 1] == ' ' ||
	    mp->line[mp->line_len - 1] == '\t'))
		mp->line_len--;
	mp->line[mp->line_len] = '\0';
}

/* One header line (NUL-terminated in mp->line).  Returns false when it
 * makes the part unusable. */
static bool
header_line(struct fc_multipart *mp)
{
	char *name = mp->line, *colon, *v;
	uint64_t n = 0;

	if ((colon = strchr(name, ':')) == NULL || colon == name)
		return false;
	*colon = '\0';
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (strcasecmp(name, "Content-Length") == 0) {
		if (*v == '\0')
			return false;
		for (; *v != '\0'; v++) {
			if (*v < '0' || *v > '9' || n > UINT64_MAX / 20)
				return false;
			n = n * 10 + (uint64_t)(*v - '0');
		}
		mp->cur.has_length = true;
		mp->want = n;
	} else if (strcasecmp(name, "Content-Type") == 0) {
		strncpy(mp->cur.content_type, v,
		    sizeof(mp->cur.content_type) - 1);
	} else if (strcasecmp(name, "X-Timestamp") == 0) {
		mp->cur.ts_real_ns = fc_multipart_parse_ts(v);
	}
	return true;
}

/* Appends to the body; false when it would exceed the buffer. */
static bool
body_put(struct fc_multipart *mp, const uint8_t *p, size_t n)
{
	if (n > mp->body_cap - mp->body_len)
		return false;
	memcpy(mp->body + mp->body_len, p, n);
	mp->body_len += n;
	return true;
}

enum fc_mp_result
fc_multipart_feed(struct fc_multipart *mp, const uint8_t *data, size_t len,
    size_t *consumed, struct fc_mp_part *part)
{
	size_t i = 0, n, tail;
	const uint8_t *nl;
	unsigned char c;
	enum fc_mp_result r;

	while (i < len) {
		switch (mp->state) {
		case ST_SEEK:
			c = data[i++];
			if (c != '\r' && c != '\n')
				mp->skipped_here++;
			if (match_step(mp, c)) {
				/* The delimiter's own bytes were counted. */
				tail = mp->dlen - 1 + mp->extra_dashes;
				mp->skipped_bytes += mp->skipped_here > tail ?
				    mp->skipped_here - tail : 0;
				mp->skipped_here = 0;
				mp->match = 0;
				mp->extra_dashes = 0;
				mp->line_len = 0;
				mp->state = ST_DELIM_LINE;
			}
			break;

		case ST_DELIM_LINE:
			c = data[i++];
			if (c != '\n') {
				if (mp->line_len >= DELIM_LINE_MAX) {
					r = bad(mp, "boundary line too long",
					    false, false);
					goto out;
				}
				mp->line[mp->line_len++] = (char)c;
				break;
			}
			trim_line(mp);
			if (mp->line_len == 0) {
				start_headers(mp);
			} else if (mp->line_len >= 2 && mp->line[0] == '-' &&
			    mp->line[1] == '-') {
				/* Close delimiter: a new body may follow. */
				seek(mp, true);
			} else {
				r = bad(mp, "junk after boundary", false, true);
				goto out;
			}
			break;

		case ST_HEADERS:
			c = data[i++];
			if (c != '\n') {
				if (mp->line_len >= sizeof(mp->line) - 1)
					mp->line_overflow = true;
				else
					mp->line[mp->line_len++] = (char)c;
				break;
			}
			if (mp->line_overflow) {
				r = bad(mp, "part header line too long", false,
				    true);
				goto out;
			}
			trim_line(mp);
			if (mp->line_len > 0) {
				if (++mp->nheaders > FC_MP_HEADERS_MAX) {
					r = bad(mp, "too many part headers",
					    false, true);
					goto out;
				}
				if (!header_line(mp)) {
					r = bad(mp, "malformed part header",
					    false, true);
					goto out;
				}
				mp->line_len = 0;
				break;
			}
			/* Blank line: the body starts. */
			mp->body_len = 0;
			if (!mp->cur.has_length) {
				mp->state = ST_BODY_SCAN;
				mp->match = 1;	/* at a line start */
				mp->extra_dashes = 0;
			} else if (mp->want > mp->max_part) {
				mp->dropped_oversize++;
				mp->reason = "part larger than max_frame_size";
				mp->state = ST_SKIP_LEN;
				r = FC_MP_BAD;
				goto out;
			} else if (mp->want == 0) {
				seek(mp, true);
				r = deliver(mp, part);
				goto out;
			} else {
				mp->state = ST_BODY_LEN;
			}
			break;

		case ST_BODY_LEN:
		case ST_SKIP_LEN:
			n = len - i;
			if (n > mp->want)
				n = (size_t)mp->want;
			if (mp->state == ST_BODY_LEN)
				body_put(mp, data + i, n);  /* fits: want <= max */
			i += n;
			mp->want -= n;
			if (mp->want > 0)
				break;
			if (mp->state == ST_SKIP_LEN) {
				seek(mp, true);
				break;
			}
			/* A delimiter may follow directly or after CRLF. */
			seek(mp, true);
			r = deliver(mp, part);
			goto out;

		case ST_BODY_SCAN:
			if (mp->match == 0) {
				/* Fast path: nothing can match before a '\n'. */
				nl = memchr(data + i, '\n', len - i);
				n = nl != NULL ? (size_t)(nl - (data + i)) :
				    len - i;
				if (n > 0) {
					if (!body_put(mp, data + i, n)) {
						i += n;
						r = bad(mp, "part larger than "
						    "max_frame_size", true,
						    false);
						goto out;
					}
					i += n;
					break;
				}
			}
			c = data[i++];
			if (!match_step(mp, c)) {
				if (!body_put(mp, &c, 1)) {
					/* Keep the matcher state so a
					 * delimiter straddling this byte is
					 * still found. */
					size_t m = mp->match, x = mp->extra_dashes;

					r = bad(mp, "part larger than "
					    "max_frame_size", true, false);
					mp->match = m;
					mp->extra_dashes = x;
					goto out;
				}
				break;
			}
			/* Everything but the last delimiter byte is in the
			 * buffer; drop it, and the CR of a CRLF. */
			tail = mp->dlen - 1 + mp->extra_dashes;
			mp->body_len = mp->body_len > tail ?
			    mp->body_len - tail : 0;
			if (mp->body_len > 0 && mp->body[mp->body_len - 1] == '\r')
				mp->body_len--;
			mp->match = 0;
			mp->extra_dashes = 0;
			mp->line_len = 0;
			mp->state = ST_DELIM_LINE;
			if (mp->body_len > mp->max_part) {
				mp->dropped_oversize++;
				mp->reason = "part larger than max_frame_size";
				mp->body_len = 0;
				r = FC_MP_BAD;
				goto out;
			}
			r = deliver(mp, part);
			goto out;
		}
	}
	r = FC_MP_MORE;
out:
	*consumed = i;
	return r;
}
