/*
 * Files source: plays the JPEGs of a folder in name order, skips bad
 * files, refuses empty and missing folders, finds the bundled samples.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../capture/encode.h"
#include "../../capture/source.h"
#include "../../common/log.h"

static char tmpdir[64];

/* Writes a w x h grey JPEG (noisy when noisy, to make it large). */
static size_t
write_jpeg(const char *name, int w, int h, int noisy, size_t pad)
{
	struct fc_encoder *enc = fc_encoder_new(95);
	const uint8_t *planes[3];
	uint8_t *y, *c, *jpeg;
	char path[256];
	size_t len, i;
	FILE *f;

	y = malloc((size_t)w * h);
	c = malloc((size_t)w * h / 2);
	assert_non_null(y);
	assert_non_null(c);
	for (i = 0; i < (size_t)w * h; i++)
		y[i] = noisy ? (uint8_t)((i * 7919u) ^ (i >> 3) * 31u) : 100;
	memset(c, 128, (size_t)w * h / 2);
	planes[0] = y;
	planes[1] = c;
	planes[2] = c + w * h / 4;
	assert_int_equal(fc_encoder_yuv420(enc, planes, NULL, w, h, &jpeg,
	    &len), 0);
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(jpeg, 1, len, f), len);
	for (i = 0; i < pad; i++)
		fputc(0, f);
	fclose(f);
	fc_encoder_free(enc);
	free(y);
	free(c);
	return len;
}

static void
write_bytes(const char *name, const void *data, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_non_null(f = fopen(path, "w"));
	if (len > 0)
		assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static int
make_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/fc-test-files-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
remove_dir(void **state)
{
	char cmd[128];

	(void)state;
	/* Our own mkdtemp directory only. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
init(struct fc_source *src, struct fc_config *cfg, const char *dir)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->source = FC_SOURCE_FILES;
	cfg->width = 64;
	cfg->height = 48;
	cfg->fps = 10;
	cfg->max_frame_size = 1 << 20;
	snprintf(cfg->directory, sizeof(cfg->directory), "%s", dir);
	memset(src, 0, sizeof(*src));
	src->ops = &fc_source_files;
	src->cfg = cfg;
}

static void
expect_frame(struct fc_source *src, uint32_t w, size_t len)
{
	struct fc_src_frame f;

	assert_int_equal(src->ops->next(src, &f, 0), FC_SRC_OK);
	assert_int_equal(f.width, w);
	assert_int_equal(f.height, 16);
	assert_int_equal(f.len, len);
	assert_false(f.broken);
	assert_true(f.ts_real_ns > 0 && f.ts_mono_ns > 0);
	assert_int_equal(fc_jpeg_check(f.jpeg, f.len, NULL, NULL), 0);
}

static void
test_good_dir_in_name_order(void **state)
{
	struct fc_config cfg;
	struct fc_source src;
	size_t la, lb, lc;

	(void)state;
	/* Widths tell the files apart; names in byte order a, b, c. */
	lb = write_jpeg("b.jpg", 48, 16, 0, 0);
	la = write_jpeg("a.JPEG", 32, 16, 0, 0);
	lc = write_jpeg("c.jpg", 64, 16, 0, 37);	/* zero padded */
	write_bytes("notes.txt", "hello", 5);
	write_bytes(".hidden.jpg", "junk", 4);
	init(&src, &cfg, tmpdir);
	assert_int_equal(src.ops->open(&src), 0);
	expect_frame(&src, 32, la);
	expect_frame(&src, 48, lb);
	expect_frame(&src, 64, lc);	/* padding trimmed */
	expect_frame(&src, 32, la);	/* and round again */
	assert_int_equal(src.frame_no, 4);
	src.ops->close(&src);
	src.ops->close(&src);
	assert_null(src.priv);
}

static void
test_bad_files_skipped(void **state)
{
	static const uint8_t garbage[] = "this is not a picture at all";
	struct fc_config cfg;
	struct fc_source src;
	uint8_t *buf;
	size_t lg, lbig;
	char path[256];
	FILE *f;

	(void)state;
	lg = write_jpeg("good.jpg", 48, 16, 0, 0);
	lbig = write_jpeg("big.jpg", 256, 256, 1, 0);
	write_bytes("garbage.jpg", garbage, sizeof(garbage));
	write_bytes("empty.jpg", "", 0);
	/* A truncated copy of good.jpg. */
	buf = malloc(lg);
	assert_non_null(buf);
	snprintf(path, sizeof(path), "%s/good.jpg", tmpdir);
	assert_non_null(f = fopen(path, "r"));
	assert_int_equal(fread(buf, 1, lg, f), lg);
	fclose(f);
	write_bytes("truncated.jpg", buf, lg / 2);
	free(buf);
	snprintf(path, sizeof(path), "%s/dir.jpg", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);

	init(&src, &cfg, tmpdir);
	cfg.max_frame_size = lbig - 1;	/* big.jpg is too large */
	assert_true(lg < cfg.max_frame_size);
	assert_int_equal(src.ops->open(&src), 0);
	expect_frame(&src, 48, lg);
	expect_frame(&src, 48, lg);
	src.ops->close(&src);
}

static void
test_empty_dir(void **state)
{
	struct fc_config cfg;
	struct fc_source src;

	(void)state;
	write_bytes("readme.txt", "x", 1);
	init(&src, &cfg, tmpdir);
	assert_int_equal(src.ops->open(&src), -1);
	assert_non_null(strstr(src.error, "no usable"));
	assert_non_null(strstr(src.error, tmpdir));
	src.ops->close(&src);
}

static void
test_missing_dir(void **state)
{
	struct fc_config cfg;
	struct fc_source src;
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/does-not-exist", tmpdir);
	init(&src, &cfg, path);
	assert_int_equal(src.ops->open(&src), -1);
	assert_non_null(strstr(src.error, "does-not-exist"));
	assert_non_null(strstr(src.error, strerror(ENOENT)));
	src.ops->close(&src);
}

static void
test_bundled_samples(void **state)
{
	struct fc_config cfg;
	struct fc_source src;
	struct fc_src_frame f;
	int i;

	(void)state;
	init(&src, &cfg, "");
	assert_int_equal(src.ops->open(&src), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(src.ops->next(&src, &f, 0), FC_SRC_OK);
		assert_int_equal(fc_jpeg_check(f.jpeg, f.len, NULL, NULL), 0);
		assert_true(f.width > 0 && f.height > 0);
	}
	src.ops->close(&src);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_dir_in_name_order,
		    make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_bad_files_skipped,
		    make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_empty_dir, make_dir,
		    remove_dir),
		cmocka_unit_test_setup_teardown(test_missing_dir, make_dir,
		    remove_dir),
		cmocka_unit_test(test_bundled_samples),
	};

	fc_log_init("test", FC_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
