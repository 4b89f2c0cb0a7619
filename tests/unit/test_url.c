/*
 * Unit tests for common/url.c: the upstream URL parser shared by the
 * configuration check and the relay, and the redactor every published
 * URL goes through.  Tables of good urls (with every field), bad urls
 * (with the exact reason) and redactions; each input is also parsed from
 * the very end of a page followed by an unreadable one, so a read past
 * its NUL crashes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/url.h"

struct good {
	const char *url;
	const char *host, *port;
	uint16_t portnum;
	const char *hostport, *path;
};

static const struct good goods[] = {
	{ "http://cam", "cam", "80", 80, "cam:80", "/" },
	{ "http://cam/", "cam", "80", 80, "cam:80", "/" },
	{ "http://10.0.0.5:8080/?action=stream", "10.0.0.5", "8080", 8080,
	  "10.0.0.5:8080", "/?action=stream" },
	/* The scheme in any case (RFC 3986 3.1); the host kept as written. */
	{ "HTTP://Cam.Example.COM:8081/stream", "Cam.Example.COM", "8081",
	  8081, "Cam.Example.COM:8081", "/stream" },
	{ "Http://cam/x", "cam", "80", 80, "cam:80", "/x" },
	{ "http://h:1/", "h", "1", 1, "h:1", "/" },
	{ "http://h:65535/", "h", "65535", 65535, "h:65535", "/" },
	{ "http://h:080/", "h", "80", 80, "h:80", "/" },
	{ "http://[::1]:8081/s", "::1", "8081", 8081, "[::1]:8081", "/s" },
	{ "http://[2001:db8::1]/", "2001:db8::1", "80", 80,
	  "[2001:db8::1]:80", "/" },
	{ "http://[::ffff:192.0.2.1]:99/a", "::ffff:192.0.2.1", "99", 99,
	  "[::ffff:192.0.2.1]:99", "/a" },
	{ "http://my_cam-1.lan./live", "my_cam-1.lan.", "80", 80,
	  "my_cam-1.lan.:80", "/live" },
	{ "http://0cam/", "0cam", "80", 80, "0cam:80", "/" },
	/* No path before the query: the request asks for /?query. */
	{ "http://cam?x=1", "cam", "80", 80, "cam:80", "/?x=1" },
	{ "http://cam:81?x=1", "cam", "81", 81, "cam:81", "/?x=1" },
	/* The fragment is never sent (RFC 9110 4.2.4): dropped. */
	{ "http://cam/a?b=c#frag", "cam", "80", 80, "cam:80", "/a?b=c" },
	{ "http://cam#frag", "cam", "80", 80, "cam:80", "/" },
	{ "http://cam#@x", "cam", "80", 80, "cam:80", "/" },
	/* '@' after the authority is path or query, not credentials. */
	{ "http://cam/?u=a@b&t=%20", "cam", "80", 80, "cam:80",
	  "/?u=a@b&t=%20" },
	{ "http://cam/~a/b;c=d/e.mjpg", "cam", "80", 80, "cam:80",
	  "/~a/b;c=d/e.mjpg" },
};

struct bad {
	const char *url, *err;
};

#define CREDS "credentials must be user:password (percent-encoded)"
#define SCHEME "must start with http:// (the only scheme supported)"
#define CTRL "spaces, control and non-ASCII characters are not allowed"
#define NOHOST "no host after http://"

