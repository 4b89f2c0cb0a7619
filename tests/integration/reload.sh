#!/bin/bash
# Reload reaches every running process: under 50 streams, auth (set,
# rotate, remove), allow_origin, max_clients_per_ip, client_timeout and
# [log] level change with SIGHUP or forkcastctl reload, and every worker
# answers with the new behaviour; unaffected streams see no gap, streams
# whose credentials were revoked are closed, /status shows every worker at
# the new generation; max_clients and max_connections under 30 streams,
# send_timeout with a stalled stream.
# Then the same after a worker is killed (the keys
# above, allowed_hosts, auth rotated and removed); forkcastctl reload (a
# file -n refuses: exit 2, nothing signalled; a file the server refuses:
# exit 1; pid files it must not use); a stopped worker replaced,
# once; capture at 1 fps applying reloads between frames; a capture
# restarted after an edit without a reload running what was validated.
# Then files the reload path must refuse (a directory, /dev/null, NUL
# bytes, over 1 MiB) and one it must take (an empty file).
. "$(dirname "$0")/lib.sh"

FPS=10			# frame interval 100 ms
GAP_MAX=200		# "no gap longer than 2 frame intervals"
port=$(free_port) || exit 1
CONF=$TMP/r.conf
LOG=$TMP/r.log

# conf [server lines...]: rewrites the file with these [server] keys.
conf() {
	write_config "$CONF" "$port" "workers = 2" "shutdown_grace = 2" "$@" \
		"[capture]" "width = 160" "height = 120" "fps = $FPS" "idle_stop = 0"
}
conf
start_server "$CONF" "$LOG" || exit 1
SUP=$SERVER_PID
# start_server returns once one worker answers.  Streams opened before the
# second one serves all go to the first, and the balance rule then sends
# new connections to the second until it holds about as many: probe_all's
# 40 probes would all go there.  So both serve before any stream opens.
[ "$(wc -w <<<"$(serving_workers 2)")" = 2 ] || { echo "two workers did not both serve" >&2; exit 1; }

status() { curl -s --max-time 2 -u "${CRED:-x:y}" "$BASE/status"; }
# One line per worker slot: "index state generation requests".
workers() {
	status | grep -o '{"index": [0-9]*, "pid": [0-9]*, "state": "[a-z]*"[^}]*}' |
		sed -E 's/^\{"index": ([0-9]+).*"state": "([a-z]+)".*"requests": ([0-9]+).*"generation": ([0-9]+).*/\1 \2 \4 \3/'
}
generation() { json_num "$(status)" generation; }
b64() { printf '%s' "$1" | base64 -w0; }

