#!/bin/bash
# memcoord — run the benchmarks of bench/README.md and summarise them.
#
#   bench/run.sh [--repeat K] [--only LIST] [--build DIR] [--out DIR]
#
#   --repeat K   run the whole set K times (default 1) and print, for every
#                figure, the median and the spread (min..max) over the runs
#   --only LIST  a comma-separated subset of: policy, pass, react, cost,
#                churn, inproc, rpc, limits (default: all but limits)
#                  policy  bench_policy: one policy decision
#                  pass    1. one arbiter pass (snapshot + policy)
#                  react   2. reaction latency, simulated host, 10..10,000
#                  cost    3. CPU / RSS / threads at 100, 1,000, 10,000
#                          (and 10,000 again with the global futex hash)
#                  churn   4. 100 starts + 100 stops a second for 60 s
#                  inproc  5. baseline vs memcoord, test:///default
#                  rpc     5. the same over RPC (private session libvirtd)
#                  limits  5. N = 1,000 against a libvirtd with
#                          max_client_requests = 20 (refresh only)
#   --build DIR  meson build directory (default build/bench; created with
#                -Dwerror=true and buildtype debugoptimized if missing)
#   --out DIR    where logs go (default DIR-of-build/bench-results/DATE)
#
# One pass of the default set takes about 7 minutes on a 2-core machine.
# Every benchmark prints its own table; the summary at the end is built
# from their "RESULT bench n metric value unit" lines.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

repeat=1
only=policy,pass,react,cost,churn,inproc,rpc
build=build/bench
out=
while [ $# -gt 0 ]; do
	case $1 in
	--repeat) repeat=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--build) build=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ -n "$out" ] || out=$(dirname "$build")/bench-results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"

want() { [[ ",$only," == *",$1,"* ]]; }

if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" -Dwerror=true -Dbuildtype=debugoptimized >/dev/null || exit 1
fi
meson compile -C "$build" >"$out/compile.log" 2>&1 || { cat "$out/compile.log"; exit 1; }
B=$top/$build/bench
[ -x "$B/bench_sim" ] || B=$build/bench
S=$top/bench/scenarios

machine()
{
	echo "# machine: $(nproc) CPUs ($(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r)"
	echo "# libvirt $(virsh --version 2>/dev/null || echo '?'), liburcu $(pkg-config --modversion liburcu 2>/dev/null || echo '?'), $(cc --version | head -1)"
}

# run NAME CMD...: run one benchmark, log it, keep its RESULT lines.
run()
{
	local name=$1 log
	shift
	log=$out/$name.run$r.log
	echo "== $name (run $r of $repeat; load average $(cut -d' ' -f1-3 /proc/loadavg)) =="
	"$@" 2>&1 | tee "$log" | grep -v '^RESULT '
	echo "   (load average after: $(cut -d' ' -f1-3 /proc/loadavg))"
	grep '^RESULT ' "$log" >>"$out/results.txt"
}

machine | tee "$out/machine.txt"
: >"$out/results.txt"
start=$(date +%s)
for ((r = 1; r <= repeat; r++)); do
	want policy && run policy "$B/bench_policy"
	want pass && run pass "$B/bench_pass"
	if want react; then
		for n in 10 100 1000 10000; do
			run react-$n "$B/bench_sim" react "$S/react-$n.ini" $n
		done
	fi
	if want cost; then
		for n in 100 1000 10000; do
			run cost-$n "$B/bench_sim" cost "$S/idle-$n.ini" $n
		done
		run cost-10000-privatefutex env BENCH_FUTEX_PRIVATE=1 "$B/bench_sim" cost \
			"$S/idle-10000.ini" 10000
	fi
	want churn && run churn "$B/bench_sim" churn "$S/churn-100.ini"
	if want inproc; then
		for n in 10 100 1000; do
			run inproc-$n "$B/bench_baseline" test:///default $n --no-react
		done
	fi
	want rpc && run rpc "$top/bench/baseline_rpc.sh" "$B/bench_baseline" 10 100 1000
	want limits && run limits env BENCH_LIMITS=1 "$top/bench/baseline_rpc.sh" \
		"$B/bench_baseline" 1000
done
echo "== done in $(($(date +%s) - start)) s; logs in $out =="

# The summary: median and spread of every figure over the runs. The
# cost-10000-globalfutex run reports as cost 10000 too: keep it apart.
echo
echo "== summary over $repeat run(s): median [min .. max] =="
awk '
	FNR == 1 { file++ }
	{
		key = $2 " " $3 " " $4
		if (!(key in n)) order[++nk] = key
		v[key, ++n[key]] = $5 + 0
		unit[key] = $6
	}
	END {
		for (i = 1; i <= nk; i++) {
			k = order[i]; m = n[k]
			for (a = 1; a <= m; a++) s[a] = v[k, a]
			for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++)
				if (s[b] < s[a]) { t = s[a]; s[a] = s[b]; s[b] = t }
			med = m % 2 ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
			split(k, f, " ")
			printf "%-7s %6s %-40s %12.4g %-3s", f[1], f[2], f[3], med, unit[k]
			if (m > 1) printf "  [%.4g .. %.4g] (%d values)", s[1], s[m], m
			printf "\n"
		}
	}' "$out/results.txt" | tee "$out/summary.txt"
