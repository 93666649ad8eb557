"""What the head office's PostgreSQL holds, read for the reports the head office's pages and
commands share with the branch console (docs/headoffice.md): a branch's events in log order
for `reports.history.learn_events` (staffing advice by the branch console's own code), and
each branch's own date in its zone (a report's default last day). Read only; the tables
are the ingest's (headoffice/)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from nowserving.reports.history import History, learn_events

# Every event of the branch, as `learn` reads the whole log (its first and last event bound
# the counters' open spans).
_EVENTS = """
SELECT extract(epoch FROM at)::float8, type, data FROM events WHERE branch = %s
ORDER BY epoch, seq
"""
CHUNK = 5000  # rows fetched at a time from the server-side cursor


@dataclass(frozen=True)
class StoredEvent:
    """An event as learning reads it: its time, type and data."""

    at: float
    type: str
    data: dict


def branch_events(conn, branch: str) -> Iterator[StoredEvent]:
    """The branch's events in log order (epoch, seq), read a chunk at a time."""
    with conn.transaction(), conn.cursor(name="staffing_events") as cursor:
        cursor.itersize = CHUNK
        cursor.execute(_EVENTS, (branch,))
        for at, kind, data in cursor:
            yield StoredEvent(at, kind, data if isinstance(data, dict) else json.loads(data))


def learn_branch(conn, branch: str, weekday: str, target_s: float,
                 first: date | None = None, last: date | None = None,
                 counters_start_open: bool = True,
                 group_of: dict[str, str] | None = None) -> History:  # fmt: skip
    """What `reports.history.learn` learns from the branch's own log, from the head office's
    copy of it (its zone from `branch_dim`); with `group_of`, per group as there."""
    row = conn.execute("SELECT timezone FROM branch_dim WHERE branch = %s", (branch,)).fetchone()
    return learn_events(
        branch_events(conn, branch), weekday, row[0] if row else "UTC", target_s, first, last,
        counters_start_open, group_of, source=f"branch {branch} at the head office",
    )  # fmt: skip


def stored_service_names(conn, branch: str):
    """The branch's services' and groups' names and each service's group as `branch_dim`
    keeps them (the branches file's `config =`: `reports.staffing.ServiceNames`), or None
    where it keeps none."""
    from nowserving.reports.staffing import ServiceNames

    row = conn.execute("SELECT services FROM branch_dim WHERE branch = %s", (branch,)).fetchone()
    return ServiceNames.from_json(row[0]) if row and row[0] else None


def stored_start_open(conn, branch: str) -> bool:
    """Whether the branch's counters count as open from the day's start, as `branch_dim`
    keeps it from its config (`counters_start_open`; open where it keeps none)."""
    row = conn.execute(
        "SELECT counters_start_open FROM branch_dim WHERE branch = %s", (branch,)
    ).fetchone()
    return True if row is None or row[0] is None else bool(row[0])


def local_dates(conn, now: float) -> dict[str, tuple[str | None, date]]:
    """Each known branch's region and its own date at `now` (epoch seconds) in its zone
    from `branch_dim` (UTC for a branch the branches file does not list)."""
    rows = conn.execute(
        "SELECT coalesce(d.branch, b.branch), d.region, coalesce(d.timezone, 'UTC') "
        "FROM branch_dim d FULL JOIN branches b ON b.branch = d.branch"
    ).fetchall()
    return {b: (region, datetime.fromtimestamp(now, ZoneInfo(zone)).date())
            for b, region, zone in rows}  # fmt: skip


def latest_local_date(dates: dict[str, tuple[str | None, date]], now: float,
                      sees=lambda branch, region: True) -> date:  # fmt: skip
    """The latest of the branches' own dates among those `sees` (e.g. an account's): a
    report "up to today" then holds the day of a branch already in its tomorrow (Shanghai
    from 16:00 UTC). With no branch at all, the date in UTC."""
    found = [d for b, (region, d) in dates.items() if sees(b, region)]
    return max(found, default=datetime.fromtimestamp(now, ZoneInfo("UTC")).date())
