#!/usr/bin/env bash
# What memcoord.service's hardening leaves memcoord is enough to manage
# libvirt domains: root with no capability at all (CapabilityBoundingSet=
# empty, NoNewPrivileges=yes), the file system read-only (ProtectSystem=
# strict), the libvirt socket on a read-only mount. Without systemd as PID 1
# the sandbox is built by hand: a private mount namespace with / and the
# socket remounted read-only, then setpriv dropping every capability.
# A private libvirtd (tests/lib/libvirtd-session.sh) serves the test driver;
# its socket is handed to root as the system daemon's is (root-owned, 0700).
#   - the sandbox holds: no capabilities, no_new_privs, / read-only;
#   - a socket owned by another user is refused (no capability overrides
#     its permissions: the sandbox is real);
#   - the root-owned socket: memcoord connects, finds the domain, decides
#     (--once) and exits 0.
# Root only (77 otherwise, or without libvirtd).
set -uo pipefail
MEMCOORD=${1:?usage: test_sandbox.sh /path/to/memcoord}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/libvirtd-session.sh
. "$here/lib/libvirtd-session.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (mount namespace, socket ownership)"
	exit 77
fi
if ! lvs_find_libvirtd; then
	echo "1..0 # SKIP libvirtd is not installed"
	exit 77
fi
if ! unshare -m --propagation private true 2>/dev/null; then
	echo "1..0 # SKIP no mount namespaces here"
	exit 77
fi
fails=0
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; fails=$((fails + 1)); }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/memcoord-sandbox.XXXXXX")
cleanup() {
	lvs_hold_stop 2>/dev/null
	lvs_stop 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

lvs_start "$tmp" || { notok "start a private libvirtd"; exit 1; }
lvs_hold_start "$(lvs_uri test /default)" || { notok "hold a connection"; exit 1; }

# The socket as memcoord sees it: bound onto a root-owned folder, read-only.
mkdir -p "$tmp/ro" && chmod 0755 "$tmp/ro" && : >"$tmp/ro/libvirt-sock"
URI="test+unix:///default?socket=$tmp/ro/libvirt-sock"

# sandboxed CMD...: run CMD in the hand-built sandbox (with a writable
# /run/memcoord, as the unit's RuntimeDirectory= gives it).
sandboxed() {
	unshare -m --propagation private sh -c '
		mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" &&
		mkdir -p /run/memcoord && mount -t tmpfs -o mode=0700 tmpfs /run/memcoord &&
		mount -o remount,bind,ro / || exit 99
		shift 2
		exec setpriv --bounding-set=-all --inh-caps=-all --ambient-caps=-all \
			--no-new-privs "$@"' sh "$LVS_SOCK" "$tmp/ro/libvirt-sock" "$@"
}

out=$(sandboxed sh -c 'grep -E "^(CapPrm|CapEff|CapBnd|NoNewPrivs):" /proc/self/status; touch /.memcoord-probe 2>&1' 2>&1)
if grep -qE '^CapEff:[[:space:]]+0+$' <<<"$out" && grep -qE '^CapBnd:[[:space:]]+0+$' <<<"$out" &&
	grep -qE '^NoNewPrivs:[[:space:]]+1$' <<<"$out" && grep -q 'Read-only file system' <<<"$out"; then
	ok "sandbox: no capabilities, no_new_privs, / read-only"
else
	notok "sandbox not as intended: $out"
	exit 1
fi

# The session daemon's socket belongs to nobody, mode 0700.
out=$(sandboxed timeout 30 "$MEMCOORD" --config /dev/null -c "$URI" --once --dry-run 2>&1); rc=$?
if [ "$rc" -eq 1 ] && grep -q 'Permission denied' <<<"$out"; then
	ok "another user's socket: refused without capabilities"
else
	notok "another user's socket -> $rc: $out"
fi

# Owned by root, as /run/libvirt/libvirt-sock and virtqemud-sock are.
chown root:root "$LVS_SOCK" && chmod 0700 "$LVS_SOCK"
out=$(sandboxed timeout 60 "$MEMCOORD" --config /dev/null -c "$URI" --once --dry-run 2>&1); rc=$?
if [ "$rc" -eq 0 ] && grep -q '^<6>connected to' <<<"$out" &&
	grep -q 'test: domain is running' <<<"$out"; then
	ok "root-owned socket: connected, domain found, --once exit 0, with no capabilities on a read-only system"
else
	notok "root-owned socket -> $rc: $out"
fi
if grep -q '^<3>' <<<"$out"; then notok "errors in the sandboxed run: $(grep '^<3>' <<<"$out")"; fi

[ $fails -eq 0 ] && echo "sandbox: all passed" || echo "sandbox: $fails failed"
[ $fails -eq 0 ]
