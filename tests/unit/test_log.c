/*
 * Unit tests for common/log.c: the escaping of everything a line carries
 * (fc_log_escape), lines as written (one write each, escaped, bounded)
 * and the relay of other processes' lines (fc_log_relay_feed: hostile
 * bytes, lines split across reads, bounded lines).  stderr is pointed at
 * a SOCK_SEQPACKET socket while a line is written, so every write(2)
 * arrives as one message and the test sees how many writes a line took.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/log.h"

/* One write(2) of at most this many bytes fits a message. */
#define MSG_MAX	(FC_LOG_LINE_MAX * 2)

struct sink {
	int rd, wr;		/* socketpair: the code writes into wr */
	int saved_stderr;	/* -1 when stderr is not redirected */
};

static void
sink_open(struct sink *s)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC,
	    0, sv), 0);
	s->rd = sv[0];
	s->wr = sv[1];
	s->saved_stderr = -1;
}

/* Points stderr at the sink (undone by sink_restore). */
static void
sink_redirect(struct sink *s)
{
	fflush(stderr);
	s->saved_stderr = dup(STDERR_FILENO);
	assert_true(s->saved_stderr >= 0);
	assert_int_equal(dup2(s->wr, STDERR_FILENO), STDERR_FILENO);
}

static void
sink_restore(struct sink *s)
{
	if (s->saved_stderr < 0)
		return;
	dup2(s->saved_stderr, STDERR_FILENO);
	close(s->saved_stderr);
	s->saved_stderr = -1;
}

/* The next write's bytes into buf (NUL-terminated); its length, or -1
 * when nothing was written. */
static ssize_t
sink_next(struct sink *s, char *buf)
{
	ssize_t n = recv(s->rd, buf, MSG_MAX, MSG_DONTWAIT);

	if (n >= 0)
		buf[n] = '\0';
	return n;
}

static void
sink_close(struct sink *s)
{
	sink_restore(s);
	close(s->rd);
	close(s->wr);
}

/* Fails unless buf holds printable ASCII only, but for one final '\n'. */
static void
assert_one_clean_line(const char *buf, size_t n)
{
	assert_true(n > 0);
	assert_int_equal(buf[n - 1], '\n');
	for (size_t i = 0; i + 1 < n; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c < 0x20 || c >= 0x7f) {
			char shown[200];

			/* Shown escaped: the failure must not attack the
			 * terminal either. */
			fc_log_escape(shown, sizeof(shown), NULL, buf, n);
			fail_msg("byte 0x%02x at %zu in \"%s\"", c, i, shown);
		}
	}
}

static void
test_escape_table(void **state)
{
	/* Input length from the literal: NUL bytes inside count. */
#define C(in, out) { in, sizeof(in) - 1, out }
	static const struct {
		const char *in;
		size_t inlen;
		const char *out;
	} cases[] = {
		C("", ""),
		C("plain text: 100% ~{}|\\\"'", "plain text: 100% ~{}|\\\"'"),
		/* A terminal attack: clear screen, set title, bell, a bare
		 * CR that would overwrite the line, a forged line. */
		C("500 \x1b[2J\x1b]0;pwned\x07\rX\nfake: line",
		  "500 \\x1b[2J\\x1b]0;pwned\\x07\\x0dX\\x0afake: line"),
		C("\t\x7f", "\\x09\\x7f"),
		/* Every byte from 0x80 (UTF-8 included: one escape a byte). */
		C("caf\xc3\xa9 \x80\xff", "caf\\xc3\\xa9 \\x80\\xff"),
		/* NUL bytes inside the input are escaped, not an end. */
		C("a\0b", "a\\x00b"),
		C(" ~", " ~"),
		C("\x1f\x20", "\\x1f "),
	};
#undef C
	char out[256];
	size_t outn, used;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 'z', sizeof(out));
		used = fc_log_escape(out, sizeof(out), &outn, cases[i].in,
		    cases[i].inlen);
		assert_int_equal(used, cases[i].inlen);
		assert_string_equal(out, cases[i].out);
		assert_int_equal(outn, strlen(cases[i].out));
	}
}

/* A full buffer stops before the next byte: never half an escape, always
 * a NUL, the consumed count tells where to go on. */
