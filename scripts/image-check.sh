#!/usr/bin/env bash
# Checks the nowserving image recipe (deploy/image/, docs/image.md) on this machine, where
# the Raspberry Pi image itself can be neither built nor booted: it builds an amd64 Debian
# 13 "trixie" root file system with mmdebstrap from the recipe's own package list
# (deploy/image/packages.txt), runs the recipe's own customisation (deploy/image/customize.sh)
# in it with a wheel of this checkout, and checks, with the target's own tools:
#   - `nowserving` runs: --version, check-config, a ticket picture (Pillow, the CJK font);
#   - every shipped unit passes `systemd-analyze verify` with no output at all (it exits 0
#     on many problems), and the fstab's mount units too;
#   - the udev rules pass `udevadm verify`;
#   - the first boot, given each role's bundle from `nowserving provision` of the example
#     branch, enables exactly that role's units (and disables itself), installs the bundle
#     with the right owners and modes, and changes nothing when run again; a staff
#     device's bundle is refused; and Qt draws the kiosk's and the display's screens
#     offscreen as the user nowserving (the system libraries are all there).
# Needs root (mmdebstrap, mounts, chroot) on an x86_64 Debian or Ubuntu host, and the
# network to Debian's mirror (first run) and PyPI (pip, cached). The package root is cached
# in /var/cache/nowserving/ keyed on the package list; pip's downloads too. Exits non-zero
# on the first failed check. NOWSERVING_IMAGE_REBUILD=1 rebuilds the cached root.
set -euo pipefail

