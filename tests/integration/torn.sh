#!/bin/bash
# No viewer ever receives a torn or mixed frame (DESIGN.md "Fan-out rules";
# server/frame.h): capture publishes as fast as it can (the files source at
# 240 fps, pictures of two very different sizes) while 200 readers with
# erratic patterns (fast, tiny reads, rare big reads, random stalls; half in
# each framing) read for 10 s.  tests/tools/tornread checks every part byte
# for byte against the published files and that one X-Timestamp always
# names the same bytes.
. "$(dirname "$0")/lib.sh"

mkdir -p "$TMP/frames"
chmod 755 "$TMP/frames"
# Distinct pictures (frame counter burnt in) at two sizes.
for size in "1280 720" "320 240"; do
	set -- $size
	printf '[capture]\nsource = testpattern\nwidth = %s\nheight = %s\nfps = 240\nquality = 80\nidle_stop = 0\n' \
		"$1" "$2" >"$TMP/enc-$1.conf"
	mkdir -p "$TMP/enc-$1"
	"$BUILD/forkcast-capture" -c "$TMP/enc-$1.conf" --frames 24 --dump "$TMP/enc-$1" >/dev/null 2>&1
	for f in "$TMP/enc-$1"/*.jpg; do cp "$f" "$TMP/frames/$1-$(basename "$f")"; done
done
n=$(ls "$TMP/frames" | wc -l)
check "48 distinct pictures to publish ($n)" [ "$n" = 48 ]

port=$(free_port) || exit 1
write_config "$TMP/t.conf" "$port" "workers = 2" "[capture]" "source = files" \
	"directory = $TMP/frames" "fps = 240" "idle_stop = 0"
start_server "$TMP/t.conf" "$TMP/t.log" || { not_ok "server up"; finish; exit 1; }
f0=$(json_num "$(curl -s "$BASE/status")" frames)
out=$("$BUILD/tools/tornread" --port "$port" --dir "$TMP/frames" --clients 200 \
	--seconds 10 --seed "$RANDOM$RANDOM")
rc=$?
f1=$(json_num "$(curl -s "$BASE/status")" frames)
echo "  tornread: $out"
echo "  capture published $((f1 - f0)) frames during the run"
check "tornread exit status 0" [ "$rc" = 0 ]
check "no part that is not one of the published pictures" [ "$(json_num "$out" unmatched)" = 0 ]
check "one X-Timestamp, one picture" [ "$(json_num "$out" ts_conflicts)" = 0 ]
check "no connection broke" [ "$(json_num "$out" failed)" = 0 ]
check "every reader got parts (fewest: $(json_num "$out" min_parts))" [ "$(json_num "$out" min_parts)" -ge 1 ]
check "many distinct frames were checked ($(json_num "$out" distinct_ts))" [ "$(json_num "$out" distinct_ts)" -ge 200 ]
check "capture published fast (>= 100 fps: $((f1 - f0)) in 10 s)" [ $((f1 - f0)) -ge 1000 ]
check "the server is still healthy" [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")" = 200 ]
finish
