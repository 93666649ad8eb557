"""`nowserving kiosk`: the kiosk window (full screen), or one offscreen screenshot."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtQuick import QQuickView

from nowserving.adapters.gpio import Panel, pin_factory
from nowserving.adapters.printer.device import TicketPrinter, open_escpos
from nowserving.client import BranchClient, broker_for
from nowserving.client.qt import QtBranchBridge, quick_view, start_watchdog
from nowserving.client.qt import screenshot as screenshot_view
from nowserving.config import BranchConfig
from nowserving.config.device import DeviceConfig
from nowserving.i18n import FONT
from nowserving.kiosk.app import KioskController, TicketImages
from nowserving.kiosk.printing import PrintQueue
from nowserving.kiosk.spool import Spool

log = logging.getLogger(__name__)

QML = Path(__file__).parent / "qml"
STATE_WAIT_MS = 3000  # a screenshot waits this long for the branch's state


def default_state_dir() -> Path:
    """Where a kiosk keeps its spool: systemd's STATE_DIRECTORY, else the XDG state home."""
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "nowserving"


def build_view(controller: KioskController, size: QSize) -> QQuickView:
    """The kiosk's QML in a view; raises NowservingError if the QML does not load."""
    return quick_view(
        QML, "Kiosk", {"kiosk": controller}, size, {"ticket": TicketImages(controller)}
    )


def run_kiosk(
    config: BranchConfig,
    device: DeviceConfig,
    screenshot: Path | None = None,
    size: tuple[int, int] = (1920, 1080),
    language: str | None = None,
    headless: bool = False,
    state_dir: Path | None = None,
) -> int:
    """Run the kiosk until it is closed; `headless`: buttons and printer only, no screen."""
    if (screenshot is not None or headless) and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no screen needed
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    QFontDatabase.addApplicationFont(str(FONT))  # the same glyphs as the printed ticket
    queue = controller = None

    def status() -> dict:
        printer = queue.status if queue else {"printer": "none"}
        return {**printer, **(controller.alerts if controller else {})}

    client = BranchClient(broker_for(device), config.rules.branch_id, device.id, status=status)
    if device.printer is not None and screenshot is None:
        printer = TicketPrinter(open_escpos(device.printer), device.printer)
        # A printer fault is in the kiosk's status at once, for staff and monitoring.
        queue = PrintQueue(printer, on_status=lambda _: client.publish_status())
    bridge = QtBranchBridge(client)
    spool = None
    if screenshot is None:
        spool = Spool((state_dir or default_state_dir()) / f"{device.id}-spool.sqlite")
    controller = KioskController(config, bridge, queue, config.ticket_url, spool=spool)
    if language:
        controller.setLanguage(language)
    panel = None
    if device.gpio is not None and screenshot is None:
        panel = Panel(device.gpio, controller.pressed, pin_factory(device.gpio.pin_factory))
        controller.attach_panel(panel)
    view = None if headless else build_view(controller, QSize(*size))
    client.start(wait_s=None)
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    try:
        if screenshot is not None:
            return screenshot_view(view, bridge, screenshot)
        if view is not None:
            view.showFullScreen()
        start_watchdog(lambda: client.link.alive)  # systemd: ready, and pet while healthy
        return app.exec()
    finally:
        controller.close()
        client.close()
        if queue is not None:
            queue.close()
        if panel is not None:
            panel.close()
        if spool is not None:
            spool.close()
