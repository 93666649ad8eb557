#!/bin/bash
# The checks scripts/boot-image.sh runs inside the booted image (put on its boot partition
# and started by the kernel's command line: systemd.run=, then the machine powers off).
# Each step prints one line "NSCHECK ok|FAIL STEP UPTIME-S: detail" on the console; the
# first failure ends the run, after printing the status and the journal's tail of the units
# concerned (lines "  | ..."). Every wait is bounded (the budgets below, in seconds of the
# guest; scripts/boot-image.sh gives up on a step a while after them). Arguments (the
# kernel's command line): nowserving.role=ROLE, nowserving.built_data_mb=N (the data
# partition's size in the image), nowserving.budget=N (optional: every budget times N/100,
# for a slower or busier host).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LANG=C.UTF-8
# Every line opens the console anew: a getty's vhangup() on it would silence a held one.
console=/dev/ttyAMA0
exec >/dev/null 2>&1
out() { cat >>"$console"; }
say() { printf '%s\n' "$*" | out; }

arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^nowserving\.$1=//p" | tail -n1; }
role=$(arg role)
built_data_mb=$(arg built_data_mb)
scale=$(arg budget)
budget() { echo $(($1 * ${scale:-100} / 100)); }
up() { cut -d' ' -f1 /proc/uptime; }
ok() { say "NSCHECK ok $1 $(up): ${*:2}"; }
# diag UNIT...: each unit's status and the tail of its journal, on the console.
diag() {
  local unit
  for unit in "$@"; do
    echo "--- systemctl status $unit"
    timeout 20 systemctl status --no-pager --full --lines=0 "$unit"
    echo "--- journalctl -u $unit (last 25 lines)"
    timeout 20 journalctl -b -u "$unit" -o short-monotonic --no-pager -n 25
  done 2>&1 | sed 's/^/  | /' | out
  # A unit with a PAM session (the kiosk, the display) has its processes moved to the
  # session's scope, whose journal -u does not show: the user's processes and their lines.
  if id -u nowserving >/dev/null 2>&1; then
    echo "--- processes of nowserving (cgroup)"
    ps -u nowserving -o pid,ppid,etime,cgroup:60,args --no-headers | cut -c1-200
    echo "--- journalctl _UID=$(id -u nowserving) (last 25 lines)"
    timeout 20 journalctl -b "_UID=$(id -u nowserving)" -o short-monotonic --no-pager -n 25
  fi 2>&1 | sed 's/^/  | /' | out
}
# fail STEP DETAIL...: the failure line (after the diagnostics of the units in $concerned,
# if any); ends the run.
concerned=""
fail() {
  local step=$1
  shift
  # shellcheck disable=SC2086 # unit names
  [ -z "$concerned" ] || diag $concerned
  say "NSCHECK FAIL $step $(up): $*"
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
prop() { timeout 20 systemctl show -P "$2" "$1"; }

# Under emulation a Python start takes tens of seconds (a minute on a busy host): the start
# timeout is 15 min, and the watchdogs 60 s (they are still petted at a third of it, from
# the same loops), for this boot only (/run), before the first boot starts the role's units.
for unit in server kiosk counter display; do
  mkdir -p "/run/systemd/system/nowserving-$unit.service.d"
  printf '[Service]\nTimeoutStartSec=%s\nWatchdogSec=%s\n' "$(budget 900)" "$(budget 60)" \
    >"/run/systemd/system/nowserving-$unit.service.d/60-boot-test.conf"
done
systemctl daemon-reload

# systemd.run= may boot into kernel-command-line.target instead of the default target: bring
# up what a normal boot does (a no-op when it is under way already).
systemctl start --no-block multi-user.target
ok boot "systemd $(systemctl --version | head -n1 | cut -d' ' -f2), kernel $(uname -r)," \
  "$(. /etc/os-release && echo "$PRETTY_NAME") $(uname -m)"

# ----- first boot: the role from the bundle -----------------------------------------------
fb=nowserving-firstboot.service
concerned=$fb
firstboot_done() { # it ran, and is no longer running
  [ "$(prop $fb ExecMainExitTimestampMonotonic)" -gt 0 ] &&
    case $(prop $fb ActiveState) in inactive | failed) ;; *) false ;; esac
}
limit=$(budget 600)
wait_for "$limit" firstboot_done || fail firstboot "nowserving-firstboot did not finish in $limit s"
result=$(prop $fb Result)
# Its own last words (not systemd's about it).
why=$(journalctl -b -u $fb -o cat --no-pager | grep -vE "^($fb: |Starting |Failed to start )" |
  tail -n 3 | tr '\n' ' ')
