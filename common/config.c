/*
 * forkcast configuration; see config.h.
 *
 * One table (keys[] below) drives parsing, validation, defaults, the
 * reload comparison and the documented default file.  libinih splits
 * "key = value" lines and calls on_key(); it is fed through read_line(),
 * which counts lines and classifies each raw line first, because inih
 * reports only the first bad line and silently cuts lines longer than its
 * buffer.  Every line inih sees has therefore already been checked: it is
 * either a known-good "[section]" header, a well-formed "key = value" or
 * an empty line standing in for a comment or a line already reported.
 */
#include "config.h"

#include "log.h"
#include "tls.h"
#include "url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ini.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Longest line accepted (without the newline).  The longest value is a
 * 1023-byte url; anything longer is refused, never cut. */
#define LINE_MAX_LEN	2048
/* A configuration file is small; this bounds the read of a wrong path
 * (a log file, a device) given by mistake. */
#define FILE_MAX_LEN	(1024 * 1024)
/* How much of a bad value is echoed back in a message. */
#define SHOW_MAX	60

#define KIB	1024LL
#define MIB	(1024LL * 1024)
#define GIB	(1024LL * 1024 * 1024)

enum key_type {
	KT_INT,		/* int, min..max */
	KT_SECONDS,	/* int seconds, optional s/m/h suffix, min..max */
	KT_SIZE,	/* uint64_t bytes, optional K/M/G suffix, min..max */
	KT_BOOL,	/* bool: yes/no true/false on/off 1/0 */
	KT_STRING,	/* char[size], at most size-1 bytes, no controls */
	KT_ENUM,	/* int index into names[] */
	KT_LISTEN,	/* listen[] / nlisten, may repeat */
	KT_HOSTS,	/* char[FC_CONFIG_MAX_HOSTS][FC_HOST_MAX], see host.h */
	KT_MODE,	/* int file permissions, octal, min..max */
};

/* Extra check for a string value: returns NULL when fine, else why not. */
typedef const char *(*check_fn)(const char *value);

struct key_def {
	const char *section;
	const char *name;
	enum key_type type;
	long long min, max;	/* KT_INT, KT_SECONDS, KT_SIZE */
	const char *def;	/* default as written in a file; NULL = none */
	const char *example;	/* shown commented out when def is NULL */
	size_t offset;		/* into struct fc_config */
	size_t size;		/* of that field */
	const char *const *names; /* KT_ENUM: names, index = stored value */
	check_fn check;		/* KT_STRING: extra validation, or NULL */
	const char *help;	/* one line for the default file */
};

static const char *check_user(const char *);
static const char *check_group(const char *);
static const char *check_auth(const char *);
static const char *check_header(const char *);
static const char *check_url(const char *);

static const char *const source_names[] = {
	[FC_SOURCE_TESTPATTERN] = "testpattern",
	[FC_SOURCE_FILES] = "files",
	[FC_SOURCE_V4L2] = "v4l2",
	[FC_SOURCE_LIBCAMERA] = "libcamera",
	[FC_SOURCE_HTTP] = "http",
	NULL,
};

static const char *const level_names[] = {
	[FC_LOG_ERROR] = "error",
	[FC_LOG_WARN] = "warn",
	[FC_LOG_INFO] = "info",
	[FC_LOG_DEBUG] = "debug",
	NULL,
};

/* KT_ENUM values are stored through an int pointer. */
_Static_assert(sizeof(enum fc_source_kind) == sizeof(int),
    "enum fc_source_kind is stored as an int");

#define FIELD(f) offsetof(struct fc_config, f), \
	sizeof(((struct fc_config *)NULL)->f)

