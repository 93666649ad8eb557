"""The head office's PostgreSQL: events in, per-branch progress and gaps kept.

Everything one batch of messages brings is written in one transaction; the ingest
acknowledges the messages to the broker only after it commits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from nowserving.headoffice.schema import migrate

# A batch is copied (binary COPY: no per-value escaping, one round trip) into a staging
# table private to the session, then moved into `events` with the key deciding what is new.
_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS stage (
    branch text, epoch integer, seq bigint, at float8, type text, command_id text,
    device text, data text, via text
) ON COMMIT DELETE ROWS
"""
_COPY = "COPY stage FROM STDIN (FORMAT BINARY)"
_STAGE_TYPES = ("text", "int4", "int8", "float8", "text", "text", "text", "text", "text")
_MOVE = """
WITH new AS (
    INSERT INTO events (branch, epoch, seq, at, type, command_id, device, data, via)
    SELECT branch, epoch, seq, to_timestamp(at), type, command_id, device, data::jsonb, via
    FROM stage
    ON CONFLICT DO NOTHING
    RETURNING branch, via
)
SELECT branch, count(*), count(*) FILTER (WHERE via = 'repair') FROM new GROUP BY branch
"""
# What one batch says of each branch heard, in one statement (NULL: it said nothing of it).
_BRANCHES = """
UPDATE branches b SET
    last_heard = now(),
    events_repaired = b.events_repaired + u.repaired,
    last_event_at = greatest(b.last_event_at, to_timestamp(u.newest)),
    last_event_received = CASE WHEN u.newest IS NULL THEN b.last_event_received ELSE now() END,
    state_epoch = coalesce(u.state_epoch, b.state_epoch),
    state_seq = CASE WHEN u.state_epoch IS NULL THEN b.state_seq ELSE u.state_seq END,
    server_online = coalesce(u.online, b.server_online),
    link_changed = CASE WHEN u.link IS NOT NULL AND b.link_up IS DISTINCT FROM u.link
                   THEN now() ELSE b.link_changed END,
    link_up = coalesce(u.link, b.link_up),
    live = coalesce(u.live::jsonb, b.live)
FROM unnest(%b::text[], %b::int8[], %b::float8[], %b::int4[], %b::int8[], %b::bool[],
            %b::bool[], %b::text[])
     AS u(branch, repaired, newest, state_epoch, state_seq, online, link, live)
WHERE b.branch = u.branch
"""
# Devices' statuses as the batch last says them; a row changes its time only when it flips.
_DEVICES = """
INSERT INTO device_status (branch, device, online)
SELECT * FROM unnest(%b::text[], %b::text[], %b::bool[])
ON CONFLICT (branch, device) DO UPDATE SET online = EXCLUDED.online,
    changed_at = CASE WHEN device_status.online = EXCLUDED.online
                 THEN device_status.changed_at ELSE now() END
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
# `_RUN` for many branches at once: each one's contiguous_seq moved over every event in.
_ADVANCE = """
UPDATE branches b SET contiguous_seq = r.upto, max_seq = greatest(b.max_seq, r.top)
    FROM branches o CROSS JOIN LATERAL (
        SELECT coalesce(max(seq) FILTER (WHERE k = o.contiguous_seq), o.contiguous_seq) AS upto,
               coalesce(max(seq), 0) AS top
        FROM (SELECT seq, seq - row_number() OVER (ORDER BY seq) AS k
              FROM (SELECT DISTINCT seq FROM events e
                    WHERE e.branch = o.branch AND e.epoch = o.epoch
                    AND e.seq > o.contiguous_seq) s) run
    ) r
    WHERE o.branch = ANY(%(branches)s) AND b.branch = o.branch
