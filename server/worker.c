/*
 * The worker: one epoll loop serving every connection of this process.
 *
 * Event sources, told apart by the epoll data word (small numbers for
 * our own descriptors, client pointers otherwise):
 *   listening sockets   EPOLLIN | EPOLLEXCLUSIVE, shared by all workers
 *   watcher eventfd     a frame was published on the bus
 *   signalfd            SIGTERM / SIGINT: stop now
 *   parent pipe         EOF: retire (stop accepting, keep streaming for
 *                       shutdown_grace, then close);
 *                       a byte 'S' first: stop (stop accepting, finish
 *                       the part in flight for each client, close)
 *   clients             EPOLLIN | EPOLLOUT | EPOLLRDHUP, edge-triggered
 * plus a housekeeping tick every 250 ms (timeouts, keepalive resends,
 * /events, the accept balance).
 *
 * Spreading connections over workers.  All workers share one listening
 * socket (inherited), registered with EPOLLEXCLUSIVE so a connection wakes
 * one waiter instead of all.  The kernel's choice of waiter is not fair
 * (an idle worker near the head of the wait queue keeps winning), and with
 * long-lived streams an early imbalance is permanent, so each worker also
 * compares its open connections with the average of the live workers in
 * the control region: above average + margin it takes the listening
 * sockets out of its epoll set (other workers then get the wake-ups) and
 * puts them back once it is near the average again.  The least loaded
 * worker is never above the average, so someone always accepts.
 * SO_REUSEPORT was not used: it needs one socket per worker bound by the
 * supervisor, it hashes connections by address (not by load), and the
 * hash changes whenever a worker restarts, dropping queued connections of
 * the old socket.
 *
 * Frame fan-out: on a watcher wake the newest frame is copied from the bus
 * once (only while someone streams) into a refcounted, sealed frame file
 * (frame.h), and every streaming client that is idle and writable starts a
 * part from it with sendfile().
 * Clients still sending take the newest frame when EPOLLOUT says they can.
 *
 * Fresh pictures (DESIGN.md): a snapshot, or a stream's first part, never
 * gets a stale frame silently.  When the newest frame is stale (see
 * frame_recent) the snapshot waits in state WAITING, the stream holds its
 * first part back, for the first frame published after the request, at
 * most FRESH_WAIT_NS (shorter when client_timeout or send_timeout is);
 * each publish (watcher) and each tick looks at the waiting snapshots.
 *
 * Limits: every accepted connection, and every stream and /events client,
 * takes a place in the server-wide counts of the control region
 * (fc_ctl_admit_*, see control.h) or gets a 503; close_client() gives the
 * places back.
 *
 * Clients are freed only at the end of an event batch (a fan-out may close
 * a client that has another event pending in the same batch).
 */
#include "worker.h"

#include <errno.h>
#include <malloc.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "../common/clock.h"
#include "../common/fds.h"
#include "../common/host.h"
#include "../common/log.h"
#include "../common/version.h"
#include "auth.h"
#include "client.h"
#include "frame.h"
#include "h2.h"
#include "report.h"
#include "respond.h"
#include "router.h"
#include "stream.h"
#include "watcher.h"

extern const unsigned char fc_page_html[];
extern const size_t fc_page_html_len;

#define NS_PER_MS INT64_C(1000000)
#define NS_PER_S INT64_C(1000000000)
#define TICK_NS (250 * NS_PER_MS)
#define EVENT_INTERVAL_NS NS_PER_S
#define MAX_EVENTS 256
#define ACCEPT_BATCH 64
#define ACCEPT_BACKOFF_NS (100 * NS_PER_MS)	/* after EMFILE and friends */
#define ACCEPT_ERROR_MIN_NS (100 * NS_PER_MS)	/* first step after an */
#define ACCEPT_ERROR_MAX_NS (10 * NS_PER_S)	/* unexpected accept error */
#define BALANCE_RECHECK_MS 50
#define FINISH_NS NS_PER_S		/* parts in flight after the grace */
#define NOTSENT_LOWAT 16384
/* SO_SNDBUF asked for on unix: streams; Linux doubles it for its own
 * bookkeeping, so about 128 KB of queued skbs: one 720p frame. */
#define UNIX_SNDBUF 65536
/* Longest wait of a snapshot or a first part for a fresh frame. */
#define FRESH_WAIT_NS (2 * NS_PER_S)
/* A frame older than this many frame intervals is stale (frame_recent). */
#define STALE_INTERVALS 3

/* epoll data words of our own descriptors (client pointers are larger). */
enum {
	TAG_WATCHER = 1,
	TAG_SIGNAL = 2,
	TAG_PARENT = 3,
	TAG_LISTEN = 16,	/* + index */
	TAG_REFUSED = 4096,	/* + index into worker.refused[] */
};

/*
 * One listening socket.  Out of the epoll set while accept() on it fails
 * in a way that trying again at once would not fix (see listener_failed):
 * the socket stays readable (level-triggered), so leaving it in the set
 * would spin the worker and flood the log.
 */
struct listener {
	bool in_set;		/* registered in the epoll set */
	int64_t error_delay_ns;	/* backoff step after such errors, 0 = none */
	int64_t retry_at_ns;	/* kept out of the set until then */
	char name[128];		/* address, for the log */
	bool tls;		/* HTTPS: clients get an SSL from tls_ctx */
};

/* Connections refused by max_connections whose answer is out: drained
 * for a moment before they are closed (see refuse_connection). */
#define REFUSED_MAX 64

struct worker {
	const struct fc_config *cfg;	/* = &cfg_now */
	struct fc_config cfg_now;	/* the configuration this worker runs */
	struct fc_config cfg_next;	/* scratch for a reload */
	const struct fc_confreg *conf;	/* where reloads come from, or NULL */
	uint32_t generation;		/* of cfg_now */
	/* HTTPS (common/tls.h): the context new TLS connections get, built
	 * from the TLS region's generation tls_generation. */
	const struct fc_confreg *tls;	/* NULL: no listen address has tls */
	uint32_t tls_generation;
	SSL_CTX *tls_ctx;
	unsigned index;
	struct fc_bus *bus;
	struct fc_ctl *ctl;
	struct fc_ctl_worker *stats;
	const int *listen_fds;
	int nlisten;
	int parent_fd;

	int epfd;
	int sigfd;
	struct fc_watcher watcher;
	struct fc_client_env env;

	struct fc_client *clients;	/* every open connection */
	struct fc_client *vclients;	/* every HTTP/2 stream client (h2.h) */
	struct fc_client *streams;	/* streaming ones (also in clients) */
	struct fc_client *dead;		/* closed this batch, freed after it */
	uint64_t nclients, nstreams, nevents;
	uint64_t nwaiting;		/* snapshots in WAITING, at most (closed
					 * ones leave when serve_waiting looks) */

	struct listener lst[FC_CONFIG_MAX_LISTEN];
	bool listening;			/* listen fds belong in the epoll set
					 * (each one's in_set says if it is) */
	int64_t accept_backoff_until;	/* out of the set after EMFILE */
	bool retiring;
	int64_t retire_deadline;
	bool stop_now;			/* SIGTERM */
	uint64_t clients_seen;		/* accepted so far */
	uint64_t clients_trimmed;	/* clients_seen at the last malloc_trim */
	bool finishing;			/* server stop: no new parts, close
					 * each stream once its part is out */
	int64_t next_tick;
	int64_t next_event;
	struct fc_strbuf scratch;	/* event text shared by /events clients */
	struct {
		int fd;			/* -1: free */
		int64_t until_ns;	/* closed then at the latest */
	} refused[REFUSED_MAX];
};

