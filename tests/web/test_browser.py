"""The ticket page in a real browser (Debian's chromium, driven by Playwright) at a phone's
viewport, against the real server, broker and web role. One browser for the module.
NOWSERVING_SCREENSHOTS=<folder> saves each state's picture there (docs/screenshots)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.web.conftest import CHROMIUM, TOKEN, post, wait_record

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
PHONE = {"width": 390, "height": 844}
SHOTS = os.environ.get("NOWSERVING_SCREENSHOTS")


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True)
    yield context.new_page()
    context.close()


def shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"web-{name}.png"))


def issue(kiosk, token, language="en"):
    reply = kiosk.request("issue_ticket", {"service": "cash", "language": language, "token": token})
    assert reply.ok, reply
    return reply.result["ticket"]["id"]


def in_line(web, ticket):
    web.feeds.branches["pudong"].client.wait_line(
        "cash", lambda line: any(t.id == ticket for t in line.tickets)
    )


def test_a_ticket_followed_from_issue_to_call_to_rating(web, connect, phone, clock):
    kiosk, counter = connect("kiosk-1"), connect("counter-1")
    issue(kiosk, "first-token-0123456789")
    ticket = issue(kiosk, TOKEN)
    wait_record(web)
    in_line(web, ticket)
    phone.goto(web.url())
    assert phone.locator("#number").inner_text() == "A002"
    phone.locator("#ahead_text").filter(has_text="People ahead of you: 1").wait_for()
    shot(phone, "waiting-en")
    assert counter.request("call_next").ok  # A001
    phone.locator("#ahead_text").filter(has_text="You are next").wait_for(timeout=2000)
    assert counter.request("finish").ok
    assert counter.request("call_next").ok  # A002: ours
    phone.locator("#call").filter(has_text="A002 → Counter 1").wait_for(timeout=1000)
    assert phone.locator("#call").is_visible()
    shot(phone, "called-en")
    assert counter.request("finish").ok
    phone.get_by_role("button", name="Good").wait_for(timeout=3000)
    shot(phone, "rate-en")
    clock.advance(3 * 3600)  # the phone put away, looked at again in the afternoon
    phone.reload()
    csrf = phone.locator("input[name=csrf]").first.get_attribute("value")
    phone.get_by_role("button", name="Good").click()
    phone.get_by_text("Thank you for your feedback").wait_for()
    record = wait_record(web, predicate=lambda r: r.rating is not None)
    assert record.rating == "satisfied"
    # The same form posted again (a double tap, a resent form) rates nothing and says so
    # as done, not as a failure.
    status, headers = post(web.url() + "/rate", {"csrf": csrf, "rating": "unsatisfied"})
    assert status == 303 and "failed" not in headers["location"]
    assert wait_record(web).rating == "satisfied"


def test_step_out_head_back_then_called_in_chinese(web, connect, phone):
    kiosk, counter = connect("kiosk-1"), connect("counter-1")
    for i in range(3):
        issue(kiosk, f"ahead-token-{i:010d}", "zh")
    ticket = issue(kiosk, TOKEN, "zh")
    in_line(web, ticket)
    phone.goto(web.url())
    assert phone.locator("html").get_attribute("lang") == "zh-CN"
    phone.get_by_text("前面还有 3 人").wait_for()
    shot(phone, "waiting-zh")
    phone.get_by_role("button", name="我先离开一会儿").click()
    phone.get_by_text("请在").wait_for()
    phone.get_by_text("该回来了").wait_for()  # 3 ahead: the branch's head_back_ahead
    shot(phone, "head-back-zh")
    for _ in range(3):
        assert counter.request("call_next").ok
        assert counter.request("finish").ok
    assert counter.request("call_next").ok
    phone.locator("#call").filter(has_text="A004 → 1号窗口").wait_for(timeout=1000)
    shot(phone, "called-zh")


def test_cancel_with_confirmation_and_a_wrong_token(web, connect, phone, server):
    ticket = issue(connect("kiosk-1"), TOKEN)
    wait_record(web)
    phone.goto(web.url() + "?lang=en")
    phone.get_by_role("link", name="Cancel my ticket").click()
    shot(phone, "cancel-confirm-en")
    phone.get_by_role("button", name="Yes, cancel it").click()
    phone.locator("#title").filter(has_text="Cancelled").wait_for()
    assert server.branch.tickets[ticket].status == "cancelled"
    response = phone.goto(web.url("wrong-token-0123456789"))
    assert response.status == 404
    shot(phone, "not-found")


def test_without_javascript_the_page_is_still_readable(web, connect, browser):
    in_line(web, issue(connect("kiosk-1"), TOKEN))
    wait_record(web)
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(web.url() + "?lang=zh")
        assert page.locator("#number").inner_text() == "A001"
        assert "下一位就是您" in page.locator("#ahead_text").inner_text()
        page.get_by_role("link", name="English").click()
        assert "You are next" in page.locator("#ahead_text").inner_text()
        shot(page, "nojs-en")
    finally:
        context.close()


def test_the_call_sound_is_fetched_only_on_the_first_tap_or_near_the_turn(web, connect, phone):
    """GIVEN a ticket with 4 ahead WHEN its page opens THEN the sound (most of a first
    visit's weight) is not fetched; the first tap (which unlocks sound) fetches it."""
    kiosk = connect("kiosk-1")
    for i in range(4):
        issue(kiosk, f"ahead-token-{i:010d}")
    in_line(web, issue(kiosk, TOKEN))
    fetched: list[str] = []
    phone.on("request", lambda r: fetched.append(r.url))
    phone.goto(web.url())
    phone.get_by_text("People ahead of you: 4").wait_for()
    phone.wait_for_load_state("networkidle")
    assert fetched and not [u for u in fetched if u.endswith("/call.wav")]
    with phone.expect_request(lambda r: r.url.endswith("/static/call.wav"), timeout=3000):
        phone.locator("#number").click()
