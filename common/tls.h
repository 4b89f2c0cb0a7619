/*
 * TLS material for `listen = ADDR:PORT tls` (OpenSSL 3).
 *
 * The supervisor reads the certificate chain and the private key named by
 * [tls] certificate and key (fc_tls_read_files: regular files, bounded
 * size, a key no other user may read, PEM that parses, a key that matches
 * the certificate) and publishes the PEM text in the TLS region
 * (common/confreg.h fc_tlsreg_*), which only workers map.  Workers cannot
 * open files: each builds its SSL_CTX from that text in memory
 * (fc_tls_ctx_new), at start and again when a reload publishes renewed
 * files; connections already open keep the context they started with.
 *
 * The context: TLS 1.2 and 1.3 only; for TLS 1.2 only ECDHE key exchange
 * with AES-GCM or ChaCha20-Poly1305, for TLS 1.3 OpenSSL's default
 * suites; no compression, no renegotiation, no session cache or tickets
 * (each worker has its own keys, so a ticket from one would not resume on
 * another); ALPN "h2" (server/h2.h), else "http/1.1"; SSL_OP_ENABLE_KTLS, so the kernel encrypts
 * when it offers the `tls` ULP and OpenSSL writes records itself when it
 * does not (fc_tls_ktls_send tells which).
 */
#ifndef FC_TLS_H
#define FC_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

/* Largest PEM file accepted (a chain of a few certificates, or a key). */
#define FC_TLS_PEM_MAX (64 * 1024)

struct fc_tls_pem {
	uint32_t cert_len, key_len;
	char cert[FC_TLS_PEM_MAX];	/* leaf first, then the chain */
	char key[FC_TLS_PEM_MAX];
};

/* Which file a problem is about. */
enum fc_tls_file {
	FC_TLS_CERT = 0,
	FC_TLS_KEY,
};

/* Initialises OpenSSL without reading its configuration file (workers
 * have no filesystem).  Safe to call more than once. */
void fc_tls_init(void);

/*
 * Reads and checks both files into *out (which may be big: heap).  0 on
 * success; -1 with *which and a reason in why (without the path) on the
 * first problem: not a regular file, too big, unreadable, a key file that
 * other users may read or write, no certificate, an encrypted or
 * unparsable key, a key that does not match the certificate.
 */
int fc_tls_read_files(const char *cert, const char *key,
    struct fc_tls_pem *out, enum fc_tls_file *which, char *why,
    size_t whylen);

/* A server context from PEM text (see above).  NULL with a reason. */
SSL_CTX *fc_tls_ctx_new(const struct fc_tls_pem *pem, char *why,
    size_t whylen);

/* Whether the kernel encrypts what ssl sends (kTLS), once the handshake
 * is done. */
bool fc_tls_ktls_send(SSL *ssl);

/* Wipes the key text of *pem. */
void fc_tls_pem_wipe(struct fc_tls_pem *pem);

#endif