self=$(readlink -f "${BASH_SOURCE[0]}")
src=$(cd "$(dirname "$self")/.." && pwd)
image=$src/deploy/image
log() { echo "image-check: $*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}
# shellcheck source=scripts/lib/rootfs.sh
. "$(dirname "$self")/lib/rootfs.sh"

# ----- stage 2: inside a private mount and PID namespace (see the end of the file) -------
if [ "${1:-}" = "--in-namespace" ]; then
  rootfs_namespace_mounts "$2"
  run() { # run COMMAND...: in the root, with a clean environment (plus pip's)
    local envs=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
      LANG=C.UTF-8 PIP_CACHE_DIR=/var/cache/pip-host) name
    for name in $(compgen -e); do
      case $name in
        PIP_* | http_proxy | https_proxy | no_proxy | HTTP_PROXY | HTTPS_PROXY | NO_PROXY | \
          SSL_CERT_FILE | SSL_CERT_DIR) envs+=("$name=${!name}") ;;
      esac
    done
    chroot "${top:-$root}" /usr/bin/env -i "${envs[@]}" "$@"
  }
  checked=()
  ok() {
    checked+=("$*")
    log "ok: $*"
  }
  silent() { # silent WHAT COMMAND...: the command must succeed and print nothing at all
    local what=$1 out
    shift
    out=$("$@" 2>&1) || die "$what: exit status $?: $out"
    [ -z "$out" ] || die "$what printed (so it found something wrong):"$'\n'"$out"
  }

  . "$root/etc/os-release"
  log "inside $PRETTY_NAME ($(cat "$root/etc/debian_version"), $(run uname -m)):" \
    "$(run python3 --version), $(run systemctl --version | head -n1)"

  # ----- the wheel of this checkout, and the recipe's customisation ----------------------
  step=$SECONDS
  rootfs_wheel "$src" "$root" /var/tmp run
  NOWSERVING_WHEELS=$root/var/tmp/wheels NOWSERVING_CONSTRAINTS=$src/constraints.txt \
    bash "$image/customize.sh" "$root"
  rm -rf "$root/var/tmp/wheels"
  ok "customize.sh: the venv, the units and the rest installed ($((SECONDS - step)) s)"

  # ----- nowserving runs ----------------------------------------------------------------
  run nowserving --version >/dev/null || die "nowserving --version"
  run nowserving --help >/dev/null || die "nowserving --help"
  example=$(run /opt/nowserving/current/bin/python -c \
    'from nowserving.config import EXAMPLE; print(EXAMPLE)')
  run nowserving check-config "$example" >/dev/null || die "nowserving check-config $example"
  run runuser -u nowserving -- nowserving ticket-preview --language zh \
    --png /tmp/ticket.png >/dev/null || die "nowserving ticket-preview"
  ok "nowserving runs: --version, --help, check-config, ticket-preview (zh) as nowserving"

  # ----- every shipped unit, and the fstab's mounts, pass systemd-analyze verify ----------
  units=$(cd "$root/usr/lib/systemd/system" && ls nowserving-*.service)
  # shellcheck disable=SC2086 # unit names
  silent "systemd-analyze verify" run systemd-analyze verify --man=no $units mosquitto.service
  silent "the watchdog setting" test -n "$(run systemd-analyze cat-config systemd/system.conf |
    grep -x 'RuntimeWatchdogSec=14s')"
  silent "the journal setting" test -n "$(run systemd-analyze cat-config systemd/journald.conf |
    grep -x 'Storage=persistent')"
  generated=/run/fstab-units
  run mkdir -p "$generated"
  # SYSTEMD_SYSFS_CHECK=0: block devices count although /sys is read-only here.
  run env SYSTEMD_SYSFS_CHECK=0 /usr/lib/systemd/system-generators/systemd-fstab-generator \
    "$generated" "$generated" "$generated" || die "systemd-fstab-generator on the image's fstab"
  mounts=$(cd "$root$generated" && ls -- *.mount)
  [ "$(echo "$mounts" | tr '\n' ' ')" = "-.mount boot-firmware.mount tmp.mount var.mount " ] ||
    die "the fstab gave the mount units: $mounts"
  silent "systemd-analyze verify (the fstab's mounts)" \
    run sh -c "cd $generated && systemd-analyze verify --man=no -- $(echo "$mounts" |
      sed 's|^|./|' | tr '\n' ' ')"
  grep -q '^Options=ro,' "$root$generated/-.mount" || die "the root is not mounted read-only"
  ok "systemd-analyze verify: no output for" $units "mosquitto.service and" $mounts

  # ----- the udev rules -----------------------------------------------------------------
  layout_rules=$image/rpi-image-gen/image/nowserving/device/rootfs-overlay/etc/udev/rules.d
  cp "$layout_rules/99-rpi-05-image.rules" "$root/tmp/"
  silent "udevadm verify" run udevadm verify --no-summary \
    /usr/lib/udev/rules.d/60-nowserving.rules /tmp/99-rpi-05-image.rules
  ok "udevadm verify: no output for 60-nowserving.rules (groups lp and gpio resolved)" \
    "and the Pi layout's 99-rpi-05-image.rules"

  # ----- the rpi-image-gen layer installs this same package list -------------------------
  "$image/rpi-image-gen/bin/generators/nowserving-layer" \
    "$image/rpi-image-gen/layer/nowserving.yaml" "$tmp/layer.yaml"
  listed=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$image/packages.txt" | grep . | sort)
  rendered=$(sed -n 's/^    - \([a-z0-9.+-]*\)$/\1/p' "$tmp/layer.yaml" | grep -vx python3-lgpio |
    sort)
  [ "$listed" = "$rendered" ] || die "the rpi-image-gen layer's packages differ from" \
    "packages.txt:"$'\n'"$(diff <(echo "$listed") <(echo "$rendered"))"
  grep -qF "\"$image/customize.sh\" \"\$1\"" "$tmp/layer.yaml" ||
    die "the rpi-image-gen layer does not run $image/customize.sh"
  ok "the rpi-image-gen layer, as its generator renders it, installs packages.txt" \
    "(plus python3-lgpio) and runs customize.sh"

  # ----- the first boot, for each role --------------------------------------------------
  run nowserving provision --config "$example" --out /var/tmp/provision \
    --server-host branch-server.local >/dev/null || die "nowserving provision"
  provision=$root/var/tmp/provision
  enabled() { # the enabled units, one a line
    run systemctl list-unit-files --state=enabled --no-legend --no-pager | awk '{print $1}' |
      sort
  }
  [ "$(enabled | grep -c -e '^nowserving-' -e '^mosquitto')" = 1 ] &&
    enabled | grep -qx nowserving-firstboot.service ||
    die "before the first boot, units other than nowserving-firstboot are on: $(enabled |
      grep -e nowserving -e mosquitto)"
  ok "as built: of nowserving's units and mosquitto, only nowserving-firstboot is enabled"
  before=$(enabled)
  layer=0
  provisioned() { # provisioned ROLE DEVICE EXPECTED-UNITS...
    local role=$1 device=$2 top upper work boot added removed name
    shift 2
    layer=$((layer + 1))
    top=$tmp/role-$layer upper=$tmp/upper-$layer work=$tmp/work-$layer
    mkdir -p "$top" "$upper" "$work"
    mnt -t overlay overlay -o "lowerdir=$root,upperdir=$upper,workdir=$work" "$top"
    for dir in proc dev run; do mnt --rbind "$root/$dir" "$top/$dir"; done
    boot=$top/boot/firmware/nowserving
    if [ "$role" = server ]; then
      cp -a "$provision/server" "$boot"
      cp "$top$example" "$boot/branch.toml"
      cp "$(dirname "$top$example")/staff-pins.toml" "$boot/" # the example's staff_pins
    else
      cp -a "$provision/devices/$device/nowserving" "$boot"
    fi
    top=$top run /usr/lib/nowserving/firstboot 2>"$tmp/firstboot.log" ||
      die "firstboot for the $role role: $(cat "$tmp/firstboot.log")"
    after=$(top=$top enabled)
    added=$(comm -13 <(echo "$before") <(echo "$after") | tr '\n' ' ')
    removed=$(comm -23 <(echo "$before") <(echo "$after") | tr '\n' ' ')
    [ "$added" = "$(printf '%s\n' "$@" | sort | tr '\n' ' ')" ] ||
      die "the $role role enabled '$added', not '$*'"
    [ "$removed" = "nowserving-firstboot.service " ] ||
      die "the $role role disabled '$removed', not just nowserving-firstboot.service"
    [ ! -e "$boot" ] || die "the $role bundle was left on the boot partition"
    # Owners and modes: secrets 0600 to their reader, the rest readable.
    modes=$(top=$top run sh -c 'cd /etc/nowserving && stat -c "%n %a %U" * | sort' |
      tr '\n' ',')
    if [ "$role" = server ]; then
      secret="600 nowserving"
      [ "$modes" = "branch.toml 644 root,server.password $secret,staff-pins.toml $secret," ] ||
        die "/etc/nowserving of the server: $modes"
      modes=$(top=$top run stat -c "%a %U" /etc/mosquitto/nowserving \
        /etc/mosquitto/nowserving/server.key /etc/mosquitto/conf.d/nowserving.conf | tr '\n' ,)
      [ "$modes" = "700 mosquitto,600 mosquitto,644 root," ] ||
        die "the broker's files: $modes"
      [ "$(top=$top run stat -c %U /var/lib/nowserving/events.sqlite)" = nowserving ] ||
        die "first boot made no event log for the server (nowserving new-log)"
    else
      [ "$modes" = "branch.toml 644 root,ca.pem 644 root,device.toml 644 root,password 600 nowserving," ] ||
        die "/etc/nowserving of the $role: $modes"
      top=$top run nowserving check-config /etc/nowserving/branch.toml \
        --device /etc/nowserving/device.toml >/dev/null || die "check-config of the $role"
    fi
    [ "$(readlink "$top/etc/localtime")" = /usr/share/zoneinfo/Asia/Shanghai ] ||
      die "first boot did not set the branch's time zone: $(readlink "$top/etc/localtime")"
    # Its host name: the server's from its certificate (--server-host branch-server.local),
    # a device's BRANCH-ID; in /etc/hosts too.
    name=pudong-$device
    [ "$role" != server ] || name=branch-server
    [ "$(cat "$top/etc/hostname")" = "$name" ] ||
      die "first boot named the $role '$(cat "$top/etc/hostname")', not $name"
    grep -qP "^127\.0\.1\.1\t$name\$" "$top/etc/hosts" ||
      die "/etc/hosts does not name $name: $(grep '^127' "$top/etc/hosts" | tr '\n' ';')"
    if [ "$role" = kiosk ] || [ "$role" = display ]; then # Qt, offscreen, as nowserving
      top=$top run runuser -u nowserving -- env QT_QPA_PLATFORM=offscreen \
        HOME=/var/lib/nowserving nowserving "$role" --config /etc/nowserving/branch.toml \
        --device /etc/nowserving/device.toml --screenshot "/tmp/$role.png" --size 800x480 \
        >"$tmp/qt.log" 2>&1 || die "the $role's screen, offscreen: $(cat "$tmp/qt.log")"
      [ -s "$top/tmp/$role.png" ] || die "no picture of the $role's screen"
    fi
    if [ "$role" = display ]; then
      [ -s "$top/var/lib/nowserving/voice/zh/counter-c1.wav" ] &&
        [ -s "$top/var/lib/nowserving/voice/en/counter-c1.wav" ] ||
        die "the display's voice clips were not made: $(cat "$tmp/firstboot.log")"
    fi
    top=$top run /usr/lib/nowserving/firstboot 2>/dev/null || die "firstboot again ($role)"
    [ "$(top=$top enabled)" = "$after" ] || die "firstboot again ($role) changed the units"
    ok "first boot as $role ($device, host name $name): enabled exactly $*, disabled itself," \
      "bundle installed (secrets 0600 to their reader) and removed from the boot partition;" \
      "again: no change"
  }
  provisioned server server nowserving-server.service mosquitto.service
  provisioned kiosk kiosk-1 nowserving-kiosk.service
  provisioned counter counter-1 nowserving-counter.service
  provisioned display lobby-1 nowserving-display.service

  # A staff PC's bundle: no unit on this image, so it is refused and nothing changes.
  staff=$(cd "$provision/devices" && grep -l 'role = "staff"' -- */nowserving/device.toml |
    head -n1 | cut -d/ -f1)
  if [ -n "$staff" ]; then
    top=$tmp/role-staff
    mkdir -p "$top" "$tmp/upper-staff" "$tmp/work-staff"
    mnt -t overlay overlay \
      -o "lowerdir=$root,upperdir=$tmp/upper-staff,workdir=$tmp/work-staff" "$top"
    for dir in proc dev run; do mnt --rbind "$root/$dir" "$top/$dir"; done
    cp -a "$provision/devices/$staff/nowserving" "$top/boot/firmware/nowserving"
    if top=$top run /usr/lib/nowserving/firstboot 2>/dev/null; then
      die "a staff device's bundle was accepted"
    fi
    [ "$(top=$top enabled)" = "$before" ] || die "a refused bundle changed the units"
    ok "first boot with a staff PC's bundle ($staff): refused, nothing changed"
  fi

  log "checked, on $PRETTY_NAME amd64:"
  printf '  - %s\n' "${checked[@]}" >&2
  log "not checked here (see docs/image.md): the arm64 Pi image, booting, cage on a screen," \
    "GPIO, printers, sound, the watchdog firing, the read-only root and data partition live"
  exit 0
