"""`nowserving counter`: a counter's buttons and lamps, headless until stopped; with `--ui`
the staff panel too (or `--screenshot` of it)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

from nowserving.adapters.gpio import pin_factory
from nowserving.adapters.systemd import Notifier, Watchdog
from nowserving.client import BranchClient, broker_for
from nowserving.config import BranchConfig
from nowserving.config.device import DeviceConfig
from nowserving.counter.app import CounterDevice

QML = Path(__file__).parent / "qml"


def run_counter(
    config: BranchConfig,
    device: DeviceConfig,
    ui: bool = False,
    screenshot: Path | None = None,
    size: tuple[int, int] = (1280, 800),
    language: str | None = None,
) -> int:
    counter_id = config.devices[device.id].counter
    services = config.rules.counters[counter_id].services
    client = BranchClient(
        broker_for(device), config.rules.branch_id, device.id, watch_lines=tuple(services)
    )
    factory = pin_factory(device.gpio.pin_factory if device.gpio else "mock")
    counter = CounterDevice(config, device, client, factory)
    try:
        if ui or screenshot is not None:
            return _panel(config, counter, client, screenshot, size, language)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        client.start(wait_s=None)
        watchdog = Watchdog(Notifier(), lambda: client.link.alive)
        watchdog.notifier.ready()
        # systemd's watchdog is petted from this loop while paho's thread lives.
        while not stop.wait(watchdog.interval):
            watchdog.tick()
        return 0
    finally:
        counter.close()
        client.close()


def _panel(config, counter, client, screenshot, size, language) -> int:
    if screenshot is not None and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QFontDatabase, QGuiApplication

    from nowserving.client.qt import QtBranchBridge, quick_view, start_watchdog
    from nowserving.client.qt import screenshot as screenshot_view
    from nowserving.counter.panel import PanelController
    from nowserving.i18n import FONT

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    QFontDatabase.addApplicationFont(str(FONT))
    bridge = QtBranchBridge(client)
    panel = PanelController(config, counter, bridge)
    if language:
        panel.setLanguage(language)
    view = quick_view(QML, "CounterPanel", {"panel": panel}, QSize(*size))
    client.start(wait_s=None)
    try:
        if screenshot is not None:
            return screenshot_view(view, bridge, screenshot)
        signal.signal(signal.SIGTERM, lambda *_: app.quit())
        view.show()
        start_watchdog(lambda: client.link.alive)  # systemd: ready, and pet while healthy
        return app.exec()
    finally:
        panel.close()
