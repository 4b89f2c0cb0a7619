/*
 * Listening sockets.  The supervisor opens them (it may hold the privilege
 * to bind a low port) and the workers inherit them.
 */
#ifndef FC_LISTEN_H
#define FC_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/config.h"

/*
 * Opens one non-blocking, close-on-exec listening socket with cfg's
 * backlog (adopted when systemd passed one for la, see fc_listen_adopt).
 * TCP: SO_REUSEADDR, IPV6_V6ONLY for v6.  unix:/path: a stale
 * socket file there (connect is refused: its server is gone) is replaced;
 * a socket another process accepts on, or a file that is not a socket,
 * is refused; the new file is made with no permissions (umask 0777 around
 * bind) and then gets socket_group and socket_mode.  Returns the fd, or -1 with a
 * one-line reason in err ("listen 127.0.0.1:8080: Address already in
 * use", "listen unix:/run/x.sock: another process serves this socket").
 */
int fc_listen_open(const struct fc_config *cfg,
    const struct fc_listen_addr *la, char *err, size_t errlen);

/*
 * Socket activation: records the n listening sockets systemd passed,
 * from descriptor first on (sd_listen_fds).  fc_listen_open() then
 * adopts the one that matches an address (same family, address and
 * port, or the same unix path) instead of binding: a descriptor of its
 * own (close-on-exec, non-blocking, cfg's backlog), the passed one kept
 * for later reloads.  An adopted unix socket keeps the owner and mode
 * systemd gave it (SocketMode=, SocketGroup=): socket_mode and
 * socket_group do not apply to it.  0, or -1 with err set when one is
 * not a listening stream socket or there are too many.
 */
int fc_listen_adopt(int first, int n, char *err, size_t errlen);

/* 0 when every passed socket was adopted by a listen line; else -1 with
 * err naming the first one that was not. */
int fc_listen_all_adopted(char *err, size_t errlen);

/* True when la is served by a socket systemd passed. */
bool fc_listen_is_adopted(const struct fc_listen_addr *la);

/* Opens every configured address into fds[0..cfg->nlisten-1]; all or
 * nothing.  Returns 0, or -1 with err set and nothing left open (socket
 * files made are removed). */
int fc_listen_open_all(const struct fc_config *cfg, int *fds, char *err,
    size_t errlen);

/* Closes fds[0..n-1] that are not -1 and sets them to -1. */
void fc_listen_close_all(int *fds, int n);

/* Removes the socket file of a unix: address when this process made it
 * (same path and inode as bound); anything else is left alone.  New
 * connections cannot reach the socket any more; the ones accepted stay. */
void fc_listen_remove(const struct fc_listen_addr *la);

/* Gives the socket file of a unix: address (made by this process) cfg's
 * socket_group and socket_mode again (a reload that keeps the address).
 * Returns 0, or -1 with err set; nothing to do for TCP. */
int fc_listen_set_access(const struct fc_config *cfg,
    const struct fc_listen_addr *la, char *err, size_t errlen);

#endif
