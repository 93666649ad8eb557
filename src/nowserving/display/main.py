"""`nowserving display`: the lobby screen (full screen), or one offscreen screenshot."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtQuick import QQuickView

from nowserving.client import BranchClient, broker_for
from nowserving.client.qt import QtBranchBridge, quick_view, start_watchdog
from nowserving.client.qt import screenshot as screenshot_view
from nowserving.config import BranchConfig
from nowserving.config.device import DeviceConfig, DisplaySettings
from nowserving.config.hardware import AudioSettings
from nowserving.display.announce import Announcer
from nowserving.display.app import DisplayController
from nowserving.display.model import FRESH_S
from nowserving.i18n import FONT

log = logging.getLogger(__name__)

QML = Path(__file__).parent / "qml"


def default_size(settings: DisplaySettings | None) -> tuple[int, int]:
    portrait = settings is not None and settings.orientation == "portrait"
    return (1080, 1920) if portrait else (1920, 1080)


def build_view(controller: DisplayController, size: QSize) -> QQuickView:
    """The lobby's QML in a view; raises NowservingError if the QML does not load."""
    return quick_view(QML, "Lobby", {"lobby": controller}, size)


def run_display(
    config: BranchConfig,
    device: DeviceConfig,
    screenshot: Path | None = None,
    size: tuple[int, int] | None = None,
) -> int:
    """Run the lobby display until it is closed (or write one screenshot and exit)."""
    if screenshot is not None and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    QFontDatabase.addApplicationFont(str(FONT))  # CJK glyphs wherever the device runs
    settings = device.display or DisplaySettings()
    announcer = None
    client = BranchClient(
        broker_for(device),
        config.rules.branch_id,
        device.id,
        status=lambda: {"audio": "audio: off", "screen": "on"},
        watch_server=True,
    )
    bridge = QtBranchBridge(client)
    controller = DisplayController(
        config, bridge, settings, fresh_s=0 if screenshot is not None else FRESH_S
    )  # a screenshot is a picture of now, not a replay of the last calls
    if screenshot is None and device.audio is not None and device.audio.enabled:
        announcer = open_announcer(config, device.audio, controller, client)
    view = build_view(controller, QSize(*(size or default_size(settings))))
    client.start(wait_s=None)
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    try:
        if screenshot is not None:
            return screenshot_view(view, bridge, screenshot)
        view.showFullScreen()
        start_watchdog(lambda: client.link.alive)  # systemd: ready, and pet while healthy
        return app.exec()
    finally:
        controller.close()
        client.close()
        if announcer is not None:
            announcer.close()


def open_announcer(
    config: BranchConfig,
    audio: AudioSettings,
    controller: DisplayController,
    client: BranchClient,
    player=None,
) -> Announcer:
    """The display's announcer: each call is handed over as its spotlight turn starts; what
    it says of the audio output goes on screen and into the device's retained status."""

    def audio_changed(status: str) -> None:  # the announcer's thread
        controller.report_audio(status)
        client.publish_status()

    announcer = Announcer(audio, config.rules, player=player, on_status=audio_changed)
    controller.on_call = lambda call, age: announcer.announce(call, age=age)
    client.status = lambda: {"audio": announcer.status, "screen": "on"}
    return announcer
