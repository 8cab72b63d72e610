#!/usr/bin/env bash
# The man pages: memcoord(8) and memcoord.conf(5) format without a single
# groff or man warning, memcoord(8) documents every option `memcoord --help`
# prints, and memcoord.conf(5) every section and key `--check-config` prints
# (so that neither page can drift from the program).
set -uo pipefail
MEMCOORD=${1:?usage: test_man.sh /path/to/memcoord MAN_DIR}
MANDIR=${2:?usage: test_man.sh /path/to/memcoord MAN_DIR}
fails=0
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; fails=$((fails + 1)); }

for page in "$MANDIR/memcoord.8" "$MANDIR/memcoord.conf.5"; do
	name=$(basename "$page")
	out=$(groff -man -ww -z "$page" 2>&1); rc=$?
	if [ "$rc" -eq 0 ] && [ -z "$out" ]; then ok "groff -ww: $name"
	else notok "groff -ww $name -> $rc: $out"; fi
	# man renders through its own preprocessors and line width.
	out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null); rc=$?
	if [ "$rc" -eq 0 ] && [ -z "$out" ]; then ok "man --warnings: $name"
	else notok "man --warnings $name -> $rc: $out"; fi
	lines=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -E UTF-8 -l "$page" 2>/dev/null | wc -l)
	[ "$lines" -gt 50 ] && ok "$name renders to $lines lines" || notok "$name renders to $lines lines"
done

# In roff source an option's dashes are written \- .
roff() { sed 's/-/\\-/g' <<<"$1"; }

help=$("$MEMCOORD" --help) || notok "memcoord --help failed"
opts=$(grep -oE -- '(^|[ ,])--[a-z][a-z-]*' <<<"$help" | sed 's/^[ ,]*//' | sort -u)
[ "$(wc -l <<<"$opts")" -ge 20 ] || notok "too few options found in --help: $opts"
# Each option must head an entry: the tag line after a .TP.
tags=$(awk '/^\.TP/ { if ((getline line) > 0) print line }' "$MANDIR/memcoord.8")
missing=""
for o in $opts $(grep -oE -- '^  -[a-zA-Z]' <<<"$help" | tr -d ' '); do
	grep -qE -- "(^|[ \"P])$(roff "$o" | sed 's/\\/\\\\/g')([ \"]|$)" <<<"$tags" || missing="$missing $o"
done
[ -z "$missing" ] && ok "memcoord.8 has an entry for each of the $(wc -l <<<"$opts") long options of --help" \
	|| notok "memcoord.8 lacks:$missing"

eff=$("$MEMCOORD" --config /dev/null --check-config 2>/dev/null) || notok "--check-config failed"
missing=""
nkeys=0
while IFS= read -r line; do
	case "$line" in
	\[*\])
		sect=${line#[}; sect=${sect%]}
		grep -qF ".SS [$sect]" "$MANDIR/memcoord.conf.5" || missing="$missing [$sect]"
		;;
	[a-z]*=* | \#[a-z]*=*)
		key=${line#\#}; key=${key%% =*}
		nkeys=$((nkeys + 1))
		grep -qE "^\.BI $key " "$MANDIR/memcoord.conf.5" || missing="$missing $sect.$key"
		;;
	esac
done <<<"$eff"
grep -qF ".SS [domain:NAME]" "$MANDIR/memcoord.conf.5" || missing="$missing [domain:NAME]"
[ -z "$missing" ] && ok "memcoord.conf.5 documents all $nkeys keys of --check-config" \
	|| notok "memcoord.conf.5 lacks:$missing"

# Every key of a domain section too (--check-config prints them only for a
# configured domain).
printf '[domain:x]\nweight = 2\n' >"${TMPDIR:-/tmp}/test_man.$$.conf"
dom=$("$MEMCOORD" --config "${TMPDIR:-/tmp}/test_man.$$.conf" --check-config 2>/dev/null \
	| sed -n '/^\[domain:x\]/,$p' | grep -oE '^#?[a-z_]+ =' | tr -d '#=' | tr -d ' ')
rm -f "${TMPDIR:-/tmp}/test_man.$$.conf"
missing=""
for key in $dom; do
	sed -n '/^\.SS \[domain:NAME\]/,$p' "$MANDIR/memcoord.conf.5" | grep -qE "^\.BI $key " \
		|| missing="$missing domain.$key"
done
[ -n "$dom" ] && [ -z "$missing" ] && ok "memcoord.conf.5 documents the domain keys:" $dom \
	|| notok "domain keys: '$dom' lacking:$missing"

[ $fails -eq 0 ] && echo "man: all passed" || echo "man: $fails failed"
[ $fails -eq 0 ]
