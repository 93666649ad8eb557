"""The web role's limits that must hold across its processes and restarts (docs/web.md,
"Limits"): the console's sign-in lock-out and the remote join's per-address limit.

They live in a small SQLite file in the role's state directory (WAL, one short
transaction per check), so a second process, or the same one restarted, sees the same
counts. The file never holds an address or an account name: each row's key is an HMAC of
it under a random key made once per file. Each table is bounded (`rows`): entries expire
when they no longer matter (a bucket full again, a lock-out over and its count forgotten),
and past the bound the soonest to expire go first, so a flood of distinct addresses costs
a bounded file, not the disk.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

FILE_NAME = "web-limits.sqlite"
ROWS = 20_000  # per table: ~2 MB of file at most
PRUNE_EVERY = 64  # new keys a process adds between two prunes (the bound's slack)
BUSY_MS = 1000  # how long a check waits for another process's transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lockout (k BLOB PRIMARY KEY, count INTEGER NOT NULL,
    until REAL NOT NULL, expires REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS lockout_expires ON lockout (expires);
CREATE TABLE IF NOT EXISTS buckets (k BLOB PRIMARY KEY, tokens REAL NOT NULL,
    at REAL NOT NULL, expires REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS buckets_expires ON buckets (expires);
"""


class LimitStore:
    """Failure counts and token buckets kept in SQLite at `path` (None: in this process's
    memory only). Every method takes the time (`now`, wall clock seconds) from the caller.
    A check the store cannot answer (the disk full, another process holding it too long)
    is refused and logged: a limit never silently lapses."""

    def __init__(self, path: Path | None = None, rows: int = ROWS) -> None:
        self.path = path
        self.rows = rows
        self._lock = threading.Lock()
        self._added = dict.fromkeys(_COLS, 0)  # new keys per table since the start
        self._db = self._open(path)
        self._key = self._file_key()

    @classmethod
    def in_dir(cls, folder: Path) -> LimitStore:
        """The store in `folder` (the role's state directory); in memory, with an error
        logged, when the file cannot be made there."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return cls(folder / FILE_NAME)
        except (OSError, sqlite3.Error) as err:
            log.error("web limits kept in memory only (per process, lost at a restart): "
                      "cannot use %s: %s", folder / FILE_NAME, err)  # fmt: skip
            return cls(None)

    def _open(self, path: Path | None) -> sqlite3.Connection:
        db = sqlite3.connect(
            str(path) if path is not None else ":memory:",
            timeout=BUSY_MS / 1000,
            isolation_level=None,  # transactions written out below
            check_same_thread=False,  # the event loop and to_thread workers; under _lock
        )
        if path is not None:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # a power cut may lose the last check
        db.executescript(_SCHEMA)
        return db

    def _file_key(self) -> bytes:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('key', ?)",
                             (secrets.token_bytes(32),))  # fmt: skip
            (key,) = self._db.execute("SELECT value FROM meta WHERE name = 'key'").fetchone()
            self._db.execute("COMMIT")
        return bytes(key)

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> LimitStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _k(self, key: str) -> bytes:
        return hmac.new(self._key, key.encode(), hashlib.sha256).digest()[:16]

    def _run(self, what: str, work, refused):
        """`work(db)` in one immediate transaction; `refused` (and a log line naming no
        key) when the store cannot do it."""
        with self._lock:
            if self._db is None:
                return refused
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    result = work(self._db)
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as err:
                log.error("web limits store %s: %s failed (%s): refused", self.path, what, err)
                return refused
            return result

    # ----- failure counts (the console's lock-out) ---------------------------------------

    def locked_until(self, keys: list[str], now: float) -> float:
        """The latest time any of `keys` is locked until (0: none is)."""

        def work(db):
            marks = ",".join("?" * len(keys))
            row = db.execute(f"SELECT max(until) FROM lockout WHERE k IN ({marks})",
                             [self._k(k) for k in keys]).fetchone()  # fmt: skip
            return row[0] or 0.0

        return self._run("lock-out check", work, now + 60.0)

    def fail(self, keys: list[str], now: float, limit: int, lock_s: float,
             forget_s: float) -> bool:  # fmt: skip
        """Count one failure against each of `keys`; one reaching `limit` is locked for
        `lock_s` and counts from 0 again. A count is forgotten `forget_s` after its last
        failure. True when this failure locked one."""

        def work(db):
            locked = False
            for key in keys:
                k = self._k(key)
                row = db.execute("SELECT count, until, expires FROM lockout WHERE k = ?",
                                 (k,)).fetchone()  # fmt: skip
                count, until = (row[0], row[1]) if row and row[2] > now else (0, 0.0)
                count += 1
                if count >= limit:
                    count, until, locked = 0, now + lock_s, True
                self._put(db, "lockout", k, count, until, max(until, now + forget_s), now)
            return locked

        return self._run("lock-out count", work, True)

    def clear(self, keys: list[str]) -> None:
        """Forget `keys`' counts (a right password)."""

        def work(db):
            db.executemany("DELETE FROM lockout WHERE k = ?",
                           [(self._k(k),) for k in keys])  # fmt: skip

        self._run("lock-out clear", work, None)

    # ----- token buckets (the remote join's per-address limit) ---------------------------

    def take(self, key: str, rate: float, burst: float, now: float, cost: float = 1.0) -> bool:
        """Take `cost` from `key`'s bucket (`burst` at most, refilled at `rate` a second);
        False when it has not that much."""

        def work(db):
            k = self._k(key)
            row = db.execute("SELECT tokens, at FROM buckets WHERE k = ?", (k,)).fetchone()
            tokens, at = row if row else (float(burst), now)
            tokens = min(float(burst), tokens + max(0.0, now - at) * rate)
            allowed = tokens >= cost
            if allowed:
                tokens -= cost
            full_at = now + (burst - tokens) / rate if rate > 0 else float("inf")
            self._put(db, "buckets", k, tokens, now, full_at, now)
            return allowed

        return self._run("join limit", work, False)

    # ----- bounds ------------------------------------------------------------------------

    def _put(self, db, table: str, k: bytes, a: float, b: float, expires: float,
             now: float) -> None:  # fmt: skip
        cursor = db.execute(f"UPDATE {table} SET {_COLS[table]}, expires = ? WHERE k = ?",
                            (a, b, expires, k))  # fmt: skip
        if cursor.rowcount:
            return
        db.execute(f"INSERT INTO {table} VALUES (?, ?, ?, ?)", (k, a, b, expires))
        self._added[table] += 1
        if self._added[table] % PRUNE_EVERY == 0:
            self._prune(db, table, now)

    def _prune(self, db, table: str, now: float) -> None:
        """Drop what has expired, then when past `rows` the soonest to expire down to 90 %
        of it (a lock-out in force last: a flood of new names or addresses does not lift
        it)."""
        db.execute(f"DELETE FROM {table} WHERE expires <= ?", (now,))
        if db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] <= self.rows:
            return
        # Down to 90 %: the sort this takes is paid once per `rows / 10` new keys.
        db.execute(f"DELETE FROM {table} WHERE k IN (SELECT k FROM {table} "
                   f"ORDER BY {_KEEP[table]} LIMIT -1 OFFSET ?)",
                   (now, self.rows - self.rows // 10))  # fmt: skip

    def count(self, table: str) -> int:
        """How many rows `table` ("lockout" or "buckets") holds (for tests and benches)."""
        if table not in _COLS:
            raise ValueError(table)
        return self._run("count", lambda db: db.execute(
            f"SELECT count(*) FROM {table}").fetchone()[0], -1)  # fmt: skip


# The order rows are kept in past the bound (the first `rows` stay); `?` is now.
_KEEP = {"lockout": "until > ? DESC, expires DESC", "buckets": "? IS NULL, expires DESC"}
_COLS = {"lockout": "count = ?, until = ?", "buckets": "tokens = ?, at = ?"}
