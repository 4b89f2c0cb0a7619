/* Unit tests for the multipart/x-mixed-replace push parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "../../capture/multipart.h"

#define MAXP 16
#define PARTMAX 2048

struct collected {
	int nparts;
	size_t lens[MAXP];
	uint8_t data[MAXP][PARTMAX];
	int64_t ts[MAXP];
	int nbad;
};

/* Feeds p[0..len) from an exactly-sized heap copy, so an over-read is an
 * ASan error, and collects every part. */
static void
feed_chunk(struct fc_multipart *mp, const uint8_t *p, size_t len,
    struct collected *c)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	const uint8_t *q = copy;
	struct fc_mp_part part;
	size_t used;
	enum fc_mp_result r;

	assert_non_null(copy);
	memcpy(copy, p, len);
	for (;;) {
		r = fc_multipart_feed(mp, q, len, &used, &part);
		assert_true(used <= len);
		q += used;
		len -= used;
		if (r == FC_MP_MORE) {
			assert_int_equal(len, 0);
			break;
		}
		if (r == FC_MP_BAD) {
			c->nbad++;
		} else {
			assert_int_equal(r, FC_MP_PART);
			assert_true(c->nparts < MAXP);
			assert_true(part.len <= PARTMAX);
			c->lens[c->nparts] = part.len;
			memcpy(c->data[c->nparts], part.data, part.len);
			c->ts[c->nparts] = part.ts_real_ns;
			c->nparts++;
		}
		if (len == 0)
			break;
	}
	free(copy);
}

static void
assert_same(const struct collected *a, const struct collected *b)
{
	assert_int_equal(a->nparts, b->nparts);
	assert_int_equal(a->nbad, b->nbad);
	for (int i = 0; i < a->nparts; i++) {
		assert_int_equal(a->lens[i], b->lens[i]);
		assert_memory_equal(a->data[i], b->data[i], a->lens[i]);
		assert_int_equal(a->ts[i], b->ts[i]);
	}
}

/* Parses the stream whole, then one byte at a time, then split in two at
 * every position; every run must give the same parts.  Returns the
 * reference result in *ref. */
static void
check_all_splits(const char *boundary, size_t max_part, const uint8_t *s,
    size_t len, struct collected *ref)
{
	struct fc_multipart mp;
	struct collected *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	memset(ref, 0, sizeof(*ref));
	assert_int_equal(fc_multipart_init(&mp, boundary, max_part), 0);
	feed_chunk(&mp, s, len, ref);
	fc_multipart_free(&mp);

	assert_int_equal(fc_multipart_init(&mp, boundary, max_part), 0);
	for (size_t i = 0; i < len; i++)
		feed_chunk(&mp, s + i, 1, c);
	fc_multipart_free(&mp);
	assert_same(ref, c);

	for (size_t k = 0; k <= len; k++) {
		memset(c, 0, sizeof(*c));
		assert_int_equal(fc_multipart_init(&mp, boundary, max_part), 0);
		feed_chunk(&mp, s, k, c);
		feed_chunk(&mp, s + k, len - k, c);
		fc_multipart_free(&mp);
		assert_same(ref, c);
	}
	free(c);
}

/* A body full of near-misses: newlines, dashes, a truncated delimiter. */
static size_t
make_body(uint8_t *out, int seed, size_t n)
{
	static const char tricky[] = "\r\n--fram\n-\r\n-frame\r--frame\n";

	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(seed * 31 + i * 7);
	out[0] = 0xff;
	out[1] = 0xd8;
	if (n > sizeof(tricky) + 4)
		memcpy(out + 2, tricky, sizeof(tricky) - 1);
	out[n - 2] = 0xff;
	out[n - 1] = 0xd9;
	return n;
}

struct sb {
	uint8_t buf[16384];
	size_t len;
};

static void
sb_str(struct sb *b, const char *s)
{
	size_t n = strlen(s);

	assert_true(b->len + n <= sizeof(b->buf));
	memcpy(b->buf + b->len, s, n);
	b->len += n;
}

static void
sb_mem(struct sb *b, const uint8_t *p, size_t n)
{
	assert_true(b->len + n <= sizeof(b->buf));
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

static void
test_content_length_parts(void **state)
{
	struct sb *b = calloc(1, sizeof(*b));
	struct collected ref;
	uint8_t body[3][300];
	size_t blen[3] = { 120, 250, 77 };
	char hdr[160];

	(void)state;
	for (int i = 0; i < 3; i++) {
		make_body(body[i], i, blen[i]);
		snprintf(hdr, sizeof(hdr), "--frame\r\nContent-Type: image/jpeg"
		    "\r\nContent-Length: %zu\r\nX-Timestamp: 1700000000.%06d"
		    "\r\n\r\n", blen[i], 250000 + i);
		sb_str(b, hdr);
		sb_mem(b, body[i], blen[i]);
		sb_str(b, "\r\n");
	}
	check_all_splits("frame", 1000, b->buf, b->len, &ref);
	assert_int_equal(ref.nparts, 3);
	assert_int_equal(ref.nbad, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ref.lens[i], blen[i]);
		assert_memory_equal(ref.data[i], body[i], blen[i]);
		assert_int_equal(ref.ts[i],
		    1700000000LL * 1000000000LL + (250000 + i) * 1000LL);
	}
	free(b);
}

