#!/bin/bash
# The HTTP API end to end: every endpoint and alias, HEAD, streamed bytes
# equal what capture published, per-client options on every alias,
# /metrics format, /events and /status?view=page (the viewer page's poll),
# auth, CORS and its preflight (OPTIONS), strict request heads and
# allowed_hosts.
. "$(dirname "$0")/lib.sh"

port=$(free_port) || exit 1
mkdir -p "$TMP/frames"
sample=$(ls "$ROOT"/tests/data/samples/*.jpg | head -n 1)
cp "$sample" "$TMP/frames/only.jpg"
size=$(stat -c %s "$sample")
write_config "$TMP/a.conf" "$port" "workers = 2" "allow_origin = *" \
	"[capture]" "source = files" "directory = $TMP/frames" "fps = 10" "idle_stop = 0"
start_server "$TMP/a.conf" "$TMP/a.log" || exit 1

# Viewer page.
code=$(curl -s -o "$TMP/page" -w '%{http_code} %{content_type}' "$BASE/")
check "GET / is the viewer page" [ "$code" = "200 text/html; charset=utf-8" ]
check "viewer page streams with a plain <img>" grep -q '/stream' "$TMP/page"

# Stream and its aliases.
for path in /stream /video_feed '/?action=stream' '/?action=stream_0' /stream.mjpg; do
	curl -s --max-time 1.5 -D "$TMP/h" -o "$TMP/s" "$BASE$path"
	ct=$(tr -d '\r' <"$TMP/h" | sed -n 's/^Content-Type: *//Ip')
	parts=$(grep -ac "Content-Length: $size" "$TMP/s")
	check "$path is multipart/x-mixed-replace" grep -q 'multipart/x-mixed-replace' <<<"$ct"
	check "$path delivered several whole parts ($parts)" [ "$parts" -ge 3 ]
done
check "stream responses are not cached" grep -qi '^Cache-Control: no-store' "$TMP/h"
check "stream responses tell nginx not to buffer" grep -qi '^X-Accel-Buffering: no' "$TMP/h"
check "stream responses are not chunked" bash -c "! grep -qi '^Transfer-Encoding' '$TMP/h'"
check "CORS header from allow_origin" grep -qi '^Access-Control-Allow-Origin: \*' "$TMP/h"
check "parts carry X-Timestamp" grep -aq 'X-Timestamp: [0-9]*\.[0-9]\{6\}' "$TMP/s"

# Per-client options work on every alias: fps=2 for 2.5 s is at most 6
# parts (the source runs at 10 fps); without it, about 25.
for path in '/?action=stream_0&fps=2' '/stream.mjpg?fps=2' '/?fps=2&action=stream'; do
	curl -s --max-time 2.5 -o "$TMP/s" "$BASE$path"
	parts=$(grep -ac "Content-Length: $size" "$TMP/s")
	check "$path caps the rate ($parts parts in 2.5 s)" [ "$parts" -ge 2 -a "$parts" -le 7 ]
done
curl -s --max-time 2.5 -o "$TMP/s" "$BASE/stream.mjpg?framing=full"
parts=$(grep -ac "Content-Length: $size" "$TMP/s")
check "/stream.mjpg without fps is not capped ($parts parts in 2.5 s)" [ "$parts" -ge 12 ]
check "/?action=stream_0&maxtime=1 ends by itself" \
	timeout 5 curl -s -o /dev/null "$BASE/?action=stream_0&maxtime=1"
check "/?action=stream_0&fps=0 is a bad request" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/?action=stream_0&fps=0")" = 400 ]

# Every kind of response names the server and its version.
version=$(sed -n 's/^VERSION = //p' "$ROOT/Makefile")
server_of() {	# server_of CURL-ARGS...: the Server header of the response
	curl -s -D - -o /dev/null --max-time 1 "$@" 2>/dev/null | tr -d '\r' |
		sed -n 's/^Server: *//Ip' | head -n 1
}
for req in "$BASE/status" "$BASE/status?view=page" "$BASE/nope" "$BASE/stream" "$BASE/events" \
    "$BASE/snapshot" "-X OPTIONS $BASE/status" "-X POST $BASE/status" \
    "-H Host: $BASE/status"; do
	# shellcheck disable=SC2086
	check "Server: forkcast/$version on curl $req" \
		[ "$(server_of $req)" = "forkcast/$version" ]
