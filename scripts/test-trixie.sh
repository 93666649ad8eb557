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

# ----- stage 2: inside a private mount and PID namespace (see the end of the file) -----
if [ "${1:-}" = "--in-namespace" ]; then
  root=$2 dest=$3
  shift 3
  mounted=()
  # shellcheck disable=SC2317 # called by the trap
  unmount_all() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
      umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" 2>/dev/null || true
    done
  }
  trap unmount_all EXIT
  mnt() { # mnt [mount options...] TARGET
    mount "$@"
    mounted+=("${!#}")
  }
  mnt -t proc -o nosuid,nodev,noexec proc "$root/proc"
  mnt -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
  mnt -t tmpfs -o mode=755,nosuid tmpfs "$root/dev"
  for node in null zero full random urandom tty; do
    touch "$root/dev/$node"
    mnt --bind "/dev/$node" "$root/dev/$node"
  done
  mkdir "$root/dev/pts" "$root/dev/shm"
  mnt -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
  mnt -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
  ln -s pts/ptmx "$root/dev/ptmx"
  ln -s /proc/self/fd "$root/dev/fd"
  ln -s /proc/self/fd/0 "$root/dev/stdin"
  ln -s /proc/self/fd/1 "$root/dev/stdout"
  ln -s /proc/self/fd/2 "$root/dev/stderr"

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
  coreutils                     # stdbuf
  espeak-ng alsa-utils          # the display's voice clips; aplay
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
key=$(printf '%s\n' "$suite" "$arch" "$variant" "${packages[@]}" "${dpkg_opts[@]}" |
  sha256sum | cut -c1-12)
cache="$cache_dir/rootfs-$suite-$arch-$key.tar.zst"

[ "$(id -u)" -eq 0 ] || die "needs root (mmdebstrap, mount, chroot)"
[ "$(uname -m)" = x86_64 ] || die "builds an $arch rootfs, so it needs an x86_64 host"
start=$SECONDS
trap 'exit 130' INT
trap 'exit 143' TERM
src=$(cd "$(dirname "$self")/.." && pwd)
name=$(basename "$src")
dest=/build/$name # the checkout inside; ../shared sits beside it as on the host

log "running scripts/test.sh of $src again inside a fresh Debian 13 $suite $arch rootfs"

# Tools on the host. Bookworm's debian-archive-keyring verifies trixie from 2023.3+deb12u2 on.
need=()
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
command -v zstd >/dev/null 2>&1 || need+=(zstd)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -e "/usr/share/keyrings/debian-archive-$suite-automatic.gpg" ] || need+=(debian-archive-keyring)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]} on the host"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" </dev/null >/dev/null
fi

# The host's own Debian mirror (and security mirror), read from its apt sources.
debian_repos() {
  # shellcheck disable=SC2016 # apt's own $(FIELD) syntax
  apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(LABEL)' \
    'Created-By: Packages' 'Origin: Debian' 2>/dev/null | sort -u
}
repos=$(debian_repos)
if [ -z "$repos" ]; then # apt's lists are needed to tell Debian's archive from others
  apt-get update -qq
  repos=$(debian_repos)
fi
mirror="" security=""
while read -r uri release label; do
  case $label:$release in
    Debian-Security:*) [ -n "$security" ] || security=${uri%/} ;;
    Debian:*-updates) ;;
    Debian:*) [ -n "$mirror" ] || mirror=${uri%/} ;;
  esac
done <<<"$repos"
[ -n "$mirror" ] || die "found no Debian mirror in the host's apt sources"
signed_by=""
[ -e "$keyring" ] && signed_by="[signed-by=$keyring] "
sources=("deb $signed_by$mirror $suite main" "deb $signed_by$mirror $suite-updates main")
[ -z "$security" ] || sources+=("deb $signed_by$security $suite-security main")
# The host's apt settings that decide whether the mirror is reachable and trusted.
aptopts=()
for opt in Acquire::http::Proxy Acquire::https::Proxy Acquire::Check-Valid-Until \
  Acquire::Check-Date Acquire::Retries; do
  value=""
  eval "$(apt-config shell value "$opt")"
  [ -z "$value" ] || aptopts+=("--aptopt=$opt \"$value\"")
