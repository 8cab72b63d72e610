#!/bin/bash
# Cross-process integration test: memcoord follows domains that ANOTHER
# process creates and destroys.
#
#   test_crossproc.sh /path/to/memcoord
#
# A private session-mode libvirtd (tests/lib/libvirtd-session.sh) serves
# libvirt's test driver on a socket in a temporary folder; memcoord connects
# to it (test+unix:///default?socket=...) in --dry-run mode, and separate
# virsh processes create and destroy transient test domains, one at a time
# and in a burst.  For every domain memcoord must log that it collects it and
# run a collector thread named "mc/<name>", and after its destruction log
# "dropped" and end that thread.  At the end the collector threads must
# match the running domains, and memcoord must exit 0 on SIGTERM with no
# error-priority ("<3>") line in its log.
#
# Output: one "ok - ..." / "not ok - ..." line per check.  Exit 0 when all
# pass, 1 when one fails, 77 (skip) when libvirtd is not installed.
set -euo pipefail

MEMCOORD=${1:?usage: test_crossproc.sh /path/to/memcoord}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/libvirtd-session.sh
. "$here/lib/libvirtd-session.sh"

WAIT_S=10               # bound on every wait for memcoord to react
BURST=10                # domains created at once
BURST_KEEP=3            # of which this many stay running to the end

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
MEMCOORD=$(cd "$(dirname "$MEMCOORD")" && pwd)/$(basename "$MEMCOORD")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/memcoord-crossproc.XXXXXX")
MC_PID=
MC_LOG=$tmp/memcoord.log
EV_PID=
EV_LOG=$tmp/events.log

