/*
 * An incremental parser for an HTTP/1.x response carrying
 * multipart/x-mixed-replace (MJPEG), for the test client (fcclient) and its
 * unit test.  Deliberately independent of capture/multipart.c: a test tool
 * must not share code with what it tests.
 *
 * Feed it bytes as they arrive, in pieces of any size; it calls on_part once
 * per complete part with the part's length, whether it is a whole JPEG
 * (FF D8 at the start, FF D9 at the end) and its X-Timestamp.  Part bodies
 * are never buffered (only their first and last two bytes are kept), so one
 * parser costs a few kilobytes however big the frames are.
 *
 * Both framings are understood: parts with Content-Length, and parts without
 * it that end at the next delimiter ("\r\n--boundary").  The delimiter is
 * "--" + boundary (RFC 2046) or, for servers that put the dashes in the
 * parameter (boundary="--x" with "--x" lines), the boundary itself.
 *
 * A response that is not multipart ("plain") hands its body to on_body;
 * it ends after Content-Length bytes, or at EOF without one.
 */
#ifndef MPPARSE_H
#define MPPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MP_HEADER_MAX 8192	/* response or part header block */
#define MP_BOUNDARY_MAX 72	/* RFC 2046: at most 70 characters */

enum mp_result {
	MP_OK = 0,	/* all bytes consumed, want more */
	MP_DONE = 1,	/* the response ended (closing delimiter, plain body
			 * complete); further bytes are an error */
	MP_ERROR = 2,	/* protocol error: mp->error says what */
};

struct mp_part {
	uint64_t len;		/* body bytes */
	bool jpeg_ok;		/* starts with FF D8 and ends with FF D9 */
	bool has_length;	/* the part had a Content-Length */
	bool has_ts;		/* X-Timestamp present and well-formed */
	int64_t ts_us;		/* X-Timestamp, microseconds since the epoch */
};

struct mp_parser {
	/* Callbacks; either may be NULL.  A non-zero return from one stops
	 * the parser with MP_ERROR ("callback"). */
	int (*on_part)(void *arg, const struct mp_part *part);
	int (*on_body)(void *arg, const void *data, size_t len);
	/* Bytes of the current multipart part's body as they arrive (the
	 * return value is ignored); may be NULL. */
	int (*on_part_data)(void *arg, const void *data, size_t len);
	void *arg;
	uint64_t max_part;	/* larger parts are an error; 0 = 64 MiB */

	/* Response facts, valid once headers_done. */
	bool headers_done;
	int status;			/* HTTP status code */
	bool multipart;
	char content_type[128];
	int64_t content_length;		/* -1 when absent (plain body) */
	char boundary[MP_BOUNDARY_MAX + 1];

	/* Totals. */
	uint64_t parts;
	uint64_t bytes;			/* every byte fed */
	const char *error;		/* static text, set with MP_ERROR */

	/* --- internal state --- */
	int state;
	char line[MP_HEADER_MAX];	/* header block being collected */
	size_t linelen;
	char delim[MP_BOUNDARY_MAX + 5];	/* "\r\n--boundary", once known */
	size_t delimlen;
	size_t fail[MP_BOUNDARY_MAX + 5];	/* KMP table over delim */
	size_t match;			/* delimiter bytes matched so far */
	struct mp_part part;		/* part being received */
	uint64_t remaining;		/* body bytes left (length mode) */
	unsigned char first[2], last[2];
	uint64_t plain_seen;
};

/* Initialises a parser; set the callbacks and arg afterwards. */
void mp_init(struct mp_parser *mp);

/* Consumes n bytes.  See enum mp_result. */
enum mp_result mp_feed(struct mp_parser *mp, const void *data, size_t n);

/* The peer closed the connection: MP_DONE when that is a normal end (plain
 * body without length, or between parts), MP_ERROR mid-part or mid-header. */
enum mp_result mp_eof(struct mp_parser *mp);

#endif
