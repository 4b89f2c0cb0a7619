/*
 * Unit tests for common/config.c: defaults, every key's good and bad
 * values, listen addresses, error reporting (exact text and line numbers),
 * all-or-nothing loading, the reload comparison and the shipped default
 * file.  Run from the repository root (conf/forkcast.conf is read).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/un.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../common/config.h"
#include "../../common/log.h"

#define NAME	"t.conf"
/* main() sets it, so that the default pid file does not depend on the
 * environment the tests run in. */
#define XDG	"/run/user/4242"

static void fmt(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* snprintf that fails the test instead of cutting the text. */
static void
fmt(char *buf, size_t size, const char *f, ...)
{
	va_list ap;
	int r;

	va_start(ap, f);
	r = vsnprintf(buf, size, f, ap);
	va_end(ap);
	assert_true(r >= 0 && (size_t)r < size);
}

/* The default pid file for port: /run/forkcast as root, else XDG. */
static const char *
default_pid(int port)
{
	static char buf[64];

	fmt(buf, sizeof(buf), "%s/forkcast-%d.pid",
	    geteuid() == 0 ? "/run/forkcast" : XDG, port);
	return buf;
}

/* Loads text; returns the problem count and the messages (caller frees). */
static int
load(struct fc_config *cfg, const char *text, char **errs)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int n;

	assert_non_null(f);
	n = fc_config_load_string(cfg, NAME, text, f);
	fclose(f);
	*errs = buf;
	return n;
}

/* Expects text to load cleanly into *cfg. */
static void
load_ok(struct fc_config *cfg, const char *text)
{
	char *errs;
	int n = load(cfg, text, &errs);

	if (n != 0)
		print_error("unexpected errors for:\n%s\n---\n%s", text, errs);
	assert_int_equal(n, 0);
	assert_string_equal(errs, "");
	free(errs);
}

/* Expects text to fail with exactly the messages want (n of them). */
static void
load_bad(const char *text, int n, const char *want)
{
	struct fc_config cfg;
	char *errs;
	int got;

	fc_config_defaults(&cfg);
	got = load(&cfg, text, &errs);
	if (strcmp(errs, want) != 0)
		print_error("input:\n%s\n---\nwant:\n%s---\ngot:\n%s", text,
		    want, errs);
	assert_string_equal(errs, want);
	assert_int_equal(got, n);
	free(errs);
}

/* Expects "[section]\nkey = value\n" to fail with one message on line 2. */
static void
bad_value(const char *section, const char *key, const char *value,
    const char *msg)
{
	char text[4096], want[4096];

	fmt(text, sizeof(text), "[%s]\n%s = %s\n", section, key, value);
	fmt(want, sizeof(want), NAME ":2: %s.%s: %s\n", section, key,
	    msg);
	load_bad(text, 1, want);
}

/* Loads "[section]\nkey = value\n" and returns the config. */
static struct fc_config
good_value(const char *section, const char *key, const char *value)
{
	struct fc_config cfg;
	char text[4096];

	fmt(text, sizeof(text), "[%s]\n%s = %s\n", section, key, value);
	load_ok(&cfg, text);
	return cfg;
}

static void
assert_same_config(const struct fc_config *a, const struct fc_config *b)
{
	assert_int_equal(a->nlisten, b->nlisten);
	for (int i = 0; i < a->nlisten; i++) {
		assert_string_equal(a->listen[i].text, b->listen[i].text);
		assert_int_equal(a->listen[i].addrlen, b->listen[i].addrlen);
		assert_memory_equal(&a->listen[i].addr, &b->listen[i].addr,
		    a->listen[i].addrlen);
	}
	assert_int_equal(a->workers, b->workers);
	assert_string_equal(a->user, b->user);
	assert_int_equal(a->max_clients, b->max_clients);
	assert_int_equal(a->max_clients_per_ip, b->max_clients_per_ip);
	assert_int_equal(a->max_connections, b->max_connections);
	assert_int_equal(a->client_timeout, b->client_timeout);
	assert_int_equal(a->send_timeout, b->send_timeout);
	assert_int_equal(a->shutdown_grace, b->shutdown_grace);
	assert_int_equal(a->backlog, b->backlog);
	assert_string_equal(a->auth, b->auth);
	assert_string_equal(a->allow_origin, b->allow_origin);
	assert_string_equal(a->pid_file, b->pid_file);
	assert_memory_equal(a->allowed_hosts, b->allowed_hosts,
	    sizeof(a->allowed_hosts));
	assert_int_equal(a->source, b->source);
	assert_string_equal(a->device, b->device);
	assert_string_equal(a->camera, b->camera);
	assert_string_equal(a->directory, b->directory);
	assert_string_equal(a->url, b->url);
	assert_int_equal(a->width, b->width);
	assert_int_equal(a->height, b->height);
	assert_int_equal(a->fps, b->fps);
	assert_int_equal(a->quality, b->quality);
	assert_int_equal(a->idle_stop, b->idle_stop);
	assert_int_equal(a->drop_same_frames, b->drop_same_frames);
	assert_int_equal(a->max_frame_size, b->max_frame_size);
	assert_int_equal(a->slots, b->slots);
	assert_int_equal(a->log_level, b->log_level);
	assert_string_equal(a->log_file, b->log_file);
}

static void
test_defaults(void **state)
{
	struct fc_config cfg;
	const struct sockaddr_in *sin;

	(void)state;
	memset(&cfg, 0x5a, sizeof(cfg));
	fc_config_defaults(&cfg);
	assert_string_equal(cfg.path, "");
	assert_int_equal(cfg.nlisten, 1);
	assert_string_equal(cfg.listen[0].text, "127.0.0.1:8080");
	sin = (const struct sockaddr_in *)&cfg.listen[0].addr;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 8080);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(cfg.listen[0].addrlen, sizeof(struct sockaddr_in));
	assert_int_equal(fc_config_first_port(&cfg), 8080);
	assert_int_equal(cfg.workers, 2);
	assert_string_equal(cfg.user, "nobody");
	assert_int_equal(cfg.max_clients, 4096);
	assert_int_equal(cfg.max_clients_per_ip, 0);
	assert_int_equal(cfg.max_connections, 8192);
	assert_int_equal(cfg.client_timeout, 10);
	assert_int_equal(cfg.send_timeout, 30);
	assert_int_equal(cfg.shutdown_grace, 10);
	assert_int_equal(cfg.backlog, 511);
	assert_string_equal(cfg.auth, "");
	assert_string_equal(cfg.allow_origin, "");
	assert_string_equal(cfg.pid_file, default_pid(8080));
	for (int i = 0; i < FC_CONFIG_MAX_HOSTS; i++)
		assert_string_equal(cfg.allowed_hosts[i], "");
	assert_int_equal(cfg.source, FC_SOURCE_TESTPATTERN);
	assert_string_equal(cfg.device, "/dev/video0");
	assert_string_equal(cfg.camera, "");
	assert_string_equal(cfg.directory, "");
	assert_string_equal(cfg.url, "");
	assert_int_equal(cfg.width, 1280);
	assert_int_equal(cfg.height, 720);
	assert_int_equal(cfg.fps, 30);
	assert_int_equal(cfg.quality, 80);
	assert_int_equal(cfg.idle_stop, 10);
	assert_false(cfg.drop_same_frames);
	assert_int_equal(cfg.max_frame_size, 4 * 1024 * 1024);
	assert_int_equal(cfg.slots, 4);
	assert_int_equal(cfg.log_level, FC_LOG_INFO);
	assert_string_equal(cfg.log_file, "");
}

static void
test_empty_file(void **state)
{
	struct fc_config cfg, def;

	(void)state;
	fc_config_defaults(&def);
	load_ok(&cfg, "");
	assert_same_config(&cfg, &def);
	assert_string_equal(cfg.path, NAME);

	/* Comments, blank lines, empty sections, CRLF and a BOM: still
	 * nothing but defaults. */
	load_ok(&cfg, "\xef\xbb\xbf; comment\r\n# another\r\n\r\n   \t\n"
	    "[server]\r\n[capture] ; trailing comment\n[log]\n  ; indented\n");
	assert_same_config(&cfg, &def);
}

/* Integer keys: bounds, one past each bound, garbage. */
struct int_key {
	const char *section, *key;
	size_t offset;
	long long min, max;
	bool seconds;
};

static const struct int_key int_keys[] = {
	{ "server", "workers", offsetof(struct fc_config, workers), 1, 256,
	  false },
	{ "server", "max_clients", offsetof(struct fc_config, max_clients), 1,
	  1000000, false },
	{ "server", "max_clients_per_ip",
	  offsetof(struct fc_config, max_clients_per_ip), 0, 1000000, false },
	{ "server", "max_connections",
	  offsetof(struct fc_config, max_connections), 1, 1000000, false },
	{ "server", "client_timeout",
	  offsetof(struct fc_config, client_timeout), 1, 3600, true },
	{ "server", "send_timeout", offsetof(struct fc_config, send_timeout),
	  1, 3600, true },
	{ "server", "shutdown_grace",
	  offsetof(struct fc_config, shutdown_grace), 0, 3600, true },
	{ "server", "backlog", offsetof(struct fc_config, backlog), 1, 65535,
	  false },
	{ "capture", "width", offsetof(struct fc_config, width), 16, 7680,
	  false },
	{ "capture", "height", offsetof(struct fc_config, height), 16, 4320,
	  false },
	{ "capture", "fps", offsetof(struct fc_config, fps), 1, 240, false },
	{ "capture", "quality", offsetof(struct fc_config, quality), 1, 100,
	  false },
	{ "capture", "idle_stop", offsetof(struct fc_config, idle_stop), 0,
	  86400, true },
	{ "capture", "slots", offsetof(struct fc_config, slots), 3, 64,
	  false },
};

