"""Every line of a real branch reaches the lobby: 11 and 16 services with long zh and en
names at 1920x1080, 1280x720 and 1080x1920 page through their lines (no line dropped, each
page with a marker), no text is cut, spilled or drawn over another, the wait is as large
as the service's name and at least 3 % of the screen's shorter side, a wait past closing
says so, and the clock shows branch time on a device in another zone."""

from __future__ import annotations

import time

import pytest

from nowserving.display.app import PAGE_S
from tests.display.lobby_screens import NOON, lobby_screen
from tests.kiosk.test_layout import drawn, items, problems

SIZES = [(1920, 1080), (1280, 720), (1080, 1920)]


def shown(view, name: str) -> list:
    return [i for i in items(view.rootObject()) if i.objectName() == name]


def on_page(view) -> list[str]:
    """The services whose lines are drawn now."""
    return [row.property("serviceId") for row in shown(view, "serviceRow")]


def misfits(view) -> list[str]:
    """What does not fit, but for the ticker (it scrolls by design)."""
    ticker = next(i for i in items(view.rootObject()) if i.objectName() == "ticker")
    return [p for p in problems(view) if ticker.property("text") not in p]


@pytest.fixture
def lobby(qtbot, tmp_path):
    made = []

    def make(*args, **kwargs):
        controller, view = lobby_screen(*args, tmp_path, **kwargs)
        made.append((controller, view))
        return controller, view

    yield make
    for controller, view in made:
        view.close()
        controller.close()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("count", [11, 16])
@pytest.mark.parametrize("hall", [False, True], ids=["", "hall"])
def test_every_line_is_shown_within_one_round_of_pages(lobby, count, size, hall):
    """GIVEN a branch of `count` services (`hall`: with a remote service, so the lobby
    shows the hall code's QR) WHEN the pages take their turns THEN every service's line is
    drawn on exactly one page, none cut or overlapping (the hall code neither), and the
    page marker says where the round is."""
    controller, view = lobby(count, size, hall=hall)
    if hall:
        assert [i.property("text") for i in shown(view, "hallLetters")] == ["MXP7 K3QD"]
    pages = controller.linePages
    assert pages > 1  # this many long lines do not fit on one screen
    seen: list[str] = []
    for page in range(pages):
        assert controller.linePage == page
        drawn(view)
        assert misfits(view) == [], f"page {page + 1}"
        marker = shown(view, "linePage")
        assert [m.property("text") for m in marker] == [f"{page + 1} / {pages}"]
        seen += on_page(view)
        controller._next_page()  # what the page timer does every PAGE_S
    assert controller.linePage == 0  # round again
    assert sorted(seen) == sorted(controller.config.rules.services)
    assert PAGE_S >= 8  # long enough to find one's line and read it


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_wait_is_as_large_as_the_name_and_readable_across_the_lobby(lobby, size):
    controller, view = lobby(11, size)
    least = min(size) * 0.03
    for row in shown(view, "serviceRow"):
        names = [i for i in items(row) if i.objectName() == "serviceName"]
        waits = [i for i in items(row) if i.objectName() == "serviceWait"]
        assert len(waits) == 2  # zh and en
        largest_name = max(n.property("font").pixelSize() for n in names)
        for wait in waits:
            assert wait.property("font").pixelSize() >= max(least, largest_name) - 0.5


def test_few_lines_are_larger_and_need_no_pages(lobby):
    controller, view = lobby(2, (1920, 1080))
    assert controller.linePages == 1 and not shown(view, "linePage")
    assert sorted(on_page(view)) == ["s1", "s2"]
    size = shown(view, "serviceWait")[0].property("font").pixelSize()
    assert size > 1080 * 0.03 * 1.2  # grown into the room there is
    assert misfits(view) == []


def every_line(controller, view, name: str) -> dict[str, list[str]]:
    """Each service's texts called `name`, from every page in turn."""
    found = {}
    for _ in range(controller.linePages):
        drawn(view)
        for row in shown(view, "serviceRow"):
            found[row.property("serviceId")] = [
                i.property("text") for i in items(row) if i.objectName() == name
            ]
        controller._next_page()
    return found


def test_a_wait_past_closing_says_the_customer_may_not_be_served(lobby):
    """GIVEN 16:00 in a branch closing at 17:00 WHEN a line's wait runs to 82 min THEN its
    line says "may not be served today" in each language; a 15-minute wait does not."""
    controller, view = lobby(11, (1920, 1080), at=NOON + 4 * 3600)
    late = every_line(controller, view, "serviceLate")
    assert late["s1"] == []  # 6-15 min
    assert late["s5"] == ["今天可能办理不了", "may not be served today"]  # 60-82 min


def test_a_closed_line_stays_on_screen_as_closed(lobby):
    controller, view = lobby(11, (1920, 1080))  # s11 stops taking tickets at 10:00
    waits = every_line(controller, view, "serviceWait")
    assert waits["s11"] == ["今日已停止取号", "no more tickets today"]


def test_the_clock_is_the_branchs_on_a_device_in_another_zone(lobby, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        controller, view = lobby(2, (1280, 720))
        assert [c.property("text") for c in shown(view, "clock")] == ["12:00"]  # Shanghai
        assert time.strftime("%H", time.localtime(NOON)) == "04"  # the device's own zone
    finally:
        monkeypatch.undo()
        time.tzset()
