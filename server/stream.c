/* Multipart writer; see stream.h. */
#include "stream.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "../common/version.h"
#include "frame.h"

#define PART_TYPE "Content-Type: image/jpeg\r\n"
#define NEXT_PART "--" FC_STREAM_BOUNDARY "\r\n" PART_TYPE "\r\n"

static const char tail_full[] = "\r\n";
static const char tail_advance[] = "\r\n" NEXT_PART;
static const char close_full[] = "--" FC_STREAM_BOUNDARY "--\r\n";
static const char close_advance[] = "\r\n--" FC_STREAM_BOUNDARY "--\r\n";

/* Largest sendfile() count asked at once (Linux caps one call lower). */
#define SENDFILE_MAX (1u << 30)

void
fc_iovq_reset(struct fc_iovq *q)
{
	q->cnt = 0;
	q->idx = 0;
	q->file_fd = -1;
	q->file_off = 0;
	q->file_left = 0;
	q->left = 0;
}

void
fc_iovq_set_file(struct fc_iovq *q, int fd, off_t off, size_t len)
{
	q->left -= q->file_left;
	q->file_fd = len > 0 ? fd : -1;
	q->file_off = off;
	q->file_left = len;
	q->left += len;
}

int
fc_iovq_add(struct fc_iovq *q, const void *p, size_t len)
{
	if (len == 0)
		return 0;
	if (q->cnt == FC_IOVQ_MAX)
		return -1;
	/* iov_base is not const in POSIX; the queue only reads it. */
	q->iov[q->cnt].iov_base = (void *)(uintptr_t)p;
	q->iov[q->cnt].iov_len = len;
	q->cnt++;
	q->left += len;
	return 0;
}

void
fc_iovq_advance(struct fc_iovq *q, size_t n)
{
	struct iovec *v;

	if (n > q->left)
		n = q->left;
	q->left -= n;
	while (n > 0 && q->idx < q->cnt) {
		v = &q->iov[q->idx];
		if (n < v->iov_len) {
			v->iov_base = (char *)v->iov_base + n;
			v->iov_len -= n;
			return;
		}
		n -= v->iov_len;
		v->iov_len = 0;
		q->idx++;
	}
	/* Skip entries emptied exactly at a boundary. */
	while (q->idx < q->cnt && q->iov[q->idx].iov_len == 0)
		q->idx++;
	/* What is left of n was sent from the file range. */
	q->file_off += (off_t)n;
	q->file_left -= n;
	if (q->file_left == 0)
		q->file_fd = -1;
}

size_t
fc_iovq_gather(const struct fc_iovq *q, const char *file_map, char *buf,
    size_t len)
{
	size_t got = 0, n;

	for (int i = q->idx; i < q->cnt && got < len; i++) {
		n = q->iov[i].iov_len < len - got ? q->iov[i].iov_len : len - got;
		memcpy(buf + got, q->iov[i].iov_base, n);
		got += n;
	}
	if (got < len && q->file_left > 0 && file_map != NULL) {
		n = q->file_left < len - got ? q->file_left : len - got;
		memcpy(buf + got, file_map + q->file_off, n);
		got += n;
	}
	return got;
}

enum fc_io_result
fc_iovq_write(struct fc_iovq *q, int fd, size_t *written)
{
	ssize_t n;
	size_t total = 0;
	enum fc_io_result r = FC_IO_DONE;

	while (q->left > 0) {
		if (q->idx < q->cnt) {
			n = writev(fd, q->iov + q->idx, q->cnt - q->idx);
		} else {
			off_t off = q->file_off;

			n = sendfile(fd, q->file_fd, &off,
			    q->file_left < SENDFILE_MAX ? q->file_left :
			    SENDFILE_MAX);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = (errno == EAGAIN || errno == EWOULDBLOCK) ?
			    FC_IO_AGAIN : FC_IO_ERROR;
			break;
		}
		if (n == 0) {
			errno = EPIPE;
			r = FC_IO_ERROR;
			break;
		}
		fc_iovq_advance(q, (size_t)n);
		total += (size_t)n;
	}
	if (written != NULL)
		*written = total;
	return r;
}

void
fc_stream_response_head(struct fc_strbuf *sb, enum fc_framing framing,
    const char *allow_origin, bool head_only)
{
	fc_strbuf_puts(sb,
	    "HTTP/1.1 200 OK\r\n"
	    FC_SERVER_HEADER
	    "Content-Type: multipart/x-mixed-replace;boundary="
	    FC_STREAM_BOUNDARY "\r\n"
	    "Cache-Control: no-store, no-cache, must-revalidate\r\n"
	    "Pragma: no-cache\r\n"
	    "Expires: 0\r\n"
	    "X-Accel-Buffering: no\r\n"
	    "Connection: close\r\n");
	if (allow_origin != NULL && allow_origin[0] != '\0')
		fc_strbuf_printf(sb, "Access-Control-Allow-Origin: %s\r\n",
		    allow_origin);
	fc_strbuf_puts(sb, "\r\n");
	if (framing == FC_FRAMING_ADVANCE && !head_only)
		fc_strbuf_puts(sb, NEXT_PART);
}

size_t
fc_stream_part_head(char *buf, size_t cap, enum fc_framing framing,
    const struct fc_frame_meta *meta)
{
	int64_t ts = meta->ts_real_ns > 0 ? meta->ts_real_ns : 0;
	int n;

	if (framing == FC_FRAMING_ADVANCE) {
		if (cap > 0)
			buf[0] = '\0';
		return 0;
	}
	n = snprintf(buf, cap,
	    "--" FC_STREAM_BOUNDARY "\r\n"
	    PART_TYPE
	    "Content-Length: %" PRIu64 "\r\n"
	    "X-Timestamp: %" PRId64 ".%06" PRId64 "\r\n"
	    "\r\n",
	    meta->len, ts / 1000000000, (ts % 1000000000) / 1000);
	if (n < 0 || (size_t)n >= cap)
		return 0;	/* cannot happen with FC_STREAM_PART_HEAD_MAX */
	return (size_t)n;
}

const char *
fc_stream_part_tail(enum fc_framing framing, size_t *len)
{
	if (framing == FC_FRAMING_ADVANCE) {
		*len = sizeof(tail_advance) - 1;
		return tail_advance;
	}
	*len = sizeof(tail_full) - 1;
	return tail_full;
}

const char *
fc_stream_close_delimiter(enum fc_framing framing, size_t *len)
{
	if (framing == FC_FRAMING_ADVANCE) {
		*len = sizeof(close_advance) - 1;
		return close_advance;
	}
	*len = sizeof(close_full) - 1;
	return close_full;
}

const char *
fc_stream_lead(enum fc_framing framing, size_t *len)
{
	static const char lead_full[] = "--" FC_STREAM_BOUNDARY;

	*len = framing == FC_FRAMING_FULL ? sizeof(lead_full) - 1 : 0;
	return lead_full;
}

void
fc_stream_queue_part(struct fc_iovq *q, enum fc_framing framing,
    const struct fc_frame *f)
{
	struct fc_frame_range r = fc_frame_part(f, framing);

	fc_iovq_reset(q);
	fc_iovq_set_file(q, f->fd, r.off, r.len);
}
