#!/usr/bin/env bash
# memcoord — install what building, running and testing memcoord needs on
# Debian 12. Idempotent: a second run only checks. Needs root (or sudo).
set -euo pipefail

packages=(
	# build
	gcc meson ninja-build pkg-config libvirt-dev liburcu-dev libinih-dev
	libjson-c-dev libmicrohttpd-dev
	# the libvirt daemon, client and QEMU for the integration tests
	libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
	qemu-system-x86 busybox-static cpio
	# tools the tests use
	procps util-linux gnuplot-nox jq curl valgrind
	# systemd integration (sd_notify, the unit's install dir and its
	# verification) and the man pages' checks
	libsystemd-dev systemd groff-base man-db
	# the fuzz targets (scripts/fuzz.sh): clang and its libFuzzer runtime
	clang libclang-rt-dev
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "setup: all packages present"
	exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
