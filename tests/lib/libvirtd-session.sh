# shellcheck shell=bash source-path=SCRIPTDIR
# A private, session-mode libvirt daemon for memcoord's script tests.
# Source it from bash (it sources check.sh next to it); it sets no shell
# options.
#
#   lvs_find_libvirtd            set LVS_LIBVIRTD; status 1 when not installed
#   lvs_start DIR                start libvirtd with all its state under DIR
#                                (DIR must exist; see "As root" below); sets
#                                LVS_PID, LVS_SOCK, LVS_LOG
#   lvs_uri SCHEME PATH          e.g. `lvs_uri test /default` ->
#                                test+unix:///default?socket=$LVS_SOCK
#   lvs_virsh URI ARGS...        virsh -c URI ARGS, bounded (15 s), with the
#                                client's own libvirt config/cache under DIR
#   lvs_hold_start URI           keep one connection open (see "Holder")
#   lvs_hold_stop                close it
#   lvs_stop                     stop the daemon (SIGTERM, SIGKILL after 10 s)
#   lvs_dump_log                 print the daemon's log (for failure reports)
#
# Session mode.  libvirtd run by root is the system daemon: sockets in
# /run/libvirt, state in /var/lib/libvirt, and no option moves all of that
# (--config's unix_sock_dir moves the sockets only; the drivers' state and
# pid directories stay system-wide).  Run by any other user it is a session
# daemon whose every path derives from $HOME and the XDG_* variables.  So as
# root we drop to an unprivileged user (LVS_USER, default nobody) with
# setpriv, which exec()s - $! stays the daemon's pid - and changes nothing
# but the ids and capabilities; runuser/su would fork, open a PAM session
# and rewrite the environment.  As a non-root user libvirtd runs as is.
#
# As root, DIR is made traversable (0711) and DIR/libvirtd, owned by that
# user, holds the daemon's HOME and XDG directories; the socket is
# DIR/libvirtd/run/libvirt/libvirt-sock.  Root's clients (virsh, memcoord)
# may connect: a session daemon does not check its clients' uid, and root
# passes the socket's 0700 mode.
#
# Holder.  The test driver's state (test+unix:///default) lives as long as
# some client holds a connection to it: when the last one leaves, created
# domains vanish.  lvs_hold_start runs an interactive virsh reading commands
# from a fifo that this shell keeps open, so it outlives every step.
#
# Leftovers.  The daemon runs with --timeout 60: should this shell die
# without cleaning up (SIGKILL), it exits by itself a minute after its last
# client.

_lvs_libdir=$(dirname "${BASH_SOURCE[0]}")
. "$_lvs_libdir/check.sh"

LVS_USER=${LVS_USER:-nobody}
LVS_START_TIMEOUT=${LVS_START_TIMEOUT:-20}
LVS_DIR=
LVS_PID=
LVS_SOCK=
LVS_LOG=
LVS_HOLD_PID=
LVS_HOLD_FD=
LVS_HOLD_LOG=

lvs_find_libvirtd()
{
	local p
	LVS_LIBVIRTD=
	for p in "$(command -v libvirtd 2>/dev/null || true)" /usr/sbin/libvirtd; do
		if [ -f "$p" ] && [ -x "$p" ]; then
			LVS_LIBVIRTD=$p
			return 0
		fi
	done
	return 1
}

lvs_dump_log()
{
	if [ -n "$LVS_LOG" ] && [ -f "$LVS_LOG" ]; then
		echo "# ---- libvirtd log ($LVS_LOG) ----"
		sed 's/^/# /' "$LVS_LOG"
		echo "# ---- end of libvirtd log ----"
	fi
}