/* --- setup --- */

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_debug("raise RLIMIT_NOFILE");
}

static int
ep_add(int epfd, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.u64 = tag;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/*
 * An error on listener i that trying again at once would not fix (accept()
 * failing with EINVAL on a socket that was shut down, EBADF, ENOTSOCK, or
 * epoll refusing it): the socket leaves the epoll set and is tried again
 * after a delay that doubles from 100 ms to 10 s while the error lasts,
 * with one log line per step.  The first accept() that works resets it.
 */
static void
listener_failed(struct worker *w, int i, const char *what, int err)
{
	struct listener *l = &w->lst[i];

	l->error_delay_ns = l->error_delay_ns == 0 ? ACCEPT_ERROR_MIN_NS :
	    l->error_delay_ns * 2;
	if (l->error_delay_ns > ACCEPT_ERROR_MAX_NS)
		l->error_delay_ns = ACCEPT_ERROR_MAX_NS;
	l->retry_at_ns = w->env.now_mono_ns + l->error_delay_ns;
	log_warnx("%s on %s: %s; trying again in %lld ms", what, l->name,
	    strerror(err), (long long)(l->error_delay_ns / NS_PER_MS));
	if (l->in_set) {
		(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->listen_fds[i], NULL);
		l->in_set = false;
	}
}

/* Earliest time a listener in its error backoff is due to be tried again
 * (INT64_MAX: none is waiting). */
static int64_t
next_listener_retry(const struct worker *w)
{
	int64_t t = INT64_MAX;

	for (int i = 0; i < w->nlisten; i++)
		if (!w->lst[i].in_set && w->lst[i].error_delay_ns != 0 &&
		    w->lst[i].retry_at_ns < t)
			t = w->lst[i].retry_at_ns;
	return t;
}

/* Puts the listening sockets into the epoll set (on) or takes them out;
 * one in its error backoff goes back in only once its delay is over.
 * Makes no system call for a socket already where it belongs. */
static void
set_listening(struct worker *w, bool on)
{
	struct listener *l;
	bool want;
	int i;

	w->listening = on;
	for (i = 0; i < w->nlisten; i++) {
		l = &w->lst[i];
		want = on && w->env.now_mono_ns >= l->retry_at_ns;
		if (want == l->in_set)
			continue;
		if (want) {
			if (ep_add(w->epfd, w->listen_fds[i],
			    EPOLLIN | EPOLLEXCLUSIVE,
			    (uint64_t)(TAG_LISTEN + i)) == -1) {
				listener_failed(w, i, "epoll add", errno);
				continue;
			}
		} else {
			/* EPOLLEXCLUSIVE registrations cannot be modified,
			 * only removed and added again. */
			(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL,
			    w->listen_fds[i], NULL);
		}
		l->in_set = want;
	}
}

/* --- the balance rule --- */

/* True when this worker has no more connections than the average of the
 * serving workers plus a margin (see the comment at the top). */
static bool
balanced(struct worker *w)
{
	const struct fc_ctl_worker *s;
	uint64_t sum = 0, live = 0, avg, margin;
	unsigned i;

	for (i = 0; i < FC_CTL_MAX_WORKERS; i++) {
		s = &w->ctl->hdr->workers[i];
		if (atomic_load_explicit(&s->state, memory_order_relaxed) !=
		    FC_WORKER_SERVING)
			continue;
		if (atomic_load_explicit(&s->pid, memory_order_relaxed) == 0)
			continue;
		sum += i == w->index ? w->nclients :
		    atomic_load_explicit(&s->clients, memory_order_relaxed);
		live++;
	}
	if (live <= 1)
		return true;
	avg = sum / live;
	/* Small absolute slack so a handful of short requests does not
	 * flap the listener; a relative one for big pools. */
	margin = 4 + avg / 16;
	return w->nclients <= avg + margin;
}

/* Decides whether the listening sockets belong in the epoll set now. */
static void
update_listening(struct worker *w)
{
	if (w->retiring || w->stop_now) {
		set_listening(w, false);
		return;
	}
	set_listening(w, balanced(w) &&
	    w->env.now_mono_ns >= w->accept_backoff_until);
}

/* --- clients --- */

/*
 * The worker's two lists of clients: 0 = connections, 1 = HTTP/2 stream
 * clients.  Loops that visit every client walk list 0, then list 1, read
 * afresh: closing a connection closes its stream clients, so a "next"
 * taken across the lists could already be closed.
 */
static struct fc_client *
client_list(const struct worker *w, int l)
{
	return l == 0 ? w->clients : w->vclients;
}

/* Puts c at the head of the list at *head. */
static void
push_client(struct fc_client **head, struct fc_client *c)
{
	c->prev = NULL;
	c->next = *head;
	if (*head != NULL)
		(*head)->prev = c;
	*head = c;
}

static void
close_client(struct worker *w, struct fc_client *c)
{
	struct fc_client *s;

	if (c->closed)
		return;		/* already closed in this batch */
	c->closed = true;
	fc_client_recheck_drop(c, &w->env);
	/* An HTTP/2 connection's streams go with it. */
	while ((s = fc_h2_first_stream(c)) != NULL)
		close_client(w, s);
	if (c->is_stream)
		fc_h2_stream_detach(c);
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	if (c->sprev != NULL || w->streams == c) {
		if (c->sprev != NULL)
			c->sprev->snext = c->snext;
		else
			w->streams = c->snext;
		if (c->snext != NULL)
			c->snext->sprev = c->sprev;
		c->sprev = c->snext = NULL;
	}
	/* Give back its places in the server-wide counts. */
	if (c->counted) {
		fc_ctl_release_client(w->ctl, w->index, c->counted_kind,
		    c->addr_counted ? &c->addr_key : NULL);
		if (c->counted_kind == FC_CTL_STREAM)
			w->nstreams--;
		else
			w->nevents--;
		c->counted = c->addr_counted = false;
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else if (c->is_stream)
		w->vclients = c->next;
	else
		w->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (!c->is_stream) {
		w->nclients--;
		fc_ctl_release_connection(w->ctl, w->index);
	}
	/* Freed after the batch: an event for it may still be queued. */
	c->prev = NULL;
	c->next = w->dead;
	w->dead = c;
}

static void
free_dead(struct worker *w)
{
	struct fc_client *c;

	while ((c = w->dead) != NULL) {
		w->dead = c->next;
		fc_client_free(c);
	}
}

/* The answer to a connection over max_connections, sent from this
 * constant: a flood of refused connections costs no memory. */
#define OVER_CONNECTIONS_BODY "too many connections\n"
_Static_assert(sizeof(OVER_CONNECTIONS_BODY) - 1 == 21,
    "Content-Length below");
static const char over_connections[] =
    "HTTP/1.1 503 Service Unavailable\r\n"
    FC_SERVER_HEADER
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 21\r\n"
    "Connection: close\r\n"
    "Cache-Control: no-store\r\n"
    "Retry-After: 1\r\n"
    "\r\n"
    OVER_CONNECTIONS_BODY;

/* Closes a drained refused connection (see refuse_connection). */
static void
refused_close(struct worker *w, unsigned i)
{
	if (w->refused[i].fd == -1)
		return;
	close(w->refused[i].fd);	/* also leaves the epoll set */
	w->refused[i].fd = -1;
}

/*
 * Answers a connection the server has no room for, without a client
 * structure: a write that a fresh socket's buffer always takes, and a FIN.
 * Closing at once would be wrong when the client's request arrives just
 * after: input that arrives on a closed socket makes the kernel answer
 * with a RST, which can destroy the 503 before the client reads it.  So
 * the connection is drained (what the client sends is read and dropped)
 * until the client closes or FC_CLIENT_LINGER_NS pass, in one of
 * REFUSED_MAX fixed places per worker; when they are all taken (a flood),
 * it is closed at once after one read.
 */
static void
refuse_connection(struct worker *w, int fd)
{
	char junk[512];
	unsigned i;

	/* write(2), not send(2): the socket is non-blocking (accept4),
	 * SIGPIPE is ignored, and the worker's seccomp table has no sendto. */
	(void)!write(fd, over_connections, sizeof(over_connections) - 1);
	(void)shutdown(fd, SHUT_WR);
	atomic_fetch_add_explicit(&w->stats->status[FC_ST_503], 1,
	    memory_order_relaxed);
	log_debug("connection refused: max_connections (%d) reached",
	    w->cfg->max_connections);
	for (i = 0; i < REFUSED_MAX; i++)
		if (w->refused[i].fd == -1)
			break;
	if (i == REFUSED_MAX || ep_add(w->epfd, fd, EPOLLIN | EPOLLRDHUP,
	    (uint64_t)(TAG_REFUSED + i)) == -1) {
		(void)!read(fd, junk, sizeof(junk));
		close(fd);
		return;
	}
	w->refused[i].fd = fd;
	w->refused[i].until_ns = w->env.now_mono_ns + FC_CLIENT_LINGER_NS;
}

/* A refused connection is readable: drop what it sent; close it once it
 * closed its side or failed. */
static void
refused_event(struct worker *w, unsigned i, uint32_t events)
{
	char junk[512];
	ssize_t n = 0;
	int reads;

	if (w->refused[i].fd == -1)
		return;
	for (reads = 0; reads < 8; reads++)
		if ((n = read(w->refused[i].fd, junk, sizeof(junk))) <= 0)
			break;
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
	    (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)))
		refused_close(w, i);
}

