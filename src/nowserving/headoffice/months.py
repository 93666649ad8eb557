"""Month summaries: each calendar month's cross-branch report figures, kept beside the daily
rollups so a report of a whole month reads a few hundred rows (docs/headoffice.md, "Month
summaries"; the figures: `reports.crossbranch.month_figures`).

A rebuild of any day of a month marks the month due (`month_summary_due`, by triggers on
`visits_daily`). A due month is summed up again once no day of it was rebuilt for SETTLE_S
(a past month after `rebuild --from --to`), or at the latest MAX_DELAY_S after its first
mark (the month running, whose today is rebuilt all day). Until then a report of it is
counted from the daily rollups (a summary is only used while it is what they give). The
ingest sums months up in a child process (`SummaryWorker`), so its writer never waits for
the GIL; `headoffice rebuild` does it itself when it is done.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import time
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import date

from nowserving.reports.crossbranch import (
    MONTH_ROWS,
    MONTH_VERSION,
    dump_figures,
    month_end,
    month_figures,
)

log = logging.getLogger(__name__)

SETTLE_S = 30.0  # no day of the month rebuilt for this long: sum it up
MAX_DELAY_S = 300.0  # marked this long ago: sum it up even while its days are rebuilt
_LOCK = 0x6D6F6E74  # pg_advisory_lock(_LOCK, month): one summing up of a month at a time

# Months whose summary was made with other regions than the branches file's now: due again.
_REGIONS_CHANGED = """
INSERT INTO month_summary_due (month)
SELECT month FROM month_summary_made
WHERE regions IS DISTINCT FROM (
    SELECT md5(string_agg(branch || '=' || coalesce(region, ''), ',' ORDER BY branch))
    FROM branch_dim)
ON CONFLICT (month) DO NOTHING
"""
_READY = """
SELECT month FROM month_summary_due
WHERE marked_at <= now() - make_interval(secs => %(settle)s)
   OR first_marked <= now() - make_interval(secs => %(delay)s)
ORDER BY first_marked, month
"""


def summarize_month(conn, month: date) -> int:
    """Make `month`'s summary again from its daily rollups, in one transaction (one
    snapshot: the figures and the version they are checked by come from the same rows);
    returns how many summary rows it has. Clears the month's due mark unless a day of it
    was rebuilt meanwhile (then its next summary is due MAX_DELAY_S after this one)."""
    first = month.replace(day=1)
    bounds = {"first": first, "last": month_end(first)}
    t0 = time.perf_counter()
    conn.execute("SELECT pg_advisory_lock(%s, %s)", (_LOCK, first.toordinal()))
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            due = conn.execute(
                "SELECT generation, now() FROM month_summary_due WHERE month = %s", (first,)
            ).fetchone()
            version = conn.execute(MONTH_VERSION, bounds).fetchone()
            # Fetched in parts (a server-side cursor): the month's arrays are not held twice.
            with conn.cursor("month_rows", binary=True) as cursor:
                cursor.itersize = 2000
                rows = month_figures(cursor.execute(MONTH_ROWS, bounds))
            conn.execute("DELETE FROM month_summaries WHERE month = %s", (first,))
            copy_sql = "COPY month_summaries (month, grouping, region, key, figures) FROM STDIN"
            with conn.cursor() as cur, cur.copy(copy_sql) as copy:
                for grouping, region, key, figures in rows:
                    copy.write_row((first, grouping, region, key, dump_figures(figures)))
            conn.execute(
                # made_at: the snapshot's time (its transaction's start), what it holds.
                "INSERT INTO month_summary_made AS m (month, rows, newest, last_day, regions,"
                " took_s, made_at) VALUES (%s, %s, %s, %s, %s, %s, now()) ON CONFLICT (month)"
                " DO UPDATE SET rows = excluded.rows, newest = excluded.newest,"
                " last_day = excluded.last_day, regions = excluded.regions,"
                " made_at = excluded.made_at, took_s = excluded.took_s",
                (first, *version, time.perf_counter() - t0),
            )
        if due is not None:
            gone = conn.execute(
                "DELETE FROM month_summary_due WHERE month = %s AND generation = %s",
                (first, due[0]),
            ).rowcount
            if not gone:  # rebuilt meanwhile: what came after the snapshot waits its turn
                conn.execute("UPDATE month_summary_due SET first_marked = %s WHERE month = %s",
                             (due[1], first))  # fmt: skip
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s, %s)", (_LOCK, first.toordinal()))
    log.info("month %s summed up: %d rows in %.1f s", first, len(rows), time.perf_counter() - t0)
    return len(rows)


def ready_months(conn, settle_s: float = SETTLE_S, max_delay_s: float = MAX_DELAY_S) -> list:
    """The due months to sum up now (settled, or waiting too long), oldest mark first;
    months summed up with other regions than `branch_dim`'s are marked due first."""
    conn.execute(_REGIONS_CHANGED)
    found = conn.execute(_READY, {"settle": settle_s, "delay": max_delay_s}).fetchall()
    return [r[0] for r in found]


def summarize_due(conn, settle_s: float = SETTLE_S, max_delay_s: float = MAX_DELAY_S) -> int:
    """Sum up every ready month (`ready_months`) in this process; returns how many."""
    months = ready_months(conn, settle_s, max_delay_s)
    for month in months:
        summarize_month(conn, month)
    return len(months)


def _summarize_in_child(dsn: str, month: date) -> int:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        return summarize_month(conn, month)


def _lower_priority() -> None:
    with contextlib.suppress(OSError):
        os.nice(10)  # the ingest's writer and the database come first


class SummaryWorker:
    """Sums months up in a child process, one at a time, without the caller waiting:
    `poll` starts the next ready month when none is in hand (the ingest's rebuild thread
    calls it between branch-days)."""

    def __init__(self, dsn: str, check_s: float = 10.0, settle_s: float = SETTLE_S,
                 max_delay_s: float = MAX_DELAY_S) -> None:  # fmt: skip
        self.dsn = dsn
        self.check_s = check_s
        self.settle_s, self.max_delay_s = settle_s, max_delay_s
        self.summarized = 0
        self._pool: ProcessPoolExecutor | None = None
        self._job: Future | None = None
        self._checked = 0.0

    def poll(self, conn) -> None:
        """Collect a finished summary; start the next ready month (at most every check_s)."""
        if self._job is not None:
            if not self._job.done():
                return
            job, self._job = self._job, None
            try:
                job.result()
                self.summarized += 1
            except Exception as err:  # logged; the month stays due and is tried again
                log.warning("cannot sum up a month: %r", err)
        if time.monotonic() - self._checked < self.check_s:
            return
        self._checked = time.monotonic()
        months = ready_months(conn, self.settle_s, self.max_delay_s)
        if months:
            if self._pool is None:
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(1, mp_context=context,
                                                 initializer=_lower_priority)  # fmt: skip
            self._job = self._pool.submit(_summarize_in_child, self.dsn, months[0])

    def close(self) -> None:
        """Stop the child (a month in hand is left due: summed up again next time)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
