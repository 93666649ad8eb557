#!/usr/bin/env bash
# Boots the nowserving image under qemu-system-aarch64 and checks its first boot
# (docs/image.md):
#
#   scripts/boot-image.sh IMAGE [--role server|kiosk|display]... [--fault unknown-role]
#                               [--keep DIR]
#
# IMAGE: nowserving-VERSION-arm64.img.xz (its .sha256 beside it is checked) or the .img.
# For each role (default: server, kiosk, display) a copy of the image, 1 GiB larger (a bigger
# card), gets the role's bundle from `nowserving provision` of the example branch on its boot
# partition, and boots on QEMU's generic `virt` machine (Cortex-A72, emulated) with the
# image's own kernel, initramfs and command line (console moved to the PL011); the Pi's
# firmware is the only part not tried. Inside, scripts/lib/boot-check.sh (started by
# systemd.run= on the command line, so nothing is added to the image) checks that the first
# boot took the role, the role's units are active and petting their watchdogs, the root is
# read-only, the data partition writable and grown, the branch's zone and locale are set,
# the device has its own host name and systemd-resolved runs (names, mDNS), and
# `nowserving self-test` passes: on the server, for a kiosk with the dummy printer against
# that server; on a kiosk or display, every check but the network's (no server in its VM;
# a display's sound through an emulated HDA card); and a kiosk's or display's unit stops
# with cage and its app, and starts again.
# Each step is printed with its time; the first failed step is named and the script exits 1.
#
# --fault unknown-role plants a fault: the kiosk's bundle names a role the image does not
# know, so the first boot must fail (and this script with it, at step `firstboot`).
# --keep DIR keeps each boot's console log (and the kiosk's and display's screens, PPM) in DIR.
# Needs qemu-system-arm, mtools, fdisk, xz-utils, and nowserving on the host (the checkout's
# .venv, or NOWSERVING=/path/to/nowserving; with debugfs (e2fsprogs) its Python runs the
# image's own nowserving package to make the bundles). Runs as any user who can read IMAGE.
# Each step has a time limit (NOWSERVING_BOOT_TIMEOUT, NOWSERVING_BOOT_STEP_TIMEOUT, or
# NOWSERVING_BOOT_BUDGET=PERCENT for all of them; docs/image.md).
set -euo pipefail

self=$(readlink -f "${BASH_SOURCE[0]}")
src=$(cd "$(dirname "$self")/.." && pwd)
log() { echo "boot-image: $*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}

image=""
roles=()
fault=""
keep=""
# Limits of the host's own (seconds): from power on to the checks' first line, then for each
# further step; above the checks' budgets inside (scripts/lib/boot-check.sh), so that a
# failing step prints its diagnostics first. NOWSERVING_BOOT_BUDGET=N (percent, default 100)
# scales both and the checks' budgets, for a slower or busier host.
scale=${NOWSERVING_BOOT_BUDGET:-100}
boot_limit=${NOWSERVING_BOOT_TIMEOUT:-$((900 * scale / 100))}
step_limit=${NOWSERVING_BOOT_STEP_TIMEOUT:-$((780 * scale / 100))}
steps=(boot firstboot units watchdog root-ro data zone names self-test restart)
# Emulation's allowance (docs/image.md): systemd's 90 s for a device to show up and for a
# unit to start are too short under TCG on a busy host (a kiosk boot here timed out waiting
# for /dev/disk/by-slot/data, so no /var, and fell into emergency mode).
allowance="systemd.default_device_timeout_sec=$((600 * scale / 100))"
allowance+=" systemd.default_timeout_start_sec=$((600 * scale / 100))"
next_step() { # next_step STEP: the step after STEP (watchdog may repeat, one per unit)
  local i
  for i in "${!steps[@]}"; do
    [ "${steps[$i]}" != "$1" ] || { echo "${steps[$((i + 1))]:-done}"; return; }
  done
  echo "$1"
}
while [ $# -gt 0 ]; do
  case $1 in
    --role) roles+=("${2:?--role server|kiosk|display}") && shift 2 ;;
    --fault) fault=${2:?--fault unknown-role} && shift 2 ;;
    --keep) keep=${2:?--keep DIR} && shift 2 ;;
    -*) die "unknown option $1" ;;
    *) image=$1 && shift ;;
  esac
