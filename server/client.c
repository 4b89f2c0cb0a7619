/* Client connection state machine; see client.h. */
#include "client.h"

#include <errno.h>
#include <sys/mman.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <openssl/err.h>

#include "../common/clock.h"
#include "h2.h"
#include "respond.h"

#define NS_PER_S INT64_C(1000000000)
#define DRAIN_READS 16		/* reads per event on a stream's input */
#define TLS_RECORD 16384	/* plaintext of one full TLS record */
#define SENDFILE_CHUNK (1u << 30)	/* largest SSL_sendfile() asked */
#define H2_READS 64		/* reads of an HTTP/2 connection per pass */

static void
add(_Atomic uint64_t *ctr, uint64_t n)
{
	atomic_fetch_add_explicit(ctr, n, memory_order_relaxed);
}

static void
count_response(struct fc_client_env *env, int status)
{
	add(&env->stats->requests_total, 1);
	add(&env->stats->status[fc_ctl_status_index(status)], 1);
}

/*
 * The request side lives in pages of its own: freed in the middle of a
 * heap full of small per-client blocks it would leave holes that stay
 * resident, and viewers arrive in bursts.  munmap gives it back whole.
 */
static struct fc_client_req *
rq_alloc(void)
{
	void *p = mmap(NULL, sizeof(struct fc_client_req), PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;	/* zero-filled */
}

static void
rq_free(struct fc_client_req *rq)
{
	if (rq != NULL)
		munmap(rq, sizeof(*rq));
}

struct fc_client *
fc_client_new(int fd, const struct sockaddr *peer, socklen_t peerlen,
    int64_t now_mono_ns)
{
	struct fc_client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->fd = fd;
	if (peer != NULL && peerlen > 0) {
		if (peerlen > sizeof(c->peer))
			peerlen = sizeof(c->peer);
		memcpy(&c->peer, peer, peerlen);
		c->peerlen = peerlen;
	}
	if ((c->rq = rq_alloc()) == NULL) {
		free(c);
		return NULL;
	}
	fc_http_init(&c->rq->hp);
	fc_iovq_reset(&c->q);
	/* Heads are small; bodies are status JSON or events. */
	fc_strbuf_init(&c->hdr, 64 * 1024);
	fc_strbuf_init(&c->body, 4 * 1024 * 1024);
	c->writable = true;
	c->request_start_ns = now_mono_ns;
	return c;
}

void
fc_client_free(struct fc_client *c)
{
	if (c == NULL)
		return;
	if (c->tls_gauge != NULL)
		atomic_fetch_sub_explicit(c->tls_gauge, 1, memory_order_relaxed);
	fc_h2_free(c);
	SSL_free(c->tls);
	if (c->fd >= 0)
		close(c->fd);
	fc_frame_unref(c->frame);
	fc_strbuf_free(&c->hdr);
	fc_strbuf_free(&c->body);
	rq_free(c->rq);
	free(c);
}

/* --- TLS --- */

/* The handshake just ended: count the connection by who writes its
 * records (/status "tls"). */
static void
tls_check_ready(struct fc_client *c)
{
	const unsigned char *alpn;
	unsigned int alen;

	if (c->tls_gauge != NULL || !SSL_is_init_finished(c->tls))
		return;
	c->tls_ktls = fc_tls_ktls_send(c->tls);
	SSL_get0_alpn_selected(c->tls, &alpn, &alen);
	c->h2_alpn = alen == 2 && memcmp(alpn, "h2", 2) == 0;
	if (c->tls_stats == NULL)
		return;
	c->tls_gauge = c->tls_ktls ? &c->tls_stats->tls_ktls :
	    &c->tls_stats->tls_user;
	atomic_fetch_add_explicit(c->tls_gauge, 1, memory_order_relaxed);
}

/* After an SSL_* call that did not succeed: -1 with EAGAIN when it waits
 * for the socket, 0 at the end of input (close_notify, or the peer just
 * closed: SSL_OP_IGNORE_UNEXPECTED_EOF), else -1 with errno. */
static ssize_t
tls_failed(struct fc_client *c, int ret)
{
	int saved = errno;

	switch (SSL_get_error(c->tls, ret)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		errno = saved != 0 ? saved : ECONNRESET;
		return -1;
	default:
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

/* read(2) for either kind of connection. */
static ssize_t
conn_read(struct fc_client *c, void *buf, size_t len)
{
	size_t n;
	int ret;

	if (c->tls == NULL)
		return read(c->fd, buf, len);
	ERR_clear_error();
	errno = 0;
	ret = SSL_read_ex(c->tls, buf, len, &n);
	tls_check_ready(c);
	return ret == 1 ? (ssize_t)n : tls_failed(c, ret);
}

/* fc_iovq_write() through OpenSSL: full records gathered from the queue,
 * or the frame range with SSL_sendfile() once the kernel encrypts. */
static enum fc_io_result
tls_write(struct fc_client *c, size_t *written)
{
	struct fc_iovq *q = &c->q;
	char rec[TLS_RECORD];
	const char *map = NULL;
	size_t len, n;
	ossl_ssize_t sent;
	int ret;

	*written = 0;
	while (q->left > 0) {
		ERR_clear_error();
		errno = 0;
		if (c->tls_ktls && q->idx >= q->cnt) {
			sent = SSL_sendfile(c->tls, q->file_fd, q->file_off,
			    q->file_left < SENDFILE_CHUNK ? q->file_left :
			    SENDFILE_CHUNK, 0);
			if (sent <= 0)
				goto failed;
			n = (size_t)sent;
		} else if (c->tls_ktls) {
			/* The kernel encrypts: OpenSSL keeps a pointer to what
			 * it was given and resumes from it after a partial
			 * write, so it gets the queued memory itself (stable
			 * until the queue advances), never a stack copy. */
			ret = SSL_write_ex(c->tls, q->iov[q->idx].iov_base,
			    q->iov[q->idx].iov_len, &n);
			if (ret != 1) {
				sent = ret;
				goto failed;
			}
			c->out_pending = false;
		} else {
			if (q->file_left > 0 && map == NULL &&
			    (c->frame == NULL || c->frame->fd != q->file_fd ||
			    (map = fc_frame_map(c->frame)) == NULL))
				return FC_IO_ERROR;
			len = fc_iovq_gather(q, map, rec, sizeof(rec));
			ret = SSL_write_ex(c->tls, rec, len, &n);
			if (ret != 1) {
				sent = ret;
				goto failed;
			}
			c->out_pending = false;
		}
		fc_iovq_advance(q, n);
		*written += n;
	}
	return FC_IO_DONE;
failed:
	if (tls_failed(c, (int)sent) == -1 && errno == EAGAIN) {
		/* A record waits in OpenSSL, to be written again with the
		 * same bytes (not after a kTLS sendfile, which leaves
		 * nothing behind). */
		if (!(c->tls_ktls && q->idx >= q->cnt))
			c->out_pending = true;
		return FC_IO_AGAIN;
	}
	if (errno == 0)
		errno = EPIPE;
	return FC_IO_ERROR;
}

/* Writes what is queued; keeps the byte counter and the blocked timer. */
static enum fc_io_result
flush(struct fc_client *c, struct fc_client_env *env)
{
	enum fc_io_result r;
	size_t n = 0;

	if (c->q.left == 0)
		return FC_IO_DONE;
	if (c->is_stream) {
		/* An HTTP/2 stream: nghttp2 pulls the queue (h2.h) when the
		 * windows allow; writable again when it asks for more. */
		if (c->h2conn == NULL)
			return FC_IO_ERROR;
		fc_h2_stream_output(c, env);
		if (c->q.left == 0)
			return FC_IO_DONE;	/* a head alone */
		c->out_pending = true;
		r = FC_IO_AGAIN;
	} else if (!c->writable) {
		r = FC_IO_AGAIN;
	} else {
		r = c->tls != NULL ? tls_write(c, &n) :
		    fc_iovq_write(&c->q, c->fd, &n);
		if (n > 0) {
			/* An HTTP/2 connection's payload was counted per
			 * stream (fc_client_sent). */
			if (c->state != FC_CLIENT_H2)
				add(&env->stats->bytes, n);
			c->bytes_out += n;
			c->blocked_since_ns = 0;
		}
	}
	if (r == FC_IO_AGAIN) {
		c->writable = false;
		if (c->blocked_since_ns == 0)
			c->blocked_since_ns = env->now_mono_ns;
	}
	return r;
}

void
fc_client_sent(struct fc_client *c, struct fc_client_env *env, size_t n)
{
	fc_iovq_advance(&c->q, n);
	add(&env->stats->bytes, n);
	c->bytes_out += n;
	c->blocked_since_ns = 0;
	if (c->q.left == 0)
		c->out_pending = false;
}

/* Drops the output of a finished response. */
static void
release_output(struct fc_client *c)
{
	fc_iovq_reset(&c->q);
	fc_frame_unref(c->frame);
	c->frame = NULL;
	fc_strbuf_reset(&c->hdr);
	/* An idle keep-alive connection keeps no big body around. */
	fc_strbuf_free(&c->body);
}

static bool drain_input(struct fc_client *);

/* The answer is out and the connection ends: FIN our side, then read
 * what the client still sends so closing does not turn into a RST. */
static void
start_lingering(struct fc_client *c, struct fc_client_env *env)
{
	release_output(c);
	c->state = FC_CLIENT_LINGERING;
	c->linger_end_ns = env->now_mono_ns + FC_CLIENT_LINGER_NS;
	/* TLS: close_notify first (best effort: a full socket drops it). */
	if (c->tls != NULL && SSL_is_init_finished(c->tls)) {
		ERR_clear_error();
		(void)SSL_shutdown(c->tls);
		ERR_clear_error();
	}
	(void)shutdown(c->fd, SHUT_WR);
}

static enum fc_client_step
read_request(struct fc_client *c, struct fc_client_env *env)
{
	enum fc_http_result r;
	size_t used;
	ssize_t n;

	for (;;) {
		if (c->h2_alpn)
			return FC_STEP_H2;	/* not HTTP/1.1 from here on */
		if (c->rq->in_len > 0) {
			r = fc_http_feed(&c->rq->hp, c->rq->in, c->rq->in_len, &used);
			if (used > c->rq->in_len)
				used = c->rq->in_len;
			memmove(c->rq->in, c->rq->in + used, c->rq->in_len - used);
			c->rq->in_len -= used;
			if (r == FC_HTTP_DONE)
				return FC_STEP_REQUEST;
			if (r == FC_HTTP_ERROR) {
				fc_client_error(c, env, c->rq->hp.error, NULL);
				return FC_STEP_OK;
			}
			if (used == 0 && c->rq->in_len == sizeof(c->rq->in)) {
				/* Parser made no progress on a full buffer. */
				fc_client_error(c, env, 400, NULL);
				return FC_STEP_OK;
			}
		}
		if (c->peer_eof)
			return FC_STEP_CLOSE;
		n = conn_read(c, c->rq->in + c->rq->in_len,
		    sizeof(c->rq->in) - c->rq->in_len);
		if (n > 0) {
			c->rq->in_len += (size_t)n;
			continue;
		}
		if (n == 0) {
			c->peer_eof = true;
			continue;	/* parse what is left, then close */
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return FC_STEP_OK;
		return FC_STEP_CLOSE;
	}
}

/* The first bytes of a queued part went out: it is now this client's
 * newest frame. */
static void
commit_part(struct fc_client *c, struct fc_client_env *env)
{
	const struct fc_frame_meta *m = &c->frame->meta;

	c->part_queued = false;
	c->probed = 0;
	if (m->seq != c->last_seq) {
		if (c->last_seq != 0 && m->seq > c->last_seq + 1)
			add(&env->stats->frames_skipped,
			    m->seq - c->last_seq - 1);
		/* Age at send of new pictures only; a keepalive resend of
		 * an old one says nothing about latency. */
		fc_ctl_observe_age(env->stats,
		    (fc_now_real_ns() - m->ts_real_ns) / 1000);
	}
	c->last_seq = m->seq;
	c->last_part_ns = env->now_mono_ns;
}

/* Whether the newest frame should go to this client now. */
static bool
want_frame(const struct fc_client *c, const struct fc_frame *f, int64_t now)
{
	if (f->meta.seq == c->last_seq)
		return now - c->last_part_ns >= FC_CLIENT_KEEPALIVE_NS;
	/* The first part waits for a frame published after the request
	 * when the newest one was stale then (worker.c start_stream). */
	if (c->last_seq == 0 && f->meta.seq <= c->fresh_after &&
	    now < c->fresh_until_ns)
		return false;
	/* A lower seq means a new bus: take it as new. */
	if (c->interval_ns > 0 && c->last_seq != 0 &&
	    now < c->last_part_ns + c->interval_ns - c->interval_ns / 8)
		return false;
	return true;
}

/*
 * Reads TCP_INFO as far as tcpi_snd_wnd (Linux 5.4), the last field the
 * window rules below use.  False, and no more tries for this client, on a
 * socket without it (not TCP, or an older kernel).
 */
static bool
read_tcp_info(struct fc_client *c, struct tcp_info *ti)
{
	socklen_t len = sizeof(*ti);

	if (!c->check_window)
		return false;
	memset(ti, 0, sizeof(*ti));
	if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, ti, &len) == -1 ||
	    len < offsetof(struct tcp_info, tcpi_snd_wnd) +
	    sizeof(ti->tcpi_snd_wnd)) {
		c->check_window = false;
		return false;
	}
	return true;
}

/* The part or event just queued is the newest one: what the peer must
 * have read to be caught up is everything before it (peer_alive). */
static void
mark_newest(struct fc_client *c)
{
	/* peer_alive() compares this with what TCP says the peer read:
	 * through OpenSSL's records that is ciphertext (the handshake and
	 * about 22 bytes a record more than we queued), so count what went
	 * to the socket.  (With kTLS the kernel adds the record overhead
	 * after us: the count stays in plaintext there.) */
	if (c->tls != NULL && !c->tls_ktls)
		c->newest_at = BIO_number_written(SSL_get_wbio(c->tls));
	else
		c->newest_at = c->bytes_out;
	c->caught_up = false;
}

/* The client whose socket carries c's bytes: c itself, or an HTTP/2
 * stream's connection (NULL once detached).  What the peer has not read
 * on that socket delays every stream on it. */
static struct fc_client *
socket_client(struct fc_client *c)
{
	return c->is_stream ? c->h2conn : c;
}

/*
 * Whether c's reader can be asked what it has not read by one byte of the
 * next part's lead (fc_stream_lead()): plain TCP (through TLS a byte would
 * be a record of its own, and an HTTP/2 stream shares its connection)
 * with TCP_INFO, in full framing (advance framing has no lead).
 */
static bool
can_probe(const struct fc_client *c)
{
	size_t len;

	(void)fc_stream_lead(c->framing, &len);
	return len > 0 && c->check_window && c->tls == NULL && !c->is_stream;
}

/* Sends the next byte of the next part's lead, if one is left and, unless
 * now, the last went long enough ago: FC_CLIENT_PROBE_NS, or a quarter of
 * the time since the last part (a long wait is asked about less often). */
static void
probe(struct fc_client *c, struct fc_client_env *env, bool now)
{
	size_t len;
	const char *lead = fc_stream_lead(c->framing, &len);
	int64_t since = env->now_mono_ns - c->probe_ns;

	if (c->probed >= len || (!now && (since < FC_CLIENT_PROBE_NS ||
	    since < (env->now_mono_ns - c->last_part_ns) / 4)))
		return;
	/* A byte that does not go out now is simply not sent: the part
	 * waits, and its own write finds what the socket has. */
	if (write(c->fd, lead + c->probed, 1) == 1) {
		c->probed++;
		c->probe_ns = env->now_mono_ns;
		c->bytes_out++;
		add(&env->stats->bytes, 1);
	}
}

/* Puts c on env->recheck, due FC_CLIENT_RECHECK_NS from now. */
static void
recheck_soon(struct fc_client *c, struct fc_client_env *env)
{
	if (c->recheck_on)
		return;
	c->recheck_on = true;
	c->recheck_ns = env->now_mono_ns + FC_CLIENT_RECHECK_NS;
	c->recheck_next = NULL;
	if (env->recheck_tail != NULL)
		env->recheck_tail->recheck_next = c;
	else
		env->recheck = c;
	env->recheck_tail = c;
}

struct fc_client *
fc_client_recheck(struct fc_client_env *env)
{
	struct fc_client *c = env->recheck;

	if (c == NULL || c->recheck_ns > env->now_mono_ns)
		return NULL;
	env->recheck = c->recheck_next;
	if (env->recheck == NULL)
		env->recheck_tail = NULL;
	c->recheck_on = false;
	c->recheck_next = NULL;
	return c;
}

int64_t
fc_client_recheck_next_ns(const struct fc_client_env *env)
{
	return env->recheck != NULL ? env->recheck->recheck_ns : INT64_MAX;
}

void
fc_client_recheck_drop(struct fc_client *c, struct fc_client_env *env)
{
	struct fc_client *prev = NULL, *t;

	if (!c->recheck_on)
		return;
	for (t = env->recheck; t != c; t = t->recheck_next)
		prev = t;
	if (prev != NULL)
		prev->recheck_next = c->recheck_next;
	else
		env->recheck = c->recheck_next;
	if (env->recheck_tail == c)
		env->recheck_tail = prev;
	c->recheck_on = false;
	c->recheck_next = NULL;
}

/* Forgets what was measured of c's reading (a new stream, or a reader
 * that fell behind): its read record starts again now, and its first
 * pace is taken from its next part. */
static void
pace_reset(struct fc_client *c)
{
	c->rate = 0;
	c->rate_n = 0;
	c->pace = 0;
	c->first_part_ns = 0;
}

/* Bytes per second a reader that keeps up takes: parts of the last one's
 * size at the capture's measured frame rate (the configured one until it
 * is measured), or at the client's own cap. */
static int64_t
stream_rate(const struct fc_client *c, const struct fc_client_env *env)
{
	int64_t milli = env->fps_milli > 0 ? (int64_t)env->fps_milli :
	    (env->cfg->fps > 0 ? env->cfg->fps : 1) * INT64_C(1000);

	if (c->interval_ns > 0 && NS_PER_S * 1000 / c->interval_ns < milli)
		milli = NS_PER_S * 1000 / c->interval_ns;
	return (int64_t)c->part_len * milli / 1000;
}

/* Bytes per second from sample i of c's read record to now. */
static int64_t
rate_since(const struct fc_client *c, int i, uint64_t read, int64_t now)
{
	int64_t ms = (now - c->rate_ns[i]) / 1000000;

	return ms > 0 && read >= c->rate_read[i] ?
	    (int64_t)((read - c->rate_read[i]) * 1000 / (uint64_t)ms) : 0;
}

/*
 * c's read rates, from what it has read at least (acknowledged, less what
 * its window shows unread; what the window does not show is at most a
 * part): over the last FC_CLIENT_RATE_STEP_NS or so (rate: whether it
 * keeps up), and over up to FC_CLIENT_RATE_SLOTS steps, at least
 * FC_CLIENT_PACE_MIN_NS (pace: how long a part takes it).
 */
static void
measure_rate(struct fc_client *c, uint64_t read, int64_t now)
{
	int n = c->rate_n, newest = (c->rate_first + n - 1) % FC_CLIENT_RATE_SLOTS;
	int oldest = c->rate_first;

	if (n == 0 || now - c->rate_ns[newest] >= FC_CLIENT_RATE_STEP_NS) {
		if (n == FC_CLIENT_RATE_SLOTS) {
			c->rate_first = (c->rate_first + 1) %
			    FC_CLIENT_RATE_SLOTS;
			n--;
		}
		newest = (c->rate_first + n) % FC_CLIENT_RATE_SLOTS;
		c->rate_ns[newest] = now;
		c->rate_read[newest] = read;
		c->rate_n = ++n;
		oldest = c->rate_first;
	}
	if (n >= 2)
		c->rate = rate_since(c, (newest + FC_CLIENT_RATE_SLOTS - 1) %
		    FC_CLIENT_RATE_SLOTS, read, now);
	if (now - c->rate_ns[oldest] >= FC_CLIENT_PACE_MIN_NS)
		c->pace = rate_since(c, oldest, read, now);
}

/* The next part goes to a new or slow reader: what it has not read is
 * measured from its window now, and it may be looked at again soon. */
static bool
let_on(struct fc_client *c, const struct tcp_info *ti)
{
	c->wnd_before = ti->tcpi_snd_wnd;
	c->rechecks = 0;
	return false;
}

/*
 * True when the next part should wait: the client has not taken what it
 * was sent.
 *
 * What the peer has not read shows in its advertised window (tcpi_snd_wnd):
 * how far it is below the largest one seen.  But the window is only fresh
 * while data is in flight: once everything is acknowledged, Linux sends no
 * window update when the reader drains its buffer (unless the window at
 * least doubles).  So a reader that keeps up (FC_READER_FAST) would look
 * behind after every part; it gets its next part as soon as everything is
 * acknowledged, and waits only with more than FC_CLIENT_NOTSENT_MAX bytes
 * in our send queue or more than FC_CLIENT_BACKLOG_MAX unread while data
 * is in flight.
 *
 * A reader that falls behind (FC_READER_SLOW), and a new one until its
 * rate is known (FC_READER_NEW), get their next part only once everything
 * is acknowledged and less than FC_CLIENT_DRAINED is unread (a new one
 * also while more than the lead bytes of its last part are still unsent
 * or in flight: that says nothing yet of how it reads).  To learn that,
 * they are sent the next part's lead (fc_stream_lead()) one byte at a
 * time: one right after each part, then at most every FC_CLIENT_PROBE_NS
 * while they wait (and one at once to confirm a new reader that looks
 * behind, below).  The ACK of each carries the window of that moment (the
 * receiver announces the larger of what is free, up to its window clamp,
 * and what is left of the window it announced before); a reader whose
 * answer is still on the way is looked at again FC_CLIENT_RECHECK_NS
 * later, up to FC_CLIENT_RECHECKS times in a row (the count starts again
 * with a confirmation).  The lead is the same whatever frame comes next,
 * so the choice of the frame still waits.
 *
 * A new reader's first ACK may come before it read (at first, Linux
 * acknowledges at once), so one that looks behind is asked once more
 * and looked at again FC_CLIENT_RECHECK_NS later before it counts as
 * slow; a reader that keeps up has read by then.
 *
 * The window does not show everything: Linux never announces more than
 * its window clamp (about 3/4 of a default 128 KiB buffer on loopback,
 * measured here), and frees a buffer's memory a whole received segment at
 * a time (on loopback a part is one), so up to about a part can sit
 * unread behind a window that looks drained.  So a slow reader also waits
 * until it could have read its last part at its pace (measure_rate(),
 * less FC_CLIENT_RATE_SLACK percent), counted from when it went out, or,
 * when it came on top of such a hidden backlog (all of it showed unread
 * after it), from when the window drained.  Until its pace is measured,
 * the first one is what it read from its first part to that drain.  A
 * reader measured at FC_CLIENT_FAST_PERCENT of the stream's rate or more
 * keeps up.
 *
 * One getsockopt, about an eighth of what a part costs a worker with 500
 * viewers (13 % of its profile samples, tests/bench/profile), so a fast
 * client found with everything sent and acknowledged is not asked again
 * for its next FC_CLIENT_CHECK_SKIP parts: a reader that keeps up pays it
 * once every FC_CLIENT_CHECK_SKIP + 1 parts, and one that falls behind
 * gets at most FC_CLIENT_CHECK_SKIP parts before it is seen.
 */
static bool
peer_backlogged(struct fc_client *c, struct fc_client_env *env)
{
	struct tcp_info ti;
	struct fc_client *s = socket_client(c);
	int64_t now = env->now_mono_ns, need;
	uint64_t in_flight;
	uint32_t unread;
	bool behind;

	if (c->check_skip > 0) {
		c->check_skip--;
		return false;
	}
	if (s == NULL || !read_tcp_info(s, &ti)) {
		c->reader = FC_READER_FAST;	/* nothing to ask */
		return false;
	}
	if (ti.tcpi_snd_wnd > s->peer_wnd_max)
		s->peer_wnd_max = ti.tcpi_snd_wnd;
	unread = s->peer_wnd_max - ti.tcpi_snd_wnd;
	behind = ti.tcpi_notsent_bytes > FC_CLIENT_NOTSENT_MAX ||
	    (ti.tcpi_unacked > 0 && unread > FC_CLIENT_BACKLOG_MAX);
	if (c->reader == FC_READER_FAST) {
		if (behind && can_probe(c)) {
			c->reader = FC_READER_SLOW;
			pace_reset(c);
		} else {
			if (ti.tcpi_notsent_bytes == 0 &&
			    ti.tcpi_unacked == 0)
				c->check_skip = FC_CLIENT_CHECK_SKIP;
			return behind;
		}
	}
	measure_rate(c, ti.tcpi_bytes_acked - unread, now);
	if (c->rate > 0 &&
	    c->rate * 100 >= stream_rate(c, env) * FC_CLIENT_FAST_PERCENT) {
		c->reader = FC_READER_FAST;
		return behind;
	}
	if (behind)
		c->reader = FC_READER_SLOW;
	if (ti.tcpi_notsent_bytes > 0 || ti.tcpi_unacked > 0) {
		/* Its answer is on the way.  A new reader with more than
		 * lead bytes in flight is let on as a fast one (a part in
		 * flight says nothing yet of how it reads). */
		in_flight = ti.tcpi_bytes_sent - ti.tcpi_bytes_retrans >
		    ti.tcpi_bytes_acked ? ti.tcpi_bytes_sent -
		    ti.tcpi_bytes_retrans - ti.tcpi_bytes_acked : 0;
		if (c->reader == FC_READER_NEW &&
		    (ti.tcpi_notsent_bytes > 0 || in_flight > c->probed))
			return let_on(c, &ti);
		if (c->rechecks < FC_CLIENT_RECHECKS) {
			c->rechecks++;
			recheck_soon(c, env);
		}
		return true;
	}
	/* A new reader's buffer may still grow (and its window with it):
	 * what it has not read is how far the window fell since the last
	 * part went out. */
	if (c->reader == FC_READER_NEW)
		unread = c->wnd_before > ti.tcpi_snd_wnd ?
		    c->wnd_before - ti.tcpi_snd_wnd : 0;
	if (c->read_from_ns == 0 && unread < FC_CLIENT_DRAINED &&
	    c->pace == 0 && c->first_part_ns != 0 &&
	    now - c->first_part_ns >= FC_CLIENT_PROBE_NS &&
	    c->stacked_at > c->first_part_at) {
		/* It just read everything before the part that came on top
		 * (first_part_at to stacked_at), reading without a break
		 * since its first part: its first pace. */
		c->pace = (int64_t)((c->stacked_at - c->first_part_at) *
		    1000 / (uint64_t)((now - c->first_part_ns) / 1000000));
	}
	if (!c->part_seen && c->probed > 0) {
		/* The window after the last part: all of the part shows
		 * unread when it came on top of a backlog the window did not
		 * show, which the reader reads first. */
		c->part_seen = true;
		c->read_from_ns = unread + FC_CLIENT_DRAINED / 2 >=
		    c->part_len && c->part_len > FC_CLIENT_DRAINED ? 0 :
		    c->last_part_ns;
	}
	if (unread >= FC_CLIENT_DRAINED) {
		if (c->reader == FC_READER_NEW && !c->confirming) {
			/* The ACK may have come before its reader read
			 * (at first, Linux acknowledges at once): asked
			 * again, the answer looked at in a moment. */
			c->confirming = true;
			c->rechecks = 0;
			probe(c, env, true);
			recheck_soon(c, env);
			return true;
		}
		c->confirming = false;
		c->reader = FC_READER_SLOW;
		probe(c, env, false);
		return true;
	}
	c->confirming = false;
	if (c->read_from_ns == 0)
		c->read_from_ns = now;
	if (c->reader == FC_READER_SLOW && c->pace > 0) {
		need = (int64_t)c->part_len * (100 - FC_CLIENT_RATE_SLACK) *
		    (NS_PER_S / 100) / c->pace;
		if (now - c->read_from_ns < need) {
			probe(c, env, false);
			return true;
		}
	}
	return let_on(c, &ti);
}

/*
 * True while the peer of a stream or an event stream is alive: its
 * application read something within send_timeout.  What it read is
 * estimated from TCP_INFO: bytes it acknowledged minus what still sits
 * unread in its receive buffer (how far its advertised window is below the
 * largest one seen).  Progress is having read all but
 * FC_CLIENT_PROGRESS_MIN bytes of what was written before the newest part
 * or event (caught up), or, for a stream, having read more than that since
 * the last progress (a slow reader is never caught up).  The second rule
 * is not used for /events: the receiver rounds its window up to its scale
 * unit (2^wscale, 1 KiB with Linux defaults) on every ACK instead of
 * shrinking it, which moves a non-reader's window forward by most of each
 * few-hundred-byte event; only the gap to what was written grows.  A
 * stream's parts are far larger than the unit, so its window closes.
 * A reader that stopped is dropped even while its socket still takes our
 * writes (with the freshness rule above a stream's buffers take minutes
 * to fill, an event stream's days, and a write error would come only
 * after that).  What the peer's kernel takes into a receive buffer whose
 * window still opens looks like reading: that phase ends before the
 * buffer is full.  Without TCP_INFO the write-side rule
 * (blocked_since_ns) is the only one.
 *
 * Called on every tick of the worker for every stream and event stream,
 * so the kernel is asked only while it matters: a peer seen caught up
 * stays caught up until the next part or event is queued (mark_newest),
 * and a reading peer costs about one getsockopt per part or event, not
 * one per tick.
 */
static bool
peer_alive(struct fc_client *c, struct fc_client_env *env)
{
	struct tcp_info ti;
	int64_t consumed, now = env->now_mono_ns;

	if (c->progress_ns == 0 || c->caught_up)
		c->progress_ns = now;
	if (c->caught_up || !read_tcp_info(c, &ti))
		return true;
	if (ti.tcpi_snd_wnd > c->wnd_peak)
		c->wnd_peak = ti.tcpi_snd_wnd;
	consumed = (int64_t)ti.tcpi_bytes_acked - (int64_t)(c->wnd_peak - ti.tcpi_snd_wnd);
	c->caught_up = consumed + FC_CLIENT_PROGRESS_MIN >=
	    (int64_t)c->newest_at;
	if (c->caught_up ||
	    (c->state == FC_CLIENT_STREAMING &&
	    consumed > c->consumed_best + FC_CLIENT_PROGRESS_MIN)) {
		if (consumed > c->consumed_best)
			c->consumed_best = consumed;
		c->progress_ns = now;
	}
	return now - c->progress_ns < env->cfg->send_timeout * NS_PER_S;
}

static enum fc_client_step
stream_pump(struct fc_client *c, struct fc_client_env *env)
{
	enum fc_io_result r;
	struct fc_frame *f;
	size_t before;

	for (;;) {
		/* (An HTTP/2 stream's queue is emptied by nghttp2 between
		 * calls: the part it held is finished here.) */
		if (c->q.left > 0 || c->frame != NULL) {
			before = c->q.left;
			r = flush(c, env);
			if (c->part_queued && (c->q.left < before ||
			    c->out_pending))
				commit_part(c, env);
			if (r == FC_IO_ERROR)
				return FC_STEP_CLOSE;
			if (r == FC_IO_AGAIN) {
				if (c->part_queued) {
					/* Nothing of it went out: choose
					 * again, newest, when writable. */
					fc_frame_unref(c->frame);
					c->frame = NULL;
					c->part_queued = false;
					fc_iovq_reset(&c->q);
				}
				return FC_STEP_OK;
			}
			if (c->frame != NULL) {
				/* Asks what is unread as soon as it is. */
				if (c->reader != FC_READER_FAST &&
				    !c->ending)
					probe(c, env, true);
				add(&env->stats->frames_sent, 1);
				fc_frame_unref(c->frame);
				c->frame = NULL;
			}
			if (c->close_after)
				return FC_STEP_CLOSE;
		}
		/* The response head is out: a stream never needs it again. */
		if (c->hdr.data != NULL && c->q.left == 0)
			fc_strbuf_free(&c->hdr);
		if (c->end_queued)
			return FC_STEP_CLOSE;	/* the close delimiter is out */
		if (c->ending ||
		    (c->end_ns != 0 && env->now_mono_ns >= c->end_ns)) {
			const char *d;
			size_t dlen;

			d = fc_stream_close_delimiter(c->framing, &dlen);
			fc_iovq_reset(&c->q);
			/* It begins with the lead too. */
			(void)fc_iovq_add(&c->q, d + c->probed,
			    dlen - c->probed);
			c->probed = 0;
			c->end_queued = true;
			continue;
		}
		/* An HTTP/2 stream whose window closed at the end of a part
		 * has nothing queued, so no write waits: while a newer frame
		 * waits for it, that counts as blocked (send_timeout). */
		if (c->is_stream && !c->writable && c->blocked_since_ns == 0 &&
		    env->current != NULL && env->current->meta.seq != c->last_seq)
			c->blocked_since_ns = env->now_mono_ns;
		if (!c->writable || (f = env->current) == NULL ||
		    !want_frame(c, f, env->now_mono_ns))
			return FC_STEP_OK;
		if (peer_backlogged(c, env)) {
			if (env->now_mono_ns - c->last_part_ns <
			    (c->reader != FC_READER_FAST ?
			    FC_CLIENT_SLOW_WAIT_NS :
			    FC_CLIENT_BACKLOG_WAIT_NS))
				return FC_STEP_OK;	/* new frame or tick */
			/* Waited long enough: send, and learn the window
			 * again (it may have shrunk for good). */
			if (c->reader == FC_READER_FAST &&
			    socket_client(c) != NULL)
				socket_client(c)->peer_wnd_max = 0;
		}
		c->frame = fc_frame_ref(f);
		c->part_queued = true;
		mark_newest(c);
		fc_stream_queue_part(&c->q, c->framing, f);
		c->part_len = c->q.left;
		if (c->first_part_ns == 0) {
			c->first_part_ns = env->now_mono_ns;
			c->first_part_at = c->bytes_out;
		}
		c->stacked_at = c->bytes_out;
		c->part_seen = false;
		c->read_from_ns = env->now_mono_ns;
		/* (What of its lead already went out.) */
		fc_iovq_advance(&c->q, c->probed);
	}
}

/*
 * An HTTP/2 connection: everything readable goes to nghttp2 (its
 * callbacks route the requests and may add output), then its output is
 * written through TLS, one buffer at a time: a buffer is refilled only
 * once all of it is out (OpenSSL may have to be called again with the
 * same bytes).
 */
static enum fc_client_step
h2_io(struct fc_client *c, struct fc_client_env *env)
{
	uint8_t buf[TLS_RECORD];
	enum fc_io_result r;
	const char *out;
	size_t len;
	ssize_t n;
	bool failed = false;
	int reads;

	for (reads = 0;; reads++) {
		/* A connection that sends at line rate gets its turn, then
		 * the others theirs: the rest is read on the next pass
		 * (edge-triggered: nothing else would call us back). */
		if (reads == H2_READS) {
			fc_h2_mark(c, env);
			break;
		}
		n = conn_read(c, buf, sizeof(buf));
		if (n > 0) {
			if (fc_h2_recv(c, env, buf, (size_t)n) == -1) {
				failed = true;
				break;
			}
			continue;
		}
		if (n == 0) {
			c->peer_eof = true;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		return FC_STEP_CLOSE;
	}
	if (c->peer_eof)
		return FC_STEP_CLOSE;
	for (;;) {
		if (c->q.left > 0) {
			r = flush(c, env);
			if (r == FC_IO_ERROR)
				return FC_STEP_CLOSE;
			if (r == FC_IO_AGAIN)	/* a flooder is not read on */
				return failed ? FC_STEP_CLOSE : FC_STEP_OK;
		}
		if ((len = fc_h2_fill(c, env, &out)) == 0)
			break;
		fc_iovq_reset(&c->q);
		(void)fc_iovq_add(&c->q, out, len);
	}
	/* Idle time (client_timeout) counts while no stream is open. */
	if (fc_h2_streams(c) > 0)
		c->request_start_ns = env->now_mono_ns;
	return failed || fc_h2_done(c) ? FC_STEP_CLOSE : FC_STEP_OK;
}

enum fc_client_step
fc_client_pump(struct fc_client *c, struct fc_client_env *env)
{
	enum fc_io_result r;
	enum fc_client_step step;

	/* A stream never parses again: give the request side back (the
	 * caller has finished with c->rq->hp.req by now). */
	if (c->rq != NULL && (c->state == FC_CLIENT_STREAMING ||
	    c->state == FC_CLIENT_EVENTS || c->state == FC_CLIENT_H2)) {
		rq_free(c->rq);
		c->rq = NULL;
	}
	for (;;) {
		if (c->hdr.failed || c->body.failed)
			return FC_STEP_CLOSE;	/* out of memory: this client */
		switch (c->state) {
		case FC_CLIENT_READING:
			if (c->is_stream)
				return FC_STEP_OK;	/* h2.c fills it */
			step = read_request(c, env);
			if (step != FC_STEP_OK || c->state == FC_CLIENT_READING)
				return step;
			continue;	/* an error answer was queued */
		case FC_CLIENT_RESPONDING:
			r = flush(c, env);
			if (r == FC_IO_AGAIN)
				return FC_STEP_OK;
			if (r == FC_IO_ERROR)
				return FC_STEP_CLOSE;
			if (c->close_after && c->is_stream)
				return FC_STEP_CLOSE;	/* the stream ended */
			if (c->close_after) {
				start_lingering(c, env);
				continue;
			}
			release_output(c);
			c->state = FC_CLIENT_READING;
			c->served_one = true;
			c->request_start_ns = env->now_mono_ns;
			fc_http_next(&c->rq->hp);
			continue;
		case FC_CLIENT_STREAMING:
			return stream_pump(c, env);
		case FC_CLIENT_EVENTS:
			r = flush(c, env);
			if (r == FC_IO_ERROR)
				return FC_STEP_CLOSE;
			return FC_STEP_OK;
		case FC_CLIENT_LINGERING:
			return drain_input(c) && !c->peer_eof ? FC_STEP_OK :
			    FC_STEP_CLOSE;
		case FC_CLIENT_WAITING:
			return FC_STEP_OK;	/* the worker answers */
		case FC_CLIENT_H2:
			return h2_io(c, env);
		}
		return FC_STEP_CLOSE;
	}
}

/* Reads and discards what a streaming client sends; notices EOF. */
static bool
drain_input(struct fc_client *c)
{
	char junk[512];
	ssize_t n;
	int i;

	for (i = 0; i < DRAIN_READS; i++) {
		n = conn_read(c, junk, sizeof(junk));
		if (n > 0)
			continue;
		if (n == 0) {
			c->peer_eof = true;
			return false;
		}
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK;
	}
	return true;
}

/*
 * Input while WAITING: a pipelined request is kept (read into the request
 * buffer while it has room, parsed once the answer is out); end of input
 * means the client is gone.  A client that only shut its sending side is
 * taken as gone too (as nginx does): TCP cannot tell the two apart.
 */
static enum fc_client_step
wait_input(struct fc_client *c, uint32_t events)
{
	ssize_t n;

	if (events & EPOLLRDHUP)
		return FC_STEP_CLOSE;
	while (c->rq != NULL && c->rq->in_len < sizeof(c->rq->in)) {
		n = conn_read(c, c->rq->in + c->rq->in_len,
		    sizeof(c->rq->in) - c->rq->in_len);
		if (n > 0) {
			c->rq->in_len += (size_t)n;
			continue;
		}
		if (n == 0)
			return FC_STEP_CLOSE;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		return FC_STEP_CLOSE;
	}
	return FC_STEP_OK;
}

enum fc_client_step
fc_client_handle(struct fc_client *c, struct fc_client_env *env,
    uint32_t events)
{
	if (events & (EPOLLERR | EPOLLHUP))
		return FC_STEP_CLOSE;
	if (events & EPOLLOUT)
		c->writable = true;
	if ((events & (EPOLLIN | EPOLLRDHUP)) &&
	    (c->state == FC_CLIENT_STREAMING || c->state == FC_CLIENT_EVENTS) &&
	    !drain_input(c))
		return FC_STEP_CLOSE;
	if (c->state == FC_CLIENT_WAITING)
		return wait_input(c, events);
	/* LINGERING drains in the pump. */
	/* READING reads in the pump; RESPONDING leaves pipelined bytes in
	 * the socket until the response is out (read then, in order). */
	return fc_client_pump(c, env);
}

void
fc_client_respond(struct fc_client *c, struct fc_client_env *env, int status,
    const void *body, size_t len, bool keep_alive)
{
	count_response(env, status);
	fc_iovq_reset(&c->q);
	if (c->hdr.failed || c->body.failed)
		return;		/* the pump closes the client */
	(void)fc_iovq_add(&c->q, c->hdr.data, c->hdr.len);
	if (c->rq == NULL || !c->rq->hp.req.head) {
		if (body != NULL)
			(void)fc_iovq_add(&c->q, body, len);
		else if (c->body.len > 0)
			(void)fc_iovq_add(&c->q, c->body.data, c->body.len);
		else if (c->frame != NULL) {
			struct fc_frame_range r = fc_frame_jpeg(c->frame);

			fc_iovq_set_file(&c->q, c->frame->fd, r.off, r.len);
		}
	}
	c->close_after = !keep_alive;
	c->state = FC_CLIENT_RESPONDING;
}

void
fc_client_error(struct fc_client *c, struct fc_client_env *env, int status,
    const char *detail)
{
	fc_frame_unref(c->frame);
	c->frame = NULL;
	fc_strbuf_reset(&c->hdr);
	fc_strbuf_reset(&c->body);
	fc_respond_error(&c->hdr, status, detail,
	    c->rq != NULL && c->rq->hp.req.head);
	fc_client_respond(c, env, status, NULL, 0, false);
}

void
fc_client_start_stream(struct fc_client *c, struct fc_client_env *env,
    enum fc_framing framing, int fps, int maxtime, bool head_only)
{
	count_response(env, 200);
	c->framing = framing == FC_FRAMING_ADVANCE ? FC_FRAMING_ADVANCE :
	    FC_FRAMING_FULL;
	c->reader = can_probe(c) ? FC_READER_NEW : FC_READER_FAST;
	c->interval_ns = fps > 0 ? NS_PER_S / fps : 0;
	c->end_ns = maxtime > 0 ? env->now_mono_ns + maxtime * NS_PER_S : 0;
	c->last_seq = 0;
	c->part_queued = false;
	c->probed = 0;
	pace_reset(c);
	c->ending = false;
	c->end_queued = false;
	fc_frame_unref(c->frame);
	c->frame = NULL;
	fc_strbuf_reset(&c->hdr);
	fc_stream_response_head(&c->hdr, c->framing, env->cfg->allow_origin,
	    head_only);
	fc_iovq_reset(&c->q);
	if (!c->hdr.failed)
		(void)fc_iovq_add(&c->q, c->hdr.data, c->hdr.len);
	c->close_after = head_only;
	c->state = FC_CLIENT_STREAMING;
}

enum fc_client_step
fc_client_end_stream(struct fc_client *c, struct fc_client_env *env)
{
	c->ending = true;
	return stream_pump(c, env);
}

void
fc_client_start_wait(struct fc_client *c, uint64_t after_seq,
    int64_t until_ns, bool keep_alive)
{
	fc_iovq_reset(&c->q);
	c->fresh_after = after_seq;
	c->fresh_until_ns = until_ns;
	c->wait_keep = keep_alive;
	c->state = FC_CLIENT_WAITING;
}

void
fc_client_start_events(struct fc_client *c, struct fc_client_env *env)
{
	count_response(env, 200);
	fc_iovq_reset(&c->q);
	if (!c->hdr.failed)
		(void)fc_iovq_add(&c->q, c->hdr.data, c->hdr.len);
	c->close_after = false;
	c->state = FC_CLIENT_EVENTS;
	/* send_timeout watches what the peer reads (peer_alive), as for
	 * streams; a socket without TCP_INFO turns this off. */
	c->check_window = true;
}

bool
fc_client_queue_event(struct fc_client *c)
{
	if (c->q.left > 0 || c->body.failed)
		return false;
	fc_iovq_reset(&c->q);
	(void)fc_iovq_add(&c->q, c->body.data, c->body.len);
	mark_newest(c);
	return true;
}

enum fc_client_step
fc_client_tick(struct fc_client *c, struct fc_client_env *env)
{
	const struct fc_config *cfg = env->cfg;
	int64_t now = env->now_mono_ns;

	if (c->blocked_since_ns != 0 &&
	    now - c->blocked_since_ns >= cfg->send_timeout * NS_PER_S) {
		add(&env->stats->drops_timeout, 1);
		return FC_STEP_CLOSE;
	}
	switch (c->state) {
	case FC_CLIENT_READING:
		if (now - c->request_start_ns < cfg->client_timeout * NS_PER_S)
			return FC_STEP_OK;
		/* A TLS handshake that never ended cannot carry a 408, and
		 * an HTTP/2 request whose headers never ended is reset. */
		if (c->is_stream ||
		    (c->tls != NULL && !SSL_is_init_finished(c->tls)))
			return FC_STEP_CLOSE;
		/* An idle keep-alive connection just goes; a request that
		 * never completed (slowloris) gets its 408. */
		if (c->served_one && c->rq != NULL && !fc_http_started(&c->rq->hp))
			return FC_STEP_CLOSE;
		fc_client_error(c, env, 408, NULL);
		return fc_client_pump(c, env);
	case FC_CLIENT_STREAMING:
		if (!peer_alive(c, env)) {
			add(&env->stats->drops_timeout, 1);
			return FC_STEP_CLOSE;
		}
		return stream_pump(c, env);	/* maxtime, keepalive resend */
	case FC_CLIENT_EVENTS:
		if (!peer_alive(c, env)) {
			add(&env->stats->drops_timeout, 1);
			return FC_STEP_CLOSE;
		}
		return FC_STEP_OK;
	case FC_CLIENT_LINGERING:
		return now >= c->linger_end_ns ? FC_STEP_CLOSE : FC_STEP_OK;
	case FC_CLIENT_RESPONDING:
		/* An HTTP/2 answer that is out while the client never ended
		 * its side of the stream: reset then (h2.c). */
		if (c->is_stream && c->h2_ended &&
		    now - c->request_start_ns >= cfg->client_timeout * NS_PER_S) {
			c->h2_reset_half = true;
			return FC_STEP_CLOSE;
		}
		return FC_STEP_OK;
	case FC_CLIENT_H2:
		/* As an idle keep-alive connection: closed after
		 * client_timeout without a stream. */
		return fc_h2_streams(c) == 0 &&
		    now - c->request_start_ns >= cfg->client_timeout * NS_PER_S ?
		    FC_STEP_CLOSE : FC_STEP_OK;
	default:
		return FC_STEP_OK;
	}
}
