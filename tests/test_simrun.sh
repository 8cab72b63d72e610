#!/usr/bin/env bash
# A simulated run from the command line, as the README's main job makes it:
# `memcoord --sim` prints the end-of-run summary (per guest OOM kills,
# swapped MiB, time below the low watermark, memory moved; the host's
# minimum free memory; decisions with their median and p99), `--compare`
# prints both policies' summaries and the side-by-side table, `--trace`
# writes one row per domain per decision (on the libvirt backend too), and
# scripts/plot.sh turns a trace into a PNG.
set -uo pipefail
MEMCOORD=${1:?usage: test_simrun.sh MEMCOORD PLOT_SH}
PLOT=${2:?usage: test_simrun.sh MEMCOORD PLOT_SH}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/check.sh
. "$here/lib/check.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

header='time_s,domain,actual_mib,usable_mib,unused_mib,target_mib,action,reason'

# A hog that outgrows its 512 MiB balloon and an idle guest with memory to
# spare: both policies have something to do. 40 s at 50x: under a second.
cat >"$tmp/run.ini" <<'EOF'
[sim]
speed = 50
duration = 40s
[host]
memory = 4G
[defaults]
max = 1G
memory = 512M
[guest:hog]
workload = wait 2s; alloc 50M/s to 700M; hold 10s; free; idle
[guest:idle]
rss = 100M
EOF

# trace_ok FILE NDOMAINS: the header, then rows of 8 fields or more (a
# reason may hold commas) with times that never go back; each decision is
# a host row followed by one row per domain, and from the first decision
# that has all NDOMAINS (the ones before it precede the first samples) on,
# every decision has them all.
trace_ok()
{
	local f=$1 want=$2
	[ "$(head -n 1 "$f")" = "$header" ] || { echo "# $f: header '$(head -n 1 "$f")'"; return 1; }
	awk -F, -v want="$want" '
		function close_pass() {
			if (pass && rows == want) full = 1
			else if (pass && full) { printf "# %s: %d domain rows at %s\n", FILENAME, rows, t; bad = 1 }
		}
		NR == 1 { next }
		NF < 8 || $1 + 0 < last { printf "# %s:%d: short row or time going back\n", FILENAME, NR; bad = 1 }
		{ last = $1 + 0 }
		$2 == "_host" { close_pass(); pass++; rows = 0; t = $1; next }
		{ rows++ }
		END {
			close_pass()
			if (!full) { printf "# %s: no decision with all %d domains\n", FILENAME, want; bad = 1 }
			printf "# %s: %d decisions\n", FILENAME, pass
			exit bad
		}' "$f"
}

# One run under the default policy.
"$MEMCOORD" --sim "$tmp/run.ini" --trace "$tmp/run.csv" >"$tmp/run.out" 2>"$tmp/run.log"
rc=$?
check "--sim: exit status 0 (got $rc)" [ "$rc" -eq 0 ]
check "--sim: summary heading" \
	grep -qE '^== summary: policy balance, 40 s simulated, 2 guests \(2 started, 0 stopped\) ==$' "$tmp/run.out"
check "--sim: summary columns" \
	grep -qE '^guest +oom +swap MiB +<low s +moved MiB +peak MiB +final MiB +done$' "$tmp/run.out"
check "--sim: a row per guest" \
	bash -c "grep -qE '^hog +[0-9]+ +[0-9]+ +[0-9.]+ +[0-9]+ +[0-9]+ +[0-9]+ +(yes|no)$' '$tmp/run.out' &&
		 grep -qE '^idle +[0-9]+ +[0-9]+ +[0-9.]+ +[0-9]+ +[0-9]+ +[0-9]+ +(yes|no)$' '$tmp/run.out'"
check "--sim: host minimum free memory" \
	grep -qE '^host: 4096 MiB total, minimum free [0-9]+ MiB$' "$tmp/run.out"
check "--sim: decisions with their median and p99" \
	grep -qE '^decisions: [1-9][0-9]*, actions [0-9]+ \(applied [0-9]+\); decision time median [0-9.]+ us, p99 [0-9.]+ us' "$tmp/run.out"