static const struct key_def keys[] = {
	{ "server", "listen", KT_LISTEN, 0, 0, "127.0.0.1:8080", NULL,
	  FIELD(listen), NULL, NULL,
	  "host:port (numeric IPv4, * = all), [v6]:port or unix:/absolute/path; "
	  "repeat for more; \"host:port tls\" serves HTTPS with [tls] "
	  "certificate and key" },
	{ "server", "workers", KT_INT, 1, 256, "2", NULL,
	  FIELD(workers), NULL, NULL,
	  "prefork worker processes" },
	{ "server", "user", KT_STRING, 0, 0, "nobody", NULL,
	  FIELD(user), NULL, check_user,
	  "unprivileged user the workers (and capture, where possible) run as" },
	{ "server", "max_clients", KT_INT, 1, 1000000, "4096", NULL,
	  FIELD(max_clients), NULL, NULL,
	  "streams and /events streams over all workers; beyond it 503" },
	{ "server", "max_clients_per_ip", KT_INT, 0, 1000000, "0", NULL,
	  FIELD(max_clients_per_ip), NULL, NULL,
	  "streams from one address over all workers, 0 = no limit" },
	{ "server", "max_connections", KT_INT, 1, 1000000, "8192", NULL,
	  FIELD(max_connections), NULL, NULL,
	  "open connections of any kind over all workers; beyond it 503" },
	{ "server", "client_timeout", KT_SECONDS, 1, 3600, "10", NULL,
	  FIELD(client_timeout), NULL, NULL,
	  "time allowed to receive a whole request" },
	{ "server", "send_timeout", KT_SECONDS, 1, 3600, "30", NULL,
	  FIELD(send_timeout), NULL, NULL,
	  "time a client may accept no data before it is dropped" },
	{ "server", "shutdown_grace", KT_SECONDS, 0, 3600, "10", NULL,
	  FIELD(shutdown_grace), NULL, NULL,
	  "time to close streams on stop or when a worker retires" },
	{ "server", "backlog", KT_INT, 1, 65535, "511", NULL,
	  FIELD(backlog), NULL, NULL,
	  "listen(2) backlog of pending connections" },
	{ "server", "auth", KT_STRING, 0, 0, NULL, "user:password",
	  FIELD(auth), NULL, check_auth,
	  "HTTP Basic credentials for every path but /healthz; default: none" },
	{ "server", "allow_origin", KT_STRING, 0, 0, NULL, "*",
	  FIELD(allow_origin), NULL, check_header,
	  "value of Access-Control-Allow-Origin; default: not sent" },
	{ "server", "pid_file", KT_STRING, 0, 0, NULL,
	  "/run/forkcast/forkcast-8080.pid", FIELD(pid_file), NULL, NULL,
	  "where forkcastctl finds the supervisor (locked while it runs); "
	  "default: forkcast-PORT.pid (PORT = first TCP listen port; "
	  "forkcast-unix-NAME.pid, NAME = the first socket's file name, when "
	  "every listen is unix:) in /run/forkcast as root, else in "
	  "$XDG_RUNTIME_DIR, else next to this file" },
	{ "server", "socket_mode", KT_MODE, 0, 0777, "0660", NULL,
	  FIELD(socket_mode), NULL, NULL,
	  "permissions of each listen = unix: socket file" },
	{ "server", "socket_group", KT_STRING, 0, 0, NULL, "www-data",
	  FIELD(socket_group), NULL, check_group,
	  "group of each listen = unix: socket file; default: the "
	  "supervisor's group" },
	{ "server", "allowed_hosts", KT_HOSTS, 0, 0, NULL,
	  "localhost, 127.0.0.1, [::1], cam.example.org",
	  FIELD(allowed_hosts), NULL, NULL,
	  "Host names served (comma or space between names); others get 421; "
	  "default: any" },

	{ "capture", "source", KT_ENUM, 0, 0, "testpattern", NULL,
	  FIELD(source), source_names, NULL,
	  "where frames come from" },
	{ "capture", "device", KT_STRING, 0, 0, "/dev/video0", NULL,
	  FIELD(device), NULL, NULL,
	  "V4L2 device for the v4l2 source" },
	{ "capture", "camera", KT_STRING, 0, 0, NULL,
	  "/base/soc/i2c0mux/i2c@1/imx219@10",
	  FIELD(camera), NULL, NULL,
	  "libcamera camera id; default: the first camera" },
	{ "capture", "directory", KT_STRING, 0, 0, NULL, "/srv/forkcast/frames",
	  FIELD(directory), NULL, NULL,
	  "JPEG folder cycled by the files source; default: bundled samples" },
	{ "capture", "url", KT_STRING, 0, 0, NULL,
	  "http://192.0.2.10:8080/stream",
	  FIELD(url), NULL, check_url,
	  "upstream MJPEG stream for the http source (http:// only); "
	  "http://user:password@host/... sends HTTP Basic credentials "
	  "(percent-encode ':' '@' '%'), never shown with the query" },
	{ "capture", "width", KT_INT, 16, 7680, "1280", NULL,
	  FIELD(width), NULL, NULL,
	  "requested frame width in pixels" },
	{ "capture", "height", KT_INT, 16, 4320, "720", NULL,
	  FIELD(height), NULL, NULL,
	  "requested frame height in pixels" },
	{ "capture", "fps", KT_INT, 1, 240, "30", NULL,
	  FIELD(fps), NULL, NULL,
	  "frames per second" },
	{ "capture", "quality", KT_INT, 1, 100, "80", NULL,
	  FIELD(quality), NULL, NULL,
	  "JPEG quality when forkcast encodes" },
	{ "capture", "idle_stop", KT_SECONDS, 0, 86400, "10", NULL,
	  FIELD(idle_stop), NULL, NULL,
	  "time without viewers before capture pauses, 0 = never" },
	{ "capture", "drop_same_frames", KT_BOOL, 0, 0, "no", NULL,
	  FIELD(drop_same_frames), NULL, NULL,
	  "skip frames identical to the previous one" },
	{ "capture", "max_frame_size", KT_SIZE, 64 * KIB, 64 * MIB, "4M", NULL,
	  FIELD(max_frame_size), NULL, NULL,
	  "largest JPEG frame a bus slot holds" },
	{ "capture", "slots", KT_INT, 3, 64, "4", NULL,
	  FIELD(slots), NULL, NULL,
	  "frame bus slots" },

	{ "tls", "certificate", KT_STRING, 0, 0, NULL,
	  "/etc/letsencrypt/live/cam.example.org/fullchain.pem",
	  FIELD(tls_certificate), NULL, NULL,
	  "PEM certificate, then its chain, for listen addresses marked tls; "
	  "read by the supervisor at start and at every reload" },
	{ "tls", "key", KT_STRING, 0, 0, NULL,
	  "/etc/letsencrypt/live/cam.example.org/privkey.pem",
	  FIELD(tls_key), NULL, NULL,
	  "PEM private key of that certificate, unencrypted, not readable "
	  "by other users" },

	{ "log", "level", KT_ENUM, 0, 0, "info", NULL,
	  FIELD(log_level), level_names, NULL,
	  "least severe messages logged" },
	{ "log", "file", KT_STRING, 0, 0, NULL, "/var/log/forkcast.log",
	  FIELD(log_file), NULL, NULL,
	  "log file, opened by the supervisor; default: standard error" },
};

#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

static const char *const sections[] = { "server", "capture", "tls", "log" };
#define NSECTIONS	(sizeof(sections) / sizeof(sections[0]))

/* State of one load: the configuration being built and what was seen. */
struct loader {
	const char *name;	/* file name for messages */
	const char *buf;	/* whole file */
	size_t len, pos;
	int lineno;		/* line last handed to inih */
	char section[16];	/* current known section, "" = none yet */
	bool in_section;	/* a [section] line was seen */
	bool section_known;	/* ... and it is one of sections[] */
	int first_line[NKEYS];	/* line a key was first given on, 0 = not */
	int listen_line[FC_CONFIG_MAX_LISTEN];
	bool listen_given;	/* the file's list replaces the default */
	FILE *errs;
	int nerrors;
	struct fc_config cfg;	/* copied out only when nerrors == 0 */
};

/*
 * Copies s for an error message: control characters escaped (a config
 * value must not drive the operator's terminal), long values cut with
 * "...".
 */
static const char *
show(const char *s, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0, i;

	for (i = 0; s[i] != '\0' && i < SHOW_MAX && n + 5 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f) {
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		} else
			out[n++] = (char)c;
	}
	if (s[i] != '\0' && n + 4 < outlen) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return out;
}

static void error_at(struct loader *, int, const char *, const char *, ...)
    __attribute__((format(printf, 4, 5)));

/* Records one problem: "FILE:LINE: KEY: message". */
static void
error_at(struct loader *ld, int line, const char *key, const char *fmt, ...)
{
	va_list ap;

	ld->nerrors++;
	if (ld->errs == NULL)
		return;
	fprintf(ld->errs, "%s:%d: %s: ", ld->name, line, key);
	va_start(ap, fmt);
	vfprintf(ld->errs, fmt, ap);
	va_end(ap);
	fputc('\n', ld->errs);
}

static bool
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Portable user names (POSIX plus the usual trailing '$' of machine
 * accounts); root is refused because workers must not stay privileged. */
static const char *
check_user(const char *v)
{
	size_t i, n = strlen(v);

	if (n > 32)
		return "user name longer than 32 characters";
	if (v[n - 1] == '$')
		n--;
	if (n == 0 || !(v[0] == '_' || (v[0] >= 'a' && v[0] <= 'z') ||
	    (v[0] >= 'A' && v[0] <= 'Z')))
		return "not a valid user name";
	for (i = 1; i < n; i++) {
		char c = v[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
			return "not a valid user name";
	}
	if (strcmp(v, "root") == 0)
		return "workers must not run as root";
	return NULL;
}

/* A group name: the same portable characters as a user name. */
static const char *
check_group(const char *v)
{
	size_t i, n = strlen(v);

	if (n > 32)
		return "group name longer than 32 characters";
	if (!(v[0] == '_' || (v[0] >= 'a' && v[0] <= 'z') ||
	    (v[0] >= 'A' && v[0] <= 'Z')))
		return "not a valid group name";
	for (i = 1; i < n; i++) {
		char c = v[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		    c == '.'))
			return "not a valid group name";
	}
	return NULL;
}