static const struct bad bads[] = {
	{ "", "empty url" },
	{ "https://cam/", SCHEME },
	{ "ftp://cam/", SCHEME },
	{ "cam:8080/stream", SCHEME },
	{ "http:/cam", SCHEME },
	{ "http//cam", SCHEME },
	{ "http://", NOHOST },
	{ "http:///stream", NOHOST },
	{ "http://:8080/stream", NOHOST },
	{ "http://?x=1", NOHOST },
	{ "http://#x", NOHOST },
	{ "http://cam:99999/x", "port 99999 is out of range (1..65535)" },
	{ "http://cam:0/", "port 0 is out of range (1..65535)" },
	{ "http://cam:00000/", "port 00000 is out of range (1..65535)" },
	{ "http://cam:18446744073709551617/",
	  "port 18446744073709551617 is out of range (1..65535)" },
	{ "http://cam:8x/", "port '8x' is not a number" },
	{ "http://cam:-1/", "port '-1' is not a number" },
	{ "http://cam:80:81/", "port '80:81' is not a number" },
	{ "http://cam:/", "empty port after ':'" },
	{ "http://cam:", "empty port after ':'" },
	{ "http://user@cam:8080/stream", CREDS },
	{ "http://@cam/", CREDS },
	{ "http://a@b@cam/", CREDS },
	{ "http://:pw@cam/", "credentials: empty user" },
	{ "http://u%3Ax:pw@cam/", "credentials: the user holds ':' (HTTP "
	  "Basic cannot send it)" },
	{ "http://u:p%0Aw@cam/", "credentials: the password holds a control "
	  "character" },
	{ "http://u%00:pw@cam/", "credentials: the user holds a control "
	  "character" },
	{ "http://u:p%4@cam/", "credentials: bad percent escape in the "
	  "password" },
	{ "http://u:p%zz@cam/", "credentials: bad percent escape in the "
	  "password" },
	{ "http://u%:p@cam/", "credentials: bad percent escape in the user" },
	{ "http://u:p@x@cam/", "credentials hold characters an url cannot "
	  "carry (percent-encode them)" },
	{ "http://u:p@cam:0/", "port 0 is out of range (1..65535)" },
	{ "http://u:p@:80/", NOHOST },
	{ "http://cam/a b", CTRL },
	{ " http://cam/", CTRL },
	{ "http://cam/\x1b[2J", CTRL },
	{ "http://cam/\r\nX-Evil: 1", CTRL },
	{ "http://cam/\t", CTRL },
	{ "http://cam/\x7f", CTRL },
	{ "http://caf\xc3\xa9/", CTRL },
	{ "http://cam/#frag with space", CTRL },
	{ "http://[::1/", "unterminated [IPv6] address (missing ])" },
	{ "http://[::1", "unterminated [IPv6] address (missing ])" },
	{ "http://[::1]x/", "unexpected text after the [IPv6] address" },
	{ "http://[::1]]/", "unexpected text after the [IPv6] address" },
	{ "http://[]/", "'[]' is not a valid IPv6 address" },
	{ "http://[::g]/", "'[::g]' is not a valid IPv6 address" },
	{ "http://[1.2.3.4]/", "'[1.2.3.4]' is not a valid IPv6 address" },
	{ "http://[fe80::1%25eth0]/",
	  "'[fe80::1%25eth0]' is not a valid IPv6 address" },
	{ "http://[0000:0000:0000:0000:0000:0000:0000:0000:0]/",
	  "'[0000:0000:0000:0000:0000:0000:0000:0000:0]' is not a valid IPv6 "
	  "address" },
	{ "http://1.2.3.256/", "'1.2.3.256' is not a valid IPv4 address" },
	{ "http://10.1/", "'10.1' is not a valid IPv4 address" },
	{ "http://167772161/", "'167772161' is not a valid IPv4 address" },
	{ "http://1.2.3.4./", "'1.2.3.4.' is not a valid IPv4 address" },
	{ "http://a..b/", "host 'a..b' has an empty label" },
	{ "http://.cam/", "host '.cam' has an empty label" },
	{ "http://ca\"m/", "host 'ca\"m' is not a name, an IPv4 address or an "
	  "[IPv6] address" },
	{ "http://cam%41/", "host 'cam%41' is not a name, an IPv4 address or "
	  "an [IPv6] address" },
	{ "http://cam]/", "host 'cam]' is not a name, an IPv4 address or an "
	  "[IPv6] address" },
};

/* Copies s to the end of a page followed by an unreadable one; returns the
 * copy (free with guarded_free). */
static char *
guarded(const char *s, void **map, size_t *maplen)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), n = strlen(s) + 1;
	size_t pages = (n + pg - 1) / pg + 1;
	char *m;

	m = mmap(NULL, pages * pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m != MAP_FAILED);
	assert_int_equal(mprotect(m + (pages - 1) * pg, pg, PROT_NONE), 0);
	*map = m;
	*maplen = pages * pg;
	return memcpy(m + (pages - 1) * pg - n, s, n);
}

static int
parse_guarded(const char *s, struct fc_url *u, char *err, size_t errlen)
{
	void *map;
	size_t maplen;
	int r = fc_url_parse(guarded(s, &map, &maplen), u, err, errlen);

	munmap(map, maplen);
	return r;
}

static void
test_good(void **state)
{
	struct fc_url u;
	char err[200];

	(void)state;
	for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		const struct good *g = &goods[i];

		if (parse_guarded(g->url, &u, err, sizeof(err)) != 0)
			fail_msg("\"%s\" refused: %s", g->url, err);
		assert_string_equal(u.scheme, "http");
		assert_string_equal(u.host, g->host);
		assert_string_equal(u.port, g->port);
		assert_int_equal(u.portnum, g->portnum);
		assert_string_equal(u.hostport, g->hostport);
		assert_string_equal(u.path, g->path);
	}
}

