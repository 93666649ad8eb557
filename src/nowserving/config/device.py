"""The device config: the small TOML file a kiosk, counter, display or staff PC reads.

It says which device this is, how to reach the broker, and which hardware the device has.
It is read with the same schema helper as the branch config, so every problem is reported
at once with its location; `check_device_against_branch` then checks that the device is
one the branch knows, with the role the branch gives it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from nowserving.config.branch import BranchConfig
from nowserving.config.hardware import (
    COUNTER_BUTTONS,
    KIOSK_BUTTONS,
    PRIORITY_BUTTON,
    TRANSFER_BUTTON,
    AudioSettings,
    GpioSettings,
    PrinterSettings,
    parse_audio,
    parse_gpio,
    parse_printer,
)
from nowserving.config.schema import Problems, Table, hint, read_toml
from nowserving.errors import ConfigError
from nowserving.protocol import Role

MQTT_VERSIONS = ("5", "3.1.1")
ORIENTATIONS = ("landscape", "portrait")

_TOP_KEYS = ("device", "broker", "printer", "gpio", "audio", "display")
_DEVICE_KEYS = ("id", "role", "branch")
_BROKER_KEYS = ("host", "port", "username", "password_file", "tls_ca", "mqtt_version")
_DISPLAY_KEYS = (
    "orientation",
    "languages",
    "services",
    "counters",
    "language_mode",
    "alternate_seconds",
    "theme",
    "logo",
    "media",
    "media_seconds",
    "history",
    "counter",
)
LANGUAGE_MODES = ("side_by_side", "alternate")
THEMES = ("dark", "light")


@dataclass(frozen=True)
class BrokerSettings:
    """Where the MQTT broker is and how this device logs in to it.

    The password stays in its file (see `read_password`), out of reprs and logs.
    """

    host: str = "127.0.0.1"
    port: int = 1883  # when not given: 8883 with TLS, 1883 without
    username: str | None = None  # when not given: the device id, as `broker-acl` expects
    password_file: Path | None = None
    tls_ca: Path | None = None  # CA certificate: connect with TLS
    mqtt_version: str = "5"  # "5" or "3.1.1"

    def read_password(self) -> str | None:
        """The password from `password_file` (surrounding whitespace removed), if any."""
        if self.password_file is None:
            return None
        try:
            return self.password_file.read_text(encoding="utf-8").strip()
        except OSError as err:
            raise ConfigError([f"broker.password_file: {err}"], str(self.password_file)) from err


@dataclass(frozen=True)
class DisplaySettings:
    """What a screen shows; an empty tuple means all of the branch's."""

    orientation: str = "landscape"  # or "portrait"
    languages: tuple[str, ...] = ()  # in the order shown
    services: tuple[str, ...] = ()
    counters: tuple[str, ...] = ()
    language_mode: str = "side_by_side"  # or "alternate": one language at a time
    alternate_seconds: float = 8.0  # how long each language shows, when alternating
    theme: str = "dark"  # or "light"
    logo: Path | None = None  # an image shown in the top bar
    media: Path | None = None  # a folder of images shown beside the calls, yielding to them
    media_seconds: float = 10.0  # how long each image shows
    history: int = 8  # how many earlier calls are listed
    counter: str | None = None  # set: the screen above this counter (docs/display.md)


@dataclass(frozen=True)
class DeviceConfig:
    """One device: who it is, its broker, and its hardware (None: it has none of that)."""

    id: str
    role: Role
    branch: str  # the branch id: the device's topics are nowserving/v2/<branch>/...
    broker: BrokerSettings
    printer: PrinterSettings | None = None
    gpio: GpioSettings | None = None
    audio: AudioSettings | None = None
    display: DisplaySettings | None = None


def load_device_config(path: str | Path) -> DeviceConfig:
    """Read and validate a device config file; raise ConfigError listing every problem.

    Relative paths in it (`broker.password_file`, `broker.tls_ca`) are read from the
    file's folder.
    """
    path = Path(path)
    return parse_device_config(read_toml(path), str(path), base=path.parent)


def parse_device_config(
    data: dict, source: str = "device config", base: Path | None = None
) -> DeviceConfig:
    """Validate an already-parsed device table (see `load_device_config`).

    `base` is the folder relative paths are read from; the working folder when None.
    """
    p = Problems()
    root = Table(data, "", p, _TOP_KEYS)
    device = root.table("device", _DEVICE_KEYS)
    device_id = device.ident("id", set())
    role = device.choice("role", tuple(Role), what="role", required=True)
    branch = device.ident("branch", set())
    broker = _broker(root.table("broker", _BROKER_KEYS, required=False), device_id, base)
    printer, gpio, audio = parse_printer(root), parse_gpio(root), parse_audio(root, base)
    display = _display(root, base)
    p.raise_if_any(source)  # so device_id, role and branch are all set below
    return DeviceConfig(device_id, Role(role), branch, broker, printer, gpio, audio, display)


def _broker(table: Table, device_id: str | None, base: Path | None) -> BrokerSettings:
    host = table.get("host", str, "127.0.0.1")
    if not host.strip():
        table.add("host", "must not be empty")
    default_port = 8883 if "tls_ca" in table else 1883
    return BrokerSettings(
        host=host,
        port=table.number("port", default_port, whole=True, at_least=1, at_most=65535),
        username=table.get("username", str, device_id),
        password_file=_existing_file(table, "password_file", base),
        tls_ca=_existing_file(table, "tls_ca", base),
        mqtt_version=table.choice("mqtt_version", MQTT_VERSIONS, "5", what="MQTT version"),
    )


