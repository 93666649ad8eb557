"""Retained messages encoded and published off the apply loop, newest per topic.

The apply loop builds a message (a dict of plain values, copied from the branch) and hands
it to `LatestPublisher.offer`; the publisher's thread encodes it and gives it to paho. A
topic offered again before its message went out is sent once, with the newest: a retained
message is only ever read as the latest, so nothing is lost by skipping one in between.
Encoding a message of thousands of bytes then never delays a command's reply or summary.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from nowserving.protocol import encode

log = logging.getLogger(__name__)


class LatestPublisher:
    """Encodes and publishes the latest message offered per topic, on its own thread."""

    def __init__(self, publish: Callable[[str, bytes], object], name: str = "publisher") -> None:
        self._publish = publish
        self._pending: dict[str, dict] = {}  # topic -> the newest message not yet sent
        self._busy = False  # the thread is sending what it took
        self._cond = threading.Condition()
        self._closed = False
        self.sent = 0  # messages published
        self.replaced = 0  # messages never sent: a newer one for the topic came first
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def __enter__(self) -> LatestPublisher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def pending(self) -> int:
        """Messages offered and not yet taken up for sending."""
        with self._cond:
            return len(self._pending)

    def offer(self, topic: str, message: dict) -> None:
        """Publish `message` on `topic` soon, unless a newer one for it comes first. The
        caller must not change `message` afterwards."""
        with self._cond:  # apply thread -> publisher thread
            if self._closed:
                return
            if topic in self._pending:
                self.replaced += 1
            self._pending[topic] = message
            self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until everything offered so far has been handed to paho (tests, close)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def close(self) -> None:
        """Stop the thread once the message it is sending has gone (idempotent; a bounded
        wait). What is still pending is dropped: a server stopping (or stepping down for
        another instance) must not overwrite a retained message later; the next server
        publishes every line when it connects."""
        with self._cond:
            self._closed = True
            self._pending.clear()
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closed)
                if not self._pending:
                    return  # closed, and nothing left to send
                taken, self._pending = self._pending, {}
                self._busy = True
            for topic, message in taken.items():
                try:
                    self._publish(topic, encode(message))
                    self.sent += 1
                except Exception:  # a bug must not stop every later message
                    log.exception("publishing on %s failed", topic[:120])
            with self._cond:
                self._busy = False
                self._cond.notify_all()