# probe COUNT REQUEST: opens COUNT connections at once (held open, so the
# workers' balance rule spreads them), then sends REQUEST (printf format)
# on each and prints each response head on one line (headers joined by
# '|').  Connections stay open until every one is accepted, so every
# serving worker takes some; covered() checks that it did.
probe() {
	local n=$1 req=$2 fd fds=() line head
	for _ in $(seq 1 "$n"); do
		exec {fd}<>"/dev/tcp/127.0.0.1/$port" || continue
		fds+=("$fd")
	done
	sleep 0.3
	for fd in "${fds[@]}"; do { printf "$req" >&"$fd"; } 2>/dev/null; done
	for fd in "${fds[@]}"; do
		head=""
		while IFS= read -r -t 3 line <&"$fd"; do
			line=${line%$'\r'}
			[ -z "$line" ] && break
			head="$head$line|"
		done
		echo "$head"
		exec {fd}>&-
	done
}
# covered BEFORE AFTER: every worker serving in AFTER answered requests
# since BEFORE (the "workers" lines above).
covered() {
	awk 'NR == FNR { r[$1] = $4; next }
		$2 == "serving" && ($4 - r[$1]) < 1 { bad = 1 }
		END { exit bad }' <(echo "$1") <(echo "$2")
}
# spread: "clients per serving worker: a b" (balance is what lets every
# worker take probes; printed before the probes, for a failing run's log).
spread() {
	echo "  clients per serving worker: $(status | grep -o '"state": "serving", "clients": [0-9]*' | grep -o '[0-9]*$' | tr '\n' ' ')"
}
# probe_all WHAT WANT COUNT REQUEST: probes until every serving worker
# answered (at most 3 rounds); passes when every answer head matches the
# extended regex WANT.
probe_all() {
	local what=$1 want=$2 n=$3 req=$4 before after out all="" round
	spread
	for round in 1 2 3; do
		before=$(workers)
		out=$(probe "$n" "$req")
		after=$(workers)
		all="$all$out"$'\n'
		covered "$before" "$after" && break
	done
	local total bad
	total=$(grep -c . <<<"$all")
	bad=$(grep . <<<"$all" | grep -Evc "$want")
	check "$what: $total answers from every worker ($round round(s)), $bad not matching /$want/" \
		[ "$bad" = 0 -a "$total" -gt 0 ]
	covered "$before" "$after" || not_ok "$what: some worker answered none of the probes"
}
# snapshot_as WHAT CODE [USER:PASSWORD]: every worker answers /snapshot
# with CODE, sent with those credentials (none when not given).
snapshot_as() {
	local auth=""
	[ -n "${3:-}" ] && auth="Authorization: Basic $(b64 "$3")\r\n"
	probe_all "$1" "^HTTP/1.1 $2" 40 \
		"GET /snapshot HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n"
}
# all_at_generation G: every serving worker and capture report G.
all_at_generation() {
	local g=$1 w
	w=$(workers)
	[ -n "$w" ] && ! awk -v g="$g" '$2 == "serving" && $3 != g { bad = 1 } END { exit !bad }' <<<"$w" &&
		[ "$(status | grep -o '"error": [^,]*, "generation": [0-9]*' | grep -o '[0-9]*$')" = "$g" ]
}
# gap_ok MS: a measured gap (a number) of at most GAP_MAX.
gap_ok() { awk -v g="$1" -v m=$GAP_MAX 'BEGIN { exit !(g ~ /^[0-9.]+$/ && g <= m) }'; }
# kept_without_gap CLOSED GAP: no stream closed, and gap_ok GAP.
kept_without_gap() { [ "$1" = 0 ] && gap_ok "$2"; }
# reload_wait G0: SIGHUP, then wait (2 s at most) until every process runs
# the next generation; prints the ms it took.
reload_wait() {
	local g0=$1 t0 g
	case $g0 in ''|*[!0-9]*) echo never; return 1 ;; esac
	t0=$(date +%s%N)
	kill -HUP "$SUP"
	for _ in $(seq 1 40); do
		g=$(generation)
		if [ -n "$g" ] && [ "$g" -gt "$g0" ] && all_at_generation "$g"; then
			echo $(( ($(date +%s%N) - t0) / 1000000 ))
			return 0
		fi
		sleep 0.05
	done
	echo never
	return 1
}
# keys_applied LABEL G0 ORIGIN OPEN HC LINE [allowed_hosts]: after a reload
# from generation G0 that set allow_origin = ORIGIN, max_clients_per_ip =
# 20, client_timeout = 2 and [log] level = debug (and allowed_hosts without
# rebound.example), every process runs G0 + 1 within one second and every
# worker behaves so: probes carry the header lines HC; OPEN says which
# streams hold the address's places; debug lines are counted in the log
# from line LINE on.
keys_applied() {
	local label=$1 g0=$2 origin=$3 open=$4 hc=$5 line=$6 ms t0 dt w0 w1
	ms=$(reload_wait "$g0")
	check "${label}every worker and capture run generation $((g0 + 1)) (${ms} ms)" [ "$ms" != never ]
	check "... within one second (${ms} ms)" [ "${ms:-9999}" -le 1000 ] 2>/dev/null
	probe_all "${label}allow_origin on every worker" "Access-Control-Allow-Origin: $origin" 40 \
		"GET /status HTTP/1.1\r\nHost: x\r\n${hc}Connection: close\r\n\r\n"
	probe_all "${label}max_clients_per_ip 20 on every worker ($open)" '^HTTP/1.1 503' 40 \
		"GET /stream HTTP/1.1\r\nHost: x\r\n${hc}Connection: close\r\n\r\n"
	[ "${7:-}" = allowed_hosts ] &&
		probe_all "${label}allowed_hosts on every worker (another Host -> 421)" '^HTTP/1.1 421' 40 \
			"GET /status HTTP/1.1\r\nHost: rebound.example\r\n${hc}Connection: close\r\n\r\n"
	# client_timeout 2 s: a request head never finished gets 408 after ~2 s.
	t0=$(date +%s)
	probe_all "${label}client_timeout 2 s on every worker" '^HTTP/1.1 408' 40 'GET /status HTTP/1.1\r\n'
	dt=$(( $(date +%s) - t0 ))
	check "${label}the 408s came after the new 2 s, not the old 10 s (${dt} s for the probes)" [ "$dt" -lt 9 ]
	sleep 0.5
	w0=$(tail -n +"$line" "$LOG" | grep -c 'worker 0: debug: ')
	w1=$(tail -n +"$line" "$LOG" | grep -c 'worker 1: debug: ')
	check "${label}[log] level debug reached both workers (worker 0: $w0, worker 1: $w1 debug lines)" [ "$w0" -gt 0 -a "$w1" -gt 0 ]
}
# auth_removed LABEL N SECONDS USER:PASSWORD: with N streams open for
# SECONDS with those credentials, a reload removes auth: every process at
# the new generation, no credentials needed on any worker, every stream
# kept without a gap.
auth_removed() {
	local label=$1 ms out g0 cpid
	streams "$TMP/rm.json" "$2" "$3" --header "Authorization: Basic $(b64 "$4")"; cpid=$SPID
	sleep 1.5
	g0=$(generation)
	conf
	ms=$(reload_wait "$g0")
	check "${label}every process at the new generation (${ms} ms)" [ "$ms" != never ]
	snapshot_as "${label}no credentials -> 200 on every worker" 200
	wait "$cpid"
	out=$(cat "$TMP/rm.json")
	check "${label}streams kept (closed $(json_num "$out" closed)), longest gap $(json_num "$out" gap_ms_max_open) ms <= $GAP_MAX" \
		kept_without_gap "$(json_num "$out" closed)" "$(json_num "$out" gap_ms_max_open)"
}
streams() {	# streams OUT CLIENTS SECONDS [fcclient args]
	local out=$1 n=$2 s=$3; shift 3
	"$BUILD/tools/fcclient" --url "$BASE/stream" --clients "$n" --seconds "$s" "$@" >"$out" 2>/dev/null &
	SPID=$!
	PIDS+=("$SPID")
}

