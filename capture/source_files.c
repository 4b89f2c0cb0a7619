/*
 * The files source: a folder of JPEG pictures played in a loop at the
 * configured rate (the emulated camera of the Flask article).
 *
 * At open every *.jpg / *.jpeg (any case) of the folder is read into memory
 * in byte order of the names, and checked: a regular file, not empty, not
 * larger than a bus slot (max_frame_size), a JPEG whose header decodes
 * (fc_jpeg_check).  A bad file is skipped with a warning naming it; a
 * folder that is missing, unreadable or holds no usable picture fails the
 * open with a clear reason.  Frames are passed through untouched: no
 * decoding or re-encoding per frame.
 *
 * An empty `directory` means the samples bundled with forkcast, found next
 * to the executable (see bundled_dir()).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "../common/paths.h"
#include "encode.h"
#include "source.h"

/* Upper bounds on what one folder may make us hold in memory. */
#define FILES_MAX_COUNT 10000
#define FILES_MAX_TOTAL (UINT64_C(1) << 30)

struct picture {
	uint8_t *data;
	size_t len;
	int w, h;
};

struct files {
	struct picture *pics;
	size_t count;
	size_t next;		/* index of the next picture to play */
};

static void
files_free(struct files *f)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->count; i++)
		free(f->pics[i].data);
	free(f->pics);
	free(f);
}

/*
 * Where the bundled samples are, relative to the running executable
 * (common/paths.h), first existing directory wins:
 *   EXEDIR/../tests/data/samples         build/forkcast-capture (checkout)
 *   EXEDIR/../../tests/data/samples      build/san/forkcast-capture,
 *                                        build/tools/NAME, build/tests/NAME
 *   EXEDIR/../../../tests/data/samples   build/san/tests/NAME (unit tests)
 *   EXEDIR/../../share/forkcast/samples  installed
 *                                        PREFIX/libexec/forkcast/forkcast-capture
 * Returns 0 with the path in buf, or -1 with a reason in src->error.
 */
static int
bundled_dir(struct fc_source *src, char *buf, size_t bufsize)
{
	static const char *const rel[] = {
		"../tests/data/samples",
		"../../tests/data/samples",
		"../../../tests/data/samples",
		"../../share/forkcast/samples",
	};
	if (fc_path_find(buf, bufsize, rel, sizeof(rel) / sizeof(rel[0]),
	    FC_PATH_DIR) == -1) {
		snprintf(src->error, sizeof(src->error),
		    "bundled samples not found near %.100s (set "
		    "capture.directory)", buf);
		return -1;
	}
	return 0;
}

/* The folder src reads: capture.directory, else the bundled samples.
 * One rule for files_open() and the sandbox (fc_source_files_dir), so
 * that capture is let into the folder it opens.  0, or -1 with a reason
 * in src->error. */
static int
source_dir(struct fc_source *src, char *buf, size_t len)
{
	if (src->cfg->directory[0] == '\0')
		return bundled_dir(src, buf, len);
	snprintf(buf, len, "%s", src->cfg->directory);
	return 0;
}

int
fc_source_files_dir(const struct fc_config *cfg, char *buf, size_t len)
{
	struct fc_source src;

	memset(&src, 0, sizeof(src));
	src.cfg = cfg;
	return source_dir(&src, buf, len);
}

static int
is_jpeg_name(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot == NULL || dot == name)
		return 0;
	return strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0;
}

static int
jpeg_filter(const struct dirent *d)
{
	return d->d_name[0] != '.' && is_jpeg_name(d->d_name);
}

/* Byte order of the names: independent of the locale. */
static int
name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/*
 * Reads and checks one file.  Returns 0 with *pic filled, or -1 with a
 * reason in why (the caller logs it and skips the file).
 */
