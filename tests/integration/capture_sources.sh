#!/bin/bash
# forkcast-capture standalone with the testpattern and files sources:
# frame rate (loosely), every dumped frame decodes, metadata (size, flags,
# increasing sequence and timestamps), files passed through byte for
# byte, bad files skipped, an empty folder gives no-signal frames, config
# errors exit 2, SIGTERM exits 0, drop_same_frames in a real process.
. "$(dirname "$0")/lib.sh"

CAP=$BUILD/forkcast-capture
CHECK=$BUILD/tools/jpegcheck
SAMPLES=$ROOT/tests/data/samples
[ -x "$CAP" ] && [ -x "$CHECK" ] || { echo "skip: $CAP or $CHECK not built"; exit 77; }

# conf NAME LINES...: writes $TMP/NAME.conf with a [capture] section.
conf() {
	local name=$1; shift
	{ echo "[capture]"; echo "idle_stop = 0"; for l in "$@"; do echo "$l"; done; } >"$TMP/$name.conf"
}

# run NAME FRAMES: runs capture until FRAMES frames were published, dumping
# into $TMP/NAME; stdout in $TMP/NAME.out, stderr in $TMP/NAME.err, wall
# time in ms in ELAPSED_MS.  Returns capture's exit status.
run() {
	local name=$1 frames=$2 t0 rc
	t0=$(date +%s%N)
	timeout 30 "$CAP" -c "$TMP/$name.conf" --frames "$frames" --dump "$TMP/$name" \
		>"$TMP/$name.out" 2>"$TMP/$name.err"
	rc=$?
	ELAPSED_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
	return $rc
}

# field NAME KEY: a key=value field of the exit summary line.
field() { tr ' ' '\n' <"$TMP/$1.out" | sed -n "s/^$2=//p"; }

# all_decode NAME W H: every dumped frame decodes to W x H.
all_decode() {
	local name=$1 w=$2 h=$3
	"$CHECK" "$TMP/$name"/frame-*.jpg >"$TMP/$name.check" || return 1
	! awk -v w="$w" -v h="$h" '$2 != w || $3 != h { bad = 1 } END { exit !bad }' "$TMP/$name.check"
}

# index_ok NAME N W H FLAGS: frames.txt has N lines, seq 1..N, the size
# and flags given, strictly increasing timestamps.
index_ok() {
	awk -v n="$2" -v w="$3" -v h="$4" -v fl="$5" '
		{ if ($1 != NR || $3 != w || $4 != h || $5 != fl) bad = 1
		  if (NR > 1 && ($6 <= real || $7 <= mono)) bad = 1
		  real = $6; mono = $7 }
		END { exit (bad || NR != n) }' "$TMP/$1/frames.txt"
}

# rate NAME: frames per second from the first to the last capture time.
rate() {
	awk '{ if (NR == 1) first = $7; last = $7 }
	     END { if (NR > 1) printf "%.1f", (NR - 1) * 1e9 / (last - first); else print 0 }' \
		"$TMP/$1/frames.txt"
}

in_range() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }

echo "# testpattern 320x240 at 30 fps, 45 frames"
conf tp "source = testpattern" "width = 320" "height = 240" "fps = 30" "quality = 70"
run tp 45; rc=$?
check "testpattern exits 0 after --frames" [ "$rc" -eq 0 ]
r=$(rate tp)
echo "  testpattern: 45 frames in ${ELAPSED_MS} ms, capture rate $r fps"
check "testpattern rate near 30 fps ($r)" in_range "$r" 24 36
check "testpattern wall time plausible (${ELAPSED_MS} ms)" in_range "$ELAPSED_MS" 1000 6000
check "testpattern frames all decode at 320x240" all_decode tp 320 240
check "testpattern index: seq, size, flags, timestamps" index_ok tp 45 320 240 0
check "testpattern frames differ (motion)" bash -c "! cmp -s '$TMP/tp/frame-000001.jpg' '$TMP/tp/frame-000002.jpg'"
check "testpattern summary: 45 published" [ "$(field tp frames_published)" = 45 ]
check "testpattern summary: 45 encoded" [ "$(field tp frames_encoded)" = 45 ]
check "testpattern summary: source and state" [ "$(field tp source)/$(field tp state)" = testpattern/stopped ]
check "testpattern summary: encode time recorded" [ "$(field tp encode_ns_total)" -gt 0 ]
echo "  testpattern encode: $(( $(field tp encode_ns_total) / 45000 )) us/frame at 320x240"

echo "# files: bundled samples at 10 fps"
conf bundled "source = files" "fps = 10"
run bundled 7; rc=$?
check "bundled files exit 0" [ "$rc" -eq 0 ]
r=$(rate bundled)
echo "  bundled: 7 frames in ${ELAPSED_MS} ms, capture rate $r fps"
check "bundled rate near 10 fps ($r)" in_range "$r" 8 12
check "bundled frames pass through byte for byte, in name order" bash -c "
	cmp -s '$TMP/bundled/frame-000001.jpg' '$SAMPLES/sample-1.jpg' &&
	cmp -s '$TMP/bundled/frame-000002.jpg' '$SAMPLES/sample-2.jpg' &&
	cmp -s '$TMP/bundled/frame-000003.jpg' '$SAMPLES/sample-3.jpg' &&
	cmp -s '$TMP/bundled/frame-000004.jpg' '$SAMPLES/sample-1.jpg'"
