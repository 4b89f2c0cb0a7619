#!/bin/bash
# Real clients camera users run, against a forkcast test pattern at
# 640x360, 15 fps: ffprobe/ffmpeg (reading, decoding, recording),
# GStreamer (souphttpsrc ! multipartdemux), OpenCV (cv2.VideoCapture) and a
# Home Assistant-style client (mjpeg_url = /stream, still_image_url =
# /snapshot polled on one keep-alive connection), VLC 3.0 (cvlc recording
# to files) and motion 4.5 (two network cameras saving pictures).  Each
# client whose tool is missing is skipped with a message
# (scripts/install-deps installs them); the README section "Recording and
# other clients" shows the same commands.
. "$(dirname "$0")/lib.sh"

W=640
H=360
FPS=15
SKIPPED=0
# Debian's python3, where python3-opencv puts cv2 (not a pyenv one).
PY=/usr/bin/python3

skip() { SKIPPED=$((SKIPPED + 1)); echo "  skip - $*"; }
have() { command -v "$1" >/dev/null 2>&1; }

# now: seconds since the epoch, with fractions.
now() { date +%s.%N; }
# within VALUE LOW HIGH: LOW <= VALUE <= HIGH (decimals).
within() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }
# duration_of FILE, frames_of FILE: a recording's length in seconds and
# its decoded video frames, as ffprobe reads them (empty when it cannot).
duration_of() { ffprobe -v error -show_entries format=duration -of csv=p=0 "$1" 2>/dev/null; }
frames_of() {
	ffprobe -v error -count_frames -select_streams v:0 \
		-show_entries stream=nb_read_frames -of csv=p=0 "$1" 2>/dev/null
}

port=$(free_port) || exit 1
write_config "$TMP/a.conf" "$port" "workers = 2" \
	"[capture]" "width = $W" "height = $H" "fps = $FPS" "idle_stop = 0"
start_server "$TMP/a.conf" "$TMP/a.log" || exit 1
URL="$BASE/stream"

