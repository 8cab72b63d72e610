#!/usr/bin/env bash
# The memcoord binary's command line: exit status 2 with a message for bad
# input, 0 for --help/--version, 1 for an unreachable URI with --once, and a
# daemon that keeps retrying an unreachable URI until SIGTERM (then exits 0).
set -uo pipefail
MEMCOORD=${1:?usage: test_cli.sh /path/to/memcoord}
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# wait_exit (bounded, zombie-aware); ok/notok below are this script's own.
# shellcheck source=lib/check.sh
. "$(dirname "$0")/lib/check.sh"
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
# A negative INTERVAL: named whole (getopt reads it as options "-2", "-5").
expect 2 "INTERVAL: '-25' is not a positive number of seconds" --policy seed -25
expect 2 "INTERVAL: '-1.5' is not a positive number of seconds" --dry-run -1.5

unreach="test+unix:///default?socket=$tmp/no-such-sock"
expect 1 "Failed to connect socket" -c "$unreach" --once

# Without --once the daemon reports the failure and keeps retrying.
"$MEMCOORD" -c "$unreach" -v --control-socket none >"$tmp/retry.log" 2>&1 &
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
wait_exit "$pid" 5 && rc=$WAIT_EXIT_STATUS
[ "$rc" -eq 0 ] && ok "SIGTERM while disconnected: clean exit" \
	|| { notok "SIGTERM while disconnected: status $rc"; kill -KILL "$pid" 2>/dev/null; cat "$tmp/retry.log"; }

# The original program's form, "memory_coordinator <interval>": a bare
# INTERVAL runs the daemon like --interval, here against the test driver
# (its domain "test" gets a collector). Then SIGINT, like SIGTERM, stops it
# cleanly: status 0, which under AddressSanitizer also means no leak.
"$MEMCOORD" -c test:///default --policy seed 2 --dry-run --control-socket none \
	>"$tmp/int.log" 2>&1 &
pid=$!
wait_until 10 grep -q "test: domain is running" "$tmp/int.log"
grep -q "policy seed, interval 2000 ms" "$tmp/int.log" \
	&& ok "memcoord --policy seed 2: interval 2000 ms, as --interval 2" \
	|| notok "bare INTERVAL not taken as the interval: $(cat "$tmp/int.log")"
grep -q "test: domain is running" "$tmp/int.log" \
	&& ok "bare INTERVAL: the daemon runs and collects 'test'" \
	|| notok "bare INTERVAL: 'test' not collected: $(cat "$tmp/int.log")"
kill -INT "$pid" 2>/dev/null
rc=124
wait_exit "$pid" 10 && rc=$WAIT_EXIT_STATUS
if [ "$rc" -eq 0 ] && grep -q "SIGINT received; shutting down" "$tmp/int.log"; then
	ok "SIGINT: clean exit (status 0)"
else
	notok "SIGINT: status $rc: $(cat "$tmp/int.log")"
	kill -KILL "$pid" 2>/dev/null
fi

# --check-config: a valid file prints the effective configuration.
cat >"$tmp/ok.conf" <<'CONF'
[daemon]
interval = 5
[balance]
low = 100M
CONF
out=$("$MEMCOORD" --config "$tmp/ok.conf" --interval 2 --check-config 2>"$tmp/check.err"); rc=$?
if [ $rc -eq 0 ] && grep -q "configuration OK" "$tmp/check.err" && grep -q "^interval = 2" <<<"$out" \
	&& grep -q "^low = 100M" <<<"$out"; then
	ok "--check-config: valid file, the command line overrides it"
else
	notok "--check-config on a valid file: $rc $(cat "$tmp/check.err") $out"
fi
printf '[balance]\nlow = 12x\n[nosuch]\nkey = 1\n' >"$tmp/bad.conf"
expect 2 "bad.conf:2: \\[balance\\] low:" --config "$tmp/bad.conf" --check-config
expect 2 "bad.conf:3: \\[nosuch\\]" --config "$tmp/bad.conf" --check-config
expect 2 "cannot read .*No such file" --config "$tmp/nonexistent.conf" --check-config

# SIGHUP: an invalid file is rejected and the running configuration stays;
# a valid one is published. Run on the simulated host (no libvirt needed);
# what runs is read back from the status socket (policy and low watermark).
cat >"$tmp/long.ini" <<'SCEN'
[sim]
speed = 1
duration = 60s
[host]
memory = 4G
[guest:g1]
max = 1G
memory = 512M
workload = idle
SCEN
cp "$tmp/ok.conf" "$tmp/live.conf"
"$MEMCOORD" --sim "$tmp/long.ini" --config "$tmp/live.conf" --control-socket "$tmp/ctl.sock" \
	>"$tmp/hup.out" 2>"$tmp/hup.log" &
pid=$!
running() {
	timeout 5 "$MEMCOORD" status --json --control-socket "$tmp/ctl.sock" 2>/dev/null \
		| jq -r '"\(.policy) low \(.headroom.low_kib / 1024) MiB"'
}
# The socket comes up once the arbiter runs: up to 10 s on a slow start.
wait_until 10 eval '[ -n "$(running)" ]'
[ "$(running)" = "balance low 100 MiB" ] && ok "before SIGHUP: the file's configuration runs" \
	|| notok "before SIGHUP: running '$(running)'"
# low > target: invalid, and the policy it names must not be taken either.
printf '[daemon]\npolicy = seed\n[balance]\nlow = 500M\n' >"$tmp/live.conf"
kill -HUP "$pid"
wait_until 10 grep -q "configuration rejected" "$tmp/hup.log"
if grep -q "configuration rejected; the running configuration stays" "$tmp/hup.log" \
	&& grep -q "low < target < high" "$tmp/hup.log" \
	&& [ "$(running)" = "balance low 100 MiB" ]; then
	ok "SIGHUP with an invalid file: rejected, the running configuration stays"
else
	notok "SIGHUP with an invalid file: $(cat "$tmp/hup.log")"
fi
printf '[daemon]\npolicy = seed\ninterval = 3\n' >"$tmp/live.conf"
kill -HUP "$pid"
wait_until 10 grep -q "configuration reloaded" "$tmp/hup.log"
if grep -q "configuration reloaded: policy seed, interval 3000 ms" "$tmp/hup.log" \
	&& [ "$(running)" = "seed low 128 MiB" ]; then
	ok "SIGHUP with a valid file: the new configuration is published"
else
	notok "SIGHUP with a valid file: running '$(running)': $(cat "$tmp/hup.log")"
fi
kill -TERM "$pid"
rc=124
wait_exit "$pid" 10 && rc=$WAIT_EXIT_STATUS
[ $rc -eq 0 ] && ok "SIGTERM after reloads: clean exit" || notok "exit status $rc after reloads"

echo "$fails failed"
[ "$fails" -eq 0 ]
