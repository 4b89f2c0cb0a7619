#!/bin/bash
# Hostile and excess clients get the right 4xx/503 and never disturb a
# stream that is already playing; the limits hold over the whole server
# (two workers), and a dead /events client is dropped like a stream.
. "$(dirname "$0")/lib.sh"

port=$(free_port) || exit 1
write_config "$TMP/a.conf" "$port" "workers = 2" "client_timeout = 2" "max_clients = 6" "send_timeout = 2" \
	"[capture]" "width = 320" "height = 240" "fps = 15" "idle_stop = 0"
start_server "$TMP/a.conf" "$TMP/a.log" || exit 1

# A stream that must keep playing through everything below.
"$BUILD/tools/fcclient" --url "$BASE/stream" --clients 1 --seconds 12 \
	--expect-frames 100 >"$TMP/witness.json" 2>"$TMP/witness.err" &
witness=$!
PIDS+=("$witness")
sleep 0.5

long_url="/$(head -c 3000 /dev/zero | tr '\0' a)"
big_header="X-Big: $(head -c 9000 /dev/zero | tr '\0' b)"
check "405 for POST" [ "$(raw_status "$port" 'POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n')" = 405 ]
check "405 for DELETE" [ "$(raw_status "$port" 'DELETE / HTTP/1.1\r\nHost: x\r\n\r\n')" = 405 ]
check "414 for a 3000-byte URL" [ "$(raw_status "$port" "GET $long_url HTTP/1.1\r\nHost: x\r\n\r\n")" = 414 ]
check "431 for a 9 KB header" [ "$(raw_status "$port" "GET / HTTP/1.1\r\nHost: x\r\n$big_header\r\n\r\n")" = 431 ]
check "400 for garbage" [ "$(raw_status "$port" '\x01\x02garbage\r\n\r\n')" = 400 ]
check "400 for a bad request line" [ "$(raw_status "$port" 'GET\r\n\r\n')" = 400 ]
check "400 for a bad fps" [ "$(raw_status "$port" 'GET /stream?fps=0 HTTP/1.1\r\nHost: x\r\n\r\n')" = 400 ]
check "404 for an unknown path" [ "$(raw_status "$port" 'GET /etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n')" = 404 ]
check "404 for a traversal" [ "$(raw_status "$port" 'GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n')" = 404 ]

# Slowloris: half a request, then nothing: 408 after client_timeout (2 s).
start=$(date +%s%N)
code=$(raw_status "$port" 'GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n' 6)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "slowloris gets 408 (after $ms ms)" [ "$code" = 408 ]
check "408 came after client_timeout, not before" [ "$ms" -ge 1500 ]
check "an idle connection gets 408 too" [ "$(raw_status "$port" '' 6)" = 408 ]

# max_clients = 6: the witness holds one; five more fit, the next gets 503.
holders=()
for i in 1 2 3 4 5; do
	curl -s --max-time 6 -o /dev/null "$BASE/stream" &
	holders+=($!)
	PIDS+=($!)
done
sleep 1
hdr=$(curl -s -D - -o /dev/null --max-time 2 "$BASE/stream" | tr -d '\r')
check "stream over max_clients gets 503" grep -q '^HTTP/1.1 503' <<<"$hdr"
check "503 carries Retry-After" grep -qi '^Retry-After: ' <<<"$hdr"
check "ordinary requests still answered at max_clients" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/status")" = 200 ]
for p in "${holders[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
sleep 1
check "stream accepted again once clients left" \
	bash -c "curl -s --max-time 1.5 '$BASE/stream' | grep -acq 'image/jpeg'"

# A client that stops reading is dropped after send_timeout (2 s here)
# instead of pinning a frame buffer forever.
( exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'GET /stream HTTP/1.1\r\nHost: x\r\n\r\n' >&3 && sleep 15 ) &
staller=$!
PIDS+=("$staller")
sleep 1
before=$(curl -s "$BASE/status" | grep -o '"clients": *[0-9]*' | head -n 1 | grep -o '[0-9]*$')
dropped=no
for _ in $(seq 1 80); do
	n=$(curl -s "$BASE/metrics" | awk '/^forkcast_send_timeouts_total|^forkcast_clients_dropped_total|^forkcast_dropped_send_timeout_total/ { s += $2 } END { print s + 0 }')
	if [ "${n:-0}" -ge 1 ]; then dropped=yes; break; fi
	sleep 0.1
done
after=$(curl -s "$BASE/status" | grep -o '"clients": *[0-9]*' | head -n 1 | grep -o '[0-9]*$')
check "a client that stops reading is dropped after send_timeout (streams $before -> $after)" [ "$dropped" = yes ]
check "the stalled stream no longer counts" [ "$after" -lt "$before" ]
kill "$staller" 2>/dev/null

wait "$witness"
rc=$?
check "the witness stream played throughout ($(cat "$TMP/witness.json"))" [ "$rc" -eq 0 ]
check "workers still alive" [ "$(curl -s "$BASE/status" | grep -o '"pid": *[0-9]*' | wc -l)" -ge 3 ]
check "no worker was respawned" bash -c "! grep -q 'exited' '$TMP/a.log'"
stop_server "$SERVER_PID"

