/*
 * tornread: many MJPEG readers with erratic reading patterns that check
 * every byte they receive (tests/integration/torn.sh).
 *
 *   tornread --port P --dir DIR [--clients N] [--seconds S] [--seed X]
 *            [--path /stream]
 *
 * DIR holds the JPEGs the server publishes (the `files` source cycling
 * them).  Each of N clients (127.0.0.1:P) asks for PATH, half of them in
 * the full framing and half in the advance framing, and reads with a
 * pattern of its own, drawn from the seed: fast (everything, often), slow
 * small reads (a few hundred bytes every few milliseconds), big reads at
 * long intervals, or normal reading with random stalls of up to 1.5 s.
 * Every part it receives must be byte for byte one of DIR's files (a part
 * mixing two frames, or a frame changed while it was being sent, matches
 * none: the check is a 64-bit FNV-1a hash plus the length), and every
 * X-Timestamp must always name the same bytes, whichever client got it.
 *
 * Prints one JSON line: clients, parts, matched, unmatched, ts_conflicts,
 * distinct_ts, failed (connections that broke), min_parts (fewest parts
 * one client got).  Exit status 0 when nothing was unmatched, conflicting
 * or broken, 1 otherwise, 2 on bad usage.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "lib/mpparse.h"

#define MAX_CLIENTS 1000
#define MAX_FILES 4096
#define TS_SLOTS (1u << 20)	/* open addressing, power of two */

enum pattern { P_FAST, P_SMALL, P_BIG_RARE, P_STALLS, P_COUNT };

struct client {
	int fd;
	enum pattern pat;
	bool failed, done;
	int64_t due_ns;			/* next read */
	uint64_t parts;
	uint64_t hash, hashed;		/* current part so far */
	struct mp_parser mp;
};

struct known {
	uint64_t hash, len;
};

