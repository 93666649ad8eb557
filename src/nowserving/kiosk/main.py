"""`nowserving kiosk`: the kiosk window (full screen), or one offscreen screenshot."""

from __future__ import annotations

import os
import signal
from dataclasses import replace
from pathlib import Path

from nowserving.client.qt import gui_application, start_watchdog
from nowserving.client.qt import screenshot as screenshot_view
from nowserving.config import BranchConfig
from nowserving.config.device import DeviceConfig
from nowserving.kiosk.launcher import build


def default_state_dir() -> Path:
    """Where a kiosk keeps its spool: systemd's STATE_DIRECTORY, else the XDG state home."""
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "nowserving"


def run_kiosk(
    config: BranchConfig,
    device: DeviceConfig,
    screenshot: Path | None = None,
    size: tuple[int, int] = (1920, 1080),
    language: str | None = None,
    headless: bool = False,
    state_dir: Path | None = None,
) -> int:
    """Run the kiosk until it is closed; `headless`: buttons and printer only, no screen.
    A screenshot is a picture of the screen: no printer, pins or spool are opened."""
    qt = gui_application(offscreen=screenshot is not None or headless)
    if screenshot is not None:
        device = replace(device, printer=None, gpio=None)
    spool = (state_dir or default_state_dir()) / f"{device.id}-spool.sqlite"
    with build(
        config,
        device,
        view_size=None if headless else size,
        spool_path=None if screenshot is not None else spool,
    ) as app:
        if language:
            app.controller.setLanguage(language)
        if screenshot is not None:
            return screenshot_view(app.view, app.bridge, screenshot)
        signal.signal(signal.SIGTERM, lambda *_: qt.quit())
        if app.view is not None:
            app.view.showFullScreen()
        start_watchdog(app.healthy)  # systemd: ready, and pet while healthy
        return qt.exec()
