"""The durable event log: SQLite in WAL mode with synchronous commits, plus snapshots.

The server appends a batch of events in one transaction and only then publishes anything
that depends on them. A restart loads the newest snapshot and replays the events after it;
a snapshot that cannot be used (damaged, or written by another version) is skipped, since
the events alone always rebuild the state.

A log that is not there, or is empty, is never taken for a new branch's on its own: a lost
or wiped file would otherwise start the day again at A001 while customers hold those
numbers. A new log is made on purpose (`create=True`: `nowserving server --new`) and says so
in its `meta` table. A damaged file is refused with what to do, never a traceback.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from nowserving.domain import Branch, BranchRules, Event
from nowserving.errors import StoreError

log = logging.getLogger(__name__)

SNAPSHOT_FORMAT = 11  # 2: learned; 3: ids per device; 4: leases; 5: ratings, notices;
# 6: learned per counter, reactions after a finish; 7: interval misses by business day;
# 8: the epoch, and when each lease was granted; 9: how many counters were free per reaction;
# 10: arrivals by time of day; 11: the calibration's drift per group
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    type TEXT NOT NULL,
    command_id TEXT,
    device TEXT,
    data TEXT NOT NULL,
    digest TEXT
);
CREATE TABLE IF NOT EXISTS snapshots (
    seq INTEGER PRIMARY KEY,
    format INTEGER NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
# What to do about a log that cannot be used, said with every refusal.
_WHAT_TO_DO = (
    "restore the newest backup of the event log to that path and start with --restore, "
    "or, for a branch that has never served, start once with --new (docs/server.md)"
)


class EventLog:
    """An append-only log of a branch's events in one SQLite file.

    `create`: make a new log when the file is missing or empty; when False, such a file
    is refused (StoreError) as a lost log. `branch`: the branch the log must belong to."""

    def __init__(
        self,
        path: str | Path,
        snapshot_every: int = 20_000,
        *,
        create: bool = True,
        branch: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.snapshot_every = snapshot_every
        self._last_snapshot = 0
        self._db = None
        if not create and not self.path.exists():
            raise StoreError(f"there is no event log at {self.path}: {_WHAT_TO_DO}")
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(events)")}
            if "digest" not in columns:  # a log written before command digests existed
                self._db.execute("ALTER TABLE events ADD COLUMN digest TEXT")
            self.meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
            events = self.last_seq()
        except sqlite3.Error as err:
            self.close()
            raise StoreError(f"cannot open event log {self.path}: {err}: {_WHAT_TO_DO}") from err
        if not self.meta and not events and not create:
            self.close()
            raise StoreError(f"the event log {self.path} is empty: {_WHAT_TO_DO}")
        if not self.meta:  # a new log, or one written before logs said where they began
            self._set_meta(log_id=uuid.uuid4().hex, created_at=str(time.time()), events=events)
        owner = self.meta.get("branch")
        if branch is not None and owner is not None and owner != branch:
            self.close()
            raise StoreError(
                f"the event log {self.path} is branch {owner!r}'s, not {branch!r}'s: "
                "give each branch its own --db"
            )
        if branch is not None and owner is None:
            self._set_meta(branch=branch)

    def _set_meta(self, **values: object) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?,?)", [(k, str(v)) for k, v in values.items()]
            )
        self.meta.update({k: str(v) for k, v in values.items()})

    def secret(self, name: str) -> bytes:
        """The branch's secret `name` (32 random bytes): made once, kept in this file's meta
        table (so a backup of the log carries it), never in an event (so the head office,
        which receives events, cannot derive what it protects). The server's are
        `booking_code_key` (codes of bookings made with a `ref`, `bookings.ref_code`) and
        `hall_key` (the hall code, server/hall.py)."""
        if name not in self.meta:
            self._set_meta(**{name: secrets.token_hex(32)})
        return bytes.fromhex(self.meta[name])

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the database (idempotent)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def append(self, events: list[Event]) -> None:
        """Write `events` durably in one transaction (all or none)."""
        if not events:
            return
        rows = [
            (
                e.seq,
                e.at,
                e.type,
                e.command_id,
                e.device,
                json.dumps(e.data, ensure_ascii=False, separators=(",", ":")),
                e.digest,
            )
            for e in events
        ]
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?)", rows)
        except sqlite3.Error as err:
            raise StoreError(f"cannot append to event log {self.path}: {err}") from err

    def last_seq(self) -> int:
        """The seq of the last event in the log (0 when it has none)."""
        row = self._db.execute("SELECT max(seq) FROM events").fetchone()
        return row[0] or 0

    def events(self, after: int = 0) -> Iterator[Event]:
        """Every event with seq > `after`, in order; a damaged page or row raises
        StoreError naming the file and the event."""
        seq = after
        try:
            cursor = self._db.execute(
                "SELECT seq, at, type, command_id, device, data, digest FROM events "
                "WHERE seq > ? ORDER BY seq",
                (after,),
            )
            for seq, at, kind, command_id, device, data, digest in cursor:
                yield Event(seq, kind, at, command_id, device, json.loads(data), digest)
        except (sqlite3.DatabaseError, ValueError, TypeError) as err:
            raise StoreError(
                f"the event log {self.path} is damaged at or after event {seq + 1}: {err}: "
                f"{_WHAT_TO_DO}"
            ) from err

    def epoch_at(self, seq: int) -> int:
        """The epoch event `seq` belongs to: that of the last `log_restored` at or before it
        (0 when the log was never restored)."""
        row = self._db.execute(
            "SELECT data FROM events WHERE type = 'log_restored' AND seq <= ? "
            "ORDER BY seq DESC LIMIT 1",
            (seq,),
        ).fetchone()
        return int(json.loads(row[0])["epoch"]) if row else 0

    def epoch_bounds(self, epoch: int) -> tuple[int, int | None] | None:
        """The seqs of `epoch` in this log: (its first, its last or None while it runs), as
        `epoch_at` counts them; None when the log has no such epoch (lost with a restore,
        or not begun)."""
        starts = [(1, 0)] + [
            (seq, int(json.loads(data)["epoch"])) for seq, data in self._db.execute(
                "SELECT seq, data FROM events WHERE type = 'log_restored' ORDER BY seq")
        ]  # fmt: skip
        for i, (seq, number) in enumerate(starts):
            if number == epoch and (i + 1 == len(starts) or starts[i + 1][0] > seq):
                return seq, starts[i + 1][0] - 1 if i + 1 < len(starts) else None
        return None

    def events_range(self, first: int, last: int, limit: int) -> list[tuple[int, Event]]:
        """The events with `first` <= seq <= `last`, at most `limit` of them, in order, each
        with its epoch (read-only: what the head office asks for to repair a gap)."""
        epoch = self.epoch_at(first)
        found = []
        try:
            for seq, at, kind, command_id, device, data, digest in self._db.execute(
                "SELECT seq, at, type, command_id, device, data, digest FROM events "
                "WHERE seq BETWEEN ? AND ? ORDER BY seq LIMIT ?",
                (first, last, limit),
            ):
                event = Event(seq, kind, at, command_id, device, json.loads(data), digest)
                if kind == "log_restored":
                    epoch = int(event.data["epoch"])
                found.append((epoch, event))
        except (sqlite3.DatabaseError, ValueError, TypeError) as err:
            raise StoreError(
                f"the event log {self.path} is damaged near event {first}: {err}"
            ) from err
        return found

    def save_snapshot(self, branch: Branch) -> None:
        """Save `branch` as a snapshot at its seq, keeping the newest two."""
        state = json.dumps(branch.to_dict(), ensure_ascii=False, separators=(",", ":"))
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT OR REPLACE INTO snapshots VALUES (?,?,?)",
                (branch.seq, SNAPSHOT_FORMAT, state),
            )
            # Two are enough: the newest, and one more in case the newest is unusable.
            self._db.execute(
                "DELETE FROM snapshots WHERE seq < (SELECT seq FROM snapshots "
                "ORDER BY seq DESC LIMIT 1 OFFSET 1)"
            )
        self._last_snapshot = branch.seq

    def maybe_snapshot(self, branch: Branch) -> bool:
        """Save a snapshot when `snapshot_every` events have passed since the last one."""
        if branch.seq - self._last_snapshot < self.snapshot_every:
            return False
        self.save_snapshot(branch)
        return True

    def _snapshots(self) -> list[tuple[int, int, str]]:
        """The snapshots, newest first; none when their pages are damaged (the events alone
        rebuild the state)."""
        try:
            return self._db.execute(
                "SELECT seq, format, state FROM snapshots ORDER BY seq DESC"
            ).fetchall()
        except sqlite3.DatabaseError as err:
            log.warning("the snapshots in %s are unreadable (%s); replaying every event",
                        self.path, err)  # fmt: skip
            return []

    def load(self, rules: BranchRules, use_snapshots: bool = True) -> Branch:
        """Rebuild the branch: newest usable snapshot, then every event after it."""
        branch = None
        for seq, fmt, state in self._snapshots() if use_snapshots else []:
            try:
                if fmt != SNAPSHOT_FORMAT:
                    raise ValueError(f"format {fmt}")
                branch = Branch.from_dict(rules, json.loads(state))
                break
            except (ValueError, KeyError, TypeError) as err:
                log.warning("snapshot at seq %d unusable (%s); trying an older one", seq, err)
        branch = branch or Branch(rules)
        self._last_snapshot = branch.seq
        for event in self.events(after=branch.seq):
            try:
                branch.apply(event)
            except (KeyError, ValueError, TypeError, AttributeError) as err:
                raise StoreError(
                    f"the event log {self.path} has an event {event.seq} ({event.type}) "
                    f"that cannot be applied: {err!r}: {_WHAT_TO_DO}"
                ) from err
        return branch
