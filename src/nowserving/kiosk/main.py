"""`nowserving kiosk`: the kiosk window (full screen), or one offscreen screenshot."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QEventLoop, QSize, QTimer
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtQuick import QQuickView

from nowserving.adapters.gpio import Panel, pin_factory
from nowserving.adapters.printer.device import TicketPrinter, open_escpos
from nowserving.adapters.printer.layout import FONT
from nowserving.client import BranchClient, broker_for
from nowserving.client.qt import QtBranchBridge
from nowserving.config import BranchConfig
from nowserving.config.device import DeviceConfig
from nowserving.errors import NowservingError
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
    view = QQuickView()
    view.engine().addImportPath(str(QML))
    view.engine().addImageProvider("ticket", TicketImages(controller))
    view.setResizeMode(QQuickView.ResizeMode.SizeRootObjectToView)
    view.setInitialProperties({"kiosk": controller})
    view.loadFromModule("Kiosk", "Main")
    if view.status() != QQuickView.Status.Ready:
        errors = "; ".join(e.toString() for e in view.errors())
        raise NowservingError(f"the kiosk's QML did not load: {errors}")
    view.resize(size)
    return view


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
            return _screenshot(app, view, bridge, screenshot)
        if view is not None:
            view.showFullScreen()
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


def _screenshot(app, view: QQuickView, bridge: QtBranchBridge, path: Path) -> int:
    """Show the window offscreen, give the branch's state a moment to arrive, save a PNG."""
    loop = QEventLoop()
    bridge.stateChanged.connect(lambda _: QTimer.singleShot(200, loop.quit))
    QTimer.singleShot(STATE_WAIT_MS, loop.quit)
    view.show()
    loop.exec()
    image = view.grabWindow()
    if image.isNull() or not image.save(str(path)):
        log.error("could not write the screenshot %s", path)
        return 1
    print(f"wrote {path} ({image.width()}x{image.height()})")
    return 0
