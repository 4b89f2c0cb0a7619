/* Sealed per-frame memory files; see frame.h. */
#include "frame.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SEALS (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

/* Writes all of buf at off (a memory file takes it in one call; the loop
 * only guards against a short write). */
static int
put(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = pwrite(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static struct fc_frame *
frame_new(void)
{
	struct fc_frame *f;
	int fd;

	if ((fd = memfd_create("forkcast-frame",
	    MFD_CLOEXEC | MFD_ALLOW_SEALING)) == -1)
		return NULL;
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	f->refs = 1;
	f->fd = fd;
	return f;
}

static void
frame_free(struct fc_frame *f)
{
	int saved = errno;

	if (f->map != NULL)
		munmap(f->map, f->map_len);
	close(f->fd);
	free(f);
	errno = saved;
}

/* The JPEG is in place: writes the part head and tail around it and
 * seals the file. */
static int
frame_finish(struct fc_frame *f)
{
	char head[FC_STREAM_PART_HEAD_MAX];
	const char *tail;
	size_t hlen, tlen, full_tail;

	hlen = fc_stream_part_head(head, sizeof(head), FC_FRAMING_FULL,
	    &f->meta);
	tail = fc_stream_part_tail(FC_FRAMING_ADVANCE, &tlen);
	if (hlen == 0 || hlen > FC_FRAME_JPEG_OFF) {
		errno = EOVERFLOW;
		return -1;
	}
	if (put(f->fd, head, hlen, (off_t)(FC_FRAME_JPEG_OFF - hlen)) == -1 ||
	    put(f->fd, tail, tlen,
	    (off_t)(FC_FRAME_JPEG_OFF + f->meta.len)) == -1 ||
	    fcntl(f->fd, F_ADD_SEALS, SEALS) == -1)
		return -1;
	(void)fc_stream_part_tail(FC_FRAMING_FULL, &full_tail);
	f->full.off = (off_t)(FC_FRAME_JPEG_OFF - hlen);
	f->full.len = hlen + (size_t)f->meta.len + full_tail;
	f->advance.off = FC_FRAME_JPEG_OFF;
	f->advance.len = (size_t)f->meta.len + tlen;
	return 0;
}

static int
copy_to_file(void *arg, const void *src, size_t len)
{
	struct fc_frame *f = arg;

	return put(f->fd, src, len, FC_FRAME_JPEG_OFF);
}

enum fc_bus_result
fc_frame_from_bus(struct fc_bus *bus, uint64_t after, size_t max_len,
    struct fc_frame **out, struct fc_frame_meta *meta)
{
	struct fc_frame_meta m;
	enum fc_bus_result r;
	struct fc_frame *f;

	*out = NULL;
	/* Nothing new: no file made for nothing. */
	if (fc_bus_head(bus) <= after)
		return FC_BUS_NONE;
	if ((f = frame_new()) == NULL)
		return FC_BUS_COPY_FAILED;
	r = fc_bus_read_latest_fn(bus, after, &m, max_len, copy_to_file, f);
	if (meta != NULL && (r == FC_BUS_OK || r == FC_BUS_NOSPACE))
		*meta = m;
	if (r != FC_BUS_OK) {
		frame_free(f);
		return r;
	}
	f->meta = m;
	if (frame_finish(f) == -1) {
		frame_free(f);
		return FC_BUS_COPY_FAILED;
	}
	*out = f;
	return FC_BUS_OK;
}

struct fc_frame *
fc_frame_from_bytes(const struct fc_frame_meta *meta, const void *jpeg)
{
	struct fc_frame *f;

	if ((f = frame_new()) == NULL)
		return NULL;
	f->meta = *meta;
	if (put(f->fd, jpeg, (size_t)meta->len, FC_FRAME_JPEG_OFF) == -1 ||
	    frame_finish(f) == -1) {
		frame_free(f);
		return NULL;
	}
	return f;
}

struct fc_frame *
fc_frame_ref(struct fc_frame *f)
{
	f->refs++;
	return f;
}

void
fc_frame_unref(struct fc_frame *f)
{
	if (f == NULL || --f->refs > 0)
		return;
	frame_free(f);
}

struct fc_frame_range
fc_frame_part(const struct fc_frame *f, enum fc_framing framing)
{
	return framing == FC_FRAMING_ADVANCE ? f->advance : f->full;
}

const char *
fc_frame_map(struct fc_frame *f)
{
	size_t len = (size_t)f->advance.off + f->advance.len;
	void *p;

	if (f->map != NULL)
		return f->map;
	/* Read-only and shared: the file is sealed against writes, and
	 * the mapping could not change it anyway. */
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, f->fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	f->map = p;
	f->map_len = len;
	return f->map;
}

struct fc_frame_range
fc_frame_jpeg(const struct fc_frame *f)
{
	struct fc_frame_range r = { FC_FRAME_JPEG_OFF, (size_t)f->meta.len };

	return r;
}