/* Closes the refused connections whose drain time is over (tick). */
static void
refused_expire(struct worker *w)
{
	for (unsigned i = 0; i < REFUSED_MAX; i++)
		if (w->refused[i].fd != -1 &&
		    w->env.now_mono_ns >= w->refused[i].until_ns)
			refused_close(w, i);
}

/* --- HTTP/2 (h2.h) --- */

/* A new request stream of conn: a stream client, on the vclients list
 * (not a connection: max_connections and the balance count conn). */
static struct fc_client *
h2_open(void *arg, struct fc_client *conn)
{
	struct worker *w = arg;
	struct fc_client *s;

	if ((s = fc_client_new(-1, (const struct sockaddr *)&conn->peer,
	    conn->peerlen, w->env.now_mono_ns)) == NULL)
		return NULL;
	s->is_stream = true;
	push_client(&w->vclients, s);
	return s;
}

static void dispatch(struct worker *, struct fc_client *);

static void
h2_request(void *arg, struct fc_client *s)
{
	struct worker *w = arg;

	dispatch(w, s);
	if (fc_client_pump(s, &w->env) == FC_STEP_CLOSE)
		close_client(w, s);
}

static void
h2_closed(void *arg, struct fc_client *s)
{
	close_client(arg, s);
}

static const struct fc_h2_ops h2_ops = { h2_open, h2_request, h2_closed };

/* --- TLS --- */

/*
 * Builds the SSL_CTX from the TLS region when it holds a generation this
 * worker has not built yet (at start, and on the tick after a reload
 * published renewed files).  Connections already open keep the context
 * they began with (an SSL holds a reference).  A context that cannot be
 * built leaves the previous one in force (the supervisor checked the same
 * text, so this is out of memory).
 */
static void
tls_update(struct worker *w)
{
	struct fc_tls_pem *pem;
	uint32_t gen;
	SSL_CTX *ctx;
	char why[256];

	if (w->tls == NULL || fc_confreg_generation(w->tls) == w->tls_generation)
		return;
	if ((pem = malloc(sizeof(*pem))) == NULL)
		return;
	if ((gen = fc_tlsreg_read(w->tls, pem)) != 0 && gen != w->tls_generation) {
		if ((ctx = fc_tls_ctx_new(pem, why, sizeof(why))) == NULL) {
			log_warnx("TLS material of generation %u not used: %s",
			    gen, why);
		} else {
			SSL_CTX_free(w->tls_ctx);
			w->tls_ctx = ctx;
			log_debug("TLS material generation %u in use", gen);
		}
		/* Tried once either way: the same text would fail again. */
		w->tls_generation = gen;
	}
	fc_tls_pem_wipe(pem);
	free(pem);
}

/* A new client on a tls listener: its SSL, server side. */
static int
tls_attach(struct worker *w, struct fc_client *c)
{
	if (w->tls_ctx == NULL || (c->tls = SSL_new(w->tls_ctx)) == NULL ||
	    SSL_set_fd(c->tls, c->fd) != 1) {
		ERR_clear_error();
		return -1;
	}
	SSL_set_accept_state(c->tls);
	c->tls_stats = w->stats;
	return 0;
}

static void
accept_clients(struct worker *w, int li)
{
	struct listener *l = &w->lst[li];
	struct sockaddr_storage ss;
	struct fc_client *c;
	socklen_t len;
	int i, fd, lfd = w->listen_fds[li];

	for (i = 0; i < ACCEPT_BATCH; i++) {
		if (!balanced(w)) {
			update_listening(w);
			return;
		}
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			switch (errno) {
			case EAGAIN:
#if EAGAIN != EWOULDBLOCK
			case EWOULDBLOCK:
#endif
				return;
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
			case EPERM:
				continue;
			case EMFILE:
			case ENFILE:
			case ENOBUFS:
			case ENOMEM:
				/* Out of descriptors or memory: stop
				 * accepting for a moment (the connection
				 * stays queued for another worker). */
				log_warn("accept");
				w->accept_backoff_until = w->env.now_mono_ns +
				    ACCEPT_BACKOFF_NS;
				set_listening(w, false);
				return;
			default:
				listener_failed(w, li, "accept", errno);
				return;
			}
		}
		if (l->error_delay_ns != 0) {
			log_info("accept on %s works again", l->name);
			l->error_delay_ns = 0;
			l->retry_at_ns = 0;
		}
		/* max_connections over the whole server (control.h).  A
		 * TLS client could not read a plain 503: it is closed. */
		if (fc_ctl_admit_connection(w->ctl, w->index,
		    (uint64_t)w->cfg->max_connections) != FC_CTL_ADMITTED) {
			if (l->tls) {
				close(fd);	/* counted as refused only */
			} else {
				refuse_connection(w, fd);
			}
			continue;
		}
		if ((c = fc_client_new(fd, (struct sockaddr *)&ss, len,
		    w->env.now_mono_ns)) == NULL) {
			close(fd);
			fc_ctl_release_connection(w->ctl, w->index);
			continue;
		}
		if (l->tls && tls_attach(w, c) == -1) {
			fc_client_free(c);
			fc_ctl_release_connection(w->ctl, w->index);
			continue;
		}
		if (ep_add(w->epfd, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP |
		    EPOLLET, (uint64_t)(uintptr_t)c) == -1) {
			log_warn("epoll add client");
			fc_client_free(c);
			fc_ctl_release_connection(w->ctl, w->index);
			continue;
		}
		push_client(&w->clients, c);
		w->nclients++;
		w->clients_seen++;
		atomic_fetch_add_explicit(&w->stats->clients_total, 1,
		    memory_order_relaxed);
	}
}

