"""A device's bundle: its device file, broker password and the branch CA, in one folder.

The device file names the files beside it by relative paths, which the device config reads
from the file's own folder: the folder can be copied anywhere (a boot partition, then
/etc/nowserving/) as a whole. The hardware tables are those of the role's example in
src/nowserving/examples/, to be adjusted to the device.
"""

from __future__ import annotations

from nowserving.config.branch import Device
from nowserving.protocol import Role

DEVICE_FILE = "device.toml"
PASSWORD_FILE = "password"
CA_FILE = "ca.pem"
BRANCH_FILE = "branch.toml"  # a copy of the branch config, which the device apps read too

_HARDWARE = {
    Role.KIOSK: """
# The ticket printer: adjust to this kiosk's (`lsusb` shows vendor:product ids).
[printer]
kind = "usb"                      # usb, serial, network, file or dummy
vendor_id = 0x0416
product_id = 0x5011
paper_mm = 80                     # 58 or 80
""",
    Role.COUNTER: """
# The counter's buttons and lamps (BCM pin numbers): adjust to how this panel is wired.
[gpio]
pin_factory = "default"

[gpio.buttons]
next = 17
recall = 27
finish = 22
no_show = 24

[gpio.leds]                       # open, waiting, busy, error (see docs/counter.md)
open = 5
waiting = 6
busy = 23
error = 26
""",
    Role.DISPLAY: """
# What the screen shows and whether calls are spoken (docs/config.md lists every key).
[display]
orientation = "landscape"         # or "portrait"

[audio]
enabled = true
""",
    Role.STAFF: "",
    # The web role reads its listening address from the command line (docs/web.md); at
    # the head office, point [broker] at the head office's broker instead.
    Role.WEB: "",
}


def device_file(branch: str, device: Device, host: str, port: int) -> str:
    """The device file of `device`, connecting over TLS to the broker at host:port."""
    acts_as = f" (counter {device.counter})" if device.counter else ""
    return f"""# The device file of {device.id}, a {device.role.value}{acts_as} of branch {branch}.
# Made by `nowserving provision`: the password and CA files beside it belong with it.
# Check it with:  nowserving check-config {BRANCH_FILE} --device {DEVICE_FILE}

[device]
id = "{device.id}"
role = "{device.role.value}"
branch = "{branch}"

[broker]
host = "{host}"
port = {port}
username = "{device.id}"
password_file = "{PASSWORD_FILE}"         # relative to this file's folder
tls_ca = "{CA_FILE}"                      # the branch CA: connect with TLS
mqtt_version = "5"
{_HARDWARE[device.role]}"""
