#!/bin/bash
# One configuration path: whatever start refuses, `forkcast -n` refuses
# with the same FILE:LINE: KEY: problem and exit status 2 (and reload too:
# tests/integration/reload.sh).  Table-driven: each case is a file, the
# message expected, and both commands are run on it.  Then the notes -n
# prints for keys a reload cannot apply (slots, max_frame_size).
. "$(dirname "$0")/lib.sh"

port=$(free_port) || exit 1
n=0
# case_file NAME EXPECTED_REGEX: the file is $TMP/NAME (made by the caller).
case_file() {
	local name=$1 want=$2 f=$TMP/$1 out rc
	n=$((n + 1))
	out=$("$BUILD/forkcast" -n -c "$f" 2>&1); rc=$?
	check "-n $name: exit 2 (got $rc)" [ "$rc" = 2 ]
	check "-n $name: says /$want/ ($(head -n 1 <<<"$out"))" grep -Eq "$want" <<<"$out"
	out=$(timeout 10 "$BUILD/forkcast" -c "$f" 2>&1); rc=$?
	check "start $name: exit 2 (got $rc)" [ "$rc" = 2 ]
	check "start $name: says /$want/" grep -Eq "$want" <<<"$out"
}
base() {	# base NAME [lines...]: a file that is fine but for the lines given
	local name=$1; shift
	write_config "$TMP/$name" "$port" "$@"
}

mkdir "$TMP/dir.conf"
case_file dir.conf "dir.conf:0: -: cannot open: not a regular file"
ln -s /dev/null "$TMP/devnull.conf"
case_file devnull.conf "devnull.conf:0: -: cannot open: not a regular file"
base nul.conf; printf 'workers = 2\0\n' >>"$TMP/nul.conf"
case_file nul.conf "nul.conf:4: -: NUL byte in line"
base nouser.conf "user = fc-no-such-user"
case_file nouser.conf "nouser.conf:4: server.user: fc-no-such-user: no such user"
base root.conf "user = root"
case_file root.conf "root.conf:4: server.user: workers must not run as root"
base logdir.conf "[log]" "file = $TMP/no-such-dir/forkcast.log"
case_file logdir.conf "logdir.conf:5: log.file: cannot create .*no-such-dir/forkcast.log"
base logisdir.conf "[log]" "file = $TMP"
case_file logisdir.conf "logisdir.conf:5: log.file: .* is a directory"
base fps.conf "[capture]" "fps = 0"
case_file fps.conf "fps.conf:5: capture.fps: 0 is out of range"
base urlcred.conf "[capture]" "source = http" "url = http://user@cam.example/x"
case_file urlcred.conf "urlcred.conf:6: capture.url: credentials must be user:password"
base urlport.conf "[capture]" "source = http" "url = http://cam.example:99999/x"
case_file urlport.conf "urlport.conf:6: capture.url: port 99999 is out of range"
base twice.conf "workers = 2" "workers = 3"
case_file twice.conf "twice.conf:5: server.workers: given twice, first on line 4"
# The size bound: a file of comments just over 1 MiB (1048576 bytes).
base big.conf
head -c 1048577 /dev/zero | tr '\0' '#' >>"$TMP/big.conf"
case_file big.conf "big.conf:0: -: file too large \(more than 1048576 bytes\)"

# And a good file passes both ways (start is stopped at once).
base good.conf "workers = 1"
check "-n on a good file: exit 0" "$BUILD/forkcast" -n -c "$TMP/good.conf"
# Keys a reload cannot apply: -n says so (exit 0, the file is fine).
base slots.conf "[capture]" "slots = 6"
out=$("$BUILD/forkcast" -n -c "$TMP/slots.conf" 2>&1); rc=$?
check "-n with slots set: exit 0 and a note ($(grep note <<<"$out"))" \
	bash -c '[ "$0" = 0 ] && grep -q "note: capture.slots: set here, applied at start only" <<<"$1"' "$rc" "$out"
base mfs.conf "[capture]" "max_frame_size = 8M"
out=$("$BUILD/forkcast" -n -c "$TMP/mfs.conf" 2>&1); rc=$?
check "-n with max_frame_size set: exit 0 and a note ($(grep note <<<"$out"))" \
	bash -c '[ "$0" = 0 ] && grep -q "note: capture.max_frame_size: set here, applied at start only" <<<"$1"' "$rc" "$out"
echo "  $n refused files checked with -n and start"
finish
