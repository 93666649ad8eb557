"""Staffing advice for one branch at the head office, from its events in PostgreSQL, with
the branch console's own code: `reports.history.learn_events` learns the weekday as
`learn` does from the branch's log, `reports.staffing` sizes it (Erlang C and A) and checks
it by simulation (`nowserving headoffice staffing`, docs/headoffice.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from nowserving.headoffice.visits import branch_setting
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
                 counters_start_open: bool = True) -> History:  # fmt: skip
    """What `reports.history.learn` learns from the branch's own log, from the head office's
    copy of it (its zone from `branch_dim`)."""
    setting = branch_setting(conn, branch)
    return learn_events(
        branch_events(conn, branch), weekday, setting.timezone, target_s, first, last,
        counters_start_open, source=f"branch {branch} at the head office",
    )  # fmt: skip
