"""The derived tables against a real PostgreSQL: a simulated branch's log ingested gives, for
each day, the same report at the head office (from its rollups) as the branch console's
(reports.kpi over the branch's own projection); a rebuild is idempotent; new events mark
their branch-days due and the due rebuild picks them up."""

from __future__ import annotations

import math
import sqlite3
from datetime import date, timedelta

import pytest

from nowserving.headoffice.db import Batch, EventRow, HeadOfficeDb
from nowserving.headoffice.regions import load_regions, read_regions
from nowserving.headoffice.visits import rebuild, rebuild_due_days
from nowserving.reports.crossbranch import cross_report, ranking
from nowserving.reports.kpi import Target, report
from nowserving.reports.visits import VisitProjection

ZONE = "Asia/Shanghai"
TARGETS = {"accounts": Target(0.8, 300.0)}
FIRST = date(2026, 1, 5)  # the sample's first simulated day


def rows_of(log, first: int = 1, last: int | None = None, branch: str = "pudong"):
    with sqlite3.connect(log) as db:
        cursor = db.execute(
            "SELECT seq, at, type, command_id, device, data FROM events WHERE seq >= ? "
            "AND seq <= ? ORDER BY seq",
            (first, last or 10**12),
        )
        return [EventRow(branch, 0, s, at, t, c, d, data) for s, at, t, c, d, data in cursor]


def ingest(db: HeadOfficeDb, rows: list[EventRow]) -> None:
    for i in range(0, len(rows), 2000):
        db.write(Batch(events=rows[i : i + 2000], heard={r.branch for r in rows}))


def branches_file(tmp_path):
    path = tmp_path / "branches.toml"
    path.write_text(
        '[regions.east]\nname = { zh = "华东区", en = "East" }\n'
        '[branches.pudong]\nregion = "east"\nname = { zh = "浦东支行", en = "Pudong" }\n'
        f'timezone = "{ZONE}"\ntargets = {{ accounts = "80/5" }}\n',
        encoding="utf-8",
    )
    return path


def same(head: dict, branch: dict) -> None:
    """Counts equal; times equal to the microsecond PostgreSQL keeps of an event's time."""
    for name, value in branch.items():
        got = head[name]
        if isinstance(value, float) and math.isnan(value):
            assert isinstance(got, float) and math.isnan(got), name
        else:
            assert got == pytest.approx(value, abs=1e-5), name


def test_the_head_office_reports_each_day_as_the_branch_console_does(branch_log, dsn, tmp_path):
    """GIVEN three simulated days of a branch ingested into PostgreSQL and rebuilt
    WHEN each day (and the three together) is reported at the head office from the rollups
    THEN every measure per service and in total equals the branch console's kpi report."""
    with _db(dsn) as db:
        load_regions(db.conn, read_regions(branches_file(tmp_path)))
        ingest(db, rows_of(branch_log))
        done = rebuild(db.conn, ["pudong"])
        again = rebuild(db.conn, ["pudong"])  # idempotent: the same rows again
        assert done == again and done["pudong"][1] > 1000
        with VisitProjection(branch_log, tmp_path / "visits.sqlite") as projection:
            projection.catch_up()
            visits = projection.visits(0, 2e9)
        days = [(FIRST + timedelta(days=n),) * 2 for n in range(3)]
        for first, last in [*days, (FIRST, FIRST + timedelta(days=2))]:
            mine = report(visits, "service", first, last, ZONE, TARGETS)
            by_service = cross_report(db.conn, first, last, "service")
            assert [k for k, _ in by_service.rows] == [k for k, _ in mine.rows]
            for (_, head), (_, branch) in zip(by_service.rows, mine.rows, strict=True):
                same(head, branch)
            same(by_service.total, mine.total)
            same(cross_report(db.conn, first, last, "region").rows[0][1], mine.total)
        assert mine.total["issued"] == len(visits)
        assert mine.total["audited"] > 100  # printed estimates were checked too
        hourly = db.conn.execute("SELECT sum(issued), sum(served) FROM visits_hourly").fetchone()
        assert hourly == (mine.total["issued"], mine.total["served"])


def test_new_events_mark_their_days_and_the_due_rebuild_follows(branch_log, dsn, tmp_path):
    """GIVEN a branch whose first day is in and rebuilt WHEN the rest of its log arrives
    THEN its days are marked due, the due rebuild makes them (and clears the marks), and
    the figures equal a rebuild of everything; a ranking orders branches by a measure."""
    with _db(dsn) as db:
        load_regions(db.conn, read_regions(branches_file(tmp_path)))
        rows = rows_of(branch_log)
        split = next(i for i, r in enumerate(rows) if r.type == "day_started" and i > 0)
        ingest(db, rows[:split])
        assert rebuild_due_days(db.conn) >= 1
        before = cross_report(db.conn, FIRST, FIRST + timedelta(days=2)).total
        ingest(db, rows[split:])
        ingest(db, rows_of(branch_log, branch="xuhui"))
        due = {r[0]: r[1] for r in db.conn.execute(
            "SELECT branch, count(*) FROM rebuild_due GROUP BY branch")}  # fmt: skip
        assert due["pudong"] >= 2 and due["xuhui"] >= 3
        rebuild_due_days(db.conn)
        assert db.conn.execute("SELECT count(*) FROM rebuild_due").fetchone()[0] == 0
        after = cross_report(db.conn, FIRST, FIRST + timedelta(days=2), "branch")
        assert after.rows[0][1]["issued"] > before["issued"]
        rebuild(db.conn)
        again = cross_report(db.conn, FIRST, FIRST + timedelta(days=2), "branch")
        assert again.rows == after.rows
        # xuhui is in UTC (not in the branches file): its days are cut at UTC midnight,
        # and its waits are held to the default target (pudong's accounts: 5 minutes).
        ranked = ranking(again, "within_share")
        assert [k for _, k, _ in ranked] == ["xuhui", "pudong"]
        assert ranked[0][2]["within_share"] > ranked[1][2]["within_share"]


class _db:
    """A HeadOfficeDb closed after the test (psycopg errors surface as themselves)."""

    def __init__(self, dsn: str) -> None:
        self.db = HeadOfficeDb(dsn)

    def __enter__(self) -> HeadOfficeDb:
        return self.db

    def __exit__(self, *exc) -> None:
        self.db.close()
