#!/bin/bash
# forkcastctl and the pid file: options before or after the command word,
# usage errors, status and reload with auth set (the credentials never in a
# process's arguments), and the pid file rules on both sides: the supervisor
# takes only its own file (no symbolic link, its owner, one link, not
# writable by others) and keeps it locked; forkcastctl signals only the
# process named by such a file while it is locked, and only when that
# process is this checkout's build/forkcast.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

CTL="$ROOT/scripts/forkcastctl"
FORKCAST=$(cd "$BUILD" && pwd -P)/forkcast

# Runs forkcastctl; sets OUT (stdout and stderr) and RC.
ctl() {
	OUT=$("$CTL" "$@" 2>&1)
	RC=$?
}

# track FILE: TRACKED = the pid FILE names, added to the processes stopped
# on exit ("" when none).
track() {
	TRACKED=$(cat "$1" 2>/dev/null)
	case $TRACKED in ''|*[!0-9]*) TRACKED=""; return 1 ;; esac
	PIDS+=("$TRACKED")
}

# locked FILE: FILE exists and someone holds its lock.
locked() {
	[ -f "$1" ] || return 1
	flock -n -E 75 "$1" true
	[ $? = 75 ]
}

# fingerprint FILE: owner, mode, size, inode, mtime and content, to show a
# file was left as it was.
fingerprint() { stat -c '%u %a %s %i %Y %F' -- "$1"; cat -- "$1" 2>/dev/null; }

# COND; result $? "description": check for a compound condition.
result() {
	if [ "$1" = 0 ]; then ok "$2"; else not_ok "$2"; fi
}

# supervise CONF OUT: runs build/forkcast -c CONF (recorded in PIDS) and
# returns its exit status; one still running after 5 s (it should have
# refused to start) is stopped and 124 returned.
supervise() {
	local p
	"$FORKCAST" -c "$1" >"$2" 2>&1 &
	p=$!
	PIDS+=("$p")
	for _ in $(seq 1 50); do alive "$p" || break; sleep 0.1; done
	if alive "$p"; then
		stop_server "$p"
		return 124
	fi
	wait "$p"
}

# wait_gone PID: bounded wait (15 s) for a process to end.
wait_gone() {
	for _ in $(seq 1 150); do alive "$1" || return 0; sleep 0.1; done
	return 1
}

# ctl_says COMMAND NAME RC MESSAGE SURVIVOR DESCRIPTION: forkcastctl
# COMMAND -c NAME.conf exits RC and says MESSAGE (a fixed string); when
# SURVIVOR is not "", that process is still alive afterwards.
ctl_says() {
	local cmd=$1 name=$2 want=$3 msg=$4 survivor=$5 what=$6
	ctl "$cmd" -c "$TMP/$name.conf"
	[ "$RC" = "$want" ] && grep -qF -- "$msg" <<<"$OUT" &&
		{ [ -z "$survivor" ] || alive "$survivor"; }
	result $? "$what (rc $RC: $OUT)"
}

# sup_says NAME RC MESSAGE DESCRIPTION: build/forkcast -c NAME.conf (run
# by supervise) exits RC and says MESSAGE (a fixed string) in NAME.err.
sup_says() {
	local name=$1 want=$2 msg=$3 what=$4 rc
	supervise "$TMP/$name.conf" "$TMP/$name.err"
	rc=$?
	[ "$rc" = "$want" ] && grep -qF -- "$msg" "$TMP/$name.err"
	result $? "$what, exit $want (got $rc: $(tail -n 1 "$TMP/$name.err"))"
}

small="[capture]
width = 320
height = 240
fps = 10"

