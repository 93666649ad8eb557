"""Upkeep of the head office's database: letting old months go (`retire`: retention per
partition) and finding a hole that appeared after the fact (`recheck`: a restore of an older
backup, rows deleted by hand), which the ingest then repairs from the branch."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date

from nowserving.errors import NowservingError

log = logging.getLogger(__name__)

_PARTITION = re.compile(r"^events_(\d{4})_(\d{2})$")
RETIRED_PREFIX = "retired_"  # a detached month: `retired_events_YYYY_MM`

# The first run of seqs after `floor` of one branch's epoch (as db._RUN).
_RUN_END = """
SELECT coalesce(max(seq) FILTER (WHERE k = %(f)s), %(f)s)
FROM (SELECT seq, seq - row_number() OVER (ORDER BY seq) AS k
      FROM (SELECT DISTINCT seq FROM events
            WHERE branch = %(b)s AND epoch = %(e)s AND seq > %(f)s) s) run
"""


class RetentionError(NowservingError, ValueError):
    """A retention that cannot be applied (e.g. keeping fewer than one month)."""


@dataclass(frozen=True)
class Partition:
    """One month of events: its table and its size on disk (with indexes)."""

    name: str
    year: int
    month: int
    bytes: int


def partitions(conn) -> list[Partition]:
    """The months attached to `events`, oldest first."""
    rows = conn.execute(
        "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass"
    ).fetchall()
    found = []
    for name, size in rows:
        match = _PARTITION.match(name)
        if match:
            found.append(Partition(name, int(match[1]), int(match[2]), size))
    return sorted(found, key=lambda p: (p.year, p.month))


def retired_tables(conn) -> list[str]:
    """Months detached earlier and not dropped yet."""
    rows = conn.execute(
        "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE %s "
        "AND relnamespace = 'public'::regnamespace ORDER BY relname",
        (RETIRED_PREFIX + "events_%",),
    ).fetchall()
    return [r[0] for r in rows]


def horizon(today: date, keep_months: int) -> date:
    """The first day kept when `keep_months` months are kept, this one included."""
    if keep_months < 1:
        raise RetentionError(
            f"--keep-months must be at least 1 (the month running), not {keep_months}"
        )
    index = today.year * 12 + today.month - 1 - (keep_months - 1)
    return date(index // 12, index % 12 + 1, 1)


def retire(conn, keep_months: int, today: date, *, drop: bool = False) -> tuple[list, list]:
    """Detach every month before `horizon` (renamed `retired_events_YYYY_MM`, still on disk
    for pg_dump); with `drop`, drop those and any detached before. The horizon only moves
    forward: the ingest stores nothing older (it would need a month that is gone). Returns
    (months detached, tables dropped)."""
    keep_from = horizon(today, keep_months)
    old = [p for p in partitions(conn) if (p.year, p.month) < (keep_from.year, keep_from.month)]
    dropped = []
    with conn.transaction():
        conn.execute(
            "INSERT INTO retention (keep_from) VALUES (%s) ON CONFLICT (one) DO UPDATE SET "
            "keep_from = greatest(retention.keep_from, EXCLUDED.keep_from), changed_at = now()",
            (keep_from,),
        )
        for p in old:
            # What goes is let go on purpose: recheck does not ask the branches for it again.
            conn.execute(
                f"INSERT INTO retired (branch, epoch, upto_seq) SELECT branch, epoch, max(seq) "
                f"FROM {p.name} GROUP BY branch, epoch ON CONFLICT (branch, epoch) DO UPDATE "
                "SET upto_seq = greatest(retired.upto_seq, EXCLUDED.upto_seq)"
            )
            conn.execute(f"ALTER TABLE events DETACH PARTITION {p.name}")
            conn.execute(f"ALTER TABLE {p.name} RENAME TO {RETIRED_PREFIX}{p.name}")
            log.info("detached %s (%d bytes)", p.name, p.bytes)
        if drop:
            for name in retired_tables(conn):
                conn.execute(f"DROP TABLE {name}")
                dropped.append(name)
                log.info("dropped %s", name)
    return old, dropped


@dataclass(frozen=True)
class Recheck:
    """What a recheck of one branch found: `contiguous_seq` before and after."""

    branch: str
    epoch: int
    before: int
    after: int

    @property
    def hole(self) -> bool:
        """An event that was counted in is missing: the ingest will ask for it again."""
        return self.after < self.before


def recheck(conn, branch: str) -> Recheck | None:
    """Recount `branch`'s contiguous seq from the table (from its epoch's start, or past what
    retention let go); None when the branch is unknown. A quick count when nothing changed;
    a hole moves `contiguous_seq` back to before it, and the ingest's gap repair asks the
    branch for it."""
    with conn.transaction():
        row = conn.execute(
            "SELECT b.epoch, b.contiguous_seq, coalesce(b.epoch_base, (SELECT min(seq) - 1 "
            "FROM events e WHERE e.branch = b.branch AND e.epoch = b.epoch), 0), "
            "coalesce((SELECT upto_seq FROM retired r WHERE r.branch = b.branch "
            "AND r.epoch = b.epoch), 0) FROM branches b WHERE b.branch = %s FOR UPDATE",
            (branch,),
        ).fetchone()
        if row is None:
            return None
        epoch, contiguous, base, retired = row
        floor = max(base, retired)
        if contiguous >= floor and _complete(conn, branch, epoch, floor, contiguous):
            upto = contiguous
        else:
            upto = conn.execute(_RUN_END, {"b": branch, "e": epoch, "f": floor}).fetchone()[0]
            conn.execute(
                "UPDATE branches SET contiguous_seq = %s WHERE branch = %s", (upto, branch)
            )
    result = Recheck(branch, epoch, contiguous, upto)
    if not result.hole:
        result = _recheck_past(conn, branch) or result
    if result.hole:
        log.warning("branch %s: event %d is missing again (counted in up to %d): asking for it",
                    branch, upto + 1, contiguous)  # fmt: skip
    return result


def _complete(conn, branch: str, epoch: int, floor: int, upto: int) -> bool:
    """Every seq after `floor` up to `upto` of the branch's epoch is in (one quick count)."""
    present = conn.execute(
        "SELECT count(DISTINCT seq) FROM events WHERE branch = %s AND epoch = %s "
        "AND seq > %s AND seq <= %s",
        (branch, epoch, floor, upto),
    ).fetchone()[0]
    return present == upto - floor


