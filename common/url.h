/*
 * forkcast upstream URLs: one parser for the configuration check
 * (`forkcast -n`, start, reload) and the relay (capture/source_http.c), so
 * what the check accepts is exactly what the relay can use, and one
 * redactor for every place that shows a URL to someone else (/status,
 * /metrics, the log).
 *
 * Accepted: http://HOST[:PORT][/PATH][?QUERY][#FRAGMENT]
 *   - scheme http only, in any letter case (RFC 3986 3.1);
 *   - HOST a name (letters, digits, '-', '_', dot-separated labels of at
 *     most 63 characters, 253 in all), a dotted-quad IPv4 address, or an
 *     IPv6 address in brackets (no zone id);
 *   - PORT 1..65535, 80 when absent;
 *   - PATH and QUERY printable ASCII; the path is "/" when absent;
 *   - the FRAGMENT is dropped: it names a place inside a document, is
 *     never sent in a request (RFC 9110 4.2.4), and browsers show it in
 *     URLs users copy.
 *   - credentials: http://USER:PASSWORD@HOST/..., percent-decoded (so a
 *     ':' or '@' in a password is written %3A, %40), USER non-empty and
 *     without ':' once decoded, each at most FC_URL_CRED_MAX bytes, no
 *     control bytes once decoded.  The relay sends them as HTTP Basic
 *     (Authorization: Basic base64(USER:PASSWORD)); fc_url_redact() drops
 *     them, with the query, wherever the url is shown.
 * The url is split by libhttp-parser's http_parser_parse_url(); the checks
 * above are forkcast's own, on its fields.
 * Refused: anything else, spaces, control or non-ASCII bytes anywhere.
 */
#ifndef FC_URL_H
#define FC_URL_H

#include <stddef.h>
#include <stdint.h>

#define FC_URL_HOST_MAX	253	/* longest DNS name */
#define FC_URL_CRED_MAX	128	/* longest user, longest password (decoded) */

struct fc_url {
	char scheme[8];		/* "http" (lower case, whatever was written) */
	char host[FC_URL_HOST_MAX + 1];	/* name, IPv4, or IPv6 without [] */
	char port[6];		/* decimal, "80" when the url names none */
	uint16_t portnum;	/* the same as a number, 1..65535 */
	char hostport[FC_URL_HOST_MAX + 9]; /* Host header: host:port, [v6]:port */
	char path[1024];	/* path and query as written, "/" when none;
				 * never the fragment */
	int has_credentials;	/* 1: user and password below are set */
	char user[FC_URL_CRED_MAX + 1];	/* percent-decoded */
	char password[FC_URL_CRED_MAX + 1];	/* percent-decoded */
};

/*
 * Parses s into *u.  Returns 0, or -1 with a reason in err (errlen bytes,
 * always NUL-terminated) that never repeats the query or credentials of s.
 * Any caller; no allocation.  u holds the decoded password: callers wipe
 * it (explicit_bzero) when done with u.
 */
int fc_url_parse(const char *s, struct fc_url *u, char *err, size_t errlen);

/*
 * Writes the public form of url s into out: "http://host:port/path", with
 * no credentials, no query string and no fragment.  An url that does not
 * parse (credentials aside, which are dropped) gives "(invalid url)".  out
 * is always NUL-terminated; a form longer than outlen-1 is cut.
 */
void fc_url_redact(const char *s, char *out, size_t outlen);

#endif
