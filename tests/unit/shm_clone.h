/*
 * Test helpers shared by the bus and control-region tests: copies of a good
 * shared-memory region in new memfds, to be edited into bad ones before the
 * attach checks see them.  Header-only (static functions) so each test still
 * links only the module it tests.
 */
#ifndef FC_TEST_SHM_CLONE_H
#define FC_TEST_SHM_CLONE_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * A new memfd of size bytes holding the first bytes of src (len long);
 * *map is a writable mapping of it (NULL when size is 0) for the caller to
 * edit before shm_clone_finish().
 */
static int
shm_clone_start(const void *src, size_t len, size_t size, void **map)
{
	int fd = memfd_create("test-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	*map = NULL;
	if (size > 0) {
		*map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		assert_true(*map != MAP_FAILED);
		memcpy(*map, src, size < len ? size : len);
	}
	return fd;
}

/* Unmaps the copy and seals it against resizing when seal is set. */
static int
shm_clone_finish(int fd, void *map, size_t size, bool seal)
{
	if (map != NULL)
		munmap(map, size);
	if (seal)
		assert_int_equal(fcntl(fd, F_ADD_SEALS,
		    F_SEAL_SHRINK | F_SEAL_GROW), 0);
	return fd;
}

#endif
