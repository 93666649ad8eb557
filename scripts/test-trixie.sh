#!/usr/bin/env bash
# Runs the README's test command (scripts/test.sh) a second time inside a fresh Debian 13
# "trixie" amd64 root filesystem, to prove the suite on Python 3.13, as Raspberry Pi OS
# Trixie devices run it. Needs root (mmdebstrap, mount namespaces, chroot); no display.
# The rootfs is built once with mmdebstrap from the host's own Debian mirror and cached as
# a tarball in /var/cache/nowserving/ (~110 MB with Qt's system libraries, ~40 s the first
# time); every run unpacks a pristine copy (~360 MB, ~700 MB with the venv) into a temp dir
# and deletes it afterwards. A run takes the suite's own time plus ~20 s warm, ~60 s cold.
# Extra arguments go to pytest, as with scripts/test.sh. Exits with the tests' status.
# NOWSERVING_TRIXIE_REBUILD=1 rebuilds the cached rootfs (e.g. to pick up trixie updates).
set -euo pipefail

self=$(readlink -f "${BASH_SOURCE[0]}")
log() { echo "test-trixie: $*" >&2; }
die() { log "$*"; exit 1; }
# shellcheck source=scripts/lib/rootfs.sh
. "$(dirname "$self")/lib/rootfs.sh"

# ----- stage 2: inside a private mount and PID namespace (see the end of the file) -----
if [ "${1:-}" = "--in-namespace" ]; then
  root=$2 dest=$3
  shift 3
  rootfs_api_filesystems "$root"

  # Local directories that the host's pip settings name (wheel dirs, file:// indexes),
  # read-only at the same path.
  while IFS= read -r dir; do
    [ -n "$dir" ] || continue
    mkdir -p "$root$dir"
    mnt --bind -o ro "$dir" "$root$dir"
  done <<<"${NOWSERVING_TRIXIE_BINDS:-}"

  # A clean environment, plus what decides how pip reaches PyPI on the host.
  envs=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
    LANG=C.UTF-8 TERM="${TERM:-dumb}" CI=true QT_QPA_PLATFORM=offscreen)
  for name in $(compgen -e); do
    case $name in
      PIP_* | http_proxy | https_proxy | no_proxy | HTTP_PROXY | HTTPS_PROXY | NO_PROXY | \
        REQUESTS_CA_BUNDLE | SSL_CERT_FILE | SSL_CERT_DIR)
        envs+=("$name=${!name}")
        ;;
    esac
  done

  # shellcheck disable=SC2016 # expanded inside
  chroot "$root" /usr/bin/env -i "${envs[@]}" /bin/sh -c '
    . /etc/os-release
    echo "test-trixie: inside $PRETTY_NAME (debian_version $(cat /etc/debian_version)," \
      "$(uname -m)), $(python3 --version), running: bash scripts/test.sh $*" >&2' sh "$@"
  status=0
  # shellcheck disable=SC2016 # expanded inside
  chroot "$root" /usr/bin/env -i "${envs[@]}" /bin/bash -c \
    'cd "$1" && shift && exec bash scripts/test.sh "$@"' bash "$dest" "$@" </dev/null ||
    status=$?
  exit "$status"
fi

# ----- stage 1: on the host -------------------------------------------------------------
suite=trixie
arch=amd64
variant=minbase
# Everything scripts/setup.sh checks for, so that it installs nothing inside.
packages=(
  python3 python3-venv          # python3 -c "import ensurepip, venv"
  mosquitto mosquitto-clients   # the tests' broker; mosquitto_pub, _sub, _passwd
  fonts-wqy-microhei fontconfig # fc-list | grep wenquanyi
  zbar-tools                    # zbarimg: the tests read ticket QR codes
  chromium                      # the web role's browser tests (Playwright, no download)
  coreutils                     # stdbuf
  espeak-ng alsa-utils          # the display's voice clips; aplay
  postgresql                    # the head office's tests (initdb, pg_ctl)
  # The libraries that PySide6's wheels link against but do not bundle (setup.sh's qt_libs,
  # by their trixie names): glib, GL/EGL (with Mesa), X11, xkbcommon, D-Bus, GSSAPI, fontconfig.
  libglib2.0-0t64 libgl1 libegl1 libx11-6 libxkbcommon0 libdbus-1-3 libgssapi-krb5-2
  libfontconfig1
  ca-certificates               # pip over HTTPS (PIP_CERT)
  netbase                       # /etc/services, /etc/protocols
  tzdata                        # as on a Raspberry Pi OS device
  debian-archive-keyring        # apt inside, should setup.sh ever need it
)
dpkg_opts=(
  'path-exclude=/usr/share/man/*'
  'path-exclude=/usr/share/doc/*'
  'path-include=/usr/share/doc/*/copyright'
  'path-exclude=/usr/share/locale/*'
  'path-include=/usr/share/locale/locale.alias'
)
cache_dir=/var/cache/nowserving

