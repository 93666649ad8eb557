#!/usr/bin/env bash
# The first boot of a nowserving device (/usr/lib/nowserving/firstboot, run by
# nowserving-firstboot.service; docs/image.md). Takes the device's role from the
# provisioning bundle on the boot partition and makes the device that role:
#
#   /boot/firmware/nowserving/  a device's bundle (`nowserving provision`'s
#                               devices/<id>/nowserving/: device.toml, password, ca.pem,
#                               branch.toml), or the server's files (its server/ folder:
#                               server.password, conf.d/, mosquitto/, plus branch.toml and
#                               the staff PINs' file it names in staff_pins, if any)
#
# It checks the bundle (`nowserving check-config`), installs it in /etc/nowserving (secrets
# 0600, owned by the user that reads them), enables exactly the role's units (server:
# nowserving-server and mosquitto; kiosk, counter, display: their one unit) and disables
# every other role's, deletes the bundle from the boot partition (FAT keeps no owners), and
# disables itself. It names the device (its host name, announced as NAME.local) and sets
# the branch's time zone and locale. On a booted device it also grows the data partition to
# the card, commits the machine id, makes the SSH host keys, and starts the role's units;
# the read-only root is made writable for this only. Run by hand (as root) to provision again from a new bundle.
# Idempotent: without a bundle it changes nothing.
set -euo pipefail

bundle=${NOWSERVING_BUNDLE:-/boot/firmware/nowserving}
etc=/etc/nowserving
nowserving=/opt/nowserving/bin/nowserving
state=/var/lib/nowserving
say() { echo "nowserving-firstboot: $*" >&2; }
die() {
  say "$*"
  exit 1
}

role_units() {
  case $1 in
    server) echo nowserving-server.service mosquitto.service ;;
    kiosk | counter | display) echo "nowserving-$1.service" ;;
  esac
}
all_role_units="nowserving-server.service nowserving-kiosk.service nowserving-counter.service
  nowserving-display.service mosquitto.service"

if [ ! -d "$bundle" ]; then
  say "no bundle in $bundle: nothing to do"
  exit 0
fi

# ----- which role, and is the bundle whole and valid? ------------------------------------
if [ -f "$bundle/device.toml" ]; then
  role=$(python3 -c 'import sys, tomllib
print(tomllib.load(open(sys.argv[1], "rb")).get("device", {}).get("role", ""))' \
    "$bundle/device.toml") || die "$bundle/device.toml is not TOML"
  need=(device.toml password ca.pem branch.toml)
elif [ -f "$bundle/server.password" ]; then
  role=server
  need=(server.password branch.toml conf.d/nowserving.conf mosquitto/passwd mosquitto/acl
    mosquitto/ca.pem mosquitto/server.pem mosquitto/server.key)
else
  die "$bundle holds neither device.toml (a device's bundle) nor server.password (the" \
    "server's files): see docs/image.md"
fi
case $role in
  server | kiosk | counter | display) ;;
  *) die "role '$role' has no unit on this image (server, kiosk, counter or display)" ;;
