/*
 * HTTP Basic authentication: strict base64 decoding into a fixed buffer and
 * a constant-time comparison.  See auth.h.
 */
#include "auth.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* Longest base64 token that can decode to FC_AUTH_MAX_CREDENTIALS bytes. */
#define MAX_TOKEN (((FC_AUTH_MAX_CREDENTIALS + 2) / 3) * 4)

/* Value of one base64 character (RFC 4648 standard alphabet), -1 if none. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decodes exactly n characters of canonical, padded base64 into out (room
 * for outsize bytes).  Rejects a length that is not a multiple of 4,
 * padding anywhere but the end, non-zero bits left over before the padding
 * (so each credential has one encoding), and output that would not fit.
 * Returns the decoded length or -1.
 */
static long
b64_decode(const char *in, size_t n, unsigned char *out, size_t outsize)
{
	size_t i, o = 0;
	int v[4], pad, k;

	if (n == 0 || n % 4 != 0)
		return -1;
	for (i = 0; i < n; i += 4) {
		pad = 0;
		for (k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + k];

			if (c == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			/* A data character after '=' ("ab=c") is refused. */
			if (pad > 0 || (v[k] = b64_value(c)) < 0)
				return -1;
		}
		if (o + 3 - (size_t)pad > outsize)
			return -1;
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (pad == 2) {
			if ((v[1] & 0x0f) != 0)
				return -1;
			break;
		}
		out[o++] = (unsigned char)((v[1] & 0x0f) << 4 | v[2] >> 2);
		if (pad == 1) {
			if ((v[2] & 0x03) != 0)
				return -1;
			break;
		}
		out[o++] = (unsigned char)((v[2] & 0x03) << 6 | v[3]);
	}
	return (long)o;
}

bool
fc_auth_check(const char *authorization_value, const char *user_colon_password)
{
	unsigned char got[FC_AUTH_MAX_CREDENTIALS];
	unsigned char want[FC_AUTH_MAX_CREDENTIALS];
	const char *p, *tok;
	size_t toklen, wantlen, i;
	long gotlen;
	unsigned diff;

	if (authorization_value == NULL || user_colon_password == NULL)
		return false;
	wantlen = strlen(user_colon_password);
	if (wantlen == 0 || wantlen > sizeof(want))
		return false;

	p = authorization_value;
	if (strncasecmp(p, "Basic", 5) != 0 || (p[5] != ' ' && p[5] != '\t'))
		return false;
	p += 5;
	while (*p == ' ' || *p == '\t')
		p++;
	tok = p;
	while (*p != '\0' && *p != ' ' && *p != '\t')
		p++;
	toklen = (size_t)(p - tok);
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0' || toklen == 0 || toklen > MAX_TOKEN)
		return false;

	memset(got, 0, sizeof(got));
	gotlen = b64_decode(tok, toklen, got, sizeof(got));
	if (gotlen < 0)
		return false;
	/* A NUL inside the credentials could truncate them somewhere else. */
	if (memchr(got, '\0', (size_t)gotlen) != NULL)
		return false;

	/*
	 * Compare whole fixed-size buffers, with the lengths folded in, so the
	 * time taken does not depend on where the first difference is.
	 */
	memset(want, 0, sizeof(want));
	memcpy(want, user_colon_password, wantlen);
	diff = (size_t)gotlen != wantlen;
	for (i = 0; i < sizeof(want); i++)
		diff |= (unsigned)(got[i] ^ want[i]);
	return diff == 0;
}
