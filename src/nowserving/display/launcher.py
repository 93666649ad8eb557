"""`build`: a lobby display from its branch and device files — its client, the screen, and
the voice (when the device file has `[audio]`), wired together and connecting."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtQuick import QQuickView

from nowserving.client import BranchClient, broker_for
from nowserving.client.qt import QtBranchBridge, gui_application, quick_view
from nowserving.config import BranchConfig
from nowserving.config.device import DeviceConfig, DisplaySettings
from nowserving.config.hardware import AudioSettings
from nowserving.display.announce import Announcer
from nowserving.display.app import HOLD_S, TURN_S, DisplayController, HallImages, hall_base
from nowserving.display.model import FRESH_S
from nowserving.launch import App, Hardware

QML = Path(__file__).parent / "qml"


class DisplayApp(App):
    """A running lobby display: `controller`, `view` (not shown yet), and `announcer`
    (None: silent)."""

    bridge: QtBranchBridge
    controller: DisplayController | None = None
    view: QQuickView | None = None
    announcer: Announcer | None = None
    audio = "audio: off"  # the announcer's last word on the audio output

    def status(self) -> dict:
        """The display's fields of its retained status (docs/display.md, "Its status")."""
        fields = {"audio": self.audio, "screen": "on"}
        if self.announcer is not None:
            fields["calls_dropped"] = self.announcer.dropped
            fields["calls_shortened"] = self.announcer.shortened
        return fields


def default_size(settings: DisplaySettings | None) -> tuple[int, int]:
    """The screen size a display opens at: landscape, or portrait if so set."""
    portrait = settings is not None and settings.orientation == "portrait"
    return (1080, 1920) if portrait else (1920, 1080)


def build_view(controller: DisplayController, size: QSize) -> QQuickView:
    """The lobby's QML in a view; raises NowservingError if the QML does not load."""
    return quick_view(QML, "Lobby", {"lobby": controller}, size,
                      {"hall": HallImages(controller)})  # fmt: skip


def build(
    config: BranchConfig,
    device: DeviceConfig,
    *,
    hardware: Hardware | None = None,
    clock: Callable[[], float] = time.time,
    view_size: tuple[int, int] | None = None,
    fresh_s: float = FRESH_S,
    hold_s: float = HOLD_S,
    turn_s: float = TURN_S,
) -> DisplayApp:
    """The lobby display of `device`, connecting; `view_size` None: what its orientation
    says. `fresh_s`: how young a call in the first summary must be to be shown as new (0
    for a screenshot, a picture of now); `hold_s`, `turn_s`: the spotlight's pace (the
    demo's branch time runs fast). It speaks when the device file has `[audio]`, through
    `hardware.player` if one is handed in."""
    hardware = hardware or Hardware()
    gui_application()
    settings = device.display or DisplaySettings()
    client = BranchClient(broker_for(device), config.rules.branch_id, device.id,
                          watch_server=True, watch_hall=hall_base(config) is not None)  # fmt: skip
    app = DisplayApp(client)
    client.status = app.status
    with app.building():
        app.bridge = QtBranchBridge(client)
        controller = DisplayController(config, app.bridge, settings, fresh_s=fresh_s,
                                       hold_s=hold_s, turn_s=turn_s, clock=clock)  # fmt: skip
        app.controller = app.owns(controller)
        if device.audio is not None and device.audio.enabled:
            _add_announcer(app, config, device.audio, hardware.player, clock)
        size = view_size or default_size(settings)
        app.view = app.owns(build_view(controller, QSize(*size)))
        app.start()
    return app


def _add_announcer(app: DisplayApp, config: BranchConfig, audio: AudioSettings, player,
                   clock: Callable[[], float]) -> None:  # fmt: skip
    """The display's voice: each call is handed over as its spotlight turn starts; what
    the announcer says of the audio output goes on screen and into the retained status,
    and so do the calls it dropped or shortened."""

    def audio_changed(status: str) -> None:  # the announcer's thread: its every change
        app.audio = status
        app.controller.report_audio(status)  # a queued signal to the GUI thread
        app.client.publish_status()

    def counted(event: str, call, detail: str) -> None:  # the announcer's thread
        if event == "dropped" or (event == "started" and detail):  # a count went up
            app.client.publish_status()

    app.announcer = app.owns(
        Announcer(
            audio,
            config.rules,
            player=player,
            on_status=audio_changed,
            when_event=counted,
            wall=clock,
        )
    )
    app.controller.on_call = lambda call, age: app.announcer.announce(call, age=age)
