#!/bin/bash
# Hung-call test: a guest whose QEMU stops answering holds up only its own
# collector; the other domains' collectors and the arbiter go on, and
# memcoord stops promptly on SIGTERM.
#
#   test_hung_call.sh /path/to/memcoord
#
# A private session libvirtd (tests/lib/libvirtd-session.sh) runs four real
# QEMU guests (TCG, 128 MiB, a virtio balloon, no disk and no kernel: the
# firmware finds nothing to boot and idles, which is all libvirt needs to
# talk to QEMU's monitor). memcoord runs against qemu:///session on that
# daemon with a 1 s stats period and a 1 s interval. Then hg-stuck's QEMU
# process is SIGSTOPped: libvirt's balloon statistics call for it now waits
# for a monitor reply that never comes (checked with virsh: dommemstat
# hangs), exactly as with a guest whose QEMU hangs.
#
# With a guest kernel (HC_GUEST_DIR, default tests/e2e/cache: vmlinuz and
# initrd.gz as tests/e2e/build-guest.sh makes them) hg-stuck boots Linux with
# its virtio balloon driver, so it reports balloon statistics and memcoord
# may change its balloon. memcoord starts with [balance] high = 1G, so the
# guest's ~450 MiB of headroom is no surplus; once hg-stuck hangs, a reload
# (SIGHUP) lowers high to 256M and the arbiter decides to shrink it from its
# last sample: that change, handed to hg-stuck's stuck collector, must cost
# the arbiter one bounded wait (1 s) and later decisions nothing. Without a
# kernel that part is skipped (said so in the output).
#
# Checks, while hg-stuck's collector is blocked in that call:
#   - it publishes no sample (memcoord -v logs "NAME: sample SEQ" for each),
#     while hg-b's and hg-c's samples keep coming every period and the
#     arbiter keeps making passes (its "decision:" lines);
#   - memcoord is still running and logged no error;
#   - on SIGTERM it exits within HC_STOP_BOUND_S (default 10 s; it takes
#     2 s for the collectors, then the backend's teardown), reporting the
#     collector it left behind, with status 0.
# A fourth guest, hg-gone, is stopped along with hg-stuck, then its QEMU is
# killed: memcoord must drop it and end its collector.
# The guests are resumed and destroyed at the end.
#
# Exit 0 when all checks pass, 1 when one fails, 77 (skip) when libvirtd,
# the QEMU driver or qemu-system-x86_64 is not installed. Logs are printed on
# failure, or always with HC_SHOW_LOG=1.
set -euo pipefail

MEMCOORD=${1:?usage: test_hung_call.sh /path/to/memcoord}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/libvirtd-session.sh
. "$here/lib/libvirtd-session.sh"

WAIT_S=20               # guests starting under TCG, memcoord reacting
WINDOW_S=5              # how long the others are watched during the hang
# Stopping takes about 2.1 s (2 s for collectors), and in about one run in
# six 7.1 s: libvirt's client lets one thread at a time do a connection's
# I/O, here the collector whose call hangs, and the backend's teardown call
# (virConnectUnregisterCloseCallback, seen with gdb) sometimes waits for
# that thread's next wake-up, which comes with the 5 s keepalive.
STOP_BOUND_S=${HC_STOP_BOUND_S:-10}
QEMU=${HC_QEMU:-/usr/bin/qemu-system-x86_64}
GUESTS=(hg-stuck hg-b hg-c hg-gone)
GUEST_DIR=${HC_GUEST_DIR:-$here/e2e/cache}
KERNEL=
if [ -s "$GUEST_DIR/vmlinuz" ] && [ -s "$GUEST_DIR/initrd.gz" ]; then
	KERNEL=$GUEST_DIR/vmlinuz
fi

if ! lvs_find_libvirtd; then
	echo "1..0 # SKIP libvirtd is not installed"
	exit 77
fi
if [ ! -x "$QEMU" ]; then
	echo "1..0 # SKIP $QEMU is not installed"
	exit 77
