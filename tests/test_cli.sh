#!/usr/bin/env bash
# The memcoord binary's command line: exit status 2 with a message for bad
# input, 0 for --help/--version, 1 for an unreachable URI with --once, and a
# daemon that keeps retrying an unreachable URI until SIGTERM (then exits 0).
set -uo pipefail
MEMCOORD=${1:?usage: test_cli.sh /path/to/memcoord}
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; fails=$((fails + 1)); }

# expect STATUS PATTERN ARGS...: exit status and a stderr/stdout pattern.
expect() {
	local want=$1 pat=$2; shift 2
	local out rc
	out=$(timeout 20 "$MEMCOORD" "$@" 2>&1); rc=$?
	if [ "$rc" -eq "$want" ] && grep -qE -- "$pat" <<<"$out"; then
		ok "memcoord $* -> $rc"
	else
		notok "memcoord $* -> $rc (want $want matching '$pat'): $out"
	fi
}

expect 0 "Usage: memcoord" --help
expect 0 "^memcoord [0-9]+\.[0-9]+" --version
expect 2 "unknown option '--bogus'" --bogus
expect 2 "needs a value" --interval
expect 2 "not a positive number of seconds" --interval 0
expect 2 "not a positive number of seconds" --interval -3
expect 2 "not a positive number of seconds" 0
expect 2 "not a positive number of seconds" --policy seed abc
expect 2 "MiB" --loaded-threshold ten
expect 2 "MiB" --floor -1
expect 2 "must be greater than loaded" --loaded-threshold 300 --free-threshold 200
expect 2 "unknown policy 'nosuch'" --policy nosuch
expect 2 "only one INTERVAL" 1 2

unreach="test+unix:///default?socket=$tmp/no-such-sock"
expect 1 "Failed to connect socket" -c "$unreach" --once

# Without --once the daemon reports the failure and keeps retrying.
"$MEMCOORD" -c "$unreach" -v >"$tmp/retry.log" 2>&1 &
pid=$!
sleep 2
if kill -0 "$pid" 2>/dev/null; then
	ok "unreachable URI: daemon keeps running and retrying"
else
	notok "unreachable URI: daemon exited: $(cat "$tmp/retry.log")"
fi
grep -q "retrying in the background" "$tmp/retry.log" && ok "retry announced" \
	|| notok "no retry message: $(cat "$tmp/retry.log")"
kill -TERM "$pid" 2>/dev/null
rc=124
for _ in $(seq 50); do
	if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; rc=$?; break; fi
	sleep 0.1
done
[ "$rc" -eq 0 ] && ok "SIGTERM while disconnected: clean exit" \
	|| { notok "SIGTERM while disconnected: status $rc"; kill -KILL "$pid" 2>/dev/null; cat "$tmp/retry.log"; }

echo "$fails failed"
[ "$fails" -eq 0 ]
