"""What a lobby screen shows, worked out from the retained summary alone (no Qt, no MQTT).

A screen that starts, or comes back after a gap, at any moment is right as soon as one
summary arrives: the calls, who waits and for how long, the notices. Which calls are *new*
(to highlight and announce) is the difference between summaries: `recent_calls` holds the
last ten calls and recalls, so calls in quick succession are all seen even when summaries
are merged or one is missed.
"""

from __future__ import annotations

from dataclasses import dataclass

from nowserving.config.device import DisplaySettings
from nowserving.domain.model import BranchRules
from nowserving.protocol.views import BranchState, Call, Notice

FRESH_S = 10.0  # at start, calls younger than this are still announced
SEEN_KEPT = 200  # how many call keys are remembered to tell new calls from old ones


@dataclass(frozen=True)
class ShownCall:
    """A call as the lobby shows it: the number, where to go, and in which language."""

    ticket: str
    number: str
    service: str
    counter: str
    counter_names: dict[str, str]
    language: str  # the customer's, chosen at the kiosk
    at: float  # the server's time of the call
    recalls: int  # 0: the first call; n: the n-th recall

    @property
    def key(self) -> tuple[str, int]:
        """What identifies a call: its ticket and how often it was recalled."""
        return (self.ticket, self.recalls)


@dataclass(frozen=True)
class ServiceRow:
    """One service's line: how many wait, a newcomer's wait, and how many counters serve it."""

    id: str
    names: dict[str, str]
    waiting: int
    low_min: int | None  # the 80% range of a newcomer's wait, in whole minutes
    high_min: int | None
    accepting: bool
    serving: int  # open counters that serve it
    late: bool = False  # a newcomer's wait (its upper end) runs past today's closing time


@dataclass(frozen=True)
class Away:
    """A paused counter and the reason staff gave (why the wait may be longer)."""

    counter: str
    names: dict[str, str]
    reason: str | None


class Lobby:
    """The lobby's view of the branch, one summary after another."""

    def __init__(
        self, rules: BranchRules, settings: DisplaySettings | None = None, fresh_s: float = FRESH_S
    ) -> None:
        settings = settings or DisplaySettings()
        self.fresh_s = fresh_s  # on the first summary, calls younger than this are new
        self.rules = rules
        self.services = settings.services or tuple(rules.services)
        self.counters = settings.counters or tuple(rules.counters)
        self.history_size = settings.history
        self.state: BranchState | None = None
        self.calls: list[ShownCall] = []  # newest first, one per ticket
        self._seen: dict[tuple[str, int], None] = {}  # insertion-ordered, bounded

    def take(self, state: BranchState) -> list[ShownCall]:
        """Take a summary; return the calls it shows for the first time, oldest first.

        An older summary than the last one taken changes nothing. On the first summary,
        only calls younger than `fresh_s` count as new: the rest happened before this screen
        looked."""
        if self.state is not None and state.order < self.state.order:
            return []
        first = self.state is None
        self.state = state
        shown = [c for c in map(self._shown, state.recent_calls) if c is not None]
        new = [
            c
            for c in reversed(shown)
            if c.key not in self._seen and (not first or state.at - c.at < self.fresh_s)
        ]
        for call in shown:
            self._seen[call.key] = None
        while len(self._seen) > SEEN_KEPT:
            del self._seen[next(iter(self._seen))]
        latest: dict[str, ShownCall] = {}
        for call in shown:  # newest first: a recall replaces the earlier call of its ticket
            latest.setdefault(call.ticket, call)
        self.calls = list(latest.values())[: self.history_size + 1]
        return new

    def _shown(self, call: Call) -> ShownCall | None:
        spec = self.rules.counters.get(call.counter)
        if spec is None or call.counter not in self.counters or call.service not in self.services:
            return None
        return ShownCall(
            call.ticket, call.number, call.service, call.counter, dict(spec.names),
            call.language, call.at, call.recalls,
        )  # fmt: skip

    def rows(self) -> list[ServiceRow]:
        """The services this screen shows, in the configured order."""
        if self.state is None:
            return []
        open_ids = {c.id for c in self.state.counters if c.state == "open"}
        closes = self.rules.closes_at(self.state.at)  # by the server's clock
        rows = []
        for sid in self.services:
            view = self.state.service(sid)
            if view is None:
                continue
            estimate = view.estimate if view.waiting or view.estimate else None
            low, high = estimate.minutes if estimate is not None else (None, None)
            serving = sum(
                1 for cid, spec in self.rules.counters.items()
                if cid in open_ids and sid in spec.services
            )  # fmt: skip
            ends = self.state.at + estimate.high if estimate is not None else None
            late = ends is not None and closes is not None and ends > closes
            rows.append(
                ServiceRow(
                    sid, dict(view.names), view.waiting, low, high, view.accepting, serving, late
                )
            )
        return rows

    def away(self) -> list[Away]:
        """Paused counters of this screen, with the reason staff gave."""
        if self.state is None:
            return []
        return [
            Away(c.id, dict(c.names), c.reason)
            for c in self.state.counters
            if c.state == "paused" and c.id in self.counters
        ]

    def notices(self, now: float) -> list[Notice]:
        """What staff posted for the lobby that is still current at server time `now`."""
        if self.state is None:
            return []
        return [n for n in self.state.notices if n.until > now and n.text]