static int
int_field(const struct fc_config *cfg, const struct int_key *k)
{
	int v;

	memcpy(&v, (const char *)cfg + k->offset, sizeof(v));
	return v;
}

static void
test_int_keys(void **state)
{
	char val[64], msg[256], range[64];
	struct fc_config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof(int_keys) / sizeof(int_keys[0]); i++) {
		const struct int_key *k = &int_keys[i];
		const char *notnum = k->seconds ?
		    "is not a number of seconds (30, 30s, 5m, 1h)" :
		    "is not a whole number";

		fmt(range, sizeof(range), "%lld..%lld%s", k->min, k->max,
		    k->seconds ? " seconds" : "");
		/* both bounds and a middle value are accepted */
		fmt(val, sizeof(val), "%lld", k->min);
		cfg = good_value(k->section, k->key, val);
		assert_int_equal(int_field(&cfg, k), k->min);
		fmt(val, sizeof(val), "%lld", k->max);
		cfg = good_value(k->section, k->key, val);
		assert_int_equal(int_field(&cfg, k), k->max);
		fmt(val, sizeof(val), "%lld", (k->min + k->max) / 2);
		cfg = good_value(k->section, k->key, val);
		assert_int_equal(int_field(&cfg, k), (k->min + k->max) / 2);

		/* one below, one above, far above (overflow) */
		fmt(val, sizeof(val), "%lld", k->min - 1);
		fmt(msg, sizeof(msg), "%s is out of range (%s)", val,
		    range);
		bad_value(k->section, k->key, val, msg);
		fmt(val, sizeof(val), "%lld", k->max + 1);
		fmt(msg, sizeof(msg), "%s is out of range (%s)", val,
		    range);
		bad_value(k->section, k->key, val, msg);
		fmt(msg, sizeof(msg), "99999999999999999999999 is out of "
		    "range (%s)", range);
		bad_value(k->section, k->key, "99999999999999999999999", msg);

		/* wrong type, garbage suffix, empty */
		fmt(msg, sizeof(msg), "'abc' %s", notnum);
		bad_value(k->section, k->key, "abc", msg);
		fmt(msg, sizeof(msg), "'5x' %s", notnum);
		bad_value(k->section, k->key, "5x", msg);
		fmt(msg, sizeof(msg), "'1.5' %s", notnum);
		bad_value(k->section, k->key, "1.5", msg);
		fmt(msg, sizeof(msg), "'+5' %s", notnum);
		bad_value(k->section, k->key, "+5", msg);
		fmt(msg, sizeof(msg), "'0x10' %s", notnum);
		bad_value(k->section, k->key, "0x10", msg);
		bad_value(k->section, k->key, "", "empty value");
	}
}

static void
test_seconds_suffixes(void **state)
{
	struct fc_config cfg;

	(void)state;
	cfg = good_value("server", "send_timeout", "45s");
	assert_int_equal(cfg.send_timeout, 45);
	cfg = good_value("server", "send_timeout", "2m");
	assert_int_equal(cfg.send_timeout, 120);
	cfg = good_value("server", "shutdown_grace", "1h");
	assert_int_equal(cfg.shutdown_grace, 3600);
	cfg = good_value("capture", "idle_stop", "24h");
	assert_int_equal(cfg.idle_stop, 86400);
	bad_value("server", "shutdown_grace", "61m",
	    "61m is out of range (0..3600 seconds)");
	bad_value("capture", "idle_stop", "25h",
	    "25h is out of range (0..86400 seconds)");
	bad_value("server", "client_timeout", "0s",
	    "0s is out of range (1..3600 seconds)");
	bad_value("server", "client_timeout", "5d",
	    "'5d' is not a number of seconds (30, 30s, 5m, 1h)");
	bad_value("server", "client_timeout", "5ms",
	    "'5ms' is not a number of seconds (30, 30s, 5m, 1h)");
	bad_value("server", "client_timeout", "s",
	    "'s' is not a number of seconds (30, 30s, 5m, 1h)");
	bad_value("server", "client_timeout", "99999999999999999999h",
	    "99999999999999999999h is out of range (1..3600 seconds)");
}

static void
test_size_key(void **state)
{
	struct fc_config cfg;
	const char *notsize = "is not a size (bytes, or a number with K, M "
	    "or G)";
	char msg[256];

	(void)state;
	cfg = good_value("capture", "max_frame_size", "64K");
	assert_int_equal(cfg.max_frame_size, 65536);
	cfg = good_value("capture", "max_frame_size", "64M");
	assert_int_equal(cfg.max_frame_size, 64 * 1024 * 1024);
	cfg = good_value("capture", "max_frame_size", "1m");
	assert_int_equal(cfg.max_frame_size, 1024 * 1024);
	cfg = good_value("capture", "max_frame_size", "100000");
	assert_int_equal(cfg.max_frame_size, 100000);
	cfg = good_value("capture", "max_frame_size", "512k");
	assert_int_equal(cfg.max_frame_size, 512 * 1024);

	bad_value("capture", "max_frame_size", "63K",
	    "63K is out of range (64K..64M)");
	bad_value("capture", "max_frame_size", "65535",
	    "65535 is out of range (64K..64M)");
	bad_value("capture", "max_frame_size", "65M",
	    "65M is out of range (64K..64M)");
	bad_value("capture", "max_frame_size", "1G",
	    "1G is out of range (64K..64M)");
	bad_value("capture", "max_frame_size", "-1M",
	    "-1M is out of range (64K..64M)");
	bad_value("capture", "max_frame_size", "99999999999999999999G",
	    "99999999999999999999G is out of range (64K..64M)");
	fmt(msg, sizeof(msg), "'4X' %s", notsize);
	bad_value("capture", "max_frame_size", "4X", msg);
	fmt(msg, sizeof(msg), "'4MB' %s", notsize);
	bad_value("capture", "max_frame_size", "4MB", msg);
	fmt(msg, sizeof(msg), "'M' %s", notsize);
	bad_value("capture", "max_frame_size", "M", msg);
	fmt(msg, sizeof(msg), "'1.5M' %s", notsize);
	bad_value("capture", "max_frame_size", "1.5M", msg);
	bad_value("capture", "max_frame_size", "", "empty value");
}

static void
test_bool_key(void **state)
{
	static const char *const yes[] = { "yes", "true", "on", "1", "YES",
	    "True" };
	static const char *const no[] = { "no", "false", "off", "0", "No" };
	struct fc_config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		cfg = good_value("capture", "drop_same_frames", yes[i]);
		assert_true(cfg.drop_same_frames);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		cfg = good_value("capture", "drop_same_frames", no[i]);
		assert_false(cfg.drop_same_frames);
	}
	bad_value("capture", "drop_same_frames", "maybe",
	    "'maybe' is not yes/no, true/false, on/off or 1/0");
	bad_value("capture", "drop_same_frames", "2",
	    "'2' is not yes/no, true/false, on/off or 1/0");
	bad_value("capture", "drop_same_frames", "yess",
	    "'yess' is not yes/no, true/false, on/off or 1/0");
	bad_value("capture", "drop_same_frames", "", "empty value");
}

static void
test_enum_keys(void **state)
{
	static const char *const levels[] = { "error", "warn", "info",
	    "debug" };
	struct fc_config cfg;

	(void)state;
	for (int i = FC_SOURCE_TESTPATTERN; i <= FC_SOURCE_HTTP; i++) {
		const char *name = fc_config_source_name(i);
		char text[256];

		/* http needs a url: give one to every source */
		fmt(text, sizeof(text), "[capture]\nsource = %s\n"
		    "url = http://127.0.0.1:1/s\n", name);
		load_ok(&cfg, text);
		assert_int_equal(cfg.source, i);
	}
	assert_string_equal(fc_config_source_name(FC_SOURCE_V4L2), "v4l2");
	assert_string_equal(fc_config_source_name(99), "unknown");
	bad_value("capture", "source", "webcam", "'webcam' is not one of: "
	    "testpattern, files, v4l2, libcamera, http");
	bad_value("capture", "source", "", "empty value");
	load_bad("[capture]\nsource = http\n", 1,
	    NAME ":2: capture.source: source http needs capture.url\n");

	for (int i = 0; i < 4; i++) {
		cfg = good_value("log", "level", levels[i]);
		assert_int_equal(cfg.log_level, i);
	}
	assert_int_equal(FC_LOG_DEBUG, 3);
	cfg = good_value("log", "level", "DEBUG");
	assert_int_equal(cfg.log_level, FC_LOG_DEBUG);
	bad_value("log", "level", "loud",
	    "'loud' is not one of: error, warn, info, debug");
	bad_value("log", "level", "2",
	    "'2' is not one of: error, warn, info, debug");
	bad_value("log", "level", "", "empty value");
}

