# shellcheck shell=bash source-path=SCRIPTDIR
# memcoord e2e — the lab: a libvirt daemon, TCG guests, memcoord, a
# timeline, and the analysis of what happened.  Sourced by run.sh (after
# tests/lib/libvirtd-session.sh); sets no shell options.
#
# Daemon (once per scenario)
#   lab_daemon_start          session libvirtd as $LVS_USER in $LAB_TMP (or
#                             system mode, see lab_choose_mode); sets LAB_URI
#   lab_daemon_restart        stop and start it again (guests keep running)
#   lab_daemon_stop
# Guests
#   lab_define NAME WORK [EXTRA_CMDLINE]   define a guest running mc.work=WORK
#   lab_start NAME...                      start them
#   lab_destroy NAME                       destroy one (the run goes on)
#   lab_go NAME...                         start their workloads (each
#                                          guest's init waits for this)
#   lab_wait_ready SECS NAME...            booted, balloon at its start size,
#                                          statistics flowing (or no driver)
# memcoord
#   lab_memcoord_start ARGS...             run it against LAB_URI, log and
#                                          trace into LAB_OUT
#   lab_memcoord_stop                      SIGTERM, bounded; sets LAB_MC_STATUS
# Waiting and the timeline
#   lab_wait SECS CMD...                   poll CMD (0.5 s) while watching the
#                                          serial logs and memcoord's log
#   lab_sleep SECS                         the same, for a fixed time
#   lab_note TEXT                          a line in the timeline
#   lab_serial_has NAME REGEX              the guest's serial log matches
#   lab_when NAME REGEX                    host time (s since the scenario's
#                                          memcoord start) of the first match
#                                          in the timeline, or empty
# Ending
#   lab_end                                stop everything the scenario
#                                          started, keep the logs in LAB_OUT

LAB_MAX_MIB=${LAB_MAX_MIB:-2048}
LAB_CUR_MIB=${LAB_CUR_MIB:-512}
LAB_KPARAMS="console=ttyS0 clocksource=hpet tsc=unstable nolapic_timer quiet panic=-1"

LAB_MODE=            # session | system-ours | system-theirs
LAB_TMP=             # scenario's temporary folder (removed by lab_end)
LAB_OUT=             # scenario's output folder (kept)
LAB_URI=
LAB_VM=              # kernel, initrd, serial logs (readable by QEMU's user)
LAB_GUESTS=()        # defined by this scenario
LAB_MC_PID=
LAB_MC_STATUS=
LAB_WATCH_PID=
LAB_T0=              # EPOCHREALTIME at the scenario's start
LAB_EMULATOR=

lab_log() { printf '# %s\n' "$*"; }

lab_now()
{
	local now=${EPOCHREALTIME/,/.}
	awk -v a="$now" -v b="${LAB_T0:-$now}" 'BEGIN { printf "%.1f\n", a - b }'
}

lab_note()
{
	[ -n "$LAB_OUT" ] || return 0
	printf '%s runner %s\n' "$(lab_now)" "$*" >>"$LAB_OUT/timeline.txt"
}

# ---- the libvirt daemon -----------------------------------------------------

lab_virsh()
{
	if [ "$LAB_MODE" = session ]; then
		lvs_virsh "$LAB_URI" "$@"
	else
		timeout 30 virsh -q -c "$LAB_URI" "$@"
	fi
}

# The session daemon's virtlogd (spawned by libvirtd, exits 120 s after its
# last client): stopped by the pid it wrote.
_lab_stop_session_virtlogd()
{
	local pidf=$LAB_TMP/libvirtd/run/libvirt/virtlogd.pid pid
	[ -f "$pidf" ] || return 0
	pid=$(cat "$pidf" 2>/dev/null)
	case $pid in '' | *[!0-9]*) return 0 ;; esac
	if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = virtlogd ]; then
		kill -TERM "$pid" 2>/dev/null
		wait_until 5 proc_gone "$pid" || kill -KILL "$pid" 2>/dev/null
	fi
	return 0
}

lab_daemon_start()
{
	case $LAB_MODE in
	session)
		lvs_start "$LAB_TMP" || return 1
		LAB_URI=$(lvs_uri qemu /session)
		;;
	system-ours)
		_lab_system_start || return 1
		LAB_URI=qemu:///system
		;;
	system-theirs)
		LAB_URI=qemu:///system
		;;
	esac
	lab_note "libvirtd up ($LAB_MODE, $LAB_URI)"
}