# --- usage --------------------------------------------------------------
usage_rc() { "$CTL" "$@" >"$TMP/usage.out" 2>&1; echo $?; }
write_config "$TMP/u.conf" "$(free_port)" "pid_file = $TMP/u.pid"
check "unknown option after the command: exit 2" [ "$(usage_rc status --bogus -c "$TMP/u.conf")" = 2 ]
check "...and says which" grep -q "unknown option '--bogus'" "$TMP/usage.out"
check "unknown option before the command: exit 2" [ "$(usage_rc --bogus -c "$TMP/u.conf" status)" = 2 ]
check "extra argument: exit 2" [ "$(usage_rc status now -c "$TMP/u.conf")" = 2 ]
check "...and says which" grep -q "unexpected argument 'now'" "$TMP/usage.out"
check "-c without a FILE: exit 2" [ "$(usage_rc status -c)" = 2 ]
check "-f with a command other than logs: exit 2" [ "$(usage_rc status -f -c "$TMP/u.conf")" = 2 ]
check "two configuration files: exit 2" [ "$(usage_rc -c "$TMP/u.conf" status -c "$TMP/x.conf")" = 2 ]
check "no command: exit 2" [ "$(usage_rc -c "$TMP/u.conf")" = 2 ]
check "unknown command: exit 2" [ "$(usage_rc -c "$TMP/u.conf" halt)" = 2 ]
check "start with an unknown option: exit 2" [ "$(usage_rc start -c "$TMP/u.conf" --bogus)" = 2 ]
[ ! -e "$TMP/u.pid" ] && ! grep -q running "$TMP/usage.out"
result $? "...and nothing started"
out=$("$CTL" -h 2>/dev/null)
rc=$?
[ "$rc" = 0 ] && grep -q "^usage: forkcastctl" <<<"$out"
result $? "-h: usage on stdout, exit 0 (rc $rc)"
[ "$(usage_rc status --help)" = 0 ] && grep -q "^usage: forkcastctl" "$TMP/usage.out"
result $? "--help after the command: usage, exit 0"

# --- where the pid file is by default ------------------------------------
printf '[server]\nlisten = 127.0.0.1:7999\n' >"$TMP/default.conf"
paths() { sed -n 's/^pid_file=//p'; }
got=$("$FORKCAST" --paths -c "$TMP/default.conf" | paths)
check "default pid file as root: /run/forkcast/forkcast-PORT.pid ($got)" \
	[ "$got" = /run/forkcast/forkcast-7999.pid ]
