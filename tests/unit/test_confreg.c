/*
 * Configuration region: publish/read round trip, read-only attach (no way
 * to write through it), checks on attach, and readers that never see a
 * half-written configuration while the supervisor publishes.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "shm_clone.h"

#include "../../common/config.h"
#include "../../common/confreg.h"

static void
load(struct fc_config *cfg, const char *text)
{
	assert_int_equal(fc_config_load_string(cfg, "t.conf", text, NULL), 0);
}

static void
test_round_trip(void **state)
{
	struct fc_confreg *w, *r;
	struct fc_config a, got;

	(void)state;
	w = fc_confreg_create();
	assert_non_null(w);
	r = fc_confreg_attach(w->fd);
	assert_non_null(r);
	assert_int_equal(fc_confreg_generation(r), 0);
	assert_int_equal(fc_confreg_read(r, &got), 0);	/* nothing yet */

	load(&a, "[server]\nworkers = 5\nauth = alice:one\n[log]\nlevel = debug\n");
	fc_confreg_publish(w, &a, 1);
	assert_int_equal(fc_confreg_generation(r), 1);
	assert_int_equal(fc_confreg_read(r, &got), 1);
	assert_memory_equal(&got, &a, sizeof(a));

	load(&a, "[server]\nauth = bob:two\n");
	fc_confreg_publish(w, &a, 2);
	assert_int_equal(fc_confreg_read(r, &got), 2);
	assert_string_equal(got.auth, "bob:two");
	assert_int_equal(got.workers, 2);
	fc_confreg_close(r);
	fc_confreg_close(w);
	fc_confreg_close(NULL);
}

/* A reader holds a read-only descriptor and mapping: it can neither
 * make its mapping writable nor map the region writable again. */
