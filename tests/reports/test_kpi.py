"""The KPI library and the visits projection against a simulated month's event log: totals
equal the counts taken straight from the log, percentiles equal the waits worked out
directly, and a projection caught up in pieces equals one built at once."""

from __future__ import annotations

import json
import shutil
import sqlite3
import statistics
from dataclasses import replace
from datetime import date

import pytest

from nowserving.reports.kpi import (
    GROUPINGS,
    ReportError,
    Rollup,
    Target,
    Visit,
    percentile,
    report,
    staff_outliers,
)
from nowserving.reports.sample import write_sample_log
from nowserving.reports.visits import VisitProjection

WHOLE = (date(2025, 12, 1), date(2026, 3, 1))


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    """A simulated month (30 bank days, ~10,000 tickets) with staff and ratings."""
    path = tmp_path_factory.mktemp("month") / "events.sqlite"
    write_sample_log(path, days=30, seed=4)
    return path


def counted(log) -> dict:
    """Counts and waits straight from the log's events, without the projection."""
    counts: dict[str, int] = {}
    issued, waits = {}, []
    with sqlite3.connect(log) as db:
        for kind, at, data in db.execute("SELECT type, at, data FROM events ORDER BY seq"):
            counts[kind] = counts.get(kind, 0) + 1
            if kind == "ticket_issued":
                issued[json.loads(data)["ticket"]] = at
            elif kind == "ticket_called":
                ticket = json.loads(data)["ticket"]
                if ticket in issued:
                    waits.append(at - issued.pop(ticket))
            elif kind == "ticket_rated":
                rating = json.loads(data)["rating"]
                counts[rating] = counts.get(rating, 0) + 1
    return {**counts, "waits": sorted(waits)}


def test_a_months_totals_equal_the_counts_in_the_log(month, tmp_path):
    """GIVEN a simulated month's log WHEN it is projected and reported per service THEN the
    totals equal the log's own counts, and wait percentiles the waits worked out directly."""
    log = counted(month)
    with VisitProjection(month, tmp_path / "visits.sqlite") as projection:
        projection.catch_up()
        visits = projection.visits(0, 2e9)
    result = report(visits, "service", *WHOLE, "Asia/Shanghai")
    total = result.total
    assert total["issued"] == log["ticket_issued"] > 9000
    assert total["served"] == log["ticket_finished"]
    assert total["no_shows"] == log["ticket_no_show"] > 0
    assert total["abandoned"] == log["ticket_no_show"] + log.get("ticket_cancelled", 0)
    for rating in ("satisfied", "neutral", "unsatisfied"):
        assert total[rating] == log[rating] > 0
    assert sum(f["issued"] for _, f in result.rows) == total["issued"]
    waits = log["waits"]
    p90 = statistics.quantiles(waits, n=10, method="inclusive")[-1]
    assert total["wait_p90"] == pytest.approx(p90)
    assert total["wait_mean"] == pytest.approx(statistics.fmean(waits))
    within = sum(1 for w in waits if w <= 600)
    assert total["within_target"] == within
    # Every grouping shares out the same tickets, and days kept by a Rollup (and made again
    # once a visit of theirs changed) give what a report counted afresh gives.
    rollup = Rollup("Asia/Shanghai")
    for by in GROUPINGS:
        fresh = report(visits, by, *WHOLE, "Asia/Shanghai")
        assert sum(f["issued"] for _, f in fresh.rows) == total["issued"]
        assert same(rollup.report(lambda s, e: visits, by, *WHOLE), fresh)
        assert same(rollup.report(lambda s, e: [], by, *WHOLE), fresh)  # from its days alone
    changed = replace(visits[0], outcome="cancelled", called_at=None)
    rollup.forget([changed.issued_at])
    again = [changed, *visits[1:]]
    fresh = report(again, "hour", *WHOLE, "Asia/Shanghai")
    assert same(rollup.report(lambda s, e: again, "hour", *WHOLE), fresh)


def same(a, b) -> bool:
    """Two reports with the same figures (nan equal to nan, sums to rounding)."""

    def close(x, y):
        return (x != x and y != y) or x == pytest.approx(y, rel=1e-9, abs=1e-9)

    pairs = [(a.total, b.total), *((f, g) for (_, f), (_, g) in zip(a.rows, b.rows, strict=True))]
    keys_equal = [k for k, _ in a.rows] == [k for k, _ in b.rows]
    return (
        keys_equal
        and a.outliers == b.outliers
        and all(close(f[m], g[m]) for f, g in pairs for m in f)
    )