/* Goes into an HTTP header: printable ASCII only, so no CR/LF injection. */
static const char *
check_header(const char *v)
{
	for (; *v != '\0'; v++)
		if ((unsigned char)*v < 0x20 || (unsigned char)*v >= 0x7f)
			return "only printable ASCII characters are allowed";
	return NULL;
}

static const char *
check_auth(const char *v)
{
	const char *colon = strchr(v, ':');

	if (colon == NULL)
		return "must be user:password";
	if (colon == v)
		return "empty user name (must be user:password)";
	if (colon[1] == '\0')
		return "empty password (must be user:password)";
	return NULL;
}

/* The relay's own parser (url.h), so that whatever the relay would refuse
 * is refused here, at start, by -n and by reload. */
static const char *
check_url(const char *v)
{
	static char why[160];	/* the loader copies it before the next call */
	struct fc_url u;

	if (fc_url_parse(v, &u, why, sizeof(why)) < 0)
		return why;
	return NULL;
}

/*
 * Parses an optionally negative decimal integer and returns the first byte
 * after it in *end; -1 when it does not start with digits.  Overflow
 * saturates (strtoll), which every caller's range check then refuses.
 */
static int
parse_integer(const char *s, long long *out, const char **end)
{
	char *e;

	if (!((s[0] >= '0' && s[0] <= '9') ||
	    (s[0] == '-' && s[1] >= '0' && s[1] <= '9')))
		return -1;
	*out = strtoll(s, &e, 10);
	*end = e;
	return 0;
}

/* "64K", "4M": the way sizes are written in messages and the file. */
static void
format_size(long long v, char *out, size_t outlen)
{
	if (v != 0 && v % GIB == 0)
		snprintf(out, outlen, "%lldG", v / GIB);
	else if (v != 0 && v % MIB == 0)
		snprintf(out, outlen, "%lldM", v / MIB);
	else if (v != 0 && v % KIB == 0)
		snprintf(out, outlen, "%lldK", v / KIB);
	else
		snprintf(out, outlen, "%lld", v);
}

/* The range or choice a key accepts, for messages and the default file. */
static void
format_range(const struct key_def *k, char *out, size_t outlen)
{
	char lo[32], hi[32];
	size_t n = 0;

	out[0] = '\0';
	switch (k->type) {
	case KT_INT:
		snprintf(out, outlen, "%lld..%lld", k->min, k->max);
		break;
	case KT_SECONDS:
		snprintf(out, outlen, "%lld..%lld seconds", k->min, k->max);
		break;
	case KT_SIZE:
		format_size(k->min, lo, sizeof(lo));
		format_size(k->max, hi, sizeof(hi));
		snprintf(out, outlen, "%s..%s", lo, hi);
		break;
	case KT_BOOL:
		snprintf(out, outlen, "yes or no");
		break;
	case KT_ENUM:
		for (const char *const *p = k->names; *p != NULL; p++) {
			int r = snprintf(out + n, outlen - n, "%s%s",
			    p == k->names ? "" : ", ", *p);

			if (r < 0 || (size_t)r >= outlen - n)
				break;
			n += (size_t)r;
		}
		break;
	case KT_MODE:
		snprintf(out, outlen, "octal %04llo..%04llo", k->min, k->max);
		break;
	case KT_STRING:
	case KT_LISTEN:
	case KT_HOSTS:
		break;
	}
}

/* "8080" -> 8080; -1 unless 1..65535 and nothing else. */
static int
parse_port(const char *s)
{
	long long v;
	const char *end;

	if (s[0] == '-' || parse_integer(s, &v, &end) == -1 || *end != '\0' ||
	    v < 1 || v > 65535)
		return -1;
	return (int)v;
}

/*
 * Parses "a.b.c.d:port", "*:port" or "[v6]:port" (numeric only: the
 * supervisor must not depend on DNS at start).  Returns NULL or why not.
 */
static const char *parse_address(const char *, struct fc_listen_addr *);

/* An address, then optionally blanks and "tls" (HTTPS on it). */
static const char *
parse_listen(const char *v, struct fc_listen_addr *la)
{
	char addr[FC_LISTEN_TEXT_MAX + 8];
	size_t n = strlen(v);
	const char *bad;
	bool tls = false;

	if (n >= 4 && strcmp(v + n - 3, "tls") == 0 &&
	    (v[n - 4] == ' ' || v[n - 4] == '\t')) {
		tls = true;
		for (n -= 4; n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'); n--)
			;
	}
	if (n >= sizeof(addr))
		return "too long for a listen address";
	memcpy(addr, v, n);
	addr[n] = '\0';
	/* A unix: path may hold blanks; an address may not. */
	if (strncmp(addr, "unix:", 5) == 0 && !tls)
		return parse_address(v, la);
	if (strncmp(addr, "unix:", 5) != 0 && strpbrk(addr, " \t") != NULL)
		return "expected ADDRESS:PORT, optionally followed by tls";
	if ((bad = parse_address(addr, la)) != NULL)
		return bad;
	if (tls && la->addr.ss_family == AF_UNIX)
		return "tls is for TCP addresses (a proxy on a unix: socket "
		    "terminates TLS itself)";
	la->tls = tls;
	return NULL;
}

/* ADDRESS:PORT or unix:PATH alone. */
static const char *
parse_address(const char *v, struct fc_listen_addr *la)
{
	char host[64];
	const char *colon;
	size_t hostlen;
	int port;

	memset(la, 0, sizeof(*la));
	if (strncmp(v, "unix:", 5) == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&la->addr;
		const char *path = v + 5;
		size_t n = strlen(path);

		_Static_assert(sizeof(struct sockaddr_un) <=
		    sizeof(struct sockaddr_storage), "sockaddr_un fits");
		_Static_assert(5 + sizeof(sun->sun_path) <= FC_LISTEN_TEXT_MAX,
		    "unix:PATH fits in text");
		if (path[0] != '/')
			return "unix: needs an absolute path (unix:/run/x.sock)";
		/* A path that fills sun_path would have no NUL: Linux
		 * accepts it, other tools (and sun_path readers) do not. */
		if (n >= sizeof(sun->sun_path))
			return "unix: path longer than 107 characters "
			    "(sun_path)";
		if (path[n - 1] == '/')
			return "unix: path names a directory";
		if (has_control(path))
			return "unix: path contains a control character";
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, path, n + 1);
		la->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    n + 1);
		memcpy(la->text, v, strlen(v) + 1);
		return NULL;
	}
	if (strlen(v) >= sizeof(la->text))
		return "too long for a listen address";
	if (v[0] == '[') {
		const char *close = strchr(v, ']');
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&la->addr;

		if (close == NULL)
			return "missing ] after the IPv6 address";
		if (close[1] != ':')
			return "missing :port after [address]";
		hostlen = (size_t)(close - v - 1);
		if (hostlen == 0 || hostlen >= sizeof(host))
			return "not a numeric IPv6 address";
		memcpy(host, v + 1, hostlen);
		host[hostlen] = '\0';
		if ((port = parse_port(close + 2)) == -1)
			return "port must be a number 1..65535";
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return "not a numeric IPv6 address";
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		la->addrlen = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&la->addr;

		if ((colon = strrchr(v, ':')) == NULL)
			return "missing :port";
		if (memchr(v, ':', (size_t)(colon - v)) != NULL)
			return "IPv6 addresses must be written [address]:port";
		hostlen = (size_t)(colon - v);
		if (hostlen == 0)
			return "missing address before :port";
		if (hostlen >= sizeof(host))
			return "not a numeric IPv4 address";
		memcpy(host, v, hostlen);
		host[hostlen] = '\0';
		if ((port = parse_port(colon + 1)) == -1)
			return "port must be a number 1..65535";
		if (strcmp(host, "*") == 0)
			sin->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return "not a numeric IPv4 address (names are not "
			    "looked up)";
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		la->addrlen = sizeof(*sin);
	}
	memcpy(la->text, v, strlen(v) + 1);
	return NULL;
}

