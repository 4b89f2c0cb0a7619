#!/bin/bash
# forkcast's http source against hostile upstreams (tests/tools/mjpegsrv):
# a flood of parts (viewers get at most fps, the excess is counted in
# dropped.rate), a chunked response (frames relayed byte for byte), HTTP
# Basic credentials from the url (which never show in /status, /metrics,
# /events or the log; wrong ones give a clear error), a size change then a
# dropped connection (no-signal frames keep the last upstream size), and
# parts over max_frame_size (skipped, counted in dropped.oversize).
. "$(dirname "$0")/lib.sh"

for t in forkcast forkcast-capture tools/mjpegsrv tools/fcclient tools/jpegcheck; do
	[ -x "$BUILD/$t" ] || { echo "skip: $BUILD/$t not built"; exit 77; }
done

# upstream NAME ARGS...: starts mjpegsrv on a free port, sets UP (its url
# base) and records its pid.
upstream() {
	local name=$1; shift
	"$BUILD/tools/mjpegsrv" --port 0 "$@" >"$TMP/$name.srv" 2>&1 &
	PIDS+=("$!")
	UP_PID=$!
	for _ in $(seq 1 50); do
		grep -q '^listening on' "$TMP/$name.srv" && break
		sleep 0.1
	done
	UP="http://$(sed -n 's/^listening on //p' "$TMP/$name.srv")"
}

# relay NAME URL [capture lines...]: forkcast with source = http on URL,
# ready once RELAY_READY (default /healthz) answers 200: /status for an
# upstream that refuses us (capture fails at once, /healthz says 503).
relay() {
	local name=$1 url=$2 port; shift 2
	port=$(free_port) || return 1
	write_config "$TMP/$name.conf" "$port" "workers = 1" \
		"[capture]" "source = http" "url = $url" "idle_stop = 0" "$@"
	start_server "$TMP/$name.conf" "$TMP/$name.log" "${RELAY_READY:-/healthz}"
}

# wait_status COND SECONDS: polls /status of $BASE until grep -E COND.
wait_status() {
	for _ in $(seq 1 $(($2 * 5))); do
		STATUS=$(curl -s --max-time 2 "$BASE/status")
		grep -qE "$1" <<<"$STATUS" && return 0
		sleep 0.2
	done
	return 1
}

dropped() { grep -o "\"$1\": *[0-9]*" <<<"$STATUS" | head -n 1 | sed 's/.*: *//'; }

# --- flood ---------------------------------------------------------------
upstream flood --mode flood --stats "$TMP/flood.stats"
relay flood "$UP/stream" "fps = 10" || exit 1
wait_status '"state": "running"' 10
s1=$(sed -n 's/^sent //p' "$TMP/flood.stats")
"$BUILD/tools/fcclient" --url "$BASE/stream" --seconds 4 >"$TMP/flood.json" 2>&1
s2=$(sed -n 's/^sent //p' "$TMP/flood.stats")
STATUS=$(curl -s --max-time 2 "$BASE/status")
fps=$(grep -o '"fps_max":[0-9.]*' "$TMP/flood.json" | cut -d: -f2)
frames=$(grep -o '"frames_total":[0-9]*' "$TMP/flood.json" | cut -d: -f2)
captured=$(json_num "$STATUS" frames_captured)
published=$(json_num "$STATUS" frames)
rate=$(dropped rate)
sent=$(sed -n 's/^sent //p' "$TMP/flood.stats")
echo "  flood: upstream sent $((${s2:-0} - ${s1:-0})) parts in the viewer's 4 s ($(((${s2:-0} - ${s1:-0}) / 4))/s)," \
	"viewer got $frames frames in 4 s (fps $fps, cap 10)"
echo "  flood: upstream sent $sent, relay captured $captured, published $published, dropped.rate $rate"
check "flood: the viewer got frames" test "${frames:-0}" -ge 20
check "flood: the viewer got at most fps (10) frames per second" \
	awk -v f="${fps:-99}" 'BEGIN { exit !(f <= 10.5) }'
check "flood: dropped.rate counts the excess" test "${rate:-0}" -gt 100
# Published = captured - dropped.rate, plus a few no-signal frames from
# before the first connect (one per second at most).
check "flood: captured - dropped.rate = published (+ no-signal frames)" \
	test $((published - (captured - rate))) -ge 0 -a $((published - (captured - rate))) -le 5
check "flood: the relay read what was sent, less the parts in flight" \
	test "${sent:-0}" -ge $((captured - 20)) -a "$captured" -gt 0
metrics=$(curl -s --max-time 2 "$BASE/metrics")
check "flood: /metrics has dropped_total{reason=\"rate\"}" \
	grep -qE '^forkcast_capture_dropped_total\{reason="rate"\} [1-9]' <<<"$metrics"

# --- chunked -------------------------------------------------------------
mkdir -p "$TMP/chunked.frames"
upstream chunked --chunked --fps 20 --count 4 --save "$TMP/chunked.frames"
relay chunked "$UP/stream" "fps = 30" || exit 1
wait_status '"state": "running"' 10
"$BUILD/tools/fcclient" --url "$BASE/stream" --seconds 2 >"$TMP/chunked.json" 2>&1
n=$(grep -o '"frames_total":[0-9]*' "$TMP/chunked.json" | cut -d: -f2)
bad=$(grep -o '"bad_frames":[0-9]*' "$TMP/chunked.json" | cut -d: -f2)
echo "  chunked: viewer got $n frames, $bad bad"
check "chunked: frames relayed" test "${n:-0}" -ge 10
check "chunked: no frame is bad" test "${bad:-1}" -eq 0
curl -s --max-time 3 -o "$TMP/chunked.jpg" "$BASE/snapshot"
check "chunked: the snapshot decodes (160x120)" \
	grep -q ' 160 120$' <(cd "$TMP" && "$BUILD/tools/jpegcheck" chunked.jpg)
