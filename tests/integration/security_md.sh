#!/bin/bash
# SECURITY.md's "What each process can do" tables are the role table and
# the seccomp tables as the code has them: the part between the roles
# markers must be exactly what build/tools/roles_md prints.  After changing
# common/role.c or common/policy_*.c: build/tools/roles_md --update SECURITY.md
. "$(dirname "$0")/lib.sh"

[ -x "$BUILD/tools/roles_md" ] || { echo "build/tools/roles_md not built: skipped"; exit 77; }
sed -n '/^<!-- roles:begin/,/^<!-- roles:end -->$/p' "$ROOT/SECURITY.md" >"$TMP/doc.md"
"$BUILD/tools/roles_md" >"$TMP/code.md"
check "SECURITY.md has the roles markers" [ -s "$TMP/doc.md" ]
check "SECURITY.md's role tables match the code (roles_md --update SECURITY.md)" \
	diff -u "$TMP/doc.md" "$TMP/code.md"
# Every seccomp row names its caller: no empty reason.
check "every seccomp row has a reason" bash -c "! grep -E '^\| \`[a-z0-9_]+\` \|.*\|  ?\|$' '$TMP/code.md'"
# ... and the callers it names exist: every "FILE.c f(), g()" in the tables
# is a forkcast file that defines f and g.  (Files that are not forkcast's,
# glibc's res_send.c, are skipped.)
stale=""
while read -r file funcs; do
	srcs=$(find "$ROOT/common" "$ROOT/server" "$ROOT/capture" -name "$file")
	[ -n "$srcs" ] || continue
	for f in $funcs; do
		# shellcheck disable=SC2086
		grep -qE "^$f\(" $srcs || stale="$stale $file:$f()"
	done
done < <(grep -oE '[a-z0-9_]+\.c [a-z0-9_]+\(\)(, [a-z0-9_]+\(\))*' "$TMP/code.md" |
	sed 's/()//g; s/,//g')
check "every function the tables name is defined in its file (stale:${stale:- none})" [ -z "$stale" ]
# Every file SECURITY.md names is in the tree.
missing=""
for f in $(grep -oE '`[A-Za-z0-9_./-]+/[A-Za-z0-9_.-]+\.(c|h|sh)`' "$ROOT/SECURITY.md" | tr -d '`' | sort -u); do
	[ -e "$ROOT/$f" ] || missing="$missing $f"
done
check "every file SECURITY.md names exists (missing:${missing:- none})" [ -z "$missing" ]
finish
