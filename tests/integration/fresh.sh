#!/bin/bash
# Fresh pictures: a snapshot or the first part of a stream that arrives
# while capture is paused waits for a frame captured after the request
# (instead of the one from before the pause); a snapshot poller slower than
# idle_stop leaves capture paused most of the time; a failing source gives
# 503 with the reason.
. "$(dirname "$0")/lib.sh"

FPS=15
INTERVAL_MS=$((1000 / FPS))
SLACK_MS=50

# now_ms: wall clock (CLOCK_REALTIME, as X-Timestamp) in milliseconds.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# state: capture state from /status.
state() {
	curl -s --max-time 2 "$BASE/status" |
		grep -o '"state": "[a-z]*"' | head -n 1 | cut -d'"' -f4
}

# wait_paused SECONDS: until /status says paused.
wait_paused() {
	for _ in $(seq 1 $(($1 * 10))); do
		[ "$(state)" = paused ] && return 0
		sleep 0.1
	done
	return 1
}

# timed_snapshot: GET /snapshot; sets SNAP_CODE, SNAP_WAIT (request start
# to end of answer, ms; the "wake" figure: capture waking and publishing a
# frame), SNAP_AGE (end of answer minus X-Timestamp, ms).
# The times are taken around the curl process, so both include its start
# and exit (a few ms): the wait is overstated, the age too, by the same.
timed_snapshot() {
	local t0 t1 ts
	t0=$(now_ms)
	SNAP_CODE=$(curl -s -D "$TMP/snap.h" -o "$TMP/snap.jpg" \
		-w '%{http_code}' --max-time 5 "$BASE/snapshot")
	t1=$(now_ms)
	SNAP_WAIT=$((t1 - t0))
	ts=$(tr -d '\r' <"$TMP/snap.h" | sed -n 's/^X-Timestamp: *//Ip')
	if [ -n "$ts" ]; then
		SNAP_AGE=$(awk -v t1="$t1" -v ts="$ts" \
			'BEGIN { printf "%d", t1 - ts * 1000 }')
	else
		SNAP_AGE=
	fi
}

port=$(free_port) || exit 1
write_config "$TMP/a.conf" "$port" "workers = 2" \
	"[capture]" "width = 640" "height = 360" "fps = $FPS" "idle_stop = 1"
start_server "$TMP/a.conf" "$TMP/a.log" || exit 1

# (1) A snapshot after a pause is captured after the request: its age is
# at most the time the request took (capture waking, one frame) plus one
# frame interval.
check "capture pauses with no viewers (idle_stop = 1)" wait_paused 5
sleep 1
timed_snapshot
echo "  snapshot after pause: age $SNAP_AGE ms, wake $SNAP_WAIT ms (request to answer), interval $INTERVAL_MS ms"
check "snapshot after pause: 200" [ "$SNAP_CODE" = 200 ]
check_that "snapshot after pause: age $SNAP_AGE ms <= wake $SNAP_WAIT + interval $INTERVAL_MS + $SLACK_MS ms" \
	'[ -n "$SNAP_AGE" ] && [ "$SNAP_AGE" -le $((SNAP_WAIT + INTERVAL_MS + SLACK_MS)) ]'
check "snapshot after pause: answered by capture waking, not the 2 s wait ($SNAP_WAIT ms)" \
	[ "$SNAP_WAIT" -lt 1500 ]
check "snapshot after pause is a JPEG" \
	bash -c "head -c 2 '$TMP/snap.jpg' | od -An -tx1 | grep -q 'ff d8'"

# Keep-alive pollers: two snapshots on one connection, after a pause.
check "capture pauses again" wait_paused 6
out=$(curl -s -o /dev/null -o /dev/null -w '%{http_code}:%{num_connects} ' \
	"$BASE/snapshot" "$BASE/snapshot")
check "two snapshots on one keep-alive connection ($out)" [ "$out" = "200:1 200:0 " ]

# The first part of a stream after a pause.
check "capture pauses again" wait_paused 6
sleep 1
t0=$(now_ms)
ts=$(curl -s --max-time 2 "$BASE/stream?framing=full" |
	grep -a -m 1 '^X-Timestamp:' | tr -d '\r' | cut -d' ' -f2)
