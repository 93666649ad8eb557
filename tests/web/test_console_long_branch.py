"""The manager's console with a branch as real ones are (tests/web/long_branch.py: 16
services and 12 counters with long zh and en names), a burst of tickets and calls through
the real server, twenty minutes before closing, in a browser in another time zone than the
branch's: every page fits a desk and a tablet in zh and en, its times are the branch's.
NOWSERVING_SCREENSHOTS=<folder> saves the pages there (docs/screenshots)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from nowserving.web.console_bookings import add_bookings
from nowserving.web.console_reports import add_reports
from nowserving.web.console_view import FOLD_OVER
from tests.conftest import ManualClock
from tests.web.conftest import CHROMIUM
from tests.web.console_fixtures import make_console, serving_console
from tests.web.long_branch import AFTERNOON, OVERFLOW, burst, long_branch
from tests.web.test_console import sign_in

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
SHOTS = os.environ.get("NOWSERVING_SCREENSHOTS")
ZONE = ZoneInfo("Asia/Shanghai")
BROWSER_ZONE = "Pacific/Honolulu"  # 18 hours behind the branch: its yesterday evening
SIZES = ({"width": 1366, "height": 768}, {"width": 768, "height": 1024})


@pytest.fixture
def example_config(tmp_path):
    return long_branch(tmp_path, 16, bookable=True)  # 13 services take bookings


@pytest.fixture
def clock():
    return ManualClock(AFTERNOON)


@pytest.fixture
def branch_console(broker, example_config, server, clock, accounts_file, tmp_path):
    """The web role serving the long branch with its console, reports and bookings reading
    the server's own event log, and the staffing page on it (5 simulated days)."""
    log = tmp_path / "events.sqlite"
    console = make_console([example_config], broker, accounts_file, tmp_path, clock,
                           logs={"pudong": log})  # fmt: skip
    console.staffing.days = 5
    reports = add_reports(console, {"pudong": log}, tmp_path / "reports")
    add_bookings(console, {"pudong": log})
    try:
        with serving_console(console, clock) as role:
            yield role
    finally:
        reports.close()
        console.close()


PAGES = ("", "/bookings", "/reports?by=service", "/staffing")
SAID = {  # what the live page says at 16:40, in the branch's time
    "zh": ("更新于 16:40:00", "17:00 结束营业，还剩 20 分钟", "16:30 起不再发号"),
    "en": ("Updated 16:40:00", "Closes at 17:00: 20 min left", "No new tickets after 16:30"),
}

# Buttons and a counter's cells (state, staff, ticket, count) whose words break over lines
# (one character a line on a tablet) though nothing overflows: each piece of text keeps to
# one line (a cell may put a second piece, e.g. "not signed in", on a line of its own).
WRAPPED = """() => [...document.querySelectorAll("button, #counters td")]
  .filter(el => { const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT), r =
                  document.createRange(); const lines = []; while (walk.nextNode()) {
                    r.selectNodeContents(walk.currentNode); lines.push(new Set([...r
                      .getClientRects()].map(b => Math.round(b.top))).size); }
                  return lines.some(n => n > 1); })
  .map(el => el.textContent)"""
SHOWN = "svg => [...svg.querySelectorAll('text.axis')].map(t => t.firstChild.nodeValue).join('|')"
# The late lines as the lines table shows them: name, longest wait (minutes), waiting.
LATE = """() => [...document.querySelectorAll("#lines tr.late")].map(tr =>
  [tr.cells[0].firstChild.nodeValue, parseInt(tr.cells[2].textContent),
   parseInt(tr.cells[1].textContent)])"""
HEADLINE = "li => li.firstChild.nodeValue"  # a folded alert's words, not its disclosure's
REMEMBERED = """([id, opened]) => JSON.parse(sessionStorage.getItem(
  "console-open " + document.body.dataset.here) || "[]").includes(id) === opened"""
# How much of the first screen the alerts take, and how many counters show in it whole.
FIRST_SCREEN = """() => { const alerts = document.getElementById("alerts").getBoundingClientRect();
  return [alerts.height, [...document.querySelectorAll("#counters tr")]
    .filter(tr => tr.getBoundingClientRect().bottom <= innerHeight).length]; }"""


def look(page, url: str, name: str) -> None:
    """Open `url`: nothing runs out of the page or its box; its picture when asked for (the
    live page at the tablet in zh; a report's first chart and the live page's lines at the
    desk)."""
    page.goto(url)
    assert page.evaluate(OVERFLOW) == [], name
    assert page.evaluate(WRAPPED) == [], name
    if not SHOTS:
        return
    if name == "console-live-16-services-zh-768":
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))
    elif name == "console-live-16-services-en-1366":
        page.locator("#lines").screenshot(path=str(Path(SHOTS) / f"{name}-lines.png"))
    elif name == "console-bookings-16-services-en-768":
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)
    elif name.startswith("console-reports") and name.endswith("1366"):
        chart = page.locator("section.charts figure").nth(1)  # the waits: 5 served, 11 not
        chart.screenshot(path=str(Path(SHOTS) / f"{name}-chart.png"))


def worst_first(page) -> list[tuple[str, int, int]]:
    """The late lines of the lines table, worst first: the longest wait, then the most
    waiting, then the branch's order."""
    return sorted(map(tuple, page.evaluate(LATE)), key=lambda row: (-row[1], -row[2]))


def toggle(page, folded) -> None:
    """Open or close the disclosure `folded` by its summary, as a hand does, and wait until
    the page has noted it for this tab (console.js keeps it across reloads)."""
    opened = not folded.evaluate("d => d.open")
    folded.locator("summary").click()
    page.wait_for_function(REMEMBERED, arg=[folded.evaluate("d => d.id"), opened])


