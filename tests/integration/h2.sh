#!/bin/bash
# HTTP/2 over TLS (ALPN h2, server/h2.h): every route with curl --http2,
# auth and allowed_hosts per stream, many streams multiplexed on one
# connection with the fan-out rules per stream (fps caps, maxtime), limits
# counting streams, the SETTINGS forkcast announces, and streams ended with
# the close delimiter when the server stops.  Hostile HTTP/2 input is
# tests/integration/h2_hostile.sh.  A test CA and certificate are made here
# with the openssl tool; every connection is to 127.0.0.1.
. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null || { echo "openssl not installed: skipped"; exit 77; }
curl -V | grep -q 'HTTP2' || { echo "curl without HTTP/2: skipped"; exit 77; }

pki=$TMP/pki
mkdir -p "$pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$pki/key.pem" -out "$pki/cert.pem" -days 2 -subj "/CN=localhost" \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null ||
	{ echo "FAIL: cannot make a certificate"; exit 1; }
chmod 600 "$pki/key.pem"

port=$(free_port) || exit 1
tport=$(free_port) || exit 1
conf=$TMP/s.conf
write_config "$conf" "$port" "listen = 127.0.0.1:$tport tls" "workers = 2" \
	"auth = viewer:s3cret" "allowed_hosts = localhost, 127.0.0.1" \
	"max_clients = 6" "shutdown_grace = 1" \
	"[capture]" "width = 320" "height = 240" "fps = 15" "idle_stop = 0" \
	"[tls]" "certificate = $pki/cert.pem" "key = $pki/key.pem"
TB="https://localhost:$tport"
h2() { curl -sS --http2 --cacert "$pki/cert.pem" -u viewer:s3cret --max-time 5 "$@"; }
pstatus() { curl -s --max-time 3 -u viewer:s3cret "$BASE/status"; }
jget() { /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2], {"d": d}))' "$1" "$2"; }

# start_server waits for /healthz, which needs no auth.
start_server "$conf" "$TMP/s.log" || exit 1
before=$(serving_workers 2 -u viewer:s3cret)

echo "-- every route over h2"
for route in / /status "/status?view=page" /metrics /healthz /snapshot "/?action=snapshot" "/?action=snapshot_0"; do
	r=$(h2 -o "$TMP/body" -w '%{http_code} %{http_version}' "$TB$route")
	check "GET $route: 200 over HTTP/2 ($r)" [ "$r" = "200 2" ]
done
h2 -o "$TMP/snap.jpg" "$TB/snapshot"
check "the snapshot over h2 is a whole JPEG" "$BUILD/tools/jpegcheck" "$TMP/snap.jpg"
h2 -o "$TMP/page.html" "$TB/"
check "the page over h2 is the viewer page" grep -q '<img id="video" src="/stream"' "$TMP/page.html"
for route in /stream /video_feed "/?action=stream" "/?action=stream_0" /stream.mjpg; do
	h2 --max-time 2 -o "$TMP/st" "$TB$route" 2>/dev/null
	n=$(grep -c 'Content-Type: image/jpeg' "$TMP/st")
	check "GET $route over h2 streams ($n parts in 2 s at 15 fps)" [ "$n" -ge 20 ]
done
h2 -D "$TMP/sh" --max-time 1 -o /dev/null "$TB/stream" 2>/dev/null
check "the stream's head: HTTP/2 200, multipart/x-mixed-replace" \
	grep -qi '^content-type: multipart/x-mixed-replace;boundary=' "$TMP/sh"
check "... with no HTTP/1.1 connection fields" bash -c "! grep -qiE '^(connection|keep-alive|transfer-encoding):' '$TMP/sh'"
check "... and the Server field" grep -qi '^server: forkcast/' "$TMP/sh"
h2 --max-time 2.5 -o "$TMP/ev" "$TB/events" 2>/dev/null
check "/events over h2 sends status events" grep -q '^event: status' "$TMP/ev"
r=$(h2 -I -o /dev/null -w '%{http_code} %{size_download}' "$TB/stream")
check "HEAD /stream over h2: 200, no body ($r)" [ "$r" = "200 0" ]
r=$(h2 -I -o /dev/null -w '%{http_code} %{size_download}' "$TB/snapshot")
check "HEAD /snapshot over h2: 200, no body ($r)" [ "$r" = "200 0" ]
r=$(h2 -o /dev/null -w '%{http_code}' "$TB/nothing")
check "404 over h2 ($r)" [ "$r" = 404 ]
r=$(h2 -X OPTIONS -o /dev/null -w '%{http_code}' "$TB/stream")
check "OPTIONS without allow_origin over h2: 405 ($r)" [ "$r" = 405 ]
r=$(h2 -X POST -d x -o /dev/null -w '%{http_code}' "$TB/stream")
check "POST with a body over h2: 405 ($r)" [ "$r" = 405 ]
r=$(h2 -o /dev/null -w '%{http_code}' "$TB/stream?fps=0")
check "a bad option over h2: 400 ($r)" [ "$r" = 400 ]