static bool
same_listen(const struct fc_listen_addr *a, const struct fc_listen_addr *b)
{
	if (a->addr.ss_family != b->addr.ss_family)
		return false;
	if (a->addr.ss_family == AF_UNIX)
		return strcmp(a->text, b->text) == 0;
	if (a->addr.ss_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)&a->addr;
		const struct sockaddr_in *y = (const struct sockaddr_in *)&b->addr;

		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	} else {
		const struct sockaddr_in6 *x =
		    (const struct sockaddr_in6 *)&a->addr;
		const struct sockaddr_in6 *y =
		    (const struct sockaddr_in6 *)&b->addr;

		return x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr,
		    sizeof(x->sin6_addr)) == 0;
	}
}

/*
 * Parses allowed_hosts: names separated by commas and/or blanks, each
 * stored in host.h's normal form into list (max entries, the unused ones
 * ""), so a worker compares a request's Host with plain strcmp.  Returns
 * 0, or -1 with the first problem in why.
 */
static int
parse_hosts(const char *v, char (*list)[FC_HOST_MAX], size_t max, char *why,
    size_t whylen)
{
	static const char seps[] = ", \t";
	char tok[SHOW_MAX + 2], shown[SHOW_MAX * 4 + 8];
	const char *bad;
	size_t n = 0, i, len;

	memset(list, 0, max * sizeof(list[0]));
	for (;;) {
		v += strspn(v, seps);
		if (*v == '\0')
			break;
		len = strcspn(v, seps);
		/* Enough of the name for a message (show() adds "..."). */
		i = len < sizeof(tok) - 1 ? len : sizeof(tok) - 1;
		memcpy(tok, v, i);
		tok[i] = '\0';
		show(tok, shown, sizeof(shown));
		if (n == max) {
			snprintf(why, whylen, "more than %zu host names", max);
			return -1;
		}
		if ((bad = fc_host_normalize(v, len, list[n])) != NULL) {
			snprintf(why, whylen, "'%s': %s", shown, bad);
			return -1;
		}
		for (i = 0; i < n; i++) {
			if (strcmp(list[i], list[n]) == 0) {
				snprintf(why, whylen, "'%s' is listed twice "
				    "(names are compared as %s)", shown,
				    list[n]);
				return -1;
			}
		}
		n++;
		v += len;
	}
	if (n == 0) {
		snprintf(why, whylen, "no host name in the list");
		return -1;
	}
	return 0;
}

/*
 * Stores value into the field of key k in cfg.  Returns 0, or -1 with a
 * message in why.  KT_LISTEN is handled by the caller.
 */
static int
set_value(const struct key_def *k, const char *value, struct fc_config *cfg,
    char *why, size_t whylen)
{
	char *field = (char *)cfg + k->offset;
	char shown[SHOW_MAX * 4 + 8], range[96];
	const char *end, *bad;
	long long v, mult;
	size_t len;

	show(value, shown, sizeof(shown));
	format_range(k, range, sizeof(range));
	switch (k->type) {
	case KT_INT:
		if (parse_integer(value, &v, &end) == -1 || *end != '\0') {
			snprintf(why, whylen, "'%s' is not a whole number", shown);
			return -1;
		}
		if (v < k->min || v > k->max) {
			snprintf(why, whylen, "%s is out of range (%s)", shown,
			    range);
			return -1;
		}
		*(int *)(void *)field = (int)v;
		return 0;
	case KT_SECONDS:
		if (parse_integer(value, &v, &end) == -1 ||
		    !(end[0] == '\0' || (end[1] == '\0' &&
		    strchr("smh", end[0]) != NULL))) {
			snprintf(why, whylen, "'%s' is not a number of seconds "
			    "(30, 30s, 5m, 1h)", shown);
			return -1;
		}
		mult = end[0] == 'h' ? 3600 : end[0] == 'm' ? 60 : 1;
		if (v < 0 || v > k->max / mult || v * mult < k->min) {
			snprintf(why, whylen, "%s is out of range (%s)", shown,
			    range);
			return -1;
		}
		*(int *)(void *)field = (int)(v * mult);
		return 0;
	case KT_SIZE:
		if (parse_integer(value, &v, &end) == -1 ||
		    !(end[0] == '\0' || (end[1] == '\0' &&
		    strchr("kKmMgG", end[0]) != NULL))) {
			snprintf(why, whylen, "'%s' is not a size (bytes, or a "
			    "number with K, M or G)", shown);
			return -1;
		}
		mult = (end[0] == 'g' || end[0] == 'G') ? GIB :
		    (end[0] == 'm' || end[0] == 'M') ? MIB :
		    (end[0] == 'k' || end[0] == 'K') ? KIB : 1;
		if (v < 0 || v > k->max / mult || v * mult < k->min) {
			snprintf(why, whylen, "%s is out of range (%s)", shown,
			    range);
			return -1;
		}
		*(uint64_t *)(void *)field = (uint64_t)(v * mult);
		return 0;
	case KT_BOOL:
		if (strcasecmp(value, "yes") == 0 ||
		    strcasecmp(value, "true") == 0 ||
		    strcasecmp(value, "on") == 0 || strcmp(value, "1") == 0)
			*(bool *)(void *)field = true;
		else if (strcasecmp(value, "no") == 0 ||
		    strcasecmp(value, "false") == 0 ||
		    strcasecmp(value, "off") == 0 || strcmp(value, "0") == 0)
			*(bool *)(void *)field = false;
		else {
			snprintf(why, whylen, "'%s' is not yes/no, true/false, "
			    "on/off or 1/0", shown);
			return -1;
		}
		return 0;
	case KT_ENUM:
		for (int i = 0; k->names[i] != NULL; i++) {
			if (strcasecmp(value, k->names[i]) == 0) {
				*(int *)(void *)field = i;
				return 0;
			}
		}
		snprintf(why, whylen, "'%s' is not one of: %s", shown, range);
		return -1;
	case KT_STRING:
		len = strlen(value);
		if (len >= k->size) {
			snprintf(why, whylen, "too long (%zu characters, at "
			    "most %zu)", len, k->size - 1);
			return -1;
		}
		if (has_control(value)) {
			/* auth holds a password and url may hold a token:
			 * their values are never echoed into the log. */
			if (k->check == check_auth || k->check == check_url)
				snprintf(why, whylen, "the value contains a "
				    "control character");
			else
				snprintf(why, whylen, "'%s' contains a control "
				    "character", shown);
			return -1;
		}
		if (k->check != NULL && (bad = k->check(value)) != NULL) {
			snprintf(why, whylen, "%s", bad);
			return -1;
		}
		memcpy(field, value, len + 1);
		return 0;
	case KT_HOSTS:
		return parse_hosts(value, (char (*)[FC_HOST_MAX])(void *)field,
		    k->size / FC_HOST_MAX, why, whylen);
	case KT_MODE:
		/* Octal digits only ("0660", "660"): a mode written in
		 * decimal would be a different mode. */
		len = strlen(value);
		if (len == 0 || len > 4 ||
		    strspn(value, "01234567") != len) {
			snprintf(why, whylen, "'%s' is not an octal mode "
			    "(like 0660)", shown);
			return -1;
		}
		v = strtoll(value, NULL, 8);
		if (v < k->min || v > k->max) {
			snprintf(why, whylen, "%s is out of range (%s)", shown,
			    range);
			return -1;
		}
		*(int *)(void *)field = (int)v;
		return 0;
	case KT_LISTEN:
		break;
	}
	snprintf(why, whylen, "internal error: bad key type");
	return -1;
}

