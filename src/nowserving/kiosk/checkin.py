"""Checking in an appointment at the kiosk: the booking code typed on the screen's keypad
or read by a USB barcode/QR scanner, which presents as a keyboard (docs/appointments.md).

A scanner types its whole code in one burst ending with Enter, faster than anyone types:
`ScanReader` watches every key of the kiosk's window and tells a burst (each key less
than `BURST_MS` after the one before) from a person's typing by the keys' own timestamps,
so a busy GUI thread, which handles queued keys late but all together, never turns a
scan into typing. No key reaches the QML: a scan must not press a button.

The rest is Qt-free: what a scan holds, and the memory that makes a check-in retried after
a lost answer the same command (the server answers it with the ticket it already made).
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent

from nowserving.domain.bookings import CODE_ALPHABET, CODE_LENGTH

BURST_MS = 50  # keys closer than this are a scanner's, not a person's
SHORTEST_SCAN = 4  # fewer characters before Enter are not a scan (a stray key, a person)
CODE_KEYS = tuple(CODE_ALPHABET)  # the screen's keypad: every character a code may hold
REMEMBERED = 50  # codes whose check-in command is kept for a retry
_ENTER = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


def code_from_scan(scanned: str) -> str:
    """The booking code a scan holds: the code itself, or a link or text ending in it
    (its last run of letters and digits), upper-cased."""
    runs = re.findall(r"[A-Za-z0-9]+", scanned)
    return runs[-1].upper() if runs else ""


def plausible(code: str) -> bool:
    """Whether `code` could be a booking code at all (the server decides if it is one)."""
    return len(code) == CODE_LENGTH and all(c in CODE_ALPHABET for c in code)


class CheckIns:
    """The check-in commands sent lately, by code: the same code again is the same command
    (id and arguments), so a check-in whose answer was lost is answered, not repeated."""

    def __init__(self) -> None:
        self._sent: OrderedDict[str, tuple[str, dict]] = OrderedDict()

    def command(self, code: str, new_id: str, args: dict) -> tuple[str, dict]:
        """(command id, args) for checking `code` in: the earlier ones, or these."""
        if code not in self._sent:
            self._sent[code] = (new_id, args)
            while len(self._sent) > REMEMBERED:
                self._sent.popitem(last=False)
        self._sent.move_to_end(code)
        return self._sent[code]

    def forget(self, code: str) -> None:
        """The server has answered for good (a ticket or a refusal): a later check-in
        with this code is a new one."""
        self._sent.pop(code, None)


class ScanReader(QObject):
    """An event filter for the kiosk's window: `scanned(text)` for a scanner's burst,
    `typed(key)` for a person's key (a character, "del" or "enter"). It eats every key."""

    scanned = Signal(str)
    typed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._burst: list[str] = []  # the keys of the burst under way
        self._last = -1.0  # when its last key came (ms)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        """Qt's filter API: keys are taken here, everything else goes on."""
        if event.type() == QEvent.Type.KeyPress:
            self._key(event)
            return True
        return event.type() == QEvent.Type.KeyRelease

    def _key(self, event: QKeyEvent) -> None:
        at = float(event.timestamp()) or time.monotonic() * 1000
        fast = self._burst and at - self._last < BURST_MS
        self._last = at
        if event.key() in _ENTER:
            burst, self._burst = self._burst, []
            if fast and len(burst) >= SHORTEST_SCAN:
                self.scanned.emit("".join(burst))
            else:
                self._flush(burst[1:])  # the first one was typed when it came
                self.typed.emit("enter")
            return
        if event.key() == Qt.Key.Key_Backspace:
            self._flush(self._burst[1:])
            self._burst = []
            self.typed.emit("del")
            return
        char = event.text()
        if not char or not char.isprintable():
            return
        if not fast:
            # A person's key (or a scan's first: that one is typed, then taken back when
            # the burst turns out to be a scan). Keys held back as a burst that ended
            # without Enter were a person's quick fingers after all.
            self._flush(self._burst[1:])
            self._burst = [char]
            self.typed.emit(char)
        else:
            self._burst.append(char)

    def _flush(self, keys: list[str]) -> None:
        for char in keys:
            self.typed.emit(char)