static int
load_one(int dfd, const char *name, uint64_t limit, struct picture *pic,
    char *why, size_t whysize)
{
	struct stat st;
	uint8_t *data = NULL;
	size_t off = 0;
	ssize_t n;
	int fd;

	if ((fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) == -1) {
		snprintf(why, whysize, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(why, whysize, "cannot stat: %s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whysize, "not a regular file");
		goto fail;
	}
	if (st.st_size <= 0) {
		snprintf(why, whysize, "empty");
		goto fail;
	}
	if ((uint64_t)st.st_size > limit) {
		snprintf(why, whysize, "%lld bytes, larger than max_frame_size "
		    "(%llu)", (long long)st.st_size, (unsigned long long)limit);
		goto fail;
	}
	if ((data = malloc((size_t)st.st_size)) == NULL) {
		snprintf(why, whysize, "out of memory");
		goto fail;
	}
	/* The file may change under us: read at most the size seen. */
	while (off < (size_t)st.st_size) {
		n = read(fd, data + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(why, whysize, "read: %s", strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	if (fc_jpeg_check(data, off, &pic->w, &pic->h) == -1) {
		snprintf(why, whysize, "not a valid JPEG");
		goto fail;
	}
	close(fd);
	pic->data = data;
	pic->len = fc_jpeg_trim(data, off);
	return 0;
fail:
	free(data);
	close(fd);
	return -1;
}

static int
files_open(struct fc_source *src)
{
	char path[FC_CONFIG_PATH_MAX + 64], why[160];
	struct dirent **names = NULL;
	struct files *f = NULL;
	uint64_t total = 0;
	int i, n = -1, dfd = -1, rc = -1;

	if (source_dir(src, path, sizeof(path)) == -1)
		return -1;

	if ((dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(src->error, sizeof(src->error), "%.100s: %s", path,
		    strerror(errno));
		goto done;
	}
	if ((n = scandirat(dfd, ".", &names, jpeg_filter, name_cmp)) == -1) {
		snprintf(src->error, sizeof(src->error), "%.100s: %s", path,
		    strerror(errno));
		goto done;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL || (n > 0 &&
	    (f->pics = calloc((size_t)n, sizeof(*f->pics))) == NULL)) {
		snprintf(src->error, sizeof(src->error), "out of memory");
		goto done;
	}
	if (n > FILES_MAX_COUNT)
		log_warnx("files: %s: more than %d pictures, the rest is "
		    "ignored", path, FILES_MAX_COUNT);
	for (i = 0; i < n && f->count < FILES_MAX_COUNT; i++) {
		struct picture *pic = &f->pics[f->count];

		if (load_one(dfd, names[i]->d_name, src->cfg->max_frame_size,
		    pic, why, sizeof(why)) == -1) {
			log_warnx("files: %s/%s: skipped: %s", path,
			    names[i]->d_name, why);
			continue;
		}
		if (total + pic->len > FILES_MAX_TOTAL) {
			log_warnx("files: %s: more than %llu bytes of "
			    "pictures, the rest is ignored", path,
			    (unsigned long long)FILES_MAX_TOTAL);
			free(pic->data);
			pic->data = NULL;
			break;
		}
		total += pic->len;
		f->count++;
	}
	if (f->count == 0) {
		snprintf(src->error, sizeof(src->error),
		    "%.100s: no usable .jpg/.jpeg files", path);
		goto done;
	}
	log_info("files: %zu pictures from %s", f->count, path);
	src->priv = f;
	src->frame_no = 0;
	f = NULL;
	rc = 0;
done:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	files_free(f);
	if (dfd != -1)
		close(dfd);
	return rc;
}

static enum fc_src_result
files_next(struct fc_source *src, struct fc_src_frame *out, int timeout_ms)
{
	struct files *f = src->priv;
	struct picture *pic = &f->pics[f->next];

	(void)timeout_ms;
	f->next = (f->next + 1) % f->count;
	memset(out, 0, sizeof(*out));
	out->jpeg = pic->data;
	out->len = pic->len;
	out->width = (uint32_t)pic->w;
	out->height = (uint32_t)pic->h;
	out->ts_real_ns = fc_now_real_ns();
	out->ts_mono_ns = fc_now_mono_ns();
	src->frame_no++;
	return FC_SRC_OK;
}

static void
files_close(struct fc_source *src)
{
	files_free(src->priv);
	src->priv = NULL;
}

const struct fc_source_ops fc_source_files = {
	.name = "files",
	.self_paced = false,
	.open = files_open,
	.next = files_next,
	.close = files_close,
};
