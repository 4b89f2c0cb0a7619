#!/bin/bash
# listen = unix:/path (a reverse proxy on the same host): forkcast -n checks
# the path, forkcastctl starts, reaches (curl --unix-socket), reloads and
# stops a unix-only instance; the socket file has socket_mode and
# socket_group, a stale socket is replaced, a live one or a non-socket is
# refused (exit 2), /status, /snapshot and a stream work over it,
# max_clients_per_ip does not apply to its peers (max_clients does), and
# the file is removed at stop and when a reload drops the address.
. "$(dirname "$0")/lib.sh"

CTL="$ROOT/scripts/forkcastctl"
sock="$TMP/cam.sock"
group=nogroup
getent group "$group" >/dev/null || group=$(id -gn)

# ucurl ARGS...: curl through the socket, 3 s at most.
ucurl() { curl -s --max-time 3 --unix-socket "$sock" "$@"; }

# unix_conf FILE PID_FILE [extra lines...]
unix_conf() {
	local f=$1 pf=$2; shift 2
	{
		echo "[server]"
		echo "listen = unix:$sock"
		echo "pid_file = $pf"
		for l in "$@"; do echo "$l"; done
		echo "[capture]"
		echo "width = 320"
		echo "height = 240"
		echo "fps = 10"
		echo "idle_stop = 0"
	} >"$f"
}

# --- forkcast -n checks unix paths the way start would ---------------------
printf '[server]\nlisten = unix:%s/no/such/dir/x.sock\n' "$TMP" >"$TMP/n1.conf"
out=$("$BUILD/forkcast" -n -c "$TMP/n1.conf" 2>&1); rc=$?
check "-n: a missing folder is exit 2 ($out)" [ "$rc" = 2 ]
check "-n: ... named FILE:LINE: server.listen" grep -q "n1.conf:2: server.listen: .*No such file or directory" <<<"$out"
long=/$(printf 'x%.0s' $(seq 1 107))
printf '[server]\nlisten = unix:%s\n' "$long" >"$TMP/n2.conf"
out=$("$BUILD/forkcast" -n -c "$TMP/n2.conf" 2>&1); rc=$?
check "-n: a path longer than sun_path is exit 2" [ "$rc" = 2 ]
check "-n: ... says so" grep -q "n2.conf:2: server.listen: .*longer than 107" <<<"$out"
printf '[server]\nlisten = unix:relative.sock\n' >"$TMP/n3.conf"
check "-n: a relative path is exit 2" bash -c "'$BUILD/forkcast' -n -c '$TMP/n3.conf' 2>&1 | grep -q 'absolute path'; [ \${PIPESTATUS[0]} = 2 ]"
echo "not a socket" >"$sock"
unix_conf "$TMP/n4.conf" "$TMP/n4.pid"
out=$("$BUILD/forkcast" -n -c "$TMP/n4.conf" 2>&1); rc=$?
check "-n: a path that is a regular file is exit 2" [ "$rc" = 2 ]
check "-n: ... 'exists and is not a socket'" grep -q "exists and is not a socket" <<<"$out"
"$BUILD/forkcast" -c "$TMP/n4.conf" >"$TMP/n4.log" 2>&1; rc=$?
check "start refuses it too (exit $rc)" [ "$rc" = 2 ]
check "...and leaves the file alone" grep -qx "not a socket" "$sock"
rm -f "$sock"
printf '[server]\nlisten = unix:%s\nsocket_mode = 0999\n' "$sock" >"$TMP/n5.conf"
out=$("$BUILD/forkcast" -n -c "$TMP/n5.conf" 2>&1); rc=$?
check "-n: a mode that is not octal is exit 2 ($rc)" [ "$rc" = 2 ]
check "... FILE:LINE: server.socket_mode" grep -q "n5.conf:3: server.socket_mode: '0999' is not an octal mode" <<<"$out"
printf '[server]\nlisten = unix:%s\nsocket_group = no-such-group-x\n' "$sock" >"$TMP/n6.conf"
out=$("$BUILD/forkcast" -n -c "$TMP/n6.conf" 2>&1); rc=$?
check "-n: an unknown socket_group is exit 2 ($rc)" [ "$rc" = 2 ]
check "... FILE:LINE: server.socket_group" grep -q "n6.conf:3: server.socket_group: no-such-group-x: no such group" <<<"$out"

# --- a stale socket (its server is gone) is replaced at start ---------------
python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$sock"
check "a stale socket file is there" [ -S "$sock" ]
unix_conf "$TMP/u.conf" "$TMP/u.pid" "workers = 2" "socket_mode = 0640" "socket_group = $group" \
	"max_clients_per_ip = 1" "allow_origin = *"
out=$("$CTL" start -c "$TMP/u.conf" 2>&1); rc=$?
upid=$(cat "$TMP/u.pid" 2>/dev/null)
case $upid in ''|*[!0-9]*) upid="" ;; *) PIDS+=("$upid") ;; esac
check "forkcastctl start on a unix-only configuration (rc $rc: $out)" [ "$rc" = 0 ]
check "start prints where it runs: the socket" grep -q "running (pid ${upid:-none}): http://localhost/ (unix:$sock)" <<<"$out"
grep -v '^pid_file' "$TMP/u.conf" >"$TMP/nopid.conf"
check "the default pid file of a unix-only file is forkcast-unix-NAME.pid" \
	grep -qx "pid_file=.*/forkcast-unix-cam.sock.pid" <("$BUILD/forkcast" --paths -c "$TMP/nopid.conf")
check "the stale socket was replaced (logged)" grep -q "removed the stale socket $sock" "$TMP/u.log"

