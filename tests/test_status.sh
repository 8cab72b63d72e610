#!/usr/bin/env bash
# The control socket, `memcoord status` and the metrics endpoint on a
# simulated host: the socket's
# directory and mode; the table and the JSON document name every guest with
# plausible figures and the right state (ok, stuck, no stats, paused,
# excluded); malformed, oversized, binary, empty and excess requests get an
# error reply and the daemon answers afterwards; --watch refreshes until
# SIGINT; clear errors (exit 1) for a missing socket, a stale one and a
# permission denied; a second daemon cannot take a live socket; the socket
# goes away with the daemon. Metrics: the exposition format's shape, real
# values, 404 and 405, and the loopback rule.
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

# With metrics on a free loopback port (a few tries: the port is random).
started=0
for _ in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 40000))
	"$MEMCOORD" --sim "$tmp/status.ini" --config "$tmp/mc.conf" \
		--control-socket "$sock" --metrics-listen "$port" \
		>"$tmp/daemon.out" 2>"$tmp/daemon.log" &
	pid=$!
	if wait_until 20 eval 'test -S "$sock" || proc_gone $pid'; then
		if test -S "$sock"; then
			started=1
			break
		fi
	fi
	wait "$pid" 2>/dev/null
	pid=
	grep -q "cannot listen" "$tmp/daemon.log" || break
done
if [ $started -ne 1 ]; then
	not_ok "the daemon created its socket"
	cat "$tmp/daemon.log"
	exit 1
fi
ok "the daemon created its socket"
check "metrics announced on 127.0.0.1:$port" grep -q "metrics on http://127.0.0.1:$port/metrics" "$tmp/daemon.log"
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

