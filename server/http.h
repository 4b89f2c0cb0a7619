/*
 * HTTP/1.x request adapter over libhttp-parser (Debian's 2.9.x).
 *
 * The parser is fed whatever bytes a read returned; it keeps its state
 * across calls, so a request may arrive in any number of pieces.  Only the
 * facts a worker needs are kept, in fixed-size fields (no allocation):
 * method (GET, HEAD or OPTIONS), URL, Host, User-Agent, Authorization, keep-alive.  Limits are
 * checked while bytes arrive, so an oversized request is refused before it
 * is complete:
 *
 *   URL longer than FC_HTTP_MAX_URL        414
 *   request head over FC_HTTP_MAX_HEAD     431
 *   method other than GET, HEAD or
 *     OPTIONS                              405
 *   a request body (none is accepted)      400
 *   HTTP/1.1 without Host                  400
 *   two Host headers, an empty Host, or
 *     one longer than FC_HTTP_MAX_HOST - 1 400
 *   obs-fold: a header line starting with
 *     SP or HT (also the first one)        400
 *   SP or HT in a header name (before the
 *     colon)                               400
 *   a CR not followed by LF in the head    400
 *   anything the parser rejects            400
 *
 * The head is strict the way nginx's is.  libhttp-parser 2.9 (as Debian
 * builds it) joins obs-fold lines into the previous value and takes SP as
 * part of a header name, even at the start of the first header line, and
 * takes "CR x" for the blank line that ends a head; so the adapter follows
 * the line structure of the raw bytes itself (enum fc_http_line), whatever
 * the pieces they arrive in.  HTTP/1.0 without Host stays allowed, as in
 * nginx; which hosts are served is the worker's business (allowed_hosts).
 *
 * Pipelining: the parser pauses at the end of each request, so
 * fc_http_feed() returns FC_HTTP_DONE with *consumed pointing just past
 * that request; the caller answers it, calls fc_http_next() and feeds the
 * rest.
 */
#ifndef FC_HTTP_H
#define FC_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <http_parser.h>

#define FC_HTTP_MAX_URL 2048
#define FC_HTTP_MAX_HEAD 8192
#define FC_HTTP_MAX_UA 256
#define FC_HTTP_MAX_AUTH 512
#define FC_HTTP_MAX_HOST 256

enum fc_http_result {
	FC_HTTP_MORE = 0,	/* request incomplete: feed more bytes */
	FC_HTTP_DONE = 1,	/* a whole request is in hp->req */
	FC_HTTP_ERROR = 2,	/* refused: answer hp->error and close */
};

struct fc_http_request {
	bool head;			/* HEAD */
	bool options;			/* OPTIONS (a CORS preflight; the
					 * target may be "*") */
	bool keep_alive;		/* connection may carry another request */
	unsigned short http_major, http_minor;
	size_t url_len;
	char url[FC_HTTP_MAX_URL + 1];	/* request target as sent, NUL-ended */
	char user_agent[FC_HTTP_MAX_UA];	/* "" when absent (truncated) */
	bool has_auth;			/* an Authorization header was sent */
	bool auth_too_long;		/* ... longer than FC_HTTP_MAX_AUTH - 1 */
	char authorization[FC_HTTP_MAX_AUTH];
	bool has_host;			/* a Host header was sent */
	char host[FC_HTTP_MAX_HOST];	/* its value as sent, trimmed */
};

/* Which header's value is being collected. */
enum fc_http_field {
	FC_HF_OTHER = 0,
	FC_HF_USER_AGENT,
	FC_HF_AUTHORIZATION,
	FC_HF_HOST,
};

/* Where in the line structure of the head the last byte fed was. */
enum fc_http_line {
	FC_HL_BEFORE = 0,	/* before the request line (CR, LF skipped) */
	FC_HL_REQUEST,		/* in the request line */
	FC_HL_LINE_START,	/* a header line (or the blank line) starts */
	FC_HL_NAME,		/* in a header name */
	FC_HL_VALUE,		/* after the colon */
	FC_HL_CR,		/* CR ending a line: LF must follow */
	FC_HL_END_CR,		/* CR of the blank line: LF must follow */
	FC_HL_END,		/* the head is complete */
};

struct fc_http_parser {
	http_parser parser;
	struct fc_http_request req;
	size_t head_bytes;		/* bytes of this request's head so far */
	bool started;			/* first byte of a request seen */
	bool headers_done;
	bool complete;			/* req holds a whole request */
	bool in_value;			/* last callback was a header value */
	bool ua_seen, auth_seen;	/* first occurrence wins */
	enum fc_http_field field;	/* header whose value is arriving */
	enum fc_http_line line;		/* line structure of the raw head */
	size_t name_len;		/* bytes of the header name so far */
	char name[24];			/* header name (only short ones matter) */
	size_t value_len;		/* bytes of the current interesting value */
	int error;			/* HTTP status when FC_HTTP_ERROR */
};

/* Prepares hp for the first request of a connection. */
void fc_http_init(struct fc_http_parser *hp);

/*
 * Feeds len bytes.  *consumed is how many were used: all of them on
 * FC_HTTP_MORE, up to the end of the request on FC_HTTP_DONE (the rest
 * belongs to the next, pipelined request).  After FC_HTTP_ERROR the
 * connection must be answered with hp->error and closed.
 */
enum fc_http_result fc_http_feed(struct fc_http_parser *hp, const char *data,
    size_t len, size_t *consumed);

/* Resets the request fields and resumes parsing after FC_HTTP_DONE. */
void fc_http_next(struct fc_http_parser *hp);

/* True once any byte of the current request arrived (a keep-alive
 * connection idling between requests has none). */
bool fc_http_started(const struct fc_http_parser *hp);

#endif
