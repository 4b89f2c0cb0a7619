/* Unit tests for server/http.c: the request adapter over libhttp-parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../server/http.h"

#define REQ_FULL \
	"GET /stream?fps=5 HTTP/1.1\r\n" \
	"Host: 127.0.0.1:8080\r\n" \
	"User-Agent: Mozilla/5.0 (X11) Chrome/120  \r\n" \
	"Authorization: Basic YTpi\r\n" \
	"Accept: */*\r\n" \
	"\r\n"

/* Feeds the whole buffer in pieces of the given sizes (0-terminated list
 * repeated), returning the final result and total consumed. */
static enum fc_http_result
feed_split(struct fc_http_parser *hp, const char *data, size_t len,
    size_t split, size_t *total)
{
	enum fc_http_result r = FC_HTTP_MORE;
	size_t off = 0, used, n;

	*total = 0;
	while (off < len) {
		n = split == 0 ? len - off : split;
		if (n > len - off)
			n = len - off;
		r = fc_http_feed(hp, data + off, n, &used);
		*total += used;
		if (r != FC_HTTP_MORE)
			return r;
		assert_int_equal(used, n);	/* MORE consumes everything */
		off += n;
	}
	return r;
}

static void
check_full(const struct fc_http_parser *hp)
{
	assert_string_equal(hp->req.url, "/stream?fps=5");
	assert_int_equal(hp->req.url_len, strlen("/stream?fps=5"));
	assert_false(hp->req.head);
	assert_true(hp->req.keep_alive);
	assert_int_equal(hp->req.http_major, 1);
	assert_int_equal(hp->req.http_minor, 1);
	/* Trailing blanks of a value are trimmed. */
	assert_string_equal(hp->req.user_agent, "Mozilla/5.0 (X11) Chrome/120");
	assert_true(hp->req.has_auth);
	assert_false(hp->req.auth_too_long);
	assert_string_equal(hp->req.authorization, "Basic YTpi");
	assert_true(hp->req.has_host);
	assert_string_equal(hp->req.host, "127.0.0.1:8080");
}

static void
test_complete(void **state)
{
	struct fc_http_parser hp;
	size_t used;

	(void)state;
	fc_http_init(&hp);
	assert_false(fc_http_started(&hp));
	assert_int_equal(fc_http_feed(&hp, REQ_FULL, strlen(REQ_FULL), &used),
	    FC_HTTP_DONE);
	assert_int_equal(used, strlen(REQ_FULL));
	check_full(&hp);
	assert_true(fc_http_started(&hp));
}

static void
test_incomplete(void **state)
{
	struct fc_http_parser hp;
	size_t used, len = strlen(REQ_FULL);

	(void)state;
	fc_http_init(&hp);
	/* Everything but the final LF. */
	assert_int_equal(fc_http_feed(&hp, REQ_FULL, len - 1, &used),
	    FC_HTTP_MORE);
	assert_int_equal(used, len - 1);
	assert_true(fc_http_started(&hp));
	assert_int_equal(fc_http_feed(&hp, REQ_FULL + len - 1, 1, &used),
	    FC_HTTP_DONE);
	assert_int_equal(used, 1);
	check_full(&hp);
}

/* Every split point into two pieces, and byte by byte. */
static void
test_every_split(void **state)
{
	struct fc_http_parser hp;
	size_t len = strlen(REQ_FULL), i, used, total;

	(void)state;
	for (i = 1; i < len; i++) {
		fc_http_init(&hp);
		assert_int_equal(fc_http_feed(&hp, REQ_FULL, i, &used),
		    FC_HTTP_MORE);
		assert_int_equal(used, i);
		assert_int_equal(fc_http_feed(&hp, REQ_FULL + i, len - i,
		    &used), FC_HTTP_DONE);
		assert_int_equal(used, len - i);
		check_full(&hp);
	}
	fc_http_init(&hp);
	assert_int_equal(feed_split(&hp, REQ_FULL, len, 1, &total),
	    FC_HTTP_DONE);
	assert_int_equal(total, len);
	check_full(&hp);
}

