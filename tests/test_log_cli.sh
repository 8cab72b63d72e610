#!/usr/bin/env bash
# memcoord's log target on the command line and in the file: accepted
# values, the effective configuration, bad values rejected with status 2,
# and a run logging to stderr with priority prefixes.
set -uo pipefail
MEMCOORD=${1:?usage: test_log_cli.sh /path/to/memcoord SCENARIOS_DIR}
SCENARIOS=${2:?usage: test_log_cli.sh /path/to/memcoord SCENARIOS_DIR}
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; fails=$((fails + 1)); }

# expect STATUS PATTERN ARGS...: exit status and an output pattern.
expect() {
	local want=$1 pat=$2; shift 2
	local out rc
	out=$(timeout 30 "$MEMCOORD" "$@" 2>&1); rc=$?
	if [ "$rc" -eq "$want" ] && grep -qE -- "$pat" <<<"$out"; then
		ok "memcoord $* -> $rc"
	else
		notok "memcoord $* -> $rc (want $want matching '$pat'): $out"
	fi
}

for t in stderr syslog auto SYSLOG; do
	expect 0 "^log_target = $(tr '[:upper:]' '[:lower:]' <<<"$t")\$" \
		--config /dev/null --log-target "$t" --check-config
done
expect 0 "^log_target = auto\$" --config /dev/null --check-config
expect 2 "--log-target: unknown target 'journal' \(stderr, syslog or auto\)" \
	--config /dev/null --log-target journal
expect 2 "--log-target: unknown target ''" --config /dev/null --log-target ""
expect 2 "needs a value" --log-target

printf '[daemon]\nlog_target = syslog\n' >"$tmp/syslog.conf"
expect 0 "^log_target = syslog\$" --config "$tmp/syslog.conf" --check-config
# The command line wins over the file.
expect 0 "^log_target = stderr\$" --config "$tmp/syslog.conf" --log-target stderr --check-config
printf '[daemon]\n\nlog_target = journal\n' >"$tmp/bad.conf"
expect 2 "$tmp/bad.conf:3: \[daemon\] log_target: unknown log target 'journal'" \
	--config "$tmp/bad.conf" --check-config

# A run on stderr (a pipe here): every log line carries its priority.
out=$(timeout 60 "$MEMCOORD" --config /dev/null --log-target stderr \
	--sim "$SCENARIOS/idle.ini" 2>&1 >/dev/null); rc=$?
if [ "$rc" -eq 0 ] && grep -q '^<6>connected to' <<<"$out" && ! grep -qv '^<[3-7]>' <<<"$out"; then
	ok "--log-target stderr: $(wc -l <<<"$out") lines, each with a <N> prefix"
else
	notok "--log-target stderr run -> $rc: $out"
fi

[ $fails -eq 0 ] && echo "log_cli: all passed" || echo "log_cli: $fails failed"
[ $fails -eq 0 ]
