#!/usr/bin/env bash
# memcoord — the main job: set up, build, and run memcoord on the simulated
# host (scenarios/demo.ini unless another scenario is given) under the seed
# and the default (balance) policy. Prints each run's summary and the
# side-by-side comparison, and writes plots of both runs to out/.
#   scripts/demo.sh [SCENARIO.ini]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scenario=${1:-scenarios/demo.ini}

scripts/setup.sh
[ -f build/plain/build.ninja ] || meson setup build/plain -Dwerror=true >/dev/null
meson compile -C build/plain >/dev/null

mkdir -p out
name=$(basename "$scenario" .ini)
echo "== memcoord --sim $scenario --compare (simulated host, accelerated clock) =="
build/plain/memcoord --sim "$scenario" --compare --trace "out/$name.csv" 2>"out/$name.log"
for policy in seed balance; do
	scripts/plot.sh "out/$name.$policy.csv" "out/$name.$policy.png" "$name — $policy policy" >/dev/null
done
echo
echo "log: out/$name.log; traces: out/$name.{seed,balance}.csv"
echo "plots: out/$name.seed.png out/$name.balance.png"
