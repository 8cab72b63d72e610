#!/bin/bash
# memcoord end-to-end lab: real QEMU (TCG) guests under a real libvirt
# daemon, memcoord balancing them.
#
#   tests/e2e/run.sh MEMCOORD_BINARY [SCENARIO...]
#
# Scenarios (default: all, in this order):
#   hog        one guest allocates ~20 MiB/s to most of its maximum, holds,
#              frees; three idle                          (balance, asserted)
#   hog-seed   the same under the seed policy             (recorded only)
#   budget     four guests allocate at once under a budget smaller than
#              their demand; one has weight 2             (balance, asserted)
#   release    two allocate under a budget, one releases early, the other
#              keeps going                                (balance, asserted)
#   lifecycle  a guest started and another destroyed mid-run
#   noballoon  a guest that never loads the balloon driver
#   restart    libvirtd restarted mid-run
#   X-seed     each of them again under the seed policy   (recorded only)
#
# The guest (a Debian cloud kernel, busybox, workload.c) is built once by
# build-guest.sh into tests/e2e/cache/.  Each scenario starts its own
# session-mode libvirtd (tests/lib/libvirtd-session.sh: as root it runs as
# user nobody) with all its state in a temporary folder, defines TCG guests
# (2048 MiB maximum, 512 MiB balloon, statistics every second, serial
# console to a file), runs memcoord against it, and removes all of it when
# done, also on failure or interruption.  Where the session daemon cannot
# run QEMU, a system-mode daemon is set up as ../shared/LAB.md describes and
# undone at the end (or a running system daemon is used as it is).
#
# Output: "ok - ..." / "not ok - ..." per check, "# ..." for measurements
# and for the seed policy's recorded results, and last
#   e2e: N passed, M failed
# Exit 0 when all passed, 1
# otherwise, 77 when virtualization is unavailable (no qemu-system-x86_64,
# no libvirtd or virsh).
#
# Each scenario leaves its files in $E2E_OUT/<scenario>/ (default
# tests/e2e/out/): memcoord.log, trace.csv (+ trace.png when gnuplot and
# scripts/plot.sh are present), timeline.txt (every serial and memcoord
# line stamped with host seconds since the scenario started), the guests'
# serial logs and command lines, libvirtd's log.
#
# Environment: E2E_OUT (output folder), E2E_CACHE (guest cache folder),
# E2E_LIBVIRT_MODE=session|system (force a daemon mode), E2E_REANALYZE=1
# (run no guests: check the files an earlier run left in the output folder
# again).
set -uo pipefail
# The whole script is one compound command, parsed before it runs: editing
# this file while a lab runs does not change the running lab.
{

MEMCOORD=${1:?usage: run.sh MEMCOORD_BINARY [SCENARIO...]}
shift
LAB_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$LAB_HERE/../.." && pwd)
# shellcheck source=../lib/libvirtd-session.sh
. "$LAB_HERE/../lib/libvirtd-session.sh"
# shellcheck source=lab.sh
. "$LAB_HERE/lab.sh"
# shellcheck source=analyze.sh
. "$LAB_HERE/analyze.sh"

ALL_SCENARIOS=(hog hog-seed budget budget-seed release release-seed lifecycle lifecycle-seed
	noballoon noballoon-seed restart restart-seed)
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=("${ALL_SCENARIOS[@]}")

FLOOR=200           # memcoord's default floor (MiB)
LOW=128             # balance policy's default low watermark (MiB)
BUDGET_TOL=8        # balloons may sit this far above a target (MiB)

LAB_OUT_ROOT=${E2E_OUT:-$LAB_HERE/out}
LAB_STATE_DIR=
E2E_START=${EPOCHREALTIME/,/.}
RUNTIMES=()

skip_all()
{
	echo "1..0 # SKIP $*"
	echo "e2e: 0 passed, 0 failed (skipped: $*)"
	exit 77
}

for s in "${SCENARIOS[@]}"; do
	case " ${ALL_SCENARIOS[*]} " in
	*" $s "*) ;;
	*) echo "run.sh: unknown scenario '$s' (known: ${ALL_SCENARIOS[*]})" >&2; exit 2 ;;
	esac