check "bundled frames decode" all_decode bundled 640 360
check "bundled index" index_ok bundled 7 640 360 0
check "bundled: nothing encoded" [ "$(field bundled frames_encoded)" = 0 ]

echo "# files: a folder with bad files"
mkdir -p "$TMP/pics"
cp "$SAMPLES/sample-2.jpg" "$TMP/pics/b.jpg"
cp "$SAMPLES/sample-3.jpg" "$TMP/pics/c.JPEG"
echo "not a jpeg" >"$TMP/pics/a.jpg"
head -c 3000 "$SAMPLES/sample-1.jpg" >"$TMP/pics/d-truncated.jpg"
echo "ignored" >"$TMP/pics/notes.txt"
conf mixed "source = files" "fps = 20" "directory = $TMP/pics"
run mixed 4; rc=$?
check "mixed folder exits 0" [ "$rc" -eq 0 ]
check "bad file named in a warning" grep -q "a.jpg: skipped" "$TMP/mixed.err"
check "truncated file named in a warning" grep -q "d-truncated.jpg: skipped" "$TMP/mixed.err"
check "good files played in order" bash -c "
	cmp -s '$TMP/mixed/frame-000001.jpg' '$TMP/pics/b.jpg' &&
	cmp -s '$TMP/mixed/frame-000002.jpg' '$TMP/pics/c.JPEG' &&
	cmp -s '$TMP/mixed/frame-000003.jpg' '$TMP/pics/b.jpg'"

echo "# files: an empty folder fails and shows no-signal"
mkdir -p "$TMP/nopics"
conf empty "source = files" "directory = $TMP/nopics" "width = 320" "height = 180"
run empty 2; rc=$?
check "empty folder: still exits 0" [ "$rc" -eq 0 ]
check "empty folder: clear error" grep -q "no usable" "$TMP/empty.err"
check "empty folder: no-signal frames (flag 1) at the configured size" index_ok empty 2 320 180 1
check "empty folder: no-signal frames decode" all_decode empty 320 180
echo "  no-signal: 2 frames in ${ELAPSED_MS} ms"
check "empty folder: about one no-signal frame a second" in_range "$ELAPSED_MS" 700 3000

echo "# bad configuration and arguments"
printf '[capture]\nfps = 0\nsource = nonsense\n' >"$TMP/bad.conf"
"$CAP" -c "$TMP/bad.conf" >"$TMP/bad.out" 2>"$TMP/bad.err"; rc=$?
check "bad config exits 2" [ "$rc" -eq 2 ]
check "bad config names the key" grep -q "fps" "$TMP/bad.err"
"$CAP" -c "$TMP/tp.conf" --bus-fd 99 >/dev/null 2>"$TMP/badfd.err"; rc=$?
check "unusable --bus-fd exits 2" [ "$rc" -eq 2 ]
"$CAP" --frames nope >/dev/null 2>&1; rc=$?
check "bad argument exits 2" [ "$rc" -eq 2 ]

echo "# SIGTERM and drop_same_frames in a running process"
mkdir -p "$TMP/one"
cp "$SAMPLES/sample-1.jpg" "$TMP/one/only.jpg"
conf same "source = files" "fps = 20" "directory = $TMP/one" "drop_same_frames = yes"
"$CAP" -c "$TMP/same.conf" >"$TMP/same.out" 2>"$TMP/same.err" &
pid=$!
PIDS+=("$pid")
sleep 2.3
kill -TERM "$pid"
t0=$(date +%s%N)
wait "$pid"; rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "SIGTERM: exit 0 (${ms} ms)" [ "$rc" -eq 0 ]
check "SIGTERM: state stopped" [ "$(field same state)" = stopped ]
pub=$(field same frames_published); same=$(field same dropped_same)
echo "  drop_same_frames: published $pub, dropped $same in 2.3 s at 20 fps"
check "drop_same_frames: one frame a second still published ($pub)" in_range "$pub" 2 4
check "drop_same_frames: the rest dropped ($same)" in_range "$same" 30 50

echo "# figure: CPU for 1080p at 30 fps (printed, not asserted)"
conf hd "source = testpattern" "width = 1920" "height = 1080" "fps = 30"
TIMEFORMAT='%R %U %S'
t=$( { time "$CAP" -c "$TMP/hd.conf" --frames 60 >"$TMP/hd.out" 2>/dev/null; } 2>&1 )
echo "$t" | awk '{ printf "  1080p30 testpattern: %.1f%% of one core (%.2f s wall, %.2f s cpu)\n", ($2 + $3) * 100 / $1, $1, $2 + $3 }'
echo "  1080p encode: $(( $(field hd encode_ns_total) / 60000 )) us/frame"

finish
