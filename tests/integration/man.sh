#!/bin/bash
# The man pages (conf/man) are clean mdoc and cannot drift from the code:
# - mandoc -T lint -W warning prints nothing for each page;
# - forkcast.conf(5) documents, section by section, exactly the keys of
#   `forkcast --default-config` (printed from the key table in
#   common/config.c) and of conf/forkcast.conf, each with the default,
#   the range and the "applies at restart" of that table;
# - forkcast(8) documents exactly the options of `forkcast -h`, and
#   forkcastctl(8) exactly the commands and options of `forkcastctl -h`;
# - each page's .Os names the version `forkcast -V` prints.
# The checker of forkcast.conf(5) is itself checked: copies of the page
# with a key removed, a default changed and a key added must be caught.
# No server is started.
. "$(dirname "$0")/lib.sh"

MAN=$ROOT/conf/man

if ! command -v mandoc >/dev/null 2>&1; then
	echo "skipped: mandoc is not installed (apt-get install mandoc)"
	exit 77
fi
if [ ! -x "$BUILD/forkcast" ]; then
	not_ok "$BUILD/forkcast exists (run make first)"
	finish
	exit 1
fi

# --- lint -------------------------------------------------------------
for page in forkcast.8 forkcast.conf.5 forkcastctl.8; do
	out=$(mandoc -T lint -W warning "$MAN/$page" 2>&1)
	rc=$?
	if [ "$rc" = 0 ] && [ -z "$out" ]; then
		ok "$page: mandoc -T lint -W warning prints nothing"
	else
		not_ok "$page: mandoc -T lint -W warning (status $rc): $out"
	fi
done

# What lintian runs on installed pages (man-db's man with groff warnings).
if man --version 2>/dev/null | grep -q '^man [0-9]' && command -v groff >/dev/null 2>&1; then
	for page in forkcast.8 forkcast.conf.5 forkcastctl.8; do
		out=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
		    man --warnings -E UTF-8 -l -Tutf8 -Z "$MAN/$page" 2>&1 >/dev/null)
		if [ -z "$out" ]; then
			ok "$page: man --warnings prints nothing"
		else
			not_ok "$page: man --warnings: $out"
		fi
	done
else
	echo "  (man-db or groff missing: the man --warnings check is not run)"
fi

# --- version ----------------------------------------------------------
version=$("$BUILD/forkcast" -V | sed -n 's/^forkcast \([^ ]*\)$/\1/p')
if [ -z "$version" ]; then
	not_ok "forkcast -V prints 'forkcast VERSION'"
else
	for page in forkcast.8 forkcast.conf.5 forkcastctl.8; do
		check "$page: .Os forkcast $version" \
		    grep -qx "\.Os forkcast $version" "$MAN/$page"
	done
	check "forkcast.8: -V documented as printing 'forkcast $version'" \
	    grep -qx "\.Dq forkcast $version \." "$MAN/forkcast.8"
fi

# --- forkcast.conf(5) against the key table ---------------------------

# ini_keys FILE: "SECTION KEY DEFAULT" per key of a file in the format
# of --default-config; DEFAULT is "-" for a key shown commented out (no
# default).  A repeated key (listen) is listed once.
ini_keys() {
	awk '
	/^\[[a-z]+\]$/ { sec = substr($0, 2, length($0) - 2); next }
	sec == "" { next }
	/^[a-z_]+ = / {
		k = $1; v = substr($0, index($0, " = ") + 3)
		if (!((sec, k) in seen)) print sec, k, v
		seen[sec, k] = 1; next
	}
	/^; [a-z_]+ = / {
		if (!((sec, $2) in seen)) print sec, $2, "-"
		seen[sec, $2] = 1
	}' "$1"
}

# ini_notes FILE: "SECTION KEY RANGE RESTART CHOICES" from the comment
# line above each key: RANGE is "lo..hi" or "-", RESTART 1 for a key
# marked "(applies at restart)", CHOICES the words of a "(a, b, c)" list
# joined by commas, or "-".
ini_notes() {
	awk '
	/^\[[a-z]+\]$/ { sec = substr($0, 2, length($0) - 2); prev = ""; next }
	sec != "" && (/^[a-z_]+ = / || /^; [a-z_]+ = /) {
		k = ($1 == ";") ? $2 : $1
		r = "-"
		if (match(prev, /\((octal )?[0-9A-Z]+\.\.[0-9A-Z]+( seconds)?\)/)) {
			r = substr(prev, RSTART + 1, RLENGTH - 2)
			sub(/^octal /, "", r); sub(/ seconds$/, "", r)
		}
		c = "-"
		if (match(prev, /\(([a-z0-9]+, )+[a-z0-9]+\)$/)) {
			c = substr(prev, RSTART + 1, RLENGTH - 2); gsub(/ /, "", c)
		}
		print sec, k, r, (index(prev, "(applies at restart)") ? 1 : 0), c
		prev = ""; next
	}
	{ prev = $0 }' "$1"
}

