/* Bus futex -> eventfd thread; see watcher.h. */
#include "watcher.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../common/futex.h"
#include "../common/log.h"

#define WAIT_MS 1000

static void *
watch(void *arg)
{
	struct fc_watcher *w = arg;
	uint32_t seen, last;

	last = fc_bus_futex_value(w->bus);
	/* A frame may already be there when the worker starts. */
	if (fc_bus_head(w->bus) != 0)
		(void)eventfd_write(w->efd, 1);
	while (!atomic_load(&w->stop)) {
		seen = fc_bus_futex_value(w->bus);
		if (seen != last) {
			last = seen;
			/* EAGAIN only when the counter is huge: already
			 * readable, nothing lost. */
			(void)eventfd_write(w->efd, 1);
		}
		if (fc_bus_wait(w->bus, seen, WAIT_MS) < 0 && errno != EINTR) {
			log_warn("bus wait");
			usleep(100 * 1000);
		}
	}
	return NULL;
}

int
fc_watcher_start(struct fc_watcher *w, struct fc_bus *bus)
{
	int err;

	memset(w, 0, sizeof(*w));
	w->bus = bus;
	atomic_init(&w->stop, false);
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0)
		return -1;
	if ((err = pthread_create(&w->thread, NULL, watch, w)) != 0) {
		close(w->efd);
		w->efd = -1;
		errno = err;
		return -1;
	}
	w->started = true;
	return 0;
}

void
fc_watcher_ack(struct fc_watcher *w)
{
	eventfd_t v;

	(void)eventfd_read(w->efd, &v);
}

void
fc_watcher_stop(struct fc_watcher *w)
{
	if (w->started) {
		atomic_store(&w->stop, true);
		/* Wake the thread now instead of after its timeout: a
		 * FUTEX_WAKE only needs read access to the word; the other
		 * waiters (other workers' watchers) see a spurious wake and
		 * go back to sleep. */
		fc_futex_wake(&w->bus->hdr->futex, INT32_MAX);
		pthread_join(w->thread, NULL);
		w->started = false;
	}
	if (w->efd >= 0)
		close(w->efd);
	w->efd = -1;
}