done

# CORS preflight with allow_origin set: 204 and the allow headers.
curl -s -X OPTIONS -D "$TMP/pf" -o "$TMP/pfbody" -w '%{http_code}' \
	-H 'Origin: http://page.example' -H 'Access-Control-Request-Method: GET' \
	-H 'Access-Control-Request-Headers: authorization' "$BASE/stream" >"$TMP/pfcode"
tr -d '\r' <"$TMP/pf" >"$TMP/pfh"
check "OPTIONS /stream: 204" [ "$(cat "$TMP/pfcode")" = 204 ]
check "preflight: Access-Control-Allow-Origin from allow_origin" grep -qx 'Access-Control-Allow-Origin: \*' "$TMP/pfh"
check "preflight: Allow-Methods GET, HEAD, OPTIONS" grep -qx 'Access-Control-Allow-Methods: GET, HEAD, OPTIONS' "$TMP/pfh"
check "preflight: Allow-Headers names Authorization" grep -q '^Access-Control-Allow-Headers: Authorization' "$TMP/pfh"
check "preflight: Max-Age" grep -qx 'Access-Control-Max-Age: 600' "$TMP/pfh"
check "preflight: no body, no Content-Length" bash -c "[ ! -s '$TMP/pfbody' ] && ! grep -qi '^Content-Length' '$TMP/pfh'"
check "OPTIONS * (asterisk-form): 204" \
	[ "$(raw_status "$port" 'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n')" = 204 ]
check "OPTIONS on an unknown path: 204" \
	[ "$(curl -s -X OPTIONS -o /dev/null -w '%{http_code}' "$BASE/nope")" = 204 ]
check "GET * is still a bad request" \
	[ "$(raw_status "$port" 'GET * HTTP/1.1\r\nHost: a\r\n\r\n')" = 400 ]
check "OPTIONS with a body: 400" \
	[ "$(raw_status "$port" 'OPTIONS / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nab')" = 400 ]
check "OPTIONS without Host (HTTP/1.1): 400" \
	[ "$(raw_status "$port" 'OPTIONS / HTTP/1.1\r\n\r\n')" = 400 ]
check "the preflight keeps the connection for the GET" bash -c '
	exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
	printf "OPTIONS /status HTTP/1.1\r\nHost: a\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" >&3
	out=$(timeout 3 cat <&3)
	grep -q "^HTTP/1.1 204 " <<<"$out" && grep -q "^HTTP/1.1 200 " <<<"$out"' "$port"
check "POST is still 405" \
	[ "$(curl -s -X POST -o /dev/null -w '%{http_code}' "$BASE/status")" = 405 ]

# The first part's bytes are exactly the published JPEG (full framing).
curl -s --max-time 1.5 -o "$TMP/s" "$BASE/stream?framing=full"
# The first JPEG starts at the first SOI marker (FF D8) of the body.
off=$(LC_ALL=C grep -obUaP '\xff\xd8' "$TMP/s" | head -n 1 | cut -d: -f1)
check "first streamed part equals the published frame" \
	cmp -s <(tail -c +$((off + 1)) "$TMP/s" | head -c "$size") "$sample"

# Snapshot and alias.
for path in /snapshot '/?action=snapshot' '/?action=snapshot_0'; do
	code=$(curl -s -o "$TMP/snap" -w '%{http_code} %{content_type}' "$BASE$path")
	check "$path answers image/jpeg" [ "$code" = "200 image/jpeg" ]
	check "$path is the published frame" cmp -s "$TMP/snap" "$sample"
done

