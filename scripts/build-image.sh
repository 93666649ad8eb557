#!/usr/bin/env bash
# Builds the nowserving device image for a Raspberry Pi 4, arm64, from Debian trixie's own
# packages on an ordinary x86_64 Debian host (docs/image.md):
#
#   sudo scripts/build-image.sh [--out DIR] [--ssh-key FILE]
#
# gives DIR/nowserving-VERSION-arm64.img.xz and DIR/nowserving-VERSION-arm64.img.xz.sha256
# (DIR: the current folder). The same recipe as the rpi-image-gen build: the packages of
# deploy/image/packages.txt plus deploy/image/debian-packages.txt (Debian's kernel
# linux-image-arm64, raspi-firmware, networking, ssh, locales), deploy/image/customize.sh
# with a wheel of this checkout and the pins of constraints.txt; partitions BOOT (FAT),
# ROOT (ext4, mounted read-only) and NSDATA (ext4, /var, grown at first boot).
# --ssh-key FILE: the user admin (sudo) may log in over SSH with this public key.
#
# How: mmdebstrap builds the arm64 root (cached in /var/cache/nowserving/, keyed on the
# package list) running the packages' maintainer scripts under qemu-user-static through
# binfmt_misc; customize.sh and the kernel's hooks run in a chroot of it the same way; the
# file systems are made from folders (mkfs.ext4 -d, mtools) and laid into the image file
# with sfdisk and dd, so no loop device is needed. NOWSERVING_IMAGE_REBUILD=1 rebuilds the
# cached root. Needs root and the network (Debian's mirror, PyPI).
set -euo pipefail

self=$(readlink -f "${BASH_SOURCE[0]}")
src=$(cd "$(dirname "$self")/.." && pwd)
image=$src/deploy/image
log() { echo "build-image: $*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}
# shellcheck source=scripts/lib/rootfs.sh
. "$(dirname "$self")/lib/rootfs.sh"

# ----- stage 2: inside a private mount namespace: customise the root ----------------------
if [ "${1:-}" = "--in-namespace" ]; then
  rootfs_namespace_mounts "$2"
  run() { chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 "$@"; }

  step=$SECONDS
  NOWSERVING_WHEELS=$tmp/wheels NOWSERVING_CONSTRAINTS=$src/constraints.txt \
    bash "$image/customize.sh" "$root"
  log "customize.sh done in $((SECONDS - step)) s"

  step=$SECONDS
  # The partitions by role, as rpi-image-gen's storage binder names them for /etc/fstab:
  # this image's partitions only (its MBR disk id). The initramfs needs none of it: the
  # kernel's root= is the partition's id. (The initramfs is the one the kernel's package
  # made: MODULES=most, so SD cards and virtio disks alike.)
  cat >"$root/etc/udev/rules.d/99-nowserving-slots.rules" <<EOF
# The nowserving image's partitions by role (scripts/build-image.sh): the names /etc/fstab
# uses, for the partitions of this image only (disk id $DISK_ID).
SUBSYSTEM=="block", ENV{ID_PART_ENTRY_UUID}=="$DISK_ID-01", SYMLINK+="disk/by-slot/boot"
SUBSYSTEM=="block", ENV{ID_PART_ENTRY_UUID}=="$DISK_ID-02", SYMLINK+="disk/by-slot/system"
SUBSYSTEM=="block", ENV{ID_PART_ENTRY_UUID}=="$DISK_ID-03", SYMLINK+="disk/by-slot/data"
EOF
  # The kernel's command line and config.txt, which raspi-firmware's hook writes (at every
  # kernel update too) from these: the root by its partition id, read-only; the console on
  # the Pi's serial pins and on the screen (the last: first boot's messages show there); the
  # hardware watchdog (customize.sh looks for it in config.txt too).
  # CMA=0: no cma= (a Pi 4 wants none; the hook, not running on a Pi, would add it).
  printf '# The nowserving image (scripts/build-image.sh)\nROOTPART=PARTUUID=%s-02\n%s\nCMA=0\n' \
    "$DISK_ID" 'CONSOLES="ttyS1,115200 tty0"' >>"$root/etc/default/raspi-firmware"
  echo ro >"$root/etc/default/raspi-extra-cmdline"
  echo 'dtparam=watchdog=on' >"$root/etc/default/raspi-firmware-custom"
  run env DEB_MAINT_PARAMS=configure /etc/kernel/postinst.d/z50-raspi-firmware >&2
  grep -qw ro "$root/boot/firmware/cmdline.txt" || die "cmdline.txt lacks ro"
  grep -qx 'dtparam=watchdog=on' "$root/boot/firmware/config.txt" ||
    die "raspi-firmware's config.txt lacks the watchdog"
  log "kernel, initramfs, firmware: $(cat "$root/boot/firmware/cmdline.txt")"

  # Networking: DHCP on the wire, names and .local by systemd-resolved (mDNS answered too).
  install -d "$root/etc/systemd/network" "$root/etc/systemd/resolved.conf.d"
  cat >"$root/etc/systemd/network/20-nowserving-wired.network" <<'EOF'
[Match]
Type=ether

[Network]
DHCP=yes
MulticastDNS=yes
EOF
  printf '[Resolve]\nMulticastDNS=yes\n' >"$root/etc/systemd/resolved.conf.d/60-nowserving.conf"
  run systemctl enable --quiet systemd-networkd.service systemd-resolved.service \
    systemd-timesyncd.service
  ln -sfn ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
  echo nowserving >"$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\tnowserving\n::1\tlocalhost ip6-localhost\n' \
    >"$root/etc/hosts"
  # The branch's locale is chosen at first boot (firstboot.sh): both are made here.
  sed -i -e 's/^# *\(zh_CN.UTF-8 UTF-8\)/\1/' -e 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' \
    "$root/etc/locale.gen"
  run locale-gen >&2
  # Each device makes its own SSH host keys at first boot; the maintenance user, if asked.
  rm -f "$root"/etc/ssh/ssh_host_*
  printf 'PasswordAuthentication no\nPermitRootLogin no\n' \
    >"$root/etc/ssh/sshd_config.d/60-nowserving.conf"
  # sshd refuses to start without host keys: at first boot it waits for the first boot's.
  install -d "$root/etc/systemd/system/ssh.service.d"
  printf '[Unit]\n# The first boot makes the host keys (deploy/image/firstboot.sh).\n%s\n' \
    'After=nowserving-firstboot.service' \
    >"$root/etc/systemd/system/ssh.service.d/60-nowserving.conf"
  if [ -n "${SSH_KEY_FILE:-}" ]; then
    run useradd --create-home --groups sudo --shell /bin/bash admin
    install -d -m 0700 -o "$(run id -u admin)" -g "$(run id -g admin)" "$root/home/admin/.ssh"
    install -m 0600 -o "$(run id -u admin)" -g "$(run id -g admin)" "$tmp/ssh-key.pub" \
      "$root/home/admin/.ssh/authorized_keys"
    echo 'admin ALL=(ALL) NOPASSWD: ALL' >"$root/etc/sudoers.d/60-nowserving-admin"
    chmod 0440 "$root/etc/sudoers.d/60-nowserving-admin"
  fi
  # The first boot commits the machine id; the build leaves none (every card its own).
  : >"$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id"
  rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin
  log "system settings done in $((SECONDS - step)) s"
  exit 0
fi

# ----- stage 1: on the host ---------------------------------------------------------------
out=$PWD
ssh_key=""
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=${2:?--out DIR} && shift 2 ;;
    --ssh-key) ssh_key=${2:?--ssh-key FILE} && shift 2 ;;
    *) die "usage: build-image.sh [--out DIR] [--ssh-key FILE]" ;;
  esac
