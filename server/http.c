/* HTTP request adapter over libhttp-parser; see http.h. */
#include "http.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

static int on_message_begin(http_parser *);
static int on_url(http_parser *, const char *, size_t);
static int on_header_field(http_parser *, const char *, size_t);
static int on_header_value(http_parser *, const char *, size_t);
static int on_headers_complete(http_parser *);
static int on_body(http_parser *, const char *, size_t);
static int on_message_complete(http_parser *);

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

static struct fc_http_parser *
adapter(http_parser *p)
{
	return p->data;
}

/* Records the first refusal; a non-zero return stops the parser. */
static int
refuse(struct fc_http_parser *hp, int status)
{
	if (hp->error == 0)
		hp->error = status;
	return -1;
}

static void
reset_request(struct fc_http_parser *hp)
{
	memset(&hp->req, 0, sizeof(hp->req));
	hp->head_bytes = 0;
	hp->started = false;
	hp->headers_done = false;
	hp->complete = false;
	hp->in_value = false;
	hp->ua_seen = false;
	hp->auth_seen = false;
	hp->field = FC_HF_OTHER;
	hp->line = FC_HL_BEFORE;
	hp->name_len = 0;
	hp->value_len = 0;
	hp->error = 0;
}

void
fc_http_init(struct fc_http_parser *hp)
{
	memset(hp, 0, sizeof(*hp));
	http_parser_init(&hp->parser, HTTP_REQUEST);
	hp->parser.data = hp;
	reset_request(hp);
}

void
fc_http_next(struct fc_http_parser *hp)
{
	reset_request(hp);
	http_parser_pause(&hp->parser, 0);
}

bool
fc_http_started(const struct fc_http_parser *hp)
{
	return hp->started || hp->head_bytes > 0;
}

static int
on_message_begin(http_parser *p)
{
	adapter(p)->started = true;
	return 0;
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
	struct fc_http_parser *hp = adapter(p);

	/* The method is known once the URL starts: refuse early. */
	if (p->method != HTTP_GET && p->method != HTTP_HEAD &&
	    p->method != HTTP_OPTIONS)
		return refuse(hp, 405);
	if (len > FC_HTTP_MAX_URL - hp->req.url_len)
		return refuse(hp, 414);
	memcpy(hp->req.url + hp->req.url_len, at, len);
	hp->req.url_len += len;
	hp->req.url[hp->req.url_len] = '\0';
	return 0;
}

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
	struct fc_http_parser *hp = adapter(p);

	if (hp->in_value) {
		/* A new header starts. */
		hp->in_value = false;
		hp->name_len = 0;
	}
	/* Names longer than the buffer are none of the ones we want;
	 * name_len keeps counting so they never match. */
	if (hp->name_len < sizeof(hp->name) &&
	    len <= sizeof(hp->name) - hp->name_len)
		memcpy(hp->name + hp->name_len, at, len);
	if (len > SIZE_MAX - hp->name_len)
		hp->name_len = SIZE_MAX;
	else
		hp->name_len += len;
	return 0;
}

static bool
name_is(const struct fc_http_parser *hp, const char *want)
{
	size_t n = strlen(want);

	return hp->name_len == n && strncasecmp(hp->name, want, n) == 0;
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
	struct fc_http_parser *hp = adapter(p);
	char *dst;
	size_t cap, room;

	if (!hp->in_value) {
		hp->in_value = true;
		hp->value_len = 0;
		hp->field = FC_HF_OTHER;
		if (!hp->ua_seen && name_is(hp, "user-agent")) {
			hp->field = FC_HF_USER_AGENT;
			hp->ua_seen = true;
		} else if (!hp->auth_seen && name_is(hp, "authorization")) {
			hp->field = FC_HF_AUTHORIZATION;
			hp->auth_seen = true;
			hp->req.has_auth = true;
		} else if (name_is(hp, "host")) {
			/* Two Hosts could name two servers: which one is
			 * meant is anybody's guess (RFC 9112, 3.2). */
			if (hp->req.has_host)
				return refuse(hp, 400);
			hp->field = FC_HF_HOST;
			hp->req.has_host = true;
		}
	}
	switch (hp->field) {
	case FC_HF_USER_AGENT:
		dst = hp->req.user_agent;
		cap = sizeof(hp->req.user_agent);
		break;
	case FC_HF_AUTHORIZATION:
		dst = hp->req.authorization;
		cap = sizeof(hp->req.authorization);
		break;
	case FC_HF_HOST:
		dst = hp->req.host;
		cap = sizeof(hp->req.host);
		break;
	default:
		return 0;
	}
	room = cap - 1 - hp->value_len;
	/* A cut Host would be compared as another name. */
	if (len > room && hp->field == FC_HF_HOST)
		return refuse(hp, 400);
	if (len > room) {
		/* A truncated User-Agent still classifies the client; a
		 * truncated credential must never match. */
		if (hp->field == FC_HF_AUTHORIZATION)
			hp->req.auth_too_long = true;
		len = room;
	}
	memcpy(dst + hp->value_len, at, len);
	hp->value_len += len;
	dst[hp->value_len] = '\0';
	return 0;
}

static void
trim_right(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
}

