"""Physical ticket buttons through gpiozero's MockFactory, driven from a second thread as
real callbacks are: one press is one ticket, however the contact bounces; lamps follow."""

from __future__ import annotations

import threading
import time

import pytest
from gpiozero.pins.mock import MockFactory

from nowserving.config import parse_device_config
from nowserving.kiosk.launcher import build
from nowserving.launch import Hardware
from tests.kiosk.test_kiosk import kiosk_ready

PINS = {"cash": 5, "loans": 6, "priority": 13}
LAMPS = {"cash": 17, "loans": 27, "priority": 22}


@pytest.fixture
def headless_kiosk(qtbot, server, broker, example_config):
    """A kiosk with two ticket buttons and lamps and no screen (and no printer)."""
    factory = MockFactory()
    device = parse_device_config(
        {
            "device": {"id": "kiosk-1", "role": "kiosk", "branch": "pudong"},
            "broker": {"host": "127.0.0.1", "port": broker.port},
            "gpio": {"pin_factory": "mock", "buttons": PINS, "leds": LAMPS, "bounce_ms": 50},
        }
    )
    hardware = Hardware(pin_factory=factory)
    with build(example_config, device, hardware=hardware, view_size=None) as app:
        qtbot.waitUntil(kiosk_ready(app.controller), timeout=10_000)
        yield app.controller, factory


def press(factory: MockFactory, pin: int, bounces: int = 0, span_s: float = 0.03) -> None:
    """From another thread: the contact closes, bouncing `bounces` times within `span_s`."""

    def finger() -> None:
        button = factory.pin(pin)
        for _ in range(bounces):
            button.drive_low()
            time.sleep(span_s / (2 * bounces))  # the bounce's own timing, not a wait
            button.drive_high()
        button.drive_low()
        button.drive_high()

    thread = threading.Thread(target=finger)
    thread.start()
    thread.join(timeout=5)


def test_a_bounce_storm_is_one_ticket(qtbot, headless_kiosk, server):
    """GIVEN a contact that makes 20 edges within 30 ms WHEN pressed THEN one ticket."""
    controller, factory = headless_kiosk
    press(factory, PINS["cash"], bounces=10, span_s=0.03)
    qtbot.waitUntil(lambda: controller.phase == "done", timeout=10_000)
    assert server.branch.issued["cash"] == 1 and controller.ticketNumber == "A001"


def test_presses_of_two_buttons_are_two_tickets_in_turn(qtbot, headless_kiosk, server):
    controller, factory = headless_kiosk
    press(factory, PINS["loans"])
    qtbot.waitUntil(lambda: controller.phase == "done", timeout=10_000)
    controller.reset()
    press(factory, PINS["cash"])
    qtbot.waitUntil(lambda: controller.phase == "done", timeout=10_000)
    assert server.branch.issued["loans"] == 1 and server.branch.issued["cash"] == 1


def test_lamps_are_lit_for_services_that_take_tickets(qtbot, headless_kiosk):
    controller, factory = headless_kiosk
    assert factory.pin(LAMPS["cash"]).state and factory.pin(LAMPS["loans"]).state


def test_the_priority_button_makes_the_next_ticket_a_priority_one(qtbot, headless_kiosk, server):
    """GIVEN a kiosk with a priority button WHEN an elderly customer presses it, then
    'cash' THEN the ticket reaches the server in the priority class, its lamp blinked while
    armed and is dark after; the next press (loans) is a regular ticket again."""
    controller, factory = headless_kiosk
    press(factory, PINS["priority"])
    qtbot.waitUntil(lambda: controller._armed == "priority", timeout=5_000)
    assert factory.pin(LAMPS["priority"]).state  # lit (blinking) while armed
    press(factory, PINS["cash"])
    qtbot.waitUntil(lambda: controller.phase == "done", timeout=10_000)
    first = server.branch.tickets[f"{server.branch.business_day}/A001"]
    assert first.priority == "priority"
    assert controller.last_ticket.priority == "优先（老人、孕妇、残障人士）"  # printed on it
    assert controller._armed is None and not factory.pin(LAMPS["priority"]).state
    controller.reset()
    press(factory, PINS["loans"])
    qtbot.waitUntil(lambda: server.branch.issued["loans"] == 1, timeout=10_000)
    assert server.branch.tickets[f"{server.branch.business_day}/C001"].priority == "normal"
