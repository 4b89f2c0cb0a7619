#!/bin/bash
# Lifecycle and fault tolerance under load: worker and capture crashes,
# reloads (pool size, resolution, listen address, broken file), graceful
# stop, supervisor death, crash loops.  Figures are printed; assertions
# stay loose enough for a busy 2-core machine.
. "$(dirname "$0")/lib.sh"

FPS=20
port=$(free_port) || exit 1
base_conf() {	# base_conf WORKERS [capture lines...]
	local w=$1; shift
	write_config "$TMP/l.conf" "$port" "workers = $w" "shutdown_grace = 3" \
		"[capture]" "width = 320" "height = 240" "fps = $FPS" "idle_stop = 0" "$@"
}
base_conf 4
start_server "$TMP/l.conf" "$TMP/l.log" || exit 1
SUP=$SERVER_PID

status() { curl -s --max-time 2 "$BASE/status"; }
# "index pid state clients" per worker line
workers() {
	status | grep -o '"index": *[0-9]*, *"pid": *[0-9]*, *"state": *"[a-z]*", *"clients": *[0-9]*' |
		sed 's/"[a-z]*": *//g; s/"//g; s/,/ /g'
}
capture_pid() { status | grep -o '"capture": *{ *"pid": *[0-9]*' | grep -o '[0-9]*$'; }
capture_frames() { status | grep -o '"frames": *[0-9]*' | head -n 1 | grep -o '[0-9]*$'; }
ms_now() { echo $(( $(date +%s%N) / 1000000 )); }
# le G MAX: G is a number and G <= MAX (awk compares an empty G as a
# string, which is "smaller" than any number).
le() { awk -v g="$1" -v m="$2" 'BEGIN { exit !(g ~ /^[0-9]+(\.[0-9]+)?$/ && g + 0 <= m + 0) }'; }
client() {	# client OUT CLIENTS SECONDS
	"$BUILD/tools/fcclient" --url "$BASE/stream" --clients "$2" --seconds "$3" \
		--expect-frames 1 >"$1" 2>/dev/null &
	CLIENT_PID=$!
	PIDS+=("$CLIENT_PID")
}

# --- a worker dies under 100 streaming clients ---
client "$TMP/k.json" 100 8
sleep 2.5
read -r _ wpid _ wclients <<<"$(workers | head -n 1)"
t0=$(ms_now)
kill -KILL "$wpid"
respawn_ms=""
for _ in $(seq 1 40); do
	sleep 0.05
	np=$(workers | awk '$1 == 0 { print $2 }')
	if [ -n "$np" ] && [ "$np" != "$wpid" ]; then respawn_ms=$(( $(ms_now) - t0 )); break; fi
done
wait "$CLIENT_PID"
k=$(cat "$TMP/k.json")
closed=$(json_num "$k" closed)
gap=$(json_num "$k" gap_ms_max_open)
echo "  worker kill: worker 0 held $wclients clients; $closed closed; respawned in ${respawn_ms:-?} ms;" \
	"longest gap for the others ${gap} ms (frame interval $((1000 / FPS)) ms)"
check "only the killed worker's clients dropped ($closed of its $wclients)" \
	[ -n "$wclients" -a "$closed" = "$wclients" ]
check "replacement worker within 1 s (${respawn_ms:-never} ms)" [ "${respawn_ms:-9999}" -le 1000 ]
check "other clients kept streaming: gap $gap ms <= 5 frame intervals (busy 2-core box)" \
	le "$gap" $((5 * 1000 / FPS))
check "no bad frame during the kill" [ "$(json_num "$k" bad_frames)" = 0 ]

# --- capture dies: nobody disconnects, live frames come back ---
client "$TMP/c.json" 20 9
sleep 2
cpid=$(capture_pid)
f0=$(capture_frames)
t0=$(ms_now)
kill -KILL "$cpid"
live_ms=""
for _ in $(seq 1 100); do
	sleep 0.05
	np=$(capture_pid); f=$(capture_frames)
	if [ -n "$np" ] && [ "$np" != 0 ] && [ "$np" != "$cpid" ] && [ "${f:-0}" -gt "${f0:-0}" ]; then
		live_ms=$(( $(ms_now) - t0 )); break
	fi
done
wait "$CLIENT_PID"
c=$(cat "$TMP/c.json")
echo "  capture kill: first live frame ${live_ms:-never} ms after the kill; clients: closed" \
	"$(json_num "$c" closed), longest gap $(json_num "$c" gap_ms_max_open) ms"
