#!/bin/bash
# The checks scripts/boot-image.sh runs inside the booted image (put on its boot partition
# and started by the kernel's command line: systemd.run=, then the machine powers off).
# Each step prints one line "NSCHECK ok|FAIL STEP UPTIME-S: detail" on the console; the
# first failure ends the run. Arguments (the kernel's command line): nowserving.role=ROLE,
# nowserving.built_data_mb=N (the data partition's size in the image).
exec >/dev/ttyAMA0 2>&1
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LANG=C.UTF-8

arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^nowserving\.$1=//p" | tail -n1; }
role=$(arg role)
built_data_mb=$(arg built_data_mb)
up() { cut -d' ' -f1 /proc/uptime; }
ok() { echo "NSCHECK ok $1 $(up): ${*:2}"; }
fail() {
  echo "NSCHECK FAIL $1 $(up): ${*:2}"
  exit 1
}
# wait_for SECONDS COMMAND...: until the command succeeds; fails after the seconds.
wait_for() {
  local until=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$until" ] || return 1
    sleep 2
  done
}
prop() { systemctl show -P "$2" "$1"; }

# systemd.run= may boot into kernel-command-line.target instead of the default target: bring
# up what a normal boot does (a no-op when it is under way already).
systemctl start --no-block multi-user.target
ok boot "systemd $(systemctl --version | head -n1 | cut -d' ' -f2), kernel $(uname -r)," \
  "$(. /etc/os-release && echo "$PRETTY_NAME") $(uname -m)"

# ----- first boot: the role from the bundle -----------------------------------------------
firstboot_done() {
  [ "$(prop nowserving-firstboot.service ActiveState)" != activating ] &&
    [ "$(prop nowserving-firstboot.service ExecMainExitTimestampMonotonic)" != 0 ]
}
wait_for 900 firstboot_done || fail firstboot "nowserving-firstboot did not finish in 900 s"
result=$(prop nowserving-firstboot.service Result)
why=$(journalctl -b -u nowserving-firstboot.service -o cat --no-pager | tail -n 4 | tr '\n' ' ')
[ "$result" = success ] || fail firstboot "nowserving-firstboot: $result: $why"
[ ! -e /boot/firmware/nowserving ] || fail firstboot "the bundle is still on the boot partition"
[ "$(systemctl is-enabled nowserving-firstboot.service)" = disabled ] ||
  fail firstboot "nowserving-firstboot is still enabled"
case $role in
  server) units="nowserving-server.service mosquitto.service" ;;
  *) units="nowserving-$role.service" ;;
esac
for unit in $units; do
  [ "$(systemctl is-enabled "$unit")" = enabled ] || fail firstboot "$unit is not enabled"
done
journalctl -b -u nowserving-firstboot.service -o cat | grep -q "this device is a $role now" ||
  fail firstboot "the journal does not say it became a $role: $why"
ok firstboot "took the $role role ($(prop nowserving-firstboot.service \
  ExecMainExitTimestampMonotonic | awk '{printf "%.0f", $1 / 1e6}') s after boot), enabled" \
  "$units, removed the bundle, disabled itself"

# ----- the role's units: active, and petting their watchdogs -----------------------------
for unit in $units; do
  wait_for 600 test "$(prop "$unit" ActiveState)" = active ||
    fail units "$unit is $(prop "$unit" ActiveState)/$(prop "$unit" SubState):" \
      "$(journalctl -b -u "$unit" -o cat --no-pager | tail -n 8 | tr '\n' ' ')"
done
ok units "active: $units"
for unit in $units; do
  [ "$(prop "$unit" WatchdogUSec)" != 0 ] || continue # mosquitto has none
  first=$(prop "$unit" WatchdogTimestampMonotonic)
  wait_for 60 test "$(prop "$unit" WatchdogTimestampMonotonic)" != "$first" ||
    fail watchdog "$unit has not petted its watchdog ($(prop "$unit" WatchdogUSec)) in 60 s"
  second=$(prop "$unit" WatchdogTimestampMonotonic)
  wait_for 60 test "$(prop "$unit" WatchdogTimestampMonotonic)" != "$second" ||
    fail watchdog "$unit petted its watchdog once, then stopped"
  [ "$(prop "$unit" NRestarts)" = 0 ] || fail watchdog "$unit restarted $(prop "$unit" NRestarts)x"
  ok watchdog "$unit pets its watchdog (WatchdogSec=$(prop "$unit" WatchdogUSec)), no restarts"
