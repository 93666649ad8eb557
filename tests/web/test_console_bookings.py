"""The console's bookings page in a real browser (Debian's chromium, Playwright) against the
real server, Mosquitto and the web role reading the server's event log: book (the code
and its QR shown once; the same form sent again books nothing twice), the day's list per
service, cancel with a confirmation, a refusal in words, the audit log (never a phone
number), and a supervisor's access. NOWSERVING_SCREENSHOTS=<folder> saves the pages in zh
and en (docs/screenshots)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nowserving.web.console_bookings import add_bookings
from tests.web.conftest import CHROMIUM
from tests.web.console_fixtures import make_console, serving_console
from tests.web.test_console import sign_in

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
SHOTS = os.environ.get("NOWSERVING_SCREENSHOTS")
DAY = "2026-11-24"  # the day after the test clock's (2026-11-23 17:00 in Shanghai)


@pytest.fixture
def bookings_console(broker, example_config, server, clock, accounts_file, tmp_path):
    """The web role serving pudong with its console, whose bookings page reads the server's
    own event log."""
    console = make_console([example_config], broker, accounts_file, tmp_path, clock)
    add_bookings(console, {"pudong": server.store.path})
    with serving_console(console, clock) as role:
        yield role


@pytest.fixture
def desk(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def book(page, service: str, hm: str, duration: str = "standard", priority: str = "normal",
         phone: str = ""):  # fmt: skip
    form = page.locator("#book form")
    form.locator("input[name=phone]").fill(phone)
    form.locator("select[name=service]").select_option(service)
    form.locator("input[name=day]").fill(DAY)
    form.locator("input[name=time]").fill(hm)
    form.locator("select[name=duration]").select_option(duration)
    form.locator("select[name=priority]").select_option(priority)
    with page.expect_navigation():
        form.locator("button").click()


def test_book_list_and_cancel_in_the_console(bookings_console, desk, server):
    """GIVEN anna, manager of pudong WHEN she opens Bookings from the live page and books
    loans at 10:00 tomorrow THEN the answer shows a 10-character code and its QR; the same
    form sent again (its `ref`) books nothing twice and shows the same code; the day's
    list shows it per service as booked; a second booking is cancelled once confirmed; a
    third in a full hour is refused in words; and the audit log has every action."""
    console = bookings_console
    sign_in(desk, console, "anna")
    with desk.expect_navigation():
        desk.locator("nav.pages a", has_text="Bookings").click()
    desk.goto(console.url(f"/pudong/bookings?lang=en&day={DAY}"))
    assert desk.locator("#service-loans td.none").count() == 1  # nothing booked yet
    book(desk, "loans", "10:00", duration="long", priority="priority", phone="call me")
    desk.get_by_text("not a mobile number").wait_for()  # refused by the console, not booked
    form = desk.locator("#book form")
    sent = {name: form.locator(f"input[name={name}]").get_attribute("value")
            for name in ("csrf", "ref")}  # fmt: skip
    book(desk, "loans", "10:00", duration="long", priority="priority", phone="139 1234 5678")
    code = desk.locator("#code").inner_text()
    assert len(code) == 10 and desk.locator("figure.qr svg").count() == 1
    assert "Booked" in desk.locator("#booked h2").inner_text()
    if SHOTS:
        desk.screenshot(path=str(Path(SHOTS) / "console-booked-en.png"), full_page=True)
    again = desk.request.post(
        console.url("/pudong/bookings/book"),
        form={
            **sent,
            "lang": "en",
            "service": "loans",
            "day": DAY,
            "time": "10:00",
            "duration": "long",
            "priority": "priority",
        },
    )  # the same form sent again (a double click): the same booking and code
    assert again.status == 200
    assert f'id="code">{code}<' in again.text() and "Already booked" in again.text()
    made = [e for e in server.store.events() if e.type == "booking_made"]
    assert len(made) == 1 and made[0].data["ref"].startswith("console:")

    desk.goto(console.url(f"/pudong/bookings?lang=en&day={DAY}"))
    row = desk.locator(f"#booking-{made[0].data['booking']}")
    assert row.locator("th").inner_text() == "10:00"
    assert row.locator(".status").inner_text() == "booked"
    book(desk, "loans", "10:30")  # the hour's second (loans takes 2 an hour)
    second = [e for e in server.store.events() if e.type == "booking_made"][-1].data["booking"]
    desk.goto(console.url(f"/pudong/bookings?lang=en&day={DAY}"))
    book(desk, "loans", "10:45")  # a third: refused, said in words
    desk.get_by_text("fully booked").wait_for()

    cancel = desk.locator(f"#booking-{second} form.cancel")
    cancel.locator("input[name=confirm]").check()
    with desk.expect_navigation():
        cancel.locator("button").click()
    desk.get_by_text("Done.").wait_for()
    assert desk.locator(f"#booking-{second} .status").inner_text() == "cancelled"
    assert desk.locator(f"#booking-{second} form.cancel").count() == 0
    if SHOTS:
        desk.screenshot(path=str(Path(SHOTS) / "console-bookings-en.png"), full_page=True)
        desk.goto(console.url(f"/pudong/bookings?lang=zh&day={DAY}"))
        desk.screenshot(path=str(Path(SHOTS) / "console-bookings-zh.png"), full_page=True)
    actions = [(r["action"], r["ok"], r.get("code")) for r in console.audit.read()
               if r["action"] != "sign_in"]  # fmt: skip
    assert actions == [("book", True, None), ("book", True, None), ("book", True, None),
                       ("book", False, "booking_full"), ("cancel_booking", True, None)]  # fmt: skip
    audit = console.audit.path.read_text(encoding="utf-8")
    assert code not in audit and "13912345678" not in audit and "call me" not in audit
    assert all("phone" not in e.data for e in server.store.events())


def test_a_supervisor_books_and_a_forged_form_needs_its_csrf(bookings_console, desk):
    """GIVEN sue, supervisor of pudong WHEN she opens the bookings page (zh) and books THEN
    the code is shown; a form without the page's CSRF word is refused 403."""
    console = bookings_console
    sign_in(desk, console, "sue", lang="zh")
    desk.goto(console.url(f"/pudong/bookings?lang=zh&day={DAY}"))
    book(desk, "wealth", "11:00")
    assert len(desk.locator("#code").inner_text()) == 10
    assert "预约成功" in desk.locator("#booked h2").inner_text()
    if SHOTS:
        desk.screenshot(path=str(Path(SHOTS) / "console-booked-zh.png"), full_page=True)
    forged = {"service": "wealth", "day": DAY, "time": "11:30", "csrf": "x", "lang": "zh"}
    response = desk.request.post(console.url("/pudong/bookings/book"), form=forged)
    assert response.status == 403