done
[ -n "$image" ] && [ -f "$image" ] || die "usage: boot-image.sh IMAGE [--role server|kiosk|display]..." \
  "[--fault unknown-role] [--keep DIR]"
[ ${#roles[@]} -gt 0 ] || roles=(server kiosk display)
[ -z "$fault" ] || [ "$fault" = unknown-role ] || die "the faults: unknown-role"
[ -z "$fault" ] || roles=(kiosk)
for tool in qemu-system-aarch64 mcopy sfdisk xz; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install qemu-system-arm" \
    "mtools fdisk xz-utils)"
done
nowserving=${NOWSERVING:-}
[ -n "$nowserving" ] || nowserving=$(command -v nowserving || echo "$src/.venv/bin/nowserving")
[ -x "$nowserving" ] || die "no nowserving on the host: set NOWSERVING=/path/to/nowserving"
[ -z "$keep" ] || mkdir -p "$keep"

tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/nowserving-boot.XXXXXX")
qemu_pid=""
cleanup() {
  [ -z "$qemu_pid" ] || kill "$qemu_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
start=$SECONDS
stamp() { printf '[%5d s]' $((SECONDS - start)); }

# ----- the image: checksum, partitions, kernel, initramfs, command line --------------------
step=$SECONDS
case $image in
  *.xz)
    if [ -f "$image.sha256" ]; then
      (cd "$(dirname "$image")" && sha256sum --quiet --check "$(basename "$image").sha256") ||
        die "$image does not match its SHA-256"
    fi
    xz -dc "$image" >"$tmp/base.img"
    ;;
  *) cp --sparse=always "$image" "$tmp/base.img" ;;
esac
table=$(sfdisk --dump "$tmp/base.img")
part() { # part N FIELD: start or size (sectors) of partition N
  echo "$table" | grep "^$tmp/base.img$1 " | sed -n "s/.*$2= *\([0-9]*\).*/\1/p"
}
boot_off=$(($(part 1 start) * 512))
data_mb=$(($(part 3 size) / 2048))
mtools() { "$@" -i "$tmp/disk.img@@$boot_off"; }
cp "$tmp/base.img" "$tmp/disk.img"
kernel=$(mtools mtype ::config.txt | sed -n 's/^kernel=//p' | tr -d '\r' | tail -n1)
initrd=$(mtools mtype ::config.txt | sed -n 's/^initramfs \([^ ]*\).*/\1/p' | tr -d '\r' | tail -n1)
[ -n "$kernel" ] && [ -n "$initrd" ] || die "config.txt names no kernel or initramfs"
mtools mcopy "::$kernel" "$tmp/vmlinuz"
mtools mcopy "::$initrd" "$tmp/initrd.img"
cmdline=$(mtools mtype ::cmdline.txt | tr -d '\r\n' | tr ' ' '\n' | grep -v '^console=' |
  tr '\n' ' ')
rm "$tmp/disk.img"
log "$(stamp) image $(basename "$image"): kernel $kernel, initramfs $initrd; data partition" \
  "$data_mb MB; command line: $cmdline ($((SECONDS - step)) s)"

# ----- the bundles -----------------------------------------------------------------------
step=$SECONDS
# The bundles are made by the image's own nowserving (its package, read from the root
# partition with debugfs, run by the host's Python and dependencies): a host checkout newer
# or older than the image would make a branch.toml the image's check-config refuses.
code="the host's nowserving"
if command -v debugfs >/dev/null; then
  root_off=$(part 2 start)
  dd if="$tmp/base.img" of="$tmp/root.ext4" bs=512 skip="$root_off" count="$(part 2 size)" \
    conv=sparse status=none
  venv=$(debugfs -R "ls /opt/nowserving" "$tmp/root.ext4" 2>/dev/null | tr -s ' ' '\n' |
    grep '^venv-' | sort -V | tail -n1)
  site=$(debugfs -R "ls /opt/nowserving/$venv/lib" "$tmp/root.ext4" 2>/dev/null |
    tr -s ' ' '\n' | grep '^python3' | tail -n1)
  mkdir -p "$tmp/image-code"
  if [ -n "$venv" ] && [ -n "$site" ] && debugfs -R "rdump \
/opt/nowserving/$venv/lib/$site/site-packages/nowserving $tmp/image-code" "$tmp/root.ext4" \
    >/dev/null 2>&1 && [ -f "$tmp/image-code/nowserving/__init__.py" ]; then
    export PYTHONPATH=$tmp/image-code
    code="the image's nowserving ($venv) on the host's Python"
  fi
  rm -f "$tmp/root.ext4"