# man_keys PAGE DIR: "SECTION KEY DEFAULT NDEFAULTS" per ".It Cm KEY"
# item of the outermost list under each ".Ss [SECTION]"; DEFAULT is the
# .Ql line after a "Default:" line, "-" for a "Default: text" line;
# NDEFAULTS counts the default statements.  Each item's text goes to
# DIR/SECTION.KEY.
man_keys() {
	awk -v dir="$2" '
	function flush() {
		if (key != "") print sec, key, (def == "" ? "?" : def), ndef
		key = ""
	}
	/^\.Sh / { flush(); sec = ""; next }
	/^\.Ss / {
		flush(); sec = ""
		if (match($0, /^\.Ss \[[a-z]+\]/)) sec = substr($0, 6, RLENGTH - 6)
		next
	}
	sec == "" { next }
	/^\.Bl / { depth++; next }
	/^\.El/ { if (depth == 1) flush(); depth--; next }
	depth == 1 && /^\.It / {
		flush()
		if ($2 == "Cm" && $4 == "Ns" && $5 == "=") {
			key = $3; def = ""; ndef = 0; want = 0
			file = dir "/" sec "." key
			if (file in made) print "DUP", sec, key
			made[file] = 1
			printf "" > file
		}
		next
	}
	key == "" { next }
	{ print >> file }
	want {
		want = 0
		if (match($0, /^\.Ql [^ ]+/)) def = substr($0, 5, RLENGTH - 4)
		else def = "?"
		next
	}
	$0 == "Default:" { ndef++; want = 1; next }
	/^Default: / { ndef++; def = "-" }
	END { flush() }' "$1"
}

# key_diff THEIRS MANKEYS NAME: a line for each "SECTION KEY" in one
# sorted list and not the other.
key_diff() {
	comm -23 "$1" "$2" | while read -r sec key; do
		echo "[$sec] $key: in $3, not in the man page"
	done
	comm -13 "$1" "$2" | while read -r sec key; do
		echo "[$sec] $key: in the man page, not in $3"
	done
}