lab_daemon_stop()
{
	case $LAB_MODE in
	session)
		lvs_stop
		_lab_stop_session_virtlogd
		;;
	system-ours)
		_lab_system_stop_daemons
		;;
	esac
	return 0
}

# Stop the daemon (the guests' QEMU processes go on) and start it again on
# the same state; the new daemon reconnects to the running guests.
lab_daemon_restart()
{
	case $LAB_MODE in
	session)
		lvs_stop
		# A fresh log for the new daemon; keep the old one.
		[ -f "$LVS_LOG" ] && mv "$LVS_LOG" "$LVS_LOG.1"
		lvs_start "$LAB_TMP" || return 1
		;;
	system-ours)
		_lab_system_stop_libvirtd
		_lab_system_start_libvirtd || return 1
		;;
	*)
		return 1
		;;
	esac
	lab_note "libvirtd restarted"
}

# ---- system mode (LAB.md), only where session mode cannot run QEMU ----------

_lab_sys_pid()
{
	local pid
	pid=$(cat "$1" 2>/dev/null) || return 1
	case $pid in '' | *[!0-9]*) return 1 ;; esac
	proc_alive "$pid" || return 1
	printf '%s\n' "$pid"
}

_lab_system_start_libvirtd()
{
	libvirtd -d -p /run/libvirtd.pid || return 1
	wait_until 20 timeout 10 virsh -q -c qemu:///system uri >/dev/null 2>&1
}

_lab_system_stop_libvirtd()
{
	local pid
	pid=$(_lab_sys_pid /run/libvirtd.pid) || return 0
	kill -TERM "$pid"
	wait_until 10 proc_gone "$pid" || kill -KILL "$pid" 2>/dev/null
	return 0
}

_lab_system_stop_daemons()
{
	local pid
	_lab_system_stop_libvirtd
	pid=$(_lab_sys_pid /run/virtlogd.pid) || return 0
	kill -TERM "$pid"
	wait_until 5 proc_gone "$pid" || kill -KILL "$pid" 2>/dev/null
	return 0
}

_lab_system_start()
{
	[ "$(id -u)" -eq 0 ] || { echo "# system mode needs root" >&2; return 1; }
	_lab_system_prepare || return 1
	if ! _lab_sys_pid /run/virtlogd.pid >/dev/null; then
		virtlogd -d -p /run/virtlogd.pid || return 1
	fi
	_lab_system_start_libvirtd
}

# Users, groups, folders and qemu.conf as LAB.md lists them.  Everything
# created or replaced (and what the system daemon creates where nothing
# was) is recorded in $LAB_STATE_DIR/undo, reverted by lab_system_undo at
# the end of the lab.
LAB_SYS_PATHS=(/etc/libvirt/qemu /etc/libvirt/secrets /etc/libvirt/nwfilter
	/etc/libvirt/storage /etc/libvirt/nodedev /var/lib/libvirt /var/cache/libvirt
	/var/log/libvirt /run/libvirt /run/libvirtd.pid /run/virtlogd.pid)
_lab_system_prepare()
{
	local undo=$LAB_STATE_DIR/undo p
	[ -f "$LAB_STATE_DIR/prepared" ] && return 0
	: >"$undo"
	getent group kvm >/dev/null || { groupadd -r kvm && echo "groupdel kvm" >>"$undo"; }
	if ! getent passwd libvirt-qemu >/dev/null; then
		getent group libvirt-qemu >/dev/null || { groupadd -r libvirt-qemu && echo "! getent group libvirt-qemu >/dev/null || groupdel libvirt-qemu" >>"$undo"; }
		useradd -r -M -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu &&
			echo "userdel libvirt-qemu" >>"$undo"
	fi
	for p in "${LAB_SYS_PATHS[@]}"; do
		[ -e "$p" ] || echo "rm -rf $p" >>"$undo"
	done
	mkdir -p /var/log/libvirt /var/lib/libvirt/qemu /run/libvirt || return 1
	if [ -f /etc/libvirt/qemu.conf ]; then
		cp -p /etc/libvirt/qemu.conf "$LAB_STATE_DIR/qemu.conf.orig" &&
			echo "cp -p $LAB_STATE_DIR/qemu.conf.orig /etc/libvirt/qemu.conf" >>"$undo"
	else
		mkdir -p /etc/libvirt && echo "rm -f /etc/libvirt/qemu.conf" >>"$undo"
	fi
	cat >/etc/libvirt/qemu.conf <<-'EOF'
	# written by memcoord's e2e lab (tests/e2e); restored when it ends
	user = "root"
	group = "root"
	dynamic_ownership = 0
	security_driver = "none"
	cgroup_controllers = [ ]
	EOF
	touch "$LAB_STATE_DIR/prepared"
}