/* A string of n copies of c (static buffer, up to 4000). */
static const char *
repeat(char c, size_t n)
{
	static char buf[4001];

	assert_true(n < sizeof(buf));
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

static void
test_string_keys(void **state)
{
	struct fc_config cfg;
	char val[2048];

	(void)state;
	/* plain paths and ids: kept as written, length limits enforced */
	cfg = good_value("capture", "device", "/dev/video2");
	assert_string_equal(cfg.device, "/dev/video2");
	cfg = good_value("capture", "camera", "/base/soc/i2c0mux/i2c@1/x@10");
	assert_string_equal(cfg.camera, "/base/soc/i2c0mux/i2c@1/x@10");
	cfg = good_value("capture", "directory", "tests/data/jpeg dir");
	assert_string_equal(cfg.directory, "tests/data/jpeg dir");
	cfg = good_value("log", "file", "/var/log/forkcast.log");
	assert_string_equal(cfg.log_file, "/var/log/forkcast.log");
	cfg = good_value("server", "pid_file", "/run/fc.pid");
	assert_string_equal(cfg.pid_file, "/run/fc.pid");

	fmt(val, sizeof(val), "/%s", repeat('d', 510));
	cfg = good_value("capture", "device", val);
	assert_int_equal(strlen(cfg.device), 511);
	fmt(val, sizeof(val), "/%s", repeat('d', 511));
	bad_value("capture", "device", val,
	    "too long (512 characters, at most 511)");
	bad_value("capture", "directory", repeat('d', 600),
	    "too long (600 characters, at most 511)");
	bad_value("capture", "camera", repeat('c', 256),
	    "too long (256 characters, at most 255)");
	bad_value("server", "pid_file", repeat('p', 512),
	    "too long (512 characters, at most 511)");
	bad_value("log", "file", repeat('f', 1000),
	    "too long (1000 characters, at most 511)");
	bad_value("capture", "device", "/dev/vid\teo0",
	    "'/dev/vid\\x09eo0' contains a control character");
	bad_value("log", "file", "", "empty value");
	bad_value("capture", "camera", "", "empty value");

	/* user: a user name pattern, never root */
	cfg = good_value("server", "user", "www-data");
	assert_string_equal(cfg.user, "www-data");
	cfg = good_value("server", "user", "_forkcast");
	assert_string_equal(cfg.user, "_forkcast");
	cfg = good_value("server", "user", "Cam.User1$");
	assert_string_equal(cfg.user, "Cam.User1$");
	bad_value("server", "user", "root", "workers must not run as root");
	bad_value("server", "user", "9lives", "not a valid user name");
	bad_value("server", "user", "-x", "not a valid user name");
	bad_value("server", "user", "a b", "not a valid user name");
	bad_value("server", "user", "a/b", "not a valid user name");
	bad_value("server", "user", "$", "not a valid user name");
	bad_value("server", "user", repeat('u', 33),
	    "user name longer than 32 characters");
	bad_value("server", "user", repeat('u', 64),
	    "too long (64 characters, at most 63)");
	bad_value("server", "user", "", "empty value");

	/* auth: user:password, nothing that could break a header */
	cfg = good_value("server", "auth", "admin:s3cr;et:with:colons");
	assert_string_equal(cfg.auth, "admin:s3cr;et:with:colons");
	bad_value("server", "auth", "nocolon", "must be user:password");
	bad_value("server", "auth", ":pw",
	    "empty user name (must be user:password)");
	bad_value("server", "auth", "user:",
	    "empty password (must be user:password)");
	bad_value("server", "auth", "u:p\rX-Evil: 1",
	    "the value contains a control character");
	bad_value("server", "auth", "u:p\x7fq",
	    "the value contains a control character");
	bad_value("server", "auth", repeat('a', 256),
	    "too long (256 characters, at most 255)");
	bad_value("server", "auth", "", "empty value");

	/* allow_origin: goes into a header as is */
	cfg = good_value("server", "allow_origin", "https://example.com");
	assert_string_equal(cfg.allow_origin, "https://example.com");
	cfg = good_value("server", "allow_origin", "*");
	assert_string_equal(cfg.allow_origin, "*");
	bad_value("server", "allow_origin", "a\rb",
	    "'a\\x0db' contains a control character");
	bad_value("server", "allow_origin", "https://caf\xc3\xa9.example",
	    "only printable ASCII characters are allowed");
	bad_value("server", "allow_origin", "", "empty value");
	/* A newline ends the line: the rest is a line of its own, refused. */
	load_bad("[server]\nallow_origin = *\r\nSet-Cookie: a=b\n", 1,
	    NAME ":3: -: syntax error: expected [section] or key = value\n");

	/* url: exactly what the relay accepts (common/url.c, test_url) */
	cfg = good_value("capture", "url", "http://10.0.0.5:8080/?action=stream");
	assert_string_equal(cfg.url, "http://10.0.0.5:8080/?action=stream");
	cfg = good_value("capture", "url", "HTTP://[::1]/s?token=t#f");
	assert_string_equal(cfg.url, "HTTP://[::1]/s?token=t#f");
	bad_value("capture", "url", "https://cam/stream",
	    "must start with http:// (the only scheme supported)");
	bad_value("capture", "url", "cam:8080/stream",
	    "must start with http:// (the only scheme supported)");
	bad_value("capture", "url", "http://", "no host after http://");
	bad_value("capture", "url", "http://cam/a b",
	    "spaces, control and non-ASCII characters are not allowed");
	bad_value("capture", "url", "http://caf\xc3\xa9/",
	    "spaces, control and non-ASCII characters are not allowed");
	/* Each of these passed -n once and then never worked. */
	bad_value("capture", "url", "http://host:99999/x",
	    "port 99999 is out of range (1..65535)");
	bad_value("capture", "url", "http://host:0/x",
	    "port 0 is out of range (1..65535)");
	bad_value("capture", "url", "http://user@host/stream",
	    "credentials must be user:password (percent-encoded)");
	cfg = good_value("capture", "url", "http://user:pw@host/stream");
	assert_string_equal(cfg.url, "http://user:pw@host/stream");
	bad_value("capture", "url", "http://:8080/stream",
	    "no host after http://");
	bad_value("capture", "url", "http:///stream", "no host after http://");
	bad_value("capture", "url", "http://[::1/", "unterminated [IPv6] "
	    "address (missing ])");
	bad_value("capture", "url", "http://10.1/",
	    "'10.1' is not a valid IPv4 address");
	/* The line number of a refused url among other keys. */
	load_bad("[capture]\nsource = http\nfps = 10\n"
	    "url = http://cam:70000/stream?token=SECRET\n", 1,
	    NAME ":4: capture.url: port 70000 is out of range (1..65535)\n");
	load_bad("[server]\nworkers = 2\n\n[capture]\n"
	    "url = http://admin:SEC%zzRET@cam/\nsource = http\n", 1,
	    NAME ":5: capture.url: credentials: bad percent escape in the "
	    "password\n");
	/* The longest value: a 1023-byte url (the path is the long part). */
	fmt(val, sizeof(val), "http://cam/%s", repeat('u', 1012));
	cfg = good_value("capture", "url", val);
	assert_int_equal(strlen(cfg.url), 1023);
	fmt(val, sizeof(val), "http://cam/%s", repeat('u', 1013));
	bad_value("capture", "url", val,
	    "too long (1024 characters, at most 1023)");
	bad_value("capture", "url", "", "empty value");
}

static void
test_listen_valid(void **state)
{
	struct fc_config cfg;
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	(void)state;
	cfg = good_value("server", "listen", "0.0.0.0:80");
	assert_int_equal(cfg.nlisten, 1);
	sin = (const struct sockaddr_in *)&cfg.listen[0].addr;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(sin->sin_addr.s_addr, htonl(INADDR_ANY));
	assert_int_equal(ntohs(sin->sin_port), 80);
	assert_string_equal(cfg.pid_file, default_pid(80));

	cfg = good_value("server", "listen", "*:8081");
	sin = (const struct sockaddr_in *)&cfg.listen[0].addr;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(sin->sin_addr.s_addr, htonl(INADDR_ANY));
	assert_int_equal(ntohs(sin->sin_port), 8081);
	assert_string_equal(cfg.listen[0].text, "*:8081");

	cfg = good_value("server", "listen", "[::1]:8080");
	sin6 = (const struct sockaddr_in6 *)&cfg.listen[0].addr;
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_true(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
	assert_int_equal(ntohs(sin6->sin6_port), 8080);
	assert_int_equal(cfg.listen[0].addrlen, sizeof(struct sockaddr_in6));
	assert_string_equal(cfg.listen[0].text, "[::1]:8080");

	cfg = good_value("server", "listen", "[::]:65535");
	sin6 = (const struct sockaddr_in6 *)&cfg.listen[0].addr;
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr));
	assert_int_equal(fc_config_first_port(&cfg), 65535);
	assert_string_equal(cfg.pid_file, default_pid(65535));

	/* several: the file's list replaces the default, order kept */
	load_ok(&cfg, "[server]\nlisten = 127.0.0.1:9001\nworkers = 1\n"
	    "listen = [::1]:9001\nlisten = 127.0.0.2:9002\n");
	assert_int_equal(cfg.nlisten, 3);
	assert_string_equal(cfg.listen[0].text, "127.0.0.1:9001");
	assert_string_equal(cfg.listen[1].text, "[::1]:9001");
	assert_string_equal(cfg.listen[2].text, "127.0.0.2:9002");
	assert_string_equal(cfg.pid_file, default_pid(9001));

	/* an explicit pid_file wins over the computed one */
	load_ok(&cfg, "[server]\npid_file = /tmp/x.pid\nlisten = *:7000\n");
	assert_string_equal(cfg.pid_file, "/tmp/x.pid");

	/* the maximum count */
	load_ok(&cfg, "[server]\nlisten = 127.0.0.1:1\nlisten = 127.0.0.1:2\n"
	    "listen = 127.0.0.1:3\nlisten = 127.0.0.1:4\nlisten = 127.0.0.1:5\n"
	    "listen = 127.0.0.1:6\nlisten = 127.0.0.1:7\n"
	    "listen = 127.0.0.1:8\n");
	assert_int_equal(cfg.nlisten, FC_CONFIG_MAX_LISTEN);
}

