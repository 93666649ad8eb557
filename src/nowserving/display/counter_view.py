"""What the screen above one counter shows, worked out from the retained summary alone (no
Qt, no MQTT): whether the counter calls, serves, waits for its next customer, is paused or
closed, and the number at it. A screen that starts at any moment is right as soon as one
summary arrives; a call is *new* (to flash) when its (ticket, recall count) differs from the
one shown before, or, on the first summary, when it is younger than `FRESH_S`.
"""

from __future__ import annotations

from dataclasses import dataclass

from nowserving.display.model import FRESH_S
from nowserving.protocol.views import BranchState

# What the screen can say of its counter.
CONNECTING = "connecting"  # no summary yet
UNKNOWN = "unknown"  # the summary has no such counter (the server runs another config)
IDLE = "idle"  # open, nobody at it
CALLING = "calling"
SERVING = "serving"
PAUSED = "paused"
CLOSED = "closed"
MODES = (CONNECTING, UNKNOWN, IDLE, CALLING, SERVING, PAUSED, CLOSED)


@dataclass(frozen=True)
class AtCounter:
    """One counter as its screen shows it."""

    mode: str  # one of MODES
    number: str = ""  # the ticket called or served ("" when none)
    ticket: str = ""
    recalls: int = 0
    reason: str | None = None  # why it is paused: a PAUSE_REASONS code, or free text
    called_at: float | None = None  # the server's time of the latest call or recall

    @property
    def call(self) -> tuple[str, int] | None:
        """What identifies the call on screen (ticket, recalls); None unless calling."""
        return (self.ticket, self.recalls) if self.mode == CALLING else None


def at_counter(state: BranchState | None, counter_id: str) -> AtCounter:
    """What the counter `counter_id` is doing in `state`. Paused or closed wins over a
    ticket still at the counter: the customer is told not to wait there."""
    if state is None:
        return AtCounter(CONNECTING)
    view = state.counter(counter_id)
    if view is None:
        return AtCounter(UNKNOWN)
    if view.state == CLOSED:
        return AtCounter(CLOSED)
    if view.state == PAUSED:
        return AtCounter(PAUSED, reason=view.reason)
    ticket = view.ticket
    if ticket is None:
        return AtCounter(IDLE)
    called = [c.at for c in state.recent_calls if c.ticket == ticket.id and c.counter == view.id]
    at = max(called, default=ticket.called_at)
    mode = CALLING if ticket.status == "called" else SERVING
    return AtCounter(mode, ticket.number, ticket.id, ticket.recalls, called_at=at)


class CounterWatch:
    """One counter, one summary after another: tells a new call (or recall) from the one
    already on screen."""

    def __init__(self, counter_id: str, fresh_s: float = FRESH_S) -> None:
        self.counter_id = counter_id
        self.fresh_s = fresh_s
        self.state: BranchState | None = None
        self.shown = AtCounter(CONNECTING)

    def take(self, state: BranchState) -> bool:
        """Take a summary; True when it shows a call this screen has not shown yet. An
        older summary than the last one taken changes nothing."""
        if self.state is not None and state.order < self.state.order:
            return False
        first = self.state is None
        before = self.shown.call
        self.state, self.shown = state, at_counter(state, self.counter_id)
        call = self.shown.call
        if call is None or call == before:
            return False
        if first:  # a call made before this screen looked is shown, not flashed
            return (
                self.shown.called_at is not None and state.at - self.shown.called_at < self.fresh_s
            )
        return True