# --- 1. no auth -> allow_origin, max_clients_per_ip, client_timeout, level ---
echo "# keys without credentials, under 50 streams"
streams "$TMP/u.json" 50 8; cpid=$SPID
sleep 2
g0=$(generation)
conf "allow_origin = https://cam.example" "max_clients_per_ip = 20" \
	"client_timeout = 2" "[log]" "level = debug"
# (the [log] section ends the server keys; conf appends [capture] after it)
keys_applied "" "$g0" https://cam.example "50 streams already open" "" 1
wait "$cpid"
u=$(cat "$TMP/u.json")
echo "  50 unaffected streams: closed $(json_num "$u" closed), longest gap $(json_num "$u" gap_ms_max_open) ms"
check "unaffected streams kept streaming (closed $(json_num "$u" closed))" [ "$(json_num "$u" closed)" = 0 -a "$(json_num "$u" ok)" = 50 ]
check "no gap longer than 2 frame intervals ($(json_num "$u" gap_ms_max_open) ms <= $GAP_MAX)" \
	gap_ok "$(json_num "$u" gap_ms_max_open)"

# --- 2. auth set: streams without credentials are closed ---
echo "# auth set"
# (max_clients_per_ip is 20 from part 1 until this reload: 15 + 5.)
streams "$TMP/n.json" 15 6; cpid=$SPID
# Five that already send the pair about to be set: not checked when they
# were admitted, so closed as well (README).
streams "$TMP/n2.json" 5 6 --header "Authorization: Basic $(b64 alice:one)"; cpid2=$SPID
ev_out=$TMP/ev.txt
curl -s -N --max-time 6 "$BASE/events" >"$ev_out" 2>/dev/null & evpid=$!; PIDS+=("$evpid")
sleep 1.5
g0=$(generation)
conf "auth = alice:one"
CRED=alice:one
t0=$(date +%s%N)
ms=$(reload_wait "$g0")
check "auth set: every process at the new generation (${ms} ms)" [ "$ms" != never ]
# The /events connection (open for 1.5 s: it got events) must end now,
# well before its own 6 s limit.
for _ in $(seq 1 20); do kill -0 "$evpid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$evpid" 2>/dev/null; then
	not_ok "auth set: /events without credentials still open 2 s after the reload"
