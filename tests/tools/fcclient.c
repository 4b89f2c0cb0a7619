/*
 * fcclient: a streaming test client for forkcast (and any MJPEG server).
 *
 *   fcclient --url http://127.0.0.1:PORT/stream [--clients N] [--seconds S]
 *            [--slow-clients M --slow-rate BYTES_PER_S [--slow-rcvbuf BYTES]
 *             [--slow-read BYTES --slow-every MS]]
 *            [--framing full|advance]
 *            [--header 'Name: value']... [--expect-frames MIN]
 *            [--tls [--cafile FILE | --insecure] [--servername NAME]]
 *   fcclient --snapshot http://127.0.0.1:PORT/snapshot --out FILE [--tls ...]
 *
 * Streaming mode opens N connections from one epoll loop (non-blocking,
 * level-triggered), parses each multipart/x-mixed-replace response
 * incrementally (tests/tools/lib/mpparse.c), checks that every part is a
 * whole JPEG, and measures per-client frame rates and frame latency
 * (arrival time, CLOCK_REALTIME, minus the part's X-Timestamp).  M of the N
 * clients read at most R bytes/s through a small receive buffer: they show
 * how old a slow viewer's pictures are.  --slow-rcvbuf 0 keeps the system's
 * default (autotuned) receive buffer instead; --slow-read B --slow-every T
 * makes each slow client read at most B bytes once every T ms (small pieces
 * or large ones, as real players do) instead of R bytes/s in 10 ms steps.
 * Their picture ages are reported over the whole stream and, as
 * slow_age_ms_max_settled, over the parts that arrive SETTLE_S seconds or
 * more after the stream's response header (what a reader gets once the
 * server has seen how it reads).  After S seconds it prints one JSON
 * line and exits 0 when every client got at least MIN frames and no part
 * was broken, 1 otherwise (2 on bad usage).
 *
 * Snapshot mode fetches one URL, writes the body to FILE and prints a JSON
 * line; it exits 0 for a 200 whose body is a whole JPEG.
 *
 * --tls (or an https:// URL) speaks TLS 1.2/1.3 with OpenSSL: SNI and the
 * verified name are --servername (default "localhost", the name the test
 * certificates carry), ALPN offers http/1.1 only, the peer is verified
 * against --cafile FILE (or the system's CAs), or not at all with
 * --insecure.  Streaming clients stay non-blocking in the same epoll loop
 * (the handshake waits for whichever readiness OpenSSL asks for); every
 * check and figure is the same as over plain TCP, on the decrypted bytes.
 * The JSON line then ends with a "tls" object: version, cipher and ALPN
 * protocol of the first handshake, and how many handshakes completed.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/mpparse.h"

#define MAX_CLIENTS 100000
#define SETTLE_S 3		/* slow_age_ms_max_settled: from then on */
#define MAX_HEADERS 16
#define MAX_SAMPLES (4u << 20)		/* latency samples kept per kind */
#define READ_BUF (256 * 1024)
#define SLOW_TICK_MS 10

enum cstate { C_CONNECTING, C_HANDSHAKE, C_SENDING, C_READING, C_DONE };

struct client {
	int fd;
	SSL *ssl;			/* --tls: this connection, else NULL */
	bool slow;
	enum cstate state;
	bool failed;
	bool closed;			/* the server ended the stream */
	bool ended;			/* ... with the close delimiter */
	bool checked;			/* response status/type verified */
	const char *why;		/* first error */
	size_t sent;			/* request bytes written */
	uint64_t frames, bad;
	int64_t t_response_ns;		/* response header complete (mono) */
	int64_t t_end_ns;		/* stream ended or the run did */
	double allowance;		/* slow: bytes it may read now */
	int64_t next_read_ns;		/* slow with --slow-read: next read */
	struct mp_parser mp;
	/* Lifecycle checks: gaps between parts and the picture size. */
	int64_t last_part_ns;		/* arrival of the previous part (mono) */
	int64_t max_gap_ns;		/* longest time between two parts */
	unsigned w_first, h_first;	/* size of the first part's JPEG */
	unsigned w_last, h_last;	/* size of the latest part's JPEG */
	unsigned size_changes;		/* parts whose size differs from the last */
	unsigned char head[1024];	/* start of the current part (SOF) */
	size_t head_len;
};

struct samples {
	float *v;			/* milliseconds */
	size_t n, cap;
};

static struct opts {
	char host[256];
	char port[16];
	char path[2048];
	int clients;
	int seconds;
	int slow_clients;
	double slow_rate;
	int slow_rcvbuf;		/* 0: the system's default */
	int slow_read;			/* bytes per read, 0: rate steps */
	int slow_every_ms;		/* one read that often */
	const char *framing;
	const char *headers[MAX_HEADERS];
	int nheaders;
	uint64_t expect_frames;
	const char *snapshot;
	const char *out;
	bool tls;			/* --tls or an https:// URL */
	bool insecure;			/* --insecure: no peer verification */
	const char *cafile;		/* --cafile: trust anchors */
	const char *servername;		/* SNI and the name verified */
} o = { .clients = 1, .seconds = 5, .expect_frames = 1,
    .servername = "localhost",
    /* Small: bytes queued in our own receive buffer would count as
     * server-side staleness in slow_age_ms. */
    .slow_rcvbuf = 4096 };