# HEAD works wherever GET does, with the same Content-Length.
for path in / /snapshot /status '/status?view=page' /healthz /metrics; do
	get_len=$(curl -s -o /dev/null -w '%{size_download}' "$BASE$path")
	head_out=$(curl -s -I "$BASE$path" | tr -d '\r')
	head_code=$(head -n 1 <<<"$head_out" | cut -d' ' -f2)
	head_len=$(sed -n 's/^Content-Length: *//Ip' <<<"$head_out")
	check "HEAD $path: 200" [ "$head_code" = 200 ]
	if [ "$path" != /metrics ] && [ "${path%%\?*}" != /status ]; then
		check "HEAD $path: Content-Length $head_len = GET body $get_len" [ "$head_len" = "$get_len" ]
	fi
done
check "HEAD /stream answers the stream headers" \
	bash -c "curl -s -I --max-time 2 '$BASE/stream' | grep -qi multipart/x-mixed-replace"

# /status has DESIGN.md's shape.
st=$(curl -s "$BASE/status")
for key in generation uptime_s clients capture pid state source width height fps_target fps frames error workers index frames_sent frames_skipped bytes; do
	check "/status has \"$key\"" grep -q "\"$key\"" <<<"$st"
done
check "/status reports the files source" grep -q '"source": *"files"' <<<"$st"
check "/status lists 2 workers" [ "$(grep -o '"index"' <<<"$st" | wc -l)" -eq 2 ]

# /metrics: every sample line belongs to a family with HELP and TYPE;
# counters end in _total; histogram buckets are cumulative.
curl -s "$BASE/metrics" >"$TMP/m"
check "/metrics is text/plain version 0.0.4" \
	bash -c "curl -s -o /dev/null -w '%{content_type}' '$BASE/metrics' | grep -q 'version=0.0.4'"
check "/metrics exposition format" awk '
	/^# HELP / { help[$3] = 1; next }
	/^# TYPE / { type[$3] = $4; if ($4 == "counter" && $3 !~ /_total$/) bad = bad " " $3; next }
	/^#/ { next }
	/^$/ { next }
	{
		name = $1; sub(/\{.*/, "", name)
		fam = name
		if (!(fam in type)) { sub(/_(bucket|sum|count)$/, "", fam) }
		if (!(fam in type) || !(fam in help)) bad = bad " " name
		if ($2 !~ /^[-+]?([0-9.]+([eE][-+]?[0-9]+)?|Inf|NaN)$/) bad = bad " value:" $0
	}
	END { if (bad != "") { print "bad metrics:" bad; exit 1 } }' "$TMP/m"
check "/metrics has the frame age histogram" grep -q '^forkcast_frame_age_seconds_bucket{.*le="+Inf"' "$TMP/m"

# /events delivers a status event every second.
n=$(curl -s --max-time 2.6 "$BASE/events" | grep -c '^event: status')
check "/events delivered $n status events in 2.6 s" [ "$n" -ge 2 ]
check "/events is text/event-stream" \
	bash -c "curl -s -o /dev/null --max-time 1 -w '%{content_type}' '$BASE/events' | grep -q text/event-stream"

# /status?view=page: the object of one /events event, once, as JSON (the
# viewer page polls it instead of holding an event stream open).
keys_of() {	# keys_of JSON: its top-level key names, one a line, sorted
	grep -o '"[a-z_]*":' <<<"$1" | tr -d '":' | sort
}
code=$(curl -s -D "$TMP/vh" -o "$TMP/v" -w '%{http_code} %{content_type}' "$BASE/status?view=page")
check "/status?view=page is 200 application/json" [ "$code" = "200 application/json" ]
check "/status?view=page is not cached" grep -qi '^Cache-Control: no-store' "$TMP/vh"
check "/status?view=page has a Content-Length" grep -qi '^Content-Length: [0-9]' "$TMP/vh"
check "/status?view=page is one line" [ "$(wc -l <"$TMP/v")" = 1 ]
ev=$(curl -s --max-time 1.5 "$BASE/events" | sed -n 's/^data: //p' | head -n 1)
check "/status?view=page has the keys of an /events event" \
	[ -n "$ev" -a "$(keys_of "$(cat "$TMP/v")")" = "$(keys_of "$ev")" ]
for key in source width height fps viewers state frames frame_ts_ms now_ms error; do
	check "/status?view=page has \"$key\"" grep -q "\"$key\":" "$TMP/v"
done
check "/status?view=page reports the files source" grep -q '"source":"files"' "$TMP/v"
check "/status?view=bad is a bad request" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/status?view=bad")" = 400 ]
n=$(curl -s -v "$BASE/status?view=page" "$BASE/status?view=page" 2>&1 | grep -c 'Re-using existing connection\|Reusing existing')
check "/status?view=page keeps the connection alive" [ "$n" -ge 1 ]