/* --- frames --- */

/* Copies the newest bus frame into a new sealed frame file (frame.h)
 * when it is newer than the current one. */
static void
update_frame(struct worker *w)
{
	struct fc_frame *cur = w->env.current, *f;
	enum fc_bus_result r;

	r = fc_frame_from_bus(w->bus, cur != NULL ? cur->meta.seq : 0,
	    (size_t)fc_bus_capacity(w->bus), &f, NULL);
	switch (r) {
	case FC_BUS_OK:
		fc_frame_unref(cur);
		w->env.current = f;
		atomic_fetch_add_explicit(&w->stats->frames_copied, 1,
		    memory_order_relaxed);
		return;
	case FC_BUS_NONE:
	case FC_BUS_AGAIN:
		return;		/* next wake-up */
	case FC_BUS_NOSPACE:	/* only with an inconsistent header */
	case FC_BUS_CORRUPT:
		log_warnx("bus slot or header corrupt");
		return;
	case FC_BUS_COPY_FAILED:
		log_warn("frame file");
		return;
	}
}

/*
 * True when the worker's newest frame is recent enough to answer a
 * snapshot or start a stream with: capture is not paused, and the frame
 * was captured (its CLOCK_MONOTONIC stamp) no more than STALE_INTERVALS
 * frame intervals of the source's target rate ago.  A running capture
 * publishes a frame every interval, so the newest one is normally less
 * than one interval (plus encoding) old; three
 * intervals means capture missed two frames in a row: it is paused,
 * waking, stalled or gone.  With drop_same_frames an unchanged picture is
 * republished only once a second, and the rule allows that second too.
 */
static bool
frame_recent(struct worker *w)
{
	const struct fc_frame *f = w->env.current;
	struct fc_bus_info info;
	uint32_t fps;
	int64_t limit;

	if (f == NULL)
		return false;
	fc_bus_get_info(w->bus, &info);
	if (info.state == FC_CAPTURE_PAUSED)
		return false;
	fps = info.fps_target > 0 ? info.fps_target :
	    w->cfg->fps > 0 ? (uint32_t)w->cfg->fps : 1;
	limit = STALE_INTERVALS * (NS_PER_S / fps);
	if (w->cfg->drop_same_frames)
		limit += NS_PER_S;
	return w->env.now_mono_ns - f->meta.ts_mono_ns <= limit;
}

/* The deadline of a wait for a fresh frame that starts now: FRESH_WAIT_NS,
 * or client_timeout or send_timeout when shorter. */
static int64_t
fresh_deadline(const struct worker *w)
{
	int64_t wait = FRESH_WAIT_NS;

	if ((int64_t)w->cfg->client_timeout * NS_PER_S < wait)
		wait = (int64_t)w->cfg->client_timeout * NS_PER_S;
	if ((int64_t)w->cfg->send_timeout * NS_PER_S < wait)
		wait = (int64_t)w->cfg->send_timeout * NS_PER_S;
	return w->env.now_mono_ns + wait;
}

/* Answers a snapshot with the worker's newest frame. */
static void
snapshot_frame(struct worker *w, struct fc_client *c, bool keep)
{
	fc_frame_unref(c->frame);
	c->frame = fc_frame_ref(w->env.current);
	fc_strbuf_reset(&c->hdr);
	fc_respond_snapshot_head(&c->hdr, &c->frame->meta, keep,
	    w->cfg->allow_origin);
	fc_client_respond(c, &w->env, 200, NULL, 0, keep);
}

/*
 * Answers a snapshot with 503 when capture cannot give a picture: it is
 * failing (the bus state, or no_signal: a no-signal frame came instead of
 * a picture) or held after exiting with status 2; the body says why, with
 * the source's error.  False otherwise: paused, starting or restarting
 * capture is waited for.
 */
