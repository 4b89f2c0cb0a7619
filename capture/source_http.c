/*
 * http source: relays another MJPEG server (an IP camera, or another
 * forkcast: this is how forkcast scales out as edge relays).
 *
 * open() connects (with a timeout), sends one GET (with HTTP Basic
 * credentials when the url has user:password@) and reads the response
 * head: it must be HTTP/1.x 200 with a multipart Content-Type carrying a
 * boundary.  libhttp-parser parses the response, head and body, so a
 * chunked body works: the multipart parser is fed the de-chunked bytes.
 * next() returns each part's JPEG untouched (validated; a broken one is
 * flagged, not fixed); a part over max_frame_size is skipped and counted
 * (src->dropped_oversize), the stream goes on with the next one.
 * An upstream X-Timestamp is kept as the frame's capture time, so a chain
 * of relays reports the age of the picture, not of the last hop.
 *
 * Everything from upstream is hostile: the response head is bounded, a
 * part is bounded by max_frame_size, the read buffer and the de-chunked
 * body buffer are fixed (the socket is read only when the body buffer is
 * empty, and one read never yields more body than its own size), every
 * upstream byte shown in an error is escaped, and an upstream that sends
 * no valid frame for FC_HTTP_STALL_MS is dropped.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <http_parser.h>
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

/* Response headers forkcast reads. */
enum hdr_kind { H_OTHER, H_CTYPE, H_TE };

struct http_priv {
	int fd;
	struct fc_source *src;	/* for the parser callbacks */
	http_parser hp;
	struct fc_multipart mp;
	bool mp_ready;		/* mp initialised (after the head) */
	size_t roff, rlen;	/* unparsed bytes in rbuf */
	size_t boff, blen;	/* de-chunked body bytes in bbuf, not yet fed */

	/* Response head, filled by the callbacks. */
	bool head_done;		/* on_headers_complete seen */
	bool ended;		/* on_message_complete seen */
	bool in_value;		/* last callback was a header value */
	char reason[81];	/* reason phrase (raw, cut) */
	char field[32];		/* header name (cut: longer names are other) */
	size_t field_len;
	enum hdr_kind kind;	/* header whose value is arriving */
	char ctype[200];	/* Content-Type (cut) */
	char te[64];		/* Transfer-Encoding (cut) */
	bool sent_credentials;	/* the request carried Authorization */
	uint64_t oversize_seen;	/* mp.dropped_oversize already reported */

