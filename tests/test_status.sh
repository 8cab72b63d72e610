#!/usr/bin/env bash
# The control socket and `memcoord status` on a simulated host: the socket's
# directory and mode; the table and the JSON document name every guest with
# plausible figures and the right state (ok, stuck, no stats, paused,
# excluded); malformed, oversized, binary, empty and excess requests get an
# error reply and the daemon answers afterwards; --watch refreshes until
# SIGINT; clear errors (exit 1) for a missing socket, a stale one and a
# permission denied; a second daemon cannot take a live socket; the socket
# goes away with the daemon.
set -uo pipefail
MEMCOORD=${1:?usage: test_status.sh MEMCOORD CTL_SEND}
CTL_SEND=${2:?usage: test_status.sh MEMCOORD CTL_SEND}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/check.sh
. "$here/lib/check.sh"

if ! command -v jq >/dev/null; then
	echo "# jq is missing (scripts/setup.sh installs it)"
	exit 77
fi

tmp=$(mktemp -d)
pid=
cleanup()
{
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# Five guests: one that grows, one idle (shrunk), one whose balloon never
# moves, one without statistics, one paused; the configuration excludes a
# sixth. Slow enough (5x) for the checks to see every state, long enough
# never to end on its own.
cat >"$tmp/status.ini" <<'EOF'
[sim]
speed = 5
duration = 3000s

[host]
memory = 8G

[defaults]
max = 2G
memory = 1G
rss = 150M
cache = 64M
workload = idle

[guest:hog]
memory = 512M
rss = 0
workload = wait 2s; alloc 20M/s to 900M; hold 3000s

[guest:idle]
[guest:stuck]
memory = 1536M
rss = 100M
stuck = yes

[guest:silent]
nostats = yes

[guest:sleeper]
paused = yes

[guest:ex]
EOF
cat >"$tmp/mc.conf" <<'EOF'
[domain:ex]
exclude = true
EOF

sock="$tmp/run/mc.sock"
jqe() { jq -e "$@" >/dev/null; }
status() { "$MEMCOORD" status --control-socket "$sock" "$@"; }

"$MEMCOORD" --sim "$tmp/status.ini" --config "$tmp/mc.conf" \
	--control-socket "$sock" >"$tmp/daemon.out" 2>"$tmp/daemon.log" &
pid=$!

if ! wait_until 20 test -S "$sock"; then
	not_ok "the daemon created its socket"
	cat "$tmp/daemon.log"
	exit 1
fi
ok "the daemon created its socket"
check "socket directory created 0700" [ "$(stat -c %a "$tmp/run")" = 700 ]
check "socket is 0600" [ "$(stat -c %a "$sock")" = 600 ]

# ---- the table -------------------------------------------------------------
# The stuck balloon is found stuck 5 simulated seconds after memcoord tries
# to shrink it; the hog grows from 2 s on.
state_of() { status --json | jq -r --arg n "$1" '.domains[] | select(.name == $n) | .state'; }
wait_until 30 eval '[ "$(state_of stuck)" = stuck ]'
hog_grown() { status --json | jqe '.domains[] | select(.name == "hog") | .grown_kib > 0'; }
wait_until 30 hog_grown

out=$(status); rc=$?
check "status exits 0" [ $rc -eq 0 ]
echo "$out" | sed 's/^/#   /'
check "header: policy and decisions" grep -qE '^memcoord .* policy balance, [0-9]+ decisions' <<<"$out"
check "header: host total 8192 MiB, reserve" grep -qE '^host: 8192 MiB total, [0-9.]+ MiB free, reserve [0-9.]+ MiB' <<<"$out"
check "column titles" grep -qE '^NAME +STATE +BALLOON +MAX +FLOOR +HEADROOM +LAST TARGET +LAST ACTION +REASON$' <<<"$out"
row() { grep -E "^$1 " <<<"$out"; }
check "hog: ok, changed by memcoord" eval 'row hog | grep -qE "^hog +ok +[0-9.]+ +2048 +200 +[0-9.]+ +[0-9.]+ +[0-9]+[smhd]* ago [0-9.]+ -> [0-9.]+ +(grow|shrink)"'
check "stuck: stuck at 1536 MiB" eval 'row stuck | grep -qE "^stuck +stuck +1536 +2048 +200 "'
check "silent: no stats, no headroom" eval 'row silent | grep -qE "^silent +no stats +1024 +2048 +200 +- "'
check "sleeper: paused" eval 'row sleeper | grep -qE "^sleeper +paused "'
check "ex: excluded, never acted on" eval 'row ex | grep -qE "^ex +excluded +1024 .* - *$"'
check "idle: ok" eval 'row idle | grep -qE "^idle +ok "'
# Aligned: every row's STATE starts in the STATE column.
col=$(awk '/^NAME /{print index($0, "STATE")}' <<<"$out")
misaligned=$(awk -v c="$col" 'f && NF { s = substr($0, c, 1); if (s == " ") print } /^NAME /{f=1}' <<<"$out")
check "columns aligned" [ -n "$col" ] && [ -z "$misaligned" ]

# ---- JSON ------------------------------------------------------------------
json=$(status --json); rc=$?
check "status --json exits 0" [ $rc -eq 0 ]
check "--json parses" jqe . <<<"$json"
check "--json: six domains" [ "$(jq '.domains | length' <<<"$json")" = 6 ]
check "--json: top-level fields" jqe '.version and .policy == "balance" and (.uptime_s > 0)
	and .decisions.count > 0 and (.decisions.latency_p99_ns >= .decisions.latency_p50_ns)
	and .host.total_kib == 8388608 and .host.free_kib > 0 and .host.reserve_kib > 0
	and .headroom.target_kib == 196608' <<<"$json"
check "--json: every domain has every field" jqe '[.domains[] | has("name", "uuid",
	"state", "balloon_kib", "max_kib", "floor_kib", "headroom_kib", "last_target_kib",
	"weight", "changes", "grown_kib", "shrunk_kib", "rejected_samples", "last_action")]
	| all' <<<"$json"