check "capture kill: no client disconnected" [ "$(json_num "$c" closed)" = 0 ]
check "capture kill: every client ok" [ "$(json_num "$c" ok)" = 20 ]
check "capture kill: live frames again within 2 s (${live_ms:-never} ms)" [ "${live_ms:-9999}" -le 2000 ]
check "capture kill: clients got frames again on the same connection (gap $(json_num "$c" gap_ms_max_open) ms < 2.5 s)" \
	le "$(json_num "$c" gap_ms_max_open)" 2499.999

# --- reload 4 -> 2 -> 6 under load ---
client "$TMP/r.json" 100 12
sleep 2.5
before=$(workers)
retiring_clients=$(awk '$1 >= 2 { s += $4 } END { print s + 0 }' <<<"$before")
gen0=$(json_num "$(status)" generation)
base_conf 2
kill -HUP "$SUP"
sleep 1
st=$(workers)
check "reload to 2: workers 2 and 3 retire" bash -c "grep -q retiring <<<'$st'"
sleep 4	# shutdown_grace = 3
base_conf 6
kill -HUP "$SUP"
sleep 1.5
n=$(workers | grep -c serving)
check "reload to 6: six workers serving ($n)" [ "$n" = 6 ]
check "generation advanced twice" [ "$(json_num "$(status)" generation)" = $((gen0 + 2)) ]
wait "$CLIENT_PID"
r=$(cat "$TMP/r.json")
echo "  reload 4->2->6: retiring workers held $retiring_clients clients; $(json_num "$r" closed) closed after the grace"
check "only the retired workers' clients were closed ($(json_num "$r" closed) of $retiring_clients)" \
	[ "$(json_num "$r" closed)" = "$retiring_clients" ]
check "each of them ended with the close delimiter ($(json_num "$r" ended))" \
	[ "$(json_num "$r" ended)" = "$retiring_clients" ]

# --- reload with a new resolution: same connections, new picture ---
client "$TMP/s.json" 5 7
sleep 2
base_conf 6 "" && sed -i 's/^width = 320$/width = 480/; s/^height = 240$/height = 272/' "$TMP/l.conf"
kill -HUP "$SUP"
wait "$CLIENT_PID"
s=$(cat "$TMP/s.json")
echo "  resolution reload: $(grep -o '"size_first":"[0-9x]*","size_last":"[0-9x]*","clients_size_changed":[0-9]*' <<<"$s")"
check "resolution reload: no client reconnected" [ "$(json_num "$s" closed)" = 0 ]
check "resolution reload: new size on the same connections" grep -q '"size_first":"320x240","size_last":"480x272","clients_size_changed":5' <<<"$s"

# --- a broken reload changes nothing ---
gen=$(json_num "$(status)" generation)
check "/status gives the generation before the broken reload (${gen:-none})" [ -n "$gen" ]
cp "$TMP/l.conf" "$TMP/l.good"
sed -i 's/^fps = .*/fps = 0/' "$TMP/l.conf"
out=$("$ROOT/scripts/forkcastctl" -c "$TMP/l.conf" reload 2>&1)
check "forkcastctl reload refuses a broken file ($out)" grep -q 'capture.fps' <<<"$out"
kill -HUP "$SUP"
sleep 0.5
check "broken reload: generation unchanged" [ "$(json_num "$(status)" generation)" = "$gen" ]
check "broken reload: error logged with its line" grep -q 'l.conf:[0-9]*: capture.fps: ' "$TMP/l.log"
cp "$TMP/l.good" "$TMP/l.conf"
out=$("$ROOT/scripts/forkcastctl" -c "$TMP/l.conf" reload 2>&1)
check "forkcastctl reload reports the new generation ($out)" grep -q "generation $((gen + 1))" <<<"$out"

# --- a new listen address: new sockets for new workers ---
port2=$(free_port) || exit 1
sed -i "s/^listen = 127.0.0.1:$port$/listen = 127.0.0.1:$port2/" "$TMP/l.conf"
kill -HUP "$SUP"
ok2=no
for _ in $(seq 1 30); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port2/healthz")" = 200 ] && { ok2=yes; break; }
	sleep 0.1
done
check "listen change: the new address serves" [ "$ok2" = yes ]
sleep 4.5	# the old workers drain for shutdown_grace, then the old socket closes
check "listen change: the old address is closed" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$BASE/healthz")" = 000 ]
port=$port2
BASE="http://127.0.0.1:$port"