static struct samples lat_fast, lat_slow, lat_settled;
static char request[8192];
static size_t request_len;
static unsigned char rbuf[READ_BUF];
/* --tls: one context for every connection, and what the first completed
 * handshake agreed (for the report). */
static SSL_CTX *tls_ctx;
static char tls_version[32], tls_cipher[64], tls_alpn[32];
static int tls_handshakes;

static int64_t
now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static _Noreturn void
usage(void)
{
	fprintf(stderr,
	    "usage: fcclient --url http://HOST:PORT/PATH [--clients N] "
	    "[--seconds S]\n"
	    "         [--slow-clients M --slow-rate BYTES_PER_S "
	    "[--slow-rcvbuf BYTES] [--slow-read BYTES --slow-every MS]]\n"
	    "         [--framing full|advance]\n"
	    "         [--header 'Name: value']... [--expect-frames MIN]\n"
	    "         [--tls [--cafile FILE | --insecure] "
	    "[--servername NAME]]\n"
	    "       fcclient --snapshot http://HOST:PORT/PATH --out FILE "
	    "[--tls ...]\n");
	exit(2);
}

static long
num_arg(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "fcclient: bad number: %s\n", s);
		exit(2);
	}
	return v;
}

/* http[s]://HOST[:PORT][/PATH], HOST an address or name, [v6] allowed;
 * https:// means --tls. */
static void
parse_url(const char *url)
{
	const char *p, *h, *hend, *path;
	size_t n;

	if (strncmp(url, "http://", 7) == 0)
		h = url + 7;
	else if (strncmp(url, "https://", 8) == 0) {
		h = url + 8;
		o.tls = true;
	} else
		goto bad;
	path = strchr(h, '/');
	if (path == NULL)
		path = h + strlen(h);
	if (*h == '[') {
		if ((hend = memchr(h, ']', (size_t)(path - h))) == NULL)
			goto bad;
		h++;
		p = hend + 1;
	} else {
		hend = memchr(h, ':', (size_t)(path - h));
		if (hend == NULL)
			hend = path;
		p = hend;
	}
	n = (size_t)(hend - h);
	if (n == 0 || n >= sizeof(o.host))
		goto bad;
	memcpy(o.host, h, n);
	o.host[n] = '\0';
	if (*p == ':') {
		n = (size_t)(path - p - 1);
		if (n == 0 || n >= sizeof(o.port))
			goto bad;
		memcpy(o.port, p + 1, n);
		o.port[n] = '\0';
	} else if (p == path) {
		strcpy(o.port, o.tls ? "443" : "80");
	} else
		goto bad;
	snprintf(o.path, sizeof(o.path), "%s", *path ? path : "/");
	return;
bad:
	fprintf(stderr, "fcclient: bad URL (want http[s]://HOST:PORT/PATH): "
	    "%s\n", url);
	exit(2);
}

static void
parse_args(int argc, char **argv)
{
	const char *url = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		/* Flags first: they take no value. */
		if (strcmp(a, "--tls") == 0) {
			o.tls = true;
			continue;
		}
		if (strcmp(a, "--insecure") == 0) {
			o.insecure = true;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		if (strcmp(a, "--url") == 0)
			url = argv[++i];
		else if (strcmp(a, "--clients") == 0)
			o.clients = (int)num_arg(argv[++i], 1, MAX_CLIENTS);
		else if (strcmp(a, "--seconds") == 0)
			o.seconds = (int)num_arg(argv[++i], 1, 3600);
		else if (strcmp(a, "--slow-clients") == 0)
			o.slow_clients = (int)num_arg(argv[++i], 0, MAX_CLIENTS);
		else if (strcmp(a, "--slow-rate") == 0)
			o.slow_rate = (double)num_arg(argv[++i], 1,
			    1000000000);
		else if (strcmp(a, "--slow-rcvbuf") == 0)
			o.slow_rcvbuf = (int)num_arg(argv[++i], 0, 1 << 24);
		else if (strcmp(a, "--slow-read") == 0)
			o.slow_read = (int)num_arg(argv[++i], 1, 1 << 24);
		else if (strcmp(a, "--slow-every") == 0)
			o.slow_every_ms = (int)num_arg(argv[++i], 1, 60000);
		else if (strcmp(a, "--framing") == 0) {
			o.framing = argv[++i];
			if (strcmp(o.framing, "full") != 0 &&
			    strcmp(o.framing, "advance") != 0)
				usage();
		} else if (strcmp(a, "--header") == 0) {
			const char *hv = argv[++i];

			if (o.nheaders >= MAX_HEADERS ||
			    strpbrk(hv, "\r\n") != NULL ||
			    strchr(hv, ':') == NULL || *hv == ':')
				usage();
			o.headers[o.nheaders++] = hv;
		} else if (strcmp(a, "--expect-frames") == 0)
			o.expect_frames = (uint64_t)num_arg(argv[++i], 0,
			    1000000000);
		else if (strcmp(a, "--snapshot") == 0)
			o.snapshot = url = argv[++i];
		else if (strcmp(a, "--out") == 0)
			o.out = argv[++i];
		else if (strcmp(a, "--cafile") == 0)
			o.cafile = argv[++i];
		else if (strcmp(a, "--servername") == 0)
			o.servername = argv[++i];
		else
			usage();
	}
	if (url == NULL || (o.snapshot != NULL && o.out == NULL))
		usage();
	if (o.slow_read > 0 && o.slow_every_ms > 0 && o.slow_rate <= 0)
		o.slow_rate = (double)o.slow_read * 1000 / o.slow_every_ms;
	if (o.slow_clients > o.clients ||
	    (o.slow_clients > 0 && o.slow_rate <= 0) ||
	    ((o.slow_read > 0) != (o.slow_every_ms > 0))) {
		fprintf(stderr, "fcclient: --slow-clients needs --slow-rate "
		    "(or --slow-read with --slow-every) and at most --clients\n");
		exit(2);
	}
	parse_url(url);
	if ((o.cafile != NULL || o.insecure) && !o.tls) {
		fprintf(stderr, "fcclient: --cafile and --insecure need --tls "
		    "(or an https:// URL)\n");
		exit(2);
	}
	if (o.cafile != NULL && o.insecure) {
		fprintf(stderr, "fcclient: --cafile or --insecure, not both\n");
		exit(2);
	}
}

