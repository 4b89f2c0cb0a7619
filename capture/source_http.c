/*
 * http source: relays another MJPEG server (an IP camera, or another
 * forkcast: this is how forkcast scales out as edge relays).
 *
 * open() connects (with a timeout), sends one GET and reads the response
 * head: it must be 200 with a multipart Content-Type carrying a boundary.
 * next() feeds whatever arrives to the multipart parser and returns each
 * part's JPEG untouched (validated; a broken one is flagged, not fixed).
 * An upstream X-Timestamp is kept as the frame's capture time, so a chain
 * of relays reports the age of the picture, not of the last hop.
 *
 * Everything from upstream is hostile: the response head is bounded, a
 * part is bounded by max_frame_size, the read buffer is fixed, and an
 * upstream that sends no valid frame for FC_HTTP_STALL_MS is dropped.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "../common/url.h"
#include "encode.h"
#include "multipart.h"
#include "source.h"

#define FC_HTTP_CONNECT_MS	5000	/* connect + response head */
#define FC_HTTP_STALL_MS	5000	/* no valid frame: reconnect */
#define FC_HTTP_HEAD_MAX	16384	/* response head bytes */
#define FC_HTTP_RBUF		65536	/* socket read buffer */

struct http_priv {
	int fd;
	struct fc_multipart mp;
	size_t roff, rlen;	/* unparsed bytes in rbuf */
	int64_t last_frame_ns;	/* CLOCK_MONOTONIC of the last valid frame */
	uint64_t broken;	/* parts that were not valid JPEG */
	struct fc_url url;
	uint8_t rbuf[FC_HTTP_RBUF];
};

static int
ms_left(int64_t deadline_ns)
{
	int64_t left = deadline_ns - fc_now_mono_ns();

	if (left <= 0)
		return 0;
	return (int)((left + 999999) / 1000000);
}

/* Connects to one address before deadline; returns the fd or -1/errno. */
static int
connect_one(const struct addrinfo *ai, int64_t deadline_ns)
{
	struct pollfd pfd;
	socklen_t sl = sizeof(int);
	int fd, soerr = 0, r;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS)
		goto fail;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	do {
		r = poll(&pfd, 1, ms_left(deadline_ns));
	} while (r < 0 && errno == EINTR);
	if (r == 0) {
		errno = ETIMEDOUT;
		goto fail;
	}
	if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		goto fail;
	if (soerr != 0) {
		errno = soerr;
		goto fail;
	}
	return fd;
fail:
	r = errno;
	close(fd);
	errno = r;
	return -1;
}

static int
send_all(int fd, const char *buf, size_t len, int64_t deadline_ns)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	ssize_t n;

	while (len > 0) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (poll(&pfd, 1, ms_left(deadline_ns)) == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
	return 0;
}

/* Finds the end of the response head (after CRLFCRLF or LFLF); returns its
 * length, 0 when incomplete. */
