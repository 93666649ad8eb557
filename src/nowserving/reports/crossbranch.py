"""Cross-branch reports from the head office's daily rollups (PostgreSQL's `visits_daily`,
made by headoffice/visits.py; the connection passed in): the measures of `reports.kpi` per branch,
region or service over a range of days, and rankings of branches by one of them.

A rollup row holds a kpi tally as it was counted (its counts and its sorted figures), so
the measures here are computed by the same `Tally.figures()` as the branch console's.

A report of one whole calendar month reads the month's summary instead (`month_summaries`,
made by headoffice/months.py with `month_figures` below from the same rollup rows) while
that summary is still what the rollups give: the same rows counted, none made since, the
same regions. Any other range, a stale summary, or a set of branches it does not hold (more
than one region, some of a region) is counted from the daily rollups as before.
"""

from __future__ import annotations

import json
import math
from calendar import monthrange
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
# The daily rollups' columns, in the order the tallies read them (the report and the month
# summaries read the same).
_DAILY_ROWS = """
SELECT d.branch, coalesce(b.region, ''), d.service, d.issued, d.served, d.no_shows,
       d.cancelled, d.expired, d.open, d.transferred, d.within_target, d.satisfied, d.neutral,
       d.unsatisfied, d.audited, d.inside_range, d.waits, d.services, d.services_satisfied,
       d.services_neutral, d.services_unsatisfied
FROM visits_daily d LEFT JOIN branch_dim b ON b.branch = d.branch
"""
_QUERY = f"""{_DAILY_ROWS}\
WHERE d.day >= %s AND d.day <= %s AND (%s::text[] IS NULL OR d.branch = ANY(%s::text[]))
"""


# A month's rollup rows as they stand: what its summary is made from and checked against.
MONTH_VERSION = """
SELECT (SELECT count(*) FROM visits_daily WHERE day >= %(first)s AND day <= %(last)s),
       (SELECT max(made_at) FROM visits_daily WHERE day >= %(first)s AND day <= %(last)s),
       (SELECT max(day) FROM visits_daily WHERE day >= %(first)s AND day <= %(last)s),
       (SELECT md5(string_agg(branch || '=' || coalesce(region, ''), ',' ORDER BY branch))
        FROM branch_dim)
"""
_SUMMARY_MADE = """
SELECT rows, newest, last_day, regions, extract(epoch FROM made_at)::float8,
       extract(epoch FROM clock_timestamp() - made_at)::float8
FROM month_summary_made WHERE month = %s
"""
_SUMMARY = "SELECT grouping, region, key, figures::text FROM month_summaries WHERE month = %s"


@dataclass
class CrossReport:
    """Measures per group (sorted by key) and over all, for `first`..`last`."""

    by: str
    first: date
    last: date
    rows: list[tuple[str, dict]]
    total: dict
    # When the figures are a month summary older than the rollups (Unix time it was made);
    # None: they are what the rollups give now.
    as_of: float | None = None


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
                 branches: list[str] | None = None,
                 summaries: bool = True, stale_s: float = 0.0) -> CrossReport:  # fmt: skip
    """The measures of `branches` (None: all) over local days `first`..`last`, per `by`
    (from the month's summary when it holds them and `summaries`, else the daily rollups;
    with `stale_s`, a summary made up to that long ago even if days were rebuilt since:
    then the report's `as_of` says when it was made)."""
    if by not in GROUPS:
        raise ReportError(f"a cross-branch report is by one of {', '.join(GROUPS)}, not {by!r}")
    if last < first:
        raise ReportError(f"the range ends ({last}) before it begins ({first})")
    if summaries:
        found = summary_report(conn, first, last, by, branches, stale_s)
        if found is not None:
            return found
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


def month_end(first: date) -> date:
    """The last day of `first`'s month."""
    return first.replace(day=monthrange(first.year, first.month)[1])


def whole_month(first: date, last: date) -> bool:
    """Whether `first`..`last` is (the start of) one calendar month: from its 1st day."""
    return first.day == 1 and last <= month_end(first)


