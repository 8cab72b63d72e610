#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2317 # cleanup runs from the trap
# memcoord — benchmark 5 over the real libvirt RPC path.
#
#   bench/baseline_rpc.sh BENCH_BASELINE [N...]      (default N: 10 100 1000)
#
# Starts a private session-mode libvirtd serving the test driver
# (tests/lib/libvirtd-session.sh, all state in a temporary folder), prints
# its worker-pool and per-client limits, and runs BENCH_BASELINE against
# test+unix:///default?socket=... for each N, passing libvirtd's pid so that
# its CPU time is counted too. Each run creates its own N domains and holds
# its connection; the driver's state resets when it disconnects.
#
# BENCH_LIMITS=1 also runs N = 1000 (refresh only) against a second
# libvirtd configured with max_client_requests = 20 (default 5), to show
# what the per-connection request limit costs memcoord's single connection.
#
# Exits 77 (skipped) when libvirtd is not installed.
set -uo pipefail

BENCH=${1:?usage: baseline_rpc.sh BENCH_BASELINE [N...]}
shift
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10 100 1000)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/lib/libvirtd-session.sh
. "$here/../tests/lib/libvirtd-session.sh"

if ! lvs_find_libvirtd; then
	echo "# SKIP: libvirtd is not installed"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/memcoord-bench.XXXXXX")
chmod 0711 "$tmp"   # libvirtd runs as an unprivileged user under it
cleanup()
{
	lvs_stop >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# start_daemon DIR [libvirtd.conf lines...]
start_daemon()
{
	local dir=$1 conf
	shift
	mkdir -p "$dir"
	if [ $# -gt 0 ]; then
		# A session libvirtd reads $XDG_CONFIG_HOME/libvirt/libvirtd.conf.
		conf=$dir/libvirtd/config/libvirt
		mkdir -p "$conf"
		printf '%s\n' "$@" >"$conf/libvirtd.conf"
		if [ "$(id -u)" -eq 0 ]; then
			chown -R "$(id -u "$LVS_USER" 2>/dev/null || echo 65534):$(id -g "$LVS_USER" 2>/dev/null || echo 65534)" \
				"$dir/libvirtd/config"
		fi
	fi
	lvs_start "$dir" || return 1
	echo "# libvirtd pid $LVS_PID, socket $LVS_SOCK${*:+, libvirtd.conf: $*}"
	# The limits that bound concurrent calls (admin interface).
	if command -v virt-admin >/dev/null; then
		local adm
		adm="libvirtd:///session?socket=$(dirname "$LVS_SOCK")/libvirt-admin-sock"
		timeout 10 virt-admin -c "$adm" srv-threadpool-info libvirtd 2>/dev/null | sed 's/^/#   /'
		timeout 10 virt-admin -c "$adm" srv-clients-info libvirtd 2>/dev/null | sed 's/^/#   /'
	fi
	return 0
}

start_daemon "$tmp/d1" || exit 1
echo "#   max_client_requests (per connection): 5 (libvirtd default; not shown by virt-admin)"
uri=$(lvs_uri test /default)
status=0
for n in "${sizes[@]}"; do
	"$BENCH" "$uri" "$n" --server-pid "$LVS_PID" --label rpc || status=1
done
lvs_stop

if [ "${BENCH_LIMITS:-0}" != 0 ]; then
	start_daemon "$tmp/d2" "max_client_requests = 20" || exit 1
	uri=$(lvs_uri test /default)
	"$BENCH" "$uri" 1000 --server-pid "$LVS_PID" --label rpc-mcr20 --no-react || status=1
	lvs_stop
fi
exit $status
