#!/bin/busybox sh
# memcoord e2e — the guest's /init (busybox sh, PID 1).
# Mounts proc/sys/dev, loads the virtio balloon driver unless the kernel
# command line says mc.noballoon, runs /bin/workload (its schedule is on the
# command line too, see workload.c), reports how it ended on the serial
# console, then idles forever (PID 1 must not exit).
#
# Console lines: MC-INIT, MC-BALLOON-LOADED / MC-BALLOON-SKIPPED /
# MC-BALLOON-FAILED <module>, MC-WAIT-GO and MC-GO (with mc.go), then
# MC-WORKLOAD-DONE, or
# "Killed" + MC-WORKLOAD-KILLED signal=N, or MC-WORKLOAD-FAILED status=N.
/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1

up() { cut -d' ' -f1 /proc/uptime; }
echo "MC-INIT uptime=$(up)"

case " $(cat /proc/cmdline) " in
*" mc.noballoon "*)
	echo "MC-BALLOON-SKIPPED uptime=$(up)"
	;;
*)
	ok=1
	# Loaded in this order (virtio needs virtio_ring); built-in ones are
	# not in the list.
	for m in $(cat /lib/modules/mc-order); do
		if ! insmod "/lib/modules/$m.ko"; then
			echo "MC-BALLOON-FAILED $m"
			ok=0
		fi
	done
	[ "$ok" = 1 ] && echo "MC-BALLOON-LOADED uptime=$(up)"
	;;
esac

# mc.go: wait for the host's "go" on the second serial port (a pipe the
# test runner writes to once memcoord runs), so that the workload's times
# count from there rather than from boot.
case " $(cat /proc/cmdline) " in
*" mc.go "*)
	echo "MC-WAIT-GO uptime=$(up)"
	while read -r line </dev/ttyS1; do
		case $line in *go*) break ;; esac
	done
	echo "MC-GO uptime=$(up)"
	;;
esac

/bin/workload &
pid=$!
wait "$pid"
st=$?
if [ "$st" -eq 0 ]; then
	echo "MC-WORKLOAD-DONE uptime=$(up)"
elif [ "$st" -gt 128 ]; then
	echo "Killed"
	echo "MC-WORKLOAD-KILLED signal=$((st - 128)) uptime=$(up)"
else
	echo "MC-WORKLOAD-FAILED status=$st uptime=$(up)"
fi

while :; do
	sleep 3600
done
