"""The head office's pages in a real browser (Debian's chromium, Playwright) against a real
PostgreSQL, Mosquitto, the pudong branch server and the web role with `--dsn`: every branch
live by region, the cross-branch report and its ranking equal to the rollups', access by
region. NOWSERVING_SCREENSHOTS=<folder> saves the pages in zh and en (docs/screenshots)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from nowserving.config import load_config
from nowserving.headoffice.db import Batch, EventRow, HeadOfficeDb
from nowserving.headoffice.health import Health
from nowserving.headoffice.live import live_summary
from nowserving.headoffice.regions import load_regions, read_regions
from nowserving.headoffice.visits import rebuild_due_days
from nowserving.reports.crossbranch import cross_report
from nowserving.reports.sample import write_sample_log
from nowserving.web.accounts import Account, hash_password, write_accounts
from nowserving.web.console_headoffice import add_headoffice
from tests.conftest import ManualClock
from tests.headoffice.test_staffing import grouped_config
from tests.headoffice.test_visits import FIRST, ZONE, ingest, rows_of
from tests.web.conftest import CHROMIUM, browser  # noqa: F401
from tests.web.console_fixtures import FAST, PASSWORD, make_console, serving_console

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
SHOTS = os.environ.get("NOWSERVING_SCREENSHOTS")
NOW = datetime(2026, 1, 6, 11, 30, tzinfo=ZoneInfo(ZONE)).timestamp()  # the 2nd day, mid-morning
BRANCHES = """
[regions.east]
name = { zh = "华东区", en = "East" }
[regions.north]
name = { zh = "华北区", en = "North" }
[branches.pudong]
region = "east"
name = { zh = "浦东支行", en = "Pudong Branch" }
timezone = "Asia/Shanghai"
[branches.xuhui]
region = "east"
name = { zh = "徐汇支行", en = "Xuhui Branch" }
timezone = "Asia/Shanghai"
config = "xuhui.toml"
[branches.haidian]
region = "north"
name = { zh = "海淀支行", en = "Haidian Branch" }
timezone = "Asia/Shanghai"
config = "haidian.toml"
"""


@pytest.fixture
def example_config(tmp_path):
    """pudong's config as the web role serves it (`--config`), with cash and accounts one
    group: the staffing advice is learned and shown per group."""
    return load_config(grouped_config(tmp_path))


@pytest.fixture
def head_office(broker, example_config, server, dsn, tmp_path):
    """Three branches' simulated days in PostgreSQL up to NOW; the web role with --dsn."""
    log = tmp_path / "events.sqlite"
    write_sample_log(log, days=3, seed=5, timezone=ZONE)
    (tmp_path / "branches.toml").write_text(BRANCHES, encoding="utf-8")
    grouped_config(tmp_path, "xuhui")  # the branches file's `config =`: not the web role's
    haidian = grouped_config(tmp_path, "haidian")  # its own name for wealth
    haidian.write_text(haidian.read_text(encoding="utf-8").replace(
        '"Wealth management"', '"Haidian wealth desk"'), encoding="utf-8")  # fmt: skip
    db = HeadOfficeDb(dsn)
    load_regions(db.conn, read_regions(tmp_path / "branches.toml"))
    for n, branch in enumerate(("pudong", "xuhui", "haidian")):
        rows = [r for r in rows_of(log, branch=branch) if r.at <= NOW - 600 * n]
        ingest(db, rows)
        # The ingest's view of each link: haidian's bridge is down.
        db.conn.execute("UPDATE branches SET link_up = %s, server_online = true, "
                        "last_heard = to_timestamp(%s) WHERE branch = %s",
                        (branch != "haidian", NOW - 5, branch))  # fmt: skip
    accounts = tmp_path / "users.json"
    rows = [("hq", "head_office", (), ()), ("east-hq", "head_office", (), ("east",)),
            ("anna", "manager", ("pudong",), ())]  # fmt: skip
    write_accounts(accounts, {n: Account(n, r, b, hash_password(PASSWORD, **FAST), g)
                              for n, r, b, g in rows})  # fmt: skip
    clock = ManualClock(NOW)
    console = make_console([example_config], broker, accounts, tmp_path, clock)
    pages = add_headoffice(console, dsn)
    console.staffing.days = 5  # simulated days per check (the command's --days below)
    rebuild_due_days(db.conn)  # as `nowserving headoffice rebuild --due` does
    try:
        with serving_console(console, clock) as role:
            yield role, db
    finally:
        pages.close()
        db.close()


