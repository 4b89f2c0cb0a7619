#!/bin/bash
# The Debian package (debian/): built with dpkg-buildpackage from a copy of
# the source tree (the checkout's build/ is never touched), checked with
# lintian (no errors), its file list, version, conffiles and maintainer
# scripts checked, then unpacked with dpkg -x and run from there: -V, and a
# server on a loopback port streaming the package's own sample pictures
# (frames decoded, /status version, the log naming the unpacked samples).
# Nothing is installed on this machine.
. "$(dirname "$0")/lib.sh"

for t in dpkg-buildpackage dh lintian; do
	command -v "$t" >/dev/null 2>&1 ||
		{ echo "skip: $t not found (scripts/install-deps --package installs it)"; exit 77; }
done

VERSION=$(sed -n 's/^VERSION = //p' "$ROOT/Makefile")
ARCH=$(dpkg --print-architecture)
check "the Makefile has a VERSION ($VERSION)" [ -n "$VERSION" ]
cl_version=$(cd "$ROOT" && dpkg-parsechangelog -S Version 2>/dev/null)
check "debian/changelog version ($cl_version) is the Makefile's VERSION" \
	[ "$cl_version" = "$VERSION" ]

# --- build --------------------------------------------------------------
SRC=$TMP/src/forkcast
mkdir -p "$SRC"
(cd "$ROOT" && tar --exclude=./build --exclude=./tests/browser/node_modules \
	--exclude=./.git -cf - .) | tar -xf - -C "$SRC"
touch "$TMP/marker"
start=$(date +%s)
# Run from `make test`, MAKEFLAGS names the parent make's jobserver, which
# this build does not share.
(cd "$SRC" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	dpkg-buildpackage -us -uc -b -j2) >"$TMP/build.log" 2>&1
rc=$?
echo "  dpkg-buildpackage: status $rc in $(( $(date +%s) - start )) s"
check "dpkg-buildpackage -us -uc -b builds the package" [ "$rc" -eq 0 ]
DEB=$TMP/src/forkcast_${VERSION}_${ARCH}.deb
CHANGES=$TMP/src/forkcast_${VERSION}_${ARCH}.changes
if [ "$rc" -ne 0 ] || [ ! -f "$DEB" ]; then
	tail -n 30 "$TMP/build.log"
	not_ok "forkcast_${VERSION}_${ARCH}.deb was made"
	finish
	exit
fi
check "the checkout's build/ was not written to" \
	[ -z "$(find "$ROOT/build" -newer "$TMP/marker" 2>/dev/null | head -n 1)" ]

# --- lintian ------------------------------------------------------------
lintian "$CHANGES" >"$TMP/lintian.out" 2>&1
grep '^W:' "$TMP/lintian.out" | sed 's/^/  lintian: /'
errors=$(grep -c '^E:' "$TMP/lintian.out")
[ "$errors" -eq 0 ] || grep '^E:' "$TMP/lintian.out" | sed 's/^/  lintian: /'
check "lintian reports no errors ($errors E: lines)" [ "$errors" -eq 0 ]

# --- contents -----------------------------------------------------------
# Every file and link (not directories) the package holds.
expected="etc/forkcast/forkcast.conf
lib/systemd/system/forkcast.service
lib/systemd/system/forkcast.socket
usr/libexec/forkcast/forkcast-capture
usr/sbin/forkcast
usr/sbin/forkcastctl
usr/share/doc/forkcast/README.Debian
usr/share/doc/forkcast/changelog.gz
usr/share/doc/forkcast/copyright
usr/share/forkcast/samples/sample-1.jpg
usr/share/forkcast/samples/sample-2.jpg
usr/share/forkcast/samples/sample-3.jpg
usr/share/man/man5/forkcast.conf.5.gz
usr/share/man/man8/forkcast.8.gz
usr/share/man/man8/forkcastctl.8.gz"
dpkg-deb -c "$DEB" >"$TMP/contents"
actual=$(awk '$1 !~ /^d/ { print $6 }' "$TMP/contents" | sed 's#^\./##' | sort)
extra=$(comm -13 <(sort <<<"$expected") <(echo "$actual"))
missing=$(comm -23 <(sort <<<"$expected") <(echo "$actual"))
[ -z "$extra" ] || echo "  extra in the package: $(tr '\n' ' ' <<<"$extra")"
[ -z "$missing" ] || echo "  missing from the package: $(tr '\n' ' ' <<<"$missing")"
check "dpkg-deb -c lists exactly the expected files" [ -z "$extra$missing" ]
check "the programs are executable (0755)" \
	[ "$(awk '$6 ~ /\/(forkcast|forkcastctl|forkcast-capture)$/ { print $1 }' "$TMP/contents" | sort -u)" = "-rwxr-xr-x" ]
