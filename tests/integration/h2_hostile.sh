#!/bin/bash
# Hostile HTTP/2 clients against one server (TLS, ALPN h2): rapid reset
# (CVE-2023-44487), SETTINGS and PING floods, oversized header lists and
# an HPACK dynamic-table bomb, a CONTINUATION flood, streams whose window
# stays closed, a slow stream beside a fast one on one connection, and
# requests HTTP/2 can carry that forkcast does not serve.  Each attack is
# a small /usr/bin/python3 script using Debian's h2 (python3-h2: h2,
# hyperframe, hpack), with raw frames where h2 refuses to misbehave.  A
# reference viewer streams over plain HTTP throughout; after each attack
# it still receives parts, /healthz answers 200 (plain and over h2), the
# worker pids are the same (no crash, no seccomp kill) and /status clients
# are back to the baseline (max_clients places given back).  Only
# 127.0.0.1; every process started here is stopped by its PID.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3	# Debian's interpreter: the one with python3-h2
command -v openssl >/dev/null || { echo "openssl not installed: skipped"; exit 77; }
[ -x "$PY" ] && "$PY" -c 'import h2, hyperframe, hpack' 2>/dev/null ||
	{ echo "python3-h2 not installed: skipped"; exit 77; }

# --- a test CA and a server certificate (as tls.sh) ---
pki=$TMP/pki
mkdir -p "$pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$pki/ca.key" -out "$pki/ca.crt" -days 2 -subj "/CN=forkcast test CA" \
	2>/dev/null &&
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$pki/s.key" -out "$pki/s.csr" -subj "/CN=localhost" 2>/dev/null &&
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$pki/s.ext" &&
openssl x509 -req -in "$pki/s.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
	-CAcreateserial -days 2 -extfile "$pki/s.ext" -out "$pki/s.crt" 2>/dev/null &&
cat "$pki/s.crt" "$pki/ca.crt" >"$pki/s.chain" && chmod 600 "$pki/s.key" ||
	{ echo "FAIL: cannot make the test certificates"; exit 1; }

port=$(free_port) || exit 1
tport=$(free_port) || exit 1
conf=$TMP/s.conf
write_config "$conf" "$port" "listen = 127.0.0.1:$tport tls" "workers = 2" \
	"send_timeout = 3" "client_timeout = 3" "max_clients = 50" \
	"[capture]" "source = testpattern" "width = 320" "height = 240" "fps = 15" \
	"idle_stop = 0" \
	"[tls]" "certificate = $pki/s.chain" "key = $pki/s.key"
TBASE="https://127.0.0.1:$tport"
CA=$pki/ca.crt
start_server "$conf" "$TMP/s.log" || exit 1

# --- the scripts ---
py=$TMP/py
mkdir -p "$py"
cat >"$py/h2common.py" <<'PYEOF'
"""Shared helpers of the h2_hostile attacks: an h2 connection over TLS to
127.0.0.1 (ALPN h2, the test CA), raw frames, and reading with deadlines."""
import socket, ssl, sys, time

import h2.config, h2.connection, h2.events, h2.settings
import hyperframe.frame as hf

PORT, CA = int(sys.argv[1]), sys.argv[2]


def tls_socket():
    ctx = ssl.create_default_context(cafile=CA)
    ctx.set_alpn_protocols(["h2"])
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", PORT), timeout=5),
                        server_hostname="localhost")
    assert s.selected_alpn_protocol() == "h2", s.selected_alpn_protocol()
    return s


def connect(settings=None, validate=True):
    """A TLS socket and an h2 client connection with its preface sent."""
    s = tls_socket()
    cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                    validate_outbound_headers=validate,
                                    normalize_outbound_headers=validate,
                                    validate_inbound_headers=False)
    c = h2.connection.H2Connection(config=cfg)
    c.initiate_connection()
    if settings:
        c.update_settings(settings)
    s.sendall(c.data_to_send())
    return s, c


def req(path, method="GET", extra=()):
    return [(":method", method), (":scheme", "https"),
            (":authority", "localhost"), (":path", path)] + list(extra)


