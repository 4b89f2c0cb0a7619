/*
 * Unit tests for the v4l2 source's error paths (this machine has no
 * camera): each bad device gives a clear reason, no crash, no leak, and
 * close() accepts what a failed open left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../common/config.h"
#include "../../common/log.h"
#include "../../capture/source.h"

static void
expect_open_error(const char *device, const char *want)
{
	struct fc_config *cfg = calloc(1, sizeof(*cfg));
	struct fc_source src;
	struct fc_src_frame f;

	assert_non_null(cfg);
	snprintf(cfg->device, sizeof(cfg->device), "%s", device);
	cfg->width = 640;
	cfg->height = 480;
	cfg->fps = 30;
	memset(&src, 0, sizeof(src));
	src.ops = &fc_source_v4l2;
	src.cfg = cfg;
	assert_true(src.ops->self_paced);
	assert_int_equal(src.ops->open(&src), -1);
	print_message("%s: %s\n", device, src.error);
	if (strstr(src.error, want) == NULL)
		fail_msg("%s: error \"%s\", expected \"%s\"", device, src.error,
		    want);
	assert_null(src.priv);
	/* next() on a source that failed to open is an error, not a crash. */
	assert_int_equal(src.ops->next(&src, &f, 10), FC_SRC_ERROR);
	src.ops->close(&src);
	src.ops->close(&src);
	free(cfg);
}

static void
test_no_such_device(void **state)
{
	(void)state;
	expect_open_error("/dev/video-does-not-exist", "no such device");
	expect_open_error("", "no such device");
}

static void
test_not_v4l2(void **state)
{
	(void)state;
	/* A character device that does not speak V4L2. */
	expect_open_error("/dev/null", "is not a V4L2 device");
	expect_open_error("/dev/zero", "is not a V4L2 device");
}

static void
test_not_char_device(void **state)
{
	char path[] = "/tmp/fc-v4l2-test-XXXXXX";
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not a camera\n", 13), 13);
	close(fd);
	expect_open_error(path, "not a video capture device");
	unlink(path);
	expect_open_error("/tmp", "not a video capture device");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_such_device),
		cmocka_unit_test(test_not_v4l2),
		cmocka_unit_test(test_not_char_device),
	};

	fc_log_init("test", FC_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
