#!/usr/bin/env bash
# Runs of the memcoord binary with a decision trace: --once on the libvirt
# test driver decides on every running domain.
set -uo pipefail
MEMCOORD=${1:?usage: test_simrun.sh MEMCOORD PLOT_SH}
PLOT=${2:?usage: test_simrun.sh MEMCOORD PLOT_SH}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/check.sh
. "$here/lib/check.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --once decides after the first listing, not on the host's first sample
# alone: that one could come while the listing was still on its way, and
# about one run in five decided on no domain at all. 15 runs, ~0.4 s each.
empty=0
for i in $(seq 15); do
	"$MEMCOORD" -c test:///default --once --dry-run --control-socket none \
		--trace "$tmp/once.csv" >/dev/null 2>"$tmp/once.log"
	grep -q '^[0-9.]*,"test",' "$tmp/once.csv" || empty=$((empty + 1))
done
check "--once on libvirt: every one of 15 decisions had the running domain ($empty without)" \
	[ "$empty" -eq 0 ]

check_summary