# --- the socket file and what it serves -------------------------------------
check "socket file exists" [ -S "$sock" ]
check "socket_mode 0640 ($(stat -c %a "$sock"))" [ "$(stat -c %a "$sock")" = 640 ]
check "socket_group $group ($(stat -c %G "$sock"))" [ "$(stat -c %G "$sock")" = "$group" ]
check "the socket's owner stays the supervisor's user, uid $(id -u) ($(stat -c %u "$sock"))" [ "$(stat -c %u "$sock")" = "$(id -u)" ]
st=$(ucurl http://localhost/status)
check "/status over the socket" grep -q '"generation": *1' <<<"$st"
code=$(ucurl -o "$TMP/snap.jpg" -w '%{http_code} %{content_type}' http://localhost/snapshot)
check "/snapshot over the socket: $code" [ "$code" = "200 image/jpeg" ]
check "... a valid 320x240 JPEG" grep -q " 320 240$" <("$BUILD/tools/jpegcheck" "$TMP/snap.jpg")
ucurl --max-time 2 -o "$TMP/s1" http://localhost/stream.mjpg &
c1=$!
ucurl --max-time 2 -o "$TMP/s2" 'http://localhost/?action=stream_0' &
c2=$!
wait "$c1" "$c2"
p1=$(grep -ac '^Content-Length: ' "$TMP/s1")
p2=$(grep -ac '^Content-Length: ' "$TMP/s2")
check "a stream over the socket has several parts ($p1)" [ "$p1" -ge 5 ]
check "max_clients_per_ip = 1 does not apply to unix peers (second stream: $p2 parts)" [ "$p2" -ge 5 ]
# A reader that reads nothing for 3 s: what the kernel queued for it is
# bounded by the stream's SO_SNDBUF (64 KiB asked, doubled by Linux: about
# 130 KB measured; the default buffer queues about 230 KB).
queued=$(python3 - "$sock" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b"GET /stream?framing=full HTTP/1.1\r\nHost: localhost\r\n\r\n")
time.sleep(3)
s.setblocking(False)
n = 0
while n < 1 << 24:
    try:
        b = s.recv(1 << 20)
    except BlockingIOError:
        break
    if not b:
        break
    n += len(b)
print(n)
PY
)
echo "  (a reader idle for 3 s had $queued bytes queued)"
check "a unix stream's queue stays small for an idle reader ($queued bytes <= 180000)" \
	[ "${queued:-0}" -gt 0 -a "${queued:-999999}" -le 180000 ]
check "preflight over the socket: 204" \
	[ "$(ucurl -X OPTIONS -o /dev/null -w '%{http_code}' http://localhost/stream)" = 204 ]

# --- a live socket is refused ----------------------------------------------
unix_conf "$TMP/v.conf" "$TMP/v.pid"
timeout 20 "$BUILD/forkcast" -c "$TMP/v.conf" >"$TMP/v.log" 2>&1; rc=$?
check "a second server on the live socket: exit $rc" [ "$rc" = 2 ]
check "... says another process serves it" grep -q "listen unix:$sock: another process serves this socket" "$TMP/v.log"
check "... and the first one still serves" [ "$(ucurl -o /dev/null -w '%{http_code}' http://localhost/healthz)" = 200 ]
check "... through the same file" [ -S "$sock" ]

# --- forkcastctl status and reload through the socket -----------------------
out=$("$CTL" status -c "$TMP/u.conf" 2>&1); rc=$?
check "forkcastctl status (rc $rc: $out)" [ "$rc" = 0 ]
check "... read /status through the socket" grep -q "unix:$sock" <<<"$out"
check "... and its numbers" grep -qv "no answer" <<<"$out"
sed -i 's/^socket_mode = 0640$/socket_mode = 0600/' "$TMP/u.conf"
out=$("$CTL" reload -c "$TMP/u.conf" 2>&1); rc=$?
check "forkcastctl reload (rc $rc: $out)" [ "$rc" = 0 ]
check "... generation 2 in force" grep -q "generation 2 in force" <<<"$out"
check "a reload applies socket_mode to the kept socket ($(stat -c %a "$sock"))" [ "$(stat -c %a "$sock")" = 600 ]

# --- a reload that drops the address removes the file -----------------------
port=$(free_port) || exit 1
sed -i "s|^listen = unix:.*|listen = 127.0.0.1:$port|" "$TMP/u.conf"
# (SIGHUP itself: forkcastctl reload reads the new file first and so asks
# the new address for the reload counters before the server has it.)
kill -HUP "${upid:-0}"
for _ in $(seq 1 50); do [ -e "$sock" ] || break; sleep 0.1; done
check "a reload to a TCP listener removes the dropped socket file" [ ! -e "$sock" ]
check "... and serves on TCP" [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$port/healthz")" = 200 ]
sed -i "s|^listen = 127.0.0.1:.*|listen = unix:$sock|" "$TMP/u.conf"
kill -HUP "${upid:-0}"
for _ in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done
check "a reload back to the socket makes the file again with socket_mode 0600" [ "$(stat -c %a "$sock" 2>/dev/null)" = 600 ]
check "... and serves on it" [ "$(ucurl -o /dev/null -w '%{http_code}' http://localhost/healthz)" = 200 ]

# --- stop removes the file -------------------------------------------------
out=$("$CTL" stop -c "$TMP/u.conf" 2>&1); rc=$?
check "forkcastctl stop (rc $rc: $out)" [ "$rc" = 0 ]
check "the socket file is removed at stop" [ ! -e "$sock" ]
check "the supervisor is gone" bash -c "! kill -0 ${upid:-0} 2>/dev/null"

finish
