#!/bin/bash
# Scaling out: an origin forkcast, two edge forkcasts relaying it (http
# source), HAProxy (conf/haproxy.cfg) in front, 200 viewers through HAProxy.
#
# As separate hosts when network namespaces are available (root, iproute2):
# namespaces origin, edge1, edge2, lb and viewers, each with one veth on a
# bridge that lives in a sixth namespace, addressed in 10.251.0.0/24.  All
# of it exists only inside namespaces this test creates and deletes; nothing
# is added to the namespace the test runs in.  Without namespaces the same
# topology runs on loopback ports.
#
# Checks: viewers spread over both edges, the origin serves exactly one
# stream per edge, every frame is a whole JPEG, end-to-end latency (from
# the origin's X-Timestamp) and per-hop delay are reported; then one edge
# is killed outright and fresh requests through HAProxy must succeed again
# within a few seconds.  Figures are printed, not asserted tightly.
. "$(dirname "$0")/lib.sh"

VIEWERS=${SCALEOUT_VIEWERS:-200}
SECONDS_RUN=${SCALEOUT_SECONDS:-8}
FCCLIENT=$BUILD/tools/fcclient

[ -x "$BUILD/forkcast" ] && [ -x "$BUILD/forkcast-capture" ] ||
	{ echo "skip: forkcast not built"; exit 77; }
[ -x "$FCCLIENT" ] || make -s -C "$ROOT" build/tools/fcclient >/dev/null 2>&1
[ -x "$FCCLIENT" ] || { echo "skip: build/tools/fcclient not built"; exit 77; }