# --- ffprobe / ffmpeg ---
if have ffprobe && have ffmpeg; then
	out=$(ffprobe -v error -select_streams v:0 \
		-show_entries stream=codec_name,width,height -of csv=p=0 "$URL" 2>"$TMP/probe.err")
	check "ffprobe reads /stream: $out" [ "$out" = "mjpeg,$W,$H" ]
	check "ffprobe: no error output" [ ! -s "$TMP/probe.err" ]

	# Decode N seconds of wall time (the mpjpeg demuxer has no frame
	# times of its own; -use_wallclock_as_timestamps gives it the
	# arrival times, so -t counts seconds, not 25 fps frames).
	N=4
	frames=$(ffmpeg -nostdin -v error -use_wallclock_as_timestamps 1 -i "$URL" \
		-t $N -f null - -progress pipe:1 2>"$TMP/dec.err" |
		sed -n 's/^frame=//p' | tail -n 1)
	echo "  ffmpeg decoded $frames frames in $N s (expected about $((FPS * N)))"
	check "ffmpeg decodes $N s of /stream with no error output" [ ! -s "$TMP/dec.err" ]
	check_that "ffmpeg frame count $frames near $((FPS * N))" \
		'[ "${frames:-0}" -ge $((FPS * N - FPS / 2)) ] && [ "${frames:-0}" -le $((FPS * N + FPS / 2)) ]'

	# Without them ffmpeg stamps the frames at 25 fps: -t 2 is 50 frames.
	frames=$(ffmpeg -nostdin -v error -i "$URL" -t 2 -f null - -progress pipe:1 \
		2>/dev/null | sed -n 's/^frame=//p' | tail -n 1)
	check "without wall-clock stamps, -t 2 is 50 frames (25 fps assumed): $frames" [ "$frames" = 50 ]
	opts=$(ffmpeg -hide_banner -h demuxer=mpjpeg 2>&1 | grep -c '^ *-[a-z]')
	check "the mpjpeg demuxer's only option is strict_mime_boundary" \
		bash -c "[ '$opts' = 1 ] && ffmpeg -hide_banner -h demuxer=mpjpeg 2>&1 | grep -q '^ *-strict_mime_boundary'"

	# ?maxtime=2: the stream ends with the close delimiter.  ffmpeg 5.1
	# decodes every part to the end, then its http protocol reports the
	# end of a body that had neither Content-Length nor chunked encoding
	# as "Stream ends prematurely" (it does for any such body; the
	# mpjpeg demuxer does not stop at the close delimiter): exactly
	# that, and nothing from the decoder.
	frames=$(ffmpeg -nostdin -v error -i "$URL?maxtime=2" -f null - -progress pipe:1 \
		2>"$TMP/end.err" | sed -n 's/^frame=//p' | tail -n 1)
	rc=${PIPESTATUS[0]}
	echo "  ffmpeg, ?maxtime=2: exit $rc, $frames frames; its error output:"
	sed 's/^/    | /' "$TMP/end.err"
	check_that "ffmpeg decodes ?maxtime=2 to the end (exit $rc, $frames frames)" \
		'[ "$rc" = 0 ] && [ "${frames:-0}" -ge $((FPS * 2 - FPS / 2)) ] && [ "${frames:-0}" -le $((FPS * 2 + FPS / 2)) ]'
	check "ffmpeg, ?maxtime=2: no decoder errors, only the http end-of-body lines" \
		bash -c "! grep -v -e 'Stream ends prematurely' -e 'maxtime=2: Input/output error' '$TMP/end.err' | grep -q ."

	# Recording with wall-clock timestamps and stream copy.
	t0=$(now)
	ffmpeg -nostdin -v error -use_wallclock_as_timestamps 1 -i "$URL" -t 5 \
		-c copy "$TMP/rec.mkv" 2>"$TMP/rec.err"
	wall=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
	dur=$(duration_of "$TMP/rec.mkv")
	n=$(frames_of "$TMP/rec.mkv")
	echo "  ffmpeg -use_wallclock_as_timestamps 1 -t 5 -c copy: duration $dur s, $n frames, wall $wall s"
	check "recording: no error output" [ ! -s "$TMP/rec.err" ]
	check "recording: duration $dur s matches 5 s of wall time (4.7..5.3)" within "${dur:-0}" 4.7 5.3
	check "recording: $n frames at $FPS fps" within "${n:-0}" $((FPS * 5 - FPS / 2)) $((FPS * 5 + FPS / 2))

	# The frame-rate alternative: -r as an input option stamps the
	# frames at a constant rate.  With ffmpeg 5.1 that holds when
	# re-encoding (-c:v mjpeg); with -c copy it does not (the copy
	# keeps the demuxer's 25 fps stamps), so only this form is shown.
	t0=$(now)
	ffmpeg -nostdin -v error -r $FPS -i "$URL" -t 5 -c:v mjpeg \
		"$TMP/rate.mkv" 2>"$TMP/rate.err"
	wall=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
	dur=$(duration_of "$TMP/rate.mkv")
	n=$(frames_of "$TMP/rate.mkv")
	echo "  ffmpeg -r $FPS -i URL -t 5 -c:v mjpeg: duration $dur s, $n frames, wall $wall s"
	check "recording with -r $FPS: no error output" [ ! -s "$TMP/rate.err" ]
	check "recording with -r $FPS: wall time $wall s matches 5 s (4.5..6.0)" within "$wall" 4.5 6.0
	check_that "recording with -r $FPS: $n frames, duration $dur s" \
		'within "${n:-0}" $((FPS * 5 - 1)) $((FPS * 5 + 1)) && within "${dur:-0}" 4.9 5.1'
	# With -c copy, -r does not apply: 2 s of file are 50 frames.
	ffmpeg -nostdin -v error -r $FPS -i "$URL" -t 2 -c copy "$TMP/ratecopy.mkv" 2>/dev/null
	n=$(frames_of "$TMP/ratecopy.mkv")
	check "-r $FPS with -c copy does not apply: -t 2 holds $n frames (25 fps)" [ "$n" = 50 ]
else
	skip "ffmpeg/ffprobe not installed (Debian package ffmpeg)"
fi

