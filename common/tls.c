/* TLS material and the server context; see tls.h. */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* TLS 1.2 suites: forward secrecy and AEAD only. */
#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20"

void
fc_tls_init(void)
{
	(void)OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
}

/* The newest OpenSSL error as text, or fallback; clears the queue. */
static void
ssl_reason(char *why, size_t whylen, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char buf[160];

	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(why, whylen, "%s (%s)", what, buf);
	} else {
		snprintf(why, whylen, "%s", what);
	}
	ERR_clear_error();
}

/* Reads a whole PEM file of at most FC_TLS_PEM_MAX - 1 bytes. */
static int
read_pem(const char *path, bool secret, char *buf, uint32_t *len, char *why,
    size_t whylen)
{
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) == -1) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(why, whylen, "%s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		goto fail;
	}
	if (secret && (st.st_mode & S_IRWXO) != 0) {
		snprintf(why, whylen, "other users may read or change the "
		    "private key (mode %04o); chmod o-rwx it",
		    (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	if (st.st_size >= FC_TLS_PEM_MAX) {
		snprintf(why, whylen, "larger than %d bytes", FC_TLS_PEM_MAX - 1);
		goto fail;
	}
	for (;;) {
		n = read(fd, buf + got, FC_TLS_PEM_MAX - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, whylen, "%s", strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == FC_TLS_PEM_MAX - 1) {
			snprintf(why, whylen, "larger than %d bytes",
			    FC_TLS_PEM_MAX - 1);
			goto fail;
		}
	}
	close(fd);
	buf[got] = '\0';
	*len = (uint32_t)got;
	return 0;
fail:
	close(fd);
	return -1;
}

/* Refuses encrypted keys: nobody is there to type a passphrase. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* Puts the chain and the key of pem into ctx; -1 with *which and why. */
static int
use_pem(SSL_CTX *ctx, const struct fc_tls_pem *pem, enum fc_tls_file *which,
    char *why, size_t whylen)
{
	BIO *bio;
	X509 *x;
	EVP_PKEY *key;
	int n = 0;

	*which = FC_TLS_CERT;
	if ((bio = BIO_new_mem_buf(pem->cert, (int)pem->cert_len)) == NULL) {
		ssl_reason(why, whylen, "out of memory");
		return -1;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) != NULL) {
		if ((n == 0 ? SSL_CTX_use_certificate(ctx, x) :
		    SSL_CTX_add1_chain_cert(ctx, x)) != 1) {
			X509_free(x);
			BIO_free(bio);
			ssl_reason(why, whylen, "certificate not accepted");
			return -1;
		}
		X509_free(x);
		n++;
	}
	BIO_free(bio);
	if (n == 0) {
		ssl_reason(why, whylen, "no PEM certificate in the file");
		return -1;
	}
	/* The loop ends at the end of the file ("no start line"), or at a
	 * certificate of the chain that does not parse: refused, not
	 * dropped. */
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
		char what[64];

		snprintf(what, sizeof(what), "certificate %d of the file does "
		    "not parse", n + 1);
		ssl_reason(why, whylen, what);
		return -1;
	}
	ERR_clear_error();

	*which = FC_TLS_KEY;
	if ((bio = BIO_new_mem_buf(pem->key, (int)pem->key_len)) == NULL) {
		ssl_reason(why, whylen, "out of memory");
		return -1;
	}
	key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (key == NULL) {
		ssl_reason(why, whylen, "no unencrypted PEM private key in the "
		    "file");
		return -1;
	}
	if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), key) != 1) {
		EVP_PKEY_free(key);
		ssl_reason(why, whylen, "the private key does not match the "
		    "certificate");
		return -1;
	}
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1) {
		EVP_PKEY_free(key);
		ssl_reason(why, whylen, "private key not accepted");
		return -1;
	}
	EVP_PKEY_free(key);
	return 0;
}

/* ALPN: h2 when the client offers it, else HTTP/1.1; no ALPN answer
 * when it offers neither. */
static int
select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char ours[] = "\x02h2\x08http/1.1";
	unsigned char *sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in,
	    inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *
ctx_build(const struct fc_tls_pem *pem, enum fc_tls_file *which, char *why,
    size_t whylen)
{
	SSL_CTX *ctx;

	fc_tls_init();
	*which = FC_TLS_CERT;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		ssl_reason(why, whylen, "SSL_CTX_new failed");
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
		ssl_reason(why, whylen, "cannot set the protocol versions");
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_TICKET | SSL_OP_ENABLE_KTLS | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* Writes may end mid-buffer and be retried from a moved pointer
	 * (client.c); idle connections give their record buffers back. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
	if (use_pem(ctx, pem, which, why, whylen) == -1)
		goto fail;
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *
fc_tls_ctx_new(const struct fc_tls_pem *pem, char *why, size_t whylen)
{
	enum fc_tls_file which;

	return ctx_build(pem, &which, why, whylen);
}

int
fc_tls_read_files(const char *cert, const char *key, struct fc_tls_pem *out,
    enum fc_tls_file *which, char *why, size_t whylen)
{
	SSL_CTX *ctx;

	memset(out, 0, offsetof(struct fc_tls_pem, cert));
	*which = FC_TLS_CERT;
	if (read_pem(cert, false, out->cert, &out->cert_len, why, whylen) == -1)
		return -1;
	*which = FC_TLS_KEY;
	if (read_pem(key, true, out->key, &out->key_len, why, whylen) == -1) {
		fc_tls_pem_wipe(out);	/* a part may have been read */
		return -1;
	}
	if ((ctx = ctx_build(out, which, why, whylen)) == NULL) {
		fc_tls_pem_wipe(out);
		return -1;
	}
	SSL_CTX_free(ctx);
	return 0;
}

bool
fc_tls_ktls_send(SSL *ssl)
{
	return BIO_get_ktls_send(SSL_get_wbio(ssl)) != 0;
}

void
fc_tls_pem_wipe(struct fc_tls_pem *pem)
{
	OPENSSL_cleanse(pem->key, sizeof(pem->key));
	pem->key_len = 0;
}