static void
test_escape_bounds(void **state)
{
	char out[16];
	size_t outn = 99, used;

	(void)state;
	memset(out, 'z', sizeof(out));
	used = fc_log_escape(out, 6, &outn, "ab\x1b" "cd", 5);
	/* "ab\x1b" needs 6 bytes and the NUL a 7th. */
	assert_int_equal(used, 2);
	assert_string_equal(out, "ab");
	assert_int_equal(outn, 2);
	assert_int_equal(out[6], 'z');

	used = fc_log_escape(out, 7, &outn, "ab\x1b" "cd", 5);
	assert_int_equal(used, 3);
	assert_string_equal(out, "ab\\x1b");
	assert_int_equal(outn, 6);

	used = fc_log_escape(out, 4, NULL, "abcdef", 6);
	assert_int_equal(used, 3);
	assert_string_equal(out, "abc");

	used = fc_log_escape(out, 1, &outn, "abc", 3);
	assert_int_equal(used, 0);
	assert_string_equal(out, "");
	assert_int_equal(outn, 0);

	out[0] = 'z';
	used = fc_log_escape(out, 0, &outn, "abc", 3);
	assert_int_equal(used, 0);
	assert_int_equal(outn, 0);
	assert_int_equal(out[0], 'z');
}

/* What a caller passes from outside is escaped in the line; the line is
 * one write and the message keeps its text. */
static void
test_line_escaped(void **state)
{
	struct sink s;
	char buf[MSG_MAX + 1];
	const char *msg;
	ssize_t n;

	(void)state;
	fc_log_init("test", FC_LOG_DEBUG);
	sink_open(&s);
	sink_redirect(&s);
	log_warnx("http: upstream answered %s",
	    "500 \x1b[2J\x1b]0;pwned\x07\rgone\n2026 forged line");
	errno = ENOENT;
	log_warn("open %s", "caf\xc3\xa9\x9b" "1;31m");
	log_debug("request %s", "/a?\x01\x7f");
	sink_restore(&s);

	n = sink_next(&s, buf);
	assert_one_clean_line(buf, (size_t)n);
	assert_non_null(msg = strstr(buf, " test: warn: "));
	assert_string_equal(msg + 13, "http: upstream answered 500 "
	    "\\x1b[2J\\x1b]0;pwned\\x07\\x0dgone\\x0a2026 forged line\n");

	n = sink_next(&s, buf);
	assert_one_clean_line(buf, (size_t)n);
	assert_non_null(msg = strstr(buf, " test: warn: "));
	assert_string_equal(msg + 13, "open caf\\xc3\\xa9\\x9b1;31m: No such "
	    "file or directory\n");

	n = sink_next(&s, buf);
	assert_one_clean_line(buf, (size_t)n);
	assert_non_null(strstr(buf, " test: debug: request /a?\\x01\\x7f\n"));

	assert_int_equal(sink_next(&s, buf), -1);	/* nothing else */
	sink_close(&s);
}

/* A message too long for a line is cut, in one write, newline kept, and
 * never inside an escape. */
static void
test_line_long(void **state)
{
	struct sink s;
	char buf[MSG_MAX + 1], *big;
	ssize_t n;

	(void)state;
	fc_log_init("test", FC_LOG_INFO);
	big = malloc(3000);
	assert_non_null(big);
	memset(big, 0x01, 2999);
	big[2999] = '\0';
	sink_open(&s);
	sink_redirect(&s);
	log_info("%s", big);
	log_info("%s", big + 2999 - 1500);
	sink_restore(&s);

	n = sink_next(&s, buf);
	assert_true(n > 0 && n <= FC_LOG_LINE_MAX);
	assert_one_clean_line(buf, (size_t)n);
	/* Room for less than one more escape: cut right, not short. */
	assert_true(n > FC_LOG_LINE_MAX - 4);
	assert_string_equal(buf + n - 5, "\\x01\n");
	n = sink_next(&s, buf);
	assert_true(n > 0 && n <= FC_LOG_LINE_MAX);
	assert_string_equal(buf + n - 5, "\\x01\n");
	assert_int_equal(sink_next(&s, buf), -1);
	sink_close(&s);
	free(big);
}

/* Feeds text to a relay in chunks of the given size; each line the relay
 * writes is checked against want[] in turn (NULL-terminated). */
