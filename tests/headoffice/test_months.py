"""Month summaries against a real PostgreSQL: a whole month's cross-branch report read from
its summary equals the same report counted from the daily rollups (every grouping, the
total over every branch and a region's), a rebuild of one of its days or a change of
regions makes the summary unused until it is made again, and `headoffice rebuild` makes it
again."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

from nowserving.cli import main
from nowserving.headoffice.months import SummaryWorker, ready_months, summarize_due
from nowserving.headoffice.regions import load_regions, read_regions
from nowserving.headoffice.visits import rebuild, rebuild_day
from nowserving.reports.crossbranch import GROUPS, cross_report, ranking, summary_report
from nowserving.web.accounts import Account, hash_password, write_accounts
from nowserving.web.console_headoffice import add_headoffice
from nowserving.web.console_headoffice_page import reports_page
from tests.headoffice.test_visits import FIRST, ZONE, _db, ingest, rows_of
from tests.waiting import wait_until
from tests.web.console_fixtures import make_console

JANUARY = (date(2026, 1, 1), date(2026, 1, 31))
BRANCHES = f"""
[regions.east]
name = {{ zh = "华东区", en = "East" }}
[regions.north]
name = {{ zh = "华北区", en = "North" }}
[branches.pudong]
region = "east"
timezone = "{ZONE}"
targets = {{ accounts = "80/5" }}
[branches.xuhui]
region = "east"
timezone = "{ZONE}"
[branches.haidian]
region = "{{region}}"
timezone = "{ZONE}"
"""


def plain(report) -> tuple:
    """A report's rows and total with nan as None (nan is not equal to itself)."""

    def fix(figures: dict) -> dict:
        return {k: None if isinstance(v, float) and math.isnan(v) else v
                for k, v in figures.items()}  # fmt: skip

    return [(k, fix(f)) for k, f in report.rows], fix(report.total)


def regions(db, tmp_path, haidian: str = "north") -> None:
    path = tmp_path / "branches.toml"
    path.write_text(BRANCHES.replace("{region}", haidian), encoding="utf-8")
    load_regions(db.conn, read_regions(path))


def same_as_days(conn, first: date, last: date, branches=None, summarized=True) -> None:
    """Every grouping's report equals the daily rollups' (and came from the summary)."""
    for by in GROUPS:
        kept = summary_report(conn, first, last, by, branches)
        assert (kept is not None) == summarized, (by, branches)
        days = cross_report(conn, first, last, by, branches, summaries=False)
        assert plain(cross_report(conn, first, last, by, branches)) == plain(days), by
        if kept is not None:
            assert plain(kept) == plain(days) and days.total["issued"] > 0


def test_a_month_summary_gives_what_the_daily_rollups_give(branch_log, dsn, tmp_path):
    """GIVEN three branches in two regions (one with an unlisted fourth) with January's
    days rebuilt WHEN the month is summed up THEN a whole-month report of every branch, of
    one region, and up to the last day with rows equals the rollups' for every grouping;
    other ranges and other sets of branches are counted from the rollups."""
    with _db(dsn) as db:
        regions(db, tmp_path)
        rows = rows_of(branch_log)
        third = [i for i, r in enumerate(rows) if r.type == "day_started"][2]
        for branch, upto in (("pudong", None), ("xuhui", third), ("haidian", None),
                             ("loose", third)):  # fmt: skip
            ingest(db, rows_of(branch_log, branch=branch)[:upto])
        rebuild(db.conn)
        assert ready_months(db.conn, 0, 0) == [JANUARY[0]]
        assert summary_report(db.conn, *JANUARY, "branch", None) is None  # not made yet
        assert summarize_due(db.conn, 0, 0) == 1 and ready_months(db.conn, 0, 0) == []
        same_as_days(db.conn, *JANUARY)
        same_as_days(db.conn, *JANUARY, ["pudong", "xuhui", "haidian", "loose", "never"])
        same_as_days(db.conn, *JANUARY, ["pudong", "xuhui"])  # the east region's
        last_day = FIRST + timedelta(days=3)  # the third day's last visits end after midnight
        same_as_days(db.conn, JANUARY[0], last_day)
        same_as_days(db.conn, JANUARY[0], FIRST + timedelta(days=1), summarized=False)
        same_as_days(db.conn, FIRST, JANUARY[1], summarized=False)
        same_as_days(db.conn, *JANUARY, ["pudong"], summarized=False)  # some of a region
        same_as_days(db.conn, *JANUARY, ["pudong", "haidian"], summarized=False)  # two
        total = cross_report(db.conn, *JANUARY, "region")
        assert [k for k, _ in total.rows] == ["", "east", "north"]
        assert total.total["issued"] == sum(f["issued"] for _, f in total.rows)