static void
test_keep_alive(void **state)
{
	static const struct {
		const char *req;
		bool keep;
		int minor;
	} cases[] = {
		{ "GET / HTTP/1.1\r\nHost: a\r\n\r\n", true, 1 },
		{ "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		  false, 1 },
		{ "GET / HTTP/1.0\r\n\r\n", false, 0 },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true, 0 },
		{ "GET / HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n", true, 0 },
	};
	struct fc_http_parser hp;
	size_t i, used;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fc_http_init(&hp);
		assert_int_equal(fc_http_feed(&hp, cases[i].req,
		    strlen(cases[i].req), &used), FC_HTTP_DONE);
		assert_int_equal(hp.req.keep_alive, cases[i].keep);
		assert_int_equal(hp.req.http_minor, cases[i].minor);
		assert_false(hp.req.has_auth);
		assert_string_equal(hp.req.user_agent, "");
	}
}

static void
test_head(void **state)
{
	struct fc_http_parser hp;
	size_t used;
	const char *r = "HEAD /snapshot HTTP/1.1\r\nHost: a\r\n\r\n";

	(void)state;
	fc_http_init(&hp);
	assert_int_equal(fc_http_feed(&hp, r, strlen(r), &used), FC_HTTP_DONE);
	assert_true(hp.req.head);
	assert_string_equal(hp.req.url, "/snapshot");
}

static int
error_of(const char *data, size_t len, size_t split)
{
	struct fc_http_parser hp;
	size_t total;

	fc_http_init(&hp);
	if (feed_split(&hp, data, len, split, &total) != FC_HTTP_ERROR)
		return 0;
	/* Once refused, it stays refused. */
	assert_int_equal(fc_http_feed(&hp, "x", 1, &total), FC_HTTP_ERROR);
	return hp.error;
}

static void
test_methods(void **state)
{
	static const char *const refused[] = {
		"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
		"PUT / HTTP/1.1\r\n\r\n",
		"DELETE / HTTP/1.1\r\n\r\n",
		"CONNECT a:443 HTTP/1.1\r\n\r\n",
		"PATCH / HTTP/1.1\r\n\r\n",
		"TRACE / HTTP/1.1\r\n\r\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		assert_int_equal(error_of(refused[i], strlen(refused[i]), 0),
		    405);
		assert_int_equal(error_of(refused[i], strlen(refused[i]), 1),
		    405);
	}
}

/* OPTIONS (a CORS preflight) is parsed like GET, in any pieces, with the
 * same strictness; the target may be "*". */
static void
test_options(void **state)
{
	static const struct {
		const char *req;
		const char *url;
	} ok[] = {
		{ "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "*" },
		{ "OPTIONS /stream?fps=5 HTTP/1.1\r\nHost: cam\r\n"
		  "Origin: http://other.example\r\n"
		  "Access-Control-Request-Method: GET\r\n"
		  "Access-Control-Request-Headers: authorization\r\n\r\n",
		  "/stream?fps=5" },
		{ "OPTIONS /nowhere HTTP/1.0\r\n\r\n", "/nowhere" },
	};
	static const char *const bad[] = {
		/* a body */
		"OPTIONS / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
		"OPTIONS / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked"
		"\r\n\r\n0\r\n\r\n",
		/* no Host, two Hosts, obs-fold, space before the colon */
		"OPTIONS * HTTP/1.1\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"OPTIONS / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n",
		"OPTIONS / HTTP/1.1\r\nHost : a\r\n\r\n",
	};
	struct fc_http_parser hp;
	size_t i, split, total;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		for (split = 0; split <= 3; split++) {
			fc_http_init(&hp);
			assert_int_equal(feed_split(&hp, ok[i].req,
			    strlen(ok[i].req), split, &total), FC_HTTP_DONE);
			assert_int_equal(total, strlen(ok[i].req));
			assert_true(hp.req.options);
			assert_false(hp.req.head);
			assert_string_equal(hp.req.url, ok[i].url);
		}
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (error_of(bad[i], strlen(bad[i]), 0) != 400)
			fail_msg("%s: want 400", bad[i]);
		assert_int_equal(error_of(bad[i], strlen(bad[i]), 1), 400);
	}
	/* GET and HEAD are not OPTIONS. */
	fc_http_init(&hp);
	assert_int_equal(fc_http_feed(&hp, REQ_FULL, strlen(REQ_FULL), &total),
	    FC_HTTP_DONE);
	assert_false(hp.req.options);
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
		"FOO / HTTP/1.1\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"GET / XTTP/1.1\r\n\r\n",
		"GET /\x01 HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
		"GET / HTTP/1.1\r\nHost: a\r\n"
		"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
		"Content-Length: 2\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",	/* TLS hello */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(error_of(bad[i], strlen(bad[i]), 0), 400);
		assert_int_equal(error_of(bad[i], strlen(bad[i]), 1), 400);
	}
}

