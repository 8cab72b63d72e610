#!/bin/bash
# Churn test: domains destroyed while memcoord reads their statistics or
# sets their balloons, over many start/destroy cycles.
#
#   test_churn.sh /path/to/memcoord [valgrind]
#
# A private session libvirtd (tests/lib/libvirtd-session.sh) serves libvirt's
# test driver. Two long-lived domains (ch-a, ch-b) run throughout. memcoord
# runs against it with the balance policy, a 1 s stats period and no host
# reserve, so it reads every new domain at once (a collector started by a
# lifecycle event collects immediately) and keeps shrinking the test
# driver's half-empty guests. Meanwhile the holder virsh creates and destroys
# CHURN_CYCLES transient domains (default 1000), CHURN_RATE a second (default
# 25), each living from no time at all (a destroy right behind its create)
# to CHURN_WINDOW creations (default 25, a second), so that destructions land
# in the middle of collectors' calls and of the arbiter's balloon changes.
#
# Then: memcoord is still running, tracks exactly ch-a and ch-b with one
# collector thread each, runs as many threads as before the churn, logged
# nothing above info level (no <0>..<5> line), set balloons during the churn,
# and exits 0 on SIGTERM. Built with AddressSanitizer, LeakSanitizer checks
# for leaks at that exit (a leak makes the exit status non-zero).
#
# With a second argument "valgrind", memcoord runs under valgrind's memcheck
# (error exit code 99 for any error, and for definitely lost blocks; no
# suppressions: none were needed) and the churn is CHURN_VG_CYCLES
# cycles (default 1000) at CHURN_VG_RATE a second (default 25): memcheck
# runs memcoord many times slower, but it is mostly waiting on libvirt.
#
# Figures printed: cycles, duration, balloon changes, races seen (a domain
# gone under its collector, a balloon set on a vanished domain), memcoord's
# CPU time and peak RSS.
#
# Exit 0 when all checks pass, 1 when one fails, 77 (skip) when libvirtd (or
# valgrind, for that run) is not installed. Logs are printed on failure, or
# always with CHURN_SHOW_LOG=1.
set -euo pipefail

MEMCOORD=${1:?usage: test_churn.sh /path/to/memcoord [valgrind]}
MODE=${2:-native}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/libvirtd-session.sh
. "$here/lib/libvirtd-session.sh"

if [ "$MODE" = valgrind ]; then
	CYCLES=${CHURN_VG_CYCLES:-1000}
	RATE=${CHURN_VG_RATE:-25}
	WAIT_S=60           # memcheck start-up and exit (leak scan) are slow
else
	CYCLES=${CHURN_CYCLES:-1000}
	RATE=${CHURN_RATE:-25}
	WAIT_S=10
fi
WINDOW=${CHURN_WINDOW:-25}
SETTLE_S=2              # thread count must hold still this long

if ! lvs_find_libvirtd; then
	echo "1..0 # SKIP libvirtd is not installed"
	exit 77
fi
if [ "$MODE" = valgrind ] && ! command -v valgrind >/dev/null; then
	echo "1..0 # SKIP valgrind is not installed"
	exit 77
fi
if ! command -v virsh >/dev/null; then
	echo "not ok - virsh (libvirt-clients) is not installed"
	exit 1
fi
if [ ! -x "$MEMCOORD" ]; then
	echo "not ok - memcoord binary '$MEMCOORD' is not executable"
	exit 1
fi
MEMCOORD=$(cd "$(dirname "$MEMCOORD")" && pwd)/$(basename "$MEMCOORD")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/memcoord-churn.XXXXXX")
MC_PID=
MC_LOG=$tmp/memcoord.log