HAPROXY=$(command -v haproxy || ls /usr/sbin/haproxy 2>/dev/null)
if [ -z "$HAPROXY" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "  installing haproxy (apt-get install -y haproxy)"
	timeout 120 apt-get install -y -qq haproxy >/dev/null 2>&1
	HAPROXY=$(command -v haproxy || ls /usr/sbin/haproxy 2>/dev/null)
fi
[ -n "$HAPROXY" ] || { echo "skip: haproxy not found and cannot be installed (apt-get install haproxy)"; exit 77; }

# --- topology ---------------------------------------------------------------

NETNS=0
NSES=()
TAG=fc$$			# names of everything this test creates
NET=10.251.0			# private test range, only inside our namespaces

ns_name() { echo "$TAG$1"; }

# in_ns ROLE CMD...: runs CMD "on host ROLE" (in its namespace, or here).
in_ns() {
	local role=$1; shift
	if [ "$NETNS" = 1 ]; then
		ip netns exec "$(ns_name "$role")" "$@"
	else
		"$@"
	fi
}

# spawn ROLE CMD... &: like in_ns, but the command replaces the background
# subshell (and ip netns exec replaces itself), so $! is the command's own
# PID: the one to signal.
spawn() {
	local role=$1; shift
	if [ "$NETNS" = 1 ]; then
		exec ip netns exec "$(ns_name "$role")" "$@"
	fi
	exec "$@"
}

netns_down() {
	local n
	for n in "${NSES[@]}"; do
		ip netns del "$n" 2>/dev/null
	done
	NSES=()
}

# Bridge namespace "br" with br0; one veth per host: HOST end "eth0" in
# the host's namespace, the other end enslaved to br0.
netns_up() {
	local br role i=1 n
	[ "${SCALEOUT_NETNS:-yes}" = yes ] || return 1
	[ "$(id -u)" = 0 ] && command -v ip >/dev/null || return 1
	br=$(ns_name br)
	ip netns add "$br" 2>/dev/null || return 1
	NSES+=("$br")
	ip -n "$br" link add br0 type bridge 2>/dev/null || return 1
	ip -n "$br" link set br0 up || return 1
	for role in origin edge1 edge2 lb viewers; do
		n=$(ns_name "$role")
		ip netns add "$n" || return 1
		NSES+=("$n")
		ip link add name eth0 netns "$n" type veth \
			peer name "p$i" netns "$br" 2>/dev/null || return 1
		ip -n "$br" link set "p$i" master br0 up || return 1
		ip -n "$n" link set lo up || return 1
		ip -n "$n" addr add "$NET.$i/24" dev eth0 || return 1
		ip -n "$n" link set eth0 up || return 1
		i=$((i + 1))
	done
	return 0
}

teardown() {
	cleanup			# lib.sh: stops every recorded PID, removes $TMP
	netns_down
}
trap teardown EXIT

if netns_up; then
	NETNS=1
	echo "  network namespaces: origin $NET.1, edge1 $NET.2, edge2 $NET.3, lb $NET.4, viewers $NET.5"
	H_ORIGIN=$NET.1 H_EDGE1=$NET.2 H_EDGE2=$NET.3 H_LB=$NET.4
	P_ORIGIN=8080 P_EDGE1=8080 P_EDGE2=8080 P_LB=80 P_STATS=8404
	# (start_forkcast below waits for each host to answer the viewers.)
else
	netns_down
	echo "  netns not available, using loopback"
	H_ORIGIN=127.0.0.1 H_EDGE1=127.0.0.1 H_EDGE2=127.0.0.1 H_LB=127.0.0.1
	ports=()
	while [ ${#ports[@]} -lt 5 ]; do
		p=$(free_port) || exit 1
		case " ${ports[*]} " in *" $p "*) continue ;; esac
		ports+=("$p")
	done
	P_ORIGIN=${ports[0]} P_EDGE1=${ports[1]} P_EDGE2=${ports[2]}
	P_LB=${ports[3]} P_STATS=${ports[4]}
fi
ORIGIN=http://$H_ORIGIN:$P_ORIGIN
EDGE1=http://$H_EDGE1:$P_EDGE1
EDGE2=http://$H_EDGE2:$P_EDGE2
LB=http://$H_LB:$P_LB
STATS=http://$H_LB:$P_STATS

# get ROLE URL [curl options...]: body of URL fetched from host ROLE.
get() {
	local role=$1 url=$2; shift 2
	in_ns "$role" curl -s --max-time 2 "$@" "$url"
}

# code ROLE URL: HTTP status of URL from host ROLE (000 when unreachable).
code() {
	in_ns "$1" curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$2"
}

# forkcast_conf FILE HOST PORT [lines...]
forkcast_conf() {
	local f=$1 host=$2 port=$3; shift 3
	{
		echo "[server]"
		echo "listen = $host:$port"
		echo "pid_file = $TMP/forkcast-$(basename "$f" .conf).pid"
		for l in "$@"; do echo "$l"; done
	} >"$f"
}

# start_forkcast ROLE CONF URL: starts forkcast on host ROLE, records its
# PID in PID_<ROLE>, waits for /healthz 200 (10 s).
start_forkcast() {
	local role=$1 conf=$2 url=$3 pid
	spawn "$role" "$BUILD/forkcast" -c "$conf" >"$TMP/$role.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	printf -v "PID_${role}" %s "$pid"
	for _ in $(seq 1 100); do
		[ "$(code viewers "$url/healthz")" = 200 ] && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "$role did not become healthy; log:" >&2
	tail -n 20 "$TMP/$role.log" >&2
	return 1
}

now_ms() { date +%s%3N; }

# --- start ------------------------------------------------------------------

forkcast_conf "$TMP/origin.conf" "$H_ORIGIN" "$P_ORIGIN" "workers = 1" \
	"[capture]" "source = testpattern" "width = 320" "height = 240" \
	"fps = 15" "idle_stop = 0"
for e in 1 2; do
	h=H_EDGE$e p=P_EDGE$e
	forkcast_conf "$TMP/edge$e.conf" "${!h}" "${!p}" "workers = 2" \
		"[capture]" "source = http" "url = $ORIGIN/stream"
done
start_forkcast origin "$TMP/origin.conf" "$ORIGIN" || exit 1
start_forkcast edge1 "$TMP/edge1.conf" "$EDGE1" || exit 1
start_forkcast edge2 "$TMP/edge2.conf" "$EDGE2" || exit 1

# HAProxy runs the shipped recipe itself; only the addresses differ.  As an
# ordinary user (or without Debian's /var/lib/haproxy) it cannot chroot or
# change user: those lines go.
HACFG=$ROOT/conf/haproxy.cfg
if [ "$(id -u)" != 0 ] || [ ! -d /var/lib/haproxy ]; then
	sed -E '/^[[:space:]]*(chroot|user|group)[[:space:]]/d' "$HACFG" >"$TMP/haproxy.cfg"
	HACFG=$TMP/haproxy.cfg
fi
export FC_LB_BIND=$H_LB:$P_LB FC_LB_STATS=$H_LB:$P_STATS
export FC_EDGE1=$H_EDGE1:$P_EDGE1 FC_EDGE2=$H_EDGE2:$P_EDGE2
check "haproxy -c accepts conf/haproxy.cfg" "$HAPROXY" -q -c -f "$HACFG"
spawn lb "$HAPROXY" -db -f "$HACFG" >"$TMP/haproxy.log" 2>&1 &
PID_LB=$!
PIDS+=("$PID_LB")

# edge_status NAME: HAProxy's status of server NAME (UP, DOWN, ...).
edge_status() {
	get viewers "$STATS/;csv" | awk -F, -v s="$1" \
		'$1 == "fc_edges" && $2 == s { print $18 }'
}
up=no
for _ in $(seq 1 100); do
	if [ "$(edge_status edge1)" = UP ] && [ "$(edge_status edge2)" = UP ]; then
		up=yes
		break
	fi
	sleep 0.1
done
check "HAProxy sees both edges UP" [ "$up" = yes ]
[ "$up" = yes ] || { tail -n 20 "$TMP/haproxy.log"; exit 1; }

# --- 200 viewers through HAProxy ---------------------------------------------

echo "  $VIEWERS viewers through HAProxy for $SECONDS_RUN s ($LB/stream)"
spawn viewers "$FCCLIENT" --url "$LB/stream" --clients "$VIEWERS" \
	--seconds "$SECONDS_RUN" --expect-frames 1 >"$TMP/viewers.json" 2>"$TMP/viewers.err" &
fcc=$!
PIDS+=("$fcc")

# Mid-run: where the viewers are.  Poll until every viewer is placed (or
# the run is half over), then take each instance's /status.
sleep 2
n1=0 n2=0 no=0
for _ in $(seq 1 $((SECONDS_RUN * 5))); do
	s1=$(get viewers "$EDGE1/status")
	s2=$(get viewers "$EDGE2/status")
	so=$(get viewers "$ORIGIN/status")
	n1=$(json_num "$s1" clients) n2=$(json_num "$s2" clients) no=$(json_num "$so" clients)
	[ $((${n1:-0} + ${n2:-0})) -ge "$VIEWERS" ] && break
	sleep 0.2
done
n1=${n1:-0} n2=${n2:-0} no=${no:-0}
sum=$((n1 + n2))
echo "  viewers per edge: edge1 $n1, edge2 $n2 (sum $sum); origin streaming connections: $no"
check "all $VIEWERS viewers placed on the edges" [ "$sum" -eq "$VIEWERS" ]
# share N: true when N is 30..70% of the placed viewers.
share() { [ "$sum" -gt 0 ] && [ $(($1 * 100 / sum)) -ge 30 ] && [ $(($1 * 100 / sum)) -le 70 ]; }
check "edge1 holds 30..70% of the viewers" share "$n1"
check "edge2 holds 30..70% of the viewers" share "$n2"
check "origin holds exactly two streams (one per edge)" [ "$no" = 2 ]

# Per-hop delay as each edge measures it (origin X-Timestamp to arrival).
hop_ok=yes
for e in 1 2; do
	v=s$e
	up50=$(grep -o '"hop_delay_ms_p50": [-0-9.]*' <<<"${!v}" | sed 's/.*: //')
	up99=$(grep -o '"hop_delay_ms_p99": [-0-9.]*' <<<"${!v}" | sed 's/.*: //')
	conn=$(grep -o '"connected": [a-z]*' <<<"${!v}" | sed 's/.*: //')
	echo "  edge$e upstream: connected $conn, hop delay p50 ${up50:-null} ms, p99 ${up99:-null} ms"
	[ -n "$up50" ] && [ -n "$up99" ] && [ "$conn" = true ] || hop_ok=no
	eval "hop$e=\"${up50:-null}/${up99:-null}\""
done
check "each edge reports its upstream connected with hop delay p50/p99" [ "$hop_ok" = yes ]
m=$(get viewers "$EDGE1/metrics")
check "edge /metrics has the hop delay gauge" grep -q '^forkcast_upstream_hop_delay_seconds{quantile="0.99"} ' <<<"$m"

wait "$fcc"
rc=$?
res=$(cat "$TMP/viewers.json")
echo "  fcclient: $res"
jnum() { grep -o "\"$2\":[-0-9.]*" <<<"$1" | head -n 1 | sed 's/.*://'; }
ok_n=$(jnum "$res" ok) bad=$(jnum "$res" bad_frames)
p50=$(jnum "$res" latency_ms_p50) p99=$(jnum "$res" latency_ms_p99)
echo "  end-to-end latency (origin capture -> viewer): p50 ${p50:-null} ms, p99 ${p99:-null} ms; fps p50 $(jnum "$res" fps_p50)"
check "every viewer got frames (fcclient exit $rc, ok ${ok_n:-0}/$VIEWERS)" \
	test "$rc" = 0 -a "${ok_n:-0}" = "$VIEWERS"
check "every frame a whole JPEG (bad_frames ${bad:-?})" [ "${bad:-1}" = 0 ]
check "end-to-end latency reported" test -n "$p50" -a -n "$p99"

# --- the viewer page through HAProxy ------------------------------------------
# A real browser watches through the load balancer; the edge carrying its
# stream is the one that dies below, and the page must re-attach by itself.
PAGE_PID= VICTIM=edge1
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ -x /usr/bin/chromium ] && [ "$major" -ge 20 ] &&
   [ ! -d "$ROOT/tests/browser/node_modules/playwright-core" ] && command -v npm >/dev/null; then
	(cd "$ROOT/tests/browser" && npm ci --no-audit --no-fund >/dev/null 2>&1)
fi
if [ -x /usr/bin/chromium ] && [ "$major" -ge 20 ] &&
   [ -d "$ROOT/tests/browser/node_modules/playwright-core" ]; then
	spawn viewers node "$ROOT/tests/browser/reattach.mjs" "$LB/" "$TMP" >"$TMP/page.out" 2>&1 &
	PAGE_PID=$!
	PIDS+=("$PAGE_PID")
	for _ in $(seq 1 200); do
		[ -e "$TMP/page.playing" ] && break
		kill -0 "$PAGE_PID" 2>/dev/null || break
		sleep 0.1
	done
	c1=$(json_num "$(get viewers "$EDGE1/status")" clients)
	c2=$(json_num "$(get viewers "$EDGE2/status")" clients)
	[ "${c2:-0}" -ge 1 ] && [ "${c1:-0}" = 0 ] && VICTIM=edge2
	check "the viewer page plays through HAProxy" [ -e "$TMP/page.playing" ]
	echo "  viewer page's stream is on $VICTIM (streams: edge1 ${c1:-?}, edge2 ${c2:-?})"
else
	echo "  viewer page check skipped: needs /usr/bin/chromium, Node.js >= 20 and playwright-core"
fi
SURVIVOR=$([ "$VICTIM" = edge1 ] && echo "$EDGE2" || echo "$EDGE1")
victim_pid_var=PID_$VICTIM
VICTIM_PID=${!victim_pid_var}

# --- one edge dies ------------------------------------------------------------

# The whole instance at once: its supervisor and every child.
victims=$(ps -o pid= --ppid "$VICTIM_PID" 2>/dev/null | tr -s ' \n' ' ' | sed 's/ *$//')
t0=$(now_ms)
disown "$VICTIM_PID" 2>/dev/null	# no "Killed" job notice from bash
kill -KILL "$VICTIM_PID" $victims 2>/dev/null
echo "$t0" >"$TMP/page.killed"
echo "  killed $VICTIM: supervisor $VICTIM_PID and its children: $victims"

# HAProxy's view, watched alongside the requests below.
(
	for _ in $(seq 1 100); do
		case $(edge_status "$VICTIM") in
		DOWN*) echo $(( $(now_ms) - t0 )) >"$TMP/t_down"; exit 0 ;;
		esac
		sleep 0.05
	done
) &
watcher=$!
PIDS+=("$watcher")

