#!/bin/bash
# What every child of the supervisor starts with, whatever the supervisor
# was started with (DESIGN.md "Processes"): only the descriptors its role
# keeps, a session of its own with no controlling terminal, stdin on
# /dev/null, stdout and stderr on the supervisor's log pipe.  The
# supervisor is started here with an extra descriptor on /etc/shadow (fd
# 200), once in a terminal (a pty from script(1)) with a log file, once
# with stdin on /etc/shadow too and stdout and stderr on a log file (as
# forkcastctl start does) on a "kernel" that refuses close_range(2) (the
# /proc/self/fd fallback).
#
# Then the respawn policy for status 2 (FC_EXIT_CONFIG, bad configuration
# or environment): a capture that exits with it is started once, not again
# until a reload is accepted, the log says why once and /healthz answers
# 503 with that reason; when every worker exits with it (a sandbox the
# environment refuses), the supervisor stops with status 2.
#
# Last, the shared listening socket broken under the jailed workers (shut
# down for reading through a copy taken with pidfd_getfd, as a compromised
# worker could): they back off instead of spinning, and none dies.
. "$(dirname "$0")/lib.sh"

[ -x "$BUILD/tools/denysys" ] || { echo "build/tools/denysys not built: skipped"; exit 77; }
command -v script >/dev/null || { echo "script(1) not installed: skipped"; exit 77; }
root=false
[ "$(id -u)" = 0 ] && root=true

