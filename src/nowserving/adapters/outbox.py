"""The webhook outbox: messages waiting for their receiver, the dead letters nobody took,
and the phone numbers of open tickets and bookings (SQLite, WAL, synchronous=FULL, secure_delete).

A message is kept until its receiver answers 2xx; after its last try it moves to the
dead letters, without any phone number. A phone number is kept only while its ticket is
open and while a message that carries it waits; `take` deletes it when the ticket ends or
the next business day starts. `secure_delete` overwrites deleted rows in the database file
(a copy may stay in the write-ahead log until it is next overwritten). Written by one
thread (server/webhooks.py), each change in one transaction: another connection (`nowserving
webhooks`, a test) never sees half of one, e.g. a dead letter still waiting.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from nowserving.errors import StoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    ticket TEXT NOT NULL,
    body TEXT NOT NULL,
    phone TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    error TEXT
);
CREATE TABLE IF NOT EXISTS dead (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS phones (ticket TEXT PRIMARY KEY, phone TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS booking_phones (booking TEXT PRIMARY KEY, phone TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


# A booking's own messages are kept under "booking:<id>" where a ticket's are under its id,
# and take the booking's phone number.
BOOKING_PREFIX = "booking:"


@dataclass(frozen=True)
class Message:
    """One message waiting for its receiver: the body as sent (phone number included)."""

    n: int
    key: str
    url: str
    body: dict
    attempts: int


@dataclass
class Bookings:
    """What a batch changes in the bookings' phone numbers: new ones (`phones`, booking ->
    number, from `book`), check-ins (`checked_in`, ticket -> booking: the number becomes
    the ticket's) and bookings cancelled or missed (`ended`: their numbers go)."""

    checked_in: dict[str, str] = field(default_factory=dict)
    ended: list[str] = field(default_factory=list)
    phones: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeadLetter:
    """A message its receiver never took, as it was sent but without a phone number."""

    key: str
    url: str
    body: dict
    attempts: int
    error: str | None
    at: float


class WebhookOutbox:
    """The server's durable webhook messages, dead letters and phone numbers."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fresh = not self.path.exists()
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            if fresh:  # phone numbers: readable by the server's user only
                os.chmod(self.path, 0o600)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as err:
            raise StoreError(f"cannot open the webhook outbox {self.path}: {err}") from err

    def __enter__(self) -> WebhookOutbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the database (idempotent)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    # ----- what has been taken from the event log ------------------------------------------

    @property
    def cursor(self) -> int:
        """The seq of the last event whose messages are in the outbox (0: none)."""
        row = self._db.execute("SELECT value FROM meta WHERE key='cursor'").fetchone()
        return int(row[0]) if row else 0

    def near_sent(self) -> set[str]:
        """The tickets told `near_turn` already (today's, as far as the outbox knows)."""
        row = self._db.execute("SELECT value FROM meta WHERE key='near'").fetchone()
        return set(json.loads(row[0])) if row else set()

    def take(self, messages: list[tuple], at: float, cursor: int | None,
             near: set[str] | None = None, *, phones: dict[str, str] | None = None,
             ended: list[str] | None = None, day: str | None = None,
             bookings: Bookings | None = None) -> None:  # fmt: skip
        """Keep what the apply loop handed over, in one transaction: the new tickets' phone
        numbers (`phones`, ticket -> number); the bookings' (`bookings`: new numbers, and a
        check-in's becomes its ticket's); a new business `day` (every number of an earlier
        day goes, also from waiting messages, and no ticket counts as told `near_turn`);
        `messages` ((key, url, ticket, body[, when])) to send from `at` (or `when`: a
        booking's reminder), each with its ticket's number if one is kept (or its
        booking's, for "booking:<id>"; a key seen before is not added again); the tickets
        told `near_turn` (`near`, after the day's reset); the cursor; and last, the numbers
        of the bookings that ended (with their reminders not sent yet) and of the tickets
        that `ended` (their waiting messages keep theirs)."""
        with self._transaction():
            for ticket, phone in (phones or {}).items():
                self._db.execute("INSERT OR REPLACE INTO phones VALUES (?, ?)", (ticket, phone))
            deleted = self._bookings(bookings) if bookings is not None else 0
            deleted += self._new_day(day) if day is not None else 0
            for key, url, ticket, body, *when in messages:
                booking = ticket.startswith(BOOKING_PREFIX)
                table, column = ("booking_phones", "booking") if booking else ("phones", "ticket")
                self._db.execute(
                    "INSERT OR IGNORE INTO pending (key, url, ticket, body, phone, next_at) "
                    f"VALUES (?, ?, ?, ?, (SELECT phone FROM {table} WHERE {column} = ?), ?)",
                    (key, url, ticket, _text(body), ticket.removeprefix(BOOKING_PREFIX),
                     when[0] if when and when[0] is not None else at),
                )  # fmt: skip
            deleted += self._bookings_ended(bookings) if bookings is not None else 0
            if cursor is not None:
                self._set("cursor", str(max(cursor, self.cursor)))
            if near is not None:
                self._set("near", json.dumps(sorted(near)))
            for ticket in ended or ():
                deleted += self._db.execute(
                    "DELETE FROM phones WHERE ticket = ?", (ticket,)
                ).rowcount
        if deleted:
            self._scrub()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction (the connection is in autocommit mode: without BEGIN each
        statement would be seen on its own by the other connections)."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            yield

    def _set(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # ----- phone numbers -------------------------------------------------------------------

    def _bookings(self, bookings: Bookings) -> int:
        """Within a transaction, before the batch's messages: keep the new bookings'
        numbers (a reminder waiting takes a changed one), and give each check-in's ticket
        its booking's number (not after its booking's no-show: a check-in then gets none)
        and drop its reminder not sent yet; returns how many numbers went."""
        db = self._db
        for booking, phone in bookings.phones.items():
            db.execute("INSERT OR REPLACE INTO booking_phones VALUES (?, ?)", (booking, phone))
            db.execute(
                "UPDATE pending SET phone = ? WHERE ticket = ? AND phone IS NOT NULL",
                (phone, BOOKING_PREFIX + booking),
            )
        deleted = 0
        ended = set(bookings.ended)
        for ticket, booking in bookings.checked_in.items():
            if booking not in ended:
                db.execute(
                    "INSERT OR REPLACE INTO phones SELECT ?, phone FROM booking_phones "
                    "WHERE booking = ?",
                    (ticket, booking),
                )
            deleted += db.execute(
                "DELETE FROM booking_phones WHERE booking = ?", (booking,)
            ).rowcount
            deleted += self._drop_reminder(booking)
        return deleted

    def _bookings_ended(self, bookings: Bookings) -> int:
        """Within a transaction, after the batch's messages (a no-show's message takes the
        number first): the numbers and unsent reminders of bookings cancelled or missed."""
        deleted = 0
        for booking in bookings.ended:
            deleted += self._db.execute(
                "DELETE FROM booking_phones WHERE booking = ?", (booking,)
            ).rowcount
            deleted += self._drop_reminder(booking)
        return deleted

    def _drop_reminder(self, booking: str) -> int:
        """A booking's reminder not sent yet goes (it checked in, or ended); returns how
        many phone numbers went with it."""
        rows = self._db.execute(
            "DELETE FROM pending WHERE ticket = ? AND json_extract(body, '$.type') = "
            "'booking_reminder' RETURNING phone",
            (BOOKING_PREFIX + booking,),
        ).fetchall()
        return sum(1 for (phone,) in rows if phone is not None)

    def _new_day(self, day: str) -> int:
        """Within a transaction: a business day started, so every number of an earlier day
        goes, also from the messages still waiting (tickets are "<day>/<number>"), and no
        ticket counts as told `near_turn`; returns how many numbers went."""
        deleted = self._db.execute(
            "DELETE FROM phones WHERE ticket NOT LIKE ? || '/%'", (day,)
        ).rowcount
        deleted += self._db.execute(
            "UPDATE pending SET phone = NULL WHERE phone IS NOT NULL AND ticket NOT LIKE ? || '/%' "
            "AND ticket NOT LIKE ? || '%'",  # a booking's messages keep the booking's number
            (day, BOOKING_PREFIX),
        ).rowcount
        self._set("near", "[]")
        return deleted

    def _scrub(self) -> None:
        """Copy the log into the database (where secure_delete has overwritten deleted
        numbers) and empty the log, so no deleted number stays in either file."""
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def phones_kept(self) -> int:
        """How many phone numbers are kept now (for tickets, for bookings and in waiting
        messages)."""
        kept = self._db.execute("SELECT count(*) FROM phones").fetchone()[0]
        kept += self._db.execute("SELECT count(*) FROM booking_phones").fetchone()[0]
        return kept + self._db.execute("SELECT count(phone) FROM pending").fetchone()[0]

    # ----- sending -------------------------------------------------------------------------

    def due(self, now: float, limit: int = 100) -> list[Message]:
        """Messages whose time has come, oldest first."""
        rows = self._db.execute(
            "SELECT n, key, url, body, phone, attempts FROM pending WHERE next_at <= ? "
            "ORDER BY n LIMIT ?",
            (now, limit),
        ).fetchall()
        messages = []
        for n, key, url, body, phone, attempts in rows:
            data = json.loads(body)
            if phone is not None:
                data["phone"] = phone
            messages.append(Message(n, key, url, data, attempts))
        return messages

    def next_due(self) -> float | None:
        """When the next message is due (None: none waits)."""
        return self._db.execute("SELECT min(next_at) FROM pending").fetchone()[0]

    def sent(self, n: int) -> None:
        """Its receiver took message `n`: it goes, with its phone number."""
        with self._transaction():
            row = self._db.execute("SELECT phone FROM pending WHERE n = ?", (n,)).fetchone()
            self._db.execute("DELETE FROM pending WHERE n = ?", (n,))
        if row is not None and row[0] is not None:
            self._scrub()

    def failed(self, n: int, error: str, retry_at: float | None, at: float) -> None:
        """Message `n` was not taken: try again at `retry_at`, or (None) it is dead: in one
        transaction it leaves the waiting messages, with its phone number, and becomes a
        dead letter (its body never held the number: that has its own column)."""
        if retry_at is not None:
            with self._db:
                self._db.execute(
                    "UPDATE pending SET attempts = attempts + 1, next_at = ?, error = ? "
                    "WHERE n = ?",
                    (retry_at, error, n),
                )
            return
        with self._transaction():
            row = self._db.execute("SELECT phone FROM pending WHERE n = ?", (n,)).fetchone()
            self._db.execute(
                "INSERT OR REPLACE INTO dead (key, url, body, attempts, error, at) "
                "SELECT key, url, body, attempts + 1, ?, ? FROM pending WHERE n = ?",
                (error, at, n),
            )
            self._db.execute("DELETE FROM pending WHERE n = ?", (n,))
        if row is not None and row[0] is not None:
            self._scrub()

    def waiting(self) -> int:
        """How many messages wait for their receiver."""
        return self._db.execute("SELECT count(*) FROM pending").fetchone()[0]

    # ----- dead letters --------------------------------------------------------------------

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter, oldest first."""
        rows = self._db.execute(
            "SELECT key, url, body, attempts, error, at FROM dead ORDER BY n"
        ).fetchall()
        return [DeadLetter(k, u, json.loads(b), a, e, t) for k, u, b, a, e, t in rows]

    def retry_dead(self, at: float) -> int:
        """Put every dead letter back to be sent from `at` (its phone number is gone);
        returns how many."""
        with self._transaction():
            moved = self._db.execute(
                "INSERT OR IGNORE INTO pending (key, url, ticket, body, next_at) "
                "SELECT key, url, coalesce(json_extract(body, '$.ticket'), "
                "? || json_extract(body, '$.booking')), body, ? FROM dead ORDER BY n",
                (BOOKING_PREFIX, at),
            ).rowcount
            self._db.execute("DELETE FROM dead")
        return moved


def _text(body: dict) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
