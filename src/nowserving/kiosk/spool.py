"""The kiosk's durable memory for issuing offline: the numbers leased to it, and the tickets
it issued while cut off, waiting to be sent (SQLite, WAL, synchronous=FULL).

Taking a number and spooling its ticket is one transaction, committed before the ticket is
printed: a power cut or a kill -9 at any moment leaves either nothing (no ticket was
printed) or a spooled ticket that is sent when the server is back — never a number given
twice, never a printed ticket the server will not hear of.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from nowserving.errors import StoreError
from nowserving.protocol.vocabulary import Cmd

SCHEMA = """
CREATE TABLE IF NOT EXISTS numbers (
    day TEXT NOT NULL,
    service TEXT NOT NULL,
    n INTEGER NOT NULL,
    number TEXT NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, number)
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    args TEXT NOT NULL,
    settled INTEGER NOT NULL DEFAULT 0,
    outcome TEXT
);
"""


class Spool:
    """Leased numbers and spooled commands of one kiosk."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as err:
            raise StoreError(f"cannot open the kiosk's spool {self.path}: {err}") from err

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the spool's database (idempotent)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def add_lease(self, day: str, service: str, numbers: list[tuple[int, str]]) -> None:
        """Keep `numbers` ((n, as printed)) leased for `service` on `day`."""
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT OR IGNORE INTO numbers (day, service, n, number) VALUES (?,?,?,?)",
                [(day, service, n, text) for n, text in numbers],
            )

    def available(self, day: str, service: str) -> int:
        """How many leased numbers of `service` on `day` are unused."""
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM numbers WHERE day=? AND service=? AND used=0", (day, service)
            ).fetchone()
        return row[0]

    def leased_days(self) -> set[str]:
        """The business days this kiosk holds unused leased numbers for."""
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT day FROM numbers WHERE used=0").fetchall()
        return {row[0] for row in rows}

    def issue(self, day: str, service: str, command_id: str, args: dict) -> str | None:
        """Take the lowest unused leased number of `service` today and spool its
        `issue_ticket` (`args` plus the number) under `command_id`, in one transaction;
        None when no leased number is left."""
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute(
                "SELECT number FROM numbers WHERE day=? AND service=? AND used=0 "
                "ORDER BY n LIMIT 1",
                (day, service),
            ).fetchone()
            if row is None:
                return None
            number = row[0]
            self._db.execute("UPDATE numbers SET used=1 WHERE day=? AND number=?", (day, number))
            self._db.execute(
                "INSERT INTO outbox (id, type, args) VALUES (?,?,?)",
                (command_id, Cmd.ISSUE_TICKET, json.dumps({**args, "number": number})),
            )
            return number

    def pending(self) -> list[tuple[str, str, dict]]:
        """Spooled commands not yet answered, in the order they were spooled."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, type, args FROM outbox WHERE settled=0 ORDER BY seq"
            ).fetchall()
        return [(i, kind, json.loads(args)) for i, kind, args in rows]

    def settle(self, command_id: str, outcome: str) -> None:
        """The server answered `command_id` (`outcome`: "ok" or its refusal's code)."""
        with self._lock, self._db:
            self._db.execute(
                "UPDATE outbox SET settled=1, outcome=? WHERE id=?", (outcome, command_id)
            )

    def forget_days_before(self, day: str) -> None:
        """Leases end with their business day."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM numbers WHERE day < ?", (day,))