check "/healthz is 200" [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")" = 200 ]
check "unknown path is 404" [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/nope")" = 404 ]

# Keep-alive: two requests on one connection.
n=$(curl -s -v "$BASE/healthz" "$BASE/status" 2>&1 | grep -c 'Re-using existing connection\|Reusing existing')
check "keep-alive reuses the connection" [ "$n" -ge 1 ]

# Strict request heads, the way nginx is strict: 400 and a close.
check "HTTP/1.1 without Host: 400" \
	[ "$(raw_status "$port" 'GET /status HTTP/1.1\r\n\r\n')" = 400 ]
check "two Host headers: 400" \
	[ "$(raw_status "$port" 'GET /status HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n')" = 400 ]
check "an empty Host: 400" \
	[ "$(raw_status "$port" 'GET /status HTTP/1.1\r\nHost:\r\n\r\n')" = 400 ]
check "obs-fold: 400" \
	[ "$(raw_status "$port" 'GET /status HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n')" = 400 ]
check "whitespace before a colon: 400" \
	[ "$(raw_status "$port" 'GET /status HTTP/1.1\r\nHost : a\r\n\r\n')" = 400 ]
check "whitespace before the first header: 400" \
	[ "$(raw_status "$port" 'GET /status HTTP/1.1\r\n Host: a\r\n\r\n')" = 400 ]
check "HTTP/1.0 without Host is served" \
	[ "$(raw_status "$port" 'GET /status HTTP/1.0\r\n\r\n')" = 200 ]
check "a strict refusal closes the connection" bash -c '
	exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
	printf "GET /status HTTP/1.1\r\nHost : a\r\n\r\nGET /status HTTP/1.1\r\nHost: a\r\n\r\n" >&3
	out=$(timeout 3 cat <&3)
	[ "$(grep -c "^HTTP/1.1 " <<<"$out")" = 1 ] && grep -q "^Connection: close" <<<"$out"' "$port"
stop_server "$SERVER_PID"

# allowed_hosts: other names get 421 (DNS rebinding); /healthz answers any.
port=$(free_port) || exit 1
write_config "$TMP/h.conf" "$port" "workers = 1" "max_clients = 1" \
	"allowed_hosts = cam.example.org, 127.0.0.1 [::1]" \
	"[capture]" "width = 320" "height = 240" "fps = 10"
start_server "$TMP/h.conf" "$TMP/h.log" || exit 1
check "listed host (curl's 127.0.0.1:PORT): 200" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/status")" = 200 ]
check "listed name, other case, trailing dot and port: 200" \
	[ "$(raw_status "$port" 'GET /status HTTP/1.1\r\nHost: CAM.example.org.:8080\r\n\r\n')" = 200 ]
check "listed IPv6 literal, written another way: 200" \
	[ "$(raw_status "$port" 'GET /status HTTP/1.1\r\nHost: [0:0::1]:8080\r\n\r\n')" = 200 ]
check "other IPv6 literal: 421" \
	[ "$(raw_status "$port" 'GET /status HTTP/1.1\r\nHost: [::2]\r\n\r\n')" = 421 ]
check "other host: 421" \
	[ "$(raw_status "$port" 'GET /status HTTP/1.1\r\nHost: rebound.example\r\n\r\n')" = 421 ]
check "other host on /status?view=page: 421" \
	[ "$(raw_status "$port" 'GET /status?view=page HTTP/1.1\r\nHost: rebound.example\r\n\r\n')" = 421 ]
check "other host on /stream: 421" \
	[ "$(raw_status "$port" 'GET /stream HTTP/1.1\r\nHost: localhost\r\n\r\n')" = 421 ]