# --- Limits over the whole server: two workers, one address. ---
port=$(free_port) || exit 1
write_config "$TMP/b.conf" "$port" "workers = 2" "max_clients = 14" \
	"max_clients_per_ip = 10" "max_connections = 20" "send_timeout = 2" \
	"client_timeout = 10" \
	"[capture]" "width = 160" "height = 120" "fps = 10" "idle_stop = 0"
start_server "$TMP/b.conf" "$TMP/b.log" || exit 1
# Both workers serve before the streams below open (start_server returns
# once one answers; the balance rule counts serving workers only).
check "both workers serve" [ "$(wc -w <<<"$(serving_workers 2)")" = 2 ]

# Per-worker streams from /status: "n0 n1".
worker_streams() {
	curl -s --max-time 2 "$BASE/status" |
		grep -o '"index": *[0-9]*, *"pid": *[0-9]*, *"state": *"[a-z]*", *"clients": *[0-9]*' |
		sed 's/.*: *//' | tr '\n' ' '
}
metric_sum() {	# metric_sum REGEX: sum of the samples whose line matches
	curl -s --max-time 2 "$BASE/metrics" | awk -v re="$1" '$0 ~ re { s += $2 } END { print s + 0 }'
}

# max_clients_per_ip = 10: twelve streams from 127.0.0.1.  One worker
# takes at most about nine connections before the balance rule hands the
# rest to the other, so both serve some: exactly ten 200s, two 503s,
# whichever worker answers.
for i in $(seq 1 12); do
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 8 "$BASE/stream" >"$TMP/ip$i.code" &
	PIDS+=($!)
	sleep 0.1
done
for _ in $(seq 1 50); do	# until the ten are in (5 s at most)
	per=$(worker_streams)
	read -r w0 w1 <<<"$per"
	[ $(( ${w0:-0} + ${w1:-0} )) -ge 10 ] && break
	sleep 0.1
done
sleep 0.5
per=$(worker_streams)
read -r w0 w1 <<<"$per"
check "both workers stream to the address (streams per worker: $per)" [ "${w0:-0}" -ge 1 -a "${w1:-0}" -ge 1 ]
check "the server holds exactly 10 streams from it" [ $(( ${w0:-0} + ${w1:-0} )) -eq 10 ]
hdr=$(curl -s -D - -o /dev/null --max-time 2 "$BASE/stream" | tr -d '\r')
check "the 13th stream from the address gets 503" grep -q '^HTTP/1.1 503' <<<"$hdr"
check "... with Retry-After" grep -qi '^Retry-After: ' <<<"$hdr"
wait_codes() {	# waits (bounded) for the curls writing $TMP/$1*.code
	for _ in $(seq 1 120); do
		[ "$(cat "$TMP"/$1*.code 2>/dev/null | wc -l)" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
wait_codes ip 12
ok200=$(cat "$TMP"/ip*.code | grep -c '^200$')
no503=$(cat "$TMP"/ip*.code | grep -c '^503$')
check "exactly 10 of 12 streams got 200 ($ok200), the rest 503 ($no503)" [ "$ok200" -eq 10 -a "$no503" -eq 2 ]
check "refusals by max_clients_per_ip counted" \
	[ "$(metric_sum '^forkcast_refused_total[{]limit="clients_per_ip"[}]')" -ge 3 ]

# max_clients = 14 counts /events too: 13 event streams and one stream
# fill it; one more of either kind gets 503.
evpids=()
for i in $(seq 1 13); do
	curl -sN --max-time 8 -o "$TMP/ev$i.out" "$BASE/events" &
	PIDS+=($!)
	evpids+=($!)
done
curl -s -o /dev/null -w '%{http_code}\n' --max-time 6 "$BASE/stream" >"$TMP/mc1.code" &
PIDS+=($!)
for _ in $(seq 1 50); do	# until all are in (5 s at most)
	st=$(curl -s --max-time 2 "$BASE/status")
	[ "$(json_num "$st" events)" = 13 -a "$(json_num "$st" clients)" = 1 ] && break
	sleep 0.1
done
check "/status counts 13 event streams and 1 stream ($(json_num "$st" events), $(json_num "$st" clients))" \
	[ "$(json_num "$st" events)" = 13 -a "$(json_num "$st" clients)" = 1 ]
check "a stream over max_clients (counting /events) gets 503" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/stream")" = 503 ]
check "an /events over max_clients gets 503" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/events")" = 503 ]
check "refusals by max_clients counted" \
	[ "$(metric_sum '^forkcast_refused_total[{]limit="clients"[}]')" -ge 2 ]
wait_codes mc 1
check "the stream that fit got 200" [ "$(cat "$TMP/mc1.code")" = 200 ]
for p in "${evpids[@]}"; do wait "$p" 2>/dev/null; done	# --max-time 8