static int
on_headers_complete(http_parser *p)
{
	struct fc_http_parser *hp = adapter(p);

	hp->headers_done = true;
	if (p->http_major != 1)
		return refuse(hp, 400);
	/* GET and HEAD carry no body, and a CORS preflight (OPTIONS) sends
	 * none; refusing one keeps the connection state simple (no body
	 * bytes to skip before the next request). */
	if ((p->flags & F_CHUNKED) != 0 || p->uses_transfer_encoding ||
	    ((p->flags & F_CONTENTLENGTH) != 0 && p->content_length > 0))
		return refuse(hp, 400);
	if (hp->req.url_len == 0)
		return refuse(hp, 400);
	trim_right(hp->req.user_agent);
	trim_right(hp->req.authorization);
	trim_right(hp->req.host);
	/* RFC 9112, 3.2: a Host is required from HTTP/1.1 on; HTTP/1.0
	 * clients may leave it out (nginx serves them too).  An empty one
	 * names no host at all, in any version (nginx: 400). */
	if (hp->req.has_host ? hp->req.host[0] == '\0' : p->http_minor >= 1)
		return refuse(hp, 400);
	hp->req.head = p->method == HTTP_HEAD;
	hp->req.options = p->method == HTTP_OPTIONS;
	hp->req.http_major = p->http_major;
	hp->req.http_minor = p->http_minor;
	hp->req.keep_alive = http_should_keep_alive(p) != 0;
	return 0;
}

static int
on_body(http_parser *p, const char *at, size_t len)
{
	(void)at;
	(void)len;
	return refuse(adapter(p), 400);
}

static int
on_message_complete(http_parser *p)
{
	struct fc_http_parser *hp = adapter(p);

	hp->complete = true;
	/* Stop right after this request: the caller answers it before the
	 * next pipelined one is parsed. */
	http_parser_pause(p, 1);
	return 0;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Follows the line structure of the n head bytes the parser just took
 * (they never reach past the end of this request: the parser pauses
 * there), carrying the state in hp->line across pieces.  Returns 0, or
 * 400 for what libhttp-parser lets through: a header line starting with
 * SP or HT (obs-fold, joined to the previous value; on the first header
 * line, a SP the parser takes for part of the name), SP or HT in a header
 * name, and a CR that no LF follows (the parser ends the head at "CR x",
 * eating the x).  The parser refuses some of these itself (HT in a name);
 * checking them here too keeps the rule in one place.
 */
static int
scan_head(struct fc_http_parser *hp, const char *data, size_t n)
{
	size_t i;
	char c;

	for (i = 0; i < n && hp->line != FC_HL_END; i++) {
		c = data[i];
		switch (hp->line) {
		case FC_HL_BEFORE:
			/* The parser skips empty lines before a request. */
			if (c != '\r' && c != '\n')
				hp->line = FC_HL_REQUEST;
			break;
		case FC_HL_REQUEST:
		case FC_HL_NAME:
		case FC_HL_VALUE:
			if (c == '\r')
				hp->line = FC_HL_CR;
			else if (c == '\n')
				hp->line = FC_HL_LINE_START;
			else if (hp->line == FC_HL_NAME && is_blank(c))
				return 400;
			else if (hp->line == FC_HL_NAME && c == ':')
				hp->line = FC_HL_VALUE;
			break;
		case FC_HL_LINE_START:
			if (is_blank(c))
				return 400;
			if (c == '\r')
				hp->line = FC_HL_END_CR;
			else if (c == '\n')
				hp->line = FC_HL_END;
			else if (c == ':')
				hp->line = FC_HL_VALUE;	/* empty name: the
							 * parser refuses it */
			else
				hp->line = FC_HL_NAME;
			break;
		case FC_HL_CR:
		case FC_HL_END_CR:
			if (c != '\n')
				return 400;
			hp->line = hp->line == FC_HL_CR ? FC_HL_LINE_START :
			    FC_HL_END;
			break;
		case FC_HL_END:
			break;
		}
	}
	return 0;
}

enum fc_http_result
fc_http_feed(struct fc_http_parser *hp, const char *data, size_t len,
    size_t *consumed)
{
	enum http_errno err;
	size_t n, feed = len;

	*consumed = 0;
	if (hp->error != 0)
		return FC_HTTP_ERROR;
	if (hp->complete)
		return FC_HTTP_DONE;
	if (len == 0)
		return FC_HTTP_MORE;
	/* Never let the parser see more than one byte past the head limit,
	 * so an endless header block is refused after MAX_HEAD + 1 bytes. */
	if (!hp->headers_done && feed > FC_HTTP_MAX_HEAD + 1 - hp->head_bytes)
		feed = FC_HTTP_MAX_HEAD + 1 - hp->head_bytes;

	n = http_parser_execute(&hp->parser, &settings, data, feed);
	*consumed = n;
	hp->head_bytes += n;	/* no body is accepted: all of it is head */
	err = HTTP_PARSER_ERRNO(&hp->parser);

	if (hp->error == 0)
		hp->error = scan_head(hp, data, n);
	if (hp->error != 0)
		return FC_HTTP_ERROR;
	if (err != HPE_OK && err != HPE_PAUSED) {
		hp->error = 400;
		return FC_HTTP_ERROR;
	}
	if (hp->head_bytes > FC_HTTP_MAX_HEAD) {
		hp->error = 431;
		return FC_HTTP_ERROR;
	}
	if (hp->parser.upgrade) {
		/* The rest would be another protocol: answer, then close. */
		hp->req.keep_alive = false;
		hp->complete = hp->headers_done;
	}
	if (hp->complete)
		return FC_HTTP_DONE;
	return FC_HTTP_MORE;
}
