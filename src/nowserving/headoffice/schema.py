"""Schema migrations: the numbered SQL files in `migrations/`, applied in order, each in
its own transaction together with its row in `schema_version`."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from nowserving.errors import NowservingError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK = 0x6E6F7773  # pg_advisory_xact_lock key: one migrating process at a time


class SchemaError(NowservingError):
    """The database's schema cannot be used by this version."""


def migrations() -> list[tuple[int, str]]:
    """(version, file name) of every migration shipped, in order."""
    found = []
    for path in MIGRATIONS.glob("*.sql"):
        match = _NAME.match(path.name)
        if match is None:
            raise SchemaError(f"{path} is not named NNNN_words.sql")
        found.append((int(match[1]), path.name))
    found.sort()
    versions = [v for v, _ in found]
    if len(set(versions)) != len(versions) or (versions and versions[0] != 1):
        # Numbers may skip (work done side by side takes its own range, e.g. from 0010),
        # but never repeat: each is applied once, whatever order they came in.
        raise SchemaError(f"migrations are not numbered 1, then increasing, once each: {found}")
    return found


def applied_versions(conn) -> set[int]:
    """The migrations applied to the database (empty for a new one)."""
    exists = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]
    if not exists:
        return set()
    return {row[0] for row in conn.execute("SELECT version FROM schema_version").fetchall()}


def current_version(conn) -> int:
    """The highest migration applied (0 for a new database)."""
    exists = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]
    if not exists:
        return 0
    return conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]


def pending(conn) -> list[str]:
    """The shipped migrations not yet applied to the database (by number: they may skip)."""
    done = applied_versions(conn)
    return [name for version, name in migrations() if version not in done]


def migrate(conn) -> list[str]:
    """Bring the database (an autocommit psycopg connection) to the newest schema; returns
    the names of the migrations applied. A database newer than this code is refused."""
    known = migrations()
    applied = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, "
            "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
    for version, name in known:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            if version in applied_versions(conn):
                continue
            conn.execute((MIGRATIONS / name).read_text(encoding="utf-8"))
            conn.execute(
                "INSERT INTO schema_version (version, name) VALUES (%s, %s)", (version, name)
            )
            applied.append(name)
            log.info("applied migration %s", name)
    unknown = applied_versions(conn) - {v for v, _ in known}
    if unknown:
        raise SchemaError(
            f"the database's schema has migration(s) {sorted(unknown)} this nowserving does "
            f"not know (its newest is {known[-1][0]}): update nowserving"
        )
    return applied