static void
relay_check(const char *text, size_t len, size_t chunk,
    const char *const *want)
{
	struct fc_log_relay *r = calloc(1, sizeof(*r));
	struct sink s;
	char buf[MSG_MAX + 1];
	size_t i = 0;
	ssize_t n;

	assert_non_null(r);
	sink_open(&s);
	for (size_t off = 0; off < len; off += chunk)
		fc_log_relay_feed(r, s.wr, text + off,
		    len - off < chunk ? len - off : chunk);
	while ((n = sink_next(&s, buf)) >= 0) {
		if (want[i] == NULL)
			fail_msg("chunk %zu: extra line \"%s\"", chunk, buf);
		assert_one_clean_line(buf, (size_t)n);
		if (strcmp(buf, want[i]) != 0)
			fail_msg("chunk %zu: line %zu \"%s\", expected \"%s\"",
			    chunk, i, buf, want[i]);
		i++;
	}
	if (want[i] != NULL)
		fail_msg("chunk %zu: missing line \"%s\"", chunk, want[i]);
	sink_close(&s);
	free(r);
}

static void
test_relay(void **state)
{
	static const char text[] =
	    "2026 forkcast[7] worker 0: info: fine\n"
	    "\x1b[2J\x1b]0;pwned\x07\rX\x00\xff\n"
	    "\n"
	    "last words without a newline";
	static const char *const want[] = {
		"2026 forkcast[7] worker 0: info: fine\n",
		"\\x1b[2J\\x1b]0;pwned\\x07\\x0dX\\x00\\xff\n",
		"\n",
		NULL,	/* the partial line waits for its end */
	};
	static const size_t chunks[] = { 1, 2, 3, 5, 7, 16, 38, 39, 4096 };

	(void)state;
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		relay_check(text, sizeof(text) - 1, chunks[i], want);
}

/* A line longer than FC_LOG_LINE_MAX escaped bytes comes out in pieces of
 * at most FC_LOG_LINE_MAX, each one write; memory stays the struct. */
static void
test_relay_long(void **state)
{
	/* Escapes of 4 bytes in one piece, newline included. */
	const size_t k = (FC_LOG_LINE_MAX - 1) / 4;
	const size_t nfull = FC_LOG_LINE_MAX / k, rest = FC_LOG_LINE_MAX % k;
	size_t len = FC_LOG_LINE_MAX + 4;
	char *text = malloc(len), *full, *last;
	const char *want[16];
	size_t i, nw = 0;

	(void)state;
	assert_true(rest > 0 && nfull + 3 < sizeof(want) / sizeof(want[0]));
	/* FC_LOG_LINE_MAX ESC bytes on one line, then a short line. */
	assert_non_null(text);
	memset(text, 0x1b, FC_LOG_LINE_MAX);
	memcpy(text + FC_LOG_LINE_MAX, "\nok\n", 4);

	full = malloc(4 * k + 2);
	last = malloc(4 * rest + 2);
	assert_true(full != NULL && last != NULL);
	for (i = 0; i < k; i++)
		memcpy(full + 4 * i, "\\x1b", 4);
	memcpy(full + 4 * k, "\n", 2);
	for (i = 0; i < rest; i++)
		memcpy(last + 4 * i, "\\x1b", 4);
	memcpy(last + 4 * rest, "\n", 2);
	assert_true(strlen(full) <= FC_LOG_LINE_MAX);
	for (i = 0; i < nfull; i++)
		want[nw++] = full;
	want[nw++] = last;
	want[nw++] = "ok\n";
	want[nw] = NULL;

	relay_check(text, len, len, want);
	relay_check(text, len, 1000, want);
	relay_check(text, len, 1, want);
	free(full);
	free(last);
	free(text);
}

/* A log target that is gone: the line is dropped, the relay goes on. */
static void
test_relay_target_gone(void **state)
{
	struct fc_log_relay r;
	struct sink s;
	char buf[MSG_MAX + 1];

	(void)state;
	memset(&r, 0, sizeof(r));
	sink_open(&s);
	fc_log_relay_feed(&r, -1, "lost\npart", 9);
	fc_log_relay_feed(&r, s.wr, "ial\n", 4);
	assert_true(sink_next(&s, buf) > 0);
	assert_string_equal(buf, "partial\n");
	assert_int_equal(sink_next(&s, buf), -1);
	sink_close(&s);
}

