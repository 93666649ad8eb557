"""The kiosk, offscreen with pytest-qt, against the real server and Mosquitto: a tap on a
service button gives the exact printer bytes of that ticket; printer faults show the
number on screen and say so in the kiosk's status."""

from __future__ import annotations

import hashlib
import json
import queue
import re
import shutil
import subprocess
from datetime import datetime

import pytest
from escpos.constants import RT_STATUS_PAPER
from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtQuick import QQuickItem
from PySide6.QtTest import QTest

from nowserving.adapters.mqtt import MqttLink
from nowserving.adapters.printer.device import TicketPrinter, open_escpos
from nowserving.adapters.printer.layout import lay_out, preview, wait_text
from nowserving.client import BranchClient
from nowserving.client.qt import QtBranchBridge
from nowserving.config.hardware import PrinterSettings
from nowserving.i18n import text
from nowserving.kiosk.app import KioskController, wait_words
from nowserving.kiosk.launcher import build_view
from nowserving.kiosk.printing import PrintQueue
from nowserving.protocol.views import EstimateView
from tests.adapters.printer.escpos_bytes import parse

SETTINGS = PrinterSettings(kind="dummy", paper_mm=80, profile="TM-T88V")
URL = "https://queue.example/{branch}/t/{token}"


@pytest.fixture
def kiosk(qtbot, server, broker, example_config):
    """A kiosk with a Dummy printer, its QML on an offscreen 1024x600 window."""
    printer = TicketPrinter(open_escpos(SETTINGS), SETTINGS)
    statuses: queue.Queue = queue.Queue()
    prints = PrintQueue(printer, on_status=statuses.put)
    client = BranchClient(broker, "pudong", "kiosk-1", status=lambda: prints.status)
    bridge = QtBranchBridge(client)
    controller = KioskController(example_config, bridge, prints, URL)
    view = build_view(controller, QSize(1024, 600))
    client.start(wait_s=None)
    view.show()
    # Ready once it knows the branch and the server's time (the server's ManualClock is
    # in opening hours; this machine's clock need not be).
    qtbot.waitUntil(kiosk_ready(controller), timeout=10_000)
    yield controller, view, printer, statuses
    controller.close()
    client.close()
    prints.close()
    view.close()


def kiosk_ready(controller: KioskController):
    """A condition for `qtbot.waitUntil`: the kiosk is online, has the branch's state and
    knows the server's time (until then it judges opening hours by its own clock)."""
    return lambda: (
        controller.online
        and controller._state is not None
        and controller.offline.clock_off is not None
    )


def find_item(item: QQuickItem, name: str) -> QQuickItem | None:
    """The visual item called `name` (delegates hang in the item tree, not the QObject one)."""
    if item.objectName() == name:
        return item
    for child in item.childItems():
        if (found := find_item(child, name)) is not None:
            return found
    return None


def tap(view, service: str, priority: str | None = "") -> None:
    """A finger on the service's button, as the touch screen would send it; then, when the
    kiosk asks, on the priority class `priority` ("" a regular ticket; None: no answer)."""
    press(view, f"service-{service}")
    if priority is not None and view.rootObject().property("kiosk").phase == "priority":
        press(view, f"choice-priority-{priority}")


def press(view, name: str) -> None:
    """A finger on the item called `name`, once the screen has been drawn with it: a new
    screen's buttons are positioned by its layout for the next frame, not before."""
    from PySide6.QtCore import QEventLoop, QTimer

    for _ in range(2):  # the frame already on its way, then one drawn with the new items
        loop = QEventLoop()
        view.frameSwapped.connect(loop.quit)
        QTimer.singleShot(2000, loop.quit)  # a bound, not a wait: a frame comes first
        view.update()
        loop.exec()
        view.frameSwapped.disconnect(loop.quit)
    button = find_item(view.rootObject(), name)
    assert button is not None and button.isVisible(), name
    centre = button.mapToScene(QPointF(button.width() / 2, button.height() / 2)).toPoint()
    QTest.mouseClick(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)


