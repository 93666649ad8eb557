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

from nowserving.config import EXAMPLE, load_config
from tests.web.conftest import CHROMIUM, TOKEN, wait_record

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
SIZES = ({"width": 390, "height": 844}, {"width": 360, "height": 640})
SHOTS = os.environ.get("NOWSERVING_SCREENSHOTS")
PHONE_ZONE = "America/Los_Angeles"  # the branch is in Asia/Shanghai
CASH = ("个人养老金、社保卡与现金存取综合业务",
        "Personal pension, social security card & cash services")  # fmt: skip
MORE = [
    ("银行卡挂失与补办", "Lost card reporting & replacement"),
    ("外币兑换与跨境汇款", "Foreign exchange & cross-border remittance"),
    ("信用卡申请与分期业务", "Credit card applications & instalment plans"),
    ("电子银行开通与密码重置", "Online banking sign-up & password reset"),
    ("贵金属与保险代理业务", "Precious metals & insurance agency services"),
    ("大额存单与定期存款", "Large certificates of deposit & time deposits"),
    ("公积金贷款与还款业务", "Housing provident fund loans & repayment"),
    ("票据与支票业务", "Bills & cheque services"),
    ("外籍人士账户服务", "Account services for foreign nationals"),
]
# Every element of the page stays inside the viewport, and no box's text runs out of it.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth, bad = [];
  if (document.documentElement.scrollWidth > width)
    bad.push("page " + document.documentElement.scrollWidth + " > " + width);
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest("[hidden]") || !el.getClientRects().length) continue;
    const r = el.getBoundingClientRect(), name = el.tagName + "#" + el.id + "." + el.className;
    if (r.left < -0.5 || r.right > width + 0.5) bad.push(name + " at " + r.left + "-" + r.right);
    if (el.clientWidth && el.scrollWidth > el.clientWidth + 1)
      bad.push(name + " text " + el.scrollWidth + " > " + el.clientWidth);
  }
  return bad;
}"""


@pytest.fixture
def example_config(tmp_path):
    """The example branch with long names, 14 services, and 10 counters serving cash."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace('names = { zh = "现金存取", en = "Cash deposit & withdrawal" }',
                        f'names = {{ zh = "{CASH[0]}", en = "{CASH[1]}" }}')  # fmt: skip
    counter_1 = 'names = { zh = "1号个人综合业务窗口", en = "Counter 1 (personal services)" }'
    text = text.replace('names = { zh = "1号窗口", en = "Counter 1" }', counter_1)
    extra = []
    for i, (zh, en) in enumerate(MORE):
        extra += ["", "[[services]]", f'id = "x{i}"', f'prefix = "{"FGHJKLMNP"[i]}"',
                  f'names = {{ zh = "{zh}", en = "{en}" }}', "range = [1, 999]"]  # fmt: skip
    for n in range(7, 13):
        extra += ["", "[[counters]]", f'id = "c{n}"',
                  f'names = {{ zh = "{n}号对公与个人综合业务窗口", '
                  f'en = "Counter {n} (business & personal)" }}',
                  f'services = ["cash", "x{n - 7}"]']  # fmt: skip
    head, devices = text.split("[[devices]]", 1)
    pins = EXAMPLE.with_name("staff-pins.toml")
    (tmp_path / pins.name).write_bytes(pins.read_bytes())
    path = tmp_path / "long-branch.toml"
    path.write_text(head + "\n".join(extra) + "\n\n[[devices]]" + devices, encoding="utf-8")
    config = load_config(path)
    assert len(config.rules.services) == 14 and len(config.rules.counters) == 12
    return config


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
