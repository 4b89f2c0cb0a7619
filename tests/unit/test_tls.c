/*
 * TLS material and the server context (common/tls.c): what the file
 * checks refuse and why, what the context offers (versions, suites, ALPN),
 * and a real handshake over loopback TCP that ends with kTLS when this
 * kernel lets a socket take the `tls` layer and with OpenSSL's own records
 * when it does not (the fallback every TLS connection here takes).
 * Certificates and keys are made in the test with OpenSSL's API.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../../common/tls.h"

static char dir[64];

/* A P-256 key. */
static EVP_PKEY *
new_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	assert_non_null(k);
	return k;
}

/* A certificate for key, signed by issuer_key as issuer_name (self-signed
 * when issuer_key is key). */
static X509 *
new_cert(EVP_PKEY *key, const char *cn, EVP_PKEY *issuer_key,
    const char *issuer_cn, long serial)
{
	X509 *x = X509_new();
	X509_NAME *n;

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	n = X509_get_issuer_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)issuer_cn, -1, -1, 0);
	assert_true(X509_sign(x, issuer_key, EVP_sha256()) > 0);
	return x;
}

static char *
path(const char *name)
{
	static char p[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static void
write_key(const char *name, EVP_PKEY *k, mode_t mode, bool encrypted)
{
	FILE *f = fopen(path(name), "w");

	assert_non_null(f);
	assert_true(PEM_write_PrivateKey(f, k, encrypted ? EVP_aes_256_cbc() :
	    NULL, encrypted ? (unsigned char *)"pass" : NULL, encrypted ? 4 : 0,
	    NULL, NULL) == 1);
	fclose(f);
	assert_int_equal(chmod(path(name), mode), 0);
}

static void
write_certs(const char *name, X509 *a, X509 *b)
{
	FILE *f = fopen(path(name), "w");

	assert_non_null(f);
	assert_true(PEM_write_X509(f, a) == 1);
	if (b != NULL)
		assert_true(PEM_write_X509(f, b) == 1);
	fclose(f);
}

static void
write_text(const char *name, const char *text, size_t len)
{
	FILE *f = fopen(path(name), "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

/* Files: ca.pem, chain.pem (leaf + CA), key.pem (0600), other.pem (a key
 * of no certificate here), enc.pem (encrypted), open.pem (0644), group.pem
 * (0640), garbage.pem, big.pem. */
static int
setup(void **state)
{
	EVP_PKEY *ca_key, *key, *other;
	X509 *ca, *leaf;
	char *big;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/fc-test-tls.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	ca_key = new_key();
	key = new_key();
	other = new_key();
	ca = new_cert(ca_key, "test CA", ca_key, "test CA", 1);
	leaf = new_cert(key, "localhost", ca_key, "test CA", 2);
	write_certs("ca.pem", ca, NULL);
	write_certs("chain.pem", leaf, ca);
	write_key("key.pem", key, 0600, false);
	write_key("other.pem", other, 0600, false);
	write_key("enc.pem", key, 0600, true);
	write_key("open.pem", key, 0644, false);
	write_key("group.pem", key, 0640, false);
	write_text("garbage.pem", "not a certificate\n", 18);
	/* The leaf, then a "certificate" of the chain that does not parse. */
	{
		static const char bad[] = "-----BEGIN CERTIFICATE-----\n"
		    "AAAA\n-----END CERTIFICATE-----\n";
		FILE *f = fopen(path("badchain.pem"), "w");

		assert_non_null(f);
		assert_true(PEM_write_X509(f, leaf) == 1);
		assert_int_equal(fwrite(bad, 1, sizeof(bad) - 1, f),
		    sizeof(bad) - 1);
		fclose(f);
	}
	assert_int_equal(chmod(path("garbage.pem"), 0600), 0);
	big = malloc(FC_TLS_PEM_MAX);
	assert_non_null(big);
	memset(big, 'A', FC_TLS_PEM_MAX);
	write_text("big.pem", big, FC_TLS_PEM_MAX);
	free(big);
	X509_free(ca);
	X509_free(leaf);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	return 0;
}

static int
teardown(void **state)
{
	const char *names[] = { "ca.pem", "chain.pem", "key.pem", "other.pem",
	    "enc.pem", "open.pem", "group.pem", "garbage.pem", "big.pem",
	    "badchain.pem" };

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(path(names[i]));
	rmdir(dir);
	return 0;
}

/* fc_tls_read_files(cert, key): 0, or -1 with which and a reason that
 * contains want. */
static void
expect_files(const char *cert, const char *key, int rc,
    enum fc_tls_file which_want, const char *want)
{
	struct fc_tls_pem *pem = malloc(sizeof(*pem));
	enum fc_tls_file which = FC_TLS_CERT;
	char why[256] = "";

	assert_non_null(pem);
	assert_int_equal(fc_tls_read_files(path(cert), path(key), pem, &which,
	    why, sizeof(why)), rc);
	if (rc == -1) {
		if (strstr(why, want) == NULL)
			fail_msg("%s + %s: \"%s\" lacks \"%s\"", cert, key, why,
			    want);
		assert_int_equal(which, which_want);
	} else {
		assert_true(pem->cert_len > 0 && pem->key_len > 0);
		assert_non_null(strstr(pem->cert, "BEGIN CERTIFICATE"));
		assert_non_null(strstr(pem->key, "PRIVATE KEY"));
	}
	fc_tls_pem_wipe(pem);
	assert_int_equal(pem->key_len, 0);
	for (size_t i = 0; i < sizeof(pem->key); i++)
		assert_int_equal(pem->key[i], 0);
	free(pem);
}

static void
test_files(void **state)
{
	(void)state;
	expect_files("chain.pem", "key.pem", 0, FC_TLS_CERT, NULL);
	expect_files("chain.pem", "group.pem", 0, FC_TLS_CERT, NULL);
	expect_files("chain.pem", "open.pem", -1, FC_TLS_KEY,
	    "other users may read or change the private key (mode 0644)");
	expect_files("chain.pem", "other.pem", -1, FC_TLS_KEY,
	    "does not match the certificate");
	expect_files("chain.pem", "enc.pem", -1, FC_TLS_KEY,
	    "no unencrypted PEM private key");
	expect_files("garbage.pem", "key.pem", -1, FC_TLS_CERT,
	    "no PEM certificate");
	expect_files("big.pem", "key.pem", -1, FC_TLS_CERT, "larger than");
	expect_files("badchain.pem", "key.pem", -1, FC_TLS_CERT,
	    "certificate 2 of the file does not parse");
	expect_files("missing.pem", "key.pem", -1, FC_TLS_CERT,
	    "No such file");
	expect_files("chain.pem", "missing.pem", -1, FC_TLS_KEY,
	    "No such file");
	expect_files(".", "key.pem", -1, FC_TLS_CERT, "not a regular file");
	expect_files("chain.pem", "garbage.pem", -1, FC_TLS_KEY,
	    "no unencrypted PEM private key");
}

/* A server context from the test's files. */
static SSL_CTX *
server_ctx(void)
{
	struct fc_tls_pem *pem = malloc(sizeof(*pem));
	enum fc_tls_file which;
	char why[256];
	SSL_CTX *ctx;

	assert_non_null(pem);
	assert_int_equal(fc_tls_read_files(path("chain.pem"), path("key.pem"),
	    pem, &which, why, sizeof(why)), 0);
	ctx = fc_tls_ctx_new(pem, why, sizeof(why));
	if (ctx == NULL)
		fail_msg("fc_tls_ctx_new: %s", why);
	fc_tls_pem_wipe(pem);
	free(pem);
	return ctx;
}

static void
test_context(void **state)
{
	SSL_CTX *ctx;
	uint64_t o;

	(void)state;
	ctx = server_ctx();
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	assert_int_equal(SSL_CTX_get_max_proto_version(ctx), TLS1_3_VERSION);
	o = SSL_CTX_get_options(ctx);
	assert_true(o & SSL_OP_ENABLE_KTLS);
	assert_true(o & SSL_OP_NO_RENEGOTIATION);
	assert_true(o & SSL_OP_NO_COMPRESSION);
	assert_true(o & SSL_OP_NO_TICKET);
	assert_int_equal(SSL_CTX_get_session_cache_mode(ctx), SSL_SESS_CACHE_OFF);
	assert_true(SSL_CTX_get_mode(ctx) & SSL_MODE_ENABLE_PARTIAL_WRITE);
	assert_true(SSL_CTX_get_mode(ctx) & SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_free(ctx);
}

/* A connected loopback TCP pair. */
static void
tcp_pair(int *srv, int *cli)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int l;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((l = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
	assert_true((*cli = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(connect(*cli, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_true((*srv = accept(l, NULL, NULL)) >= 0);
	close(l);
	assert_int_equal(fcntl(*srv, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(*cli, F_SETFL, O_NONBLOCK), 0);
}

/* Whether this kernel lets a TCP socket take the tls layer. */
static bool
kernel_has_ktls(void)
{
	int s, c, ok;

	tcp_pair(&s, &c);
	ok = setsockopt(s, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) == 0;
	close(s);
	close(c);
	return ok;
}

struct hs {
	SSL *srv, *cli;
	int sfd, cfd;
	bool done;
};

/* Handshake between our context and a client: alpn (wire format) offered
 * when not NULL, versions min..max.  done = both sides finished. */
static void
handshake(struct hs *h, SSL_CTX *sctx, const char *alpn, size_t alpnlen,
    int min, int max)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	int rs = 0, rc = 0;

	assert_non_null(cctx);
	SSL_CTX_set_min_proto_version(cctx, min);
	SSL_CTX_set_max_proto_version(cctx, max);
	if (min < TLS1_2_VERSION)
		SSL_CTX_set_security_level(cctx, 0);
	tcp_pair(&h->sfd, &h->cfd);
	h->srv = SSL_new(sctx);
	h->cli = SSL_new(cctx);
	SSL_CTX_free(cctx);
	SSL_set_fd(h->srv, h->sfd);
	SSL_set_fd(h->cli, h->cfd);
	SSL_set_accept_state(h->srv);
	SSL_set_connect_state(h->cli);
	if (alpn != NULL)
		SSL_set_alpn_protos(h->cli, (const unsigned char *)alpn,
		    (unsigned)alpnlen);
	for (int i = 0; i < 2000 && (rs != 1 || rc != 1); i++) {
		if (rc != 1 && (rc = SSL_do_handshake(h->cli)) != 1 &&
		    SSL_get_error(h->cli, rc) != SSL_ERROR_WANT_READ &&
		    SSL_get_error(h->cli, rc) != SSL_ERROR_WANT_WRITE)
			break;
		if (rs != 1 && (rs = SSL_do_handshake(h->srv)) != 1 &&
		    SSL_get_error(h->srv, rs) != SSL_ERROR_WANT_READ &&
		    SSL_get_error(h->srv, rs) != SSL_ERROR_WANT_WRITE)
			break;
		usleep(1000);
	}
	ERR_clear_error();
	h->done = rs == 1 && rc == 1;
}

static void
hs_free(struct hs *h)
{
	SSL_free(h->srv);
	SSL_free(h->cli);
	close(h->sfd);
	close(h->cfd);
}

/* A TLS 1.2/1.3 handshake offering alpn (wire format) completes and the
 * server chooses want ("" = no ALPN answer). */
static void
expect_alpn(SSL_CTX *ctx, const char *alpn, size_t len, const char *want)
{
	const unsigned char *p;
	unsigned int n;
	struct hs h;

	handshake(&h, ctx, alpn, len, TLS1_2_VERSION, TLS1_3_VERSION);
	assert_true(h.done);
	assert_int_equal(SSL_version(h.srv), TLS1_3_VERSION);
	SSL_get0_alpn_selected(h.cli, &p, &n);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(p, want, n);
	hs_free(&h);
}

static void
test_alpn_versions(void **state)
{
	SSL_CTX *ctx = server_ctx();
	struct hs h;

	(void)state;
	/* A browser offers h2 and http/1.1: h2 is chosen. */
	expect_alpn(ctx, "\x02h2\x08http/1.1", 12, "h2");
	/* http/1.1 beside a protocol we lack. */
	expect_alpn(ctx, "\x06spdy/3\x08http/1.1", 16, "http/1.1");
	/* Nothing we speak offered: no ALPN answer, the handshake still
	 * completes (HTTP/1.1 then). */
	expect_alpn(ctx, "\x06spdy/3", 7, "");

	/* TLS 1.2 works; TLS 1.1 and 1.0 do not. */
	handshake(&h, ctx, NULL, 0, TLS1_2_VERSION, TLS1_2_VERSION);
	assert_true(h.done);
	assert_int_equal(SSL_version(h.srv), TLS1_2_VERSION);
	assert_non_null(strstr(SSL_get_cipher_name(h.srv), "ECDHE"));
	hs_free(&h);
	handshake(&h, ctx, NULL, 0, TLS1_VERSION, TLS1_1_VERSION);
	assert_false(h.done);
	hs_free(&h);
	SSL_CTX_free(ctx);
}

/* After the handshake the server side is kTLS exactly when the kernel
 * offers it, and bytes flow either way: on this machine (no tls module)
 * that is OpenSSL's records, the fallback. */
static void
test_ktls_or_fallback(void **state)
{
	SSL_CTX *ctx = server_ctx();
	char msg[20000], got[sizeof(msg)];
	size_t off = 0, n;
	bool ktls = kernel_has_ktls();
	struct hs h;

	(void)state;
	handshake(&h, ctx, NULL, 0, TLS1_2_VERSION, TLS1_3_VERSION);
	assert_true(h.done);
	print_message("kernel tls layer: %s; server writes with %s\n",
	    ktls ? "yes" : "no", fc_tls_ktls_send(h.srv) ? "kTLS" :
	    "OpenSSL records");
	assert_int_equal(fc_tls_ktls_send(h.srv), ktls);
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)(i * 7);
	assert_int_equal(SSL_write_ex(h.srv, msg, sizeof(msg), &n), 1);
	/* Partial writes are on: one record per call at most. */
	assert_true(n > 0 && n <= 16384);
	while (n < sizeof(msg)) {
		size_t m;

		if (SSL_write_ex(h.srv, msg + n, sizeof(msg) - n, &m) == 1)
			n += m;
		else
			usleep(1000);
	}
	for (int i = 0; i < 2000 && off < sizeof(got); i++) {
		if (SSL_read_ex(h.cli, got + off, sizeof(got) - off, &n) == 1)
			off += n;
		else
			usleep(1000);
	}
	assert_int_equal(off, sizeof(msg));
	assert_memory_equal(got, msg, sizeof(msg));
	ERR_clear_error();
	hs_free(&h);
	SSL_CTX_free(ctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_context),
		cmocka_unit_test(test_alpn_versions),
		cmocka_unit_test(test_ktls_or_fallback),
	};

	fc_tls_init();
	return cmocka_run_group_tests(tests, setup, teardown);
}