static struct known files[MAX_FILES];
static size_t nfiles;
static struct {
	int64_t ts;			/* 0: empty */
	uint64_t hash;
} tsmap[TS_SLOTS];
static uint64_t parts, matched, unmatched, conflicts, distinct_ts;
static uint64_t rng;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int64_t
rnd_range(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static int64_t
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static uint64_t
fnv(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

#define FNV_START UINT64_C(0xcbf29ce484222325)

static int
load_dir(const char *dir)
{
	static unsigned char buf[64 << 20];
	char path[4096];
	struct dirent *de;
	DIR *d = opendir(dir);
	ssize_t n;
	int fd;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL && nfiles < MAX_FILES) {
		size_t l = strlen(de->d_name);

		if (l < 5 || strcmp(de->d_name + l - 4, ".jpg") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((fd = open(path, O_RDONLY)) == -1)
			continue;
		n = read(fd, buf, sizeof(buf));
		close(fd);
		if (n <= 0)
			continue;
		files[nfiles].hash = fnv(FNV_START, buf, (size_t)n);
		files[nfiles].len = (uint64_t)n;
		nfiles++;
	}
	closedir(d);
	return nfiles > 0 ? 0 : -1;
}

static int
on_data(void *arg, const void *data, size_t len)
{
	struct client *c = arg;

	c->hash = fnv(c->hash, data, len);
	c->hashed += len;
	return 0;
}

/* Same timestamp, same bytes, whichever client saw it. */
static void
check_ts(int64_t ts, uint64_t hash)
{
	uint64_t i = ((uint64_t)ts * UINT64_C(0x9e3779b97f4a7c15)) >> 44;

	for (unsigned n = 0; n < TS_SLOTS; n++, i = (i + 1) & (TS_SLOTS - 1)) {
		if (tsmap[i].ts == 0) {
			tsmap[i].ts = ts;
			tsmap[i].hash = hash;
			distinct_ts++;
			return;
		}
		if (tsmap[i].ts == ts) {
			if (tsmap[i].hash != hash)
				conflicts++;
			return;
		}
	}
}

static int
on_part(void *arg, const struct mp_part *p)
{
	struct client *c = arg;
	bool ok = false;

	parts++;
	c->parts++;
	if (p->len == c->hashed && p->jpeg_ok)
		for (size_t i = 0; i < nfiles && !ok; i++)
			ok = files[i].hash == c->hash && files[i].len == p->len;
	if (ok)
		matched++;
	else
		unmatched++;
	if (p->has_ts && p->ts_us != 0)
		check_ts(p->ts_us, c->hash);
	c->hash = FNV_START;
	c->hashed = 0;
	return 0;
}

static int
connect_to(int port, const char *path, bool advance)
{
	struct sockaddr_in a;
	char req[512];
	int fd, n;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	n = snprintf(req, sizeof(req), "GET %s%sframing=%s HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nUser-Agent: tornread\r\n\r\n", path,
	    strchr(path, '?') != NULL ? "&" : "?", advance ? "advance" : "full");
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Reads once per the client's pattern and schedules the next read. */
static void
service(struct client *c, int64_t now)
{
	static unsigned char buf[256 * 1024];
	size_t want;
	int64_t next;
	ssize_t n;

	switch (c->pat) {
	case P_FAST:
		want = sizeof(buf);
		next = 1000000;
		break;
	case P_SMALL:
		want = (size_t)rnd_range(100, 2000);
		next = rnd_range(1, 20) * 1000000;
		break;
	case P_BIG_RARE:
		want = (size_t)rnd_range(32 * 1024, 256 * 1024);
		next = rnd_range(100, 700) * 1000000;
		break;
	default:	/* P_STALLS */
		want = (size_t)rnd_range(4096, 64 * 1024);
		next = rnd() % 20 == 0 ? rnd_range(200, 1500) * 1000000 :
		    rnd_range(1, 10) * 1000000;
		break;
	}
	n = recv(c->fd, buf, want, 0);
	if (n > 0) {
		if (mp_feed(&c->mp, buf, (size_t)n) != MP_OK ||
		    (c->mp.headers_done && (c->mp.status != 200 ||
		    !c->mp.multipart)))
			c->failed = c->done = true;
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		c->failed = c->done = true;
	} else if (c->pat == P_FAST) {
		next = 2000000;
	}
	c->due_ns = now + next;
}

int
main(int argc, char **argv)
{
	static struct client cl[MAX_CLIENTS];
	const char *dir = NULL, *path = "/stream";
	int port = 0, nclients = 200, failed = 0;
	double seconds = 10;
	uint64_t min_parts = UINT64_MAX;
	int64_t end, now, next;

	rng = 88172645463325252ull;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port") == 0)
			port = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--dir") == 0)
			dir = argv[i + 1];
		else if (strcmp(argv[i], "--clients") == 0)
			nclients = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--seconds") == 0)
			seconds = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--seed") == 0)
			rng = strtoull(argv[i + 1], NULL, 0) | 1;
		else if (strcmp(argv[i], "--path") == 0)
			path = argv[i + 1];
		else
			port = -1;
	}
	if (port <= 0 || port > 65535 || dir == NULL || nclients < 1 ||
	    nclients > MAX_CLIENTS || seconds <= 0 || seconds > 600 ||
	    argc % 2 == 0) {
		fprintf(stderr, "usage: tornread --port P --dir DIR [--clients N] "
		    "[--seconds S] [--seed X] [--path /stream]\n");
		return 2;
	}
	if (load_dir(dir) == -1) {
		fprintf(stderr, "tornread: no JPEG in %s\n", dir);
		return 2;
	}
	for (int i = 0; i < nclients; i++) {
		struct client *c = &cl[i];

		mp_init(&c->mp);
		c->mp.on_part = on_part;
		c->mp.on_part_data = on_data;
		c->mp.arg = c;
		c->hash = FNV_START;
		c->pat = (enum pattern)(rnd() % P_COUNT);
		if ((c->fd = connect_to(port, path, i % 2 == 1)) == -1)
			c->failed = c->done = true;
	}
	end = now_ns() + (int64_t)(seconds * 1e9);
	while ((now = now_ns()) < end) {
		next = end;
		for (int i = 0; i < nclients; i++) {
			struct client *c = &cl[i];

			if (c->done)
				continue;
			if (c->due_ns <= now)
				service(c, now);
			if (c->due_ns < next)
				next = c->due_ns;
		}
		if (next > now) {
			int64_t d = next - now;
			struct timespec t = { (time_t)(d / 1000000000),
			    (long)(d % 1000000000) };

			nanosleep(&t, NULL);
		}
	}
	for (int i = 0; i < nclients; i++) {
		failed += cl[i].failed;
		if (cl[i].parts < min_parts)
			min_parts = cl[i].parts;
		if (cl[i].fd >= 0)
			close(cl[i].fd);
	}
	printf("{\"clients\":%d,\"parts\":%llu,\"matched\":%llu,"
	    "\"unmatched\":%llu,\"ts_conflicts\":%llu,\"distinct_ts\":%llu,"
	    "\"failed\":%d,\"min_parts\":%llu,\"files\":%zu}\n", nclients,
	    (unsigned long long)parts, (unsigned long long)matched,
	    (unsigned long long)unmatched, (unsigned long long)conflicts,
	    (unsigned long long)distinct_ts, failed,
	    (unsigned long long)min_parts, nfiles);
	return unmatched == 0 && conflicts == 0 && failed == 0 ? 0 : 1;
}
