#!/bin/bash
# The http source end to end: forkcast-capture (standalone, --dump) relays
# tests/tools/mjpegsrv.  Frames must arrive byte-identical (no re-encode),
# keep the upstream X-Timestamp, and a garbage upstream must still yield
# its valid frames.  A hostile upstream's bytes reach the log (of
# forkcast-capture, and of forkcast through its supervisor) only as \xNN,
# and a ?token= in the url never reaches the log, /status or /metrics.
. "$(dirname "$0")/lib.sh"

CAP=$BUILD/forkcast-capture
SRV=$BUILD/tools/mjpegsrv
[ -x "$CAP" ] && [ -x "$SRV" ] || { echo "skip: $CAP or $SRV not built"; exit 77; }

# start_mjpegsrv ARGS...: starts mjpegsrv on a free port, sets SRV_PORT.
start_mjpegsrv() {
	local out=$TMP/srv.$RANDOM
	"$SRV" --port 0 "$@" >"$out" 2>&1 &
	PIDS+=("$!")
	for _ in $(seq 1 50); do
		SRV_PORT=$(sed -n 's/^listening on 127.0.0.1://p' "$out")
		[ -n "$SRV_PORT" ] && return 0
		sleep 0.1
	done
	return 1
}

# run_capture NAME URL FRAMES: runs forkcast-capture until FRAMES frames
# were published, dumping them into $TMP/NAME.
run_capture() {
	local name=$1 url=$2 frames=$3
	mkdir -p "$TMP/$name"
	printf '[capture]\nsource = http\nurl = %s\nfps = 30\nidle_stop = 0\n' \
		"$url" >"$TMP/$name.conf"
	timeout -k 5 30 "$CAP" -c "$TMP/$name.conf" --frames "$frames" \
		--dump "$TMP/$name" >"$TMP/$name.out" 2>"$TMP/$name.log"
}

mkdir -p "$TMP/orig"
start_mjpegsrv --fps 30 --count 4 --ts-base 1000000000 --save "$TMP/orig" ||
	{ echo "mjpegsrv did not start"; exit 1; }

check "capture relays 12 frames and exits 0" \
	run_capture normal "http://127.0.0.1:$SRV_PORT/stream" 12
[ "$T_FAIL" -eq 0 ] || { tail -n 20 "$TMP/normal.log"; }

# Every dumped frame that is not a no-signal frame (flags 0) must be one of
# the 4 upstream JPEGs, byte for byte.
relayed=0 identical=0
while read -r seq len w h flags real mono; do
	[ "$flags" = 0 ] || continue
	relayed=$((relayed + 1))
	f=$(printf '%s/normal/frame-%06d.jpg' "$TMP" "$seq")
	for o in "$TMP"/orig/frame-*.jpg; do
		if cmp -s "$f" "$o"; then identical=$((identical + 1)); break; fi
	done
done <"$TMP/normal/frames.txt"
echo "  relayed $relayed frames, $identical byte-identical to upstream"
check "relayed frames are the upstream bytes" \
	test "$relayed" -ge 8 -a "$identical" -eq "$relayed"