/* Split sizes every strictness case is fed in: whole, byte by byte, and a
 * few sizes that cut CR LF pairs and header names in different places. */
static const size_t splits[] = { 0, 1, 2, 3, 5, 7 };
#define NSPLITS (sizeof(splits) / sizeof(splits[0]))

/* req with CR, LF and HT written as \r \n \t, for a message. */
static const char *
escaped(const char *req, char *out, size_t outlen)
{
	size_t n = 0;

	for (; *req != '\0' && n + 3 < outlen; req++) {
		if (*req == '\r' || *req == '\n' || *req == '\t') {
			out[n++] = '\\';
			out[n++] = *req == '\r' ? 'r' :
			    *req == '\n' ? 'n' : 't';
		} else
			out[n++] = *req;
	}
	out[n] = '\0';
	return out;
}

/* Every request must get 400 in every split; all misses are listed. */
static void
expect_refused(const char *const *reqs, size_t n)
{
	char shown[1024];
	size_t i, j;
	int got, misses = 0;

	for (i = 0; i < n; i++) {
		for (j = 0; j < NSPLITS; j++) {
			got = error_of(reqs[i], strlen(reqs[i]), splits[j]);
			if (got == 400)
				continue;
			print_error("status %d (want 400), pieces of %zu: "
			    "%s\n", got, splits[j],
			    escaped(reqs[i], shown, sizeof(shown)));
			misses++;
		}
	}
	assert_int_equal(misses, 0);
}

/* Parses req whole and in every size of splits[]; hp holds the last. */
static void
expect_done(struct fc_http_parser *hp, const char *req)
{
	size_t j, total;
	enum fc_http_result r;

	for (j = 0; j < NSPLITS; j++) {
		fc_http_init(hp);
		r = feed_split(hp, req, strlen(req), splits[j], &total);
		if (r != FC_HTTP_DONE) {
			char shown[1024];

			fail_msg("result %d, error %d, pieces of %zu: %s",
			    (int)r, hp->error, splits[j],
			    escaped(req, shown, sizeof(shown)));
		}
		assert_int_equal(total, strlen(req));
	}
}

/* HTTP/1.1 needs exactly one Host, and a non-empty one. */
static void
test_host_refused(void **state)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\n\r\n",
		"HEAD /stream HTTP/1.1\r\nUser-Agent: x\r\n\r\n",
		"GET / HTTP/1.1\r\nX-Host: a\r\nHostname: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: x\r\nhOST: b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost:\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: \t \r\n\r\n",
		"GET / HTTP/1.1\nHost:\n\n",
		/* HTTP/1.0 may leave Host out, but not send two or "". */
		"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.0\r\nHost: \r\n\r\n",
	};

	(void)state;
	expect_refused(bad, sizeof(bad) / sizeof(bad[0]));
}