lab_system_undo()
{
	local undo=$LAB_STATE_DIR/undo line
	[ -f "$LAB_STATE_DIR/prepared" ] || return 0
	_lab_system_stop_daemons
	# Newest first (the daemons are stopped: their files may go).
	tac "$undo" | while IFS= read -r line; do
		eval "$line" || echo "# system mode undo failed: $line" >&2
	done
	rm -f "$LAB_STATE_DIR/prepared" "$undo"
}

# ---- guests -----------------------------------------------------------------

# NAME WORK [EXTRA_CMDLINE [CUR_MIB]]
lab_define()
{
	local name=$1 work=$2 extra=${3:-} cur=${4:-$LAB_CUR_MIB} cmdline xml
	cmdline="$LAB_KPARAMS mc.go"
	[ -n "$work" ] && cmdline="$cmdline mc.work=$work"
	[ -n "$extra" ] && cmdline="$cmdline $extra"
	xml=$LAB_TMP/$name.xml
	sed -e "s|@NAME@|$name|" -e "s|@MAX_MIB@|$LAB_MAX_MIB|" -e "s|@CUR_MIB@|$cur|" \
		-e "s|@KERNEL@|$LAB_VM/vmlinuz|" -e "s|@INITRD@|$LAB_VM/initrd.gz|" \
		-e "s|@CMDLINE@|$cmdline|" -e "s|@SERIAL@|$LAB_VM/$name.serial.log|" \
		-e "s|@CONTROL@|$LAB_VM/$name.ctl|" \
		-e "s|@EMULATOR@|$LAB_EMULATOR|" -e "s|@BALLOON@|virtio|" \
		-e "s|@BALLOON_STATS@|<stats period='1'/>|" \
		"$LAB_HERE/domain.xml.in" >"$xml" || return 1
	# The second serial port: QEMU reads NAME.ctl.in (the runner's "go").
	rm -f "$LAB_VM/$name.ctl.in" "$LAB_VM/$name.ctl.out"
	mkfifo -m 0600 "$LAB_VM/$name.ctl.in" "$LAB_VM/$name.ctl.out" || return 1
	chown "$(stat -c %u:%g "$LAB_VM")" "$LAB_VM/$name.ctl.in" "$LAB_VM/$name.ctl.out" || return 1
	if ! lab_virsh define "$xml" >/dev/null; then
		echo "# virsh define $name failed" >&2
		return 1
	fi
	LAB_GUESTS+=("$name")
	printf '%s\n' "$cmdline" >"$LAB_OUT/$name.cmdline"
}

lab_start()
{
	local name
	for name in "$@"; do
		lab_virsh start "$name" >/dev/null || { echo "# virsh start $name failed" >&2; return 1; }
		lab_note "started $name"
	done
}

# NAME...: let their workloads start (init waits for "go" on ttyS1).
lab_go()
{
	local name
	for name in "$@"; do
		# shellcheck disable=SC2016 # $1 is the inner shell's
		if ! timeout 5 sh -c 'printf "go\n" >"$1"' _ "$LAB_VM/$name.ctl.in"; then
			echo "# cannot send go to $name" >&2
			return 1
		fi
		lab_note "go $name"
	done
}

lab_destroy()
{
	lab_virsh destroy "$1" >/dev/null || return 1
	lab_note "destroyed $1"
}

lab_serial()
{
	printf '%s\n' "$LAB_VM/$1.serial.log"
}

lab_serial_has()
{
	grep -qaE -- "$2" "$(lab_serial "$1")" 2>/dev/null
}

# "KEY VALUE" lines of virsh dommemstat, KiB.
lab_memstat()
{
	lab_virsh dommemstat "$1" 2>/dev/null
}

_lab_ready_one()
{
	local name=$1 st
	lab_serial_has "$name" '^MC-WAIT-GO' || return 1
	if lab_serial_has "$name" '^MC-BALLOON-SKIPPED'; then
		return 0
	fi
	lab_serial_has "$name" '^MC-BALLOON-LOADED' || return 1
	st=$(lab_memstat "$name") || return 1
	# Statistics flow, the balloon reached its start size, and the guest
	# reported since (QEMU keeps the last report: one from before the
	# balloon inflated shows more memory than the balloon holds, which
	# memcoord rightly rejects with a warning).
	awk -v cur=$((LAB_CUR_MIB * 1024)) '{ v[$1] = $2 }
		END { exit !(("usable" in v) && ("available" in v) && v["actual"] <= cur + 8192 &&
			v["usable"] <= v["actual"] && v["available"] <= v["actual"]) }' <<<"$st"
}