[ "$(id -u)" -eq 0 ] || die "needs root (mmdebstrap, mount, chroot)"
[ "$(uname -m)" = x86_64 ] || die "builds an $arch rootfs, so it needs an x86_64 host"
start=$SECONDS
trap 'exit 130' INT
trap 'exit 143' TERM
src=$(cd "$(dirname "$self")/.." && pwd)
name=$(basename "$src")
dest=/build/$name # the checkout inside; ../shared sits beside it as on the host

log "running scripts/test.sh of $src again inside a fresh Debian 13 $suite $arch rootfs"

rootfs_host_tools "$suite"
rootfs_cached rootfs "${NOWSERVING_TRIXIE_REBUILD:-0}"
rootfs_unpack nowserving-trixie
rootfs_copy_checkout "$src" "$root$dest"
if [ -d "$src/../shared" ]; then
  tar -C "$src/.." --exclude=.venv --exclude=.git -cf - shared | tar -C "$root${dest%/*}" -xf -
fi
rootfs_host_network

# The host's pip settings: its config files (PIP_* variables pass through in stage 2) and the
# local files and directories they name: CA bundles, constraints, wheel dirs, file:// indexes.
pip_confs=()
copy_in() { # copy_in HOST_FILE [PATH_INSIDE]
  local inside=${2:-$1}
  mkdir -p "$root${inside%/*}"
  rm -f "$root$inside"
  cp -L "$1" "$root$inside"
}
IFS=: read -ra xdg_dirs <<<"${XDG_CONFIG_DIRS:-/etc/xdg}"
for conf in /etc/pip.conf "${xdg_dirs[@]/%//pip/pip.conf}" "${PIP_CONFIG_FILE:-}"; do
  [ -f "$conf" ] || continue
  copy_in "$conf"
  pip_confs+=("$conf")
done
for conf in "$HOME/.config/pip/pip.conf" "$HOME/.pip/pip.conf"; do
  [ -f "$conf" ] || continue
  copy_in "$conf" "/root${conf#"$HOME"}"
  pip_confs+=("$conf")
done
pip_refs() { # prints "index VALUE" or "path VALUE" for each value that may name a local thing
  local name value
  for name in $(compgen -e); do
    case $name in
      PIP_INDEX_URL | PIP_EXTRA_INDEX_URL) for value in ${!name}; do echo "index $value"; done ;;
      PIP_CERT | PIP_CLIENT_CERT | PIP_CONSTRAINT | PIP_BUILD_CONSTRAINT | PIP_REQUIREMENT | \
        PIP_FIND_LINKS) for value in ${!name}; do echo "path $value"; done ;;
    esac
  done
  [ ${#pip_confs[@]} -eq 0 ] || awk '
    function emit(value, parts, n, i, kind) {
      if (key ~ /index-url$/) kind = "index"
      else if (key ~ /^(cert|client-cert|constraint|build-constraint|requirement|find-links)$/)
        kind = "path"
      else return
      n = split(value, parts, /[ \t]+/)
      for (i = 1; i <= n; i++) if (parts[i] != "") print kind, parts[i]
    }
    /^[ \t]*[#;]/ { next }
    /^[ \t]*\[/ { key = ""; next }
    /^[^ \t][^=]*=/ {
      key = tolower($0); sub(/[ \t]*=.*/, "", key); gsub(/_/, "-", key)
      value = $0; sub(/^[^=]*=/, "", value); emit(value); next
    }
    /^[ \t]/ { emit($0) }
  ' "${pip_confs[@]}"
}
binds=()
while read -r kind value; do
  path=${value#file://}
  [[ $path == /?* ]] || continue
  path=${path%/}
  # A local index's pages may link to files beside it (../../files/...): share its parent.
  [ "$kind" != index ] || [ ! -d "$path" ] || path=${path%/*}
  if [ -f "$path" ]; then
    copy_in "$path"
  elif [ -d "$path" ] && [ -n "$path" ]; then
    binds+=("$path")
  fi
done < <(pip_refs)
NOWSERVING_TRIXIE_BINDS=$(printf '%s\n' "${binds[@]}" | sort -u)
export NOWSERVING_TRIXIE_BINDS

log "rootfs ready in $((SECONDS - start)) s ($(du -sh "$root" | cut -f1)); starting the tests"
status=0
unshare --mount --propagation private --pid --fork --kill-child -- \
  bash "$self" --in-namespace "$root" "$dest" "$@" </dev/null &
child=$!
wait "$child" || status=$?
child=""
log "finished with status $status in $((SECONDS - start)) s"
exit "$status"