lvs_start()
{
	local dir=$1 home uid gid i user
	local -a drop=()

	if [ -z "${LVS_LIBVIRTD:-}" ] && ! lvs_find_libvirtd; then
		echo "# lvs_start: libvirtd is not installed" >&2
		return 1
	fi
	LVS_DIR=$(cd "$dir" && pwd) || return 1
	LVS_LOG=$LVS_DIR/libvirtd.log
	home=$LVS_DIR/libvirtd
	mkdir -p "$home" || return 1
	user=$(id -un 2>/dev/null || id -u)

	if [ "$(id -u)" -eq 0 ]; then
		if ! command -v setpriv >/dev/null; then
			echo "# lvs_start: running as root needs setpriv (util-linux) to run libvirtd as $LVS_USER" >&2
			return 1
		fi
		uid=$(id -u "$LVS_USER" 2>/dev/null) || uid=65534
		gid=$(id -g "$LVS_USER" 2>/dev/null) || gid=65534
		chmod 0711 "$LVS_DIR" && chown "$uid:$gid" "$home" && chmod 0700 "$home" || return 1
		user=$LVS_USER
		drop=(setpriv --reuid="$uid" --regid="$gid" --clear-groups --inh-caps=-all --)
		if ! "${drop[@]}" test -w "$home" -a -x "$home"; then
			echo "# lvs_start: uid $uid cannot reach $home (a parent folder is closed to it?)" >&2
			return 1
		fi
	fi

	LVS_SOCK=$home/run/libvirt/libvirt-sock
	# sockaddr_un.sun_path holds 107 characters and a NUL.
	if [ "${#LVS_SOCK}" -gt 107 ]; then
		echo "# lvs_start: socket path too long for AF_UNIX: $LVS_SOCK" >&2
		return 1
	fi

	# A clean environment: nothing of the caller's LIBVIRT_* settings, and
	# every path the session daemon derives under $home.
	"${drop[@]}" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C \
		HOME="$home" USER="$user" LOGNAME="$user" \
		XDG_RUNTIME_DIR="$home/run" XDG_CONFIG_HOME="$home/config" \
		XDG_CACHE_HOME="$home/cache" XDG_DATA_HOME="$home/data" \
		"$LVS_LIBVIRTD" --timeout 60 </dev/null >"$LVS_LOG" 2>&1 &
	LVS_PID=$!

	for ((i = 0; i < LVS_START_TIMEOUT * 10; i++)); do
		[ -S "$LVS_SOCK" ] && break
		if ! proc_alive "$LVS_PID"; then
			echo "# lvs_start: libvirtd exited during start-up" >&2
			lvs_dump_log >&2
			LVS_PID=
			return 1
		fi
		sleep 0.1
	done
	if [ ! -S "$LVS_SOCK" ]; then
		echo "# lvs_start: no socket $LVS_SOCK after ${LVS_START_TIMEOUT} s" >&2
		lvs_dump_log >&2
		return 1
	fi
	# The socket is bound before the drivers finish initialising; one
	# round trip proves the daemon answers.
	if ! lvs_virsh "$(lvs_uri test /default)" uri >/dev/null; then
		echo "# lvs_start: libvirtd does not answer on $LVS_SOCK" >&2
		lvs_dump_log >&2
		return 1
	fi
}

lvs_uri()
{
	printf '%s+unix://%s?socket=%s\n' "$1" "$2" "$LVS_SOCK"
}

lvs_virsh()
{
	local uri=$1
	shift
	# Keep virsh's history and config out of the caller's home.
	XDG_CONFIG_HOME="$LVS_DIR/client/config" XDG_CACHE_HOME="$LVS_DIR/client/cache" \
		timeout 15 virsh -q -c "$uri" "$@"
}

_lvs_holder_ready()
{
	grep -q '^lvs-holder-ready' "$LVS_HOLD_LOG" 2>/dev/null
}

lvs_hold_start()
{
	local uri=$1 fifo=$LVS_DIR/holder.fifo

	LVS_HOLD_LOG=$LVS_DIR/holder.log
	rm -f "$fifo"
	mkfifo "$fifo" || return 1
	# Opened read-write, the fifo never blocks this shell; the holder
	# reads it without this descriptor, so closing it here is its EOF.
	exec {LVS_HOLD_FD}<>"$fifo"
	XDG_CONFIG_HOME="$LVS_DIR/client/config" XDG_CACHE_HOME="$LVS_DIR/client/cache" \
		virsh -c "$uri" <"$fifo" >"$LVS_HOLD_LOG" 2>&1 {LVS_HOLD_FD}>&- &
	LVS_HOLD_PID=$!
	# A command that needs the connection, then a marker: once the marker
	# is printed, the connection is up (or the error is in the log).
	printf 'list --all --name\necho lvs-holder-ready\n' 1>&"$LVS_HOLD_FD"
	if ! wait_until 10 _lvs_holder_ready || grep -q '^error:' "$LVS_HOLD_LOG"; then
		echo "# lvs_hold_start: the holder did not connect to $uri" >&2
		sed 's/^/# holder: /' "$LVS_HOLD_LOG" >&2
		return 1
	fi
}

lvs_hold_stop()
{
	if [ -n "$LVS_HOLD_FD" ]; then
		printf 'quit\n' 1>&"$LVS_HOLD_FD" 2>/dev/null
		exec {LVS_HOLD_FD}>&-
		LVS_HOLD_FD=
	fi
	if [ -n "$LVS_HOLD_PID" ]; then
		if ! wait_exit "$LVS_HOLD_PID" 5; then
			kill -KILL "$LVS_HOLD_PID" 2>/dev/null
			wait "$LVS_HOLD_PID" 2>/dev/null
		fi
		LVS_HOLD_PID=
	fi
	return 0
}

lvs_stop()
{
	lvs_hold_stop
	if [ -n "$LVS_PID" ]; then
		kill -TERM "$LVS_PID" 2>/dev/null
		if ! wait_exit "$LVS_PID" 10; then
			echo "# lvs_stop: libvirtd ignored SIGTERM for 10 s; killing it" >&2
			kill -KILL "$LVS_PID" 2>/dev/null
			wait "$LVS_PID" 2>/dev/null
		fi
		LVS_PID=
	fi
	return 0
}