done

# The cached pristine rootfs, built when missing (or when the package list changed).
mkdir -p "$cache_dir"
exec 9>"$cache_dir/.lock"
flock 9
if [ ! -s "$cache" ] || [ "${NOWSERVING_TRIXIE_REBUILD:-0}" = 1 ]; then
  log "building the $suite rootfs from $mirror (${packages[*]})"
  build_start=$SECONDS
  rm -f "$cache_dir"/.partial-*.tar.zst # left by a build that was killed
  partial="$cache_dir/.partial-$$.tar.zst"
  trap 'rm -f "$partial"' EXIT
  dpkgopt_args=()
  for opt in "${dpkg_opts[@]}"; do dpkgopt_args+=("--dpkgopt=$opt"); done
  mmdebstrap --quiet --variant="$variant" --architectures="$arch" --components=main \
    --include="$(IFS=,; echo "${packages[*]}")" "${dpkgopt_args[@]}" "${aptopts[@]}" \
    "$suite" "$partial" "${sources[@]}" </dev/null
  mv "$partial" "$cache"
  trap - EXIT
  find "$cache_dir" -maxdepth 1 -name "rootfs-$suite-$arch-*.tar.zst" ! -path "$cache" -delete
  log "built and cached $cache ($(du -h "$cache" | cut -f1)) in $((SECONDS - build_start)) s"
else
  log "using the cached rootfs $cache"
fi

# A pristine copy for this run only, deleted on any exit.
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/nowserving-trixie.XXXXXX")
child=""
# shellcheck disable=SC2317 # called by the trap
cleanup() {
  local status=$?
  [ -z "$child" ] || kill "$child" 2>/dev/null || true
  # Mounts live in the child's private namespace and end with it; be sure all the same.
  local target
  while read -r target; do
    umount -l "$target" 2>/dev/null || true
  done < <(awk -v dir="$tmp/" 'index($5, dir) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  if awk -v dir="$tmp/" 'index($5, dir) == 1 { found = 1 } END { exit !found }' \
    /proc/self/mountinfo; then
    log "something is still mounted under $tmp; left it there"
  else
    rm -rf --one-file-system "$tmp"
  fi
  exit "$status"
}
trap cleanup EXIT

root=$tmp/root
mkdir "$root"
tar --zstd -xpf "$cache" --numeric-owner -C "$root"
flock -u 9

# The checkout: tracked files plus untracked, not ignored ones (never .venv), as they are now.
mkdir -p "$root$dest"
if git -c safe.directory="$src" -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -c safe.directory="$src" -C "$src" ls-files -z --cached --others --exclude-standard |
    grep -zv -e '^\.venv/' -e '^\.git/' |
    tar -C "$src" --null --ignore-failed-read -T - -cf - 2>/dev/null |
    tar -C "$root$dest" -xf -
else
  tar -C "$src" --exclude=./.venv --exclude=./.git -cf - . | tar -C "$root$dest" -xf -
fi
if [ -d "$src/../shared" ]; then
  tar -C "$src/.." --exclude=.venv --exclude=.git -cf - shared | tar -C "$root${dest%/*}" -xf -
fi

# The host's resolver settings.
for file in /etc/resolv.conf /etc/hosts; do
  [ -f "$file" ] || continue
  rm -f "$root$file"
  cp -L "$file" "$root$file"
done
# The host's extra CAs (a TLS-inspecting proxy's, say) are trusted inside too.
if compgen -G "/usr/local/share/ca-certificates/*" >/dev/null; then
  cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
  chroot "$root" /usr/sbin/update-ca-certificates >/dev/null 2>&1 ||
    log "warning: update-ca-certificates failed inside the rootfs"
fi
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
