/*
 * mjpegsrv: a small MJPEG server for tests of the http source.
 *
 *   mjpegsrv --port P [--dir DIR | --count N] [--fps F] [--ts-base SEC]
 *            [--mode normal|nolength|garbage|stall|oversize|notfound|
 *                    notmultipart|hostile|refuse-after N] [--size WxH]
 *            [--save DIR]
 *
 * Listens on 127.0.0.1:P (P = 0: any free port) and prints
 * "listening on 127.0.0.1:PORT" on stdout once it accepts connections, so a
 * test can start it on port 0 and read the port back.  Each connection is
 * served by a forked child (which dies with the server) as
 * multipart/x-mixed-replace at F frames per second.
 *
 * Frames: the JPEG files of DIR (sorted, at most 64), or N small JPEGs
 * generated with TurboJPEG (default 4, 160x120 or --size), cycled.
 * --save DIR writes the frames as DIR/frame-N.jpg, so a test can compare
 * relayed bytes with what was served.
 *
 * X-Timestamp: wall time, or SEC + n/1000 for the connection's n-th frame
 * with --ts-base (so a test can check that a relay kept it).
 *
 * Modes:
 *   normal        Content-Length + X-Timestamp per part, boundary=fcframe
 *   nolength      no Content-Length (parts end at the next boundary);
 *                 the header says boundary="--fcframe" (leading dashes)
 *   garbage       junk between parts, every 3rd part corrupt (not a JPEG),
 *                 every 5th part with a malformed header
 *   stall         3 frames, then silence (the connection stays open)
 *   oversize      every other part is 1 MiB of filler
 *   notfound      answers 404
 *   notmultipart  answers 200 with Content-Type: image/jpeg
 *   hostile       terminal escapes, BEL and bare CRs in what a relay may
 *                 log: odd connections get "500 <escapes>" with hostile
 *                 headers, even ones a 200 whose Content-Type carries
 *                 escapes and 8-bit bytes (not multipart)
 *   refuse-after N  the server exits after sending N frames, so later
 *                 connections are refused
 *   flood         parts back to back, as fast as the connection takes them
 *
 * Options a hostile upstream has (with any mode that streams):
 *   --chunked       Transfer-Encoding: chunked, chunk sizes cycling
 *                   through 1, 7, 13, 64, 301, 2000 bytes, so chunk
 *                   boundaries fall inside part headers and JPEG data
 *   --auth U:P      require HTTP Basic U:P: 401 without or with others
 *   --size2 WxH --switch-after N
 *                   the frames after the N-th of a connection have size
 *                   WxH (generated frames)
 *   --cut-after N   after N parts send half of the next one, then the
 *                   whole server exits (a connection dropped mid-part;
 *                   later connections are refused)
 *   --oversize-bytes B  size of oversize mode's filler parts (1 MiB)
 *   --stats FILE    the connection's parts sent so far ("sent N"),
 *                   rewritten every 20 parts and when the connection ends
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <turbojpeg.h>

#define MAX_FRAMES 64

enum mode {
	M_NORMAL, M_NOLENGTH, M_GARBAGE, M_STALL, M_OVERSIZE, M_NOTFOUND,
	M_NOTMULTIPART, M_REFUSE_AFTER, M_HOSTILE, M_FLOOD,
};

struct frame {
	unsigned char *data;
	size_t len;
};

static struct frame frames[MAX_FRAMES];
static int nframes;
static enum mode mode = M_NORMAL;
static int refuse_after;
static double fps = 10;
static long long ts_base = -1;
static unsigned long conn_no;	/* connections accepted, this one included */
static bool chunked;
static const char *auth_b64;	/* expected Basic token, NULL: none */
static int switch_after = -1, cut_after = -1;
static size_t oversize_bytes = 1 << 20;
static const char *stats_path;
static struct frame frames2[MAX_FRAMES];
static int nframes2;

