"""The branch's measures, defined once, on plain visit records (one per ticket): what the
console's reports show and what the head office computes again on its own rows.

No SQLite, HTTP, Qt or MQTT here: a `Visit` is made by whoever reads the events
(`reports/visits.py` from a branch's log; the head office from its PostgreSQL rows).

Definitions, said once:
- A visit belongs to the **local date, hour and weekday it was issued** in the branch's zone
  (calendar days: a branch is closed at midnight), to the **service it was issued for**, and
  to the **counter and staff member who called it last** ("—" when never called).
- **Wait** = first call − issue. **Service time** = finish − the start of the service that
  finished (`ticket_started`, or the last call when staff never pressed start); served only.
- **Percentiles** interpolate linearly between the closest ranks (as PostgreSQL's
  `percentile_cont` and numpy's default do), so the head office's figures match.
- **Within target**: called within the service's target wait, out of the visits that ended
  (served, no-show, cancelled, expired); each visit is held to its own service's target.
- **Abandoned** = no-shows + cancellations + expired (still waiting when the day rolled over).
- **Estimate audit**: of the visits called with a printed range still theirs (not
  transferred before their call), how many were called inside it.
"""

from __future__ import annotations

import math
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from nowserving.errors import NowservingError

OUTCOMES = ("served", "no_show", "cancelled", "expired", "open")
RATINGS = ("satisfied", "neutral", "unsatisfied")
GROUPINGS = ("service", "day", "hour", "weekday", "counter", "staff")
NOBODY = "—"  # the group of visits never called (no counter, no staff)


class ReportError(NowservingError, ValueError):
    """A report asked for something that cannot be (a bad range, grouping or target)."""


@dataclass(frozen=True, slots=True)
class Visit:
    """One ticket's visit: when it was issued, called, begun and ended, and how."""

    ticket: str
    service: str  # the service it was issued for
    issued_at: float  # Unix seconds
    called_at: float | None = None  # its first call
    begun_at: float | None = None  # the start of the service that finished
    ended_at: float | None = None  # served, no-show, cancelled or expired at
    outcome: str = "open"  # one of OUTCOMES
    counter: str | None = None  # who called it last
    staff: str | None = None
    transfers: int = 0
    rating: str | None = None  # one of RATINGS
    estimate_low: float | None = None  # the printed range (seconds of wait), while its own
    estimate_high: float | None = None
    priority: str = ""

    @property
    def wait_s(self) -> float | None:
        """Seconds from issue to the first call (None: never called)."""
        return None if self.called_at is None else self.called_at - self.issued_at

    @property
    def service_s(self) -> float | None:
        """Seconds at the counter for a served visit (None otherwise)."""
        if self.outcome != "served" or self.begun_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.begun_at


@dataclass(frozen=True)
class Target:
    """A service level: `share` of customers called within `wait_s` ("80/10": 80 % in 10 min)."""

    share: float
    wait_s: float

    @classmethod
    def parse(cls, text: str) -> Target:
        """Read "80/10" (percent / minutes); ReportError when it is not that."""
        try:
            percent, minutes = (float(x) for x in str(text).split("/"))
        except ValueError:
            why = f'a target is "percent/minutes", like "80/10", not {text!r}'
            raise ReportError(why) from None
        if not (0 < percent <= 100 and 0 < minutes <= 600):
            raise ReportError(f"a target's percent is 1-100 and minutes 1-600, not {text!r}")
        return cls(percent / 100, minutes * 60)

    def __str__(self) -> str:
        return f"{self.share * 100:g}/{self.wait_s / 60:g}"


DEFAULT_TARGET = Target(0.8, 600.0)


def percentile(ordered: list[float], p: float) -> float:
    """The `p` (0-1) percentile of sorted values, linear between ranks; nan when empty."""
    if not ordered:
        return math.nan
    rank = p * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _share(part: int, whole: int) -> float:
    return part / whole if whole else math.nan