static void
test_listen_invalid(void **state)
{
	static const struct {
		const char *value, *why;
	} cases[] = {
		{ "127.0.0.1", "missing :port" },
		{ "127.0.0.1:", "port must be a number 1..65535" },
		{ "127.0.0.1:0", "port must be a number 1..65535" },
		{ "127.0.0.1:65536", "port must be a number 1..65535" },
		{ "127.0.0.1:-80", "port must be a number 1..65535" },
		{ "127.0.0.1:80x", "port must be a number 1..65535" },
		{ "127.0.0.1:http", "port must be a number 1..65535" },
		{ ":8080", "missing address before :port" },
		{ "localhost:8080",
		  "not a numeric IPv4 address (names are not looked up)" },
		{ "256.1.1.1:80",
		  "not a numeric IPv4 address (names are not looked up)" },
		{ "127.1:80",
		  "not a numeric IPv4 address (names are not looked up)" },
		{ "::1:8080", "IPv6 addresses must be written [address]:port" },
		{ "[::1]8080", "missing :port after [address]" },
		{ "[::1]", "missing :port after [address]" },
		{ "[::1:8080", "missing ] after the IPv6 address" },
		{ "[]:80", "not a numeric IPv6 address" },
		{ "[fe80::1%lo]:80", "not a numeric IPv6 address" },
		{ "[127.0.0.1]:80", "not a numeric IPv6 address" },
		{ "[::1]:0", "port must be a number 1..65535" },
	};
	char msg[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fmt(msg, sizeof(msg), "'%s': %s", cases[i].value,
		    cases[i].why);
		bad_value("server", "listen", cases[i].value, msg);
	}
	bad_value("server", "listen", "", "empty value");
	bad_value("server", "listen", repeat('1', 130),
	    "'1111111111111111111111111111111111111111111111111111111111"
	    "11...': too long for a listen address");
}

/* listen = unix:/absolute/path, bounded by sun_path. */
static void
test_listen_unix(void **state)
{
	const struct sockaddr_un *sun;
	struct fc_config cfg;
	char text[512], path[128], want[256];

	(void)state;
	load_ok(&cfg, "[server]\nlisten = unix:/run/forkcast/cam.sock\n");
	assert_int_equal(cfg.nlisten, 1);
	sun = (const struct sockaddr_un *)&cfg.listen[0].addr;
	assert_int_equal(sun->sun_family, AF_UNIX);
	assert_string_equal(sun->sun_path, "/run/forkcast/cam.sock");
	assert_string_equal(fc_config_unix_path(&cfg.listen[0]),
	    "/run/forkcast/cam.sock");
	assert_string_equal(cfg.listen[0].text, "unix:/run/forkcast/cam.sock");
	assert_int_equal(cfg.listen[0].addrlen,
	    offsetof(struct sockaddr_un, sun_path) +
	    strlen("/run/forkcast/cam.sock") + 1);
	/* No TCP address: no port, and the pid file is named after the
	 * socket's file (odd characters as '_'). */
	assert_int_equal(fc_config_first_port(&cfg), 0);
	assert_int_equal(fc_config_first_tcp(&cfg), -1);
	fmt(want, sizeof(want), "%s/forkcast-unix-cam.sock.pid",
	    geteuid() == 0 ? "/run/forkcast" : XDG);
	assert_string_equal(cfg.pid_file, want);
	load_ok(&cfg, "[server]\nlisten = unix:/tmp/a b$c.sock\n");
	fmt(want, sizeof(want), "%s/forkcast-unix-a_b_c.sock.pid",
	    geteuid() == 0 ? "/run/forkcast" : XDG);
	assert_string_equal(cfg.pid_file, want);

	/* With a TCP address too, its port names the pid file. */
	load_ok(&cfg, "[server]\nlisten = unix:/run/x.sock\n"
	    "listen = 127.0.0.1:9005\n");
	assert_int_equal(cfg.nlisten, 2);
	assert_null(fc_config_unix_path(&cfg.listen[1]));
	assert_int_equal(fc_config_first_tcp(&cfg), 1);
	assert_int_equal(fc_config_first_port(&cfg), 9005);
	assert_string_equal(cfg.pid_file, default_pid(9005));

	/* 107 characters fit sun_path with its NUL; 108 do not. */
	path[0] = '/';
	memcpy(path + 1, repeat('s', 106), 107);
	fmt(text, sizeof(text), "[server]\nlisten = unix:%s\n", path);
	load_ok(&cfg, text);
	sun = (const struct sockaddr_un *)&cfg.listen[0].addr;
	assert_string_equal(sun->sun_path, path);
	assert_int_equal(strlen(sun->sun_path), 107);
	strcat(path, "s");
	fmt(text, sizeof(text), "unix:%s", path);
	fmt(want, sizeof(want), "'unix:/%s...': unix: path longer than "
	    "107 characters (sun_path)", repeat('s', 54));
	bad_value("server", "listen", text, want);

	bad_value("server", "listen", "unix:run/x.sock",
	    "'unix:run/x.sock': unix: needs an absolute path "
	    "(unix:/run/x.sock)");
	bad_value("server", "listen", "unix:",
	    "'unix:': unix: needs an absolute path (unix:/run/x.sock)");
	bad_value("server", "listen", "unix:/run/",
	    "'unix:/run/': unix: path names a directory");
	bad_value("server", "listen", "unix:/run/x\x01.sock",
	    "'unix:/run/x\\x01.sock': unix: path contains a control "
	    "character");
	load_bad("[server]\nlisten = unix:/run/x.sock\nlisten = 127.0.0.1:1\n"
	    "listen = unix:/run/x.sock\n", 1,
	    NAME ":4: server.listen: unix:/run/x.sock is already given on line "
	    "2\n");

	/* A copy from shared memory gets its sun_path NUL-ended. */
	load_ok(&cfg, "[server]\nlisten = unix:/run/x.sock\n");
	memset(((struct sockaddr_un *)&cfg.listen[0].addr)->sun_path, 'x',
	    sizeof(((struct sockaddr_un *)NULL)->sun_path));
	fc_config_terminate(&cfg);
	assert_int_equal(strlen(fc_config_unix_path(&cfg.listen[0])), 107);
}

/* socket_mode (octal) and socket_group for unix: sockets. */
static void
test_socket_keys(void **state)
{
	struct fc_config cfg;

	(void)state;
	fc_config_defaults(&cfg);
	assert_int_equal(cfg.socket_mode, 0660);
	assert_string_equal(cfg.socket_group, "");
	assert_int_equal(good_value("server", "socket_mode", "0600").socket_mode,
	    0600);
	assert_int_equal(good_value("server", "socket_mode", "666").socket_mode,
	    0666);
	assert_int_equal(good_value("server", "socket_mode", "0").socket_mode, 0);
	assert_int_equal(good_value("server", "socket_mode", "0777").socket_mode,
	    0777);
	bad_value("server", "socket_mode", "0999",
	    "'0999' is not an octal mode (like 0660)");
	bad_value("server", "socket_mode", "0x1ff",
	    "'0x1ff' is not an octal mode (like 0660)");
	bad_value("server", "socket_mode", "-660",
	    "'-660' is not an octal mode (like 0660)");
	bad_value("server", "socket_mode", "00660",
	    "'00660' is not an octal mode (like 0660)");
	bad_value("server", "socket_mode", "1777",
	    "1777 is out of range (octal 0000..0777)");
	bad_value("server", "socket_mode", "rw-rw----",
	    "'rw-rw----' is not an octal mode (like 0660)");

	cfg = good_value("server", "socket_group", "www-data");
	assert_string_equal(cfg.socket_group, "www-data");
	bad_value("server", "socket_group", "www data",
	    "not a valid group name");
	bad_value("server", "socket_group", "1abc", "not a valid group name");
	bad_value("server", "socket_group", repeat('g', 33),
	    "group name longer than 32 characters");
}