/* RFC 4648 base64 of the string s into out. */
static void
to_base64(const char *s, char *out)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s), i, o = 0;
	const unsigned char *in = (const unsigned char *)s;

	for (i = 0; i < n; i += 3) {
		unsigned long v = (unsigned long)in[i] << 16;

		if (i + 1 < n)
			v |= (unsigned long)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = abc[v >> 18];
		out[o++] = abc[(v >> 12) & 63];
		out[o++] = i + 1 < n ? abc[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? abc[v & 63] : '=';
	}
	out[o] = '\0';
}

static void
die(const char *what)
{
	fprintf(stderr, "mjpegsrv: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
usage(void)
{
	fprintf(stderr, "usage: mjpegsrv --port P [--dir DIR | --count N] "
	    "[--fps F] [--ts-base SEC] [--size WxH] [--save DIR]\n"
	    "  [--mode normal|nolength|garbage|stall|oversize|notfound|"
	    "notmultipart|hostile|flood|refuse-after N]\n"
	    "  [--chunked] [--auth U:P] [--size2 WxH --switch-after N] "
	    "[--cut-after N]\n  [--oversize-bytes B] [--stats FILE]\n");
	exit(2);
}

static void
generate_into(struct frame *fa, int *nf, int count, int w, int h)
{
	tjhandle tj = tjInitCompress();
	unsigned char *rgb = malloc((size_t)w * h * 3);

	if (tj == NULL || rgb == NULL) {
		fprintf(stderr, "mjpegsrv: cannot set up TurboJPEG\n");
		exit(1);
	}
	for (int f = 0; f < count && f < MAX_FRAMES; f++) {
		unsigned long len = 0;
		unsigned char *out = NULL;

		/* A moving bar over a gradient: frames differ visibly. */
		for (int y = 0; y < h; y++) {
			for (int x = 0; x < w; x++) {
				unsigned char *p = rgb + ((size_t)y * w + x) * 3;
				bool bar = ((x + f * 16) % w) < 12;

				p[0] = bar ? 255 : (unsigned char)(x * 255 / w);
				p[1] = bar ? 255 : (unsigned char)(y * 255 / h);
				p[2] = (unsigned char)(f * 40);
			}
		}
		if (tjCompress2(tj, rgb, w, 0, h, TJPF_RGB, &out, &len,
		    TJSAMP_420, 75, 0) != 0) {
			fprintf(stderr, "mjpegsrv: %s\n", tjGetErrorStr2(tj));
			exit(1);
		}
		fa[*nf].data = out;
		fa[*nf].len = len;
		(*nf)++;
	}
	free(rgb);
	tjDestroy(tj);
}

static void
generate(int count, int w, int h)
{
	generate_into(frames, &nframes, count, w, h);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
load_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char *names[MAX_FRAMES];
	int n = 0;

	if (d == NULL)
		die(dir);
	while ((de = readdir(d)) != NULL && n < MAX_FRAMES) {
		size_t l = strlen(de->d_name);

		if (l > 4 && (strcasecmp(de->d_name + l - 4, ".jpg") == 0 ||
		    (l > 5 && strcasecmp(de->d_name + l - 5, ".jpeg") == 0)))
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp_names);
	for (int i = 0; i < n; i++) {
		char path[4096];
		FILE *fp;
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		free(names[i]);
		if ((fp = fopen(path, "rb")) == NULL || fstat(fileno(fp), &st))
			die(path);
		frames[nframes].len = (size_t)st.st_size;
		frames[nframes].data = malloc(frames[nframes].len + 1);
		if (frames[nframes].data == NULL || fread(frames[nframes].data,
		    1, frames[nframes].len, fp) != frames[nframes].len)
			die(path);
		fclose(fp);
		nframes++;
	}
	if (nframes == 0) {
		fprintf(stderr, "mjpegsrv: no .jpg files in %s\n", dir);
		exit(1);
	}
}

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Body bytes: as they are, or as chunks of cycling sizes (--chunked). */
static int
body_write(int fd, const void *buf, size_t len)
{
	static const size_t sizes[] = { 1, 7, 13, 64, 301, 2000 };
	static unsigned next;
	const char *p = buf;
	char head[32];

	if (!chunked)
		return write_all(fd, buf, len);
	while (len > 0) {
		size_t n = sizes[next++ % (sizeof(sizes) / sizeof(sizes[0]))];
		int hl;

		if (n > len)
			n = len;
		hl = snprintf(head, sizeof(head), "%zx\r\n", n);
		if (write_all(fd, head, (size_t)hl) < 0 ||
		    write_all(fd, p, n) < 0 || write_all(fd, "\r\n", 2) < 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static void
write_stats(long sent)
{
	char tmp[4200];
	FILE *fp;

	/* Written aside and renamed: a reader never sees a partial file. */
	if (stats_path == NULL)
		return;
	snprintf(tmp, sizeof(tmp), "%s.%d", stats_path, (int)getpid());
	if ((fp = fopen(tmp, "w")) == NULL)
		return;
	fprintf(fp, "sent %ld\n", sent);
	if (fclose(fp) == 0)
		rename(tmp, stats_path);
}

/* Sleeps ms, returning -1 early when the client hung up. */
static int
wait_peer(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char junk[256];

	if (poll(&pfd, 1, ms) > 0) {
		ssize_t n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return -1;
	}
	return 0;
}

/* Reads the request head; returns whether it carried the expected
 * Authorization (true when none is required). */
static bool
read_request(int fd)
{
	char buf[4096];
	size_t len = 0;
	bool got = false;

	/* Up to the blank line, bounded in size and time. */
	while (len < sizeof(buf) - 1) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 3000) <= 0)
			break;
		if ((n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL || strstr(buf, "\n\n"))
			break;
	}
	buf[len] = '\0';
	if (auth_b64 != NULL) {
		char want[600];

		snprintf(want, sizeof(want), "\r\nAuthorization: Basic %s\r\n",
		    auth_b64);
		got = strstr(buf, want) != NULL;
	}
	return auth_b64 == NULL || got;
}

static void
serve(int fd)
{
	static const char junk[] = "\r\nthis is not a boundary -- fcframe\r\n"
	    "--fcfram\r\n\x01\x02\xff\xd8 garbage\r\n";
	char hdr[256];
	const char *boundary_param = "fcframe";
	unsigned char *filler = NULL;
	size_t filler_len = oversize_bytes;
	long n = 0;
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!read_request(fd)) {
		static const char r[] = "HTTP/1.1 401 Unauthorized\r\n"
		    "WWW-Authenticate: Basic realm=\"cam\"\r\n"
		    "Content-Length: 0\r\nConnection: close\r\n\r\n";
		write_all(fd, r, sizeof(r) - 1);
		return;
	}
	if (mode == M_NOTFOUND) {
		static const char r[] = "HTTP/1.1 404 Not Found\r\n"
		    "Content-Length: 0\r\nConnection: close\r\n\r\n";
		write_all(fd, r, sizeof(r) - 1);
		return;
	}
	if (mode == M_HOSTILE) {
		/* Clear screen, set the terminal title, bell, a bare CR that
		 * would overwrite the line, a forged log line, CSI in 8 bits. */
		static const char r500[] = "HTTP/1.0 500 \x1b[2J\x1b]0;pwned"
		    "\x07\r2026-01-01T00:00:00.000Z forkcast[1] supervisor: "
		    "info: forged\x9b" "31m\r\n"
		    "X-Evil: \x1b[31mred\x07\r\n"
		    "Content-Type: multipart/x-mixed-replace; boundary=\x1b[5m"
		    "\r\n\r\n";
		static const char r200[] = "HTTP/1.1 200 OK\r\n"
		    "Content-Type: text/html\x1b]0;pwned\x07\xff\xfe\r\n"
		    "X-Evil: \x1b[2J\r\n\r\n";

		if (conn_no % 2 == 1)
			write_all(fd, r500, sizeof(r500) - 1);
		else
			write_all(fd, r200, sizeof(r200) - 1);
		return;
	}
	if (mode == M_NOTMULTIPART) {
		snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nContent-Type: "
		    "image/jpeg\r\nContent-Length: %zu\r\n\r\n", frames[0].len);
		write_all(fd, hdr, strlen(hdr));
		write_all(fd, frames[0].data, frames[0].len);
		return;
	}
	if (mode == M_NOLENGTH)
		boundary_param = "\"--fcframe\"";
	snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nContent-Type: "
	    "multipart/x-mixed-replace; boundary=%s\r\nCache-Control: no-store"
	    "\r\n%sConnection: close\r\n\r\n", boundary_param,
	    chunked ? "Transfer-Encoding: chunked\r\n" : "");
	if (write_all(fd, hdr, strlen(hdr)) < 0)
		return;
	if (mode == M_OVERSIZE) {
		if ((filler = malloc(filler_len)) == NULL)
			return;
		memset(filler, 'x', filler_len);
	}

	for (;; n++) {
		const struct frame *fr = switch_after >= 0 && n >= switch_after ?
		    &frames2[n % nframes2] : &frames[n % nframes];
		const unsigned char *body = fr->data;
		size_t blen = fr->len;
		char ts[64];
		struct timespec now;
		int hl;

		if (mode == M_STALL && n >= 3) {
			if (wait_peer(fd, 1000) < 0)
				break;
			continue;
		}
		if (mode == M_OVERSIZE && n % 2 == 1) {
			body = filler;
			blen = filler_len;
		}
		if (mode == M_GARBAGE && n % 3 == 2) {
			body = (const unsigned char *)"this is not a jpeg";
			blen = 18;
		}
		if (ts_base >= 0) {
			snprintf(ts, sizeof(ts), "%lld.%06ld", ts_base + n / 1000,
			    (n % 1000) * 1000);
		} else {
			clock_gettime(CLOCK_REALTIME, &now);
			snprintf(ts, sizeof(ts), "%lld.%06ld",
			    (long long)now.tv_sec, now.tv_nsec / 1000);
		}
		if (mode == M_NOLENGTH)
			hl = snprintf(hdr, sizeof(hdr), "--fcframe\r\n"
			    "Content-Type: image/jpeg\r\nX-Timestamp: %s\r\n\r\n",
			    ts);
		else if (mode == M_GARBAGE && n % 5 == 4)
			hl = snprintf(hdr, sizeof(hdr), "--fcframe\r\n"
			    "Content-Type image/jpeg\r\n\r\n");
		else
			hl = snprintf(hdr, sizeof(hdr), "--fcframe\r\n"
			    "Content-Type: image/jpeg\r\nContent-Length: %zu\r\n"
			    "X-Timestamp: %s\r\n\r\n", blen, ts);
		if (mode == M_GARBAGE && body_write(fd, junk, sizeof(junk) - 1))
			break;
		if (cut_after >= 0 && n >= cut_after) {
			/* Half a part, then the server goes away. */
			body_write(fd, hdr, (size_t)hl);
			body_write(fd, body, blen / 2);
			write_stats(n);
			kill(getppid(), SIGTERM);
			break;
		}
		if (body_write(fd, hdr, (size_t)hl) < 0 ||
		    body_write(fd, body, blen) < 0 ||
		    body_write(fd, "\r\n", 2) < 0)
			break;
		if ((n + 1) % 20 == 0)
			write_stats(n + 1);
		if (mode == M_REFUSE_AFTER && n + 1 >= refuse_after) {
			/* Take the whole server down: the next connect is
			 * refused. */
			kill(getppid(), SIGTERM);
			break;
		}
		if (mode == M_FLOOD)
			continue;
		if (wait_peer(fd, (int)(1000 / fps)) < 0)
			break;
	}
	write_stats(n);
	free(filler);
}