static void
test_read_only(void **state)
{
	struct fc_confreg *w, *r;
	struct fc_config a;
	pid_t pid;
	int st;
	void *m;

	(void)state;
	w = fc_confreg_create();
	assert_non_null(w);
	fc_config_defaults(&a);
	fc_confreg_publish(w, &a, 1);
	r = fc_confreg_attach(w->fd);
	assert_non_null(r);
	assert_int_equal(fcntl(r->fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_int_equal(mprotect(r->hdr, r->map_size, PROT_READ | PROT_WRITE), -1);
	assert_int_equal(errno, EACCES);
	m = mmap(NULL, r->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	assert_true(m == MAP_FAILED);
	/* A store through the mapping faults. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* cmocka and ASan catch SIGSEGV: die of it for real. */
		signal(SIGSEGV, SIG_DFL);
		((volatile char *)(void *)r->hdr)[100] = 1;
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	fc_confreg_close(r);
	fc_confreg_close(w);
}

/*
 * The TLS region: the same publish/read under a generation, attached
 * read-only, and neither kind of region passes for the other (a
 * configuration region handed over as the TLS one, or the reverse, is
 * refused on attach).
 */
static void
test_tls_region(void **state)
{
	struct fc_confreg *w, *r, *conf;
	struct fc_tls_pem *a = calloc(1, sizeof(*a)), *got = malloc(sizeof(*got));

	(void)state;
	assert_non_null(a);
	assert_non_null(got);
	w = fc_tlsreg_create();
	assert_non_null(w);
	r = fc_tlsreg_attach(w->fd);
	assert_non_null(r);
	assert_int_equal(fc_confreg_generation(r), 0);
	assert_int_equal(fc_tlsreg_read(r, got), 0);
	a->cert_len = (uint32_t)snprintf(a->cert, sizeof(a->cert), "CERT one");
	a->key_len = (uint32_t)snprintf(a->key, sizeof(a->key), "KEY one");
	fc_tlsreg_publish(w, a, 1);
	assert_int_equal(fc_tlsreg_read(r, got), 1);
	assert_string_equal(got->cert, "CERT one");
	assert_string_equal(got->key, "KEY one");
	assert_int_equal(got->key_len, 7);
	a->key_len = (uint32_t)snprintf(a->key, sizeof(a->key), "KEY two");
	fc_tlsreg_publish(w, a, 2);
	assert_int_equal(fc_confreg_generation(r), 2);
	assert_int_equal(fc_tlsreg_read(r, got), 2);
	assert_string_equal(got->key, "KEY two");
	assert_int_equal(fcntl(r->fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_int_equal(mprotect(r->hdr, r->map_size, PROT_READ | PROT_WRITE), -1);
	/* A length past its array is never handed on. */
	a->key_len = sizeof(a->key);
	fc_tlsreg_publish(w, a, 3);
	assert_int_equal(fc_tlsreg_read(r, got), 0);

	conf = fc_confreg_create();
	assert_non_null(conf);
	errno = 0;
	assert_null(fc_tlsreg_attach(conf->fd));
	assert_int_equal(errno, EPROTO);
	errno = 0;
	assert_null(fc_confreg_attach(w->fd));
	assert_int_equal(errno, EPROTO);
	fc_confreg_close(conf);
	fc_confreg_close(r);
	fc_confreg_close(w);
	free(a);
	free(got);
}

static void bad_magic(struct fc_confreg_header *h) { h->magic ^= 1; }
static void bad_version(struct fc_confreg_header *h) { h->version = 99; }
static void bad_size(struct fc_confreg_header *h) { h->payload_size--; }

static void
test_attach_checks(void **state)
{
	void (*const mutate[])(struct fc_confreg_header *) = {
		bad_magic, bad_version, bad_size,
	};
	struct fc_confreg *w;
	void *map;
	int fd;

	(void)state;
	w = fc_confreg_create();
	assert_non_null(w);
	for (size_t i = 0; i < sizeof(mutate) / sizeof(mutate[0]); i++) {
		fd = shm_clone_start(w->hdr, w->map_size, w->map_size, &map);
		mutate[i](map);
		fd = shm_clone_finish(fd, map, w->map_size, true);
		errno = 0;
		assert_null(fc_confreg_attach(fd));
		assert_int_equal(errno, EPROTO);
		close(fd);
	}
	/* not sealed against shrinking: refused */
	fd = shm_clone_start(w->hdr, w->map_size, w->map_size, &map);
	fd = shm_clone_finish(fd, map, w->map_size, false);
	assert_null(fc_confreg_attach(fd));
	close(fd);
	/* another size */
	fd = shm_clone_start(w->hdr, w->map_size, w->map_size * 2, &map);
	fd = shm_clone_finish(fd, map, w->map_size * 2, true);
	assert_null(fc_confreg_attach(fd));
	assert_int_equal(errno, EPROTO);
	close(fd);
	errno = 0;
	assert_null(fc_confreg_attach(-1));
	assert_int_equal(errno, EBADF);
	fc_confreg_close(w);
}

/*
 * The supervisor publishes two configurations in turn as fast as it can;
 * a reader in another process must only ever get one of them whole, with
 * the generation published with it.
 */
static void
test_no_torn_reads(void **state)
{
	struct fc_confreg *w, *r;
	struct fc_config a, b, got;
	pid_t pid;
	int st;
	unsigned torn = 0, reads = 0;

	(void)state;
	w = fc_confreg_create();
	assert_non_null(w);
	load(&a, "[server]\nworkers = 3\nauth = alice:aaaaaaaaaaaaaaaaaaaaaaaa\n"
	    "[capture]\nurl = http://a.example/aaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n");
	load(&b, "[server]\nworkers = 4\nauth = bob:bbbbbbbbbbbbbbbbbbbbbbbbbbbb\n"
	    "[capture]\nurl = http://b.example/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n");
	fc_confreg_publish(w, &a, 1);
	r = fc_confreg_attach(w->fd);
	assert_non_null(r);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (uint32_t g = 2; g < 200000; g++)
			fc_confreg_publish(w, (g & 1) ? &a : &b, g);
		_exit(0);
	}
	for (;;) {
		uint32_t g = fc_confreg_read(r, &got);

		if (g != 0) {
			const struct fc_config *want = (g & 1) ? &a : &b;

			reads++;
			if (memcmp(&got, want, sizeof(got)) != 0)
				torn++;
		}
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
	}
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	print_message("%u reads while publishing, %u torn\n", reads, torn);
	assert_true(reads > 0);
	assert_int_equal(torn, 0);
	fc_confreg_close(r);
	fc_confreg_close(w);
}

int
main(void)
{
	(void)sleep_ms;	/* shm_clone.h helper this test does not need */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_attach_checks),
		cmocka_unit_test(test_tls_region),
		cmocka_unit_test(test_no_torn_reads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