fi
example=$("$(dirname "$(readlink -f "$nowserving")")/python" -c \
  'from nowserving.config import EXAMPLE; print(EXAMPLE)')
"$nowserving" provision --config "$example" --out "$tmp/provision" --server-host localhost \
  --server-host 127.0.0.1 --server-host branch-server.local >/dev/null || die "nowserving provision"
kiosk_bundle() { # kiosk_bundle DIR: kiosk-1's bundle with the dummy printer, no GPIO
  cp -r "$tmp/provision/devices/kiosk-1/nowserving" "$1"
  "$(dirname "$(readlink -f "$nowserving")")/python" - "$1/device.toml" <<'EOF'
import re, sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
# The tables [printer] and [gpio] replaced: a dummy printer, buttons on the mock pin factory.
text = re.sub(r"(?ms)^\[(printer|gpio)\]\n.*?(?=^\[|\Z)", "", text)
text += '\n[printer]\nkind = "dummy"\n\n[gpio]\npin_factory = "mock"\n'
open(path, "w", encoding="utf-8").write(text)
EOF
  "$nowserving" check-config "$1/branch.toml" --device "$1/device.toml" >/dev/null ||
    die "the kiosk's test bundle does not check"
}
log "$(stamp) bundles made by nowserving provision of $(basename "$example"), $code" \
  "($((SECONDS - step)) s)"

# ----- boot each role ----------------------------------------------------------------------
boot() { # boot ROLE
  local role=$1 bundle=$tmp/bundle-$1 extra=() line status=0 done=no failed=""
  rm -rf "$bundle" "$tmp/bundle-test"
  if [ "$role" = server ]; then
    cp -r "$tmp/provision/server" "$bundle"
    cp "$example" "$bundle/branch.toml"
    # The staff PINs' file the branch names (only the server gets it), beside branch.toml.
    "$(dirname "$(readlink -f "$nowserving")")/python" -c 'import shutil, sys
from pathlib import Path
from nowserving.config import load_config
pins = load_config(sys.argv[1]).staff_pins
if pins is not None:
    shutil.copy(pins, Path(sys.argv[2]) / pins.relative_to(Path(sys.argv[1]).parent))' \
      "$example" "$bundle" || die "the example's staff PINs"
    kiosk_bundle "$tmp/bundle-test"
  elif [ "$role" = kiosk ]; then
    kiosk_bundle "$bundle"
    extra=(-device virtio-gpu-pci -device virtio-keyboard-pci -device virtio-tablet-pci)
  else # the example's lobby display as provisioned, speaking through an emulated HDA card
    cp -r "$tmp/provision/devices/lobby-1/nowserving" "$bundle"
    extra=(-device virtio-gpu-pci -audiodev none,id=snd0 -device intel-hda
      -device hda-output,audiodev=snd0)
  fi
  # The host name first boot must give it (deploy/image/firstboot.sh): the server's from its
  # certificate's .local name, a device's BRANCH-ID.
  local hostname=pudong-kiosk-1
  case $role in server) hostname=branch-server ;; display) hostname=pudong-lobby-1 ;; esac
  if [ "$fault" = unknown-role ]; then
    sed -i 's/^role = .*/role = "turnstile"/' "$bundle/device.toml"
    log "$(stamp) planted fault: the $role bundle says role = \"turnstile\""
  fi
  cp --sparse=always "$tmp/base.img" "$tmp/disk.img"
  truncate -s +1G "$tmp/disk.img" # a larger card: the first boot grows the data partition
  mtools mcopy -s "$bundle" ::/nowserving
  [ ! -d "$tmp/bundle-test" ] || mtools mcopy -s "$tmp/bundle-test" ::/nowserving-test
  mtools mcopy "$src/scripts/lib/boot-check.sh" ::/nowserving-boot-check.sh
  log "$(stamp) booting as $role: qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 2048"
  local console=$tmp/console-$role.log
  : >"$console"
  # -no-reboot: a reboot (a watchdog firing, a panic) ends the run instead of looping.
  qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 2048 -no-reboot \
    -display none -serial "file:$console" -monitor "unix:$tmp/monitor,server,nowait" \
    -kernel "$tmp/vmlinuz" -initrd "$tmp/initrd.img" \
    -append "$cmdline console=ttyAMA0 systemd.run=/boot/firmware/nowserving-boot-check.sh \
systemd.run_success_action=poweroff systemd.run_failure_action=poweroff \
nowserving.role=$role nowserving.hostname=$hostname nowserving.built_data_mb=$data_mb nowserving.budget=$scale \
systemd.mask=serial-getty@ttyAMA0.service $allowance" \
    -drive "file=$tmp/disk.img,format=raw,if=virtio" \
    -netdev user,id=net0 -device virtio-net-pci,netdev=net0 \
    ${extra[@]+"${extra[@]}"} </dev/null >"$tmp/qemu.out" 2>&1 &
  qemu_pid=$!
  local step_start=$SECONDS
  local boot_start=$SECONDS fd partial="" next=boot deadline=$((SECONDS + boot_limit)) rc
  # The console, line by line; each step must end within its limit (the first, boot, from
  # power on), or the machine is stopped and the step named.
  exec {fd}< <(tail -F -n +1 --pid="$qemu_pid" "$console" 2>/dev/null)
  while :; do
    if IFS= read -r -t 5 -u "$fd" line; then
      line=$partial$line
      partial=""
    else
      rc=$?
      [ "$rc" -gt 128 ] || break # the end: qemu is gone
      partial=$partial$line       # a line not ended yet
      if [ "$SECONDS" -ge "$deadline" ]; then
        failed=$next
        log "$(stamp) $role: step '$next' did not end in its $((SECONDS - step_start)) s" \
          "(NOWSERVING_BOOT_BUDGET); the console's last lines:"
        tail -n 40 "$console" | sed 's/^/  | /' >&2
        break
      fi
      continue
    fi
    line=${line%$'\r'}
    case $line in
      "NSCHECK ok "*)
        set -- $line
        log "$(stamp) $role: ok $3 (guest uptime ${4%:} s, step $((SECONDS - step_start)) s):" \
          "${line#* * * * }"
        next=$(next_step "$3")
        step_start=$SECONDS
        deadline=$((SECONDS + step_limit))
        if [ "$3" = names ] && [ "$role" != server ] && [ -n "$keep" ]; then
          # cage's frame, well after the app started (under emulation with software GL a
          # grab 20 s after `units` had half the first frame), before the restart step
          # stops the app (a grab then is black)
          sleep 5
          echo "screendump $keep/$role-screen.ppm" | python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.stdin.buffer.read())
