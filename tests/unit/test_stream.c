/* Unit tests for server/stream.c: multipart framing and the iovec queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <signal.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/version.h"
#include "../../server/frame.h"
#include "../../server/stream.h"

static const unsigned char jpeg[] = { 0xff, 0xd8, 0xff, 0xe0, 'J', 'F',
	'I', 'F', 0x00, 0x42, 0xff, 0xd9 };

static struct fc_frame_meta
meta_of(size_t len, int64_t ts)
{
	struct fc_frame_meta m;

	memset(&m, 0, sizeof(m));
	m.seq = 7;
	m.len = len;
	m.ts_real_ns = ts;
	return m;
}

/* Concatenates what is queued: the iovecs, then the file range. */
static size_t
flatten(const struct fc_iovq *q, unsigned char *out, size_t cap)
{
	size_t n = 0;
	int i;

	for (i = q->idx; i < q->cnt; i++) {
		assert_true(n + q->iov[i].iov_len <= cap);
		memcpy(out + n, q->iov[i].iov_base, q->iov[i].iov_len);
		n += q->iov[i].iov_len;
	}
	if (q->file_left > 0) {
		assert_true(n + q->file_left <= cap);
		assert_int_equal(pread(q->file_fd, out + n, q->file_left,
		    q->file_off), (ssize_t)q->file_left);
		n += q->file_left;
	}
	return n;
}

static void
test_part_full(void **state)
{
	struct fc_frame_meta m = meta_of(sizeof(jpeg),
	    INT64_C(1700000000123456789));
	unsigned char out[512], want[512];
	struct fc_frame *f;
	struct fc_iovq q;
	size_t n, wn;
	const char *h = "--forkcastframe\r\n"
	    "Content-Type: image/jpeg\r\n"
	    "Content-Length: 12\r\n"
	    "X-Timestamp: 1700000000.123456\r\n"
	    "\r\n";

	(void)state;
	assert_non_null(f = fc_frame_from_bytes(&m, jpeg));
	fc_stream_queue_part(&q, FC_FRAMING_FULL, f);
	/* One range of the frame's file: sent by reference. */
	assert_int_equal(q.cnt, 0);
	assert_int_equal(q.file_fd, f->fd);
	n = flatten(&q, out, sizeof(out));
	wn = strlen(h);
	memcpy(want, h, wn);
	memcpy(want + wn, jpeg, sizeof(jpeg));
	wn += sizeof(jpeg);
	memcpy(want + wn, "\r\n", 2);
	wn += 2;
	assert_int_equal(n, wn);
	assert_memory_equal(out, want, n);
	assert_int_equal(q.left, n);
	fc_frame_unref(f);
}