done

# ----- the read-only root, the data partition ---------------------------------------------
findmnt -no OPTIONS / | tr , '\n' | grep -qx ro || fail root-ro "/ is $(findmnt -no OPTIONS /)"
if touch /.nowserving-rw-test 2>/dev/null; then fail root-ro "a file could be written on /"; fi
ok root-ro "/ is $(findmnt -no SOURCE /) ($(findmnt -no OPTIONS / | cut -d, -f1-2)), not writable"

data=$(findmnt -no SOURCE /var)
[ "$(readlink -f "$data")" = "$(readlink -f /dev/disk/by-slot/data)" ] ||
  fail data "/var is $data, not the data slot"
findmnt -no OPTIONS /var | tr , '\n' | grep -qx rw || fail data "/var is $(findmnt -no OPTIONS /var)"
echo written >/var/tmp/nowserving-boot-check && sync || fail data "cannot write on /var"
dev=$(readlink -f "$data")
disk=/sys/block/$(lsblk -no PKNAME "$dev" | head -n1)
part=/sys/class/block/${dev##*/}
end=$(($(cat "$part/start") + $(cat "$part/size")))
[ $(($(cat "$disk/size") - end)) -lt 4096 ] || fail data "the data partition ends at sector" \
  "$end of $(cat "$disk/size"): not grown"
fs_mb=$(($(stat -f -c '%b * %S' /var) / 1048576))
[ "$fs_mb" -gt "$((built_data_mb + 256))" ] || fail data "its file system is $fs_mb MB, built" \
  "$built_data_mb MB: not grown"
ok data "/var on $dev (the data slot) is writable and grown from $built_data_mb MB to $fs_mb MB"

# ----- the branch's zone and locale ----------------------------------------------------------
zone=$(readlink /etc/localtime)
[ "$zone" = /usr/share/zoneinfo/Asia/Shanghai ] || fail zone "/etc/localtime is $zone"
locale=$(sed -n 's/^LANG=//p' /etc/default/locale 2>/dev/null)
[ "$locale" = zh_CN.UTF-8 ] || fail zone "the locale is '$locale', not zh_CN.UTF-8"
ok zone "time zone ${zone#/usr/share/zoneinfo/} ($(date +%Z%z)), locale $locale"

# ----- the self-test ------------------------------------------------------------------------
if [ -f /boot/firmware/nowserving-test/device.toml ]; then
  # A kiosk with the dummy printer, against this server's broker and server.
  cp -r /boot/firmware/nowserving-test /tmp/test-device
  if nowserving self-test --device /tmp/test-device/device.toml --buttons-timeout 0 \
    --pattern-seconds 0 --no-announce >/tmp/self-test.log 2>&1; then
    ok self-test "nowserving self-test of a kiosk with the dummy printer against this" \
      "$role: passed: $(grep -c . /tmp/self-test.log) lines"
    sed 's/^/  | /' /tmp/self-test.log
  else
    sed 's/^/  | /' /tmp/self-test.log
    fail self-test "nowserving self-test failed (above)"
  fi
fi
if [ "$role" != server ]; then
  # Its own bundle; there is no server here, so the checks that need it are not counted.
  nowserving self-test --device /etc/nowserving/device.toml --buttons-timeout 0 \
    --pattern-seconds 0 --no-announce --no-publish >/tmp/self-test.log 2>&1
  sed 's/^/  | /' /tmp/self-test.log
  grep -E '^  FAIL ' /tmp/self-test.log | grep -vE '^  FAIL +(broker|server|clock) ' &&
    fail self-test "the $role's own self-test failed on a check other than the network's"
  ok self-test "the $role's own self-test: every check passes but the network's (no server here)"
fi
echo "NSCHECK done $(up)"
exit 0
