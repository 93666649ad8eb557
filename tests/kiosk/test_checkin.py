"""Appointments checked in at the kiosk, offscreen with pytest-qt, through the real server
and Mosquitto: the code typed on the screen's keypad, or read by a USB scanner (keys posted
to the window from another thread, as the input system delivers them)."""

from __future__ import annotations

import os
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtGui import QKeyEvent

from nowserving.adapters.printer.layout import lay_out, preview
from nowserving.i18n import text
from nowserving.kiosk.checkin import code_from_scan
from tests.kiosk import test_kiosk
from tests.kiosk.test_kiosk import press

kiosk = test_kiosk.kiosk  # its fixture: a kiosk with a Dummy printer against the server

ZONE = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def book(server, connect, clock):
    """book(minutes) -> the code of a loans booking `minutes` from now (the branch's
    booking service is its `manager` staff device)."""
    manager = connect("manager")

    def _book(minutes: int, service: str = "loans") -> str:
        when = datetime.fromtimestamp(clock() + minutes * 60, ZONE).strftime("%Y-%m-%d %H:%M")
        reply = manager.request("book", {"service": service, "time": when})
        assert reply.ok, reply
        return reply.result["code"]

    return _book


def scan(view, keys: str, gap_ms: int = 8, enter: bool = True) -> None:
    """A USB scanner typing `keys` (then Enter), each key `gap_ms` after the one before:
    the events are posted to the window from another thread, as the input system does."""

    def post() -> None:
        at = 1_000_000
        for char in keys:
            for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
                event = QKeyEvent(kind, ord(char.upper()), Qt.KeyboardModifier.NoModifier, char)
                event.setTimestamp(at)
                QCoreApplication.postEvent(view, event)
            at += gap_ms
        if enter:
            event = QKeyEvent(
                QEvent.Type.KeyPress, Qt.Key.Key_Return, Qt.KeyboardModifier.NoModifier, "\r"
            )
            event.setTimestamp(at)
            QCoreApplication.postEvent(view, event)

    thread = threading.Thread(target=post)
    thread.start()
    thread.join(5)
    QCoreApplication.processEvents()  # what was posted is handled now, in order


def loans_issued(server) -> list:
    return [
        e
        for e in server.store.events()
        if e.type == "ticket_issued" and e.data["service"] == "loans"
    ]


def test_a_typed_code_gives_an_appointment_ticket(qtbot, kiosk, book, server):
    """GIVEN a loans booking at 09:20 WHEN the customer taps "I have an appointment" at
    09:00, types the code on the keypad (a slip deleted) and checks in THEN the printed
    ticket and the screen say "预约 09:20", and the server issued it for the booking."""
    controller, view, printer, _ = kiosk
    code = book(20)
    controller.setLanguage("zh")
    press(view, "check-in")
    assert controller.phase == "code"
    press(view, "code-key-3")
    press(view, "code-key-del")
    for char in code:
        press(view, f"code-key-{char}")
    assert controller.codeText == code and controller.codeComplete
    press(view, "choice-check_in-")
    qtbot.waitUntil(lambda: controller.phase == "done", timeout=10_000)
    assert controller.last_ticket.appointment == "预约 09:20"
    assert controller.ticketDetail.startswith("预约 09:20 · ")
    if os.environ.get("CHECKIN_SCREENSHOTS"):  # docs/screenshots
        view.grabWindow().save(os.environ["CHECKIN_SCREENSHOTS"] + "/kiosk-checkin-done-zh.png")
        preview(lay_out(controller.last_ticket, 80), 80).save(
            os.environ["CHECKIN_SCREENSHOTS"] + "/ticket-appointment-zh-80mm.png"
        )
    (issued,) = loans_issued(server)
    assert issued.data["booking"] and issued.data["booked_at"]
    assert controller.ticketNumber == issued.data["number"]


