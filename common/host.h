/*
 * Host names: the normal form shared by the allowed_hosts list (checked
 * and stored by config.c) and the Host header of a request (checked by a
 * worker), so that both sides of the comparison are written alike.
 *
 * Normal form:
 *   DNS name      lower case, no trailing dot ("Cam.Example.ORG." ->
 *                 "cam.example.org"): letters, digits and '-' in labels
 *                 of 1..63 characters that neither start nor end with
 *                 '-', 253 characters at most
 *   IPv4 address  dotted quad as inet_pton(3) reads it ("127.0.0.1")
 *   IPv6 address  in brackets, as inet_ntop(3) writes it ("[::1]" for
 *                 "[0:0::1]"); zone ids ("%eth0") are refused
 * A name whose last label is all digits must be an IPv4 address (browsers
 * read "1.2.3" as one).  Pure functions: no allocation, no system calls
 * (a sandboxed worker calls them).
 */
#ifndef FC_HOST_H
#define FC_HOST_H

#include <stdbool.h>
#include <stddef.h>

/* Room for a normal-form name and its NUL (a DNS name is 253 at most). */
#define FC_HOST_MAX 256

/*
 * Writes the normal form of the name in s[0..len) (no port; an IPv6
 * address with or without brackets) to out.  Returns NULL, or why the
 * name is not a host name (out is then "").
 */
const char *fc_host_normalize(const char *s, size_t len,
    char out[FC_HOST_MAX]);

/*
 * Writes the normal form of the host of a Host header value ("name",
 * "name:port", "[v6]" or "[v6]:port"; the port is dropped) to out.
 * Returns false when the value is no such thing (out is then "").
 */
bool fc_host_from_header(const char *value, char out[FC_HOST_MAX]);

/*
 * True when the Host header value matches one of the n normal-form names
 * in list, or when list is empty (its first name is "": any host).  The
 * list ends at n or at its first "" name.  value NULL (no Host header)
 * matches only the empty list.
 */
bool fc_host_allowed(const char (*list)[FC_HOST_MAX], size_t n,
    const char *value);

#endif
