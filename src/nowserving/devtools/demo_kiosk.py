"""The demo's devices: the real kiosk, the staff panels of a few counters and the lobby
display, each made by its role's `build` as on a device, with stand-ins for the hardware
handed in: a Dummy printer whose tickets are kept as PNGs, MockFactory pins that the
simulated staff press from their own threads (as a finger presses a real button), and,
without sound, a player that writes each announcement as a WAV.

The windows open when there is a display; otherwise they run offscreen and leave
screenshots. Customers arrive at the demo's rate in branch time and tap the kiosk; the
number on screen is dismissed after a second of real time, as the next customer walks up.
"""

from __future__ import annotations

import os
import queue
import random
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from gpiozero.pins.mock import MockFactory
from PySide6.QtCore import QEventLoop, QTimer

from nowserving.adapters.audio import FilePlayer, SystemPlayer
from nowserving.adapters.mqtt import Broker
from nowserving.adapters.printer.device import open_escpos
from nowserving.adapters.printer.layout import preview
from nowserving.adapters.voice import ClipSet, VoiceError, clip_texts, generate, named_clips
from nowserving.client.qt import gui_application
from nowserving.config import BranchConfig
from nowserving.config.device import BrokerSettings, DeviceConfig
from nowserving.config.hardware import AudioSettings, GpioSettings, PrinterSettings
from nowserving.counter.launcher import build as build_counter
from nowserving.display.launcher import build as build_display
from nowserving.kiosk.launcher import build as build_kiosk
from nowserving.launch import Hardware
from nowserving.protocol.views import BranchState

PRINTER = PrinterSettings(kind="dummy", paper_mm=80, profile="TM-T88V")
PANEL_PINS = GpioSettings(
    pin_factory="mock",
    buttons={"next": 5, "recall": 6, "start": 13, "done": 19, "no_show": 20, "pause": 21},
    leds={"open": 17, "waiting": 27, "busy": 22, "error": 23},
)


def device_on(config: BranchConfig, broker: Broker, device_id: str, **hardware) -> DeviceConfig:
    """The device file of one of the branch's devices on the demo's broker."""
    broker_settings = BrokerSettings(broker.host, broker.port)
    role = config.devices[device_id].role
    return DeviceConfig(device_id, role, config.rules.branch_id, broker_settings, **hardware)


class StaffCounter:
    """A counter with its staff panel and its buttons on mock pins, which its simulated
    staff press from a thread of their own: the same path a finger on a real button takes,
    debounce included."""

    def __init__(self, config: BranchConfig, broker: Broker, device_id: str, clock) -> None:
        self.pins = MockFactory()
        device = device_on(config, broker, device_id, gpio=PANEL_PINS)
        self.app = build_counter(config, device, hardware=Hardware(pin_factory=self.pins),
                                 clock=clock, panel_size=(1024, 640))  # fmt: skip
        self.counter = config.devices[device_id].counter
        self.services = config.rules.counters[self.counter].services

    @property
    def state(self) -> BranchState | None:
        """The lobby's latest summary (None before the first)."""
        return self.app.client.state

    def press(self, button: str) -> None:
        """The button's contact closes and opens again."""
        pin = self.pins.pin(PANEL_PINS.buttons[button])
        pin.drive_low()
        pin.drive_high()