cleanup()
{
	local rc=$?

	set +e
	trap - EXIT INT TERM HUP
	if [ -n "$MC_PID" ] && proc_alive "$MC_PID"; then
		kill -KILL "$MC_PID" 2>/dev/null
		wait "$MC_PID" 2>/dev/null
	fi
	lvs_stop
	if [ "$rc" -ne 0 ] || [ "$CHECK_FAILED" -ne 0 ] || [ -n "${CHURN_SHOW_LOG:-}" ]; then
		if [ -f "$MC_LOG" ]; then
			echo "# ---- memcoord log (lines not about balloon changes or domains coming and going) ----"
			grep -vE '^<[67]>(set |.*: domain (is running|stopped)|.*vanished)' "$MC_LOG" |
				tail -n 300 | sed 's/^/# /'
			echo "# ---- end of memcoord log ----"
		fi
		if [ -n "$LVS_HOLD_LOG" ] && [ -f "$LVS_HOLD_LOG" ]; then
			echo "# ---- holder virsh errors ----"
			grep -E '^error' "$LVS_HOLD_LOG" | sort | uniq -c | head -n 20 | sed 's/^/# /'
		fi
		lvs_dump_log | tail -n 100
		[ "$rc" -ne 0 ] || [ "$CHECK_FAILED" -eq 0 ] || rc=1
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
check_traps

log_count()
{
	grep -cE "$1" "$MC_LOG" || true
}

mc_died()
{
	wait "$MC_PID" 2>/dev/null && st=0 || st=$?
	MC_PID=
	bail "memcoord died (status $st) $*"
}

wait_mc()
{
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 10; i++)); do
		"$@" && return 0
		proc_alive "$MC_PID" || mc_died "while waiting for: $*"
		sleep 0.1
	done
	"$@"
}