fi
if ! ls /usr/lib/*/libvirt/connection-driver/libvirt_driver_qemu.so >/dev/null 2>&1; then
	echo "1..0 # SKIP libvirt's QEMU driver is not installed"
	exit 77
fi
if [ ! -x "$MEMCOORD" ]; then
	echo "not ok - memcoord binary '$MEMCOORD' is not executable"
	exit 1
fi
MEMCOORD=$(cd "$(dirname "$MEMCOORD")" && pwd)/$(basename "$MEMCOORD")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/memcoord-hung.XXXXXX")
MC_PID=
MC_LOG=$tmp/memcoord.log
STOPPED_PID=

cleanup()
{
	local rc=$?

	set +e
	trap - EXIT INT TERM HUP
	# shellcheck disable=SC2086 # a list of pids
	[ -z "$STOPPED_PID" ] || kill -CONT $STOPPED_PID 2>/dev/null
	if [ -n "$MC_PID" ] && proc_alive "$MC_PID"; then
		kill -KILL "$MC_PID" 2>/dev/null
		wait "$MC_PID" 2>/dev/null
	fi
	if [ -n "$LVS_PID" ]; then
		for g in "${GUESTS[@]}"; do
			lvs_virsh "$URI" destroy "$g" >/dev/null 2>&1
		done
	fi
	lvs_stop
	if [ "$rc" -ne 0 ] || [ "$CHECK_FAILED" -ne 0 ] || [ -n "${HC_SHOW_LOG:-}" ]; then
		if [ -f "$MC_LOG" ]; then
			echo "# ---- memcoord log (without decision lines) ----"
			grep -v '^<7>decision: ' "$MC_LOG" | tail -n 200 | sed 's/^/# /'
			echo "# ---- end of memcoord log ----"
		fi
		lvs_dump_log | tail -n 60
		[ "$rc" -ne 0 ] || [ "$CHECK_FAILED" -eq 0 ] || rc=1
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
check_traps

mc_died()
{
	local st=0
	wait "$MC_PID" 2>/dev/null || st=$?
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

log_count()
{
	grep -cE "$1" "$MC_LOG" || true
}

# The id of memcoord's thread named $1, or nothing.
thread_id()
{
	local f
	for f in /proc/"$MC_PID"/task/*/comm; do
		if [ "$(cat "$f" 2>/dev/null)" = "$1" ]; then
			f=${f%/comm}
			printf '%s\n' "${f##*/}"
			return 0
		fi
	done
	return 1
}

now_ms()
{
	local t=$EPOCHREALTIME
	printf '%s\n' "$(( 10#${t/[.,]/} / 1000 ))"
}

guest_xml()
{
	cat >"$tmp/$1.xml" <<-EOF
	<domain type='qemu'>
	  <name>$1</name>
	  <memory unit='MiB'>$3</memory>
	  <currentMemory unit='MiB'>$3</currentMemory>
	  <vcpu>1</vcpu>
	  <os><type arch='x86_64' machine='pc'>hvm</type>$2</os>
	  <features><acpi/></features>
	  <on_poweroff>destroy</on_poweroff>
	  <devices>
	    <emulator>$QEMU</emulator>
	    <controller type='usb' model='none'/>
	    <memballoon model='virtio'><stats period='1'/></memballoon>
	  </devices>
	</domain>
	EOF
	printf '%s\n' "$tmp/$1.xml"
}

# ---- libvirtd and the guests --------------------------------------------------

lvs_start "$tmp" || bail "start a private session libvirtd"
URI=$(lvs_uri qemu /session)
ok "private session libvirtd serves $URI"
boot=
if [ -n "$KERNEL" ]; then
	# Where the session daemon's user (QEMU runs as it) can read them.
	mkdir -p "$LVS_DIR/libvirtd/vm"
	cp "$KERNEL" "$GUEST_DIR/initrd.gz" "$LVS_DIR/libvirtd/vm/"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R --reference="$LVS_DIR/libvirtd" "$LVS_DIR/libvirtd/vm"
	fi
	boot="<kernel>$LVS_DIR/libvirtd/vm/vmlinuz</kernel><initrd>$LVS_DIR/libvirtd/vm/initrd.gz</initrd>"
	boot+="<cmdline>console=ttyS0 clocksource=hpet tsc=unstable nolapic_timer quiet panic=-1 mc.work=idle</cmdline>"
	lvs_virsh "$URI" create "$(guest_xml hg-stuck "$boot" 512)" >/dev/null ||
		bail "virsh create hg-stuck (QEMU guest with $KERNEL)"
else
	echo "# no guest kernel in $GUEST_DIR (tests/e2e/build-guest.sh makes one):" \
		"hg-stuck runs firmware only and the balloon-change part is skipped"
	lvs_virsh "$URI" create "$(guest_xml hg-stuck "" 128)" >/dev/null || bail "virsh create hg-stuck (QEMU guest)"
fi
for g in hg-b hg-c hg-gone; do
	lvs_virsh "$URI" create "$(guest_xml "$g" "" 128)" >/dev/null || bail "virsh create $g (QEMU guest)"