import time; time.sleep(3)' "$tmp/monitor" || true
        fi
        ;;
      "NSCHECK FAIL "*)
        set -- $line
        failed=$3
        log "$(stamp) $role: FAILED $3 (guest uptime ${4%:} s): ${line#* * * * }"
        break
        ;;
      "NSCHECK done "*) done=yes && break ;; # no need to wait for the power off
      "  | "*) echo "$line" >&2 ;;
    esac
  done
  exec {fd}<&-
  if kill -0 "$qemu_pid" 2>/dev/null; then
    kill "$qemu_pid"
    [ -n "$failed" ] || [ "$done" = yes ] || failed=$next
  fi
  wait "$qemu_pid" || status=$?
  qemu_pid=""
  [ -z "$keep" ] || cp "$console" "$keep/console-$role.log"
  if [ "$done" != yes ] && [ -z "$failed" ]; then
    failed=$next
    log "$(stamp) $role: the machine stopped (qemu status $status) before the checks ended;" \
      "the console's last lines:"
    tail -n 25 "$console" | sed 's/^/  | /' >&2
    grep -q . "$tmp/qemu.out" && sed 's/^/  qemu: /' "$tmp/qemu.out" >&2
  fi
  rm -f "$tmp/disk.img"
  if [ -n "$failed" ]; then
    log "$(stamp) FAILED: the $role boot, at step '$failed' ($((SECONDS - boot_start)) s)"
    return 1
  fi
  log "$(stamp) $role: every check passed ($((SECONDS - boot_start)) s from power on)"
}

for role in "${roles[@]}"; do
  case $role in server | kiosk | display) ;; *) die "roles: server, kiosk, display" ;; esac
done
for role in "${roles[@]}"; do
  boot "$role" || exit 1
done
log "$(stamp) passed: ${roles[*]}"