def month_figures(rows) -> list[tuple[str, str, str, dict]]:
    """A month's summary rows (grouping, region, key, figures) from its rollup rows as
    `MONTH_ROWS` reads them: per branch, per region, per service and in all, over every
    branch (region '') and over each region's branches (its services and total). Each set of
    figures is `Tally.figures()` of the same values a report over the days merges, so they
    are the same numbers (the sums are taken over the sorted values: the order rows come in
    does not matter)."""
    branches: dict[str, Tally] = {}
    region_of: dict[str, str] = {}
    cells: dict[tuple[str, str], Tally] = {}  # (region, service)
    for row in rows:
        branch, region, service = row[0], row[1], row[2]
        tally = _tally(row[3:])
        region_of[branch] = region
        for groups, key in ((branches, branch), (cells, (region, service))):
            mine = groups.get(key)
            if mine is None:
                groups[key] = mine = Tally()
            mine.merge(tally)
    out = [("branch", "", b, branches[b].figures()) for b in sorted(branches)]
    # Wider groups from the sorted narrower ones (sorting merged sorted runs is quick); each
    # narrower set let go once merged (a month of 500 branches holds ~13 M values).
    regions: dict[str, Tally] = {}
    for b in sorted(branches):
        regions.setdefault(region_of[b], Tally()).merge(branches.pop(b))
    services: dict[str, Tally] = {}
    for region, service in sorted(cells):
        cell = cells.pop((region, service))
        if region:  # branches in no region: no account is limited to them
            out.append(("service", region, service, cell.figures()))
        services.setdefault(service, Tally()).merge(cell)
    total = Tally()
    for region in sorted(regions):
        tally = regions.pop(region)
        figures = tally.figures()
        out.append(("region", "", region, figures))
        if region:
            out.append(("total", region, "", figures))
        total.merge(tally)
    out += [("service", "", s, services.pop(s).figures()) for s in sorted(services)]
    out.append(("total", "", "", total.figures()))
    return out


MONTH_ROWS = f"""{_DAILY_ROWS}\
WHERE d.day >= %(first)s AND d.day <= %(last)s
"""


def dump_figures(figures: dict) -> str:
    """Figures as JSON for `month_summaries.figures` (nan as null: JSON has no nan)."""
    return json.dumps({k: None if isinstance(v, float) and math.isnan(v) else v
                       for k, v in figures.items()}, allow_nan=False)  # fmt: skip


def load_figures(text: str) -> dict:
    """`dump_figures`'s figures again (null back to nan)."""
    return {k: math.nan if v is None else v for k, v in json.loads(text).items()}


def summary_report(conn, first: date, last: date, by: str, branches: list[str] | None,
                   stale_s: float = 0.0) -> CrossReport | None:  # fmt: skip
    """The report from the month's summary, or None when it cannot give it: not one whole
    month, no summary, a summary older than the month's rollups (rows made, removed since)
    unless made within `stale_s` (then `as_of` says when), other regions than when it was
    made, or `branches` neither every branch with rows that month nor exactly one region's."""
    if not whole_month(first, last):
        return None
    made = conn.execute(_SUMMARY_MADE, (first,)).fetchone()
    if made is None:
        return None
    now = conn.execute(MONTH_VERSION, {"first": first, "last": month_end(first)}).fetchone()
    rows, newest, last_day, regions, made_at, age = made
    as_of = None
    if regions != now[3]:
        return None  # the branches' regions changed: its groups are not theirs
    if (rows, newest, last_day) != tuple(now[:3]):
        if age > stale_s:
            return None  # the rollups changed since: counted from them until it is made again
        as_of = made_at
    if last_day is not None and last_day > last:
        return None  # the range leaves out days that have rows
    found = conn.execute(_SUMMARY, (first,)).fetchall()
    region_of = dict(conn.execute(
        "SELECT branch, coalesce(region, '') FROM branch_dim").fetchall())  # fmt: skip
    have = {key for grouping, _, key, _ in found if grouping == "branch"}
    scope = _scope(have, branches, region_of)
    if scope is None:
        return None
    picked = [(g, k, load_figures(f)) for g, r, k, f in found
              if _wanted(g, r, k, by, scope, region_of)]  # fmt: skip
    total = next((f for g, _, f in picked if g == "total"), None)
    if total is None:
        return None
    rows = sorted((k, f) for g, k, f in picked if g != "total")
    return CrossReport(by, first, last, rows, total, as_of)


def _wanted(grouping: str, region: str, key: str, by: str, scope: str,
            region_of: dict[str, str]) -> bool:  # fmt: skip
    """Whether a summary row is one of the report's (by `by`, over `scope`'s branches)."""
    if grouping == "branch":
        return by == "branch" and (scope == "" or region_of.get(key, "") == scope)
    if grouping == "region":
        return by == "region" and (scope == "" or key == scope)
    return region == scope and (grouping == "total" or by == grouping)


def _scope(have: set[str], branches: list[str] | None, region_of: dict[str, str]) -> str | None:
    """Which of a summary's sets the branches seen are: '' every branch that has rows, a
    region's id exactly that region's, None neither (the report is counted from the days)."""
    if branches is None:
        return ""
    seen = set(branches) & have
    if seen == have:
        return ""
    regions = {region_of.get(b, "") for b in seen}
    if len(regions) != 1:
        return None
    (region,) = regions
    if region == "" or seen != {b for b in have if region_of.get(b, "") == region}:
        return None
    return region
