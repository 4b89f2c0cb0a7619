/*
 * Unit tests for tests/tools/lib/mpparse.c, the test client's multipart
 * parser: both framings, fed whole, byte by byte and split at every
 * position; malformed responses; bounds.
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

#include "../tools/lib/mpparse.h"

#define MAXP 16

struct seen {
	int n;
	struct mp_part parts[MAXP];
	size_t body;
};

static int
on_part(void *arg, const struct mp_part *part)
{
	struct seen *s = arg;

	if (s->n < MAXP)
		s->parts[s->n] = *part;
	s->n++;
	return 0;
}

static int
on_body(void *arg, const void *data, size_t len)
{
	struct seen *s = arg;

	(void)data;
	s->body += len;
	return 0;
}

static void
init(struct mp_parser *mp, struct seen *s)
{
	mp_init(mp);
	memset(s, 0, sizeof(*s));
	mp->on_part = on_part;
	mp->on_body = on_body;
	mp->arg = s;
}

/* Feeds text in pieces of `chunk` bytes (0: all at once); returns the
 * last result. */
static enum mp_result
feed(struct mp_parser *mp, const char *text, size_t len, size_t chunk)
{
	enum mp_result r = MP_OK;
	size_t i, k;

	if (chunk == 0)
		chunk = len;
	for (i = 0; i < len && r == MP_OK; i += k) {
		k = len - i < chunk ? len - i : chunk;
		r = mp_feed(mp, text + i, k);
	}
	return r;
}

#define JPEG1 "\xff\xd8 one \xff\xd9"			/* 9 bytes */
#define JPEG2 "\xff\xd8\r\n--fcfram\r\n-\r\r\n--fc\xff\xd9"	/* near misses */

