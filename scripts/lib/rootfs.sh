# shellcheck shell=bash
# What scripts/test-trixie.sh, scripts/image-check.sh and scripts/build-image.sh share: a
# Debian root file system built with mmdebstrap from the host's own Debian mirror and cached
# as a tarball, a pristine copy of it per run (deleted on exit), the checkout, the host's
# network and pip settings copied in, the second stage in a private namespace, the file
# systems a chroot needs, pip's cache, and the wheel of the checkout. Sourced; the caller
# defines `log` and `die`.

# ----- on the host ------------------------------------------------------------------------

# rootfs_host_tools SUITE: mmdebstrap, zstd, unshare and the suite's keyring on the host.
# Bookworm's debian-archive-keyring verifies trixie from 2023.3+deb12u2 on.
rootfs_host_tools() {
  local suite=$1 need=()
  command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
  command -v zstd >/dev/null 2>&1 || need+=(zstd)
  command -v unshare >/dev/null 2>&1 || need+=(util-linux)
  [ -e "/usr/share/keyrings/debian-archive-$suite-automatic.gpg" ] ||
    need+=(debian-archive-keyring)
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]} on the host"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" </dev/null >/dev/null
  fi
}

_rootfs_debian_repos() {
  # shellcheck disable=SC2016 # apt's own $(FIELD) syntax
  apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(LABEL)' \
    'Created-By: Packages' 'Origin: Debian' 2>/dev/null | sort -u
}

# The dpkg settings of the images' roots: no manual pages, no documents but the copyrights.
# shellcheck disable=SC2034 # the callers' dpkg_opts start with these
rootfs_dpkg_opts=(
  'path-exclude=/usr/share/man/*'
  'path-exclude=/usr/share/doc/*'
  'path-include=/usr/share/doc/*/copyright'
)

# rootfs_cached NAME REBUILD: the cached root of $suite/$arch/$variant with packages[] and
# dpkg_opts[] (globals; optionally components, default main, and mmdebstrap_opts[], which do
# not count in the key) in $cache_dir, built when missing, when the list changed, or when
# REBUILD is 1. Sets `cache`; leaves the cache's lock (fd 9) held for rootfs_unpack.
# shellcheck disable=SC2154 # suite, arch, variant, packages, dpkg_opts, cache_dir: the caller's
rootfs_cached() {
  local name=$1 rebuild=$2 key
  local comps=${components:-main}
  # (the components count in the key only when not the default, so older caches stay valid)
  key=$(printf '%s\n' "$suite" "$arch" "$variant" "${packages[@]}" "${dpkg_opts[@]}" \
    ${comps/#main/} | sha256sum | cut -c1-12)
  cache="$cache_dir/$name-$suite-$arch-$key.tar.zst"
  mkdir -p "$cache_dir"
  exec 9>"$cache_dir/.$name.lock"
  flock 9
  if [ -s "$cache" ] && [ "$rebuild" != 1 ]; then
    log "using the cached root $cache"
    return
  fi
  # The host's own Debian mirror (and security mirror), read from its apt sources; apt's
  # lists are needed to tell Debian's archive from others.
  local repos uri release label mirror="" security="" signed_by="" opt value build_start
  repos=$(_rootfs_debian_repos)
  if [ -z "$repos" ]; then
    apt-get update -qq
    repos=$(_rootfs_debian_repos)
  fi
  while read -r uri release label; do
    case $label:$release in
      Debian-Security:*) [ -n "$security" ] || security=${uri%/} ;;
      Debian:*-updates) ;;
      Debian:*) [ -n "$mirror" ] || mirror=${uri%/} ;;
    esac
  done <<<"$repos"
  [ -n "$mirror" ] || die "found no Debian mirror in the host's apt sources"
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -e "$keyring" ] && signed_by="[signed-by=$keyring] "
  local c=${comps//,/ }
  local sources=("deb $signed_by$mirror $suite $c" "deb $signed_by$mirror $suite-updates $c")
  [ -z "$security" ] || sources+=("deb $signed_by$security $suite-security $c")
  # The host's apt settings that decide whether the mirror is reachable and trusted.
  local aptopts=() dpkgopt_args=()
  for opt in Acquire::http::Proxy Acquire::https::Proxy Acquire::Check-Valid-Until \
    Acquire::Check-Date Acquire::Retries; do
    value=""
    eval "$(apt-config shell value "$opt")"
    [ -z "$value" ] || aptopts+=("--aptopt=$opt \"$value\"")
  done
  for opt in "${dpkg_opts[@]}"; do dpkgopt_args+=("--dpkgopt=$opt"); done

  log "building the $suite root from $mirror (${packages[*]})"
  build_start=$SECONDS
  rm -f "$cache_dir/.partial-$name-"*.tar.zst # left by a build that was killed
  rootfs_partial="$cache_dir/.partial-$name-$$.tar.zst"
  trap 'rm -f "$rootfs_partial"' EXIT
  mmdebstrap --quiet --variant="$variant" --architectures="$arch" --components="$comps" \
    ${mmdebstrap_opts[@]+"${mmdebstrap_opts[@]}"} \
    --include="$(IFS=,; echo "${packages[*]}")" "${dpkgopt_args[@]}" "${aptopts[@]}" \
    "$suite" "$rootfs_partial" "${sources[@]}" </dev/null
  mv "$rootfs_partial" "$cache"
  trap - EXIT
  find "$cache_dir" -maxdepth 1 -name "$name-$suite-$arch-*.tar.zst" ! -path "$cache" -delete
  log "built and cached $cache ($(du -h "$cache" | cut -f1)) in $((SECONDS - build_start)) s"
}

