"""The demo's kiosk: the real kiosk (controller, QML, print thread, spool) with simulated
customers tapping it and a printer that keeps each ticket as a PNG; beside it the staff
panels of a few counters and the lobby display, which announces each call.

Its window opens when there is a display; otherwise it runs offscreen and leaves a
screenshot. Customers arrive at the demo's rate in branch time; the number on screen is
dismissed after a second of real time, as the next customer walks up.
"""

from __future__ import annotations

import os
import queue
import random
import shutil
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from gpiozero.pins.mock import MockFactory
from PySide6.QtCore import QEventLoop, QSize, QTimer
from PySide6.QtGui import QFontDatabase, QGuiApplication

from nowserving.adapters.audio import FilePlayer, SystemPlayer
from nowserving.adapters.mqtt import Broker
from nowserving.adapters.printer.device import TicketPrinter, open_escpos
from nowserving.adapters.printer.layout import preview
from nowserving.client import BranchClient
from nowserving.client.qt import QtBranchBridge, quick_view
from nowserving.config import BranchConfig
from nowserving.config.device import parse_device_config
from nowserving.config.hardware import AudioSettings, PrinterSettings
from nowserving.counter.app import CounterDevice
from nowserving.counter.main import QML as COUNTER_QML
from nowserving.counter.panel import PanelController
from nowserving.display.app import DisplayController
from nowserving.display.main import build_view as build_display
from nowserving.display.main import open_announcer
from nowserving.display.voice import VoiceError, generate
from nowserving.i18n import FONT
from nowserving.kiosk.app import KioskController
from nowserving.kiosk.main import build_view
from nowserving.kiosk.printing import PrintQueue
from nowserving.kiosk.spool import Spool

PRINTER = PrinterSettings(kind="dummy", paper_mm=80, profile="TM-T88V")
DEMO_BUTTONS = {"next": 5, "recall": 6, "start": 13, "done": 19, "no_show": 20, "pause": 21}
DEMO_LAMPS = {"open": 17, "waiting": 27, "busy": 22, "error": 23}


def _open_panel(config: BranchConfig, broker: Broker, device_id: str):
    """A counter with its buttons on mock pins and its staff panel in a window."""
    counter_id = config.devices[device_id].counter
    services = config.rules.counters[counter_id].services
    device = parse_device_config(
        {
            "device": {"id": device_id, "role": "counter", "branch": config.rules.branch_id},
            "broker": {"host": broker.host, "port": broker.port},
            "gpio": {"pin_factory": "mock", "buttons": DEMO_BUTTONS, "leds": DEMO_LAMPS},
        }
    )
    client = BranchClient(broker, config.rules.branch_id, device_id, watch_lines=services)
    unit = CounterDevice(config, device, client, MockFactory())
    panel = PanelController(config, unit, QtBranchBridge(client))
    view = quick_view(COUNTER_QML, "CounterPanel", {"panel": panel}, QSize(1024, 640))
    client.start(wait_s=None)
    view.show()
    return unit, panel, client, view


def _open_lobby(config: BranchConfig, broker: Broker, out: Path, windowed: bool):
    """The lobby display "lobby-1" with its announcer. Speech is made from the clips in
    out/voice (see `make_voice`); it goes to the system's audio output in a
    window with sound, and otherwise each announcement is written as a WAV in
    out/announcements, to listen to afterwards."""
    clips = out / "voice"  # made by run_demo before the branch's clock starts
    spoken = out / "announcements"
    shutil.rmtree(spoken, ignore_errors=True)
    player = None  # the system's
    if not windowed or SystemPlayer().probe() is not None:
        player = FilePlayer(spoken)
    client = BranchClient(broker, config.rules.branch_id, "lobby-1", watch_server=True)
    # Branch time runs fast in the demo: shorter spotlight turns keep up with the calls.
    controller = DisplayController(config, QtBranchBridge(client), hold_s=4, turn_s=1.5)
    announcer = open_announcer(config, AudioSettings(clips=clips), controller, client, player)
    view = build_display(controller, QSize(1280, 720))
    client.start(wait_s=None)
    view.show()
    return controller, client, view, announcer, spoken if player is not None else None


def make_voice(config: BranchConfig, out: Path) -> None:
    """The lobby's clips, made with espeak-ng into out/voice unless they are there (a couple
    of seconds per language); without espeak-ng the lobby stays silent and says so."""
    counters = {cid: spec.names for cid, spec in config.rules.counters.items()}
    try:
        for language in config.rules.languages:
            if not (out / "voice" / language).is_dir():
                generate(language, out / "voice", counters)
    except VoiceError as err:
        print(f"demo: the lobby display stays silent: {err}")


