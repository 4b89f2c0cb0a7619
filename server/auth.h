/*
 * HTTP Basic authentication (RFC 7617) for the worker: checks one
 * Authorization header value against the configured "user:password".
 */
#ifndef FC_AUTH_H
#define FC_AUTH_H

#include <stdbool.h>

/* Longest credentials accepted, decoded ("user:password"). */
#define FC_AUTH_MAX_CREDENTIALS 512

/*
 * True when authorization_value is "Basic <base64>" (scheme matched
 * case-insensitively, one or more spaces before the token, optional
 * trailing whitespace) and the token decodes, strictly, to exactly
 * user_colon_password.  Anything malformed, too long or containing a NUL
 * byte is false.  The comparison takes the same time wherever the first
 * difference is, so a client cannot guess the password byte by byte.
 * Either argument may be NULL (false).
 */
bool fc_auth_check(const char *authorization_value,
    const char *user_colon_password);

#endif