static void
test_no_length_parts(void **state)
{
	struct sb *b = calloc(1, sizeof(*b));
	struct collected ref;
	uint8_t body[3][300];
	size_t blen[3] = { 100, 260, 64 };

	(void)state;
	for (int i = 0; i < 3; i++) {
		make_body(body[i], i + 10, blen[i]);
		sb_str(b, "--frame\r\nContent-Type: image/jpeg\r\n\r\n");
		sb_mem(b, body[i], blen[i]);
		sb_str(b, "\r\n");
	}
	/* The last part ends only when the next delimiter shows up. */
	sb_str(b, "--frame\r\n");
	check_all_splits("frame", 1000, b->buf, b->len, &ref);
	assert_int_equal(ref.nparts, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ref.lens[i], blen[i]);
		assert_memory_equal(ref.data[i], body[i], blen[i]);
		assert_int_equal(ref.ts[i], 0);
	}
	free(b);
}

/* Preamble garbage, garbage between parts, bare LF, a boundary written with
 * extra dashes, a body directly followed by the delimiter, a close
 * delimiter, mixed framings. */
static void
test_mixed_garbage_lf(void **state)
{
	struct sb *b = calloc(1, sizeof(*b));
	struct collected ref;
	uint8_t body[5][200];
	size_t blen[5] = { 50, 90, 33, 120, 40 };
	struct fc_multipart mp;
	char hdr[128];

	(void)state;
	for (int i = 0; i < 5; i++)
		make_body(body[i], i + 20, blen[i]);
	sb_str(b, "HTTP junk that is not a boundary\r\n-- frame\r\n--fra\r\n");
	snprintf(hdr, sizeof(hdr), "--frame\r\nContent-Length: %zu\r\n\r\n",
	    blen[0]);
	sb_str(b, hdr);
	sb_mem(b, body[0], blen[0]);
	sb_str(b, "garbage between parts\r\n");
	sb_str(b, "\n--frame\nContent-Type: image/jpeg\n\n");	/* bare LF */
	sb_mem(b, body[1], blen[1]);
	sb_str(b, "\n----frame  \r\nX-Timestamp: 12.5\r\n\r\n");	/* dashes */
	sb_mem(b, body[2], blen[2]);
	snprintf(hdr, sizeof(hdr), "\r\n--frame\r\ncontent-length:%zu\r\n\r\n",
	    blen[3]);
	sb_str(b, hdr);
	sb_mem(b, body[3], blen[3]);
	/* Delimiter glued to the body (Content-Length framing). */
	snprintf(hdr, sizeof(hdr), "--frame\r\nContent-Length: %zu\r\n\r\n",
	    blen[4]);
	sb_str(b, hdr);
	sb_mem(b, body[4], blen[4]);
	sb_str(b, "\r\n--frame--\r\nepilogue\r\n");
	check_all_splits("frame", 1000, b->buf, b->len, &ref);
	assert_int_equal(ref.nbad, 0);
	assert_int_equal(ref.nparts, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(ref.lens[i], blen[i]);
		assert_memory_equal(ref.data[i], body[i], blen[i]);
	}
	assert_int_equal(ref.ts[2], 12500000000LL);

	/* The skipped bytes are counted. */
	assert_int_equal(fc_multipart_init(&mp, "frame", 1000), 0);
	memset(&ref, 0, sizeof(ref));
	feed_chunk(&mp, b->buf, b->len, &ref);
	assert_true(mp.skipped_bytes > 40);
	assert_int_equal(mp.parts, 5);
	fc_multipart_free(&mp);
	free(b);
}