@pytest.fixture
def desk(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


def sign_in(page, role, account: str, lang: str = "en"):
    page.goto(role.url(f"/?lang={lang}"))
    page.locator("input[name=account]").fill(account)
    page.locator("input[name=password]").fill(PASSWORD)
    with page.expect_navigation():
        page.locator("form.signin button").click()


def fetched(page, url: str) -> dict:
    page.goto(url)
    return json.loads(page.locator("body").inner_text())


def test_every_branch_live_and_the_cross_branch_report(head_office, desk):
    """GIVEN three branches' mornings at the head office (haidian's link down)
    WHEN the head-office account opens the live page and the report ranked by wait p90
    THEN the live page shows each branch under its region with what is waiting now, haidian
    stale; the report's ranking and total are the rollups', in both languages."""
    role, db = head_office
    sign_in(desk, role, "hq", "zh")
    desk.locator("a", has_text="各网点实时").click()
    desk.wait_for_url("**/console/headoffice?lang=zh")
    regions = desk.locator("section.region h2").all_inner_texts()
    assert regions == ["华东区", "华北区"]
    live = {
        r["branch"]: r for r in fetched(desk, role.url("/headoffice/live.json?lang=zh"))["branches"]
    }
    assert set(live) == {"pudong", "xuhui", "haidian"}
    assert live["haidian"]["status"] == "stale" and live["pudong"]["status"] == "ok"
    assert live["pudong"]["served"] > 50 and live["pudong"]["counters_open"] >= 1
    assert live["pudong"]["devices_down"] is not None and live["xuhui"]["devices_down"] is None
    desk.goto(role.url("/headoffice?lang=zh"))
    row = desk.locator('tr[data-branch="haidian"]')
    assert "数据陈旧" in row.inner_text()
    pudong = desk.locator('tr[data-branch="pudong"] td').all_inner_texts()
    assert pudong[2] == str(live["pudong"]["waiting"])
    if SHOTS:
        desk.screenshot(path=str(Path(SHOTS) / "headoffice-live-zh.png"), full_page=True)
    query = "from=2026-01-05&to=2026-01-07&by=branch&rank=wait_p90"
    desk.goto(role.url(f"/headoffice/reports?{query}&lang=en"))
    keys = [k for k in desk.locator("section.report tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.key)")]  # fmt: skip
    answer = fetched(desk, role.url(f"/headoffice/reports.json?{query}"))
    expected = cross_report(db.conn, FIRST, datetime(2026, 1, 7).date(), "branch")
    assert answer["total"]["issued"] == expected.total["issued"] > 1000
    p90 = [r["wait_p90"] for r in answer["rows"]]
    assert p90 == sorted(p90) and keys == [r["key"] for r in answer["rows"]]
    if SHOTS:
        desk.goto(role.url(f"/headoffice/reports?{query}&lang=en"))
        desk.screenshot(path=str(Path(SHOTS) / "headoffice-reports-en.png"), full_page=True)
        desk.goto(role.url(f"/headoffice/reports?{query}&by=region&lang=zh"))
        desk.screenshot(path=str(Path(SHOTS) / "headoffice-reports-zh.png"), full_page=True)


def test_access_by_region_and_role(head_office, desk):
    """GIVEN an account limited to the east region and a branch manager WHEN they open the
    head-office pages THEN the east account sees east's branches only (live, report, and
    another region's branch console: 404), and services named as east's configs name them
    (north's haidian names wealth its own way: the account that sees it reads that name);
    the manager is refused the pages."""
    role, _ = head_office
    sign_in(desk, role, "east-hq")
    live = fetched(desk, role.url("/headoffice/live.json"))
    assert {r["branch"] for r in live["branches"]} == {"pudong", "xuhui"}
    report = fetched(desk, role.url("/headoffice/reports.json?from=2026-01-05&to=2026-01-07"))
    assert {r["key"] for r in report["rows"]} == {"pudong", "xuhui"}
    by_service = role.url("/headoffice/reports?from=2026-01-05&to=2026-01-07&by=service&lang=en")
    wealth = desk.locator('tr[data-key="wealth"] th')
    desk.goto(by_service)
    assert wealth.inner_text() == "Wealth management\nwealth"
    desk.context.clear_cookies()
    sign_in(desk, role, "hq")
    desk.goto(by_service)
    assert wealth.inner_text() == "Haidian wealth desk\nwealth"
    assert desk.goto(role.url("/pudong")).status == 200
    desk.context.clear_cookies()
    sign_in(desk, role, "anna")
    assert desk.goto(role.url("/headoffice")).status == 404
    assert desk.goto(role.url("/headoffice/reports.json")).status == 404


def test_the_live_page_follows_each_state_and_shows_the_ingest(head_office, desk):
    """GIVEN the live page open, with the ingest's health reported
    WHEN the ingest stores pudong's new state (17 waiting, 2 of 3 counters open, 88 served)
    THEN the page shows it without being reloaded (its board is fetched every second), with
    the ingest's line (up, rows/s, stored) above the branches."""
    role, db = head_office
    health = Health("ho-east")
    health.stored, health.rows_per_s = 123456, 56.0
    health.save(db.conn)
    sign_in(desk, role, "hq", "en")
    desk.goto(role.url("/headoffice?lang=en"))
    ingest = desk.locator("section.ingest tbody tr")
    ingest.filter(has_text="ho-east").wait_for()
    assert "Up (reported" in ingest.inner_text() and "123,456" in ingest.inner_text()
    desk.evaluate("window.notReloaded = true")
    day = datetime.fromtimestamp(NOW, ZoneInfo(ZONE)).date().isoformat()
    seq = db.conn.execute("SELECT contiguous_seq FROM branches WHERE branch = 'pudong'")
    seq = seq.fetchone()[0]  # the state of the last event in: nothing behind
    state = {"v": 2, "epoch": 0, "seq": seq, "at": NOW, "business_day": day,
             "services": [{"id": "accounts", "waiting": 17, "issued": 120}],
             "counters": [{"id": "c1", "state": "open", "served": 50},
                          {"id": "c2", "state": "open", "served": 38},
                          {"id": "c3", "state": "paused", "served": 0}]}  # fmt: skip
    batch = Batch(heard={"pudong", "haidian"})
    batch.states["pudong"] = (0, seq)
    batch.live["pudong"] = live_summary(state)
    # retained statuses the bridge forwarded: a kiosk's last will, a display up; haidian's
    # link is down, so its devices are not shown as "0 down"
    batch.devices.update({("pudong", "kiosk-2"): False, ("pudong", "lobby-1"): True,
                          ("haidian", "kiosk-1"): True})  # fmt: skip
    db.write(batch)
    desk.wait_for_function(
        "() => { const r = document.querySelector('tr[data-branch=pudong]');"
        " return r && r.children[3].textContent === '17'; }",
        timeout=10_000,
    )
    cells = desk.locator('tr[data-branch="pudong"] td').all_inner_texts()
    assert cells[1:3] == ["2 / 3", "17"] and cells[4] == "88"
    assert cells[6] == "1 (kiosk-2)"
    assert desk.evaluate("window.notReloaded") is True
    live = fetched(desk, role.url("/headoffice/live.json"))
    assert live["ingests"][0]["client_id"] == "ho-east" and live["ingests"][0]["up"] is True
    rows = {r["branch"]: r for r in live["branches"]}
    assert rows["pudong"]["devices_down_names"] == ["kiosk-2"]
    assert rows["haidian"]["status"] == "stale" and rows["haidian"]["devices_down"] is None
    desk.goto(role.url("/headoffice?lang=zh"))
    cells = desk.locator('tr[data-branch="pudong"] td').all_inner_texts()
    assert cells[6] == "1（kiosk-2）"
    if SHOTS:
        desk.goto(role.url("/headoffice?lang=en"))
        desk.screenshot(path=str(Path(SHOTS) / "headoffice-live-en.png"), full_page=True)


def test_a_report_kept_is_made_again_when_its_days_are_rebuilt(head_office, desk):
    """GIVEN a cross-branch report asked once (the web role keeps it)
    WHEN it is asked again, then a ticket more comes for one of its days and is rebuilt
    THEN the second answer is the kept one, the third counts the new ticket."""
    role, db = head_office
    sign_in(desk, role, "hq")
    url = role.url("/headoffice/reports.json?from=2026-01-05&to=2026-01-06&by=service")
    first = fetched(desk, url)
    assert fetched(desk, url) == first
    seq = db.conn.execute("SELECT max_seq FROM branches WHERE branch = 'xuhui'").fetchone()[0]
    at = datetime(2026, 1, 5, 10, 0, tzinfo=ZoneInfo(ZONE)).timestamp()
    data = '{"ticket": "x-late", "service": "cash", "number": "A999"}'
    row = EventRow("xuhui", 0, seq + 1, at, "ticket_issued", None, None, data)
    db.write(Batch(events=[row], heard={"xuhui"}))
    assert rebuild_due_days(db.conn) >= 1
    assert fetched(desk, url)["total"]["issued"] == first["total"]["issued"] + 1


def advice_rows(page) -> list[list[str]]:
    """The advice table's rows: [service or group (its name), hour, arrivals, …, simulated]."""
    rows = page.locator("table#advice tbody tr").evaluate_all(
        "rows => rows.map(r => [r.className, ...Array.from(r.cells).map(c => c.className"
        " ? c.textContent : c.firstChild.nodeValue)])"
    )
    found, service = [], None
    for kind, *cells in rows:
        if kind == "group":
            service = cells[0]
        else:
            found.append([service, cells[0].removesuffix(":00"), *cells[1:]])
    return found


# A line of the command's table: the service's (or group's) name, its hour, six figures and
# the simulated level ("93% ± 4%", or "–").
PRINTED = re.compile(r"(.+?) +(\d\d) +(\S+) +(\S+) +(\S+) +(\S+) +(\S+) +(\S+) +(.+?) *")


def test_staffing_advice_per_branch_is_the_commands(
    head_office, desk, dsn, example_config, tmp_path
):
    """GIVEN pudong's Monday at the head office, and its config (cash and accounts one
    group) served by the web role WHEN the head-office account asks the staffing page for
    pudong's Mondays at 80/5 THEN, once worked out in the worker process, the page shows the
    table `nowserving headoffice staffing --config` prints, row for row: per group as the
    config groups them, by name, each name's ids under it; in both languages. xuhui, whose
    config the web role was not given, is grouped and named as the branches file's
    `config =` says (`branch_dim`)."""
    role, _ = head_office
    sign_in(desk, role, "hq", "en")
    ask_advice(desk, role, "pudong")
    shown = advice_rows(desk)
    out = subprocess.run(
        [sys.executable, "-m", "nowserving", "headoffice", "staffing", "--dsn", dsn,
         "--branch", "pudong", "--weekday", "mon", "--target", "80/5", "--days", "5",
         "--language", "en", "--config", str(tmp_path / "pudong.toml")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    printed = [list(PRINTED.fullmatch(line).groups()) for line in out.stdout.splitlines()[2:]]
    assert len(shown) > 10 and shown == printed, (shown, out.stdout)
    headings = desk.locator("table#advice tr.group th").all_inner_texts()
    assert {"Personal banking\ncash · accounts", "Loans & mortgages\nloans"} <= set(headings)
    assert not [h for h in headings if h.endswith(("\ncash", "\naccounts"))], headings
    if SHOTS:
        desk.screenshot(path=str(Path(SHOTS) / "headoffice-staffing-en.png"), full_page=True)
    desk.goto(desk.url.replace("lang=en", "lang=zh"))
    desk.locator("table#advice").wait_for()
    zh = {
        "Personal banking": "个人业务",
        **{s.names["en"]: s.names["zh"] for s in example_config.rules.services.values()},
    }
    assert advice_rows(desk) == [[zh[row[0]], *row[1:]] for row in shown]
    assert "排班建议" in desk.title()
    if SHOTS:
        desk.screenshot(path=str(Path(SHOTS) / "headoffice-staffing-zh.png"), full_page=True)
    ask_advice(desk, role, "xuhui")
    headings = desk.locator("table#advice tr.group th").all_inner_texts()
    assert {"Personal banking\ncash · accounts", "Loans & mortgages\nloans"} <= set(headings)
    assert len(advice_rows(desk)) > 10
    if SHOTS:
        desk.screenshot(path=str(Path(SHOTS) / "headoffice-staffing-xuhui-en.png"), full_page=True)


def ask_advice(desk, role, branch: str) -> None:
    """Ask the staffing page for `branch`'s Mondays at 80/5, in en; wait for the table."""
    desk.goto(role.url("/headoffice/staffing?lang=en"))
    desk.locator("select[name=branch]").select_option(branch)
    desk.locator("select[name=weekday]").select_option("mon")
    desk.locator("input[name=target]").fill("80/5")
    with desk.expect_navigation():
        desk.locator("form.staffing-ask button").click()
    desk.locator("table#advice").wait_for(timeout=120_000)  # reloads itself meanwhile


def test_staffing_advice_keeps_to_the_accounts_regions(head_office, desk):
    """GIVEN an account limited to the east region WHEN it opens the staffing page, asks
    for north's haidian (the page and the form) and posts without the CSRF word THEN it is
    offered east's branches only; haidian is 404 both ways; the post without the word 403."""
    role, _ = head_office
    sign_in(desk, role, "east-hq", "en")
    desk.goto(role.url("/headoffice/staffing?lang=en"))
    offered = desk.locator("select[name=branch] option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    assert offered == ["pudong", "xuhui"]
    csrf = desk.locator("input[name=csrf]").first.get_attribute("value")
    assert desk.goto(role.url("/headoffice/staffing?branch=haidian")).status == 404
    form = {"csrf": csrf, "branch": "haidian", "weekday": "mon", "target": "80/10"}
    url = role.url("/headoffice/staffing")
    assert desk.request.post(url, form=form, max_redirects=0).status == 404
    form.update(branch="pudong", csrf="not-the-word")
    assert desk.request.post(url, form=form, max_redirects=0).status == 403
    form.update(csrf=csrf)
    assert desk.request.post(url, form=form, max_redirects=0).status == 303


def test_a_reports_default_range_ends_on_the_branches_own_date(head_office, desk):
    """GIVEN the head office at 17:00 UTC on the 6th (01:00 on the 7th in Shanghai, where
    every branch is) WHEN the report is asked without dates THEN it runs to the 7th, the
    branches' own date, not the 6th (UTC's), and from the 7 days up to it."""
    role, _ = head_office
    evening = datetime(2026, 1, 6, 17, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    role.console.clock.advance(evening - role.console.clock())
    sign_in(desk, role, "hq")
    answer = fetched(desk, role.url("/headoffice/reports.json"))
    assert (answer["from"], answer["to"]) == ("2026-01-01", "2026-01-07"), answer
