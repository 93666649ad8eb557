#!/usr/bin/env bash
# Turns a Debian trixie root file system with the packages of packages.txt into the
# nowserving image, every role alike (docs/image.md). An mmdebstrap customize hook: it runs
# outside the target, whose root is $1, and runs commands inside it with chroot. The
# Raspberry Pi image runs it from the rpi-image-gen layer; scripts/image-check.sh runs it on
# an amd64 root file system and checks the result.
#
#   NOWSERVING_WHEELS=DIR  a folder with the nowserving wheel (and, for a build without
#                          PyPI, every dependency's wheel for the target)
#   NOWSERVING_CONSTRAINTS=FILE  pins for the dependencies (the project's constraints.txt)
#   NOWSERVING_EXTRAS      what to install (default: all, i.e. every role and provision)
#
# Installs: the user nowserving; /opt/nowserving/venv-VERSION (a venv with the system's
# site-packages, so gpiozero finds Raspberry Pi OS's lgpio), with /opt/nowserving/current
# pointing to it and /opt/nowserving/bin to current/bin, the layout that nowserving-update
# (deploy/update/) switches between versions in; the units, the first boot, presets, the
# watchdog and journal settings, the udev rules, the PAM service, the fstab of the
# read-only root; on a Pi, the hardware watchdog in config.txt. Enables only the first boot.
set -euo pipefail

root=${1:?usage: customize.sh ROOT}
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
deploy=$(dirname "$here")
wheels=${NOWSERVING_WHEELS:?set NOWSERVING_WHEELS to a folder holding the nowserving wheel}
constraints=${NOWSERVING_CONSTRAINTS:-$deploy/../constraints.txt}
extras=${NOWSERVING_EXTRAS:-all}
venv=/opt/nowserving
log() { echo "customize: $*" >&2; }

# The target's own tools, with a clean environment (plus what decides how pip reaches PyPI).
inside() {
  local envs=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
    LANG=C.UTF-8)
  local name
  for name in $(compgen -e); do
    case $name in
      PIP_* | http_proxy | https_proxy | no_proxy | HTTP_PROXY | HTTPS_PROXY | NO_PROXY | \
        SSL_CERT_FILE | SSL_CERT_DIR) envs+=("$name=${!name}") ;;
    esac
  done
  # Without a cache of the caller's, pip keeps none in the image.
  [ -n "${PIP_CACHE_DIR:-}" ] || envs+=(PIP_NO_CACHE_DIR=1)
  chroot "$root" /usr/bin/env -i "${envs[@]}" "$@"
}

ls "$wheels"/nowserving-*.whl >/dev/null 2>&1 || { log "no nowserving wheel in $wheels"; exit 1; }

log "the user nowserving and the groups its units use"
inside groupadd --force --system gpio
if ! inside id -u nowserving >/dev/null 2>&1; then
  inside useradd --system --user-group --home-dir /var/lib/nowserving --no-create-home \
    --shell /usr/sbin/nologin --comment "nowserving apps" nowserving
fi

wheel=$(cd "$wheels" && printf '%s\n' nowserving-*.whl | sort -V | tail -n1)
version=$(echo "$wheel" | cut -d- -f2)
log "nowserving ${version}[$extras] in $venv/venv-$version"
stage=$root/tmp/nowserving-install
rm -rf "$stage"
mkdir -p "$stage"
cp "$wheels"/*.whl "$stage/"
cp "$constraints" "$stage/constraints.txt"
inside python3 -m venv --system-site-packages "$venv/venv-$version"
inside "$venv/venv-$version/bin/pip" install --no-input --quiet \
  --find-links /tmp/nowserving-install --constraint /tmp/nowserving-install/constraints.txt \
  "nowserving[$extras] @ file:///tmp/nowserving-install/$wheel"
rm -rf "$stage"
ln -sfn "venv-$version" "$root$venv/current"
ln -sfn current/bin "$root$venv/bin"
ln -sf "$venv/bin/nowserving" "$root/usr/local/bin/nowserving"

log "units, first boot, presets, watchdog, journal, udev rules, PAM, fstab"
install -d "$root/usr/lib/systemd/system" "$root/usr/lib/systemd/system-preset" \
  "$root/usr/lib/systemd/system.conf.d" "$root/usr/lib/systemd/journald.conf.d" \
  "$root/usr/lib/udev/rules.d" "$root/usr/lib/nowserving" "$root/etc/pam.d"
install -m 0644 "$deploy"/systemd/nowserving-*.service "$root/usr/lib/systemd/system/"
install -m 0644 "$deploy/systemd/nowserving.preset" \
  "$root/usr/lib/systemd/system-preset/20-nowserving.preset"
install -m 0644 "$deploy/systemd/watchdog.conf" \
  "$root/usr/lib/systemd/system.conf.d/60-nowserving-watchdog.conf"
install -m 0644 "$deploy/systemd/journald.conf" \
  "$root/usr/lib/systemd/journald.conf.d/60-nowserving.conf"
install -m 0644 "$deploy/udev/60-nowserving.rules" "$root/usr/lib/udev/rules.d/"
install -m 0644 "$deploy/pam/nowserving-cage" "$root/etc/pam.d/"
install -m 0755 "$here/firstboot.sh" "$root/usr/lib/nowserving/firstboot"
install -m 0644 "$here/fstab" "$root/etc/fstab"
# Early units that need /var/tmp wait for the data partition (/var).
for unit in systemd-resolved systemd-timesyncd; do
  install -D -m 0644 "$deploy/systemd/after-data.conf" \
    "$root/usr/lib/systemd/system/$unit.service.d/60-nowserving-after-data.conf"
done
# The updater (deploy/update/), which switches between venv-VERSION folders.
if [ -f "$deploy/update/nowserving-update" ]; then
  install -m 0755 "$deploy/update/nowserving-update" "$root/usr/local/sbin/"
fi
# The mount point of the boot partition, where the first boot looks for the bundle.
install -d "$root/boot/firmware"

log "enabled: the first boot only (mosquitto waits for the server's role)"
inside systemctl disable --quiet mosquitto.service nowserving-server.service \
  nowserving-kiosk.service nowserving-counter.service nowserving-display.service
inside systemctl enable --quiet nowserving-firstboot.service

config=$root/boot/firmware/config.txt
if [ -f "$config" ]; then
  log "the hardware watchdog in $config"
  grep -qx 'dtparam=watchdog=on' "$config" || printf '\n[all]\ndtparam=watchdog=on\n' >>"$config"
else
  log "no $config (not a Raspberry Pi root): the watchdog's dtparam is left out"
fi