_lab_all_ready()
{
	local name
	for name in "$@"; do
		_lab_ready_one "$name" || return 1
	done
}

lab_wait_ready()
{
	local secs=$1
	shift
	if lab_wait "$secs" _lab_all_ready "$@"; then
		lab_note "ready: $*"
		return 0
	fi
	for name in "$@"; do
		_lab_ready_one "$name" && continue
		echo "# $name is not ready after $secs s; its serial log:" >&2
		sed 's/^/#   /' "$(lab_serial "$name")" >&2 2>/dev/null
		echo "#   dommemstat: $(lab_memstat "$name" | tr '\n' ' ')" >&2
	done
	return 1
}

# ---- the timeline: serial logs and memcoord's log, stamped with host time ---

# A background loop that appends every new line of the watched files to
# timeline.txt as "SECONDS SOURCE LINE" (SECONDS since LAB_T0).  Only
# complete lines are taken; files may appear later.
_lab_watch_loop()
{
	local -A seen=()
	local f src n o now
	while :; do
		for f in "$LAB_VM"/*.serial.log "$LAB_OUT/memcoord.log"; do
			[ -f "$f" ] || continue
			# Complete lines only (wc -l counts newlines).
			n=$(wc -l <"$f" 2>/dev/null) || continue
			o=${seen[$f]:-0}
			[ "$n" -gt "$o" ] || continue
			seen[$f]=$n
			src=${f##*/}
			src=${src%.serial.log}
			src=${src%.log}
			now=$(lab_now)
			sed -n "$((o + 1)),${n}p" "$f" | tr -d '\r\000' |
				awk -v t="$now" -v s="$src" 'NF { print t, s, $0 }' >>"$LAB_OUT/timeline.txt"
		done
		sleep 0.5
	done
}

lab_watch_start()
{
	_lab_watch_loop &
	LAB_WATCH_PID=$!
}

lab_watch_stop()
{
	if [ -n "$LAB_WATCH_PID" ]; then
		kill -TERM "$LAB_WATCH_PID" 2>/dev/null
		wait "$LAB_WATCH_PID" 2>/dev/null
		LAB_WATCH_PID=
	fi
}

# SOURCE REGEX: timeline seconds of the first matching line, or nothing.
lab_when()
{
	awk -v src="$1" -v re="$2" '$2 == src { l = $0; sub(/^[^ ]+ [^ ]+ /, "", l); if (l ~ re) { print $1; exit } }' \
		"$LAB_OUT/timeline.txt" 2>/dev/null
}

# ---- memcoord ---------------------------------------------------------------

lab_memcoord_start()
{
	# Its own control socket: never the system's /run/memcoord one.
	"$MEMCOORD" -c "$LAB_URI" --trace "$LAB_OUT/trace.csv" \
		--control-socket "$LAB_OUT/memcoord.sock" "$@" >"$LAB_OUT/memcoord.log" 2>&1 &
	LAB_MC_PID=$!
	printf '%s\n' "$MEMCOORD -c $LAB_URI --trace $LAB_OUT/trace.csv --control-socket $LAB_OUT/memcoord.sock $*" \
		>"$LAB_OUT/memcoord.cmd"
	lab_note "memcoord started (pid $LAB_MC_PID): $*"
	if ! wait_until 10 grep -q '^<[0-9]>connected to ' "$LAB_OUT/memcoord.log"; then
		echo "# memcoord did not connect within 10 s" >&2
		return 1
	fi
}

lab_mc_alive()
{
	[ -n "$LAB_MC_PID" ] && proc_alive "$LAB_MC_PID"
}

lab_memcoord_stop()
{
	[ -n "$LAB_MC_PID" ] || return 0
	# What `memcoord status` showed last, for whoever looks into a run.
	proc_alive "$LAB_MC_PID" &&
		timeout 5 "$MEMCOORD" status --control-socket "$LAB_OUT/memcoord.sock" \
			>"$LAB_OUT/status.txt" 2>&1
	LAB_MC_STATUS=
	if proc_alive "$LAB_MC_PID"; then
		kill -TERM "$LAB_MC_PID" 2>/dev/null
		if ! wait_exit "$LAB_MC_PID" 10; then
			kill -KILL "$LAB_MC_PID" 2>/dev/null
			wait "$LAB_MC_PID" 2>/dev/null
			LAB_MC_STATUS=killed
			LAB_MC_PID=
			printf '%s\n' "$LAB_MC_STATUS" >"$LAB_OUT/memcoord.status"
			return 1
		fi
		LAB_MC_STATUS=$WAIT_EXIT_STATUS
	else
		wait "$LAB_MC_PID" 2>/dev/null
		LAB_MC_STATUS="died ($?)"
	fi
	LAB_MC_PID=
	printf '%s\n' "$LAB_MC_STATUS" >"$LAB_OUT/memcoord.status"
	lab_note "memcoord stopped ($LAB_MC_STATUS)"
}

