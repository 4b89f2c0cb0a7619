#!/bin/bash
# The sandbox as shipped, seen from outside: every worker and the capture
# process run jailed (unprivileged uid/gid when started as root,
# no_new_privs, a seccomp filter, an empty root), and the workers' allowlist
# is complete: 50 streaming clients, every endpoint, every 4xx path, auth,
# slow and vanishing clients and a slowloris all get served or refused
# without a single worker being killed (a missing syscall in the table
# would end one with SIGSYS and the supervisor would log "exited on
# signal 31" and respawn it with a new pid).
. "$(dirname "$0")/lib.sh"

[ -x "$BUILD/tools/fcclient" ] || { echo "build/tools/fcclient not built: skipped"; exit 77; }
root=false
[ "$(id -u)" = 0 ] && root=true

port=$(free_port) || exit 1
# Debug logging: every request is logged from inside the jail too.
write_config "$TMP/s.conf" "$port" "workers = 3" "client_timeout = 2" \
	"max_clients = 200" "auth = viewer:s3cret" "allow_origin = *" \
	"[capture]" "width = 320" "height = 240" "fps = 15" "idle_stop = 0" \
	"[log]" "level = debug"
start_server "$TMP/s.conf" "$TMP/s.log" || exit 1
AUTH="Authorization: Basic $(printf 'viewer:s3cret' | base64)"
LOG=$TMP/s.log

status_json() {
	curl -s --max-time 3 -H "$AUTH" "$BASE/status"
}
# Worker pids, sorted, one per line; the capture pid.
worker_pids() {
	sed 's/.*"workers": *\[//' <<<"$1" | grep -o '"pid": *[0-9]*' |
		sed 's/.*: *//' | sort -n
}
capture_pid() {
	sed 's/.*"capture": *{//' <<<"$1" | grep -o '"pid": *[0-9]*' |
		head -n 1 | sed 's/.*: *//'
}

