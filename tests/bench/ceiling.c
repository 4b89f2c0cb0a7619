/*
 * ceiling: the loopback baseline of the benchmark (tests/bench/run).
 *
 *   ceiling -p PORT -d DIR [-f FPS] [-s] [-r] [-w N]
 *
 * The least a fan-out server can do: it listens on 127.0.0.1:PORT, answers
 * every connection at accept (with -r, below, once the first bytes of its
 * request came) with a minimal multipart/x-mixed-replace
 * response header (no HTTP parsing: request bytes are read and thrown
 * away), and at FPS frames per second sends the next JPEG of DIR (*.jpg in
 * name order, loaded once) to every connection with one writev.  One
 * process (N with -w), one epoll loop each, non-blocking sockets with TCP_NODELAY, no frame
 * bus, no copies.  A client still busy with the previous part skips the new
 * one at the tick and starts the newest part as soon as it has finished
 * (the rule forkcast follows), so a slow reader costs nothing extra and a
 * tick that takes long does not halve everyone's rate.
 *
 * -s sends with sendfile() instead (what a static file server such as
 * nginx does): each tick's part (header and JPEG) is written once into a
 * memory file and every client's send is a sendfile() of it, so the kernel
 * queues page references instead of copying the bytes per client.  The
 * file is never written again; the last reference closes it.
 *
 * -r answers a connection only once the first bytes of its request came,
 * as an HTTP server must wait for a request.  Without it the response header goes out at accept, and the
 * client's kernel was seen (tcpdump) to acknowledge every second part as it
 * arrives, where against forkcast, which answers after the request, it
 * acknowledges every part as the client reads it (Linux's delayed-ACK
 * "ping-pong" mode, we take it, entered when the client sent its request
 * soon after receiving data).  That halves the client's ACKs, and on
 * loopback the work they cost, which runs in the client's context.
 *
 * -w N runs N processes (the first one and N-1 children), each with its own
 * listening socket on PORT (SO_REUSEPORT: the kernel spreads connections over
 * them by address hash, so not exactly evenly) and its own timer, the ticks
 * of all of them aligned to one start: what a server with N workers does at
 * least.  SIGTERM or SIGINT to the first one ends the children too.
 *
 * Parts carry Content-Length and X-Timestamp (the tick that produced them),
 * so tests/tools/fcclient measures it exactly like forkcast.  On SIGTERM or
 * SIGINT each process prints one JSON line (bytes written, ticks, most
 * clients at once), and the first one exits 0 once its children ended.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define MAX_PICTURES 1000
#define MAX_PICTURE (8u << 20)
#define MAX_PROCS 16
#define BOUNDARY "ceilingframe"

static const char response[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: multipart/x-mixed-replace;boundary=" BOUNDARY "\r\n"
    "Cache-Control: no-store\r\n"
    "Connection: close\r\n"
    "\r\n";

struct picture {
	unsigned char *data;
	size_t len;
};

/* One tick's part, shared by every client that sends it. */
struct part {
	unsigned refs;
	uint64_t seq;		/* tick number */
	size_t hlen;
	size_t jlen;
	const unsigned char *jpeg;
	int fd;			/* -s: the part in a memory file, else -1 */
	char hdr[160];		/* "\r\n--b\r\n...\r\n\r\n" */
};

struct client {
	int fd;			/* -1 once closed (freed after the batch) */
	struct client *next_dead;
	size_t index;		/* in the clients array */
	bool first;		/* next part is the first: no leading CRLF */
	bool want_out;		/* EPOLLOUT registered */
	struct part *cur;	/* part being sent, or NULL */
	uint64_t last_seq;	/* last part sent */
	size_t off;		/* bytes of cur already sent */
	bool answered;		/* the response header went out */
};

static struct picture pics[MAX_PICTURES];
static size_t npics;
static struct client **clients;
static struct client *dead;		/* closed, freed after the batch */
static struct part *latest;		/* newest part (one reference) */
static size_t nclients, capclients, maxclients;
static uint64_t bytes_out, ticks;
static volatile sig_atomic_t stop;
static bool use_sendfile, reply_after_request;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static _Noreturn void
usage(void)
{
	fprintf(stderr,
	    "usage: ceiling -p PORT -d DIR [-f FPS] [-s] [-r] [-w N]\n");
	exit(2);
}

/* Ends children[1..n-1] and waits for them. */
static void
stop_children(const pid_t *children, long n)
{
	for (long i = 1; i < n; i++)
		kill(children[i], SIGTERM);
	for (long i = 1; i < n; i++)
		waitpid(children[i], NULL, 0);
}

static int
jpg_name(const struct dirent *d)
{
	const char *dot = strrchr(d->d_name, '.');

	return dot != NULL && strcmp(dot, ".jpg") == 0;
}

