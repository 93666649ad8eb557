"""The console's reports in a real browser (Debian's chromium, Playwright) against the real
server, Mosquitto and the web role: a simulated month's report whose totals equal the
counts in the log, its CSV and XLSX (opened with openpyxl) matching, the print view, and
the refusals. NOWSERVING_SCREENSHOTS=<folder> saves the page in zh and en (docs/screenshots).
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
from pathlib import Path

import pytest

from nowserving.reports.sample import write_sample_log
from nowserving.web.console_reports import add_reports
from tests.web.conftest import CHROMIUM
from tests.web.console_fixtures import make_console, serving_console
from tests.web.test_console import sign_in

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
SHOTS = os.environ.get("NOWSERVING_SCREENSHOTS")
MONTH = "from=2026-01-01&to=2026-02-28"


@pytest.fixture(scope="module")
def month_log(tmp_path_factory):
    path = tmp_path_factory.mktemp("month") / "events.sqlite"
    write_sample_log(path, days=30, seed=4, timezone="Asia/Shanghai")
    return path


@pytest.fixture
def reports_console(broker, example_config, server, clock, accounts_file, month_log, tmp_path):
    """The web role serving pudong with its console, whose reports read `month_log`."""
    console = make_console([example_config], broker, accounts_file, tmp_path, clock)
    reports = add_reports(console, {"pudong": month_log}, tmp_path / "reports")
    try:
        with serving_console(console, clock) as role:
            yield role
    finally:
        reports.close()


@pytest.fixture
def desk(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    yield context.new_page()
    context.close()


def log_counts(log: Path) -> dict[str, int]:
    with sqlite3.connect(log) as db:
        return dict(db.execute("SELECT type, COUNT(*) FROM events GROUP BY type").fetchall())


def test_a_months_report_its_exports_and_print_view(reports_console, desk, month_log):
    """GIVEN anna, manager of pudong, and a simulated month in its log WHEN she opens the
    reports from the live page and asks for the month per service THEN the totals equal the
    log's counts, three charts are drawn, the CSV and XLSX hold the same table, and the
    print view hides the form."""
    counts = log_counts(month_log)
    sign_in(desk, reports_console, "anna")
    with desk.expect_navigation():
        desk.locator(
            "nav.pages a", has_text="Reports"
        ).click()  # the live page's link to the reports
    assert desk.locator("form.filters").is_visible()
    desk.goto(reports_console.url(f"/pudong/reports?{MONTH}&by=service&lang=en"))
    total = desk.locator("tr.total td")
    assert total.nth(0).inner_text() == f"{counts['ticket_issued']:,}"
    assert total.nth(1).inner_text() == f"{counts['ticket_finished']:,}"
    assert desk.locator("svg.chart").count() == 3
    assert (
        "(1002)"
        in desk.locator("#outliers tbody th, #outliers tr th[scope=row]").first.inner_text()
    )  # the slow one
    if SHOTS:
        desk.screenshot(path=str(Path(SHOTS) / "console-reports-en.png"), full_page=True)
        desk.goto(reports_console.url(f"/pudong/reports?{MONTH}&by=hour&lang=zh"))
        desk.screenshot(path=str(Path(SHOTS) / "console-reports-zh.png"), full_page=True)
        desk.goto(reports_console.url(f"/pudong/reports?{MONTH}&by=service&lang=en"))

    with desk.expect_download() as got:
        desk.locator("a.button", has_text="CSV").click()
    text = Path(got.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    with desk.expect_download() as got:
        desk.locator("a.button", has_text="XLSX").click()
    import openpyxl

    assert got.value.suggested_filename == "pudong-service-2026-01-01-2026-02-28.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(Path(got.value.path()).read_bytes()))
    sheet = book.worksheets[0]
    cells = [["" if c is None else c for c in row] for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == cells[0] and rows[0][:3] == ["Service", "Issued", "Served"]
    assert len(rows) == len(cells) == 2 + 5  # header, five services, the total
    assert rows[-1][0] == cells[-1][0] == "All"
    assert int(rows[-1][1]) == cells[-1][1] == counts["ticket_issued"]
    assert int(rows[-1][2]) == cells[-1][2] == counts["ticket_finished"]
    for text_row, cell_row in zip(rows[1:], cells[1:], strict=True):
        assert [float(x) if x else "" for x in text_row[1:]] == pytest.approx(cell_row[1:])

    twin = desk.context.request.get(reports_console.url(f"/pudong/reports.json?{MONTH}"))
    assert twin.json()["total"]["issued"] == counts["ticket_issued"]

    desk.emulate_media(media="print")
    assert not desk.locator("form.filters").is_visible()
    assert desk.locator("table.report").first.is_visible()
    if SHOTS:  # an A4 landscape page's width, as the print view lays it out
        desk.set_viewport_size({"width": 1050, "height": 740})
        desk.screenshot(path=str(Path(SHOTS) / "console-reports-print.png"), full_page=True)
        desk.pdf(path=str(Path(SHOTS) / "console-reports.pdf"), landscape=True)


def test_bad_ranges_and_other_branches_are_refused(reports_console, desk):
    """GIVEN a signed-in manager WHEN she asks for a malformed date, a range that runs
    backwards, or sam (supervisor of minhang) asks for pudong THEN a clear message (400),
    and a 404 for the branch he does not see; sue, pudong's supervisor, gets a 403 (reports
    are a manager's)."""
    sign_in(desk, reports_console, "anna", lang="zh")
    reply = desk.goto(reports_console.url("/pudong/reports?from=2026-13-01&lang=zh"))
    assert reply.status == 400
    assert "YYYY-MM-DD" in desk.locator("p.error").inner_text()
    reply = desk.goto(reports_console.url("/pudong/reports?from=2026-02-01&to=2026-01-01"))
    assert reply.status == 400
    desk.context.clear_cookies()
    sign_in(desk, reports_console, "sam")
    assert desk.goto(reports_console.url("/pudong/reports")).status == 404
    assert desk.goto(reports_console.url("/pudong/reports.csv")).status == 404
    desk.context.clear_cookies()
    sign_in(desk, reports_console, "sue")
    assert desk.goto(reports_console.url("/pudong/reports.csv")).status == 403
    assert desk.goto(reports_console.url("/pudong/reports?lang=en")).status == 403
    desk.get_by_text("A supervisor account may not see the reports.").wait_for()


def test_the_web_roles_log_options_are_checked(tmp_path, month_log):
    """GIVEN `nowserving web --log` options WHEN one is malformed, names a branch not served
    or a file that is not there THEN each is reported at once, with what to give."""
    from nowserving.cli.device import _branch_logs
    from nowserving.errors import ConfigError

    assert _branch_logs([f"pudong={month_log}"], ["pudong"]) == {"pudong": month_log}
    with pytest.raises(ConfigError) as info:
        _branch_logs(["pudong", f"minhang={month_log}", f"pudong={tmp_path}/none"], ["pudong"])
    assert len(info.value.problems) == 3
    assert "BRANCH=FILE" in info.value.problems[0]
    assert "no --config serves branch 'minhang'" in info.value.problems[1]
    assert "there is no event log" in info.value.problems[2]