"""
# ... and the gaps that covers closed (apart: one statement may change a row only once).
_CLOSE_GAPS = """
WITH closed AS (
    UPDATE gaps g SET repaired_at = now() FROM branches m
    WHERE m.branch = ANY(%(branches)s) AND g.branch = m.branch AND g.epoch = m.epoch
    AND g.repaired_at IS NULL AND g.last_seq <= m.contiguous_seq
    RETURNING g.branch
)
UPDATE branches b SET gaps_repaired = b.gaps_repaired + c.n
FROM (SELECT branch, count(*) AS n FROM closed GROUP BY branch) c WHERE b.branch = c.branch
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
    live: dict[str, dict] = field(default_factory=dict)  # its newest state, summed up (live.py)
    # (branch, device) -> its retained status says online (None: the status was cleared)
    devices: dict[tuple[str, str], bool | None] = field(default_factory=dict)
    # (branch, epoch) -> the first seq of that epoch in the branch's log (its events_range
    # answer says so): where the epoch begins, when its first events were missed
    epoch_starts: dict[tuple[str, int], int] = field(default_factory=dict)
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
    past: bool = False  # in an epoch before the branch's current one


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
        self._staged = False  # the session's staging table is made
        self.too_old = 0  # events left out: before the retention horizon

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
        new (repeats are ignored: an event is stored once). Events older than the retention
        horizon (their month was let go) are left out and counted in `too_old`."""
        horizon = self.conn.execute("SELECT extract(epoch FROM keep_from) FROM retention")
        keep_from = horizon.fetchone()
        if keep_from is not None:
            kept = [e for e in batch.events if e.at >= float(keep_from[0])]
            self.too_old += len(batch.events) - len(kept)
            batch.events = kept
        for year, month in sorted(set().union(*(_months(e.at) for e in batch.events))):
            self._partition(year, month)  # its own transaction: DDL locks the parent
        inserted: dict[str, int] = {}
        repaired: dict[str, int] = {}
        with self.conn.transaction():
            if batch.events:
                for branch, new, via_repair in self._insert(batch.events):
                    inserted[branch], repaired[branch] = new, via_repair
            if batch.heard:
                self._update_branches(batch, repaired)
        return inserted

    def _insert(self, rows: list[EventRow]) -> list[tuple[str, int, int]]:
        """Copy `rows` in; (branch, new events, of which repairs) per branch."""
        c = self.conn
        if not self._staged:
            c.execute(_STAGE)
            self._staged = True
        with c.cursor() as cur:
            with cur.copy(_COPY) as copy:
                copy.set_types(_STAGE_TYPES)
                for e in rows:
                    copy.write_row((e.branch, e.epoch, e.seq, e.at, e.type, e.command_id,
                                    e.device, e.data, e.via))  # fmt: skip
            return cur.execute(_MOVE).fetchall()

    def _update_branches(self, batch: Batch, repaired: dict[str, int]) -> None:
        """Each branch heard: a row, what the batch says of it, a new epoch, how far in."""
        c = self.conn
        heard = sorted(batch.heard)
        c.execute(
            "INSERT INTO branches (branch) SELECT unnest(%b::text[]) ON CONFLICT DO NOTHING",
            (heard,),
        )
        newest: dict[str, tuple[int, float]] = {}
        by_branch: dict[str, list[EventRow]] = {}
        for e in batch.events:
            by_branch.setdefault(e.branch, []).append(e)
            if e.branch not in newest or (e.epoch, e.at) > newest[e.branch]:
                newest[e.branch] = (e.epoch, e.at)
        states = [batch.states.get(b) for b in heard]
        c.execute(_BRANCHES, (
            heard, [repaired.get(b, 0) for b in heard],
            [newest[b][1] if b in newest else None for b in heard],
            [s[0] if s else None for s in states], [s[1] if s else None for s in states],
            [batch.servers.get(b) for b in heard], [batch.links.get(b) for b in heard],
            [json.dumps(batch.live[b]) if b in batch.live else None for b in heard],
        ))  # fmt: skip
        if batch.devices:
            self._devices(batch.devices)
        if by_branch:
            epochs = dict(c.execute(
                "SELECT branch, epoch FROM branches WHERE branch = ANY(%b::text[])",
                (list(by_branch),),
            ).fetchall())  # fmt: skip
            for branch, events in by_branch.items():
                if newest[branch][0] > epochs[branch]:
                    self._new_epoch(branch, events, epochs[branch])
        moved = sorted(set(by_branch) | {b for b, _ in batch.epoch_starts})
        for (branch, epoch), first in sorted(batch.epoch_starts.items()):
            self._epoch_start(branch, epoch, first)
        if moved:
            c.execute(_ADVANCE, {"branches": moved})
            c.execute(_CLOSE_GAPS, {"branches": moved})
        touched = sorted({(e.branch, e.epoch) for e in batch.events} | set(batch.epoch_starts))
        if touched:  # events of an epoch before the branch's current one: repairs, rarely
            past = c.execute(
                "SELECT branch, epoch FROM past_epochs WHERE (branch, epoch) IN "
                "(SELECT * FROM unnest(%b::text[], %b::int4[])) ORDER BY 1, 2",
                ([b for b, _ in touched], [e for _, e in touched]),
            ).fetchall()
            self._advance_past(past)

    def _devices(self, devices: dict[tuple[str, str], bool | None]) -> None:
        """Keep each device's up/down; a cleared status forgets the device."""
        up = [(b, d, o) for (b, d), o in sorted(devices.items()) if o is not None]
        gone = [(b, d) for (b, d), o in sorted(devices.items()) if o is None]
        if up:
            self.conn.execute(_DEVICES, tuple(map(list, zip(*up, strict=True))))
        if gone:
            self.conn.execute(
                "DELETE FROM device_status WHERE (branch, device) IN "
                "(SELECT * FROM unnest(%b::text[], %b::text[]))",
                tuple(map(list, zip(*gone, strict=True))),
            )

    def _new_epoch(self, branch: str, events: list[EventRow], epoch: int) -> None:
        """A branch restored from a backup starts a new epoch: its events are counted from
        where its log stood (the `log_restored` event's `log_seq`)."""
        newer = [e for e in events if e.epoch > epoch]
        top = max(e.epoch for e in newer)
        first = min((e for e in newer if e.epoch == top), key=lambda e: e.seq)
        # The epoch begins with its `log_restored`: what came before it is the restored
        # log's. Its first events missed, where it begins is not known: from 0, the hole
        # is asked of the branch (naming the epoch), whose answer says where it begins.
        start = first.seq - 1 if first.type == "log_restored" else 0
        self.conn.execute(
            "INSERT INTO past_epochs (branch, epoch, base, top, contiguous_seq) "
            "SELECT branch, epoch, coalesce(epoch_base, 0), max_seq, contiguous_seq "
            "FROM branches WHERE branch = %s ON CONFLICT DO NOTHING",
            (branch,),
        )
        self.conn.execute(
            "UPDATE branches SET epoch = %s, contiguous_seq = %s, max_seq = %s, epoch_base = %s "
            "WHERE branch = %s",
            (top, start, start, start, branch),
        )

    def _epoch_start(self, branch: str, epoch: int, first: int) -> None:
        """The branch says where `epoch` begins in its log: nothing before it is missing."""
        for table, base in (("branches", "epoch_base"), ("past_epochs", "base")):
            self.conn.execute(
                f"UPDATE {table} SET {base} = %(s)s, contiguous_seq = greatest(contiguous_seq, "
                f"%(s)s) WHERE branch = %(b)s AND epoch = %(e)s AND coalesce({base}, 0) < %(s)s",
                {"s": first - 1, "b": branch, "e": epoch},
            )

    def _advance_past(self, epochs: list[tuple[str, int]]) -> None:
        """Move the past epochs' contiguous_seq over the events in (repairs), closing their
        gaps."""
        c = self.conn
        for branch, epoch in epochs:
            row = c.execute(
                "SELECT contiguous_seq FROM past_epochs WHERE branch = %s AND epoch = %s",
                (branch, epoch),
            ).fetchone()
            if row is None:
                continue
            upto = c.execute(_RUN, {"b": branch, "e": epoch, "c": row[0]}).fetchone()[0]
            c.execute(
                "UPDATE past_epochs SET contiguous_seq = %s, top = greatest(top, %s) "
                "WHERE branch = %s AND epoch = %s",
                (upto, upto, branch, epoch),
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
        """The first missing range of each branch that lacks events (at most `limit` long):
        in its current epoch, else in the oldest past epoch with one (one at a time)."""
        found = self._current_holes(limit)
        busy = {h.branch for h in found}
        rows = self.conn.execute(
            "SELECT DISTINCT ON (branch) branch, epoch, contiguous_seq, top FROM past_epochs "
            "WHERE contiguous_seq < top ORDER BY branch, epoch"
        ).fetchall()
        for branch, epoch, contiguous, top in rows:
            if branch in busy:
                continue
            _, after, _ = self.conn.execute(
                _RUN, {"b": branch, "e": epoch, "c": contiguous}
            ).fetchone()
            end = after - 1 if after is not None else top
            found.append(Hole(branch, epoch, contiguous + 1, min(end, contiguous + limit),
                              after is None, past=True))  # fmt: skip
        return sorted(found, key=lambda h: h.branch)

    def _current_holes(self, limit: int) -> list[Hole]:
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
            "UPDATE SET asked_at = now(), last_seq = EXCLUDED.last_seq, "
            # a hole repaired once and found again (recheck) is a new gap: asked afresh
            "found_at = CASE WHEN gaps.repaired_at IS NULL THEN gaps.found_at ELSE now() END, "
            "asks = CASE WHEN gaps.repaired_at IS NULL THEN gaps.asks + 1 ELSE 1 END, "
            "repaired_at = NULL RETURNING asks",
            (hole.branch, hole.epoch, hole.first, hole.last),
        ).fetchone()[0]
