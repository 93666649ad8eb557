"""`nowserving display`: the lobby screen (full screen), or one offscreen screenshot."""

from __future__ import annotations

import signal
from dataclasses import replace
from pathlib import Path

from nowserving.client.qt import gui_application, start_watchdog
from nowserving.client.qt import screenshot as screenshot_view
from nowserving.config import BranchConfig
from nowserving.config.device import DeviceConfig
from nowserving.display.launcher import build


def run_display(
    config: BranchConfig,
    device: DeviceConfig,
    screenshot: Path | None = None,
    size: tuple[int, int] | None = None,
    counter: str | None = None,
) -> int:
    """Run the lobby display until it is closed (or write one screenshot and exit). A
    screenshot is a picture of now: silent, and no call in it is shown as new. With a
    `counter` (or `[display] counter`), the screen above that counter instead."""
    qt = gui_application(offscreen=screenshot is not None)
    counter = counter or (device.display.counter if device.display else None)
    if counter is not None:
        return _run_counter_display(qt, config, device, counter, screenshot, size)
    if screenshot is not None:
        with build(config, replace(device, audio=None), view_size=size, fresh_s=0) as app:
            return screenshot_view(app.view, app.bridge, screenshot)
    with build(config, device, view_size=size) as app:
        signal.signal(signal.SIGTERM, lambda *_: qt.quit())
        app.view.showFullScreen()
        start_watchdog(app.healthy)  # systemd: ready, and pet while healthy
        return qt.exec()


def _run_counter_display(qt, config: BranchConfig, device: DeviceConfig, counter: str,
                         screenshot: Path | None, size: tuple[int, int] | None) -> int:  # fmt: skip
    from nowserving.display.counter_screen import build_counter

    if screenshot is not None:
        with build_counter(config, device, counter, view_size=size, fresh_s=0) as app:
            return screenshot_view(app.view, app.bridge, screenshot)
    with build_counter(config, device, counter, view_size=size) as app:
        signal.signal(signal.SIGTERM, lambda *_: qt.quit())
        app.view.showFullScreen()
        start_watchdog(app.healthy)  # systemd: ready, and pet while healthy
        return qt.exec()