check "HTTP/1.0 without Host: 421" \
	[ "$(raw_status "$port" 'GET /status HTTP/1.0\r\n\r\n')" = 421 ]
check "/healthz with another host: 200" \
	[ "$(raw_status "$port" 'GET /healthz HTTP/1.1\r\nHost: 10.0.0.7\r\n\r\n')" = 200 ]
check "/healthz without Host (HAProxy httpchk): 200" \
	[ "$(raw_status "$port" 'GET /healthz HTTP/1.0\r\n\r\n')" = 200 ]
check "421s are counted in /metrics" \
	grep -q '^forkcast_http_responses_total{code="421"} 5$' <(curl -s "$BASE/metrics")
check "OPTIONS with another host: 421 (allowed_hosts comes first)" \
	[ "$(raw_status "$port" 'OPTIONS /stream HTTP/1.1\r\nHost: rebound.example\r\n\r\n')" = 421 ]
check "OPTIONS without allow_origin: 405" \
	[ "$(curl -s -X OPTIONS -o /dev/null -w '%{http_code}' "$BASE/stream")" = 405 ]
check "... with Allow: GET, HEAD" \
	bash -c "curl -s -X OPTIONS -D - -o /dev/null '$BASE/stream' | tr -d '\r' | grep -qx 'Allow: GET, HEAD'"
# max_clients = 1: one stream fills it; the page's poll is a short request
# like /status and is still answered, while an event stream is refused.
curl -s --max-time 6 -o /dev/null "$BASE/stream" &
holder=$!
PIDS+=($holder)
sleep 1
check "at max_clients a second stream gets 503" \
	[ "$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$BASE/stream")" = 503 ]
check "at max_clients /events gets 503" \
	[ "$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$BASE/events")" = 503 ]
check "at max_clients /status?view=page is answered" \
	[ "$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$BASE/status?view=page")" = 200 ]
check "... and counts the one stream" grep -q '"viewers":1,' <(curl -s --max-time 2 "$BASE/status?view=page")
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
stop_server "$SERVER_PID"

# Basic auth on every path but /healthz (and the CORS preflight).
port=$(free_port) || exit 1
write_config "$TMP/b.conf" "$port" "workers = 1" "auth = alice:s3cret" \
	"allow_origin = http://page.example" \
	"[capture]" "width = 320" "height = 240" "fps = 10"
start_server "$TMP/b.conf" "$TMP/b.log" || exit 1
check "no credentials: 401" [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/status")" = 401 ]
check "401 asks for Basic" bash -c "curl -s -D - -o /dev/null '$BASE/' | grep -qi '^WWW-Authenticate: Basic'"
check "wrong password: 401" [ "$(curl -s -o /dev/null -w '%{http_code}' -u alice:nope "$BASE/status")" = 401 ]
check "right password: 200" [ "$(curl -s -o /dev/null -w '%{http_code}' -u alice:s3cret "$BASE/status")" = 200 ]
check "/status?view=page without credentials: 401" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/status?view=page")" = 401 ]
check "/status?view=page with credentials: 200" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' -u alice:s3cret "$BASE/status?view=page")" = 200 ]
check "stream behind auth plays" bash -c "curl -s --max-time 1.5 -u alice:s3cret '$BASE/stream' | grep -acq 'image/jpeg'"
check "/healthz needs no credentials" [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")" = 200 ]
check "preflight without credentials: 204" \
	[ "$(curl -s -X OPTIONS -o /dev/null -w '%{http_code}' -H 'Origin: http://page.example' \
		-H 'Access-Control-Request-Method: GET' "$BASE/snapshot")" = 204 ]
check "preflight names the configured origin" \
	bash -c "curl -s -X OPTIONS -D - -o /dev/null '$BASE/snapshot' | tr -d '\r' | grep -qx 'Access-Control-Allow-Origin: http://page.example'"
check "GET after the preflight still needs credentials: 401" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: http://page.example' "$BASE/snapshot")" = 401 ]
check "GET with credentials: 200" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' -u alice:s3cret "$BASE/snapshot")" = 200 ]
stop_server "$SERVER_PID"

finish
