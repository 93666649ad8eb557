"""The ingest's own health: how fast it stores, how far behind each branch is, what went
wrong last. Published retained on `health_topic(client_id)` (a last will says it is gone)
and kept in the `ingest_health` table, where `nowserving headoffice status` reads it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC

from nowserving.headoffice.status import BranchStatus

HEALTH_EVERY_S = 5.0  # how often the ingest reports
HEALTH_VERSION = 1


def health_topic(client_id: str) -> str:
    """The retained topic of one ingest process (one per `--client-id`)."""
    return f"nowserving/headoffice/ingest/{client_id}"


def gone_message(client_id: str) -> bytes:
    """The last will: the ingest is not running (its numbers are no longer current)."""
    return f'{{"v":{HEALTH_VERSION},"client_id":"{client_id}","online":false}}'.encode()


@dataclass
class Health:
    """What the ingest counts about itself between reports."""

    client_id: str
    started_at: float = field(default_factory=time.time)
    stored: int = 0  # events newly stored since it started
    too_old: int = 0  # events before the retention horizon, not stored
    holes_found: int = 0  # by the periodic recheck
    rebuilt: int = 0  # branch-days whose visits and rollups it made again
    rows_per_s: float = 0.0  # over the last report's interval
    last_error: str | None = None
    last_error_at: float | None = None
    _mark: tuple[float, int] = (0.0, 0)  # (monotonic time, stored) at the last report

    def error(self, message: str) -> None:
        """Note what went wrong (the newest is reported)."""
        self.last_error, self.last_error_at = message[:500], time.time()

    def tick(self) -> None:
        """Recompute rows/s since the previous tick."""
        now = time.monotonic()
        then, stored = self._mark
        if then:
            self.rows_per_s = (self.stored - stored) / max(now - then, 1e-6)
        self._mark = (now, self.stored)

    def message(self, statuses: list[BranchStatus] | None) -> dict:
        """The status topic's payload; `statuses` None: the database could not be read."""
        message = {
            "v": HEALTH_VERSION,
            "client_id": self.client_id,
            "online": True,
            "at": time.time(),
            "started_at": self.started_at,
            "stored": self.stored,
            "rows_per_s": round(self.rows_per_s, 1),
            "too_old": self.too_old,
            "holes_found": self.holes_found,
            "rebuilt": self.rebuilt,
            "last_error": None
            if self.last_error is None
            else {"at": self.last_error_at, "message": self.last_error},
            "database": "ok" if statuses is not None else "unreachable",
        }
        if statuses is not None:
            message["branches"] = {
                s.branch: {
                    "status": s.verdict,
                    "lag": s.lag,
                    "last_seq": s.last_seq,
                    "epoch": s.epoch,
                    "gaps_repaired": s.gaps_repaired,
                    "events_repaired": s.events_repaired,
                    "gaps_open": s.gaps_open,
                    "link_up": s.link_up,
                }
                for s in statuses
            }
        return message

    def save(self, conn) -> None:
        """Keep the numbers in `ingest_health` (for `status`)."""
        conn.execute(
            "INSERT INTO ingest_health (client_id, started_at, updated_at, stored, rows_per_s, "
            "too_old, holes_found, last_error, last_error_at) VALUES (%s, to_timestamp(%s), "
            "now(), %s, %s, %s, %s, %s, to_timestamp(%s)) ON CONFLICT (client_id) DO UPDATE "
            "SET started_at = EXCLUDED.started_at, updated_at = now(), stored = EXCLUDED.stored, "
            "rows_per_s = EXCLUDED.rows_per_s, too_old = EXCLUDED.too_old, "
            "holes_found = EXCLUDED.holes_found, last_error = EXCLUDED.last_error, "
            "last_error_at = EXCLUDED.last_error_at",
            (self.client_id, self.started_at, self.stored, self.rows_per_s, self.too_old,
             self.holes_found, self.last_error, self.last_error_at),
        )  # fmt: skip


def format_health(conn) -> str:
    """One line per ingest process that has reported, for the terminal."""
    rows = conn.execute(
        "SELECT client_id, extract(epoch FROM now() - updated_at), started_at, stored, "
        "rows_per_s, too_old, holes_found, last_error, last_error_at FROM ingest_health "
        "ORDER BY client_id"
    ).fetchall()
    if not rows:
        return "ingest: has not reported yet"
    lines = []
    for client, age, started, stored, rate, too_old, holes, error, error_at in rows:
        state = "up" if age < 3 * HEALTH_EVERY_S else "NOT REPORTING"
        when = started.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        last = "none"
        if error:
            last = f"{error_at.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S')} {error}"
        lines.append(
            f"ingest {client}: {state} (reported {age:.0f} s ago); {rate:,.0f} rows/s; "
            f"{stored:,} stored since {when} UTC; {too_old:,} too old; {holes:,} holes found "
            f"again; last error: {last}"
        )
    return "\n".join(lines)
