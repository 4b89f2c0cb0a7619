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
finish