/* Loads the .jpg files of DIR in name order; 0, or -1 with a message. */
static int
load_pictures(const char *dir)
{
	struct dirent **names;
	char path[4096];
	struct stat st;
	int i, n, fd;

	if ((n = scandir(dir, &names, jpg_name, alphasort)) == -1) {
		perror(dir);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (npics < MAX_PICTURES) {
			snprintf(path, sizeof(path), "%s/%s", dir,
			    names[i]->d_name);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd != -1 && fstat(fd, &st) == 0 && st.st_size > 0 &&
			    (size_t)st.st_size <= MAX_PICTURE &&
			    (pics[npics].data = malloc((size_t)st.st_size)) !=
			    NULL &&
			    read(fd, pics[npics].data, (size_t)st.st_size) ==
			    st.st_size)
				pics[npics++].len = (size_t)st.st_size;
			if (fd != -1)
				close(fd);
		}
		free(names[i]);
	}
	free(names);
	if (npics == 0) {
		fprintf(stderr, "ceiling: %s: no readable *.jpg\n", dir);
		return -1;
	}
	return 0;
}

static void
part_unref(struct part *p)
{
	if (p != NULL && --p->refs == 0) {
		if (p->fd != -1)
			close(p->fd);
		free(p);
	}
}

static void
client_close(int ep, struct client *c)
{
	struct client *last;

	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	part_unref(c->cur);
	c->cur = NULL;
	last = clients[--nclients];
	clients[c->index] = last;
	last->index = c->index;
	/* Later events of this epoll batch may still point at it. */
	c->next_dead = dead;
	dead = c;
}

static int
set_out(int ep, struct client *c, bool on)
{
	struct epoll_event ev;

	if (c->want_out == on)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
	ev.data.ptr = c;
	c->want_out = on;
	return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Sends what it can of the client's part; false when the client is gone. */
static bool
client_push(int ep, struct client *c)
{
	struct part *p = c->cur;
	struct iovec iov[2];
	size_t skip = c->first ? 2 : 0, total, off;
	ssize_t n;
	int k = 0;

	total = p->hlen - skip + p->jlen;
	off = c->off;
	if (p->fd != -1) {
		off_t foff = (off_t)(skip + off);

		n = sendfile(c->fd, p->fd, &foff, total - off);
	} else if (off < p->hlen - skip) {
		iov[k].iov_base = p->hdr + skip + off;
		iov[k++].iov_len = p->hlen - skip - off;
		iov[k].iov_base = (void *)(uintptr_t)p->jpeg;
		iov[k++].iov_len = p->jlen;
		n = writev(c->fd, iov, k);
	} else {
		off -= p->hlen - skip;
		iov[k].iov_base = (void *)(uintptr_t)(p->jpeg + off);
		iov[k++].iov_len = p->jlen - off;
		n = writev(c->fd, iov, k);
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return set_out(ep, c, true) == 0;
		return false;
	}
	bytes_out += (uint64_t)n;
	c->off += (size_t)n;
	if (c->off < total)
		return set_out(ep, c, true) == 0;
	c->last_seq = p->seq;
	part_unref(p);
	c->cur = NULL;
	c->off = 0;
	c->first = false;
	/* A tick came while it was busy: the newest part, now. */
	if (latest != NULL && latest->seq != c->last_seq) {
		c->cur = latest;
		latest->refs++;
		return client_push(ep, c);
	}
	return set_out(ep, c, false) == 0;
}

/* The response header; false when it did not all go out (an empty socket
 * buffer always takes it, so the client is gone). */
static bool
answer(struct client *c)
{
	if (send(c->fd, response, sizeof(response) - 1, MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(response) - 1)
		return false;
	bytes_out += sizeof(response) - 1;
	c->answered = true;
	return true;
}

static void
accept_all(int ep, int lfd)
{
	struct epoll_event ev;
	struct client *c, **grown;
	int fd, one = 1;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) != -1) {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (nclients == capclients) {
			size_t cap = capclients ? capclients * 2 : 1024;

			if ((grown = realloc(clients, cap * sizeof(*grown))) ==
			    NULL) {
				close(fd);
				continue;
			}
			clients = grown;
			capclients = cap;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->first = true;
		if (!reply_after_request && !answer(c)) {
			free(c);
			close(fd);
			continue;
		}
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			free(c);
			close(fd);
			continue;
		}
		c->index = nclients;
		clients[nclients++] = c;
		if (nclients > maxclients)
			maxclients = nclients;
	}
}

/* Request bytes are discarded (with -r, the first ones are answered);
 * false on EOF or error. */
static bool
client_drain(struct client *c)
{
	char buf[4096];
	ssize_t n, got = 0;

	while ((n = read(c->fd, buf, sizeof(buf))) > 0)
		got += n;
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return false;
	return got == 0 || c->answered || answer(c);
}