class Tally:
    """The running sums of one group; `figures()` turns them into the measures.

    Shared with the head office (headoffice/visits.py keeps a day's tally per service in
    its rollups, reports/crossbranch.py merges them again): the same numbers for the same
    days as the branch console."""

    __slots__ = ("issued", "outcomes", "transferred", "waits", "services", "within",
                 "ratings", "audited", "inside", "rated_service")  # fmt: skip

    def __init__(self) -> None:
        self.issued = 0
        self.outcomes = dict.fromkeys(OUTCOMES, 0)
        self.transferred = 0
        self.waits: list[float] = []
        self.services: list[float] = []
        self.within = 0
        self.ratings = dict.fromkeys(RATINGS, 0)
        self.audited = 0
        self.inside = 0
        self.rated_service: dict[str, list[float]] = {r: [] for r in RATINGS}

    def add(self, v: Visit, target_s: float) -> float | None:
        """Count one visit, its wait held to `target_s`; its service time (None: not served)."""
        self.issued += 1
        self.outcomes[v.outcome] += 1
        if v.transfers:
            self.transferred += 1
        called = v.called_at
        if called is not None:
            wait = called - v.issued_at
            self.waits.append(wait)
            if wait <= target_s:
                self.within += 1
            low = v.estimate_low
            if low is not None and v.estimate_high is not None:
                self.audited += 1
                if low <= wait <= v.estimate_high:
                    self.inside += 1
        service = None
        if v.outcome == "served" and v.begun_at is not None and v.ended_at is not None:
            service = v.ended_at - v.begun_at
            self.services.append(service)
        if v.rating is not None and v.rating in self.ratings:
            self.ratings[v.rating] += 1
            if service is not None:
                self.rated_service[v.rating].append(service)
        return service

    def merge(self, other: Tally) -> None:
        """Add `other`'s sums to these (the total of a report is its groups merged)."""
        self.issued += other.issued
        for name in OUTCOMES:
            self.outcomes[name] += other.outcomes[name]
        for name in RATINGS:
            self.ratings[name] += other.ratings[name]
            self.rated_service[name] += other.rated_service[name]
        self.transferred += other.transferred
        self.waits += other.waits
        self.services += other.services
        self.within += other.within
        self.audited += other.audited
        self.inside += other.inside

    def figures(self) -> dict:
        """The group's measures (times in seconds, shares 0-1, nan where there is none)."""
        # Sorted in place: a report's total then sorts its groups' sorted runs (fast).
        self.waits.sort()
        self.services.sort()
        waits, services = self.waits, self.services
        ended = self.issued - self.outcomes["open"]
        abandoned = self.outcomes["no_show"] + self.outcomes["cancelled"]
        abandoned += self.outcomes["expired"]
        rated = sum(self.ratings.values())
        return {
            "issued": self.issued,
            "served": self.outcomes["served"],
            "no_shows": self.outcomes["no_show"],
            "cancelled": self.outcomes["cancelled"],
            "expired": self.outcomes["expired"],
            "open": self.outcomes["open"],
            "transferred": self.transferred,
            "abandoned": abandoned,
            "abandonment": _share(abandoned, ended),
            "wait_mean": _mean(waits),
            "wait_p50": percentile(waits, 0.5),
            "wait_p90": percentile(waits, 0.9),
            "wait_p95": percentile(waits, 0.95),
            "service_mean": _mean(services),
            "service_p50": percentile(services, 0.5),
            "service_p90": percentile(services, 0.9),
            "within_target": self.within,
            "within_share": _share(self.within, ended),
            "satisfied": self.ratings["satisfied"],
            "neutral": self.ratings["neutral"],
            "unsatisfied": self.ratings["unsatisfied"],
            "satisfied_share": _share(self.ratings["satisfied"], rated),
            # Speed beside satisfaction: the mean service time of each rating's customers.
            "service_mean_satisfied": _mean(self.rated_service["satisfied"]),
            "service_mean_unsatisfied": _mean(self.rated_service["unsatisfied"]),
            "audited": self.audited,
            "inside_range": self.inside,
            "inside_share": _share(self.inside, self.audited),
        }


MEASURES = tuple(Tally().figures())


