"""The self-test against the real server and Mosquitto, with the demo's simulated hardware:
python-escpos's Dummy printer, gpiozero's MockFactory pins pressed from another thread,
and a FilePlayer for the lobby's voice."""

from __future__ import annotations

import json
import queue
import threading

import pytest
from escpos.constants import RT_STATUS_PAPER
from gpiozero.pins.mock import MockFactory

from nowserving.adapters.mqtt import Broker, MqttLink
from nowserving.adapters.store import EventLog
from nowserving.config import DeviceConfig, parse_device_config
from nowserving.protocol import Topics
from nowserving.selftest import Options
from nowserving.server.app import BranchServer
from tests.provision.conftest import branch_broker, provisioned  # noqa: F401

# Unattended, quick: what a test needs switched on, it switches on.
QUICK = Options(buttons_timeout_s=0, pattern_seconds=0, lamp_s=0.05, network_timeout_s=3)


@pytest.fixture(autouse=True)
def _device_in_the_branchs_zone(monkeypatch):
    """The device's zone is the example branch's (the `zone` check passes; a test that
    wants another sets TZ itself)."""
    import time

    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def no_ntp() -> None:
    """timedatectl's word is not these tests' business (the machine's, not the code's)."""
    return None


@pytest.fixture
def live_server(example_config, broker, tmp_path):
    """The real server on the example branch with the wall clock: the self-test compares
    the device's clock with the server's."""
    with BranchServer(example_config, EventLog(tmp_path / "events.sqlite"), broker) as server:
        assert server.wait_serving(10)
        yield server


def device(broker: Broker, role: str, device_id: str, **tables) -> DeviceConfig:
    """A device file of the example branch, reaching `broker`."""
    return parse_device_config(
        {
            "device": {"id": device_id, "role": role, "branch": "pudong"},
            "broker": {"host": broker.host, "port": broker.port},
            **tables,
        }
    )


def retained_status(broker: Broker, device_id: str) -> dict:
    """The device's retained status as the broker holds it now."""
    got: queue.Queue = queue.Queue()
    with MqttLink(broker, "status-reader", on_message=lambda t, p, m, q: got.put(p)) as link:
        link.subscribe(Topics("pudong").status(device_id))
        link.start()
        return json.loads(got.get(timeout=5))


def press(factory: MockFactory, *pins: int) -> None:
    """A finger on each button in turn, from a thread of its own as real presses come."""

    def finger() -> None:
        for pin in pins:
            factory.pin(pin).drive_low()
            factory.pin(pin).drive_high()

    thread = threading.Thread(target=finger)
    thread.start()
    thread.join(timeout=5)


class Prompted:
    """`say` for the self-test: keeps every line, and presses `pins` once it is asked to."""

    def __init__(self, factory: MockFactory | None = None, pins: tuple[int, ...] = ()) -> None:
        self.lines: list[str] = []
        self._factory, self._pins = factory, pins

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        if line.startswith("buttons: press") and self._pins:
            press(self._factory, *self._pins)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def sensor(escpos, online: int = 0x12, paper: int = 0x12) -> None:
    """The printer's real-time status answers: online (DLE EOT 1) and paper (DLE EOT 4)."""
    escpos._read = lambda: bytes([paper if escpos.output.endswith(RT_STATUS_PAPER) else online])
