"""The staff panel, offscreen with pytest-qt, against the real server and Mosquitto."""

from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory

from nowserving.counter.launcher import build
from nowserving.counter.panel import PanelController
from nowserving.launch import Hardware
from tests.counter.test_buttons import device_config


@pytest.fixture
def panel(qtbot, server, broker, example_config):
    config = device_config("counter-1", broker.port, buttons={})
    with build(
        example_config, config, hardware=Hardware(pin_factory=MockFactory()), panel_size=(1280, 800)
    ) as app:
        app.view.show()
        controller = app.panel
        qtbot.waitUntil(lambda: controller.online and controller._state is not None, timeout=10_000)
        yield controller


def test_the_panel_calls_serves_and_finishes(qtbot, panel, connect):
    """GIVEN two customers WHEN staff use Next, Start, Done on the panel THEN the panel shows
    the called customer, then serving, then the line moves on."""
    kiosk = connect("kiosk-1")
    for _ in range(2):
        kiosk.request("issue_ticket", {"service": "cash"})
    qtbot.waitUntil(lambda: len(panel.waiting) == 2, timeout=10_000)
    panel.press("next")
    qtbot.waitUntil(lambda: panel.ticket.get("number") == "A001", timeout=10_000)
    assert panel.ticket["status"] == "called"
    qtbot.waitUntil(lambda: [w["number"] for w in panel.waiting] == ["A002"], timeout=10_000)
    panel.press("start")
    qtbot.waitUntil(lambda: panel.ticket.get("status") == "serving", timeout=10_000)
    panel.press("done")
    qtbot.waitUntil(lambda: panel.ticket == {}, timeout=10_000)


def test_call_a_given_ticket_transfer_and_post_a_notice(qtbot, panel, connect, server):
    """GIVEN A001 and A002 waiting WHEN staff call A002 with a reason, transfer it, and post
    a notice THEN the server records each, and the panel shows the result."""
    kiosk = connect("kiosk-1")
    for _ in range(2):
        kiosk.request("issue_ticket", {"service": "cash"})
    qtbot.waitUntil(lambda: len(panel.waiting) == 2, timeout=10_000)
    second = panel.waiting[1]["id"]
    panel.callTicket(second, "priority")
    qtbot.waitUntil(lambda: panel.ticket.get("number") == "A002", timeout=10_000)
    assert server.branch.tickets[second].out_of_order == "priority"  # a code, not words
    panel.transfer("accounts")
    qtbot.waitUntil(lambda: panel.ticket == {}, timeout=10_000)
    assert server.branch.tickets[second].service == "accounts"
    panel.postNotice("系统升级，请稍候 / Short delay")
    qtbot.waitUntil(lambda: bool(panel._state and panel._state.notices), timeout=10_000)
    assert panel._state.notices[0].text == "系统升级，请稍候 / Short delay"


def test_a_refusal_is_shown(qtbot, panel):
    panel.press("next")  # nobody waits
    qtbot.waitUntil(lambda: panel.message != "", timeout=10_000)
    assert "nobody is waiting" in panel.message


def test_pause_with_a_reason_and_open_again(qtbot, panel, server):
    """GIVEN an open counter WHEN staff pause it for lunch on the panel THEN it is paused
    with that reason; WHEN they press the same button again THEN it is open."""
    panel.pause("lunch")
    qtbot.waitUntil(lambda: panel.status == "paused", timeout=10_000)
    assert server.branch.counters["c1"].reason == "lunch"  # a code: put into words where shown
    panel.press("pause")
    qtbot.waitUntil(lambda: panel.status == "open", timeout=10_000)


@pytest.fixture
def make_panel(qtbot, server, broker, example_config):
    """A staff panel for any counter device of the example branch, watching its lines."""
    made = []

    def make(device: str) -> PanelController:
        config = device_config(device, broker.port, buttons={})
        app = build(example_config, config, hardware=Hardware(pin_factory=MockFactory()),
                    panel_size=(1280, 800))  # fmt: skip
        made.append(app)
        controller = app.panel
        qtbot.waitUntil(lambda: controller.online and controller._state is not None, timeout=10_000)
        return controller

    yield make
    for app in made:
        app.close()


def test_the_waiting_list_is_in_the_counters_call_order(qtbot, make_panel, connect, clock):
    """GIVEN an accounts customer, then loans, wealth, a priority accounts customer (boost
    15 min) and a cash customer WHEN room 6 (in_order: wealth, loans, accounts) and counter 2
    (longest_wait: cash, accounts) list who waits THEN each lists them as it would call
    them: room 6 by its services' order, counter 2 by effective wait across both lines."""
    kiosk = connect("kiosk-1")
    numbers = {}
    for name, service, priority in (
        ("accounts", "accounts", "normal"),
        ("loans", "loans", "normal"),
        ("wealth", "wealth", "normal"),
        ("accounts_vip", "accounts", "priority"),
        ("cash", "cash", "normal"),
    ):
        reply = kiosk.request("issue_ticket", {"service": service, "priority": priority})
        numbers[name] = reply.ticket["number"]
        clock.advance(60)
    room6, counter2 = make_panel("counter-6"), make_panel("counter-2")
    expected6 = [numbers[n] for n in ("wealth", "loans", "accounts_vip", "accounts")]
    expected2 = [numbers[n] for n in ("accounts_vip", "accounts", "cash")]
    qtbot.waitUntil(lambda: [w["number"] for w in room6.waiting] == expected6, timeout=10_000)
    qtbot.waitUntil(lambda: [w["number"] for w in counter2.waiting] == expected2, timeout=10_000)