echo "-- auth and allowed_hosts per stream"
r=$(curl -sS --http2 --cacert "$pki/cert.pem" -o /dev/null -w '%{http_code} %{http_version}' "$TB/status")
check "no credentials: 401 over h2 ($r)" [ "$r" = "401 2" ]
r=$(curl -sS --http2 --cacert "$pki/cert.pem" -u viewer:wrong -o /dev/null -w '%{http_code}' "$TB/stream")
check "a wrong password: 401 ($r)" [ "$r" = 401 ]
r=$(curl -sS --http2 --cacert "$pki/cert.pem" -o /dev/null -w '%{http_code}' "$TB/healthz")
check "/healthz without credentials: 200 ($r)" [ "$r" = 200 ]
r=$(h2 -H 'Host: evil.example' -o /dev/null -w '%{http_code}' "$TB/status")
check "another host name (:authority): 421 ($r)" [ "$r" = 421 ]

echo "-- many streams on one connection"
# Three streams (one capped at 3 fps), a snapshot, the page and /events,
# multiplexed by curl on one connection.
h2 --parallel --parallel-max 10 --max-time 4 \
	-w '%{http_version} %{num_connects}\n' \
	-o "$TMP/m1" "$TB/stream" -o "$TMP/m2" "$TB/stream?framing=full" \
	-o "$TMP/m3" "$TB/stream?fps=3" -o "$TMP/m4" "$TB/snapshot" \
	-o "$TMP/m5" "$TB/" -o "$TMP/m6" "$TB/events" >"$TMP/mw" 2>/dev/null &
mpid=$!
sleep 2
st=$(pstatus)
streams=$(jget "$st" 'd["clients"]')
events=$(jget "$st" 'd["events"]')
tlsconns=$(jget "$st" 'd["tls"]["user_space"] + d["tls"]["ktls"]')
wait "$mpid"
conns=$(awk '{ s += $2 } END { print s }' "$TMP/mw")
check "six requests, all over h2 ($(awk '{print $1}' "$TMP/mw" | sort -u | tr '\n' ' '))" \
	[ "$(awk '$1 == 2' "$TMP/mw" | wc -l)" = 6 ]
check_that "... on one TLS connection (connects: $conns; /status TLS connections: $tlsconns)" \
	'[ "$conns" = 1 ] && [ "$tlsconns" = 1 ]'
check_that "/status counts the 3 streams and the event stream ($streams clients, $events events)" \
	'[ "$streams" = 3 ] && [ "$events" = 1 ]'
n1=$(grep -c 'Content-Type: image/jpeg' "$TMP/m1"); n2=$(grep -c 'Content-Type: image/jpeg' "$TMP/m2")
n3=$(grep -c 'Content-Type: image/jpeg' "$TMP/m3")
check_that "two full-rate streams side by side ($n1, $n2 parts in 4 s at 15 fps)" '[ "$n1" -ge 45 ] && [ "$n2" -ge 45 ]'
check_that "the fps=3 stream on the same connection keeps its cap ($n3 parts in 4 s)" '[ "$n3" -ge 9 ] && [ "$n3" -le 14 ]'
check "the snapshot beside them is a whole JPEG" "$BUILD/tools/jpegcheck" "$TMP/m4"
check "the page beside them is whole" grep -q '</html>' "$TMP/m5"
check "/events beside them sends events" grep -q '^event: status' "$TMP/m6"
h2 --max-time 5 -o "$TMP/mt" "$TB/stream?maxtime=2&framing=full"; rc=$?
check "maxtime=2 over h2 ends the stream by itself (curl exit $rc)" [ "$rc" = 0 ]
check "... with the close delimiter" bash -c "tail -c 40 '$TMP/mt' | grep -q -- '--forkcastframe--'"

echo "-- a slow reader with wide-open windows still gets recent frames"
# Browsers open HTTP/2 windows wide (Chromium: 6 MB a stream): flow control
# alone would let seconds of old frames queue in the socket of a slow
# connection.  This reader takes 2 KiB every 50 ms (40 KB/s, less than the
# stream) through a 16 KiB receive buffer with windows of 2 GiB; the parts
# of its last 4 s must be recent (the connection's socket is watched as an
# HTTP/1.1 stream's is: TCP_NOTSENT_LOWAT and the unread backlog).
cat >"$TMP/slow.py" <<'EOF'
import socket, ssl, sys, time, re
import h2.connection, h2.config, h2.events, h2.settings
port, secs, chunk, pause, auth = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["h2"])
raw = socket.create_connection(("127.0.0.1", port))
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
s = ctx.wrap_socket(raw, server_hostname="localhost")
c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
c.initiate_connection()
c.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1})
c.increment_flow_control_window(2**30)
c.send_headers(1, [(":method", "GET"), (":path", "/stream?framing=full"),
    (":scheme", "https"), (":authority", "localhost"),
    ("authorization", "Basic " + auth)], end_stream=True)