[ "$result" = success ] || fail firstboot "nowserving-firstboot: $result: $why"
[ ! -e /boot/firmware/nowserving ] || fail firstboot "the bundle is still on the boot partition"
[ "$(systemctl is-enabled $fb)" = disabled ] ||
  fail firstboot "nowserving-firstboot is still enabled"
case $role in
  server) units="nowserving-server.service mosquitto.service" ;;
  *) units="nowserving-$role.service" ;;
esac
for unit in $units; do
  [ "$(systemctl is-enabled "$unit")" = enabled ] || fail firstboot "$unit is not enabled"
done
journalctl -b -u $fb -o cat | grep -q "this device is a $role now" ||
  fail firstboot "the journal does not say it became a $role: $why"
ok firstboot "took the $role role ($(prop $fb ExecMainExitTimestampMonotonic |
  awk '{printf "%.0f", $1 / 1e6}') s after boot), enabled $units, removed the bundle," \
  "disabled itself"

# ----- the role's units: active, and petting their watchdogs -----------------------------
# active_or_looping UNIT: true once active; a unit that restarted 3 times is not waited for.
active_or_looping() {
  [ "$(prop "$1" ActiveState)" = active ] || [ "$(prop "$1" NRestarts)" -ge 3 ]
}
concerned=$units
limit=$(budget 300)
for unit in $units; do
  wait_for "$limit" active_or_looping "$unit" &&
    [ "$(prop "$unit" ActiveState)" = active ] ||
    fail units "$unit is $(prop "$unit" ActiveState)/$(prop "$unit" SubState) after" \
      "$(prop "$unit" NRestarts) restarts (result: $(prop "$unit" Result))"
done
ok units "active: $units"
# petted_since UNIT TIMESTAMP: the unit's last watchdog pet is not the one at TIMESTAMP.
petted_since() { [ "$(prop "$1" WatchdogTimestampMonotonic)" != "$2" ]; }
limit=$(budget 60)
for unit in $units; do
  [ "$(prop "$unit" WatchdogUSec)" != 0 ] || continue # mosquitto has none
  first=$(prop "$unit" WatchdogTimestampMonotonic)
  wait_for "$limit" petted_since "$unit" "$first" ||
    fail watchdog "$unit has not petted its watchdog ($(prop "$unit" WatchdogUSec)) in" \
      "$limit s"
  second=$(prop "$unit" WatchdogTimestampMonotonic)
  wait_for "$limit" petted_since "$unit" "$second" ||
    fail watchdog "$unit petted its watchdog once, then stopped"
  [ "$(prop "$unit" NRestarts)" = 0 ] ||
    fail watchdog "$unit restarted $(prop "$unit" NRestarts)x"
  ok watchdog "$unit pets its watchdog (WatchdogSec=$(prop "$unit" WatchdogUSec)), no restarts"
done

# ----- the read-only root, the data partition (grown by the first boot) --------------------
concerned=""
findmnt -no OPTIONS / | tr , '\n' | grep -qx ro || fail root-ro "/ is $(findmnt -no OPTIONS /)"
if touch /.nowserving-rw-test 2>/dev/null; then fail root-ro "a file could be written on /"; fi
ok root-ro "/ is $(findmnt -no SOURCE /) ($(findmnt -no OPTIONS / | cut -d, -f1-2)), not writable"

concerned=$fb
data=$(findmnt -no SOURCE /var)
[ "$(readlink -f "$data")" = "$(readlink -f /dev/disk/by-slot/data)" ] ||
  fail data "/var is $data, not the data slot"
