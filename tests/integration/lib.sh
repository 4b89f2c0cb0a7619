# Helpers for integration tests (sourced).  Every server a test starts is
# recorded by PID and stopped by that PID on exit; only loopback addresses.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
TMP=$(mktemp -d /tmp/forkcast-test.XXXXXX)
# Capture runs as the unprivileged user: it must be able to read test data.
chmod 755 "$TMP"
PIDS=()
T_PASS=0
T_FAIL=0

cleanup() {
	[ -n "${KEEP_LOGS:-}" ] && cp "$TMP"/*.log /tmp/ 2>/dev/null
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	drop_forkcast_user
	rm -rf "$TMP"
}
trap cleanup EXIT

# The forkcast system user of installed runs (the package's postinst and a
# root `make install` make it): made for the test when the machine has
# none, and removed again by drop_forkcast_user (cleanup calls it too).
MADE_FORKCAST_USER=0
ensure_forkcast_user() {
	getent passwd forkcast >/dev/null && return 0
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin forkcast || return 1
	MADE_FORKCAST_USER=1
}
drop_forkcast_user() {
	[ "$MADE_FORKCAST_USER" = 1 ] && userdel forkcast 2>/dev/null
	MADE_FORKCAST_USER=0
}

ok() { T_PASS=$((T_PASS + 1)); echo "  ok   - $*"; }
not_ok() { T_FAIL=$((T_FAIL + 1)); echo "  FAIL - $*"; }
check() {	# check "description" command...
	local what=$1; shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# check_that "description" 'CONDITION': check for a condition joined with
# && or || (check runs one command: in `check D [ a ] && [ b ]` only [ a ]
# decides).  CONDITION is evaluated here, in the caller's variables:
# single-quote it so that they expand then.
check_that() {
	if eval "$2"; then ok "$1"; else not_ok "$1"; fi
}
# not CMD...: succeeds when CMD fails (for check, which runs a command).
not() { ! "$@"; }
finish() {
	echo "$T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
}

# A port nobody listens on (checked, then used at once), below the
# ephemeral range: a port some connection of an earlier test still uses as
# its local port (the kernel hands those out from that range) cannot be
# bound, although nothing listens on it.
free_port() {
	local p lo base=30000 span=20000
	lo=$(cut -f 1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	if [ -n "$lo" ] && [ "$lo" -gt 12000 ]; then
		base=10000
		span=$((lo - 10000))
	fi
	for _ in $(seq 1 50); do
		p=$(( (RANDOM * 32768 + RANDOM) % span + base ))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# write_config FILE PORT [extra lines...]
write_config() {
	local f=$1 port=$2; shift 2
	{
		echo "[server]"
		echo "listen = 127.0.0.1:$port"
		case " $* " in
		*" pid_file = "*) ;;
		*) echo "pid_file = $TMP/forkcast-$port.pid" ;;
		esac
		for l in "$@"; do echo "$l"; done
	} >"$f"
}

# start_server CONF LOG [PATH]: starts build/forkcast, sets SERVER_PID,
# waits for PATH (default /healthz; /status for a source that fails at
# once) to answer 200 (10 s).  Returns 1 when it did not come up.
start_server() {
	local conf=$1 log=$2 path=${3:-/healthz} port
	port=$(sed -n 's/^listen = 127.0.0.1:\([0-9]*\)$/\1/p' "$conf" | head -n 1)
	"$BUILD/forkcast" -c "$conf" >"$log" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	BASE="http://127.0.0.1:$port"
	for _ in $(seq 1 100); do
		if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$BASE$path")" = 200 ]; then
			return 0
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "server did not become healthy; log:" >&2
	tail -n 30 "$log" >&2
	return 1
}

stop_server() {
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 1 150); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	wait "$1" 2>/dev/null
}

# serving_workers N [curl options]: waits (at most 5 s) until $BASE/status
# lists N serving workers with their pids (start_server returns once
# /healthz answers, which can be before every worker has reported), then
# prints their pids sorted, each followed by a space.
serving_workers() {
	local n=$1 pids=""
	shift
	for _ in $(seq 1 50); do
		pids=$(curl -s --max-time 3 "$@" "$BASE/status" | /usr/bin/python3 -c '
import json, sys
try:
    ws = json.load(sys.stdin)["workers"]
except Exception:
    ws = []
print("".join("%d " % p for p in sorted(w["pid"] for w in ws if w["state"] == "serving" and w["pid"] > 0)))')
		[ "$(wc -w <<<"$pids")" = "$n" ] && break
		sleep 0.1
	done
	echo "$pids"
}

# stalled_reader PORT PATH SECONDS: in the background, a client on
# 127.0.0.1:PORT with a 1-byte receive buffer asks for PATH and then reads
# nothing for SECONDS; sets STALLER to its pid (also in PIDS).
stalled_reader() {
	perl -MSocket -e '
	socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
	setsockopt($s, SOL_SOCKET, SO_RCVBUF, pack("i", 1)) or die "rcvbuf: $!";
	connect($s, sockaddr_in($ARGV[0], inet_aton("127.0.0.1"))) or die "connect: $!";
	syswrite($s, "GET $ARGV[1] HTTP/1.1\r\nHost: x\r\n\r\n");
	sleep $ARGV[2];' "$1" "$2" "$3" &
	STALLER=$!
	PIDS+=("$STALLER")
}

# json_num JSON KEY: first numeric value of "KEY": in JSON.
json_num() {
	grep -o "\"$2\": *[0-9.]*" <<<"$1" | head -n 1 | sed 's/.*: *//'
}

# raw_status PORT BYTES [SECONDS]: sends BYTES (printf format) on a fresh
# loopback connection and prints the response's status code.
raw_status() {
	local port=$1 req=$2 secs=${3:-3}
	timeout "$secs" bash -c '
		exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
		printf "$1" >&3
		IFS= read -r line <&3
		set -- $line
		echo "$2"
	' "$port" "$req" 2>/dev/null
}

# header_of URL NAME: value of response header NAME from a HEAD-less GET
# that is cut after 1 s (streams never end by themselves).
header_of() {
	curl -s -D - -o /dev/null --max-time 1 "$1" 2>/dev/null |
		tr -d '\r' | sed -n "s/^$2: *//Ip" | head -n 1
}

# alive PID: the process exists and is not a zombie (an orphan that died is
# a zombie until PID 1 reaps it; some sandboxes' PID 1 never does).
alive() {
	local st
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