static void
tick(int ep)
{
	const struct picture *pic = &pics[ticks % npics];
	struct timespec now;
	struct part *p;
	size_t i;
	int n;

	ticks++;
	if (nclients == 0 || (p = malloc(sizeof(*p))) == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	n = snprintf(p->hdr, sizeof(p->hdr), "\r\n--" BOUNDARY "\r\n"
	    "Content-Type: image/jpeg\r\nContent-Length: %zu\r\n"
	    "X-Timestamp: %lld.%06ld\r\n\r\n", pic->len,
	    (long long)now.tv_sec, now.tv_nsec / 1000);
	p->hlen = (size_t)n;
	p->jpeg = pic->data;
	p->jlen = pic->len;
	p->seq = ticks;
	p->refs = 1;
	p->fd = -1;
	if (use_sendfile) {
		p->fd = memfd_create("ceiling-part", MFD_CLOEXEC);
		if (p->fd == -1 ||
		    write(p->fd, p->hdr, p->hlen) != (ssize_t)p->hlen ||
		    write(p->fd, p->jpeg, p->jlen) != (ssize_t)p->jlen) {
			perror("ceiling: part file");
			exit(1);
		}
	}
	part_unref(latest);
	latest = p;
	/* Backwards: a closed client is replaced by the last one. */
	for (i = nclients; i-- > 0;) {
		struct client *c = clients[i];

		if (c->cur != NULL || !c->answered)
			continue;	/* still busy, or no request yet */
		c->cur = p;
		p->refs++;
		if (!client_push(ep, c))
			client_close(ep, c);
	}
}

int
main(int argc, char **argv)
{
	struct epoll_event evs[256], ev;
	struct sockaddr_in sin;
	struct itimerspec its;
	struct timespec start;
	struct sigaction sa;
	const char *dir = NULL;
	long port = 0, fps = 30, nproc = 1, i;
	pid_t children[MAX_PROCS];
	int opt, ep, lfd, tfd, one = 1, n, k;
	uint64_t exp;

	while ((opt = getopt(argc, argv, "p:d:f:srw:")) != -1) {
		if (opt == 's')
			use_sendfile = true;
		else if (opt == 'r')
			reply_after_request = true;
		else if (opt == 'w')
			nproc = strtol(optarg, NULL, 10);
		else if (opt == 'p')
			port = strtol(optarg, NULL, 10);
		else if (opt == 'd')
			dir = optarg;
		else if (opt == 'f')
			fps = strtol(optarg, NULL, 10);
		else
			usage();
	}
	if (dir == NULL || port < 1 || port > 65535 || fps < 1 || fps > 1000 ||
	    nproc < 1 || nproc > MAX_PROCS)
		usage();
	if (load_pictures(dir) == -1)
		return 1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Every process ticks at start + k / fps. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	start.tv_sec += 1;
	for (i = 1; i < nproc; i++) {
		children[i] = fork();
		if (children[i] == -1) {
			perror("ceiling: fork");
			stop_children(children, i);
			return 1;
		}
		if (children[i] == 0) {
			/* Ends with the first process, however it ends. */
			if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 ||
			    getppid() == 1)
				return 1;
			nproc = 1;	/* no children of its own */
			break;
		}
	}

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd == -1) {
		perror("ceiling: socket");
		return 1;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(lfd, 4096) != 0) {
		perror("ceiling: bind/listen");
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ep == -1 || tfd == -1) {
		perror("ceiling: epoll/timerfd");
		return 1;
	}
	memset(&its, 0, sizeof(its));
	its.it_interval.tv_sec = fps == 1 ? 1 : 0;
	its.it_interval.tv_nsec = fps == 1 ? 0 : 1000000000L / fps;
	its.it_value = start;
	timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
	/* data.ptr NULL = listener, &tfd = timer, else a client. */
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.ptr = &tfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);

	while (!stop) {
		n = epoll_wait(ep, evs, 256, 1000);
		for (k = 0; k < n; k++) {
			struct client *c = evs[k].data.ptr;

			if (c == NULL) {
				accept_all(ep, lfd);
				continue;
			}
			if (evs[k].data.ptr == (void *)&tfd) {
				if (read(tfd, &exp, sizeof(exp)) > 0)
					tick(ep);
				continue;
			}
			if (c->fd == -1)
				continue;
			if ((evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
			    !client_drain(c)) {
				client_close(ep, c);
				continue;
			}
			if ((evs[k].events & EPOLLOUT) && c->cur != NULL &&
			    !client_push(ep, c))
				client_close(ep, c);
		}
		while (dead != NULL) {
			struct client *d = dead;

			dead = d->next_dead;
			free(d);
		}
	}
	printf("{\"bytes\":%llu,\"ticks\":%llu,\"clients_max\":%zu}\n",
	    (unsigned long long)bytes_out, (unsigned long long)ticks,
	    maxclients);
	fflush(stdout);
	stop_children(children, nproc);
	return 0;
}
