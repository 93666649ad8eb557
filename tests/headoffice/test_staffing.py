"""Staffing advice at the head office against a real PostgreSQL: a branch's simulated days
ingested there give the same learned weekday and the same advice (Erlang C and A per
service and hour) as the branch console's, which reads the branch's own log."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nowserving.headoffice.db import HeadOfficeDb
from nowserving.headoffice.regions import load_regions, read_regions
from nowserving.headoffice.staffing import learn_branch
from nowserving.reports.history import learn
from nowserving.reports.sample import write_sample_log
from nowserving.reports.staffing import Target, advise
from tests.headoffice.test_visits import ZONE, branches_file, ingest, rows_of


def test_the_head_office_advises_as_the_branch_console_does(dsn, tmp_path):
    """GIVEN two simulated days (a Monday and a Tuesday) of a branch in Shanghai, ingested
    WHEN Monday's staffing is learned from PostgreSQL and from the branch's log
    THEN the history and every row of the advice are the same; the command prints it."""
    log = tmp_path / "events.sqlite"
    write_sample_log(log, days=2, seed=9, timezone=ZONE)
    db = HeadOfficeDb(dsn)
    try:
        load_regions(db.conn, read_regions(branches_file(tmp_path)))
        ingest(db, rows_of(log))
        target = Target.parse("80/5")
        here = learn_branch(db.conn, "pudong", "mon", target.wait_s)
    finally:
        db.close()
    there = learn(log, "mon", ZONE, target.wait_s)
    assert here.days == there.days == 1 and here.services.keys() == there.services.keys()
    rows, expected = advise(here, target), advise(there, target)
    assert len(rows) == len(expected) > 10
    for mine, theirs in zip(rows, expected, strict=True):
        # Counts and counters exactly; times to the microsecond PostgreSQL keeps of them.
        assert (mine.service, mine.hour, mine.arrivals_per_hour, mine.proposed) == (
            theirs.service,
            theirs.hour,
            theirs.arrivals_per_hour,
            theirs.proposed,
        )
        assert mine.erlang_c.counters == theirs.erlang_c.counters
        for name in ("mean_service_s", "patience_s", "had", "level_got"):
            assert getattr(mine, name) == pytest.approx(getattr(theirs, name), abs=1e-4), name
    out = subprocess.run(
        [sys.executable, "-m", "nowserving", "headoffice", "staffing", "--dsn", dsn,
         "--branch", "pudong", "--weekday", "mon", "--target", "80/5", "--days", "5",
         "--language", "en"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "accounts" in out.stdout and "Erlang" in out.stdout, out.stdout