done
ok "QEMU guests ${GUESTS[*]} running${KERNEL:+ (hg-stuck boots Linux)}"
guest_stats()
{
	lvs_virsh "$URI" dommemstat hg-stuck 2>/dev/null | grep -q '^usable '
}
if [ -n "$KERNEL" ]; then
	wait_until 60 guest_stats || bail "hg-stuck reports no balloon statistics after 60 s"
	ok "hg-stuck's balloon driver reports statistics"
fi
qemu_of()
{
	local p
	p=$(pgrep -f -- "-name guest=$1," | head -n 1 || true)
	if [ -z "$p" ] || ! proc_alive "$p"; then
		bail "cannot find $1's QEMU process"
	fi
	printf '%s\n' "$p"
}
qemu_pid=$(qemu_of hg-stuck)
gone_pid=$(qemu_of hg-gone)

# ---- memcoord -------------------------------------------------------------------

# high = 1G: the booted guest's headroom is no surplus until the reload.
write_config()
{
	printf '[balance]\nhigh = %s\n' "$1" >"$tmp/memcoord.conf"
}
write_config 1G
"$MEMCOORD" -c "$URI" --config "$tmp/memcoord.conf" --stats-period 1 --interval 1 \
	--host-reserve 0 -v --control-socket none >"$MC_LOG" 2>&1 &   # not the host's /run/memcoord
MC_PID=$!
wait_mc "$WAIT_S" grep -q '^<[0-9]>connected to ' "$MC_LOG" ||
	bail "memcoord did not log 'connected to' within ${WAIT_S} s"
all_threads()
{
	local g
	for g in "${GUESTS[@]}"; do
		thread_id "mc/$g" >/dev/null || return 1
	done
	thread_id mc-arbiter >/dev/null
}
wait_mc "$WAIT_S" all_threads || bail "memcoord has no collector thread for each guest after ${WAIT_S} s"
ok "memcoord collects ${GUESTS[*]}"
sleep 2     # a few ordinary periods first
proc_alive "$MC_PID" || mc_died "before the hang"

# ---- the hang ---------------------------------------------------------------------

if [ -n "$KERNEL" ]; then
	check "memcoord has not changed hg-stuck's balloon before the reload" \
		test "$(log_count '^<6>set hg-stuck: ')" -eq 0 || true
	write_config 256M
fi
kill -STOP "$qemu_pid" "$gone_pid"
STOPPED_PID="$qemu_pid $gone_pid"
ok "the QEMU processes of hg-stuck (pid $qemu_pid) and hg-gone (pid $gone_pid) stopped"
if [ -n "$KERNEL" ]; then
	# Right away: the arbiter decides to shrink hg-stuck on its last
	# sample while its collector is idle (the change itself hangs) or
	# just blocked in a statistics call (the change waits behind it).
	kill -HUP "$MC_PID"
fi

# hg-stuck's collector blocks in its next statistics call: no new sample
# for two periods.
sample_re() { printf '^<7>%s: sample [0-9]+$' "$1"; }
n=$(log_count "$(sample_re hg-stuck)")
stuck_blocked()
{
	local m
	m=$(log_count "$(sample_re hg-stuck)")
	if [ "$m" != "$n" ]; then
		n=$m
		quiet=0
		return 1
	fi
	quiet=$((quiet + 1))
	[ "$quiet" -ge 25 ]
}
quiet=0
wait_mc "$WAIT_S" stuck_blocked || bail "hg-stuck's collector never blocked"
ok "hg-stuck's collector is blocked in a libvirt call (no sample for 2.5 s)"

# The call is genuinely hung in libvirt, not slow in memcoord.
t0=$(now_ms)
if XDG_CONFIG_HOME="$LVS_DIR/client/config" XDG_CACHE_HOME="$LVS_DIR/client/cache" \
	timeout 3 virsh -q -c "$URI" dommemstat hg-stuck >/dev/null 2>&1; then
	not_ok "virsh dommemstat hg-stuck answered: the guest is not hung"
else
	ok "virsh dommemstat hg-stuck hangs too (gave up after $(( $(now_ms) - t0 )) ms)"
fi

if [ -n "$KERNEL" ]; then
	gave_up()
	{
		grep -qE '^<4>setting hg-stuck: ' "$MC_LOG"
	}
	if wait_mc 10 gave_up; then
		ok "memcoord decided to shrink hg-stuck after the reload, and gave the change up"
	else
		not_ok "no given-up balloon change for hg-stuck within 10 s of the reload"
	fi
fi

declare -A seq0
for g in "${GUESTS[@]}"; do
	seq0[$g]=$(log_count "$(sample_re "$g")")