class Devices:
    """The demo's kiosk, staff panels and lobby, their windows shown; `numbers`: the
    tickets printed, `voiced`: what the lobby's announcer did with each call ("finished":
    spoken, "dropped": too late, ...)."""

    def __init__(self, config, broker, clock, out: Path, panels, windowed: bool) -> None:
        self.numbers: list[str] = []
        self.voiced: Counter[str] = Counter()
        self.tickets = out / "tickets"
        self.tickets.mkdir(exist_ok=True)
        for old in self.tickets.glob("*.png"):
            old.unlink()
        escpos = open_escpos(PRINTER)  # python-escpos's Dummy: the bytes stay in memory

        def keep(number: str, parts) -> None:  # the print thread: one PNG per ticket
            escpos.clear()  # the Dummy would hold every ticket's bytes otherwise
            preview(parts, PRINTER.paper_mm).save(self.tickets / f"{number}.png")
            self.numbers.append(number)

        # Sound goes to the system's output in a window with sound; else into WAV files.
        silent = not windowed or SystemPlayer().probe() is not None
        # With sound, the kiosk has its audio guide too (hold a language button).
        guide = None if silent else AudioSettings(clips=out / "voice")
        self.kiosk = build_kiosk(
            config, device_on(config, broker, "kiosk-1", printer=PRINTER, audio=guide),
            hardware=Hardware(escpos=escpos), clock=clock, view_size=(1024, 600),
            spool_path=out / "kiosk-1-spool.sqlite", keep=keep,
        )  # fmt: skip
        self.staff = {d: StaffCounter(config, broker, d, clock) for d in panels}
        spoken = out / "announcements"
        shutil.rmtree(spoken, ignore_errors=True)
        player = FilePlayer(spoken) if silent else None
        self.spoken = spoken if silent else None
        lobby = device_on(config, broker, "lobby-1", audio=AudioSettings(clips=out / "voice"))
        # Branch time runs fast in the demo: shorter spotlight turns keep up with the calls.
        self.lobby = build_display(config, lobby, hardware=Hardware(player=player), clock=clock,
                                   view_size=(1280, 720), hold_s=4, turn_s=1.5)  # fmt: skip
        self.lobby.announcer.when_event = lambda event, *_: self.voiced.update((event,))
        for view in self.views().values():
            view.show()

    def views(self) -> dict[str, object]:
        """Each window, by the name of its screenshot."""
        panels = {f"panel-{d}": staff.app.view for d, staff in self.staff.items()}
        return {"kiosk": self.kiosk.view, **panels, "lobby": self.lobby.view}

    def up(self) -> bool:
        """Every device connected, with the branch's state."""
        clients = [self.lobby.client, *(s.app.client for s in self.staff.values())]
        return self.kiosk.controller.online and all(c.state for c in clients)

    def written(self, out: Path, screenshots: bool) -> list[str]:
        """What the devices leave behind (with `screenshots`, the windows' last pictures)."""
        written = [f"{self.tickets} ({len(self.numbers)} printed tickets as PNG)"]
        what = {"kiosk": "the kiosk's screen", "lobby": "the lobby display"}
        for name, view in self.views().items() if screenshots else ():
            shot = out / f"{name}.png"
            view.grabWindow().save(str(shot))
            said = what.get(name) or f"the staff panel of {name.removeprefix('panel-')}"
            written.append(f"{shot} ({said} at the end)")
        if self.spoken is not None:
            count = len(list(self.spoken.glob("*.wav")))
            written.append(
                f"{self.spoken} ({count} announcements as WAV, as the lobby would speak them)"
            )
        return written

    def close(self) -> None:
        """Close the kiosk, its printer and its windows (idempotent)."""
        for app in (self.lobby, *(s.app for s in self.staff.values()), self.kiosk):
            app.close()


