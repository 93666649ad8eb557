"""The counter's `build` and `nowserving counter`: pins only where the device file has
`[gpio]`, said in the status; a screenshot opens none."""

from __future__ import annotations

import json
import queue

from gpiozero.pins.mock import MockFactory
from PySide6.QtGui import QImage

from nowserving.adapters.mqtt import Broker, MqttLink
from nowserving.cli import main
from nowserving.config import EXAMPLE, parse_device_config
from nowserving.counter.launcher import build
from nowserving.launch import Hardware
from nowserving.protocol import Topics
from tests.counter.test_buttons import device_config


def online_status(broker: Broker, device_id: str, timeout_s: float = 10) -> dict:
    """The first status of the device that says it is online (retained or as it comes)."""
    got: queue.Queue = queue.Queue()
    with MqttLink(broker, "status-reader", on_message=lambda t, p, m, q: got.put(p)) as link:
        link.subscribe(Topics("pudong").status(device_id))
        link.start()
        while not (status := json.loads(got.get(timeout=timeout_s)))["online"]:
            pass
        return status


def test_a_staff_pc_without_gpio_gets_no_pins_and_says_so(qtbot, server, broker, connect,
                                                         example_config):  # fmt: skip
    """GIVEN a counter's device file without [gpio] (a staff PC) WHEN it is built with its
    panel THEN no pins are opened (no mock ones either), its status says `"gpio": "none"`,
    and the panel's Next calls the customer all the same."""
    device = parse_device_config(
        {
            "device": {"id": "counter-1", "role": "counter", "branch": "pudong"},
            "broker": {"host": "127.0.0.1", "port": broker.port},
        }
    )
    with build(example_config, device, panel_size=(1280, 800)) as app:
        assert app.unit.panel is None
        assert online_status(broker, "counter-1")["gpio"] == "none"
        connect("kiosk-1").request("issue_ticket", {"service": "cash"})
        qtbot.waitUntil(lambda: len(app.panel.waiting) == 1, timeout=10_000)
        app.panel.press("next")
        qtbot.waitUntil(lambda: app.panel.ticket.get("number") == "A001", timeout=10_000)


def test_pins_on_a_mock_factory_are_said_to_be_mock(server, broker, example_config):
    """GIVEN a counter with [gpio] on gpiozero's MockFactory (a test, the demo) THEN its
    status says so: no finger reaches those buttons."""
    device = device_config("counter-1", broker.port)
    with build(example_config, device, hardware=Hardware(pin_factory=MockFactory())) as app:
        assert set(app.unit.panel.buttons) == {"next", "recall", "start", "done", "no_show",
                                               "pause"}  # fmt: skip
        assert app.panel is None and app.view is None  # headless: no Qt
        assert online_status(broker, "counter-1")["gpio"] == "mock"


def test_close_is_idempotent(server, broker, example_config):
    device = device_config("counter-1", broker.port)
    app = build(example_config, device, hardware=Hardware(pin_factory=MockFactory()))
    app.close()
    app.close()
    assert app.unit.panel.buttons == {}


def test_a_screenshot_of_the_panel_opens_no_pins(qtbot, server, example_device, tmp_path):
    """GIVEN the shipped counter-1.toml (pins on the default factory, which this machine
    lacks) WHEN `nowserving counter --screenshot` THEN the panel is drawn, no pin touched."""
    png = tmp_path / "panel.png"
    argv = ["counter", "--config", str(EXAMPLE), "--device", str(example_device("counter-1")),
            "--screenshot", str(png), "--size", "800x500", "--language", "en"]  # fmt: skip
    assert main(argv) == 0
    assert QImage(str(png)).size().toTuple() == (800, 500)