done
passes0=$(log_count '^<7>decision: ')
sleep "$WINDOW_S"
proc_alive "$MC_PID" || mc_died "during the hang"
for g in hg-b hg-c; do
	d=$(( $(log_count "$(sample_re "$g")") - seq0[$g] ))
	check "$g's samples keep coming while hg-stuck hangs ($d in ${WINDOW_S} s)" \
		test "$d" -ge $((WINDOW_S - 1)) || true
done
for g in hg-stuck hg-gone; do
	d=$(( $(log_count "$(sample_re "$g")") - seq0[$g] ))
	check "$g's collector stays blocked (samples: $d)" test "$d" -eq 0 || true
done
passes=$(( $(log_count '^<7>decision: ') - passes0 ))
check "the arbiter keeps deciding ($passes passes in ${WINDOW_S} s at a 1 s interval)" \
	test "$passes" -ge $((WINDOW_S - 1)) || true
if [ -n "$KERNEL" ]; then
	# How the shrink of hg-stuck ended: the change hung (-EINPROGRESS; the
	# domain then counts as changed and is left alone), or it waited
	# behind the hung statistics call and was withdrawn (-ETIMEDOUT; later
	# decisions skip it at once), each after one bounded wait.
	HUNG_RE='^<4>setting hg-stuck: .* MiB: no answer from the hypervisor within [0-9]+ ms; the change may still take effect$'
	WITHDRAWN_RE='^<4>setting hg-stuck: .* failed: the domain.s collector is in a hypervisor call that has not returned within [0-9]+ ms$'
	BUSY_RE='^<7>not setting hg-stuck: a hypervisor call for the domain has not returned for [0-9]+ ms$'
	hung=$(log_count "$HUNG_RE")
	withdrawn=$(log_count "$WITHDRAWN_RE")
	busy=$(log_count "$BUSY_RE")
	echo "# shrink of hg-stuck after the reload: hung $hung, withdrawn $withdrawn, skipped at once $busy"
	check "the arbiter waited for hg-stuck's balloon change once (hung $hung + withdrawn $withdrawn)" \
		test $((hung + withdrawn)) -eq 1 || true
	if [ "$withdrawn" -eq 1 ]; then
		check "later decisions skip hg-stuck at once ($busy skips)" test "$busy" -ge 1 || true
	fi
	check "hg-stuck's balloon was not reported changed" \
		test "$(log_count '^<6>set hg-stuck: ')" -eq 0 || true
fi
errors=$(grep -E '^<[0-3]>' "$MC_LOG" || true)
check "no error logged during the hang${errors:+: $errors}" test -z "$errors" || true

# ---- a hung guest's QEMU killed ------------------------------------------------

# The call blocked on its monitor fails, libvirt reports the domain stopped,
# and memcoord drops it and ends its collector. (virsh destroy would do the
# same after 10 s: libvirt waits that long for a SIGTERM first.)
kill -KILL "$gone_pid"
gone_pid=
STOPPED_PID=$qemu_pid
gone_dropped()
{
	grep -qE '^<6>hg-gone: domain stopped; dropped$' "$MC_LOG" && ! thread_id mc/hg-gone >/dev/null
}
if wait_mc 10 gone_dropped; then
	ok "hg-gone's QEMU killed while hung: memcoord dropped it and its collector ended"
else
	not_ok "hg-gone's QEMU killed while hung: not dropped, or its collector still runs, after 10 s"
fi

# ---- stopping ----------------------------------------------------------------------

t0=$(now_ms)
kill -TERM "$MC_PID"
if wait_exit "$MC_PID" 30; then
	ms=$(( $(now_ms) - t0 ))
	MC_PID=
	echo "# SIGTERM -> exit: $ms ms (status $WAIT_EXIT_STATUS);" \
		"$(sed -n 's/^<7>stopped in /memcoord stopped in /p' "$MC_LOG")"
	check "memcoord exits within ${STOP_BOUND_S} s of SIGTERM with one call hung (${ms} ms)" \
		test "$ms" -le $((STOP_BOUND_S * 1000)) || true
	check "memcoord exits with status 0 (got $WAIT_EXIT_STATUS)" test "$WAIT_EXIT_STATUS" -eq 0 || true
else
	not_ok "memcoord still running 30 s after SIGTERM"
fi
check "memcoord reported the collector it left behind" \
	grep -qE '^<4>hg-stuck: a hypervisor call has not returned; stopping without it$' "$MC_LOG" || true

kill -CONT "$qemu_pid"
STOPPED_PID=
errors=$(grep -E '^<[0-3]>' "$MC_LOG" || true)
check "no error logged in the whole run${errors:+: $errors}" test -z "$errors" || true
check_summary