def test_a_rebuild_or_new_regions_make_it_again(branch_log, dsn, tmp_path):
    """GIVEN January summed up WHEN one day of a branch is rebuilt THEN the report is counted
        from the rollups (the summary is unused) until the month is summed up again: after it
        settles, or at the latest after the longest delay; WHEN a branch moves to another region
        THEN the same (the web role may show the older summary meanwhile, saying when it was
    made); `headoffice rebuild` and the ingest's child process make it again."""
    with _db(dsn) as db:
        regions(db, tmp_path)
        for branch in ("pudong", "haidian"):
            ingest(db, rows_of(branch_log, branch=branch))
        rebuild(db.conn)
        summarize_due(db.conn, 0, 0)
        same_as_days(db.conn, *JANUARY)
        made = summary_report(db.conn, *JANUARY, "branch", None)
        rebuild_day(db.conn, "pudong", FIRST + timedelta(days=1))
        same_as_days(db.conn, *JANUARY, summarized=False)
        # The web role shows a summary older than the rollups, saying when it was made.
        older = summary_report(db.conn, *JANUARY, "branch", None, stale_s=600)
        assert made.as_of is None and older.as_of is not None and plain(older) == plain(made)
        when = datetime.fromtimestamp(older.as_of, UTC).strftime("%H:%M UTC")
        answer = (older, ranking(older, "issued"), {}, {})
        for language, words in (("en", "summary of"), ("zh", "本月汇总制于")):
            view = {
                "language": language,
                "account": "hq",
                "csrf": "x",
                "error": "",
                "by": "branch",
                "rank": "issued",
                "from": "2026-01-01",
                "to": "2026-01-31",
            }
            page = reports_page(view, answer)
            assert f"{words} {when}" in page and "&amp;" not in page  # escaped once
        assert ready_months(db.conn) == []  # marked just now: it settles first
        assert ready_months(db.conn, 30, 0) == [JANUARY[0]]  # waited long enough
        summarize_due(db.conn, 0, 0)
        same_as_days(db.conn, *JANUARY)
        regions(db, tmp_path, haidian="east")
        same_as_days(db.conn, *JANUARY, summarized=False)
        assert ready_months(db.conn, 0, 0) == [JANUARY[0]]
        summarize_due(db.conn, 0, 0)
        same_as_days(db.conn, *JANUARY)
        same_as_days(db.conn, *JANUARY, ["pudong", "haidian"])  # now the east region
        made = db.conn.execute("SELECT made_at FROM month_summary_made").fetchone()[0]
        command = ["headoffice", "rebuild", "--dsn", dsn, "--branch", "haidian",
                   "--from", str(FIRST), "--to", str(FIRST)]  # fmt: skip
        assert main(command) == 0
        again = db.conn.execute("SELECT made_at FROM month_summary_made").fetchone()[0]
        assert again > made and ready_months(db.conn, 0, 0) == []
        same_as_days(db.conn, *JANUARY)
        # The ingest's way: its rebuild thread has a child process sum the month up.
        rebuild_day(db.conn, "pudong", FIRST)
        worker = SummaryWorker(dsn, check_s=0, settle_s=0)
        try:
            wait_until(lambda: (worker.poll(db.conn), worker.summarized)[1] == 1, 60,
                       "the month summed up in the child process")  # fmt: skip
        finally:
            worker.close()
        same_as_days(db.conn, *JANUARY)
        # The web role's report kept: made again from the newer summary once it is there.
        pages = head_office_pages(dsn, tmp_path)
        try:
            assert pages.report(Everyone(), *JANUARY, "branch", "issued")[0].as_of is None
            rebuild_day(db.conn, "haidian", FIRST)
            older = pages.report(Everyone(), *JANUARY, "branch", "issued")[0]
            assert older.as_of is not None
            summarize_due(db.conn, 0, 0)
            newer = pages.report(Everyone(), *JANUARY, "branch", "issued")[0]
            assert newer.as_of is None and newer is not older
        finally:
            pages.close()


class Everyone:
    """A head-office account that sees every branch."""

    name, role = "hq", "head_office"

    def sees(self, branch, region) -> bool:
        return True


def head_office_pages(dsn: str, folder):
    """The web role's head-office pages over `dsn` (no HTTP: their report function)."""
    accounts = folder / "users.json"
    hashed = hash_password("pw-test-12345", n=1 << 10, r=8, p=1)
    write_accounts(accounts, {"hq": Account("hq", "head_office", (), hashed, ())})
    console = make_console([], None, accounts, folder, client_id="web-test")
    return add_headoffice(console, dsn)