done

# ---- checks and records ---------------------------------------------------------

run_scenario()
{
	case $1 in
	hog) sc_hog balance 1 ;;
	hog-seed) sc_hog seed 0 ;;
	budget) sc_budget balance 1 ;;
	budget-seed) sc_budget seed 0 ;;
	release) sc_release balance 1 ;;
	release-seed) sc_release seed 0 ;;
	lifecycle) sc_lifecycle balance 1 ;;
	lifecycle-seed) sc_lifecycle seed 0 ;;
	noballoon) sc_noballoon balance 1 ;;
	noballoon-seed) sc_noballoon seed 0 ;;
	restart) sc_restart balance 1 ;;
	restart-seed) sc_restart seed 0 ;;
	esac
}

# asserted (balance policy) or recorded (seed policy)
MODE_ASSERT=1
SC=

# expect DESCRIPTION CMD...: a check in the scenario's name, or a record.
expect()
{
	local desc=$1
	shift
	if [ "$MODE_ASSERT" -eq 1 ]; then
		check "$SC: $desc" "$@"
	elif "$@"; then
		echo "# $SC (recorded): yes - $desc"
	else
		echo "# $SC (recorded): NO - $desc"
	fi
	return 0
}

measure() { echo "# $SC: $*"; }

serial_count()
{
	grep -caE -- "$2" "$LAB_OUT/$1.serial.log" 2>/dev/null || true
}

log_count()
{
	grep -cE -- "$1" "$LAB_OUT/memcoord.log" 2>/dev/null || true
}

# Ending of NAME's workload: done, killed, failed, or running.
workload_end()
{
	local f=$LAB_OUT/$1.serial.log
	[ -f "$f" ] || f=$(lab_serial "$1")
	if grep -qa '^MC-WORKLOAD-KILLED' "$f"; then echo "killed"
	elif grep -qa '^MC-WORKLOAD-FAILED' "$f"; then echo "failed"
	elif grep -qa '^MC-WORKLOAD-DONE' "$f"; then echo "done"
	else echo "running"
	fi
}

oom_kills() { serial_count "$1" 'Out of memory|MC-WORKLOAD-KILLED|oom-kill'; }

workload_over()
{
	lab_serial_has "$1" '^MC-WORKLOAD-(DONE|KILLED|FAILED)'
}

all_workloads_over()
{
	local g
	for g in "$@"; do workload_over "$g" || return 1; done
}

# The guest's balloon now (MiB), from libvirt.
actual_now()
{
	lab_memstat "$1" | awk '$1 == "actual" { printf "%d\n", $2 / 1024 }'
}

memcoord_clean_exit()
{
	local errs
	[ -n "${LAB_MC_STATUS:-}" ] || LAB_MC_STATUS=$(cat "$LAB_OUT/memcoord.status" 2>/dev/null)
	expect "memcoord ran to the end and exited 0 on SIGTERM (got ${LAB_MC_STATUS:-?})" \
		test "${LAB_MC_STATUS:-x}" = 0
	local tiny
	tiny=$(grep -cE '^<6>set [^:]+: ([0-9.]+) -> \1 MiB' "$LAB_OUT/memcoord.log" || true)
	[ "$tiny" -eq 0 ] || measure "memcoord made $tiny balloon change(s) that round to 0 MiB ($(grep -m1 -E '^<6>set [^:]+: ([0-9.]+) -> \1 MiB' "$LAB_OUT/memcoord.log"))"
	errs=$(grep -E '^<4>' "$LAB_OUT/memcoord.log" || true)
	[ -z "$errs" ] || measure "memcoord warnings: $(head -n 4 <<<"$errs" | cut -c1-110 | tr '\n' '|')"
	errs=$(grep -E '^<[0-3]>' "$LAB_OUT/memcoord.log" || true)
	expect "no error line (<0>..<3>) in memcoord's log${errs:+: $(head -n 3 <<<"$errs" | tr '\n' '|')}" \
		test -z "$errs"
}