code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@"; }
# Field N of /proc/PID/stat as proc(5) numbers them (the command name, which
# may hold spaces, is field 2).
stat_field() {
	sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk -v n="$2" '{ print $(n - 2) }'
}
# up PORT PIDFILE: waits (10 s) until /status answers and the pid file names
# a live supervisor; sets BASE and SUP.
up() {
	BASE="http://127.0.0.1:$1"
	SUP=""
	for _ in $(seq 1 100); do
		SUP=$(cat "$2" 2>/dev/null)
		[ -n "$SUP" ] && [ "$(code "$BASE/status")" = 200 ] && { PIDS+=("$SUP"); return 0; }
		sleep 0.1
	done
	return 1
}
# children: "capture PID" and "worker PID" lines from /status, once capture
# and the configured number of workers ($1) run (5 s).
children() {
	local json cap ws
	for _ in $(seq 1 50); do
		json=$(curl -s --max-time 2 "$BASE/status")
		cap=$(sed 's/.*"capture": *{//' <<<"$json" | grep -o '"pid": *[0-9]*' | head -n 1 | grep -o '[0-9]*$')
		ws=$(sed 's/.*"workers": *\[//' <<<"$json" | grep -o '"pid": *[0-9]*' | grep -o '[0-9]*$' | grep -v '^0$')
		if [ -n "$cap" ] && [ "$cap" != 0 ] && [ "$(wc -w <<<"$ws")" -eq "$1" ]; then
			echo "capture $cap"
			for p in $ws; do echo "worker $p"; done
			return 0
		fi
		sleep 0.1
	done
	return 1
}
stop_sup() {
	kill -TERM "$SUP" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$SUP" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}
sup_holds_pipe() {	# sup_holds_pipe TARGET: a pipe the supervisor holds too
	local fd
	[[ $1 == pipe:* ]] || return 1
	for fd in /proc/"$SUP"/fd/*; do
		[ "$(readlink "$fd" 2>/dev/null)" = "$1" ] && return 0
	done
	return 1
}
own_session() {	# own_session PID: its session is its own, not the supervisor's
	local sid
	sid=$(stat_field "$1" 6)
	[ "$sid" = "$1" ] && [ "$sid" != "$(stat_field "$SUP" 6)" ]
}
# unexpected ROLE PID: every descriptor that is not of a kind the role keeps
# (fd 0 /dev/null, fd 1 and 2 the log pipe, the shared memory, and for a
# worker its epoll set, signalfd, eventfd, sockets and one parent pipe),
# as "N->TARGET".  A terminal, /etc/shadow or a log file is never one.
unexpected() {
	local role=$1 pid=$2 fd n t log bad="" pipes=0
	log=$(readlink "/proc/$pid/fd/1")
	for fd in /proc/"$pid"/fd/*; do
		n=${fd##*/}
		t=$(readlink "$fd" 2>/dev/null) || continue
		case $n:$t in
		0:/dev/null) continue ;;
		1:pipe:*|2:pipe:*) [ "$t" = "$log" ] && continue ;;
		esac
		case $role:$t in
		*:/memfd:forkcast-*) ;;
		worker:anon_inode:\[eventpoll\]|worker:anon_inode:\[signalfd\]|worker:anon_inode:\[eventfd\]) ;;
		worker:socket:*) ;;
		worker:pipe:*)	# the parent pipe, read end
			pipes=$((pipes + 1))
			[ "$pipes" = 1 ] && [ $(( 8#$(sed -n 's/^flags:[[:space:]]*//p' "/proc/$pid/fdinfo/$n") & 3 )) = 0 ] ||
				bad="$bad $n->$t" ;;
		*) bad="$bad $n->$t" ;;
		esac
	done
	echo "${bad# }"
}
# check_children WHAT: every child of $SUP, from `children` output on stdin.
check_children() {
	local what=$1 role pid out err bad
	while read -r role pid; do
		out=$(readlink "/proc/$pid/fd/1") err=$(readlink "/proc/$pid/fd/2")
		check "$what: $role $pid: fd 0 is /dev/null ($(readlink "/proc/$pid/fd/0"))" \
			[ "$(readlink "/proc/$pid/fd/0")" = /dev/null ]
		check "$what: $role $pid: fd 1 and 2 are one pipe ($out, $err)" \
			bash -c "[[ '$out' == pipe:* ]] && [ '$out' = '$err' ]"
		check "$what: $role $pid: fd 1 is a pipe the supervisor holds (its log pipe)" \
			sup_holds_pipe "$out"
		check "$what: $role $pid: no fd 200" [ ! -e "/proc/$pid/fd/200" ]
		bad=$(unexpected "$role" "$pid")
		check "$what: $role $pid: no other descriptor (${bad:-none})" [ -z "$bad" ]
		check "$what: $role $pid: a session of its own (sid $(stat_field "$pid" 6), supervisor's $(stat_field "$SUP" 6))" \
			own_session "$pid"
		check "$what: $role $pid: no controlling terminal (tty_nr $(stat_field "$pid" 7))" \
			[ "$(stat_field "$pid" 7)" = 0 ]
	done
}

# --- in a terminal, with fd 200 on /etc/shadow and a log file ---
port=$(free_port) || exit 1
write_config "$TMP/a.conf" "$port" "workers = 2" "[capture]" "width = 320" "height = 240" \
	"fps = 10" "idle_stop = 0" "[log]" "file = $TMP/a-file.log"
# script(1) runs the command with $SHELL; dash (CI has no $SHELL) cannot redirect fd 200.
SHELL=/bin/bash timeout 120 script -qfc "exec 200</etc/shadow; exec '$BUILD/forkcast' -c '$TMP/a.conf'" \
	/dev/null </dev/null >"$TMP/a-tty.log" 2>&1 &
PIDS+=($!)
if up "$port" "$TMP/forkcast-$port.pid" && kids=$(children 2); then
	check "terminal: the supervisor has a controlling terminal (tty_nr $(stat_field "$SUP" 7))" \
		[ "$(stat_field "$SUP" 7)" != 0 ]
	check "terminal: the supervisor holds fd 200 on /etc/shadow" \
		[ "$(readlink "/proc/$SUP/fd/200")" = /etc/shadow ]
	check "terminal: the supervisor's stderr is the log file" \
		[ "$(readlink "/proc/$SUP/fd/2")" = "$TMP/a-file.log" ]
	check_children terminal <<<"$kids"
	check "terminal: children's log lines reach the log file" grep -q 'capture: info: sandbox: ' "$TMP/a-file.log"
	check "terminal: stop" stop_sup
else
	not_ok "terminal: the server did not come up"
	tail -n 20 "$TMP/a-file.log" "$TMP/a-tty.log"
fi

# --- stdin on /etc/shadow, stdout and stderr on a log file, close_range
# refused ---
port=$(free_port) || exit 1
write_config "$TMP/b.conf" "$port" "workers = 2" "[capture]" "width = 320" "height = 240" \
	"fps = 10" "idle_stop = 0"
( exec 200</etc/shadow
  exec "$BUILD/tools/denysys" close_range=ENOSYS -- "$BUILD/forkcast" -c "$TMP/b.conf"
) </etc/shadow >>"$TMP/b.log" 2>&1 &
PIDS+=($!)
if up "$port" "$TMP/forkcast-$port.pid" && kids=$(children 2); then
	check "log file: the supervisor's stdout is the log file" \
		[ "$(readlink "/proc/$SUP/fd/1")" = "$TMP/b.log" ]
	check "log file: close_range is refused (seccomp filter on the supervisor)" \
		grep -q '^Seccomp:[[:space:]]*2' "/proc/$SUP/status"
	check_children "log file" <<<"$kids"
	check "log file: stop" stop_sup
else
	not_ok "log file: the server did not come up"
	tail -n 20 "$TMP/b.log"
fi

# --- capture exits with status 2: held until a reload ---
mkdir -p "$TMP/bin"
cp "$BUILD/forkcast" "$TMP/bin/forkcast"
cat >"$TMP/bin/forkcast-capture" <<'EOF'
#!/bin/sh
echo "fake forkcast-capture: exiting with status 2" >&2
exit 2
EOF
chmod 755 "$TMP/bin" "$TMP/bin/forkcast-capture"
port=$(free_port) || exit 1
write_config "$TMP/c.conf" "$port" "workers = 1"
"$TMP/bin/forkcast" -c "$TMP/c.conf" >"$TMP/c.log" 2>&1 &
SUP=$!
PIDS+=("$SUP")
BASE="http://127.0.0.1:$port"
held_line='capture (pid [0-9]*) exited with status 2 after [0-9]* ms: its configuration or environment is unusable; not restarting it until a reload (SIGHUP) is accepted'
reason='not restarted until a reload is accepted'
sleep 5
started=$(grep -c 'started capture' "$TMP/c.log")
check "capture status 2: started once in 5 s ($started)" [ "$started" = 1 ]
check "capture status 2: its own line is in the log" grep -q 'fake forkcast-capture: exiting with status 2' "$TMP/c.log"
check "capture status 2: the supervisor says why, once ($(grep -c "$held_line" "$TMP/c.log"))" \
	[ "$(grep -c "$held_line" "$TMP/c.log")" = 1 ]
check "capture status 2: /healthz 503" [ "$(code "$BASE/healthz")" = 503 ]
body=$(curl -s --max-time 2 "$BASE/healthz")
check "capture status 2: /healthz gives the reason ($body)" grep -q "$reason" <<<"$body"
check "capture status 2: /status says unhealthy, and why" \
	bash -c "curl -s --max-time 2 '$BASE/status' | grep -q '\"healthy\": false, \"health\": \"capture exited with status 2.*$reason'"
check "capture status 2: the supervisor keeps running" kill -0 "$SUP"
# An accepted reload starts it again (once; it exits 2 again and is held).
kill -HUP "$SUP"
for _ in $(seq 1 30); do
	[ "$(grep -c "$held_line" "$TMP/c.log")" = 2 ] && break
	sleep 0.1
done
check "capture status 2: a reload starts it again" \
	grep -q 'configuration generation 2 accepted: starting capture again' "$TMP/c.log"
check "capture status 2: once more after the reload ($(grep -c 'started capture' "$TMP/c.log") starts)" \
	[ "$(grep -c 'started capture' "$TMP/c.log")" = 2 ]
check "capture status 2: held again after the reload" [ "$(grep -c "$held_line" "$TMP/c.log")" = 2 ]
check "capture status 2: stop" stop_sup
wait "$SUP" 2>/dev/null
rc=$?
check "capture status 2: the supervisor itself exits 0 on SIGTERM ($rc)" [ "$rc" = 0 ]
[ "$T_FAIL" -eq 0 ] || tail -n 20 "$TMP/c.log"

# --- the real capture's sandbox refused: held too ---
# The files source adds Landlock rules for its folder; a kernel that
# refuses them makes capture's jail fail the same way at every start.
port=$(free_port) || exit 1
write_config "$TMP/e.conf" "$port" "workers = 1" "[capture]" "source = files" "fps = 5"
"$BUILD/tools/denysys" landlock_add_rule=EPERM -- "$BUILD/forkcast" -c "$TMP/e.conf" >"$TMP/e.log" 2>&1 &
SUP=$!
PIDS+=("$SUP")
BASE="http://127.0.0.1:$port"
sleep 3
if grep -q 'capture: error: sandbox: capture: landlock_add_rule' "$TMP/e.log"; then
	check "capture sandbox refused: started once in 3 s ($(grep -c 'started capture' "$TMP/e.log"))" \
		[ "$(grep -c 'started capture' "$TMP/e.log")" = 1 ]
	check "capture sandbox refused: held until a reload" grep -q "$held_line" "$TMP/e.log"
	check "capture sandbox refused: /healthz 503" [ "$(code "$BASE/healthz")" = 503 ]
else
	echo "  (capture added no Landlock rule here: sandbox refusal check skipped)"
fi
check "capture sandbox refused: stop" stop_sup
wait "$SUP" 2>/dev/null
[ "$T_FAIL" -eq 0 ] || tail -n 20 "$TMP/e.log"

# --- every worker exits with status 2: the supervisor stops with 2 ---
if $root; then
	port=$(free_port) || exit 1
	write_config "$TMP/d.conf" "$port" "workers = 2" "[capture]" "width = 320" "height = 240" "fps = 10"
	# The workers' chroot into the empty directory fails as in a container
	# without CAP_SYS_CHROOT: their sandbox cannot be applied.
	"$BUILD/tools/denysys" chroot=EPERM -- "$BUILD/forkcast" -c "$TMP/d.conf" >"$TMP/d.log" 2>&1 &
	SUP=$!
	PIDS+=("$SUP")
	for _ in $(seq 1 100); do kill -0 "$SUP" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$SUP" 2>/dev/null; then
		not_ok "workers status 2: the supervisor still runs after 10 s"
		stop_sup
		wait "$SUP" 2>/dev/null
	else
		wait "$SUP"
		rc=$?
		check "workers status 2: the supervisor exits with status 2 ($rc)" [ "$rc" = 2 ]
		check "workers status 2: it says why" grep -q 'no worker left to serve: every worker exited with status 2; stopping' "$TMP/d.log"
		check "workers status 2: the sandbox error is logged" grep -Eq 'worker 0: error: sandbox: worker: chroot .*Operation not permitted' "$TMP/d.log"
		starts="$(grep -c 'started worker 0 ' "$TMP/d.log") $(grep -c 'started worker 1 ' "$TMP/d.log")"
		check "workers status 2: each worker started once ($starts)" [ "$starts" = "1 1" ]
	fi
	[ "$T_FAIL" -eq 0 ] || tail -n 20 "$TMP/d.log"
else
	echo "  (not root: the workers' chroot is not used; status 2 worker check skipped)"
fi

# --- the listening socket breaks under the workers ---
# shut_listener PID: shuts the listening socket PID holds down for reading,
# through a copy of it (pidfd_getfd, root only).
shut_listener() {
	python3 - "$1" <<'PY'
import ctypes, os, socket, sys
pid = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
pidfd = os.pidfd_open(pid)
for n in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
    if os.readlink(f"/proc/{pid}/fd/{n}").startswith("socket:"):
        fd = libc.syscall(438, pidfd, int(n), 0)   # pidfd_getfd
        if fd < 0:
            sys.exit(1)
        s = socket.socket(fileno=fd)
        if s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            s.shutdown(socket.SHUT_RD)
            sys.exit(0)
sys.exit(1)
PY
}
if $root && python3 -c 'import os; os.pidfd_open' 2>/dev/null; then
	port=$(free_port) || exit 1
	write_config "$TMP/e.conf" "$port" "workers = 2" "[capture]" "width = 320" "height = 240" "fps = 10"
	"$BUILD/forkcast" -c "$TMP/e.conf" >"$TMP/e.log" 2>&1 &
	PIDS+=($!)
	if up "$port" "$TMP/forkcast-$port.pid" && kids=$(children 2); then
		ws=$(awk '$1 == "worker" { print $2 }' <<<"$kids")
		check "broken listener: shut down" shut_listener "$(head -n 1 <<<"$ws")"
		ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
		declare -A t0
		for p in $ws; do t0[$p]=$(ticks "$p"); done
		sleep 3
		hz=$(getconf CLK_TCK)
		for p in $ws; do
			ms=$(( ($(ticks "$p") - ${t0[$p]}) * 1000 / hz ))
			check "broken listener: worker $p used $ms ms CPU in 3 s (< 300)" [ "$ms" -lt 300 ]
			check "broken listener: worker $p still runs" alive "$p"
		done
		lines=$(grep -c 'accept' "$TMP/e.log")
		check "broken listener: $lines accept lines in 3 s (one per backoff step: <= 14)" [ "$lines" -le 14 ]
		check "broken listener: lines name the address and the delay" \
			grep -q "worker [01]: warn: accept on 127.0.0.1:$port: Invalid argument; trying again in 100 ms" "$TMP/e.log"
		check "broken listener: no child exited" bash -c "! grep -q 'exited' '$TMP/e.log'"
		check "broken listener: stop" stop_sup
	else
		not_ok "broken listener: the server did not come up"
		tail -n 20 "$TMP/e.log"
	fi
else
	echo "  (not root or no pidfd_getfd: broken listener check skipped)"
fi

finish