else
	ok "auth set: /events without credentials closed within 2 s of the reload"
fi
check "auth set: that /events connection had been receiving events" grep -q '^data: ' "$ev_out"
wait "$cpid"
n=$(cat "$TMP/n.json")
check "auth set: all 15 streams without credentials closed ($(json_num "$n" closed))" [ "$(json_num "$n" closed)" = 15 ]
wait "$cpid2"
n2=$(cat "$TMP/n2.json")
check "auth set: the 5 streams that sent alice's pair unchecked closed too ($(json_num "$n2" closed))" [ "$(json_num "$n2" closed)" = 5 ]
snapshot_as "auth set: no credentials -> 401 on every worker" 401
snapshot_as "auth set: alice -> 200 on every worker" 200 alice:one

# --- 3. auth rotated: alice's streams are closed, bob is let in ---
echo "# auth rotated"
streams "$TMP/a.json" 20 6 --header "Authorization: Basic $(b64 alice:one)"; cpid=$SPID
sleep 1.5
g0=$(generation)
conf "auth = bob:two"
CRED=bob:two
ms=$(reload_wait "$g0")
check "auth rotated: every process at the new generation (${ms} ms)" [ "$ms" != never ]
wait "$cpid"
a=$(cat "$TMP/a.json")
check "auth rotated: all 20 streams with the revoked password closed ($(json_num "$a" closed))" [ "$(json_num "$a" closed)" = 20 ]
snapshot_as "auth rotated: alice -> 401 on every worker" 401 alice:one
snapshot_as "auth rotated: bob -> 200 on every worker" 200 bob:two

# --- 4. auth removed: bob's streams are unaffected ---
echo "# auth removed"
auth_removed "auth removed: " 30 6 bob:two

# --- 4b. max_clients and max_connections, under 30 streams ---
echo "# max_clients and max_connections"
# refused_by KIND: "n0 n1", each worker's refusals by limit KIND
# (connections or clients) in /status.
refused_by() {
	status | grep -o '"index": [0-9]*, [^{]*"refused": {"connections": [0-9]*, "clients": [0-9]*' |
		sed -E "s/.*\"$1\": ([0-9]+).*/\1/" | tr '\n' ' '
}
# grew "a0 a1" "b0 b1": every worker's count grew.
grew() { read -r a0 a1 <<<"$1"; read -r b0 b1 <<<"$2"; [ "${b0:-0}" -gt "${a0:-0}" ] && [ "${b1:-0}" -gt "${a1:-0}" ]; }
streams "$TMP/l.json" 30 7; cpid=$SPID
sleep 1.5
g0=$(generation)
conf "max_clients = 25"
ms=$(reload_wait "$g0")
check "max_clients 25: every process at the new generation (${ms} ms)" [ "$ms" != never ]
r0=$(refused_by clients)
probe_all "max_clients 25 on every worker (30 streams open)" '^HTTP/1.1 503' 40 \
	'GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
r1=$(refused_by clients)
check "... refused by max_clients on each worker (per worker: $r0-> $r1)" grew "$r0" "$r1"
g0=$(generation)
conf "max_connections = 32"
ms=$(reload_wait "$g0")
check "max_connections 32: every process at the new generation (${ms} ms)" [ "$ms" != never ]
r0=$(refused_by connections)
# 30 streams and 2 idle connections fill it: each new connection is
# refused at once.
idle=()
for _ in 1 2; do exec {fd}<>"/dev/tcp/127.0.0.1/$port" && idle+=("$fd"); done
sleep 0.3
codes=""
for _ in $(seq 1 12); do codes="$codes $(raw_status "$port" 'GET /status HTTP/1.1\r\nHost: x\r\n\r\n')"; done
for fd in "${idle[@]}"; do exec {fd}>&-; done
sleep 0.3
r1=$(refused_by connections)
check "max_connections 32: 12 connections over it answered 503 (codes:$codes)" \
	[ "$(tr ' ' '\n' <<<"$codes" | grep -c '^503$')" = 12 ]