static size_t
head_end(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n')
			return i + 2;
		if (p[i + 1] == '\r' && i + 2 < len && p[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Upstream text as it may appear in src->error, which /status publishes,
 * the no-signal frame draws and the log shows: printable ASCII only, cut
 * to at most len-1 bytes without splitting an escape. */
static const char *
shown(char *buf, size_t len, const char *s)
{
	fc_log_escape(buf, len, NULL, s, strlen(s));
	return buf;
}

/* Checks the status line and headers in head (NUL-terminated, modified);
 * extracts the boundary.  Returns 0 or -1 with src->error set. */
static int
parse_head(struct fc_source *src, char *head, char *boundary, size_t blen)
{
	char *line, *save = NULL, *v, *reason;
	char ctype[200] = "", show[81];
	bool first = true;
	int status = 0;

	for (line = strtok_r(head, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(line);

		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (first) {
			first = false;
			if (n < 12 || strncmp(line, "HTTP/1.", 7) != 0 ||
			    line[8] != ' ' ||
			    sscanf(line + 9, "%3d", &status) != 1) {
				snprintf(src->error, sizeof(src->error),
				    "upstream did not answer HTTP: \"%s\"",
				    shown(show, 61, line));
				return -1;
			}
			if (status != 200) {
				reason = line + 9;
				snprintf(src->error, sizeof(src->error),
				    "upstream answered %s",
				    shown(show, 61, reason));
				return -1;
			}
			continue;
		}
		if ((v = strchr(line, ':')) == NULL)
			continue;
		*v++ = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
		if (strcasecmp(line, "Content-Type") == 0)
			snprintf(ctype, sizeof(ctype), "%s", v);
		else if (strcasecmp(line, "Transfer-Encoding") == 0 &&
		    strcasecmp(v, "identity") != 0) {
			snprintf(src->error, sizeof(src->error),
			    "upstream uses Transfer-Encoding %s (not "
			    "supported)", shown(show, 41, v));
			return -1;
		}
	}
	if (status != 200) {
		snprintf(src->error, sizeof(src->error),
		    "upstream sent no status line");
		return -1;
	}
	if (fc_multipart_boundary(ctype, boundary, blen) < 0) {
		snprintf(src->error, sizeof(src->error),
		    "upstream is not a multipart stream with a boundary "
		    "(Content-Type: %s)", ctype[0] ?
		    shown(show, sizeof(show), ctype) : "none");
		return -1;
	}
	return 0;
}

static void
http_close(struct fc_source *src)
{
	struct http_priv *p = src->priv;

	if (p == NULL)
		return;
	if (p->fd >= 0)
		close(p->fd);
	if (p->mp.parts + p->mp.dropped_oversize + p->mp.dropped_bad > 0)
		log_debug("http: %llu parts, %llu broken, %llu oversize, "
		    "%llu malformed, %llu bytes skipped",
		    (unsigned long long)p->mp.parts,
		    (unsigned long long)p->broken,
		    (unsigned long long)p->mp.dropped_oversize,
		    (unsigned long long)p->mp.dropped_bad,
		    (unsigned long long)p->mp.skipped_bytes);
	fc_multipart_free(&p->mp);
	free(p);
	src->priv = NULL;
}

static int
http_open(struct fc_source *src)
{
	struct http_priv *p;
	struct addrinfo hints, *res = NULL, *ai;
	char req[1536], head[FC_HTTP_HEAD_MAX + 1];
	char boundary[FC_MP_BOUNDARY_MAX + 1];
	char why[120], public_url[160];
	int64_t deadline = fc_now_mono_ns() + FC_HTTP_CONNECT_MS * 1000000LL;
	size_t hlen = 0, end = 0;
	int gai, err = 0, n, one = 1;

	src->error[0] = '\0';
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(src->error, sizeof(src->error), "out of memory");
		return -1;
	}
	p->fd = -1;
	src->priv = p;
	if (fc_url_parse(src->cfg->url, &p->url, why, sizeof(why)) < 0) {
		snprintf(src->error, sizeof(src->error), "capture.url: %s", why);
		goto fail;
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	if ((gai = getaddrinfo(p->url.host, p->url.port, &hints, &res)) != 0) {
		snprintf(src->error, sizeof(src->error), "cannot resolve %.80s: "
		    "%s", p->url.host, gai_strerror(gai));
		goto fail;
	}
	for (ai = res; ai != NULL && p->fd < 0; ai = ai->ai_next) {
		if ((p->fd = connect_one(ai, deadline)) < 0)
			err = errno;
	}
	freeaddrinfo(res);
	if (p->fd < 0) {
		snprintf(src->error, sizeof(src->error), "connect to %.100s: %s",
		    p->url.hostport, strerror(err));
		goto fail;
	}
	setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: forkcast\r\nAccept: multipart/x-mixed-replace, "
	    "image/jpeg\r\nConnection: close\r\n\r\n", p->url.path,
	    p->url.hostport);
	if (n < 0 || (size_t)n >= sizeof(req) ||
	    send_all(p->fd, req, (size_t)n, deadline) < 0) {
		snprintf(src->error, sizeof(src->error), "send request to "
		    "%.100s: %s", p->url.hostport, strerror(errno));
		goto fail;
	}

	/* Read the head; what follows it stays in rbuf for the parser. */
	while ((end = head_end(p->rbuf, hlen)) == 0) {
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
		ssize_t r;

		if (hlen >= FC_HTTP_HEAD_MAX) {
			snprintf(src->error, sizeof(src->error),
			    "upstream response head larger than %d bytes",
			    FC_HTTP_HEAD_MAX);
			goto fail;
		}
		if ((n = poll(&pfd, 1, ms_left(deadline))) == 0) {
			snprintf(src->error, sizeof(src->error),
			    "no response from %.100s within %d s",
			    p->url.hostport, FC_HTTP_CONNECT_MS / 1000);
			goto fail;
		}
		if (n < 0 && errno == EINTR)
			continue;
		r = recv(p->fd, p->rbuf + hlen, FC_HTTP_HEAD_MAX - hlen, 0);
		if (r == 0) {
			snprintf(src->error, sizeof(src->error), "%.100s closed "
			    "the connection before answering", p->url.hostport);
			goto fail;
		}
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			snprintf(src->error, sizeof(src->error), "read from "
			    "%.100s: %s", p->url.hostport, strerror(errno));
			goto fail;
		}
		hlen += (size_t)r;
	}
	memcpy(head, p->rbuf, end);
	head[end] = '\0';
	if (memchr(head, '\0', end) != NULL) {
		snprintf(src->error, sizeof(src->error),
		    "upstream response head holds NUL bytes");
		goto fail;
	}
	if (parse_head(src, head, boundary, sizeof(boundary)) < 0)
		goto fail;
	if (fc_multipart_init(&p->mp, boundary,
	    (size_t)src->cfg->max_frame_size) < 0) {
		snprintf(src->error, sizeof(src->error), "multipart parser: %s",
		    strerror(errno));
		goto fail;
	}
	p->roff = end;
	p->rlen = hlen;
	p->last_frame_ns = fc_now_mono_ns();
	src->frame_no = 0;
	/* The query may carry a token: the log gets the public form. */
	fc_url_redact(src->cfg->url, public_url, sizeof(public_url));
	log_info("http: connected to %s (boundary \"%s\")", public_url,
	    boundary);
	return 0;
fail:
	http_close(src);
	return -1;
}

/* Turns a parsed part into a frame; false when it is not a valid JPEG. */
static bool
take_part(const struct fc_mp_part *part,
    struct fc_src_frame *out)
{
	int w = 0, h = 0;

	memset(out, 0, sizeof(*out));
	out->jpeg = part->data;
	out->len = part->len;
	/* Keep the upstream capture time (mono stays 0: set by the loop). */
	out->ts_real_ns = part->ts_real_ns;
	if (fc_jpeg_check(part->data, part->len, &w, &h) < 0) {
		out->broken = true;
		return false;
	}
	out->len = fc_jpeg_trim(part->data, part->len);
	out->width = (uint32_t)w;
	out->height = (uint32_t)h;
	return true;
}

static enum fc_src_result
http_next(struct fc_source *src, struct fc_src_frame *out, int timeout_ms)
{
	struct http_priv *p = src->priv;
	int64_t now = fc_now_mono_ns();
	int64_t deadline = now + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) *
	    1000000;
	int64_t stall_at;
	struct fc_mp_part part;
	struct pollfd pfd;
	size_t used;
	ssize_t n;
	int wait_ms, r;

	if (p == NULL || p->fd < 0) {
		snprintf(src->error, sizeof(src->error), "http source not open");
		return FC_SRC_ERROR;
	}
	for (;;) {
		while (p->roff < p->rlen) {
			switch (fc_multipart_feed(&p->mp, p->rbuf + p->roff,
			    p->rlen - p->roff, &used, &part)) {
			case FC_MP_PART:
				p->roff += used;
				src->frame_no++;
				if (take_part(&part, out)) {
					p->last_frame_ns = fc_now_mono_ns();
				} else {
					p->broken++;
					log_debug("http: part %llu is not a "
					    "valid JPEG (%zu bytes)",
					    (unsigned long long)p->mp.parts,
					    part.len);
				}
				return FC_SRC_OK;
			case FC_MP_BAD:
				p->roff += used;
				log_debug("http: part dropped: %s",
				    fc_multipart_reason(&p->mp));
				break;
			case FC_MP_MORE:
				p->roff += used;
				break;
			}
		}
		p->roff = p->rlen = 0;

		now = fc_now_mono_ns();
		stall_at = p->last_frame_ns + FC_HTTP_STALL_MS * 1000000LL;
		if (now >= stall_at) {
			snprintf(src->error, sizeof(src->error), "upstream "
			    "stalled: no valid frame from %.100s for %d s",
			    p->url.hostport, FC_HTTP_STALL_MS / 1000);
			return FC_SRC_ERROR;
		}
		if (now >= deadline)
			return FC_SRC_AGAIN;
		wait_ms = ms_left(deadline < stall_at ? deadline : stall_at);
		pfd.fd = p->fd;
		pfd.events = POLLIN;
		r = poll(&pfd, 1, wait_ms);
		if (r < 0 && errno != EINTR) {
			snprintf(src->error, sizeof(src->error), "poll: %s",
			    strerror(errno));
			return FC_SRC_ERROR;
		}
		if (r <= 0)
			continue;
		n = recv(p->fd, p->rbuf, sizeof(p->rbuf), 0);
		if (n == 0) {
			snprintf(src->error, sizeof(src->error),
			    "%.100s closed the connection", p->url.hostport);
			return FC_SRC_ERROR;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			snprintf(src->error, sizeof(src->error), "read from "
			    "%.100s: %s", p->url.hostport, strerror(errno));
			return FC_SRC_ERROR;
		}
		p->rlen = (size_t)n;
	}
}

const struct fc_source_ops fc_source_http = {
	.name = "http",
	.self_paced = true,
	.open = http_open,
	.next = http_next,
	.close = http_close,
};