static bool
snapshot_failing(struct worker *w, struct fc_client *c, bool no_signal)
{
	struct fc_bus_info info;
	const char *why = NULL;
	char msg[224], *p;

	fc_bus_get_info(w->bus, &info);
	if (atomic_load_explicit(&w->ctl->hdr->capture_held,
	    memory_order_relaxed) != 0)
		(void)fc_report_health(w->bus, w->ctl, &why);
	else if (info.state != FC_CAPTURE_FAILING && !no_signal)
		return false;
	if (why != NULL)
		snprintf(msg, sizeof(msg), "%s", why);
	else if (info.error[0] != '\0')
		snprintf(msg, sizeof(msg), "capture failing: %s", info.error);
	else
		snprintf(msg, sizeof(msg), "capture failing");
	/* The source's error may quote a device or an upstream: printable
	 * ASCII only in the body. */
	for (p = msg; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	log_debug("fd %d: snapshot: %s", c->fd, msg);
	fc_client_error(c, &w->env, 503, msg);
	return true;
}

/*
 * Answers a snapshot in WAITING if it can be answered now: a frame
 * published after its request came (200; a no-signal one: 503), capture
 * is failing (503), or its wait is over (the newest picture with its true
 * X-Timestamp, else 503).
 * False while it keeps waiting.
 */
static bool
answer_waiting(struct worker *w, struct fc_client *c)
{
	const struct fc_frame *f = w->env.current;
	bool keep = c->wait_keep && !w->retiring;
	bool fresh = f != NULL && f->meta.seq > c->fresh_after;

	if (fresh && (f->meta.flags & FC_FRAME_NOSIGNAL) == 0) {
		snapshot_frame(w, c, keep);
		return true;
	}
	if (snapshot_failing(w, c, fresh))
		return true;
	if (w->env.now_mono_ns < c->fresh_until_ns)
		return false;
	if (f == NULL || (f->meta.flags & FC_FRAME_NOSIGNAL) != 0) {
		fc_client_error(c, &w->env, 503,
		    "no picture from capture within the wait");
		return true;
	}
	log_debug("fd %d: no fresh frame within the wait: sending one %lld ms "
	    "old", c->fd, (long long)((w->env.now_mono_ns - f->meta.ts_mono_ns) /
	    NS_PER_MS));
	snapshot_frame(w, c, keep);
	return true;
}

static void dispatch(struct worker *, struct fc_client *);

/*
 * Answers the waiting snapshots that can be answered now (after a publish
 * or on the tick).  A keep-alive client may have its next request in
 * already (it can send it the moment the answer is out): it is routed
 * here, as client_event would, and may wait again.
 */
static void
serve_waiting(struct worker *w)
{
	struct fc_client *c, *next;
	enum fc_client_step step;
	uint64_t left = 0;

	if (w->nwaiting == 0)
		return;
	update_frame(w);
	for (int l = 0; l < 2; l++)
	for (c = client_list(w, l); c != NULL; c = next) {
		next = c->next;
		if (c->state != FC_CLIENT_WAITING)
			continue;
		if (answer_waiting(w, c)) {
			step = fc_client_pump(c, &w->env);
			while (step == FC_STEP_REQUEST) {
				dispatch(w, c);
				step = fc_client_pump(c, &w->env);
			}
			if (step == FC_STEP_CLOSE) {
				close_client(w, c);
				continue;
			}
		}
		if (c->state == FC_CLIENT_WAITING)
			left++;
	}
	w->nwaiting = left;
}

static void
fan_out(struct worker *w)
{
	struct fc_client *c, *next;

	serve_waiting(w);
	if (w->nstreams == 0)
		return;
	update_frame(w);
	for (c = w->streams; c != NULL; c = next) {
		next = c->snext;
		/* Mid-part or blocked clients choose when EPOLLOUT comes. */
		if (!c->writable || c->q.left > 0)
			continue;
		if (fc_client_pump(c, &w->env) == FC_STEP_CLOSE)
			close_client(w, c);
	}
}

/* --- requests --- */

/*
 * Takes a place for c among max_clients (streams and /events over the
 * whole server) and, for a stream, one among its address's
 * max_clients_per_ip, both counted in the control region under its
 * admission lock (control.h): the same limit whichever worker the client
 * reaches (approximate only while the lock is wedged, see control.h).
 * False, with a 503 queued, when the server has no room for it.
 */
static bool
admit(struct worker *w, struct fc_client *c, enum fc_ctl_client_kind kind)
{
	const uint64_t *addr = NULL;
	enum fc_ctl_admit r;

	if (w->retiring) {
		fc_client_error(c, &w->env, 503, "server stopping");
		return false;
	}
	if (kind == FC_CTL_STREAM && fc_ctl_addr_key(w->ctl,
	    (const struct sockaddr *)&c->peer, c->peerlen, &c->addr_key))
		addr = &c->addr_key;
	r = fc_ctl_admit_client(w->ctl, w->index, kind,
	    (uint64_t)w->cfg->max_clients, addr,
	    (uint64_t)w->cfg->max_clients_per_ip, &c->addr_counted);
	if (r != FC_CTL_ADMITTED) {
		log_debug("fd %d: refused: %s", c->fd,
		    r == FC_CTL_OVER_PER_ADDR ? "max_clients_per_ip" :
		    r == FC_CTL_TABLE_FULL ? "address table full" :
		    "max_clients");
		fc_client_error(c, &w->env, 503, r == FC_CTL_OVER_PER_ADDR ?
		    "too many streams from your address" : "too many clients");
		return false;
	}
	c->counted = true;
	c->counted_kind = kind;
	if (kind == FC_CTL_STREAM)
		w->nstreams++;
	else
		w->nevents++;
	return true;
}

static void
stream_socket_options(struct fc_client *c)
{
	int one = 1, lowat = NOTSENT_LOWAT, fd = c->fd;
	int sndbuf = UNIX_SNDBUF;

	if (c->is_stream)
		return;		/* HTTP/2: flow control per stream (h2.h) */

	/* A unix: socket (a reverse proxy on this host) has neither
	 * TCP_NOTSENT_LOWAT nor TCP_INFO: a small send buffer is what keeps
	 * its unsent data, hence a slow reader's picture age, bounded. */
	if (c->peer.ss_family == AF_UNIX) {
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
		    sizeof(sndbuf));
		return;
	}

	/* Errors are harmless (non-TCP sockets in tests). */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0)
		c->check_window = true;
	/* Keep unsent data small so a slow client's next frame is chosen
	 * when it can take it, not queued behind seconds of old ones. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat,
	    sizeof(lowat));
}

static void
start_stream(struct worker *w, struct fc_client *c,
    const struct fc_route_match *m)
{
	const struct fc_http_request *req = &c->rq->hp.req;
	enum fc_framing framing = m->framing;

	if (framing == FC_FRAMING_AUTO)
		framing = fc_router_framing_for(req->user_agent);
	if (req->head) {
		fc_client_start_stream(c, &w->env, framing, 0, 0, true);
		return;
	}
	if (!admit(w, c, FC_CTL_STREAM))
		return;
	stream_socket_options(c);
	fc_client_start_stream(c, &w->env, framing, m->fps, m->maxtime, false);
	c->snext = w->streams;
	if (w->streams != NULL)
		w->streams->sprev = c;
	w->streams = c;
	/* Capture may be paused for lack of viewers. */
	fc_ctl_signal_demand(w->ctl);
	update_frame(w);
	/* A stale newest frame: the first part waits for a newer one
	 * (client.c want_frame). */
	c->fresh_after = 0;
	c->fresh_until_ns = 0;
	if (w->env.current != NULL && !frame_recent(w)) {
		c->fresh_after = w->env.current->meta.seq;
		c->fresh_until_ns = fresh_deadline(w);
	}
}

static void
start_events(struct worker *w, struct fc_client *c)
{
	if (!c->rq->hp.req.head && !admit(w, c, FC_CTL_EVENTS))
		return;
	fc_strbuf_reset(&c->hdr);
	fc_respond_events_head(&c->hdr, w->cfg->allow_origin);
	if (c->rq->hp.req.head) {
		fc_client_respond(c, &w->env, 200, NULL, 0, false);
		return;
	}
	fc_client_start_events(c, &w->env);
	/* The first event right away, then one a second. */
	fc_report_event(&c->body, w->cfg, w->bus, w->ctl);
	(void)fc_iovq_add(&c->q, c->body.data, c->body.len);
}

static void
respond_body(struct worker *w, struct fc_client *c, const char *ctype,
    bool keep)
{
	fc_strbuf_reset(&c->hdr);
	fc_respond_head(&c->hdr, 200, ctype, c->body.len, keep,
	    w->cfg->allow_origin, NULL);
	fc_client_respond(c, &w->env, 200, NULL, 0, keep);
}

static void
respond_health(struct worker *w, struct fc_client *c, bool keep)
{
	const char *why = NULL;
	int code;

	code = fc_report_health(w->bus, w->ctl, &why);
	if (code != 200) {
		fc_client_error(c, &w->env, 503, why != NULL ? why : "unhealthy");
		return;
	}
	fc_strbuf_reset(&c->body);
	fc_strbuf_puts(&c->body, "ok\n");
	fc_strbuf_reset(&c->hdr);
	fc_respond_head(&c->hdr, 200, "text/plain; charset=utf-8",
	    c->body.len, keep, NULL, NULL);
	fc_client_respond(c, &w->env, 200, NULL, 0, keep);
}

/*
 * /snapshot: the newest frame when it is recent (frame_recent), else the
 * first frame published after this request, waited for in WAITING (the
 * request also wakes a paused capture).  HEAD neither waits nor wakes
 * capture: it describes the newest frame.
 */
static void
respond_snapshot(struct worker *w, struct fc_client *c, bool keep)
{
	bool head = c->rq != NULL && c->rq->hp.req.head;

	if (!head)
		fc_ctl_signal_snapshot(w->ctl);
	update_frame(w);
	if (!head && frame_recent(w) &&
	    (w->env.current->meta.flags & FC_FRAME_NOSIGNAL) == 0) {
		snapshot_frame(w, c, keep);
		return;
	}
	if (head) {
		if (w->env.current == NULL)
			fc_client_error(c, &w->env, 503, "no frame yet");
		else
			snapshot_frame(w, c, keep);
		return;
	}
	if (snapshot_failing(w, c, false))
		return;
	fc_client_start_wait(c, w->env.current != NULL ?
	    w->env.current->meta.seq : 0, fresh_deadline(w), keep);
	w->nwaiting++;
}