static const struct key_def *
find_key(const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 &&
		    strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static bool
known_section(const char *name, size_t len)
{
	for (size_t i = 0; i < NSECTIONS; i++)
		if (strlen(sections[i]) == len &&
		    memcmp(sections[i], name, len) == 0)
			return true;
	return false;
}

/* Adds one listen address; the first one in a file drops the default. */
static void
add_listen(struct loader *ld, const char *key, const char *value)
{
	struct fc_config *cfg = &ld->cfg;
	struct fc_listen_addr la;
	char shown[SHOW_MAX * 4 + 8];
	const char *bad;

	if (!ld->listen_given) {
		ld->listen_given = true;
		cfg->nlisten = 0;
	}
	show(value, shown, sizeof(shown));
	if ((bad = parse_listen(value, &la)) != NULL) {
		error_at(ld, ld->lineno, key, "'%s': %s", shown, bad);
		return;
	}
	for (int i = 0; i < cfg->nlisten; i++) {
		if (same_listen(&cfg->listen[i], &la)) {
			error_at(ld, ld->lineno, key, "%s is already given on "
			    "line %d", shown, ld->listen_line[i]);
			return;
		}
	}
	if (cfg->nlisten == FC_CONFIG_MAX_LISTEN) {
		error_at(ld, ld->lineno, key, "more than %d listen addresses",
		    FC_CONFIG_MAX_LISTEN);
		return;
	}
	ld->listen_line[cfg->nlisten] = ld->lineno;
	cfg->listen[cfg->nlisten++] = la;
}

/*
 * inih handler, called for the line read_line() just counted.  Always
 * returns 1: problems are recorded here, with their line, not by inih.
 */
static int
on_key(void *user, const char *section, const char *name, const char *value)
{
	struct loader *ld = user;
	const struct key_def *k;
	char key[SHOW_MAX * 8 + 16], sec[SHOW_MAX * 4 + 8], nam[SHOW_MAX * 4 + 8];
	char why[SHOW_MAX * 4 + 128];
	size_t idx;

	show(section, sec, sizeof(sec));
	show(name, nam, sizeof(nam));
	if (!ld->in_section) {
		error_at(ld, ld->lineno, nam, "key outside of any [section]");
		return 1;
	}
	if (!ld->section_known)
		return 1;	/* the [section] line was reported */
	snprintf(key, sizeof(key), "%s.%s", sec, nam);
	if ((k = find_key(section, name)) == NULL) {
		error_at(ld, ld->lineno, key, "unknown key");
		return 1;
	}
	idx = (size_t)(k - keys);
	if (ld->first_line[idx] != 0 && k->type != KT_LISTEN) {
		error_at(ld, ld->lineno, key, "given twice, first on line %d",
		    ld->first_line[idx]);
		return 1;
	}
	if (ld->first_line[idx] == 0)
		ld->first_line[idx] = ld->lineno;
	if (value[0] == '\0')
		error_at(ld, ld->lineno, key, "empty value");
	else if (k->type == KT_LISTEN)
		add_listen(ld, key, value);
	else if (set_value(k, value, &ld->cfg, why, sizeof(why)) == -1)
		error_at(ld, ld->lineno, key, "%s", why);
	return 1;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * Checks one raw line (without its newline) and writes what inih should
 * see into str: the line itself when it is a good "key = value", a clean
 * "[section]" for a known section, else an empty line.
 */
static void
classify(struct loader *ld, const char *line, size_t n, char *str, size_t num)
{
	const char *end, *close, *sep;
	size_t i;

	str[0] = '\n';
	str[1] = '\0';
	if (ld->lineno == 1 && n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;	/* UTF-8 byte order mark */
		n -= 3;
	}
	if (memchr(line, '\0', n) != NULL) {
		error_at(ld, ld->lineno, "-", "NUL byte in line");
		return;
	}
	if (n > LINE_MAX_LEN || n + 2 > num) {
		error_at(ld, ld->lineno, "-", "line too long (more than %zu "
		    "characters)", num - 2 < LINE_MAX_LEN ? num - 2 :
		    (size_t)LINE_MAX_LEN);
		return;
	}
	end = line + n;
	while (line < end && is_space(*line))
		line++;
	while (end > line && is_space(end[-1]))
		end--;
	if (line == end || *line == ';' || *line == '#')
		return;		/* blank or comment */

	if (*line == '[') {
		close = memchr(line, ']', (size_t)(end - line));
		if (close == NULL) {
			error_at(ld, ld->lineno, "-", "unterminated [section "
			    "(missing ])");
			return;
		}
		for (i = 1; close + i < end && is_space(close[i]); i++)
			;
		if (close + i < end && close[i] != ';' && close[i] != '#') {
			error_at(ld, ld->lineno, "-", "unexpected text after "
			    "[section]");
			return;
		}
		ld->in_section = true;
		ld->section_known = known_section(line + 1,
		    (size_t)(close - line - 1));
		if (!ld->section_known) {
			char raw[LINE_MAX_LEN + 1], shown[SHOW_MAX * 4 + 8];

			memcpy(raw, line + 1, (size_t)(close - line - 1));
			raw[close - line - 1] = '\0';
			error_at(ld, ld->lineno, "-", "unknown section [%s]",
			    show(raw, shown, sizeof(shown)));
			return;
		}
		memcpy(ld->section, line + 1, (size_t)(close - line - 1));
		ld->section[close - line - 1] = '\0';
		snprintf(str, num, "[%s]\n", ld->section);
		return;
	}

	/* inih splits at the first '=' or ':'; only '=' is accepted here. */
	for (sep = line; sep < end && *sep != '=' && *sep != ':'; sep++)
		;
	if (sep == end || *sep != '=') {
		error_at(ld, ld->lineno, "-", "syntax error: expected [section] "
		    "or key = value");
		return;
	}
	if (sep == line) {
		error_at(ld, ld->lineno, "-", "missing key name before =");
		return;
	}
	memcpy(str, line, (size_t)(end - line));
	str[end - line] = '\n';
	str[end - line + 1] = '\0';
}

/* inih reader: hands over exactly one line of the file per call. */
static char *
read_line(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	const char *line, *nl;
	size_t n;

	if (ld->pos >= ld->len || num < 3)
		return NULL;
	line = ld->buf + ld->pos;
	nl = memchr(line, '\n', ld->len - ld->pos);
	n = nl != NULL ? (size_t)(nl - line) : ld->len - ld->pos;
	ld->pos += n + (nl != NULL);
	ld->lineno++;
	classify(ld, line, n, str, (size_t)num);
	return str;
}

/* Checks between keys, once the whole file is read. */
static void
check_whole(struct loader *ld)
{
	struct fc_config *cfg = &ld->cfg;
	size_t src = (size_t)(find_key("capture", "source") - keys);
	size_t url = (size_t)(find_key("capture", "url") - keys);

	/* A url given but refused was reported already. */
	if (cfg->source == FC_SOURCE_HTTP && cfg->url[0] == '\0' &&
	    ld->first_line[url] == 0)
		error_at(ld, ld->first_line[src], "capture.source",
		    "source http needs capture.url");

	/* HTTPS needs both files. */
	for (int i = 0; i < cfg->nlisten; i++) {
		if (!cfg->listen[i].tls)
			continue;
		if (cfg->tls_certificate[0] == '\0' || cfg->tls_key[0] == '\0')
			error_at(ld, ld->listen_line[i], "server.listen",
			    "%s tls needs [tls] certificate and key",
			    cfg->listen[i].text);
		break;
	}
}

/*
 * Unless pid_file is set: forkcast-PORT.pid in /run/forkcast when running
 * as root, else in $XDG_RUNTIME_DIR when that is set (an absolute path),
 * else in the folder of the configuration file name (made absolute with
 * the current directory).  The answer depends on the euid and environment
 * of the process that computes it: the supervisor and `forkcast --paths`
 * (forkcastctl) agree when the same user runs both.  Returns -1 when the
 * path does not fit (the file names the problem).
 */
static int
default_pid_file(struct fc_config *cfg, const char *name)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR"), *slash;
	char cwd[FC_CONFIG_PATH_MAX], id[128];
	int port = fc_config_first_port(cfg), n;

	if (cfg->pid_file[0] != '\0')
		return 0;
	if (port == 0 && cfg->nlisten > 0 &&
	    fc_config_unix_path(&cfg->listen[0]) != NULL) {
		/* Only unix: sockets: "unix-" and the first one's file name,
		 * with anything but [A-Za-z0-9._-] written as '_'. */
		const char *base = strrchr(cfg->listen[0].text, '/') + 1;
		size_t i;

		n = snprintf(id, sizeof(id), "unix-%s", base);
		for (i = 5; id[i] != '\0'; i++)
			if (!((id[i] >= 'a' && id[i] <= 'z') ||
			    (id[i] >= 'A' && id[i] <= 'Z') ||
			    (id[i] >= '0' && id[i] <= '9') || id[i] == '.' ||
			    id[i] == '_' || id[i] == '-'))
				id[i] = '_';
	} else
		n = snprintf(id, sizeof(id), "%d", port);
	if (n < 0 || (size_t)n >= sizeof(id))
		return -1;
	if (geteuid() == 0) {
		n = snprintf(cfg->pid_file, sizeof(cfg->pid_file),
		    "/run/forkcast/forkcast-%s.pid", id);
	} else if (xdg != NULL && xdg[0] == '/') {
		n = snprintf(cfg->pid_file, sizeof(cfg->pid_file),
		    "%s/forkcast-%s.pid", xdg, id);
	} else {
		slash = strrchr(name, '/');
		if (name[0] == '/') {
			cwd[0] = '\0';
		} else if (getcwd(cwd, sizeof(cwd)) == NULL) {
			snprintf(cwd, sizeof(cwd), ".");
		} else if (strcmp(cwd, "/") == 0) {
			cwd[0] = '\0';		/* no "//" */
		}
		/* "/x.conf" -> "", "a/x.conf" -> "/a", "x.conf" -> "" */
		n = snprintf(cfg->pid_file, sizeof(cfg->pid_file),
		    "%s%s%.*s/forkcast-%s.pid", cwd,
		    name[0] != '/' && slash != NULL ? "/" : "",
		    slash != NULL ? (int)(slash - name) : 0, name, id);
	}
	if (n < 0 || (size_t)n >= sizeof(cfg->pid_file)) {
		cfg->pid_file[0] = '\0';
		return -1;
	}
	return 0;
}

/* Parses buf (len bytes) named name into *cfg; see fc_config_load().
 * env: also run check_environment(). */
static void check_environment(struct loader *);

static int
load_buffer(struct fc_config *cfg, const char *name, const char *buf,
    size_t len, FILE *errs, bool env)
{
	struct loader *ld;
	bool multiline = ini_allow_multiline, inline_comments =
	    ini_allow_inline_comments, stop = ini_stop_on_first_error,
	    no_value = ini_allow_no_value, use_stack = ini_use_stack;
	int max_line = ini_max_line, r, n;

	/* The struct is a few KB: keep it off the caller's stack. */
	if ((ld = calloc(1, sizeof(*ld))) == NULL) {
		if (errs != NULL)
			fprintf(errs, "%s:0: -: out of memory\n", name);
		return 1;
	}
	ld->name = name;
	ld->buf = buf;
	ld->len = len;
	ld->errs = errs;
	fc_config_defaults(&ld->cfg);
	ld->cfg.pid_file[0] = '\0';	/* recomputed from the file's listen */

	/*
	 * Debian's inih has its options as process globals.  No
	 * continuation lines (an indented line is an error, not a silent
	 * extension of the previous value), no inline comments (a ';' in a
	 * password or URL stays), a line buffer on the stack big enough for
	 * LINE_MAX_LEN plus "\r\n\0".  The caller's settings are put back.
	 */
	ini_allow_multiline = false;
	ini_allow_inline_comments = false;
	ini_stop_on_first_error = false;
	ini_allow_no_value = false;
	ini_use_stack = true;
	ini_max_line = LINE_MAX_LEN + 3;
	r = ini_parse_stream(read_line, ld, on_key, ld);
	ini_allow_multiline = multiline;
	ini_allow_inline_comments = inline_comments;
	ini_stop_on_first_error = stop;
	ini_allow_no_value = no_value;
	ini_use_stack = use_stack;
	ini_max_line = max_line;

	/* Every line inih saw was checked first, so it cannot object. */
	if (r != 0 && ld->nerrors == 0)
		error_at(ld, r > 0 ? r : 0, "-", "rejected by the INI parser");
	check_whole(ld);
	if (env && ld->nerrors == 0)
		check_environment(ld);
	if (ld->nerrors == 0 && strlen(name) >= sizeof(ld->cfg.path))
		error_at(ld, 0, "-", "file name too long");
	if (ld->nerrors == 0 && default_pid_file(&ld->cfg, name) == -1)
		error_at(ld, 0, "server.pid_file", "the default path is too "
		    "long; set pid_file");
	n = ld->nerrors;
	if (n == 0) {
		memcpy(ld->cfg.path, name, strlen(name) + 1);
		*cfg = ld->cfg;
	}
	free(ld);
	return n;
}

void
fc_config_defaults(struct fc_config *cfg)
{
	char why[256];

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key_def *k = &keys[i];

		if (k->def == NULL)
			continue;
		if (k->type == KT_LISTEN) {
			if (parse_listen(k->def, &cfg->listen[0]) != NULL)
				abort();	/* broken key table */
			cfg->nlisten = 1;
		} else if (set_value(k, k->def, cfg, why, sizeof(why)) == -1)
			abort();		/* broken key table */
	}
	/* As if read from the default file; a path too long stays "". */
	(void)default_pid_file(cfg, FC_CONFIG_DEFAULT_FILE);
}