/*
 * The seed corpus of fuzz_http (tests/fuzz/corpus/http, read from the
 * checkout's root, where the tests run): every file named NAME_400,
 * NAME_414 or NAME_431 is refused with that status, fed whole and in
 * every size of splits[].  A file starting with a byte below 0x10 holds
 * that many split lengths first (fuzz_http.c); they are skipped here.
 */
static void
test_corpus_refusals(void **state)
{
	static const char dir[] = "tests/fuzz/corpus/http";
	char path[512], data[16384], shown[1024];
	struct dirent *e;
	DIR *d;
	FILE *f;
	size_t len, skip, j, nl;
	int want, got, files = 0, misses = 0;

	(void)state;
	if ((d = opendir(dir)) == NULL)
		fail_msg("%s: cannot open (run from the checkout's root)", dir);
	while ((e = readdir(d)) != NULL) {
		nl = strlen(e->d_name);
		if (nl < 5 || e->d_name[nl - 4] != '_')
			continue;
		want = atoi(e->d_name + nl - 3);
		if (want != 400 && want != 414 && want != 431)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		assert_non_null(f = fopen(path, "rb"));
		len = fread(data, 1, sizeof(data) - 1, f);
		assert_true(feof(f));
		fclose(f);
		data[len] = '\0';	/* for escaped() */
		skip = len > 0 && (unsigned char)data[0] < 0x10 ?
		    1 + (size_t)data[0] : 0;
		assert_true(skip <= len);
		files++;
		for (j = 0; j < NSPLITS; j++) {
			got = error_of(data + skip, len - skip, splits[j]);
			if (got == want)
				continue;
			print_error("%s: status %d (want %d), pieces of %zu: "
			    "%s\n", e->d_name, got, want, splits[j],
			    escaped(data + skip, shown, sizeof(shown)));
			misses++;
		}
	}
	closedir(d);
	print_message("%d corpus files checked\n", files);
	assert_true(files >= 10);
	assert_int_equal(misses, 0);
}

static void
test_host_kept(void **state)
{
	static const struct {
		const char *req;
		bool has;
		const char *host;
	} cases[] = {
		{ "GET / HTTP/1.1\r\nHost: cam.local\r\n\r\n", true,
		  "cam.local" },
		{ "GET / HTTP/1.1\r\nhost:Cam.Local:8080 \t\r\n\r\n", true,
		  "Cam.Local:8080" },
		{ "GET / HTTP/1.1\r\nHOST: [::1]:8080\r\n\r\n", true,
		  "[::1]:8080" },
		{ "GET / HTTP/1.0\r\n\r\n", false, "" },
		{ "GET / HTTP/1.0\r\nHost: a\r\n\r\n", true, "a" },
	};
	struct fc_http_parser hp;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		expect_done(&hp, cases[i].req);
		assert_int_equal(hp.req.has_host, cases[i].has);
		assert_string_equal(hp.req.host, cases[i].host);
	}
}

/* A Host is kept whole or refused: a cut one would name another host. */
static void
test_host_limit(void **state)
{
	struct fc_http_parser hp;
	char r[FC_HTTP_MAX_HOST + 64];
	const char *bad[1] = { r };
	int n;

	(void)state;
	n = sprintf(r, "GET / HTTP/1.1\r\nHost: ");
	memset(r + n, 'h', FC_HTTP_MAX_HOST - 1);
	strcpy(r + n + FC_HTTP_MAX_HOST - 1, "\r\n\r\n");
	expect_done(&hp, r);
	assert_int_equal(strlen(hp.req.host), FC_HTTP_MAX_HOST - 1);
	memset(r + n, 'h', FC_HTTP_MAX_HOST);
	strcpy(r + n + FC_HTTP_MAX_HOST, "\r\n\r\n");
	expect_refused(bad, 1);
}

/* obs-fold (RFC 9112, 5.2): libhttp-parser joins the line to the value
 * before it, even into Authorization. */
