/* Host names in normal form; see host.h. */
#include "host.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#define DNS_NAME_MAX 253
#define DNS_LABEL_MAX 63

static const char *
normalize_v6(const char *s, size_t len, char out[FC_HOST_MAX])
{
	char buf[64];
	struct in6_addr a;
	size_t n;

	if (len == 0 || len >= sizeof(buf))
		return "not an IPv6 address";
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET6, buf, &a) != 1)
		return "not an IPv6 address";
	out[0] = '[';
	if (inet_ntop(AF_INET6, &a, out + 1, FC_HOST_MAX - 2) == NULL)
		return "not an IPv6 address";
	n = strlen(out);
	out[n] = ']';
	out[n + 1] = '\0';
	return NULL;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static const char *
normalize_name(const char *s, size_t len, char out[FC_HOST_MAX])
{
	struct in_addr a;
	size_t i, label = 0;
	bool digits = true;	/* the current label is all digits */
	char c;

	/* "name." is the same host as "name" (the root zone's dot). */
	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0)
		return "empty host name";
	if (len > DNS_NAME_MAX)
		return "longer than 253 characters";
	for (i = 0; i < len; i++) {
		c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == '.') {
			if (label == 0)
				return "empty label (a leading dot or two dots "
				    "in a row)";
			if (out[i - 1] == '-')
				return "a label ends with '-'";
			label = 0;
			digits = true;
		} else if ((c >= 'a' && c <= 'z') || is_digit(c) || c == '-') {
			if (label == 0 && c == '-')
				return "a label starts with '-'";
			if (++label > DNS_LABEL_MAX)
				return "a label is longer than 63 characters";
			if (!is_digit(c))
				digits = false;
		} else
			return "not a host name (letters, digits, '-' and '.' "
			    "only)";
		out[i] = c;
	}
	out[len] = '\0';
	if (label == 0)
		return "empty label (a leading dot or two dots in a row)";
	if (out[len - 1] == '-')
		return "a label ends with '-'";
	/* A numeric last label makes it an address, never a DNS name. */
	if (digits && inet_pton(AF_INET, out, &a) != 1)
		return "not an IPv4 address (a.b.c.d, no leading zeros)";
	return NULL;
}

const char *
fc_host_normalize(const char *s, size_t len, char out[FC_HOST_MAX])
{
	const char *why, *close;

	if (len > 0 && s[0] == '[') {
		close = memchr(s, ']', len);
		if (close == NULL)
			why = "missing ] after an IPv6 address";
		else if (close != s + len - 1)
			why = "text after ] (names are listed without a port)";
		else
			why = normalize_v6(s + 1, len - 2, out);
	} else if (memchr(s, ':', len) != NULL) {
		if (normalize_v6(s, len, out) != NULL)
			why = "has a ':' but is not an IPv6 address (names "
			    "are listed without a port)";
		else
			why = NULL;
	} else
		why = normalize_name(s, len, out);
	if (why != NULL)
		out[0] = '\0';
	return why;
}

bool
fc_host_from_header(const char *value, char out[FC_HOST_MAX])
{
	const char *end, *rest;

	out[0] = '\0';
	if (value[0] == '[') {
		if ((end = strchr(value, ']')) == NULL)
			return false;
		rest = end + 1;
	} else {
		/* A bare IPv6 address is not a Host: its first ':' is
		 * taken for the port and leaves an empty name. */
		rest = strchr(value, ':');
		if (rest == NULL)
			rest = value + strlen(value);
	}
	/* The port (RFC 3986: port = *DIGIT) is not compared. */
	if (*rest != '\0') {
		if (*rest != ':')
			return false;
		for (end = rest + 1; *end != '\0'; end++)
			if (!is_digit(*end))
				return false;
	}
	return fc_host_normalize(value, (size_t)(rest - value), out) == NULL;
}

bool
fc_host_allowed(const char (*list)[FC_HOST_MAX], size_t n, const char *value)
{
	char host[FC_HOST_MAX];
	size_t i;

	if (n == 0 || list[0][0] == '\0')
		return true;
	if (value == NULL || !fc_host_from_header(value, host))
		return false;
	for (i = 0; i < n && list[i][0] != '\0'; i++)
		if (strcmp(list[i], host) == 0)
			return true;
	return false;
}
