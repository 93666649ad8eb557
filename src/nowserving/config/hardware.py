"""The hardware a device file describes: its ticket printer, GPIO buttons and lamps, audio.

Each part is read from its own table of the device file (`[printer]`, `[gpio]`, `[audio]`)
with the schema helper, so its problems are reported with the file's others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

from nowserving.config.schema import ID_RE, Problems, Table, span
from nowserving.protocol.vocabulary import Cmd

PRINTER_KINDS = ("usb", "serial", "network", "file", "dummy")
# The keys only one kind of printer has; the rest (`paper_mm`, ...) every kind may have.
_PRINTER_KIND_KEYS = {
    "usb": ("vendor_id", "product_id"),
    "serial": ("device", "baudrate"),
    "network": ("host", "port"),
    "file": ("path",),
    "dummy": (),
}
_PRINTER_REQUIRED = {
    "usb": ("vendor_id", "product_id"),
    "serial": ("device",),
    "network": ("host",),
    "file": ("path",),
}
_PRINTER_COMMON_KEYS = ("kind", "paper_mm", "profile", "timeout_s")
_PRINTER_KEYS = _PRINTER_COMMON_KEYS + sum(_PRINTER_KIND_KEYS.values(), ())
_GPIO_KEYS = ("pin_factory", "buttons", "leds", "bounce_ms", "hold_s")
_AUDIO_KEYS = (
    "enabled", "volume", "device", "quiet_hours", "repeat", "clips", "other_language",
    "max_delay_s",
)  # fmt: skip
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)

PIN_FACTORIES = ("default", "lgpio", "mock")
# The buttons a counter knows (docs/counter.md), besides `transfer_<service>` ones, and the
# command each sends: `pause` pauses or opens by the counter's state; the feedback keypad's
# three rate the customer just finished.
COUNTER_BUTTONS: dict[str, Cmd] = {
    "next": Cmd.CALL_NEXT,
    "recall": Cmd.RECALL,
    "start": Cmd.START,
    "done": Cmd.FINISH,
    "finish": Cmd.FINISH,  # the same button, by the command's own name
    "no_show": Cmd.NO_SHOW,
    "pause": Cmd.PAUSE_COUNTER,
    "satisfied": Cmd.RATE,
    "neutral": Cmd.RATE,
    "unsatisfied": Cmd.RATE,
}
# A kiosk's buttons besides one per service (docs/kiosk.md): `priority` arms a priority
# ticket; the audio guide's `guide` starts it (again: the next language), `next` says the
# next choice, `select` takes it, `back` goes back.
PRIORITY_BUTTON = "priority"
GUIDE_BUTTONS = ("guide", "next", "select", "back")
KIOSK_BUTTONS = (PRIORITY_BUTTON, *GUIDE_BUTTONS)
TRANSFER_BUTTON = "transfer_"  # `transfer_loans`: send the customer at the counter to loans
GPIO_PINS = range(28)  # BCM GPIO 0-27, the 40-pin header's GPIOs on every Raspberry Pi
# The 40-pin header's physical pins (BOARD numbering) that are GPIOs, and their BCM number;
# the others are power and ground.
BOARD_TO_BCM = {
    3: 2, 5: 3, 7: 4, 8: 14, 10: 15, 11: 17, 12: 18, 13: 27, 15: 22, 16: 23, 18: 24,
    19: 10, 21: 9, 22: 25, 23: 11, 24: 8, 26: 7, 27: 0, 28: 1, 29: 5, 31: 6, 32: 12,
    33: 13, 35: 19, 36: 16, 37: 26, 38: 20, 40: 21,
}  # fmt: skip
_PIN_RE = re.compile(r"^(GPIO|BCM|BOARD)(\d{1,2})$", re.IGNORECASE)


@dataclass(frozen=True)
class PrinterSettings:
    """The ticket printer and how to reach it; only the fields of its `kind` are set."""

    kind: str  # usb, serial, network, file or dummy (bytes kept in memory, for tests)
    paper_mm: int = 80  # 58 or 80: the layout's line width follows it
    profile: str | None = None  # python-escpos capability profile, e.g. "TM-T20II"
    timeout_s: float = 5.0  # longer than this without an answer: the printer is offline
    vendor_id: int | None = None  # usb
    product_id: int | None = None  # usb
    device: str | None = None  # serial, e.g. "/dev/ttyUSB0"
    baudrate: int = 9600  # serial
    host: str | None = None  # network
    port: int = 9100  # network: the raw printing port most printers listen on
    path: str | None = None  # file, e.g. "/dev/usb/lp0"


@dataclass(frozen=True)
class GpioSettings:
    """Buttons and lamps wired to GPIO pins: each named, each pin as its BCM number."""

    pin_factory: str = "default"  # gpiozero's own choice; "lgpio" or "mock" to force one
    buttons: dict[str, int] = field(default_factory=dict)
    leds: dict[str, int] = field(default_factory=dict)
    bounce_ms: int = 50  # presses closer together than this are one press
    hold_s: float = 1.0  # held this long, a button is held rather than pressed


@dataclass(frozen=True)
class AudioSettings:
    """Spoken announcements: whether, how loud, on which output, and when to keep quiet."""

    enabled: bool = True
    volume: int = 80  # percent
    device: str | None = None  # the output device's name; None: the system's default
    quiet_hours: tuple[time, time] | None = None  # may cross midnight: 22:00-07:00
    repeat: int = 1  # how many times each call is spoken
    # The clip set calls are spoken from (docs/announcements.md); None: the default folder,
    # $STATE_DIRECTORY/voice or ~/.local/share/nowserving/voice.
    clips: Path | None = None
    other_language: bool = True  # after the customer's language, the branch's other one
    max_delay_s: float = 60.0  # a call that cannot start this soon after it was made is dropped


def parse_printer(root: Table) -> PrinterSettings | None:
    """The `[printer]` table, if any: its kind decides which other keys it needs."""
    table = root.optional_table("printer", _PRINTER_KEYS)
    if table is None:
        return None
    kind = table.choice("kind", PRINTER_KINDS, what="kind", required=True)
    for key in table.data:
        owner = next((k for k, keys in _PRINTER_KIND_KEYS.items() if key in keys), None)
        if kind and owner and owner != kind:
            table.add(key, f'is for a "{owner}" printer, not a "{kind}" one')
    paper = table.get("paper_mm", int, 80)
    if paper not in (58, 80):
        table.add("paper_mm", f"must be 58 or 80, not {paper!r}")
    settings = {
        "paper_mm": paper,
        "profile": table.get("profile", str),
        "timeout_s": float(table.number("timeout_s", 5.0, more_than=0, at_most=300)),
    }
    # Every key given is checked, even one of another kind (reported above) or of a
    # misspelt kind, so that one pass finds everything; a kind's own keys are kept.
    values = {
        "vendor_id": _usb_id(table, "vendor_id"),
        "product_id": _usb_id(table, "product_id"),
        "device": table.get("device", str),
        "baudrate": _baudrate(table),
        "host": table.get("host", str),
        "port": table.number("port", 9100, whole=True, at_least=1, at_most=65535),
        "path": table.get("path", str),
    }
    for key in _PRINTER_REQUIRED.get(kind, ()):
        if key not in table:
            table.add(key, f'is required for a "{kind}" printer')
    settings.update({key: values[key] for key in _PRINTER_KIND_KEYS.get(kind, ())})
    return PrinterSettings(kind or "dummy", **settings)


def _baudrate(table: Table) -> int:
    rate = table.get("baudrate", int, 9600)
    if rate not in BAUDRATES:
        table.add("baudrate", f"must be one of {', '.join(map(str, BAUDRATES))}, not {rate}")
        return 9600
    return rate


def _usb_id(table: Table, key: str) -> int | None:
    # lsusb prints ids in hex ("0416:5011"); TOML has hex ints, but people copy strings.
    # A bare "0416" string is refused rather than read as decimal 416.
    value = table.get(key, (int, str))
    if isinstance(value, str):
        m = re.fullmatch(r"0[xX]([0-9a-fA-F]+)", value)
        if not m:
            table.add(
                key, f'must be a number like 0x0416, or a string like "0x0416", not {value!r}'
            )
            return None
        value = int(m[1], 16)
    if value is not None and not 0 <= value <= 0xFFFF:
        table.add(key, f"must be from 0x0000 to 0xFFFF, not {value:#x}")
        return None
    return value


def parse_gpio(root: Table) -> GpioSettings | None:
    """The `[gpio]` table, if any: named buttons and lamps, no pin used twice."""
    table = root.optional_table("gpio", _GPIO_KEYS)
    if table is None:
        return None
    factory = table.choice("pin_factory", PIN_FACTORIES, "default", what="pin factory")
    users: dict[int, str] = {}  # BCM pin -> where it was first used
    buttons = _pins(table, "buttons", users)
    leds = _pins(table, "leds", users)
    return GpioSettings(
        pin_factory=factory,
        buttons=buttons,
        leds=leds,
        bounce_ms=table.number("bounce_ms", 50, whole=True, at_least=0, at_most=1000),
        hold_s=float(table.number("hold_s", 1.0, more_than=0, at_most=60)),
    )


def _pins(table: Table, key: str, users: dict[int, str]) -> dict[str, int]:
    result: dict[str, int] = {}
    for name, value in table.get(key, dict, {}).items():
        where = table.at(f"{key}.{name}")
        if not ID_RE.match(name):
            table.problems.add(
                where, f'name must be a short lower-case id like "next", not {name!r}'
            )
        pin = bcm_pin(value, where, table.problems)
        if pin is None:
            continue
        if pin in users:
            shown = str(value) if isinstance(value, int) else f"{value} (GPIO{pin})"
            table.problems.add(where, f"pin {shown} is already used by {users[pin]}")
            continue
        users[pin] = where
        result[name] = pin
    return result


def bcm_pin(value: object, where: str, problems: Problems) -> int | None:
    """The BCM GPIO number of a pin written 17, "GPIO17", "BCM17" or "BOARD11"."""
    m = _PIN_RE.match(value) if isinstance(value, str) else None
    if isinstance(value, int) and not isinstance(value, bool):
        pin, why = (value if value in GPIO_PINS else None), "GPIOs are 0-27"
    elif m and m[1].upper() == "BOARD":
        pin = BOARD_TO_BCM.get(int(m[2]))
        why = "power or ground" if 1 <= int(m[2]) <= 40 else "the header's pins are 1-40"
    elif m:
        pin, why = (int(m[2]) if int(m[2]) in GPIO_PINS else None), "GPIOs are 0-27"
    else:
        problems.add(where, f'must be a pin like 17, "GPIO17" or "BOARD11", not {value!r}')
        return None
    if pin is None:
        problems.add(where, f"pin {value} is not a GPIO pin ({why})")
    return pin


def parse_audio(root: Table, base: Path | None = None) -> AudioSettings | None:
    """The `[audio]` table, if any; a relative `clips` folder is taken from `base`."""
    table = root.optional_table("audio", _AUDIO_KEYS)
    if table is None:
        return None
    enabled = table.get("enabled", bool, True)
    volume = table.number("volume", 80, whole=True, at_least=0, at_most=100)
    device = table.get("device", str)
    quiet = None
    if "quiet_hours" in table:
        where, like = table.at("quiet_hours"), 'like "22:00-07:00"'
        quiet = span(table.data["quiet_hours"], where, table.problems, like)
        if quiet and quiet[0] == quiet[1]:
            table.add("quiet_hours", "must end at another time than it starts")
            quiet = None
    repeat = table.number("repeat", 1, whole=True, at_least=1, at_most=5)
    # Not checked for existence: clips may be made after the config (voice-clips), and
    # the announcer reports missing ones in its status.
    clips = table.get("clips", str)
    if clips is not None and not clips.strip():
        table.add("clips", "must be a folder, not an empty string")
        clips = None
    return AudioSettings(
        enabled,
        volume,
        device,
        quiet,
        repeat,
        clips=(base or Path()) / clips if clips else None,
        other_language=table.get("other_language", bool, True),
        max_delay_s=float(table.number("max_delay_s", 60.0, more_than=0, at_most=3600)),
    )