# A fresh snapshot, then a fresh stream, through HAProxy.
t_snap=
for _ in $(seq 1 100); do
	c=$(in_ns viewers curl -s -o "$TMP/snap.jpg" -w '%{http_code}' --max-time 2 "$LB/snapshot")
	if [ "$c" = 200 ] && [ "$(head -c 2 "$TMP/snap.jpg" | od -An -tx1 | tr -d ' ')" = ffd8 ]; then
		t_snap=$(( $(now_ms) - t0 ))
		break
	fi
	sleep 0.05
done
t_stream=
for _ in $(seq 1 20); do
	if in_ns viewers "$FCCLIENT" --url "$LB/stream" --clients 1 --seconds 1 \
		--expect-frames 2 >"$TMP/after.json" 2>/dev/null; then
		t_stream=$(( $(now_ms) - t0 ))
		break
	fi
	sleep 0.1
done
wait "$watcher"
t_down=$(cat "$TMP/t_down" 2>/dev/null)
no_after=
for _ in $(seq 1 30); do
	no_after=$(json_num "$(get viewers "$ORIGIN/status")" clients)
	[ "$no_after" = 1 ] && break
	sleep 0.1
done
echo "  after the kill: snapshot through HAProxy OK after ${t_snap:-never} ms," \
	"stream (1 s, >= 2 frames) done after ${t_stream:-never} ms," \
	"HAProxy marked $VICTIM DOWN after ${t_down:-never} ms; origin streams now ${no_after:-?}"
