/*
 * libFuzzer target: the HTTP request adapter (server/http.c) and the router
 * (server/router.c), as a worker uses them on bytes from a client.
 *
 * Input: when the first byte is below 0x10 it is a count n of split bytes
 * that follow; each gives the length of the next piece fed to the parser
 * (the rest of the input is the last piece).  Otherwise the whole input is
 * fed at once.  So the seed corpus can hold plain requests, and the fuzzer
 * still explores every way a request can be cut by the network.
 *
 * Each piece is copied into a buffer of exactly its size, so a read past the
 * bytes handed over is an ASan report (the picohttpparser test trick).  The
 * same bytes are then fed again one byte per call: the requests parsed and
 * the way the connection ends must not depend on the split.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/http.h"
#include "../../server/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PIECES 16
#define MAX_REQUESTS 64

/* What one connection produced, for comparing two splits. */
struct outcome {
	int nreq;
	uint64_t hash;		/* over every parsed request's fields */
	bool error;
	int status;		/* hp->error when error */
	bool closed;		/* a request without keep-alive ended it */
};

static uint64_t
mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

static void
check_request(const struct fc_http_request *req)
{
	struct fc_route_match m;
	enum fc_route r;
	enum fc_framing f;
	char *url;

	if (req->url_len == 0 || req->url_len > FC_HTTP_MAX_URL ||
	    req->url[req->url_len] != '\0')
		abort();
	if (memchr(req->user_agent, '\0', sizeof(req->user_agent)) == NULL ||
	    memchr(req->authorization, '\0', sizeof(req->authorization)) == NULL ||
	    memchr(req->host, '\0', sizeof(req->host)) == NULL)
		abort();
	if (req->http_major != 1)
		abort();
	/* Strict heads: HTTP/1.1 has exactly one Host, never an empty one;
	 * without one, the field stays "". */
	if (req->has_host ? req->host[0] == '\0' :
	    (req->http_minor >= 1 || req->host[0] != '\0'))
		abort();

	/* The router gets exactly url_len bytes, not NUL-ended. */
	url = malloc(req->url_len);
	if (url == NULL)
		return;
	memcpy(url, req->url, req->url_len);
	r = fc_router_match(url, req->url_len, &m);
	free(url);
	if (r != m.route || r < FC_ROUTE_NOT_FOUND || r > FC_ROUTE_HEALTH)
		abort();
	if (m.fps < 0 || m.fps > FC_ROUTER_MAX_FPS ||
	    m.maxtime < 0 || m.maxtime > FC_ROUTER_MAX_MAXTIME)
		abort();
	if (m.framing != FC_FRAMING_AUTO && m.framing != FC_FRAMING_FULL &&
	    m.framing != FC_FRAMING_ADVANCE)
		abort();
	if (fc_router_name(r) == NULL)
		abort();
	f = fc_router_framing_for(req->user_agent);
	if (f != FC_FRAMING_FULL && f != FC_FRAMING_ADVANCE)
		abort();
}

/*
 * Feeds one piece the way server/client.c does: after a whole request the
 * rest of the piece is fed again once the request is answered.  Returns
 * false when the connection is over (error or no keep-alive).
 */
static bool
feed_piece(struct fc_http_parser *hp, const uint8_t *piece, size_t len,
    struct outcome *out)
{
	enum fc_http_result r;
	const char *p;
	size_t used;
	char *copy;
	bool go_on = true;

	copy = malloc(len > 0 ? len : 1);
	if (copy == NULL)
		return false;
	if (len > 0)
		memcpy(copy, piece, len);
	p = copy;
	for (;;) {
		r = fc_http_feed(hp, p, len, &used);
		if (used > len)
			abort();
		p += used;
		len -= used;
		if (r == FC_HTTP_MORE) {
			/* The contract: every byte used unless the head
			 * limit was reached (which is an error, not MORE). */
			if (len != 0)
				abort();
			/* Bytes of a request seen: the idle timer must not
			 * treat the connection as idle. */
			if (used > 0 && !fc_http_started(hp))
				abort();
			break;
		}
		if (r == FC_HTTP_ERROR) {
			if (hp->error != 400 && hp->error != 405 &&
			    hp->error != 414 && hp->error != 431)
				abort();
			out->error = true;
			out->status = hp->error;
			go_on = false;
			break;
		}
		/* FC_HTTP_DONE */
		check_request(&hp->req);
		out->nreq++;
		out->hash = mix(out->hash, hp->req.url, hp->req.url_len);
		out->hash = mix(out->hash, hp->req.user_agent,
		    strlen(hp->req.user_agent));
		out->hash = mix(out->hash, hp->req.host, strlen(hp->req.host));
		out->hash = mix(out->hash, &hp->req.head, sizeof(hp->req.head));
		out->hash = mix(out->hash, &hp->req.keep_alive,
		    sizeof(hp->req.keep_alive));
		if (!hp->req.keep_alive || out->nreq >= MAX_REQUESTS) {
			out->closed = true;
			go_on = false;
			break;
		}
		fc_http_next(hp);
	}
	free(copy);
	return go_on;
}

static void
run(const uint8_t *data, size_t size, const size_t *cuts, size_t ncuts,
    struct outcome *out)
{
	struct fc_http_parser hp;
	size_t i, off = 0, n;

	memset(out, 0, sizeof(*out));
	out->hash = 14695981039346656037ULL;
	fc_http_init(&hp);
	for (i = 0; i <= ncuts && off <= size; i++) {
		n = i < ncuts ? cuts[i] : size - off;
		if (n > size - off)
			n = size - off;
		if (!feed_piece(&hp, data + off, n, out))
			return;
		off += n;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome a, b;
	size_t cuts[MAX_PIECES], ncuts = 0, i;
	size_t *ones;

	if (size > 0 && data[0] < 0x10) {
		ncuts = data[0];
		if (size < 1 + ncuts)
			return 0;
		for (i = 0; i < ncuts; i++)
			cuts[i] = data[1 + i];
		data += 1 + ncuts;
		size -= 1 + ncuts;
	}
	run(data, size, cuts, ncuts, &a);

	/* The same bytes one at a time. */
	ones = malloc((size > 0 ? size : 1) * sizeof(*ones));
	if (ones == NULL)
		return 0;
	for (i = 0; i < size; i++)
		ones[i] = 1;
	run(data, size, ones, size, &b);
	free(ones);
	if (a.nreq != b.nreq || a.hash != b.hash || a.error != b.error ||
	    a.closed != b.closed)
		abort();

	/* The router on the raw bytes too: it must cope with anything,
	 * including bytes the parser would never let through. */
	{
		struct fc_route_match m;
		char *raw = malloc(size > 0 ? size : 1);

		if (raw != NULL) {
			if (size > 0)
				memcpy(raw, data, size);
			(void)fc_router_match(raw, size, &m);
			free(raw);
		}
	}
	return 0;
}
