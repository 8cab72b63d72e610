#!/bin/bash
# memcoord e2e — build the tiny test guest, cached under tests/e2e/cache/.
#
#   build-guest.sh [CACHE_DIR]
#
# Produces CACHE_DIR/vmlinuz (a Debian cloud kernel) and CACHE_DIR/initrd.gz
# (busybox-static, the static workload program from workload.c, the virtio
# balloon modules that kernel does not have built in, and init.sh as /init),
# and CACHE_DIR/stamp describing what they were built from.  A second run
# with the same inputs does nothing.
#
# Needs: apt-get (with the Debian archive reachable, for the kernel), dpkg,
# gcc with a static libc (libc6-dev), busybox-static, cpio, gzip.
# Prints the paths of the kernel and the initramfs on success.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${1:-$here/cache}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

die() { echo "build-guest: $*" >&2; exit 1; }

# Modules in insmod order (virtio needs virtio_ring).
MODULES=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_balloon)

busybox=/bin/busybox
for p in /bin/busybox /usr/bin/busybox; do
	[ -x "$p" ] && busybox=$p && break
done
[ -x "$busybox" ] || die "busybox is not installed (package busybox-static)"
# A dynamically linked busybox would need its libraries in the guest.
if file_out=$(LC_ALL=C readelf -d "$busybox" 2>/dev/null) && grep -q NEEDED <<<"$file_out"; then
	die "$busybox is dynamically linked; install busybox-static"
fi
command -v cpio >/dev/null || die "cpio is not installed"
command -v gcc >/dev/null || die "gcc is not installed"

# The kernel package that linux-image-cloud-amd64 depends on.
kernel_pkg()
{
	apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}
kpkg=$(kernel_pkg)
if [ -z "$kpkg" ] && [ "$(id -u)" -eq 0 ]; then
	# No package lists yet (a fresh machine): fetch them once.
	apt-get update -qq >/dev/null 2>&1 && kpkg=$(kernel_pkg)
fi
[ -n "$kpkg" ] || die "apt-cache depends linux-image-cloud-amd64 names no kernel package (apt-get update?)"

inputs=$(printf '%s\n' "$kpkg" "$(sha256sum "$busybox" "$here/workload.c" "$here/init.sh" "${BASH_SOURCE[0]}" | awk '{print $1}')")
if [ -f "$cache/stamp" ] && [ "$(cat "$cache/stamp")" = "$inputs" ] &&
	[ -s "$cache/vmlinuz" ] && [ -s "$cache/initrd.gz" ]; then
	echo "$cache/vmlinuz"
	echo "$cache/initrd.gz"
	exit 0
fi

work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# ---- the kernel and its balloon modules -------------------------------------

deb=$(ls "$cache/$kpkg"_*.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
	# apt-get download writes to the current folder; as root it warns
	# that _apt cannot write there (harmless), so fetch into a folder
	# _apt may write and move the package.
	(cd "$work" && apt-get download -q "$kpkg" >"$work/apt.log" 2>&1) ||
		{ cat "$work/apt.log" >&2; die "apt-get download $kpkg failed"; }
	rm -f "$cache"/linux-image-*.deb   # an older kernel's package
	mv "$work/$kpkg"_*.deb "$cache/"
	deb=$(ls "$cache/$kpkg"_*.deb | head -n 1)
fi
dpkg -x "$deb" "$work/kpkg"
vmlinuz=$(ls "$work"/kpkg/boot/vmlinuz-* | head -n 1)
[ -f "$vmlinuz" ] || die "$deb holds no boot/vmlinuz-*"
moddir=$(ls -d "$work"/kpkg/lib/modules/* | head -n 1)
[ -d "$moddir" ] || die "$deb holds no lib/modules/*"

root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules}
: >"$root/lib/modules/mc-order"
for m in "${MODULES[@]}"; do
	if grep -qE "(^|/)$m\.ko(\.[a-z]+)?$" "$moddir/modules.builtin" 2>/dev/null; then
		echo "build-guest: $m is built into the kernel" >&2
		continue
	fi
	f=$(find "$moddir/kernel" -name "$m.ko*" | head -n 1)
	[ -n "$f" ] || die "module $m is neither built in nor in $deb"
	case $f in
	*.ko) cp "$f" "$root/lib/modules/$m.ko" ;;
	*.ko.xz) xz -dc "$f" >"$root/lib/modules/$m.ko" ;;
	*.ko.zst) zstd -qdc "$f" >"$root/lib/modules/$m.ko" ;;
	*.ko.gz) gzip -dc "$f" >"$root/lib/modules/$m.ko" ;;
	*) die "unknown module format: $f" ;;
	esac
	echo "$m" >>"$root/lib/modules/mc-order"
done

# ---- userland ---------------------------------------------------------------

cp "$busybox" "$root/bin/busybox"
gcc -static -O2 -Wall -Wextra -o "$root/bin/workload" "$here/workload.c" ||
	die "gcc -static workload.c failed (libc6-dev installed?)"
strip "$root/bin/workload" 2>/dev/null || true
cp "$here/init.sh" "$root/init"
chmod 0755 "$root/init" "$root/bin/busybox" "$root/bin/workload"

(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) |
	gzip -9 >"$work/initrd.gz"
cp "$vmlinuz" "$work/vmlinuz"
mv "$work/vmlinuz" "$cache/vmlinuz"
mv "$work/initrd.gz" "$cache/initrd.gz"
printf '%s\n' "$inputs" >"$cache/stamp"
echo "build-guest: $(basename "$vmlinuz") from $kpkg, initramfs $(du -k "$cache/initrd.gz" | cut -f1) KiB" >&2
echo "$cache/vmlinuz"
echo "$cache/initrd.gz"