static void
build_request(void)
{
	char host[300];
	int n, i;

	/* A v6 literal goes back into brackets in the Host header. */
	snprintf(host, sizeof(host), strchr(o.host, ':') ? "[%s]:%s" : "%s:%s",
	    o.host, o.port);
	n = snprintf(request, sizeof(request), "GET %s%s%s%s HTTP/1.1\r\n"
	    "Host: %s\r\nUser-Agent: fcclient/1\r\nAccept: */*\r\n", o.path,
	    o.framing ? (strchr(o.path, '?') ? "&" : "?") : "",
	    o.framing ? "framing=" : "", o.framing ? o.framing : "", host);
	for (i = 0; i < o.nheaders && n > 0 && (size_t)n < sizeof(request);
	    i++)
		n += snprintf(request + n, sizeof(request) - (size_t)n,
		    "%s\r\n", o.headers[i]);
	if (n > 0 && (size_t)n < sizeof(request))
		n += snprintf(request + n, sizeof(request) - (size_t)n, "\r\n");
	if (n <= 0 || (size_t)n >= sizeof(request)) {
		fprintf(stderr, "fcclient: request too long\n");
		exit(2);
	}
	request_len = (size_t)n;
}

static struct addrinfo *
resolve(void)
{
	struct addrinfo hints, *ai;
	int err;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((err = getaddrinfo(o.host, o.port, &hints, &ai)) != 0) {
		fprintf(stderr, "fcclient: %s: %s\n", o.host, gai_strerror(err));
		exit(2);
	}
	return ai;
}

static void
raise_nofile(int need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)need) {
		fprintf(stderr, "fcclient: RLIMIT_NOFILE %llu is below the %d "
		    "descriptors needed\n", (unsigned long long)rl.rlim_cur,
		    need);
		exit(2);
	}
}

/* --- TLS (--tls) --- */

/* The client context: TLS 1.2 or 1.3, ALPN http/1.1, the peer verified
 * unless --insecure.  Exits 2 when it cannot be built. */
static void
tls_setup(void)
{
	static const unsigned char alpn[] = "\x08http/1.1";

	tls_ctx = SSL_CTX_new(TLS_client_method());
	if (tls_ctx == NULL ||
	    SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION) != 1 ||
	    /* 0 is success here. */
	    SSL_CTX_set_alpn_protos(tls_ctx, alpn, sizeof(alpn) - 1) != 0)
		goto fail;
	/* A server that closes without close_notify ends the stream like a
	 * TCP close does (mp_eof decides whether the response was whole). */
	SSL_CTX_set_options(tls_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
	if (o.insecure) {
		SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
		return;
	}
	SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_PEER, NULL);
	if (o.cafile != NULL ?
	    SSL_CTX_load_verify_locations(tls_ctx, o.cafile, NULL) != 1 :
	    SSL_CTX_set_default_verify_paths(tls_ctx) != 1)
		goto fail;
	return;
fail:
	fprintf(stderr, "fcclient: cannot set up TLS%s%s\n",
	    o.cafile ? " with " : "", o.cafile ? o.cafile : "");
	ERR_print_errors_fp(stderr);
	exit(2);
}

/* A TLS connection over the connected socket fd, SNI and the verified
 * name set; NULL on failure. */
static SSL *
tls_new(int fd)
{
	SSL *ssl = SSL_new(tls_ctx);

	if (ssl == NULL)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1 ||
	    SSL_set_tlsext_host_name(ssl, o.servername) != 1 ||
	    (!o.insecure && SSL_set1_host(ssl, o.servername) != 1)) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_connect_state(ssl);
	return ssl;
}