static void
test_obs_fold(void **state)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Basic\r\n YTpi\r\n"
		"\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n  b\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\nX-A: b\n c\n\n",
		"GET / HTTP/1.1\r\nHost: a\r\n \r\n\r\n",
		"GET / HTTP/1.0\r\nX-A: b\r\n\t\r\n\r\n",
	};

	(void)state;
	expect_refused(bad, sizeof(bad) / sizeof(bad[0]));
}

/* Whitespace between a header name and its colon (RFC 9112, 5.1), or
 * inside the name; libhttp-parser takes SP as a name character. */
static void
test_space_in_name(void **state)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nUser-Agent  : x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nUser-Agent\t: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n",
		"GET / HTTP/1.0\nX-A : b\n\n",
	};

	(void)state;
	expect_refused(bad, sizeof(bad) / sizeof(bad[0]));
}

/* A line starting with SP or HT right after the request line; the parser
 * would make the blank part of the first header's name. */
static void
test_space_before_first_header(void **state)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\n Host: a\r\n\r\n",
		"GET / HTTP/1.1\r\n\tHost: a\r\n\r\n",
		"GET / HTTP/1.1\n Host: a\n\n",
		"GET / HTTP/1.0\r\n X-A: b\r\n\r\n",
		"GET / HTTP/1.1\r\n \r\nHost: a\r\n\r\n",
	};

	(void)state;
	expect_refused(bad, sizeof(bad) / sizeof(bad[0]));
}

/* libhttp-parser ends a head at "CR x" (eating the x), so the bytes after
 * it would be read as another request. */
static void
test_bare_cr(void **state)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\nHost: a\r\n\rX: y\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n\r \r\n",
	};

	(void)state;
	expect_refused(bad, sizeof(bad) / sizeof(bad[0]));
}

/* What strictness must leave alone. */
static void
test_strict_accepts(void **state)
{
	static const char *const good[] = {
		/* empty lines before a request are skipped */
		"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		/* LF-only line ends */
		"GET / HTTP/1.1\nHost: a\nX-A: b\n\n",
		/* blanks inside and around values, colons in values */
		"GET / HTTP/1.1\r\nHost:a:80\r\nX-A: \tb c\t d \r\n"
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n\r\n",
		/* an empty value that is not Host */
		"GET / HTTP/1.1\r\nX-Empty:\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.0\r\nUser-Agent: x\r\n\r\n",
	};
	struct fc_http_parser hp;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		expect_done(&hp, good[i]);
}

/* A strict refusal in the second of two pipelined requests does not
 * touch the first; a good second request after a good first parses. */
static void
test_strict_pipelined(void **state)
{
	static const char r[] = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
	    "GET /b HTTP/1.1\r\nHost: b\r\n\r\n"
	    "GET /c HTTP/1.1\r\nHost: c\r\n d\r\n\r\n";
	struct fc_http_parser hp;
	size_t len = sizeof(r) - 1, off = 0, used, j, n;
	enum fc_http_result res;
	int done;

	(void)state;
	for (j = 0; j < NSPLITS; j++) {
		fc_http_init(&hp);
		off = 0;
		done = 0;
		res = FC_HTTP_MORE;
		while (off < len) {
			n = splits[j] == 0 ? len - off : splits[j];
			if (n > len - off)
				n = len - off;
			res = fc_http_feed(&hp, r + off, n, &used);
			off += used;
			if (res == FC_HTTP_DONE) {
				done++;
				assert_string_equal(hp.req.host,
				    done == 1 ? "a" : "b");
				fc_http_next(&hp);
			} else if (res == FC_HTTP_ERROR)
				break;
		}
		assert_int_equal(done, 2);
		assert_int_equal(res, FC_HTTP_ERROR);
		assert_int_equal(hp.error, 400);
	}
}