# --- GStreamer ---
if have gst-launch-1.0 && gst-inspect-1.0 souphttpsrc >/dev/null 2>&1 &&
	gst-inspect-1.0 multipartdemux >/dev/null 2>&1 &&
	gst-inspect-1.0 jpegdec >/dev/null 2>&1; then
	# Count decoded frames: fakesink silent=false with -v prints one
	# "last-message = chain" line per buffer.
	timeout 20 gst-launch-1.0 -v souphttpsrc location="$URL?maxtime=4" ! \
		multipartdemux ! jpegdec ! fakesink silent=false >"$TMP/gst.out" 2>&1
	rc=$?
	n=$(grep -c 'last-message = chain' "$TMP/gst.out")
	bytes=$(grep -m 1 -o 'last-message = chain .*(\([0-9]*\) bytes' "$TMP/gst.out" |
		sed 's/.*(\([0-9]*\) bytes/\1/')
	echo "  gst-launch-1.0 souphttpsrc ! multipartdemux ! jpegdec: exit $rc, $n frames in 4 s, $bytes bytes each"
	check "GStreamer plays ?maxtime=4 to its end (exit $rc)" [ "$rc" = 0 ]
	check "GStreamer: $n frames at the source rate ($((FPS * 4)) expected)" \
		within "$n" $((FPS * 4 - FPS / 2)) $((FPS * 4 + FPS / 2))
	check "GStreamer: decoded frames are ${W}x$H I420 ($bytes bytes)" [ "$bytes" = $((W * H * 3 / 2)) ]
	check "GStreamer: no errors" bash -c "! grep -q -e '^ERROR' -e 'WARNING' '$TMP/gst.out'"

	# Recording through videorate (do-timestamp gives the parts their
	# arrival times; is-live keeps the source from running ahead while
	# the pipeline prerolls).
	if gst-inspect-1.0 videorate >/dev/null 2>&1 && gst-inspect-1.0 jpegenc >/dev/null 2>&1 &&
		gst-inspect-1.0 matroskamux >/dev/null 2>&1; then
		t0=$(now)
		timeout 20 gst-launch-1.0 -q -e souphttpsrc location="$URL?maxtime=5" \
			is-live=true do-timestamp=true ! multipartdemux ! jpegdec ! \
			videorate ! video/x-raw,framerate=$FPS/1 ! jpegenc ! matroskamux ! \
			filesink location="$TMP/gst.mkv" >"$TMP/gstrec.out" 2>&1
		rc=$?
		wall=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
		dur=$(duration_of "$TMP/gst.mkv")
		n=$(frames_of "$TMP/gst.mkv")
		echo "  GStreamer videorate recording: exit $rc, duration $dur s, $n frames, wall $wall s"
		check_that "GStreamer recording: exit 0, no output" '[ "$rc" = 0 ] && [ ! -s "$TMP/gstrec.out" ]'
		if have ffprobe; then
			check "GStreamer recording: duration $dur s matches 5 s of stream (4.7..5.4)" within "${dur:-0}" 4.7 5.4
			check "GStreamer recording: $n frames at $FPS fps" \
				within "${n:-0}" $((FPS * 5 - FPS / 2)) $((FPS * 5 + FPS / 2))
		fi
	else
		skip "GStreamer videorate/jpegenc/matroskamux missing (gstreamer1.0-plugins-base, -good)"
	fi
else
	skip "GStreamer not installed (gstreamer1.0-tools, gstreamer1.0-plugins-good)"
fi

# --- OpenCV ---
if [ -x "$PY" ] && "$PY" -c 'import cv2' 2>/dev/null; then
	out=$("$PY" - "$URL" <<'EOF' 2>"$TMP/cv.err"
import sys, time
import cv2
cap = cv2.VideoCapture(sys.argv[1])
if not cap.isOpened():
    print("not opened")
    sys.exit(1)
shapes, n, t0 = set(), 0, time.time()
while n < 100:
    ok, frame = cap.read()
    if not ok:
        break
    shapes.add(frame.shape)
    n += 1
cap.release()
print(n, ",".join(str(s) for s in sorted(shapes)).replace(" ", ""),
      "%.2f" % (time.time() - t0))
EOF
)
	echo "  OpenCV cv2.VideoCapture: frames, shapes, seconds: $out"
	set -- $out
	check "OpenCV reads 100 frames" [ "${1:-0}" = 100 ]
	check "OpenCV frames are ($H, $W, 3)" [ "${2:-}" = "($H,$W,3)" ]