s.sendall(c.data_to_send())
buf, ages, end = b"", [], time.time() + secs
s.settimeout(1)
while time.time() < end:
    try:
        d = s.recv(chunk)
    except (socket.timeout, TimeoutError):
        continue
    if not d:
        break
    now = time.time()
    for ev in c.receive_data(d):
        if isinstance(ev, h2.events.DataReceived):
            c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            buf += ev.data
    out = c.data_to_send()
    if out:
        s.sendall(out)
    for m in re.finditer(rb"X-Timestamp: (\d+)\.(\d+)\r\n", buf):
        ages.append((now, now - (int(m.group(1)) + int(m.group(2)) / 1e6)))
    i = buf.rfind(b"X-Timestamp: ")
    buf = buf[i + 13:] if i >= 0 else buf[-64:]
    time.sleep(pause)
late = sorted(a for t, a in ages if t > end - secs / 2)
print(len(ages), len(late), "%.0f" % (1000 * late[len(late) // 2]) if late else -1,
    "%.0f" % (1000 * late[-1]) if late else -1)
EOF
read -r sall slate smed smax < <(/usr/bin/python3 "$TMP/slow.py" "$tport" 8 2048 0.05 "$(printf viewer:s3cret | base64)")
check_that "slow h2 reader: parts of its last 4 s at most 2 s old ($slate parts, median ${smed} ms, max ${smax} ms)" \
	'[ "${slate:-0}" -ge 3 ] && [ "${smax:-99999}" -lt 2000 ]'

echo "-- limits count streams"
args=()
for i in 1 2 3 4 5 6 7 8; do args+=(-o "$TMP/l$i" "$TB/stream?maxtime=3"); done
h2 --parallel --parallel-max 10 --max-time 6 -w '%{http_code} %{num_connects}\n' "${args[@]}" >"$TMP/lw" 2>/dev/null
ok200=$(grep -c '^200 ' "$TMP/lw"); ok503=$(grep -c '^503 ' "$TMP/lw")
conns=$(awk '{ s += $2 } END { print s }' "$TMP/lw")
check_that "8 streams on one connection with max_clients = 6: 6 served, 2 refused with 503 ($ok200, $ok503; connects $conns)" \
	'[ "$ok200" = 6 ] && [ "$ok503" = 2 ] && [ "$conns" = 1 ]'
sleep 1
st=$(pstatus)
check "their places are back once they ended ($(jget "$st" 'd["clients"]') clients)" [ "$(jget "$st" 'd["clients"]')" = 0 ]

echo "-- what the server announces"
if command -v nghttp >/dev/null; then
	nghttp -nv --timeout=3 -H "authorization: Basic $(printf viewer:s3cret | base64)" "$TB/healthz" >"$TMP/nghttp" 2>&1
	check "SETTINGS_MAX_CONCURRENT_STREAMS 128" grep -q 'SETTINGS_MAX_CONCURRENT_STREAMS(0x03):128' "$TMP/nghttp"
	check "SETTINGS_MAX_HEADER_LIST_SIZE 16384" grep -q 'SETTINGS_MAX_HEADER_LIST_SIZE(0x06):16384' "$TMP/nghttp"
	check "SETTINGS_ENABLE_PUSH 0" grep -q 'SETTINGS_ENABLE_PUSH(0x02):0' "$TMP/nghttp"
else
	echo "  (nghttp not installed: SETTINGS not checked)"
fi

echo "-- stop ends h2 streams with the close delimiter"
h2 --max-time 20 -o "$TMP/stop" "$TB/stream?framing=full" 2>/dev/null &
spid=$!
sleep 1.5
after=$(pstatus | sed 's/.*"workers": *\[//' | grep -o '"pid": *[0-9]*' | sed 's/.*: *//' | sort -n | tr '\n' ' ')
check "worker pids unchanged through all of it ($after)" [ "$after" = "$before" ]
check "no child exited" bash -c "! grep -q 'exited' '$TMP/s.log'"
kill -TERM "$SERVER_PID"
wait "$spid"; rc=$?
check "the h2 stream ends cleanly when the server stops (curl exit $rc)" [ "$rc" = 0 ]
check "... with the close delimiter" bash -c "tail -c 40 '$TMP/stop' | grep -q -- '--forkcastframe--'"
finish
