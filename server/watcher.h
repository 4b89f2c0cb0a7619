/*
 * The bus watcher: a small thread that sleeps on the bus futex
 * (fc_bus_wait, 1 s timeout) and turns every publish into a readable
 * eventfd, so the worker's epoll loop learns about new frames without
 * polling.  Publishes that arrive while the loop is busy coalesce in the
 * eventfd counter: the loop reads the newest frame once per wake.
 */
#ifndef FC_WATCHER_H
#define FC_WATCHER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "../common/bus.h"

struct fc_watcher {
	struct fc_bus *bus;
	int efd;			/* eventfd for epoll, -1 when closed */
	pthread_t thread;
	bool started;
	atomic_bool stop;
};

/* Creates the eventfd (non-blocking, close-on-exec) and starts the thread.
 * Block the signals the worker handles before calling, so the thread
 * inherits the mask.  0, or -1 with errno. */
int fc_watcher_start(struct fc_watcher *w, struct fc_bus *bus);

/* Clears the eventfd after epoll reported it readable. */
void fc_watcher_ack(struct fc_watcher *w);

/* Stops and joins the thread, closes the eventfd.  Accepts a watcher that
 * failed to start (efd -1, started false). */
void fc_watcher_stop(struct fc_watcher *w);

#endif