static char *
make_url_request(size_t url_len)
{
	static const char tail[] = " HTTP/1.1\r\nHost: a\r\n\r\n";
	char *r = malloc(url_len + 64);
	size_t n;

	assert_non_null(r);
	memcpy(r, "GET /", 5);
	memset(r + 5, 'a', url_len - 1);
	n = 5 + url_len - 1;
	memcpy(r + n, tail, sizeof(tail));
	return r;
}

static void
test_url_limit(void **state)
{
	struct fc_http_parser hp;
	size_t used;
	char *r;

	(void)state;
	/* Exactly the limit is fine. */
	r = make_url_request(FC_HTTP_MAX_URL);
	fc_http_init(&hp);
	assert_int_equal(fc_http_feed(&hp, r, strlen(r), &used), FC_HTTP_DONE);
	assert_int_equal(hp.req.url_len, FC_HTTP_MAX_URL);
	free(r);
	/* One more byte: 414, in one piece or in many. */
	r = make_url_request(FC_HTTP_MAX_URL + 1);
	assert_int_equal(error_of(r, strlen(r), 0), 414);
	assert_int_equal(error_of(r, strlen(r), 7), 414);
	assert_int_equal(error_of(r, strlen(r), 1), 414);
	free(r);
	/* A URL far over the head limit still says 414, and is refused
	 * before its end arrives. */
	r = make_url_request(20000);
	assert_int_equal(error_of(r, 3000, 0), 414);
	assert_int_equal(error_of(r, strlen(r), 1000), 414);
	free(r);
}

static void
test_head_limit(void **state)
{
	struct fc_http_parser hp;
	size_t used, n, len;
	char *r = malloc(FC_HTTP_MAX_HEAD * 2);

	(void)state;
	assert_non_null(r);
	/* A head of exactly FC_HTTP_MAX_HEAD bytes passes. */
	n = (size_t)sprintf(r, "GET / HTTP/1.1\r\nHost: a\r\nX-Fill: ");
	len = FC_HTTP_MAX_HEAD - n - 4;
	memset(r + n, 'b', len);
	memcpy(r + n + len, "\r\n\r\n", 4);
	fc_http_init(&hp);
	assert_int_equal(fc_http_feed(&hp, r, FC_HTTP_MAX_HEAD, &used),
	    FC_HTTP_DONE);
	assert_int_equal(used, FC_HTTP_MAX_HEAD);
	/* One byte more: 431. */
	n = (size_t)sprintf(r, "GET / HTTP/1.1\r\nHost: a\r\nX-Fill: ");
	len = FC_HTTP_MAX_HEAD - n - 3;
	memset(r + n, 'b', len);
	memcpy(r + n + len, "\r\n\r\n", 4);
	assert_int_equal(error_of(r, FC_HTTP_MAX_HEAD + 1, 0), 431);
	assert_int_equal(error_of(r, FC_HTTP_MAX_HEAD + 1, 100), 431);
	/* Endless headers: refused without waiting for the end. */
	n = (size_t)sprintf(r, "GET / HTTP/1.1\r\n");
	while (n + 8 < FC_HTTP_MAX_HEAD * 2) {
		memcpy(r + n, "A: bcd\r\n", 8);
		n += 8;
	}
	assert_int_equal(error_of(r, n, 0), 431);
	assert_int_equal(error_of(r, n, 333), 431);
	free(r);
}

static void
test_long_values(void **state)
{
	struct fc_http_parser hp;
	size_t used, n;
	char *r = malloc(4096);

	(void)state;
	assert_non_null(r);
	n = (size_t)sprintf(r, "GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: ");
	memset(r + n, 'u', 1000);
	n += 1000;
	n += (size_t)sprintf(r + n, "\r\nAuthorization: Basic ");
	memset(r + n, 'Z', 1000);
	n += 1000;
	n += (size_t)sprintf(r + n, "\r\n\r\n");
	fc_http_init(&hp);
	assert_int_equal(fc_http_feed(&hp, r, n, &used), FC_HTTP_DONE);
	assert_int_equal(strlen(hp.req.user_agent), FC_HTTP_MAX_UA - 1);
	assert_true(hp.req.has_auth);
	assert_true(hp.req.auth_too_long);
	free(r);
}

