/*
 * forkcast upstream URLs; see url.h.
 *
 * libhttp-parser's http_parser_parse_url() splits the url (scheme, user
 * info, host, port, path, query).  It names no reason for a refusal and
 * takes port 0, IPv6 zone ids and "10.1", so forkcast's own checks run on
 * its fields, and when it refuses an url the same checks run on the text
 * to say why (explain()).  Host names are not checked with host.h:
 * fc_host_normalize() folds case and refuses '_' to compare Host headers,
 * while the relay sends the name as written and resolves what
 * getaddrinfo() resolves (an /etc/hosts or container name with a '_').
 */
#include "url.h"

#include <http_parser.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SCHEME		"http://"
#define SCHEME_LEN	(sizeof(SCHEME) - 1)
#define LABEL_MAX	63	/* longest DNS label */
#define SHOW_MAX	60	/* how much of a bad host or port is echoed */
#define URL_MAX		4096	/* longest url handed to the library */

static int fail(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the reason into err; returns -1. */
static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* How many of n bytes a message repeats (for "%.*s"). */
static int
shown(size_t n)
{
	return (int)(n < SHOW_MAX ? n : SHOW_MAX);
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    is_digit(c) || c == '-' || c == '_';
}

/* Copies the n bytes at h, a host name or IPv4 address (not bracketed),
 * into u->host.  0, or -1 with the reason in err. */
static int
parse_name(const char *h, size_t n, struct fc_url *u, char *err,
    size_t errlen)
{
	struct in_addr a4;
	size_t label = 0;
	bool numeric = true;

	if (n > FC_URL_HOST_MAX)
		return fail(err, errlen, "host name longer than %d characters",
		    FC_URL_HOST_MAX);
	for (size_t i = 0; i < n; i++) {
		if (h[i] == '.') {
			/* A final dot (a fully qualified name) is fine. */
			if (label == 0)
				return fail(err, errlen, "host '%.*s' has an "
				    "empty label", shown(n), h);
			label = 0;
			continue;
		}
		if (!is_name_char(h[i]))
			return fail(err, errlen, "host '%.*s' is not a name, "
			    "an IPv4 address or an [IPv6] address",
			    shown(n), h);
		if (!is_digit(h[i]))
			numeric = false;
		if (++label > LABEL_MAX)
			return fail(err, errlen, "host name has a label longer "
			    "than %d characters", LABEL_MAX);
	}
	memcpy(u->host, h, n);
	u->host[n] = '\0';
	/* Digits and dots only: a dotted quad, not one of the short forms
	 * getaddrinfo() would also take ("10.1", "167772161"). */
	if (numeric && inet_pton(AF_INET, u->host, &a4) != 1)
		return fail(err, errlen, "'%.*s' is not a valid IPv4 address",
		    SHOW_MAX, u->host);
	return 0;
}

/* Copies the IPv6 address between the brackets (n bytes at h) into
 * u->host.  0, or -1 with the reason in err. */
static int
parse_ipv6(const char *h, size_t n, struct fc_url *u, char *err,
    size_t errlen)
{
	struct in6_addr a6;

	if (n == 0 || n >= INET6_ADDRSTRLEN)
		return fail(err, errlen, "'[%.*s]' is not a valid IPv6 address",
		    shown(n), h);
	memcpy(u->host, h, n);
	u->host[n] = '\0';
	if (inet_pton(AF_INET6, u->host, &a6) != 1)
		return fail(err, errlen, "'[%s]' is not a valid IPv6 address",
		    u->host);
	return 0;
}

/* The n bytes at p (after the ':') as a port 1..65535 into u.  0 or -1. */
static int
parse_port(const char *p, size_t n, struct fc_url *u, char *err,
    size_t errlen)
{
	unsigned long v = 0;

	if (n == 0)
		return fail(err, errlen, "empty port after ':'");
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return fail(err, errlen, "port '%.*s' is not a number",
			    shown(n), p);
		if (v <= 65535)		/* saturates: any more is too big */
			v = v * 10 + (unsigned long)(p[i] - '0');
	}
	if (v < 1 || v > 65535)
		return fail(err, errlen, "port %.*s is out of range "
		    "(1..65535)", shown(n), p);
	u->portnum = (uint16_t)v;
	snprintf(u->port, sizeof(u->port), "%lu", v);
	return 0;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes the n bytes at p into out (cap bytes with the NUL).  The
 * reason never repeats the text (it is a secret).  0 or -1. */
static int
decode_cred(const char *p, size_t n, char *out, size_t cap, const char *what,
    char *err, size_t errlen)
{
	size_t o = 0;
	int hi, lo, c;

	for (size_t i = 0; i < n; i++) {
		c = (unsigned char)p[i];
		if (c == '%') {
			if (i + 2 >= n)
				return fail(err, errlen, "credentials: bad "
				    "percent escape in the %s", what);
			if ((hi = hex_value(p[i + 1])) < 0 ||
			    (lo = hex_value(p[i + 2])) < 0)
				return fail(err, errlen, "credentials: bad "
				    "percent escape in the %s", what);
			c = hi * 16 + lo;
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			return fail(err, errlen, "credentials: the %s holds a "
			    "control character", what);
		if (o + 1 >= cap)
			return fail(err, errlen, "credentials: the %s is longer "
			    "than %d bytes", what, FC_URL_CRED_MAX);
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* The user information (n bytes at p, before the '@') into u. */
static int
parse_userinfo(const char *p, size_t n, struct fc_url *u, char *err,
    size_t errlen)
{
	const char *colon = memchr(p, ':', n);

	if (colon == NULL)
		return fail(err, errlen, "credentials must be user:password "
		    "(percent-encoded)");
	if (decode_cred(p, (size_t)(colon - p), u->user, sizeof(u->user),
	    "user", err, errlen) < 0 ||
	    decode_cred(colon + 1, n - (size_t)(colon - p) - 1, u->password,
	    sizeof(u->password), "password", err, errlen) < 0)
		return -1;
	if (u->user[0] == '\0')
		return fail(err, errlen, "credentials: empty user");
	if (strchr(u->user, ':') != NULL)
		return fail(err, errlen, "credentials: the user holds ':' "
		    "(HTTP Basic cannot send it)");
	u->has_credentials = 1;
	return 0;
}

/* Host (bracketed when v6) and optional ":port" in [h, hend) into u. */
static int
parse_hostport(const char *h, const char *hend, struct fc_url *u, char *err,
    size_t errlen)
{
	const char *p;

	if (h == hend || *h == ':')
		return fail(err, errlen, "no host after http://");
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(hend - h));

		if (rb == NULL)
			return fail(err, errlen, "unterminated [IPv6] address "
			    "(missing ])");
		if (parse_ipv6(h + 1, (size_t)(rb - h - 1), u, err,
		    errlen) < 0)
			return -1;
		p = rb + 1;
		if (p != hend && *p != ':')
			return fail(err, errlen, "unexpected text after the "
			    "[IPv6] address");
	} else {
		p = memchr(h, ':', (size_t)(hend - h));
		if (p == NULL)
			p = hend;
		if (parse_name(h, (size_t)(p - h), u, err, errlen) < 0)
			return -1;
	}
	if (p != hend)
		return parse_port(p + 1, (size_t)(hend - p - 1), u, err,
		    errlen);
	u->portnum = 80;
	snprintf(u->port, sizeof(u->port), "80");
	return 0;
}

/*
 * fc_url_parse, with one difference for fc_url_redact: with
 * skip_userinfo, credentials are passed over instead of checked.
 */
static int
parse(const char *s, struct fc_url *u, bool skip_userinfo, char *err,
    size_t errlen)
{
	struct http_parser_url pu;
	const char *auth, *aend, *at, *host, *pend;
	size_t n, len;
	int lib;

	memset(u, 0, sizeof(*u));
	if (errlen > 0)
		err[0] = '\0';
	if (*s == '\0')
		return fail(err, errlen, "empty url");
	for (const char *q = s; *q != '\0'; q++)
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
			return fail(err, errlen, "spaces, control and "
			    "non-ASCII characters are not allowed");
	if (strncasecmp(s, SCHEME, SCHEME_LEN) != 0)
		return fail(err, errlen, "must start with http:// (the only "
		    "scheme supported)");
	snprintf(u->scheme, sizeof(u->scheme), "http");

	/* The fragment is never sent: the library sees the url without
	 * it (it refuses "http://cam#x" otherwise). */
	len = strcspn(s, "#");
	if (len > URL_MAX)
		return fail(err, errlen, "url longer than %d characters",
		    URL_MAX);
	http_parser_url_init(&pu);
	lib = http_parser_parse_url(s, len, 0, &pu);

	/* Authority: up to the path, query or fragment (RFC 3986 3.2); the
	 * user information ends at its last '@'. */
	auth = s + SCHEME_LEN;
	aend = auth + strcspn(auth, "/?#");
	at = NULL;
	for (const char *q = auth; q < aend; q++)
		if (*q == '@')
			at = q;
	host = at != NULL ? at + 1 : auth;

	if (lib == 0) {
		/* The library's split must be the one checked below: its
		 * host is the text after the user information. */
		if ((pu.field_set & (1 << UF_HOST)) == 0 ||
		    pu.field_data[UF_HOST].len == 0)
			return fail(err, errlen, "no host after http://");
		if (s + pu.field_data[UF_HOST].off !=
		    host + (*host == '[' ? 1 : 0))
			return fail(err, errlen, "not a valid http url");
		if ((pu.field_set & (1 << UF_USERINFO)) != 0)
			at = s + pu.field_data[UF_USERINFO].off +
			    pu.field_data[UF_USERINFO].len;
	}
	/* Host and port are checked on the text either way: when the
	 * library refused the url this names the reason. */
	if (parse_hostport(host, aend, u, err, errlen) < 0)
		return -1;
	if (at != NULL && !skip_userinfo && parse_userinfo(auth,
	    (size_t)(at - auth), u, err, errlen) < 0)
		return -1;
	if (lib != 0)
		return fail(err, errlen, at != NULL ? "credentials hold "
		    "characters an url cannot carry (percent-encode them)" :
		    "not a valid http url");
	if (strchr(u->host, ':') != NULL)
		snprintf(u->hostport, sizeof(u->hostport), "[%s]:%s", u->host,
		    u->port);
	else
		snprintf(u->hostport, sizeof(u->hostport), "%s:%s", u->host,
		    u->port);

	/* Path and query, without the fragment; "/" when there is no path
	 * (also before a query: http://cam?x=1 asks for /?x=1). */
	pend = s + len;
	n = (size_t)(pend - aend);
	if (*aend != '/') {
		u->path[0] = '/';
		if (n + 1 >= sizeof(u->path))
			return fail(err, errlen, "path too long (at most %zu "
			    "characters)", sizeof(u->path) - 1);
		memcpy(u->path + 1, aend, n);
		u->path[n + 1] = '\0';
	} else {
		if (n >= sizeof(u->path))
			return fail(err, errlen, "path too long (at most %zu "
			    "characters)", sizeof(u->path) - 1);
		memcpy(u->path, aend, n);
		u->path[n] = '\0';
	}
	return 0;
}

int
fc_url_parse(const char *s, struct fc_url *u, char *err, size_t errlen)
{
	if (parse(s, u, false, err, errlen) < 0) {
		/* A refused url leaves no decoded password behind. */
		explicit_bzero(u, sizeof(*u));
		return -1;
	}
	return 0;
}

void
fc_url_redact(const char *s, char *out, size_t outlen)
{
	struct fc_url u;
	char err[1];

	if (outlen == 0)
		return;
	if (parse(s, &u, true, err, sizeof(err)) < 0) {
		snprintf(out, outlen, "(invalid url)");
		return;
	}
	snprintf(out, outlen, "%s://%s%.*s", u.scheme, u.hostport,
	    (int)strcspn(u.path, "?"), u.path);
}