static bool
authorized(const struct worker *w, const struct fc_http_request *req)
{
	if (w->cfg->auth[0] == '\0')
		return true;
	if (!req->has_auth || req->auth_too_long)
		return false;
	return fc_auth_check(req->authorization, w->cfg->auth);
}

/* Routes the request in c->rq->hp.req and starts its answer. */
static void
dispatch(struct worker *w, struct fc_client *c)
{
	const struct fc_http_request *req = &c->rq->hp.req;
	struct fc_route_match m;
	bool keep = req->keep_alive && !w->retiring;

	fc_router_match(req->url, req->url_len, &m);
	/* The path only: a query string may carry a token. */
	log_debug("fd %d: %s %.*s (%s)", c->fd, req->options ? "OPTIONS" :
	    req->head ? "HEAD" : "GET", (int)strcspn(req->url, "?#"), req->url,
	    req->options ? "preflight" : fc_router_name(m.route));
	if (m.route == FC_ROUTE_HEALTH && !req->options) {
		respond_health(w, c, keep);
		return;
	}
	/*
	 * allowed_hosts: requests of a page whose site re-pointed its DNS
	 * name at this server (DNS rebinding) carry that site's name as
	 * Host, and get 421 here, before auth could ask the visitor for
	 * credentials.  /healthz is answered above for any Host, as it is
	 * without auth: load balancers check it by address, HAProxy's
	 * "option httpchk GET /healthz" even without a Host (HTTP/1.0), and
	 * it tells only whether capture runs.
	 */
	if (!fc_host_allowed(w->cfg->allowed_hosts, FC_CONFIG_MAX_HOSTS,
	    req->has_host ? req->host : NULL)) {
		fc_client_error(c, &w->env, 421, NULL);
		return;
	}
	/*
	 * A CORS preflight, for any target ("*" too: it asks about the
	 * server as a whole).  Browsers send it without credentials (Fetch
	 * standard, CORS-preflight request), so it is answered before auth;
	 * it reveals only allow_origin and the methods, never a frame or a
	 * number.  Without allow_origin no page of another origin may read
	 * anything here: 405, Allow: GET, HEAD.
	 */
	if (req->options) {
		if (w->cfg->allow_origin[0] == '\0') {
			fc_client_error(c, &w->env, 405, NULL);
			return;
		}
		fc_frame_unref(c->frame);
		c->frame = NULL;
		fc_strbuf_reset(&c->body);
		fc_strbuf_reset(&c->hdr);
		fc_respond_preflight(&c->hdr, w->cfg->allow_origin, keep);
		fc_client_respond(c, &w->env, 204, NULL, 0, keep);
		return;
	}
	if (!authorized(w, req)) {
		fc_client_error(c, &w->env, 401, NULL);
		return;
	}
	fc_strbuf_reset(&c->body);
	switch (m.route) {
	case FC_ROUTE_BAD:
		fc_client_error(c, &w->env, 400, NULL);
		break;
	case FC_ROUTE_NOT_FOUND:
	case FC_ROUTE_HEALTH:
		fc_client_error(c, &w->env, 404, NULL);
		break;
	case FC_ROUTE_PAGE:
		fc_strbuf_reset(&c->hdr);
		fc_respond_head(&c->hdr, 200, "text/html; charset=utf-8",
		    fc_page_html_len, keep, w->cfg->allow_origin, NULL);
		fc_client_respond(c, &w->env, 200, fc_page_html,
		    fc_page_html_len, keep);
		break;
	case FC_ROUTE_STREAM:
		start_stream(w, c, &m);
		break;
	case FC_ROUTE_SNAPSHOT:
		respond_snapshot(w, c, keep);
		break;
	case FC_ROUTE_STATUS:
		fc_report_status_json(&c->body, w->cfg, w->bus, w->ctl);
		respond_body(w, c, "application/json", keep);
		break;
	case FC_ROUTE_STATUS_PAGE:
		/* The viewer page's poll: a short request, not a client of
		 * max_clients (a page holds only its stream open). */
		fc_report_event_json(&c->body, w->cfg, w->bus, w->ctl);
		fc_strbuf_puts(&c->body, "\n");
		respond_body(w, c, "application/json", keep);
		break;
	case FC_ROUTE_METRICS:
		fc_report_metrics(&c->body, w->cfg, w->bus, w->ctl);
		respond_body(w, c, "text/plain; version=0.0.4; charset=utf-8",
		    keep);
		break;
	case FC_ROUTE_EVENTS:
		start_events(w, c);
		break;
	}
}

static void
client_event(struct worker *w, struct fc_client *c, uint32_t events)
{
	enum fc_client_step step;

	if (c->fd < 0)
		return;
	step = fc_client_handle(c, &w->env, events);
	while (step == FC_STEP_REQUEST || step == FC_STEP_H2) {
		if (step == FC_STEP_H2) {
			/* Streams ride on this socket: the stream socket
			 * options (TCP_NODELAY, TCP_NOTSENT_LOWAT) keep a
			 * slow connection's queued frames few. */
			stream_socket_options(c);
			if (fc_h2_start(c, &h2_ops, w, &w->env) == -1) {
				step = FC_STEP_CLOSE;
				break;
			}
		}
		if (step == FC_STEP_REQUEST)
			dispatch(w, c);
		step = fc_client_pump(c, &w->env);
	}
	if (step == FC_STEP_CLOSE)
		close_client(w, c);
}

/* Streams that asked to be looked at again (client.c peer_backlogged):
 * the ones due now.  A closed client is not among them: close_client()
 * takes it off the list. */
static void
recheck(struct worker *w)
{
	struct fc_client *c;

	while ((c = fc_client_recheck(&w->env)) != NULL) {
		if (fc_client_pump(c, &w->env) == FC_STEP_CLOSE)
			close_client(w, c);
	}
}

/* HTTP/2 connections with output (h2.h): sent now, before the batch's
 * closed clients are freed. */
static void
send_h2(struct worker *w)
{
	struct fc_client *c;

	while ((c = w->env.h2_dirty) != NULL) {
		w->env.h2_dirty = c->h2_dirty_next;
		c->h2_dirty = false;
		c->h2_dirty_next = NULL;
		if (!c->closed && fc_client_pump(c, &w->env) == FC_STEP_CLOSE)
			close_client(w, c);
	}
}

/* --- housekeeping --- */

static void
send_events(struct worker *w)
{
	struct fc_client *c, *next;
	bool built = false;

	if (w->nevents == 0)
		return;
	for (int l = 0; l < 2; l++)
	for (c = client_list(w, l); c != NULL; c = next) {
		next = c->next;
		if (c->state != FC_CLIENT_EVENTS || c->q.left > 0)
			continue;	/* a slow one skips this second */
		if (!built) {
			fc_strbuf_reset(&w->scratch);
			fc_report_event(&w->scratch, w->cfg, w->bus, w->ctl);
			built = true;
		}
		fc_strbuf_reset(&c->body);
		fc_strbuf_append(&c->body, w->scratch.data, w->scratch.len);
		if (w->scratch.failed || !fc_client_queue_event(c) ||
		    fc_client_pump(c, &w->env) == FC_STEP_CLOSE)
			close_client(w, c);
	}
}