/* After a TLS call that returned ret <= 0: EPOLLIN or EPOLLOUT for what
 * it waits for, 0 when the peer closed, -1 on an error. */
static int
tls_wait(SSL *ssl, int ret)
{
	switch (SSL_get_error(ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		return EPOLLIN;
	case SSL_ERROR_WANT_WRITE:
		return EPOLLOUT;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		return -1;
	}
}

/* Why a handshake failed (a static string, reasons are counted by
 * address); the first failure's OpenSSL errors go to stderr. */
static const char *
tls_why(SSL *ssl)
{
	static bool told;
	long v = SSL_get_verify_result(ssl);

	if (!told) {
		told = true;
		if (v != X509_V_OK)
			fprintf(stderr, "fcclient: TLS: %s\n",
			    X509_verify_cert_error_string(v));
		ERR_print_errors_fp(stderr);
	}
	ERR_clear_error();
	return v != X509_V_OK ? "TLS certificate not verified" :
	    "TLS handshake failed";
}

/* What the first completed handshake agreed, for the report. */
static void
tls_note(SSL *ssl)
{
	const unsigned char *p;
	unsigned int n;

	if (tls_handshakes++ > 0)
		return;
	snprintf(tls_version, sizeof(tls_version), "%s", SSL_get_version(ssl));
	snprintf(tls_cipher, sizeof(tls_cipher), "%s",
	    SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)));
	SSL_get0_alpn_selected(ssl, &p, &n);
	if (n >= sizeof(tls_alpn))
		n = sizeof(tls_alpn) - 1;
	memcpy(tls_alpn, p, n);
	tls_alpn[n] = '\0';
}

static void
sample_add(struct samples *s, double ms)
{
	float *v;
	size_t cap;

	if (s->n == s->cap) {
		if (s->cap >= MAX_SAMPLES)
			return;
		cap = s->cap ? s->cap * 2 : 4096;
		if ((v = realloc(s->v, cap * sizeof(*v))) == NULL)
			return;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = (float)ms;
}

static int
cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double
pct_f(const float *v, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return 0;
	k = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	return v[(k > n ? n : k) - 1];
}

static double
pct_d(const double *v, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return 0;
	k = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	return v[(k > n ? n : k) - 1];
}

static void
client_fail(struct client *c, const char *why)
{
	if (!c->failed) {
		c->failed = true;
		c->why = why;
	}
}

static void
client_end(struct client *c, int ep)
{
	if (c->fd != -1) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		/* No close_notify: the run is over or the stream is. */
		SSL_free(c->ssl);
		c->ssl = NULL;
		close(c->fd);
		c->fd = -1;
	}
	if (c->state != C_DONE) {
		c->state = C_DONE;
		c->t_end_ns = now_ns(CLOCK_MONOTONIC);
	}
}

/* Collects the start of each part, where the JPEG frame header is. */
static int
on_part_data(void *arg, const void *data, size_t len)
{
	struct client *c = arg;
	size_t room = sizeof(c->head) - c->head_len;

	if (len > room)
		len = room;
	memcpy(c->head + c->head_len, data, len);
	c->head_len += len;
	return 0;
}

/* Width and height from the first SOFn marker in p[0..n); 0 when not
 * found in the bytes we kept. */
static void
jpeg_size(const unsigned char *p, size_t n, unsigned *w, unsigned *h)
{
	size_t i = 2;

	*w = *h = 0;
	while (i + 9 <= n && p[i] == 0xff) {
		unsigned m = p[i + 1], seglen = (unsigned)p[i + 2] << 8 | p[i + 3];

		if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
			*h = (unsigned)p[i + 5] << 8 | p[i + 6];
			*w = (unsigned)p[i + 7] << 8 | p[i + 8];
			return;
		}
		i += 2 + seglen;
	}
}

static int
on_part(void *arg, const struct mp_part *part)
{
	struct client *c = arg;
	int64_t now_mono = now_ns(CLOCK_MONOTONIC);
	unsigned w, h;

	if (c->last_part_ns != 0 && now_mono - c->last_part_ns > c->max_gap_ns)
		c->max_gap_ns = now_mono - c->last_part_ns;
	c->last_part_ns = now_mono;
	jpeg_size(c->head, c->head_len, &w, &h);
	c->head_len = 0;
	if (c->frames == 0) {
		c->w_first = w;
		c->h_first = h;
	} else if (w != c->w_last || h != c->h_last) {
		c->size_changes++;
	}
	c->w_last = w;
	c->h_last = h;
	c->frames++;
	if (!part->jpeg_ok)
		c->bad++;
	if (part->has_ts) {
		double ms = (double)(now_ns(CLOCK_REALTIME) / 1000 -
		    part->ts_us) / 1000.0;

		sample_add(c->slow ? &lat_slow : &lat_fast, ms);
		if (c->slow && now_mono - c->t_response_ns >=
		    (int64_t)SETTLE_S * 1000000000)
			sample_add(&lat_settled, ms);
	}
	return 0;
}