done
suite=trixie
arch=arm64
variant=minbase
components=main,non-free-firmware
mapfile -t packages < <(cat "$image/packages.txt" "$image/debian-packages.txt" |
  sed -e 's/#.*//' -e 's/[[:space:]]//g' | grep .)
dpkg_opts=("${rootfs_dpkg_opts[@]}")
# shellcheck disable=SC2034,SC2016 # used by rootfs_cached; $1 is mmdebstrap's
mmdebstrap_opts=(--setup-hook='mkdir -p "$1/boot/firmware"')
cache_dir=/var/cache/nowserving
boot_mb=256

[ "$(id -u)" -eq 0 ] || die "needs root (mmdebstrap, chroot, mkfs)"
[ "$(uname -m)" = x86_64 ] || [ "$(uname -m)" = aarch64 ] || die "an x86_64 or arm64 host"
[ -z "$ssh_key" ] || [ -s "$ssh_key" ] || die "no SSH public key in $ssh_key"
mkdir -p "$out"
out=$(cd "$out" && pwd)
start=$SECONDS
trap 'exit 130' INT
trap 'exit 143' TERM

# The host's tools, and arm64 programs run through qemu-user-static (binfmt_misc).
rootfs_host_tools "$suite"
need=()
for tool in mkfs.vfat:dosfstools mcopy:mtools sfdisk:fdisk mkfs.ext4:e2fsprogs xz:xz-utils; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
if [ "$(uname -m)" != aarch64 ]; then
  [ -d /proc/sys/fs/binfmt_misc ] && [ -e /proc/sys/fs/binfmt_misc/register ] ||
    mount binfmt_misc -t binfmt_misc /proc/sys/fs/binfmt_misc ||
    die "binfmt_misc cannot be mounted here: arm64 programs cannot run (see docs/image.md)"
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || need+=(qemu-user-static binfmt-support)
fi
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]} on the host"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" \
    </dev/null >/dev/null
