"""Remote tickets and check-in from the phone (docs/appointments.md) in a real browser
(Debian's chromium through Playwright, at a phone's viewport) against the real server,
broker and web role. NOWSERVING_SCREENSHOTS=<folder> saves the pictures."""

from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path

import pytest

from tests.web.conftest import CHROMIUM, get

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
SHOTS = os.environ.get("NOWSERVING_SCREENSHOTS")


def shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"web-{name}.png"), full_page=True)


def phone_context(browser, width=390, height=844):
    return browser.new_context(viewport={"width": width, "height": height},
                               device_scale_factor=1, is_mobile=True)  # fmt: skip


def hall_code(web, server, page, clock) -> str:
    """The code the hall screen shows now (read from the screen, as a phone would), once the
    web role has the code of the clock's window."""
    feed = web.feeds.branches["pudong"]
    deadline = time.monotonic() + 10
    while not (feed.hall() or {}).get("from", math.inf) <= clock() < feed.hall()["until"]:
        assert time.monotonic() < deadline, "no hall code of the current window"
        threading.Event().wait(0.02)
    page.goto(f"{web.base}/pudong/hall/{server.hall.screen_key()}")
    return page.locator("#hall_code").inner_text().replace(" ", "")


def fits(page) -> None:
    """Nothing runs out of the phone's screen sideways."""
    over = page.evaluate(
        "() => [...document.querySelectorAll('body *')].filter(e => "
        "e.getBoundingClientRect().right > window.innerWidth + 0.5).map(e => e.outerHTML"
        ".slice(0, 80))"
    )
    assert over == []


def test_join_remotely_check_in_with_the_hall_code_then_called(
    web, server, connect, browser, clock
):
    """GIVEN the join page WHEN a customer joins Accounts from home THEN their page says
    they are not in line yet, with the wait if they checked in now, and nobody's place
    moves; WHEN someone comes in meanwhile and the customer opens the hall QR's link in
    the branch THEN one tap checks them in, behind the one who came first, and they are
    called like anyone."""
    counter, kiosk = connect("counter-3"), connect("kiosk-1")
    context = phone_context(browser)
    phone = context.new_page()
    try:
        phone.goto(f"{web.base}/pudong/join?lang=en")
        shot(phone, "join-en")
        fits(phone)
        phone.get_by_role("button", name="Accounts & cards").click()
        phone.locator("#title").filter(has_text="Not in line yet").wait_for()
        phone.get_by_text("If you checked in now").wait_for()
        number = phone.locator("#number").inner_text()
        assert number == "B001"
        ticket = next(t for t in server.branch.tickets.values() if t.number == number)
        assert ticket.status == "remote" and not server.branch.lines["accounts"]
        shot(phone, "remote-en")
        fits(phone)
        walk_in = kiosk.request("issue_ticket", {"service": "accounts", "token": "w" * 22})
        assert walk_in.ok and walk_in.result["ticket"]["number"] == "B002"
        clock.advance(10 * 60)
        # In the branch: the phone's camera opens the hall screen's QR link in a new tab.
        code = hall_code(web, server, context.new_page(), clock)
        phone.goto(f"{web.base}/pudong/here/{code}")
        assert phone.locator("#hall").input_value() == code
        phone.get_by_role("button", name="I'm here: check in").click()
        phone.locator("#title").filter(has_text="Waiting").wait_for()
        phone.get_by_text("People ahead of you: 1").wait_for()
        assert [t.number for t in server.branch.waiting_line("accounts")] == ["B002", "B001"]
        assert counter.request("call_next").ok  # B002, who came in first
        assert counter.request("finish").ok
        assert counter.request("call_next").ok
        phone.locator("#call").filter(has_text="B001 → Counter 3").wait_for(timeout=10_000)
    finally:
        context.close()


def test_a_booking_checks_in_on_its_page_and_a_stale_hall_code_is_refused(
    web, server, connect, browser, clock
):
    """GIVEN a booking (its page: the code in the address) WHEN the hall code of 20 minutes
    ago is typed THEN the page says it expired, in Chinese; WHEN the code shown now is
    scanned THEN the booking is checked in and its ticket's page follows. The join page and
    a remote ticket's page fit a small phone in Chinese; past its deadline the remote
    ticket's page says it was dropped (before the queue records it)."""
    staff = connect("manager")
    when = "2026-11-23 09:40"
    booked = staff.request("book", {"service": "wealth", "time": when})
    assert booked.ok, booked
    booking = booked.result["code"]
    context = phone_context(browser, 360, 640)
    phone = context.new_page()
    try:
        screen = context.new_page()
        screen.set_viewport_size({"width": 1280, "height": 720})  # a tablet or TV in the hall
        old = hall_code(web, server, screen, clock)
        shot(screen, "hall-1280x720")
        fits(screen)
        assert screen.evaluate("document.documentElement.scrollHeight <= innerHeight")
        clock.advance(20 * 60)
        phone.goto(f"{web.base}/pudong/b/{booking}?lang=zh")
        phone.locator("#hall").fill(old)
        phone.get_by_role("button", name="我已到达，签到").click()
        phone.get_by_text("此大厅签到码已过期").wait_for()
        shot(phone, "booking-expired-zh")
        fits(phone)
        now = hall_code(web, server, screen, clock)
        phone.goto(f"{web.base}/pudong/here/{now}")  # the booking's cookie finds its page
        phone.get_by_role("button", name="我已到达，签到").click()
        phone.locator("#title").filter(has_text="等候中").wait_for()
        assert phone.locator("#number").inner_text().startswith("D")
        phone.goto(f"{web.base}/pudong/join?lang=zh")
        fits(phone)
        phone.get_by_role("button", name="开户与账户服务").click()
        phone.locator("#title").filter(has_text="尚未排队").wait_for()
        fits(phone)
        shot(phone, "remote-zh-360")
        clock.advance(121 * 60)  # not checked in in time: the page says so at once
        phone.reload()
        phone.locator("#title").filter(has_text="已作废").wait_for()
        assert phone.locator("#hall").count() == 0
        status, _, _ = get(f"{web.base}/pudong/hall/not-the-key")
        assert status == 404
    finally:
        context.close()