/*
 * Applies a configuration generation the supervisor published, if there
 * is a newer one: every key takes effect from now on (they are read from
 * w->cfg where they are used), the log level at once, and when auth
 * changed, every stream and event stream whose credentials the new auth
 * does not accept is closed now.  auth is one user:password, so that is
 * every one of them when the new auth is not empty: each was let in
 * either without credentials (no auth then) or with the user:password in
 * force then (authorized()), which this or an earlier change of auth
 * replaced.  Then the worker reports the generation
 * in its slot (/status "workers[].generation"; the supervisor waits for
 * it).  Keys a worker cannot apply (listen, user) make the supervisor
 * replace the worker instead.
 */
static void
apply_reload(struct worker *w)
{
	struct fc_client *c, *next;
	uint32_t gen;
	bool auth_changed;
	unsigned closed = 0;

	if (w->conf == NULL || fc_confreg_generation(w->conf) == w->generation)
		return;
	if ((gen = fc_confreg_read(w->conf, &w->cfg_next)) == 0 ||
	    gen == w->generation)
		return;
	auth_changed = strcmp(w->cfg_next.auth, w->cfg_now.auth) != 0;
	w->cfg_now = w->cfg_next;
	w->generation = gen;
	fc_log_set_level((enum fc_log_level)w->cfg->log_level);
	if (auth_changed && w->cfg->auth[0] != '\0') {
		for (int l = 0; l < 2; l++)
		for (c = client_list(w, l); c != NULL; c = next) {
			next = c->next;
			if (c->state != FC_CLIENT_STREAMING &&
			    c->state != FC_CLIENT_EVENTS)
				continue;
			close_client(w, c);
			closed++;
		}
	}
	/* The supervisor published renewed TLS material before this
	 * generation: in use before the generation is reported. */
	tls_update(w);
	atomic_store_explicit(&w->stats->generation, gen, memory_order_relaxed);
	log_debug("configuration generation %u applied%s", gen,
	    auth_changed ? " (auth changed)" : "");
	if (closed > 0)
		log_info("generation %u: closed %u streams whose credentials are "
		    "no longer accepted", gen, closed);
}

static void
tick(struct worker *w)
{
	struct fc_client *c, *next;
	int64_t now = w->env.now_mono_ns;

	apply_reload(w);
	tls_update(w);
	refused_expire(w);
	w->env.fps_milli = atomic_load_explicit(&w->bus->hdr->fps_milli,
	    memory_order_relaxed);
	/* Keepalive resends need the newest frame too. */
	if (w->nstreams > 0 && !w->finishing)
		update_frame(w);
	/* Waiting snapshots whose wait is over. */
	serve_waiting(w);
	for (int l = 0; l < 2; l++)
	for (c = client_list(w, l); c != NULL; c = next) {
		next = c->next;
		if (fc_client_tick(c, &w->env) == FC_STEP_CLOSE)
			close_client(w, c);
	}
	if (now >= w->next_event) {
		w->next_event = now + EVENT_INTERVAL_NS;
		send_events(w);
		/* Clients come and go in bursts; hand free heap pages back
		 * once a second when they did. */
		if (w->clients_seen != w->clients_trimmed) {
			w->clients_trimmed = w->clients_seen;
			malloc_trim(0);
		}
	}
	update_listening(w);
}

static void
start_retiring(struct worker *w)
{
	struct fc_client *c, *next;

	if (w->retiring)
		return;
	log_info("retiring: %" PRIu64 " clients, grace %d s", w->nclients,
	    w->cfg->shutdown_grace);
	w->retiring = true;
	w->retire_deadline = w->env.now_mono_ns +
	    (int64_t)w->cfg->shutdown_grace * NS_PER_S;
	atomic_store_explicit(&w->stats->state, FC_WORKER_RETIRING,
	    memory_order_relaxed);
	set_listening(w, false);
	(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->parent_fd, NULL);
	/* Idle keep-alive connections have nothing to finish; HTTP/2
	 * connections take no new stream (GOAWAY). */
	for (c = w->clients; c != NULL; c = next) {
		next = c->next;
		if (c->state == FC_CLIENT_READING && c->rq != NULL &&
		    !fc_http_started(&c->rq->hp))
			close_client(w, c);
		else if (c->state == FC_CLIENT_H2) {
			fc_h2_goaway(c);
			if (fc_client_pump(c, &w->env) == FC_STEP_CLOSE)
				close_client(w, c);
		}
	}
}

/* Ends the streams (part in flight, then the close delimiter) and closes
 * the event streams whose event in flight is out. */
static void
finish_streams(struct worker *w)
{
	struct fc_client *c, *next;

	for (int l = 0; l < 2; l++)
	for (c = client_list(w, l); c != NULL; c = next) {
		next = c->next;
		if (c->state == FC_CLIENT_STREAMING) {
			if (fc_client_end_stream(c, &w->env) == FC_STEP_CLOSE)
				close_client(w, c);
		} else if (c->state == FC_CLIENT_EVENTS && c->q.left == 0) {
			close_client(w, c);
		}
	}
}

/* No new parts from now on: the frame in flight is each client's last. */
static void
start_finishing(struct worker *w)
{
	w->finishing = true;
	fc_frame_unref(w->env.current);
	w->env.current = NULL;
}

/*
 * The supervisor tells a worker why it must go through its pipe: a byte
 * 'S' means the server stops (finish the part in flight, close, exit);
 * EOF alone means the worker retires (reload shrank the pool: clients keep
 * streaming for shutdown_grace).
 */
static void
handle_parent(struct worker *w)
{
	char b = 0;
	ssize_t n = read(w->parent_fd, &b, 1);

	if (n == 1 && b == 'S') {
		log_debug("server stopping: finishing parts in flight");
		start_finishing(w);
	}
	start_retiring(w);
	if (w->finishing)
		finish_streams(w);
}

static void
handle_signal(struct worker *w)
{
	struct signalfd_siginfo si;

	while (read(w->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			log_info("signal %u: stopping", si.ssi_signo);
			w->stop_now = true;
		}
	}
}

static int
loop_timeout(const struct worker *w)
{
	int64_t ns = w->next_tick - w->env.now_mono_ns;
	int64_t again = fc_client_recheck_next_ns(&w->env) - w->env.now_mono_ns;
	int ms;

	if (again < ns)
		ns = again;
	if (ns < 0)
		ns = 0;
	ms = (int)((ns + NS_PER_MS - 1) / NS_PER_MS);
	if (!w->listening && !w->retiring && ms > BALANCE_RECHECK_MS)
		ms = BALANCE_RECHECK_MS;	/* re-check the balance soon */
	if (w->listening && !w->retiring) {
		int64_t retry = next_listener_retry(w) - w->env.now_mono_ns;

		if (retry < 0)
			retry = 0;
		if (retry < (int64_t)ms * NS_PER_MS)
			ms = (int)((retry + NS_PER_MS - 1) / NS_PER_MS);
	}
	return ms;
}

