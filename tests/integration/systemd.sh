#!/bin/bash
# forkcast under systemd, where it can be tried without systemd as PID 1:
#   - systemd-analyze verify accepts the installed units;
#   - socket activation (systemd-socket-activate): the supervisor adopts the
#     passed socket instead of binding, serves on it, keeps it across
#     reloads, refuses a socket that matches no listen line, leaves a
#     passed unix socket file alone;
#   - sd_notify on a test NOTIFY_SOCKET: READY=1 once capture published and
#     the workers serve, RELOADING=1 ... READY=1 around a reload (a refused
#     one too), STATUS= lines, STOPPING=1;
#   - JOURNAL_STREAM: every line, the children's too, carries its priority;
#   - the unit's hardening emulated with bubblewrap (read-only /, private
#     /tmp, no home, /run read-only but for RuntimeDirectory, the unit's
#     CapabilityBoundingSet): ExecStart's command line starts and streams,
#     and each capability of the set is shown to be needed.
source "$(dirname "$0")/lib.sh"

for tool in systemd-analyze systemd-socket-activate bwrap python3; do
	if ! command -v "$tool" >/dev/null; then
		echo "skipped: $tool is not installed (scripts/install-deps installs it)"
		exit 77
	fi
done

# An installed tree whose paths all lie under /usr/local (the configuration
# in /usr/local/etc), so that one bind mount puts it in place inside the
# emulated unit; built apart from the checkout's build/ (other SYSCONFDIR).
# Not under /tmp: the unit's PrivateTmp hides /tmp.
WORK=$(mktemp -d "$ROOT/build/test-systemd.XXXXXX")
chmod 755 "$WORK"
trap 'cleanup; rm -rf "$WORK"' EXIT
D=$WORK/dest
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$ROOT" "$@"; }
if ! mk -j2 install BUILD="$WORK/build" DESTDIR="$D" PREFIX=/usr/local \
    SYSCONFDIR=/usr/local/etc >"$WORK/install.out" 2>&1; then
	not_ok "make install for the unit test failed: $(tail -n 5 "$WORK/install.out")"
	finish
	exit 1
fi
UNIT=$D/usr/local/lib/systemd/system/forkcast.service

echo "# systemd-analyze verify"
mkdir -p "$WORK/units"
for u in forkcast.service forkcast.socket; do
	# The paths the units name, where this test installed them.
	sed "s#/usr/local/#$D/usr/local/#g" "$D/usr/local/lib/systemd/system/$u" \
		>"$WORK/units/$u"
done
verify() {
	MANPATH=$D/usr/local/share/man systemd-analyze verify "$@" >"$WORK/verify.out" 2>&1 &&
		[ ! -s "$WORK/verify.out" ]
}
check "systemd-analyze verify accepts forkcast.service and forkcast.socket (man pages found)" \
	verify "$WORK/units/forkcast.service" "$WORK/units/forkcast.socket"
sed "s#^ExecStart=$D#ExecStart=$D/missing#" "$WORK/units/forkcast.service" >"$WORK/units/bad.service"
check "self-check: it refuses a unit whose ExecStart is missing" \
	bash -c '! MANPATH=$1 systemd-analyze verify "$2" >/dev/null 2>&1' _ \
	"$D/usr/local/share/man" "$WORK/units/bad.service"
check "ExecReload is the checked reload (forkcastctl reload)" \
	grep -qx 'ExecReload=/usr/local/sbin/forkcastctl -c /usr/local/etc/forkcast/forkcast.conf reload' "$UNIT"

# notify_listen FILE: a datagram socket at $WORK/notify.sock that appends
# each message it gets to FILE (one line, '|' between assignments) for
# 60 s at most; sets NOTIFY_PID.
notify_listen() {
	rm -f "$WORK/notify.sock"
	python3 - "$WORK/notify.sock" "$1" <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.5)
end = time.monotonic() + 60
with open(sys.argv[2], "a", buffering=1) as out:
    while time.monotonic() < end:
        try:
            m = s.recv(4096)
        except socket.timeout:
            continue
        out.write(m.decode(errors="replace").replace("\n", "|") + "\n")
EOF
	NOTIFY_PID=$!
	PIDS+=("$NOTIFY_PID")
	for _ in $(seq 1 50); do [ -S "$WORK/notify.sock" ] && return 0; sleep 0.1; done
	return 1
}