/* "ADDRESS:PORT tls": HTTPS there, with [tls] certificate and key. */
static void
test_listen_tls(void **state)
{
	struct fc_config cfg;

	(void)state;
	load_ok(&cfg, "[server]\nlisten = 127.0.0.1:8080\n"
	    "listen = 0.0.0.0:8443 tls\nlisten = [::1]:9443 \t tls\n"
	    "[tls]\ncertificate = /etc/c.pem\nkey = /etc/k.pem\n");
	assert_int_equal(cfg.nlisten, 3);
	assert_false(cfg.listen[0].tls);
	assert_true(cfg.listen[1].tls);
	assert_string_equal(cfg.listen[1].text, "0.0.0.0:8443");
	assert_true(cfg.listen[2].tls);
	assert_string_equal(cfg.listen[2].text, "[::1]:9443");
	assert_true(fc_config_has_tls(&cfg));
	assert_string_equal(cfg.tls_certificate, "/etc/c.pem");
	assert_string_equal(cfg.tls_key, "/etc/k.pem");
	load_ok(&cfg, "[server]\nlisten = 127.0.0.1:8080\n");
	assert_false(fc_config_has_tls(&cfg));
	/* The files alone do not turn TLS on. */
	load_ok(&cfg, "[tls]\ncertificate = /etc/c.pem\nkey = /etc/k.pem\n");
	assert_false(fc_config_has_tls(&cfg));

	load_bad("[server]\nlisten = 127.0.0.1:8443 tls\n", 1,
	    NAME ":2: server.listen: 127.0.0.1:8443 tls needs [tls] "
	    "certificate and key\n");
	load_bad("[server]\nlisten = 127.0.0.1:8443 tls\n[tls]\n"
	    "certificate = /etc/c.pem\n", 1,
	    NAME ":2: server.listen: 127.0.0.1:8443 tls needs [tls] "
	    "certificate and key\n");
	bad_value("server", "listen", "127.0.0.1:8443 tlsx",
	    "'127.0.0.1:8443 tlsx': expected ADDRESS:PORT, optionally "
	    "followed by tls");
	bad_value("server", "listen", "127.0.0.1:8443 ssl",
	    "'127.0.0.1:8443 ssl': expected ADDRESS:PORT, optionally "
	    "followed by tls");
	bad_value("server", "listen", "tls",
	    "'tls': missing :port");
	bad_value("server", "listen", "unix:/run/x.sock tls",
	    "'unix:/run/x.sock tls': tls is for TCP addresses (a proxy on a "
	    "unix: socket terminates TLS itself)");
	/* The same address with and without tls is still the same. */
	load_bad("[server]\nlisten = 127.0.0.1:8080\n"
	    "listen = 127.0.0.1:8080 tls\n[tls]\ncertificate = /c\nkey = /k\n",
	    1, NAME ":3: server.listen: 127.0.0.1:8080 tls is already given "
	    "on line 2\n");
}

static void
test_listen_duplicate(void **state)
{
	(void)state;
	load_bad("[server]\nlisten = 127.0.0.1:8080\nlisten = [::1]:8080\n"
	    "listen = 127.0.0.1:8080\n", 1,
	    NAME ":4: server.listen: 127.0.0.1:8080 is already given on "
	    "line 2\n");
	/* the same address written two ways is still the same */
	load_bad("[server]\nlisten = [::1]:80\n\nlisten = [0:0::0001]:80\n", 1,
	    NAME ":4: server.listen: [0:0::0001]:80 is already given on "
	    "line 2\n");
	load_bad("[server]\nlisten = *:80\nlisten = 0.0.0.0:80\n", 1,
	    NAME ":3: server.listen: 0.0.0.0:80 is already given on line 2\n");
	/* one too many */
	load_bad("[server]\nlisten = 127.0.0.1:1\nlisten = 127.0.0.1:2\n"
	    "listen = 127.0.0.1:3\nlisten = 127.0.0.1:4\nlisten = 127.0.0.1:5\n"
	    "listen = 127.0.0.1:6\nlisten = 127.0.0.1:7\n"
	    "listen = 127.0.0.1:8\nlisten = 127.0.0.1:9\n", 1,
	    NAME ":10: server.listen: more than 8 listen addresses\n");
}

/* Checks that value loads as allowed_hosts into exactly the names want
 * (NULL-terminated), in normal form. */
static void
hosts_are(const char *value, const char *const *want)
{
	struct fc_config cfg = good_value("server", "allowed_hosts", value);
	int i;

	for (i = 0; want[i] != NULL; i++)
		assert_string_equal(cfg.allowed_hosts[i], want[i]);
	for (; i < FC_CONFIG_MAX_HOSTS; i++)
		assert_string_equal(cfg.allowed_hosts[i], "");
}

static void
test_allowed_hosts_valid(void **state)
{
	static const char *const one[] = { "localhost", NULL };
	static const char *const many[] = { "cam.example.org", "127.0.0.1",
	    "[::1]", "[::2]", "10.0.0.1", "[2001:db8::7]", "a-b.xn--p1ai",
	    NULL };
	static const char *const bare_v6[] = { "[::ffff:192.0.2.1]", NULL };
	char val[1024], label[64], name[255];
	struct fc_config cfg;
	int n, i;

	(void)state;
	hosts_are("localhost", one);
	/* commas and blanks in any mix, case and a trailing dot folded,
	 * IPv6 in the form inet_ntop writes */
	hosts_are("Cam.Example.ORG., 127.0.0.1 [::1],[0:0::2]\t10.0.0.1 ,,"
	    " 2001:DB8:0:0::7  A-B.xn--P1AI.", many);
	hosts_are("::FFFF:192.0.2.1", bare_v6);
	/* the longest label and the longest name */
	memset(label, 'a', 63);
	label[63] = '\0';
	cfg = good_value("server", "allowed_hosts", label);
	assert_string_equal(cfg.allowed_hosts[0], label);
	for (n = 0; n < 253; n += 2)
		memcpy(name + n, n + 1 < 253 ? "b." : "b", 2);
	name[253] = '\0';
	cfg = good_value("server", "allowed_hosts", name);
	assert_string_equal(cfg.allowed_hosts[0], name);
	name[253] = '.';	/* plus the root's dot */
	name[254] = '\0';
	cfg = good_value("server", "allowed_hosts", name);
	name[253] = '\0';
	assert_string_equal(cfg.allowed_hosts[0], name);
	/* FC_CONFIG_MAX_HOSTS names fit */
	for (i = 0, n = 0; i < FC_CONFIG_MAX_HOSTS; i++)
		n += snprintf(val + n, sizeof(val) - (size_t)n, "h%d ", i);
	cfg = good_value("server", "allowed_hosts", val);
	assert_string_equal(cfg.allowed_hosts[FC_CONFIG_MAX_HOSTS - 1],
	    "h15");
}

static void
test_allowed_hosts_invalid(void **state)
{
	static const struct {
		const char *value, *why;
	} cases[] = {
		{ "cam_1", "'cam_1': not a host name (letters, digits, '-' "
		  "and '.' only)" },
		{ "*.example.org", "'*.example.org': not a host name (letters, "
		  "digits, '-' and '.' only)" },
		{ "ok, a\x01" "b", "'a\\x01b': not a host name (letters, digits, "
		  "'-' and '.' only)" },
		{ "-cam", "'-cam': a label starts with '-'" },
		{ "cam-.local", "'cam-.local': a label ends with '-'" },
		{ "cam-", "'cam-': a label ends with '-'" },
		{ "a..b", "'a..b': empty label (a leading dot or two dots in a "
		  "row)" },
		{ ".a", "'.a': empty label (a leading dot or two dots in a "
		  "row)" },
		{ "a..", "'a..': empty label (a leading dot or two dots in a "
		  "row)" },
		{ ".", "'.': empty host name" },
		{ "1.2.3", "'1.2.3': not an IPv4 address (a.b.c.d, no leading "
		  "zeros)" },
		{ "256.1.1.1", "'256.1.1.1': not an IPv4 address (a.b.c.d, no "
		  "leading zeros)" },
		{ "127.000.0.1", "'127.000.0.1': not an IPv4 address (a.b.c.d, "
		  "no leading zeros)" },
		{ "localhost:8080", "'localhost:8080': has a ':' but is not an "
		  "IPv6 address (names are listed without a port)" },
		{ "[::1]:8080", "'[::1]:8080': text after ] (names are listed "
		  "without a port)" },
		{ "[::1", "'[::1': missing ] after an IPv6 address" },
		{ "[127.0.0.1]", "'[127.0.0.1]': not an IPv6 address" },
		{ "[fe80::1%eth0]", "'[fe80::1%eth0]': not an IPv6 address" },
		{ "[]", "'[]': not an IPv6 address" },
		{ "localhost LOCALHOST.", "'LOCALHOST.' is listed twice (names "
		  "are compared as localhost)" },
		{ "[::1] 0::1", "'0::1' is listed twice (names are compared as "
		  "[::1])" },
		{ ", ,", "no host name in the list" },
	};
	char msg[512], val[1024];
	int i, n;

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
		bad_value("server", "allowed_hosts", cases[k].value,
		    cases[k].why);
	bad_value("server", "allowed_hosts", "", "empty value");
	fmt(msg, sizeof(msg), "'%.60s...': a label is longer than 63 "
	    "characters", repeat('c', 64));
	bad_value("server", "allowed_hosts", repeat('c', 64), msg);
	/* 127 "d." and a "d": 255 characters (a trailing dot is not
	 * counted, so this is two over) */
	for (n = 0; n < 254; n += 2)
		memcpy(val + n, "d.", 2);
	val[254] = 'd';
	val[255] = '\0';
	fmt(msg, sizeof(msg), "'%.60s...': longer than 253 characters", val);
	bad_value("server", "allowed_hosts", val, msg);
	for (i = 0, n = 0; i <= FC_CONFIG_MAX_HOSTS; i++)
		n += snprintf(val + n, sizeof(val) - (size_t)n, "h%d,", i);
	fmt(msg, sizeof(msg), "more than %d host names", FC_CONFIG_MAX_HOSTS);
	bad_value("server", "allowed_hosts", val, msg);
}