esac
pins=""
if [ "$role" = server ]; then
  # The staff PINs' file, if the branch names one (`staff_pins`, beside branch.toml): only
  # the server reads it, and it refuses to start without it.
  pins=$(/opt/nowserving/current/bin/python -c 'import sys
from pathlib import Path
from nowserving.config import load_config
pins = load_config(sys.argv[1]).staff_pins
print("" if pins is None else pins.relative_to(Path(sys.argv[1]).parent))' \
    "$bundle/branch.toml" 2>/dev/null) || pins=""
  [ -z "$pins" ] || need+=("$pins")
fi
for file in "${need[@]}"; do
  [ -f "$bundle/$file" ] || die "the $role bundle in $bundle lacks $file"
done
check=("$nowserving" check-config "$bundle/branch.toml")
[ "$role" = server ] || check+=(--device "$bundle/device.toml")
"${check[@]}" >&2 || die "the bundle does not pass check-config: fix it in $bundle and reboot"
if [ -n "$pins" ]; then # its entries: staff of the branch, hashes that read
  /opt/nowserving/current/bin/python -c 'import sys
from nowserving.config import load_config
from nowserving.config.pins import load_pins
config = load_config(sys.argv[1])
load_pins(config.staff_pins, config.rules.staff)' "$bundle/branch.toml" >&2 ||
    die "the staff PINs in $bundle/$pins do not check: fix them and reboot"
fi
say "importing the $role bundle from $bundle"

# ----- on a booted device: make the read-only root (and boot partition) writable ----------
booted=no
if [ -d /run/systemd/system ] && ! systemd-detect-virt --quiet --chroot; then
  booted=yes
fi
remounted=()
# shellcheck disable=SC2317 # called by the trap
restore_ro() {
  local mnt
  sync
  for mnt in "${remounted[@]}"; do
    mount -o remount,ro "$mnt" || say "could not make $mnt read-only again"
  done
}
writable() { # writable MOUNTPOINT: remount read-write if it is a read-only mount
  [ "$booted" = yes ] || return 0
  mountpoint -q "$1" || return 0
  if findmnt -no OPTIONS "$1" | tr , '\n' | grep -qx ro; then
    mount -o remount,rw "$1"
    remounted+=("$1")
  fi
}
trap restore_ro EXIT
writable /
writable "$(findmnt -no TARGET --target "$bundle")"

# ----- /etc/nowserving (and the broker's files), whole or not at all -----------------------
new=$etc.new
rm -rf "$new"
install -d -m 0755 "$new"
install -m 0644 "$bundle/branch.toml" "$new/"
if [ "$role" = server ]; then
  install -m 0600 -o nowserving -g nowserving "$bundle/server.password" "$new/"
  if [ -n "$pins" ]; then # the PINs' hashes: the server's only
    install -D -m 0600 -o nowserving -g nowserving "$bundle/$pins" "$new/$pins"
  fi
  install -d -m 0700 -o mosquitto -g mosquitto /etc/mosquitto/nowserving
  install -m 0600 -o mosquitto -g mosquitto "$bundle"/mosquitto/* /etc/mosquitto/nowserving/
  install -m 0644 "$bundle/conf.d/nowserving.conf" /etc/mosquitto/conf.d/
  if [ -f "$bundle/conf.d/nowserving-bridge.conf" ]; then # its password: the broker's only
    install -m 0600 -o mosquitto -g mosquitto "$bundle/conf.d/nowserving-bridge.conf" \
      /etc/mosquitto/conf.d/
  else
    rm -f /etc/mosquitto/conf.d/nowserving-bridge.conf
  fi
else
  install -m 0644 "$bundle/device.toml" "$bundle/ca.pem" "$new/"
  install -m 0600 -o nowserving -g nowserving "$bundle/password" "$new/"
fi
rm -rf "$etc.old"
[ ! -e "$etc" ] || mv "$etc" "$etc.old"
mv "$new" "$etc"
rm -rf "$etc.old"
install -d -m 0750 -o nowserving -g nowserving "$state"

# ----- the role's units, and no other's --------------------------------------------------
wanted=$(role_units "$role")
others=()
for unit in $all_role_units; do
  case " $wanted " in
    *" $unit "*) ;;
    *) others+=("$unit") ;;
  esac
done
# shellcheck disable=SC2086 # unit names
systemctl disable --quiet "${others[@]}"
# shellcheck disable=SC2086
systemctl enable --quiet $wanted
say "enabled $wanted"

# The system's time zone is the branch's: screens show branch time anyway, but logs, the
# journal and the self-test read the system's.
zone=$(/opt/nowserving/current/bin/python -c 'import sys
from nowserving.config import load_config
print(load_config(sys.argv[1]).rules.timezone)' "$etc/branch.toml")
if [ -e "/usr/share/zoneinfo/$zone" ]; then
  ln -sfn "/usr/share/zoneinfo/$zone" /etc/localtime
  echo "$zone" >/etc/timezone
  say "time zone: $zone"
else
  say "no zone $zone in /usr/share/zoneinfo: the system's zone is left as it is"
fi
# The system's locale is that of the branch's first language, where the image has it (the
# image of scripts/build-image.sh makes zh_CN.UTF-8 and en_US.UTF-8): messages of the
# system's own tools and the console's keyboard-free logs read in it.
language=$(/opt/nowserving/current/bin/python -c 'import sys
from nowserving.config import load_config
print(load_config(sys.argv[1]).rules.languages[0])' "$etc/branch.toml")
case $language in
  zh*) locale=zh_CN.UTF-8 ;;
  en*) locale=en_US.UTF-8 ;;
  *) locale="" ;;
esac
if [ -n "$locale" ] && locale -a 2>/dev/null | grep -qix "${locale%.UTF-8}.utf8"; then
  echo "LANG=$locale" >/etc/default/locale
  say "locale: $locale"
else
  say "no locale ${locale:-for $language} on this image: the system's locale is left as it is"
fi

# The device's name on the network (and in mDNS, NAME.local): every card is "nowserving"
# as written, and two devices of one name on a network make systemd-resolved rename one at
# random. A device is BRANCH-ID (pudong-kiosk-1); the server is the NAME of the first
# NAME.local its broker's certificate names (`provision --server-host NAME.local`: the name
# the devices were told to reach it by), else BRANCH-server.
hostname=$(/opt/nowserving/current/bin/python - "$etc" "$role" <<'EOF'
import re, sys, tomllib
from pathlib import Path
from nowserving.config import load_config

etc, role = Path(sys.argv[1]), sys.argv[2]
branch = load_config(etc / "branch.toml").rules.branch_id
name = f"{branch}-server"
if role == "server":
    try:
        from cryptography import x509

        pem = Path("/etc/mosquitto/nowserving/server.pem").read_bytes()
        sans = x509.load_pem_x509_certificate(pem).extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value
        local = [n for n in sans.get_values_for_type(x509.DNSName)
                 if re.fullmatch(r"[A-Za-z0-9-]+\.local", n)]
        name = local[0].removesuffix(".local") if local else name
    except Exception as err:  # no certificate, or no cryptography: the branch's name
        print(f"nowserving-firstboot: the server's name from {branch}: {err}", file=sys.stderr)
else:
    with open(etc / "device.toml", "rb") as file:
        name = f"{branch}-{tomllib.load(file)['device']['id']}"
name = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63].strip("-")
print(name or "nowserving")
EOF
) || hostname=nowserving
echo "$hostname" >/etc/hostname
if grep -q '^127\.0\.1\.1[[:space:]]' /etc/hosts 2>/dev/null; then
  sed -i "s/^127\.0\.1\.1[[:space:]].*/127.0.1.1\t$hostname/" /etc/hosts
else
  printf '127.0.1.1\t%s\n' "$hostname" >>/etc/hosts
fi
[ "$booted" = no ] || echo "$hostname" >/proc/sys/kernel/hostname
say "host name: $hostname ($hostname.local)"

if [ "$role" = server ]; then # the branch's event log, made once: a lost one is refused later
  runuser -u nowserving -- "$nowserving" new-log --config "$etc/branch.toml" \
    --db "$state/events.sqlite" >&2 || die "could not make the event log in $state"
fi

if [ "$role" = display ]; then # its voice: espeak-ng clips of the branch's counters
  for language in $(/opt/nowserving/current/bin/python -c 'import sys
from nowserving.config import load_config
print(" ".join(load_config(sys.argv[1]).rules.languages))' "$etc/branch.toml"); do
    runuser -u nowserving -- "$nowserving" voice-clips --language "$language" \
      --out "$state/voice" --config "$etc/branch.toml" >/dev/null ||
      say "could not make the $language voice clips (the display says so on screen)"
  done
fi

if [ "$booted" = yes ]; then
  # The data partition (/var) is the card's last: grow it over the rest of the card.
  data=$(findmnt -no SOURCE /var || true)
  if [ -b "$data" ] && [ -r "/sys/class/block/${data##*/}/partition" ]; then
    part=$(cat "/sys/class/block/${data##*/}/partition")
    disk=/dev/$(lsblk -no PKNAME "$data" | head -n1)
    if growpart "$disk" "$part" >&2; then # it fails when there is nothing to grow
      resize2fs "$data" >&2 || say "could not grow the file system on $data"
    fi
  fi
  # With a read-only root, systemd could not write the machine id it made: write it now.
  if mountpoint -q /etc/machine-id; then systemd-machine-id-setup --commit >&2; fi
  if command -v ssh-keygen >/dev/null; then ssh-keygen -A >&2; fi
fi

rm -rf "$bundle"
systemctl disable --quiet nowserving-firstboot.service
if [ "$booted" = yes ]; then
  # shellcheck disable=SC2086
  systemctl start --no-block $wanted
fi
say "this device is a $role now"