# ---- metrics ---------------------------------------------------------------
url="http://127.0.0.1:$port/metrics"
if command -v curl >/dev/null; then
	hdr=$(curl -s -o "$tmp/metrics" -D - "$url"); rc=$?
	check "GET /metrics: 200" eval '[ $rc -eq 0 ] && grep -q "^HTTP/1.1 200" <<<"$hdr"'
	check "content type: text exposition 0.0.4" grep -qi "^Content-Type: text/plain; version=0.0.4" <<<"$hdr"
	# Every line is a HELP, a TYPE, or a sample: name{labels} number.
	bad=$(grep -vE '^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$|^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (-?[0-9.]+(e[-+]?[0-9]+)?|\+Inf|NaN)$' "$tmp/metrics")
	check "exposition format: every line well-formed" [ -z "$bad" ] || printf '#   %s\n' "$bad"
	# A family's TYPE once, before its samples.
	bad=$(awk '/^# TYPE /{ if (seen[$3]++) print "twice: " $3; t[$3] = 1; next }
		/^#/{next}
		{ n = $1; sub(/\{.*/, "", n); b = n; sub(/_(bucket|sum|count)$/, "", b);
		  if (!t[n] && !t[b]) print "no TYPE before: " n }' "$tmp/metrics")
	check "exposition format: TYPE before samples, once" [ -z "$bad" ] || printf '#   %s\n' "$bad"
	metric() { awk -v m="$1" '$1 == m { print $2 }' "$tmp/metrics"; }
	check "memcoord_domains 6" [ "$(metric memcoord_domains)" = 6 ]
	check "memcoord_host_memory_bytes = 8 GiB" [ "$(metric memcoord_host_memory_bytes)" = 8589934592 ]
	check "build info" grep -qE '^memcoord_build_info\{version="[0-9.]+"\} 1$' "$tmp/metrics"
	check "stuck's state is stuck" grep -qE '^memcoord_domain_state\{domain="stuck",uuid="[0-9a-f-]{36}",state="stuck"\} 1$' "$tmp/metrics"
	check "silent's state is no_stats" grep -qE '^memcoord_domain_state\{domain="silent",.*state="no_stats"\} 1$' "$tmp/metrics"
	check "stuck's balloon is 1536 MiB" grep -qE '^memcoord_domain_balloon_bytes\{domain="stuck",[^}]*\} 1610612736$' "$tmp/metrics"
	check "silent has no headroom series" eval '! grep -q "^memcoord_domain_headroom_bytes{domain=\"silent\"" "$tmp/metrics"'
	check "hog: changes and grown bytes counted" awk '
		/^memcoord_domain_changes_total\{domain="hog"/ { c = $2 }
		/^memcoord_domain_grown_bytes_total\{domain="hog"/ { g = $2 }
		END { exit !(c > 0 && g > 0) }' "$tmp/metrics"
	check "histogram: cumulative buckets, +Inf = count = decisions" awk '
		/^memcoord_decision_duration_seconds_bucket/ { if ($2 < last) bad = 1; last = $2; inf = $2 }
		/^memcoord_decision_duration_seconds_count / { cnt = $2 }
		/^memcoord_decisions_total / { dec = $2 }
		END { exit !(!bad && inf == cnt && cnt == dec && cnt > 0) }' "$tmp/metrics"
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/other")
	check "GET /other: 404 ($code)" [ "$code" = 404 ]
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x=1 "$url")
	check "POST /metrics: 405 ($code)" [ "$code" = 405 ]
	code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$url")
	check "DELETE /metrics: 405 ($code)" [ "$code" = 405 ]
else
	echo "# curl is missing (scripts/setup.sh installs it): metrics over HTTP not checked"
fi
out=$("$MEMCOORD" --sim "$tmp/status.ini" --metrics-listen 0.0.0.0:9 --check-config 2>&1); rc=$?
check "a non-loopback metrics address is refused ($rc)" eval '[ $rc -eq 2 ] && grep -q "not a loopback address" <<<"$out"'
"$MEMCOORD" --sim "$tmp/status.ini" --metrics-listen 0.0.0.0:9 --metrics-allow-remote --check-config >/dev/null 2>&1
check "... unless --metrics-allow-remote" [ $? -eq 0 ]
out=$("$MEMCOORD" --sim "$tmp/status.ini" --metrics-listen 127.0.0.1:99999 --check-config 2>&1); rc=$?
check "a bad metrics port is refused ($rc)" eval '[ $rc -eq 2 ] && grep -q "port 1..65535" <<<"$out"'

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
for i in $(seq 8); do
	"$CTL_SEND" "$sock" --hold 3 >/dev/null 2>"$tmp/hold.$i" &
	holders+=($!)
done
# Connections are accepted in order: once the eight are queued, a ninth
# finds every slot taken.
all_connected() { [ "$(cat "$tmp"/hold.* | grep -c connected)" -eq 8 ]; }
wait_until 10 all_connected
reply=$(printf 'status\n' | send)
check "a ninth client at once: error busy" grep -q "^error: busy" <<<"$reply"
wait "${holders[@]}"
check "the daemon answers once they are gone" still_answers
# A client that says nothing is dropped at the timeout (5 s) with an error.
reply=$("$CTL_SEND" "$sock" --hold 7 2>/dev/null)
check "a silent client is dropped after 5 s" [ -z "$reply" ]
check "the daemon still answers" still_answers

# ---- --watch ---------------------------------------------------------------
# SIGINT only once the first frame is out: its handler is installed by
# then (a background job starts with SIGINT ignored, and a signal sent
# earlier would be lost on a slow, sanitized start).
"$MEMCOORD" status --watch 0.5 --control-socket "$sock" >"$tmp/watch.out" 2>&1 &
wpid=$!
for _ in $(seq 100); do
	grep -q '^NAME ' "$tmp/watch.out" 2>/dev/null && break
	sleep 0.1
done
sleep 2
kill -INT "$wpid" 2>/dev/null
for _ in $(seq 50); do
	kill -0 "$wpid" 2>/dev/null || break
	sleep 0.1
done
kill -KILL "$wpid" 2>/dev/null
wait "$wpid"
rc=$?
frames=$(grep -o $'\033\[H\033\[2J' "$tmp/watch.out" | wc -l)
check "--watch 0.5: several frames in about 2 s ($frames)" [ "$frames" -ge 3 ] && [ "$frames" -le 7 ]
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