cleanup()
{
	local rc=$?

	set +e
	trap - EXIT INT TERM HUP
	if [ -n "$MC_PID" ] && proc_alive "$MC_PID"; then
		kill -TERM "$MC_PID" 2>/dev/null
		if ! wait_exit "$MC_PID" 5; then
			kill -KILL "$MC_PID" 2>/dev/null
			wait "$MC_PID" 2>/dev/null
		fi
	fi
	if [ -n "$EV_PID" ]; then
		kill -INT "$EV_PID" 2>/dev/null
		if ! wait_exit "$EV_PID" 5; then
			kill -KILL "$EV_PID" 2>/dev/null
			wait "$EV_PID" 2>/dev/null
		fi
	fi
	lvs_stop
	if [ "$rc" -ne 0 ] || [ "$CHECK_FAILED" -ne 0 ]; then
		if [ -f "$MC_LOG" ]; then
			echo "# ---- memcoord log ----"
			sed 's/^/# /' "$MC_LOG"
			echo "# ---- end of memcoord log ----"
		fi
		if [ -s "$EV_LOG" ]; then
			echo "# ---- lifecycle events seen by virsh ----"
			sed 's/^/# /' "$EV_LOG"
			echo "# ---- end of events ----"
		fi
		[ "$rc" -ne 0 ] || rc=1
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
check_traps

# Stop here: later steps would only wait out their timeouts.
# ---- the daemon, the holder connection, an event log ------------------------

lvs_start "$tmp" || bail "start a private session libvirtd"
ok "private session libvirtd serves $LVS_SOCK"
URI=$(lvs_uri test /default)
lvs_hold_start "$URI" || bail "hold a connection to $URI"
ok "holder connection open"
XDG_CONFIG_HOME="$tmp/client/config" XDG_CACHE_HOME="$tmp/client/cache" \
	virsh -c "$URI" event --all --loop --timestamp </dev/null >"$EV_LOG" 2>&1 &
EV_PID=$!

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

# ---- what memcoord shows ----------------------------------------------------

# Names used here are [a-z0-9-] only: safe inside these regular expressions.
collecting_re() { printf '^<[0-9]>%s: domain is running; collecting its statistics$' "$1"; }
dropped_re() { printf '^<[0-9]>%s: domain (stopped|is no longer running \\(resync\\)); dropped$' "$1"; }

log_count()
{
	grep -cE "$1" "$MC_LOG" || true
}

# The kernel keeps 15 characters of a thread name.
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

# Not "mc_threads | grep -q": grep -q leaves at the first match, the writer
# dies of SIGPIPE, and pipefail turns the match into a failure.
has_thread()
{
	local threads
	threads=$(mc_threads)
	grep -qxF -- "$(comm_of "$1")" <<<"$threads"
}

# NAME N: memcoord logged "collecting" for NAME at least N times, and its
# collector thread runs.
is_added()
{
	[ "$(log_count "$(collecting_re "$1")")" -ge "$2" ] && has_thread "$1"
}

is_dropped()
{
	[ "$(log_count "$(dropped_re "$1")")" -ge "$2" ] && ! has_thread "$1"
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

# Like wait_until, but gives up at once when memcoord has died.
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

# NAME N: the Nth appearance of NAME.
expect_added()
{
	if wait_mc "$WAIT_S" is_added "$1" "$2"; then
		ok "$1: memcoord collects it (log line and thread $(comm_of "$1"))"
	else
		local lines
		lines=$(log_count "$(collecting_re "$1")")
		if has_thread "$1"; then
			not_ok "$1: thread $(comm_of "$1") runs but 'collecting' logged $lines times, want $2 (${WAIT_S} s)"
		else
			not_ok "$1: no thread $(comm_of "$1") after ${WAIT_S} s ('collecting' logged $lines times, want $2)"
		fi
	fi
}

expect_dropped()
{
	if wait_mc "$WAIT_S" is_dropped "$1" "$2"; then
		ok "$1: memcoord dropped it and its thread ended"
	else
		local lines
		lines=$(log_count "$(dropped_re "$1")")
		if has_thread "$1"; then
			not_ok "$1: thread $(comm_of "$1") still runs ${WAIT_S} s after destroy ('dropped' logged $lines times, want $2)"
		else
			not_ok "$1: thread gone but 'dropped' logged $lines times, want $2 (${WAIT_S} s)"
		fi
	fi
}

# ---- memcoord ---------------------------------------------------------------

# A domain that exists before memcoord starts: found by the first listing.
create_domain cp-pre || bail "virsh create cp-pre"

# No control socket: the default one (/run/memcoord) belongs to the host,
# and a memcoord already serving it there would turn this run's start into
# an error line.
"$MEMCOORD" -c "$URI" --host-reserve 0 --dry-run -v --interval 1 --control-socket none \
	>"$MC_LOG" 2>&1 &
MC_PID=$!
wait_mc "$WAIT_S" grep -q '^<[0-9]>connected to ' "$MC_LOG" ||
	bail "memcoord did not log 'connected to' within ${WAIT_S} s"
ok "memcoord started and connected"

expect_added test 1
expect_added cp-pre 1

# ---- one at a time ----------------------------------------------------------

for name in cp-one cp-two; do
	if create_domain "$name"; then
		expect_added "$name" 1
	else
		not_ok "virsh create $name"
	fi
	if destroy_domain "$name"; then
		expect_dropped "$name" 1
	else
		not_ok "virsh destroy $name"
	fi
done

# The same name again: a new domain, a new record and thread.
create_domain cp-one || not_ok "virsh create cp-one (again)"
expect_added cp-one 2
destroy_domain cp-one || not_ok "virsh destroy cp-one (again)"
expect_dropped cp-one 2

destroy_domain cp-pre || not_ok "virsh destroy cp-pre"
expect_dropped cp-pre 1

# ---- a burst, from as many processes at once --------------------------------

burst=()
for ((i = 1; i <= BURST; i++)); do
	burst+=("$(printf 'cp-b%02d' "$i")")
done

burst_run()
{
	local what=$1 name failed=0
	local -a pids=()
	shift
	for name in "$@"; do
		"$what" "$name" &
		pids+=($!)
	done
	for pid in "${pids[@]}"; do
		wait "$pid" || failed=$((failed + 1))
	done
	[ "$failed" -eq 0 ]
}

check "burst: $BURST concurrent virsh create" burst_run create_domain "${burst[@]}" || true
for name in "${burst[@]}"; do
	expect_added "$name" 1
done

gone=("${burst[@]:0:BURST - BURST_KEEP}")
kept=("${burst[@]:BURST - BURST_KEEP}")
check "burst: ${#gone[@]} concurrent virsh destroy" burst_run destroy_domain "${gone[@]}" || true
for name in "${gone[@]}"; do
	expect_dropped "$name" 1
done
for name in "${kept[@]}"; do
	check "$name: still collected after the others went" has_thread "$name" || true
done

# ---- the end state ----------------------------------------------------------

# A new thread inherits its creator's name.  liburcu's call_rcu worker is
# created by the first thread that calls call_rcu: should that be a
# collector, an extra "mc/<name>" thread shows up here (seen as a second
# "mc-host" today, the host collector usually being first).

# Lines to one space-separated line, for messages.
words()
{
	local -a w
	mapfile -t w <<<"$1"
	printf '%s' "${w[*]}"
}

running=$(vsh list --name | sed '/^$/d' | sort) || bail "virsh list"
threads=$(mc_threads | grep '^mc/' | sort || true)
expected=$(while read -r name; do comm_of "$name"; done <<<"$running" | sort)
nrun=$(sed '/^$/d' <<<"$running" | wc -l)
nthr=$(sed '/^$/d' <<<"$threads" | wc -l)
if [ "$threads" = "$expected" ]; then
	ok "$nthr mc/* threads for $nrun running domains ($(words "$running"))"
else
	not_ok "$nthr mc/* threads ($(words "$threads")) for $nrun running domains ($(words "$running"))"
fi

resyncs=$(log_count 'is no longer running \(resync\); dropped$')
check "every drop came from a lifecycle event, none from a resync ($resyncs)" \
	test "$resyncs" -eq 0 || true

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
	ok "no error-priority line in memcoord's log"
else
	not_ok "memcoord logged errors:"
	printf '#   %s\n' "${errors//$'\n'/$'\n'#   }"
fi
warnings=$(grep -E '^<4>' "$MC_LOG" || true)
if [ -n "$warnings" ]; then
	echo "# memcoord warnings (not a failure):"
	printf '#   %s\n' "${warnings//$'\n'/$'\n'#   }"
fi

check_summary