def alert_wall(page, size: dict, name: str) -> None:
    """The late lines are one alert that says how many and names the worst (with its
    wait), the rest behind a closed disclosure; the alerts take at most a quarter of the
    first screen, which shows half the counters or more; opened, the disclosure lists
    every late line, worst first, and still nothing runs out of the page."""
    height, counters = page.evaluate(FIRST_SCREEN)
    assert height <= size["height"] / 4 and counters >= 6, (name, height, counters)
    late = worst_first(page)
    assert len(late) > FOLD_OVER, late
    folded = page.locator("#alerts-late")
    headline = page.locator("#alerts li", has=folded).evaluate(HEADLINE)
    worst = re.escape(late[0][0]) + r"\W+" + str(late[0][1])  # "Loans (50 min)"; zh "（"
    assert str(len(late)) in headline and re.search(worst, headline), headline
    assert not folded.evaluate("d => d.open")
    toggle(page, folded)
    listed = folded.locator("li").all_inner_texts()
    assert all(item.startswith(row[0]) for item, row in zip(listed, late, strict=True)), listed
    assert page.evaluate(OVERFLOW) == [], name
    if SHOTS and name == "console-live-16-services-en-1366":
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))
    toggle(page, folded)  # closed again: the tab would remember it open


def an_update_keeps_the_disclosure_open(page, kiosk) -> None:
    """With all the late lines opened, a pushed update (a ticket for the last service,
    which makes it the worst line) redraws the board and leaves the disclosure open; so
    does reloading the page (a form's answer), until it is closed."""
    folded = page.locator("#alerts-late")
    toggle(page, folded)
    assert kiosk.request("issue_ticket", {"service": "x10"}).ok
    page.locator("#line-x10 td.num").first.filter(has_text="4").wait_for()
    worst = worst_first(page)[0][0]  # the board with x10's fourth is the one shown
    assert worst == page.locator("#line-x10 th").evaluate("th => th.firstChild.nodeValue")
    headline = page.locator("#alerts li", has=folded).evaluate(HEADLINE)
    assert headline.index(worst) < headline.index(worst_first(page)[1][0]), headline
    assert folded.evaluate("d => d.open")
    assert len(folded.locator("li").all_inner_texts()) == len(worst_first(page))
    page.reload()  # as a form's answer does: still open, until closed
    assert folded.evaluate("d => d.open")
    toggle(page, folded)
    page.reload()
    assert not folded.evaluate("d => d.open")


def test_every_console_page_fits_in_branch_time_near_closing(
    branch_console, connect, example_config, clock, browser
):
    """GIVEN the long branch after a burst of tickets and calls, at 16:40 (it closes at 17:00;
    two services past their last ticket), and a browser 18 hours behind it
    WHEN a manager opens the live page, bookings, the report per service and staffing in zh
    and en at 1366x768 and 768x1024
    THEN nothing runs out of any page; the live page's time, closing and last tickets are
    the branch's; its 13 late lines are one alert naming the worst, which leaves half the
    counters on the first screen, their list behind a disclosure that stays open when the
    board is pushed again; the bookings' day, the report's range and the staffing weekday are the
    branch's; every chart names each service readably; at 17:05 it says closed until 09:00."""
    kiosk = burst(connect, example_config, clock)[0]
    names = {lang: [s.names[lang] for s in example_config.rules.services.values()]
             for lang in ("zh", "en")}  # fmt: skip
    for size in SIZES:
        context = browser.new_context(viewport=size, device_scale_factor=1,
                                      timezone_id=BROWSER_ZONE)  # fmt: skip
        page = context.new_page()
        sign_in(page, branch_console, "anna")
        zone = page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
        assert zone == BROWSER_ZONE  # the browser's own time is not the branch's
        for language in ("zh", "en"):
            for path in PAGES:
                url = branch_console.url(
                    f"/pudong{path}{'&' if '?' in path else '?'}lang={language}"
                )
                page_name = path.strip("/").split("?")[0] or "live"
                name = f"console-{page_name}-16-services-{language}-{size['width']}"
                look(page, url, name)
                if not path:
                    board = page.locator("#board").inner_text()
                    assert all(said in board for said in SAID[language]), board
                    assert page.locator("#line-accounts td").nth(2).inner_text() == "—"
                    alert_wall(page, size, name)
                    if size == SIZES[0] and language == "zh":
                        an_update_keeps_the_disclosure_open(page, kiosk)
                elif path == "/bookings":
                    assert "2026-11-23" in page.locator("h2").first.inner_text()
                elif path.startswith("/reports"):
                    assert page.locator("input[name=to]").input_value() == "2026-11-23"
                    for chart in page.locator("svg.chart").all():  # what each label shows
                        shown = chart.evaluate(SHOWN)  # whole, or at least its first 12
                        assert all(n[: 12 if language == "en" else 6] in shown
                                   for n in names[language]), shown  # fmt: skip
                else:
                    assert page.locator("select[name=weekday]").input_value() == "mon"
        context.close()
    clock.advance(25 * 60)  # 17:05
    context = browser.new_context(viewport=SIZES[1], timezone_id=BROWSER_ZONE)
    page = context.new_page()
    sign_in(page, branch_console, "anna", lang="zh")
    page.locator(".hours.closed").filter(has_text="已结束营业，11-24 09:00 开门").wait_for()
    assert page.locator("small.stopped").count() == 0  # no line says it: the branch does
    context.close()