first=$(awk -v t0="$t0" -v ts="${ts:-0}" 'BEGIN { printf "%d", ts * 1000 - t0 }')
echo "  first stream part after pause: captured $first ms after the request started"
check_that "first stream part after pause is captured after the request (or within one interval before)" \
	'[ -n "$ts" ] && [ "$first" -ge $((-INTERVAL_MS - SLACK_MS)) ]'

# HEAD does not wake capture.
check "capture pauses again" wait_paused 6
code=$(curl -s -I -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/snapshot")
sleep 0.5
check_that "HEAD /snapshot while paused: 200 at once ($code), capture stays paused" \
	'[ "$code" = 200 ] && [ "$(state)" = paused ]'
stop_server "$SERVER_PID"

# (2) A snapshot poller every 12 s with idle_stop = 10 (Home Assistant's
# still_image_url, timelapse tools): each poll keeps capture awake for 3 s,
# not 10, so it is paused most of the time.
port=$(free_port) || exit 1
write_config "$TMP/b.conf" "$port" "workers = 1" \
	"[capture]" "width = 640" "height = 360" "fps = $FPS" "idle_stop = 10"
start_server "$TMP/b.conf" "$TMP/b.log" || exit 1
check "capture pauses after idle_stop = 10" wait_paused 15
# As in (1): the first poll comes a second into the pause, not in the
# moment capture is still settling into it.
sleep 1
cap_pid=$(json_num "$(curl -s "$BASE/status")" pid)
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$cap_pid/stat"; }
cpu0=$(cpu_ticks)
samples=0
paused=0
fresh_polls=0
polls=3
start=$(now_ms)
for poll in $(seq 1 $polls); do
	timed_snapshot
	echo "  poll $poll: $SNAP_CODE, age $SNAP_AGE ms, wait $SNAP_WAIT ms"
	if [ "$SNAP_CODE" = 200 ] && [ -n "$SNAP_AGE" ] &&
		[ "$SNAP_AGE" -le $((SNAP_WAIT + INTERVAL_MS + SLACK_MS)) ]; then
		fresh_polls=$((fresh_polls + 1))
	fi
	# Sample the state every 0.25 s until the next poll is due.
	due=$((start + poll * 12000))
	while [ "$(now_ms)" -lt "$due" ]; do
		[ "$(state)" = paused ] && paused=$((paused + 1))
		samples=$((samples + 1))
		sleep 0.25
	done
done
cpu1=$(cpu_ticks)
share=$((paused * 100 / (samples > 0 ? samples : 1)))
cpu=$(awk -v t=$((cpu1 - cpu0)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')
echo "  snapshot poller every 12 s, idle_stop 10: paused $share % of $samples samples over $(( ($(now_ms) - start) / 1000 )) s, capture CPU $cpu s"
check "every poll got a fresh picture ($fresh_polls of $polls)" [ "$fresh_polls" = $polls ]
check "capture paused most of the time ($share %)" [ "$share" -ge 60 ]
check "capture log says a snapshot woke it for 3000 ms" \
	grep -q 'snapshot request: capture resumed for 3000 ms' "$TMP/b.log"
stop_server "$SERVER_PID"

# (3) A failing source (an http relay whose upstream port is closed): a
# snapshot gets 503 with the reason, at once or once capture has woken.
port=$(free_port) || exit 1
dead=$(free_port) || exit 1
write_config "$TMP/c.conf" "$port" "workers = 1" \
	"[capture]" "source = http" "url = http://127.0.0.1:$dead/stream" \
	"width = 640" "height = 360" "fps = $FPS" "idle_stop = 1"
"$BUILD/forkcast" -c "$TMP/c.conf" >"$TMP/c.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
BASE="http://127.0.0.1:$port"
for st in failing paused; do
	for _ in $(seq 1 50); do [ "$(state)" = $st ] && break; sleep 0.1; done
	t0=$(now_ms)
	out=$(curl -s -o "$TMP/fail.body" -w '%{http_code}' --max-time 5 "$BASE/snapshot")
	ms=$(($(now_ms) - t0))
	echo "  failing source, capture $st: $out in $ms ms: $(cat "$TMP/fail.body")"
	check "failing source ($st): snapshot 503" [ "$out" = 503 ]
	check "failing source ($st): the answer names the reason" \
		grep -q "^capture failing: connect to 127.0.0.1:$dead: Connection refused" "$TMP/fail.body"
	check "failing source ($st): answered within the 2 s wait ($ms ms)" [ "$ms" -lt 2500 ]
done
stop_server "$SERVER_PID"

finish
