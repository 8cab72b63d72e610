#!/usr/bin/env bash
# memcoord — the main job: set up, build, and run memcoord once against
# libvirt's built-in test hypervisor (or the URI given as $1), deciding with
# the seed policy and only logging what it would do.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/setup.sh
[ -f build/plain/build.ninja ] || meson setup build/plain -Dwerror=true >/dev/null
meson compile -C build/plain >/dev/null
uri=${1:-test:///default}
echo "== memcoord --once --dry-run -v -c $uri =="
exec build/plain/memcoord -c "$uri" --once --dry-run --host-reserve 0 -v