# --- graceful stop under load ---
client "$TMP/t.json" 50 10
# One stream in each framing kept as bytes: a stop ends them with the
# close delimiter.
curl -s --max-time 10 "$BASE/stream?framing=full" >"$TMP/stop-full.bin" &
SFULL=$!
curl -s --max-time 10 "$BASE/stream?framing=advance" >"$TMP/stop-adv.bin" &
SADV=$!
sleep 2
all=$(workers | awk '{ print $2 }'; capture_pid)
t0=$(ms_now)
kill -TERM "$SUP"
wait "$SUP"
rc=$?
stop_ms=$(( $(ms_now) - t0 ))
wait "$CLIENT_PID"
wait "$SFULL" "$SADV"
t=$(cat "$TMP/t.json")
check "stop: a full-framing stream ends with the close delimiter" \
	[ "$(tail -c 19 "$TMP/stop-full.bin" | od -An -c | tr -s ' ')" = "$(printf -- '--forkcastframe--\r\n' | od -An -c | tr -s ' ')" ]
check "stop: an advance-framing stream ends its open part and the body" \
	[ "$(tail -c 21 "$TMP/stop-adv.bin" | od -An -c | tr -s ' ')" = "$(printf -- '\r\n--forkcastframe--\r\n' | od -An -c | tr -s ' ')" ]
left=""
for p in $all; do alive "$p" && left="$left $p"; done
echo "  stop under load: exit $rc after $stop_ms ms; clients closed $(json_num "$t" closed) of 50, bad frames $(json_num "$t" bad_frames)"
check "stop: exit status 0" [ "$rc" = 0 ]
check "stop: within shutdown_grace ($stop_ms ms)" [ "$stop_ms" -lt 3000 ]
check "stop: every stream closed" [ "$(json_num "$t" closed)" = 50 ]
check "stop: every part finished (no bad frame)" [ "$(json_num "$t" bad_frames)" = 0 ]
check "stop: no process left (of: $(echo $all))" [ -n "$all" -a -z "$left" ]
check "stop: pid file removed" [ ! -e "$(sed -n 's/^pid_file = //p' "$TMP/l.conf")" ]

# --- SIGKILL of the supervisor: no orphans; the next start works ---
start_server "$TMP/l.conf" "$TMP/l2.log" || exit 1
SUP=$SERVER_PID
all=$(workers | awk '{ print $2 }'; capture_pid)
kill -KILL "$SUP"
wait "$SUP" 2>/dev/null
sleep 1
left=""
for p in $all; do alive "$p" && left="$left $p"; done
check "supervisor killed: no child left after 1 s ($left; of: $(echo $all))" [ -n "$all" -a -z "$left" ]
pidfile=$(sed -n 's/^pid_file = //p' "$TMP/l.conf")
check "supervisor killed: its pid file is stale" [ -e "$pidfile" ]
start_server "$TMP/l.conf" "$TMP/l3.log"
check "the next start works despite the stale pid file" [ $? = 0 ]
stop_server "$SERVER_PID"

# --- a source that always fails backs off instead of spinning ---
write_config "$TMP/f.conf" "$port" "workers = 1" \
	"[capture]" "source = v4l2" "device = /dev/forkcast-no-such-camera" "width = 320" "height = 240"
"$BUILD/forkcast" -c "$TMP/f.conf" >"$TMP/f.log" 2>&1 &
SUP=$!
PIDS+=("$SUP")
sleep 1.5
cpid=$(capture_pid)
# utime + stime; nothing when the process is gone (a gone process used no
# CPU, but it also proves nothing about spinning).
ticks() { [ -n "$1" ] && sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
c0=$(ticks "$cpid"); s0=$(ticks "$SUP")
sleep 3
c1=$(ticks "$cpid"); s1=$(ticks "$SUP")
check "failing source: capture ${cpid:-?} and the supervisor ran for the 3 s measured" \
	[ -n "$c0" -a -n "$c1" -a -n "$s0" -a -n "$s1" ]
c0=${c0:-0} c1=${c1:-0} s0=${s0:-0} s1=${s1:-0}
hz=$(getconf CLK_TCK)
echo "  failing source: capture used $(( (c1 - c0) * 1000 / hz )) ms CPU and the supervisor $(( (s1 - s0) * 1000 / hz )) ms in 3 s"
check "failing source: capture does not spin" [ $(( (c1 - c0) * 1000 / hz )) -lt 300 ]
check "failing source: the supervisor does not spin" [ $(( (s1 - s0) * 1000 / hz )) -lt 300 ]
check "failing source: /healthz says 503" [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")" = 503 ]
check "failing source: no-signal frames still stream" \
	bash -c "curl -s --max-time 2.5 '$BASE/stream' | grep -ac 'image/jpeg' | grep -qv '^0$'"
check "failing source: the error is in /status" bash -c "curl -s '$BASE/status' | grep -q 'forkcast-no-such-camera'"
stop_server "$SUP"

finish