/*
 * The checks a file gets on top of its syntax: what the supervisor will
 * do with a value, tried now, so that `forkcast -n`, start and reload
 * refuse the same files (fc_config_load only; fc_config_load_string, for
 * tests, checks the text alone).
 */
static void
check_environment(struct loader *ld)
{
	struct fc_config *cfg = &ld->cfg;
	size_t user = (size_t)(find_key("server", "user") - keys);
	struct passwd *pw;

	/* The supervisor looks the user up before it forks (as root it needs
	 * the uid and gid; otherwise it keeps its own uid, but a name that
	 * does not exist is still a mistake in the file). */
	errno = 0;
	if ((pw = getpwnam(cfg->user)) == NULL)
		error_at(ld, ld->first_line[user], "server.user", "%s: %s",
		    cfg->user, errno != 0 ? strerror(errno) : "no such user");
	else if (pw->pw_uid == 0 || pw->pw_gid == 0)
		error_at(ld, ld->first_line[user], "server.user", "%s has uid or "
		    "gid 0; workers must not run as root", cfg->user);

	/* socket_group: the supervisor gives each unix: socket this group
	 * (chown), so the name must exist. */
	if (cfg->socket_group[0] != '\0') {
		size_t grp = (size_t)(find_key("server", "socket_group") - keys);

		errno = 0;
		if (getgrnam(cfg->socket_group) == NULL)
			error_at(ld, ld->first_line[grp], "server.socket_group",
			    "%s: %s", cfg->socket_group, errno != 0 ?
			    strerror(errno) : "no such group");
	}

	/* HTTPS: the supervisor reads both files at start and at every
	 * reload (fc_tls_read_files); whatever it would refuse, refuse now. */
	if (fc_config_has_tls(cfg)) {
		struct fc_tls_pem *pem = malloc(sizeof(*pem));
		enum fc_tls_file which;
		char why[256];
		size_t ki;

		if (pem == NULL) {
			error_at(ld, 0, "tls", "out of memory");
		} else if (fc_tls_read_files(cfg->tls_certificate, cfg->tls_key,
		    pem, &which, why, sizeof(why)) == -1) {
			ki = (size_t)(find_key("tls", which == FC_TLS_KEY ?
			    "key" : "certificate") - keys);
			error_at(ld, ld->first_line[ki], which == FC_TLS_KEY ?
			    "tls.key" : "tls.certificate", "%s: %s",
			    which == FC_TLS_KEY ? cfg->tls_key :
			    cfg->tls_certificate, why);
		}
		if (pem != NULL) {
			fc_tls_pem_wipe(pem);
			free(pem);
		}
	}

	/* unix: listen paths: the supervisor binds them in a folder that
	 * must exist, and refuses a path that exists as anything but a
	 * socket (a stale or live socket is its business at bind time). */
	for (int i = 0; i < cfg->nlisten; i++) {
		const char *path = fc_config_unix_path(&cfg->listen[i]);
		char dir[sizeof(cfg->listen[i].text)], *slash;
		struct stat st;

		if (path == NULL)
			continue;
		snprintf(dir, sizeof(dir), "%s", path);
		slash = strrchr(dir, '/');
		if (slash == dir)
			dir[1] = '\0';
		else
			*slash = '\0';
		if (stat(dir, &st) == -1)
			error_at(ld, ld->listen_line[i], "server.listen",
			    "%s: folder %s: %s", cfg->listen[i].text, dir,
			    strerror(errno));
		else if (!S_ISDIR(st.st_mode))
			error_at(ld, ld->listen_line[i], "server.listen",
			    "%s: %s is not a folder", cfg->listen[i].text, dir);
		else if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
			error_at(ld, ld->listen_line[i], "server.listen",
			    "%s: %s exists and is not a socket",
			    cfg->listen[i].text, path);
	}

	/* The supervisor appends to the log file (creating it): without
	 * creating anything now, the file or its folder must allow that. */
	if (cfg->log_file[0] != '\0') {
		size_t file = (size_t)(find_key("log", "file") - keys);
		char dir[FC_CONFIG_PATH_MAX], *slash;
		struct stat st;

		if (stat(cfg->log_file, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				error_at(ld, ld->first_line[file], "log.file",
				    "%s is a directory", cfg->log_file);
			else if (access(cfg->log_file, W_OK) == -1)
				error_at(ld, ld->first_line[file], "log.file",
				    "%s: %s", cfg->log_file, strerror(errno));
		} else if (errno != ENOENT) {
			error_at(ld, ld->first_line[file], "log.file", "%s: %s",
			    cfg->log_file, strerror(errno));
		} else {
			snprintf(dir, sizeof(dir), "%s", cfg->log_file);
			slash = strrchr(dir, '/');
			if (slash == NULL)
				snprintf(dir, sizeof(dir), ".");
			else if (slash == dir)
				dir[1] = '\0';
			else
				*slash = '\0';
			if (access(dir, W_OK | X_OK) == -1)
				error_at(ld, ld->first_line[file], "log.file",
				    "cannot create %s: %s: %s", cfg->log_file,
				    dir, strerror(errno));
		}
	}
}

bool
fc_config_has_tls(const struct fc_config *cfg)
{
	for (int i = 0; i < cfg->nlisten; i++)
		if (cfg->listen[i].tls)
			return true;
	return false;
}

void
fc_config_terminate(struct fc_config *cfg)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key_def *k = &keys[i];
		char *field = (char *)cfg + k->offset;

		if (k->type == KT_STRING)
			field[k->size - 1] = '\0';
		else if (k->type == KT_HOSTS)	/* workers strcmp() them */
			for (size_t h = FC_HOST_MAX; h <= k->size;
			    h += FC_HOST_MAX)
				field[h - 1] = '\0';
	}
	for (int i = 0; i < FC_CONFIG_MAX_LISTEN; i++) {
		struct sockaddr_un *sun =
		    (struct sockaddr_un *)&cfg->listen[i].addr;

		cfg->listen[i].text[sizeof(cfg->listen[i].text) - 1] = '\0';
		if (sun->sun_family == AF_UNIX)
			sun->sun_path[sizeof(sun->sun_path) - 1] = '\0';
	}
	cfg->path[sizeof(cfg->path) - 1] = '\0';
	if (cfg->nlisten < 0 || cfg->nlisten > FC_CONFIG_MAX_LISTEN)
		cfg->nlisten = 0;
}

