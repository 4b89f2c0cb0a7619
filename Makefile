# forkcast - plain Makefile, objects under build/.
#
#   make            release binaries: build/forkcast, build/forkcast-capture
#   make test       install test deps if missing, build, run every test
#                   (unit tests under ASan+UBSan, integration on release)
#   make SAN=1      sanitizer build of everything under build/san/
#   make bench      the benchmark (tests/bench/)
#   make install    install (PREFIX=/usr/local, DESTDIR, SYSCONFDIR=/etc,
#                   UNITDIR=PREFIX/lib/systemd/system); make uninstall
#   make clean
#
# Module sources are picked up per directory; each unit test
# tests/unit/test_NAME.c links only the sources its tests/unit/test_NAME.mk
# lists in test_NAME_DEPS (the layering shows in the link line).

VERSION = 0.1.0

CC      ?= cc
CXX     ?= c++
SAN     ?= 0

# Installed layout (common/paths.h finds the files the same way from any
# copy of it, a DESTDIR or an unpacked package included).
PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system

WARN    = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
          -Wmissing-prototypes -Wpointer-arith -Wcast-qual
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(WARN) -MMD -MP -g \
          -DFC_VERSION='"$(VERSION)"' -DFC_SYSCONFDIR='"$(SYSCONFDIR)"'
LIBS    = -lturbojpeg -linih -lhttp_parser -lseccomp -lssl -lcrypto -lnghttp2 -lpthread -lm
# The supervisor only: sd_notify and socket activation (server/systemd.c).
SERVER_LIBS = -lsystemd

ifeq ($(SAN),1)
BUILD   = build/san
OPTFLAGS = -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
           -fno-sanitize-recover=undefined
LDSAN   = -fsanitize=address,undefined
else
BUILD   = build
OPTFLAGS = -O2
LDSAN   =
endif

CFLAGS_ALL += $(OPTFLAGS) $(CPPFLAGS) $(CFLAGS)

# Headers/tools whose absence means scripts/install-deps must run first.
NEED_BUILD = /usr/include/turbojpeg.h /usr/include/ini.h \
             /usr/include/http_parser.h /usr/include/seccomp.h \
             /usr/include/systemd/sd-daemon.h /usr/include/openssl/ssl.h /usr/include/nghttp2/nghttp2.h \
             /usr/bin/pkg-config /usr/bin/curl
NEED_TEST  = /usr/include/cmocka.h /usr/sbin/ip /usr/bin/clang /usr/bin/chromium /usr/sbin/haproxy \
             /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a \
             /usr/bin/ffmpeg /usr/bin/gst-launch-1.0 \
             /usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstsoup.so \
             /usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstvideorate.so \
             /usr/lib/python3/dist-packages/cv2.cpython-311-x86_64-linux-gnu.so \
             /usr/bin/cvlc /usr/lib/x86_64-linux-gnu/vlc/plugins/demux/libmjpeg_plugin.so \
             /usr/bin/motion /usr/bin/dh /usr/bin/lintian /usr/bin/mandoc \
             /usr/bin/bwrap /usr/bin/systemd-analyze /usr/bin/systemd-socket-activate \
             /usr/lib/python3/dist-packages/h2/__init__.py /usr/bin/nghttp
# (The last two: python3-h2 for the hostile HTTP/2 clients of
# tests/integration/h2_hostile.sh, nghttp2-client for nghttp and h2load.)

