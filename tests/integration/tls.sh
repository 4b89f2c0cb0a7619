#!/bin/bash
# HTTPS in the server itself: `listen = ADDR:PORT tls` next to a plain
# address, [tls] certificate and key read by the supervisor, checked at -n,
# renewed on reload while streams keep playing, TLS 1.2 and 1.3 only,
# records written by OpenSSL when the kernel has no kTLS (this machine's
# kernel has no tls module) and /status saying so, the private key mapped
# by the workers and never by capture, and no worker killed by its seccomp
# table on the way.  A test CA and certificates are made here with the
# openssl tool; every connection is to 127.0.0.1.
. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null || { echo "openssl not installed: skipped"; exit 77; }
command -v python3 >/dev/null || { echo "python3 not installed: skipped"; exit 77; }

# --- a test CA, a server certificate it signs, a second one for renewal ---
pki=$TMP/pki
mkdir -p "$pki"
mkcert() {	# mkcert NAME: $pki/NAME.key, NAME.crt (signed by the CA), NAME.chain
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$pki/$1.key" -out "$pki/$1.csr" -subj "/CN=localhost" 2>/dev/null &&
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$pki/$1.ext" &&
	openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
		-CAcreateserial -days 2 -extfile "$pki/$1.ext" -out "$pki/$1.crt" 2>/dev/null &&
	cat "$pki/$1.crt" "$pki/ca.crt" >"$pki/$1.chain" &&
	chmod 600 "$pki/$1.key"
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$pki/ca.key" -out "$pki/ca.crt" -days 2 -subj "/CN=forkcast test CA" \
	2>/dev/null || { echo "FAIL: cannot make a test CA"; exit 1; }
mkcert one && mkcert two && mkcert other || { echo "FAIL: cannot make certificates"; exit 1; }
# The files the server is configured with; renewal replaces them.
cp "$pki/one.chain" "$pki/fullchain.pem"
cp "$pki/one.key" "$pki/privkey.pem"
chmod 600 "$pki/privkey.pem"

port=$(free_port) || exit 1
tport=$(free_port) || exit 1
conf=$TMP/s.conf
write_config "$conf" "$port" "listen = 127.0.0.1:$tport tls" "workers = 2" "client_timeout = 3" "send_timeout = 4" \
	"[capture]" "width = 320" "height = 240" "fps = 15" "idle_stop = 0" \
	"[tls]" "certificate = $pki/fullchain.pem" "key = $pki/privkey.pem"
TBASE="https://127.0.0.1:$tport"
tcurl() { curl -sS --cacert "$pki/ca.crt" --max-time 5 "$@"; }

# --- forkcast -n ---
echo "-- the configuration check"
check "forkcast -n accepts the files" "$BUILD/forkcast" -n -c "$conf"
nline=$(grep -n '^key = ' "$conf" | cut -d: -f1)
chmod 644 "$pki/privkey.pem"
out=$("$BUILD/forkcast" -n -c "$conf" 2>&1); rc=$?
check "a key other users may read: exit 2 ($rc)" [ "$rc" = 2 ]
check "... with FILE:LINE: tls.key: ($out)" grep -q "^$conf:$nline: tls.key: $pki/privkey.pem: other users may read" <<<"$out"
chmod 640 "$pki/privkey.pem"
check "a key its group may read (ssl-cert) is accepted" "$BUILD/forkcast" -n -c "$conf"
chmod 600 "$pki/privkey.pem"
sed "s#^key = .*#key = $pki/other.key#" "$conf" >"$TMP/mismatch.conf"
out=$("$BUILD/forkcast" -n -c "$TMP/mismatch.conf" 2>&1); rc=$?
check "a key of another certificate: exit 2, 'does not match' ($out)" \
	bash -c "[ $rc = 2 ] && grep -q 'tls.key: .*does not match' <<<'$out'"
openssl ec -in "$pki/one.key" -aes256 -passout pass:x -out "$pki/enc.key" 2>/dev/null; chmod 600 "$pki/enc.key"
sed "s#^key = .*#key = $pki/enc.key#" "$conf" >"$TMP/enc.conf"
out=$("$BUILD/forkcast" -n -c "$TMP/enc.conf" 2>&1); rc=$?
check "an encrypted key: exit 2 ($out)" bash -c "[ $rc = 2 ] && grep -q 'tls.key: ' <<<'$out'"
sed "s#^certificate = .*#certificate = $pki#" "$conf" >"$TMP/dir.conf"
out=$("$BUILD/forkcast" -n -c "$TMP/dir.conf" 2>&1); rc=$?
check "a folder as certificate: exit 2 ($out)" bash -c "[ $rc = 2 ] && grep -q 'tls.certificate: .*not a regular file' <<<'$out'"
grep -v '^certificate = \|^key = ' "$conf" >"$TMP/nofiles.conf"
lline=$(grep -n ' tls$' "$TMP/nofiles.conf" | cut -d: -f1)
out=$("$BUILD/forkcast" -n -c "$TMP/nofiles.conf" 2>&1); rc=$?
check "a tls address without [tls] files: exit 2 at its line ($out)" \
	bash -c "[ $rc = 2 ] && grep -q '^$TMP/nofiles.conf:$lline: server.listen: 127.0.0.1:$tport tls needs \[tls\] certificate and key' <<<'$out'"

# --- serving ---
echo "-- HTTPS next to HTTP"
start_server "$conf" "$TMP/s.log" || exit 1
before=$(serving_workers 2)
json=$(curl -s --max-time 3 "$BASE/status")
cap=$(sed 's/.*"capture": *{//' <<<"$json" | grep -o '"pid": *[0-9]*' | head -n 1 | sed 's/.*: *//')
check_that "/status names 2 serving workers ($before) and the capture pid ($cap)" \
	'[ "$(wc -w <<<"$before")" = 2 ] && [ -n "$cap" ] && [ "$cap" != 0 ]'
check "the log names the https address" grep -q "listening on https://127.0.0.1:$tport/" "$TMP/s.log"

for route in / /status /metrics /healthz /snapshot "/?action=snapshot" "/?action=snapshot_0"; do
	code=$(tcurl --http1.1 -o "$TMP/body" -w '%{http_code} %{http_version} %{ssl_verify_result}' "$TBASE$route")
	check "GET $route over TLS (CA-verified): 200 HTTP/1.1 ($code)" [ "$code" = "200 1.1 0" ]
done
check "the snapshot over TLS is a whole JPEG" bash -c \
	"tcurl() { curl -sS --cacert '$pki/ca.crt' --max-time 5 \"\$@\"; }; tcurl -o '$TMP/snap.jpg' '$TBASE/snapshot' && '$BUILD/tools/jpegcheck' '$TMP/snap.jpg'"
for route in /stream /video_feed "/?action=stream" /stream.mjpg; do
	tcurl --http1.1 --max-time 2 -o "$TMP/st" "$TBASE$route" 2>/dev/null
	n=$(grep -c 'Content-Type: image/jpeg' "$TMP/st")
	check "GET $route over TLS streams parts ($n in 2 s at 15 fps)" [ "$n" -ge 10 ]
done
tcurl --max-time 2.5 -o "$TMP/ev" "$TBASE/events" 2>/dev/null
check "GET /events over TLS sends status events" grep -q '^event: status' "$TMP/ev"
code=$(tcurl --http1.1 -I -o /dev/null -w '%{http_code}' "$TBASE/stream")
check "HEAD /stream over TLS: 200 ($code)" [ "$code" = 200 ]
code=$(tcurl -o /dev/null -w '%{http_code}' "$TBASE/nothing-here")
check "404 over TLS ($code)" [ "$code" = 404 ]
code=$(tcurl -X OPTIONS -o /dev/null -w '%{http_code}' "$TBASE/stream")
check "OPTIONS without allow_origin over TLS: 405 ($code)" [ "$code" = 405 ]
code=$(tcurl -X POST -o /dev/null -w '%{http_code}' "$TBASE/stream")
check "POST over TLS: 405 ($code)" [ "$code" = 405 ]
code=$(tcurl --http2 -o /dev/null -w '%{http_code} %{http_version}' "$TBASE/status")
check "curl --http2 offered h2: ALPN chose h2 ($code; tests/integration/h2.sh has the rest)" [ "$code" = "200 2" ]
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$BASE/status")
check "the plain address still serves HTTP ($code)" [ "$code" = 200 ]
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$tport/status")
check "plain HTTP to the TLS address gets no HTTP answer ($code)" [ "$code" = 000 ]
code=$(tcurl -o /dev/null -w '%{http_code}' "https://127.0.0.1:$port/status" 2>/dev/null)
check "TLS to the plain address fails ($code)" [ "$code" = 000 ]

echo "-- protocol versions, ALPN, chain"
s13=$(echo | timeout 5 openssl s_client -connect "127.0.0.1:$tport" -CAfile "$pki/ca.crt" -alpn h2,http/1.1 2>&1)
check "openssl s_client: TLS 1.3" grep -q 'New, TLSv1.3' <<<"$s13"
check "openssl s_client offering h2 and http/1.1: ALPN h2" grep -q 'ALPN protocol: h2' <<<"$s13"
s11a=$(echo | timeout 5 openssl s_client -connect "127.0.0.1:$tport" -alpn http/1.1 2>&1)
check "openssl s_client offering http/1.1 only: ALPN http/1.1" grep -q 'ALPN protocol: http/1.1' <<<"$s11a"
check "openssl s_client: chain verified against the test CA" grep -q 'Verify return code: 0 (ok)' <<<"$s13"
check "the chain file's CA certificate is sent too" grep -q '1 s:CN = forkcast test CA' <<<"$s13"
s12=$(echo | timeout 5 openssl s_client -connect "127.0.0.1:$tport" -tls1_2 2>&1)
check "TLS 1.2 works, with ECDHE and an AEAD suite" grep -qE 'Cipher is ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)' <<<"$s12"
s11=$(echo | timeout 5 openssl s_client -connect "127.0.0.1:$tport" -tls1_1 -cipher 'ALL:@SECLEVEL=0' 2>&1)
check "TLS 1.1 is refused" bash -c "! grep -q 'Cipher is [A-Z]' <<<'$s11'"
s12c=$(echo | timeout 5 openssl s_client -connect "127.0.0.1:$tport" -tls1_2 -cipher 'AES128-SHA' 2>&1)
check "TLS 1.2 without forward secrecy (AES128-SHA) is refused" bash -c "! grep -q 'Cipher is AES128-SHA' <<<'$s12c'"

echo "-- the load client over TLS (fcclient --tls, used by make bench)"
if [ -x "$BUILD/tools/fcclient" ]; then
	out=$("$BUILD/tools/fcclient" --url "$TBASE/stream?framing=full" --cafile "$pki/ca.crt" \
		--clients 20 --seconds 3 --expect-frames 20 2>&1); rc=$?
	check "20 fcclient viewers over TLS: every part a whole JPEG, >= 20 each (exit $rc)" \
		bash -c "[ $rc = 0 ] && grep -q '\"ok\":20,\"failed\":0' <<<'$out'"
	check "... TLS 1.3, ALPN http/1.1, 20 handshakes" \
		grep -q '"tls":{"version":"TLSv1.3","cipher":"[A-Z0-9_]*","alpn":"http/1.1","handshakes":20}' <<<"$out"
	out=$("$BUILD/tools/fcclient" --url "$TBASE/stream" --clients 2 --seconds 2 2>/dev/null); rc=$?
	check "fcclient without the test CA: not verified, exit 1 ($rc)" \
		bash -c "[ $rc = 1 ] && grep -q '\"first_error\":\"TLS certificate not verified\"' <<<'$out'"
	out=$("$BUILD/tools/fcclient" --snapshot "$TBASE/snapshot" --cafile "$pki/ca.crt" --out "$TMP/fcsnap.jpg" 2>&1); rc=$?
	check "fcclient --snapshot over TLS: a whole JPEG (exit $rc: $out)" [ "$rc" = 0 ]
else
	echo "  build/tools/fcclient not built: skipped"
fi

echo "-- kTLS or user-space records, per connection in /status"
tcurl --max-time 4 -o /dev/null "$TBASE/stream" 2>/dev/null &
s1=$!
tcurl --max-time 4 -o /dev/null "$TBASE/stream" 2>/dev/null &
s2=$!
sleep 1.5
st=$(tcurl "$TBASE/status")
user=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["tls"]["user_space"])' "$st")
ktls=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["tls"]["ktls"])' "$st")
perw=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(sum(w["tls"]["user_space"]+w["tls"]["ktls"] for w in d["workers"]))' "$st")
# Three TLS connections are open: two streams and the /status request.
check_that "/status counts the 3 open TLS connections (user_space $user, ktls $ktls, workers' sum $perw)" \
	'[ "$((user + ktls))" = 3 ] && [ "$perw" = 3 ]'
