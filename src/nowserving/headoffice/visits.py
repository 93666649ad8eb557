"""The head office's derived tables: the visit facts and their hourly and daily rollups,
rebuilt per branch-day in one transaction from the events (docs/headoffice.md).

A branch-day is never patched: its rows are deleted and made again from its events, with
the branch console's own code (`reports.visits.VisitFold` turns events into visits,
`reports.kpi` counts them), so a fix to a definition is one rebuild and both give the same
numbers for the same day. Inserting events marks their branch-days due
(`rebuild_due`, by a trigger); `rebuild_due_days` makes those again.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg

from nowserving.reports.kpi import DEFAULT_TARGET, RATINGS, LocalTime, Tally, Target, Visit
from nowserving.reports.visits import FIELDS, VISIT_EVENTS, VisitFold

log = logging.getLogger(__name__)

# A visit's events end within a day of its issue (branches close at night; a rating comes
# at the counter or on the phone soon after): the events read to make a day's visits.
TAIL_S = 86_400.0
_EVENTS = """
SELECT extract(epoch FROM at)::float8, type, data FROM events
WHERE branch = %s AND at >= to_timestamp(%s) AND at < to_timestamp(%s) AND type = ANY(%s)
ORDER BY epoch, seq
"""
_VISIT_COLUMNS = ("branch", "day", "hour", *FIELDS, "wait_s", "service_s", "within_target")
_TIMES = ("issued_at", "called_at", "begun_at", "ended_at")
_DAILY_COLUMNS = (
    "branch", "day", "service", "target_s", "issued", "served", "no_shows", "cancelled",
    "expired", "open", "transferred", "within_target", "satisfied", "neutral", "unsatisfied",
    "audited", "inside_range", "wait_sum", "service_sum", "waits", "services",
    "services_satisfied", "services_neutral", "services_unsatisfied",
)  # fmt: skip
_HOURLY_COLUMNS = ("branch", "day", "hour", "service", "issued", "called", "served", "no_shows",
                   "within_target", "wait_sum", "service_sum")  # fmt: skip


@dataclass(frozen=True)
class BranchSetting:
    """What a branch's rebuild needs from `branch_dim`: its zone and wait targets."""

    timezone: str = "UTC"
    targets: dict[str, Target] | None = None

    def target_s(self, service: str) -> float:
        """The wait target (seconds) a visit of `service` is held to."""
        target = (self.targets or {}).get(service)
        return (target or DEFAULT_TARGET).wait_s


def branch_setting(conn, branch: str) -> BranchSetting:
    """The branch's zone and targets (UTC and the default target when it is not listed)."""
    row = conn.execute(
        "SELECT timezone, targets FROM branch_dim WHERE branch = %s", (branch,)
    ).fetchone()
    if row is None:
        return BranchSetting()
    targets = {s: Target(float(t[0]), float(t[1])) for s, t in (row[1] or {}).items()}
    return BranchSetting(row[0], targets)


def day_visits(conn, branch: str, day: date, setting: BranchSetting) -> list[Visit]:
    """The visits issued on the branch's local `day`, folded from its events."""
    start, end = LocalTime(setting.timezone).bounds(day, day)
    fold = VisitFold()
    found = conn.execute(_EVENTS, (branch, start, end + TAIL_S, list(VISIT_EVENTS))).fetchall()
    for at, kind, data in found:  # fetched at once: row by row costs ~10 µs more a row
        fold.apply(kind, at, data if isinstance(data, dict) else json.loads(data))
    visits = [Visit(**row) for row in fold.rows.values() if start <= row["issued_at"] < end]
    visits.sort(key=lambda v: (v.issued_at, v.ticket))
    return visits


def _tallies(visits: list[Visit], setting: BranchSetting, local: LocalTime):
    """Per service the kpi tally of the day, and per (hour, service) the hour's counts."""
    daily: dict[str, Tally] = {}
    hourly: dict[tuple[int, str], list] = {}
    for v in visits:
        target = setting.target_s(v.service)
        tally = daily.get(v.service)
        if tally is None:
            tally = daily[v.service] = Tally()
        service = tally.add(v, target)
        hour = local(v.issued_at)[1]
        row = hourly.setdefault((hour, v.service), [0, 0, 0, 0, 0, 0.0, 0.0])
        row[0] += 1
        if v.called_at is not None:
            row[1] += 1
            row[5] += v.called_at - v.issued_at
            row[4] += v.called_at - v.issued_at <= target
        if service is not None:
            row[2] += 1
            row[6] += service
        row[3] += v.outcome == "no_show"
    return daily, hourly


def _visit_row(branch: str, v: Visit, setting: BranchSetting, local: LocalTime) -> tuple:
    day, hour, _ = local(v.issued_at)
    wait = v.wait_s
    within = None
    if v.outcome != "open":
        within = wait is not None and wait <= setting.target_s(v.service)
    values = []
    for f in FIELDS:
        value = getattr(v, f)
        values.append(_stamp(value) if f in _TIMES else value)
    return (branch, day, hour, *values, wait, v.service_s, within)


