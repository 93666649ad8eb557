"""What a branch's own event log says about one weekday, per service and hour of the day:
arrivals per hour, service time, customers' patience, the counters it had open and the
service level it got. The model the staffing advice (`staffing.py`) is built on.

Assumptions, said where they are made:
- A ticket belongs to the service and local hour it was issued in (a transfer is not
  followed: its service time counts for the service it was called for).
- Service time is ticket_started -> ticket_finished, or ticket_called -> ticket_finished
  when staff never pressed start.
- Patience is exponential, estimated per service over the whole range by maximum
  likelihood with censoring: a served customer's patience exceeded their wait (right
  censored); a no-show had left before the call (patience < wait: interval censored, which
  assumes no-shows are people who gave up, not people who missed the call); a cancellation
  while waiting is a patience seen exactly.
- "Had" is the time-weighted number of counters open (not paused, not closed) that serve
  the service; counters start each log in `counters_start_open`'s state.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from nowserving.adapters.store import EventLog
from nowserving.errors import NowservingError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class HistoryError(NowservingError, ValueError):
    """The log holds nothing to learn from for what was asked."""


@dataclass
class HourHistory:
    """One service's hour of the chosen weekday, summed over the days in the range."""

    arrivals: int = 0
    service_s: list[float] = field(default_factory=list)
    within_target: int = 0  # reached a counter within the target wait
    open_s: float = 0.0  # counter-seconds open for this service in this hour

    def figures(self, days: int) -> dict:
        """Per-day figures: arrivals per hour, counters had, service level got."""
        return {
            "arrivals_per_hour": self.arrivals / days,
            "had": self.open_s / (days * 3600),
            "level": self.within_target / self.arrivals if self.arrivals else math.nan,
        }


@dataclass
class ServiceHistory:
    """One service over the chosen weekday: its hours and its patience observations."""

    hours: dict[int, HourHistory] = field(default_factory=lambda: defaultdict(HourHistory))
    served_waits: list[float] = field(default_factory=list)  # patience > wait
    gone_waits: list[float] = field(default_factory=list)  # patience < wait
    cancel_waits: list[float] = field(default_factory=list)  # patience = wait

    def mean_service_s(self, hour: int | None = None) -> float:
        """The mean service time in `hour` (or over every hour, or when it has < 30)."""
        own = self.hours[hour].service_s if hour in self.hours else []
        if len(own) >= 30:
            return sum(own) / len(own)
        every = [s for h in self.hours.values() for s in h.service_s]
        return sum(every) / len(every) if every else math.nan

    def service_cv(self) -> float:
        """The coefficient of variation of service times (1.0 when too few)."""
        every = [s for h in self.hours.values() for s in h.service_s]
        if len(every) < 30:
            return 1.0
        mean = sum(every) / len(every)
        var = sum((s - mean) ** 2 for s in every) / (len(every) - 1)
        return math.sqrt(var) / mean if mean > 0 else 1.0

    def patience_s(self) -> float:
        """Mean patience (exponential, censored MLE); inf when nobody gave up."""
        return patience_mle(self.served_waits, self.gone_waits, self.cancel_waits)


def patience_mle(served: list[float], gone: list[float], cancelled: list[float]) -> float:
    """Mean of an exponential patience from right- (served), interval- (gone before their
    call) and exactly observed (cancelled) waits; inf when no one gave up."""
    if not gone and not cancelled:
        return math.inf

    def score(theta: float) -> float:  # d/dθ of the log-likelihood: falls as θ grows
        total = len(cancelled) / theta - sum(cancelled) - sum(served)
        for w in gone:
            x = theta * w
            total += w / math.expm1(x) if x > 1e-12 else 1 / theta
        return total

    low, high = 1e-9, 10.0
    for _ in range(200):
        mid = math.sqrt(low * high)
        if score(mid) > 0:
            low = mid
        else:
            high = mid
    return 1 / math.sqrt(low * high)


@dataclass
class History:
    """What was learned: per service, its hours; and how many of the weekday were seen."""

    weekday: str
    days: int
    services: dict[str, ServiceHistory]
    target_s: float