# Whether this kernel lets a socket take the tls ULP decides which.
if python3 - <<'EOF'
import socket, sys
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
c = socket.create_connection(l.getsockname()); s, _ = l.accept()
try:
    s.setsockopt(socket.IPPROTO_TCP, 31, b"tls")   # TCP_ULP
except OSError:
    sys.exit(1)
EOF
then
	check "the kernel has kTLS: the connections are kTLS ($ktls)" [ "$ktls" = 3 ]
else
	check "no kTLS in this kernel: OpenSSL writes the records, said as user_space ($user)" [ "$user" = 3 ]
fi
wait "$s1" "$s2"
st=$(tcurl "$TBASE/status")
user=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["tls"]["user_space"])' "$st")
check_that "closed TLS connections leave the count (1 left: this request; $user)" '[ "$user" = 1 ] || [ "$ktls" != 0 ]'

echo "-- slow and hostile TLS clients"
# A TLS reader taking 4 KB every 50 ms and a fast one at once: every part
# the slow one gets is whole (a record that found the socket full is
# finished before another frame starts), and the fast one keeps the rate.
cat >"$TMP/reader.py" <<'EOF'
import socket, ssl, sys, time
port, ca, chunk, pause, secs = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
s.sendall(b"GET /stream?framing=full HTTP/1.1\r\nHost: localhost\r\n\r\n")
buf, end = b"", time.time() + secs
while time.time() < end:
    try:
        s.settimeout(max(0.1, end - time.time()))
        d = s.recv(chunk)
    except (socket.timeout, TimeoutError):
        break
    if not d:
        break
    buf += d
    time.sleep(pause)