else
	skip "OpenCV for $PY not installed (python3-opencv)"
fi

# --- Home Assistant's MJPEG camera: mjpeg_url and still_image_url ---
if [ -x "$PY" ]; then
	out=$("$PY" - "127.0.0.1" "$port" <<'EOF' 2>"$TMP/ha.err"
import http.client, sys
host, port = sys.argv[1], int(sys.argv[2])
# still_image_url: three snapshots on one keep-alive connection.
c = http.client.HTTPConnection(host, port, timeout=5)
stills = []
for _ in range(3):
    c.request("GET", "/snapshot")
    r = c.getresponse()
    body = r.read()
    stills.append("%d:%s:%d" % (r.status, r.getheader("Content-Type"),
                                body[:2] == b"\xff\xd8" and body[-2:] == b"\xff\xd9"))
    sock = c.sock
print(" ".join(stills), "reused" if sock is not None and c.sock is sock else "new")
# mjpeg_url: the multipart stream, parts cut by their Content-Length.
c = http.client.HTTPConnection(host, port, timeout=5)
c.request("GET", "/stream")
r = c.getresponse()
ctype = r.getheader("Content-Type")
parts = 0
while parts < 10:
    line = r.fp.readline()
    if not line.startswith(b"--"):
        continue
    headers = {}
    while True:
        h = r.fp.readline().strip()
        if not h:
            break
        k, v = h.split(b":", 1)
        headers[k.strip().lower()] = v.strip()
    jpeg = r.fp.read(int(headers[b"content-length"]))
    if jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9":
        parts += 1
print(ctype, parts)
EOF
)
	echo "  Home Assistant style client: $(tr '\n' ' ' <<<"$out")"
	stills=$(head -n 1 <<<"$out")
	stream=$(sed -n 2p <<<"$out")
	check "still_image_url: three whole JPEGs on one keep-alive connection" \
		[ "$stills" = "200:image/jpeg:1 200:image/jpeg:1 200:image/jpeg:1 reused" ]
	check "mjpeg_url: multipart/x-mixed-replace, 10 whole JPEG parts" \
		[ "$stream" = "multipart/x-mixed-replace;boundary=forkcastframe 10" ]
	check "Home Assistant style client: no error output" [ ! -s "$TMP/ha.err" ]
else
	skip "no $PY for the Home Assistant style client"
fi