def _existing_file(table: Table, key: str, base: Path | None) -> Path | None:
    # Checked now, so that a device does not start only to fail its first connection.
    path = _path(table, key, base)
    if path is None:
        return None
    if not path.exists():
        relative = (
            "" if Path(table.data[key]).is_absolute() else " (relative to the device file's folder)"
        )
        table.add(key, f"no such file: {str(path)!r}{relative}")
    elif not path.is_file():
        table.add(key, f"{str(path)!r} is not a file")
    elif not os.access(path, os.R_OK):
        table.add(key, f"{str(path)!r} cannot be read (check its owner and mode)")
    elif path.stat().st_size == 0:
        table.add(key, f"{str(path)!r} is empty")
    return path


def _display(root: Table, base: Path | None) -> DisplaySettings | None:
    table = root.optional_table("display", _DISPLAY_KEYS)
    if table is None:
        return None
    media = _path(table, "media", base)
    if media is not None and not media.is_dir():
        table.add("media", f"no such folder: {str(media)!r}")
    return DisplaySettings(
        orientation=table.choice("orientation", ORIENTATIONS, "landscape", what="orientation"),
        languages=table.strings("languages"),
        services=table.strings("services"),
        counters=table.strings("counters"),
        language_mode=table.choice(
            "language_mode", LANGUAGE_MODES, "side_by_side", what="language mode"
        ),
        alternate_seconds=float(table.number("alternate_seconds", 8, at_least=2, at_most=600)),
        theme=table.choice("theme", THEMES, "dark", what="theme"),
        logo=_existing_file(table, "logo", base),
        media=media,
        media_seconds=float(table.number("media_seconds", 10, at_least=2, at_most=3600)),
        history=table.number("history", 8, whole=True, at_least=0, at_most=20),
        counter=table.get("counter", str),
    )


def _path(table: Table, key: str, base: Path | None) -> Path | None:
    text = table.get(key, str)
    if text is None:
        return None
    path = Path(text).expanduser()
    return path if path.is_absolute() or base is None else base / path  # fmt: skip


def check_device_against_branch(
    device: DeviceConfig, branch: BranchConfig, source: str = "device config"
) -> None:
    """Check that the branch knows this device, as the same role, and what it shows.

    Raise one ConfigError listing every mismatch, located in the device file.
    """
    p = Problems()
    rules = branch.rules
    if device.branch != rules.branch_id:
        p.add(
            "device.branch", f"{device.branch!r}, but the branch config is for {rules.branch_id!r}"
        )
    known = branch.devices.get(device.id)
    if known is None:
        p.add(
            "device.id",
            f"{device.id!r} is not a device of branch {rules.branch_id!r}"
            f"{hint(device.id, branch.devices)}",
        )
    elif known.role != device.role:
        p.add(
            "device.role",
            f"{device.role.value!r}, but branch {rules.branch_id!r} lists "
            f"{device.id!r} as {known.role.value!r}",
        )
    if device.role is Role.COUNTER and device.gpio:
        _check_counter_buttons(p, device.gpio.buttons, rules.services)
    if device.role is Role.KIOSK and device.gpio:
        _check_kiosk_pins(p, device.gpio, rules.services)
    if device.display:
        _check_listed(p, "display.languages", device.display.languages, rules.languages, "language")
        _check_listed(p, "display.services", device.display.services, rules.services, "service")
        _check_listed(p, "display.counters", device.display.counters, rules.counters, "counter")
        counter = device.display.counter
        if counter is not None and counter not in rules.counters:
            p.add("display.counter", f"unknown counter {counter!r}{hint(counter, rules.counters)}")
    p.raise_if_any(source)


def _check_counter_buttons(p: Problems, buttons, services) -> None:
    known = ", ".join(COUNTER_BUTTONS)
    for name in buttons:
        target = name.removeprefix(TRANSFER_BUTTON)
        if name in COUNTER_BUTTONS or (target != name and target in services):
            continue
        if target != name:
            why = f"no service {target!r} to transfer to{hint(target, services)}"
        else:
            why = (
                f"a counter has no button {name!r} (it knows {known}, and "
                f"transfer_<service>){hint(name, COUNTER_BUTTONS)}"
            )
        p.add(f"gpio.buttons.{name}", why)


def _check_kiosk_pins(p: Problems, gpio, services) -> None:
    """A kiosk's buttons are services' and KIOSK_BUTTONS; its lamps, services' and the
    priority button's."""
    for table, own in (("buttons", KIOSK_BUTTONS), ("leds", (PRIORITY_BUTTON,))):
        for name in getattr(gpio, table):
            if name in own and name in services:
                why = f"{name!r} is both a service and the kiosk's {name}: rename the service"
                p.add(f"gpio.{table}.{name}", why)
            elif name not in own and name not in services:
                p.add(
                    f"gpio.{table}.{name}",
                    f"no service {name!r} (a kiosk's {table} are services' ids, and "
                    f"{', '.join(own)}){hint(name, [*services, *own])}",
                )


def _check_listed(p: Problems, where: str, listed, known, what: str) -> None:
    for i, value in enumerate(listed):
        if value not in known:
            p.add(f"{where}[{i}]", f"unknown {what} {value!r}{hint(value, known)}")