def pump(s, c, secs, on_event=None):
    """Reads for secs (or until on_event returns True or the peer closes);
    returns (events, closed)."""
    events, end = [], time.time() + secs
    while time.time() < end:
        s.settimeout(max(0.01, end - time.time()))
        try:
            d = s.recv(65536)
        except (socket.timeout, TimeoutError):
            break
        except (ConnectionError, ssl.SSLError, OSError):
            return events, True
        if not d:
            return events, True
        try:
            evs = c.receive_data(d)
        except Exception as e:      # a frame h2 dislikes: stop reading it
            events.append(("h2-error", repr(e)))
            return events, False
        events.extend(evs)
        out = c.data_to_send()
        if out:
            try:
                s.sendall(out)
            except (ConnectionError, ssl.SSLError, OSError):
                return events, True
        if on_event is not None and any(on_event(e) for e in evs):
            break
    return events, False


def raw_frames(data):
    """hyperframe frames in data (complete ones)."""
    out, pos = [], 0
    while len(data) - pos >= 9:
        f, length = hf.Frame.parse_frame_header(memoryview(data[pos:pos + 9]))
        if len(data) - pos - 9 < length:
            break
        f.parse_body(memoryview(data[pos + 9:pos + 9 + length]))
        out.append(f)
        pos += 9 + length
    return out


def read_raw(s, secs):
    """Bytes until the peer closes or secs pass; (data, closed)."""
    buf, end = b"", time.time() + secs
    while time.time() < end:
        s.settimeout(max(0.01, end - time.time()))
        try:
            d = s.recv(65536)
        except (socket.timeout, TimeoutError):
            return buf, False
        except (ConnectionError, ssl.SSLError, OSError):
            return buf, True
        if not d:
            return buf, True
        buf += d
    return buf, False


def goaway_of(events):
    for e in events:
        if isinstance(e, h2.events.ConnectionTerminated):
            return e.error_code
    return None
PYEOF
cat >"$py/viewer.py" <<'PYEOF'
# The reference viewer: GET /stream over plain HTTP/1.1 for `secs`; every
# 0.2 s it writes "parts largest_gap_ms" to OUT (replaced atomically).
import os, socket, sys, time

port, out, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port), timeout=2)
s.sendall(b"GET /stream?framing=full HTTP/1.1\r\nHost: localhost\r\n\r\n")
tail, parts, gap, last, wrote = b"", 0, 0, time.time(), 0.0
end = time.time() + secs
while time.time() < end:
    eof = False
    try:
        d = s.recv(65536)
        eof = not d
    except (socket.timeout, TimeoutError):
        d = b""
    except OSError:
        d, eof = b"", True
    now = time.time()
    n = (tail + d).count(b"X-Timestamp: ")
    if n:
        parts += n
        gap = max(gap, int((now - last) * 1000))
        last = now
    tail = (tail + d)[-12:] if n == 0 else d[d.rfind(b"X-Timestamp: ") + 13:][-12:]
    if now - wrote >= 0.2 or eof:
        with open(out + ".new", "w") as f:
            f.write("%d %d\n" % (parts, gap))
        os.rename(out + ".new", out)
        wrote = now
    if eof:
        break
PYEOF
cat >"$py/rapid_reset.py" <<'PYEOF'
# a. rapid reset (CVE-2023-44487): HEADERS for GET /stream and RST_STREAM
# right after it, in batches of 100, without waiting for answers.  What
# comes back is read as raw frames between batches.  Prints
# "sent headers_answered goaway_code goaway_last_stream closed".
import socket, ssl, sys, time
sys.path.insert(0, sys.path[0])
from h2common import *
import h2.errors

N = int(sys.argv[3])
s, c = connect()
got, closed = read_raw(s, 0.3)
sent, sid = 0, 1
while sent < N and not closed:
    for _ in range(100):
        c.send_headers(sid, req("/stream"), end_stream=True)
        c.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
        sid += 2
        sent += 1
    try:
        s.sendall(c.data_to_send())
    except (ConnectionError, OSError):
        closed = True
        break
    d, closed = read_raw(s, 0.01)
    got += d
    if b"\x00\x00\x07" in d and any(isinstance(f, hf.GoAwayFrame) for f in raw_frames(got)):
        break