/* Journal format: the priority in front, no timestamp, one write. */
static void
test_journal_line(void **state)
{
	static const struct {
		void (*fn)(const char *, ...);
		const char *want;
	} rows[] = {
		{ log_errorx, "<3>forkcast[%ld] worker 3: error: a b\n" },
		{ log_warnx, "<4>forkcast[%ld] worker 3: warn: a b\n" },
		{ log_info, "<6>forkcast[%ld] worker 3: info: a b\n" },
		{ log_debug, "<7>forkcast[%ld] worker 3: debug: a b\n" },
	};
	char buf[MSG_MAX + 1], want[128];
	struct sink s;

	(void)state;
	fc_log_init("worker 3", FC_LOG_DEBUG);
	fc_log_set_journal(true);
	assert_true(fc_log_journal());
	sink_open(&s);
	sink_redirect(&s);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		rows[i].fn("a %s", "b");
		snprintf(want, sizeof(want), rows[i].want, (long)getpid());
		assert_true(sink_next(&s, buf) > 0);
		assert_string_equal(buf, want);
	}
	fc_log_set_journal(false);
	log_info("plain");
	assert_true(sink_next(&s, buf) > 0);
	/* Back to the timestamped form: "2026-...Z forkcast[...". */
	assert_true(buf[0] >= '0' && buf[0] <= '9');
	assert_non_null(strstr(buf, "Z forkcast["));
	sink_close(&s);
	fc_log_init("forkcast", FC_LOG_INFO);
}

/* In journal format the relay lets a child's own priorities through and
 * puts "<4>" in front of any other line that starts with '<', so a child
 * cannot log at emergency, alert or critical. */
static void
test_relay_journal(void **state)
{
	static const char text[] =
	    "<6>forkcast[7] capture: info: fine\n"
	    "<3>forkcast[7] capture: error: bad\n"
	    "<0>wall message\n"
	    "<1>x\n"
	    "<2>y\n"
	    "<5>notice\n"
	    "<12>facility\n"
	    "<\x1b>\n"
	    "<6\n"
	    "plain libcamera line\n";
	static const char *const want[] = {
		"<6>forkcast[7] capture: info: fine\n",
		"<3>forkcast[7] capture: error: bad\n",
		"<4><0>wall message\n",
		"<4><1>x\n",
		"<4><2>y\n",
		"<4><5>notice\n",
		"<4><12>facility\n",
		"<4><\\x1b>\n",
		"<4><6\n",
		"plain libcamera line\n",
		NULL,
	};
	static const size_t chunks[] = { 1, 2, 3, 4096 };
	static const char *const plain[] = { "<0>wall message\n", NULL };

	(void)state;
	fc_log_set_journal(true);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		relay_check(text, sizeof(text) - 1, chunks[i], want);
	/* Without the journal, lines pass as they are. */
	fc_log_set_journal(false);
	relay_check(plain[0], strlen(plain[0]), 4096, plain);
}

/* JOURNAL_STREAM counts only when it names the descriptor on stderr. */
static void
test_stderr_is_journal(void **state)
{
	char path[] = "/tmp/fc-test-log.XXXXXX", val[64];
	struct stat st;
	struct sink s;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(fstat(fd, &st), 0);
	sink_open(&s);
	fflush(stderr);
	s.saved_stderr = dup(STDERR_FILENO);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);

	unsetenv("JOURNAL_STREAM");
	assert_false(fc_log_stderr_is_journal());
	snprintf(val, sizeof(val), "%llu:%llu",
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", val, 1);
	assert_true(fc_log_stderr_is_journal());
	snprintf(val, sizeof(val), "%llu:%llu",
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", val, 1);
	assert_false(fc_log_stderr_is_journal());
	snprintf(val, sizeof(val), "%llu:%llux",
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", val, 1);
	assert_false(fc_log_stderr_is_journal());
	setenv("JOURNAL_STREAM", "", 1);
	assert_false(fc_log_stderr_is_journal());
	unsetenv("JOURNAL_STREAM");
	sink_close(&s);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_table),
		cmocka_unit_test(test_escape_bounds),
		cmocka_unit_test(test_line_escaped),
		cmocka_unit_test(test_line_long),
		cmocka_unit_test(test_relay),
		cmocka_unit_test(test_relay_long),
		cmocka_unit_test(test_relay_target_gone),
		cmocka_unit_test(test_journal_line),
		cmocka_unit_test(test_relay_journal),
		cmocka_unit_test(test_stderr_is_journal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
