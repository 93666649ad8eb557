"""The branch manager's console in a real browser (Debian's chromium, Playwright) against
the real servers of two branches, Mosquitto and the web role serving both.
NOWSERVING_SCREENSHOTS=<folder> saves the live page in zh and en (docs/screenshots)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nowserving.client import BranchClient
from tests.web.conftest import CHROMIUM
from tests.web.console_fixtures import PASSWORD

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
DESK = {"width": 1280, "height": 900}
SHOTS = os.environ.get("NOWSERVING_SCREENSHOTS")


@pytest.fixture
def desk(browser):
    context = browser.new_context(viewport=DESK, device_scale_factor=1)
    yield context.new_page()
    context.close()


def sign_in(page, console, account: str, password: str = PASSWORD, lang: str = "en"):
    page.goto(console.url(f"/?lang={lang}"))
    page.locator("input[name=account]").fill(account)
    page.locator("input[name=password]").fill(password)
    with page.expect_navigation():
        page.locator("form.signin button").click()


def test_sign_in_see_a_call_post_and_take_down_a_notice_pause_a_counter(
    console, desk, connect, example_config
):
    """GIVEN anna, manager of pudong WHEN she signs in THEN she lands on pudong's live page
    with secure cookies; a call shows at its counter within a second; a notice posted in
    both languages is in the summary and on the page, and goes when taken down; a counter
    paused for lunch says so and opens again; each action is in the audit log."""
    sign_in(desk, console, "anna")
    assert desk.url.startswith(console.url("/pudong"))
    cookie = next(c for c in desk.context.cookies() if c["name"] == "ns_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    desk.locator("#counter-c1").wait_for()
    kiosk, counter = connect("kiosk-1"), connect("counter-1")
    assert kiosk.request("issue_ticket", {"service": "cash"}).ok
    desk.locator("#line-cash td.num").first.filter(has_text="1").wait_for(timeout=1000)
    assert counter.request("call_next").ok
    desk.locator("#counter-c1 .ticket").filter(has_text="A001").wait_for(timeout=1000)

    desk.locator("input[name=text_zh]").fill("今日系统维护，外汇业务暂停")
    desk.locator("input[name=text_en]").fill("Foreign exchange is closed today")
    desk.locator("#post button").click()
    desk.get_by_text("Done.").wait_for()
    desk.locator("#notices").get_by_text("今日系统维护，外汇业务暂停").wait_for()
    desk.locator("#notices").get_by_text("Foreign exchange is closed today").wait_for()
    feed = console.feeds.branches["pudong"]
    notice = feed.client.wait_state(lambda s: s.notices).notices[0]
    assert notice.texts == {"zh": "今日系统维护，外汇业务暂停",
                            "en": "Foreign exchange is closed today"}  # fmt: skip
    desk.locator("#notices").get_by_role("button", name="Take down").click()
    desk.locator("#notices").get_by_text("No notices").wait_for()
    assert not feed.client.wait_state(lambda s: not s.notices).notices

    row = desk.locator("#counter-c2")
    row.locator("select[name=reason]").focus()  # as a hand would: no update under it
    row.locator("select[name=reason]").select_option("lunch")
    row.get_by_role("button", name="Pause").click()
    desk.locator("#counter-c2 .state").filter(has_text="Paused: lunch").wait_for()
    desk.locator("#counter-c2").get_by_role("button", name="Open").click()
    desk.locator("#counter-c2 .state").filter(has_text="Open").wait_for()
    actions = [(r["action"], r["ok"], r["account"]) for r in console.audit.read()]
    assert actions == [("sign_in", True, "anna"), ("post_notice", True, "anna"),
                       ("take_down_notice", True, "anna"), ("pause_counter", True, "anna"),
                       ("open_counter", True, "anna")]  # fmt: skip
    assert PASSWORD not in console.audit.path.read_text(encoding="utf-8")


def test_five_wrong_passwords_lock_the_account_for_five_minutes(console, desk, clock):
    """GIVEN anna WHEN a wrong password is given five times THEN even the right one is
    refused as locked, until five minutes have passed; every try is in the audit log."""
    for _ in range(5):
        sign_in(desk, console, "anna", "not the password")
        desk.get_by_text("Wrong account or password.").wait_for()
    sign_in(desk, console, "anna")
    desk.get_by_text("Too many wrong passwords: try again in 5 min.").wait_for()
    if SHOTS:
        desk.screenshot(path=str(Path(SHOTS) / "console-locked-en.png"))
    assert "/pudong" not in desk.url
    clock.advance(301)
    sign_in(desk, console, "anna")
    assert desk.url.startswith(console.url("/pudong"))
    rows = console.audit.read()
    assert [(r["ok"], r.get("why")) for r in rows] == [(False, "wrong")] * 5 + [
        (False, "locked"), (True, None)]  # fmt: skip
    assert rows[4]["locked"] is True


def test_a_supervisor_sees_only_their_branch_and_head_office_sees_both(console, browser):
    """GIVEN sam, supervisor of minhang, and hq, a head-office account WHEN each signs in
    THEN sam lands on minhang and gets 404 for pudong, as for a branch that does not exist,
    and cannot act on it; hq chooses between both branches."""
    context = browser.new_context(viewport=DESK)
    page = context.new_page()
    try:
        sign_in(page, console, "sam")
        assert page.url.startswith(console.url("/minhang"))
        assert page.goto(console.url("/pudong")).status == 404
        assert page.goto(console.url("/nowhere")).status == 404
        assert page.goto(console.url("/pudong/view.json")).status == 404
    finally:
        context.close()
    context = browser.new_context(viewport=DESK)
    page = context.new_page()
    try:
        sign_in(page, console, "hq")
        assert page.url.startswith(console.url("/"))
        page.get_by_role("link", name="Minhang Branch").click()
        page.locator("#counter-c1").wait_for()
        assert page.goto(console.url("/pudong")).status == 200
    finally:
        context.close()


def test_a_form_without_the_session_word_is_refused(console, desk):
    """GIVEN anna signed in WHEN a form is posted without the session's CSRF word THEN 403,
    and nothing is done."""
    sign_in(desk, console, "anna")
    forged = {"text_en": "forged", "minutes": "5", "csrf": "x"}
    response = desk.request.post(console.url("/pudong/notice"), form=forged)
    assert response.status == 403
    assert not console.feeds.branches["pudong"].state().notices


def test_the_live_page_with_alerts_in_both_languages(console, desk, connect, broker, clock):
    """GIVEN a line with customers, one called, a counter at lunch, a notice and a kiosk out
    of paper WHEN anna opens the page in zh and en THEN the alerts name the kiosk's paper,
    the long wait and the offline devices (seven: one alert, all of them behind its
    disclosure) (screenshots in docs/screenshots)."""
    kiosk = BranchClient(broker, "pudong", "kiosk-1", status=lambda: {"printer": "ok",
                                                                      "paper": "out"})  # fmt: skip
    kiosk.start()
    try:
        counter = connect("counter-1")
        for service in ("cash", "cash", "cash", "accounts", "wealth"):
            assert kiosk.request("issue_ticket", {"service": service}).ok
        clock.advance(25 * 60)
        assert kiosk.request("issue_ticket", {"service": "cash", "priority": "priority"}).ok
        assert counter.request("call_next").ok
        clock.advance(4 * 60)
        assert counter.request("start").ok
        sign_in(desk, console, "anna", lang="zh")
        row = desk.locator("#counter-c2")
        row.locator("select[name=reason]").focus()  # as a hand would: no update under it
        row.locator("select[name=reason]").focus()  # as a hand would: no update under it
        row.locator("select[name=reason]").select_option("lunch")
        with desk.expect_navigation():  # a form: the page comes back with the answer
            row.get_by_role("button", name="暂停").click()
        desk.locator("#counter-c2 .state").filter(has_text="暂停：午餐").wait_for()
        desk.locator("input[name=text_zh]").fill("外汇业务今日暂停")
        desk.locator("input[name=text_en]").fill("No foreign exchange today")
        desk.locator("#post button").click()
        desk.locator("#notices").get_by_text("外汇业务今日暂停").wait_for()
        desk.locator("#alerts").get_by_text("kiosk-1：缺纸").wait_for()
        desk.locator("#alerts").get_by_text("现金存取：有客户已等候 29 分钟").wait_for()
        if SHOTS:
            desk.screenshot(path=str(Path(SHOTS) / "console-live-zh.png"), full_page=True)
        desk.goto(console.url("/pudong?lang=en"))
        desk.locator("#alerts").get_by_text("kiosk-1: out of paper").wait_for()
        desk.locator("#alerts").get_by_text("devices offline: kiosk-2, counter-2").wait_for()
        desk.locator("#alerts-offline summary").click()  # the seven of them, folded
        desk.locator("#alerts").get_by_text("lobby-1 is offline").wait_for()
        desk.locator("#counter-c2 .state").filter(has_text="Paused: lunch").wait_for()
        if SHOTS:
            desk.screenshot(path=str(Path(SHOTS) / "console-live-en.png"), full_page=True)
    finally:
        kiosk.close()
