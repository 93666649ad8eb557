"""The head office's PostgreSQL: events in, per-branch progress and gaps kept.

Everything one batch of messages brings is written in one transaction; the ingest
acknowledges the messages to the broker only after it commits.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from nowserving.headoffice.schema import migrate

_INSERT = """
INSERT INTO events (branch, epoch, seq, at, type, command_id, device, data, via)
SELECT b, e, s, to_timestamp(a), t, c, d, j::jsonb, v
FROM unnest(%s::text[], %s::int[], %s::bigint[], %s::float8[], %s::text[], %s::text[],
            %s::text[], %s::text[], %s::text[]) AS u(b, e, s, a, t, c, d, j, v)
ON CONFLICT DO NOTHING
RETURNING branch, via
"""
# The first run of seqs after `contiguous` (seq - row number is constant along a run), the
# first seq after the hole that ends it, and the highest seq of the epoch.
_RUN = """
WITH run AS (
    SELECT seq, seq - row_number() OVER (ORDER BY seq) AS k
    FROM (SELECT DISTINCT seq FROM events
          WHERE branch = %(b)s AND epoch = %(e)s AND seq > %(c)s) s
)
SELECT coalesce(max(seq) FILTER (WHERE k = %(c)s), %(c)s),
       min(seq) FILTER (WHERE k > %(c)s),
       max(seq)