def test_scanned_codes_on_any_screen_early_late_and_unknown(qtbot, kiosk, book, server, clock):
    """GIVEN bookings at 11:00 and 09:20 WHEN a scanner reads them at 09:00 on the start
    screen THEN 11:00 is too early ("come back from 10:30") with a walk-in ticket offered,
    and taken; 09:20 scanned while that ticket is still on screen gives the appointment
    ticket; a used code and a stranger's barcode are told plainly; and at 09:40 a booking
    for 09:25 is a walk-in ticket, the customer told so. A person's slow typing is no scan."""
    controller, view, _, _ = kiosk
    early, on_time, late = book(120), book(20), book(25)
    controller.setLanguage("en")
    scan(view, early)
    qtbot.waitUntil(lambda: controller.phase == "early", timeout=10_000)
    assert "11:00" in controller.checkInText and "10:30" in controller.checkInText
    press(view, "choice-walk_in-")
    if controller.phase == "priority":
        press(view, "choice-priority-")
    qtbot.waitUntil(lambda: controller.phase == "done", timeout=10_000)
    assert controller.last_ticket.appointment is None
    assert [e.data.get("booking") for e in loans_issued(server)] == [None]

    scan(view, f"https://bank.example/booking/{on_time.lower()}")  # a QR holding a link
    qtbot.waitUntil(lambda: controller.last_ticket.appointment is not None, timeout=10_000)
    qtbot.waitUntil(lambda: controller.phase == "done", timeout=10_000)
    assert controller.last_ticket.appointment == "Appointment 09:20"

    for unknown in (on_time, "4902761234567"):  # used; a product's barcode
        scan(view, unknown)
        qtbot.waitUntil(lambda: controller.phase == "not_checked_in", timeout=10_000)
        assert controller.checkInText == text("en", "kiosk.checkin_unknown")
        controller.reset()

    scan(view, late[:6], gap_ms=300)  # a person at a keyboard: no scan, nothing pressed
    assert controller.phase == "choose"
    clock.advance(40 * 60)
    scan(view, late)
    qtbot.waitUntil(lambda: controller.phase == "done", timeout=10_000)
    assert controller.nextStep.startswith(text("en", "kiosk.checkin_late"))
    assert loans_issued(server)[-1].data["late"] is True
    assert len(loans_issued(server)) == 3


def test_what_a_scan_holds():
    assert code_from_scan("  acd3fgh4jk\r") == "ACD3FGH4JK"
    assert code_from_scan("https://bank.example/b?code=ACD3FGH4JK") == "ACD3FGH4JK"
    assert code_from_scan("") == ""


def test_a_person_types_keys_a_scanner_types_a_code(qtbot):
    """GIVEN a window read by a ScanReader WHEN a person types (keys 150 ms apart, two of
    them rolled over 20 ms apart, a Backspace, Enter) and then a scanner types a code THEN
    the person's keys come as typed keys in order, and the scanner's as one scan (its first
    key typed, as it could not be told yet)."""
    from PySide6.QtGui import QWindow

    from nowserving.kiosk.checkin import ScanReader

    window = QWindow()
    reader = ScanReader(window)
    window.installEventFilter(reader)
    typed, scanned = [], []
    reader.typed.connect(typed.append)
    reader.scanned.connect(scanned.append)
    at = [0]

    def key(char: str, after_ms: int, code: int | None = None) -> None:
        at[0] += after_ms
        event = QKeyEvent(QEvent.Type.KeyPress, code or ord(char.upper()),
                          Qt.KeyboardModifier.NoModifier, char)  # fmt: skip
        event.setTimestamp(at[0])
        QCoreApplication.postEvent(window, event)

    for char, gap in (("a", 150), ("c", 150), ("d", 20), ("3", 150)):
        key(char, gap)
    key("", 150, Qt.Key.Key_Backspace)
    key("\r", 150, Qt.Key.Key_Return)
    for i, char in enumerate("ACD3FGH4JK"):
        key(char, 1000 if i == 0 else 10)
    key("\r", 10, Qt.Key.Key_Return)
    QCoreApplication.processEvents()
    assert typed == ["a", "c", "d", "3", "del", "enter", "A"]
    assert scanned == ["ACD3FGH4JK"]


def test_a_remote_ticket_scanned_at_the_kiosk_joins_the_line_keeping_its_number(
    qtbot, kiosk, connect, server
):
    """GIVEN a remote ticket joined from a phone (the web role) WHEN its code (from its
    page's QR) is scanned at the kiosk THEN it joins the line with the number it has, and
    the printed ticket carries no QR of its own (its page is on the phone already)."""
    from nowserving.domain.remote import remote_code

    controller, view, _, _ = kiosk
    token = "remote-page-token-0123"
    joined = connect("web-1").request("join_remote", {"service": "accounts", "token": token})
    assert joined.ok, joined
    number = joined.result["ticket"]["number"]
    scan(view, remote_code(token))
    qtbot.waitUntil(lambda: controller.phase == "done", timeout=10_000)
    assert controller.ticketNumber == number
    assert controller.last_ticket.url is None
    assert [t.number for t in server.branch.waiting_line("accounts")] == [number]
