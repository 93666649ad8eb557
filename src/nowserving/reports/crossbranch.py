"""Cross-branch reports from the head office's daily rollups (PostgreSQL's `visits_daily`,
made by headoffice/visits.py; the connection passed in): the measures of `reports.kpi` per branch,
region or service over a range of days, and rankings of branches by one of them.

A rollup row holds a kpi tally as it was counted (its counts and its sorted figures), so
the measures here are computed by the same `Tally.figures()` as the branch console's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from nowserving.reports.kpi import OUTCOMES, RATINGS, ReportError, Tally

GROUPS = ("branch", "region", "service")
# What a ranking may order branches by: measure -> whether higher is better.
RANKINGS = {"within_share": True, "wait_p90": False, "service_mean": False,
            "satisfied_share": True, "no_shows": False, "abandonment": False,
            "issued": True}  # fmt: skip
_OUTCOME_COLUMNS = {"served": "served", "no_show": "no_shows", "cancelled": "cancelled",
                    "expired": "expired", "open": "open"}  # fmt: skip
_QUERY = """
SELECT d.branch, coalesce(b.region, ''), d.service, d.issued, d.served, d.no_shows,
       d.cancelled, d.expired, d.open, d.transferred, d.within_target, d.satisfied, d.neutral,
       d.unsatisfied, d.audited, d.inside_range, d.waits, d.services, d.services_satisfied,
       d.services_neutral, d.services_unsatisfied
FROM visits_daily d LEFT JOIN branch_dim b ON b.branch = d.branch
WHERE d.day >= %s AND d.day <= %s AND (%s::text[] IS NULL OR d.branch = ANY(%s::text[]))
"""


@dataclass
class CrossReport:
    """Measures per group (sorted by key) and over all, for `first`..`last`."""

    by: str
    first: date
    last: date
    rows: list[tuple[str, dict]]
    total: dict


def _tally(row: tuple) -> Tally:
    """A rollup row's tally again, as `reports.kpi` counted it."""
    t = Tally()
    (issued, served, no_shows, cancelled, expired, open_, t.transferred, t.within, sat, neu,
     unsat, t.audited, t.inside, waits, services, *rated) = row  # fmt: skip
    t.issued = issued
    t.outcomes = dict(zip(OUTCOMES, (served, no_shows, cancelled, expired, open_), strict=True))
    t.ratings = dict(zip(RATINGS, (sat, neu, unsat), strict=True))
    t.waits, t.services = list(waits), list(services)
    t.rated_service = {r: list(v) for r, v in zip(RATINGS, rated, strict=True)}
    return t


def cross_report(conn, first: date, last: date, by: str = "branch",
                 branches: list[str] | None = None) -> CrossReport:  # fmt: skip
    """The measures of `branches` (None: all) over local days `first`..`last`, per `by`."""
    if by not in GROUPS:
        raise ReportError(f"a cross-branch report is by one of {', '.join(GROUPS)}, not {by!r}")
    if last < first:
        raise ReportError(f"the range ends ({last}) before it begins ({first})")
    groups: dict[str, Tally] = {}
    index = GROUPS.index(by)
    # Binary: the sorted arrays come as doubles, not as text to parse (2.6x faster to read).
    cursor = conn.cursor(binary=True).execute(_QUERY, (first, last, branches, branches))
    for row in cursor:
        key = row[index]
        tally = _tally(row[3:])
        mine = groups.get(key)
        if mine is None:
            groups[key] = tally
        else:
            mine.merge(tally)
    total = Tally()
    for tally in groups.values():
        total.merge(tally)
    rows = [(k, groups[k].figures()) for k in sorted(groups)]
    return CrossReport(by, first, last, rows, total.figures())


def ranking(report: CrossReport, measure: str) -> list[tuple[int, str, dict]]:
    """The report's rows ranked best first by `measure` (one of RANKINGS); rows with no
    figure for it come last. Each as (rank, key, figures)."""
    if measure not in RANKINGS:
        raise ReportError(f"a ranking is by one of {', '.join(RANKINGS)}, not {measure!r}")
    higher = RANKINGS[measure]

    def order(item: tuple[str, dict]) -> tuple:
        value = item[1][measure]
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        return (missing, 0 if missing else (-value if higher else value), item[0])

    return [(n, k, f) for n, (k, f) in enumerate(sorted(report.rows, key=order), start=1)]