# (Refused connections hold no place, so the balance rule may hand them
# all to one worker: the sum is checked, not each worker.)
check "... counted as refused by max_connections (per worker: $r0-> $r1)" \
	[ $(( $(sed 's/ *$//; s/ /+/g' <<<"$r1") - $(sed 's/ *$//; s/ /+/g' <<<"$r0") )) = 12 ]
wait "$cpid"
l=$(cat "$TMP/l.json")
check "the 30 streams were kept (closed $(json_num "$l" closed)), longest gap $(json_num "$l" gap_ms_max_open) ms <= $GAP_MAX" \
	kept_without_gap "$(json_num "$l" closed)" "$(json_num "$l" gap_ms_max_open)"
# send_timeout 30 -> 2: a stream whose reader takes nothing (a 1-byte
# receive buffer), stalled for 3 s, is kept under 30 s and dropped as soon
# as the reload brings 2 s.
send_timeouts() { curl -s --max-time 2 "$BASE/metrics" | awk '/^forkcast_send_timeouts_total/ { s += $2 } END { print s + 0 }'; }
d0=$(send_timeouts)
stalled_reader "$port" /stream 20
staller=$STALLER
sleep 3	# stalled well before the reload
check "send_timeout 30: the stalled stream not dropped yet ($d0 -> $(send_timeouts))" [ "$(send_timeouts)" = "$d0" ]
g0=$(generation)
conf "send_timeout = 2"
t0=$(date +%s%N)
ms=$(reload_wait "$g0")
check "send_timeout 2: every process at the new generation (${ms} ms)" [ "$ms" != never ]
dropped=never
for _ in $(seq 1 80); do
	[ "$(send_timeouts)" -gt "$d0" ] && { dropped=$(( ($(date +%s%N) - t0) / 1000000 )); break; }
	sleep 0.1
done
check "send_timeout 2: the stalled stream dropped $dropped ms after the reload" \
	bash -c '[ "$0" != never ] && [ "$0" -le 5000 ]' "$dropped"
kill "$staller" 2>/dev/null
conf

# --- 5. after a worker is killed ---
echo "# a worker killed, then reloads"
g0=$(generation)
conf "auth = carol:three"
CRED=carol:three
ms=$(reload_wait "$g0")
wpid=$(status | grep -o '"index": 0, "pid": [0-9]*' | grep -o '[0-9]*$')
kill -KILL "$wpid"
for _ in $(seq 1 40); do
	np=$(status | grep -o '"index": 0, "pid": [0-9]*, "state": "serving"' | grep -o '"pid": [0-9]*' | grep -o '[0-9]*$')
	[ -n "$np" ] && [ "$np" != "$wpid" ] && break
	sleep 0.05
done
check "worker 0 (pid ${wpid:-none}) was replaced (pid ${np:-none})" \
	bash -c '[ -n "$0" ] && [ -n "$1" ] && [ "$0" != "$1" ]' "$wpid" "$np"
check "the replacement worker runs the current generation $((g0 + 1))" all_at_generation $((g0 + 1))
snapshot_as "after the kill: bob -> 401 on every worker" 401 bob:two
snapshot_as "after the kill: carol -> 200 on every worker" 200 carol:three
# The keys of part 1 again, with the replacement serving: 30 streams with
# carol's credentials (unaffected), then allow_origin, max_clients_per_ip,
# client_timeout, [log] level and allowed_hosts change at once.
hc="Authorization: Basic $(b64 carol:three)\r\n"
streams "$TMP/k.json" 30 9 --header "Authorization: Basic $(b64 carol:three)"; cpid=$SPID
sleep 1.5
g0=$(generation)
lines0=$(wc -l <"$LOG")
conf "auth = carol:three" "allow_origin = https://after-kill.example" "max_clients_per_ip = 20" \
	"client_timeout = 2" "allowed_hosts = x, 127.0.0.1" "[log]" "level = debug"
keys_applied "after the kill: " "$g0" https://after-kill.example "30 streams open" "$hc" \
	"$((lines0 + 1))" allowed_hosts
wait "$cpid"
k=$(cat "$TMP/k.json")
check "after the kill: 30 unaffected streams kept (closed $(json_num "$k" closed), ok $(json_num "$k" ok)), longest gap $(json_num "$k" gap_ms_max_open) ms <= $GAP_MAX" \
	bash -c '[ "$0" = 30 ] && [ "$1" = 0 ] && awk -v g="$2" -v m="$3" "BEGIN { exit !(g ~ /^[0-9.]+\$/ && g <= m) }"' \
	"$(json_num "$k" ok)" "$(json_num "$k" closed)" "$(json_num "$k" gap_ms_max_open)" "$GAP_MAX"