/* The frame file is sealed: nothing can change the bytes sockets send. */
static void
test_frame_sealed(void **state)
{
	struct fc_frame_meta m = meta_of(sizeof(jpeg), 1);
	struct fc_frame *f;
	struct fc_frame_range r;
	unsigned char out[64];

	(void)state;
	assert_non_null(f = fc_frame_from_bytes(&m, jpeg));
	assert_int_equal(fcntl(f->fd, F_GET_SEALS),
	    F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	assert_int_equal(pwrite(f->fd, "x", 1, FC_FRAME_JPEG_OFF), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(f->fd, 0), -1);
	assert_int_equal(fcntl(f->fd, F_ADD_SEALS, 0), -1);
	r = fc_frame_jpeg(f);
	assert_int_equal(r.len, sizeof(jpeg));
	assert_int_equal(pread(f->fd, out, r.len, r.off), (ssize_t)r.len);
	assert_memory_equal(out, jpeg, sizeof(jpeg));
	fc_frame_unref(f);
}

static void
test_part_timestamp_format(void **state)
{
	char head[FC_STREAM_PART_HEAD_MAX];
	struct fc_frame_meta m = meta_of(5, INT64_C(42000001000));

	(void)state;
	fc_stream_part_head(head, sizeof(head), FC_FRAMING_FULL, &m);
	assert_non_null(strstr(head, "X-Timestamp: 42.000001\r\n"));
	m = meta_of(123456789, -5);	/* nonsense clock: clamped */
	fc_stream_part_head(head, sizeof(head), FC_FRAMING_FULL, &m);
	assert_non_null(strstr(head, "Content-Length: 123456789\r\n"));
	assert_non_null(strstr(head, "X-Timestamp: 0.000000\r\n"));
	/* Fits the buffer with the biggest numbers. */
	m = meta_of(UINT64_MAX, INT64_MAX);
	assert_true(fc_stream_part_head(head, sizeof(head), FC_FRAMING_FULL,
	    &m) > 0);
}

static void
test_part_advance(void **state)
{
	struct fc_frame_meta m = meta_of(sizeof(jpeg), 1);
	unsigned char out[512], want[512];
	struct fc_frame *f;
	struct fc_iovq q;
	size_t n, wn;
	const char *t = "\r\n--forkcastframe\r\nContent-Type: image/jpeg\r\n\r\n";

	(void)state;
	assert_non_null(f = fc_frame_from_bytes(&m, jpeg));
	fc_stream_queue_part(&q, FC_FRAMING_ADVANCE, f);
	n = flatten(&q, out, sizeof(out));
	/* No head: it went out before. */
	memcpy(want, jpeg, sizeof(jpeg));
	wn = sizeof(jpeg);
	memcpy(want + wn, t, strlen(t));
	wn += strlen(t);
	assert_int_equal(n, wn);
	assert_memory_equal(out, want, n);
	fc_frame_unref(f);
}

/* The lead (sent ahead of a slow reader's next part, client.c) begins
 * every full part and the full close delimiter, whatever the frame; the
 * advance framing has none. */
static void
test_lead(void **state)
{
	struct fc_frame_meta m;
	unsigned char out[512];
	struct fc_frame *f;
	struct fc_iovq q;
	const char *lead, *d;
	size_t len, dlen, n;

	(void)state;
	lead = fc_stream_lead(FC_FRAMING_FULL, &len);
	assert_int_equal(len, strlen("--forkcastframe"));
	assert_memory_equal(lead, "--forkcastframe", len);
	for (int i = 0; i < 3; i++) {
		m = meta_of(i == 0 ? sizeof(jpeg) : (size_t)i,
		    INT64_C(1700000000123456789) * i);
		assert_non_null(f = fc_frame_from_bytes(&m, jpeg));
		fc_stream_queue_part(&q, FC_FRAMING_FULL, f);
		n = flatten(&q, out, sizeof(out));
		assert_true(n > len);
		assert_memory_equal(out, lead, len);
		fc_frame_unref(f);
	}
	d = fc_stream_close_delimiter(FC_FRAMING_FULL, &dlen);
	assert_true(dlen > len);
	assert_memory_equal(d, lead, len);
	(void)fc_stream_lead(FC_FRAMING_ADVANCE, &len);
	assert_int_equal(len, 0);
}

static void
test_response_head(void **state)
{
	struct fc_strbuf sb;
	const char *full =
	    "HTTP/1.1 200 OK\r\n"
	    "Server: forkcast/" FC_VERSION "\r\n"
	    "Content-Type: multipart/x-mixed-replace;boundary=forkcastframe\r\n"
	    "Cache-Control: no-store, no-cache, must-revalidate\r\n"
	    "Pragma: no-cache\r\n"
	    "Expires: 0\r\n"
	    "X-Accel-Buffering: no\r\n"
	    "Connection: close\r\n";

	(void)state;
	fc_strbuf_init(&sb, 0);
	fc_stream_response_head(&sb, FC_FRAMING_FULL, "", false);
	assert_false(sb.failed);
	assert_int_equal(strncmp(sb.data, full, strlen(full)), 0);
	assert_string_equal(sb.data + strlen(full), "\r\n");
	assert_null(strstr(sb.data, "chunked"));
	assert_null(strstr(sb.data, "Access-Control"));

	fc_strbuf_reset(&sb);
	fc_stream_response_head(&sb, FC_FRAMING_ADVANCE, "*", false);
	assert_non_null(strstr(sb.data,
	    "Access-Control-Allow-Origin: *\r\n\r\n"
	    "--forkcastframe\r\nContent-Type: image/jpeg\r\n\r\n"));
	assert_int_equal(sb.len, strlen(sb.data));
	/* The first part's headers end the buffer. */
	assert_string_equal(sb.data + sb.len - 4, "\r\n\r\n");

	/* HEAD: headers only. */
	fc_strbuf_reset(&sb);
	fc_stream_response_head(&sb, FC_FRAMING_ADVANCE, NULL, true);
	assert_null(strstr(sb.data, "--forkcastframe"));
	fc_strbuf_free(&sb);
}

static void
test_iovq_advance(void **state)
{
	struct fc_iovq q, copy;
	const char *a = "abc", *b = "defgh", *c = "ij";
	unsigned char out[16];
	size_t step, sent, n;

	(void)state;
	/* Every step size, including ones landing exactly on buffer
	 * boundaries: what is left is always the untouched tail. */
	for (step = 1; step <= 11; step++) {
		fc_iovq_reset(&q);
		assert_int_equal(fc_iovq_add(&q, a, 3), 0);
		assert_int_equal(fc_iovq_add(&q, "", 0), 0);	/* skipped */
		assert_int_equal(fc_iovq_add(&q, b, 5), 0);
		assert_int_equal(fc_iovq_add(&q, c, 2), 0);
		assert_int_equal(q.cnt, 3);
		for (sent = 0; sent < 10; sent += step) {
			copy = q;
			n = flatten(&copy, out, sizeof(out));
			assert_int_equal(n, 10 - sent);
			assert_memory_equal(out, "abcdefghij" + sent, n);
			assert_int_equal(q.left, 10 - sent);
			fc_iovq_advance(&q, step);
		}
		assert_int_equal(q.left, 0);
		assert_int_equal(q.idx, q.cnt);
	}
	/* Over-advancing is clamped. */
	fc_iovq_reset(&q);
	fc_iovq_add(&q, a, 3);
	fc_iovq_advance(&q, 100);
	assert_int_equal(q.left, 0);
	/* The queue is bounded. */
	fc_iovq_reset(&q);
	for (n = 0; n < FC_IOVQ_MAX; n++)
		assert_int_equal(fc_iovq_add(&q, a, 1), 0);
	assert_int_equal(fc_iovq_add(&q, a, 1), -1);
}

/* Writes q to sv[0] while reading sv[1] in odd-sized pieces until want
 * bytes arrived; counts the EAGAIN rounds. */
static size_t
drain(struct fc_iovq *q, const int sv[2], unsigned char *got, size_t want,
    size_t *again)
{
	enum fc_io_result r = FC_IO_AGAIN;
	size_t total = 0, w;
	ssize_t n;

	while (total < want) {
		if (r != FC_IO_DONE) {
			r = fc_iovq_write(q, sv[0], &w);
			assert_int_not_equal(r, FC_IO_ERROR);
			if (r == FC_IO_AGAIN)
				(*again)++;
		}
		n = read(sv[1], got + total, 997);	/* odd-sized reads */
		if (n > 0)
			total += (size_t)n;
		else
			assert_true(n < 0 && errno == EAGAIN);
	}
	assert_int_equal(r, FC_IO_DONE);
	assert_int_equal(q->left, 0);
	return total;
}

/* Writes a big queue through a socket with a tiny send buffer, reading
 * a few bytes at a time on the other side: every EAGAIN resumes exactly
 * where the last partial writev or sendfile stopped. */
static void
test_iovq_partial_writes(void **state)
{
	enum { BIG = 300000 };
	unsigned char *a = malloc(BIG), *got = malloc(BIG + 64);
	const char *h = "HEAD-", *t = "-TAIL";
	struct fc_iovq q;
	size_t total, want = BIG + 10, w, again = 0;
	int sv[2], small = 4096, fd;
	size_t i;

	(void)state;
	assert_non_null(a);
	assert_non_null(got);
	for (i = 0; i < BIG; i++)
		a[i] = (unsigned char)(i * 7 + i / 251);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);

	fc_iovq_reset(&q);
	fc_iovq_add(&q, h, 5);
	fc_iovq_add(&q, a, BIG);
	fc_iovq_add(&q, t, 5);
	total = drain(&q, sv, got, want, &again);
	assert_int_equal(total, want);
	assert_memory_equal(got, "HEAD-", 5);
	assert_memory_equal(got + 5, a, BIG);
	assert_memory_equal(got + 5 + BIG, "-TAIL", 5);
	assert_true(again > 0);		/* the test did exercise EAGAIN */
	printf("# %zu EAGAIN rounds for %zu bytes\n", again, want);

	/* The same through a file range after the iovecs (sendfile). */
	fd = memfd_create("t", 0);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "pad", 3), 3);
	assert_int_equal(write(fd, a, BIG), BIG);
	fc_iovq_reset(&q);
	fc_iovq_add(&q, h, 5);
	fc_iovq_set_file(&q, fd, 3, BIG);
	assert_int_equal(q.left, BIG + 5);
	again = 0;
	total = drain(&q, sv, got, BIG + 5, &again);
	assert_int_equal(total, BIG + 5);
	assert_memory_equal(got, "HEAD-", 5);
	assert_memory_equal(got + 5, a, BIG);
	assert_true(again > 0);
	assert_int_equal(q.file_left, 0);
	assert_int_equal(q.file_fd, -1);
	/* The file's own offset is not used (many clients share it). */
	assert_int_equal(lseek(fd, 0, SEEK_CUR), BIG + 3);
	close(fd);

	/* A closed peer is an error, not a hang. */
	fc_iovq_reset(&q);
	fc_iovq_add(&q, h, 5);
	close(sv[1]);
	assert_int_equal(fc_iovq_write(&q, sv[0], &w), FC_IO_ERROR);
	close(sv[0]);
	free(a);
	free(got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_part_full),
		cmocka_unit_test(test_frame_sealed),
		cmocka_unit_test(test_part_timestamp_format),
		cmocka_unit_test(test_part_advance),
		cmocka_unit_test(test_lead),
		cmocka_unit_test(test_response_head),
		cmocka_unit_test(test_iovq_advance),
		cmocka_unit_test(test_iovq_partial_writes),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