int
fc_config_load(struct fc_config *cfg, const char *path, FILE *errs)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t r;
	int fd, n = 1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		if (errs != NULL)
			fprintf(errs, "%s:0: -: cannot open: %s\n", path,
			    strerror(errno));
		goto done;
	}
	if (fstat(fd, &st) == -1) {
		if (errs != NULL)
			fprintf(errs, "%s:0: -: cannot open: %s\n", path,
			    strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		if (errs != NULL)
			fprintf(errs, "%s:0: -: cannot open: not a regular "
			    "file\n", path);
		goto done;
	}
	if (st.st_size > FILE_MAX_LEN) {
		if (errs != NULL)
			fprintf(errs, "%s:0: -: file too large (more than %d "
			    "bytes)\n", path, FILE_MAX_LEN);
		goto done;
	}
	/* Read up to one byte past the limit: the file may grow meanwhile. */
	if ((buf = malloc(FILE_MAX_LEN + 1)) == NULL) {
		if (errs != NULL)
			fprintf(errs, "%s:0: -: out of memory\n", path);
		goto done;
	}
	while (len <= FILE_MAX_LEN) {
		r = read(fd, buf + len, FILE_MAX_LEN + 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			if (errs != NULL)
				fprintf(errs, "%s:0: -: cannot read: %s\n",
				    path, strerror(errno));
			goto done;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > FILE_MAX_LEN) {
		if (errs != NULL)
			fprintf(errs, "%s:0: -: file too large (more than %d "
			    "bytes)\n", path, FILE_MAX_LEN);
		goto done;
	}
	n = load_buffer(cfg, path, buf, len, errs, true);
done:
	free(buf);
	if (fd != -1)
		close(fd);
	return n;
}

int
fc_config_load_string(struct fc_config *cfg, const char *name,
    const char *text, FILE *errs)
{
	return load_buffer(cfg, name, text, strlen(text), errs, false);
}

const char *
fc_config_source_name(enum fc_source_kind kind)
{
	if ((unsigned)kind >= sizeof(source_names) / sizeof(source_names[0]) - 1)
		return "unknown";
	return source_names[kind];
}

int
fc_config_first_tcp(const struct fc_config *cfg)
{
	for (int i = 0; i < cfg->nlisten && i < FC_CONFIG_MAX_LISTEN; i++)
		if (cfg->listen[i].addr.ss_family == AF_INET ||
		    cfg->listen[i].addr.ss_family == AF_INET6)
			return i;
	return -1;
}

const char *
fc_config_unix_path(const struct fc_listen_addr *la)
{
	if (la->addr.ss_family != AF_UNIX)
		return NULL;
	return ((const struct sockaddr_un *)&la->addr)->sun_path;
}

int
fc_config_first_port(const struct fc_config *cfg)
{
	const struct sockaddr_storage *ss;
	int i = fc_config_first_tcp(cfg);

	if (i < 0)
		return 0;
	ss = &cfg->listen[i].addr;
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

/* Keys a running server cannot change: every worker maps the frame bus,
 * whose geometry they set, for its whole life.  The default file says so;
 * a reload keeps their running value (fc_config_restart_changes). */
static const char *const restart_keys[][2] = {
	{ "capture", "max_frame_size" },
	{ "capture", "slots" },
};

static bool
is_restart_key(const struct key_def *k)
{
	for (size_t i = 0; i < sizeof(restart_keys) / sizeof(restart_keys[0]);
	    i++)
		if (strcmp(k->section, restart_keys[i][0]) == 0 &&
		    strcmp(k->name, restart_keys[i][1]) == 0)
			return true;
	return false;
}

void
fc_config_write_default(FILE *out)
{
	const char *section = "";
	char range[96];

	fputs("; forkcast configuration\n"
	    ";\n"
	    "; Every key is shown with its default; an empty file is a valid\n"
	    "; configuration.  Lines starting with ';' or '#' are comments.\n"
	    "; Times are seconds (30, or 30s, 5m, 1h); sizes are bytes or\n"
	    "; a number with K, M or G (4M).\n"
	    "; A bad file is refused with FILE:LINE: KEY: problem for each\n"
	    "; problem.  Check a file with: forkcast -n -c FILE\n"
	    ";\n"
	    "; This file is generated by fc_config_write_default(); the unit\n"
	    "; test tests/unit/test_config.c keeps it identical.\n", out);
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key_def *k = &keys[i];

		if (strcmp(section, k->section) != 0) {
			section = k->section;
			fprintf(out, "\n[%s]\n", section);
		} else
			fputc('\n', out);
		format_range(k, range, sizeof(range));
		fprintf(out, "; %s%s", k->help, is_restart_key(k) ?
		    " (applies at restart)" : "");
		if (range[0] != '\0')
			fprintf(out, " (%s)", range);
		fputc('\n', out);
		if (k->def != NULL)
			fprintf(out, "%s = %s\n", k->name, k->def);
		else
			fprintf(out, "; %s = %s\n", k->name, k->example);
	}
}

int
fc_config_restart_changes(struct fc_config *next,
    const struct fc_config *running, char *names, size_t len)
{
	size_t used = 0;
	int n = 0;

	if (len > 0)
		names[0] = '\0';
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key_def *k = &keys[i];
		char *fn = (char *)next + k->offset;
		const char *fr = (const char *)running + k->offset;
		int r;

		if (!is_restart_key(k) || memcmp(fn, fr, k->size) == 0)
			continue;
		memcpy(fn, fr, k->size);
		/* Once cut, nothing more is appended. */
		if (used < len) {
			r = snprintf(names + used, len - used, "%s%s.%s",
			    n ? ", " : "", k->section, k->name);
			used = r < 0 ? len : used + (size_t)r;
		}
		n++;
	}
	return n;
}

bool
fc_config_capture_changed(const struct fc_config *a,
    const struct fc_config *b)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key_def *k = &keys[i];
		const char *fa = (const char *)a + k->offset;
		const char *fb = (const char *)b + k->offset;

		if (strcmp(k->section, "capture") != 0)
			continue;
		if (k->type == KT_STRING ? strcmp(fa, fb) != 0 :
		    memcmp(fa, fb, k->size) != 0)
			return true;
	}
	return false;
}