head, _, body = buf.partition(b"\r\n\r\n")
parts = whole = 0
pos = 0
while True:
    i = body.find(b"Content-Length: ", pos)
    if i < 0:
        break
    j = body.find(b"\r\n", i)
    k = body.find(b"\r\n\r\n", i)
    if j < 0 or k < 0:
        break
    n = int(body[i + 16:j])
    jpeg = body[k + 4:k + 4 + n]
    if len(jpeg) < n:
        break                      # the last part, cut by our own stop
    parts += 1
    if jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9":
        whole += 1
    pos = k + 4 + n
print(parts, whole)
EOF
python3 "$TMP/reader.py" "$tport" "$pki/ca.crt" 4096 0.05 5 >"$TMP/slow.out" 2>&1 &
slowpid=$!
python3 "$TMP/reader.py" "$tport" "$pki/ca.crt" 65536 0 5 >"$TMP/fast.out" 2>&1
wait "$slowpid"
read -r sp sw <"$TMP/slow.out"; read -r fp fw <"$TMP/fast.out"
check_that "slow TLS reader: every part whole ($sw of $sp)" '[ "${sp:-0}" -ge 2 ] && [ "$sp" = "$sw" ]'
check_that "fast TLS reader beside it: >= 50 whole parts in 5 s at 15 fps ($fw of $fp)" '[ "${fp:-0}" -ge 50 ] && [ "$fp" = "$fw" ]'
# Garbage, a cut handshake, a half-open TLS connection: closed, nobody hurt.
head -c 3000 /dev/urandom | timeout 3 curl -s --max-time 2 -o /dev/null "telnet://127.0.0.1:$tport" 2>/dev/null
printf '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' | timeout 3 curl -s --max-time 2 -o /dev/null "telnet://127.0.0.1:$tport" 2>/dev/null
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | timeout 3 curl -s --max-time 2 -o /dev/null "telnet://127.0.0.1:$tport" 2>/dev/null
code=$(tcurl -o /dev/null -w '%{http_code}' "$TBASE/healthz")
check "after garbage, a cut handshake and plain HTTP on the TLS port: still 200 ($code)" [ "$code" = 200 ]
# A handshake that never comes: closed after client_timeout (3 s), with
# no plain-text 408 written into what should have been TLS.
stall=$(/usr/bin/python3 - "$tport" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(8)
t0 = time.time()
try:
    d = s.recv(100)
except OSError:
    d = b"error"
print("%d %.1f" % (len(d), time.time() - t0))
EOF
)
read -r sn st <<<"$stall"
check "a silent TLS client is closed after client_timeout with nothing sent ($sn bytes after $st s)" \
	bash -c "[ '$sn' = 0 ] && awk 'BEGIN { exit !($st >= 2.5 && $st < 7) }'"