def test_a_tap_prints_exactly_that_ticket(qtbot, kiosk, server, tmp_path):
    """GIVEN the kiosk in Chinese WHEN a customer taps 'cash' THEN the server issues A001,
    the printer gets exactly the bytes of that ticket's layout (strips read back pixel for
    pixel, the QR carrying the ticket's URL), and the screen shows the number."""
    controller, view, printer, _ = kiosk
    controller.setLanguage("zh")
    tap(view, "cash")
    qtbot.waitUntil(lambda: controller.phase == "done", timeout=10_000)
    ticket = controller.last_ticket
    assert (ticket.number, ticket.service, ticket.language) == ("A001", "现金存取", "zh")
    assert controller.ticketNumber == "A001"
    assert controller.nextStep == text("zh", "kiosk.done_next")  # what to do now
    assert "/pudong/t/" in ticket.url and "A001" not in ticket.url  # not guessable
    issued = [e for e in server.store.events() if e.type == "ticket_issued"]
    token = ticket.url.rsplit("/t/", 1)[1]
    assert len(token) == 22  # 16 random bytes, URL-safe base64
    # The server knows the key by its hash alone.
    assert issued[-1].data["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    again = TicketPrinter(open_escpos(SETTINGS), SETTINGS)
    again.print_ticket(lay_out(ticket, 80, again.printable_dots))
    # The kiosk asks for the paper sensor first, then prints.
    assert printer.escpos.output == RT_STATUS_PAPER + again.escpos.output
    assert [v for kind, v in parse(printer.escpos.output) if kind == "qr"] == [ticket.url]
    if shutil.which("zbarimg"):
        path = tmp_path / "ticket.png"
        preview(lay_out(ticket, 80), 80).save(path)
        out = subprocess.run(["zbarimg", "--quiet", "--raw", str(path)], capture_output=True)
        assert out.stdout.decode().strip() == ticket.url
    # A second tap while the number is shown is not a second ticket.
    tap(view, "cash")
    assert controller.phase == "done" and controller.ticketNumber == "A001"


def test_a_double_tap_gives_one_ticket(qtbot, kiosk, server):
    controller, view, printer, _ = kiosk
    tap(view, "loans")
    tap(view, "loans")
    qtbot.waitUntil(lambda: controller.phase == "done", timeout=10_000)
    assert server.branch.issued["loans"] == 1


def _paper_out(escpos):
    escpos._read = lambda: b"\x60"  # the paper-end sensor


def _unplugged_mid_print(escpos):
    writes = []
    real = escpos._raw

    def raw(data: bytes) -> None:
        writes.append(data)
        if len(writes) > 4:
            raise OSError("[Errno 19] No such device")
        real(data)

    escpos._raw = raw


def _timeout(escpos):
    def raw(data: bytes) -> None:
        raise TimeoutError("USB write timed out")

    escpos._raw = raw


@pytest.mark.parametrize(
    ("fault", "says"),
    [(_paper_out, "out of paper"), (_unplugged_mid_print, "No such device"),
     (_timeout, "timed out")],
)  # fmt: skip
def test_a_printer_fault_shows_the_number_and_raises_an_alert(
    qtbot, kiosk, broker, server, fault, says
):
    """GIVEN a printer fault WHEN a ticket is taken THEN the screen shows its number and
    QR code with what to do, the kiosk's retained status says the printer failed, and the
    ticket stands in the queue (the customer keeps their place; no ghost)."""
    controller, view, printer, statuses = kiosk
    fault(printer.escpos)
    status_seen: queue.Queue = queue.Queue()
    link = MqttLink(broker, "monitor", on_message=lambda t, p, m, q: status_seen.put(json.loads(p)))
    link.subscribe(controller.bridge.client.topics.status("kiosk-1"))
    with link:
        link.start()
        tap(view, "cash")
        qtbot.waitUntil(lambda: controller.phase == "failed", timeout=10_000)
        assert controller.ticketNumber == "A001"
        status = statuses.get(timeout=5)
        assert status["printer"] == "error" and says in status["last_error"]
        controller.bridge.client.publish_status()
        while (message := status_seen.get(timeout=5)).get("printer") != "error":
            pass
        assert says in message["last_error"]
    assert server.branch.tickets["2026-11-23/A001"].status == "waiting"


@pytest.mark.parametrize(
    ("low", "high"), [(0, 30), (0, 59.5), (0, 60), (0, 61), (90, 1141), (600, 1200), (659, 1201)]
)
@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_screen_says_the_wait_the_ticket_prints(language, low, high):
    """GIVEN a wait estimate THEN the kiosk's screen says "now" just when the ticket prints
    it (up to a minute: 60 s too), and otherwise the ticket's minutes."""
    estimate = EstimateView((low + high) / 2, low, high, 2)
    printed = wait_text(language, estimate.minutes)
    said = wait_words(language, estimate)
    assert (printed == text(language, "ticket.wait_now")) == (high <= 60)
    assert (said == text(language, "kiosk.wait_now")) == (high <= 60)
    assert re.findall(r"\d+", said) == re.findall(r"\d+", printed)


def a_kiosk(example_config, clock) -> KioskController:
    """A kiosk on the example branch at `clock`'s time, with no server (it is given states)."""
    from nowserving.adapters.mqtt import Broker

    client = BranchClient(Broker("127.0.0.1", 9), "pudong", "kiosk-1")
    return KioskController(example_config, QtBranchBridge(client), None, None, clock)


def shanghai(day: int, hh: int, mm: int = 0) -> float:
    """2026-12-`day` hh:mm at the example branch (the 7th is a Monday)."""
    from zoneinfo import ZoneInfo

    return datetime(2026, 12, day, hh, mm, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


@pytest.mark.parametrize(
    ("now", "en", "zh"),
    [
        (shanghai(7, 8, 30), "We are closed. We open today at 09:00.", "今天 09:00"),
        (shanghai(7, 17, 5), "We are closed. We open tomorrow at 09:00.", "明天 09:00"),
        (shanghai(12, 15, 30), "We are closed. We open on Monday at 09:00.", "星期一 09:00"),
        (shanghai(13, 11), "We are closed. We open tomorrow at 09:00.", "明天 09:00"),
    ],
)
def test_a_closed_branch_says_when_it_opens_and_issues_nothing(qtbot, example_config, now, en, zh):
    """GIVEN the example branch's hours (Mon-Fri 9-17, Sat 9:30-15, Sunday closed) WHEN
    the kiosk is outside them THEN its start screen says when the branch opens, in each
    language, and a tap issues nothing."""
    from tests.conftest import ManualClock

    controller = a_kiosk(example_config, ManualClock(now))
    controller.setLanguage("en")
    assert controller.closedText == en
    controller.setLanguage("zh")
    assert zh in controller.closedText and controller.closedText.startswith("本网点已停止营业")
    controller.choose("cash")
    assert controller.phase == "choose"
    controller.close()


def test_a_wait_past_closing_is_asked_about_with_the_wait_and_the_time(qtbot, example_config):
    """GIVEN 16:20 and a cash wait of about 40-55 min WHEN a customer taps cash THEN the
    kiosk asks first, saying the wait and the closing time, "back" first; "take it anyway"
    goes on to issue."""
    from nowserving.domain import Branch
    from nowserving.domain.estimate import Estimate
    from nowserving.protocol import encode, state_message
    from nowserving.protocol.views import decode_state
    from tests.conftest import ManualClock

    now = shanghai(7, 16, 20)
    controller = a_kiosk(example_config, ManualClock(now))
    branch = Branch(example_config.rules)
    estimates = ({}, {"cash": Estimate(2800.0, 2400.0, 3300.0, 12)}, now, branch.seq)
    state = state_message(branch, example_config.names, now, estimates)
    controller._take_state(decode_state(encode(state)))
    controller.setLanguage("en")
    controller.choose("cash")
    controller.choosePriority("")
    assert controller.phase == "confirm_late"
    assert controller.lateText == "The estimated wait is 40–55\u00a0min; we close at\u00a017:00."
    controller.reset()
    controller.choose("cash")
    controller.choosePriority("")
    controller.confirmLate()
    assert controller.phase in ("printing", "unavailable")  # it went on to issue
    controller.close()


def test_a_customer_who_says_they_need_priority_gets_a_priority_ticket(qtbot, kiosk, server):
    """GIVEN the example branch offering its priority class at the kiosk WHEN a customer taps
    'cash', then the class's button THEN the server issues a priority ticket, and the
    ticket says its class; "No, a regular ticket" gives a normal one."""
    controller, view, _, _ = kiosk
    controller.setLanguage("en")
    tap(view, "cash", priority=None)
    assert controller.phase == "priority"
    labels = [c["label"] for c in controller.priorityChoices]
    assert labels == ["Priority (elderly, pregnant, disabled)"]
    press(view, "choice-priority-priority")
    qtbot.waitUntil(lambda: controller.phase == "done", timeout=10_000)
    day = server.branch.business_day
    assert server.branch.tickets[f"{day}/A001"].priority == "priority"
    assert controller.last_ticket.priority == "Priority (elderly, pregnant, disabled)"
    controller.reset()
    tap(view, "cash")  # answers "No, a regular ticket"
    qtbot.waitUntil(lambda: server.branch.issued["cash"] == 2, timeout=10_000)
    assert server.branch.tickets[f"{day}/A002"].priority == "normal"


def test_a_kiosk_whose_own_clock_says_closed_goes_by_the_servers_summary(qtbot, example_config):
    """GIVEN a kiosk whose own clock says 20:00 (closed) and which has not yet heard the
    server's time WHEN the server's summary says its services take tickets THEN the start
    screen is open, and the screen is told (it drew "closed" before the summary came)."""
    from nowserving.domain import Branch
    from nowserving.protocol import encode, state_message
    from nowserving.protocol.views import decode_state
    from tests.conftest import ManualClock

    controller = a_kiosk(example_config, ManualClock(shanghai(7, 20)))
    assert controller.closedText.startswith("本网点已停止营业")  # by its own clock
    told = []
    controller.changed.connect(lambda: told.append(controller.closedText))
    at = shanghai(7, 10)  # the server's time
    state = state_message(Branch(example_config.rules), example_config.names, at)
    controller._take_state(decode_state(encode(state)))
    assert controller.closedText == "" and "" in told
    controller.close()
