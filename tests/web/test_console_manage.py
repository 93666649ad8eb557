"""The console's manager actions and rights in a real browser (Debian's chromium) against
the real servers, Mosquitto and the web role: closing a service for the day, what a
supervisor may not do, and the staffing page. NOWSERVING_SCREENSHOTS=<folder> saves the
staffing page in zh and en (docs/screenshots)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from nowserving.adapters.store import EventLog
from nowserving.sim.engine import simulate
from nowserving.sim.scenarios import SCENARIOS
from tests.web.conftest import CHROMIUM, TOKEN, get
from tests.web.test_console import DESK, sign_in

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
SHOTS = os.environ.get("NOWSERVING_SCREENSHOTS")


@pytest.fixture
def desk(browser):
    context = browser.new_context(viewport=DESK, device_scale_factor=1)
    yield context.new_page()
    context.close()


def shoot(page, selector: str, name: str) -> None:
    """A screenshot of one part of the page (clipped from the whole: the pushed board may
    replace the element itself meanwhile)."""
    page.locator(f"{selector} td.num").first.filter(has_text="0").wait_for()
    box = page.locator(selector).bounding_box()
    page.screenshot(path=str(Path(SHOTS) / name), clip=box, full_page=True)


@pytest.fixture(scope="module")
def week_log(tmp_path_factory):
    """A simulated week of the example bank (its services), opening 09:00 Shanghai time."""
    base = SCENARIOS["branch-full"]
    scenario = replace(base, days=7, extra={**base.extra, "opens": 1.0})  # 01:00 UTC
    path = tmp_path_factory.mktemp("staffing") / "events.sqlite"
    batch: list = []
    simulate(scenario, seed=2, estimates=False, record=batch.extend)
    with EventLog(path, create=True) as store:
        store.append(batch)
    return path


def test_a_manager_closes_a_service_for_the_day_and_reopens_it(console, desk, connect):
    """GIVEN anna, manager of pudong, and one customer waiting for cash WHEN she closes cash
    with a reason in both languages (after ticking the confirmation) THEN the line says
    closed with the reason, a kiosk's new ticket is refused with service_closed, the waiting
    customer's phone page says they are still served, a counter still calls them; and
    after Reopen a ticket is issued again."""
    kiosk, counter = connect("kiosk-1"), connect("counter-1")
    assert kiosk.request("issue_ticket", {"service": "cash", "token": TOKEN}).ok
    sign_in(desk, console, "anna")
    form = desk.locator("#close-service")
    form.locator("select[name=service]").select_option("cash")
    form.locator("input[name=reason_zh]").fill("现金系统故障")
    form.locator("input[name=reason_en]").fill("Cash system fault")
    desk.evaluate("document.querySelector('#close-service form').noValidate = true")
    form.locator("button").click()  # not confirmed: refused by the server too
    desk.get_by_text("tick the box").wait_for()
    assert console.feeds.branches["pudong"].state().service("cash").closed is None

    form.locator("input[name=reason_zh]").fill("现金系统故障")
    form.locator("input[name=reason_en]").fill("Cash system fault")
    form.locator("input[name=confirm]").check()
    form.locator("button").click()
    desk.get_by_text("Done.").wait_for()
    desk.locator("#line-cash .closed").filter(has_text="Cash system fault").wait_for()
    refusal = kiosk.request("issue_ticket", {"service": "cash"})
    assert (refusal.ok, refusal.code) == (False, "service_closed")
    status, _, body = get(console.base + f"/pudong/t/{TOKEN}?lang=zh")
    assert status == 200 and "现金系统故障" in body.decode() and "仍会为您办理" in body.decode()
    assert counter.request("call_next").ok  # those waiting are still served
    if SHOTS:
        shoot(desk, "#lines", "console-closed-en.png")
        desk.goto(console.url("/pudong?lang=zh"))
        desk.locator("#line-cash .closed").filter(has_text="现金系统故障").wait_for()
        shoot(desk, "#lines", "console-closed-zh.png")
        desk.goto(console.url("/pudong?lang=en"))

    desk.locator("#line-cash button").click()  # Reopen
    desk.get_by_text("Done.").wait_for()
    assert kiosk.request("issue_ticket", {"service": "cash"}).ok
    actions = [(r["action"], r["ok"]) for r in console.audit.read() if r["action"] != "sign_in"]
    assert actions == [("close_service", True), ("reopen_service", True)]


def test_a_supervisor_may_not_close_services_or_see_staffing(console, desk):
    """GIVEN sam, supervisor of minhang WHEN he opens the live page THEN he sees counter
    actions and the notice form but no service closing and no staffing link; the staffing
    page and a forged close-service form answer 403 with a page that says why."""
    sign_in(desk, console, "sam")
    desk.locator("#counter-c1 button").first.wait_for()
    assert desk.locator("#post").count() == 1
    assert desk.locator("#close-service").count() == 0
    assert desk.locator("nav.pages a").count() == 2  # the live page and the bookings
    response = desk.goto(console.url("/minhang/staffing?lang=en"))
    assert response.status == 403
    desk.get_by_text("A supervisor account may not see the staffing advice.").wait_for()
    desk.goto(console.url("/minhang"))
    csrf = desk.locator("input[name=csrf]").first.get_attribute("value")
    forged = {"service": "cash", "confirm": "yes", "csrf": csrf, "lang": "zh"}
    response = desk.request.post(console.url("/minhang/close-service"), form=forged)
    assert response.status == 403 and "值班主管账号不能暂停或恢复业务" in response.text()
    assert console.feeds.branches["minhang"].state().service("cash").closed is None
    assert [r["right"] for r in console.audit.read() if r["action"] == "forbidden"] == [
        "staffing",
        "services",
    ]


def test_the_staffing_page_shows_the_advice_in_both_languages(console, desk, week_log):
    """GIVEN pudong's web role with a simulated week as its log WHEN anna asks for Mondays
    at 80/10 THEN the page works it out in the worker process (saying so and reloading
    meanwhile) and shows per service and hour the learned figures, Erlang C and A, the
    simulated level, in en and in zh; a bad target is refused with words."""
    console.console.staffing.logs["pudong"] = week_log
    console.console.staffing.days = 20
    sign_in(desk, console, "anna")
    desk.get_by_role("link", name="Staffing").click()
    desk.get_by_text("Choose a weekday").wait_for()
    desk.locator("select[name=weekday]").select_option("mon")
    desk.locator("input[name=target]").fill("80/10")
    desk.get_by_role("button", name="Advise").click()
    table = desk.locator("#advice")
    table.wait_for(timeout=60_000)
    assert "Cash deposit & withdrawal" in table.inner_text()
    assert "Staffing advice: 80% within 10 min, from 1 days" in table.inner_text()
    cells = desk.locator("#advice tr:not(.group)").nth(1).locator("td").all_inner_texts()
    assert cells[0] == "09:00" and " ± " in cells[-1], cells
    if SHOTS:
        desk.screenshot(path=str(Path(SHOTS) / "console-staffing-en.png"), full_page=True)
    desk.goto(desk.url.replace("lang=en", "lang=zh"))
    desk.locator("#advice").get_by_text("现金存取").wait_for()  # cached: no second run
    if SHOTS:
        desk.screenshot(path=str(Path(SHOTS) / "console-staffing-zh.png"), full_page=True)
    bad = desk.goto(console.url("/pudong/staffing?lang=en&weekday=mon&target=eighty"))
    assert bad.status == 400
    desk.get_by_text("PERCENT/MINUTES").wait_for()