# wait_for FILE PATTERN [TENTHS]: grep -E PATTERN in FILE, up to TENTHS/10 s.
wait_for() {
	for _ in $(seq 1 "${3:-100}"); do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# activate LOG ADDRESS CONF: forkcast under systemd-socket-activate,
# listening on ADDRESS; the first connection makes it exec forkcast (same
# pid).  Sets ACT_PID.
activate() {
	NOTIFY_SOCKET=$WORK/notify.sock systemd-socket-activate -E NOTIFY_SOCKET \
		-l "$2" "$BUILD/forkcast" -c "$3" >"$1" 2>&1 &
	ACT_PID=$!
	PIDS+=("$ACT_PID")
}

echo "# socket activation and sd_notify"
port=$(free_port)
conf=$TMP/act.conf
write_config "$conf" "$port" "workers = 2" "[capture]" "width = 320" "height = 240"
notify_listen "$TMP/notify.txt" || not_ok "the notify socket did not appear"
activate "$TMP/act.log" "127.0.0.1:$port" "$conf"
wait_for "$TMP/act.log" "Listening on 127.0.0.1:$port" 50
BASE=http://127.0.0.1:$port
code=000
for _ in $(seq 1 50); do
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/healthz")
	[ "$code" = 200 ] && break
	sleep 0.1
done
check "the first connection starts forkcast and is answered on the passed socket" [ "$code" = 200 ]
check "the supervisor adopted the socket instead of binding" \
	grep -q "listening on http://127.0.0.1:$port/ (socket from systemd)" "$TMP/act.log"
check "READY=1 reaches NOTIFY_SOCKET" wait_for "$TMP/notify.txt" '^READY=1\|STATUS=' 50
check "READY=1 came once capture ran and published (the ready line says so)" \
	grep -Eq 'supervisor: info: ready: [0-9]+ viewers?, capture running \(testpattern 320x240' "$TMP/act.log"
check "STATUS= carries viewers and fps" \
	grep -Eq 'STATUS=[0-9]+ viewers?, capture [a-z]+ \(testpattern 320x240 at [0-9.]+ fps\)' "$TMP/notify.txt"

# A viewer streams through a reload that replaces the workers (workers 2
# -> 3 starts one; allow_origin reaches all): the socket stays.
"$BUILD/tools/fcclient" --url "$BASE/stream" --clients 1 --seconds 5 \
	--expect-frames 100 >"$TMP/fc.out" 2>&1 &
fc=$!
sleep 1
sed -i 's#^workers = 2$#workers = 3\nallow_origin = https://cam.example#' "$conf"
kill -HUP "$ACT_PID"
check "the reload is applied (generation 2 in force)" \
	wait_for "$TMP/act.log" "configuration generation 2 in force" 50
check "RELOADING=1 then READY=1 around it" \
	wait_for "$TMP/notify.txt" '^READY=1\|STATUS=configuration generation 2 in force' 30
reloading=$(grep -n '^RELOADING=1' "$TMP/notify.txt" | head -n 1 | cut -d: -f1)
ready2=$(grep -n 'generation 2 in force' "$TMP/notify.txt" | head -n 1 | cut -d: -f1)
check_that "  ... in that order" '[ -n "$reloading" ] && [ -n "$ready2" ] && [ "$reloading" -lt "$ready2" ]'
wait "$fc"
check "a viewer streamed on through the reload (>= 100 frames in 5 s)" [ $? = 0 ]
check "a new connection after the reload gets the new configuration" \
	[ "$(header_of "$BASE/snapshot" Access-Control-Allow-Origin)" = https://cam.example ]
check "one listening socket on the port, never bound a second time" \
	[ "$(ss -Hltn "sport = :$port" | wc -l)" = 1 ]
check "3 workers serve after the reload" \
	wait_for "$TMP/act.log" "started worker 2 " 30

# A refused reload ends the reloading state too.
sed -i 's/^workers = 3$/workers = 0/' "$conf"
kill -HUP "$ACT_PID"
check "a refused reload: RELOADING=1, then READY=1 saying it was refused" \
	wait_for "$TMP/notify.txt" '^READY=1\|STATUS=reload refused' 50
kill -TERM "$ACT_PID"
check "STOPPING=1 on SIGTERM" wait_for "$TMP/notify.txt" '^STOPPING=1$' 50
for _ in $(seq 1 100); do kill -0 "$ACT_PID" 2>/dev/null || break; sleep 0.1; done
wait "$ACT_PID"
check "it stops with status 0" [ $? = 0 ]

echo "# a passed socket that matches no listen line"
port2=$(free_port)
write_config "$TMP/wrong.conf" "$port" "workers = 1"
activate "$TMP/wrong.log" "127.0.0.1:$port2" "$TMP/wrong.conf"
wait_for "$TMP/wrong.log" "Listening on" 50
curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port2/healthz"
for _ in $(seq 1 100); do kill -0 "$ACT_PID" 2>/dev/null || break; sleep 0.1; done
wait "$ACT_PID"
rc=$?
check "it is refused with exit status 2" [ "$rc" = 2 ]
check "  ... naming the socket" grep -q "socket activation: the socket for 127.0.0.1:$port2 (descriptor 3) matches no listen line" "$TMP/wrong.log"

echo "# a passed unix socket"
sock=$WORK/act.sock
port3=$(free_port)
write_config "$TMP/unix.conf" "$port3" "listen = unix:$sock" "workers = 1" \
	"socket_mode = 0600"
activate "$TMP/unix.log" "$sock" "$TMP/unix.conf"
wait_for "$TMP/unix.log" "Listening on" 50
sysmode=$(stat -c %a "$sock" 2>/dev/null)
code=000
for _ in $(seq 1 50); do
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --unix-socket "$sock" http://localhost/healthz)
	[ "$code" = 200 ] && break
	sleep 0.1
done
check "a unix socket from systemd is adopted and serves" [ "$code" = 200 ]
check "  ... the TCP listen line without a socket is bound as usual" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port3/healthz")" = 200 ]
check_that "  ... and keeps the mode systemd gave it ($sysmode), not socket_mode 0600" \
	'[ -n "$sysmode" ] && [ "$sysmode" != 600 ] && [ "$(stat -c %a "$sock")" = "$sysmode" ]'
kill -HUP "$ACT_PID"
wait_for "$TMP/unix.log" "configuration generation 2 in force" 50
check "  ... across a reload too" [ "$(stat -c %a "$sock")" = "$sysmode" ]
kill -TERM "$ACT_PID"
for _ in $(seq 1 100); do kill -0 "$ACT_PID" 2>/dev/null || break; sleep 0.1; done
wait "$ACT_PID"
check "the passed socket file is systemd's: left in place at stop" [ -S "$sock" ]

echo "# JOURNAL_STREAM"
port4=$(free_port)
write_config "$TMP/journal.conf" "$port4" "workers = 1"
: >"$TMP/journal.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$TMP/journal.log") "$BUILD/forkcast" \
	-c "$TMP/journal.conf" 2>>"$TMP/journal.log" &