plot()
{
	if [ -x "$TOP/scripts/plot.sh" ] && command -v gnuplot >/dev/null && [ -s "$LAB_OUT/trace.csv" ]; then
		"$TOP/scripts/plot.sh" "$LAB_OUT/trace.csv" "$LAB_OUT/trace.png" "e2e $SC" >/dev/null 2>&1 ||
			measure "plot failed"
	fi
}

# The scenario's frame: begin, boot the guests, start memcoord.
# scenario_begin NAME ASSERT; then lab_define ...; then boot_and_run ARGS.
scenario_begin()
{
	LAB_MC_STATUS=
	SC=$1
	MODE_ASSERT=$2
	SC_T0=${EPOCHREALTIME/,/.}
	echo "# ---- scenario $SC ----"
	if [ "$REANALYZE" = 1 ]; then
		LAB_OUT=$LAB_OUT_ROOT/$SC
		echo "# $SC: checking the files of an earlier run in $LAB_OUT"
		return 0
	fi
	lab_begin "$SC"
}

# The scenario runs for real (not E2E_REANALYZE).
live() { [ "$REANALYZE" != 1 ]; }

# boot_and_run GUESTS_TO_START -- MEMCOORD_ARGS...
boot_and_run()
{
	local -a guests=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do guests+=("$1"); shift; done
	shift
	lab_start "${guests[@]}" || { not_ok "$SC: start the guests"; return 1; }
	if ! lab_wait_ready 90 "${guests[@]}"; then
		not_ok "$SC: guests booted with their balloon at ${LAB_CUR_MIB} MiB and statistics flowing"
		return 1
	fi
	measure "guests ready $(lab_now) s after the scenario started"
	lab_memcoord_start "$@" || { not_ok "$SC: memcoord started and connected"; return 1; }
	lab_go "${guests[@]}" || { not_ok "$SC: start the guests' workloads"; return 1; }
}

scenario_end()
{
	lab_memcoord_stop
	lab_end
	plot
	RUNTIMES+=("$SC $(calc "${EPOCHREALTIME/,/.} - $SC_T0") s")
	echo "# $SC took $(calc "${EPOCHREALTIME/,/.} - $SC_T0") s; files in $LAB_OUT_ROOT/$SC/"
}

# memcoord died during a wait: say so and end the scenario.
died_check()
{
	if [ "$LAB_WAIT_DIED" -eq 1 ]; then
		not_ok "$SC: memcoord died during the run"
		return 0
	fi
	return 1
}

# NAME: its allocation's speed by the host's clock, and the guest's clock
# against the host's over the allocation (from MC-STEP .. alloc to
# MC-ALLOC-END).
guest_rate()
{
	awk -v g="$1" '$2 == g && $3 == "MC-STEP" && $5 ~ /^alloc/ && !h0 { h0 = $1 + 0; t = $6; sub(/t=/, "", t); g0 = t + 0 }
		$2 == g && $3 == "MC-ALLOC-END" && h0 { h1 = $1 + 0; held = $4; sub(/held=/, "", held)
			t = $6; sub(/t=/, "", t); g1 = t + 0; exit }
		END { if (h1 > h0 && g1 > g0) printf "%d MiB in %.1f s host time = %.1f MiB/s; guest clock %.2fx host\n", held, h1 - h0, held / (h1 - h0), (g1 - g0) / (h1 - h0)
			else print "?" }' "$LAB_OUT/timeline.txt"
}

# Host-time (timeline) seconds -> trace seconds.
to_trace() { calc "$1 - $TR_OFF"; }

# ---- can this machine run the lab? -------------------------------------------