check "everything is owned by root" \
	[ -z "$(awk '$2 != "root/root"' "$TMP/contents")" ]
check "/var/empty is not shipped (postinst makes /var/empty/forkcast)" \
	not grep -q ' \./var/' "$TMP/contents"

check "Package: forkcast" [ "$(dpkg-deb -f "$DEB" Package)" = forkcast ]
pkg_version=$(dpkg-deb -f "$DEB" Version)
check "Version ($pkg_version) is the Makefile's VERSION" [ "$pkg_version" = "$VERSION" ]
depends=$(dpkg-deb -f "$DEB" Depends)
deps=$(sed 's/ *([^)]*)//g; s/, */\n/g' <<<"$depends")
for d in adduser curl libturbojpeg0 libcamera0.0.3; do
	check "Depends names $d" grep -qx "$d" <<<"$deps"
done
check "conffiles is /etc/forkcast/forkcast.conf" \
	[ "$(dpkg-deb -I "$DEB" conffiles)" = /etc/forkcast/forkcast.conf ]

# Maintainer scripts: valid sh; the service enabled and started, the
# socket never started and enabled only when it was before.
mkdir -p "$TMP/ctrl"
dpkg-deb -e "$DEB" "$TMP/ctrl"
for s in preinst postinst prerm postrm; do
	[ -f "$TMP/ctrl/$s" ] && check "$s is valid sh" sh -n "$TMP/ctrl/$s"
done
PI=$TMP/ctrl/postinst
check "postinst makes the forkcast system user" \
	grep -q 'adduser --system --group --no-create-home --home /nonexistent' "$PI"
check "postinst adds forkcast to the video group" grep -q 'adduser --quiet forkcast video' "$PI"
check "postinst makes /var/empty/forkcast 0555, root-owned" \
	grep -q 'install -d -o root -g root -m 0555 /var/empty/forkcast' "$PI"
check "postinst enables forkcast.service" \
	grep -q "deb-systemd-helper enable 'forkcast.service'" "$PI"
check "postinst starts (or restarts) forkcast.service" \
	grep -q "deb-systemd-invoke \$_dh_action 'forkcast.service'" "$PI"
check "postinst never starts forkcast.socket" \
	not grep -q "deb-systemd-invoke.*forkcast.socket" "$PI"
# dh_installsystemd --no-enable: the socket's enable runs only for a unit
# deb-systemd-helper already knows (debian-installed) that was enabled.
check "postinst enables forkcast.service on a new install (no debian-installed guard)" \
	not grep -q "debian-installed 'forkcast.service'" "$PI"
check "postinst enables forkcast.socket only when it was enabled before" \
	[ "$(grep -v '^[[:space:]]*#' "$PI" |
		grep -A3 "if deb-systemd-helper debian-installed 'forkcast.socket'" |
		grep -c "if deb-systemd-helper --quiet was-enabled 'forkcast.socket'")" = 1 ]