got=$(XDG_RUNTIME_DIR=/run/user/4242 setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$FORKCAST" --paths -c "$TMP/default.conf" | paths)
check "default pid file of another user: \$XDG_RUNTIME_DIR ($got)" \
	[ "$got" = /run/user/4242/forkcast-7999.pid ]
got=$(env -u XDG_RUNTIME_DIR setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$FORKCAST" --paths -c "$TMP/default.conf" | paths)
check "default pid file of another user without XDG_RUNTIME_DIR: next to the file ($got)" \
	[ "$got" = "$TMP/forkcast-7999.pid" ]
out=$("$FORKCAST" --paths -c "$TMP/default.conf")
rc=$?
[ "$rc" = 0 ] && grep -q "^pid_file=" <<<"$out" && ! grep -q "^auth=" <<<"$out"
result $? "--paths prints no auth line when auth is unset (rc $rc)"

# --- instance A: started with -c after the command, auth set --------------
# A password with quotes, a backslash (also last), a space, ; and #.
auth_user='vi"ew'
auth_pass=$'p\\a"s s\'w;#\\'
printf '%s\n' "$auth_pass" >"$TMP/secret.pat"
# The test's own requests carry the credentials in a header on stdin.
acurl() {
	printf 'header = "Authorization: Basic %s"\n' \
		"$(printf '%s:%s' "$auth_user" "$auth_pass" | base64 -w0)" |
		curl -s --max-time 2 -K - "$@"
}
# (A port another test took since free_port looked is tried again.)
for _ in 1 2 3; do
	pa=$(free_port) || exit 1
	write_config "$TMP/a.conf" "$pa" "pid_file = $TMP/a.pid" "workers = 1" \
		"auth = $auth_user:$auth_pass" "$small"
	ctl start -c "$TMP/a.conf"
	grep -q "Address already in use" <<<"$OUT" || break
done
track "$TMP/a.pid"
apid=$TRACKED
check "--paths prints the auth line when set" \
	grep -qxF "auth=$auth_user:$auth_pass" <("$FORKCAST" --paths -c "$TMP/a.conf")
check "start -c FILE (after the command) starts FILE's instance (rc $RC: $OUT)" \
	grep -q "running (pid ${apid:-none}): http://127.0.0.1:$pa/" <<<"$OUT"
check "port $pa answers /healthz" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$pa/healthz")" = 200 ]
check "the pid file names a running build/forkcast" \
	[ "$(readlink "/proc/${apid:-0}/exe")" = "$FORKCAST" ]

# Every curl forkcastctl runs goes through this wrapper: it logs its
# arguments (exactly what the real curl is then given, hence what ps shows)
# and lingers 0.3 s so that the /proc scan below sees it running.
mkdir "$TMP/bin"
cat >"$TMP/bin/curl" <<EOF
#!/bin/bash
printf '%s\\0' "\$@" >>"$TMP/curl.argv"
printf '\\n' >>"$TMP/curl.argv"
sleep 0.3
exec /usr/bin/curl "\$@"
EOF
chmod 755 "$TMP/bin/curl"
printf -- '--max-time\n' >"$TMP/curl.pat"
: >"$TMP/scan.hits"
# Scans every process's arguments for the password while the calls run.
(
	while [ ! -e "$TMP/scan.stop" ]; do
		grep -laFf "$TMP/secret.pat" /proc/[0-9]*/cmdline >>"$TMP/scan.hits" 2>/dev/null
		grep -laFf "$TMP/curl.pat" /proc/[0-9]*/cmdline 2>/dev/null |
			while IFS= read -r f; do
				tr '\0' ' ' 2>/dev/null <"$f" >>"$TMP/scan.seen" && echo >>"$TMP/scan.seen"
			done
		sleep 0.05
	done
) &
scanner=$!
PIDS+=("$scanner")
st_ok() {
	ctl "$@"
	[ "$RC" -eq 0 ] && grep -q "running (pid $apid): http://127.0.0.1:$pa/ - 0 viewers, capture [a-z]* (testpattern 320x240 at [0-9.]* fps)$" <<<"$OUT"
}
export PATH="$TMP/bin:$PATH"
st_ok status -c "$TMP/a.conf"
result $? "status -c FILE, auth set: the summary ($OUT)"
st_ok -c "$TMP/a.conf" status
result $? "-c FILE status ($OUT)"
st_ok "-c$TMP/a.conf" status
result $? "-cFILE status ($OUT)"
st_ok status --config "$TMP/a.conf"
result $? "status --config FILE ($OUT)"
st_ok "--config=$TMP/a.conf" status
result $? "--config=FILE status ($OUT)"
PATH=${PATH#"$TMP/bin:"}
touch "$TMP/scan.stop"
wait "$scanner"
# One call a line, its arguments separated by \037.
tr '\0' '\037' <"$TMP/curl.argv" >"$TMP/curl.args"
calls=$(grep -c . "$TMP/curl.args")
check "forkcastctl ran curl ($calls calls)" [ "$calls" -ge 5 ]
! grep -qFf "$TMP/secret.pat" "$TMP/curl.args"
result $? "no curl argument holds the password"
check "the credentials go in on stdin: every call reads a config from -K -" \
	[ "$(grep -cF $'\037-K\037-\037' "$TMP/curl.args")" = "$calls" ]
# (Any process with --max-time in its arguments is recorded, the other
# tests' curls too: forkcastctl's are the ones asking instance A.)
check "the /proc scan saw forkcastctl's curl processes ($(grep -c "127.0.0.1:$pa/" "$TMP/scan.seen" 2>/dev/null) seen)" \
	grep -q "127.0.0.1:$pa/" "$TMP/scan.seen"
check "...and never the password in any process's arguments" [ ! -s "$TMP/scan.hits" ]
rm -f "$TMP/curl.argv" "$TMP/curl.args"

ctl logs -c "$TMP/a.conf"
check "logs -c FILE" grep -q "listening on http://127.0.0.1:$pa/" <<<"$OUT"
OUT=$(timeout 2 "$CTL" logs -f -c "$TMP/a.conf" 2>&1)
check "logs -f -c FILE follows FILE's log" grep -q "listening on http://127.0.0.1:$pa/" <<<"$OUT"

gen0=$(json_num "$(acurl "http://127.0.0.1:$pa/status")" generation)
ctl reload -c "$TMP/a.conf"
gen1=$(json_num "$(acurl "http://127.0.0.1:$pa/status")" generation)
[ "$RC" = 0 ] && [ -n "$gen0" ] && [ "$gen1" = "$((gen0 + 1))" ]
result $? "reload -c FILE with auth set: generation ${gen0:-?} -> ${gen1:-?} (rc $RC: $OUT)"

# The file now says another password than the running server's.
cp "$TMP/a.conf" "$TMP/a.good"
sed -i "s/^auth = .*/auth = someone:else/" "$TMP/a.conf"
ctl status -c "$TMP/a.conf"
check "status with refused credentials names the HTTP status ($OUT)" \
	grep -q " - http://127.0.0.1:$pa/status answered HTTP 401" <<<"$OUT"
! grep -q Unauthorized <<<"$OUT"
result $? "...and prints no response body"
cp "$TMP/a.good" "$TMP/a.conf"

# --- pid files that are not the supervisor's ------------------------------
# Each names a process that must survive: instance A's supervisor (another
# forkcast) or a sleep started here.
sleep 60 &
sl=$!
PIDS+=("$sl")
mkpid() {	# mkpid NAME PID: NAME.conf on a free port with pid_file NAME.pid
	write_config "$TMP/$1.conf" "$(free_port)" "pid_file = $TMP/$1.pid" "workers = 1" "$small"
	printf '%s\n' "$2" >"$TMP/$1.pid"
}

# Owned by another user.
mkpid c "$apid"
chown nobody "$TMP/c.pid"
before=$(fingerprint "$TMP/c.pid")
ctl_says start c 1 "refusing pid file $TMP/c.pid: it is owned by uid 65534" "" \
	"start refuses a pid file owned by nobody"
sup_says c 2 "refusing pid file $TMP/c.pid: it is owned by uid 65534, not by the supervisor's uid 0" \
	"the supervisor refuses it too"
ctl_says stop c 1 "refusing pid file $TMP/c.pid" "$apid" "stop refuses it, nothing signalled"
ctl status -c "$TMP/c.conf"
check "status: unknown, exit 4" [ "$RC" = 4 ]
check "the file is left as it was" [ "$(fingerprint "$TMP/c.pid")" = "$before" ]

# A symbolic link to a file naming A.
mkpid d "$apid"
mv "$TMP/d.pid" "$TMP/d.target"
ln -s "$TMP/d.target" "$TMP/d.pid"
before=$(fingerprint "$TMP/d.target")
link="refusing pid file $TMP/d.pid: it is a symbolic link"
ctl_says stop d 1 "$link" "$apid" "stop refuses a symbolic link, nothing signalled"
ctl_says start d 1 "$link" "" "start refuses it"
sup_says d 2 "$link" "the supervisor refuses it"
[ -L "$TMP/d.pid" ] && [ "$(fingerprint "$TMP/d.target")" = "$before" ]
result $? "the link and its target are left as they were"

# Ours, but unlocked (stale): one naming A, one naming the sleep.
mkpid e "$apid"
ctl_says stop e 0 "not running" "$apid" \
	"stop: an unlocked pid file naming another forkcast is stale"
mkpid f "$sl"
ctl_says stop f 0 "not running" "$sl" \
	"stop: an unlocked pid file naming a sleep is stale, the sleep lives"
ctl status -c "$TMP/f.conf"
check "status on a stale pid file: not running, exit 3" [ "$RC" = 3 ]

# Ours and locked, but naming a process that is not build/forkcast.
mkpid g "$sl"
# The lock is held on this shell's descriptor 9 (flock(1) locks the open
# file it inherits), so it goes when 9 is closed.
exec 9<"$TMP/g.pid"
flock -n 9
check "the test holds g.pid's lock" locked "$TMP/g.pid"
ctl_says stop g 1 "names pid $sl, which is not $FORKCAST" "$sl" \
	"stop refuses a locked pid file naming a sleep, the sleep lives"
sup_says g 1 "already running (pid $sl, pid file $TMP/g.pid)" \
	"the supervisor: a lock held by someone else is another instance"
exec 9<&-

# Writable by the group, and hard-linked.
mkpid h "$apid"
chmod 664 "$TMP/h.pid"
ctl_says stop h 1 "writable by group or others" "$apid" "stop refuses a group-writable pid file"
sup_says h 2 "refusing pid file $TMP/h.pid: it is writable by group or others" \
	"the supervisor refuses it"
mkpid i "$apid"
ln "$TMP/i.pid" "$TMP/i.link"
ctl_says stop i 1 "it has 2 hard links" "$apid" "stop refuses a hard-linked pid file"
sup_says i 2 "refusing pid file $TMP/i.pid: it has 2 hard links" "the supervisor refuses it"

# --- instance B: the lock, the children, a second supervisor, reload ------
pb=$(free_port) || exit 1
write_config "$TMP/b.conf" "$pb" "pid_file = $TMP/b.pid" "workers = 2" "shutdown_grace = 1" "$small"
start_server "$TMP/b.conf" "$TMP/b.log" || exit 1
bpid=$SERVER_PID
check "a running supervisor's pid file is locked (flock -n fails)" locked "$TMP/b.pid"
check "...and holds its pid" [ "$(cat "$TMP/b.pid")" = "$bpid" ]
check "...mode 644" [ "$(stat -c %a "$TMP/b.pid")" = 644 ]
kids=$(cat /proc/"$bpid"/task/*/children)
leak=""
for k in $kids; do
	for fd in /proc/"$k"/fd/*; do
		[ "$(readlink "$fd")" = "$TMP/b.pid" ] && leak="$leak $k"
	done
done
[ -n "$kids" ] && [ -z "$leak" ]
result $? "no child (${kids//$'\n'/ }) holds the pid file open"
ctl status -c "$TMP/b.conf"
check "status without auth: the summary ($OUT)" \
	grep -q "running (pid $bpid): http://127.0.0.1:$pb/ - 0 viewers, capture [a-z]* (testpattern 320x240 at [0-9.]* fps)$" <<<"$OUT"

write_config "$TMP/b2.conf" "$(free_port)" "pid_file = $TMP/b.pid" "workers = 1" "$small"
sup_says b2 1 "already running (pid $bpid, pid file $TMP/b.pid)" \
	"a second supervisor on the same pid file is refused"
alive "$bpid" && [ "$(cat "$TMP/b.pid")" = "$bpid" ] && locked "$TMP/b.pid"
result $? "...the first runs on, its pid file untouched and locked"

# Reload moving the pid file: the new one locked, the old one gone.
sed -i "s|^pid_file = .*|pid_file = $TMP/b-moved.pid|" "$TMP/b.conf"
kill -HUP "$bpid"
for _ in $(seq 1 50); do [ -e "$TMP/b-moved.pid" ] && [ ! -e "$TMP/b.pid" ] && break; sleep 0.1; done
locked "$TMP/b-moved.pid" && [ "$(cat "$TMP/b-moved.pid" 2>/dev/null)" = "$bpid" ]
result $? "reload moves the pid file: new one locked with our pid"
check "...the old one removed" [ ! -e "$TMP/b.pid" ]
ctl status -c "$TMP/b.conf"
check "...and forkcastctl finds it there ($OUT)" grep -q "running (pid $bpid)" <<<"$OUT"
# A reload to a pid file that is not ours is refused as a whole.
printf '1\n' >"$TMP/b-nobody.pid"
chown nobody "$TMP/b-nobody.pid"
gen0=$(json_num "$(curl -s "http://127.0.0.1:$pb/status")" generation)
check "/status gives the generation before the refused reload (${gen0:-none})" [ -n "$gen0" ]
sed -i "s|^pid_file = .*|pid_file = $TMP/b-nobody.pid|" "$TMP/b.conf"
kill -HUP "$bpid"
for _ in $(seq 1 30); do grep -q "reload refused" "$TMP/b.log" && break; sleep 0.1; done
grep -q "refusing pid file $TMP/b-nobody.pid: it is owned by uid 65534" "$TMP/b.log" &&
	grep -q "reload refused" "$TMP/b.log"
result $? "reload to a pid file owned by nobody is refused"
[ "$(json_num "$(curl -s "http://127.0.0.1:$pb/status")" generation)" = "$gen0" ] &&
	locked "$TMP/b-moved.pid" && [ "$(cat "$TMP/b-nobody.pid")" = 1 ]
result $? "...the generation stays ($gen0) and the old pid file stays locked"
sed -i "s|^pid_file = .*|pid_file = $TMP/b-moved.pid|" "$TMP/b.conf"
stop_server "$bpid"
check "a stopped supervisor removes its pid file" [ ! -e "$TMP/b-moved.pid" ]

# A file put in place of the pid file is not the supervisor's to remove.
write_config "$TMP/r.conf" "$(free_port)" "pid_file = $TMP/r.pid" "workers = 1" "$small"
start_server "$TMP/r.conf" "$TMP/r.log" || exit 1
rpid=$SERVER_PID
rm "$TMP/r.pid"
printf 'replacement\n' >"$TMP/r.pid"
ctl stop -c "$TMP/r.conf"
grep -q "not running" <<<"$OUT" && alive "$rpid"
result $? "stop through an unlocked replacement: not running, nothing signalled ($OUT)"
stop_server "$rpid"
check "the supervisor's exit leaves the replacement file alone" \
	[ "$(cat "$TMP/r.pid" 2>/dev/null)" = replacement ]

# --- a supervisor killed outright: its pid file is stale ------------------
kill -KILL "$apid"
wait_gone "$apid"
ctl status -c "$TMP/a.conf"
[ -e "$TMP/a.pid" ] && [ "$RC" = 3 ] && grep -q "not running" <<<"$OUT"
result $? "after SIGKILL: the pid file stays but status says not running (exit $RC)"
ctl -c "$TMP/a.conf" start
track "$TMP/a.pid"
apid2=$TRACKED
[ "$RC" = 0 ] && [ -n "$apid2" ] && [ "$apid2" != "$apid" ] && locked "$TMP/a.pid"
result $? "start takes the stale pid file over (rc $RC: $OUT)"
ctl stop -c "$TMP/a.conf"
[ "$RC" = 0 ] && [ -n "$apid2" ] && wait_gone "$apid2" && [ ! -e "$TMP/a.pid" ]
result $? "stop -c FILE (after the command) stops FILE's instance ($OUT)"

# --- the default pid file as root: /run/forkcast ---------------------------
# In a mount namespace of its own with an empty /run, so the machine's /run
# is not touched.
pn=$(free_port) || exit 1
printf '[server]\nlisten = 127.0.0.1:%s\nworkers = 1\n%s\n' "$pn" "$small" >"$TMP/n.conf"
cat >"$TMP/ns.sh" <<'EOF'
# Runs in a private mount namespace: $1 forkcastctl, $2 build/forkcast,
# $3 config, $4 port.  Prints "R STATUS what" lines.
set -u
CTL=$1 FORKCAST=$2 CONF=$3 PORT=$4
PIDF=/run/forkcast/forkcast-$PORT.pid
r() { local what=$1; shift; if "$@"; then echo "R 0 $what"; else echo "R 1 $what"; fi; }
# refused WHAT MESSAGE: build/forkcast on the config exits 2 within 10 s
# and says MESSAGE (a fixed string).
refused() {
	local rc
	timeout 10 "$FORKCAST" -c "$CONF" >/run/err 2>&1
	rc=$?
	r "$1, exit 2 (got $rc: $(tail -n 1 /run/err))" \
		bash -c '[ "$0" = 2 ] && grep -qF -- "$1" /run/err' "$rc" "$2"
}
started=""
# Whatever was started here is stopped by its pid on the way out.
trap '[ -n "$started" ] && [ "$(readlink "/proc/$started/exe")" = "$FORKCAST" ] && kill -KILL "$started"' EXIT
mount -t tmpfs -o mode=755 tmpfs /run || exit 1
out=$("$CTL" -c "$CONF" start 2>&1)
started=$(sed -n 's/^forkcast is running (pid \([0-9]*\)).*/\1/p' <<<"$out")
r "start with the default pid file: $PIDF ($out)" \
	bash -c "[ -n '$started' ] && [ \"\$(cat '$PIDF' 2>/dev/null)\" = '$started' ]"
r "/run/forkcast created: a root-owned directory, mode 755 ($(stat -c '%U %a %F' /run/forkcast))" \
	[ "$(stat -c '%U %a %F' /run/forkcast)" = "root 755 directory" ]
r "its pid file is locked" bash -c "[ -f '$PIDF' ] && { flock -n -E 75 '$PIDF' true; [ \$? = 75 ]; }"
out=$("$CTL" status -c "$CONF" 2>&1)
r "status finds it ($out)" grep -q "running (pid $started)" <<<"$out"
out=$("$CTL" stop -c "$CONF" 2>&1)
r "stop stops it ($out)" bash -c "grep -q stopped <<<'$out' && [ ! -e '$PIDF' ]"
chown nobody /run/forkcast
refused "a /run/forkcast owned by nobody is refused" \
	"refusing pid file $PIDF: /run/forkcast is owned by uid 65534, not by root"
chown root /run/forkcast
chmod 1777 /run/forkcast
refused "a world-writable /run/forkcast is refused" \
	"/run/forkcast is writable by group or others"
rm -rf /run/forkcast
touch /run/forkcast
refused "a /run/forkcast that is a file is refused" "/run/forkcast is not a directory"
EOF
if unshare --mount --propagation private true 2>/dev/null; then
	unshare --mount --propagation private bash "$TMP/ns.sh" "$CTL" "$FORKCAST" "$TMP/n.conf" "$pn" >"$TMP/ns.out" 2>&1 &
	ns=$!
	PIDS+=("$ns")
	wait "$ns"
	n=0
	while read -r tag st what; do
		[ "$tag" = R ] || continue
		n=$((n + 1))
		if [ "$st" = 0 ]; then ok "$what"; else not_ok "$what"; fi
	done <"$TMP/ns.out"
	[ "$n" -ge 7 ] || not_ok "namespace checks ran ($n of 7): $(tail -n 5 "$TMP/ns.out")"
else
	echo "  skip - /run/forkcast checks: no mount namespace here (unshare -m refused)"
fi

finish