LAB_EMULATOR=$(command -v qemu-system-x86_64 2>/dev/null || true)
[ -n "$LAB_EMULATOR" ] || skip_all "qemu-system-x86_64 is not installed (package qemu-system-x86)"
lvs_find_libvirtd || skip_all "libvirtd is not installed (package libvirt-daemon-driver-qemu)"
command -v virsh >/dev/null || skip_all "virsh is not installed (package libvirt-clients)"
if [ ! -x "$MEMCOORD" ]; then
	echo "not ok - memcoord binary '$MEMCOORD' is not executable"
	echo "e2e: 0 passed, 1 failed"
	exit 1
fi
MEMCOORD=$(cd "$(dirname "$MEMCOORD")" && pwd)/$(basename "$MEMCOORD")

mkdir -p "$LAB_OUT_ROOT"
LAB_OUT_ROOT=$(cd "$LAB_OUT_ROOT" && pwd)
LAB_STATE_DIR=$(mktemp -d /tmp/mc-e2e-state.XXXXXX)

finish()
{
	local rc=$?
	set +e
	trap - EXIT INT TERM HUP
	lab_end
	lab_system_undo
	rm -rf "$LAB_STATE_DIR"
	# Interrupted: say so, and fail.
	[ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] || not_ok "interrupted (status $rc)"
	summary
	[ "$CHECK_FAILED" -eq 0 ]
	exit $?
}

summary()
{
	local total
	total=$(calc "${EPOCHREALTIME/,/.} - $E2E_START")
	for r in "${RUNTIMES[@]}"; do
		echo "# runtime: $r"
	done
	echo "# runtime: total ${total} s"
	echo "e2e: $CHECK_PASSED passed, $CHECK_FAILED failed"
}

trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

REANALYZE=${E2E_REANALYZE:-0}
# shellcheck source=scenarios.sh
. "$LAB_HERE/scenarios.sh"
if [ "$REANALYZE" = 1 ]; then
	MEMCOORD=$(command -v "$MEMCOORD" || echo "$MEMCOORD")
	for s in "${SCENARIOS[@]}"; do
		run_scenario "$s"
	done
	exit 0
fi

# ---- the guest ----------------------------------------------------------------

if ! mapfile -t built < <("$LAB_HERE/build-guest.sh" "${E2E_CACHE:-$LAB_HERE/cache}" 2> >(sed 's/^/# /' >&2)) ||
	[ ${#built[@]} -ne 2 ] || [ ! -s "${built[0]}" ] || [ ! -s "${built[1]}" ]; then
	not_ok "build the test guest (tests/e2e/build-guest.sh)"
	exit 1
fi
LAB_KERNEL=${built[0]}
LAB_INITRD=${built[1]}
ok "test guest built ($(basename "$LAB_KERNEL"), $(basename "$LAB_INITRD"))"

# ---- which libvirt daemon -----------------------------------------------------

# Boot one guest under MODE and see its /init run.
probe_mode()
{
	local rc=1
	LAB_MODE=$1
	lab_begin "probe-$1" || { lab_end; return 1; }
	if lab_define e2e-probe "" && lab_start e2e-probe &&
		lab_wait 60 lab_serial_has e2e-probe '^MC-INIT'; then
		rc=0
	fi
	lab_end
	return $rc
}

choose_mode()
{
	local want=${E2E_LIBVIRT_MODE:-}
	if [ "$want" != system ] && probe_mode session; then
		LAB_MODE=session
		return 0
	fi
	[ "$want" = session ] && return 1
	echo "# the session daemon cannot run QEMU here; trying system mode" >&2
	if timeout 10 virsh -q -c qemu:///system uri >/dev/null 2>&1; then
		probe_mode system-theirs && return 0
		return 1
	fi
	probe_mode system-ours
}

if choose_mode; then
	ok "libvirt daemon for the guests: $LAB_MODE mode"
	rm -rf "$LAB_OUT_ROOT"/probe-*
else
	not_ok "no libvirt daemon could boot a guest (see $LAB_OUT_ROOT/probe-*)"
	exit 1
fi

for s in "${SCENARIOS[@]}"; do
	run_scenario "$s"
done
exit 0
}