def test_the_projection_catches_up_from_where_it_stood(month, tmp_path):
    """GIVEN a projection of the log's first part (a copy cut short) WHEN it is reopened on
    the whole log THEN it reads only the events after and ends equal to one built at once."""
    cut = tmp_path / "cut.sqlite"
    shutil.copy(month, cut)
    with sqlite3.connect(cut) as db:
        last = db.execute("SELECT MAX(seq) FROM events").fetchone()[0]
        db.execute("DELETE FROM events WHERE seq > ?", (last - 3000,))
    with VisitProjection(cut, tmp_path / "a.sqlite") as projection:
        projection.catch_up()
        assert projection.seq == last - 3000
    with VisitProjection(month, tmp_path / "a.sqlite") as projection:
        before = len(projection.visits(0, 2e9))  # in memory from here: kept up to date too
        assert 0 < projection.catch_up() <= 3000
        assert projection.seq == last
        assert projection.catch_up() == 0  # nothing new: nothing read
        pieces = projection.visits(0, 2e9)
        assert len(pieces) > before
    with VisitProjection(month, tmp_path / "b.sqlite") as projection:
        projection.catch_up()
        whole = projection.visits(0, 2e9)
    assert sorted(whole, key=lambda v: v.ticket) == sorted(pieces, key=lambda v: v.ticket)
    assert len(whole) > 9000


def test_the_slow_counters_staff_stand_out(month, tmp_path):
    """GIVEN a month where counter c2 works at 0.6 of the speed WHEN staff are compared with
    their service's norm THEN c2's staff member (1002) is the one who stands out."""
    with VisitProjection(month, tmp_path / "visits.sqlite") as projection:
        projection.catch_up()
        found = staff_outliers(projection.visits(0, 2e9))
    assert {o["staff"] for o in found} == {"1002"}
    assert all(o["ratio"] > 1.5 and o["served"] >= 20 for o in found)


def test_each_visit_is_held_to_its_own_services_target():
    """GIVEN two services with different targets WHEN grouped by hour THEN a wait counts as
    within target by its own service's target; the audit counts only ranges still theirs."""
    at = 1_800_000_000.0
    visits = [
        Visit("a", "cash", at, at + 500, at + 500, at + 700, "served", estimate_low=300.0,
              estimate_high=600.0),
        Visit("b", "loans", at, at + 1000, at + 1000, at + 2000, "served", rating="satisfied"),
        Visit("c", "cash", at, None, None, at + 100, "cancelled"),
        Visit("d", "cash", at, at + 200, at + 200, at + 230, "no_show", estimate_low=10.0,
              estimate_high=100.0),
    ]  # fmt: skip
    targets = {"loans": Target.parse("80/20")}
    result = report(visits, "hour", date(2027, 1, 1), date(2027, 1, 31), "UTC", targets)
    assert result.total["within_target"] == 3  # a (500 <= 600), b (1000 <= 1200), d
    assert result.total["within_share"] == 0.75
    assert result.total["abandoned"] == 2 and result.total["abandonment"] == 0.5
    assert result.total["audited"] == 2 and result.total["inside_range"] == 1
    assert result.total["service_p50"] == 600.0  # (200 + 1000) / 2: served only
    assert result.total["service_mean_satisfied"] == 1000.0


def test_percentiles_and_bad_input():
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.9) == pytest.approx(3.7)
    assert Target.parse("90/5") == Target(0.9, 300.0)
    with pytest.raises(ReportError, match="percent/minutes"):
        Target.parse("ninety")
    with pytest.raises(ReportError, match="before it begins"):
        report([], "service", date(2026, 2, 1), date(2026, 1, 1))
    with pytest.raises(ReportError, match="grouped by one of"):
        report([], "colour", date(2026, 1, 1), date(2026, 1, 1))


def test_the_estimate_audit_agrees_with_nowserving_audit(tmp_path):
    """GIVEN two simulated days whose tickets carry the estimate printed on them WHEN they
    are reported THEN the tickets audited and called inside their range are those that
    `nowserving audit` (audit.py) counts from the same log."""
    from nowserving.audit import audit_rows

    log = tmp_path / "events.sqlite"
    write_sample_log(log, days=2, estimates=True, seed=2)
    with VisitProjection(log, tmp_path / "visits.sqlite") as projection:
        projection.catch_up()
        total = report(projection.visits(0, 2e9), "service", *WHOLE).total
    rows = audit_rows(log)
    assert total["audited"] == sum(r["called"] for r in rows) > 500
    assert total["inside_range"] == sum(r["inside"] for r in rows) > 0