FROM run
"""


@dataclass(frozen=True)
class EventRow:
    """One event as the head office stores it."""

    branch: str
    epoch: int
    seq: int
    at: float
    type: str
    command_id: str | None
    device: str | None
    data: str  # JSON text
    via: str = "stream"


@dataclass
class Batch:
    """What one batch of messages brought, by branch."""

    events: list[EventRow] = field(default_factory=list)
    states: dict[str, tuple[int, int]] = field(default_factory=dict)  # (epoch, seq)
    servers: dict[str, bool] = field(default_factory=dict)  # the server's status: online
    links: dict[str, bool] = field(default_factory=dict)  # the bridge's flag
    heard: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.heard)


@dataclass(frozen=True)
class Hole:
    """Events a branch is missing at the head office: `first` to `last` of `epoch`
    (`tail`: nothing after it is in yet; only the branch's state says it exists)."""

    branch: str
    epoch: int
    first: int
    last: int
    tail: bool


def _months(at: float) -> set[tuple[int, int]]:
    found = set()
    for t in (at - 0.001, at + 0.001):  # to_timestamp rounds to the microsecond
        d = datetime.fromtimestamp(t, UTC)
        found.add((d.year, d.month))
    return found


class HeadOfficeDb:
    """One connection to the head office's database (migrated when opened)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.conn.execute("SET TIME ZONE 'UTC'")
        migrate(self.conn)
        self._partitions: set[tuple[int, int]] = set()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self.conn.close()

    def _partition(self, year: int, month: int) -> None:
        if (year, month) in self._partitions:
            return
        nxt = (year + month // 12, month % 12 + 1)
        self.conn.execute(
            f"CREATE TABLE IF NOT EXISTS events_{year:04d}_{month:02d} PARTITION OF events "
            f"FOR VALUES FROM ('{year:04d}-{month:02d}-01 00:00+00') "
            f"TO ('{nxt[0]:04d}-{nxt[1]:02d}-01 00:00+00')"
        )
        self._partitions.add((year, month))

    def write(self, batch: Batch) -> dict[str, int]:
        """Store `batch` in one transaction; returns per branch how many of its events were
        new (repeats are ignored: an event is stored once)."""
        for year, month in sorted(set().union(*(_months(e.at) for e in batch.events))):
            self._partition(year, month)  # its own transaction: DDL locks the parent
        rows = batch.events
        with self.conn.transaction():
            inserted = Counter()
            repaired = Counter()
            if rows:
                columns = [list(c) for c in zip(*(
                    (e.branch, e.epoch, e.seq, e.at, e.type, e.command_id, e.device, e.data,
                     e.via) for e in rows), strict=True)]  # fmt: skip
                for branch, via in self.conn.execute(_INSERT, columns).fetchall():
                    inserted[branch] += 1
                    repaired[branch] += via == "repair"
            for branch in sorted(batch.heard):
                self._update_branch(branch, batch, repaired[branch])
        return dict(inserted)

    def _update_branch(self, branch: str, batch: Batch, repaired: int) -> None:
        c = self.conn
        c.execute("INSERT INTO branches (branch) VALUES (%s) ON CONFLICT DO NOTHING", (branch,))
        c.execute(
            "UPDATE branches SET last_heard = now(), events_repaired = events_repaired + %s "
            "WHERE branch = %s",
            (repaired, branch),
        )
        mine = [e for e in batch.events if e.branch == branch]
        if mine:
            self._new_epoch(branch, mine)
            newest = max(mine, key=lambda e: (e.epoch, e.at))
            c.execute(
                "UPDATE branches SET last_event_at = greatest(last_event_at, to_timestamp(%s)), "
                "last_event_received = now() WHERE branch = %s",
                (newest.at, branch),
            )
        if branch in batch.states:
            epoch, seq = batch.states[branch]
            c.execute(
                "UPDATE branches SET state_epoch = %s, state_seq = %s WHERE branch = %s",
                (epoch, seq, branch),
            )
        if branch in batch.servers:
            c.execute(
                "UPDATE branches SET server_online = %s WHERE branch = %s",
                (batch.servers[branch], branch),
            )
        if branch in batch.links:
            c.execute(
                "UPDATE branches SET link_changed = CASE WHEN link_up IS DISTINCT FROM %(up)s "
                "THEN now() ELSE link_changed END, link_up = %(up)s WHERE branch = %(b)s",
                {"up": batch.links[branch], "b": branch},
            )
        if mine:
            self._advance(branch)

    def _new_epoch(self, branch: str, events: list[EventRow]) -> None:
        """A branch restored from a backup starts a new epoch: its events are counted from
        where its log stood (the `log_restored` event's `log_seq`)."""
        epoch = self.conn.execute(
            "SELECT epoch FROM branches WHERE branch = %s", (branch,)
        ).fetchone()[0]
        newer = [e for e in events if e.epoch > epoch]
        if not newer:
            return
        top = max(e.epoch for e in newer)
        first = min((e for e in newer if e.epoch == top), key=lambda e: e.seq)
        start = first.seq - 1  # what came before it in this epoch is the restored log's
        self.conn.execute(
            "UPDATE branches SET epoch = %s, contiguous_seq = %s, max_seq = %s WHERE branch = %s",
            (top, start, start, branch),
        )

    def _advance(self, branch: str) -> None:
        """Move `contiguous_seq` over every event now in, and close the gaps it covers."""
        c = self.conn
        epoch, contiguous = c.execute(
            "SELECT epoch, contiguous_seq FROM branches WHERE branch = %s", (branch,)
        ).fetchone()
        upto, _, top = c.execute(_RUN, {"b": branch, "e": epoch, "c": contiguous}).fetchone()
        c.execute(
            "UPDATE branches SET contiguous_seq = %s, max_seq = greatest(max_seq, %s) "
            "WHERE branch = %s",
            (upto, top or 0, branch),
        )
        closed = c.execute(
            "UPDATE gaps SET repaired_at = now() WHERE branch = %s AND epoch = %s "
            "AND repaired_at IS NULL AND last_seq <= %s",
            (branch, epoch, upto),
        ).rowcount
        if closed:
            c.execute(
                "UPDATE branches SET gaps_repaired = gaps_repaired + %s WHERE branch = %s",
                (closed, branch),
            )

    def holes(self, limit: int) -> list[Hole]:
        """The first missing range of each branch that lacks events (at most `limit` long)."""
        found = []
        rows = self.conn.execute(
            "SELECT branch, epoch, contiguous_seq, max_seq, "
            "CASE WHEN state_epoch = epoch THEN state_seq ELSE 0 END FROM branches "
            "WHERE contiguous_seq < greatest(max_seq, "
            "CASE WHEN state_epoch = epoch THEN state_seq ELSE 0 END) ORDER BY branch"
        ).fetchall()
        for branch, epoch, contiguous, max_seq, state_seq in rows:
            _, after, _ = self.conn.execute(
                _RUN, {"b": branch, "e": epoch, "c": contiguous}
            ).fetchone()
            end = after - 1 if after is not None else max(max_seq, state_seq or 0)
            last = min(end, contiguous + limit)
            found.append(Hole(branch, epoch, contiguous + 1, last, after is None))
        return found

    def asked(self, hole: Hole) -> int:
        """Note that the branch was asked for `hole`; returns how often it has been."""
        return self.conn.execute(
            "INSERT INTO gaps (branch, epoch, first_seq, last_seq, asked_at, asks) "
            "VALUES (%s, %s, %s, %s, now(), 1) ON CONFLICT (branch, epoch, first_seq) DO "
            "UPDATE SET asked_at = now(), asks = gaps.asks + 1, last_seq = EXCLUDED.last_seq "
            "RETURNING asks",
            (hole.branch, hole.epoch, hole.first, hole.last),
        ).fetchone()[0]
