/*
 * libFuzzer target: the http source's multipart/x-mixed-replace parser
 * (capture/multipart.c), fed what a hostile upstream camera could send.
 *
 * Input: the first line (up to '\n') is the upstream's Content-Type, given
 * to fc_multipart_boundary(); when it names no usable boundary, "frame" is
 * used.  Then, when the next byte is below 0x10, it counts split bytes that
 * follow, each the length of the next piece fed (the rest of the input is
 * the last piece).  The remaining bytes are the body stream.
 *
 * Each piece sits in a buffer of exactly its size (over-reads are ASan
 * reports), parts are read byte by byte (a part longer than it claims is a
 * report), and the stream is parsed a second time one byte per call: the
 * parts delivered must not depend on how the network cut the stream.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../capture/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PART 1000		/* small, so oversize paths are reached */
#define MAX_PIECES 16
#define MAX_CT 300

struct outcome {
	uint64_t parts;
	uint64_t bad;
	uint64_t hash;		/* over every delivered part */
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
take_part(const struct fc_mp_part *part, struct outcome *out)
{
	if (part->len > MAX_PART)
		abort();
	if (memchr(part->content_type, '\0', sizeof(part->content_type)) == NULL)
		abort();
	if (part->ts_real_ns < 0)
		abort();
	out->parts++;
	out->hash = mix(out->hash, &part->len, sizeof(part->len));
	if (part->len > 0)
		out->hash = mix(out->hash, part->data, part->len);
	out->hash = mix(out->hash, part->content_type,
	    strlen(part->content_type));
	out->hash = mix(out->hash, &part->ts_real_ns, sizeof(part->ts_real_ns));
	out->hash = mix(out->hash, &part->has_length, sizeof(part->has_length));
}

/* Feeds one piece the way capture/source_http.c does. */
static void
feed_piece(struct fc_multipart *mp, const uint8_t *piece, size_t len,
    struct outcome *out)
{
	struct fc_mp_part part;
	enum fc_mp_result r;
	const uint8_t *p;
	uint8_t *copy;
	size_t used, rounds = 0;

	copy = malloc(len > 0 ? len : 1);
	if (copy == NULL)
		return;
	if (len > 0)
		memcpy(copy, piece, len);
	p = copy;
	for (;;) {
		r = fc_multipart_feed(mp, p, len, &used, &part);
		if (used > len)
			abort();
		p += used;
		len -= used;
		if (r == FC_MP_MORE) {
			if (len != 0)
				abort();
			break;
		}
		if (r == FC_MP_PART)
			take_part(&part, out);
		else if (r == FC_MP_BAD) {
			out->bad++;
			if (fc_multipart_reason(mp)[0] == '\0')
				abort();
		} else {
			abort();
		}
		/* Each PART or BAD accounts for some input, except a part
		 * completed right at the end of the previous piece; a loop
		 * that makes no progress would spin the capture process. */
		if (++rounds > 2 * (size_t)(p - copy) + 4)
			abort();
	}
	free(copy);
}

static void
run(const char *boundary, const uint8_t *data, size_t size,
    const size_t *cuts, size_t ncuts, struct outcome *out)
{
	struct fc_multipart mp;
	size_t i, off = 0, n;

	memset(out, 0, sizeof(*out));
	out->hash = 14695981039346656037ULL;
	if (fc_multipart_init(&mp, boundary, MAX_PART) != 0) {
		fc_multipart_free(&mp);
		return;
	}
	for (i = 0; i <= ncuts; i++) {
		n = i < ncuts ? cuts[i] : size - off;
		if (n > size - off)
			n = size - off;
		feed_piece(&mp, data + off, n, out);
		off += n;
	}
	if (mp.parts != out->parts)
		abort();
	/* A reset mid-stream then more bytes must be harmless too. */
	fc_multipart_reset(&mp);
	{
		static const uint8_t tail[] = "\r\n--frame\r\n\r\nx\r\n--frame\r\n";
		struct outcome scratch = *out;

		feed_piece(&mp, tail, sizeof(tail) - 1, &scratch);
	}
	fc_multipart_free(&mp);
	fc_multipart_free(&mp);	/* idempotent */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char ct[MAX_CT + 1], boundary[FC_MP_BOUNDARY_MAX + 1];
	const uint8_t *nl;
	size_t cuts[MAX_PIECES], ncuts = 0, i, *ones;
	struct outcome a, b;

	/* The Content-Type line, NUL-ended in a buffer of its own size. */
	nl = memchr(data, '\n', size < MAX_CT ? size : MAX_CT);
	if (nl == NULL)
		return 0;
	{
		size_t ctlen = (size_t)(nl - data);
		char *exact = malloc(ctlen + 1);

		if (exact == NULL)
			return 0;
		memcpy(exact, data, ctlen);
		exact[ctlen] = '\0';
		memcpy(ct, exact, ctlen + 1);
		if (fc_multipart_boundary(exact, boundary, sizeof(boundary)) != 0)
			strcpy(boundary, "frame");
		free(exact);
	}
	/* A short output buffer must be refused, never overrun. */
	{
		char tiny[4];

		if (fc_multipart_boundary(ct, tiny, sizeof(tiny)) == 0 &&
		    strlen(tiny) >= sizeof(tiny))
			abort();
	}
	size -= (size_t)(nl - data) + 1;
	data = nl + 1;

	if (size > 0 && data[0] < 0x10) {
		ncuts = data[0];
		if (size < 1 + ncuts)
			return 0;
		for (i = 0; i < ncuts; i++)
			cuts[i] = data[1 + i];
		data += 1 + ncuts;
		size -= 1 + ncuts;
	}
	run(boundary, data, size, cuts, ncuts, &a);

	ones = malloc((size > 0 ? size : 1) * sizeof(*ones));
	if (ones == NULL)
		return 0;
	for (i = 0; i < size; i++)
		ones[i] = 1;
	run(boundary, data, size, ones, size, &b);
	free(ones);
	if (a.parts != b.parts || a.hash != b.hash || a.bad != b.bad)
		abort();
	return 0;
}