/* Feeds received bytes; false when the client is finished. */
static bool
client_data(struct client *c, const unsigned char *p, size_t n)
{
	enum mp_result r = mp_feed(&c->mp, p, n);

	if (c->mp.headers_done && !c->checked) {
		c->checked = true;
		c->t_response_ns = now_ns(CLOCK_MONOTONIC);
		if (c->mp.status != 200) {
			client_fail(c, "HTTP status not 200");
			return false;
		}
		if (!c->mp.multipart) {
			client_fail(c, "response is not multipart");
			return false;
		}
	}
	if (r == MP_ERROR) {
		client_fail(c, c->mp.error);
		return false;
	}
	if (r == MP_DONE) {
		c->closed = true;
		c->ended = c->mp.multipart;
		return false;
	}
	return true;
}

/* The server closed the connection: always false (finished). */
static bool
client_eof(struct client *c)
{
	if (mp_eof(&c->mp) == MP_ERROR)
		client_fail(c, c->mp.error);
	else if (!c->checked)
		client_fail(c, "closed before the response");
	else
		c->closed = true;
	return false;
}

/*
 * TLS: decrypts records until max bytes were read or no whole record is
 * left in the socket; false when the client is finished.  A fast client
 * reads until then (max SIZE_MAX): a record OpenSSL holds half-read
 * would not wake epoll.  A slow one (read by the tick) stops at max.
 * OpenSSL may want to write while reading (a TLS 1.3 key update): the
 * next readiness or tick retries, the server sends all the time.
 */
static bool
tls_read(struct client *c, size_t max)
{
	size_t got = 0, n, want;
	int ret, w;

	while (got < max) {
		want = max - got < sizeof(rbuf) ? max - got : sizeof(rbuf);
		ret = SSL_read_ex(c->ssl, rbuf, want, &n);
		if (ret == 1) {
			got += n;
			if (c->slow)
				c->allowance -= (double)n;
			if (!client_data(c, rbuf, n))
				return false;
			continue;
		}
		if ((w = tls_wait(c->ssl, ret)) == 0)
			return client_eof(c);
		if (w == -1) {
			ERR_clear_error();
			client_fail(c, "TLS read failed");
			return false;
		}
		break;
	}
	return true;
}

/* Reads once (at most max bytes); false when the client is finished. */
static bool
client_read(struct client *c, size_t max)
{
	ssize_t n;

	if (c->ssl != NULL)
		return tls_read(c, c->slow ? max : SIZE_MAX);
	if (max > sizeof(rbuf))
		max = sizeof(rbuf);
	n = recv(c->fd, rbuf, max, 0);
	if (n > 0) {
		if (c->slow)
			c->allowance -= (double)n;
		return client_data(c, rbuf, (size_t)n);
	}
	if (n == 0)
		return client_eof(c);
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return true;
	client_fail(c, "recv failed");
	return false;
}

/* Waits for events (EPOLLIN or EPOLLOUT) on c's socket. */
static bool
client_watch(struct client *c, int ep, uint32_t events)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = c;
	return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == 0;
}

static bool client_send(struct client *c, int ep);

/* --tls: one handshake step; on completion the request goes out. */
static bool
client_handshake(struct client *c, int ep)
{
	int ret = SSL_do_handshake(c->ssl), w;

	if (ret == 1) {
		tls_note(c->ssl);
		c->state = C_SENDING;
		return client_send(c, ep);
	}
	if ((w = tls_wait(c->ssl, ret)) <= 0) {
		client_fail(c, tls_why(c->ssl));
		return false;
	}
	return client_watch(c, ep, (uint32_t)w);
}

/* Connect finished or socket writable: send (the rest of) the request. */
static bool
client_send(struct client *c, int ep)
{
	struct epoll_event ev;
	socklen_t len = sizeof(int);
	ssize_t n;
	int err = 0;

	if (c->state == C_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
		    err != 0) {
			client_fail(c, "connect failed");
			return false;
		}
		if (tls_ctx != NULL) {
			if ((c->ssl = tls_new(c->fd)) == NULL) {
				client_fail(c, "SSL_new failed");
				return false;
			}
			c->state = C_HANDSHAKE;
			return client_handshake(c, ep);
		}
		c->state = C_SENDING;
	}
	if (c->ssl != NULL) {
		size_t w;
		int ret = SSL_write_ex(c->ssl, request + c->sent,
		    request_len - c->sent, &w), want;

		if (ret != 1) {
			if ((want = tls_wait(c->ssl, ret)) > 0)
				return client_watch(c, ep, (uint32_t)want);
			ERR_clear_error();
			client_fail(c, "send failed");
			return false;
		}
		n = (ssize_t)w;
	} else
		n = send(c->fd, request + c->sent, request_len - c->sent,
		    MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return true;
		client_fail(c, "send failed");
		return false;
	}
	c->sent += (size_t)n;
	if (c->sent < request_len)
		return true;
	c->state = C_READING;
	/* Slow clients are read by the pacing tick, not by readiness (and
	 * out of epoll altogether: EPOLLHUP/EPOLLERR cannot be masked and
	 * would spin the loop until the tick notices). */
	if (c->slow)
		return epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL) == 0;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == 0;
}