# A TLS viewer that stops reading is dropped after send_timeout (4 s), as
# a plain one is: what it read is judged from TCP's figures, which count
# TLS records, handshake included.
drops() { curl -s --max-time 3 "$BASE/status" | /usr/bin/python3 -c 'import json,sys; print(sum(w["dropped_timeout"] for w in json.load(sys.stdin)["workers"]))'; }
d0=$(drops)
/usr/bin/python3 - "$tport" "$pki/ca.crt" <<'EOF' &
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="localhost")
s.sendall(b"GET /stream HTTP/1.1\r\nHost: localhost\r\n\r\n")
got = 0
while got < 100000:
    got += len(s.recv(16384))
time.sleep(14)        # reads nothing more
EOF
stallpid=$!
PIDS+=("$stallpid")
t0=$(date +%s)
for _ in $(seq 1 130); do [ "$(drops)" -gt "$d0" ] && break; sleep 0.1; done
t1=$(date +%s)
check_that "a TLS viewer that stopped reading is dropped by send_timeout (drops $d0 -> $(drops), after about $((t1 - t0)) s)" \
	'[ "$(drops)" -gt "$d0" ] && [ $((t1 - t0)) -le 11 ]'
kill "$stallpid" 2>/dev/null; wait "$stallpid" 2>/dev/null