# check_conf_page PAGE: prints one line per disagreement between PAGE
# and the code's keys (and conf/forkcast.conf's); prints nothing when
# they agree.
check_conf_page() {
	local page=$1 d sec key def n mdef mn r rs ch w
	d=$(mktemp -d "$TMP/items.XXXXXX")
	man_keys "$page" "$d" >"$d.man"
	while read -r sec key; do
		echo "[$sec] $key: documented twice"
	done < <(sed -n 's/^DUP //p' "$d.man")
	grep -v '^DUP ' "$d.man" | awk '{ print $1, $2 }' | sort >"$d.mankeys"
	awk '{ print $1, $2 }' "$TMP/code.keys" | sort >"$d.codekeys"
	awk '{ print $1, $2 }' "$TMP/conf.keys" | sort >"$d.confkeys"
	key_diff "$d.codekeys" "$d.mankeys" "the code (--default-config)"
	key_diff "$d.confkeys" "$d.mankeys" "conf/forkcast.conf"
	# Defaults, ranges and restart notes of the keys both have.
	while read -r sec key def; do
		read -r _ _ mdef mn < <(grep "^$sec $key " "$d.man" | head -n 1) ||
			continue
		if [ "$mn" != 1 ]; then
			echo "[$sec] $key: $mn default statements in the man page, not 1"
		elif [ "$mdef" != "$def" ]; then
			echo "[$sec] $key: default '$def' in the code, '$mdef' in the man page"
		fi
	done <"$TMP/code.keys"
	while read -r sec key r rs ch; do
		[ -f "$d/$sec.$key" ] || continue
		for w in ${ch//,/ }; do
			[ "$ch" != - ] || break
			grep -qE "^\.Cm $w( [.,;:]|\$)" "$d/$sec.$key" ||
				echo "[$sec] $key: choice '$w' not given as .Cm $w in the man page"
		done
		if [ "$r" != - ] && ! tr '\n' ' ' <"$d/$sec.$key" | grep -qF -- "$r"; then
			echo "[$sec] $key: range $r not stated in the man page"
		fi
		if [ "$rs" = 1 ] && ! grep -qx 'Applies at restart only\.' "$d/$sec.$key"; then
			echo "[$sec] $key: applies at restart, the man page does not say so"
		fi
		if [ "$rs" = 0 ] && grep -qx 'Applies at restart only\.' "$d/$sec.$key"; then
			echo "[$sec] $key: the man page says it applies at restart only, the code does not"
		fi
	done <"$TMP/code.notes"
}

"$BUILD/forkcast" --default-config >"$TMP/default.conf"
ini_keys "$TMP/default.conf" >"$TMP/code.keys"
ini_notes "$TMP/default.conf" >"$TMP/code.notes"
ini_keys "$ROOT/conf/forkcast.conf" >"$TMP/conf.keys"
nkeys=$(wc -l <"$TMP/code.keys")
# The parse found the table: three sections, the keys known to exist.
check "--default-config parsed: $nkeys keys in [server] [capture] [tls] [log]" \
    test "$(awk '{ print $1 }' "$TMP/code.keys" | sort -u | tr '\n' ' ')" = "capture log server tls "
check "--default-config parsed: [server] listen defaults to 127.0.0.1:8080" \
    grep -qx 'server listen 127.0.0.1:8080' "$TMP/code.keys"
check "--default-config parsed: [capture] slots is a restart key with range 3..64" \
    grep -qx 'capture slots 3..64 1 -' "$TMP/code.notes"
check "--default-config parsed: [log] level is one of error, warn, info, debug" \
    grep -qx 'log level - 0 error,warn,info,debug' "$TMP/code.notes"
check "--default-config parsed: [log] file has no default" \
    grep -qx 'log file -' "$TMP/code.keys"

problems=$(check_conf_page "$MAN/forkcast.conf.5")
if [ -z "$problems" ]; then
	ok "forkcast.conf.5: the $nkeys keys of the code and conf/forkcast.conf, with defaults, ranges and restart notes"
else
	while IFS= read -r line; do
		not_ok "forkcast.conf.5: $line"
	done <<<"$problems"
fi

# Self-check of the checker, on altered copies of the page.
cp "$MAN/forkcast.conf.5" "$TMP/nokey.5"
sed -i '/^\.It Cm slots Ns = /,/^\.El/{/^\.El/!d}' "$TMP/nokey.5"
check "self-check: a copy without the [capture] slots item is caught" \
    grep -qx '\[capture\] slots: in the code (--default-config), not in the man page' \
    <(check_conf_page "$TMP/nokey.5")
check "self-check: ... and so is its absence from conf/forkcast.conf's keys" \
    grep -qx '\[capture\] slots: in conf/forkcast.conf, not in the man page' \
    <(check_conf_page "$TMP/nokey.5")
cp "$MAN/forkcast.conf.5" "$TMP/baddef.5"
sed -i 's/^\.Ql 4096 \.$/.Ql 4097 ./' "$TMP/baddef.5"
check "self-check: a copy with max_clients defaulting to 4097 is caught" \
    grep -qx "\[server\] max_clients: default '4096' in the code, '4097' in the man page" \
    <(check_conf_page "$TMP/baddef.5")
cp "$MAN/forkcast.conf.5" "$TMP/extra.5"
sed -i 's/^\.It Cm level Ns = Ns Ar level$/.It Cm colour Ns = Ns Ar boolean\nDefault: not set.\n&/' "$TMP/extra.5"
check "self-check: a copy with an extra [log] colour key is caught" \
    grep -qx '\[log\] colour: in the man page, not in the code (--default-config)' \
    <(check_conf_page "$TMP/extra.5")
cp "$MAN/forkcast.conf.5" "$TMP/moved.5"
sed -i '/^\.It Cm slots Ns = /,/^\.El/{/^\.El/!d}; s/^\.It Cm level Ns = Ns Ar level$/.It Cm slots Ns = Ns Ar number\nFrame bus slots, 3..64.\nApplies at restart only.\nDefault:\n.Ql 4 .\n&/' "$TMP/moved.5"
check "self-check: a copy with slots under [log] instead of [capture] is caught" \
    grep -qx '\[log\] slots: in the man page, not in the code (--default-config)' \
    <(check_conf_page "$TMP/moved.5")
cp "$MAN/forkcast.conf.5" "$TMP/norange.5"
sed -i 's/^Frame bus slots, 3\.\.64\.$/Frame bus slots, 3..32./' "$TMP/norange.5"
check "self-check: a copy with a wrong slots range is caught" \
    grep -qx '\[capture\] slots: range 3..64 not stated in the man page' \
    <(check_conf_page "$TMP/norange.5")

cp "$MAN/forkcast.conf.5" "$TMP/nochoice.5"
sed -i '/^\.It Cm level Ns = /,/^\.El/s/^\.Cm warn ,$/.Cm warning ,/' "$TMP/nochoice.5"
check "self-check: a copy naming level warn 'warning' is caught" \
    grep -qx "\[log\] level: choice 'warn' not given as .Cm warn in the man page" \
    <(check_conf_page "$TMP/nochoice.5")

# --- forkcast(8) options ----------------------------------------------

# Options named in a usage text: -x or --word after a blank, '[', '|'
# or ','; an attached argument (-cFILE, --config=FILE) is not part of it.
usage_opts() {
	grep -oE '(^|[][ ,|])--?[a-zA-Z][-a-z]*' | sed 's/^[][ ,|]//' | sort -u
}

# man_opts PAGE SECTION: the options of the ".It Fl" items of SECTION.
man_opts() {
	awk -v s="$2" '/^\.Sh / { in_s = ($2 == s); next } in_s && /^\.It Fl / { print }' "$1" |
		grep -oE 'Fl -?[a-zA-Z][-a-z]*' | sed 's/^Fl /-/' | sort -u
}


# same_lists CODE MAN PAGE SECTION WHAT SOURCE: the sorted lists CODE (what
# SOURCE has) and MAN (what SECTION of PAGE documents) are equal; each
# item on one side only is a failure of its own.
same_lists() {
	local x
	for x in $(comm -23 "$1" "$2"); do
		not_ok "$3: $5 $x of $6 is not under $4"
	done
	for x in $(comm -13 "$1" "$2"); do
		not_ok "$3: $5 $x is documented but $6 does not have it"
	done
	check "$3: $4 documents exactly $(tr '\n' ' ' <"$1")" cmp -s "$1" "$2"
}

"$BUILD/forkcast" -h >"$TMP/forkcast.h"
rc=$?
check "forkcast -h exits 0" test "$rc" = 0
"$BUILD/forkcast" --help >"$TMP/forkcast.help"
rc=$?
check "forkcast --help exits 0 with the same usage" \
    eval 'test "$rc" = 0 && cmp -s "$TMP/forkcast.h" "$TMP/forkcast.help"'
# -h and --help print the usage without being listed in it.
{ usage_opts <"$TMP/forkcast.h"; printf '%s\n' -h --help; } | sort -u >"$TMP/fc.code"
man_opts "$MAN/forkcast.8" OPTIONS >"$TMP/fc.man"
check "forkcast -h lists options (-c, -n, --paths found)" \
    eval 'grep -qx -- -c "$TMP/fc.code" && grep -qx -- -n "$TMP/fc.code" && grep -qx -- --paths "$TMP/fc.code"'
same_lists "$TMP/fc.code" "$TMP/fc.man" forkcast.8 OPTIONS option "forkcast -h"

# --- forkcastctl(8) commands and options ------------------------------
"$ROOT/scripts/forkcastctl" -h >"$TMP/ctl.h"
rc=$?
check "forkcastctl -h exits 0" test "$rc" = 0
sed -n '1s/^usage: forkcastctl \[options\] //p' "$TMP/ctl.h" |
	sed 's/ \[-f\]//g' | tr '|' '\n' | sort -u >"$TMP/ctl.cmds"
awk '/^\.Sh / { in_s = ($2 == "COMMANDS"); next } in_s && /^\.It Cm / { print $3 }' \
    "$MAN/forkcastctl.8" | sort -u >"$TMP/ctl.mancmds"
check "forkcastctl -h usage line parsed (start, logs, run found)" \
    eval 'grep -qx start "$TMP/ctl.cmds" && grep -qx logs "$TMP/ctl.cmds" && grep -qx run "$TMP/ctl.cmds"'
same_lists "$TMP/ctl.cmds" "$TMP/ctl.mancmds" forkcastctl.8 COMMANDS command "forkcastctl -h"
usage_opts <"$TMP/ctl.h" >"$TMP/ctl.opts"
man_opts "$MAN/forkcastctl.8" OPTIONS >"$TMP/ctl.manopts"
same_lists "$TMP/ctl.opts" "$TMP/ctl.manopts" forkcastctl.8 OPTIONS option "forkcastctl -h"

finish