	int64_t last_frame_ns;	/* CLOCK_MONOTONIC of the last valid frame */
	uint64_t broken;	/* parts that were not valid JPEG */
	struct fc_url url;
	uint8_t rbuf[FC_HTTP_RBUF];
	uint8_t bbuf[FC_HTTP_RBUF];
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

/* Upstream text as it may appear in src->error, which /status publishes,
 * the no-signal frame draws and the log shows: printable ASCII only, cut
 * to at most len-1 bytes without splitting an escape. */
static const char *
shown(char *buf, size_t len, const char *s)
{
	fc_log_escape(buf, len, NULL, s, strlen(s));
	return buf;
}

/* Appends n bytes at d to the NUL-terminated buf of cap bytes, cut. */
static void
append(char *buf, size_t cap, const char *d, size_t n)
{
	size_t have = strlen(buf);

	if (have + 1 >= cap)
		return;
	if (n > cap - 1 - have)
		n = cap - 1 - have;
	memcpy(buf + have, d, n);
	buf[have + n] = '\0';
}

static int
on_status(http_parser *hp, const char *at, size_t n)
{
	struct http_priv *p = hp->data;

	append(p->reason, sizeof(p->reason), at, n);
	return 0;
}

static int
on_header_field(http_parser *hp, const char *at, size_t n)
{
	struct http_priv *p = hp->data;

	if (p->in_value) {
		p->in_value = false;
		p->field_len = 0;
	}
	if (p->field_len + n < sizeof(p->field))
		memcpy(p->field + p->field_len, at, n);
	p->field_len += n;	/* past the buffer: a name we do not read */
	return 0;
}

static int
on_header_value(http_parser *hp, const char *at, size_t n)
{
	struct http_priv *p = hp->data;

	if (!p->in_value) {
		p->in_value = true;
		p->kind = H_OTHER;
		if (p->field_len < sizeof(p->field)) {
			p->field[p->field_len] = '\0';
			if (strcasecmp(p->field, "Content-Type") == 0) {
				p->kind = H_CTYPE;
				p->ctype[0] = '\0';
			} else if (strcasecmp(p->field,
			    "Transfer-Encoding") == 0) {
				p->kind = H_TE;
				p->te[0] = '\0';
			}
		}
	}
	if (p->kind == H_CTYPE)
		append(p->ctype, sizeof(p->ctype), at, n);
	else if (p->kind == H_TE)
		append(p->te, sizeof(p->te), at, n);
	return 0;
}

/* The head is complete: stop, so http_open() checks it before any body
 * byte is handled. */
static int
on_headers_complete(http_parser *hp)
{
	struct http_priv *p = hp->data;

	p->head_done = true;
	http_parser_pause(hp, 1);
	return 0;
}

/* De-chunked body bytes: queued for the multipart parser.  bbuf is empty
 * when a read is parsed, and a read is at most sizeof(bbuf) bytes. */
static int
on_body(http_parser *hp, const char *at, size_t n)
{
	struct http_priv *p = hp->data;

	if (n > sizeof(p->bbuf) - p->blen)
		return -1;	/* cannot happen; refuse rather than grow */
	memcpy(p->bbuf + p->blen, at, n);
	p->blen += n;
	return 0;
}

static int
on_message_complete(http_parser *hp)
{
	struct http_priv *p = hp->data;

	p->ended = true;
	http_parser_pause(hp, 1);
	return 0;
}

static const http_parser_settings parser_settings = {
	.on_status = on_status,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* Runs the parser over the unparsed bytes of rbuf.  0, or -1 with
 * src->error set (a malformed response; the line holding the bad byte is
 * shown, escaped). */
static int
parse_some(struct fc_source *src, struct http_priv *p)
{
	enum http_errno e;
	size_t n, at, ls, le;
	char show[81];

	n = http_parser_execute(&p->hp, &parser_settings,
	    (const char *)p->rbuf + p->roff, p->rlen - p->roff);
	e = HTTP_PARSER_ERRNO(&p->hp);
	if (e == HPE_OK || e == HPE_PAUSED) {
		if (e == HPE_PAUSED)
			http_parser_pause(&p->hp, 0);
		p->roff += n;
		return 0;
	}
	if (p->head_done) {
		const char *why = http_errno_description(e);

		/* libhttp-parser names a chunk size it cannot hold (one
		 * over about 2^60) an invalid Content-Length; in a chunked
		 * body, outside the trailer, that is what it means. */
		if (e == HPE_INVALID_CHUNK_SIZE)
			why = "bad chunk size line";
		else if (e == HPE_INVALID_CONTENT_LENGTH &&
		    (p->hp.flags & (F_CHUNKED | F_TRAILING)) == F_CHUNKED)
			why = "chunk size too large";
		snprintf(src->error, sizeof(src->error), "upstream sent a "
		    "malformed response body: %s (%s)", why,
		    http_errno_name(e));
		return -1;
	}
	/* In the head, rbuf holds it from its first byte. */
	at = p->roff + n < p->rlen ? p->roff + n : p->rlen;
	for (ls = at; ls > 0 && p->rbuf[ls - 1] != '\n'; ls--)
		;
	for (le = at; le < p->rlen && p->rbuf[le] != '\n'; le++)
		;
	if (le > ls && p->rbuf[le - 1] == '\r' && le < p->rlen)
		le--;
	/* With a status, room is left for its reason. */
	fc_log_escape(show, p->hp.status_code == 0 ? sizeof(show) : 61, NULL,
	    (const char *)p->rbuf + ls, le - ls);
	if (p->hp.status_code == 0)
		snprintf(src->error, sizeof(src->error), "upstream did not "
		    "answer HTTP: \"%s\" (%s)", show, http_errno_name(e));
	else
	{
		char reason[25];

		snprintf(src->error, sizeof(src->error), "upstream answered "
		    "%d %s with a malformed head (%s): \"%.60s\"",
		    p->hp.status_code, shown(reason, sizeof(reason),
		    p->reason), http_errno_name(e), show);
	}
	return -1;
}

/* Checks the parsed head; extracts the boundary.  0, or -1 with
 * src->error set. */
static int
check_head(struct fc_source *src, struct http_priv *p, char *boundary,
    size_t blen)
{
	char show[81];
	int status = p->hp.status_code;

	if (p->hp.http_major != 1) {
		snprintf(src->error, sizeof(src->error), "upstream answered "
		    "HTTP/%u.%u (not HTTP/1.x)", p->hp.http_major,
		    p->hp.http_minor);
		return -1;
	}
	if (status == 401 || status == 403) {
		snprintf(src->error, sizeof(src->error), "upstream %s (%d)",
		    p->sent_credentials ? "refused the credentials" :
		    "needs credentials", status);
		return -1;
	}
	if (status != 200) {
		snprintf(src->error, sizeof(src->error),
		    "upstream answered %d %s", status,
		    shown(show, 61, p->reason));
		return -1;
	}
	/* chunked is de-chunked by the parser; anything else (gzip) would
	 * hand the multipart parser bytes it cannot read. */
	if (p->te[0] != '\0' && strcasecmp(p->te, "chunked") != 0 &&
	    strcasecmp(p->te, "identity") != 0) {
		snprintf(src->error, sizeof(src->error),
		    "upstream uses Transfer-Encoding %s (not "
		    "supported)", shown(show, 41, p->te));
		return -1;
	}
	if (fc_multipart_boundary(p->ctype, boundary, blen) < 0) {
		snprintf(src->error, sizeof(src->error),
		    "upstream is not a multipart stream with a boundary "
		    "(Content-Type: %s)", p->ctype[0] ?
		    shown(show, sizeof(show), p->ctype) : "none");
		return -1;
	}
	return 0;
}

/* RFC 4648 base64 of n bytes at in into out (4 * ((n + 2) / 3) + 1). */
static void
base64(const uint8_t *in, size_t n, char *out)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = abc[v >> 18];
		out[o++] = abc[(v >> 12) & 63];
		out[o++] = abc[(v >> 6) & 63];
		out[o++] = abc[v & 63];
	}
	if (i < n) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = abc[v >> 18];
		out[o++] = abc[(v >> 12) & 63];
		out[o++] = i + 1 < n ? abc[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
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
	explicit_bzero(&p->url, sizeof(p->url));
	free(p);
	src->priv = NULL;
}

/* Writes the request for p->url into req; its length, or -1. */
static int
make_request(struct http_priv *p, char *req, size_t len)
{
	char cred[2 * FC_URL_CRED_MAX + 2];
	char auth[4 * ((sizeof(cred) + 2) / 3) + 40];
	int n, c;

	auth[0] = '\0';
	if (p->url.has_credentials) {
		c = snprintf(cred, sizeof(cred), "%s:%s", p->url.user,
		    p->url.password);
		memcpy(auth, "Authorization: Basic ", 21);
		base64((const uint8_t *)cred, (size_t)c, auth + 21);
		strcat(auth, "\r\n");
		explicit_bzero(cred, sizeof(cred));
		p->sent_credentials = true;
	}
	n = snprintf(req, len, "GET %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: forkcast\r\nAccept: multipart/x-mixed-replace, "
	    "image/jpeg\r\n%sConnection: close\r\n\r\n", p->url.path,
	    p->url.hostport, auth);
	explicit_bzero(auth, sizeof(auth));
	return n < 0 || (size_t)n >= len ? -1 : n;
}

static int
http_open(struct fc_source *src)
{
	struct http_priv *p;
	struct addrinfo hints, *res = NULL, *ai;
	char req[3072], show[FC_MP_BOUNDARY_MAX * 4 + 1];
	char boundary[FC_MP_BOUNDARY_MAX + 1];
	char why[120], public_url[160];
	int64_t deadline = fc_now_mono_ns() + FC_HTTP_CONNECT_MS * 1000000LL;
	int gai, err = 0, n, one = 1;

	src->error[0] = '\0';
	src->dropped_oversize = 0;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(src->error, sizeof(src->error), "out of memory");
		return -1;
	}
	p->fd = -1;
	p->src = src;
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

