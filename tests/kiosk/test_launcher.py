"""The kiosk's `build` and `nowserving kiosk`: the stand-ins handed in are used, what was
opened is closed again when a part fails, and a screenshot opens no hardware."""

from __future__ import annotations

import threading

import pytest
from escpos.printer import Dummy
from gpiozero import Button
from gpiozero.pins.mock import MockFactory
from PySide6.QtGui import QImage

from nowserving.adapters.gpio import GpioError
from nowserving.cli import main
from nowserving.config import EXAMPLE, parse_device_config
from nowserving.kiosk.launcher import build
from nowserving.launch import Hardware
from tests.counter.test_launcher import online_status


def kiosk_device(port: int, **tables):
    return parse_device_config(
        {
            "device": {"id": "kiosk-1", "role": "kiosk", "branch": "pudong"},
            "broker": {"host": "127.0.0.1", "port": port},
            **tables,
        }
    )


def test_the_stand_ins_handed_in_are_used(qtbot, server, broker, example_config, tmp_path):
    """GIVEN a Dummy printer and MockFactory pins WHEN a kiosk is built with them and a
    customer presses the cash button THEN the ticket comes out of that Dummy, the offline
    spool is where it was asked for, and the status says the printer and pins."""
    escpos, factory = Dummy(), MockFactory()
    device = kiosk_device(
        broker.port,
        printer={"kind": "dummy"},
        gpio={"pin_factory": "mock", "buttons": {"cash": 5}},
    )
    hardware = Hardware(escpos=escpos, pin_factory=factory)
    spool = tmp_path / "spool.sqlite"
    with build(example_config, device, hardware=hardware, view_size=None, spool_path=spool) as app:
        assert app.view is None and spool.exists()
        status = online_status(broker, "kiosk-1")
        assert (status["printer"], status["gpio"]) == ("ok", "mock")
        qtbot.waitUntil(lambda: app.controller.online, timeout=10_000)
        factory.pin(5).drive_low()
        factory.pin(5).drive_high()
        qtbot.waitUntil(lambda: app.controller.phase == "done", timeout=10_000)
        assert len(escpos.output) > 1000  # the ticket's bytes went to this printer


def test_a_part_that_fails_leaves_nothing_open(qapp, broker, example_config):
    """GIVEN a ticket button's pin already in use WHEN the kiosk is built THEN it says so
    (GpioError), and the printer it had opened is closed again: no print thread is left."""
    factory = MockFactory()
    held = Button(5, pin_factory=factory)  # another program holds the pin
    device = kiosk_device(broker.port, printer={"kind": "dummy"},
                          gpio={"pin_factory": "mock", "buttons": {"cash": 5}})  # fmt: skip
    try:
        with pytest.raises(GpioError, match="in use"):
            build(example_config, device, hardware=Hardware(Dummy(), factory), view_size=None)
    finally:
        held.close()
    assert [t for t in threading.enumerate() if t.name == "printer"] == []


def test_a_screenshot_opens_no_hardware(qtbot, server, example_device, tmp_path, monkeypatch):
    """GIVEN the shipped kiosk-1.toml (a USB printer and pins this machine lacks) WHEN
    `nowserving kiosk --screenshot` THEN the screen is drawn, and no printer, pin or spool
    is opened."""
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    png = tmp_path / "kiosk.png"
    argv = ["kiosk", "--config", str(EXAMPLE), "--device", str(example_device("kiosk-1")),
            "--screenshot", str(png), "--size", "800x480", "--language", "en"]  # fmt: skip
    assert main(argv) == 0
    assert QImage(str(png)).size().toTuple() == (800, 480)
    assert not (tmp_path / "state").exists()