def _stamp(at: float | None):
    from datetime import UTC, datetime

    return None if at is None else datetime.fromtimestamp(at, UTC)


def _daily_row(branch: str, day: date, service: str, target_s: float, t: Tally) -> tuple:
    o = t.outcomes
    return (
        branch, day, service, target_s, t.issued, o["served"], o["no_show"], o["cancelled"],
        o["expired"], o["open"], t.transferred, t.within, t.ratings["satisfied"],
        t.ratings["neutral"], t.ratings["unsatisfied"], t.audited, t.inside, sum(t.waits),
        sum(t.services), sorted(t.waits), sorted(t.services),
        *(sorted(t.rated_service[r]) for r in RATINGS),
    )  # fmt: skip


def _insert(conn, table: str, columns: tuple, rows: list[tuple]) -> None:
    if not rows:
        return
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with conn.cursor() as cur, cur.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def rebuild_day(conn, branch: str, day: date, setting: BranchSetting | None = None) -> int:
    """Make the branch-day's visits and rollups again from its events, in one transaction
    (its old rows deleted first); returns how many visits it has. Clears its due mark unless
    events came while it ran."""
    setting = setting or branch_setting(conn, branch)
    local = LocalTime(setting.timezone)
    with conn.transaction():
        # One rebuild of a branch-day at a time (the web role's loop, a command by hand).
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s), %s)",
                     (branch, day.toordinal()))  # fmt: skip
        due = conn.execute(
            "SELECT generation FROM rebuild_due WHERE branch = %s AND day = %s", (branch, day)
        ).fetchone()
        visits = day_visits(conn, branch, day, setting)
        for table in ("visits", "visits_daily", "visits_hourly"):
            conn.execute(f"DELETE FROM {table} WHERE branch = %s AND day = %s", (branch, day))
        daily, hourly = _tallies(visits, setting, local)
        _insert(conn, "visits", _VISIT_COLUMNS,
                [_visit_row(branch, v, setting, local) for v in visits])  # fmt: skip
        _insert(conn, "visits_daily", _DAILY_COLUMNS,
                [_daily_row(branch, day, s, setting.target_s(s), t)
                 for s, t in sorted(daily.items())])  # fmt: skip
        _insert(conn, "visits_hourly", _HOURLY_COLUMNS,
                [(branch, day, h, s, *row) for (h, s), row in sorted(hourly.items())])  # fmt: skip
        if due is not None:
            conn.execute(
                "DELETE FROM rebuild_due WHERE branch = %s AND day = %s AND generation = %s",
                (branch, day, due[0]),
            )
    return len(visits)


def event_days(conn, branch: str, setting: BranchSetting) -> tuple[date, date] | None:
    """The first and last local day of the branch's events (None: it has none)."""
    row = conn.execute(
        "SELECT extract(epoch FROM min(at))::float8, extract(epoch FROM max(at))::float8 "
        "FROM events WHERE branch = %s",
        (branch,),
    ).fetchone()
    if row[0] is None:
        return None
    local = LocalTime(setting.timezone)
    return local(row[0])[0], local(row[1])[0]


def rebuild(conn, branches: list[str] | None = None, first: date | None = None,
            last: date | None = None) -> dict[str, tuple[int, int]]:  # fmt: skip
    """Rebuild every day of `branches` (default: every branch with events) between `first`
    and `last` (default: from its first event's day to its last's); per branch (days, visits)."""
    if branches is None:
        branches = [r[0] for r in conn.execute("SELECT branch FROM branches ORDER BY branch")]
    done = {}
    for branch in branches:
        setting = branch_setting(conn, branch)
        span = event_days(conn, branch, setting)
        low = first or (span[0] if span else None)
        high = last or (span[1] if span else None)
        days = visits = 0
        if low is not None and high is not None:
            day = low
            while day <= high:
                visits += rebuild_day(conn, branch, day, setting)
                days += 1
                day += timedelta(days=1)
        done[branch] = (days, visits)
    return done


def rebuild_due_days(conn, limit: int = 1000, until: float | None = None) -> int:
    """Rebuild the branch-days marked due (oldest marks first, at most `limit`; with
    `until`, a `time.monotonic()` time, none begun after it); returns how many were rebuilt."""
    due = conn.execute(
        "SELECT branch, day FROM rebuild_due ORDER BY marked_at, branch, day LIMIT %s", (limit,)
    ).fetchall()
    settings: dict[str, BranchSetting] = {}
    done = 0
    for branch, day in due:
        if until is not None and time.monotonic() >= until:
            break
        if branch not in settings:
            settings[branch] = branch_setting(conn, branch)
        try:
            rebuild_day(conn, branch, day, settings[branch])
        except psycopg.OperationalError:
            raise  # the database is away: the caller retries later
        except Exception as err:  # an event the fold cannot read: logged, the others go on
            log.error("cannot rebuild %s's %s: %r; tried again after the others", branch, day, err)
            conn.execute("UPDATE rebuild_due SET marked_at = now() WHERE branch = %s AND day = %s",
                         (branch, day))  # fmt: skip
            continue
        done += 1
    if done:
        log.info("rebuilt %d branch-day(s)", done)
    return done