	n = make_request(p, req, sizeof(req));
	if (n < 0 || send_all(p->fd, req, (size_t)n, deadline) < 0) {
		snprintf(src->error, sizeof(src->error), "send request to "
		    "%.100s: %s", p->url.hostport, n < 0 ? "request too long" :
		    strerror(errno));
		explicit_bzero(req, sizeof(req));
		goto fail;
	}
	explicit_bzero(req, sizeof(req));

	/* Read and parse the head; the parser stops right after it, and
	 * what follows stays in rbuf for next(). */
	http_parser_init(&p->hp, HTTP_RESPONSE);
	p->hp.data = p;
	while (!p->head_done) {
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
		ssize_t r;

		if (p->roff < p->rlen) {
			if (parse_some(src, p) < 0)
				goto fail;
			continue;
		}
		if (p->rlen >= FC_HTTP_HEAD_MAX) {
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
		r = recv(p->fd, p->rbuf + p->rlen, FC_HTTP_HEAD_MAX - p->rlen,
		    0);
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
		p->rlen += (size_t)r;
	}
	if (check_head(src, p, boundary, sizeof(boundary)) < 0)
		goto fail;
	if (fc_multipart_init(&p->mp, boundary,
	    (size_t)src->cfg->max_frame_size) < 0) {
		snprintf(src->error, sizeof(src->error), "multipart parser: %s",
		    strerror(errno));
		goto fail;
	}
	p->mp_ready = true;
	p->last_frame_ns = fc_now_mono_ns();
	src->frame_no = 0;
	/* Credentials and query may be secret: the log gets the public
	 * form. */
	fc_url_redact(src->cfg->url, public_url, sizeof(public_url));
	fc_log_escape(show, sizeof(show), NULL, boundary, strlen(boundary));
	log_info("http: connected to %s (boundary \"%s\"%s%s)", public_url,
	    show, p->hp.flags & F_CHUNKED ? ", chunked" : "",
	    p->sent_credentials ? ", with credentials" : "");
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
	enum fc_mp_result mr;
	struct fc_mp_part part;
	struct pollfd pfd;
	size_t used;
	ssize_t n;
	int wait_ms, r;

	if (p == NULL || p->fd < 0 || !p->mp_ready) {
		snprintf(src->error, sizeof(src->error), "http source not open");
		return FC_SRC_ERROR;
	}
	for (;;) {
		/* De-chunked body first, one part per call. */
		while (p->boff < p->blen) {
			mr = fc_multipart_feed(&p->mp, p->bbuf + p->boff,
			    p->blen - p->boff, &used, &part);
			p->boff += used;
			if (p->mp.dropped_oversize > p->oversize_seen) {
				src->dropped_oversize +=
				    p->mp.dropped_oversize - p->oversize_seen;
				p->oversize_seen = p->mp.dropped_oversize;
			}
			if (mr == FC_MP_PART) {
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
			}
			if (mr == FC_MP_BAD)
				log_debug("http: part dropped: %s",
				    fc_multipart_reason(&p->mp));
		}
		p->boff = p->blen = 0;
		if (p->ended) {
			snprintf(src->error, sizeof(src->error),
			    "%.100s ended the stream", p->url.hostport);
			return FC_SRC_ERROR;
		}
		/* Then what was read and not parsed yet.  A malformed body
		 * is reported once the good bytes before it have been fed
		 * (the parser stays in its error state, so the next call
		 * here fails again with nothing left to feed). */
		if (p->roff < p->rlen) {
			if (parse_some(src, p) < 0 && p->blen == 0)
				return FC_SRC_ERROR;
			continue;
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