if not closed:
    d, closed = read_raw(s, 5)
    got += d
frames = raw_frames(got)
answered = sum(1 for f in frames if isinstance(f, hf.HeadersFrame))
ga = [f for f in frames if isinstance(f, hf.GoAwayFrame)]
print(sent, answered, ga[0].error_code if ga else "none",
      ga[0].last_stream_id if ga else 0, int(closed))
PYEOF
cat >"$py/ctrl_flood.py" <<'PYEOF'
# b/c. SETTINGS or PING flood: control frames that each need an ACK, sent
# in batches without reading anything back.  Prints
# "sent acks closed" (acks: ACK frames read back; closed: the server ended
# the connection).
import sys, time
sys.path.insert(0, sys.path[0])
from h2common import *

kind, N = sys.argv[3], int(sys.argv[4])
s = tls_socket()
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + hf.SettingsFrame(0).serialize())
if kind == "settings":
    one = hf.SettingsFrame(0, settings={hf.SettingsFrame.MAX_CONCURRENT_STREAMS: 100}).serialize()
else:
    one = hf.PingFrame(0, opaque_data=b"12345678").serialize()
batch = one * min(N, 500)
sent, closed, t0 = 0, False, time.time()
s.settimeout(5)
while sent < N:
    try:
        s.sendall(batch)
    except (ConnectionError, OSError, TimeoutError):
        closed = True
        break
    sent += min(N, 500)
got = b""
if not closed:
    # Nothing was read so far: drain what the server sent (ACKs) and see
    # whether it ended the connection.  1.5 s, well inside client_timeout
    # (3 s here): a connection with no request is closed at that timeout,
    # which is not the flood's doing (3 s of reading raced it).
    got, closed = read_raw(s, 1.5)
acks = sum(1 for f in raw_frames(got) if "ACK" in f.flags and
           isinstance(f, (hf.SettingsFrame, hf.PingFrame)))
print(sent, acks, int(closed))
PYEOF
cat >"$py/big_headers.py" <<'PYEOF'
# d. an oversized header list, in two ways: 24 literal fields of 1000
# bytes (24 KiB on the wire, HEADERS + CONTINUATION), and the HPACK
# dynamic table abused: one 4000-byte field inserted, then referenced by
# its index 200 times (800 KB of header list from a ~4 KiB block).  Then a
# GET /healthz on the same connection.  Prints
# "status_literal status_indexed block_bytes status_after closed".
import sys
sys.path.insert(0, sys.path[0])
from h2common import *
import h2.errors

s, c = connect()
pump(s, c, 0.2)
res = {}


def ask(sid, headers):
    c.send_headers(sid, headers, end_stream=True)
    s.sendall(c.data_to_send())
    evs, closed = pump(s, c, 3, lambda e: getattr(e, "stream_id", None) == sid and
                       isinstance(e, (h2.events.ResponseReceived, h2.events.StreamReset)))
    for e in evs:
        if getattr(e, "stream_id", None) != sid:
            continue
        if isinstance(e, h2.events.ResponseReceived):
            return dict(e.headers)[":status"], closed
        if isinstance(e, h2.events.StreamReset):
            return "reset%d" % e.error_code, closed
    return "none", closed


lit = req("/stream", extra=[("x-pad-%d" % i, "a" * 1000) for i in range(24)])
st1, closed = ask(1, lit)
big = ("x-bomb", "b" * 4000)
before = len(c.data_to_send())
idx = req("/stream", extra=[big] * 200)
c.send_headers(3, idx, end_stream=True)
block = c.data_to_send()
s.sendall(block)
evs, closed2 = pump(s, c, 3, lambda e: getattr(e, "stream_id", None) == 3 and
                    isinstance(e, (h2.events.ResponseReceived, h2.events.StreamReset)))
st2 = "none"
for e in evs:
    if getattr(e, "stream_id", None) == 3:
        if isinstance(e, h2.events.ResponseReceived):
            st2 = dict(e.headers)[":status"]
        elif isinstance(e, h2.events.StreamReset):
            st2 = "reset%d" % e.error_code