static void
test_bad(void **state)
{
	struct fc_url u;
	char err[200];

	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];

		memset(err, 'x', sizeof(err));
		if (parse_guarded(b->url, &u, err, sizeof(err)) != -1)
			fail_msg("\"%s\" accepted", b->url);
		if (strcmp(err, b->err) != 0)
			fail_msg("\"%s\": reason \"%s\", expected \"%s\"",
			    b->url, err, b->err);
	}
}

/* prefix and fits copies of c give a path of exactly 1023 characters, the
 * most u.path holds; one more c is refused. */
static void
path_limit(const char *prefix, char c, size_t fits)
{
	char url[2200], err[200];
	struct fc_url u;
	size_t n = strlen(prefix);

	assert_true(n + fits + 2 <= sizeof(url));
	memcpy(url, prefix, n);
	memset(url + n, c, fits);
	url[n + fits] = '\0';
	assert_int_equal(fc_url_parse(url, &u, err, sizeof(err)), 0);
	assert_int_equal(strlen(u.path), 1023);
	url[n + fits] = c;
	url[n + fits + 1] = '\0';
	assert_int_equal(fc_url_parse(url, &u, err, sizeof(err)), -1);
	assert_string_equal(err, "path too long (at most 1023 characters)");
}

/* Long names, labels and paths: the limits hold exactly. */
static void
test_lengths(void **state)
{
	char url[2200], label[64], host[260], err[200];
	struct fc_url u;
	size_t n;

	(void)state;
	memset(label, 'l', 63);
	label[63] = '\0';
	snprintf(url, sizeof(url), "http://%s.cam/", label);
	assert_int_equal(fc_url_parse(url, &u, err, sizeof(err)), 0);
	snprintf(url, sizeof(url), "http://%sl.cam/", label);
	assert_int_equal(fc_url_parse(url, &u, err, sizeof(err)), -1);
	assert_string_equal(err, "host name has a label longer than 63 "
	    "characters");

	/* 3 labels of 63 and one of 61: 253 characters. */
	snprintf(host, sizeof(host), "%s.%s.%s.%.61s", label, label, label,
	    label);
	assert_int_equal(strlen(host), 253);
	snprintf(url, sizeof(url), "http://%s:65535/", host);
	assert_int_equal(fc_url_parse(url, &u, err, sizeof(err)), 0);
	assert_string_equal(u.host, host);
	assert_int_equal(strlen(u.hostport), 259);
	snprintf(url, sizeof(url), "http://%sb/", host);
	assert_int_equal(fc_url_parse(url, &u, err, sizeof(err)), -1);
	assert_string_equal(err, "host name longer than 253 characters");

	/* The path: 1023 characters fit, with or without a leading '/'. */
	path_limit("http://cam/", 'p', 1022);
	path_limit("http://cam?", 'q', 1021);
	/* A long fragment is dropped, not counted. */
	n = (size_t)snprintf(url, sizeof(url), "http://cam/#");
	memset(url + n, 'f', 2000);
	url[n + 2000] = '\0';
	assert_int_equal(fc_url_parse(url, &u, err, sizeof(err)), 0);
	assert_string_equal(u.path, "/");
}

/* A reason never repeats a query or credentials; a short or empty err
 * buffer is never overrun. */
static void
test_reason_safe(void **state)
{
	static const char *const secret[] = {
		"http://user:SECRET@cam:0/",
		"http://user:SE%zzCRET@cam/",
		"http://SECRET@cam/",
		"https://cam/?token=SECRET",
		"http://cam:99999/?token=SECRET",
		"http://cam:8x/?token=SECRET",
		"http://[::1/?token=SECRET",
		"http://cam/?token=SECRET x",
		"http://a..b/?token=SECRET",
		"http://:1/?token=SECRET",
	};
	struct fc_url u;
	char err[200], small[8] = "xxxxxxx";

	(void)state;
	for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
		assert_int_equal(fc_url_parse(secret[i], &u, err, sizeof(err)),
		    -1);
		if (strstr(err, "SECRET") != NULL)
			fail_msg("\"%s\": reason \"%s\" shows the secret",
			    secret[i], err);
	}
	assert_int_equal(fc_url_parse("http://user@cam/", &u, small, 5),
	    -1);
	assert_string_equal(small, "cred");
	assert_int_equal(small[5], 'x');
	assert_int_equal(fc_url_parse("http://cam:0/", &u, NULL, 0), -1);
}

