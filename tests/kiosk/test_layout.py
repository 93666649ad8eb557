"""Every start screen of a real branch fits: 2, 5, 11 and 16 services with long Chinese
and English names, a group, a closed service, at 800x480 and 1024x600 (7") and 1080x1920
portrait. A Text item whose words do not fit its box, or two that overlap, fail the test;
so does a touch target under 9 mm on a 7" screen."""

from __future__ import annotations

import os
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QEventLoop, QRectF, QSize, QTimer
from PySide6.QtQml import QQmlEngine, QQmlExpression, qmlContext
from PySide6.QtQuick import QQuickItem

from nowserving.adapters.mqtt import Broker
from nowserving.client import BranchClient
from nowserving.client.qt import QtBranchBridge
from nowserving.domain import Branch
from nowserving.domain.estimate import Estimate
from nowserving.i18n import text
from nowserving.kiosk.app import KioskController, Phase
from nowserving.kiosk.launcher import build_view
from nowserving.protocol import encode, state_message
from nowserving.protocol.views import EstimateView, Reply, TicketView, decode_state
from tests.kiosk.branches import branch
from tests.kiosk.test_kiosk import find_item

NOON = datetime(2026, 12, 7, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()  # a Monday
SEVEN_INCH_MM = 152.5  # the width of a 7" 5:3 screen (800x480, 1024x600)


def drawn(view) -> None:
    """Wait for two frames: the one on its way, then one drawn with what just changed."""
    for _ in range(2):
        loop = QEventLoop()
        view.frameSwapped.connect(loop.quit)
        QTimer.singleShot(2000, loop.quit)  # a bound: a frame comes long before
        view.update()
        loop.exec()
        view.frameSwapped.disconnect(loop.quit)


def items(item: QQuickItem):
    if not item.isVisible() or item.opacity() == 0:
        return
    yield item
    for child in item.childItems():
        yield from items(child)


def read(item: QQuickItem, name: str):
    """A QML property that PySide cannot convert (an enum), read as QML reads it."""
    context = QQmlEngine.contextForObject(item) or qmlContext(item)
    value, _ = QQmlExpression(context, item, name).evaluate()
    return value


def painted(text: QQuickItem) -> QRectF:
    """Where a Text item's words are drawn, in the scene."""
    width, height = text.property("contentWidth"), text.property("contentHeight")
    h_align = int(read(text, "horizontalAlignment"))
    v_align = int(read(text, "verticalAlignment"))
    x = {1: 0, 2: text.width() - width, 4: (text.width() - width) / 2}.get(h_align, 0)
    y = {32: 0, 64: text.height() - height, 128: (text.height() - height) / 2}.get(v_align, 0)
    return text.mapRectToScene(QRectF(x, y, width, height))


def problems(view, within: str = "") -> list[str]:
    """What does not fit: words outside their box or their button, texts on each other
    (on the whole screen, or in the item called `within`: a screen over the start screen)."""
    found, texts = [], []
    root = view.rootObject()
    screen = QRectF(0, 0, root.width(), root.height())
    for item in items(find_item(root, within) if within else root):
        if item.inherits("QQuickText") and item.property("text"):
            words, rect = item.property("text"), painted(item)
            found += misfits(item, words, rect, screen, root)
            texts.append((words, rect))
    for i, (words, rect) in enumerate(texts):
        for other, other_rect in texts[i + 1 :]:
            if rect.adjusted(1, 1, -1, -1).intersects(other_rect.adjusted(1, 1, -1, -1)):
                found.append(f"on each other: {words!r} and {other!r}")
    return found


def misfits(item: QQuickItem, words: str, rect: QRectF, screen: QRectF, root) -> list[str]:
    """Why one text does not fit: cut short, off the screen, out of its button."""
    found = []
    if item.property("truncated"):
        found.append(f"cut short: {words!r}")
    if not screen.adjusted(-1, -1, 1, 1).contains(rect):
        found.append(f"off the screen: {words!r}")
    box = item.parentItem()
    while box is not None and not box.inherits("QQuickRectangle"):
        box = box.parentItem()
    if box is not None and box is not root:
        frame = box.mapRectToScene(QRectF(0, 0, box.width(), box.height()))
        if not frame.adjusted(-1, -1, 1, 1).contains(rect):
            found.append(f"out of its button: {words!r}")
    return found


def small_targets(view, width_mm: float) -> list[str]:
    """Touch targets (a MouseArea, and what it fills) under 9 mm on a screen this wide."""
    per_mm = view.rootObject().width() / width_mm
    return [
        f"{item.parentItem().objectName() or item.parentItem()}: {item.width():.0f}x"
        f"{item.height():.0f} px"
        for item in items(view.rootObject())
        if item.inherits("QQuickMouseArea")
        and item.isEnabled()
        and min(item.width(), item.height()) < 9 * per_mm - 0.5
        and item.width() < view.rootObject().width()  # not the overlay's catch-all
    ]


@pytest.fixture
def screen(qtbot, tmp_path):
    """screen(count, size, language) -> the kiosk's start screen for a branch of `count`
    services at noon: long lines, one service closed, waits past two hours."""
    made = []

    def _screen(
        count: int, size: tuple[int, int], language: str, bookable: bool = False,
        closes: str | None = None, now: float = NOON, url: str | None = None,
    ):  # fmt: skip
        config = branch(count, tmp_path, bookable=bookable, closes=closes)
        client = BranchClient(Broker("127.0.0.1", 9), "big", "kiosk-1")
        controller = KioskController(config, QtBranchBridge(client), None, url, lambda: now)
        core = Branch(config.rules)
        estimates = {
            sid: Estimate(9000.0, 7800.0 + i * 60, 11000.0 + i * 300, 123)
            for i, sid in enumerate(config.rules.services)
        }
        state = state_message(core, config.names, now, ({}, estimates, now, 0))
        for row in state["services"]:
            row["waiting"] = 123
        controller._take_state(decode_state(encode(state)))
        controller.setLanguage(language)
        view = build_view(controller, QSize(*size))
        view.show()
        qtbot.waitExposed(view)
        drawn(view)
        made.append((controller, view))
        return controller, view

    yield _screen
    for controller, view in made:
        view.close()
        controller.close()


SIZES = [(800, 480), (1024, 600), (1080, 1920)]


def keep(view, name: str) -> None:
    """With KIOSK_SCREENSHOTS=folder: the screen as drawn, for docs/screenshots (looked at,
    a few kept)."""
    if folder := os.environ.get("KIOSK_SCREENSHOTS"):
        view.grabWindow().save(f"{folder}/kiosk-{name}.png")


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("count", [2, 5, 11, 16])
def test_the_start_screen_fits_every_service(screen, count, size, language):
    controller, view = screen(count, size, language)
    keep(view, f"{count}-{size[0]}x{size[1]}-{language}")
    assert problems(view) == []
    if size != (1080, 1920):
        assert small_targets(view, SEVEN_INCH_MM) == []
    shown = {i.property("serviceId") for i in items(view.rootObject()) if i.property("serviceId")}
    grouped = set(controller.config.groups["accounts"].services) if count >= 5 else set()
    assert shown == set(controller.config.rules.services) - grouped | (
        {"accounts"} if grouped else set()
    )


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_a_group_opens_its_services_and_goes_back(screen, size, language):
    controller, view = screen(16, size, language)
    controller.choose("accounts")  # a group: its services, no ticket
    drawn(view)
    keep(view, f"group-{size[0]}x{size[1]}-{language}")
    assert controller.phase == "choose"
    shown = [i.property("serviceId") for i in items(view.rootObject()) if i.property("serviceId")]
    assert sorted(shown) == ["s2", "s3", "s4"]
    assert problems(view) == []
    if size != (1080, 1920):
        assert small_targets(view, SEVEN_INCH_MM) == []  # "back" too
    controller.back()
    drawn(view)
    shown = [i.property("serviceId") for i in items(view.rootObject()) if i.property("serviceId")]
    assert "accounts" in shown and "s2" not in shown


def test_an_open_group_left_alone_returns_to_the_start(qtbot, screen, monkeypatch):
    monkeypatch.setattr("nowserving.kiosk.app.IDLE_S", 0.2)
    controller, view = screen(16, (800, 480), "en")
    controller.choose("accounts")
    assert controller.groupName == "Personal accounts"
    qtbot.waitUntil(lambda: controller.groupName == "", timeout=5_000)
    assert controller.phase == "choose"


def font_sizes(view) -> list[float]:
    return [
        item.property("font").pixelSize()
        for item in items(view.rootObject())
        if item.inherits("QQuickText") and item.property("text")
    ]


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_large_print_is_half_as_large_again_and_pages_what_does_not_fit(screen, size, language):
    """GIVEN 16 services on a 7" screen (or portrait) WHEN the customer turns large print on
    THEN no text is smaller than 1.5 times the smallest ordinary one, every button is at
    least 12 mm high (on the 7" screen), nothing is cut or overlaps, and the pages between
    them show every service once."""
    controller, view = screen(16, size, language)
    smallest = min(font_sizes(view))
    controller.setLargePrint(True)
    drawn(view)
    keep(view, f"large-16-{size[0]}x{size[1]}-{language}")
    per_mm = size[0] / SEVEN_INCH_MM if size != (1080, 1920) else 0
    seen: list[str] = []
    for _ in range(10):
        assert min(font_sizes(view)) >= 1.5 * smallest - 0.5
        assert problems(view) == []
        buttons = [i for i in items(view.rootObject()) if i.property("serviceId")]
        assert buttons and all(min(b.width(), b.height()) >= 12 * per_mm - 0.5 for b in buttons)
        seen += [b.property("serviceId") for b in buttons]
        more = next((i for i in items(view.rootObject()) if i.objectName() == "page-more"), None)
        if more is None or not more.property("usable"):
            break
        view.rootObject().findChild(QQuickItem, "grid").setProperty(
            "page", view.rootObject().findChild(QQuickItem, "grid").property("page") + 1
        )
        drawn(view)
    assert len(seen) == len(set(seen)) == 14  # 13 services and the group of 3
    controller.setLargePrint(False)
    drawn(view)
    assert problems(view) == []


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("size", [(800, 480), (1080, 1920)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_check_in_screens_fit(screen, size, language, tmp_path):
    """The start screen with "I have an appointment" (11 services; 16 in large print, in
    pages above it), the code's keypad half typed, too early, and an unknown code."""
    controller, view = screen(11, size, language, bookable=True)
    seven_inch = size != (1080, 1920)
    folder = os.environ.get("CHECKIN_SCREENSHOTS")

    def fits(name: str, within: str = "") -> None:
        drawn(view)
        if folder:  # docs/screenshots: looked at, a few kept
            view.grabWindow().save(
                f"{folder}/kiosk-checkin-{name}-{size[0]}x{size[1]}-{language}.png"
            )
        assert problems(view, within) == [], name
        if seven_inch:
            assert small_targets(view, SEVEN_INCH_MM) == [], name

    assert find_item(view.rootObject(), "check-in").isVisible()
    fits("start")
    controller.startCheckIn()
    for key in "ACD3FG":
        controller.pressCodeKey(key)
    fits("code", "checkInScreen")
    controller._checked_in(
        Reply(None, False, {}, "too_early", "", {"time": "10:30", "booked": "11:00",
                                                 "service": "s1"})
    )  # fmt: skip
    assert controller.phase == "early"
    fits("early", "overlay")
    controller._checked_in(Reply(None, False, {}, "unknown_booking", ""))
    fits("unknown", "overlay")
    controller.reset()
    controller.setLargePrint(True)
    controller.startCheckIn()
    fits("code-large", "checkInScreen")


def test_the_start_screen_fits_the_check_in_entry_in_large_print(screen):
    controller, view = screen(16, (800, 480), "zh", bookable=True)
    controller.setLargePrint(True)
    drawn(view)
    assert problems(view) == [] and small_targets(view, SEVEN_INCH_MM) == []
    assert find_item(view.rootObject(), "page-more").isVisible()


@pytest.fixture
def device_in_utc(monkeypatch):
    """This device's zone is UTC; the branch's is Asia/Shanghai (8 hours ahead)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def a_ticket(controller: KioskController, language: str) -> TicketView:
    """What the server answers for the first ticket of the branch's longest-named service."""
    estimate = EstimateView(9000.0, 7800.0, 11000.0, 123)
    return TicketView("2026-12-07/H001", "H001", "s8", language, NOON, 123, estimate, "priority")


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_screen_after_a_tap_fits(screen, size, language, device_in_utc):
    """GIVEN 11 services, a priority class, a branch closing in 40 minutes (branch time on a
    device in UTC) WHEN a customer goes through every screen after a tap, in ordinary and in
    large print THEN nothing is cut, spills or overlaps and every touch target is 9 mm on a
    7" screen (12 mm in large print): the priority question, the late question (branch time,
    hours and minutes), printing, the number and what to do next, a failed print with and
    without the ticket page, no ticket possible."""
    url = "https://queue.example/{branch}/t/{token}"
    controller, view = screen(11, size, language, closes="12:40", url=url)
    name = f"{size[0]}x{size[1]}-{language}"
    keep(view, f"11-closing-{name}")
    per_mm = size[0] / SEVEN_INCH_MM if size != (1080, 1920) else 0

    def fits(phase: str, large: bool, shown: str = "") -> None:
        drawn(view)
        assert controller.phase == phase
        keep(view, f"{shown or phase}{'-large' if large else ''}-{name}")
        assert problems(view, "overlay") == [], phase
        if per_mm:
            assert small_targets(view, SEVEN_INCH_MM) == [], phase
            lowest = (12 if large else 9) * per_mm - 0.5
            buttons = [i for i in items(find_item(view.rootObject(), "overlay"))
                       if i.objectName().startswith("choice-")]  # fmt: skip
            assert all(b.height() >= lowest for b in buttons), phase

    for large in (False, True):
        controller.reset()
        controller.setLargePrint(large)
        controller.choose("s8")  # the longest names
        fits("priority", large)
        controller.choosePriority("priority")
        fits("confirm_late", large)
        assert "12:40" in controller.lateText  # the branch's time, not the device's 04:40
        assert ("小时" if language == "zh" else "\u00a0h") in controller.lateText
        controller._set_phase(Phase.PRINTING)
        fits("printing", large)
        controller._print(a_ticket(controller, language))  # no printer: the screen is the ticket
        fits("done", large)
        assert f"{controller.last_ticket.issued_at:%H:%M}" == "12:00"  # printed in branch time
        assert controller.nextStep == text(language, "kiosk.done_next")
        controller._take_printed(controller.ticketNumber, "out of paper")
        fits("failed", large)
        controller.ticket_url = None  # no ticket page: no QR code, no "scan"
        controller._take_printed(controller.ticketNumber, "out of paper")
        fits("failed", large, "failed-no-page")
        controller.ticket_url = url
        controller.reset()
        controller.setLargePrint(large)
        controller.choose("s8")
        controller.choosePriority("")
        controller.confirmLate()  # no server, no lease: no ticket
        fits("unavailable", large)


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_closed_screen_fits_and_says_branch_time(screen, size, language, device_in_utc):
    """GIVEN a branch open 08:00-12:40 in Asia/Shanghai and a device in UTC WHEN it is 20:00
    at the branch THEN the start screen says (in branch time) when it opens, in ordinary
    and large print, and nothing is cut or overlaps."""
    evening = NOON + 8 * 3600
    controller, view = screen(11, size, language, closes="12:40", now=evening)
    for large in (False, True):
        controller.setLargePrint(large)
        drawn(view)
        assert "08:00" in controller.closedText  # tomorrow at 08:00, not 00:00 (UTC)
        keep(view, f"closed{'-large' if large else ''}-{size[0]}x{size[1]}-{language}")
        assert problems(view) == []
        assert [i for i in items(view.rootObject()) if i.property("serviceId")] == []