st3, closed3 = ask(5, req("/healthz")) if not (closed or closed2) else ("none", True)
print(st1, st2, len(block), st3, int(closed or closed2 or closed3))
PYEOF
cat >"$py/continuation_flood.py" <<'PYEOF'
# e. CONTINUATION flood: GET /healthz as HEADERS without END_HEADERS, then N
# CONTINUATION frames of one small literal field each; with "end" the last
# one ends the block (a legitimate split header block, the control case),
# otherwise the block never ends.  Prints
# "sent_continuations status goaway_code closed" (status: of the answer
# on stream 1, or none).
import sys
sys.path.insert(0, sys.path[0])
from h2common import *
import hpack

N, end = int(sys.argv[3]), len(sys.argv) > 4 and sys.argv[4] == "end"
s, c = connect()
pump(s, c, 0.2)
first = hpack.Encoder().encode(req("/healthz"))
s.sendall(hf.HeadersFrame(1, data=first, flags=["END_STREAM"]).serialize())
field = b"\x00\x05x-pad\x0aaaaaaaaaaa"     # literal, not indexed, 10-byte value
sent, closed = 0, False
try:
    while sent < N:
        n = min(100, N - sent)
        frames = [hf.ContinuationFrame(1, data=field) for _ in range(n)]
        if end and sent + n == N:
            frames[-1].flags.add("END_HEADERS")
        s.sendall(b"".join(f.serialize() for f in frames))
        sent += n
except (ConnectionError, OSError):
    closed = True
got, closed2 = read_raw(s, 1.5)
frames = raw_frames(got)
ga = [f for f in frames if isinstance(f, hf.GoAwayFrame)]
status = "none"
for f in frames:
    if isinstance(f, hf.HeadersFrame) and f.stream_id == 1:
        status = dict(hpack.Decoder().decode(f.data))[":status"]
print(sent, status, ga[0].error_code if ga else "none", int(closed or closed2))
PYEOF
cat >"$py/zero_window.py" <<'PYEOF'
# f. zero-window streams: SETTINGS_INITIAL_WINDOW_SIZE 0, N GET /stream
# streams, never a WINDOW_UPDATE.  Reads until all N were reset or `hold`
# seconds passed; prints "opened" once they are open (the caller watches
# /status), then "heads data_bytes resets codes seconds_to_last_reset",
# then, asked on the same connection, the status of GET /healthz and
# whether the connection closed.
import sys, time
sys.path.insert(0, sys.path[0])
from h2common import *