echo "-- the key stays with the workers"
for w in $before; do
	check "worker $w maps the TLS region" bash -c "ls -l /proc/$w/fd 2>/dev/null | grep -q 'memfd:forkcast-tls' || grep -q 'memfd:forkcast-tls' /proc/$w/maps"
	check "worker $w holds it read-only (no writable mapping)" bash -c "! grep 'memfd:forkcast-tls' /proc/$w/maps | grep -q ' rw'"
done
check "capture ($cap) has no descriptor or mapping of it" bash -c \
	"! ls -l /proc/$cap/fd 2>/dev/null | grep -q forkcast-tls && ! grep -q forkcast-tls /proc/$cap/maps"

echo "-- renewal on reload, while a stream plays"
serial() { echo | timeout 5 openssl s_client -connect "127.0.0.1:$tport" 2>/dev/null | openssl x509 -noout -serial; }
old=$(serial); want_old=$(openssl x509 -in "$pki/one.crt" -noout -serial)
check "served certificate is the first one ($old)" [ "$old" = "$want_old" ]
tcurl --max-time 7 -o "$TMP/during" "$TBASE/stream?framing=full" 2>/dev/null &
streampid=$!
sleep 2
parts_before=$(grep -c 'Content-Type: image/jpeg' "$TMP/during")
cp "$pki/two.chain" "$pki/fullchain.pem"
cp "$pki/two.key" "$pki/privkey.pem"
"$ROOT/scripts/forkcastctl" -c "$conf" reload >"$TMP/reload.out" 2>&1; rc=$?
check "forkcastctl reload succeeds ($rc: $(tr '\n' ' ' <"$TMP/reload.out"))" [ "$rc" = 0 ]
new=$(serial); want_new=$(openssl x509 -in "$pki/two.crt" -noout -serial)
check "the renewed certificate is served at once ($new)" [ "$new" = "$want_new" ]
check "the log says the TLS files were read again (TLS generation 2)" grep -q 'TLS generation 2' "$TMP/s.log"
wait "$streampid"
parts_after=$(grep -c 'Content-Type: image/jpeg' "$TMP/during")
check "the stream opened before the reload kept playing ($parts_before parts before, $parts_after at the end)" \
	[ "$((parts_after - parts_before))" -ge 50 ]
chmod 644 "$pki/privkey.pem"
"$ROOT/scripts/forkcastctl" -c "$conf" reload >"$TMP/reload2.out" 2>&1; rc=$?
check "reload with a world-readable key is refused ($rc)" [ "$rc" != 0 ]
check "... saying why ($(tr '\n' ' ' <"$TMP/reload2.out"))" grep -q "^$conf:$nline: tls.key: .*other users may read" "$TMP/reload2.out"
# SIGHUP straight to the supervisor (no forkcastctl check first).
kill -HUP "$SERVER_PID"
for _ in $(seq 1 50); do grep -q 'reload refused' "$TMP/s.log" && break; sleep 0.1; done
check "SIGHUP with that key: the supervisor refuses, saying why" \
	grep -q "tls.key: $pki/privkey.pem: other users may read" "$TMP/s.log"
check "... and logs that the running configuration stays" grep -q 'reload refused' "$TMP/s.log"
check "... and the running certificate stays ($(serial))" [ "$(serial)" = "$want_new" ]
chmod 600 "$pki/privkey.pem"

echo "-- nobody died"
json=$(curl -s --max-time 3 "$BASE/status")
after=$(sed 's/.*"workers": *\[//' <<<"$json" | grep -o '"pid": *[0-9]*' | sed 's/.*: *//' | sort -n | tr '\n' ' ')
check "worker pids unchanged, none killed by seccomp ($after)" [ "$after" = "$before" ]
check "no child exited" bash -c "! grep -q 'exited' '$TMP/s.log'"
if [ "$(id -u)" = 0 ]; then
	check "workers ran sandboxed with seccomp" grep -q 'sandbox: worker: .*seccomp on' "$TMP/s.log"
fi
finish