# X-Timestamp kept: capture times are 1000000000 s + n ms.
# (Compared as text: the values exceed awk's exact integer range.)
ts_ok=$(awk '$5 == 0 { if (length($6) == 19 && substr($6, 1, 10) == "1000000000" && substr($6, 14) == "000000") ok++; n++ }
	END { print (n > 0 && ok == n) ? "yes" : "no" }' "$TMP/normal/frames.txt")
check "upstream X-Timestamp kept as capture time" test "$ts_ok" = yes

check "frame size taken from the JPEG (160x120)" \
	awk '$5 == 0 && ($3 != 160 || $4 != 120) { exit 1 }' "$TMP/normal/frames.txt"

# printable FILE: every byte is printable ASCII or a newline.
printable() {
	[ "$(LC_ALL=C tr -d '\n\040-\176' <"$1" | wc -c)" -eq 0 ]
}

# The connect line names the upstream without its query.
check "capture with a ?token= url relays" \
	run_capture token "http://127.0.0.1:$SRV_PORT/stream?token=SECRET#SECRET" 3
check "capture log names the upstream without its query" \
	grep -qF "http: connected to http://127.0.0.1:$SRV_PORT/stream (" "$TMP/token.log"
check "capture log holds no secret" not grep -q SECRET "$TMP/token.log"

start_mjpegsrv --fps 60 --mode garbage || { echo "mjpegsrv did not start"; exit 1; }
check "garbage upstream: capture still publishes frames" \
	run_capture garbage "http://127.0.0.1:$SRV_PORT/" 10
good=$(awk '$5 == 0' "$TMP/garbage/frames.txt" 2>/dev/null | wc -l)
echo "  garbage upstream: $good valid frames of 10 published"
check "garbage upstream: valid frames relayed" test "$good" -ge 5

start_mjpegsrv --fps 60 --mode nolength || { echo "mjpegsrv did not start"; exit 1; }
check "parts without Content-Length relayed" \
	run_capture nolength "http://127.0.0.1:$SRV_PORT/" 8

# A hostile upstream: escapes, BEL, bare CRs and 8-bit bytes in its status
# line and headers, which the relay puts in its error messages.
start_mjpegsrv --mode hostile || { echo "mjpegsrv did not start"; exit 1; }
run_capture hostile "http://127.0.0.1:$SRV_PORT/" 2
check "capture log: hostile status line shown escaped" \
	grep -qF 'upstream answered 500 \x1b[2J\x1b]0;pwned\x07 with a malformed head' "$TMP/hostile.log"
check "capture log: hostile Content-Type shown escaped" \
	grep -qF 'Content-Type: text/html\x1b]0;pwned\x07\xff\xfe' "$TMP/hostile.log"
check "capture log: printable ASCII and newlines only" printable "$TMP/hostile.log"

# The same through forkcast: capture's lines pass the supervisor's relay;
# the url's token stays out of the log, /status and /metrics.
if [ -x "$BUILD/forkcast" ]; then
	port=$(free_port) || exit 1
	write_config "$TMP/hostile.conf" "$port" "workers = 1" "[capture]" \
		"source = http" "idle_stop = 0" \
		"url = http://127.0.0.1:$SRV_PORT/stream?token=SECRET#SECRET" \
		"[log]" "level = debug"
	"$BUILD/forkcast" -c "$TMP/hostile.conf" >"$TMP/forkcast.log" 2>&1 &
	PIDS+=("$!")
	fc_pid=$!
	# Connections 1 (500) and 2 (200): both heads are malformed (control
	# bytes in the status line and a header); backoff 0.5 s.
	for _ in $(seq 1 100); do
		grep -q 'upstream answered 200 OK with a malformed head' "$TMP/forkcast.log" &&
			grep -q 'upstream answered 500 .* with a malformed head' "$TMP/forkcast.log" && break
		sleep 0.1
	done
	base="http://127.0.0.1:$port"
	curl -s --max-time 3 "$base/status" >"$TMP/hostile.status"
	curl -s --max-time 3 "$base/metrics" >"$TMP/hostile.metrics"
	curl -s --max-time 3 "$base/?SECRET" >/dev/null
	stop_server "$fc_pid"
	check "forkcast log: hostile status line shown escaped" \
		grep -qF 'upstream answered 500 \x1b[2J\x1b]0;pwned\x07 with a malformed head' "$TMP/forkcast.log"
	check "forkcast log: hostile Content-Type shown escaped" \
		grep -qF 'Content-Type: text/html\x1b]0;pwned\x07\xff\xfe' "$TMP/forkcast.log"
	check "forkcast log: printable ASCII and newlines only (no ESC, BEL, CR)" \
		printable "$TMP/forkcast.log"
	# A terminal shows a bare CR as a return to the start of the line, so
	# the forged text would overwrite the real line there: read it so.
	check "forkcast log: the forged line stays inside the real one (as a terminal shows CR)" \
		bash -c '! tr "\r" "\n" <"$0" | grep -q "^2026-01-01T00:00:00.000Z"' "$TMP/forkcast.log"
	check "/status shows the upstream without its query" \
		grep -qF "\"url\": \"http://127.0.0.1:$SRV_PORT/stream\"" "$TMP/hostile.status"
	check "/metrics shows the upstream without its query" \
		grep -qF "forkcast_upstream_info{url=\"http://127.0.0.1:$SRV_PORT/stream\"} 1" \
		"$TMP/hostile.metrics"
	check "/status, /metrics and the log hold no secret" \
		not grep -q SECRET "$TMP/hostile.status" "$TMP/hostile.metrics" "$TMP/forkcast.log"
else
	echo "  skip: $BUILD/forkcast not built"
fi

finish
