#!/usr/bin/env bash
# Installs what nowserving needs on a fresh Debian/Ubuntu machine, then a venv in .venv with
# every role and the test tools (`.[all,test]`), at the versions pinned in constraints.txt.
# Safe to run again: it only installs what is missing, and when .venv is up to date (its
# stamp matches) it does not run pip at all, so it needs no package index then.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || need_apt+=(mosquitto-clients)
command -v stdbuf >/dev/null 2>&1 || need_apt+=(coreutils)
command -v zbarimg >/dev/null 2>&1 || need_apt+=(zbar-tools)  # the tests read ticket QR codes
command -v espeak-ng >/dev/null 2>&1 || need_apt+=(espeak-ng)  # the display's voice clips
command -v aplay >/dev/null 2>&1 || need_apt+=(alsa-utils)  # sound out without a sound server
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)  # the web role's browser tests
# The head office's tests run a real PostgreSQL server (tests/headoffice/pg.py).
command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null ||
  need_apt+=(postgresql)
# grep reads to the end (no -q): with pipefail, an early exit would fail fc-list with SIGPIPE.
fc-list 2>/dev/null | grep -i "wenquanyi\|noto sans cjk" >/dev/null ||
  need_apt+=(fonts-wqy-microhei fontconfig)
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || need_apt+=(python3-venv)

# The system libraries that PySide6's wheels link against but do not bundle (QtCore, QtGui,
# QtQml, QtQuick and the offscreen platform that the tests use), each with the packages
# that may provide it, newest name first: the first one that apt knows gets installed
# (trixie and Ubuntu 24.04 renamed some in the 64-bit time_t move).
qt_libs=(
  "libglib-2.0.so.0 libglib2.0-0t64 libglib2.0-0"
  "libgthread-2.0.so.0 libglib2.0-0t64 libglib2.0-0"
  "libGL.so.1 libgl1 libgl1-mesa-glx"
  "libEGL.so.1 libegl1 libegl1-mesa"
  "libX11.so.6 libx11-6"
  "libxkbcommon.so.0 libxkbcommon0"
  "libdbus-1.so.3 libdbus-1-3"
  "libgssapi_krb5.so.2 libgssapi-krb5-2"
  "libfontconfig.so.1 libfontconfig1"
)
sonames=()
for entry in "${qt_libs[@]}"; do sonames+=("${entry%% *}"); done
# Loads each library as Qt will; prints the ones that do not load (all, when no python3).
missing_libs=$(python3 - "${sonames[@]}" 2>/dev/null <<'PY' || printf '%s\n' "${sonames[@]}"
import ctypes
import sys

for name in sys.argv[1:]:
    try:
        ctypes.CDLL(name)
    except OSError:
        print(name)
PY
)

if [ ${#need_apt[@]} -gt 0 ] || [ -n "$missing_libs" ]; then
  # apt-get without questions; sudo drops the caller's environment, so the variable is
  # handed to it on its command line.
  if [ "$(id -u)" -eq 0 ]; then as_root=(env DEBIAN_FRONTEND=noninteractive)
  elif command -v sudo >/dev/null 2>&1; then as_root=(sudo DEBIAN_FRONTEND=noninteractive)
  else
    echo "setup: need ${need_apt[*]} $missing_libs; install them as root (apt-get install ...)" >&2
    exit 1
  fi
  "${as_root[@]}" apt-get update -qq
  for entry in "${qt_libs[@]}"; do
    read -r soname candidates <<<"$entry"
    grep -qxF "$soname" <<<"$missing_libs" || continue
    chosen=""
    for pkg in $candidates; do
      if apt-cache policy "$pkg" 2>/dev/null | grep 'Candidate: [^(]' >/dev/null; then
        chosen=$pkg
        break
      fi
    done
    if [ -z "$chosen" ]; then
      echo "setup: apt knows no package that provides $soname ($candidates)" >&2
      exit 1
    fi
    [[ " ${need_apt[*]} " == *" $chosen "* ]] || need_apt+=("$chosen")
  done
  echo "setup: installing ${need_apt[*]}"
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends \
    "${need_apt[@]}" >/dev/null
fi

python3 - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"setup: nowserving needs Python 3.11 or newer, this is {sys.version.split()[0]}")
PY

# The venv is up to date when its stamp holds the hash of everything that decides what is in
# it: the pip arguments, pyproject.toml, the pinned versions, the venv's Python and where the
# venv is (its scripts name their interpreter by absolute path). Then pip is not run at all.
install=(-e ".[all,test]" -c constraints.txt)
here=$(pwd -P)
mkdir -p .venv
exec 8>.venv/.setup.lock
# One setup at a time: everything run from this checkout shares the venv.
! command -v flock >/dev/null 2>&1 || flock 8
venv_version() { .venv/bin/python -c 'import sys; print(sys.version)' 2>/dev/null || true; }
wanted_stamp() {
  {
    printf '%s\n' "${install[*]}" "$here/.venv" "$(venv_version)"
    cat pyproject.toml constraints.txt
  } | sha256sum | cut -d' ' -f1
}
stamp_file=.venv/.nowserving-stamp
stamp=$(head -n1 "$stamp_file" 2>/dev/null || true)
stamped_at=$(sed -n 2p "$stamp_file" 2>/dev/null || true)
if [ -n "$(venv_version)" ] && [ "$stamp" = "$(wanted_stamp)" ]; then
  exit 0
fi

# A venv that does not run, was made by another Python than python3, or was moved here is
# made anew; otherwise pip brings the existing one to the pinned versions.
host_minor=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [[ $(venv_version) != "$host_minor".* ]] ||
  { [ -n "$stamped_at" ] && [ "$stamped_at" != "$here/.venv" ]; }; then
  python3 -m venv --clear .venv
fi
echo "setup: installing nowserving[all,test] into .venv (pinned by constraints.txt)"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "${install[@]}"
printf '%s\n%s\n' "$(wanted_stamp)" "$here/.venv" >"$stamp_file"