class _Reader:
    """One pass over the log, keeping per ticket only what is needed until it ends."""

    def __init__(self, weekday: int, tz: ZoneInfo, target_s: float, first, last, start_open,
                 group_of: dict[str, str] | None = None):  # fmt: skip
        self.weekday, self.tz, self.target_s = weekday, tz, target_s
        self.group_of = group_of or {}  # service -> the group it is learned as
        self.first, self.last, self.start_open = first, last, start_open
        self.services: dict[str, ServiceHistory] = defaultdict(ServiceHistory)
        self.tickets: dict[str, dict] = {}
        self.dates: set[date] = set()
        self.counters: dict[str, tuple[bool, float]] = {}  # id -> (open, since)
        self.serves: dict[str, set[str]] = defaultdict(set)
        self.open_spans: list[tuple[str, float, float]] = []

    def local(self, at: float) -> datetime:
        return datetime.fromtimestamp(at, self.tz)

    def wanted(self, at: float) -> bool:
        day = self.local(at)
        d = day.date()
        if day.weekday() != self.weekday:
            return False
        return (self.first is None or d >= self.first) and (self.last is None or d <= self.last)

    def read(self, event) -> None:
        if not hasattr(self, "begin"):
            self.begin = event.at
        handler = getattr(self, f"_on_{event.type}", None)
        if handler is not None:
            data = event.data
            if self.group_of and data.get("service") in self.group_of:
                data = {**data, "service": self.group_of[data["service"]]}
            handler(event.at, data)
        self.end = event.at

    def _on_ticket_issued(self, at: float, data: dict) -> None:
        if not self.wanted(at):
            return
        self.dates.add(self.local(at).date())
        hour = self.local(at).hour
        self.services[data["service"]].hours[hour].arrivals += 1
        self.tickets[data["ticket"]] = {"service": data["service"], "hour": hour, "at": at}

    def _on_ticket_called(self, at: float, data: dict) -> None:
        self.serves[data["counter"]].add(data["service"])
        self._state(data["counter"], at, None)
        t = self.tickets.get(data["ticket"])
        if t is not None and "called" not in t:
            t["called"], t["called_for"] = at, data["service"]

    def _on_ticket_started(self, at: float, data: dict) -> None:
        t = self.tickets.get(data["ticket"])
        if t is not None:
            t["started"] = at

    def _on_ticket_finished(self, at: float, data: dict) -> None:
        t = self.tickets.pop(data["ticket"], None)
        if t is None or "called" not in t:
            return
        service = self.services[t["service"]]
        wait = t["called"] - t["at"]
        if wait <= self.target_s:
            service.hours[t["hour"]].within_target += 1
        service.served_waits.append(wait)
        begun = t.get("started", t["called"])
        self.services[t["called_for"]].hours[t["hour"]].service_s.append(at - begun)

    def _on_ticket_no_show(self, at: float, data: dict) -> None:
        t = self.tickets.pop(data["ticket"], None)
        if t is not None and "called" in t:
            self.services[t["service"]].gone_waits.append(t["called"] - t["at"])

    def _on_ticket_cancelled(self, at: float, data: dict) -> None:
        t = self.tickets.pop(data["ticket"], None)
        if t is not None and "called" not in t:
            self.services[t["service"]].cancel_waits.append(at - t["at"])

    def _on_counter_opened(self, at: float, data: dict) -> None:
        self._state(data["counter"], at, True)

    def _on_counter_paused(self, at: float, data: dict) -> None:
        self._state(data["counter"], at, False)

    _on_counter_closed = _on_counter_paused

    def _state(self, counter: str, at: float, is_open: bool | None) -> None:
        was, since = self.counters.get(counter, (self.start_open, self.begin))
        if is_open is None:  # a call: the counter is known, its state unchanged
            self.counters.setdefault(counter, (was, since))
            return
        if was:
            self.open_spans.append((counter, since, at))
        self.counters[counter] = (is_open, at)

    def finish(self) -> None:
        """Close the spans still open at the log's end, and share them out by hour."""
        for counter, (is_open, since) in self.counters.items():
            if is_open:
                self.open_spans.append((counter, since, self.end))
        for counter, begin, end in self.open_spans:
            self._share(counter, begin, end)

    def _share(self, counter: str, begin: float, end: float) -> None:
        at = begin
        while at < end:
            local = self.local(at)
            nxt = min(end, at + 3600 - (local.minute * 60 + local.second + local.microsecond / 1e6))
            if self.wanted(at):
                for service in self.serves.get(counter, ()):
                    if service in self.services:
                        self.services[service].hours[local.hour].open_s += nxt - at
            at = nxt if nxt > at else at + 1


def learn(
    db: str | Path,
    weekday: str,
    timezone: str = "UTC",
    target_s: float = 600.0,
    first: date | None = None,
    last: date | None = None,
    counters_start_open: bool = True,
    group_of: dict[str, str] | None = None,
) -> History:
    """Read the log at `db` and learn the chosen weekday (mon..sun) between `first` and
    `last` (dates, inclusive; None: no bound). With `group_of` (service -> group), each
    group is learned as one service: its arrivals and service times pooled, a counter
    serving any of its services counted once. Raises HistoryError when nothing matches."""
    with EventLog(db, create=False) as log:
        return learn_events(log.events(), weekday, timezone, target_s, first, last,
                            counters_start_open, group_of, f"the event log {db}")  # fmt: skip


def learn_events(
    events: Iterable,
    weekday: str,
    timezone: str = "UTC",
    target_s: float = 600.0,
    first: date | None = None,
    last: date | None = None,
    counters_start_open: bool = True,
    group_of: dict[str, str] | None = None,
    source: str = "the events",
) -> History:
    """`learn` over any events in log order (each with `at`, `type` and `data`): the head
    office reads a branch's from PostgreSQL (headoffice/staffing.py)."""
    if weekday not in WEEKDAYS:
        raise HistoryError(f"unknown weekday {weekday!r}: one of {', '.join(WEEKDAYS)}")
    reader = _Reader(
        WEEKDAYS.index(weekday),
        ZoneInfo(timezone),
        target_s,
        first,
        last,
        counters_start_open,
        group_of,
    )
    for event in events:
        reader.read(event)
    if not reader.dates:
        raise HistoryError(f"{source} has no ticket issued on a {weekday} in range")
    reader.finish()
    return History(weekday, len(reader.dates), dict(reader.services), target_s)
