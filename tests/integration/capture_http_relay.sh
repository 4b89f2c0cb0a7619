#!/bin/bash
# forkcast as an edge relay: instance B's capture uses the http source on
# instance A's /stream.  B serves A's pictures byte for byte, with A's
# capture timestamps (so B's /stream reports the age of the picture, not
# of the last hop), and B recovers when A restarts.  B's url carries a
# token, which never shows in B's /status, /metrics, /events or log.
. "$(dirname "$0")/lib.sh"

[ -x "$BUILD/forkcast" ] && [ -x "$BUILD/forkcast-capture" ] ||
	{ echo "skip: forkcast not built"; exit 77; }

pa=$(free_port) || exit 1
mkdir -p "$TMP/frames"
sample=$(ls "$ROOT"/tests/data/samples/*.jpg 2>/dev/null | head -n 1)
[ -n "$sample" ] || { echo "skip: no tests/data/samples/*.jpg"; exit 77; }
cp "$sample" "$TMP/frames/only.jpg"
write_config "$TMP/a.conf" "$pa" "workers = 1" \
	"[capture]" "source = files" "directory = $TMP/frames" "fps = 10" "idle_stop = 0"
start_server "$TMP/a.conf" "$TMP/a.log" || exit 1
A_PID=$SERVER_PID
A=$BASE

pb=$(free_port) || exit 1
while [ "$pb" = "$pa" ]; do pb=$(free_port) || exit 1; done
write_config "$TMP/b.conf" "$pb" "workers = 1" \
	"[capture]" "source = http" "url = $A/stream?token=SECRET" "idle_stop = 0"
start_server "$TMP/b.conf" "$TMP/b.log" || exit 1
B=$BASE

# B answers /healthz while its capture is still connecting to A (its first
# frames are "no signal" pictures): wait, bounded, for the first relayed one.
for _ in $(seq 1 30); do
	curl -s --max-time 3 -o "$TMP/snap" "$B/snapshot"
	cmp -s "$TMP/snap" "$sample" && break
	sleep 0.1
done
check "relay snapshot equals A's picture byte for byte" cmp -s "$TMP/snap" "$sample"
status=$(curl -s --max-time 3 "$B/status")
check "relay /status names the http source" grep -q '"source": *"http"' <<<"$status"
check "relay /status shows the upstream without its token" \
	grep -qF "\"upstream\": {\"url\": \"$A/stream\"" <<<"$status"
metrics=$(curl -s --max-time 3 "$B/metrics")
check "relay /metrics shows the upstream without its token" \
	grep -qF "forkcast_upstream_info{url=\"$A/stream\"} 1" <<<"$metrics"
events=$(curl -s --max-time 1.5 "$B/events")
# Without an event the next check would pass on nothing.
check "relay /events sent a status event" grep -q '^event: status' <<<"$events"
check "relay /status, /metrics, /events hold no secret" \
	bash -c '! grep -q SECRET' <<<"$status$metrics$events"

# Timestamps: every X-Timestamp B sends must be one A sent (same capture
# times), collected over the same second.
curl -s --max-time 2 -o "$TMP/sa" "$A/stream?framing=full" &
ca=$!
curl -s --max-time 2 -o "$TMP/sb" "$B/stream?framing=full"
wait "$ca"
grep -ao 'X-Timestamp: [0-9.]*' "$TMP/sa" | sort -u >"$TMP/ta"
grep -ao 'X-Timestamp: [0-9.]*' "$TMP/sb" | sort -u >"$TMP/tb"
nb=$(wc -l <"$TMP/tb")
common=$(comm -12 "$TMP/ta" "$TMP/tb" | wc -l)
echo "  B sent $nb timestamps, $common of them also sent by A"
check "relay keeps upstream capture timestamps" test "$nb" -ge 3 -a "$common" -ge $((nb - 2))

# A goes away: B keeps answering (a snapshot gets 503 with the reason,
# README "Fresh pictures"), then recovers with A's pictures once A is back.
stop_server "$A_PID"
sleep 2
code=$(curl -s -o "$TMP/down" -w '%{http_code}' --max-time 3 "$B/snapshot")
check_that "relay still answers while upstream is down ($code: $(head -c 80 "$TMP/down"))" \
	'[ "$code" = 503 ] && grep -q "^capture failing: " "$TMP/down"'
start_server "$TMP/a.conf" "$TMP/a2.log" || exit 1
ok_again=no
for _ in $(seq 1 100); do
	curl -s --max-time 2 -o "$TMP/snap2" "$B/snapshot"
	if cmp -s "$TMP/snap2" "$sample"; then ok_again=yes; break; fi
	sleep 0.2
done
check "relay reconnects after the upstream restarts" [ "$ok_again" = yes ]
check "relay log names the upstream without its token" \
	grep -qF "http: connected to $A/stream (" "$TMP/b.log"
check "relay log holds no secret" bash -c '! grep -q SECRET "$0"' "$TMP/b.log"
grep -q 'http' "$TMP/b.log" && grep -E 'http|upstream' "$TMP/b.log" | tail -n 3 | sed 's/^/  log: /'

finish