static void
test_redact(void **state)
{
	static const struct {
		const char *url, *out;
	} cases[] = {
		{ "http://cam", "http://cam:80/" },
		{ "http://cam:8080/stream", "http://cam:8080/stream" },
		{ "http://user:pw@cam:8080/stream?token=SECRET#frag",
		  "http://cam:8080/stream" },
		{ "http://user@cam/a", "http://cam:80/a" },
		{ "http://a:b@c:d@cam/a", "(invalid url)" },
		{ "http://u%40x:p%3Aw@cam:81/s?t=1", "http://cam:81/s" },
		{ "HTTP://[::1]/a/b?x=1", "http://[::1]:80/a/b" },
		{ "http://cam?token=SECRET", "http://cam:80/" },
		{ "http://cam/?u=a@b", "http://cam:80/" },
		{ "http://cam/#?x", "http://cam:80/" },
		/* Not usable: nothing of it is shown. */
		{ "", "(invalid url)" },
		{ "https://user:pw@cam/", "(invalid url)" },
		{ "http://u:SECRET@/", "(invalid url)" },
		{ "http://u:SECRET@:80/", "(invalid url)" },
		{ "http://cam:99999/?token=SECRET", "(invalid url)" },
		{ "http://cam/\x1b[2J?token=SECRET", "(invalid url)" },
		{ "rtsp://u:SECRET@cam/", "(invalid url)" },
	};
	char out[300];
	void *map;
	size_t maplen;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 'x', sizeof(out));
		fc_url_redact(guarded(cases[i].url, &map, &maplen), out,
		    sizeof(out));
		munmap(map, maplen);
		if (strcmp(out, cases[i].out) != 0)
			fail_msg("\"%s\": redacted \"%s\", expected \"%s\"",
			    cases[i].url, out, cases[i].out);
	}
	/* Cut to the buffer, always terminated; nothing for outlen 0. */
	memset(out, 'x', sizeof(out));
	fc_url_redact("http://cam:8080/stream", out, 10);
	assert_string_equal(out, "http://ca");
	assert_int_equal(out[10], 'x');
	fc_url_redact("http://cam/", out, 0);
	assert_int_equal(out[0], 'h');
}

/* Credentials: percent-decoded, split at the first ':', bounded. */
static void
test_credentials(void **state)
{
	static const struct {
		const char *url, *user, *password, *hostport, *path;
	} cases[] = {
		{ "http://user:pw@cam/", "user", "pw", "cam:80", "/" },
		{ "http://u:p@[::1]:81/s?x=1", "u", "p", "[::1]:81", "/s?x=1" },
		{ "http://admin:p%40ss%3Aw%25rd@10.0.0.5:8080/video",
		  "admin", "p@ss:w%rd", "10.0.0.5:8080", "/video" },
		{ "http://us%65r:a:b@cam/", "user", "a:b", "cam:80", "/" },
		{ "http://user:@cam/", "user", "", "cam:80", "/" },
		{ "http://a%20b:%7e@cam/", "a b", "~", "cam:80", "/" },
	};
	struct fc_url u;
	char err[200], url[600], longer[FC_URL_CRED_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (parse_guarded(cases[i].url, &u, err, sizeof(err)) != 0)
			fail_msg("\"%s\" refused: %s", cases[i].url, err);
		assert_int_equal(u.has_credentials, 1);
		assert_string_equal(u.user, cases[i].user);
		assert_string_equal(u.password, cases[i].password);
		assert_string_equal(u.hostport, cases[i].hostport);
		assert_string_equal(u.path, cases[i].path);
	}
	assert_int_equal(fc_url_parse("http://cam/", &u, err, sizeof(err)), 0);
	assert_int_equal(u.has_credentials, 0);
	assert_string_equal(u.user, "");

	/* FC_URL_CRED_MAX decoded bytes fit, one more does not; %41 counts
	 * as one byte. */
	memset(longer, 'a', sizeof(longer));
	longer[FC_URL_CRED_MAX] = '\0';
	snprintf(url, sizeof(url), "http://%s:%s@cam/", longer, longer);
	assert_int_equal(fc_url_parse(url, &u, err, sizeof(err)), 0);
	assert_int_equal(strlen(u.password), FC_URL_CRED_MAX);
	snprintf(url, sizeof(url), "http://u:%%41%s@cam/", longer);
	assert_int_equal(fc_url_parse(url, &u, err, sizeof(err)), -1);
	assert_string_equal(err, "credentials: the password is longer than "
	    "128 bytes");
	snprintf(url, sizeof(url), "http://%sa:p@cam/", longer);
	assert_int_equal(fc_url_parse(url, &u, err, sizeof(err)), -1);
	assert_string_equal(err, "credentials: the user is longer than "
	    "128 bytes");
	/* A refused url leaves no password behind in u. */
	assert_int_equal(fc_url_parse("http://u:SECRET@cam:0/", &u, err,
	    sizeof(err)), -1);
	assert_string_equal(u.password, "");
	assert_null(strstr(err, "SECRET"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_reason_safe),
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_credentials),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
