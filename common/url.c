/*
 * forkcast upstream URLs; see url.h.
 *
 * Split by hand rather than with libhttp-parser's http_parser_parse_url():
 * that one names no reason for a refusal, takes port 0, IPv6 zone ids and
 * "10.1", and refuses "http://cam#frag", so every check below would still
 * be needed on its fields.  Host names are not checked with host.h either:
 * fc_host_normalize() folds case and refuses '_' to compare Host headers,
 * while the relay sends the name as written and resolves what
 * getaddrinfo() resolves (an /etc/hosts or container name with a '_').
 */
#include "url.h"

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

/*
 * fc_url_parse, with one difference for fc_url_redact: with
 * skip_userinfo, credentials are passed over instead of refused.
 */
static int
parse(const char *s, struct fc_url *u, bool skip_userinfo, char *err,
    size_t errlen)
{
	const char *auth, *aend, *at, *p, *pend;
	size_t n;

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

	/* Authority: up to the path, query or fragment (RFC 3986 3.2). */
	auth = s + SCHEME_LEN;
	aend = auth + strcspn(auth, "/?#");
	at = NULL;
	for (p = auth; p < aend; p++)
		if (*p == '@')
			at = p;
	if (at != NULL) {
		if (!skip_userinfo)
			return fail(err, errlen, "credentials in the url are "
			    "not supported (upstream credentials will get a "
			    "configuration key of their own)");
		auth = at + 1;
	}
	if (auth == aend || *auth == ':')
		return fail(err, errlen, "no host after http://");
	if (*auth == '[') {
		const char *rb = memchr(auth, ']', (size_t)(aend - auth));

		if (rb == NULL)
			return fail(err, errlen, "unterminated [IPv6] address "
			    "(missing ])");
		if (parse_ipv6(auth + 1, (size_t)(rb - auth - 1), u, err,
		    errlen) < 0)
			return -1;
		p = rb + 1;
		if (p != aend && *p != ':')
			return fail(err, errlen, "unexpected text after the "
			    "[IPv6] address");
	} else {
		p = memchr(auth, ':', (size_t)(aend - auth));
		if (p == NULL)
			p = aend;
		if (parse_name(auth, (size_t)(p - auth), u, err, errlen) < 0)
			return -1;
	}
	if (p != aend) {
		if (parse_port(p + 1, (size_t)(aend - p - 1), u, err,
		    errlen) < 0)
			return -1;
	} else {
		u->portnum = 80;
		snprintf(u->port, sizeof(u->port), "80");
	}
	if (strchr(u->host, ':') != NULL)
		snprintf(u->hostport, sizeof(u->hostport), "[%s]:%s", u->host,
		    u->port);
	else
		snprintf(u->hostport, sizeof(u->hostport), "%s:%s", u->host,
		    u->port);

	/* Path and query, without the fragment; "/" when there is no path
	 * (also before a query: http://cam?x=1 asks for /?x=1). */
	pend = aend + strcspn(aend, "#");
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
	return parse(s, u, false, err, errlen);
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