static const char full_stream[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: multipart/x-mixed-replace; boundary=fcframe\r\n"
    "Cache-Control: no-store\r\n\r\n"
    "--fcframe\r\nContent-Type: image/jpeg\r\nContent-Length: 9\r\n"
    "X-Timestamp: 1700000000.123456\r\n\r\n" JPEG1 "\r\n"
    "--fcframe\r\nContent-Type: image/jpeg\r\nContent-Length: 9\r\n"
    "X-Timestamp: 1700000001.5\r\n\r\n" JPEG1 "\r\n"
    /* Not a JPEG, and a bad timestamp. */
    "--fcframe\r\ncontent-length: 5\r\nX-Timestamp: 17x\r\n\r\nhello\r\n";

static void
check_full(struct mp_parser *mp, struct seen *s)
{
	assert_true(mp->headers_done);
	assert_int_equal(mp->status, 200);
	assert_true(mp->multipart);
	assert_string_equal(mp->boundary, "fcframe");
	assert_int_equal(s->n, 3);
	assert_int_equal(s->parts[0].len, 9);
	assert_true(s->parts[0].jpeg_ok);
	assert_true(s->parts[0].has_length);
	assert_true(s->parts[0].has_ts);
	assert_int_equal(s->parts[0].ts_us, INT64_C(1700000000123456));
	assert_int_equal(s->parts[1].ts_us, INT64_C(1700000001500000));
	assert_int_equal(s->parts[2].len, 5);
	assert_false(s->parts[2].jpeg_ok);
	assert_false(s->parts[2].has_ts);
}

static void
test_full_framing(void **state)
{
	struct mp_parser mp;
	struct seen s;
	size_t chunk;

	(void)state;
	for (chunk = 0; chunk < 40; chunk++) {
		init(&mp, &s);
		assert_int_equal(feed(&mp, full_stream, sizeof(full_stream) - 1,
		    chunk), MP_OK);
		check_full(&mp, &s);
		assert_int_equal(mp_eof(&mp), MP_DONE);
	}
}

static void
test_full_every_split(void **state)
{
	struct mp_parser mp;
	struct seen s;
	size_t len = sizeof(full_stream) - 1, cut;

	(void)state;
	for (cut = 0; cut <= len; cut++) {
		init(&mp, &s);
		assert_int_equal(mp_feed(&mp, full_stream, cut), MP_OK);
		assert_int_equal(mp_feed(&mp, full_stream + cut, len - cut),
		    MP_OK);
		check_full(&mp, &s);
	}
}

/* Advance framing: no Content-Length, the next part's headers follow
 * each JPEG at once; bodies end at the delimiter. */
static const char advance_stream[] =
    "HTTP/1.0 200 OK\r\n"
    "Content-Type: multipart/x-mixed-replace;boundary=\"fcframe\"\r\n\r\n"
    "--fcframe\r\nContent-Type: image/jpeg\r\n\r\n"
    JPEG1 "\r\n--fcframe\r\nContent-Type: image/jpeg\r\n\r\n"
    JPEG2 "\r\n--fcframe\r\nContent-Type: image/jpeg\r\n\r\n"
    JPEG1 "\r\n--fcframe--\r\nepilogue";

static void
test_advance_every_split(void **state)
{
	struct mp_parser mp;
	struct seen s;
	size_t len = sizeof(advance_stream) - 1, cut, chunk;
	enum mp_result r;

	(void)state;
	for (chunk = 0; chunk < 8; chunk++)
		for (cut = 0; cut <= len; cut++) {
			init(&mp, &s);
			r = mp_feed(&mp, advance_stream, cut);
			if (r == MP_OK)
				r = feed(&mp, advance_stream + cut, len - cut,
				    chunk);
			assert_int_equal(r, MP_DONE);
			assert_int_equal(s.n, 3);
			assert_int_equal(s.parts[0].len, 9);
			assert_true(s.parts[0].jpeg_ok);
			assert_false(s.parts[0].has_length);
			assert_int_equal(s.parts[1].len, sizeof(JPEG2) - 1);
			assert_true(s.parts[1].jpeg_ok);
			assert_int_equal(s.parts[2].len, 9);
			assert_true(s.parts[2].jpeg_ok);
			assert_int_equal(mp_eof(&mp), MP_DONE);
		}
}

/* boundary="--x" with "--x" delimiter lines (mjpegsrv nolength, many
 * IP cameras). */
static void
test_dashes_in_parameter(void **state)
{
	static const char t[] =
	    "HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; "
	    "boundary=\"--fcframe\"\r\n\r\n"
	    "--fcframe\r\nContent-Type: image/jpeg\r\nX-Timestamp: 5.000001"
	    "\r\n\r\n" JPEG1 "\r\n--fcframe\r\nContent-Type: image/jpeg\r\n\r\n"
	    JPEG1 "\r\n--fcframe\r\n";
	struct mp_parser mp;
	struct seen s;

	(void)state;
	init(&mp, &s);
	assert_int_equal(feed(&mp, t, sizeof(t) - 1, 0), MP_OK);
	assert_int_equal(s.n, 2);
	assert_true(s.parts[0].jpeg_ok && s.parts[1].jpeg_ok);
	assert_int_equal(s.parts[0].ts_us, 5000001);
	/* Mid-part at EOF: the last part's headers came, its body not. */
	assert_int_equal(mp_eof(&mp), MP_ERROR);
}

static void
test_not_multipart(void **state)
{
	static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0"
	    "\r\n\r\n";
	static const char img[] = "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg"
	    "\r\nContent-Length: 9\r\n\r\n" JPEG1 "trailing";
	static const char nolen[] = "HTTP/1.0 200 OK\r\nContent-Type: text/plain"
	    "\r\n\r\nabc";
	struct mp_parser mp;
	struct seen s;

	(void)state;
	init(&mp, &s);
	assert_int_equal(feed(&mp, nf, sizeof(nf) - 1, 0), MP_DONE);
	assert_int_equal(mp.status, 404);
	assert_false(mp.multipart);

	init(&mp, &s);
	assert_int_equal(feed(&mp, img, sizeof(img) - 1, 3), MP_DONE);
	assert_int_equal(s.body, 9);
	assert_int_equal(s.n, 0);

	init(&mp, &s);
	assert_int_equal(feed(&mp, nolen, sizeof(nolen) - 1, 0), MP_OK);
	assert_int_equal(mp_eof(&mp), MP_DONE);
	assert_int_equal(s.body, 3);
}

static void
expect_error(const char *text, size_t chunk)
{
	struct mp_parser mp;
	struct seen s;

	init(&mp, &s);
	mp.max_part = 1000;
	assert_int_equal(feed(&mp, text, strlen(text), chunk), MP_ERROR);
	assert_non_null(mp.error);
	/* Once failed, stays failed. */
	assert_int_equal(mp_feed(&mp, "x", 1), MP_ERROR);
}

#define MPHDR "HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; " \
	"boundary=b\r\n\r\n"

static void
test_malformed(void **state)
{
	char *big;
	size_t chunk;

	(void)state;
	for (chunk = 0; chunk < 3; chunk++) {
		expect_error("HTTP/2 200 OK\r\n\r\n", chunk);
		expect_error("HTTP/1.1 2x0 OK\r\n\r\n", chunk);
		expect_error("garbage\r\n\r\n", chunk);
		expect_error("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", chunk);
		expect_error("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		    chunk);
		expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
		    "\r\n\r\n", chunk);
		expect_error("HTTP/1.1 200 OK\r\nContent-Type: "
		    "multipart/x-mixed-replace\r\n\r\n", chunk);
		expect_error("HTTP/1.1 200 OK\r\nContent-Type: "
		    "multipart/x-mixed-replace; boundary=\"b\r\n\r\n", chunk);
		/* Junk between parts. */
		expect_error(MPHDR "--b\r\nContent-Length: 2\r\n\r\nab\r\n"
		    "junk\r\n--b\r\n", chunk);
		/* Bad part headers and lengths. */
		expect_error(MPHDR "--b\r\nContent-Length 2\r\n\r\nab", chunk);
		expect_error(MPHDR "--b\r\nContent-Length: 2x\r\n\r\nab",
		    chunk);
		expect_error(MPHDR "--b\r\nContent-Length: 1001\r\n\r\n",
		    chunk);
		expect_error(MPHDR "--b\r\nContent-Length: 99999999999999999999"
		    "\r\n\r\n", chunk);
		/* Delimiter followed by junk. */
		expect_error(MPHDR "--b\r\n\r\nab\r\n--bx\r\n", chunk);
	}
	/* A part without length that never ends is bounded by max_part. */
	big = malloc(MP_HEADER_MAX + 100);
	assert_non_null(big);
	memset(big, 'x', MP_HEADER_MAX + 99);
	big[MP_HEADER_MAX + 99] = '\0';
	memcpy(big, MPHDR "--b\r\n\r\n", strlen(MPHDR "--b\r\n\r\n"));
	expect_error(big, 0);
	expect_error(big, 7);
	/* Header blocks are bounded. */
	memset(big, 'x', MP_HEADER_MAX + 99);
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	expect_error(big, 0);
	free(big);
	big = calloc(1, MP_HEADER_MAX + 200);
	assert_non_null(big);
	strcpy(big, MPHDR "--b\r\nX: ");
	memset(big + strlen(big), 'y', MP_HEADER_MAX + 10);
	expect_error(big, 0);
	free(big);
}

static void
test_eof(void **state)
{
	static const char mid[] = MPHDR "--b\r\nContent-Length: 4\r\n\r\nab";
	static const char between[] = MPHDR "--b\r\nContent-Length: 4\r\n\r\n"
	    "\xff\xd8\xff\xd9\r\n";
	struct mp_parser mp;
	struct seen s;

	(void)state;
	init(&mp, &s);
	assert_int_equal(mp_eof(&mp), MP_ERROR);

	init(&mp, &s);
	assert_int_equal(feed(&mp, mid, sizeof(mid) - 1, 0), MP_OK);
	assert_int_equal(mp_eof(&mp), MP_ERROR);
	assert_int_equal(s.n, 0);

	init(&mp, &s);
	assert_int_equal(feed(&mp, between, sizeof(between) - 1, 0), MP_OK);
	assert_int_equal(s.n, 1);
	assert_true(s.parts[0].jpeg_ok);
	assert_int_equal(mp_eof(&mp), MP_DONE);
}

/* Input that ends right before an unreadable page: no over-read. */
static void
test_guard_page(void **state)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t len = sizeof(advance_stream) - 1 - strlen("--\r\nepilogue");
	struct mp_parser mp;
	struct seen s;
	char *map;
	size_t i;

	(void)state;
	map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
	memcpy(map + pg - len, advance_stream, len);
	init(&mp, &s);
	assert_int_equal(mp_feed(&mp, map + pg - len, len), MP_OK);
	assert_int_equal(s.n, 3);
	/* Byte by byte, each byte the last readable one. */
	init(&mp, &s);
	for (i = 0; i < len; i++) {
		map[pg - 1] = advance_stream[i];
		assert_int_equal(mp_feed(&mp, map + pg - 1, 1), MP_OK);
	}
	assert_int_equal(s.n, 3);
	munmap(map, (size_t)pg * 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_framing),
		cmocka_unit_test(test_full_every_split),
		cmocka_unit_test(test_advance_every_split),
		cmocka_unit_test(test_dashes_in_parameter),
		cmocka_unit_test(test_not_multipart),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_eof),
		cmocka_unit_test(test_guard_page),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
