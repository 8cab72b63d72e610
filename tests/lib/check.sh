# shellcheck shell=bash disable=SC2034 # WAIT_EXIT_STATUS is for the caller
# Shell helpers for memcoord's script tests: TAP-like check lines and
# bounded polling.  Source it from bash; it sets no shell options.
#
#   ok NAME / not_ok NAME       print "ok - NAME" / "not ok - NAME", count it
#   check NAME CMD...           run CMD; ok or not ok by its status
#   wait_until SECS CMD...      poll CMD every 0.1 s for at most SECS seconds
#   check_summary               print the totals; status 1 if any check failed
#   proc_alive PID              PID exists and is not a zombie
#   proc_gone PID               the opposite
#   wait_exit PID SECS          wait for a child to exit, bounded; sets
#                               WAIT_EXIT_STATUS (its exit status), status 1
#                               when it is still running after SECS

: "${CHECK_PASSED:=0}" "${CHECK_FAILED:=0}"
WAIT_EXIT_STATUS=

ok()
{
	CHECK_PASSED=$((CHECK_PASSED + 1))
	printf 'ok - %s\n' "$*"
}

not_ok()
{
	CHECK_FAILED=$((CHECK_FAILED + 1))
	printf 'not ok - %s\n' "$*"
}

check()
{
	local name=$1
	shift
	if "$@"; then
		ok "$name"
	else
		not_ok "$name"
		return 1
	fi
}

# Deciseconds, not a floating-point deadline: bash has no float arithmetic,
# and counting sleeps keeps the bound even when the clock jumps.
wait_until()
{
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 10; i++)); do
		if "$@"; then
			return 0
		fi
		sleep 0.1
	done
	"$@"
}

check_summary()
{
	printf '# %d passed, %d failed\n' "$CHECK_PASSED" "$CHECK_FAILED"
	[ "$CHECK_FAILED" -eq 0 ]
}

# bail MESSAGE...: a failed check that ends the script (its EXIT trap
# cleans up).
bail()
{
	not_ok "$*"
	check_summary || true
	exit 1
}

# check_traps: INT, TERM and HUP leave through the EXIT trap, with the
# usual 128 + signal status.
check_traps()
{
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

# kill -0 succeeds on a zombie, and an exited child stays a zombie until the
# shell waits for it: read the state from /proc instead.
proc_alive()
{
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

proc_gone()
{
	! proc_alive "$1"
}

wait_exit()
{
	local pid=$1 secs=$2
	WAIT_EXIT_STATUS=
	if ! wait_until "$secs" proc_gone "$pid"; then
		return 1
	fi
	WAIT_EXIT_STATUS=0
	wait "$pid" 2>/dev/null || WAIT_EXIT_STATUS=$?
	return 0
}