class LocalTime:
    """A branch zone's local date, hour and weekday of Unix times, cached per 15 minutes
    (every zone's offset is a whole number of quarter hours): 300,000 visits take ~0.1 s."""

    def __init__(self, timezone: str) -> None:
        self.tz = ZoneInfo(timezone)
        self._cache: dict[int, tuple[date, int, int]] = {}

    def __call__(self, at: float) -> tuple[date, int, int]:
        """(local date, hour 0-23, weekday 0 = Monday) of `at`."""
        key = int(at // 900)
        found = self._cache.get(key)
        if found is None:
            local = datetime.fromtimestamp(key * 900, self.tz)
            found = self._cache[key] = (local.date(), local.hour, local.weekday())
        return found

    def bounds(self, first: date, last: date) -> tuple[float, float]:
        """Unix [start, end) of the local dates `first` to `last`, inclusive."""
        if last < first:
            raise ReportError(f"the range ends ({last}) before it begins ({first})")
        start = datetime.combine(first, time(0), self.tz).timestamp()
        end = datetime.combine(last + timedelta(days=1), time(0), self.tz).timestamp()
        return start, end


def _keyer(by: str, local: LocalTime) -> Callable[[Visit], object]:
    if by == "service":
        return lambda v: v.service
    if by == "counter":
        return lambda v: v.counter or NOBODY
    if by == "staff":
        return lambda v: v.staff or NOBODY
    index = {"day": 0, "hour": 1, "weekday": 2}.get(by)
    if index is None:
        raise ReportError(f"a report is grouped by one of {', '.join(GROUPINGS)}, not {by!r}")
    cache = local._cache  # read here directly: this runs once per visit of the range

    def key(v: Visit) -> object:
        found = cache.get(int(v.issued_at // 900))
        return (found or local(v.issued_at))[index]

    return key


@dataclass
class Report:
    """Measures per group (sorted by key) and over all, for one range and grouping."""

    by: str
    first: date
    last: date
    rows: list[tuple[object, dict]]
    total: dict
    targets: dict[str, Target]
    outliers: list[dict]


def report(
    visits: Iterable[Visit],
    by: str,
    first: date,
    last: date,
    timezone: str = "UTC",
    targets: dict[str, Target] | None = None,
) -> Report:
    """The measures of the visits issued on local dates `first`..`last`, per `by` group
    (one of GROUPINGS). `targets`: per service (DEFAULT_TARGET for any other)."""
    targets = targets or {}
    local = LocalTime(timezone)
    start, end = local.bounds(first, last)
    key_of = _keyer(by, local)
    waits = {s: t.wait_s for s, t in targets.items()}
    groups: dict[object, Tally] = {}
    staff = _StaffTimes()
    for v in visits:
        if start <= v.issued_at < end:
            _count(v, groups, key_of(v), waits, staff)
    return _finish(by, first, last, groups, staff, targets)


def _count(v: Visit, groups: dict, key: object, waits: dict, staff: _StaffTimes | None) -> None:
    """Add `v` to its group's tally (and its service time to `staff`)."""
    tally = groups.get(key)
    if tally is None:
        tally = groups[key] = Tally()
    service = tally.add(v, waits.get(v.service, DEFAULT_TARGET.wait_s))
    if service is not None and staff is not None:
        staff.by_service[v.service].append(service)
        if v.staff:
            staff.by_staff[(v.service, v.staff)].append((service, v.rating))


def _finish(by: str, first: date, last: date, groups: dict, staff: _StaffTimes,
            targets: dict) -> Report:  # fmt: skip
    rows = [(k, groups[k].figures()) for k in sorted(groups, key=_order)]
    total = Tally()
    for tally in groups.values():
        total.merge(tally)
    outliers = _outliers(staff.by_service, staff.by_staff)
    return Report(by, first, last, rows, total.figures(), dict(targets), outliers)


class _StaffTimes:
    """Service times per service and per (service, staff member), for `staff_outliers`."""

    __slots__ = ("by_service", "by_staff")

    def __init__(self) -> None:
        self.by_service: dict[str, list[float]] = defaultdict(list)
        self.by_staff: dict[tuple[str, str], list] = defaultdict(list)  # (time, rating)

    def merge(self, other: _StaffTimes) -> None:
        """Add `other`'s times to these."""
        for k, v in other.by_service.items():
            self.by_service[k] += v
        for k, v in other.by_staff.items():
            self.by_staff[k] += v


class Rollup:
    """Reports of one branch that keep each local day's tallies (per grouping) once made,
    so a report over a year merges days instead of counting 300,000 visits again. A day is
    made again after `forget` names a visit of it (one that changed since)."""

    def __init__(self, timezone: str = "UTC", targets: dict[str, Target] | None = None) -> None:
        self.timezone = timezone
        self.targets = dict(targets or {})
        self._local = LocalTime(timezone)
        self._days: dict[tuple[str, date], dict] = {}  # (grouping, day) -> groups
        self._staff: dict[date, _StaffTimes] = {}

    def forget(self, changed: Iterable[float] | None) -> None:
        """Drop the days of visits issued at `changed` (Unix times); None: every day."""
        if changed is None:
            self._days.clear()
            self._staff.clear()
            return
        days = {self._local(at)[0] for at in changed}
        for key in [k for k in self._days if k[1] in days]:
            del self._days[key]
        for day in days:
            self._staff.pop(day, None)

    def report(self, visits_between: Callable[[float, float], Iterable[Visit]], by: str,
               first: date, last: date) -> Report:  # fmt: skip
        """As `report()`, from the days already made; `visits_between(start, end)` gives the
        visits issued in that Unix range, asked only for the days still to make."""
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        self.make(visits_between, first, last, (by,))
        groups: dict[object, Tally] = {}
        staff = _StaffTimes()
        for d in days:
            for key, tally in self._days[(by, d)].items():
                mine = groups.get(key)
                if mine is None:
                    mine = groups[key] = Tally()
                mine.merge(tally)
            staff.merge(self._staff[d])
        return _finish(by, first, last, groups, staff, self.targets)

    def make(self, visits_between: Callable[[float, float], Iterable[Visit]], first: date,
             last: date, groupings: Iterable[str] = GROUPINGS) -> None:  # fmt: skip
        """Make the days `first`..`last` not made yet for `groupings`, a month at a time
        (at start: every day of the log, so no report waits for it)."""
        day = first
        while day <= last:
            end = min(last, day + timedelta(days=30))
            span = [day + timedelta(days=n) for n in range((end - day).days + 1)]
            need_staff = {d for d in span if d not in self._staff}
            todo = [(by, {d for d in span if (by, d) not in self._days}) for by in groupings]
            todo = [(by, need) for by, need in todo if need]
            if todo or need_staff:
                low = min([*need_staff, *(min(need) for _, need in todo)])
                high = max([*need_staff, *(max(need) for _, need in todo)])
                start, stop = self._local.bounds(low, high)
                visits = list(visits_between(start, stop))
                for by, need in todo or [(GROUPINGS[0], set())]:
                    key_of = _keyer(by, self._local)
                    self._make(visits, by, key_of, start, stop, need, need_staff)
                    need_staff = set()
            day = end + timedelta(days=1)

    def _make(self, visits, by, key_of, start, end, need: set, need_staff: set) -> None:
        waits = {s: t.wait_s for s, t in self.targets.items()}
        made: dict[date, dict] = {d: {} for d in need}
        staff = {d: _StaffTimes() for d in need_staff}
        local = self._local
        for v in visits:
            if not start <= v.issued_at < end:
                continue
            day = local(v.issued_at)[0]
            groups = made.get(day)
            if groups is not None:
                _count(v, groups, key_of(v), waits, staff.get(day))
            elif day in staff:
                _count(v, {}, None, waits, staff[day])
        for day, groups in made.items():
            for tally in groups.values():  # sorted once (merged days are sorted runs), and
                tally.waits = array("d", sorted(tally.waits))  # kept as 8 bytes a figure
                tally.services = array("d", sorted(tally.services))
            self._days[(by, day)] = groups
        self._staff.update(staff)


def _order(key: object) -> tuple:
    return (key == NOBODY, str(type(key)), key)


def staff_outliers(visits: Iterable[Visit], ratio: float = 1.5, min_served: int = 20) -> list[dict]:
    """Staff whose median service time of a service is over `ratio` times the service's
    median, or under 1/`ratio` of it, over at least `min_served` customers of theirs:
    per (service, staff), their median and p90, the service's, and their satisfied share."""
    by_service: dict[str, list[float]] = defaultdict(list)
    by_staff: dict[tuple[str, str], list] = defaultdict(list)
    for v in visits:
        s = v.service_s
        if s is not None:
            by_service[v.service].append(s)
            if v.staff:
                by_staff[(v.service, v.staff)].append((s, v.rating))
    return _outliers(by_service, by_staff, ratio, min_served)


def _outliers(by_service: dict[str, list[float]], by_staff: dict[tuple[str, str], list],
              ratio: float = 1.5, min_served: int = 20) -> list[dict]:  # fmt: skip
    found = []
    norms: dict[str, float] = {}
    for (service, staff), own in sorted(by_staff.items()):
        if len(own) < min_served:
            continue
        if service not in norms:
            norms[service] = percentile(sorted(by_service[service]), 0.5)
        if not norms[service] > 0:
            continue
        times = sorted(s for s, _ in own)
        median = percentile(times, 0.5)
        if 1 / ratio <= median / norms[service] <= ratio:
            continue
        rated = [r for _, r in own if r]
        found.append(
            {
                "service": service,
                "staff": staff,
                "served": len(own),
                "median": median,
                "p90": percentile(times, 0.9),
                "service_median": norms[service],
                "ratio": median / norms[service],
                "satisfied_share": _share(rated.count("satisfied"), len(rated)),
            }
        )
    return found
