#!/bin/bash
# Reconnection test: memcoord survives its libvirt daemon being killed and
# restarted.
#
#   test_reconnect.sh /path/to/memcoord
#
# A private session-mode libvirtd (tests/lib/libvirtd-session.sh) serves
# libvirt's test driver; memcoord runs against it (test+unix:///default?
# socket=...).  Two domains rc-a and rc-b are created with virsh before
# memcoord starts.  Then, CYCLES times, libvirtd and the holder connection
# are SIGKILLed and libvirtd is started again on the same socket path.  The
# test driver's state does not survive that: afterwards only its default
# domain "test" exists.  Each time memcoord must log that it lost the
# connection and that it reconnected (once per cycle), drop rc-a and rc-b by
# the resync (first cycle) and end their collector threads, and keep exactly
# one collector thread for "test" - never two for one domain.  The time from
# the new daemon's socket appearing to memcoord's "reconnected" line is
# measured and printed, and must stay within 2 s (the backend retries with a
# backoff capped at 1 s).
# After the last restart a new domain must be picked up by a lifecycle event
# on the NEW connection and dropped when destroyed: events were registered
# again.  At the end memcoord runs as many threads as at the start minus the
# two dropped collectors, logged nothing at error priority (<0>..<3>), and
# exits 0 on SIGTERM.
#
# Output: one "ok - ..." / "not ok - ..." line per check.  Exit 0 when all
# pass, 1 when one fails, 77 (skip) when libvirtd is not installed.  The
# logs of memcoord and of the last libvirtd are printed on failure, or always
# with RC_SHOW_LOG=1 in the environment.
set -euo pipefail

MEMCOORD=${1:?usage: test_reconnect.sh /path/to/memcoord}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/libvirtd-session.sh
. "$here/lib/libvirtd-session.sh"