# --- VLC 3.0 (cvlc) ---
# VLC refuses to run as root ("VLC is not supposed to be run as root"), so
# the test runs it as the unprivileged user nobody through setpriv (which
# execs cvlc, so the PID timeout ends is VLC's own), with a HOME and an
# output folder owned by nobody.  --no-dbus and --aout=dummy keep it from
# looking for a session bus and a sound server this headless machine does
# not have.
VLCPLUG=$(ls -d /usr/lib/*/vlc/plugins 2>/dev/null | head -n 1)
if have cvlc && have setpriv && have ffprobe && id nobody >/dev/null 2>&1 &&
	[ -e "$VLCPLUG/demux/libmjpeg_plugin.so" ] && [ -e "$VLCPLUG/mux/libmux_mpjpeg_plugin.so" ]; then
	mkdir "$TMP/vlc" && chown nobody "$TMP/vlc"
	vlc_nobody() {	# vlc_nobody SECONDS ARGS...: cvlc as nobody, ended after SECONDS
		local secs=$1; shift
		timeout -k 5 "$secs" setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" \
			--clear-groups env HOME="$TMP/vlc" cvlc --no-dbus --aout=dummy "$@"
	}
	# vlc_errors LOG: VLC's error lines other than the ones a headless
	# machine gets (no hotkeys interface) and 'no EOL' at the end of the
	# stream.
	vlc_errors() {
		grep ' error: ' "$1" | grep -v -e 'interface "globalhotkeys,none" initialization failed' \
			-e 'main interface error: no suitable interface module' -e 'mjpeg demux error: no EOL'
	}

	# Recording ?maxtime=4 with stream copy into a multipart file: the
	# close delimiter ends VLC's input, vlc://quit then ends VLC.
	t0=$(now)
	vlc_nobody 20 "$URL?maxtime=4" --sout "#std{access=file,mux=mpjpeg,dst=$TMP/vlc/rec.mjpg}" \
		vlc://quit >"$TMP/vlc.log" 2>&1
	rc=$?
	wall=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
	out=$(ffprobe -v error -count_frames -select_streams v:0 \
		-show_entries stream=codec_name,width,height,nb_read_frames -of csv=p=0 "$TMP/vlc/rec.mjpg" 2>&1)
	n=${out##*,}
	echo "  cvlc URL?maxtime=4 --sout mpjpeg: exit $rc, wall $wall s, ffprobe: $out"
	check_that "VLC records ?maxtime=4 and quits (exit $rc, wall $wall s)" \
		'[ "$rc" = 0 ] && within "$wall" 3.5 10'
	check_that "VLC recording: ${W}x$H MJPEG, $n frames ($((FPS * 4)) expected)" \
		'[ "${out%,*}" = "mjpeg,$W,$H" ] && within "${n:-0}" $((FPS * 4 - FPS / 2)) $((FPS * 4 + FPS / 2))'
	check "VLC: its mjpeg demuxer logs 'no EOL' once, at the close delimiter" \
		[ "$(grep -c 'mjpeg demux error: no EOL' "$TMP/vlc.log")" = 1 ]
	check "VLC: no other errors" [ -z "$(vlc_errors "$TMP/vlc.log")" ]

	# The alias /stream.mjpg into AVI: --mjpeg-fps gives the frames a
	# constant rate.
	if [ -e "$VLCPLUG/mux/libmux_avi_plugin.so" ]; then
		vlc_nobody 20 --mjpeg-fps $FPS "$BASE/stream.mjpg?maxtime=4" \
			--sout "#std{access=file,mux=avi,dst=$TMP/vlc/rec.avi}" vlc://quit >"$TMP/vlcavi.log" 2>&1
		rc=$?
		out=$(ffprobe -v error -count_frames -select_streams v:0 \
			-show_entries stream=codec_name,width,height,r_frame_rate,nb_read_frames \
			-of csv=p=0 "$TMP/vlc/rec.avi" 2>&1)
		dur=$(duration_of "$TMP/vlc/rec.avi")
		n=${out##*,}
		echo "  cvlc --mjpeg-fps $FPS /stream.mjpg?maxtime=4 --sout avi: exit $rc, duration $dur s, ffprobe: $out"
		check "VLC records /stream.mjpg into AVI (exit $rc)" [ "$rc" = 0 ]
		check_that "VLC AVI: ${W}x$H MJPEG at $FPS/1 fps, $n frames, $dur s" \
			'[ "${out%,*}" = "mjpeg,$W,$H,$FPS/1" ] &&
			within "${n:-0}" $((FPS * 4 - FPS / 2)) $((FPS * 4 + FPS / 2)) && within "${dur:-0}" 3.4 4.6'
		check "VLC AVI: no other errors" [ -z "$(vlc_errors "$TMP/vlcavi.log")" ]
	else
		skip "VLC avi muxer missing (vlc-plugin-base)"
	fi

	# --run-time does not end a live stream: VLC records until it is
	# stopped (here by timeout).
	vlc_nobody 6 --run-time 1 "$URL" --sout "#std{access=file,mux=mpjpeg,dst=$TMP/vlc/rt.mjpg}" \
		vlc://quit >/dev/null 2>&1
	rc=$?
	n=$(frames_of "$TMP/vlc/rt.mjpg")
	echo "  cvlc --run-time 1 URL: ended by timeout after 6 s (exit $rc), $n frames"
	check_that "VLC --run-time 1 does not stop a live /stream (still recording at 6 s: exit $rc, $n frames)" \
		'[ "$rc" = 124 ] && [ "${n:-0}" -gt $((FPS * 3)) ]'
else
	skip "VLC not installed (vlc-bin, vlc-plugin-base; setpriv from util-linux, ffprobe from ffmpeg)"
fi

# --- motion 4.5 as a network camera consumer ---
# Two motion cameras at once, each a foreground motion (-n) with its own
# config file in TMP and ended by its PID: netcam_url http://... (motion
# 4.5 reads it through ffmpeg) and mjpeg://... with netcam_params
# keepalive = on (motion's own MJPEG reader, HTTP/1.1).  emulate_motion
# with picture_output saves every frame once motion's startup frames are
# past (about 4 s after it connects).
if have motion && [ -x "$BUILD/tools/jpegcheck" ]; then
	for c in http mjpeg; do
		mkdir "$TMP/motion-$c"
		{
			echo "daemon off"
			echo "camera_name forkcast-$c"
			echo "netcam_url $c://127.0.0.1:$port/stream"
			[ "$c" = mjpeg ] && echo "netcam_params keepalive = on"
			echo "width $W"
			echo "height $H"
			echo "framerate $FPS"
			echo "emulate_motion on"
			echo "picture_output on"
			echo "picture_filename %Y%m%d%H%M%S-%q"
			echo "target_dir $TMP/motion-$c"
			echo "movie_output off"
			echo "webcontrol_port 0"
			echo "stream_port 0"
		} >"$TMP/motion-$c.conf"
	done
	t0=$(now)
	motion -n -c "$TMP/motion-http.conf" -l "$TMP/motion-http.log" >"$TMP/motion-http.out" 2>&1 &
	mp_http=$!
	PIDS+=("$mp_http")
	motion -n -c "$TMP/motion-mjpeg.conf" -l "$TMP/motion-mjpeg.log" >"$TMP/motion-mjpeg.out" 2>&1 &
	mp_mjpeg=$!
	PIDS+=("$mp_mjpeg")
	# Until both have saved 3 s of pictures, at most 30 s.
	for _ in $(seq 1 300); do
		a=$(ls "$TMP/motion-http" | wc -l)
		b=$(ls "$TMP/motion-mjpeg" | wc -l)
		[ "$a" -ge $((FPS * 3)) ] && [ "$b" -ge $((FPS * 3)) ] && break
		alive "$mp_http" && alive "$mp_mjpeg" || break
		sleep 0.1
	done
	wall=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
	echo "  motion: $a (http://) and $b (mjpeg://) pictures after $wall s"
	kill -TERM "$mp_http" "$mp_mjpeg" 2>/dev/null
	for c in http mjpeg; do
		[ "$c" = http ] && mp=$mp_http || mp=$mp_mjpeg
		for _ in $(seq 1 100); do alive "$mp" || break; sleep 0.1; done
		wait "$mp"
		rc=$?
		n=$(ls "$TMP/motion-$c" | wc -l)
		sizes=$(cd "$TMP/motion-$c" && "$BUILD/tools/jpegcheck" *.jpg | awk '{ print $2 "x" $3 }' | sort | uniq -c | tr -s ' ')
		# Pictures per second of the whole seconds (first and last cut).
		persec=$(ls "$TMP/motion-$c" | cut -c 1-14 | uniq -c | awk '{ print $1 }' | sed '1d;$d' | tr '\n' ' ')
		echo "  motion $c://: exit $rc, $n pictures:$sizes; per second: $persec"
		check_that "motion $c:// ends on SIGTERM (exit $rc), log ends with 'Motion terminating'" \
			'[ "$rc" = 0 ] && grep -q "main: Motion terminating" "$TMP/motion-$c.log"'
		check_that "motion $c:// saved at least $((FPS * 3)) pictures, all whole ${W}x$H JPEGs ($n)" \
			'[ "$n" -ge $((FPS * 3)) ] && [ "$sizes" = " $n ${W}x$H" ]'
		check "motion $c://: no error lines in its log" \
			bash -c "! grep -e '\[ERR\]' -e '\[EMG\]' -e '\[ALR\]' -e '\[CRT\]' '$TMP/motion-$c.log'"
	done
	check "motion http:// connected through ffmpeg" \
		grep -q 'netcam_rtsp_connect: norm: Camera (forkcast-http) connected' "$TMP/motion-http.log"
	check "motion mjpeg:// connected with its own reader" \
		grep -q 'netcam_setup_html: connected, going on to read image' "$TMP/motion-mjpeg.log"
else
	skip "motion not installed (motion), or build/tools/jpegcheck not built"
fi

echo "  ($SKIPPED clients skipped)"
finish
