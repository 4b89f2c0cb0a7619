/*
 * Incremental parser for a multipart/x-mixed-replace body (RFC 2046 5.1.1
 * as MJPEG cameras and servers actually send it).
 *
 * Push model: the caller hands over whatever bytes it read, in any split,
 * and the parser returns one of three results:
 *
 *   FC_MP_PART  a complete part is in *part; *consumed input bytes were used,
 *               feed the rest again (more parts may follow in the same input)
 *   FC_MP_MORE  every input byte was used, no part is complete yet
 *   FC_MP_BAD   a part was dropped (oversize, malformed headers, a boundary
 *               line with junk after it); *consumed bytes were used, the
 *               parser is already looking for the next boundary: feed the
 *               rest again.  fc_multipart_reason() says why.
 *
 * Framing accepted:
 *   - delimiter "--BOUNDARY" at the start of a line (or of the stream),
 *     lines ending in CRLF or a bare LF; extra dashes before the boundary
 *     are tolerated (servers disagree whether the "--" belongs to the
 *     boundary parameter);
 *   - per-part headers; Content-Length when present (the body is then taken
 *     by count, and a boundary may follow directly or after a line break),
 *     otherwise the body ends at the next delimiter line (the CRLF before
 *     it is not part of the body);
 *   - a part is returned as soon as its last byte is known: with
 *     Content-Length when the count is reached, without it when the next
 *     delimiter has been seen (no wait for the line after it);
 *   - bytes that are not a delimiter where one is expected (a preamble,
 *     garbage between parts) are skipped and counted in skipped_bytes.
 *
 * Memory: one body buffer of max_part + a few bytes, allocated once by
 * fc_multipart_init(), and fixed-size header buffers.  Nothing grows with
 * the input, whatever the upstream sends.
 */
#ifndef FC_MULTIPART_H
#define FC_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FC_MP_BOUNDARY_MAX	128	/* longest boundary accepted (RFC: 70) */
#define FC_MP_LINE_MAX		1024	/* longest part header line */
#define FC_MP_HEADERS_MAX	64	/* header lines per part */

enum fc_mp_result {
	FC_MP_PART = 0,
	FC_MP_MORE = 1,
	FC_MP_BAD = 2,
};

/* A complete part.  data points into the parser and stays valid until the
 * next fc_multipart_feed() or fc_multipart_free(). */
struct fc_mp_part {
	const uint8_t *data;
	size_t len;
	char content_type[64];	/* "" when the part had none */
	int64_t ts_real_ns;	/* X-Timestamp: <sec.usec> as ns, 0 if absent */
	bool has_length;	/* the part carried a valid Content-Length */
};

struct fc_multipart {
	/* Delimiter as matched: "\n--" + boundary. */
	char delim[FC_MP_BOUNDARY_MAX + 4];
	size_t dlen;
	size_t max_part;	/* largest body delivered */

	int state;		/* enum in multipart.c */
	size_t match;		/* delimiter bytes matched so far */
	size_t extra_dashes;	/* dashes tolerated between "--" and boundary */
	size_t skipped_here;	/* bytes skipped in the current resync */

	uint8_t *body;		/* max_part + dlen + slack bytes */
	size_t body_cap;
	size_t body_len;
	uint64_t want;		/* Content-Length bytes still to read */

	char line[FC_MP_LINE_MAX];
	size_t line_len;
	bool line_overflow;
	int nheaders;

	struct fc_mp_part cur;	/* headers of the part being read */
	const char *reason;	/* why the last FC_MP_BAD happened */

	/* Counters since init (read freely). */
	uint64_t parts;		/* parts delivered */
	uint64_t dropped_oversize;
	uint64_t dropped_bad;	/* malformed headers / delimiter lines */
	uint64_t skipped_bytes;	/* non-delimiter bytes skipped (not CR/LF) */
};

/*
 * Extracts the boundary parameter of a Content-Type value such as
 *   multipart/x-mixed-replace; boundary="frame"   (quoted or not)
 * into out (NUL-terminated).  Checks the media type is multipart/<any>.  A
 * leading "--" in the parameter is removed (the delimiter matcher tolerates
 * either convention).  Returns 0, or -1 when the type is not multipart, the
 * parameter is missing, empty, too long or holds control characters.
 */
int fc_multipart_boundary(const char *content_type, char *out, size_t outlen);

/*
 * Prepares mp for a stream whose parts are separated by "--boundary"
 * (boundary as returned by fc_multipart_boundary) and whose bodies may be up
 * to max_part bytes.  Returns 0, or -1 with errno (EINVAL: bad boundary or
 * size, ENOMEM).  mp must be released with fc_multipart_free() either way.
 */
int fc_multipart_init(struct fc_multipart *mp, const char *boundary,
    size_t max_part);

/* Forgets any partial part and waits for the next boundary (as after init);
 * counters are kept. */
void fc_multipart_reset(struct fc_multipart *mp);

/* Releases the body buffer; accepts a zeroed or half-initialised mp. */
void fc_multipart_free(struct fc_multipart *mp);

/*
 * Feeds len bytes (len may be 0).  Returns FC_MP_PART, FC_MP_MORE or
 * FC_MP_BAD as described above; *consumed is always set (== len for
 * FC_MP_MORE).  part is filled only for FC_MP_PART.
 */
enum fc_mp_result fc_multipart_feed(struct fc_multipart *mp,
    const uint8_t *data, size_t len, size_t *consumed,
    struct fc_mp_part *part);

/* Short reason for the last FC_MP_BAD ("" before any). */
const char *fc_multipart_reason(const struct fc_multipart *mp);

/* Parses "<sec>.<fraction>" (fraction of up to 9 digits) into ns since the
 * epoch; returns 0 when text is not such a number.  Exposed for tests. */
int64_t fc_multipart_parse_ts(const char *text);

#endif
