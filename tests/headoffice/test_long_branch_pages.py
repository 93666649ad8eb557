"""The head office's pages with branches as real ones are: ten branches with long zh and
en names in three regions, each with the long branch's afternoon (tests/web/long_branch.py:
16 services, a burst of tickets, twenty minutes before closing) from the real server's log,
in a browser in another time zone: each page fits a desk and a tablet in zh and en.
NOWSERVING_SCREENSHOTS=<folder> saves the pages there (docs/screenshots)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nowserving.headoffice.db import Batch, HeadOfficeDb
from nowserving.headoffice.live import live_summary
from nowserving.headoffice.regions import load_regions, read_regions
from nowserving.headoffice.visits import rebuild_due_days
from nowserving.web.console_headoffice import add_headoffice
from tests.conftest import ManualClock
from tests.headoffice.test_visits import ingest, rows_of
from tests.web.conftest import CHROMIUM, browser  # noqa: F401
from tests.web.console_fixtures import accounts_file, make_console, serving_console  # noqa: F401, F811
from tests.web.long_branch import AFTERNOON, CASH, OVERFLOW, burst, long_branch
from tests.web.test_console import sign_in

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
SHOTS = os.environ.get("NOWSERVING_SCREENSHOTS")
BROWSER_ZONE = "Pacific/Honolulu"
SIZES = ({"width": 1366, "height": 768}, {"width": 768, "height": 1024})
REGIONS = {
    "east": ("华东区（上海、江苏、浙江、安徽）", "East China (Shanghai, Jiangsu, Zhejiang, Anhui)"),
    "north": ("华北区（北京、天津、河北）", "North China (Beijing, Tianjin, Hebei)"),
    "south": ("华南区（广东、广西、海南）", "South China (Guangdong, Guangxi, Hainan)"),
}
BRANCHES = [
    ("pudong", "east",
     "上海浦东新区陆家嘴金融贸易区综合支行", "Shanghai Pudong Lujiazui Financial District Branch"),
    ("xuhui", "east",
     "上海徐汇区漕河泾开发区科技支行", "Shanghai Xuhui Caohejing Development Zone Tech Branch"),
    ("suzhou", "east",
     "苏州工业园区金鸡湖商务区支行", "Suzhou Industrial Park Jinji Lake Business District Branch"),
    ("hangzhou", "east",
     "杭州西湖区文三路数字经济支行", "Hangzhou Xihu Wensan Road Digital Economy Branch"),
    ("haidian", "north",
     "北京海淀区中关村科技园区支行", "Beijing Haidian Zhongguancun Science Park Branch"),
    ("chaoyang", "north",
     "北京朝阳区国际贸易中心支行", "Beijing Chaoyang China World Trade Center Branch"),
    ("binhai", "north",
     "天津滨海新区自由贸易试验区支行", "Tianjin Binhai New Area Pilot Free Trade Zone Branch"),
    ("tianhe", "south",
     "广州天河区珠江新城中央商务区支行", "Guangzhou Tianhe Zhujiang New Town CBD Branch"),
    ("qianhai", "south",
     "深圳前海深港现代服务业合作区支行", "Shenzhen Qianhai Shenzhen-HK Services Zone Branch"),
    ("haikou", "south",
     "海口江东新区自由贸易港支行", "Haikou Jiangdong New Area Free Trade Port Branch"),
]  # fmt: skip


@pytest.fixture
def example_config(tmp_path):
    return long_branch(tmp_path, 16)


@pytest.fixture
def clock():
    return ManualClock(AFTERNOON)


@pytest.fixture
def head_office(broker, example_config, server, connect, clock, dsn, accounts_file, tmp_path):  # noqa: F811
    """The burst at the long branch, its log ingested under each of BRANCHES' ids; the web
    role serving pudong with the head-office pages on."""
    burst(connect, example_config, clock)
    lines = []
    for rid, (zh, en) in REGIONS.items():
        lines += [f"[regions.{rid}]", f'name = {{ zh = "{zh}", en = "{en}" }}']
    for bid, rid, zh, en in BRANCHES:
        lines += [f"[branches.{bid}]", f'region = "{rid}"', 'timezone = "Asia/Shanghai"',
                  f'name = {{ zh = "{zh}", en = "{en}" }}']  # fmt: skip
    (tmp_path / "branches.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = HeadOfficeDb(dsn)
    load_regions(db.conn, read_regions(tmp_path / "branches.toml"))
    state = connect("lobby-1").wait_state()  # the branch's newest, as the ingest sums it up
    summary = live_summary({
        "seq": state.seq, "epoch": state.epoch, "at": state.at,
        "business_day": state.business_day,
        "services": [{"waiting": s.waiting, "issued": s.issued} for s in state.services],
        "counters": [{"state": c.state, "served": c.served} for c in state.counters]})  # fmt: skip
    for bid, *_ in BRANCHES:
        ingest(db, rows_of(tmp_path / "events.sqlite", branch=bid))
        db.write(Batch(live={bid: {**summary, "seq": db.conn.execute(
            "SELECT contiguous_seq FROM branches WHERE branch = %s", (bid,)).fetchone()[0]}},
            states={bid: (0, state.seq)}, heard={bid}))  # fmt: skip
    db.conn.execute("UPDATE branches SET link_up = true, server_online = true, "
                    "last_heard = to_timestamp(%s)", (clock(),))  # fmt: skip
    rebuild_due_days(db.conn)
    console = make_console([example_config], broker, accounts_file, tmp_path, clock)
    pages = add_headoffice(console, dsn)
    console.staffing.days = 5
    try:
        with serving_console(console, clock) as role:
            yield role
    finally:
        pages.close()
        console.close()
        db.close()


PAGES = ("", "/reports?by=branch", "/reports?by=service", "/staffing")


def test_the_head_office_pages_fit_ten_long_branches_of_16_services(head_office, browser):  # noqa: F811
    """GIVEN ten branches with long names in three regions, each with the long branch's
    afternoon (16 services) WHEN the head-office account opens every branch live, the report
    per branch and per service and the staffing form in zh and en at 1366x768 and 768x1024
    THEN nothing runs out of any page (a table wider than a tablet scrolls in its section),
    and the report per service names the services as their branch config does."""
    for size in SIZES:
        context = browser.new_context(viewport=size, device_scale_factor=1,
                                      timezone_id=BROWSER_ZONE)  # fmt: skip
        page = context.new_page()
        sign_in(page, head_office, "hq")
        for language in ("zh", "en"):
            for path in PAGES:
                page.goto(head_office.url(f"/headoffice{path}{'&' if '?' in path else '?'}"
                                          f"lang={language}"))  # fmt: skip
                assert page.evaluate(OVERFLOW) == [], (path, language, size)
                name = path.strip("/").split("?")[0] or "live-10-branches"
                if "service" in path:
                    name = "reports-16-services"
                    rows = page.locator("section.report tbody th").all_inner_texts()
                    assert len(rows) == 16 and any(CASH[0 if language == "zh" else 1] in r
                                                   for r in rows), rows  # fmt: skip
                shot = f"headoffice-{name}-{language}-{size['width']}"
                if SHOTS and shot in (
                    "headoffice-live-10-branches-en-768",
                    "headoffice-reports-16-services-zh-1366",
                ):
                    page.screenshot(path=str(Path(SHOTS) / f"{shot}.png"))
        context.close()