jp=$!
PIDS+=("$jp")
wait_for "$TMP/journal.log" "capture: info: source testpattern" 50
stop_server "$jp"
check "every line starts with a priority (<3> <4> <6> <7>) and has no timestamp" \
	bash -c '[ -s "$1" ] && ! grep -Ev "^<[3467]>forkcast\[[0-9]+\] " "$1"' _ "$TMP/journal.log"
check "  ... the children's lines too (capture, worker)" \
	bash -c 'grep -q "^<6>forkcast\[[0-9]*\] capture: info: " "$1" &&
		grep -q "^<6>forkcast\[[0-9]*\] worker 0: info: " "$1"' _ "$TMP/journal.log"
: >"$TMP/plain.log"
JOURNAL_STREAM=1:2 "$BUILD/forkcast" -c "$TMP/journal.conf" 2>>"$TMP/plain.log" &
jp=$!
PIDS+=("$jp")
wait_for "$TMP/plain.log" "listening on" 50
stop_server "$jp"
check "a JOURNAL_STREAM naming another stream leaves the timestamps" \
	grep -Eq '^20[0-9-]+T[0-9:.]+Z forkcast\[[0-9]+\] supervisor: info: listening on' "$TMP/plain.log"

echo "# the unit's hardening, emulated"
check "the forkcast user exists (made for this test when missing)" ensure_forkcast_user
# The package's postinst makes the workers' empty root; so does any start
# as root where /var is writable.
[ -d /var/empty/forkcast ] || install -d -m 0555 /var/empty/forkcast
exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
read -r -a CAPS <<<"$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")"
check "the unit names a bounding set (${CAPS[*]})" [ "${#CAPS[@]}" -gt 0 ]
for opt in ProtectSystem=strict ProtectHome=yes PrivateTmp=yes RuntimeDirectory=forkcast NoNewPrivileges=yes; do
	check "the unit sets $opt" grep -qx "$opt" "$UNIT"