/* A request's Host header against the stored list (host.h). */
static void
test_allowed_hosts_match(void **state)
{
	static const struct {
		const char *host;
		bool allowed;
	} cases[] = {
		{ "cam.example.org", true },
		{ "CAM.Example.Org", true },
		{ "cam.example.org.", true },
		{ "cam.example.org:8080", true },
		{ "cam.example.org.:8080", true },
		{ "cam.example.org:", true },
		{ "127.0.0.1:8080", true },
		{ "[::1]", true },
		{ "[0:0::1]:8080", true },
		{ "[::ffff:7f00:1]", false },
		{ "::1", false },
		{ "[::1", false },
		{ "[::1]x", false },
		{ "[::1]:80:80", false },
		{ "cam.example.org:80x", false },
		{ "cam.example.org:80:80", false },
		{ "cam.example.org..", false },
		{ "cam.example.org.evil.example", false },
		{ "xcam.example.org", false },
		{ "evil.example", false },
		{ "127.0.0.01", false },
		{ "127.0.0.2", false },
		{ "2130706433", false },
		{ "cam.example.org/", false },
		{ "cam example.org", false },
		{ "", false },
	};
	struct fc_config cfg = good_value("server", "allowed_hosts",
	    "cam.example.org 127.0.0.1 [::1]");
	struct fc_config any;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (fc_host_allowed(cfg.allowed_hosts, FC_CONFIG_MAX_HOSTS,
		    cases[i].host) != cases[i].allowed)
			fail_msg("Host: '%s' should be %s", cases[i].host,
			    cases[i].allowed ? "allowed" : "refused");
	}
	/* no Host header (HTTP/1.0) names none of them */
	assert_false(fc_host_allowed(cfg.allowed_hosts, FC_CONFIG_MAX_HOSTS,
	    NULL));
	/* the default, an empty list, serves any Host or none */
	fc_config_defaults(&any);
	assert_true(fc_host_allowed(any.allowed_hosts, FC_CONFIG_MAX_HOSTS,
	    "anything.example"));
	assert_true(fc_host_allowed(any.allowed_hosts, FC_CONFIG_MAX_HOSTS,
	    "not a host"));
	assert_true(fc_host_allowed(any.allowed_hosts, FC_CONFIG_MAX_HOSTS,
	    NULL));
}

/* Several problems at once, each with its own line, in file order. */
static void
test_many_errors(void **state)
{
	(void)state;
	load_bad(
	    "; a bad file\n"				/* 1 */
	    "[server]\n"				/* 2 */
	    "workers = 0\n"				/* 3 */
	    "listen = 127.0.0.1:80\n"			/* 4 */
	    "listen = localhost:80\n"			/* 5 */
	    "nonsense\n"				/* 6 */
	    "workers = 4\n"				/* 7 */
	    "colour = blue\n"				/* 8 */
	    "\n"					/* 9 */
	    "[capture]\n"				/* 10 */
	    "fps = 1000\n"				/* 11 */
	    "quality = high\n"				/* 12 */
	    "max_frame_size = 4Q\n"			/* 13 */
	    "[cmaera]\n"				/* 14 */
	    "fps = 5\n"					/* 15 */
	    "[log\n"					/* 16 */
	    "[log]\n"					/* 17 */
	    "level = chatty\n"				/* 18 */
	    "file =\n",					/* 19 */
	    12,	/* line 15 is in an unknown section: reported once, at 14 */
	    NAME ":3: server.workers: 0 is out of range (1..256)\n"
	    NAME ":5: server.listen: 'localhost:80': not a numeric IPv4 "
	    "address (names are not looked up)\n"
	    NAME ":6: -: syntax error: expected [section] or key = value\n"
	    NAME ":7: server.workers: given twice, first on line 3\n"
	    NAME ":8: server.colour: unknown key\n"
	    NAME ":11: capture.fps: 1000 is out of range (1..240)\n"
	    NAME ":12: capture.quality: 'high' is not a whole number\n"
	    NAME ":13: capture.max_frame_size: '4Q' is not a size (bytes, or "
	    "a number with K, M or G)\n"
	    NAME ":14: -: unknown section [cmaera]\n"
	    NAME ":16: -: unterminated [section (missing ])\n"
	    NAME ":18: log.level: 'chatty' is not one of: error, warn, info, "
	    "debug\n"
	    NAME ":19: log.file: empty value\n");
}

static void
test_unknown_and_twice(void **state)
{
	(void)state;
	load_bad("[server]\nworkers = 2\nWorkers = 3\n", 1,
	    NAME ":3: server.Workers: unknown key\n");
	load_bad("[capture]\nworkers = 2\n", 1,
	    NAME ":2: capture.workers: unknown key\n");
	load_bad("[server]\nmax clients = 2\n", 1,
	    NAME ":2: server.max clients: unknown key\n");
	load_bad("[http]\nport = 80\nhost = x\n[server]\nworkers = 3\n", 1,
	    NAME ":1: -: unknown section [http]\n");
	load_bad("[Server]\n", 1, NAME ":1: -: unknown section [Server]\n");
	load_bad("[ server ]\n", 1,
	    NAME ":1: -: unknown section [ server ]\n");
	load_bad("[]\n", 1, NAME ":1: -: unknown section []\n");
	load_bad("[bad\x1b]\n", 1, NAME ":1: -: unknown section [bad\\x1b]\n");
	load_bad("workers = 2\n[server]\n", 1,
	    NAME ":1: workers: key outside of any [section]\n");

	/* twice, also across two [server] blocks and in other types */
	load_bad("[server]\nuser = a\n[capture]\n[server]\nuser = b\n", 1,
	    NAME ":5: server.user: given twice, first on line 2\n");
	load_bad("[capture]\nsource = files\nsource = files\n"
	    "drop_same_frames = yes\ndrop_same_frames = no\n", 2,
	    NAME ":3: capture.source: given twice, first on line 2\n"
	    NAME ":5: capture.drop_same_frames: given twice, first on "
	    "line 4\n");
	/* a refused first value still counts as given */
	load_bad("[capture]\nfps = 0\nfps = 5\n", 2,
	    NAME ":2: capture.fps: 0 is out of range (1..240)\n"
	    NAME ":3: capture.fps: given twice, first on line 2\n");
	/* a repeated [section] header is fine */
	struct fc_config cfg;
	load_ok(&cfg, "[server]\nworkers = 3\n[log]\n[server]\nbacklog = 9\n");
	assert_int_equal(cfg.workers, 3);
	assert_int_equal(cfg.backlog, 9);
}

static void
test_syntax_errors(void **state)
{
	char text[8192];
	struct fc_config cfg;

	(void)state;
	load_bad("[server]\nworkers 3\n", 1,
	    NAME ":2: -: syntax error: expected [section] or key = value\n");
	/* ':' is not a key/value separator (inih would take it as one) */
	load_bad("[server]\nworkers: 3\n", 1,
	    NAME ":2: -: syntax error: expected [section] or key = value\n");
	load_bad("[server]\n= 3\n", 1, NAME ":2: -: missing key name before =\n");
	load_bad("[server\nworkers = 3\n", 2,
	    NAME ":1: -: unterminated [section (missing ])\n"
	    NAME ":2: workers: key outside of any [section]\n");
	load_bad("[server] workers = 3\n", 1,
	    NAME ":1: -: unexpected text after [section]\n");
	/* no continuation lines: an indented line stands alone */
	load_bad("[server]\nuser = a\n  b\n", 1,
	    NAME ":3: -: syntax error: expected [section] or key = value\n");
	/* no inline comments: the text after ';' stays part of the value */
	load_bad("[server]\nworkers = 4 ; four\n", 1,
	    NAME ":2: server.workers: '4 ; four' is not a whole number\n");

	/* over-long lines are refused, never cut into another value */
	fmt(text, sizeof(text), "[capture]\nurl = http://%s\n"
	    "fps = 9\n", repeat('x', 3000));
	load_bad(text, 1,
	    NAME ":2: -: line too long (more than 2048 characters)\n");
	fmt(text, sizeof(text), "; %s\n[server]\nworkers = 9\n",
	    repeat('c', 2047));
	load_bad(text, 1,
	    NAME ":1: -: line too long (more than 2048 characters)\n");
	/* exactly 2048 characters is fine */
	fmt(text, sizeof(text), ";%s\n[server]\nworkers = 9\n",
	    repeat('c', 2047));
	load_ok(&cfg, text);
	assert_int_equal(cfg.workers, 9);
	/* the line after a refused one is still numbered right */
	fmt(text, sizeof(text), "[server]\nuser = %s\nworkers = 0\n",
	    repeat('u', 2100));
	load_bad(text, 2,
	    NAME ":2: -: line too long (more than 2048 characters)\n"
	    NAME ":3: server.workers: 0 is out of range (1..256)\n");
	/* CRLF line ends and a missing final newline */
	load_ok(&cfg, "[server]\r\nworkers = 7\r\nuser = daemon");
	assert_int_equal(cfg.workers, 7);
	assert_string_equal(cfg.user, "daemon");
}

