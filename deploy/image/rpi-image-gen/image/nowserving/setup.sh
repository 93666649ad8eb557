#!/bin/bash
# genimage's exec-pre for the boot partition: the kernel finds the root by its slot name
# (rpi-image-gen's storage binder, in the initramfs).
set -eu

case $1 in
  BOOT) sed -i "s|root=[^ ]*|root=/dev/disk/by-slot/system|" "$IMAGEMOUNTPATH/cmdline.txt" ;;
esac