fi
if [ "$(uname -m)" != aarch64 ]; then
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64 ||
    die "no binfmt_misc entry for qemu-aarch64"
  grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 || die "qemu-aarch64 binfmt disabled"
fi

mkdir -p "$cache_dir/pip-arm64"
step=$SECONDS
rootfs_cached image-arm64 "${NOWSERVING_IMAGE_REBUILD:-0}"
rootfs_unpack nowserving-arm64
log "root ready in $((SECONDS - step)) s"

# The wheel of this checkout (pure Python: built on the host).
step=$SECONDS
rootfs_wheel "$src" "" "$tmp"
wheel=$(cd "$tmp/wheels" && ls nowserving-*.whl)
version=$(echo "$wheel" | cut -d- -f2)
name=nowserving-$version-arm64.img
log "wheel $wheel in $((SECONDS - step)) s"
[ -z "$ssh_key" ] || cp "$ssh_key" "$tmp/ssh-key.pub"

rootfs_host_network
rootfs_host_pip_certs
# The MBR disk id: fixed per version, so that a rebuild gives the same partition ids.
DISK_ID=$(echo "nowserving-$version" | sha256sum | cut -c1-8)
export DISK_ID PIP_CACHE_HOST=$cache_dir/pip-arm64 SSH_KEY_FILE=$ssh_key

step=$SECONDS
rootfs_in_namespace "$self" --in-namespace "$tmp"
[ "$status" = 0 ] || die "customising the root failed (status $status)"
log "root customised in $((SECONDS - step)) s"
for dir in ${PIP_FIND_LINKS:-} /var/cache/pip-host; do # stage 2's mount points
  rmdir "$root$dir" 2>/dev/null || true
done
# Network settings of the build host do not go into the image.
rm -f "$root/etc/resolv.conf"
ln -sfn ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"

# ----- the partitions, from folders --------------------------------------------------------
step=$SECONDS
mib() { du -s --block-size=1M --apparent-size "$1" | cut -f1; }
mv "$root/var" "$tmp/var"
install -d -m 0755 "$root/var"
mv "$root/boot/firmware" "$tmp/firmware"
install -d -m 0755 "$root/boot/firmware"
venv_mb=$(mib "$root/opt/nowserving")
root_used=$(mib "$root")
root_mb=$(((root_used * 3 / 2 + 7) / 8 * 8)) # room for an update's second venv
data_mb=$((($(mib "$tmp/var") + 256 + 7) / 8 * 8))
[ "$(mib "$tmp/firmware")" -lt $((boot_mb - 32)) ] || die "the firmware does not fit in $boot_mb MB"

rm -f "$tmp/boot.img"
mkfs.vfat -F 32 -n BOOT -C "$tmp/boot.img" $((boot_mb * 1024)) >/dev/null
mcopy -s -i "$tmp/boot.img" "$tmp/firmware"/* ::/
truncate -s "${root_mb}M" "$tmp/root.img"
mkfs.ext4 -q -F -L ROOT -d "$root" "$tmp/root.img"
truncate -s "${data_mb}M" "$tmp/data.img"
mkfs.ext4 -q -F -L NSDATA -d "$tmp/var" "$tmp/data.img"

# MBR: BOOT at 8 MiB, ROOT after it, NSDATA last (the first boot grows it).
boot_at=8 root_at=$((8 + boot_mb)) data_at=$((8 + boot_mb + root_mb))
total=$((data_at + data_mb))
truncate -s "${total}M" "$tmp/$name"
sfdisk --quiet "$tmp/$name" <<EOF
label: dos
label-id: 0x$DISK_ID
start=${boot_at}MiB, size=${boot_mb}MiB, type=c, bootable
start=${root_at}MiB, size=${root_mb}MiB, type=83
start=${data_at}MiB, size=${data_mb}MiB, type=83
EOF
dd if="$tmp/boot.img" of="$tmp/$name" bs=1M seek="$boot_at" conv=notrunc,sparse status=none
dd if="$tmp/root.img" of="$tmp/$name" bs=1M seek="$root_at" conv=notrunc,sparse status=none
dd if="$tmp/data.img" of="$tmp/$name" bs=1M seek="$data_at" conv=notrunc,sparse status=none
rm -f "$tmp/boot.img" "$tmp/root.img" "$tmp/data.img"
log "image laid out in $((SECONDS - step)) s: $total MiB (boot $boot_mb, root $root_mb" \
  "with $root_used used, the venv $venv_mb; data $data_mb)"

step=$SECONDS
xz -T2 -6 -c "$tmp/$name" >"$out/$name.xz.partial"
mv "$out/$name.xz.partial" "$out/$name.xz"
(cd "$out" && sha256sum "$name.xz" >"$name.xz.sha256")
log "compressed in $((SECONDS - step)) s: $out/$name.xz ($(du -h --apparent-size "$out/$name.xz" |
  cut -f1)), its SHA-256 in $name.xz.sha256"
log "built in $((SECONDS - start)) s"