/* Writes len bytes into a new temporary file; returns its path. */
static char *
temp_file(const void *data, size_t len)
{
	char *path = strdup("/tmp/fc-test-config-XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static int
load_path(struct fc_config *cfg, const char *path, char **errs)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int n;

	assert_non_null(f);
	n = fc_config_load(cfg, path, f);
	fclose(f);
	*errs = buf;
	return n;
}

static void
test_files(void **state)
{
	static const char good[] = "[server]\nworkers = 5\n";
	static const char nul[] = "[server]\nwork\0ers = 5\nbacklog = 0\n";
	struct fc_config cfg;
	char *path, *errs, want[512];

	(void)state;
	/* missing file: one problem, line 0 */
	fc_config_defaults(&cfg);
	assert_int_equal(load_path(&cfg, "/nonexistent/fc.conf", &errs), 1);
	assert_string_equal(errs, "/nonexistent/fc.conf:0: -: cannot open: "
	    "No such file or directory\n");
	free(errs);
	assert_int_equal(load_path(&cfg, "/tmp", &errs), 1);
	assert_string_equal(errs, "/tmp:0: -: cannot open: not a regular "
	    "file\n");
	free(errs);
	/* without an errs stream, the count alone */
	assert_int_equal(fc_config_load(&cfg, "/nonexistent/fc.conf", NULL), 1);

	path = temp_file(good, sizeof(good) - 1);
	assert_int_equal(load_path(&cfg, path, &errs), 0);
	assert_string_equal(errs, "");
	assert_int_equal(cfg.workers, 5);
	assert_string_equal(cfg.path, path);
	free(errs);
	unlink(path);
	free(path);

	/* a NUL byte is refused, not read as the end of the line */
	path = temp_file(nul, sizeof(nul) - 1);
	assert_int_equal(load_path(&cfg, path, &errs), 2);
	fmt(want, sizeof(want), "%s:2: -: NUL byte in line\n"
	    "%s:3: server.backlog: 0 is out of range (1..65535)\n", path, path);
	assert_string_equal(errs, want);
	free(errs);
	unlink(path);
	free(path);
}

/* fc_config_load checks what start will do with the file: the user must
 * exist (fc_config_load_string checks the text alone). */
static void
test_environment(void **state)
{
	static const char missing[] =
	    "[server]\nworkers = 2\nuser = fc-no-such-user\n";
	struct fc_config cfg, before;
	char *path, *errs, want[512];

	(void)state;
	fc_config_defaults(&cfg);
	memcpy(&before, &cfg, sizeof(cfg));
	path = temp_file(missing, sizeof(missing) - 1);
	assert_int_equal(load_path(&cfg, path, &errs), 1);
	fmt(want, sizeof(want), "%s:3: server.user: fc-no-such-user: no such "
	    "user\n", path);
	assert_string_equal(errs, want);
	assert_memory_equal(&cfg, &before, sizeof(cfg));
	free(errs);
	unlink(path);
	free(path);
	/* the text alone is fine */
	load_ok(&cfg, missing);
	assert_string_equal(cfg.user, "fc-no-such-user");
}

/* Loads "[log]\nfile = LOG\n" from a file; returns the messages, with the
 * file's own name replaced by "F" (caller frees). */
static char *
log_file_errors(const char *log)
{
	char text[600], *path, *errs, *out;
	struct fc_config cfg;
	size_t plen;

	fmt(text, sizeof(text), "[log]\nfile = %s\n", log);
	path = temp_file(text, strlen(text));
	fc_config_defaults(&cfg);
	(void)load_path(&cfg, path, &errs);
	plen = strlen(path);
	out = errs;
	if (strncmp(errs, path, plen) == 0) {
		out = strdup(errs + plen - 1);
		assert_non_null(out);
		out[0] = 'F';
		free(errs);
	}
	unlink(path);
	free(path);
	return out;
}

/* fc_config_load checks that the supervisor can append to log.file:
 * the file or its folder must allow it, and nothing is created. */
static void
test_environment_log_file(void **state)
{
	char dir[] = "/tmp/fc-test-logdir-XXXXXX", log[600], *errs;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	fmt(log, sizeof(log), "%s/new.log", dir);
	errs = log_file_errors(log);
	assert_string_equal(errs, "");
	free(errs);
	assert_int_equal(stat(log, &st), -1);	/* not created by a check */

	errs = log_file_errors(dir);
	fmt(log, sizeof(log), "F:2: log.file: %s is a directory\n", dir);
	assert_string_equal(errs, log);
	free(errs);

	errs = log_file_errors("/nonexistent-fc-dir/x.log");
	assert_string_equal(errs, "F:2: log.file: cannot create "
	    "/nonexistent-fc-dir/x.log: /nonexistent-fc-dir: No such file or "
	    "directory\n");
	free(errs);
	assert_int_equal(rmdir(dir), 0);
}

/* A refused auth or url value is never echoed (password, token). */
static void
test_secret_not_echoed(void **state)
{
	(void)state;
	bad_value("server", "auth", "u:pw-SECRET\x01", "the value contains a "
	    "control character");
	bad_value("capture", "url", "http://h/?token=SECRET\x02", "the value "
	    "contains a control character");
}

/* Reload: the keys a running server cannot change are put back and
 * named. */
static void
test_restart_changes(void **state)
{
	struct fc_config running, next;
	char names[128];

	(void)state;
	fc_config_defaults(&running);
	load_ok(&next, "[server]\nworkers = 3\n");
	assert_int_equal(fc_config_restart_changes(&next, &running, names,
	    sizeof(names)), 0);
	assert_string_equal(names, "");
	assert_int_equal(next.workers, 3);

	load_ok(&next, "[server]\nworkers = 3\n[capture]\nslots = 9\n"
	    "max_frame_size = 8M\nfps = 7\n");
	assert_int_equal(fc_config_restart_changes(&next, &running, names,
	    sizeof(names)), 2);
	assert_string_equal(names, "capture.max_frame_size, capture.slots");
	assert_int_equal(next.slots, running.slots);
	assert_true(next.max_frame_size == running.max_frame_size);
	assert_int_equal(next.fps, 7);		/* the rest is kept */
	assert_int_equal(next.workers, 3);
	/* a short buffer is cut, never overrun */
	load_ok(&next, "[capture]\nslots = 9\nmax_frame_size = 8M\n");
	assert_int_equal(fc_config_restart_changes(&next, &running, names, 8),
	    2);
	assert_true(strlen(names) < 8);
	/* ... and is a prefix of the whole list, not a mix of names */
	assert_string_equal(names, "capture");
}

/* A copy from shared memory gets every string terminated. */
static void
test_terminate(void **state)
{
	struct fc_config cfg;

	(void)state;
	fc_config_defaults(&cfg);
	memset(cfg.auth, 'a', sizeof(cfg.auth));
	memset(cfg.url, 'u', sizeof(cfg.url));
	memset(cfg.listen[3].text, 'l', sizeof(cfg.listen[3].text));
	memset(cfg.allowed_hosts, 'h', sizeof(cfg.allowed_hosts));
	cfg.nlisten = 1000;
	fc_config_terminate(&cfg);
	for (int i = 0; i < FC_CONFIG_MAX_HOSTS; i++)
		assert_int_equal(strlen(cfg.allowed_hosts[i]), FC_HOST_MAX - 1);
	assert_int_equal(strlen(cfg.auth), sizeof(cfg.auth) - 1);
	assert_int_equal(strlen(cfg.url), sizeof(cfg.url) - 1);
	assert_int_equal(strlen(cfg.listen[3].text),
	    sizeof(cfg.listen[3].text) - 1);
	assert_int_equal(cfg.nlisten, 0);
}

/* A failed load leaves the running configuration exactly as it was. */
static void
test_untouched_on_failure(void **state)
{
	struct fc_config cfg, before;

	(void)state;
	load_ok(&cfg, "[server]\nworkers = 7\nlisten = [::1]:9000\n"
	    "[capture]\nfps = 12\n");
	memcpy(&before, &cfg, sizeof(cfg));
	assert_int_equal(fc_config_load_string(&cfg, NAME,
	    "[server]\nworkers = 3\nlisten = 127.0.0.1:1\n[capture]\n"
	    "fps = 500\n", NULL), 1);
	assert_memory_equal(&cfg, &before, sizeof(cfg));
	assert_int_equal(fc_config_load(&cfg, "/nonexistent/x", NULL), 1);
	assert_memory_equal(&cfg, &before, sizeof(cfg));
	assert_int_equal(cfg.workers, 7);
	assert_string_equal(cfg.pid_file, default_pid(9000));
}

static void
test_capture_changed(void **state)
{
	struct fc_config a, b;

	(void)state;
	fc_config_defaults(&a);
	fc_config_defaults(&b);
	assert_false(fc_config_capture_changed(&a, &b));

	/* server and log settings do not restart capture */
	load_ok(&b, "[server]\nworkers = 9\nlisten = 127.0.0.1:1\n"
	    "auth = a:b\n[log]\nlevel = debug\n");
	assert_false(fc_config_capture_changed(&a, &b));

	static const char *const changes[] = {
		"source = files", "device = /dev/video1", "camera = x",
		"directory = /tmp", "url = http://h/", "width = 640",
		"height = 480", "fps = 5", "quality = 50", "idle_stop = 0",
		"drop_same_frames = yes", "max_frame_size = 8M", "slots = 8",
	};
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		char text[128];

		fmt(text, sizeof(text), "[capture]\n%s\n", changes[i]);
		load_ok(&b, text);
		assert_true(fc_config_capture_changed(&a, &b));
		assert_true(fc_config_capture_changed(&b, &a));
	}
	/* the same values written differently are no change */
	load_ok(&b, "[capture]\nmax_frame_size = 4096K\nidle_stop = 10s\n"
	    "drop_same_frames = off\n");
	assert_false(fc_config_capture_changed(&a, &b));
}