def _recheck_past(conn, branch: str) -> Recheck | None:
    """The branch's past epochs (before a restore) recounted as its current one: the first
    with a hole, its `contiguous_seq` moved back (the ingest asks for it, naming the epoch)."""
    with conn.transaction():
        rows = conn.execute(
            "SELECT p.epoch, p.contiguous_seq, greatest(p.base, coalesce((SELECT upto_seq "
            "FROM retired r WHERE r.branch = p.branch AND r.epoch = p.epoch), 0)) "
            "FROM past_epochs p WHERE p.branch = %s ORDER BY p.epoch FOR UPDATE",
            (branch,),
        ).fetchall()
        for epoch, contiguous, floor in rows:
            if contiguous < floor or _complete(conn, branch, epoch, floor, contiguous):
                continue
            upto = conn.execute(_RUN_END, {"b": branch, "e": epoch, "f": floor}).fetchone()[0]
            conn.execute(
                "UPDATE past_epochs SET contiguous_seq = %s WHERE branch = %s AND epoch = %s",
                (upto, branch, epoch),
            )
            return Recheck(branch, epoch, contiguous, upto)
    return None


def recheck_all(conn) -> list[Recheck]:
    """`recheck` every branch."""
    names = [r[0] for r in conn.execute("SELECT branch FROM branches ORDER BY branch")]
    return [r for r in (recheck(conn, b) for b in names) if r is not None]
