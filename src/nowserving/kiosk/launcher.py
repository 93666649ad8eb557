"""`build`: a kiosk from its branch and device files — its client, printer, offline spool,
ticket buttons, audio guide and screen, wired together and connecting."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtQuick import QQuickView

from nowserving.adapters.audio import SystemPlayer
from nowserving.adapters.gpio import Panel, factory_for, pins_status
from nowserving.adapters.printer.device import TicketPrinter, open_escpos
from nowserving.adapters.printer.layout import Part
from nowserving.adapters.voice import ClipSet, default_clips_dir
from nowserving.client import BranchClient, broker_for
from nowserving.client.qt import QtBranchBridge, gui_application, quick_view
from nowserving.config import BranchConfig
from nowserving.config.device import DeviceConfig
from nowserving.kiosk.app import KioskController, TicketImages
from nowserving.kiosk.checkin import ScanReader
from nowserving.kiosk.guide import Speaker
from nowserving.kiosk.printing import PrintQueue
from nowserving.kiosk.spool import Spool
from nowserving.launch import App, Hardware

QML = Path(__file__).parent / "qml"


class KioskApp(App):
    """A running kiosk: `controller` (what the screen shows), `view` (None: headless),
    `prints` (None: no printer), `pins` (None: no `[gpio]`), `spool` (None: no offline
    issuing), `speaker` (None: no `[audio]`, no audio guide)."""

    bridge: QtBranchBridge
    controller: KioskController | None = None
    view: QQuickView | None = None
    prints: PrintQueue | None = None
    pins: Panel | None = None
    spool: Spool | None = None
    speaker: Speaker | None = None

    def status(self) -> dict:
        """The kiosk's fields of its retained status (docs/kiosk.md, "Status")."""
        printer = self.prints.status if self.prints else {"printer": "none"}
        alerts = self.controller.alerts if self.controller else {}
        audio = {"audio": self.speaker.status} if self.speaker else {}
        # Tickets issued offline not yet taken by the server (the console shows them).
        spooled = {"spooled": len(self.spool.pending())} if self.spool else {}
        return {**printer, "gpio": pins_status(self.pins), **audio, **alerts, **spooled}


def build_view(controller: KioskController, size: QSize) -> QQuickView:
    """The kiosk's QML in a view, a USB scanner's keys read from it (a booking code);
    raises NowservingError if the QML does not load."""
    view = quick_view(
        QML, "Kiosk", {"kiosk": controller}, size, {"ticket": TicketImages(controller)}
    )
    reader = ScanReader(view)
    reader.scanned.connect(controller.scanned)
    reader.typed.connect(controller.pressCodeKey)
    view.installEventFilter(reader)
    controller.scan_reader = reader  # the filter's Python side lives as long as the kiosk
    return view


def build(
    config: BranchConfig,
    device: DeviceConfig,
    *,
    hardware: Hardware | None = None,
    clock: Callable[[], float] = time.time,
    view_size: tuple[int, int] | None = (1920, 1080),
    spool_path: Path | None = None,
    keep: Callable[[str, list[Part]], None] | None = None,
) -> KioskApp:
    """The kiosk of `device`, connecting. `view_size` None: headless (buttons and printer
    only; the view is not shown yet either way); `spool_path` None: no offline issuing (a
    screenshot); `keep(number, parts)` is called on the print thread with each printed
    ticket (the demo keeps PNGs). Raises NowservingError (a printer, pins or QML that cannot
    be opened) with whatever was opened closed again."""
    hardware = hardware or Hardware()
    gui_application()
    app = KioskApp(BranchClient(broker_for(device), config.rules.branch_id, device.id))
    app.client.status = app.status
    with app.building():
        if device.printer is not None:
            escpos = hardware.escpos if hardware.escpos is not None else open_escpos(device.printer)
            printer = TicketPrinter(escpos, device.printer)

            def printer_changed(_status: dict) -> None:  # the print thread
                # A printer fault is in the kiosk's status at once, for staff and monitoring.
                app.client.publish_status()

            app.prints = app.owns(PrintQueue(printer, on_status=printer_changed, keep=keep))
        if spool_path is not None:
            app.spool = app.owns(Spool(spool_path))
        app.bridge = QtBranchBridge(app.client)
        controller = KioskController(config, app.bridge, app.prints, config.ticket_url, clock,
                                     app.spool)  # fmt: skip
        app.controller = app.owns(controller)
        audio = device.audio
        if audio is not None and audio.enabled:

            def audio_changed(_status: str) -> None:  # the speaker's thread
                app.client.publish_status()

            player = hardware.player or SystemPlayer(audio.device)
            clips = ClipSet(audio.clips or default_clips_dir())
            app.speaker = app.owns(Speaker(clips, player, audio.volume, audio_changed))
            controller.attach_speaker(app.speaker)
        if device.gpio is not None:
            factory = factory_for(device.gpio, hardware.pin_factory)
            app.pins = app.owns(Panel(device.gpio, controller.pressed, factory))
            controller.attach_panel(app.pins)
        if view_size is not None:
            app.view = app.owns(build_view(controller, QSize(*view_size)))
        app.start()
    return app