# auth rotated with 20 of carol's streams open: all closed.
streams "$TMP/c.json" 20 6 --header "Authorization: Basic $(b64 carol:three)"; cpid=$SPID
sleep 1.5
g0=$(generation)
conf "auth = dave:four"
CRED=dave:four
ms=$(reload_wait "$g0")
check "after the kill: the next reload reaches every process (${ms} ms)" [ "$ms" != never ]
wait "$cpid"
c=$(cat "$TMP/c.json")
check "after the kill: all 20 streams with the revoked password closed ($(json_num "$c" closed))" [ "$(json_num "$c" closed)" = 20 ]
snapshot_as "after the kill: carol -> 401, on every worker" 401 carol:three
snapshot_as "after the kill: dave -> 200, on every worker" 200 dave:four
# auth removed with 20 of dave's streams open: kept, no gap.
auth_removed "after the kill: auth removed: " 20 5 dave:four

# --- 5b. forkcastctl reload (auth is set: it reads /status with it) ---
echo "# forkcastctl reload"
ctl() { OUT=$("$ROOT/scripts/forkcastctl" "$@" 2>&1); RC=$?; }
# A file -n refuses: exit 2, its problem printed, nothing signalled.
conf "auth = dave:four" "client_timeout = 0"
g0=$(generation)
req=$(status | grep -o '"reload": {"requests": [0-9]*' | grep -o '[0-9]*$')
ctl reload -c "$CONF"
sleep 0.3
check "forkcastctl reload of a file -n refuses: exit 2, the problem named ($(head -n 1 <<<"$OUT"))" \
	bash -c '[ "$0" = 2 ] && grep -q "r.conf:[0-9]*: server.client_timeout: 0 is out of range" <<<"$1"' "$RC" "$OUT"
check "... nothing signalled: reload requests ${req:-none} -> $(status | grep -o '"reload": {"requests": [0-9]*' | grep -o '[0-9]*$'), generation $g0" \
	bash -c '[ -n "$0" ] && [ "$0" = "$1" ] && [ "$2" = "$3" ]' "$req" \
	"$(status | grep -o '"reload": {"requests": [0-9]*' | grep -o '[0-9]*$')" "$g0" "$(generation)"
conf "auth = dave:four" "allow_origin = https://other.example"
g0=$(generation)
ctl reload -c "$CONF"
check "forkcastctl reload: exit 0, generation $((g0 + 1)) in force ($OUT)" \
	bash -c '[ "$0" = 0 ] && grep -q "generation $1 in force" <<<"$2"' "$RC" $((g0 + 1)) "$OUT"
check "forkcastctl reload returned only once every process ran it" all_at_generation $((g0 + 1))
write_config "$CONF" "$port" "workers = 2" "shutdown_grace = 2" "auth = dave:four" \
	"[capture]" "width = 160" "height = 120" "fps = $FPS" "idle_stop = 0" "slots = 6"
ctl reload -c "$CONF"
check "forkcastctl reload names the keys waiting for a restart ($(tail -n 1 <<<"$OUT"))" \
	bash -c '[ "$0" = 0 ] && grep -q "capture.slots: the new value applies at the next restart" <<<"$1"' "$RC" "$OUT"
check "/status lists capture.slots under pending_restart" grep -q '"pending_restart": \["capture.slots"\]' <<<"$(status)"
# A file -n accepts but the running server cannot take (a new listen
# address that is busy): refused, forkcastctl exits 1 and says so.
busy=$(free_port)
"$BUILD/tools/mjpegsrv" --port "$busy" --count 1 >/dev/null 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$busy") 2>/dev/null && break; sleep 0.1; done
conf "auth = dave:four" "listen = 127.0.0.1:$busy"
g0=$(generation)
ctl reload -c "$CONF"
check "forkcastctl reload of a file the server refuses: exit 1 ($OUT)" \
	bash -c '[ "$0" = 1 ] && grep -q "reload refused" <<<"$1"' "$RC" "$OUT"
