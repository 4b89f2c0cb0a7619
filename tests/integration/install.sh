#!/bin/bash
# make install / make uninstall into a DESTDIR: the files land where the
# installed layout says, the installed tree runs from there with the
# installed configuration (its own capture binary, its own samples, the
# forkcast system user), installed forkcastctl drives it without building,
# an edited configuration survives a second install and uninstall, and
# uninstall leaves no file behind.
source "$(dirname "$0")/lib.sh"

D=$TMP/dest
P=/usr/local
VERSION=$(sed -n 's/^VERSION = //p' "$ROOT/Makefile")

# Run make as a command of its own (not as part of make test's jobs).
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$ROOT" "$@"; }

# The files make install writes, relative to DESTDIR.
expected() {
	cat <<EOF | sort
/etc/forkcast/forkcast.conf
$P/lib/systemd/system/forkcast.service
$P/lib/systemd/system/forkcast.socket
$P/libexec/forkcast/forkcast-capture
$P/sbin/forkcast
$P/sbin/forkcastctl
$P/share/forkcast/samples/sample-1.jpg
$P/share/forkcast/samples/sample-2.jpg
$P/share/forkcast/samples/sample-3.jpg
$P/share/man/man5/forkcast.conf.5
$P/share/man/man8/forkcast.8
$P/share/man/man8/forkcastctl.8
EOF
}
files_in() { (cd "$1" && find . -type f -o -type l | sed 's#^\.##' | sort); }

echo "# make install DESTDIR"
if mk install DESTDIR="$D" PREFIX="$P" >"$TMP/install.out" 2>&1; then
	ok "make install DESTDIR=... PREFIX=$P"
else
	not_ok "make install failed: $(tail -n 5 "$TMP/install.out")"
	finish
	exit 1
fi
diff <(expected) <(files_in "$D") >"$TMP/files.diff"
check "exactly the expected files are installed" [ ! -s "$TMP/files.diff" ]
[ -s "$TMP/files.diff" ] && sed 's/^/    /' "$TMP/files.diff"
check "the workers' empty root is installed root-owned, mode 0555" \
	[ "$(stat -c '%U %a' "$D/var/empty/forkcast" 2>/dev/null)" = "root 555" ]
check "binaries are executable, data and units are not" bash -c '
	[ -x "$1/sbin/forkcast" ] && [ -x "$1/sbin/forkcastctl" ] &&
	[ -x "$1/libexec/forkcast/forkcast-capture" ] &&
	[ ! -x "$1/lib/systemd/system/forkcast.service" ] &&
	[ ! -x "$1/share/forkcast/samples/sample-1.jpg" ]' _ "$D$P"
check "the installed configuration names the forkcast user" \
	grep -qx 'user = forkcast' "$D/etc/forkcast/forkcast.conf"
check "the unit starts the installed binary with /etc/forkcast/forkcast.conf" \
	grep -qx "ExecStart=$P/sbin/forkcast -c /etc/forkcast/forkcast.conf" \
	"$D$P/lib/systemd/system/forkcast.service"
check "forkcast -V prints the Makefile's version ($VERSION)" \
	[ "$("$D$P/sbin/forkcast" -V)" = "forkcast $VERSION" ]
check "installed forkcast reads /etc/forkcast/forkcast.conf without -c" \
	[ "$("$D$P/sbin/forkcast" --config-file)" = /etc/forkcast/forkcast.conf ]
check "the checkout's forkcast reads the checkout's conf/forkcast.conf" \
	[ "$("$BUILD/forkcast" --config-file)" = "$(cd "$ROOT" && pwd -P)/conf/forkcast.conf" ]
check "installed forkcastctl defaults to /etc/forkcast/forkcast.conf" \
	bash -c '"$1" -h | grep -q "(default: /etc/forkcast/forkcast.conf)"' _ "$D$P/sbin/forkcastctl"

echo "# make install as root without DESTDIR makes the forkcast user"
if getent passwd forkcast >/dev/null; then
	echo "  (the forkcast user exists already on this machine: not checked)"
else
	P2=$TMP/prefix
	mk install PREFIX="$P2" SYSCONFDIR="$P2/etc" UNITDIR="$P2/units" \
		>"$TMP/install-root.out" 2>&1
	check "make install (no DESTDIR) succeeds" [ $? = 0 ]
	getent passwd forkcast >/dev/null && MADE_FORKCAST_USER=1
	check "  ... and made the system user forkcast" getent passwd forkcast
	check "  ... in the video group" bash -c 'id -nG forkcast | grep -qw video'
	check "  ... with no login shell" \
		[ "$(getent passwd forkcast | cut -d: -f7)" = /usr/sbin/nologin ]
	mk uninstall PREFIX="$P2" SYSCONFDIR="$P2/etc" UNITDIR="$P2/units" \
		>"$TMP/uninstall-root.out" 2>&1
	check "  ... make uninstall leaves no file there" [ -z "$(files_in "$P2")" ]
	check "  ... and keeps the user" getent passwd forkcast