findmnt -no OPTIONS /var | tr , '\n' | grep -qx rw ||
  fail data "/var is $(findmnt -no OPTIONS /var)"
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

# ----- its name on the network: its own host name, and systemd-resolved (mDNS) running -------
concerned="systemd-resolved.service"
want=$(arg hostname)
[ "$(cat /proc/sys/kernel/hostname)" = "$want" ] ||
  fail names "the host name is '$(cat /proc/sys/kernel/hostname)', not $want"
[ "$(cat /etc/hostname)" = "$want" ] || fail names "/etc/hostname says '$(cat /etc/hostname)'"
limit=$(budget 120)
resolved_active() { [ "$(prop systemd-resolved.service ActiveState)" = active ]; }
wait_for "$limit" resolved_active || fail names "systemd-resolved is" \
  "$(prop systemd-resolved.service ActiveState) ($(prop systemd-resolved.service Result))"
own=$(timeout 30 resolvectl query --legend=no "$want" 2>&1 | head -n1)
[ -n "$own" ] && ! echo "$own" | grep -qi fail || fail names "resolvectl query $want: $own"
mdns=$(timeout 30 resolvectl mdns 2>&1 | grep -v '^Global' | tr -s ' ' | tr '\n' ';')
ok names "host name $want; systemd-resolved active ($(prop systemd-resolved.service NRestarts)" \
  "restarts), resolves it: $own; mDNS per link: $mdns"

# ----- the self-test ------------------------------------------------------------------------
concerned=$units
limit=$(budget 300)
selftest() { # selftest ARGS...: nowserving self-test, bounded, its output on the console
  timeout "$limit" nowserving self-test --buttons-timeout 0 --pattern-seconds 0 --no-announce \
    "$@" >/tmp/self-test.log 2>&1
  local status=$?
  sed 's/^/  | /' /tmp/self-test.log | out
  [ $status != 124 ] || fail self-test "nowserving self-test did not end in $limit s"
  return $status
}
if [ -f /boot/firmware/nowserving-test/device.toml ]; then
  # A kiosk with the dummy printer, against this server's broker and server.
  cp -r /boot/firmware/nowserving-test /tmp/test-device
  selftest --device /tmp/test-device/device.toml ||
    fail self-test "nowserving self-test of a kiosk with the dummy printer failed (above)"
  ok self-test "nowserving self-test of a kiosk with the dummy printer against this $role:" \
    "passed: $(grep -c . /tmp/self-test.log) lines"
fi
if [ "$role" != server ]; then
  # Its own bundle; there is no server here, so the checks that need it are not counted.
  selftest --device /etc/nowserving/device.toml --no-publish
  grep -E '^  FAIL ' /tmp/self-test.log | grep -vE '^  FAIL +(broker|server|clock) ' &&
    fail self-test "the $role's own self-test failed on a check other than the network's"
  ok self-test "the $role's own self-test: every check passes but the network's (no server here)"
fi
# ----- a stop and a restart under cage (kiosk, display) -----------------------------------
# cage and the app are in the PAM session's scope, outside the unit's cgroup: the unit's
# main process (the notify relay) must pass the stop on, and a new start must come up again.
gui_left() { # cage and the app, if any are left
  ps -u nowserving -o args= | grep -E '^(/usr/bin/cage|\S*python\S* \S*nowserving (kiosk|display))'
}
if [ "$units" = "nowserving-$role.service" ] && [ "$(prop "$units" PAMName)" != "" ]; then
  concerned=$units
  timeout "$(budget 120)" systemctl stop "$units" || fail restart "$units did not stop"
  wait_for 30 sh -c "! ps -u nowserving -o args= | grep -qE '^/usr/bin/cage'" ||
    fail restart "cage outlived the stop of $units: $(gui_left | tr '\n' ';')"
  [ -z "$(gui_left)" ] || fail restart "left after the stop: $(gui_left | tr '\n' ';')"
  timeout "$(budget 900)" systemctl start "$units" || fail restart "$units did not start again"
  ok restart "$units stopped with cage and its app, and started again:" \
    "$(prop "$units" ActiveState), main PID $(prop "$units" MainPID)"
fi
say "NSCHECK done $(up)"
exit 0
