"""`nowserving display --screenshot`: the lobby drawn from the branch's state; the
display's retained status counts the calls its voice dropped."""

from __future__ import annotations

import json
import queue
import time

from PySide6.QtGui import QImage

from nowserving.adapters.audio import FilePlayer
from nowserving.adapters.mqtt import MqttLink
from nowserving.cli import main
from nowserving.config import EXAMPLE
from nowserving.config.device import BrokerSettings, DeviceConfig
from nowserving.config.hardware import AudioSettings
from nowserving.display.launcher import build
from nowserving.launch import Hardware
from nowserving.protocol import Role
from nowserving.protocol.views import Call


def test_a_screenshot_is_drawn(qtbot, server, connect, example_device, tmp_path):
    """GIVEN the shipped lobby-1.toml and a call WHEN `nowserving display --screenshot`
    THEN the lobby is drawn at the size asked."""
    connect("kiosk-1").request("issue_ticket", {"service": "cash"})
    connect("counter-1").request("call_next")
    png = tmp_path / "lobby.png"
    argv = ["display", "--config", str(EXAMPLE), "--device", str(example_device("lobby-1")),
            "--screenshot", str(png), "--size", "1280x720"]  # fmt: skip
    assert main(argv) == 0
    assert QImage(str(png)).size().toTuple() == (1280, 720)


def test_a_dropped_call_is_counted_in_the_retained_status(
    qtbot, server, broker, clips, tmp_path, example_config
):
    """GIVEN a display with its voice (a file player) WHEN a call reaches the announcer too
    late to be said THEN the display's retained status counts it in `calls_dropped`."""
    device = DeviceConfig(
        "lobby-1", Role.DISPLAY, "pudong", BrokerSettings("127.0.0.1", broker.port),
        audio=AudioSettings(clips=clips, max_delay_s=60),
    )  # fmt: skip
    player = FilePlayer(tmp_path / "spoken", speed=20)
    seen: queue.Queue = queue.Queue()
    with build(example_config, device, hardware=Hardware(player=player)) as app:
        qtbot.waitUntil(lambda: app.controller.online, timeout=10_000)
        monitor = MqttLink(broker, "monitor", on_message=lambda *m: seen.put(m[1]))
        monitor.subscribe(app.client.topics.status("lobby-1"))
        with monitor:
            monitor.start()
            assert json.loads(seen.get(timeout=5))["calls_dropped"] == 0
            stale = Call("t-A001", "A001", "cash", "c1", "zh", time.time() - 120, 0)
            app.controller.on_call(stale, 120.0)  # as the display hands a call over
            assert app.announcer.wait_idle(10)
            status = json.loads(seen.get(timeout=5))
            while status["calls_dropped"] == 0:  # statuses published before the drop
                status = json.loads(seen.get(timeout=5))
    assert (status["calls_dropped"], status["calls_shortened"]) == (1, 0)
    assert player.played == []