done
CONF=$D/usr/local/etc/forkcast/forkcast.conf
cp "$CONF" "$WORK/installed.conf"
hport=$(free_port)

# set_conf LINES...: the installed configuration with the listen line
# replaced by these lines.
set_conf() {
	sed '/^listen = /d' "$WORK/installed.conf" >"$CONF"
	local l
	for l in "$@"; do sed -i "s#^\[server\]\$#[server]\n$l#" "$CONF"; done
}

# hardened LOG CAP...: ExecStart's command line in a mount namespace with
# the unit's file system options and only the given capabilities; sets
# H_PID (bubblewrap) and H_CHILD (the supervisor).
hardened() {
	local log=$1 c
	shift
	rm -rf "$WORK/run"
	install -d -m 0755 "$WORK/run"
	local args=(--ro-bind / / --ro-bind "$D/usr/local" /usr/local
		--dev /dev --proc /proc
		--tmpfs /tmp --tmpfs /var/tmp
		--tmpfs /home --tmpfs /root
		--tmpfs /run --bind "$WORK/run" /run/forkcast --remount-ro /run
		--die-with-parent --info-fd 3 --cap-drop ALL)
	for c in "$@"; do args+=(--cap-add "$c"); done
	# shellcheck disable=SC2086
	bwrap "${args[@]}" $exec_start >"$log" 2>&1 3>"$log.info" &
	H_PID=$!
	PIDS+=("$H_PID")
	H_CHILD=
	for _ in $(seq 1 50); do
		H_CHILD=$(grep -o '"child-pid": *[0-9]*' "$log.info" 2>/dev/null | grep -o '[0-9]*$')
		[ -n "$H_CHILD" ] && break
		sleep 0.1
	done
}
# hardened_exit: waits (10 s) for the emulated service to end; its exit
# status in H_RC.
hardened_exit() {
	for _ in $(seq 1 100); do kill -0 "$H_PID" 2>/dev/null || break; sleep 0.1; done
	wait "$H_PID"
	H_RC=$?
}
hardened_stop() {
	[ -n "$H_CHILD" ] && kill -TERM "$H_CHILD" 2>/dev/null
	hardened_exit
}
# left_over: processes of the forkcast user still there after 5 s (the
# service's children end with it).
left_over() {
	for _ in $(seq 1 50); do
		pgrep -u forkcast >/dev/null || return 1
		sleep 0.1
	done
	echo "left over: $(ps -o pid,ppid,lstart,args -u forkcast | tr '\n' ';')"
	return 0
}
served() {	# served URL: /snapshot answers 200 within 5 s
	local code
	for _ in $(seq 1 50); do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@")
		[ "$code" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}

set_conf "listen = 127.0.0.1:$hport"
hardened "$TMP/hard.log" "${CAPS[@]}"
check "ExecStart under the unit's hardening serves a snapshot" served "http://127.0.0.1:$hport/snapshot"
"$BUILD/tools/fcclient" --url "http://127.0.0.1:$hport/stream" --clients 2 \
	--seconds 2 --expect-frames 20 >"$TMP/hfc.out" 2>&1
check "  ... and streams (2 clients, >= 20 frames each)" [ $? = 0 ]
check "  ... with the workers as forkcast in the empty chroot" \
	grep -q "workers run as forkcast in an empty chroot" "$TMP/hard.log"
check "  ... its pid file in the RuntimeDirectory" [ -f "$WORK/run/forkcast-$hport.pid" ]
hardened_stop
check "  ... and it stops whole" not left_over
set_conf "listen = 127.0.0.1:$hport"
sed -i 's#^; file = .*#file = /var/log/forkcast-hardening-test.log#' "$CONF"
hardened "$TMP/rofs.log" "${CAPS[@]}"
hardened_exit
check "self-check: the emulated / is read-only (a log file in /var/log is refused)" \
	[ "$H_RC" = 2 ]
check "  ... with EROFS" grep -q "Read-only file system" "$TMP/rofs.log"
[ ! -e /var/log/forkcast-hardening-test.log ] || not_ok "a log file was made outside the namespace"

# Each capability of the set is needed: without it, what needs it fails.
low=
for p in $(seq 700 999); do
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then low=$p; break; fi
done
without() { local c; for c in "${CAPS[@]}"; do [ "$c" = "$1" ] || echo "$c"; done; }
for cap in "${CAPS[@]}"; do
	mapfile -t rest < <(without "$cap")
	case $cap in
	CAP_SETUID|CAP_SETGID|CAP_SYS_CHROOT)
		set_conf "listen = 127.0.0.1:$hport"
		hardened "$TMP/no-$cap.log" "${rest[@]}"
		hardened_exit
		check "without $cap the workers cannot lock down: exit status 2" [ "$H_RC" = 2 ]
		check "  ... Operation not permitted" grep -q "Operation not permitted" "$TMP/no-$cap.log" ;;
	CAP_KILL)
		set_conf "listen = 127.0.0.1:$hport"
		hardened "$TMP/no-$cap.log" "${rest[@]}"
		served "http://127.0.0.1:$hport/snapshot"
		kill -TERM "$H_CHILD"
		check "without CAP_KILL the supervisor cannot stop capture (another user)" \
			wait_for "$TMP/no-$cap.log" "cannot signal capture \(pid [0-9]+\) with SIGTERM: Operation not permitted" 50
		# A second SIGTERM makes every tick try SIGKILL: the refusal
		# is logged once.
		kill -TERM "$H_CHILD"
		sleep 1.5
		check "  ... and says so once, however often it tries" \
			[ "$(grep -c 'cannot signal capture' "$TMP/no-$cap.log")" = 1 ]
		# Its parent-death signal is the supervisor's signal too: the
		# kernel checks the same permission, so capture outlives it.
		kill -KILL "$H_CHILD"
		hardened_exit
		cpid=$(sed -n 's/.*started capture (pid \([0-9]*\)).*/\1/p' "$TMP/no-$cap.log" | head -n 1)
		sleep 0.5
		check "  ... nor make it follow when it dies (parent-death signal refused)" \
			alive "$cpid"
		[ -n "$cpid" ] && kill -TERM "$cpid" 2>/dev/null ;;
	CAP_NET_BIND_SERVICE)
		if [ -z "$low" ]; then
			not_ok "no free port below 1024 for $cap"
			continue
		fi
		set_conf "listen = 127.0.0.1:$low"
		hardened "$TMP/low.log" "${CAPS[@]}"
		check "with $cap a port below 1024 ($low) serves" served "http://127.0.0.1:$low/snapshot"
		hardened_stop
		hardened "$TMP/no-$cap.log" "${rest[@]}"
		hardened_exit
		check "without it: exit status 2" [ "$H_RC" = 2 ]
		check "  ... Permission denied" grep -q "listen 127.0.0.1:$low: Permission denied" "$TMP/no-$cap.log" ;;
	CAP_CHOWN)
		set_conf "listen = 127.0.0.1:$hport" "listen = unix:/run/forkcast/test.sock" "socket_group = video"
		hardened "$TMP/chown.log" "${CAPS[@]}"
		check "with $cap a unix socket gets socket_group" \
			served --unix-socket "$WORK/run/test.sock" http://localhost/snapshot
		check "  ... (group video)" [ "$(stat -c %G "$WORK/run/test.sock" 2>/dev/null)" = video ]
		hardened_stop
		hardened "$TMP/no-$cap.log" "${rest[@]}"
		hardened_exit
		check "without it: exit status 2" [ "$H_RC" = 2 ]
		check "  ... Operation not permitted" grep -q "Operation not permitted" "$TMP/no-$cap.log" ;;
	*)
		not_ok "no test shows that the unit needs $cap" ;;
	esac
	check "  ... and nothing of it is left running" not left_over
done

drop_forkcast_user
finish
