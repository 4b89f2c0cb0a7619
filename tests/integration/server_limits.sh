#!/bin/bash
# Hostile and excess clients get the right 4xx/503 and never disturb a
# stream that is already playing.
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
finish