check "... generation unchanged ($g0)" [ "$(generation)" = "$g0" ]
conf "auth = dave:four"
ctl reload -c "$CONF"
# A pid file that is stale (ours, unlocked, naming this supervisor), then
# one that is not ours: nothing is signalled.
write_config "$TMP/other.conf" "$port" "pid_file = $TMP/other.pid" "auth = dave:four"
echo "$SUP" >"$TMP/other.pid"
g0=$(generation)
ctl reload -c "$TMP/other.conf"
check "forkcastctl reload through a stale pid file: not running, exit 1 ($OUT)" \
	bash -c '[ "$0" = 1 ] && [ "$1" = "forkcastctl: not running" ]' "$RC" "$OUT"
if [ "$(id -u)" = 0 ]; then
	chown nobody "$TMP/other.pid"
	ctl reload -c "$TMP/other.conf"
	check "forkcastctl reload through a pid file owned by nobody: refused, exit 1 ($OUT)" \
		bash -c '[ "$0" = 1 ] && [ "$1" = "forkcastctl: refusing pid file $2: it is owned by uid 65534, not by uid 0 running forkcastctl; nothing signalled" ]' \
		"$RC" "$OUT" "$TMP/other.pid"
fi
sleep 0.3
check "... nothing signalled: generation unchanged ($g0)" [ "$(generation)" = "$g0" ]

# --- 5c. a worker that does not apply a reload is replaced, once ---
echo "# a stopped worker is replaced"
g0=$(generation)
wpid=$(status | grep -o '"index": 1, "pid": [0-9]*' | grep -o '[0-9]*$')
kill -STOP "$wpid"
conf "auth = dave:four" "allow_origin = https://stopped.example"
ms=$(reload_wait "$g0")
check "a stopped worker: every process at generation $((g0 + 1)) all the same (${ms} ms)" [ "$ms" != never ]
sleep 1.5	# long enough for a second, wrong replacement
np=$(status | grep -o '"index": 1, "pid": [0-9]*, "state": "serving"' | grep -o '"pid": [0-9]*' | grep -o '[0-9]*$')
n=$(grep -c "did not apply generation $((g0 + 1)) within 1000 ms: replacing it" "$LOG")
check "the stopped worker (pid $wpid) was replaced, and only it ($n replacement(s))" \
	bash -c '[ "$0" = 1 ] && grep -q "worker 1 (pid $1) did not apply generation $2 within 1000 ms" "$3"' \
	"$n" "$wpid" $((g0 + 1)) "$LOG"
check "its replacement (pid ${np:-none}) started with the generation and still serves" \
	bash -c '[ -n "$0" ] && [ "$0" != "$1" ] && kill -0 "$0" && ! grep -q "worker 1 (pid $0) exited" "$2"' \
	"$np" "$wpid" "$LOG"
probe_all "allow_origin on every worker after the replacement" 'Access-Control-Allow-Origin: https://stopped.example' 40 \
	"GET /status HTTP/1.1\r\nHost: x\r\nAuthorization: Basic $(b64 dave:four)\r\nConnection: close\r\n\r\n"

# --- 5d. at 1 fps capture sleeps a second between frames ---
echo "# capture at 1 fps"
g0=$(generation)
FPS=1 conf "auth = dave:four"
ms=$(reload_wait "$g0")	# a capture change: capture restarts at 1 fps
check "1 fps: capture restarted with generation $((g0 + 1)) (${ms} ms)" [ "$ms" != never ]
capture_generation() { status | grep -o '"error": [^,]*, "generation": [0-9]*' | grep -o '[0-9]*$'; }
slow=0 times=""
for i in 1 2 3; do
	sleep "0.$((RANDOM % 10))"
	g=$(capture_generation)
	FPS=1 conf "auth = dave:four" "allow_origin = https://one-fps-$i.example"
	t0=$(date +%s%N)
	kill -HUP "$SUP"
	for _ in $(seq 1 100); do
		[ "$(capture_generation)" -gt "$g" ] 2>/dev/null && break
		sleep 0.02
	done
	t=$(( ($(date +%s%N) - t0) / 1000000 ))
	times="$times $t"
	[ "$t" -le 600 ] || slow=$((slow + 1))
