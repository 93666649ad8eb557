"""The console's sessions, sign-in lock-out and audit log (docs/console.md, "Security").

Sessions live in this process only (a restart signs everyone out): the cookie holds a
random id, the table its account, expiry and CSRF word. The lock-out's counts live in the
role's limits store (web/limits.py), shared by its processes and kept over a restart. Time
comes from the clock given.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from nowserving.web.limits import LimitStore

log = logging.getLogger(__name__)

IDLE_S = 30 * 60.0  # signed out after this long without a request
MAX_AGE_S = 12 * 3600.0  # and after this long whatever happens (one working day)
MAX_FAILURES = 5  # wrong passwords in a row, per account and per address, then locked
LOCK_S = 5 * 60.0
FORGET_S = 3600.0  # a wrong password no longer counts this long after the last one


@dataclass
class Session:
    """One signed-in browser."""

    id: str
    account: str
    csrf: str
    started: float
    seen: float
    stamp: str = ""  # the account's password hash at sign-in: a new password ends it


class Sessions:
    """The table of signed-in browsers."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._table: dict[str, Session] = {}

    def open(self, account: str, stamp: str = "") -> Session:
        """A new session for `account` (a fresh id at every sign-in: no fixation)."""
        now = self.clock()
        self._expire(now)
        session = Session(
            secrets.token_urlsafe(32), account, secrets.token_urlsafe(24), now, now, stamp
        )
        self._table[session.id] = session
        return session

    def find(self, session_id: str | None) -> Session | None:
        """The live session of this id (its idle time starts again), else None."""
        if not session_id:
            return None
        session = self._table.get(session_id)
        now = self.clock()
        if session is None:
            return None
        if now - session.seen > IDLE_S or now - session.started > MAX_AGE_S:
            del self._table[session_id]
            return None
        session.seen = now
        return session

    def close(self, session_id: str) -> None:
        """Sign this session out."""
        self._table.pop(session_id, None)

    def close_account(self, account: str) -> None:
        """Sign every session of `account` out (it was removed or its password changed)."""
        for sid in [s.id for s in self._table.values() if s.account == account]:
            del self._table[sid]

    def _expire(self, now: float) -> None:
        for sid in [
            s.id
            for s in self._table.values()
            if now - s.seen > IDLE_S or now - s.started > MAX_AGE_S
        ]:
            del self._table[sid]


class Lockout:
    """Wrong passwords counted per account name and per client address: after
    `MAX_FAILURES` in a row either is locked for `LOCK_S`, right password or not. The counts
    live in `store` (docs/console.md, "Security"): shared by the role's processes and kept
    over a restart when the store is a file; a count is forgotten `FORGET_S` after its
    last wrong password."""

    def __init__(self, clock: Callable[[], float], store: LimitStore | None = None) -> None:
        self.clock = clock
        self.store = store if store is not None else LimitStore(None)

    @staticmethod
    def _keys(name: str, address: str) -> list[str]:
        return [f"a:{name}", f"ip:{address}"]

    def locked(self, name: str, address: str) -> float:
        """Seconds until a sign-in as `name` from `address` may be tried (0: now)."""
        now = self.clock()
        return max(0.0, self.store.locked_until(self._keys(name, address), now) - now)

    def failed(self, name: str, address: str) -> bool:
        """Count a wrong password; True when it locked the account or the address."""
        return self.store.fail(self._keys(name, address), self.clock(), MAX_FAILURES, LOCK_S,
                               FORGET_S)  # fmt: skip

    def succeeded(self, name: str, address: str) -> None:
        """A right password: the account's and the address's count start again."""
        self.store.clear(self._keys(name, address))


class AuditLog:
    """Every sign-in (right or wrong) and every action, one JSON line each, appended to a
    file. Never a password; a wrong name is kept as given (trimmed), to see guessing."""

    def __init__(self, path: Path, clock: Callable[[], float]) -> None:
        self.path = path
        self.clock = clock
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, action: str, account: str, address: str, ok: bool, **detail) -> None:
        """Append one line: when, who, from where, what, whether it worked, and details."""
        at = self.clock()
        row = {
            "at": datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds"),
            "account": account[:60],
            "address": address,
            "action": action,
            "ok": ok,
            **detail,
        }
        line = json.dumps(row, ensure_ascii=False) + "\n"
        try:
            with self._lock, self.path.open("a", encoding="utf-8") as out:
                out.write(line)
        except OSError as err:
            log.error("cannot write the console's audit log %s: %s", self.path, err)

    def read(self) -> list[dict]:
        """Every line so far (for tests and `nowserving users audit`-like tools)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]
