#!/usr/bin/env bash
# Builds the nowserving Raspberry Pi image (arm64, Raspberry Pi OS trixie packages) with
# Raspberry Pi's rpi-image-gen, from the recipe in deploy/image/ (docs/image.md):
#
#   deploy/image/build.sh RPI_IMAGE_GEN_DIR [pi5|pi4] [-- IGconf_NAME=VALUE ...]
#
# RPI_IMAGE_GEN_DIR is a checkout of github.com/raspberrypi/rpi-image-gen whose
# dependencies are installed (its install_deps.sh); build on a Raspberry Pi OS arm64 host,
# or on an x86_64 Debian host with qemu-user-static binfmt. Makes the nowserving wheel of
# this checkout, then runs rpi-image-gen with the config for the model; whatever follows
# `--` goes to rpi-image-gen as overrides (the admin user's password or SSH key, say).
set -euo pipefail

ig=${1:?usage: build.sh RPI_IMAGE_GEN_DIR [pi5|pi4] [-- IGconf_NAME=VALUE ...]}
shift
config=nowserving.yaml
case ${1:-} in
  pi5) shift ;;
  pi4) config=nowserving-pi4.yaml && shift ;;
esac
[ "${1:-}" != -- ] || shift
src=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)

wheels=$(mktemp -d)
trap 'rm -rf "$wheels"' EXIT
python3 -m venv "$wheels/venv"
"$wheels/venv/bin/pip" wheel --quiet --no-deps --wheel-dir "$wheels" "$src"
rm -rf "$wheels/venv"
echo "build.sh: $(cd "$wheels" && ls ./*.whl); building with $config" >&2
"$ig/rpi-image-gen" build -S "$src/deploy/image/rpi-image-gen" -c "$config" \
  -- IGconf_nowserving_wheels="$wheels" "$@"