static bool
client_connect(struct client *c, int ep, const struct addrinfo *ai)
{
	struct epoll_event ev;
	int one = 1, rcv = o.slow_rcvbuf;

	c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (c->fd == -1) {
		client_fail(c, "socket failed");
		return false;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Before connect, so the window is small from the handshake on. */
	if (c->slow && rcv > 0)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
	    errno != EINPROGRESS) {
		client_fail(c, "connect failed");
		return false;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLOUT;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		client_fail(c, "epoll_ctl failed");
		return false;
	}
	return true;
}

static void
json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void
print_ms(const char *key, const struct samples *s, double p)
{
	if (s->n == 0)
		printf(",\"%s\":null", key);
	else
		printf(",\"%s\":%.2f", key, pct_f(s->v, s->n, p));
}

static int
report(struct client *cl, int n, double elapsed_s)
{
	double *fps_fast, *fps_slow;
	size_t nf = 0, ns = 0;
	uint64_t frames = 0, bad = 0, bytes = 0;
	int ok = 0, failed = 0, closed = 0, ended = 0, i, k, nreasons = 0;
	int64_t gap_open = 0, gap_all = 0;	/* longest gap, open / all streams */
	unsigned size_changed = 0;
	const char *first_error = NULL, *reasons[16];
	int reason_count[16];

	fps_fast = calloc((size_t)n, sizeof(double));
	fps_slow = calloc((size_t)n, sizeof(double));
	if (fps_fast == NULL || fps_slow == NULL) {
		fprintf(stderr, "fcclient: out of memory\n");
		exit(1);
	}
	for (i = 0; i < n; i++) {
		struct client *c = &cl[i];
		double win = 0, fps = 0;

		if (c->t_response_ns > 0 && c->t_end_ns > c->t_response_ns)
			win = (double)(c->t_end_ns - c->t_response_ns) / 1e9;
		if (win > 0.1)
			fps = (double)c->frames / win;
		if (c->slow)
			fps_slow[ns++] = fps;
		else
			fps_fast[nf++] = fps;
		frames += c->frames;
		bad += c->bad;
		bytes += c->mp.bytes;
		closed += c->closed;
		ended += c->ended;
		if (c->max_gap_ns > gap_all)
			gap_all = c->max_gap_ns;
		if (!c->closed && !c->failed && c->max_gap_ns > gap_open)
			gap_open = c->max_gap_ns;
		if (c->size_changes > 0)
			size_changed++;
		if (!c->failed && c->bad > 0)
			client_fail(c, "part is not a whole JPEG");
		if (!c->failed && c->frames < o.expect_frames)
			client_fail(c, "too few frames");
		if (c->failed) {
			failed++;
			if (first_error == NULL)
				first_error = c->why;
			/* Reasons are static strings: count them by address. */
			for (k = 0; k < nreasons && reasons[k] != c->why; k++)
				;
			if (k == nreasons && nreasons < 16) {
				reasons[nreasons] = c->why;
				reason_count[nreasons++] = 0;
			}
			if (k < nreasons)
				reason_count[k]++;
		} else
			ok++;
	}
	/* qsort() with a NULL array is undefined even for 0 elements. */
	if (nf > 0)
		qsort(fps_fast, nf, sizeof(double), cmp_double);
	if (ns > 0)
		qsort(fps_slow, ns, sizeof(double), cmp_double);
	if (lat_fast.n > 0)
		qsort(lat_fast.v, lat_fast.n, sizeof(float), cmp_float);
	if (lat_slow.n > 0)
		qsort(lat_slow.v, lat_slow.n, sizeof(float), cmp_float);
	if (lat_settled.n > 0)
		qsort(lat_settled.v, lat_settled.n, sizeof(float), cmp_float);

	printf("{\"clients\":%d,\"ok\":%d,\"failed\":%d,\"closed\":%d,"
	    "\"ended\":%d,\"seconds\":%.2f,\"frames_total\":%llu,\"bad_frames\":%llu,"
	    "\"bytes_total\":%llu,\"fps_min\":%.2f,\"fps_p50\":%.2f,"
	    "\"fps_max\":%.2f,\"mbytes_per_s\":%.3f", n, ok, failed, closed, ended,
	    elapsed_s, (unsigned long long)frames, (unsigned long long)bad,
	    (unsigned long long)bytes, nf ? fps_fast[0] : 0.0,
	    pct_d(fps_fast, nf, 50), nf ? fps_fast[nf - 1] : 0.0,
	    elapsed_s > 0 ? (double)bytes / elapsed_s / 1e6 : 0.0);
	print_ms("latency_ms_p50", &lat_fast, 50);
	print_ms("latency_ms_p99", &lat_fast, 99);
	print_ms("latency_ms_max", &lat_fast, 100);
	printf(",\"latency_samples\":%zu,\"slow_clients\":%d,"
	    "\"slow_fps_p50\":%.2f", lat_fast.n, o.slow_clients,
	    pct_d(fps_slow, ns, 50));
	print_ms("slow_age_ms_p50", &lat_slow, 50);
	print_ms("slow_age_ms_max", &lat_slow, 100);
	print_ms("slow_age_ms_max_settled", &lat_settled, 100);
	printf(",\"gap_ms_max_open\":%.1f,\"gap_ms_max\":%.1f",
	    (double)gap_open / 1e6, (double)gap_all / 1e6);
	printf(",\"size_first\":\"%ux%u\",\"size_last\":\"%ux%u\","
	    "\"clients_size_changed\":%u", n > 0 ? cl[0].w_first : 0,
	    n > 0 ? cl[0].h_first : 0, n > 0 ? cl[0].w_last : 0,
	    n > 0 ? cl[0].h_last : 0, size_changed);
	printf(",\"first_error\":");
	if (first_error != NULL)
		json_string(first_error);
	else
		printf("null");
	printf(",\"errors\":{");
	for (k = 0; k < nreasons; k++) {
		printf("%s", k ? "," : "");
		json_string(reasons[k]);
		printf(":%d", reason_count[k]);
	}
	printf("}");
	if (tls_ctx != NULL) {
		printf(",\"tls\":{\"version\":");
		json_string(tls_version);
		printf(",\"cipher\":");
		json_string(tls_cipher);
		printf(",\"alpn\":");
		json_string(tls_alpn);
		printf(",\"handshakes\":%d}", tls_handshakes);
	}
	printf("}\n");
	fflush(stdout);
	free(fps_fast);
	free(fps_slow);
	return failed == 0 && bad == 0 ? 0 : 1;
}

