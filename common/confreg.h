/*
 * The configuration region: a memfd (sealed against resizing, see shm.h)
 * the supervisor writes and every child maps read-only.  It holds the
 * configuration in force (the whole validated struct fc_config, which is
 * fixed-size and pointer-free) and its generation number.
 *
 * This is how a reload reaches processes that are already running: the
 * supervisor validates the new file, publishes the struct here with the
 * next generation, and each worker (on its next 250 ms tick) and capture
 * (within 200 ms, see fc_capture_opts.each_turn) copy it and apply it,
 * then report the generation they run in the control region.  Children
 * never read the configuration file themselves: they get the validated
 * struct from here.
 *
 * One writer (the supervisor), any number of readers, no lock: the struct
 * is written under a sequence counter (odd while writing) and a reader
 * retries its copy until the counter was even and unchanged around it.  A
 * compromised child cannot change what the others read: it only has a
 * read-only descriptor and mapping (see fc_confreg_attach).
 */
#ifndef FC_CONFREG_H
#define FC_CONFREG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "tls.h"

#define FC_CONFREG_MAGIC UINT64_C(0x4746434e4f435446)	/* "FTCONCFG" */
#define FC_TLSREG_MAGIC UINT64_C(0x534c544e4f435446)	/* "FTCONTLS" */
#define FC_CONFREG_VERSION 2

struct fc_confreg_header {
	uint64_t magic;
	uint32_t version;
	uint32_t payload_size;		/* sizeof the struct that follows, as the
					 * writer built it */
	_Atomic uint32_t seq;		/* odd while the struct is being written */
	_Atomic uint32_t generation;	/* of the struct below, 0 = none yet */
	uint8_t reserved[40];
};
_Static_assert(sizeof(struct fc_confreg_header) == 64,
    "the configuration follows the header at offset 64");

struct fc_confreg {
	int fd;				/* memfd, -1 when closed */
	size_t map_size;
	struct fc_confreg_header *hdr;
	const void *payload;		/* in the mapping, after hdr */
	size_t payload_size;
};

/* Creates the region (supervisor).  NULL + errno. */
struct fc_confreg *fc_confreg_create(void);

/*
 * Maps an existing region read-only through a new read-only descriptor
 * (the caller may close fd afterwards).  Checks magic, version, the
 * struct size and the file size.  NULL + errno (EPROTO for a region of
 * another build).
 */
struct fc_confreg *fc_confreg_attach(int fd);

/* Unmaps and closes; accepts NULL. */
void fc_confreg_close(struct fc_confreg *r);

/* Supervisor: publishes cfg as generation gen (gen > 0). */
void fc_confreg_publish(struct fc_confreg *r, const struct fc_config *cfg,
    uint32_t gen);

/* Generation currently published (cheap: one atomic load). */
uint32_t fc_confreg_generation(const struct fc_confreg *r);

/*
 * Copies the published configuration into *out and returns its
 * generation (0 when nothing was published yet, or when a consistent copy
 * could not be taken after many tries: the caller keeps what it has and
 * tries again later).  Every string of the copy is NUL-terminated.
 */
uint32_t fc_confreg_read(const struct fc_confreg *r, struct fc_config *out);

/*
 * The TLS region: the same kind of region holding a struct fc_tls_pem
 * (the certificate chain and private key the supervisor read), created
 * only when some listen address is marked tls and mapped only by workers
 * (capture never gets its descriptor: the key is no business of a process
 * that parses camera and upstream data).  A reload publishes renewed files
 * under the next generation; each worker builds a new SSL_CTX from them.
 * fc_confreg_generation() and fc_confreg_close() work on it.
 */
struct fc_confreg *fc_tlsreg_create(void);
struct fc_confreg *fc_tlsreg_attach(int fd);
void fc_tlsreg_publish(struct fc_confreg *r, const struct fc_tls_pem *pem,
    uint32_t gen);
/* As fc_confreg_read(); lengths are checked to fit their arrays. */
uint32_t fc_tlsreg_read(const struct fc_confreg *r, struct fc_tls_pem *out);

#endif