static void
run(struct worker *w)
{
	struct epoll_event evs[MAX_EVENTS];
	uint64_t tag;
	int i, n;

	while (!w->stop_now) {
		if (w->retiring && w->nclients == 0)
			break;
		if (w->retiring && w->env.now_mono_ns >= w->retire_deadline) {
			if (w->finishing)
				break;
			/* Grace is over: end each stream after its part in
			 * flight, with the close delimiter, for at most
			 * FINISH_NS more. */
			start_finishing(w);
			w->retire_deadline = w->env.now_mono_ns + FINISH_NS;
			finish_streams(w);
			send_h2(w);
			free_dead(w);
			continue;
		}
		n = epoll_wait(w->epfd, evs, MAX_EVENTS, loop_timeout(w));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_warn("epoll_wait");
			break;
		}
		w->env.now_mono_ns = fc_now_mono_ns();
		for (i = 0; i < n; i++) {
			tag = evs[i].data.u64;
			if (tag == TAG_WATCHER) {
				fc_watcher_ack(&w->watcher);
				if (!w->finishing)
					fan_out(w);
			} else if (tag == TAG_SIGNAL) {
				handle_signal(w);
			} else if (tag >= TAG_REFUSED &&
			    tag < (uint64_t)(TAG_REFUSED + REFUSED_MAX)) {
				refused_event(w, (unsigned)(tag - TAG_REFUSED),
				    evs[i].events);
			} else if (tag == TAG_PARENT) {
				handle_parent(w);
			} else if (tag >= TAG_LISTEN &&
			    tag < (uint64_t)(TAG_LISTEN + w->nlisten)) {
				/* It may have left the set earlier in this
				 * batch. */
				if (w->lst[tag - TAG_LISTEN].in_set)
					accept_clients(w,
					    (int)(tag - TAG_LISTEN));
			} else {
				client_event(w, (struct fc_client *)
				    (uintptr_t)tag, evs[i].events);
			}
		}
		if (w->env.now_mono_ns >= w->next_tick) {
			w->next_tick = w->env.now_mono_ns + TICK_NS;
			tick(w);
		} else if (!w->listening ||
		    w->env.now_mono_ns >= next_listener_retry(w)) {
			update_listening(w);
		}
		recheck(w);
		if (w->finishing)
			finish_streams(w);
		send_h2(w);
		free_dead(w);
	}
}

static void
cleanup(struct worker *w)
{
	struct fc_client *c;

	/* Streams at a part boundary get their close delimiter if the socket
	 * takes it now (retire deadline, SIGTERM); no waiting here. */
	for (int l = 0; l < 2; l++)
		for (c = client_list(w, l); c != NULL; c = c->next)
			if (c->state == FC_CLIENT_STREAMING)
				(void)fc_client_end_stream(c, &w->env);
	send_h2(w);
	for (int l = 0; l < 2; l++)
		while ((c = client_list(w, l)) != NULL)
			close_client(w, c);
	send_h2(w);
	free_dead(w);
	for (unsigned i = 0; i < REFUSED_MAX; i++)
		refused_close(w, i);
	fc_watcher_stop(&w->watcher);
	fc_frame_unref(w->env.current);
	w->env.current = NULL;
	fc_strbuf_free(&w->scratch);
	SSL_CTX_free(w->tls_ctx);
	w->tls_ctx = NULL;
	if (w->sigfd >= 0)
		close(w->sigfd);
	if (w->epfd >= 0)
		close(w->epfd);
}

int
fc_worker_main(const struct fc_worker_args *args)
{
	struct worker w;
	sigset_t mask;
	int status = 1;

	memset(&w, 0, sizeof(w));
	w.epfd = w.sigfd = -1;
	for (unsigned i = 0; i < REFUSED_MAX; i++)
		w.refused[i].fd = -1;
	w.watcher.efd = -1;
	w.cfg_now = *args->cfg;
	w.cfg = &w.cfg_now;
	w.conf = args->conf;
	w.generation = args->generation;
	w.tls = args->tls;
	w.index = args->index;
	w.bus = args->bus;
	w.ctl = args->ctl;
	w.listen_fds = args->listen_fds;
	w.nlisten = args->nlisten;
	w.parent_fd = args->parent_fd;
	if (w.index >= FC_CTL_MAX_WORKERS)
		fatalx("worker index %u out of range", w.index);
	if (w.nlisten < 0 || w.nlisten > FC_CONFIG_MAX_LISTEN)
		fatalx("%d listening sockets: at most %d", w.nlisten,
		    FC_CONFIG_MAX_LISTEN);
	for (int i = 0; i < w.nlisten; i++) {
		/* Read before the sandbox is on. */
		fc_fds_sockname(w.listen_fds[i], w.lst[i].name,
		    sizeof(w.lst[i].name));
		/* As the worker was started: a reload that changes listen
		 * replaces the worker. */
		w.lst[i].tls = i < args->cfg->nlisten && args->cfg->listen[i].tls;
		if (w.lst[i].tls && w.tls == NULL)
			fatalx("%s is marked tls but the worker has no TLS "
			    "material", w.lst[i].name);
	}
	if (w.tls != NULL) {
		/* OpenSSL's setup, and the first context, before the
		 * sandbox (no configuration file is read). */
		fc_tls_init();
		tls_update(&w);
		if (w.tls_ctx == NULL)
			fatalx("no usable TLS material");
	}
	w.stats = &w.ctl->hdr->workers[w.index];
	w.env.cfg = w.cfg;
	w.env.stats = w.stats;
	w.env.now_mono_ns = fc_now_mono_ns();
	fc_strbuf_init(&w.scratch, 1 << 20);

	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	/* Reload and stop come through the parent pipe and SIGTERM; a
	 * terminal hangup for the process group must not kill workers. */
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1) {
		log_warn("sigprocmask");
		goto done;
	}
	if ((w.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    (w.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		log_warn("signalfd/epoll");
		goto done;
	}
	if (ep_add(w.epfd, w.sigfd, EPOLLIN, TAG_SIGNAL) == -1 ||
	    (w.parent_fd >= 0 &&
	    ep_add(w.epfd, w.parent_fd, EPOLLIN, TAG_PARENT) == -1)) {
		log_warn("epoll add");
		goto done;
	}
	/* The thread inherits the blocked signal mask set above. */
	if (fc_watcher_start(&w.watcher, w.bus) == -1 ||
	    ep_add(w.epfd, w.watcher.efd, EPOLLIN, TAG_WATCHER) == -1) {
		log_warn("bus watcher");
		goto done;
	}

	if (args->lockdown != NULL &&
	    (status = args->lockdown(args->lockdown_arg)) != 0) {
		log_warnx("lockdown failed (status %d)", status);
		goto done;
	}
	status = 1;

	atomic_store_explicit(&w.stats->pid, (int32_t)getpid(),
	    memory_order_relaxed);
	atomic_store_explicit(&w.stats->started_real_ns, fc_now_real_ns(),
	    memory_order_relaxed);
	atomic_store_explicit(&w.stats->generation, w.generation,
	    memory_order_relaxed);
	atomic_store_explicit(&w.stats->state, FC_WORKER_SERVING,
	    memory_order_relaxed);
	update_listening(&w);
	w.next_tick = w.env.now_mono_ns + TICK_NS;
	w.next_event = w.env.now_mono_ns;
	log_debug("serving");

	run(&w);
	status = 0;
done:
	cleanup(&w);
	return status;
}