# max_connections = 20: twenty idle connections fill the server; the next
# connection is answered 503 with Retry-After at once and closed.
( for i in $(seq 1 20); do exec {fd}<>"/dev/tcp/127.0.0.1/$port"; done
  : >"$TMP/holding"; sleep 6 ) &
holders=$!
PIDS+=("$holders")
for _ in $(seq 1 50); do [ -e "$TMP/holding" ] && break; sleep 0.1; done
sleep 0.5	# connected; now accepted too
resp=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"; printf "GET /status HTTP/1.1\r\nHost: x\r\n\r\n" >&3; cat <&3' "$port" | tr -d '\r')
check "a connection over max_connections gets 503" grep -q '^HTTP/1.1 503' <<<"$resp"
check "... with Retry-After and Connection: close" \
	bash -c "grep -qi '^Retry-After: 1' <<<'$resp' && grep -qi '^Connection: close' <<<'$resp'"
check "... and is closed after it (body: $(tail -n 1 <<<"$resp"))" [ "$(tail -n 1 <<<"$resp")" = "too many connections" ]
kill "$holders" 2>/dev/null
wait "$holders" 2>/dev/null
sleep 0.5
st=$(curl -s --max-time 2 "$BASE/status")
check "served again once connections closed" grep -q '"workers"' <<<"$st"
refused=$(grep -o '"refused": {"connections": [0-9]*' <<<"$st" | head -n 1 | grep -o '[0-9]*$')
check "/status counts the refused connections ($refused)" [ "${refused:-0}" -ge 1 ]

# send_timeout = 2 for /events: a client that reads nothing (a small
# receive buffer, so its window closes after a few events) is dropped;
# a client that reads is not.
drops0=$(metric_sum '^forkcast_send_timeouts_total')
curl -sN --max-time 14 -o "$TMP/reader.out" "$BASE/events" &
reader=$!
PIDS+=("$reader")
stalled_reader "$port" /events 20
staller=$STALLER
sleep 1
check "two event streams open" [ "$(metric_sum '^forkcast_event_clients')" -eq 2 ]
dropped=no
for _ in $(seq 1 60); do
	if [ "$(metric_sum '^forkcast_send_timeouts_total')" -gt "$drops0" ]; then dropped=yes; break; fi
	sleep 0.25
done
check "an /events client that reads nothing is dropped after send_timeout" [ "$dropped" = yes ]
check "... and only that one" [ "$(metric_sum '^forkcast_event_clients')" -eq 1 ]
wait "$reader"
rc=$?
n=$(grep -c '^event: status' "$TMP/reader.out")
check "the reading /events client kept its stream to the end ($n events, curl status $rc)" [ "$rc" -eq 28 -a "$n" -ge 12 ]
check "nobody else was dropped" [ "$(metric_sum '^forkcast_send_timeouts_total')" -eq $((drops0 + 1)) ]
kill "$staller" 2>/dev/null
check "no worker was respawned (second server)" bash -c "! grep -q 'exited' '$TMP/b.log'"

# A worker killed with SIGKILL leaves no count behind: with the address at
# its limit, the places the dead worker's streams held are free again.
for i in $(seq 1 10); do
	curl -s -o /dev/null --max-time 12 "$BASE/stream" &
	PIDS+=($!)
	sleep 0.1
done
for _ in $(seq 1 50); do
	per=$(worker_streams)
	read -r w0 w1 <<<"$per"
	[ $(( ${w0:-0} + ${w1:-0} )) -ge 10 ] && break
	sleep 0.1
done
# "pid clients" of the worker holding more streams.
read -r victim k <<<"$(curl -s --max-time 2 "$BASE/status" |
	grep -o '"pid": *[0-9]*, *"state": *"[a-z]*", *"clients": *[0-9]*' |
	sed 's/"[a-z]*": *//g; s/"//g; s/,/ /g' | sort -k3 -n | tail -n 1 | awk '{ print $1, $3 }')"
check "streams per worker before the kill: $per" [ -n "$victim" -a "${k:-0}" -ge 1 ]
if [ -n "$victim" ] && [ "$(awk '{ print $4 }' "/proc/$victim/stat" 2>/dev/null)" = "$SERVER_PID" ]; then
	kill -KILL "$victim"
	for _ in $(seq 1 50); do	# until the supervisor has reaped it
		curl -s --max-time 2 "$BASE/status" | grep -q "\"pid\": $victim," || break
		sleep 0.1
	done
	for i in $(seq 1 $((k + 1))); do
		curl -s -o /dev/null -w '%{http_code}\n' --max-time 4 "$BASE/stream" >"$TMP/kill$i.code" &
		PIDS+=($!)
		sleep 0.1
	done
	wait_codes kill $((k + 1))
	n200=$(cat "$TMP"/kill*.code | grep -c '^200$')
	n503=$(cat "$TMP"/kill*.code | grep -c '^503$')
	check "after SIGKILL of a worker holding $k streams: $n200 new streams admitted, $n503 refused" \
		[ "$n200" -eq "$k" -a "$n503" -eq 1 ]
else
	not_ok "worker to kill not found among the server's children ($victim)"
fi
stop_server "$SERVER_PID"
finish