check "--sim: the hog was grown (memory moved)" \
	awk '$1 == "hog" && $5 > 0 { found = 1 } END { exit !found }' "$tmp/run.out"
check "--trace on the simulated host: one row per domain per decision" trace_ok "$tmp/run.csv" 2
check "--trace: the hog's growth is traced" grep -qE '^[0-9.]+,"hog",.*,grow,"' "$tmp/run.csv"

# Both policies and the comparison; each run's trace gets the policy's name.
"$MEMCOORD" --sim "$tmp/run.ini" --compare --trace "$tmp/cmp.csv" >"$tmp/cmp.out" 2>"$tmp/cmp.log"
rc=$?
check "--compare: exit status 0 (got $rc)" [ "$rc" -eq 0 ]
check "--compare: both summaries, seed first" \
	bash -c "grep -n '^== summary: policy' '$tmp/cmp.out' | cut -d: -f3 | tr -d '\n' |
		 grep -qx ' policy seed, 40 s simulated, 2 guests (2 started, 0 stopped) == policy balance, 40 s simulated, 2 guests (2 started, 0 stopped) =='"
check "--compare: the side-by-side table" \
	bash -c "sed -n '/^== comparison ==$/,\$p' '$tmp/cmp.out' >'$tmp/table' &&
		 grep -qE '^ +seed +balance$' '$tmp/table' &&
		 grep -qE '^OOM kills +[0-9]+ +[0-9]+$' '$tmp/table' &&
		 grep -qE '^time below low \(guest-s\) +[0-9.]+ +[0-9.]+$' '$tmp/table' &&
		 grep -qE '^memory held, mean \(MiB\) +[0-9]+ +[0-9]+$' '$tmp/table' &&
		 grep -qE '^host minimum free \(MiB\) +[0-9]+ +[0-9]+$' '$tmp/table' &&
		 grep -qE '^decision p99 \(us\) +[0-9.]+ +[0-9.]+$' '$tmp/table'"
check "--compare --trace: a trace per policy" trace_ok "$tmp/cmp.seed.csv" 2
check "--compare --trace: the balance run's trace" trace_ok "$tmp/cmp.balance.csv" 2
check "--compare --trace: no trace under the plain name" [ ! -e "$tmp/cmp.csv" ]

# The libvirt backend (the test driver's one running domain, "test"): the
# same trace, and no simulation summary.
"$MEMCOORD" -c test:///default --once --dry-run --control-socket none \
	--trace "$tmp/lv.csv" >"$tmp/lv.out" 2>"$tmp/lv.log"
rc=$?
check "--trace on libvirt: exit status 0 (got $rc)" [ "$rc" -eq 0 ]
check "--trace on libvirt: one row per domain per decision" trace_ok "$tmp/lv.csv" 1
check "libvirt: no simulation summary" [ ! -s "$tmp/lv.out" ]

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

# The plot: a PNG from a trace, and a clear error without one.
if command -v gnuplot >/dev/null; then
	"$PLOT" "$tmp/cmp.balance.csv" "$tmp/plot.png" "run — balance" >"$tmp/plot.out" 2>&1
	rc=$?
	check "plot.sh: exit status 0 (got $rc)" [ "$rc" -eq 0 ]
	check "plot.sh: a PNG" bash -c "[ \"\$(head -c 8 '$tmp/plot.png' | od -An -tx1 | tr -d ' \n')\" = 89504e470d0a1a0a ]"
	"$PLOT" "$tmp/missing.csv" "$tmp/none.png" >"$tmp/plot.err" 2>&1
	rc=$?
	check "plot.sh without a trace: status 1 (got $rc), a message, no file" \
		bash -c "[ $rc -eq 1 ] && grep -q 'missing.csv is empty or missing' '$tmp/plot.err' && [ ! -e '$tmp/none.png' ]"
else
	echo "# gnuplot is missing (scripts/setup.sh installs it): the plot is not checked"
fi

for f in run cmp lv; do
	if grep -qE '^<[0-3]>|AddressSanitizer|runtime error' "$tmp/$f.log"; then
		not_ok "$f: an error in the log: $(grep -E '^<[0-3]>|AddressSanitizer|runtime error' "$tmp/$f.log" | head -n 3)"
	fi
done
check_summary