# ---- waiting ----------------------------------------------------------------

LAB_WAIT_DIED=0

# SECS CMD...: poll CMD every 0.5 s; status 1 on timeout, or at once when
# memcoord (if started) has died (LAB_WAIT_DIED=1).
lab_wait()
{
	local secs=$1 i
	shift
	LAB_WAIT_DIED=0
	for ((i = 0; i < secs * 2; i++)); do
		"$@" && return 0
		if [ -n "$LAB_MC_PID" ] && ! proc_alive "$LAB_MC_PID"; then
			LAB_WAIT_DIED=1
			return 1
		fi
		sleep 0.5
	done
	"$@"
}

lab_sleep()
{
	lab_wait "$1" false
	[ "$LAB_WAIT_DIED" -eq 0 ]
}

# ---- scenario frame -----------------------------------------------------------

# NAME: a fresh temporary folder, output folder and daemon.
lab_begin()
{
	LAB_T0=${EPOCHREALTIME/,/.}
	LAB_OUT=$LAB_OUT_ROOT/$1
	rm -rf "$LAB_OUT"
	mkdir -p "$LAB_OUT"
	: >"$LAB_OUT/timeline.txt"
	LAB_TMP=$(mktemp -d /tmp/mc-e2e.XXXXXX) || return 1
	LAB_GUESTS=()
	LAB_VM=$LAB_TMP/vm
	mkdir -p "$LAB_VM"
	cp "$LAB_KERNEL" "$LAB_VM/vmlinuz" && cp "$LAB_INITRD" "$LAB_VM/initrd.gz" || return 1
	chmod 0755 "$LAB_VM" && chmod 0644 "$LAB_VM/vmlinuz" "$LAB_VM/initrd.gz"
	if [ "$LAB_MODE" = session ] && [ "$(id -u)" -eq 0 ]; then
		# QEMU runs as the daemon's user and writes the serial logs here.
		chown "$(id -u "$LVS_USER" 2>/dev/null || echo 65534):$(id -g "$LVS_USER" 2>/dev/null || echo 65534)" "$LAB_VM"
	elif [ "$LAB_MODE" = system-theirs ]; then
		# A system daemon set up by others may run QEMU as its own user.
		chmod 1777 "$LAB_VM" && chmod 0711 "$LAB_TMP"
	fi
	lab_daemon_start || return 1
	lab_watch_start
}

# QEMU processes still running one of this scenario's guests (their
# command line names LAB_VM) after the daemon went: killed by pid.
_lab_kill_strays()
{
	local f pid
	[ -n "$LAB_VM" ] || return 0
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = qemu-system-x86 ] || continue
		if tr '\0' '\n' <"$f" 2>/dev/null | grep -qF "$LAB_VM/"; then
			echo "# killing a leftover QEMU (pid $pid) of this scenario" >&2
			kill -KILL "$pid" 2>/dev/null
		fi
	done
	return 0
}

# Stop everything this scenario started; keep logs in LAB_OUT.
lab_end()
{
	local name
	[ -n "$LAB_TMP" ] || return 0
	lab_memcoord_stop >/dev/null 2>&1
	if [ -n "$LAB_URI" ]; then
		for name in "${LAB_GUESTS[@]}"; do
			lab_virsh destroy "$name" >/dev/null 2>&1
			lab_virsh undefine "$name" >/dev/null 2>&1
		done
	fi
	sleep 0.6   # the watcher's last round
	lab_watch_stop
	for name in "${LAB_GUESTS[@]}"; do
		cp "$(lab_serial "$name")" "$LAB_OUT/" 2>/dev/null
	done
	lab_daemon_stop
	_lab_kill_strays
	[ -f "$LAB_TMP/libvirtd.log" ] && cp "$LAB_TMP/libvirtd.log" "$LAB_OUT/"
	[ -f "$LAB_TMP/libvirtd.log.1" ] && cp "$LAB_TMP/libvirtd.log.1" "$LAB_OUT/"
	rm -rf "$LAB_TMP"
	LAB_TMP=
	LAB_URI=
	LAB_GUESTS=()
}
