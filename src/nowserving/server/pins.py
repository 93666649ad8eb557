"""Checking staff PINs off the apply loop: a scrypt hash takes about 0.1 s (more on a Pi),
which the loop must not spend while other counters wait for their calls.

The apply loop hands a sign-in over (`check`) with the hash to check against; this thread
hashes and hands the verdict back (`on_checked`), and the loop then applies the sign-in.
At most MAX_WAITING wait here: more are refused as `rate_limited` by the loop, so a flood
of sign-ins (a stolen device password) costs a bounded amount of hashing.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from nowserving.config.pins import pin_matches

log = logging.getLogger(__name__)

MAX_WAITING = 8


class PinChecker:
    """One thread that checks PINs against their hashes, in the order they came."""

    def __init__(self, on_checked: Callable[[object, bool], None]) -> None:
        self._on_checked = on_checked
        self._queue: queue.Queue = queue.Queue()
        self._waiting = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="pin-checker", daemon=True)
        self._thread.start()

    @property
    def full(self) -> bool:
        """Whether MAX_WAITING checks are waiting already."""
        with self._lock:
            return self._waiting >= MAX_WAITING

    def check(self, token: object, pin: str, hashed: str | None) -> None:
        """Check `pin` against `hashed` (None: no hash, so no match, after as long a wait
        as a hash takes); `on_checked(token, matched)` is called from this thread."""
        with self._lock:
            self._waiting += 1
        self._queue.put((token, pin, hashed))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            token, pin, hashed = item
            try:
                # A staff member without a hash is checked against a throwaway one, so
                # how long the answer takes tells nothing.
                matched = pin_matches(pin, hashed or _UNMATCHABLE) and hashed is not None
            except Exception:  # never the PIN in the log: only that checking failed
                log.error("checking a PIN failed")
                matched = False
            with self._lock:
                self._waiting -= 1
            self._on_checked(token, matched)

    def close(self) -> None:
        """Stop the thread once the checks already handed over are done (idempotent)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=5)


_UNMATCHABLE = (
    "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
)