# --- the unpacked package -----------------------------------------------
UNP=$TMP/root
dpkg -x "$DEB" "$UNP"
chmod 755 "$UNP"
check "unpacked forkcast -V prints 'forkcast $VERSION'" \
	[ "$("$UNP/usr/sbin/forkcast" -V)" = "forkcast $VERSION" ]
check "unpacked forkcast reads /etc/forkcast/forkcast.conf without -c" \
	[ "$("$UNP/usr/sbin/forkcast" --config-file)" = /etc/forkcast/forkcast.conf ]
check "the packaged configuration runs as the forkcast user" \
	grep -qx 'user = forkcast' "$UNP/etc/forkcast/forkcast.conf"
# -n checks that `user` exists; the forkcast user may not exist here.
sed 's/^user = forkcast$/user = nobody/' "$UNP/etc/forkcast/forkcast.conf" >"$TMP/shipped.conf"
check "the packaged configuration is valid (forkcast -n, user = nobody)" \
	"$UNP/usr/sbin/forkcast" -n -c "$TMP/shipped.conf"
for u in forkcast.service forkcast.socket; do
	check "$u names /usr/sbin and /etc, nothing unsubstituted" \
		[ -z "$(grep -n '@[A-Z]*@\|/usr/local' "$UNP/lib/systemd/system/$u")" ]
done
check "forkcast.service runs /usr/sbin/forkcast -c /etc/forkcast/forkcast.conf" \
	grep -qx 'ExecStart=/usr/sbin/forkcast -c /etc/forkcast/forkcast.conf' \
	"$UNP/lib/systemd/system/forkcast.service"

if [ ! -x "$BUILD/tools/fcclient" ] || [ ! -x "$BUILD/tools/jpegcheck" ]; then
	not_ok "build/tools/fcclient and jpegcheck are built (make build/tools/fcclient build/tools/jpegcheck)"
	finish
	exit
fi

# A server from the unpacked tree, the files source with no directory: the
# package's own samples, found next to its forkcast-capture.
port=$(free_port) || exit 1
write_config "$TMP/pkg.conf" "$port" "user = nobody" "workers = 2" \
	"shutdown_grace = 2" "[capture]" "source = files" "fps = 10" "idle_stop = 0"
if ! BUILD=$UNP/usr/sbin start_server "$TMP/pkg.conf" "$TMP/pkg.log"; then
	not_ok "the unpacked forkcast serves"
	finish
	exit
fi
ok "the unpacked forkcast serves (/healthz 200)"
out=$("$BUILD/tools/fcclient" --url "$BASE/stream" --seconds 2 --expect-frames 5)
rc=$?
echo "  stream: $out" | cut -c 1-200
check "a stream delivers whole JPEG parts (at least 5 in 2 s)" [ "$rc" -eq 0 ]
check "no broken parts" grep -q '"bad_frames":0,' <<<"$out"
"$BUILD/tools/fcclient" --snapshot "$BASE/snapshot" --out "$TMP/snap.jpg" >/dev/null
check "a snapshot is fetched" [ -s "$TMP/snap.jpg" ]
check "the snapshot decodes (jpegcheck)" "$BUILD/tools/jpegcheck" "$TMP/snap.jpg"
check "/status shows version $VERSION" \
	grep -q "\"version\": \"$VERSION\"" <(curl -s --max-time 2 "$BASE/status")
samples=$(realpath "$UNP/usr/share/forkcast/samples")
check "the log says the pictures came from the unpacked $samples" \
	grep -q "files: 3 pictures from $samples\$" "$TMP/pkg.log"
# same_as_one DIR FILE: FILE is byte for byte one of DIR's pictures.
same_as_one() {
	local f
	for f in "$1"/*.jpg; do cmp -s "$f" "$2" && return 0; done
	return 1
}
check "a snapshot is one of the packaged samples, byte for byte" \
	same_as_one "$samples" "$TMP/snap.jpg"
stop_server "$SERVER_PID"
check "the server stopped on SIGTERM" not kill -0 "$SERVER_PID" 2>/dev/null

finish
