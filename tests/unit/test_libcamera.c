/*
 * Unit tests for the libcamera source.  Built without libcamera, open()
 * must say so; built with it, this machine has no camera, so open() must
 * fail with a clear "no camera" reason (or, if a camera is present, a
 * frame must come within 5 s).  Either way: no crash, no leak, and close()
 * accepts a failed open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../common/config.h"
#include "../../common/log.h"
#include "../../capture/encode.h"
#include "../../capture/source.h"

static void
test_open(void **state)
{
	struct fc_config *cfg = calloc(1, sizeof(*cfg));
	struct fc_source src;
	struct fc_src_frame f;
	enum fc_src_result r;

	(void)state;
	assert_non_null(cfg);
	cfg->width = 640;
	cfg->height = 480;
	cfg->fps = 30;
	memset(&src, 0, sizeof(src));
	src.ops = &fc_source_libcamera;
	src.cfg = cfg;
	src.enc = fc_encoder_new(80);
	assert_non_null(src.enc);
	assert_true(src.ops->self_paced);
	if (src.ops->open(&src) == 0) {
		/* A real camera: one frame within 5 s. */
		for (int i = 0; i < 25; i++)
			if ((r = src.ops->next(&src, &f, 200)) != FC_SRC_AGAIN)
				break;
		print_message("camera present: next -> %d (%s)\n", r,
		    src.error);
		assert_int_equal(r, FC_SRC_OK);
		src.ops->close(&src);
	} else {
		print_message("open: %s\n", src.error);
		/* Whether the source was built with the shim is decided by
		 * its own object (FC_HAVE_LIBCAMERA), not by this file. */
		if (strstr(src.error, "no camera found") == NULL &&
		    strstr(src.error, "camera manager") == NULL &&
		    strstr(src.error, "built without libcamera") == NULL)
			fail_msg("unexpected error \"%s\"", src.error);
		assert_null(src.priv);
		src.ops->close(&src);
	}
	/* A named camera that does not exist. */
	snprintf(cfg->camera, sizeof(cfg->camera), "/no/such/camera");
	assert_int_equal(src.ops->open(&src), -1);
	print_message("open(named): %s\n", src.error);
	assert_true(src.error[0] != '\0');
	src.ops->close(&src);
	fc_encoder_free(src.enc);
	free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open),
	};

	/* Keep libcamera's own INFO/WARN lines out of the test output. */
	setenv("LIBCAMERA_LOG_LEVELS", "*:ERROR", 0);
	fc_log_init("test", FC_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
