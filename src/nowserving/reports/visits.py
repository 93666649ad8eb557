"""The visits projection: one `Visit` row per ticket, derived from a branch's event log and
kept up to date incrementally in an SQLite file of its own.

`catch_up()` reads only the events after the last one it applied (`meta.seq`), so a report
never rescans the log: after a restart the projection goes on from where it stood. The log
is opened read-only (the server owns it); a projection made from another log (its
`log_id` differs, e.g. a restored or new log) is rebuilt from the start.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from nowserving.errors import StoreError
from nowserving.reports.kpi import Visit

FIELDS = tuple(Visit.__slots__)
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS visits ({
    ", ".join(f + (" TEXT PRIMARY KEY" if f == "ticket" else "") for f in FIELDS)
});
CREATE INDEX IF NOT EXISTS visits_issued ON visits (issued_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
BATCH = 20_000  # events per transaction while catching up


class VisitFold:
    """Events folded into visits: what each event does to the visits it touches (`rows`:
    ticket -> dict of `Visit` fields). The one definition of a visit, used by this
    projection and by the head office's rebuild (headoffice/visits.py)."""

    def __init__(self, load=lambda ticket: None) -> None:
        self.rows: dict[str, dict] = {}
        self._load = load  # ticket -> dict of a stored visit, or None

    def visit(self, ticket: str) -> dict | None:
        """The visit of `ticket` being folded (None: issued before these events)."""
        row = self.rows.get(ticket)
        if row is None:
            row = self._load(ticket)
            if row is not None:
                self.rows[ticket] = row
        return row

    def apply(self, kind: str, at: float, data: dict) -> None:
        """Apply one event (of any type: those that touch no visit are ignored)."""
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(at, data)

    def _on_ticket_issued(self, at: float, data: dict) -> None:
        estimate = data.get("estimate") or {}
        self.rows[data["ticket"]] = {
            "ticket": data["ticket"], "service": data["service"],
            "issued_at": float(data.get("issued_at", at)), "called_at": None, "begun_at": None,
            "ended_at": None, "outcome": "open", "counter": None, "staff": None, "transfers": 0,
            "rating": None, "estimate_low": estimate.get("low"),
            "estimate_high": estimate.get("high"), "priority": data.get("priority", ""),
        }  # fmt: skip

    def _on_ticket_called(self, at: float, data: dict) -> None:
        v = self.visit(data["ticket"])
        if v is not None:
            if v["called_at"] is None:
                v["called_at"] = at
            v["begun_at"], v["counter"], v["staff"] = at, data.get("counter"), data.get("staff")

    def _on_ticket_started(self, at: float, data: dict) -> None:
        v = self.visit(data["ticket"])
        if v is not None:
            v["begun_at"] = at

    def _end(self, outcome: str, at: float, data: dict) -> None:
        v = self.visit(data["ticket"])
        if v is not None:
            v["outcome"], v["ended_at"] = outcome, at
            if data.get("counter"):
                v["counter"], v["staff"] = data["counter"], data.get("staff", v["staff"])

    def _on_ticket_finished(self, at: float, data: dict) -> None:
        self._end("served", at, data)

    def _on_ticket_no_show(self, at: float, data: dict) -> None:
        self._end("no_show", at, data)

    def _on_ticket_cancelled(self, at: float, data: dict) -> None:
        self._end("cancelled", at, data)

    def _on_day_started(self, at: float, data: dict) -> None:
        for ticket in data.get("expired", ()):
            self._end("expired", at, {"ticket": ticket})

    def _on_ticket_transferred(self, at: float, data: dict) -> None:
        v = self.visit(data["ticket"])
        if v is not None:
            v["transfers"] += 1
            if v["called_at"] is None:  # its printed range was for the line it left
                v["estimate_low"] = v["estimate_high"] = None

    def _on_transfer_undone(self, at: float, data: dict) -> None:
        v = self.visit(data["ticket"])
        if v is not None:
            v["transfers"] = max(0, v["transfers"] - 1)
            was = data.get("was") or {}
            begun = was.get("started_at") or was.get("called_at")
            if begun is not None:
                v["begun_at"] = begun

    def _on_ticket_rated(self, at: float, data: dict) -> None:
        v = self.visit(data["ticket"])
        if v is not None:
            v["rating"] = data.get("rating")
            if v["staff"] is None and data.get("staff"):
                v["staff"] = data["staff"]


# The event types that change a visit (the others need not be read).
VISIT_EVENTS = tuple(
    sorted(k.removeprefix("_on_") for k in vars(VisitFold) if k.startswith("_on_"))
)


