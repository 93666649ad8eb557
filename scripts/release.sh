#!/usr/bin/env bash
# Makes a release of nowserving: what an installer downloads from the release page
# (docs/install.md, "Where the files come from"):
#
#   sudo scripts/release.sh [--out DIR] [--no-boot-test]
#
# into DIR (default dist/release-VERSION):
#   nowserving-VERSION-py3-none-any.whl    the software, for the laptop (`provision`) and for
#                                          `nowserving-update` on the devices
#   constraints.txt                        the exact versions of its dependencies
#   nowserving-VERSION-arm64.img.xz        the card image (scripts/build-image.sh)
#   boot-test.log                          what scripts/boot-image.sh saw when it booted it
#   SHA256SUMS                             the SHA-256 of each file above (`sha256sum -c`)
# A release is made from a clean checkout of the tagged commit. It takes about an hour on a
# 2-core machine (building the image, then booting it four times under emulation: server,
# kiosk, display, and a planted fault that must fail at firstboot), so it is not
# part of CI (.ci/run): a maintainer runs it once per release, and uploads DIR's files to the
# release page. The boot test must pass; --no-boot-test skips it (then no boot-test.log).
set -euo pipefail

src=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
log() { echo "release: $*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}
out=""
boot_test=yes
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=${2:?--out DIR} && shift 2 ;;
    --no-boot-test) boot_test=no && shift ;;
    *) die "usage: release.sh [--out DIR] [--no-boot-test]" ;;
  esac
done
[ "$(id -u)" -eq 0 ] || die "needs root (scripts/build-image.sh)"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$src/pyproject.toml" | head -n1)
[ -n "$version" ] || die "no version in pyproject.toml"
out=${out:-$src/dist/release-$version}
mkdir -p "$out"
out=$(cd "$out" && pwd)
if [ -n "$(git -c safe.directory="$src" -C "$src" status --porcelain 2>/dev/null)" ]; then
  log "warning: the checkout has changes that are not committed; they go into the release"
fi
start=$SECONDS

log "the wheel of nowserving $version"
venv=$(mktemp -d)
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" wheel --quiet --no-deps --wheel-dir "$out" "$src"
[ -f "$out/nowserving-$version-py3-none-any.whl" ] || die "no wheel nowserving-$version"
cp "$src/constraints.txt" "$out/"

log "the image"
"$src/scripts/build-image.sh" --out "$out"
image=$out/nowserving-$version-arm64.img.xz
rm -f "$image.sha256" # SHA256SUMS has it

if [ "$boot_test" = yes ]; then
  log "the boot test"
  "$venv/bin/pip" install --quiet --constraint "$src/constraints.txt" \
    "$out/nowserving-$version-py3-none-any.whl[provision]"
  NOWSERVING=$venv/bin/nowserving "$src/scripts/boot-image.sh" "$image" 2>&1 |
    tee "$out/boot-test.log"
  [ "${PIPESTATUS[0]}" = 0 ] || die "the boot test failed: see $out/boot-test.log"
  log "the boot test's planted fault (a bundle for an unknown role): it must fail at firstboot"
  if NOWSERVING=$venv/bin/nowserving "$src/scripts/boot-image.sh" "$image" \
    --fault unknown-role >"$out/boot-fault.log" 2>&1; then
    die "the boot test passed with a planted fault: see $out/boot-fault.log"
  fi
  grep -q "at step 'firstboot'" "$out/boot-fault.log" ||
    die "the planted fault did not fail at firstboot: see $out/boot-fault.log"
  cat "$out/boot-fault.log" >>"$out/boot-test.log"
  rm "$out/boot-fault.log"
fi

(cd "$out" && sha256sum -- *.whl *.img.xz constraints.txt $([ "$boot_test" = no ] ||
  echo boot-test.log) >SHA256SUMS)
log "done in $((SECONDS - start)) s: $out"
ls -l "$out" >&2