# rootfs_unpack PREFIX: a pristine copy of $cache in a new temporary directory (sets `tmp`
# and `root` = $tmp/root), deleted on any exit (after killing `child`, the namespace, if
# set); releases the cache's lock.
rootfs_unpack() {
  tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/$1.XXXXXX")
  child=""
  trap _rootfs_cleanup EXIT
  root=$tmp/root
  mkdir "$root"
  tar --zstd -xpf "$cache" --numeric-owner -C "$root"
  flock -u 9
}

# shellcheck disable=SC2317 # called by the trap
_rootfs_cleanup() {
  local status=$? target
  [ -z "$child" ] || kill "$child" 2>/dev/null || true
  # Mounts live in the child's private namespace and end with it; be sure all the same.
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

# rootfs_copy_checkout SRC DIR: the checkout's tracked files plus untracked, not ignored
# ones (never .venv or .git), as they are now, into DIR.
rootfs_copy_checkout() {
  local src=$1 dir=$2
  mkdir -p "$dir"
  if git -c safe.directory="$src" -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -c safe.directory="$src" -C "$src" ls-files -z --cached --others --exclude-standard |
      grep -zv -e '^\.venv/' -e '^\.git/' |
      tar -C "$src" --null --ignore-failed-read -T - -cf - 2>/dev/null |
      tar -C "$dir" -xf -
  else
    tar -C "$src" --exclude=./.venv --exclude=./.git -cf - . | tar -C "$dir" -xf -
  fi
}

# rootfs_host_network: the host's resolver settings and its extra CAs (a TLS-inspecting
# proxy's, say) in $root.
rootfs_host_network() {
  local file
  for file in /etc/resolv.conf /etc/hosts; do
    [ -f "$file" ] || continue
    rm -f "$root$file"
    cp -L "$file" "$root$file"
  done
  if compgen -G "/usr/local/share/ca-certificates/*" >/dev/null; then
    cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
    chroot "$root" /usr/sbin/update-ca-certificates >/dev/null 2>&1 ||
      log "warning: update-ca-certificates failed inside the root"
  fi
}

# rootfs_host_pip_certs: the CA files that the host's PIP_CERT and SSL_CERT_FILE name, at the
# same paths in $root (where it has none there).
rootfs_host_pip_certs() {
  local var file
  for var in PIP_CERT SSL_CERT_FILE; do
    file=${!var:-}
    [ -n "$file" ] && [ -f "$file" ] && [ ! -e "$root$file" ] || continue
    mkdir -p "$root$(dirname "$file")"
    cp -L "$file" "$root$file"
  done
}

# rootfs_in_namespace SCRIPT ARGS...: `bash SCRIPT ARGS...` (the caller's stage 2) in a
# private mount and PID namespace, as `child` while it runs (so that rootfs_unpack's cleanup
# kills it); sets `status` to its exit status.
rootfs_in_namespace() {
  status=0
  unshare --mount --propagation private --pid --fork --kill-child -- bash "$@" </dev/null &
  child=$!
  wait "$child" || status=$?
  child=""
}

# rootfs_wheel SRC PREFIX DIR [RUN...]: the wheel of the checkout SRC in PREFIX/DIR/wheels,
# made by pip in a throwaway venv through the command prefix RUN: none on the host (PREFIX
# ""), or the caller's `run` in its chroot at PREFIX (DIR as the chroot sees it).
rootfs_wheel() {
  local checkout=$1 prefix=$2 dir=$3
  shift 3
  rootfs_copy_checkout "$checkout" "$prefix$dir/wheel-src"
  "$@" python3 -m venv "$dir/wheel-venv"
  "$@" "$dir/wheel-venv/bin/pip" wheel --quiet --no-deps --wheel-dir "$dir/wheels" \
    "$dir/wheel-src" >&2
  rm -rf "$prefix$dir/wheel-venv" "$prefix$dir/wheel-src"
}

# ----- inside the private mount namespace -------------------------------------------------

# mnt [mount options...] TARGET: mounted now, unmounted (in reverse) when the shell exits.
mounted=()
mnt() {
  if [ ${#mounted[@]} -eq 0 ]; then trap _rootfs_unmount_all EXIT; fi
  mount "$@"
  mounted+=("${!#}")
}

# shellcheck disable=SC2317 # called by the trap
_rootfs_unmount_all() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" 2>/dev/null || true
  done
}

# rootfs_namespace_mounts TMP: the second stage's root, as rootfs_unpack left it in TMP
# (sets `tmp` and `root`), ready for chroot and pip: the API file systems, a tmpfs /run and
# rootfs_pip_mounts.
rootfs_namespace_mounts() {
  tmp=$1
  root=$tmp/root
  rootfs_api_filesystems "$root"
  mnt -t tmpfs -o mode=755,nosuid,nodev tmpfs "$root/run"
  rootfs_pip_mounts
}

# rootfs_pip_mounts: the host's pip cache ($PIP_CACHE_HOST) at /var/cache/pip-host in $root
# (PIP_CACHE_DIR, exported), and the local folders the host's PIP_FIND_LINKS names, read-only
# at the same paths.
rootfs_pip_mounts() {
  local dir
  mkdir -p "$root/var/cache/pip-host"
  mnt --bind "$PIP_CACHE_HOST" "$root/var/cache/pip-host"
  export PIP_CACHE_DIR=/var/cache/pip-host
  for dir in ${PIP_FIND_LINKS:-}; do
    [ -d "$dir" ] || continue
    mkdir -p "$root$dir"
    mnt --bind -o ro "$dir" "$root$dir"
  done
}

# rootfs_api_filesystems TOP: what a chroot at TOP needs: /proc, /sys and a small /dev.
rootfs_api_filesystems() {
  local top=$1 node
  mnt -t proc -o nosuid,nodev,noexec proc "$top/proc"
  mnt -t sysfs -o ro,nosuid,nodev,noexec sysfs "$top/sys"
  mnt -t tmpfs -o mode=755,nosuid tmpfs "$top/dev"
  for node in null zero full random urandom tty; do
    touch "$top/dev/$node"
    mnt --bind "/dev/$node" "$top/dev/$node"
  done
  mkdir "$top/dev/pts" "$top/dev/shm"
  mnt -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$top/dev/pts"
  mnt -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$top/dev/shm"
  ln -s pts/ptmx "$top/dev/ptmx"
  ln -s /proc/self/fd "$top/dev/fd"
  ln -s /proc/self/fd/0 "$top/dev/stdin"
  ln -s /proc/self/fd/1 "$top/dev/stdout"
  ln -s /proc/self/fd/2 "$top/dev/stderr"
}
