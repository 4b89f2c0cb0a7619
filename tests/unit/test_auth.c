/* Unit tests for server/auth.c: HTTP Basic credentials checking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../server/auth.h"

/* "alice:s3cret" */
#define ALICE "YWxpY2U6czNjcmV0"

static void
test_good(void **state)
{
	(void)state;
	assert_true(fc_auth_check("Basic " ALICE, "alice:s3cret"));
	/* The scheme is case-insensitive; spaces around the token are ok. */
	assert_true(fc_auth_check("basic " ALICE, "alice:s3cret"));
	assert_true(fc_auth_check("BASIC   " ALICE "  ", "alice:s3cret"));
	assert_true(fc_auth_check("Basic\t" ALICE, "alice:s3cret"));
	/* Padding of one and two characters. */
	assert_true(fc_auth_check("Basic YTpi", "a:b"));		/* no pad */
	assert_true(fc_auth_check("Basic YTpiYw==", "a:bc"));	/* 2 pad */
	assert_true(fc_auth_check("Basic YTpiY2Q=", "a:bcd"));	/* 1 pad */
	/* A colon inside the password belongs to the password. */
	assert_true(fc_auth_check("Basic dTpwOnE=", "u:p:q"));
}

static void
test_wrong_credentials(void **state)
{
	(void)state;
	assert_false(fc_auth_check("Basic " ALICE, "alice:s3creT"));
	assert_false(fc_auth_check("Basic " ALICE, "alice:s3cret2"));
	assert_false(fc_auth_check("Basic " ALICE, "alice:s3cre"));
	assert_false(fc_auth_check("Basic " ALICE, "bob:s3cret"));
	assert_false(fc_auth_check("Basic YTpi", "a:c"));
}

static void
test_wrong_scheme(void **state)
{
	(void)state;
	assert_false(fc_auth_check("Bearer " ALICE, "alice:s3cret"));
	assert_false(fc_auth_check("Digest " ALICE, "alice:s3cret"));
	assert_false(fc_auth_check("Basic" ALICE, "alice:s3cret"));
	assert_false(fc_auth_check("Basi " ALICE, "alice:s3cret"));
	assert_false(fc_auth_check(" Basic " ALICE, "alice:s3cret"));
	assert_false(fc_auth_check(ALICE, "alice:s3cret"));
}

static void
test_empty(void **state)
{
	(void)state;
	assert_false(fc_auth_check("", "alice:s3cret"));
	assert_false(fc_auth_check("Basic", "alice:s3cret"));
	assert_false(fc_auth_check("Basic ", "alice:s3cret"));
	assert_false(fc_auth_check("Basic    ", "alice:s3cret"));
	assert_false(fc_auth_check(NULL, "alice:s3cret"));
	assert_false(fc_auth_check("Basic " ALICE, NULL));
	/* No configured credentials never matches anything. */
	assert_false(fc_auth_check("Basic ", ""));
	assert_false(fc_auth_check("Basic " ALICE, ""));
}

static void
test_malformed_base64(void **state)
{
	(void)state;
	/* Length not a multiple of 4, missing padding. */
	assert_false(fc_auth_check("Basic YTpiYw", "a:bc"));
	assert_false(fc_auth_check("Basic YTpiY2Q", "a:bcd"));
	assert_false(fc_auth_check("Basic YTp", "a:"));
	/* Characters outside the alphabet (URL-safe alphabet included). */
	assert_false(fc_auth_check("Basic YTpi*w==", "a:bc"));
	assert_false(fc_auth_check("Basic YT-i", "a:b"));
	assert_false(fc_auth_check("Basic YT_i", "a:b"));
	/* Padding in the middle, too much padding, data after padding. */
	assert_false(fc_auth_check("Basic YQ==YTpi", "aa:b"));
	assert_false(fc_auth_check("Basic Y===", "a"));
	assert_false(fc_auth_check("Basic ====", "a"));
	assert_false(fc_auth_check("Basic YT=i", "a:b"));
	/* Non-canonical: leftover bits set before the padding ("YTpiYx=="
	 * decodes like "YTpiYw==" in lax decoders). */
	assert_false(fc_auth_check("Basic YTpiYx==", "a:bc"));
	assert_false(fc_auth_check("Basic YTpiY2R=", "a:bcd"));
	/* Two tokens, or a token followed by junk. */
	assert_false(fc_auth_check("Basic " ALICE " " ALICE, "alice:s3cret"));
	assert_false(fc_auth_check("Basic " ALICE " x", "alice:s3cret"));
	/* Embedded control characters. */
	assert_false(fc_auth_check("Basic YTpi\r\n", "a:b"));
}

static void
test_embedded_nul(void **state)
{
	(void)state;
	/* "a:b\0c" must not match "a:b" (nor anything else). */
	assert_false(fc_auth_check("Basic YTpiAGM=", "a:b"));
	/* "a:b\0" */
	assert_false(fc_auth_check("Basic YTpiAA==", "a:b"));
}

/* Base64 of n bytes of 'x' into a fresh string. */
static char *
long_value(size_t n, char **plain)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char *in = malloc(n + 1);
	char *out = malloc(6 + (n + 2) / 3 * 4 + 1);
	size_t i, o = 0;

	assert_non_null(in);
	assert_non_null(out);
	memset(in, 'x', n);
	in[n] = '\0';
	memcpy(out, "Basic ", 6);
	o = 6;
	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tbl[v >> 18 & 63];
		out[o++] = tbl[v >> 12 & 63];
		out[o++] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tbl[v & 63] : '=';
	}
	out[o] = '\0';
	*plain = (char *)in;
	return out;
}

static void
test_long_input(void **state)
{
	char *v, *plain;

	(void)state;
	/* The longest accepted credentials work... */
	v = long_value(FC_AUTH_MAX_CREDENTIALS, &plain);
	assert_true(fc_auth_check(v, plain));
	free(v);
	free(plain);
	/* ...one byte more is refused even when it matches. */
	v = long_value(FC_AUTH_MAX_CREDENTIALS + 1, &plain);
	assert_false(fc_auth_check(v, plain));
	plain[FC_AUTH_MAX_CREDENTIALS] = '\0';
	assert_false(fc_auth_check(v, plain));
	free(v);
	free(plain);
	/* A megabyte of token is refused without decoding past the buffer. */
	v = long_value(1 << 20, &plain);
	assert_false(fc_auth_check(v, "x:x"));
	free(v);
	free(plain);
}

/* A value that ends right before an unreadable page: no over-read. */
static void
test_guard_page(void **state)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *map, *v;
	const char *s = "Basic " ALICE;
	size_t n = strlen(s) + 1;

	(void)state;
	map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
	v = map + pg - n;
	memcpy(v, s, n);
	assert_true(fc_auth_check(v, "alice:s3cret"));
	memcpy(map + pg - 7, "Basic ", 7);
	assert_false(fc_auth_check(map + pg - 7, "alice:s3cret"));
	munmap(map, (size_t)pg * 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_wrong_credentials),
		cmocka_unit_test(test_wrong_scheme),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_malformed_base64),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_long_input),
		cmocka_unit_test(test_guard_page),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
