#!/usr/bin/env bash
# memcoord — build the libFuzzer targets (build/fuzz, clang) and run each
# for a while on its corpus. One line per target, "fuzz NAME: ok ..." or
# "fuzz NAME: FAILED ...", and a non-zero exit if any failed.
#   scripts/fuzz.sh [SECONDS] [TARGET...]   run each target SECONDS (default 60)
#   scripts/fuzz.sh --merge [TARGET...]     add to the committed corpora the
#                                           inputs of $FUZZ_KEEP_DIR/TARGET that
#                                           cover new code (-merge=1)
# Targets are tests/fuzz/fuzz_NAME.c, their seeds tests/fuzz/corpus/NAME/,
# an optional dictionary tests/fuzz/NAME.dict (docs/fuzzing.md).
# New inputs found go to a temporary directory, or to $FUZZ_KEEP_DIR/NAME if
# set; crashes are kept in build/fuzz/crashes/NAME/.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

mode=run
secs=60
if [ "${1:-}" = "--merge" ]; then
	mode=merge
	shift
elif [[ "${1:-}" =~ ^[0-9]+$ ]]; then
	secs=$1
	shift
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do
		[ -e "$f" ] || continue
		n=${f#tests/fuzz/fuzz_}
		targets+=("${n%.c}")
	done
fi
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no targets (tests/fuzz/fuzz_*.c)"
	exit 1
fi

build=build/fuzz
# Reconfigure every time: a new tests/fuzz/fuzz_*.c is picked up.
if [ -f "$build/build.ninja" ]; then
	setup=(meson setup --reconfigure "$build")
else
	setup=(env CC=clang meson setup "$build" -Dfuzz=enabled -Dwerror=true)
fi
mkdir -p build
if ! "${setup[@]}" >build/fuzz.setup.log 2>&1 ||
   ! meson compile -C "$build" "${targets[@]/#/fuzz_}" >build/fuzz.compile.log 2>&1; then
	cat build/fuzz.setup.log build/fuzz.compile.log 2>/dev/null | tail -40
	for t in "${targets[@]}"; do
		echo "fuzz $t: FAILED (build)"
	done
	exit 1
fi

work=$(mktemp -d /tmp/memcoord-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0

for t in "${targets[@]}"; do
	bin=$build/tests/fuzz/fuzz_$t
	corpus=tests/fuzz/corpus/$t
	dict=()
	[ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
	mkdir -p "$corpus"

	if [ $mode = merge ]; then
		before=$(find "$corpus" -type f | wc -l)
		if [ -z "${FUZZ_KEEP_DIR:-}" ] || [ ! -d "$FUZZ_KEEP_DIR/$t" ]; then
			echo "fuzz $t: nothing to merge (\$FUZZ_KEEP_DIR/$t)"
			continue
		fi
		# -merge=1 keeps what the corpus has and adds only the inputs
		# that cover something it does not.
		if "$bin" -merge=1 -rss_limit_mb=2048 -timeout=10 "${dict[@]}" \
			"$corpus" "$FUZZ_KEEP_DIR/$t" >"$work/$t.log" 2>&1; then
			echo "fuzz $t: corpus $before -> $(find "$corpus" -type f | wc -l) files," \
			     "$(du -sk "$corpus" | cut -f1) KiB"
		else
			tail -20 "$work/$t.log"
			echo "fuzz $t: FAILED (merge)"
			failed=1
		fi
		continue
	fi

	new=$work/$t
	[ -n "${FUZZ_KEEP_DIR:-}" ] && new=$FUZZ_KEEP_DIR/$t
	mkdir -p "$new" "$work/crash-$t"
	log=$work/$t.log
	"$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$work/crash-$t/" "${dict[@]}" "$new" "$corpus" >"$log" 2>&1
	rc=$?
	execs=$(awk '/stat::number_of_executed_units/{print $NF}' "$log")
	found=$(find "$new" -type f | wc -l)
	if [ $rc -eq 0 ]; then
		echo "fuzz $t: ok, ${execs:-?} executions in ${secs} s, $found new inputs"
	else
		mkdir -p "$build/crashes/$t"
		cp "$work/crash-$t"/* "$build/crashes/$t/" 2>/dev/null
		if [ -n "$execs" ]; then
			grep -E "ERROR|runtime error|invariant failed|SUMMARY|Test unit written" "$log" | head -20
		else
			tail -5 "$log"    # it did not start
		fi
		echo "fuzz $t: FAILED (exit $rc after ${execs:-?} executions; inputs in $build/crashes/$t/)"
		failed=1
	fi
done
exit $failed