within() { [ -n "$1" ] && [ "$1" -le "$2" ]; }
check "snapshot through HAProxy within 5 s of the kill" within "$t_snap" 5000
check "stream through HAProxy within 5 s of the kill (1 s of stream included)" within "$t_stream" 5000
check "HAProxy marks the dead edge DOWN within 5 s" within "$t_down" 5000
check "origin drops the dead edge's stream (1 left)" [ "$no_after" = 1 ]
if [ -n "$PAGE_PID" ]; then
	wait "$PAGE_PID"
	pout=$(tail -n 1 "$TMP/page.out")
	echo "  viewer page after the kill: $pout"
	pms=$(grep -o '"reattach_ms":[0-9]*' <<<"$pout" | grep -o '[0-9]*$')
	check "the viewer page re-attached through HAProxy and plays within 5 s (${pms:-never} ms)" \
		within "$pms" 5000
	t_page=$pms
fi
# The dead edge's supervisor was killed outright and could not log; the others
# must not have lost a child (a seccomp kill on a new code path, say).
died=$(grep -h 'exited on signal' "$TMP"/origin.log "$TMP"/edge*.log 2>/dev/null)
[ -n "$died" ] && echo "$died" | sed 's/^/  log: /'
check "no capture or worker died on a signal" [ -z "$died" ]
e2=$(get viewers "$SURVIVOR/status")
echo "  surviving edge's upstream now: $(grep -o '"upstream": {[^}]*}' <<<"$e2")"
echo "  figures: mode $([ "$NETNS" = 1 ] && echo netns || echo loopback)," \
	"viewers edge1/edge2 $n1/$n2, origin streams $no," \
	"hop delay p50/p99 ms edge1 ${hop1:-?} edge2 ${hop2:-?}," \
	"e2e latency p50/p99 ms ${p50:-?}/${p99:-?}," \
	"after killing $VICTIM: snapshot ${t_snap:-never} ms, stream ${t_stream:-never} ms," \
	"DOWN ${t_down:-never} ms, viewer page ${t_page:-skipped} ms"

finish
