/*
 * forkcast's version: VERSION in the Makefile, passed as -DFC_VERSION
 * (debian/changelog carries the same number; tests/integration/package.sh
 * checks that they agree).  Printed by `forkcast -V`, sent in every
 * response's Server header and shown in /status.
 */
#ifndef FC_VERSION_H
#define FC_VERSION_H

#ifndef FC_VERSION
#define FC_VERSION "0.0.0-unknown"
#endif

/* The Server header line of every response. */
#define FC_SERVER_HEADER "Server: forkcast/" FC_VERSION "\r\n"

#endif