static void
test_first_header_wins(void **state)
{
	struct fc_http_parser hp;
	size_t used;
	const char *r = "GET / HTTP/1.1\r\n"
	    "Host: a\r\n"
	    "user-agent: curl/8\r\n"
	    "User-Agent: Mozilla\r\n"
	    "X-User-Agent-Long-Name-Not-Matching: Chrome\r\n"
	    "AUTHORIZATION: Basic one\r\n"
	    "Authorization: Basic two\r\n\r\n";

	(void)state;
	fc_http_init(&hp);
	assert_int_equal(fc_http_feed(&hp, r, strlen(r), &used), FC_HTTP_DONE);
	assert_string_equal(hp.req.user_agent, "curl/8");
	assert_string_equal(hp.req.authorization, "Basic one");
}

static void
test_pipelined(void **state)
{
	struct fc_http_parser hp;
	const char *r = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
	    "HEAD /b HTTP/1.1\r\nHost: b\r\nUser-Agent: x\r\n\r\n"
	    "GET /c HTTP/1.1\r\nConnection: close\r\nHost: c\r\n\r\n"
	    "GET /d";
	size_t len = strlen(r), off = 0, used;

	(void)state;
	fc_http_init(&hp);
	assert_int_equal(fc_http_feed(&hp, r, len, &used), FC_HTTP_DONE);
	assert_int_equal(used, strlen("GET /a HTTP/1.1\r\nHost: a\r\n\r\n"));
	assert_string_equal(hp.req.url, "/a");
	assert_string_equal(hp.req.host, "a");
	/* Until fc_http_next() the request stays put. */
	off += used;
	assert_int_equal(fc_http_feed(&hp, r + off, len - off, &used),
	    FC_HTTP_DONE);
	assert_int_equal(used, 0);
	fc_http_next(&hp);
	assert_int_equal(fc_http_feed(&hp, r + off, len - off, &used),
	    FC_HTTP_DONE);
	off += used;
	assert_string_equal(hp.req.url, "/b");
	assert_true(hp.req.head);
	assert_string_equal(hp.req.user_agent, "x");
	assert_string_equal(hp.req.host, "b");
	fc_http_next(&hp);
	assert_int_equal(fc_http_feed(&hp, r + off, len - off, &used),
	    FC_HTTP_DONE);
	off += used;
	assert_string_equal(hp.req.url, "/c");
	assert_false(hp.req.head);
	assert_string_equal(hp.req.user_agent, "");
	assert_false(hp.req.keep_alive);
	fc_http_next(&hp);
	assert_false(fc_http_started(&hp));
	assert_int_equal(fc_http_feed(&hp, r + off, len - off, &used),
	    FC_HTTP_MORE);
	assert_int_equal(off + used, len);
	assert_true(fc_http_started(&hp));
}

/* Requests placed right before an unreadable page: any read past the
 * input crashes the test (the picohttpparser trick). */
static void
test_no_overread(void **state)
{
	static const char *const inputs[] = {
		REQ_FULL,
		"GET / HTTP/1.1\r\nUser-Agent: abc",
		"GET /x HTTP/1.",
		"POST",
		"GET / HTTP/1.1\r\nAuthorization: Basic",
		"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c",
		"GET / HTTP/1.1\r\nHost : a",
		"GET / HTTP/1.1\r\nHost: a\r\n\r",
	};
	long page = sysconf(_SC_PAGESIZE);
	struct fc_http_parser hp;
	size_t i, j, len, used;
	char *map, *at;

	(void)state;
	map = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map + page, (size_t)page, PROT_NONE), 0);
	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		len = strlen(inputs[i]);
		for (j = 1; j <= len; j++) {
			at = map + page - j;
			memcpy(at, inputs[i], j);
			fc_http_init(&hp);
			(void)fc_http_feed(&hp, at, j, &used);
			assert_true(used <= j);
		}
	}
	munmap(map, (size_t)page * 2);
}

