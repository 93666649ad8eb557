"""A report's default last day at the head office: each branch's own date in its zone, the
latest among those an account sees (not the date in UTC: from 16:00 UTC a Shanghai branch is
already in its tomorrow)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from nowserving.headoffice.db import HeadOfficeDb
from nowserving.headoffice.regions import load_regions, read_regions
from nowserving.reports.stored import latest_local_date, local_dates
from nowserving.web.accounts import Account
from tests.headoffice.test_upkeep import batch

BRANCHES = """
[regions.east]
name = { zh = "华东区", en = "East" }
[regions.west]
name = { zh = "西区", en = "West" }
[branches.pudong]
region = "east"
timezone = "Asia/Shanghai"
[branches.london]
region = "west"
timezone = "Europe/London"
"""
EVENING = datetime(2026, 12, 7, 17, 0, tzinfo=UTC).timestamp()  # 01:00 on the 8th in Shanghai


def test_the_default_day_is_the_latest_of_the_branches_own_dates(dsn, tmp_path):
    """GIVEN pudong (Shanghai, east), london (west) and a branch the file does not list, at
    17:00 UTC WHEN the default last day is asked for an account of all regions and one of
    the west THEN pudong's is the 8th, london's and the unlisted one's (UTC) the 7th; all
    regions → the 8th, the west → the 7th; no branch at all → the date in UTC."""
    (tmp_path / "branches.toml").write_text(BRANCHES, encoding="utf-8")
    db = HeadOfficeDb(dsn)
    try:
        load_regions(db.conn, read_regions(tmp_path / "branches.toml"))
        db.write(batch("unlisted", [1], EVENING - 60))
        dates = local_dates(db.conn, EVENING)
    finally:
        db.close()
    assert dates == {"pudong": ("east", date(2026, 12, 8)),
                     "london": ("west", date(2026, 12, 7)),
                     "unlisted": (None, date(2026, 12, 7))}  # fmt: skip
    everyone = Account("hq", "head_office", (), "", ())
    west = Account("west-hq", "head_office", (), "", ("west",))
    assert latest_local_date(dates, EVENING, everyone.sees) == date(2026, 12, 8)
    assert latest_local_date(dates, EVENING, west.sees) == date(2026, 12, 7)
    assert latest_local_date({}, EVENING) == date(2026, 12, 7)