static void
test_oversize(void **state)
{
	struct sb *b = calloc(1, sizeof(*b));
	struct collected ref;
	uint8_t big[1200], small[2][80];
	struct fc_multipart mp;
	char hdr[128];

	(void)state;
	make_body(big, 1, sizeof(big));
	make_body(small[0], 2, sizeof(small[0]));
	make_body(small[1], 3, sizeof(small[1]));
	/* Oversize with Content-Length: skipped by count. */
	snprintf(hdr, sizeof(hdr), "--frame\r\nContent-Length: %zu\r\n\r\n",
	    sizeof(big));
	sb_str(b, hdr);
	sb_mem(b, big, sizeof(big));
	snprintf(hdr, sizeof(hdr), "\r\n--frame\r\nContent-Length: %zu\r\n\r\n",
	    sizeof(small[0]));
	sb_str(b, hdr);
	sb_mem(b, small[0], sizeof(small[0]));
	/* Oversize without length: dropped when the buffer fills, then the
	 * parser resyncs on the next delimiter. */
	sb_str(b, "\r\n--frame\r\n\r\n");
	sb_mem(b, big, sizeof(big));
	sb_str(b, "\r\n--frame\r\n\r\n");
	sb_mem(b, small[1], sizeof(small[1]));
	sb_str(b, "\r\n--frame\r\n");
	/* A huge declared length must not be trusted either. */
	sb_str(b, "Content-Length: 99999999999999999999999\r\n\r\n");
	check_all_splits("frame", 500, b->buf, b->len, &ref);
	assert_int_equal(ref.nparts, 2);
	assert_int_equal(ref.lens[0], sizeof(small[0]));
	assert_memory_equal(ref.data[0], small[0], sizeof(small[0]));
	assert_int_equal(ref.lens[1], sizeof(small[1]));
	assert_memory_equal(ref.data[1], small[1], sizeof(small[1]));
	assert_int_equal(ref.nbad, 3);

	assert_int_equal(fc_multipart_init(&mp, "frame", 500), 0);
	memset(&ref, 0, sizeof(ref));
	feed_chunk(&mp, b->buf, b->len, &ref);
	assert_int_equal(mp.dropped_oversize, 2);
	assert_int_equal(mp.dropped_bad, 1);
	/* Memory stayed bounded: the buffer was sized once at init. */
	assert_true(mp.body_cap < 500 + 2 * FC_MP_BOUNDARY_MAX);
	fc_multipart_free(&mp);
	free(b);
}

static void
test_bad_headers_resync(void **state)
{
	struct sb *b = calloc(1, sizeof(*b));
	struct collected ref;
	char longline[1500];

	(void)state;
	sb_str(b, "--frame\r\nthis line has no colon\r\n\r\nBODY\r\n");
	sb_str(b, "--frame junk after\r\nContent-Length: 2\r\n\r\nxx\r\n");
	sb_str(b, "--frame\r\nContent-Length: 12a\r\n\r\nxx\r\n");
	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	sb_str(b, "--frame\r\nX-Long: ");
	sb_str(b, longline);
	sb_str(b, "\r\n\r\nzz\r\n");
	sb_str(b, "--frame\r\nContent-Length: 4\r\n\r\nGOOD\r\n");
	check_all_splits("frame", 1000, b->buf, b->len, &ref);
	assert_int_equal(ref.nbad, 4);
	assert_int_equal(ref.nparts, 1);
	assert_int_equal(ref.lens[0], 4);
	assert_memory_equal(ref.data[0], "GOOD", 4);
	free(b);
}

static void
test_empty_and_nothing(void **state)
{
	struct fc_multipart mp;
	struct collected c;
	static const char s[] = "no boundary anywhere in this stream at all\r\n"
	    "--other\r\n\r\nbody\r\n--other\r\n";

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(fc_multipart_init(&mp, "frame", 100), 0);
	feed_chunk(&mp, (const uint8_t *)s, 0, &c);
	feed_chunk(&mp, (const uint8_t *)s, sizeof(s) - 1, &c);
	assert_int_equal(c.nparts, 0);
	assert_int_equal(c.nbad, 0);
	fc_multipart_free(&mp);

	/* Bad init arguments; free accepts the result. */
	assert_int_equal(fc_multipart_init(&mp, "", 100), -1);
	fc_multipart_free(&mp);
	assert_int_equal(fc_multipart_init(&mp, "a\nb", 100), -1);
	fc_multipart_free(&mp);
	assert_int_equal(fc_multipart_init(&mp, "x", 0), -1);
	fc_multipart_free(&mp);
}

