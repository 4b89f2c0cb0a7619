/*
 * The multipart writer: response and part framing for
 * multipart/x-mixed-replace, and a small iovec queue that keeps the
 * bookkeeping of partial writev()s and sendfile()s.
 *
 * Two framings (DESIGN.md "Fan-out rules"):
 *   full     each part:  "--B\r\nContent-Type: image/jpeg\r\n
 *                         Content-Length: N\r\nX-Timestamp: s.us\r\n\r\n"
 *                        JPEG "\r\n"
 *   advance  the response headers end with the first part's header block
 *            "--B\r\nContent-Type: image/jpeg\r\n\r\n"; each part is
 *            JPEG "\r\n--B\r\nContent-Type: image/jpeg\r\n\r\n", i.e. the
 *            next part's headers follow each JPEG at once, because Blink
 *            shows a part only when the next part's headers are complete
 *            (crbug 527446).
 * Either way a part is one byte range of the frame's sealed memory file
 * (frame.h), sent with sendfile(): no copy per client.
 */
#ifndef FC_STREAM_H
#define FC_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "../common/bus.h"
#include "../common/strbuf.h"
#include "router.h"

#define FC_STREAM_BOUNDARY "forkcastframe"
#define FC_STREAM_PART_HEAD_MAX 160	/* room for a full-framing part head */
#define FC_IOVQ_MAX 4

/*
 * Bytes still to send: iovecs (entries before idx are done), then
 * optionally one range of a file, sent with sendfile() (the memory goes
 * first, so a response head precedes the frame it describes).
 */
struct fc_iovq {
	struct iovec iov[FC_IOVQ_MAX];
	int cnt;
	int idx;		/* first iovec with bytes left */
	int file_fd;		/* -1: no file range */
	off_t file_off;		/* next byte of the range to send */
	size_t file_left;	/* bytes of the range still to send */
	size_t left;		/* bytes left over iovecs and file range */
};

enum fc_io_result {
	FC_IO_DONE = 0,		/* queue empty */
	FC_IO_AGAIN = 1,	/* socket full: wait for EPOLLOUT */
	FC_IO_ERROR = 2,	/* peer gone or other error (errno set) */
};

/* Empties the queue (drops references to the buffers, frees nothing). */
void fc_iovq_reset(struct fc_iovq *q);
/* Appends a buffer (zero-length ones are skipped).  The caller keeps the
 * memory alive until the queue is done.  Returns -1 when full. */
int fc_iovq_add(struct fc_iovq *q, const void *p, size_t len);
/* Sets the file range sent after the iovecs (len 0: none).  The caller
 * keeps fd open, and its bytes unchanged, until the queue is done. */
void fc_iovq_set_file(struct fc_iovq *q, int fd, off_t off, size_t len);
/* Marks n bytes as sent (n <= q->left). */
void fc_iovq_advance(struct fc_iovq *q, size_t n);
/*
 * Writes with writev() and then sendfile() until the queue is empty or
 * the socket would block.  *written (may be NULL) gets the bytes written
 * by this call.  EINTR is retried.
 */
enum fc_io_result fc_iovq_write(struct fc_iovq *q, int fd, size_t *written);
/*
 * Copies the next bytes of the queue, at most len, into buf without
 * marking them sent (a TLS record is built from them); the file range's
 * bytes come from file_map, the whole file mapped (frame.h
 * fc_frame_map()), and are left out when it is NULL.  Returns the count.
 * Called again before q advances, it copies the same bytes.
 */
size_t fc_iovq_gather(const struct fc_iovq *q, const char *file_map,
    char *buf, size_t len);

/*
 * Appends the stream response head: status line, Content-Type with the
 * boundary, no-cache headers, X-Accel-Buffering, Connection: close and
 * Access-Control-Allow-Origin when allow_origin is non-empty.  With
 * FC_FRAMING_ADVANCE and !head_only the first part's header block
 * follows.
 */
void fc_stream_response_head(struct fc_strbuf *sb, enum fc_framing framing,
    const char *allow_origin, bool head_only);

/* Writes a part head for a frame into buf (cap >= FC_STREAM_PART_HEAD_MAX)
 * and returns its length; 0 in advance framing (no head). */
size_t fc_stream_part_head(char *buf, size_t cap, enum fc_framing framing,
    const struct fc_frame_meta *meta);

/* The bytes that follow each JPEG. */
const char *fc_stream_part_tail(enum fc_framing framing, size_t *len);

/*
 * The bytes that end a stream body (RFC 2046 close delimiter), sent after
 * the last part's tail: full "--B--\r\n"; advance "\r\n--B--\r\n", which
 * also ends the part whose header block already went out, empty.
 */
const char *fc_stream_close_delimiter(enum fc_framing framing, size_t *len);

/*
 * The bytes every part and the close delimiter of a framing begin with,
 * whatever frame comes next: full "--B"; none in advance framing (a part
 * begins with its JPEG, the close delimiter with CRLF).  They may go out
 * ahead of the choice of the next frame (client.c, slow readers).
 */
const char *fc_stream_lead(enum fc_framing framing, size_t *len);

struct fc_frame;

/* Queues one part of frame f (its range of the frame's file, frame.h);
 * the caller holds a reference to f until the queue is done. */
void fc_stream_queue_part(struct fc_iovq *q, enum fc_framing framing,
    const struct fc_frame *f);

#endif