fi

# ----- stage 1: on the host ---------------------------------------------------------------
suite=trixie
arch=amd64
variant=minbase
mapfile -t packages < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$image/packages.txt" | grep .)
dpkg_opts=("${rootfs_dpkg_opts[@]}")
cache_dir=/var/cache/nowserving

[ "$(id -u)" -eq 0 ] || die "needs root (mmdebstrap, mount, chroot)"
[ "$(uname -m)" = x86_64 ] || die "builds an $arch root, so it needs an x86_64 host"
start=$SECONDS
trap 'exit 130' INT
trap 'exit 143' TERM
log "checking the image recipe in $image on a Debian $suite $arch root file system"

rootfs_host_tools "$suite"
mkdir -p "$cache_dir/pip"
rootfs_cached image-rootfs "${NOWSERVING_IMAGE_REBUILD:-0}"
rootfs_unpack nowserving-image
rootfs_host_network
# The host's pip settings.
for conf in /etc/pip.conf "${PIP_CONFIG_FILE:-}"; do
  [ -f "$conf" ] || continue
  mkdir -p "$root$(dirname "$conf")"
  cp -L "$conf" "$root$conf"
done
rootfs_host_pip_certs
export PIP_CACHE_HOST=$cache_dir/pip

log "root ready in $((SECONDS - start)) s; customising and checking it"
rootfs_in_namespace "$self" --in-namespace "$tmp"
log "finished with status $status in $((SECONDS - start)) s"
exit "$status"
