#!/bin/bash
# Many viewers at once: 200 clients at the source rate, a slow reader that
# harms nobody and stays bounded, connections spread over workers.
. "$(dirname "$0")/lib.sh"

port=$(free_port) || exit 1
write_config "$TMP/a.conf" "$port" "workers = 4" "send_timeout = 3" \
	"[capture]" "width = 320" "height = 240" "fps = 15" "idle_stop = 0"
start_server "$TMP/a.conf" "$TMP/a.log" || exit 1

# 200 concurrent streaming clients for 5 s, each at (about) the source rate.
out=$("$BUILD/tools/fcclient" --url "$BASE/stream" --clients 200 --seconds 5 --expect-frames 40)
rc=$?
echo "  200 clients: $out"
check "200 clients all got frames, none bad" [ "$rc" -eq 0 ]
fps_min=$(json_num "$out" fps_min)
check "slowest of 200 clients at >= 10 fps of 15 (got $fps_min)" awk -v f="$fps_min" 'BEGIN { exit !(f >= 10) }'

# 100 fast clients and one reading 20 KB/s, at the same time.
rss_of_workers() {
	local total=0 p
	for p in $(curl -s "$BASE/status" | grep -o '"index": *[0-9]*, *"pid": *[0-9]*' | sed 's/.*: *//'); do
		total=$((total + $(awk '/^VmRSS/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)))
	done
	echo "$total"
}
rss0=$(rss_of_workers)
out=$("$BUILD/tools/fcclient" --url "$BASE/stream" --clients 101 --slow-clients 1 \
	--slow-rate 20000 --seconds 8 --expect-frames 1)
rc=$?
rss1=$(rss_of_workers)
echo "  100 fast + 1 slow: $out"
echo "  worker RSS before ${rss0} kB, with the slow client ${rss1} kB"
check "fast and slow clients all got valid frames" [ "$rc" -eq 0 ]
fps_min=$(json_num "$out" fps_min)
check "fast clients unaffected by the slow one (min $fps_min fps)" awk -v f="$fps_min" 'BEGIN { exit !(f >= 10) }'
check "a slow reader is not a dead one: nobody was dropped (send_timeout 3 s)" [ "$(json_num "$out" closed)" = 0 ]
age=$(json_num "$out" slow_age_ms_p50)
check "slow client's pictures are recent (p50 age $age ms)" awk -v a="$age" 'BEGIN { exit !(a < 3000) }'
amax=$(json_num "$out" slow_age_ms_max)
settled=$(json_num "$out" slow_age_ms_max_settled)
check "its worst age after the stream's first 3 s is reported, and is no more than its worst over the stream ($settled <= $amax ms)" \
	awk -v s="$settled" -v a="$amax" 'BEGIN { exit !(s != "" && a != "" && s + 0 > 0 && s + 0 <= a + 0) }'
check "slow client bounded in server memory (+$((rss1 - rss0)) kB)" [ $((rss1 - rss0)) -lt 65536 ]

# 400 long-lived clients over 4 workers: nobody holds more than 30 %.
"$BUILD/tools/fcclient" --url "$BASE/stream" --clients 400 --seconds 6 --expect-frames 1 >"$TMP/c400" &
c400=$!
PIDS+=("$c400")
sleep 4
st=$(curl -s "$BASE/status")
counts=$(grep -o '"index": *[0-9]*, *"pid": *[0-9]*, *"state": *"[a-z]*", *"clients": *[0-9]*' <<<"$st" | sed 's/.*: *//' | tr '\n' ' ')
total=$(json_num "$st" clients)
echo "  400 clients spread over workers: $counts (total $total)"
check "all 400 clients connected ($total)" [ "$total" -ge 400 ]
max=0
for c in $counts; do [ "$c" -gt "$max" ] && max=$c; done
check "no worker holds more than 30% ($max of $total)" [ "$max" -le 120 ]
wait "$c400"
check "400 clients got valid frames" [ $? -eq 0 ]

stop_server "$SERVER_PID"
finish