same=no
for f in "$TMP"/chunked.frames/*.jpg; do cmp -s "$f" "$TMP/chunked.jpg" && same=yes; done
check "chunked: the snapshot is an upstream frame byte for byte" [ "$same" = yes ]
check "chunked: the log says the upstream is chunked" grep -q 'http: connected to .*chunked' "$TMP/chunked.log"

# --- credentials ---------------------------------------------------------
upstream auth --auth 'cam user:p@ss:w0rd' --fps 10
relay auth "http://cam%20user:p%40ss:w0rd@${UP#http://}/stream?token=TOKSECRET" || exit 1
check "credentials: the relay streams" wait_status '"state": "running"' 10
curl -s --max-time 3 -o "$TMP/auth.jpg" "$BASE/snapshot"
check "credentials: the snapshot decodes (160x120)" \
	grep -q ' 160 120$' <(cd "$TMP" && "$BUILD/tools/jpegcheck" auth.jpg)
metrics=$(curl -s --max-time 2 "$BASE/metrics")
events=$(curl -s --max-time 1.5 "$BASE/events")
page=$(curl -s --max-time 2 "$BASE/")
check "credentials: /status shows the url without credentials or query" \
	grep -qF "\"url\": \"$UP/stream\"" <<<"$STATUS"
check "credentials: /metrics upstream_info without credentials or query" \
	grep -qF "forkcast_upstream_info{url=\"$UP/stream\"} 1" <<<"$metrics"
check "credentials: /events sent a status event" grep -q '^event: status' <<<"$events"
check "credentials: no secret in /status, /metrics, /events, the page or the log" \
	bash -c '! grep -qE "p%40ss|p@ss|w0rd|cam%20user|cam user|TOKSECRET" "$@"' _ \
	<(echo "$STATUS$metrics$events$page") "$TMP/auth.log"
check "credentials: the log says credentials were sent" \
	grep -qF "http: connected to $UP/stream (boundary \"fcframe\", with credentials)" "$TMP/auth.log"

RELAY_READY=/status relay noauth "$UP/stream" || exit 1
check "no credentials: /status says the upstream needs them" \
	wait_status '"error": "upstream needs credentials \(401\)"' 10
RELAY_READY=/status relay badauth "http://cam%20user:WRONGPW@${UP#http://}/stream" || exit 1
check "wrong credentials: /status says they were refused" \
	wait_status '"error": "upstream refused the credentials \(401\)"' 10
check "wrong credentials: state failing" grep -q '"state": "failing"' <<<"$STATUS"
f1=$(json_num "$STATUS" failures)
sleep 2.5
STATUS=$(curl -s --max-time 2 "$BASE/status")
f2=$(json_num "$STATUS" failures)
echo "  wrong credentials: upstream failures $f1, 2.5 s later $f2"
check "wrong credentials: retried with backoff" test "${f2:-0}" -gt "${f1:-0}"
check "wrong credentials: no password in /status or the log" \
	bash -c '! grep -q WRONGPW "$@"' _ <(echo "$STATUS") "$TMP/badauth.log"

# --- size change, then the upstream fails --------------------------------
upstream resize --size 160x120 --size2 320x240 --switch-after 5 --cut-after 15 --fps 10
relay resize "$UP/stream" "width = 640" "height = 480" || exit 1
check "resize: relay saw the new size" wait_status '"width": 320, "height": 240' 10
check "resize: the upstream failed (cut mid-part, then gone)" \
	wait_status '"state": "failing"' 10
sleep 1.2
# /snapshot answers 503 while capture fails (README "Fresh pictures"); a
# stream keeps showing the no-signal frames, one a second.
ns=$("$BUILD/tools/fcclient" --url "$BASE/stream" --seconds 3 --expect-frames 1)
size=$(sed -n 's/.*"size_last":"\([0-9x]*\)".*/\1/p' <<<"$ns")
echo "  resize: no-signal stream parts are $size (configured 640x480, last upstream 320x240)"
check "resize: no-signal frames have the last upstream size" [ "$size" = 320x240 ]
check "resize: /snapshot says the source is failing (503)" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 4 "$BASE/snapshot")" = 503 ]
check "resize: no width/height change on the stream while failing" \
	grep -q '"width": 320, "height": 240' <(curl -s --max-time 2 "$BASE/status")

# --- oversize parts ------------------------------------------------------
upstream oversize --mode oversize --oversize-bytes 200000 --fps 10
relay oversize "$UP/stream" "max_frame_size = 64K" || exit 1
wait_status '"state": "running"' 10
sleep 2
STATUS=$(curl -s --max-time 2 "$BASE/status")
o1=$(dropped oversize); c1=$(json_num "$STATUS" frames_captured)
sleep 1
STATUS=$(curl -s --max-time 2 "$BASE/status")
o2=$(dropped oversize); c2=$(json_num "$STATUS" frames_captured)
echo "  oversize: dropped.oversize $o1 -> $o2, frames captured $c1 -> $c2"
check "oversize: parts over max_frame_size counted in dropped.oversize" test "${o1:-0}" -ge 5
check "oversize: the stream goes on (frames and skips both grow)" \
	test "${c2:-0}" -gt "${c1:-0}" -a "${o2:-0}" -gt "${o1:-0}"
check "oversize: capture state stays running" grep -q '"state": "running"' <<<"$STATUS"

finish