fi

check "the forkcast user exists (made for this test when missing)" ensure_forkcast_user

echo "# the installed tree runs with the installed configuration"
port=$(free_port)
conf=$TMP/installed.conf
# Only the address (a free port) and the pid file (this test's folder)
# differ from the installed file.
sed -e "s/^listen = .*/listen = 127.0.0.1:$port/" \
    -e "s#^; pid_file = .*#pid_file = $TMP/forkcast-$port.pid#" \
    "$D/etc/forkcast/forkcast.conf" >"$conf"
check "the installed configuration passes forkcast -n" \
	"$D$P/sbin/forkcast" -n -c "$conf"
BUILD=$D$P/sbin start_server "$conf" "$TMP/installed.log"
pid=$SERVER_PID
cap=$(sed -n 's/.*started capture (pid \([0-9]*\)).*/\1/p' "$TMP/installed.log" | head -n 1)
check "capture runs the installed libexec/forkcast/forkcast-capture" \
	[ "$(readlink "/proc/$cap/exe" 2>/dev/null)" = "$D$P/libexec/forkcast/forkcast-capture" ]
check "workers run as the forkcast user" \
	grep -q "workers run as forkcast in an empty chroot" "$TMP/installed.log"
"$BUILD/tools/fcclient" --url "$BASE/stream" --clients 2 --seconds 2 \
	--expect-frames 20 >"$TMP/fc.out" 2>&1
check "the installed server streams (2 clients, >= 20 frames each)" [ $? = 0 ]
check "the Server header carries the version" \
	[ "$(header_of "$BASE/stream" Server)" = "forkcast/$VERSION" ]
check "/status carries the version" \
	bash -c 'curl -s --max-time 2 "$1/status" | grep -q "\"version\": \"$2\""' _ "$BASE" "$VERSION"
stop_server "$pid"

echo "# installed forkcastctl drives it and builds nothing"
out=$("$D$P/sbin/forkcastctl" -c "$conf" start 2>&1)
check "forkcastctl start (installed) prints the URL" \
	grep -q "forkcast is running (pid [0-9]*): http://127.0.0.1:$port/" <<<"$out"
ctlpid=$(sed -n 's/.*(pid \([0-9]*\)).*/\1/p' <<<"$out" | head -n 1)
[ -n "$ctlpid" ] && PIDS+=("$ctlpid")
check "the supervisor it started is the installed binary" \
	[ "$(readlink "/proc/$ctlpid/exe" 2>/dev/null)" = "$D$P/sbin/forkcast" ]
check "forkcastctl status (installed) says running" \
	bash -c '"$1" -c "$2" status | grep -q "forkcast is running"' _ "$D$P/sbin/forkcastctl" "$conf"
check "forkcastctl stop (installed)" \
	bash -c '"$1" -c "$2" stop | grep -q "forkcast stopped"' _ "$D$P/sbin/forkcastctl" "$conf"

echo "# the bundled samples of the installed tree"
port2=$(free_port)
write_config "$TMP/files.conf" "$port2" "workers = 1" "user = nobody" "[capture]" "source = files"
BUILD=$D$P/sbin start_server "$TMP/files.conf" "$TMP/files-installed.log"
for _ in $(seq 1 50); do
	grep -q "$D$P/share/forkcast/samples" "$TMP/files-installed.log" && break
	sleep 0.1
done
check "the installed capture reads the installed share/forkcast/samples" \
	grep -q "$D$P/share/forkcast/samples" "$TMP/files-installed.log"
stop_server "$SERVER_PID"

echo "# an edited configuration is kept"
echo "; edited by the operator" >>"$D/etc/forkcast/forkcast.conf"
cp "$D/etc/forkcast/forkcast.conf" "$TMP/edited.conf"
mk install DESTDIR="$D" PREFIX="$P" >"$TMP/install2.out" 2>&1
check "a second make install keeps the edited configuration" \
	cmp -s "$D/etc/forkcast/forkcast.conf" "$TMP/edited.conf"
mk uninstall DESTDIR="$D" PREFIX="$P" >"$TMP/uninstall.out" 2>&1
check "make uninstall keeps the edited configuration, and only it" \
	[ "$(files_in "$D")" = /etc/forkcast/forkcast.conf ]

echo "# make uninstall leaves nothing"
rm -rf "$D"
mk install DESTDIR="$D" PREFIX="$P" >/dev/null 2>&1
mk uninstall DESTDIR="$D" PREFIX="$P" >"$TMP/uninstall.out" 2>&1
check "make uninstall succeeds" [ $? = 0 ]
check "no file is left" [ -z "$(files_in "$D")" ]
check "no folder of forkcast's own is left" \
	[ -z "$(cd "$D" && find . -name '*forkcast*')" ]

drop_forkcast_user
[ -n "${KEEP_LOGS:-}" ] && cp "$TMP"/*.log /tmp/
finish