COMMON_SRC  = $(sort $(wildcard common/*.c))
CAPTURE_SRC = $(sort $(wildcard capture/*.c))
SERVER_SRC  = $(sort $(wildcard server/*.c))

COMMON_OBJ  = $(COMMON_SRC:%.c=$(BUILD)/%.o)
CAPTURE_OBJ = $(CAPTURE_SRC:%.c=$(BUILD)/%.o)
SERVER_OBJ  = $(SERVER_SRC:%.c=$(BUILD)/%.o) $(BUILD)/server/page_html.o

# Optional libcamera shim (the only C++): WITH_LIBCAMERA=auto|yes|no.
WITH_LIBCAMERA ?= auto
ifeq ($(WITH_LIBCAMERA),auto)
HAVE_LIBCAMERA := $(shell pkg-config --exists libcamera 2>/dev/null && echo 1)
else ifeq ($(WITH_LIBCAMERA),yes)
HAVE_LIBCAMERA := 1
endif
ifeq ($(HAVE_LIBCAMERA),1)
CAPTURE_CXX_SRC = $(sort $(wildcard capture/*.cpp))
CAPTURE_OBJ += $(CAPTURE_CXX_SRC:%.cpp=$(BUILD)/%.o)
CAPTURE_LINK = $(CXX)
CAPTURE_LIBS = $(shell pkg-config --libs libcamera)
CFLAGS_ALL += -DFC_HAVE_LIBCAMERA=1
else
CAPTURE_LINK = $(CC)
CAPTURE_LIBS =
endif
CXXFLAGS_ALL = -std=c++17 -Wall -Wextra -Werror -MMD -MP -g $(OPTFLAGS) $(CPPFLAGS) $(CXXFLAGS) \
               $(shell pkg-config --cflags libcamera 2>/dev/null)

BINS = $(BUILD)/forkcast $(BUILD)/forkcast-capture

.PHONY: all test bench fuzz clean deps test-deps install uninstall
all: deps $(BINS)

# Runs scripts/install-deps only when a needed header or tool is missing.
deps:
	@for h in $(NEED_BUILD); do [ -e $$h ] || { scripts/install-deps --build && break; }; done

test-deps:
	@for h in $(NEED_BUILD) $(NEED_TEST); do [ -e $$h ] || { scripts/install-deps && break; }; done

$(BUILD)/forkcast: $(SERVER_OBJ) $(COMMON_OBJ)
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ $(LIBS) $(SERVER_LIBS)

$(BUILD)/forkcast-capture: $(CAPTURE_OBJ) $(COMMON_OBJ)
	$(CAPTURE_LINK) $(LDSAN) $(LDFLAGS) -o $@ $^ $(LIBS) $(CAPTURE_LIBS)

# Objects are rebuilt when the flags change (e.g. libcamera appears).
FLAGS_NOW = $(CC) $(CFLAGS_ALL) | $(CXX) $(CXXFLAGS_ALL)
$(BUILD)/.flags: FORCE
	@mkdir -p $(dir $@)
	@[ "$$(cat $@ 2>/dev/null)" = '$(FLAGS_NOW)' ] || echo '$(FLAGS_NOW)' > $@
FORCE:

$(BUILD)/%.o: %.c $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(BUILD)/%.o: %.cpp $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_ALL) -c -o $@ $<

# The viewer page is embedded in the binary (workers have no filesystem).
$(BUILD)/server/page_html.c: server/page.html scripts/embed
	@mkdir -p $(dir $@)
	scripts/embed fc_page_html $< > $@

$(BUILD)/server/page_html.o: $(BUILD)/server/page_html.c
	$(CC) $(CFLAGS_ALL) -Wno-missing-prototypes -c -o $@ $<

# --- unit tests (cmocka) ---
UNIT_TESTS := $(sort $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c)))
-include $(wildcard tests/unit/*.mk)

define unit_rule
$(BUILD)/tests/$(1): $(BUILD)/tests/unit/$(1).o $$(patsubst %.c,$(BUILD)/%.o,$$($(1)_DEPS))
	$$(CC) $$(LDSAN) -o $$@ $$^ $$(LIBS) -lcmocka
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_rule,$(t))))
UNIT_BINS = $(UNIT_TESTS:%=$(BUILD)/tests/%)

# Test helpers in C (load client, test MJPEG server, ...): tests/tools/NAME.c
# each linked with the sources in tests/tools/NAME.mk (NAME_DEPS) and the
# libraries it names there (NAME_LIBS).
TOOLS := $(sort $(patsubst tests/tools/%.c,%,$(wildcard tests/tools/*.c)))
-include $(wildcard tests/tools/*.mk)
define tool_rule
$(BUILD)/tools/$(1): $(BUILD)/tests/tools/$(1).o $$(patsubst %.c,$(BUILD)/%.o,$$($(1)_DEPS))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDSAN) -o $$@ $$^ $$($(1)_LIBS) $$(LIBS)
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(t))))
TOOL_BINS = $(TOOLS:%=$(BUILD)/tools/%)

# The escape suite (tests/escape/escape.c): attacks from inside each role's
# real sandbox, linked with the sources in tests/escape/escape.mk
# (escape_DEPS); run by tests/integration/escape.sh.
-include tests/escape/escape.mk
$(BUILD)/tools/escape: $(BUILD)/tests/escape/escape.o $(patsubst %.c,$(BUILD)/%.o,$(escape_DEPS))
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ $(LIBS) -lutil

# --- fuzz targets (libFuzzer, clang): tests/fuzz/fuzz_NAME.c linked with
# the sources in tests/fuzz/fuzz_NAME.mk (fuzz_NAME_DEPS), seed corpus in
# tests/fuzz/corpus/NAME/.  `make fuzz` runs each for FUZZ_SECONDS;
# `make test` runs each briefly on its corpus (tests/run-tests).
FUZZ_SECONDS ?= 60
FUZZERS := $(sort $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c)))
-include $(wildcard tests/fuzz/*.mk)
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) -g -O1 -fno-omit-frame-pointer \
              -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
define fuzz_rule
build/fuzz/$(1): tests/fuzz/$(1).c $$($(1)_DEPS)
	@mkdir -p $$(dir $$@)
	clang $$(FUZZ_CFLAGS) -o $$@ $$^ $$(LIBS)
endef
$(foreach t,$(FUZZERS),$(eval $(call fuzz_rule,$(t))))
FUZZ_BINS = $(FUZZERS:%=build/fuzz/%)

fuzz: test-deps $(FUZZ_BINS)
	@tests/fuzz/run $(FUZZ_SECONDS)

# Unit tests run from build/san/tests/, everything else from the release
# build: the sanitizer build of forkcast and forkcast-capture themselves
# would be a second build nothing runs (make SAN=1 makes it).
test: test-deps
	@$(MAKE) --no-print-directory SAN=1 $(addprefix build/san/tests/,$(UNIT_TESTS))
	@$(MAKE) --no-print-directory all $(TOOL_BINS) $(BUILD)/tools/escape $(FUZZ_BINS)
	@tests/run-tests

# The benchmark's own C programs: a loopback ceiling sender and a bare
# TurboJPEG encode loop (tests/bench/).
build/bench/ceiling: tests/bench/ceiling.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -D_GNU_SOURCE $(WARN) -o $@ $<
build/bench/encode_baseline: tests/bench/encode_baseline.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -D_GNU_SOURCE $(WARN) -o $@ $< -lturbojpeg

bench: all build/tools/fcclient build/bench/ceiling build/bench/encode_baseline
	@tests/bench/run

# --- install ---
# The systemd units name the installed paths (conf/systemd/*.in, filled
# in at install time: the paths are install's variables).
UNITS = forkcast.service forkcast.socket
# The installed configuration: the default file, with the dedicated
# forkcast system user instead of nobody.
build/forkcast.conf.installed: conf/forkcast.conf Makefile
	@mkdir -p $(dir $@)
	awk '/^user = nobody$$/ { print "; installed runs: the dedicated forkcast system user (video group)"; \
	     print "user = forkcast"; found = 1; next } { print } \
	     END { if (!found) exit 1 }' $< > $@

MAN8 = conf/man/forkcast.8 conf/man/forkcastctl.8
MAN5 = conf/man/forkcast.conf.5
SAMPLES = $(sort $(wildcard tests/data/samples/*.jpg))
EMPTY_ROOT = /var/empty/forkcast

# Every file and forkcast folder install makes, for uninstall (the
# folders when empty, innermost first).
INSTALLED_FILES = $(SBINDIR)/forkcast $(SBINDIR)/forkcastctl \
    $(LIBEXECDIR)/forkcast/forkcast-capture \
    $(SAMPLES:tests/data/samples/%=$(DATADIR)/forkcast/samples/%) \
    $(UNITS:%=$(UNITDIR)/%) \
    $(MAN8:conf/man/%=$(MANDIR)/man8/%) $(MAN5:conf/man/%=$(MANDIR)/man5/%)
INSTALLED_DIRS = $(LIBEXECDIR)/forkcast $(DATADIR)/forkcast/samples \
    $(DATADIR)/forkcast $(EMPTY_ROOT)

# DESTDIR empty and root: the forkcast system user is made when missing
# (the Debian package does it in postinst).  uninstall keeps the user
# and /etc/forkcast/forkcast.conf (the operator's file).
install: $(BUILD)/forkcast $(BUILD)/forkcast-capture build/forkcast.conf.installed
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR)/forkcast \
	    $(DESTDIR)$(DATADIR)/forkcast/samples $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(SYSCONFDIR)/forkcast
	install -m 0755 $(BUILD)/forkcast scripts/forkcastctl $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(BUILD)/forkcast-capture $(DESTDIR)$(LIBEXECDIR)/forkcast/
	install -m 0644 $(SAMPLES) $(DESTDIR)$(DATADIR)/forkcast/samples/
	for u in $(UNITS); do \
	    sed -e 's#@SBINDIR@#$(SBINDIR)#g' -e 's#@SYSCONFDIR@#$(SYSCONFDIR)#g' \
	        conf/systemd/$$u.in > $(DESTDIR)$(UNITDIR)/$$u && \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	@# The workers' empty root: root-owned, nobody may write (not even
	@# root's w bit), so that a read-only /var (ProtectSystem=strict)
	@# still has it.
	install -d -m 0555 $(DESTDIR)$(EMPTY_ROOT)
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/forkcast/forkcast.conf ]; then \
	    echo "keeping $(DESTDIR)$(SYSCONFDIR)/forkcast/forkcast.conf"; \
	else \
	    install -m 0644 build/forkcast.conf.installed \
	        $(DESTDIR)$(SYSCONFDIR)/forkcast/forkcast.conf; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && ! getent passwd forkcast >/dev/null; then \
	    echo "adding system user forkcast (group video)"; \
	    useradd --system --user-group --groups video --no-create-home \
	        --home-dir /nonexistent --shell /usr/sbin/nologin forkcast; \
	fi

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED_FILES))
	@# The configuration goes only while it is the one install wrote.
	@if cmp -s build/forkcast.conf.installed $(DESTDIR)$(SYSCONFDIR)/forkcast/forkcast.conf; then \
	    rm -f $(DESTDIR)$(SYSCONFDIR)/forkcast/forkcast.conf; \
	    rmdir $(DESTDIR)$(SYSCONFDIR)/forkcast 2>/dev/null || true; \
	elif [ -e $(DESTDIR)$(SYSCONFDIR)/forkcast/forkcast.conf ]; then \
	    echo "keeping the edited $(DESTDIR)$(SYSCONFDIR)/forkcast/forkcast.conf"; \
	fi
	@# forkcast's own folders, when empty; shared ones (sbin, man8, ...)
	@# stay.
	@for d in $(addprefix $(DESTDIR),$(INSTALLED_DIRS)); do \
	    [ ! -d $$d ] || rmdir $$d 2>/dev/null || echo "keeping $$d (not empty)"; \
	done

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