static void
reap(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	const char *dir = NULL, *save = NULL;
	int port = -1, count = 4, w = 160, h = 120, lfd, one = 1;
	int w2 = 0, h2 = 0;
	struct sigaction sa;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--chunked") == 0) {
			chunked = true;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(a, "--port") == 0)
			port = atoi(v);
		else if (strcmp(a, "--dir") == 0)
			dir = v;
		else if (strcmp(a, "--save") == 0)
			save = v;
		else if (strcmp(a, "--count") == 0)
			count = atoi(v);
		else if (strcmp(a, "--fps") == 0)
			fps = atof(v);
		else if (strcmp(a, "--auth") == 0) {
			static char b64[600];

			if (strlen(v) > 400)
				usage();
			to_base64(v, b64);
			auth_b64 = b64;
		} else if (strcmp(a, "--size2") == 0) {
			if (sscanf(v, "%dx%d", &w2, &h2) != 2 || w2 < 8 ||
			    h2 < 8 || w2 > 4096 || h2 > 4096)
				usage();
		} else if (strcmp(a, "--switch-after") == 0)
			switch_after = atoi(v);
		else if (strcmp(a, "--cut-after") == 0)
			cut_after = atoi(v);
		else if (strcmp(a, "--oversize-bytes") == 0)
			oversize_bytes = (size_t)atol(v);
		else if (strcmp(a, "--stats") == 0)
			stats_path = v;
		else if (strcmp(a, "--ts-base") == 0)
			ts_base = atoll(v);
		else if (strcmp(a, "--size") == 0) {
			if (sscanf(v, "%dx%d", &w, &h) != 2 || w < 8 || h < 8 ||
			    w > 4096 || h > 4096)
				usage();
		} else if (strcmp(a, "--mode") == 0) {
			if (strcmp(v, "normal") == 0)
				mode = M_NORMAL;
			else if (strcmp(v, "nolength") == 0)
				mode = M_NOLENGTH;
			else if (strcmp(v, "garbage") == 0)
				mode = M_GARBAGE;
			else if (strcmp(v, "stall") == 0)
				mode = M_STALL;
			else if (strcmp(v, "oversize") == 0)
				mode = M_OVERSIZE;
			else if (strcmp(v, "notfound") == 0)
				mode = M_NOTFOUND;
			else if (strcmp(v, "notmultipart") == 0)
				mode = M_NOTMULTIPART;
			else if (strcmp(v, "hostile") == 0)
				mode = M_HOSTILE;
			else if (strcmp(v, "flood") == 0)
				mode = M_FLOOD;
			else if (strcmp(v, "refuse-after") == 0 && i + 1 < argc) {
				mode = M_REFUSE_AFTER;
				refuse_after = atoi(argv[++i]);
				if (refuse_after < 1)
					usage();
			} else
				usage();
		} else
			usage();
	}
	if (port < 0 || port > 65535 || fps <= 0 || fps > 1000 || count < 1)
		usage();
	if (dir != NULL)
		load_dir(dir);
	else
		generate(count, w, h);
	if (switch_after >= 0 && (w2 == 0 || dir != NULL))
		usage();
	if (switch_after >= 0)
		generate_into(frames2, &nframes2, count, w2, h2);
	if (oversize_bytes < 1 || oversize_bytes > (64u << 20))
		usage();
	for (int i = 0; save != NULL && i < nframes; i++) {
		char path[4096];
		FILE *fp;

		snprintf(path, sizeof(path), "%s/frame-%d.jpg", save, i);
		if ((fp = fopen(path, "wb")) == NULL ||
		    fwrite(frames[i].data, 1, frames[i].len, fp) !=
		    frames[i].len || fclose(fp) != 0)
			die(path);
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = reap;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("bind");
	if (listen(lfd, 64) < 0)
		die("listen");
	if (getsockname(lfd, (struct sockaddr *)&sin, &sl) < 0)
		die("getsockname");
	printf("listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));
	fflush(stdout);

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		pid_t pid;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept");
		}
		conn_no++;
		if ((pid = fork()) < 0)
			die("fork");
		if (pid == 0) {
			/* Die with the server, so a test that kills the
			 * server by pid leaves no stray children. */
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			if (getppid() == 1)
				_exit(0);
			close(lfd);
			serve(fd);
			close(fd);
			_exit(0);
		}
		close(fd);
	}
}