/* Gives each slow client its byte allowance and lets it read. */
static int
slow_tick(struct client *cl, int n, int ep, double dt)
{
	int i, active = 0;

	for (i = 0; i < n; i++) {
		struct client *c = &cl[i];
		double burst = o.slow_rate / 5;	/* 200 ms worth */

		if (!c->slow || c->state != C_READING)
			continue;
		if (o.slow_read > 0) {
			int64_t now = now_ns(CLOCK_MONOTONIC);

			active++;
			if (now < c->next_read_ns)
				continue;
			c->next_read_ns = now + (int64_t)o.slow_every_ms * 1000000;
			if (!client_read(c, (size_t)o.slow_read))
				client_end(c, ep);
			continue;
		}
		c->allowance += o.slow_rate * dt;
		if (c->allowance > (burst > 1 ? burst : 1))
			c->allowance = burst > 1 ? burst : 1;
		while (c->allowance >= 1 && c->state == C_READING) {
			double before = c->allowance;

			if (!client_read(c, (size_t)c->allowance)) {
				client_end(c, ep);
				break;
			}
			if (c->allowance == before)
				break;		/* nothing to read now */
		}
		active++;
	}
	return active;
}

static int
run_stream(void)
{
	struct epoll_event evs[512];
	struct addrinfo *ai = resolve();
	struct client *cl;
	int64_t start, deadline, now, last_tick;
	int ep, i, k, nev, active, timeout;

	build_request();
	if (o.tls)
		tls_setup();
	raise_nofile(o.clients + 64);
	if ((cl = calloc((size_t)o.clients, sizeof(*cl))) == NULL) {
		fprintf(stderr, "fcclient: out of memory\n");
		return 1;
	}
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		perror("fcclient: epoll_create1");
		return 1;
	}
	start = now_ns(CLOCK_MONOTONIC);
	deadline = start + (int64_t)o.seconds * 1000000000;
	last_tick = start;
	for (i = 0; i < o.clients; i++) {
		struct client *c = &cl[i];

		c->fd = -1;
		/* Spread slow clients over the range (every k-th). */
		c->slow = o.slow_clients > 0 &&
		    (long)i * o.slow_clients / o.clients !=
		    (long)(i + 1) * o.slow_clients / o.clients;
		mp_init(&c->mp);
		c->mp.on_part = on_part;
		c->mp.on_part_data = on_part_data;
		c->mp.arg = c;
		if (!client_connect(c, ep, ai))
			client_end(c, ep);
	}
	freeaddrinfo(ai);

	for (;;) {
		now = now_ns(CLOCK_MONOTONIC);
		if (now >= deadline)
			break;
		timeout = (int)((deadline - now + 999999) / 1000000);
		if (o.slow_clients > 0 && timeout > SLOW_TICK_MS)
			timeout = SLOW_TICK_MS;
		nev = epoll_wait(ep, evs, 512, timeout);
		if (nev < 0 && errno != EINTR) {
			perror("fcclient: epoll_wait");
			break;
		}
		for (k = 0; k < nev; k++) {
			struct client *c = evs[k].data.ptr;
			bool alive = true;

			if (c->state == C_DONE)
				continue;
			if (c->state == C_CONNECTING ||
			    c->state == C_SENDING)
				alive = client_send(c, ep);
			else if (c->state == C_HANDSHAKE)
				alive = client_handshake(c, ep);
			else if (!c->slow)
				alive = client_read(c, sizeof(rbuf));
			if (!alive)
				client_end(c, ep);
		}
		if (o.slow_clients > 0) {
			now = now_ns(CLOCK_MONOTONIC);
			slow_tick(cl, o.clients, ep,
			    (double)(now - last_tick) / 1e9);
			last_tick = now;
		}
		for (active = 0, i = 0; i < o.clients; i++)
			active += cl[i].state != C_DONE;
		if (active == 0)
			break;
	}
	now = now_ns(CLOCK_MONOTONIC);
	for (i = 0; i < o.clients; i++) {
		if (cl[i].state == C_CONNECTING)
			client_fail(&cl[i], "not connected before the deadline");
		else if (cl[i].state == C_HANDSHAKE)
			client_fail(&cl[i], "TLS handshake not done before the "
			    "deadline");
		else if (cl[i].state != C_DONE && !cl[i].checked)
			client_fail(&cl[i], "no response before the deadline");
		client_end(&cl[i], ep);
	}
	close(ep);
	k = report(cl, o.clients, (double)(now - start) / 1e9);
	free(cl);
	free(lat_fast.v);
	free(lat_slow.v);
	free(lat_settled.v);
	SSL_CTX_free(tls_ctx);
	return k;
}