check "--json: balloons within [floor, max], held = their sum" jqe '
	([.domains[] | select(.balloon_kib != null) | .balloon_kib >= .floor_kib and .balloon_kib <= .max_kib] | all)
	and .host.held_kib == ([.domains[].balloon_kib // 0] | add)' <<<"$json"
check "--json: states" jqe '[.domains[] | {(.name): .state}] | add
	| .hog == "ok" and .idle == "ok" and .stuck == "stuck" and .silent == "no_stats"
	  and .sleeper == "paused" and .ex == "excluded"' <<<"$json"
check "--json: hog was grown; its last action has a reason" jqe '.domains[]
	| select(.name == "hog") | .changes > 0 and .grown_kib > 0
	  and .last_action.new_kib != .last_action.old_kib
	  and .last_action.new_kib == .last_target_kib
	  and (.last_action.reason | test("^(grow|shrink)"))
	  and .last_action.age_s >= 0' <<<"$json"
check "--json: the excluded and the paused guests were never changed" jqe '[.domains[]
	| select(.name == "ex" or .name == "sleeper") | .changes == 0 and .last_action == null]
	| all' <<<"$json"
check "--json: UUIDs" jqe '[.domains[].uuid | test("^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")] | all' <<<"$json"

# ---- bad requests ----------------------------------------------------------
still_answers() { status >/dev/null 2>&1 && status --json | jqe '.domains | length == 6'; }
send() { "$CTL_SEND" "$sock"; }

reply=$(printf 'bogus\n' | send)
check "unknown command: error reply" grep -q "^error: unknown command 'bogus'" <<<"$reply"
reply=$(printf 'status yaml\n' | send)
check "unknown argument: error reply" grep -q "^error: status: unknown argument 'yaml'" <<<"$reply"
reply=$(head -c 5000 /dev/zero | tr '\0' 'a' | send)
check "oversized request (5000 bytes): error reply" grep -q "^error: request too long" <<<"$reply"
reply=$(head -c 100000 /dev/urandom | send)
check "100 kB of random bytes: error reply" grep -q "^error: " <<<"$reply"
reply=$(printf 'stat\0us\n' | send)
check "binary request: error reply" grep -q "^error: binary data" <<<"$reply"
reply=$(send </dev/null)
check "empty request: error reply" grep -q "^error: empty request" <<<"$reply"
reply=$(printf 'status\nstatus json\n' | send)
check "two requests on one connection: error reply" grep -q "^error: one request per connection" <<<"$reply"
reply=$(printf 'ping\n' | send)
check "ping: pong" [ "$reply" = $'ok\npong' ]
check "the daemon still answers after bad requests" still_answers

# More clients than it serves at once: the extra one is told so.
holders=()
for _ in $(seq 8); do
	"$CTL_SEND" "$sock" --hold 2 >/dev/null &
	holders+=($!)
done
sleep 0.5
reply=$(printf 'status\n' | send)
check "a ninth client at once: error busy" grep -q "^error: busy" <<<"$reply"
wait "${holders[@]}"
check "the daemon answers once they are gone" still_answers
# A client that says nothing is dropped at the timeout (5 s) with an error.
reply=$("$CTL_SEND" "$sock" --hold 7)
check "a silent client is dropped after 5 s" [ -z "$reply" ]
check "the daemon still answers" still_answers

# ---- --watch ---------------------------------------------------------------
timeout --preserve-status -s INT 2.5 "$MEMCOORD" status --watch 0.5 --control-socket "$sock" >"$tmp/watch.out" 2>&1
rc=$?
frames=$(grep -o $'\033\[H\033\[2J' "$tmp/watch.out" | wc -l)
check "--watch 0.5: several frames in 2.5 s ($frames)" [ "$frames" -ge 3 ] && [ "$frames" -le 7 ]
check "--watch: each frame is the table" [ "$(grep -c '^NAME ' "$tmp/watch.out")" -eq "$frames" ]
check "--watch: SIGINT ends it with status 0 ($rc)" [ $rc -eq 0 ]

# ---- errors ------------------------------------------------------------------
out=$("$MEMCOORD" status --control-socket "$tmp/nope.sock" 2>&1); rc=$?
check "missing socket: exit 1, says so ($out)" eval '[ $rc -eq 1 ] && grep -q "no such socket; is the memcoord daemon running" <<<"$out"'
"$CTL_SEND" "$tmp/stale.sock" --stale
out=$("$MEMCOORD" status --control-socket "$tmp/stale.sock" 2>&1); rc=$?
check "stale socket: exit 1, says so ($out)" eval '[ $rc -eq 1 ] && grep -q "nobody is listening" <<<"$out"'
out=$("$MEMCOORD" status --bogus 2>&1); rc=$?
check "bad option: exit 2 ($out)" eval '[ $rc -eq 2 ] && grep -q "unknown option" <<<"$out"'
out=$("$MEMCOORD" status --watch abc --control-socket "$sock" 2>&1); rc=$?
check "bad --watch value: exit 2 ($out)" eval '[ $rc -eq 2 ] && grep -q "not a number of seconds" <<<"$out"'
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	chmod 755 "$tmp"
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$MEMCOORD" status --control-socket "$sock" 2>&1); rc=$?
	check "another user: permission denied, exit 1 ($out)" eval '[ $rc -eq 1 ] && grep -q "permission denied" <<<"$out"'
	chmod 700 "$tmp"
else
	echo "# not root: the permission check is skipped"
fi

# A second daemon on the same socket refuses to start; the first is unharmed.
"$MEMCOORD" --sim "$tmp/status.ini" --control-socket "$sock" >/dev/null 2>"$tmp/second.log"
rc=$?
check "a second daemon on a live socket: exit 1, says so" eval '[ $rc -eq 1 ] && grep -q "is in use" "$tmp/second.log"'
check "the first daemon still answers" still_answers

# ---- shutdown ---------------------------------------------------------------
kill -TERM "$pid"
if wait_exit "$pid" 20; then
	check "SIGTERM: exit 0" [ "$WAIT_EXIT_STATUS" -eq 0 ]
else
	not_ok "the daemon did not exit within 20 s of SIGTERM"
fi
pid=
check "the socket is removed at exit" [ ! -e "$sock" ]
errors=$(grep -E '^<[0-3]>' "$tmp/daemon.log")
check "no error-priority line in the daemon's log" [ -z "$errors" ] || printf '#   %s\n' "$errors"
check_summary