def has_display() -> bool:
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
    start_staff: Callable[[dict], None] | None = None,
) -> tuple[list[str], Counter[str]]:
    """Run the kiosk, and the staff panels of the counters named in `panels`, from when
    every device is up (the branch's clock begins then) until `minutes` of branch time have
    passed; returns what was written, and what the lobby's announcer did with the calls
    ("finished": spoken, "dropped": too late, ...)."""
    windowed = has_display()
    if not windowed:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    QFontDatabase.addApplicationFont(str(FONT))
    tickets = out / "tickets"
    tickets.mkdir(exist_ok=True)
    for old in tickets.glob("*.png"):
        old.unlink()
    printer = TicketPrinter(open_escpos(PRINTER), PRINTER)
    numbers: list[str] = []

    def keep(number: str, parts) -> None:  # the print thread: one PNG per ticket
        printer.escpos.clear()  # the Dummy would hold every ticket's bytes otherwise
        preview(parts, PRINTER.paper_mm).save(tickets / f"{number}.png")
        numbers.append(number)

    prints = PrintQueue(printer, keep=keep)
    spool = Spool(out / "kiosk-1-spool.sqlite")
    client = BranchClient(broker, config.rules.branch_id, "kiosk-1", status=lambda: prints.status)
    bridge = QtBranchBridge(client)
    controller = KioskController(config, bridge, prints, config.ticket_url, clock, spool)
    view = build_view(controller, QSize(1024, 600))
    client.start(wait_s=None)
    view.show()
    counters = [_open_panel(config, broker, device_id) for device_id in panels]
    lobby, lobby_client, lobby_view, announcer, spoken = _open_lobby(config, broker, out, windowed)
    voiced: Counter[str] = Counter()
    announcer.when_event = lambda event, call, detail: voiced.update((event,))  # its thread
    devices = [lobby_client, *(panel_client for _, _, panel_client, _ in counters)]
    _until_up(lambda: controller.online and all(device.state for device in devices))
    clock.begin()  # the doors open: customers come, and branch time runs
    if start_staff is not None:
        start_staff({device_id: c[0] for device_id, c in zip(panels, counters, strict=True)})

    def real_ms(branch_s: float) -> int:
        """Real milliseconds for `branch_s` seconds of branch time (at most one second)."""
        return max(1, min(1000, int(clock.real(branch_s) * 1000)))

    closing = []  # set at the end: no more customers walk up

    def next_customer() -> None:
        if closing:
            return
        delay_s, args = arrival(rng)
        QTimer.singleShot(max(1, int(clock.real(delay_s) * 1000)), lambda: walk_up(args))

    def walk_up(args: dict) -> None:
        if closing:
            return
        if controller.phase != "choose":  # someone is still at the kiosk: wait a moment
            QTimer.singleShot(real_ms(5), lambda: walk_up(args))
            return
        controller.setLanguage(args["language"])
        controller.choose(args["service"])
        if controller.phase == "confirm_late":
            controller.confirmLate()
        next_customer()

    def step_away() -> None:
        if controller.phase in ("done", "failed", "unavailable"):
            QTimer.singleShot(real_ms(20), controller.reset)

    def drain() -> None:
        while True:
            try:
                show(events.get_nowait())
            except queue.Empty:
                return

    controller.changed.connect(step_away)
    pump = QTimer()
    pump.timeout.connect(drain)
    pump.start(100)

    def finish(waited_ms: int = 0) -> None:
        """The doors close: the customer at the kiosk gets their ticket, then it stops."""
        closing.append(True)
        if controller.phase == "choose" or waited_ms >= 5000:
            app.quit()
        else:
            QTimer.singleShot(50, lambda: finish(waited_ms + 50))

    QTimer.singleShot(int(clock.real(minutes * 60) * 1000), finish)
    next_customer()
    app.exec()
    drain()
    written = [f"{tickets} ({len(numbers)} printed tickets as PNG)"]
    if not windowed:
        shot = out / "kiosk.png"
        view.grabWindow().save(str(shot))
        written.append(f"{shot} (the kiosk's screen at the end)")
        for device_id, (_, _, _, panel_view) in zip(panels, counters, strict=True):
            shot = out / f"panel-{device_id}.png"
            panel_view.grabWindow().save(str(shot))
            written.append(f"{shot} (the staff panel of {device_id} at the end)")
        shot = out / "lobby.png"
        lobby_view.grabWindow().save(str(shot))
        written.append(f"{shot} (the lobby display at the end)")
    if spoken is not None:
        count = len(list(spoken.glob("*.wav")))
        written.append(f"{spoken} ({count} announcements as WAV, as the lobby would speak them)")
    announcer.close()
    lobby.close()
    lobby_client.close()
    lobby_view.close()
    for unit, panel, panel_client, panel_view in counters:
        panel.close()
        unit.close()
        panel_client.close()
        panel_view.close()
    controller.close()
    client.close()
    prints.close()
    spool.close()
    view.close()
    return written, voiced


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
