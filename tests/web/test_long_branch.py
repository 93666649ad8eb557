"""The ticket page of a branch as real ones are: 14 services and 10 counters with long zh
and en names, a phone in another time zone than the branch's, at the two phone sizes.
NOWSERVING_SCREENSHOTS=<folder> saves each state's picture there (docs/screenshots)."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.web.conftest import CHROMIUM, TOKEN, wait_record
from tests.web.long_branch import OVERFLOW, long_branch

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
SIZES = ({"width": 390, "height": 844}, {"width": 360, "height": 640})
SHOTS = os.environ.get("NOWSERVING_SCREENSHOTS")
PHONE_ZONE = "America/Los_Angeles"  # the branch is in Asia/Shanghai


@pytest.fixture
def example_config(tmp_path):
    """The example branch with long names, 14 services, and 12 counters serving cash."""
    return long_branch(tmp_path, 14)


def look(browser, url: str, state: str, wait: str) -> None:
    """Open `url` at each phone size in zh and en: nothing overflows; save the pictures."""
    for size in SIZES:
        context = browser.new_context(viewport=size, device_scale_factor=1, is_mobile=True,
                                      timezone_id=PHONE_ZONE)  # fmt: skip
        try:
            page = context.new_page()
            for language in ("zh", "en"):
                page.goto(f"{url}?lang={language}")
                page.locator(wait).first.wait_for()
                assert page.evaluate(OVERFLOW) == [], (state, language, size)
                if SHOTS:
                    name = f"web-long-{state}-{language}-{size['width']}.png"
                    page.screenshot(path=str(Path(SHOTS) / name))
        finally:
            context.close()


def test_long_names_fit_a_small_phone_and_times_are_the_branchs(web, connect, browser):
    """GIVEN a branch of long names and a phone 16 hours behind it WHEN a ticket waits (after
    stepping out), is called at a counter with a long name, and is finished THEN each state
    fits 390x844 and 360x640 in zh and en, and the time to be back is the branch's."""
    kiosk, counter = connect("kiosk-1"), connect("counter-1")
    for i in range(3):
        assert kiosk.request("issue_ticket", {"service": "cash", "token": f"ahead-{i:016d}"}).ok
    reply = kiosk.request("issue_ticket", {"service": "cash", "language": "zh", "token": TOKEN})
    assert reply.ok, reply
    web.feeds.branches["pudong"].client.wait_line(
        "cash", lambda line: any(t.id == reply.result["ticket"]["id"] for t in line.tickets)
    )
    wait_record(web)
    context = browser.new_context(viewport=SIZES[1], is_mobile=True, timezone_id=PHONE_ZONE)
    page = context.new_page()
    page.goto(web.url())
    page.get_by_role("button", name="我先离开一会儿").click()
    back_by = page.locator("#back_by_text")
    back_by.wait_for()
    record = wait_record(web, predicate=lambda r: r.back_by is not None)
    branch_time = datetime.fromtimestamp(record.back_by, ZoneInfo("Asia/Shanghai"))
    assert re.search(rf"\b{branch_time:%H:%M}\b", back_by.inner_text())
    context.close()
    look(browser, web.url(), "waiting", "#counters_text")
    for _ in range(3):
        assert counter.request("call_next").ok
        assert counter.request("finish").ok
    assert counter.request("call_next").ok
    wait_record(web, predicate=lambda r: r.status == "called")
    look(browser, web.url(), "called", "#call:not([hidden])")
    assert counter.request("finish").ok
    wait_record(web, predicate=lambda r: r.status == "done")
    look(browser, web.url(), "done", ".rate")
