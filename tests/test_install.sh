#!/usr/bin/env bash
# `meson install --destdir` puts the binary, the systemd unit, both man
# pages and the example configuration in place; the unit passes
# `systemd-analyze verify` (its man: links resolving to the installed
# pages) and keeps its hardening (`systemd-analyze security` exposure);
# the installed example is a valid configuration.
set -uo pipefail
BUILD=${1:?usage: test_install.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: test_install.sh BUILD_DIR SOURCE_DIR}
fails=0
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; fails=$((fails + 1)); }

if ! out=$(meson install -C "$BUILD" --destdir "$dest" --no-rebuild 2>&1); then
	notok "meson install failed: $out"
	exit 1
fi
ok "meson install --destdir"

one() {   # one NAME: the single installed file of that name
	local f
	f=$(find "$dest" -name "$1" \( -type f -o -type l \))
	if [ -z "$f" ] || [ "$(wc -l <<<"$f")" -ne 1 ]; then
		notok "installed $1: '${f}'"
		return 1
	fi
	echo "$f"
}

bin=$(one memcoord) && [ -x "$bin" ] && "$bin" --version | grep -q '^memcoord ' \
	&& ok "binary ${bin#"$dest"} runs" || notok "binary: '$bin'"
case "$bin" in */sbin/memcoord) ok "binary in sbin" ;; *) notok "binary not in sbin: $bin" ;; esac

unit=$(one memcoord.service) || exit 1
case "$unit" in */lib/systemd/system/memcoord.service) ok "unit ${unit#"$dest"}" ;;
	*) notok "unit not in a systemd system unit directory: $unit" ;; esac
for want in "Type=notify" "ExecStart=${bin#"$dest"}" 'ExecReload=/bin/kill -HUP $MAINPID' \
	"Restart=on-failure" "RuntimeDirectory=memcoord" "RuntimeDirectoryMode=0700" \
	"NoNewPrivileges=yes" "ProtectSystem=strict" "PrivateTmp=yes" "CapabilityBoundingSet=" \
	"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"; do
	grep -qxF -- "$want" "$unit" && ok "unit: $want" || notok "unit lacks the line '$want'"
done
grep -qE '^WatchdogSec=[1-9][0-9]*s$' "$unit" && ok "unit: $(grep ^WatchdogSec= "$unit")" \
	|| notok "unit: no WatchdogSec= in seconds"
grep -qE '@[a-z_]+@' "$unit" && notok "unconfigured @...@ left in the unit: $(grep -E '@[a-z_]+@' "$unit")"

man8=$(one memcoord.8) && case "$man8" in */share/man/man8/memcoord.8) ok "man page ${man8#"$dest"}" ;; *) notok "memcoord.8 at $man8" ;; esac
man5=$(one memcoord.conf.5) && case "$man5" in */share/man/man5/memcoord.conf.5) ok "man page ${man5#"$dest"}" ;; *) notok "memcoord.conf.5 at $man5" ;; esac
mandir=${man8%/man8/memcoord.8}
[ "$(MANPATH=$mandir man -w 5 memcoord.conf 2>/dev/null)" = "$man5" ] && ok "man -w 5 memcoord.conf finds it" \
	|| notok "man -w 5 memcoord.conf: $(MANPATH=$mandir man -w 5 memcoord.conf 2>&1)"

ex=$(one memcoord.conf.example) && cmp -s "$ex" "$SRC/etc/memcoord.conf.example" \
	&& ok "example configuration ${ex#"$dest"}" || notok "example configuration: '$ex'"
out=$("$bin" --config "$ex" --check-config 2>&1 >/dev/null) && ok "installed example is a valid configuration" \
	|| notok "installed example: $out"
# Installing never writes the live configuration.
[ -z "$(find "$dest" -name memcoord.conf)" ] && ok "no memcoord.conf installed" \
	|| notok "a memcoord.conf was installed: $(find "$dest" -name memcoord.conf)"

# systemd-analyze verify checks ExecStart= exists: point it at the
# installed binary; Documentation=man: must resolve to the installed pages.
mkdir -p "$dest/verify"
sed "s|^ExecStart=.*|ExecStart=$bin|" "$unit" >"$dest/verify/memcoord.service"
out=$(MANPATH=$mandir systemd-analyze verify "$dest/verify/memcoord.service" 2>&1); rc=$?
if [ "$rc" -eq 0 ] && [ -z "$out" ]; then ok "systemd-analyze verify: clean"
else notok "systemd-analyze verify -> $rc: $out"; fi

exposure=$(systemd-analyze security --offline=yes "$dest/verify/memcoord.service" 2>/dev/null \
	| sed -n 's/.*Overall exposure level for memcoord.service: \([0-9.]*\).*/\1/p')
if [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e <= 2.5) }'; then
	ok "systemd-analyze security: exposure $exposure (at most 2.5)"
else
	notok "systemd-analyze security: exposure '$exposure' (want at most 2.5)"
fi

[ $fails -eq 0 ] && echo "install: all passed" || echo "install: $fails failed"
[ $fails -eq 0 ]