/* Deterministic random requests built from HTTP-ish pieces and raw
 * bytes, fed in random splits: the adapter must always give one of its
 * three answers, keep its counters in range and never crash (ASan). */
static void
test_random_inputs(void **state)
{
	static const char *const pieces[] = {
		"GET ", "HEAD ", "POST ", "/", "/stream", "?fps=", "%00", " ",
		"HTTP/1.1", "HTTP/1.0", "\r\n", "\n", "\r", ":", "Host", "User-Agent",
		"Authorization", "Connection", "keep-alive", "close",
		"Content-Length", "Transfer-Encoding", "chunked", "0", "9999",
		"\t", "Basic YTpi", "\x80", "\xff", "\r\n\r\n",
	};
	struct fc_http_parser hp;
	char buf[2048];
	size_t len, off, n, used;
	uint32_t x = 12345;
	enum fc_http_result r;
	int iter, dones = 0, errors = 0;

	(void)state;
#define NEXT() (x = x * 1103515245u + 12345u, (x >> 8))
	for (iter = 0; iter < 20000; iter++) {
		len = 0;
		if (iter % 2 == 0) {
			/* A valid start: the rest lands in the headers. */
			static const char start[] =
			    "GET /s HTTP/1.1\r\nHost: h\r\nA: b\r\n";

			memcpy(buf, start, sizeof(start) - 1);
			len = sizeof(start) - 1;
		}
		while (len < sizeof(buf) - 64 && NEXT() % 8 != 0) {
			if (NEXT() % 5 == 0) {
				buf[len++] = (char)NEXT();
			} else {
				const char *p = pieces[NEXT() %
				    (sizeof(pieces) / sizeof(pieces[0]))];
				memcpy(buf + len, p, strlen(p));
				len += strlen(p);
			}
		}
		if (iter % 2 == 0) {
			memcpy(buf + len, "\r\n\r\n", 4);
			len += 4;
		}
		fc_http_init(&hp);
		r = FC_HTTP_MORE;
		for (off = 0; off < len && r == FC_HTTP_MORE; off += used) {
			n = 1 + NEXT() % (len - off);
			r = fc_http_feed(&hp, buf + off, n, &used);
			assert_true(used <= n);
			if (r == FC_HTTP_MORE)
				assert_int_equal(used, n);
			if (r == FC_HTTP_DONE) {
				dones++;
				assert_true(hp.req.url_len <= FC_HTTP_MAX_URL);
				assert_int_equal(strlen(hp.req.url),
				    hp.req.url_len);
				fc_http_next(&hp);
				r = FC_HTTP_MORE;
			}
		}
		if (r == FC_HTTP_ERROR) {
			errors++;
			assert_true(hp.error == 400 || hp.error == 405 ||
			    hp.error == 414 || hp.error == 431);
		}
	}
#undef NEXT
	printf("# random inputs: %d requests parsed, %d refused\n", dones,
	    errors);
	assert_true(errors > 0);
	assert_true(dones > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_complete),
		cmocka_unit_test(test_incomplete),
		cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_url_limit),
		cmocka_unit_test(test_head_limit),
		cmocka_unit_test(test_long_values),
		cmocka_unit_test(test_first_header_wins),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_host_refused),
		cmocka_unit_test(test_host_kept),
		cmocka_unit_test(test_host_limit),
		cmocka_unit_test(test_obs_fold),
		cmocka_unit_test(test_space_in_name),
		cmocka_unit_test(test_space_before_first_header),
		cmocka_unit_test(test_bare_cr),
		cmocka_unit_test(test_strict_accepts),
		cmocka_unit_test(test_strict_pipelined),
		cmocka_unit_test(test_no_overread),
		cmocka_unit_test(test_random_inputs),
		cmocka_unit_test(test_corpus_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
