/*
 * jpegcheck FILE...: for each file, checks it the way capture does
 * (fc_jpeg_check) and decodes it completely (tjDecompress2), then prints
 * "FILE WIDTH HEIGHT".  Exit status 1 when any file fails.  Used by the
 * integration tests to prove dumped frames are real pictures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <turbojpeg.h>

#include "../../capture/encode.h"

static int
check(const char *path, tjhandle tj)
{
	unsigned char *buf = NULL, *pix = NULL;
	long len;
	int w, h, rc = -1;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL) {
		perror(path);
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) <= 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)len)) == NULL ||
	    fread(buf, 1, (size_t)len, f) != (size_t)len) {
		fprintf(stderr, "%s: cannot read\n", path);
		goto done;
	}
	if (fc_jpeg_check(buf, (size_t)len, &w, &h) == -1) {
		fprintf(stderr, "%s: not a valid JPEG\n", path);
		goto done;
	}
	if ((pix = malloc((size_t)w * h * 3)) == NULL ||
	    tjDecompress2(tj, buf, (unsigned long)len, pix, w, 0, h, TJPF_RGB,
	    0) != 0) {
		fprintf(stderr, "%s: decode failed: %s\n", path,
		    tjGetErrorStr2(tj));
		goto done;
	}
	printf("%s %d %d\n", path, w, h);
	rc = 0;
done:
	free(pix);
	free(buf);
	fclose(f);
	return rc;
}

int
main(int argc, char **argv)
{
	tjhandle tj;
	int i, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: jpegcheck FILE...\n");
		return 2;
	}
	if ((tj = tjInitDecompress()) == NULL)
		return 1;
	for (i = 1; i < argc; i++)
		if (check(argv[i], tj) == -1)
			rc = 1;
	tjDestroy(tj);
	return rc;
}