/* conf/forkcast.conf is exactly what fc_config_write_default() prints,
 * and loads into the defaults. */
static void
test_default_file(void **state)
{
	struct fc_config cfg, def;
	char *gen = NULL, *errs, *shipped;
	size_t genlen = 0, len = 0;
	FILE *f;
	long size;

	(void)state;
	f = open_memstream(&gen, &genlen);
	assert_non_null(f);
	fc_config_write_default(f);
	fclose(f);

	f = fopen(FC_CONFIG_DEFAULT_FILE, "rb");
	if (f == NULL)
		fail_msg("cannot open %s (run from the repository root)",
		    FC_CONFIG_DEFAULT_FILE);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size > 0);
	rewind(f);
	shipped = malloc((size_t)size + 1);
	assert_non_null(shipped);
	len = fread(shipped, 1, (size_t)size, f);
	fclose(f);
	shipped[len] = '\0';
	if (len != genlen || memcmp(shipped, gen, len) != 0)
		print_error("%s differs from fc_config_write_default(); "
		    "regenerate it\n", FC_CONFIG_DEFAULT_FILE);
	assert_int_equal(len, genlen);
	assert_memory_equal(shipped, gen, len);

	/* every key is in it, each shown once, commented out or not */
	assert_non_null(strstr(gen, "\nlisten = 127.0.0.1:8080\n"));
	assert_non_null(strstr(gen, "\n; auth = user:password\n"));
	assert_non_null(strstr(gen, "\nmax_frame_size = 4M\n"));
	assert_non_null(strstr(gen, "\n[log]\n"));

	fc_config_defaults(&def);
	assert_int_equal(load_path(&cfg, FC_CONFIG_DEFAULT_FILE, &errs), 0);
	assert_string_equal(errs, "");
	free(errs);
	assert_same_config(&cfg, &def);
	assert_string_equal(cfg.path, FC_CONFIG_DEFAULT_FILE);

	/* the generated text with every commented key uncommented loads
	 * too (the examples are valid values) */
	for (char *p = gen; (p = strstr(p, "\n; ")) != NULL; p++) {
		char *eol = strchr(p + 1, '\n');

		if (eol != NULL && memchr(p, '=', (size_t)(eol - p)) != NULL &&
		    p[3] >= 'a' && p[3] <= 'z' && strchr(p + 3, ' ') != NULL &&
		    strncmp(strchr(p + 3, ' '), " = ", 3) == 0)
			memcpy(p + 1, "  ", 2);
	}
	load_ok(&cfg, gen);
	assert_string_equal(cfg.auth, "user:password");
	assert_string_equal(cfg.log_file, "/var/log/forkcast.log");
	assert_string_equal(cfg.pid_file, "/run/forkcast/forkcast-8080.pid");
	assert_string_equal(cfg.allowed_hosts[2], "[::1]");
	free(gen);
	free(shipped);
}

/* The default pid file of a non-root process; returns the number of
 * mismatches, printed.  Run as nobody when the tests run as root. */
static int
unprivileged_pid_defaults(void)
{
	struct fc_config cfg;
	char cwd[256], want[600], xdg[520];
	int bad = 0;
	const struct { const char *xdg, *name, *dir; } cases[] = {
		{ XDG, NAME, XDG },
		{ XDG, "/etc/fc/x.conf", XDG },
		{ NULL, "/etc/fc/x.conf", "/etc/fc" },
		{ NULL, "/x.conf", "" },
		{ NULL, NAME, cwd },
		{ NULL, "sub/dir/x.conf", NULL },	/* cwd/sub/dir */
		{ "relative/run", NAME, cwd },		/* not absolute: ignored */
		{ "", NAME, cwd },
	};

	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return 1;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].xdg != NULL)
			setenv("XDG_RUNTIME_DIR", cases[i].xdg, 1);
		else
			unsetenv("XDG_RUNTIME_DIR");
		if (cases[i].dir != NULL)
			snprintf(want, sizeof(want), "%s/forkcast-7001.pid",
			    cases[i].dir);
		else
			snprintf(want, sizeof(want), "%s/sub/dir/forkcast-7001.pid",
			    cwd);
		if (fc_config_load_string(&cfg, cases[i].name,
		    "[server]\nlisten = 127.0.0.1:7001\n", NULL) != 0 ||
		    strcmp(cfg.pid_file, want) != 0) {
			fprintf(stderr, "pid file default for %s (XDG_RUNTIME_DIR "
			    "%s): got %s, want %s\n", cases[i].name,
			    cases[i].xdg != NULL ? cases[i].xdg : "unset",
			    cfg.pid_file, want);
			bad++;
		}
	}
	/* a default that does not fit is refused, not cut */
	memset(xdg, 'x', sizeof(xdg) - 1);
	xdg[0] = '/';
	xdg[sizeof(xdg) - 1] = '\0';
	setenv("XDG_RUNTIME_DIR", xdg, 1);
	if (fc_config_load_string(&cfg, NAME, "", NULL) != 1) {
		fprintf(stderr, "a too long default pid file was not refused\n");
		bad++;
	}
	/* an explicit pid_file needs no default */
	if (fc_config_load_string(&cfg, NAME, "[server]\npid_file = /a.pid\n",
	    NULL) != 0 || strcmp(cfg.pid_file, "/a.pid") != 0) {
		fprintf(stderr, "explicit pid_file not kept\n");
		bad++;
	}
	setenv("XDG_RUNTIME_DIR", XDG, 1);
	return bad;
}

/* Default pid file: /run/forkcast as root (XDG_RUNTIME_DIR or not), else
 * $XDG_RUNTIME_DIR when absolute, else the configuration file's folder. */
static void
test_pid_file_default(void **state)
{
	struct fc_config cfg;
	int status;
	pid_t pid;

	(void)state;
	if (geteuid() != 0) {
		assert_int_equal(unprivileged_pid_defaults(), 0);
		return;
	}
	load_ok(&cfg, "[server]\nlisten = 127.0.0.1:7001\n");
	assert_string_equal(cfg.pid_file, "/run/forkcast/forkcast-7001.pid");
	unsetenv("XDG_RUNTIME_DIR");
	assert_int_equal(fc_config_load_string(&cfg, "/etc/fc/x.conf", "", NULL), 0);
	assert_string_equal(cfg.pid_file, "/run/forkcast/forkcast-8080.pid");
	setenv("XDG_RUNTIME_DIR", XDG, 1);

	/* The other rules, as nobody. */
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		if (setresgid(65534, 65534, 65534) == -1 ||
		    setresuid(65534, 65534, 65534) == -1)
			_exit(100);
		_exit(unprivileged_pid_defaults() == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_int_keys),
		cmocka_unit_test(test_seconds_suffixes),
		cmocka_unit_test(test_size_key),
		cmocka_unit_test(test_bool_key),
		cmocka_unit_test(test_enum_keys),
		cmocka_unit_test(test_string_keys),
		cmocka_unit_test(test_listen_valid),
		cmocka_unit_test(test_listen_invalid),
		cmocka_unit_test(test_listen_tls),
		cmocka_unit_test(test_listen_duplicate),
		cmocka_unit_test(test_listen_unix),
		cmocka_unit_test(test_socket_keys),
		cmocka_unit_test(test_allowed_hosts_valid),
		cmocka_unit_test(test_allowed_hosts_invalid),
		cmocka_unit_test(test_allowed_hosts_match),
		cmocka_unit_test(test_many_errors),
		cmocka_unit_test(test_unknown_and_twice),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_environment),
		cmocka_unit_test(test_environment_log_file),
		cmocka_unit_test(test_secret_not_echoed),
		cmocka_unit_test(test_restart_changes),
		cmocka_unit_test(test_terminate),
		cmocka_unit_test(test_untouched_on_failure),
		cmocka_unit_test(test_capture_changed),
		cmocka_unit_test(test_default_file),
		cmocka_unit_test(test_pid_file_default),
	};

	setenv("XDG_RUNTIME_DIR", XDG, 1);

	return cmocka_run_group_tests(tests, NULL, NULL);
}