/* --- snapshot mode --- */

struct snap {
	FILE *f;
	uint64_t len;
	unsigned char first[2], last[2];
};

static int
snap_body(void *arg, const void *data, size_t len)
{
	struct snap *s = arg;
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len && s->len + i < 2; i++)
		s->first[s->len + i] = p[i];
	for (i = len > 2 ? len - 2 : 0; i < len; i++) {
		s->last[0] = s->last[1];
		s->last[1] = p[i];
	}
	s->len += len;
	return fwrite(data, 1, len, s->f) == len ? 0 : -1;
}

/* Blocking send and receive for the snapshot, over TLS when ssl is
 * not NULL: like send(2)/recv(2), 0 on a clean close. */
static ssize_t
snap_send(int fd, SSL *ssl, const void *p, size_t len)
{
	size_t n;

	if (ssl == NULL)
		return send(fd, p, len, MSG_NOSIGNAL);
	return SSL_write_ex(ssl, p, len, &n) == 1 ? (ssize_t)n : -1;
}

static ssize_t
snap_recv(int fd, SSL *ssl, void *p, size_t len)
{
	size_t n;
	int ret;

	if (ssl == NULL)
		return recv(fd, p, len, 0);
	if ((ret = SSL_read_ex(ssl, p, len, &n)) == 1)
		return (ssize_t)n;
	return tls_wait(ssl, ret) == 0 ? 0 : -1;
}

static int
run_snapshot(void)
{
	struct addrinfo *ai = resolve();
	struct timeval tv = { 10, 0 };
	struct mp_parser mp;
	struct snap s;
	enum mp_result r = MP_OK;
	ssize_t n;
	size_t sent = 0;
	bool jpeg;
	int fd;
	SSL *ssl = NULL;

	build_request();
	memset(&s, 0, sizeof(s));
	if ((s.f = fopen(o.out, "wb")) == NULL) {
		perror(o.out);
		return 1;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
	    ai->ai_protocol);
	if (fd == -1 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		perror("fcclient: connect");
		return 1;
	}
	freeaddrinfo(ai);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (o.tls) {
		tls_setup();
		if ((ssl = tls_new(fd)) == NULL || SSL_connect(ssl) != 1) {
			fprintf(stderr, "fcclient: %s\n", ssl != NULL ?
			    tls_why(ssl) : "SSL_new failed");
			return 1;
		}
	}
	while (sent < request_len) {
		n = snap_send(fd, ssl, request + sent, request_len - sent);
		if (n <= 0) {
			perror("fcclient: send");
			return 1;
		}
		sent += (size_t)n;
	}
	mp_init(&mp);
	mp.on_body = snap_body;
	mp.arg = &s;
	while (r == MP_OK) {
		n = snap_recv(fd, ssl, rbuf, sizeof(rbuf));
		if (n < 0) {
			perror("fcclient: recv");
			break;
		}
		r = n == 0 ? mp_eof(&mp) : mp_feed(&mp, rbuf, (size_t)n);
		if (n == 0 && r == MP_OK)
			r = MP_ERROR;
		if (mp.multipart) {
			r = MP_ERROR;	/* a stream, not a snapshot */
			break;
		}
	}
	SSL_free(ssl);
	SSL_CTX_free(tls_ctx);
	close(fd);
	if (fclose(s.f) != 0)
		r = MP_ERROR;
	jpeg = s.len >= 4 && s.first[0] == 0xff && s.first[1] == 0xd8 &&
	    s.last[0] == 0xff && s.last[1] == 0xd9;
	printf("{\"status\":%d,\"bytes\":%llu,\"jpeg_ok\":%s,\"complete\":%s}\n",
	    mp.status, (unsigned long long)s.len, jpeg ? "true" : "false",
	    r == MP_DONE ? "true" : "false");
	return r == MP_DONE && mp.status == 200 && jpeg ? 0 : 1;
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	parse_args(argc, argv);
	return o.snapshot != NULL ? run_snapshot() : run_stream();
}