static void
test_boundary_param(void **state)
{
	char b[FC_MP_BOUNDARY_MAX + 1];

	(void)state;
	assert_int_equal(fc_multipart_boundary(
	    "multipart/x-mixed-replace; boundary=frame", b, sizeof(b)), 0);
	assert_string_equal(b, "frame");
	assert_int_equal(fc_multipart_boundary(
	    "multipart/x-mixed-replace;boundary=\"my frame\"", b, sizeof(b)),
	    0);
	assert_string_equal(b, "my frame");
	assert_int_equal(fc_multipart_boundary(
	    "Multipart/X-Mixed-Replace; charset=x; BOUNDARY = --myboundary ;q=1",
	    b, sizeof(b)), 0);
	assert_string_equal(b, "myboundary");
	assert_int_equal(fc_multipart_boundary(
	    "multipart/x-mixed-replace; boundary=\"--x\"", b, sizeof(b)), 0);
	assert_string_equal(b, "x");
	assert_int_equal(fc_multipart_boundary(
	    "multipart/x-mixed-replace; boundary=--", b, sizeof(b)), 0);
	assert_string_equal(b, "--");
	/* Missing, empty, unterminated, wrong type, too long for out. */
	assert_int_equal(fc_multipart_boundary("multipart/x-mixed-replace",
	    b, sizeof(b)), -1);
	assert_int_equal(fc_multipart_boundary(
	    "multipart/x-mixed-replace; foo=bar", b, sizeof(b)), -1);
	assert_int_equal(fc_multipart_boundary(
	    "multipart/x-mixed-replace; boundary=", b, sizeof(b)), -1);
	assert_int_equal(fc_multipart_boundary(
	    "multipart/x-mixed-replace; boundary=\"abc", b, sizeof(b)), -1);
	assert_int_equal(fc_multipart_boundary("image/jpeg; boundary=x",
	    b, sizeof(b)), -1);
	assert_int_equal(fc_multipart_boundary(
	    "multipart/x-mixed-replace; boundary=abcdef", b, 4), -1);
}

static void
test_timestamp(void **state)
{
	(void)state;
	assert_int_equal(fc_multipart_parse_ts("1700000000.123456"),
	    1700000000123456000LL);
	assert_int_equal(fc_multipart_parse_ts("5"), 5000000000LL);
	assert_int_equal(fc_multipart_parse_ts("1.0000000019"), 1000000001LL);
	assert_int_equal(fc_multipart_parse_ts("-1.5"), 0);
	assert_int_equal(fc_multipart_parse_ts("abc"), 0);
	assert_int_equal(fc_multipart_parse_ts("12x"), 0);
	assert_int_equal(fc_multipart_parse_ts(""), 0);
	assert_int_equal(fc_multipart_parse_ts("99999999999999999999999"), 0);
}

/* Throughput figure (printed, not asserted): 100 KB parts fed in 64 KB
 * reads, with and without Content-Length. */
static void
test_throughput(void **state)
{
	enum { PART = 100000, NPARTS = 200, CHUNK = 65536 };
	uint8_t *stream, *body;
	size_t len = 0;
	char hdr[128];

	(void)state;
	stream = malloc((size_t)NPARTS * (PART + 128));
	body = malloc(PART);
	assert_non_null(stream);
	assert_non_null(body);
	make_body(body, 5, PART);
	for (int withlen = 1; withlen >= 0; withlen--) {
		struct fc_multipart mp;
		struct fc_mp_part part;
		struct timespec a, b;
		uint64_t parts = 0;
		double s;

		len = 0;
		for (int i = 0; i < NPARTS; i++) {
			int n = withlen ? snprintf(hdr, sizeof(hdr), "--frame\r\n"
			    "Content-Length: %d\r\n\r\n", PART) :
			    snprintf(hdr, sizeof(hdr), "--frame\r\n\r\n");

			memcpy(stream + len, hdr, (size_t)n);
			len += (size_t)n;
			memcpy(stream + len, body, PART);
			len += PART;
			memcpy(stream + len, "\r\n", 2);
			len += 2;
		}
		memcpy(stream + len, "--frame\r\n", 9);
		len += 9;
		assert_int_equal(fc_multipart_init(&mp, "frame", 1 << 20), 0);
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (size_t off = 0; off < len; off += CHUNK) {
			size_t n = len - off < CHUNK ? len - off : CHUNK, used;
			const uint8_t *p = stream + off;

			while (n > 0) {
				if (fc_multipart_feed(&mp, p, n, &used, &part) ==
				    FC_MP_PART) {
					assert_int_equal(part.len, PART);
					parts++;
				}
				p += used;
				n -= used;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		s = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
		print_message("multipart %s Content-Length: %llu parts, "
		    "%.0f MB/s\n", withlen ? "with" : "without",
		    (unsigned long long)parts, (double)len / s / 1e6);
		assert_int_equal(parts, NPARTS);
		fc_multipart_free(&mp);
	}
	free(body);
	free(stream);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_length_parts),
		cmocka_unit_test(test_no_length_parts),
		cmocka_unit_test(test_mixed_garbage_lf),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_bad_headers_resync),
		cmocka_unit_test(test_empty_and_nothing),
		cmocka_unit_test(test_boundary_param),
		cmocka_unit_test(test_timestamp),
		cmocka_unit_test(test_throughput),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