N, hold = int(sys.argv[3]), float(sys.argv[4])
s, c = connect({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
pump(s, c, 0.3)
for i in range(N):
    c.send_headers(1 + 2 * i, req("/stream"), end_stream=True)
s.sendall(c.data_to_send())
t0 = time.time()
print("opened", flush=True)
heads = data = 0
resets, last, closed = [], 0.0, False
while len(resets) < N and time.time() < t0 + hold and not closed:
    evs, closed = pump(s, c, 0.1)
    heads += sum(isinstance(e, h2.events.ResponseReceived) for e in evs)
    data += sum(len(e.data) for e in evs if isinstance(e, h2.events.DataReceived))
    r = [e.error_code for e in evs if isinstance(e, h2.events.StreamReset)]
    if r:
        resets += r
        last = time.time() - t0
st = "none"
if not closed:
    sid = 1 + 2 * N
    c.send_headers(sid, req("/healthz"), end_stream=True)
    s.sendall(c.data_to_send())
    evs, closed = pump(s, c, 3, lambda e: isinstance(e, h2.events.ResponseReceived))
    for e in evs:
        if isinstance(e, h2.events.ResponseReceived) and e.stream_id == sid:
            st = dict(e.headers)[":status"]
print(heads, data, len(resets), ",".join(sorted(set(map(str, resets)))) or "-",
      round(last, 1), st, int(closed))
PYEOF
cat >"$py/slow_stream.py" <<'PYEOF'
# g. one slow stream does not hold up another on the same connection.
# SETTINGS_INITIAL_WINDOW_SIZE 32 KiB; stream A (GET /stream) never gets a
# WINDOW_UPDATE, stream B (GET /stream) is given back every byte it reads;
# the connection's window is given back for both.  After `secs` A's window
# is opened wide and the first part A gets from then on must be a recent
# frame.  Prints "b_parts a_bytes_stuck a_age_ms" (a_age_ms: now minus the
# X-Timestamp of A's first part after the window opened; -1 = none).
import re, sys, time
sys.path.insert(0, sys.path[0])
from h2common import *

secs = float(sys.argv[3])
WIN = 32768
s, c = connect({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: WIN})
pump(s, c, 0.3)
A, B = 1, 3
c.send_headers(A, req("/stream?framing=full"), end_stream=True)
c.send_headers(B, req("/stream?framing=full"), end_stream=True)
s.sendall(c.data_to_send())
body = {A: b"", B: b""}


def take(evs):
    for e in evs:
        if isinstance(e, h2.events.DataReceived):
            body[e.stream_id] += e.data
            n = e.flow_controlled_length
            if n:
                c.increment_flow_control_window(n)          # connection
                if e.stream_id == B:
                    c.increment_flow_control_window(n, stream_id=B)
    out = c.data_to_send()
    if out:
        s.sendall(out)


t0 = time.time()
while time.time() < t0 + secs:
    evs, closed = pump(s, c, 0.05)
    take(evs)
    if closed:
        break
b_parts = body[B].count(b"X-Timestamp: ")
stuck = len(body[A])
# Open A's window and read until a part header that starts after what A
# already had comes in whole.
c.increment_flow_control_window(8 << 20, stream_id=A)
s.sendall(c.data_to_send())
age, end = -1, time.time() + 3
while time.time() < end:
    evs, closed = pump(s, c, 0.05)
    take(evs)
    m = re.search(rb"X-Timestamp: (\d+\.\d+)\r\n", body[A][stuck:])
    if m:
        age = int((time.time() - float(m.group(1))) * 1000)
        break
    if closed:
        break
print(b_parts, stuck, age)
PYEOF
cat >"$py/odd_requests.py" <<'PYEOF'
# h. requests HTTP/2 lets a client send that forkcast does not serve, each
# on its own stream of one connection: prints "name=answer" for each
# (a :status, or resetN for RST_STREAM with error code N), then
# "after=STATUS" for a GET /healthz on the same connection, then "closed=0|1".
import sys
sys.path.insert(0, sys.path[0])
from h2common import *

s, c = connect(validate=False)
pump(s, c, 0.2)
cases = [
    ("post_body", req("/stream", "POST", [("content-length", "5")]), b"hello"),
    ("put_body", req("/snapshot", "PUT", [("content-length", "5")]), b"hello"),
    ("get_body", req("/status", "GET", [("content-length", "5")]), b"hello"),
    ("unknown_method", req("/status", "BREW"), None),
    ("path_3000", req("/" + "a" * 2999), None),
    ("two_hosts", req("/status", extra=[("host", "example.com")]), None),
    ("two_authorities", req("/status") + [(":authority", "example.com")], None),
    ("no_path", [(":method", "GET"), (":scheme", "https"), (":authority", "localhost")], None),
    ("after", req("/healthz"), None),
]
answers, sid, closed = [], 1, False
for name, headers, body in cases:
    c.send_headers(sid, headers, end_stream=body is None)
    if body is not None:
        c.send_data(sid, body, end_stream=True)
    s.sendall(c.data_to_send())
    evs, closed = pump(s, c, 3, lambda e, i=sid: getattr(e, "stream_id", None) == i and
                       isinstance(e, (h2.events.ResponseReceived, h2.events.StreamReset)))
    ans = "none"
    for e in evs:
        if getattr(e, "stream_id", None) != sid:
            continue
        if isinstance(e, h2.events.ResponseReceived):
            ans = dict(e.headers)[":status"]
            break
        if isinstance(e, h2.events.StreamReset):
            ans = "reset%d" % e.error_code
            break
    answers.append("%s=%s" % (name, ans))
    sid += 2
    if closed:
        break
print(" ".join(answers), "closed=%d" % closed)
PYEOF
cat >"$py/half_open.py" <<'PYEOF2'
# i. a request whose body never ends: its HEADERS announce 5 bytes, none
# come.  Prints the answer's :status, then the RST_STREAM that closes the
# stream (its error code, seconds after the request) or "none", "closed=0|1".
import sys, time
sys.path.insert(0, sys.path[0])
from h2common import *

s, c = connect(validate=False)
pump(s, c, 0.2)
c.send_headers(1, req("/status", "GET", [("content-length", "5")]), end_stream=False)
s.sendall(c.data_to_send())
t0 = time.time()
status, reset, when, closed = "none", "none", -1, False
end = t0 + 9
while time.time() < end and reset == "none" and not closed:
    evs, closed = pump(s, c, 0.2)
    for e in evs:
        if getattr(e, "stream_id", None) != 1:
            continue
        if isinstance(e, h2.events.ResponseReceived):
            status = dict(e.headers)[":status"]
        if isinstance(e, h2.events.StreamReset):
            reset, when = "%d" % e.error_code, time.time() - t0
print("status=%s reset=%s after=%.1f closed=%d" % (status, reset, when, closed))
PYEOF2

# --- the reference viewer and the checks after each attack ---
"$PY" "$py/viewer.py" "$port" "$TMP/viewer" 240 >"$TMP/viewer.log" 2>&1 &
VIEWER=$!
PIDS+=("$VIEWER")
status() { curl -s --max-time 3 "$BASE/status"; }
worker_pids() { status | sed 's/.*"workers": *\[//' | grep -o '"pid": *[0-9]*' | sed 's/.*: *//' | sort -n | tr '\n' ' '; }
clients() { json_num "$(status)" clients; }
requests() { status | "$PY" -c 'import json,sys; print(sum(w["requests"] for w in json.load(sys.stdin)["workers"]))'; }
viewer_parts() { cut -d ' ' -f 1 "$TMP/viewer" 2>/dev/null || echo 0; }
for _ in $(seq 1 30); do [ "$(viewer_parts)" -ge 5 ] && break; sleep 0.1; done
BASELINE=$(clients)
WORKERS=$(serving_workers 2)
check_that "baseline: the reference viewer streams ($(viewer_parts) parts), /status clients $BASELINE" \
	'[ "$(viewer_parts)" -ge 5 ] && [ "$BASELINE" = 1 ]'
# Probes one h2 connection of curl's: the TLS address still serves h2.
h2_healthz() { curl -s --cacert "$CA" --http2 --max-time 3 -o /dev/null -w '%{http_code} %{http_version}' "$TBASE/healthz"; }

# after_attack NAME: the server and the reference viewer came through it.
# Call begin_attack first.
begin_attack() { V0=$(viewer_parts); }
after_attack() {
	local name=$1 n=0 v1 code h2 pids
	for _ in $(seq 1 50); do
		n=$(clients)
		[ "$n" = "$BASELINE" ] && break
		sleep 0.1
	done
	check "$name: /status clients back to $BASELINE ($n): places released" [ "$n" = "$BASELINE" ]
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$BASE/healthz")
	h2=$(h2_healthz)
	check_that "$name: /healthz 200 ($code), over h2 too ($h2)" '[ "$code" = 200 ] && [ "$h2" = "200 2" ]'
	pids=$(worker_pids)
	check "$name: worker pids unchanged ($pids)" [ "$pids" = "$WORKERS" ]
	sleep 0.5
	v1=$(viewer_parts)
	check "$name: the reference viewer kept receiving parts ($V0 -> $v1)" [ "$v1" -ge $((V0 + 5)) ]
}

echo "-- a. rapid reset (CVE-2023-44487)"
begin_attack
r0=$(requests)
read -r sent answered code last closed < <(timeout 60 "$PY" "$py/rapid_reset.py" "$tport" "$CA" 5000)
routed=$(( $(requests) - r0 ))
# nghttp2's stream_reset_rate_limit (1000 burst, 33/s; h2.c): the
# connection is cut with GOAWAY (INTERNAL_ERROR) after about 1000 streams.
check_that "rapid reset: GOAWAY INTERNAL_ERROR (2) after ${sent:-0} HEADERS+RST_STREAM of 5000 (code $code, last stream $last)" \
	'[ "$code" = 2 ] && [ "${sent:-5000}" -lt 5000 ]'
check "rapid reset: the connection is closed ($closed)" [ "$closed" = 1 ]
# Streams that came in the same reads as the one over the limit are still
# routed (and reset at once): bounded by what the client got through
# before the connection went, never the 5000 (+1: the /status request).
check_that "rapid reset: the server routed about the 1000 of the burst ($routed routed of $sent sent; response HEADERS read: $answered)" \
	'[ "$routed" -le $((sent + 1)) ] && [ "$routed" -ge 900 ] && [ "$sent" -le 2000 ]'
after_attack "rapid reset"

echo "-- b, c. SETTINGS and PING floods (no ACK read)"
for kind in settings ping; do
	begin_attack
	read -r sent acks closed < <(timeout 30 "$PY" "$py/ctrl_flood.py" "$tport" "$CA" "$kind" 500)
	check_that "$kind: 500 frames, ACKs read afterwards: all answered, connection open ($acks ACKs, closed $closed)" \
		'[ "$acks" = 501 ] && [ "$closed" = 0 ]'
	read -r sent acks closed < <(timeout 60 "$PY" "$py/ctrl_flood.py" "$tport" "$CA" "$kind" 200000)
	# max_outbound_ack 1000 (h2.c): unsent ACKs beyond it end the session.
	check_that "$kind flood: the server ended the connection after ${sent} frames ($closed)" \
		'[ "$closed" = 1 ] && [ "$sent" -lt 200000 ]'
	after_attack "$kind flood"
done

echo "-- d. oversized header list, HPACK dynamic-table bomb"
begin_attack
read -r lit idx block after closed < <(timeout 30 "$PY" "$py/big_headers.py" "$tport" "$CA")
check "24 KiB of literal header fields: 431 ($lit)" [ "$lit" = 431 ]
check "one 4000-byte field referenced 200 times ($block bytes on the wire, 800 KB decoded): 431 or reset ($idx)" \
	bash -c "[ '$idx' = 431 ] || [ '${idx#reset}' != '$idx' ]"
check_that "the connection goes on: GET /healthz after them on it: 200 ($after, closed $closed)" \
	'[ "$after" = 200 ] && [ "$closed" = 0 ]'
after_attack "header bombs"

echo "-- e. CONTINUATION flood"
begin_attack
read -r sent st code closed < <(timeout 30 "$PY" "$py/continuation_flood.py" "$tport" "$CA" 5 end)
check_that "a header block in HEADERS + 5 CONTINUATION is served ($st, closed $closed)" \
	'[ "$st" = 200 ] && [ "$closed" = 0 ]'
read -r sent st code closed < <(timeout 30 "$PY" "$py/continuation_flood.py" "$tport" "$CA" 10000)
# max_continuations 8 (h2.c): nghttp2 refuses the block; h2.c answers GOAWAY.
check_that "HEADERS + endless CONTINUATION: GOAWAY ($code) and closed ($closed) after $sent sent" \
	'[ "$code" != none ] && [ "$closed" = 1 ]'
after_attack "CONTINUATION flood"

echo "-- f. 20 streams whose window never opens"
begin_attack
timeout 30 "$PY" "$py/zero_window.py" "$tport" "$CA" 20 10 >"$TMP/zw.out" 2>&1 &
zw=$!
for _ in $(seq 1 30); do grep -q opened "$TMP/zw.out" && break; sleep 0.1; done
sleep 0.5
during=$(clients)
check "20 zero-window streams are 20 clients ($during, baseline $BASELINE)" [ "$during" = $((BASELINE + 20)) ]
wait "$zw"
read -r heads data resets codes secs st closed < <(tail -n 1 "$TMP/zw.out")
check_that "each got its response HEADERS and no DATA ($heads heads, $data bytes)" '[ "$heads" = 20 ] && [ "$data" = 0 ]'
# send_timeout = 3: dropped in the first tick after it, RST_STREAM CANCEL
# sent at once (h2.c fc_h2_stream_detach marks the connection for a send).
check_that "all 20 reset (CANCEL) after send_timeout: $resets resets, codes $codes, the last at ${secs}s" \
	'[ "$resets" = 20 ] && [ "$codes" = 8 ] && "$PY" -c "import sys; sys.exit(not 2.9 <= $secs <= 5)"'
check_that "the connection lives on: GET /healthz on it: 200 ($st, closed $closed)" '[ "$st" = 200 ] && [ "$closed" = 0 ]'
after_attack "zero-window streams"

echo "-- g. a stuck stream beside a reading one, one connection"
begin_attack
# 2.5 s stuck (send_timeout 3 would reset it later): >= 25 parts at 15 fps.
read -r bparts astuck age < <(timeout 30 "$PY" "$py/slow_stream.py" "$tport" "$CA" 2.5)
check "stream A stuck at its 32 KiB window ($astuck bytes)" [ "$astuck" -le 32768 ]
check "stream B on the same connection: $bparts parts in 2.5 s (>= 25)" [ "${bparts:-0}" -ge 25 ]
check_that "A's window opened: its next part is a recent frame (${age} ms old, < 1000)" \
	'[ "${age:--1}" -ge 0 ] && [ "$age" -lt 1000 ]'
after_attack "slow stream"

echo "-- h. requests forkcast does not serve"
begin_attack
out=$(timeout 60 "$PY" "$py/odd_requests.py" "$tport" "$CA")
# ans KEY: the value of KEY=VALUE in the script's answer line ($out).
ans() { sed -n "s/.*\b$1=\([a-z0-9.-]*\).*/\1/p" <<<"$out"; }
check "POST with a body: 405 ($(ans post_body))" [ "$(ans post_body)" = 405 ]
check "PUT with a body: 405 ($(ans put_body))" [ "$(ans put_body)" = 405 ]
check "GET with a body: 400 ($(ans get_body))" [ "$(ans get_body)" = 400 ]
check "an unknown :method: 405 ($(ans unknown_method))" [ "$(ans unknown_method)" = 405 ]
check "a :path of 3000 bytes: 414 ($(ans path_3000))" [ "$(ans path_3000)" = 414 ]
check ":authority and a different host: 400 ($(ans two_hosts))" [ "$(ans two_hosts)" = 400 ]
check "two :authority: reset by nghttp2, PROTOCOL_ERROR ($(ans two_authorities))" [ "$(ans two_authorities)" = reset1 ]
check "no :path: reset by nghttp2, PROTOCOL_ERROR ($(ans no_path))" [ "$(ans no_path)" = reset1 ]
check_that "GET /healthz after them on the same connection: 200 ($(ans after), $(ans closed))" \
	'[ "$(ans after)" = 200 ] && [ "$(ans closed)" = 0 ]'
after_attack "odd requests"

echo "-- i. a request body that never ends"
begin_attack
out=$(timeout 30 "$PY" "$py/half_open.py" "$tport" "$CA")
check "announced body, none sent: 400 at once ($(ans status))" [ "$(ans status)" = 400 ]
check "... then RST_STREAM NO_ERROR after client_timeout (3 s) closes the stream (code $(ans reset) after $(ans after) s)" \
	bash -c "[ '$(ans reset)' = 0 ] && awk 'BEGIN { exit !($(ans after) >= 2.5 && $(ans after) < 7) }'"
check "... and the connection stays ($(ans closed))" [ "$(ans closed)" = 0 ]
after_attack "half-open request"

echo "-- the whole run"
read -r vparts vgap <"$TMP/viewer"
check "the reference viewer's longest wait for a part: ${vgap} ms (< 1500; $vparts parts)" [ "$vgap" -lt 1500 ]
check "no child exited" bash -c "! grep -q 'exited' '$TMP/s.log'"
kill "$VIEWER" 2>/dev/null
finish