# proc_field PID KEY: the value of "KEY:" in /proc/PID/status.
proc_field() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" 2>/dev/null | head -n 1
}
# writable_fds PID MEMFD: the PID's descriptors on memfd MEMFD that are
# open for writing (empty: none).
writable_fds() {
	local fd flags rw=""
	for fd in /proc/"$1"/fd/*; do
		[ "$(readlink "$fd" 2>/dev/null)" = "/memfd:$2 (deleted)" ] || continue
		flags=$(sed -n 's/^flags:[[:space:]]*//p' "/proc/$1/fdinfo/${fd##*/}")
		[ $(( 8#$flags & 3 )) -ne 0 ] && rw="$rw ${fd##*/}"
	done
	echo "$rw"
}
# A root directory (readlink /proc/PID/root) other than /.
jailed_root() { [ -n "$1" ] && [ "$1" != / ]; }
# All four ids (real, effective, saved, fs) non-zero.
ids_nonzero() {
	local a b c d
	read -r a b c d <<<"$1"
	[ -n "$d" ] && [ "$a" != 0 ] && [ "$b" != 0 ] && [ "$c" != 0 ] && [ "$d" != 0 ]
}

json=$(status_json)
before=$(worker_pids "$json")
cap=$(capture_pid "$json")
check "/status lists 3 workers ($(echo $before))" [ "$(wc -l <<<"$before")" -eq 3 ]
check "/status names the capture pid ($cap)" [ -n "$cap" ]

# --- every worker is jailed ---
for pid in $before; do
	if $root; then
		uid=$(proc_field "$pid" Uid) gid=$(proc_field "$pid" Gid)
		check "worker $pid: Uid non-zero ($uid)" ids_nonzero "$uid"
		check "worker $pid: Gid non-zero ($gid)" ids_nonzero "$gid"
		check "worker $pid: no supplementary groups" [ -z "$(proc_field "$pid" Groups)" ]
		r=$(readlink "/proc/$pid/root")
		check "worker $pid: root is not / ($r)" jailed_root "$r"
	fi
	check "worker $pid: NoNewPrivs 1" [ "$(proc_field "$pid" NoNewPrivs)" = 1 ]
	check "worker $pid: Seccomp 2 (filter)" [ "$(proc_field "$pid" Seccomp)" = 2 ]
	check "worker $pid: Max processes 0" \
		grep -Eq '^Max processes +0 +0 ' "/proc/$pid/limits"
	# The bus is mapped shared and read-only, and never executable.
	maps=$(grep 'memfd:forkcast-bus' "/proc/$pid/maps" | awk '{print $2}' | sort -u | tr '\n' ' ')
	check "worker $pid: bus mapped read-only ($maps)" [ "$maps" = "r--s " ]
	# A read-write descriptor would let the worker mprotect that mapping
	# writable (tests/unit/test_worker_sandbox.c, test_bus_*_write), or
	# rewrite the configuration every other child applies.
	rw=$(writable_fds "$pid" forkcast-bus)
	check "worker $pid: no writable bus descriptor (${rw:-none})" [ -z "$rw" ]
	rw=$(writable_fds "$pid" forkcast-config)
	check "worker $pid: no writable configuration descriptor (${rw:-none})" [ -z "$rw" ]
	maps=$(grep 'memfd:forkcast-config' "/proc/$pid/maps" | awk '{print $2}' | sort -u | tr '\n' ' ')
	check "worker $pid: configuration mapped read-only ($maps)" [ "$maps" = "r--s " ]
done
if [ -n "$cap" ]; then
	check "capture $cap: NoNewPrivs 1" [ "$(proc_field "$cap" NoNewPrivs)" = 1 ]
	check "capture $cap: Seccomp 2 (filter)" [ "$(proc_field "$cap" Seccomp)" = 2 ]
	rw=$(writable_fds "$cap" forkcast-config)
	check "capture $cap: no writable configuration descriptor (${rw:-none})" [ -z "$rw" ]
	maps=$(grep 'memfd:forkcast-config' "/proc/$cap/maps" | awk '{print $2}' | sort -u | tr '\n' ' ')
	check "capture $cap: configuration mapped read-only ($maps)" [ "$maps" = "r--s " ]
	if $root; then
		uid=$(proc_field "$cap" Uid)
		check "capture $cap: Uid non-zero ($uid)" ids_nonzero "$uid"
	fi
fi
$root || echo "  (not root: uid, gid and root directory checks skipped)"

# --- load through the allowlist ---
# 50 streaming clients (5 of them slow readers) for the whole run.
"$BUILD/tools/fcclient" --url "$BASE/stream" --clients 50 --seconds 14 \
	--slow-clients 5 --slow-rate 20000 --header "$AUTH" \
	--expect-frames 20 >"$TMP/load.json" 2>"$TMP/load.err" &
load=$!
PIDS+=("$load")
sleep 1

code() {	# code [curl args...]: the HTTP status of one request
	curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@"
}
for path in / /status /metrics /healthz /snapshot '/?action=snapshot' \
    '/?foo=bar'; do
	check "GET $path: 200" [ "$(code -H "$AUTH" "$BASE$path")" = 200 ]
	check "HEAD $path: 200" [ "$(code -I -H "$AUTH" "$BASE$path")" = 200 ]
done
check "GET /healthz needs no auth" [ "$(code "$BASE/healthz")" = 200 ]
check "GET / without auth: 401" [ "$(code "$BASE/")" = 401 ]
check "GET /stream with a wrong password: 401" \
	[ "$(code -u viewer:wrong "$BASE/stream")" = 401 ]
check "a huge Authorization header: 401 or 431" \
	bash -c "c=\$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 -H 'Authorization: Basic $(head -c 3000 /dev/zero | tr '\0' A)' '$BASE/status'); [ \"\$c\" = 401 ] || [ \"\$c\" = 431 ]"
for path in /stream /video_feed '/?action=stream' \
    '/stream?fps=5&maxtime=2&framing=full' '/stream?framing=advance'; do
	check "stream $path delivers JPEG parts" bash -c \
		"curl -s --max-time 1.5 -H '$AUTH' '$BASE$path' | grep -acq 'image/jpeg'"
done
check "stream with maxtime=1 ends by itself, with the close delimiter" bash -c \
	"timeout 5 curl -s -H '$AUTH' '$BASE/stream?maxtime=1' >'$TMP/maxtime.bin' &&
	 grep -acq 'image/jpeg' '$TMP/maxtime.bin' &&
	 [ \"\$(tail -c 19 '$TMP/maxtime.bin' | tr '\r' R)\" = '--forkcastframe--R' ]"
check "/events sends status events" bash -c \
	"curl -s --max-time 2.5 -H '$AUTH' '$BASE/events' | grep -cq '^data:'"
curl -s --max-time 3 -H "$AUTH" -o "$TMP/snap.jpg" "$BASE/snapshot"
check "snapshot is a JPEG" [ "$(head -c 2 "$TMP/snap.jpg" | od -An -tx1 | tr -d ' ')" = ffd8 ]
check "keep-alive: three requests on one connection" bash -c \
	"curl -s --max-time 3 -H '$AUTH' -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects} ' '$BASE/status' '$BASE/healthz' '$BASE/metrics' | grep -q '^1 0 0 \$'"
# Pipelined: two requests in one write; both answered.
pipelined=$(timeout 3 bash -c '
	exec 3<>"/dev/tcp/127.0.0.1/$0"
	printf "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" >&3
	cat <&3' "$port" 2>/dev/null | grep -c '^HTTP/1.1 200')
check "pipelined requests both answered ($pipelined)" [ "$pipelined" = 2 ]

# Every refusal path (each answer is built and logged inside the jail).
long_url="/$(head -c 3000 /dev/zero | tr '\0' a)"
big_header="X-Big: $(head -c 9000 /dev/zero | tr '\0' b)"
check "405 for POST" [ "$(raw_status "$port" 'POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n')" = 405 ]
check "405 for DELETE" [ "$(raw_status "$port" 'DELETE / HTTP/1.1\r\nHost: x\r\n\r\n')" = 405 ]
check "414 for a 3000-byte URL" [ "$(raw_status "$port" "GET $long_url HTTP/1.1\r\nHost: x\r\n\r\n")" = 414 ]
check "431 for a 9 KB header" [ "$(raw_status "$port" "GET / HTTP/1.1\r\nHost: x\r\n$big_header\r\n\r\n")" = 431 ]
check "400 for garbage" [ "$(raw_status "$port" '\x01\x02garbage\r\n\r\n')" = 400 ]
check "400 for a bad request line" [ "$(raw_status "$port" 'GET\r\n\r\n')" = 400 ]
check "400 for a body on GET" [ "$(raw_status "$port" 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd')" = 400 ]
check "400 for chunked GET" [ "$(raw_status "$port" 'GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')" = 400 ]
check "400 for HTTP/2 preface" [ "$(raw_status "$port" 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')" = 400 ]
check "400 for a bad fps" [ "$(raw_status "$port" "GET /stream?fps=0 HTTP/1.1\r\nHost: x\r\n$AUTH\r\n\r\n")" = 400 ]
check "400 for a bad framing" [ "$(raw_status "$port" "GET /stream?framing=x HTTP/1.1\r\nHost: x\r\n$AUTH\r\n\r\n")" = 400 ]
check "404 for an unknown path" [ "$(raw_status "$port" "GET /etc/passwd HTTP/1.1\r\nHost: x\r\n$AUTH\r\n\r\n")" = 404 ]
check "404 for a traversal" [ "$(raw_status "$port" "GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n$AUTH\r\n\r\n")" = 404 ]
check "an Upgrade request is answered" [ -n "$(raw_status "$port" "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n$AUTH\r\n\r\nxx")" ]
# Binary noise (fixed seed) and a TLS ClientHello-like start.
awk 'BEGIN { srand(7); for (i = 0; i < 6000; i++) printf "%c", int(rand() * 255) + 1 }' \
	>"$TMP/noise.bin"
timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"; cat "$1" >&3; head -c 100 <&3 >/dev/null' \
	"$port" "$TMP/noise.bin" 2>/dev/null
check "TLS hello gets 400" [ "$(raw_status "$port" '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03')" = 400 ]

# Clients that vanish: cut mid-stream, mid-request, and right after connect.
for i in 1 2 3 4 5; do
	curl -s --max-time 0.$((i + 2)) -H "$AUTH" -o /dev/null "$BASE/stream" &
	PIDS+=($!)
done
for i in 1 2 3; do
	timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"; printf "GET /sta" >&3' "$port" 2>/dev/null
	timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$port" 2>/dev/null
done

# Slowloris: half a request, then nothing: 408 after client_timeout (2 s).
start=$(date +%s%N)
code408=$(raw_status "$port" 'GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n' 6)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "slowloris gets 408 (after $ms ms)" [ "$code408" = 408 ]
check "an idle connection gets 408 too" [ "$(raw_status "$port" '' 6)" = 408 ]

wait "$load"
rc=$?
check "50 clients streamed throughout ($(cat "$TMP/load.json"))" [ "$rc" -eq 0 ]

# --- nobody died ---
sleep 0.5
json=$(status_json)
after=$(worker_pids "$json")
check "worker pids unchanged ($(echo $after))" [ "$after" = "$before" ]
check "capture pid unchanged" [ "$(capture_pid "$json")" = "$cap" ]
died=$(grep -c "exited on signal" "$LOG")
check "no child exited on a signal ($died)" [ "$died" -eq 0 ]
check "no child exited at all" bash -c "! grep -q 'exited' '$LOG'"
if $root; then
	check "each worker logged its jail (nobody, chroot, seccomp)" \
		[ "$(grep -c 'sandbox: worker: user nobody, root chroot, .*seccomp on' "$LOG")" -ge 3 ]
fi
[ "$T_FAIL" -eq 0 ] || { echo "server log (tail):"; grep -v ': debug: ' "$LOG" | tail -n 20; }
stop_server "$SERVER_PID"
finish