# Names of memcoord's threads, one a line (a thread may exit meanwhile).
mc_threads()
{
	local f c
	for f in /proc/"$MC_PID"/task/*/comm; do
		c=$(cat "$f" 2>/dev/null) || continue
		printf '%s\n' "$c"
	done
}

total_threads()
{
	local tasks=(/proc/"$MC_PID"/task/*)
	printf '%d\n' "${#tasks[@]}"
}

STABLE_THREADS=
stable_threads()
{
	local i n last=-1 same=0
	for ((i = 0; i < WAIT_S * 10; i++)); do
		proc_alive "$MC_PID" || mc_died "while counting its threads"
		n=$(total_threads)
		if [ "$n" -eq "$last" ]; then
			same=$((same + 1))
			if [ "$same" -ge $((SETTLE_S * 10)) ]; then
				STABLE_THREADS=$n
				return 0
			fi
		else
			last=$n
			same=0
		fi
		sleep 0.1
	done
	STABLE_THREADS=$last
	return 1
}

# memcoord's CPU time so far (user + system) in ms, and its peak RSS in KiB.
cpu_ms()
{
	local stat f
	stat=$(cat "/proc/$MC_PID/stat" 2>/dev/null) || { echo 0; return; }
	read -r -a f <<<"${stat##*) }"
	echo $(( (f[11] + f[12]) * 1000 / $(getconf CLK_TCK) ))
}

peak_rss_kib()
{
	sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$MC_PID/status" 2>/dev/null || echo 0
}

now_ms()
{
	local t=$EPOCHREALTIME
	printf '%s\n' "$(( 10#${t/[.,]/} / 1000 ))"
}

domain_xml()
{
	cat >"$tmp/$1.xml" <<-EOF
	<domain type='test'>
	  <name>$1</name>
	  <memory unit='MiB'>2048</memory>
	  <currentMemory unit='MiB'>1024</currentMemory>
	  <os><type>hvm</type></os>
	  <devices><memballoon model='virtio'/></devices>
	</domain>
	EOF
}

# ---- libvirtd, holder, long-lived domains -----------------------------------

lvs_start "$tmp" || bail "start a private session libvirtd"
URI=$(lvs_uri test /default)
lvs_hold_start "$URI" || bail "hold a connection to $URI"
ok "private session libvirtd serves $LVS_SOCK; holder connected"

# Domain names cycle through twice the window, so a name is reused only
# after its previous domain was destroyed.
NAMES=$((2 * WINDOW + 2))
for ((i = 0; i < NAMES; i++)); do
	domain_xml "ch$i"
done
domain_xml ch-a
domain_xml ch-b
lvs_virsh "$URI" create "$tmp/ch-a.xml" >/dev/null || bail "virsh create ch-a"
lvs_virsh "$URI" create "$tmp/ch-b.xml" >/dev/null || bail "virsh create ch-b"

# ---- memcoord ---------------------------------------------------------------

mc_cmd=("$MEMCOORD" -c "$URI" --policy balance --stats-period 1 --interval 1
	--host-reserve 0 --floor 64 -v
	--control-socket none)   # not the host's /run/memcoord (see test_crossproc.sh)
if [ "$MODE" = valgrind ]; then
	# --error-exitcode: any memcheck error, or (with
	# --errors-for-leak-kinds) a definitely lost block, makes memcoord exit
	# 99 at its SIGTERM. Possibly lost blocks are not errors: thread stacks
	# and libvirt's/glib's pools are reported as such.
	mc_cmd=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
		--show-leak-kinds=definite --errors-for-leak-kinds=definite
		--track-origins=no --num-callers=30 "${mc_cmd[@]}")
fi
"${mc_cmd[@]}" >"$MC_LOG" 2>&1 &
MC_PID=$!
wait_mc "$WAIT_S" grep -q '^<[0-9]>connected to ' "$MC_LOG" ||
	bail "memcoord did not log 'connected to' within ${WAIT_S} s"
ok "memcoord started ($MODE) and connected"

# Both collectors up, and a first balloon change: the arbiter is acting.
has_threads()
{
	local t
	t=$(mc_threads)
	grep -qxF mc/ch-a <<<"$t" && grep -qxF mc/ch-b <<<"$t"
}
wait_mc "$WAIT_S" has_threads || bail "no collector threads for ch-a and ch-b after ${WAIT_S} s"
wait_mc "$WAIT_S" grep -q '^<6>set ch-' "$MC_LOG" ||
	bail "memcoord set no balloon within ${WAIT_S} s"
ok "memcoord collects ch-a and ch-b and sets balloons"
stable_threads || bail "memcoord's thread count did not hold still (last $STABLE_THREADS)"
threads0=$STABLE_THREADS
ok "memcoord runs $threads0 threads before the churn"

# ---- the churn ----------------------------------------------------------------

sets0=$(log_count '^<6>set ')
cpu0=$(cpu_ms)
t0=$(now_ms)
# Commands go to the holder in bursts of a tenth of a second. Slot j
# creates domain j and destroys those whose life ends there: domain j lives
# (j * 7) % (WINDOW + 1) slots, so lives spread evenly from none at all (a
# destroy right behind the create, landing on the collector's first calls
# or the arbiter's first balloon change) to WINDOW slots.
declare -A ends=()
burst=$(( RATE / 10 > 0 ? RATE / 10 : 1 ))
for ((i = 0; i < CYCLES + WINDOW + 1; i += burst)); do
	cmds=
	for ((j = i; j < i + burst && j < CYCLES + WINDOW + 1; j++)); do
		if [ "$j" -lt "$CYCLES" ]; then
			cmds+="create $tmp/ch$((j % NAMES)).xml"$'\n'
			end=$(( j + (j * 7) % (WINDOW + 1) ))
			ends[$end]+=" ch$((j % NAMES))"
		fi
		for n in ${ends[$j]:-}; do
			cmds+="destroy $n"$'\n'
		done
		unset "ends[$j]"
	done
	printf '%s' "$cmds" 1>&"$LVS_HOLD_FD"
	# Paced against the clock, not by sleeps alone: virsh may lag.
	ahead=$(( (i + burst) * 1000 / RATE - ($(now_ms) - t0) ))
	if [ "$ahead" -gt 0 ]; then
		sleep "$(printf '0.%03d' "$(( ahead > 999 ? 999 : ahead ))")"
	fi
	if (( i % (RATE * 5) < burst )); then
		proc_alive "$MC_PID" || mc_died "during the churn (cycle $i)"
	fi
done
printf 'echo churn-done\n' 1>&"$LVS_HOLD_FD"
churn_done()
{
	grep -q '^churn-done' "$LVS_HOLD_LOG"
}
wait_mc 60 churn_done || bail "the holder virsh did not finish the churn commands"
t1=$(now_ms)
proc_alive "$MC_PID" || mc_died "during the churn"
ok "memcoord ran through $CYCLES start/destroy cycles"

errs=$(grep -c '^error' "$LVS_HOLD_LOG" || true)
check "virsh created and destroyed every churn domain (errors: $errs)" test "$errs" -eq 0 || true
running=$(lvs_virsh "$URI" list --name | sed '/^$/d' | sort | tr '\n' ' ')
check "only ch-a, ch-b and test are left running ($running)" test "$running" = "ch-a ch-b test " || true

# ---- the end state ------------------------------------------------------------

if stable_threads; then
	check "memcoord runs $STABLE_THREADS threads, as before the churn" \
		test "$STABLE_THREADS" -eq "$threads0" || true
else
	not_ok "memcoord's thread count did not hold still after the churn (last $STABLE_THREADS, want $threads0)"
fi
collectors=$(mc_threads | grep '^mc/' | sort | tr '\n' ' ')
check "collector threads are ch-a's, ch-b's and test's ($collectors)" \
	test "$collectors" = "mc/ch-a mc/ch-b mc/test " || true

added=$(log_count '^<6>ch[0-9]+: domain is running; collecting')
dropped=$(log_count '^<6>ch[0-9]+: domain (stopped|is no longer running \(resync\)); dropped')
check "every churn domain was added and dropped (added $added, dropped $dropped, cycles $CYCLES)" \
	test "$added" -eq "$CYCLES" -a "$dropped" -eq "$CYCLES" || true

sets=$(( $(log_count '^<6>set ') - sets0 ))
sets_churn=$(log_count '^<6>set ch[0-9]+: ')
check "memcoord set balloons during the churn ($sets changes, $sets_churn on churn domains)" \
	test "$sets_churn" -gt 0 || true
gone_set=$(log_count 'vanished before its balloon could be set')
gone_read=$(log_count '^<7>ch[0-9]+: domain vanished; waiting for its removal')
cpu=$(( $(cpu_ms) - cpu0 ))
rss=$(peak_rss_kib)
echo "# $CYCLES cycles in $(( (t1 - t0) / 1000 )).$(printf '%03d' $(( (t1 - t0) % 1000 ))) s" \
	"($RATE/s target, lives of 0 to $WINDOW creations), $MODE"
echo "# balloon changes during the churn: $sets ($sets_churn on churn domains);" \
	"sets on a vanished domain: $gone_set; reads of a vanished domain: $gone_read"
echo "# memcoord CPU during the churn: $cpu ms; peak RSS $rss KiB"

kill -TERM "$MC_PID"
if wait_exit "$MC_PID" "$WAIT_S"; then
	MC_PID=
	if [ "$WAIT_EXIT_STATUS" -eq 99 ]; then
		not_ok "valgrind found errors or definitely lost memory (exit 99):"
		grep -E '^==[0-9]+== ' "$MC_LOG" | grep -A40 -E 'ERROR SUMMARY|definitely lost in|Invalid|uninitialised|Mismatched' |
			head -n 200 | sed 's/^/#   /'
	else
		check "memcoord exits with status 0 on SIGTERM (got $WAIT_EXIT_STATUS)" \
			test "$WAIT_EXIT_STATUS" -eq 0 || true
	fi
else
	not_ok "memcoord still running ${WAIT_S} s after SIGTERM"
fi
if [ "$MODE" = valgrind ]; then
	summary=$(grep -E '== (ERROR SUMMARY|   definitely lost|   indirectly lost|   possibly lost)' "$MC_LOG" || true)
	printf '# valgrind: %s\n' "${summary//$'\n'/$'\n'# valgrind: }"
fi
if grep -q 'Sanitizer' "$MC_LOG"; then
	not_ok "a sanitizer reported a problem:"
	grep -A30 'Sanitizer' "$MC_LOG" | head -n 80 | sed 's/^/#   /'
fi

above_info=$(grep -E '^<[0-5]>' "$MC_LOG" || true)
if [ -z "$above_info" ]; then
	ok "nothing above info level in memcoord's log"
else
	not_ok "memcoord logged above info level:"
	sort <<<"$above_info" | uniq -c | sort -rn | head -n 20 | sed 's/^/#   /'
fi

check_summary
