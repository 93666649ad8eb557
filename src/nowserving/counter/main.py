"""`nowserving counter`: a counter's buttons and lamps, headless until stopped; with `--ui`
the staff panel too (or `--screenshot` of it)."""

from __future__ import annotations

import signal
import threading
from dataclasses import replace
from pathlib import Path

from nowserving.adapters.systemd import Notifier, Watchdog
from nowserving.config import BranchConfig
from nowserving.config.device import DeviceConfig
from nowserving.counter.launcher import CounterApp, build


def run_counter(
    config: BranchConfig,
    device: DeviceConfig,
    ui: bool = False,
    screenshot: Path | None = None,
    size: tuple[int, int] = (1280, 800),
    language: str | None = None,
) -> int:
    """Run the counter until it is stopped (or write one screenshot of its panel and exit).
    A screenshot is a picture of the panel: no pins are opened."""
    if screenshot is None and not ui:
        with build(config, device) as app:
            return _headless(app)
    from nowserving.client.qt import gui_application

    gui_application(offscreen=screenshot is not None)
    if screenshot is not None:
        device = replace(device, gpio=None)
    with build(config, device, panel_size=size) as app:
        if language:
            app.panel.setLanguage(language)
        return _panel(app, screenshot)


def _headless(app: CounterApp) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    watchdog = Watchdog(Notifier(), app.healthy)
    watchdog.notifier.ready()
    # systemd's watchdog is petted from this loop while paho's thread lives.
    while not stop.wait(watchdog.interval):
        watchdog.tick()
    return 0


def _panel(app: CounterApp, screenshot: Path | None) -> int:
    from nowserving.client.qt import gui_application, start_watchdog
    from nowserving.client.qt import screenshot as screenshot_view

    if screenshot is not None:
        return screenshot_view(app.view, app.bridge, screenshot)
    qt = gui_application()
    signal.signal(signal.SIGTERM, lambda *_: qt.quit())
    app.view.show()
    start_watchdog(app.healthy)  # systemd: ready, and pet while healthy
    return qt.exec()
