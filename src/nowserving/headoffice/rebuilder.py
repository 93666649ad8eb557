"""The ingest's own rebuilds: a thread that makes the visits and rollups of the branch-days
marked due (headoffice/visits.py), beside the writer, on its own database connection.

Storing events comes first: the thread pauses while the writer has REBUILD_QUIET messages
or more waiting, and the writer never waits for it (a rebuild runs in its own transaction
on its own connection; PostgreSQL does most of the work, with Python's lock released).
`nowserving headoffice ingest --no-rebuild` leaves the rebuilds to `rebuild --due`.

Between branch-days it also starts the summing up of the months whose days were rebuilt
(headoffice/months.py), in a child process of lower priority, never while the writer is
behind."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

from nowserving.headoffice.health import Health
from nowserving.headoffice.months import SummaryWorker
from nowserving.headoffice.visits import rebuild_due_days

log = logging.getLogger(__name__)

REBUILD_QUIET = 200  # the writer has this many messages waiting: rebuilds pause
PAUSE_S = 0.05
IDLE_S = 1.0  # nothing said: look for due days this often anyway
RETRY_S = 2.0


class Rebuilder:
    """Rebuilds due branch-days until `close`; `nudge` after new events are stored."""

    def __init__(self, dsn: str, health: Health, backlog: Callable[[], int]) -> None:
        self.dsn = dsn
        self.health = health
        self.backlog = backlog  # the writer's messages waiting
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._conn: psycopg.Connection | None = None
        self.summaries = SummaryWorker(dsn)
        self._thread = threading.Thread(target=self._run, name="headoffice-rebuild", daemon=True)

    def start(self) -> None:
        """Start the thread (once)."""
        if not self._thread.is_alive():
            self._thread.start()

    def nudge(self) -> None:
        """New events are stored: their branch-days may be due."""
        self._wake.set()

    def close(self) -> None:
        """Stop after the branch-day in hand (bounded wait) and close the connection."""
        self.stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _connect(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.dsn, autocommit=True)
            self._conn.execute("SET TIME ZONE 'UTC'")
        return self._conn

    def _run(self) -> None:
        try:
            while not self.stopping.is_set():
                self._wake.wait(IDLE_S)
                self._wake.clear()
                self._rebuild_all_due()
        finally:
            self.summaries.close()
            if self._conn is not None:
                self._conn.close()

    def _rebuild_all_due(self) -> None:
        """Rebuild due branch-days one at a time until none is left (or stopping)."""
        while not self.stopping.is_set():
            if self.backlog() >= REBUILD_QUIET:
                self.stopping.wait(PAUSE_S)
                continue
            try:
                self.summaries.poll(self._connect())
                done = rebuild_due_days(self._connect(), limit=1)
            except psycopg.OperationalError as err:
                log.warning("cannot rebuild the due branch-days: %s", err)
                self.health.error(f"cannot rebuild the due branch-days: {err}")
                if self._conn is not None:
                    self._conn.close()
                self.stopping.wait(RETRY_S)
                return
            except psycopg.Error as err:
                log.warning("cannot rebuild the due branch-days: %s", err)
                self.health.error(f"cannot rebuild the due branch-days: {err}")
                return
            if not done:
                return
            self.health.rebuilt += done