WAIT_S=10               # bound on every wait for memcoord to react
# libvirtd kill/restart cycles: how long libvirtd stays down in each (in
# seconds; RC_OUTAGES="0 2 4" in the environment runs those three only).
# The default is ten cycles: immediate restarts (the first retry, 250 ms
# after the loss, finds the new daemon) and outages long enough for the
# backoff to reach its cap (retries 0.25, 0.75, 1.75, 2.75, ... s after the
# loss, then every second).
read -r -a OUTAGES <<<"${RC_OUTAGES:-0 1 0 3 0 2 0 5 1 0}"
CYCLES=${#OUTAGES[@]}
# socket -> "reconnected" above this fails: with retries at most 1 s apart,
# a daemon back for 2 s has been found.
RECONNECT_FAIL_MS=${RC_RECONNECT_FAIL_MS:-2000}
SETTLE_S=2              # thread count must hold still this long

if ! lvs_find_libvirtd; then
	echo "1..0 # SKIP libvirtd is not installed"
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
if [ -z "${EPOCHREALTIME:-}" ]; then
	echo "not ok - this test needs bash 5 (EPOCHREALTIME)"
	exit 1
fi
MEMCOORD=$(cd "$(dirname "$MEMCOORD")" && pwd)/$(basename "$MEMCOORD")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/memcoord-reconnect.XXXXXX")
MC_PID=
MC_LOG=$tmp/memcoord.log
WATCH_PID=
WATCH_OUT=

cleanup()
{
	local rc=$?

	set +e
	trap - EXIT INT TERM HUP
	if [ -n "$WATCH_PID" ]; then
		kill -KILL "$WATCH_PID" 2>/dev/null
		wait "$WATCH_PID" 2>/dev/null
	fi
	if [ -n "$MC_PID" ] && proc_alive "$MC_PID"; then
		kill -TERM "$MC_PID" 2>/dev/null
		if ! wait_exit "$MC_PID" 5; then
			kill -KILL "$MC_PID" 2>/dev/null
			wait "$MC_PID" 2>/dev/null
		fi
	fi
	lvs_stop
	if [ "$rc" -ne 0 ] || [ "$CHECK_FAILED" -ne 0 ] || [ -n "${RC_SHOW_LOG:-}" ]; then
		if [ -f "$MC_LOG" ]; then
			echo "# ---- memcoord log ----"
			sed 's/^/# /' "$MC_LOG"
			echo "# ---- end of memcoord log ----"
		fi
		lvs_dump_log
		[ "$rc" -ne 0 ] || [ "$CHECK_FAILED" -eq 0 ] || rc=1
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
check_traps

# ---- libvirtd, holder, domains ----------------------------------------------

lvs_start "$tmp" || bail "start a private session libvirtd"
ok "private session libvirtd serves $LVS_SOCK"
URI=$(lvs_uri test /default)
lvs_hold_start "$URI" || bail "hold a connection to $URI"
ok "holder connection open"

vsh()
{
	lvs_virsh "$URI" "$@"
}

domain_xml()
{
	cat >"$tmp/dom-$1.xml" <<-EOF
	<domain type='test'>
	  <name>$1</name>
	  <memory unit='MiB'>1024</memory>
	  <currentMemory unit='MiB'>512</currentMemory>
	  <os><type>hvm</type></os>
	  <devices><memballoon model='virtio'/></devices>
	</domain>
	EOF
	printf '%s\n' "$tmp/dom-$1.xml"
}

create_domain()
{
	vsh create "$(domain_xml "$1")" >/dev/null
}

destroy_domain()
{
	vsh destroy "$1" >/dev/null
}

# SIGKILL the daemon, then the holder (its connection is dead anyway).  A
# killed daemon leaves its socket file behind: remove it, so that lvs_start
# waits for the NEW daemon's socket and the watcher sees it appear.
lvs_kill()
{
	if [ -n "$LVS_PID" ]; then
		kill -KILL "$LVS_PID" 2>/dev/null
		wait "$LVS_PID" 2>/dev/null || true
		LVS_PID=
	fi
	if [ -n "$LVS_HOLD_PID" ]; then
		kill -KILL "$LVS_HOLD_PID" 2>/dev/null
		wait "$LVS_HOLD_PID" 2>/dev/null || true
		LVS_HOLD_PID=
	fi
	if [ -n "$LVS_HOLD_FD" ]; then
		exec {LVS_HOLD_FD}>&-
		LVS_HOLD_FD=
	fi
	rm -f "$LVS_SOCK"
}

# ---- what memcoord shows ----------------------------------------------------

# Names used here are [a-z0-9-] only: safe inside these regular expressions.
collecting_re() { printf '^<[0-9]>%s: domain is running; collecting its statistics$' "$1"; }
stopped_re() { printf '^<[0-9]>%s: domain stopped; dropped$' "$1"; }
resync_dropped_re() { printf '^<[0-9]>%s: domain is no longer running \\(resync\\); dropped$' "$1"; }
LOST_RE='^<[0-9]>lost the connection to .*; reconnecting$'
RECONNECTED_RE='^<[0-9]>reconnected to .*; resynchronising$'

log_count()
{
	grep -cE "$1" "$MC_LOG" || true
}

comm_of()
{
	local c="mc/$1"
	printf '%s\n' "${c:0:15}"
}

# A thread may exit between the glob and the read: ignore vanished files.
mc_threads()
{
	local f c
	for f in /proc/"$MC_PID"/task/*/comm; do
		c=$(cat "$f" 2>/dev/null) || continue
		printf '%s\n' "$c"
	done
}

# How many threads named mc/NAME memcoord runs.
thread_count()
{
	local threads
	threads=$(mc_threads)
	grep -cxF -- "$(comm_of "$1")" <<<"$threads" || true
}

has_thread()
{
	[ "$(thread_count "$1")" -ge 1 ]
}

total_threads()
{
	local tasks=(/proc/"$MC_PID"/task/*)
	printf '%d\n' "${#tasks[@]}"
}

# Lines to one space-separated line, for messages.
words()
{
	local -a w
	mapfile -t w <<<"$1"
	printf '%s' "${w[*]}"
}

is_added()
{
	[ "$(log_count "$(collecting_re "$1")")" -ge "$2" ] && has_thread "$1"
}

# NAME RE N: RE (a dropped line) logged at least N times, no thread left.
is_dropped_by()
{
	[ "$(log_count "$2")" -ge "$3" ] && ! has_thread "$1"
}

log_at_least()
{
	[ "$(log_count "$1")" -ge "$2" ]
}

mc_died()
{
	local st=0 how
	wait "$MC_PID" 2>/dev/null || st=$?
	MC_PID=
	how="status $st"
	[ "$st" -le 128 ] || how="$how, signal $((st - 128))"
	bail "memcoord died ($how) $*"
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

expect_added()
{
	if wait_mc "$WAIT_S" is_added "$1" "$2"; then
		ok "$1: memcoord collects it (log line and thread $(comm_of "$1"))"
	else
		not_ok "$1: not collected after ${WAIT_S} s ('collecting' logged $(log_count "$(collecting_re "$1")") times, want $2; $(thread_count "$1") threads)"
	fi
}

# NAME RE N WHAT
expect_dropped_by()
{
	if wait_mc "$WAIT_S" is_dropped_by "$1" "$2" "$3"; then
		ok "$1: memcoord dropped it ($4) and its thread ended"
	else
		not_ok "$1: not dropped ($4) after ${WAIT_S} s ('dropped' logged $(log_count "$2") times, want $3; $(thread_count "$1") threads)"
	fi
}

# The thread count holds still for SETTLE_S seconds (bounded by WAIT_S):
# collectors start with a jitter, the call_rcu worker may come late.
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

# memcoord's CPU time so far (user + system), in milliseconds.
cpu_ms()
{
	local stat f
	stat=$(cat "/proc/$MC_PID/stat" 2>/dev/null) || { echo 0; return; }
	read -r -a f <<<"${stat##*) }"
	# Fields 14 and 15 of stat; 12 and 13 once "pid (comm) " is cut.
	echo $(( (f[11] + f[12]) * 1000 / $(getconf CLK_TCK) ))
}

# Microseconds since the epoch, from bash's EPOCHREALTIME (6 decimals).
now_us()
{
	local t=$EPOCHREALTIME
	printf '%s\n' "$((10#${t/[.,]/}))"
}

# Runs in the background during a restart: records when the daemon's
# socket appears and when memcoord logs its Nth "reconnected" line, polling
# both every 20 ms for at most WAIT_S + LVS_START_TIMEOUT seconds.
watch_restart()
{
	local want=$1 out=$2 i sock='' rec='' t
	for ((i = 0; i < (WAIT_S + LVS_START_TIMEOUT) * 50; i++)); do
		t=$(now_us)
		if [ -z "$sock" ] && [ -S "$LVS_SOCK" ]; then
			sock=$t
			printf 'sock %s\n' "$sock" >>"$out"
		fi
		if [ -z "$rec" ] && [ "$(log_count "$RECONNECTED_RE")" -ge "$want" ]; then
			rec=$t
			printf 'rec %s\n' "$rec" >>"$out"
		fi
		[ -n "$sock" ] && [ -n "$rec" ] && return 0
		sleep 0.02
	done
	return 1
}

watch_value()
{
	sed -n "s/^$1 //p" "$WATCH_OUT" 2>/dev/null | head -n 1
}

# ---- memcoord ---------------------------------------------------------------

create_domain rc-a || bail "virsh create rc-a"
create_domain rc-b || bail "virsh create rc-b"

# No control socket: the default one (/run/memcoord) belongs to the host,
# and a memcoord already serving it there would turn this run's start into
# an error line.
"$MEMCOORD" -c "$URI" --host-reserve 0 -v --interval 1 --control-socket none \
	>"$MC_LOG" 2>&1 &
MC_PID=$!
wait_mc "$WAIT_S" grep -q '^<[0-9]>connected to ' "$MC_LOG" ||
	bail "memcoord did not log 'connected to' within ${WAIT_S} s"
ok "memcoord started and connected"

expect_added test 1
expect_added rc-a 1
expect_added rc-b 1

if stable_threads; then
	ok "memcoord runs $STABLE_THREADS threads, steady for ${SETTLE_S} s"
else
	not_ok "memcoord's thread count did not hold still for ${SETTLE_S} s within ${WAIT_S} s (last $STABLE_THREADS)"
fi
threads0=$STABLE_THREADS
echo "# threads at start: $(words "$(mc_threads | sort)")"

# ---- kill and restart libvirtd ----------------------------------------------

delays=()
for ((cycle = 1; cycle <= CYCLES; cycle++)); do
	lost0=$(log_count "$LOST_RE")
	rec0=$(log_count "$RECONNECTED_RE")

	t_kill=$(now_us)
	lvs_kill
	outage=${OUTAGES[cycle - 1]}
	if wait_mc "$WAIT_S" log_at_least "$LOST_RE" $((lost0 + 1)); then
		ok "cycle $cycle: memcoord logged 'lost the connection' ($(( ($(now_us) - t_kill) / 1000 )) ms after SIGKILL, or less)"
	else
		not_ok "cycle $cycle: no new 'lost the connection' line ${WAIT_S} s after SIGKILL of libvirtd"
	fi

	if [ "$outage" -gt 0 ]; then
		# libvirtd stays down: memcoord keeps running, retrying (and
		# its collectors keep polling), at a cost shown here.
		cpu0=$(cpu_ms)
		sleep "$outage"
		proc_alive "$MC_PID" || mc_died "while libvirtd was down"
		echo "# cycle $cycle: memcoord used $(( $(cpu_ms) - cpu0 )) ms of CPU during the ${outage} s outage"
		check "cycle $cycle: memcoord runs through a ${outage} s outage" \
			test "$(log_count "$RECONNECTED_RE")" -eq "$rec0" || true
	fi
	WATCH_OUT=$tmp/watch-$cycle
	: >"$WATCH_OUT"
	watch_restart $((rec0 + 1)) "$WATCH_OUT" &
	WATCH_PID=$!
	lvs_start "$tmp" || bail "cycle $cycle: restart libvirtd on $LVS_SOCK"
	lvs_hold_start "$URI" || bail "cycle $cycle: hold a connection to the new libvirtd"
	ok "cycle $cycle: libvirtd restarted on the same socket after ${outage} s down, holder connected"

	if wait_mc "$WAIT_S" log_at_least "$RECONNECTED_RE" $((rec0 + 1)); then
		ok "cycle $cycle: memcoord logged 'reconnected ... resynchronising'"
	else
		not_ok "cycle $cycle: no new 'reconnected' line within ${WAIT_S} s of the restart"
	fi
	if ! wait_exit "$WATCH_PID" $((WAIT_S + LVS_START_TIMEOUT)); then
		kill -KILL "$WATCH_PID" 2>/dev/null
		wait "$WATCH_PID" 2>/dev/null || true
	fi
	WATCH_PID=
	t_sock=$(watch_value sock)
	t_rec=$(watch_value rec)
	if [ -n "$t_sock" ] && [ -n "$t_rec" ]; then
		ms=$(( (t_rec - t_sock) / 1000 ))
		delays+=("$ms")
		echo "# cycle $cycle: new socket -> 'reconnected' line: $ms ms" \
			"(SIGKILL -> socket $(( (t_sock - t_kill) / 1000 )) ms," \
			"SIGKILL -> 'reconnected' $(( (t_rec - t_kill) / 1000 )) ms)"
		check "cycle $cycle: memcoord reconnected $ms ms after the new socket appeared (limit $RECONNECT_FAIL_MS ms)" \
			test "$ms" -le "$RECONNECT_FAIL_MS" || true
	else
		not_ok "cycle $cycle: could not time the reconnection (socket seen: ${t_sock:-no}, reconnected seen: ${t_rec:-no})"
	fi

	# The 'lost' line must come before this cycle's 'reconnected' line.
	order=$(grep -E "$LOST_RE|$RECONNECTED_RE" "$MC_LOG" | sed -n "$((lost0 + rec0 + 1)),\$p" |
		sed -E "s/$LOST_RE/lost/;s/$RECONNECTED_RE/reconnected/" | tr '\n' ' ')
	check "cycle $cycle: 'lost' then 'reconnected', once each (${order% })" \
		test "${order% }" = "lost reconnected" || true

	if [ "$cycle" -eq 1 ]; then
		expect_dropped_by rc-a "$(resync_dropped_re rc-a)" 1 "resync"
		expect_dropped_by rc-b "$(resync_dropped_re rc-b)" 1 "resync"
	fi
	running=$(vsh list --name | sed '/^$/d' | sort) || bail "cycle $cycle: virsh list"
	check "cycle $cycle: the new daemon runs only 'test' ($(words "$running"))" \
		test "$running" = test || true
	# The resync re-adds nothing already known: one collector for "test",
	# checked again a second later in case a duplicate comes late.
	expect_added test 1
	sleep 1
	n=$(thread_count test)
	check "cycle $cycle: exactly one $(comm_of test) thread (got $n)" test "$n" -eq 1 || true
	n=$(log_count "$(collecting_re test)")
	check "cycle $cycle: 'test' was added once in all, never again on a resync (got $n)" \
		test "$n" -eq 1 || true
	proc_alive "$MC_PID" || mc_died "after restart $cycle"
	ok "cycle $cycle: memcoord is still running"
done

echo "# reconnect delays (new socket -> 'reconnected'): ${delays[*]/%/ ms}"
if [ "${#delays[@]}" -gt 0 ]; then
	mapfile -t sorted < <(printf '%s\n' "${delays[@]}" | sort -n)
	echo "# reconnect delay over ${#delays[@]} restarts: min ${sorted[0]} ms," \
		"median ${sorted[$(( ${#sorted[@]} / 2 ))]} ms, max ${sorted[-1]} ms"
fi

# ---- events on the new connection -------------------------------------------

# A domain added by a listing rather than by an event: every resync logs
# "resync: ..." at debug level (-v), and a reconnection precedes one.  The
# periodic resync comes every 60 s by default, well beyond this test.
ANY_RESYNC_RE='^<[0-9]>(resync: |reconnected to )'
n=$(log_count "$ANY_RESYNC_RE")
if create_domain rc-new; then
	ok "virsh create rc-new on the restarted libvirtd"
	expect_added rc-new 1
	if destroy_domain rc-new; then
		expect_dropped_by rc-new "$(stopped_re rc-new)" 1 "lifecycle event"
	else
		not_ok "virsh destroy rc-new"
	fi
	check "rc-new came and went by lifecycle events, no resync in between" \
		test "$(log_count "$ANY_RESYNC_RE")" -eq "$n" || true
else
	not_ok "virsh create rc-new"
fi

# ---- the end state ----------------------------------------------------------

if stable_threads; then
	check "memcoord runs $STABLE_THREADS threads: $threads0 at start minus rc-a's and rc-b's collectors" \
		test "$STABLE_THREADS" -eq $((threads0 - 2)) || true
else
	not_ok "memcoord's thread count did not hold still at the end (last $STABLE_THREADS, want $((threads0 - 2)))"
fi
threads=$(mc_threads | grep '^mc/' | sort || true)
check "collector threads match the running domains ($(words "$threads"))" \
	test "$threads" = "$(comm_of test)" || true

proc_alive "$MC_PID" || mc_died "before the end"
ok "memcoord is still running"

kill -TERM "$MC_PID"
if wait_exit "$MC_PID" 10; then
	MC_PID=
	check "memcoord exits with status 0 on SIGTERM (got $WAIT_EXIT_STATUS)" \
		test "$WAIT_EXIT_STATUS" -eq 0 || true
else
	not_ok "memcoord still running 10 s after SIGTERM"
fi

errors=$(grep -E '^<[0-3]>' "$MC_LOG" || true)
if [ -z "$errors" ]; then
	ok "no error-priority line (<0>..<3>) in memcoord's log"
else
	not_ok "memcoord logged errors:"
	printf '#   %s\n' "${errors//$'\n'/$'\n'#   }"
fi
# Other than the expected "lost the connection" ones.
warnings=$(grep -E '^<4>' "$MC_LOG" | grep -vE "$LOST_RE" || true)
if [ -n "$warnings" ]; then
	echo "# other memcoord warnings (not a failure):"
	printf '#   %s\n' "${warnings//$'\n'/$'\n'#   }"
fi

check_summary
