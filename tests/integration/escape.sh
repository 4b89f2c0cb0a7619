#!/bin/bash
# The escape suite (tests/escape/escape.c): every attempt from inside each
# role's real sandbox must be blocked, and must succeed once the defences
# that stop it are taken out of a copy of the row.  Needs root (the uid
# drop and the chroot only happen then).
. "$(dirname "$0")/lib.sh"

[ -x "$BUILD/tools/escape" ] || { echo "build/tools/escape not built: skipped"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "not root: skipped"; exit 77; }
"$BUILD/tools/escape"
