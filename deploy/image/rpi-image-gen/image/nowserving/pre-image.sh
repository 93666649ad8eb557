#!/bin/bash
# rpi-image-gen's pre-image hook of the nowserving-image layout: writes genimage.cfg.
# (/etc/fstab comes from deploy/image/customize.sh, so that scripts/image-check.sh checks it.)
set -eu

genimg_in=$2

sed -e "s|<IMAGE_NAME>|$IGconf_image_name|g" \
  -e "s|<IMAGE_SUFFIX>|$IGconf_image_suffix|g" \
  -e "s|<BOOT_SIZE>|$IGconf_image_boot_part_size|g" \
  -e "s|<ROOT_SIZE>|$IGconf_image_root_part_size|g" \
  -e "s|<DATA_SIZE>|$IGconf_image_data_part_size|g" \
  -e "s|<SETUP>|'$(readlink -ef setup.sh)'|g" \
  genimage.cfg.in >"$genimg_in/genimage.cfg"
