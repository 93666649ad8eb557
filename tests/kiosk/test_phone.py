"""The kiosk's phone number screen, offscreen with pytest-qt, against the real server (with
webhooks to the reference receiver) and Mosquitto: asked only where the branch turns it on,
typed on the keypad, and received by the webhook alone."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from PySide6.QtCore import QSize

from nowserving.adapters.printer.device import TicketPrinter, open_escpos
from nowserving.client import BranchClient
from nowserving.client.qt import QtBranchBridge
from nowserving.kiosk.app import KioskController
from nowserving.kiosk.launcher import build_view
from nowserving.kiosk.printing import PrintQueue
from tests.kiosk.test_kiosk import SETTINGS, URL, find_item, kiosk_ready, press, tap
from tests.server.test_webhooks import SECRET, Branch
from tests.server.webhook_receiver import ReferenceReceiver

SHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
PHONE = "13912345678"


@pytest.fixture
def receiver():
    r = ReferenceReceiver(SECRET)
    yield r
    r.close()


def open_kiosk(qtbot, config, broker, ask_phone: bool):
    printer = TicketPrinter(open_escpos(SETTINGS), SETTINGS)
    prints = PrintQueue(printer)
    client = BranchClient(broker, "pudong", "kiosk-1", status=lambda: prints.status)
    bridge = QtBranchBridge(client)
    hook = dataclasses.replace(config.webhook, ask_phone=ask_phone)
    controller = KioskController(dataclasses.replace(config, webhook=hook), bridge, prints, URL)
    view = build_view(controller, QSize(1024, 600))
    client.start(wait_s=None)
    view.show()
    qtbot.waitUntil(kiosk_ready(controller), timeout=10_000)

    def close():
        controller.close()
        client.close()
        prints.close()
        view.close()

    return controller, view, close


@pytest.fixture
def branch(example_config, broker, clock, tmp_path, receiver):
    b = Branch(example_config, broker, clock, tmp_path, receiver.url)
    b.config = dataclasses.replace(example_config, webhook=b.settings)
    b.start()
    yield b
    b.stop()


@pytest.fixture
def kiosk(qtbot, branch, broker):
    controller, view, close = open_kiosk(qtbot, branch.config, broker, ask_phone=True)
    yield controller, view
    close()


def test_a_number_typed_at_the_kiosk_reaches_the_webhook(qtbot, kiosk, receiver):
    """GIVEN a branch that asks for phone numbers WHEN a customer taps cash, types a
    number on the keypad (one wrong digit deleted) and confirms THEN the ticket prints and
    the webhook's `issued` message carries the number."""
    controller, view = kiosk
    tap(view, "cash")
    qtbot.waitUntil(lambda: controller.phase == "phone", timeout=5_000)
    assert not controller.phoneComplete
    for key in [*"1391234567", "9", "del", "8"]:
        press(view, "key-" + key)
    assert controller.phoneDigits == PHONE and controller.phoneComplete
    assert find_item(view.rootObject(), "phoneDigits").property("text") == "139 1234 5678"
    press(view, "choice-phone_ok-")
    qtbot.waitUntil(lambda: controller.phase == "done", timeout=10_000)
    issued = receiver.wait_for(lambda got: got)[0].json
    assert issued["number"] == controller.ticketNumber and issued["phone"] == PHONE
    assert controller.phoneDigits == ""  # not kept for the next customer


def test_skip_issues_without_a_number(qtbot, kiosk, receiver):
    controller, view = kiosk
    tap(view, "loans")
    qtbot.waitUntil(lambda: controller.phase == "phone", timeout=5_000)
    press(view, "choice-phone_skip-")
    qtbot.waitUntil(lambda: controller.phase == "done", timeout=10_000)
    assert "phone" not in receiver.wait_for(lambda got: got)[0].json


def test_a_branch_that_does_not_ask_goes_straight_to_the_ticket(qtbot, branch, broker):
    """GIVEN `ask_phone = false` WHEN a customer taps a service THEN no keypad: the
    ticket is issued at once."""
    controller, view, close = open_kiosk(qtbot, branch.config, broker, ask_phone=False)
    try:
        phases: list[str] = []
        controller.changed.connect(lambda: phases.append(controller.phase))
        tap(view, "cash")
        qtbot.waitUntil(lambda: controller.phase == "done", timeout=10_000)
        assert "phone" not in phases and "printing" in phases  # every phase it went through
    finally:
        close()


def test_a_ticket_button_does_not_ask(qtbot, kiosk):
    """GIVEN the branch asks WHEN a physical ticket button is pressed (no one may be
    looking at a screen) THEN the ticket is issued without the question."""
    controller, _ = kiosk
    controller._physical("cash")
    qtbot.waitUntil(lambda: controller.phase == "done", timeout=10_000)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_phone_screen_fits(qtbot, kiosk, language, tmp_path):
    """GIVEN the phone screen in each language, a number half typed THEN every key and
    both choices are on screen and inside it (a screenshot for docs/ when asked)."""
    controller, view = kiosk
    controller.setLanguage(language)
    tap(view, "cash")
    qtbot.waitUntil(lambda: controller.phase == "phone", timeout=5_000)
    for key in "1391234":
        press(view, "key-" + key)
    root = view.rootObject()
    for name in [f"key-{k}" for k in "0123456789"] + ["key-del", "choice-phone_ok-",
                                                      "choice-phone_skip-"]:  # fmt: skip
        item = find_item(root, name)
        corner = item.mapToScene(item.boundingRect().bottomRight())
        origin = item.mapToScene(item.boundingRect().topLeft())
        assert origin.x() >= 0 and origin.y() >= 0, name
        assert corner.x() <= view.width() and corner.y() <= view.height(), name
    image = view.grabWindow()
    folder = SHOTS if os.environ.get("NOWSERVING_SCREENSHOTS") else tmp_path
    assert image.save(str(folder / f"kiosk-phone-{language}.png"))
