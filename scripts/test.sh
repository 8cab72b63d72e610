#!/usr/bin/env bash
# memcoord — the whole test suite: set-up, a -Werror build, every test, and
# the same suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
# then the end-to-end lab on real QEMU guests (tests/e2e, about 12 min).
# Prints "tests: N passed, M failed" last and exits non-zero if any failed.
#   scripts/test.sh            everything
#   scripts/test.sh --quick    the plain build only (no sanitizers, no fuzzing, no e2e)
# MC_FUZZ_SECONDS=N runs each fuzz target N seconds (default 60; 0 skips).
# MEMCOORD_SKIP_E2E=1 leaves the e2e lab out.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

quick=0
[ "${1:-}" = "--quick" ] && quick=1

scripts/setup.sh || { echo "tests: 0 passed, 1 failed"; exit 1; }

passed=0
failed=0
skipped=0
failed_names=()   # printed again just before the last line, where CI tails show it

# run_suite BUILD_DIR [meson setup options...]
run_suite() {
	local dir=$1; shift
	local log="$dir/suite.log"
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" -Dwerror=true "$@" >/dev/null || { failed=$((failed + 1)); return; }
	fi
	if ! meson compile -C "$dir" >"$dir.compile.log" 2>&1; then
		cat "$dir.compile.log"
		echo "build in $dir failed"
		failed=$((failed + 1))
		return
	fi
	meson test -C "$dir" --print-errorlogs --num-processes 2 2>&1 | tee "$log"
	local ok skip total
	ok=$(awk '/^Ok:/{print $2}' "$log")
	skip=$(awk '/^Skipped:/{print $2}' "$log")
	# Every test meson announced ("N/M name ...") that did not pass or skip
	# has failed, whatever the summary calls it (fail, timeout, interrupt).
	total=$(grep -oE '^ *[0-9]+/[0-9]+ ' "$log" | tail -1 | cut -d/ -f2 | tr -d ' ')
	passed=$((passed + ${ok:-0}))
	skipped=$((skipped + ${skip:-0}))
	if [ -z "$ok" ] || [ -z "$total" ]; then
		failed=$((failed + 1))    # no summary: the runner itself failed
	else
		failed=$((failed + total - ok - ${skip:-0}))
	fi
	local name
	while IFS= read -r name; do
		failed_names+=("$dir: $name")
	done < <(grep -E '^ *[0-9]+/[0-9]+ ' "$log" | grep -vE '[[:space:]](OK|SKIP|EXPECTEDFAIL)[[:space:]]' |
		sed -E 's/^ *[0-9]+\/[0-9]+ +//; s/ +[0-9.]+s.*$//; s/  +/ /g' | awk '!seen[$0]++')
}

# run_fuzz: every libFuzzer target for $MC_FUZZ_SECONDS (default 60; 0
# skips), one test each (scripts/fuzz.sh prints "fuzz NAME: ok|FAILED").
run_fuzz() {
	local secs=${MC_FUZZ_SECONDS:-60} log=build/fuzz.log ok bad
	[ "$secs" = 0 ] && { echo "fuzzing skipped (MC_FUZZ_SECONDS=0)"; return; }
	scripts/fuzz.sh "$secs" 2>&1 | tee "$log"
	ok=$(grep -c '^fuzz .*: ok' "$log")
	bad=$(grep -c '^fuzz .*: FAILED' "$log")
	local name
	while IFS= read -r name; do
		failed_names+=("$name")
	done < <(grep '^fuzz .*: FAILED' "$log")
	[ "$ok" -eq 0 ] && [ "$bad" -eq 0 ] && bad=1   # the script itself failed
	passed=$((passed + ok))
	failed=$((failed + bad))
}

mkdir -p build
echo "== plain build (-Werror) =="
run_suite build/plain
if [ $quick -eq 0 ]; then
	echo "== AddressSanitizer + UndefinedBehaviorSanitizer =="
	run_suite build/asan -Db_sanitize=address,undefined -Db_lundef=false
	echo "== fuzzing (libFuzzer, clang) =="
	run_fuzz
fi

# The end-to-end lab: each of its checks counts as one test; it exits 77
# (skipped, reason printed) only where virtualization is unavailable.
run_e2e() {
	local log=build/e2e.log rc line
	E2E_OUT="$top/build/e2e-out" tests/e2e/run.sh build/plain/memcoord 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^e2e: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ "$rc" -eq 77 ]; then
		skipped=$((skipped + 1))
		return
	fi
	if [ -z "$line" ]; then
		echo "e2e: the lab printed no summary (exit $rc)"
		failed=$((failed + 1))
		return
	fi
	local l
	while IFS= read -r l; do failed_names+=("e2e: $l"); done < <(grep -E '^not ok' "$log")
	passed=$((passed + $(awk '{print $2}' <<<"$line")))
	failed=$((failed + $(awk '{print $4}' <<<"$line")))
	# A non-zero exit with every check passed is still a failure.
	[ "$rc" -eq 0 ] || [ "$(awk '{print $4}' <<<"$line")" -gt 0 ] || failed=$((failed + 1))
}
if [ $quick -eq 0 ] && [ "${MEMCOORD_SKIP_E2E:-0}" != 1 ] && [ -x build/plain/memcoord ]; then
	echo "== end-to-end lab: real QEMU guests under libvirtd =="
	run_e2e
fi

if [ ${#failed_names[@]} -gt 0 ]; then
	echo "== what failed =="
	printf '  %s\n' "${failed_names[@]}"
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