class Customers:
    """Customers walking up to the kiosk at the demo's rate in branch time, each choosing
    a service (and taking the ticket when told they may not be served today)."""

    def __init__(self, kiosk, clock, rng: random.Random, arrival) -> None:
        self.kiosk, self.clock, self.rng, self.arrival = kiosk, clock, rng, arrival
        self.closing = False  # the doors closed: nobody else walks up
        kiosk.changed.connect(self._step_away)

    def real_ms(self, branch_s: float, at_most: int = 1000) -> int:
        """Real milliseconds for `branch_s` seconds of branch time."""
        return max(1, min(at_most, int(self.clock.real(branch_s) * 1000)))

    def come(self) -> None:
        """A simulated customer taps a service on the kiosk."""
        if not self.closing:
            delay_s, args = self.arrival(self.rng)
            QTimer.singleShot(self.real_ms(delay_s, 2**31 - 1), lambda: self._walk_up(args))

    def _walk_up(self, args: dict) -> None:
        if self.closing:
            return
        if self.kiosk.phase != "choose":  # someone is still at the kiosk: wait a moment
            QTimer.singleShot(self.real_ms(5), lambda: self._walk_up(args))
            return
        self.kiosk.setLanguage(args["language"])
        self.kiosk.choose(args["service"])
        if self.kiosk.phase == "priority":  # the kiosk asks; now and then a priority customer
            self.kiosk.choosePriority(args.get("priority", ""))
        if self.kiosk.phase == "confirm_late":
            self.kiosk.confirmLate()
        self.come()

    def _step_away(self) -> None:
        if self.kiosk.phase in ("done", "failed", "unavailable"):
            QTimer.singleShot(self.real_ms(20), self.kiosk.reset)

    def close_doors(self, then: Callable[[], None], waited_ms: int = 0) -> None:
        """Nobody else comes; the customer at the kiosk gets their ticket (5 s at most)."""
        self.closing = True
        if self.kiosk.phase == "choose" or waited_ms >= 5000:
            then()
        else:
            QTimer.singleShot(50, lambda: self.close_doors(then, waited_ms + 50))


def make_voice(config: BranchConfig, out: Path) -> None:
    """The clips of the lobby's calls and the kiosk's audio guide, made with espeak-ng into
    out/voice unless they are there (a few seconds per language); without espeak-ng the
    lobby stays silent and says so."""
    try:
        named = named_clips(config)
        clips = ClipSet(out / "voice")
        for language in config.rules.languages:
            if clips.missing(f"{language}/{name}" for name in clip_texts(language, named)):
                generate(language, out / "voice", named)
    except VoiceError as err:
        print(f"demo: the lobby display stays silent: {err}")


def has_display() -> bool:
    """Whether there is a screen to open windows on."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_kiosk_demo(
    config: BranchConfig,
    broker: Broker,
    clock,
    rng: random.Random,
    arrival: Callable[[random.Random], tuple[float, dict]],
    minutes: float,
    out: Path,
    events: queue.Queue,
    show: Callable[[object], None],
    panels: list[str] = (),
    start_staff: Callable[[dict[str, StaffCounter]], None] | None = None,
) -> tuple[list[str], Counter[str]]:
    """Run the kiosk, the staff panels of the counters named in `panels` (their staff
    started by `start_staff`) and the lobby, from when every device is up (the branch's
    clock begins then) until `minutes` of branch time have passed; returns what was
    written, and what the lobby's announcer did with the calls."""
    windowed = has_display()
    if not windowed:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = gui_application()
    devices = Devices(config, broker, clock, out, panels, windowed)
    try:
        _until_up(devices.up)
        clock.begin()  # the doors open: customers come, and branch time runs
        if start_staff is not None:
            start_staff(devices.staff)

        def drain() -> None:
            while True:
                try:
                    show(events.get_nowait())
                except queue.Empty:
                    return

        pump = QTimer()
        pump.timeout.connect(drain)
        pump.start(100)
        customers = Customers(devices.kiosk.controller, clock, rng, arrival)
        doors_close = customers.real_ms(minutes * 60, 2**31 - 1)
        QTimer.singleShot(doors_close, lambda: customers.close_doors(app.quit))
        customers.come()
        app.exec()
        drain()
        return devices.written(out, screenshots=not windowed), devices.voiced
    finally:
        devices.close()


def _until_up(ready: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """Run Qt's loop until `ready()` (every device connected, with the branch's state), or
    for `timeout_s` at most: the demo then goes on and its devices catch up."""
    loop = QEventLoop()
    poll = QTimer()
    poll.timeout.connect(lambda: ready() and loop.quit())
    poll.start(20)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    if not ready():
        loop.exec()
    poll.stop()