class VisitProjection:
    """The visits of the log at `log_path`, kept in the SQLite file `path`."""

    def __init__(self, log_path: str | Path, path: str | Path) -> None:
        self.log_path = Path(log_path)
        self.path = Path(path)
        self._lock = threading.Lock()  # one catch-up at a time; readers use their own cursor
        self._closing = False
        # Issue times of the visits stored since `changed()` last gave them (None: all of
        # them, after a rebuild): what a Rollup must forget.
        self._changed: list[float] | None = []
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # a lost tail is rebuilt from the log
        self._db.executescript(SCHEMA)

    def __enter__(self) -> VisitProjection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the projection's file (idempotent); a catch-up under way stops after the
        batch it is on (what it stored stands)."""
        self._closing = True
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @property
    def seq(self) -> int:
        """The last event of the log applied to the visits."""
        row = self._db.execute("SELECT value FROM meta WHERE key='seq'").fetchone()
        return int(row[0]) if row else 0

    def _open_log(self) -> sqlite3.Connection:
        if not self.log_path.exists():
            raise StoreError(f"there is no event log at {self.log_path}")
        try:
            return sqlite3.connect(f"file:{self.log_path}?mode=ro", uri=True,
                                   check_same_thread=False)  # fmt: skip
        except sqlite3.Error as err:
            raise StoreError(f"cannot read the event log {self.log_path}: {err}") from err

    def catch_up(self) -> int:
        """Apply the log's events after the last one applied; return how many."""
        with self._lock:
            if self._db is None:
                raise StoreError(f"the visits projection {self.path} is closed")
            log = self._open_log()
            try:
                return self._catch_up(log)
            except (sqlite3.Error, ValueError, KeyError, TypeError) as err:
                raise StoreError(f"cannot project the event log {self.log_path}: {err}") from err
            finally:
                log.close()

    def _catch_up(self, log: sqlite3.Connection) -> int:
        log_id = dict(log.execute("SELECT key, value FROM meta").fetchall()).get("log_id", "")
        mine = self._db.execute("SELECT value FROM meta WHERE key='log_id'").fetchone()
        if mine is None or mine[0] != log_id:  # a new projection, or another log's
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM visits")
            self._db.execute("DELETE FROM meta")
            self._db.execute("INSERT INTO meta VALUES ('log_id', ?), ('seq', '0')", (log_id,))
            self._db.execute("COMMIT")
            self._changed = None
        seq, applied = self.seq, 0
        last = log.execute("SELECT MAX(seq) FROM events").fetchone()[0] or 0
        kinds = VISIT_EVENTS
        # Only the events that change a visit are read (a third of a busy log's are not).
        cursor = log.execute(
            f"SELECT seq, at, type, data FROM events WHERE seq > ? AND seq <= ? AND type IN "
            f"({', '.join('?' * len(kinds))}) ORDER BY seq",
            (seq, last, *kinds),
        )
        while not self._closing:
            batch = cursor.fetchmany(BATCH)
            if not batch:
                break
            state = VisitFold(self._load)
            for _, at, kind, data in batch:
                state.apply(kind, at, json.loads(data))
            self._store(state.rows.values(), batch[-1][0])
            applied += len(batch)
        if last > self.seq and not self._closing:
            self._store((), last)
        return applied

    def _load(self, ticket: str) -> dict | None:
        row = self._db.execute(
            f"SELECT {', '.join(FIELDS)} FROM visits WHERE ticket = ?", (ticket,)
        ).fetchone()
        return None if row is None else dict(zip(FIELDS, row, strict=True))

    def _store(self, rows, seq: int) -> None:
        marks = ", ".join("?" * len(FIELDS))
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                f"INSERT OR REPLACE INTO visits VALUES ({marks})",
                [tuple(r[f] for f in FIELDS) for r in rows],
            )
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'seq'", (str(seq),))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        if self._changed is not None:
            self._changed.extend(r["issued_at"] for r in rows)

    def changed(self) -> list[float] | None:
        """The issue times of the visits that changed since the last call (None: every
        visit may have: the projection was rebuilt)."""
        with self._lock:
            changed, self._changed = self._changed, []
            return changed

    def visits(self, start: float, end: float) -> list[Visit]:
        """The visits issued in the Unix range [start, end), oldest first."""
        with self._lock:  # one connection: not in the middle of a catch-up's transaction
            cursor = self._db.execute(
                f"SELECT {', '.join(FIELDS)} FROM visits WHERE issued_at >= ? AND issued_at < ? "
                "ORDER BY issued_at",
                (start, end),
            )
            return [Visit(*row) for row in cursor]

    def span(self) -> tuple[float, float] | None:
        """The first and last issue times projected (None: no visit yet)."""
        with self._lock:
            row = self._db.execute("SELECT MIN(issued_at), MAX(issued_at) FROM visits").fetchone()
        return None if row[0] is None else (row[0], row[1])