done
check "1 fps: capture applies a reload between frames, not once a frame (ms:$times)" [ "$slow" = 0 ]
check "1 fps: no capture restarted for missing a reload" bash -c '! grep -q "capture (pid [0-9]*) did not apply" "$0"' "$LOG"

# --- 5e. a file edited but not reloaded does not reach a restarted capture ---
echo "# capture restarted after an edit without a reload"
write_config "$CONF" "$port" "workers = 2" "shutdown_grace = 2" "auth = dave:four" \
	"[capture]" "width = 320" "height = 240" "fps = 1" "idle_stop = 0"
g0=$(generation)
cpid=$(status | grep -o '"capture": *{ *"pid": *[0-9]*' | grep -o '[0-9]*$')
kill -KILL "$cpid"
for _ in $(seq 1 50); do
	np=$(status | grep -o '"capture": *{ *"pid": *[0-9]*' | grep -o '[0-9]*$')
	[ -n "$np" ] && [ "$np" != 0 ] && [ "$np" != "$cpid" ] && break
	sleep 0.1
done
sleep 1.5
check "the restarted capture (pid ${np:-none}) runs generation $g0 as validated (160x120), not the edited file" \
	bash -c '[ "$0" != "$1" ] && grep -q "\"width\": 160, \"height\": 120" <<<"$2"' "$np" "$cpid" "$(status)"
FPS=1 conf "auth = dave:four"

# --- 6. files the reload path must refuse, and one it takes ---
echo "# SIGHUP with unusable files"
good=$TMP/good.conf
cp "$CONF" "$good"
refused() {	# refused WHAT: the file at $CONF is refused, nothing changes
	local g req ref
	g=$(generation)
	req=$(status | grep -o '"reload": {"requests": [0-9]*' | grep -o '[0-9]*$')
	ref=$(status | grep -o '"refused": [0-9]*' | grep -o '[0-9]*$')
	kill -HUP "$SUP"
	for _ in $(seq 1 40); do
		[ "$(status | grep -o '"reload": {"requests": [0-9]*' | grep -o '[0-9]*$')" -gt "$req" ] && break
		sleep 0.05
	done
	check "$1: reload refused (refused $ref -> $(status | grep -o '"refused": [0-9]*' | grep -o '[0-9]*$'))" \
		[ "$(status | grep -o '"refused": [0-9]*' | grep -o '[0-9]*$')" = $((ref + 1)) ]
	check "$1: generation unchanged ($g)" [ "$(generation)" = "$g" ]
	check "$1: auth still in force (no credentials -> 401)" \
		[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/snapshot")" = 401 ]
	check "$1: still listening on port $port, same capture size" grep -q '"width": 160' <<<"$(status)"
}
rm -f "$CONF"; mkdir "$CONF"
refused "a directory"
grep -q "r.conf:0: -: cannot open: not a regular file" "$LOG" && ok "a directory: the log says why" || not_ok "a directory: the log says why"
rmdir "$CONF"; ln -s /dev/null "$CONF"
refused "/dev/null"
rm -f "$CONF"; cp "$good" "$CONF"; printf '[server]\nworkers = 2\x00\n' >>"$CONF"
refused "a file with a NUL byte"
grep -q 'NUL byte' "$LOG" && ok "NUL byte: the log says why" || not_ok "NUL byte: the log says why"
rm -f "$CONF"; cp "$good" "$CONF"; head -c 1048577 /dev/zero | tr '\0' '#' >>"$CONF"
refused "a file over 1 MiB"
grep -q "r.conf:0: -: file too large" "$LOG" && ok "over 1 MiB: the log says why" || not_ok "over 1 MiB: the log says why"
# An empty file is a valid configuration (every default): it is taken,
# and listen moves to the default address -- unless that address is busy
# on this machine, when the reload is refused whole.
: >"$CONF"
g=$(generation)
if (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; then busy=1; else busy=0; fi
kill -HUP "$SUP"
sleep 1
if [ "$busy" = 0 ]; then
	new=$(curl -s --max-time 2 http://127.0.0.1:8080/status)
	check "an empty file: taken (generation $g -> $(json_num "$new" generation), now on 127.0.0.1:8080 without auth)" \
		[ "$(json_num "$new" generation)" = $((g + 1)) ]
else
	check "an empty file: 127.0.0.1:8080 busy here, so refused and the old configuration stays" [ "$(generation)" = "$g" ]
fi

finish
