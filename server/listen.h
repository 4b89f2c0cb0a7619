/*
 * Listening sockets.  The supervisor opens them (it may hold the privilege
 * to bind a low port) and the workers inherit them.
 */
#ifndef FC_LISTEN_H
#define FC_LISTEN_H

#include <stddef.h>

#include "../common/config.h"

/* Opens one non-blocking, close-on-exec listening socket (SO_REUSEADDR,
 * IPV6_V6ONLY for v6).  Returns the fd, or -1 with a one-line reason in
 * err ("listen 127.0.0.1:8080: Address already in use"). */
int fc_listen_open(const struct fc_listen_addr *la, int backlog, char *err,
    size_t errlen);

/* Opens every configured address into fds[0..cfg->nlisten-1]; all or
 * nothing.  Returns 0, or -1 with err set and nothing left open. */
int fc_listen_open_all(const struct fc_config *cfg, int *fds, char *err,
    size_t errlen);

/* Closes fds[0..n-1] that are not -1 and sets them to -1. */
void fc_listen_close_all(int *fds, int n);

#endif
