/*
 * encode_baseline: bare TurboJPEG encode time, the baseline for the capture
 * process's encode counters (tests/bench/run).
 *
 *   encode_baseline -w WIDTH -h HEIGHT [-n FRAMES] [-q QUALITY] [-f FPS]
 *
 * Builds YUV 4:2:0 planes of the same kind as the testpattern source
 * (scrolling 75% colour bars over two thirds, a luma ramp below, a dark
 * box), moves the bars every frame so no two inputs are the same, and
 * compresses them in a tight loop with tjCompressFromYUVPlanes (4:2:0, the
 * same flags as capture/encode.c: TJFLAG_FASTDCT | TJFLAG_NOREALLOC).
 * Prints one JSON line: frames, mean ns per compress call, mean JPEG size.
 * -f FPS sleeps between frames like a paced capture loop does (caches and
 * clocks go cold between frames), to tell that effect from overhead.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <turbojpeg.h>

static const uint8_t bar_y[8] = { 180, 162, 131, 112, 84, 65, 35, 16 };
static const uint8_t bar_u[8] = { 128, 44, 156, 72, 184, 100, 212, 128 };
static const uint8_t bar_v[8] = { 128, 142, 44, 58, 198, 212, 114, 128 };

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: encode_baseline -w WIDTH -h HEIGHT "
	    "[-n FRAMES] [-q QUALITY] [-f FPS]\n");
	exit(2);
}

/* Draws frame number f into the planes (w, h even). */
static void
draw(uint8_t *y, uint8_t *u, uint8_t *v, int w, int h, int f)
{
	int cw = w / 2, bars_h = (h * 2 / 3) & ~1, x, row, shift;

	shift = (f * 8) % w;
	for (row = 0; row < bars_h; row++)
		for (x = 0; x < w; x++)
			y[(size_t)row * w + x] =
			    bar_y[((x + shift) % w) * 8 / w];
	for (row = 0; row < bars_h / 2; row++)
		for (x = 0; x < cw; x++) {
			int b = ((2 * x + shift) % w) * 8 / w;

			u[(size_t)row * cw + x] = bar_u[b];
			v[(size_t)row * cw + x] = bar_v[b];
		}
	for (row = bars_h; row < h; row++)
		for (x = 0; x < w; x++)
			y[(size_t)row * w + x] =
			    (uint8_t)(16 + 219 * x / (w - 1));
	for (row = bars_h / 2; row < h / 2; row++) {
		memset(u + (size_t)row * cw, 128, (size_t)cw);
		memset(v + (size_t)row * cw, 128, (size_t)cw);
	}
	/* The text box of the pattern, with a changing "digit" inside. */
	for (row = bars_h + 16; row < bars_h + 16 + h / 12 && row < h; row++)
		for (x = w / 20; x < w / 2; x++)
			y[(size_t)row * w + x] = (uint8_t)(((x / 6 + f) % 7) ?
			    24 : 235);
}

int
main(int argc, char **argv)
{
	const unsigned char *planes[3];
	unsigned char *out = NULL, *buf = NULL;
	unsigned long size, cap;
	int64_t t0, total_ns = 0;
	uint64_t total_bytes = 0;
	int opt, w = 0, h = 0, n = 200, q = 80, fps = 0, i, rc = 1;
	int64_t next = 0;
	tjhandle tj = NULL;

	while ((opt = getopt(argc, argv, "w:h:n:q:f:")) != -1) {
		if (opt == 'w')
			w = atoi(optarg);
		else if (opt == 'h')
			h = atoi(optarg);
		else if (opt == 'n')
			n = atoi(optarg);
		else if (opt == 'q')
			q = atoi(optarg);
		else if (opt == 'f')
			fps = atoi(optarg);
		else
			usage();
	}
	if (w < 16 || h < 16 || w > 8192 || h > 8192 || (w | h) & 1 ||
	    n < 1 || q < 1 || q > 100 || fps < 0 || fps > 1000)
		usage();

	cap = tjBufSize(w, h, TJSAMP_420);
	buf = malloc((size_t)w * h * 3 / 2);
	out = tjAlloc((int)cap);
	tj = tjInitCompress();
	if (buf == NULL || out == NULL || tj == NULL) {
		fprintf(stderr, "encode_baseline: setup failed\n");
		goto done;
	}
	planes[0] = buf;
	planes[1] = buf + (size_t)w * h;
	planes[2] = buf + (size_t)w * h + (size_t)(w / 2) * (h / 2);
	for (i = 0; i < n; i++) {
		if (fps > 0) {
			int64_t now = now_ns();
			struct timespec ts;

			next = next == 0 ? now : next + 1000000000 / fps;
			if (next > now) {
				ts.tv_sec = (time_t)((next - now) / 1000000000);
				ts.tv_nsec = (long)((next - now) % 1000000000);
				nanosleep(&ts, NULL);
			}
		}
		draw(buf, buf + (size_t)w * h,
		    buf + (size_t)w * h + (size_t)(w / 2) * (h / 2), w, h, i);
		size = cap;
		t0 = now_ns();
		if (tjCompressFromYUVPlanes(tj, planes, w, NULL, h, TJSAMP_420,
		    &out, &size, q, TJFLAG_FASTDCT | TJFLAG_NOREALLOC) != 0) {
			fprintf(stderr, "encode_baseline: %s\n",
			    tjGetErrorStr2(tj));
			goto done;
		}
		total_ns += now_ns() - t0;
		total_bytes += size;
	}
	printf("{\"width\":%d,\"height\":%d,\"frames\":%d,\"quality\":%d,"
	    "\"fps\":%d,\"ns_per_frame\":%.0f,\"bytes_avg\":%.0f}\n", w, h, n,
	    q, fps, (double)total_ns / n, (double)total_bytes / n);
	rc = 0;
done:
	if (tj != NULL)
		tjDestroy(tj);
	tjFree(out);
	free(buf);
	return rc;
}
