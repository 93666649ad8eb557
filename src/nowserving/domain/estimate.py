"""Wait estimates: for every waiting ticket and for a new arrival at each service, the
expected wait and an 80% interval (10th to 90th percentile), from the current state and
what the branch has learned (`learning.Learner`).

Two methods, one per kind of service:

- A **dedicated pool** — every open counter that serves the service serves only it — is
  the textbook many-server queue. With K people ahead, counters busy at a learned mean
  occupancy m each at its own learned speed (together a rate Λ) and a learned abandonment
  rate θ, the line shrinks at
  Λ + iθ while i are ahead, so the wait is a sum of exponential stages: mean
  Σ_{i=0..K} 1/(Λ + iθ) (Whitt's QL_m, with learned instead of true rates), variance the
  sum of squares, and the interval is that of a gamma with the same mean and variance.
  Priority customers who will arrive and go ahead (their boost puts them in front) add to K.
- **Counters shared between services** are simulated: R replications of the actual call
  policy (each counter's call profile) from the current state, with each busy counter's
  remaining time and each later occupancy drawn from the occupancies observed for that
  service at that counter's speed (their empirical distribution, so lognormal or fixed
  service times are followed as they are), staff's learned reaction and turnaround before
  calls, customers still to come who can go ahead, and called customers gone with the
  learned abandonment probability. The mean and percentiles of each ticket's simulated
  call time are its estimate.

Either interval is then calibrated by how the branch's intervals have missed its own
customers (`Learner.calibration`): split conformal prediction, one side at a time.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from nowserving.domain.calibration import floored, honest, unsure_of_mean, widened
from nowserving.domain.gamma import gamma_quantile
from nowserving.domain.learning import day_clock
from nowserving.domain.model import CounterState, Ticket, TicketStatus
from nowserving.domain.policy import IN_ORDER, boost, call_key, choose, line_key

LOW_P, HIGH_P = 0.10, 0.90
REPLICATIONS = 100
STEP_BUDGET = 2000  # simulated calls per estimate: long lines get fewer replications ...
MIN_REPLICATIONS = 16
EMPIRICAL_FROM = 60  # ... and below this many, the interval comes from a fitted gamma
HORIZON_S = 12 * 3600.0  # a simulated future goes no further than this
REUSE_S = 1.0  # a simulated newcomer's estimate is reused for this long (see for_new_ticket)
# A newcomer behind this many calls (every line its counters serve, counted as `steps` in
# `_simulate`) is deep in a long line: its estimate moves little in half a minute, and
# `NewcomerEstimates` reuses it as long as one from the estimating process.
DEEP_STEPS = 400
DEEP_REPLICATIONS = 8  # ... and is simulated this many times when made on the command path
MIN_EMPIRICAL = 30  # occupancies needed before drawing from them instead of an exponential
# A busy counter's rest is drawn from the occupancies seen longer than its time so far; with
# fewer than this many longer, from the excesses of this many longest (`_residual`), once
# TAIL_FROM are seen (with fewer, the 20 longest are not the tail but its upper half, and a
# short time's rest past them runs long: a branch's first day, 1-2 points more covered).
TAIL_SEEN = 20
TAIL_FROM = 10 * TAIL_SEEN
FLOOR_S = 1.0  # the low end with someone ahead, when staff are seen to call at once

MIN_MEAN_S = 1.0  # the shortest mean occupancy the simulation draws from
MIN_FACTOR = 0.05  # and the fastest a counter may be, relative to the service's mean


@dataclass(frozen=True)
class Estimate:
    """Expected wait in seconds from now, with the 10th and 90th percentiles."""

    mean: float
    low: float
    high: float
    ahead: int
    # The interval as the model made it, before the branch's calibration (`calibrated`).
    raw_low: float | None = None
    raw_high: float | None = None

    def to_dict(self) -> dict:
        """The estimate as the wire and the event log carry it."""
        return {
            "mean": round(self.mean, 2),
            "low": round(self.low, 2),
            "high": round(self.high, 2),
            "ahead": self.ahead,
        }

    def shifted(self, shift: float, ahead: int) -> Estimate:
        """The same estimate moved by `shift` seconds (never below 0)."""

        def move(x: float | None) -> float | None:
            return None if x is None else max(0.0, x + shift)

        return Estimate(
            max(0.0, self.mean + shift),
            max(0.0, self.low + shift),
            max(0.0, self.high + shift),
            ahead,
            move(self.raw_low),
            move(self.raw_high),
        )


@dataclass(frozen=True)
class Booked:
    """A booking not yet checked in, as a known future arrival: its service, booked time,
    late window L (s), call key when checked in inside its window, priority boost (s), the
    chance it still shows, and the offsets from its booked time (s) it may check in at."""

    service: str
    at: float
    late_s: float
    key: float
    boost_s: float
    shows: float
    offsets: list[float]

    def draw(self, rng: random.Random, now: float) -> tuple[float, float] | None:
        """(seconds from now it checks in, its call key) in one future; None: it does not
        come. After the window it is a walk-in counted from its arrival."""
        if rng.random() >= self.shows:
            return None
        offset = self.offsets[int(rng.random() * len(self.offsets))]
        arrives = max(0.0, self.at + offset - now)
        key = self.key if offset <= self.late_s else now + arrives - self.boost_s
        return arrives, key


NEW = "\U0010ffff"  # prefixes the id of the virtual new ticket: sorts after any real id


class Estimator:
    """Estimates for one branch state at one moment (`branch` is a domain Branch)."""

    def __init__(self, branch, now: float, replications: int = REPLICATIONS) -> None:
        self.branch = branch
        self.rules = branch.rules
        self.learner = branch.learner
        self.now = now
        self.replications = replications
        self.rng = random.Random(branch.seq * 7919 + 17)
        self._sorted: dict[str, list[float]] = {}
        self._windows: dict[str, list[float]] = {}
        self._factors: dict[tuple[str, str], float] = {}
        self._means: dict[str, float] = {}
        self.reused = False  # whether for_new_ticket shifted an earlier estimate
        self.deep = False  # whether for_new_ticket simulated a newcomer behind DEEP_STEPS calls
        self._reactions = sorted(self.learner.reaction_times())
        self._turnarounds = sorted(self.learner.turnaround_times())
        self._firsts: dict[int, list[float]] = {}  # free counters -> the first's reactions
        self._pending: dict[str, tuple[list[float], float] | None] = {}
        self._gone_after_recall = self.learner.gone_after_recall()
        self._no_show: dict[str, float] = {}
        self.breaks, self.openings = self._planned_breaks()
        # Seconds since the business day started: arrivals are expected by time of day.
        self._second = day_clock(self.rules.timezone, self.rules.day_starts_at, now)[1]
        self.booked = self._due_bookings()

    def _planned_breaks(self) -> tuple[dict[str, list[tuple[float, float]]], dict[str, float]]:
        """Each counter's planned breaks not yet over, as (start, end) seconds from now (a
        planned closing is a break without end), and when counters with planned hours
        open later today, in seconds from now."""
        local = datetime.fromtimestamp(self.now, ZoneInfo(self.rules.timezone))
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        breaks: dict[str, list[tuple[float, float]]] = {}
        openings: dict[str, float] = {}
        for cid, spec in self.rules.counters.items():
            spans = [
                (midnight + a * 60 - self.now, midnight + b * 60 - self.now) for a, b in spec.breaks
            ]
            if spec.hours is not None:
                opens, closes = (midnight + m * 60 - self.now for m in spec.hours)
                spans.append((closes, math.inf))
                if opens > 0:
                    openings[cid] = opens
            if spans := [(a, b) for a, b in spans if b > 0]:
                breaks[cid] = spans
        return breaks, openings

    def _on_break(self, cid: str, t: float) -> float | None:
        """When the counter is back, if `t` seconds from now falls in a planned break."""
        for start, end in self.breaks.get(cid, ()):
            if start <= t < end:
                return end
        return None

    def _due_bookings(self) -> list[Booked]:
        """Bookings not yet checked in that may still come within the horizon: known
        future arrivals. A booked customer checks in at the booked time plus a learned
        offset (never before the window opens: earlier is refused), or not at all (the
        learned booking no-show rate); one not here yet by now comes later, if at all, so
        both are conditioned on that."""
        found = getattr(self.branch, "bookings", None)
        if not found:
            return []
        offsets = self.learner.booking_punctuality()
        missed = self.learner.booking_no_show_rate()
        rules, due = self.rules, []
        for booking in sorted(found.values(), key=lambda b: (b.at, b.id)):
            spec = rules.services.get(booking.service)
            if booking.status != "booked" or spec is None:
                continue
            early, late = spec.check_in_early_s, spec.check_in_late_s
            if booking.at + late < self.now or booking.at - early > self.now + HORIZON_S:
                continue  # a booking no-show not yet recorded, or beyond every future
            gone = self.now - booking.at  # an offset this early has not happened
            later = [max(o, -early) for o in offsets if max(o, -early) > gone]
            if not later:
                continue  # by what has been seen, they would have come already
            comes = (1 - missed) * len(later) / len(offsets)
            shows = comes / (comes + missed)
            key = line_key(
                booking.at, booking.priority, rules.priorities, booking.at,
                spec.appointment_head_start_s,
            )  # fmt: skip
            boost_s = boost(booking.priority, rules.priorities)
            due.append(Booked(booking.service, booking.at, late, key, boost_s, shows, later))
        return due

    # ----- public ----------------------------------------------------------------------

    def for_new_ticket(
        self,
        service: str,
        priority: str,
        recent: tuple[float, Estimate] | None = None,
        reuse_s: float = REUSE_S,
    ) -> Estimate | None:
        """What a customer taking a ticket for `service` now would wait (None: no open
        counter serves it).

        `recent` is (when, estimate) given to the previous newcomer at this service, or
        made for a newcomer off the command path. If the service is simulated and that
        was under `reuse_s` seconds ago, it is reused,
        shifted by the change in people ahead: simulating costs milliseconds, and in a
        burst of tickets the future hardly changes between two of them. An estimate of
        zero (an idle counter) is never reused."""
        virtual = self._virtual(service, priority)
        if self._dedicated(service):
            return self._calibrated(self._pool_estimate(virtual), service=service)
        before = recent[1] if recent is not None else None
        if before is not None and before.mean > 0 and self.now - recent[0] < reuse_s:
            ahead = self._ahead(virtual)
            # Each person more (or fewer) ahead: one occupancy shared by the open counters.
            shift = (ahead - before.ahead) / self._service_rate(service)
            self.reused = True
            return self._floored(before.shifted(shift, ahead), free=self._free(service, ahead))
        simulated = self._simulate([virtual], only=virtual.id)[virtual.id]
        return self._calibrated(simulated, service=service)

    def for_appointment(
        self, service: str, priority: str, booked_at: float, head_start_s: float
    ) -> Estimate | None:
        """What a booked customer checking in now, inside their window, would wait: a
        newcomer who counts from the booked time less the head start (`policy.line_key`),
        so customers who come before that still go first (None: no open counter serves
        the service). Never reused: check-ins are few, and each counts from its own time."""
        virtual = self._virtual(service, priority)
        virtual.booked_at, virtual.head_start_s = booked_at, head_start_s
        if self._dedicated(service):
            return self._calibrated(self._pool_estimate(virtual), service=service)
        simulated = self._simulate([virtual], only=virtual.id)[virtual.id]
        return self._calibrated(simulated, service=service)

    def for_all(self) -> tuple[dict[str, Estimate | None], dict[str, Estimate | None]]:
        """Estimates for every waiting ticket, and for a new arrival at every service."""
        tickets: dict[str, Estimate] = {}
        arrivals: dict[str, Estimate] = {}
        shared_virtuals = []
        default = next(iter(self.rules.priorities))
        for service in self.rules.services:
            virtual = self._virtual(service, default)
            if self._dedicated(service):
                for ahead, ticket in enumerate(self.branch.waiting_line(service)):
                    tickets[ticket.id] = self._pool_estimate(ticket, ahead)
                arrivals[service] = self._pool_estimate(virtual)
            else:
                shared_virtuals.append(virtual)
        if shared_virtuals:
            simulated = self._simulate(shared_virtuals)
            for virtual in shared_virtuals:
                arrivals[virtual.service] = simulated.pop(virtual.id)
            tickets.update(simulated)
        calibrated, now = self._calibrated, self.now
        return (
            {
                t: calibrated(e, now - ticket.queue_since, ticket.service)
                for t, e in tickets.items()
                for ticket in (self.branch.tickets[t],)
            },
            {s: calibrated(e, service=s) for s, e in arrivals.items()},
        )

    def _calibrated(
        self, estimate: Estimate | None, waited: float = 0.0, service: str = ""
    ) -> Estimate | None:
        """The model's interval widened (or narrowed) by what the branch has seen of how
        its intervals missed in the estimate's group (`Learner.calibration`), holding the
        mean (`calibration.honest`), then by how unsure the branch still is of `service`'s
        mean occupancy (`calibration.widened`: a new branch's first customers); the model's
        own, widened where implausibly narrow for a long wait, is kept as raw. `waited`:
        how long the ticket has waited already."""
        if estimate is None:
            return None
        mean, ahead = estimate.mean, estimate.ahead
        # Too narrow to be believed for a long wait: first widened (`calibration.floored`).
        raw_low, raw_high = floored(ahead, mean, estimate.low, estimate.high)
        low, high = honest(mean, raw_low, raw_high, self.learner.calibration(ahead, mean))
        if service and mean > 0:
            # Only the counters' times scale with the mean occupancy, not staff's reaction.
            reaction = sum(self._reactions) / len(self._reactions) if self._reactions else 0.0
            unsure = self._unsure(service) * max(0.0, 1 - reaction / mean)
            low, high = widened(mean, low, high, unsure)
        estimate = Estimate(mean, low, high, ahead, raw_low, raw_high)
        return self._floored(estimate, waited, self._free(service, ahead) if service else 0)

    def _unsure(self, service: str) -> float:
        """`calibration.unsure_of_mean` of `service`, once per estimator."""
        unsure = self.__dict__.setdefault("_unsure_of", {})
        if service not in unsure:
            unsure[service] = unsure_of_mean(self.learner.occupancies(service))
        return unsure[service]

    def _floored(self, estimate: Estimate, waited: float = 0.0, free: int = 0) -> Estimate:
        """Never an interval that cannot hold a certain wait: nobody is called sooner than
        staff react (the 10th percentile of their reactions and turnarounds; for the next
        at `free` free counters, of the first of that many staff's reactions), so the low
        end is at least that (less what the ticket has waited already), above 0 whenever
        someone is ahead, and the high end leaves room for a usual reaction (its 90th
        percentile)."""
        span = self._first_span(free) if free > 0 else self._reaction_span()
        quick, slow = (max(0.0, x - waited) for x in span)
        low = max(estimate.low, quick)
        if estimate.ahead > 0 and low <= 0:
            low = FLOOR_S
        if low == estimate.low and (quick <= 0 or estimate.high >= slow):
            return estimate
        mean = max(estimate.mean, low)
        high = max(estimate.high, mean, slow if quick > 0 else low)
        return Estimate(mean, low, high, estimate.ahead, estimate.raw_low, estimate.raw_high)

    def _first_span(self, free: int) -> tuple[float, float]:
        """The 10th and 90th percentiles of the first of `free` staff's reactions."""
        times = self._first(free)
        n = len(times)
        return (times[int(LOW_P * n)], times[min(n - 1, int(HIGH_P * n))]) if n else (0.0, 0.0)

    def _first(self, free: int) -> list[float]:
        """Sorted: how long the first of `free` free counters' staff takes to call a
        newcomer (`Learner.first_reaction_times`; cached)."""
        free = max(1, free)
        times = self._firsts.get(free)
        if times is None:
            times = self._firsts[free] = self.learner.first_reaction_times(free)
        return times

    def _free(self, service: str, ahead: int) -> int:
        """For a ticket of `service` with `ahead` before it: how many free counters that
        serve it are left for it (0: none, it waits for a counter to finish)."""
        return max(0, self._idle(service) - ahead)

    def _idle(self, service: str) -> int:
        """Open counters that serve `service` and serve nobody now (cached)."""
        idle = self.__dict__.setdefault("_idle_of", {})
        if service not in idle:
            counters = self.branch.counters
            idle[service] = sum(
                1 for c in self._open_counters(service) if counters[c].ticket is None
            )
        return idle[service]

    def _reaction_span(self) -> tuple[float, float]:
        """The 10th percentile of staff's reactions and turnarounds (the quickest a call
        comes) and the 90th of their reactions."""
        span = getattr(self, "_span", None)
        if span is None:
            reactions = self._reactions
            both = sorted(reactions + self._turnarounds)
            n, m = len(both), len(reactions)
            span = self._span = (
                both[int(LOW_P * n)] if n else 0.0,
                reactions[min(m - 1, int(HIGH_P * m))] if m else 0.0,
            )
        return span

    # ----- shared pieces -------------------------------------------------------------

    def _virtual(self, service: str, priority: str) -> Ticket:
        return Ticket(
            id=f"{NEW}{service}",
            number="",
            service=service,
            language="",
            priority=priority,
            issued_at=self.now,
            queue_since=self.now,
            device="",
        )

    def _open_counters(self, service: str) -> list[str]:
        return [
            c
            for c, spec in self.rules.counters.items()
            if service in spec.services and self.branch.counters[c].state is CounterState.OPEN
        ]

    def _dedicated(self, service: str) -> bool:
        """Served by counters that serve only it, none with a break still to come today
        and none to open later (the closed form knows neither; the simulation does)."""
        counters = self._open_counters(service)
        return (
            bool(counters)
            and all(
                self.rules.counters[c].services == (service,) and c not in self.breaks
                for c in counters
            )
            and not any(service in self.rules.counters[c].services for c in self.openings)
        )

    def _ahead(self, ticket: Ticket) -> int:
        return self.branch.ahead_of(ticket)

    def _mean(self, service: str) -> float:
        """The learned mean occupancy of `service` (the learner sums its window: cached)."""
        mean = self._means.get(service)
        if mean is None:
            # At least a second: occupancies of 0 s (start and finish in the same instant,
            # a clock moved by hand) must not make an exponential draw divide by zero.
            mean = self._means[service] = max(MIN_MEAN_S, self.learner.mean_occupancy(service))
        return mean

    def _factor(self, cid: str, service: str) -> float:
        """How long counter `cid` takes on `service`, relative to the service's mean."""
        key = (cid, service)
        factor = self._factors.get(key)
        if factor is None:
            factor = self._factors[key] = max(MIN_FACTOR, self.learner.counter_factor(cid, service))
        return factor

    def _mean_turnaround(self) -> float:
        turnarounds = self._turnarounds
        return sum(turnarounds) / len(turnarounds) if turnarounds else 0.0

    def _first_call(self, cid: str, services: tuple[str, ...], reaction: float) -> float:
        """When a counter that is free now calls. If someone it serves waits, staff have
        been at it since then: reacting to a customer who came after the counter was
        free, else turning around since it became free; the rest of an observed
        reaction or turnaround, given the time already gone. If nobody waits, after
        `reaction`, the time staff have been seen to take to call a newcomer at a free
        counter (one for all free counters: what was seen is when the first called)."""
        pending = self._pending.get(cid, False)
        if pending is False:
            pending = self._pending[cid] = self._pending_call(cid, services)
        if pending is None:
            return reaction
        return _rest_of(*pending, self.rng)

    def _pending_call(
        self, cid: str, services: tuple[str, ...]
    ) -> tuple[list[float], float] | None:
        """(the times staff take, the time already gone) for a free counter with someone
        waiting that it serves; None when nobody waits for it."""
        branch = self.branch
        first = min(
            (branch.tickets[t].queue_since for s in services for t in branch.lines.get(s, ())),
            default=None,
        )
        if first is None:
            return None
        since = branch.counters[cid].free_since
        if since is None or first > since:  # a newcomer at a free counter: its staff react
            return self._first(1), max(0.0, self.now - first)
        return self._turnarounds, max(0.0, self.now - since)

    def _service_rate(self, service: str) -> float:
        """Customers of `service` per second that its open counters get through if they
        do nothing else: each counter at its own speed, and staff's turnaround between
        two."""
        m = self._mean(service)
        turn = self._mean_turnaround()
        counters = self._open_counters(service)
        rate = sum(1 / (m * self._factor(c, service) + turn) for c in counters)
        return rate if rate > 0 else 1 / (m + turn)

    # ----- dedicated pool: closed form -----------------------------------------------

    def _pool_estimate(self, ticket: Ticket, ahead: int | None = None) -> Estimate:
        service = ticket.service
        ahead = self._ahead(ticket) if ahead is None else ahead
        counters = self._open_counters(service)
        idle = self._idle(service)
        if ahead < idle:  # a free counter will call: the first of the free staff to react
            elapsed = max(0.0, self.now - ticket.queue_since)
            times = self._first(idle - ahead)
            start = bisect.bisect_right(times, elapsed) if elapsed > 0 else 0
            rest = [r - elapsed for r in times[start:]] or [_rest_of(times, elapsed, self.rng)]
            n = len(rest)
            return Estimate(
                sum(rest) / n, rest[int(LOW_P * n)], rest[min(n - 1, int(HIGH_P * n))], ahead
            )
        rate = self._service_rate(service)
        theta = self.learner.abandonment_rate(service)
        stages = ahead - idle + 1
        mean, var = _stages(rate, theta, stages)
        # Priority customers still to come who will be called before this one.
        jumpers = self._expected_jumpers(ticket, mean) + self._expected_bookings(ticket, mean)
        if jumpers > 0:
            more_mean, more_var = _stages(rate, theta, stages + jumpers)
            mean, var = more_mean, more_var
        # Customers ahead who turn out to have gone still take a moment of a counter.
        gone_ahead = sum(i * theta / (rate + i * theta) for i in range(1, stages))
        mean += gone_ahead * self._no_show_time(service) / len(counters)
        if theta > 0 and mean > 0:
            # The wait of a customer who stays: with patience at rate θ, staying through a
            # wait w has probability e^(-θw), which tilts the gamma to scale / (1 + θ·scale).
            factor = 1 / (1 + theta * var / mean)
            mean, var = mean * factor, var * factor * factor
        return Estimate(
            mean, gamma_quantile(mean, var, LOW_P), gamma_quantile(mean, var, HIGH_P), ahead
        )

    def _expected_jumpers(self, ticket: Ticket, wait: float) -> float:
        own = boost(ticket.priority, self.rules.priorities)
        key = call_key(ticket, self.rules.priorities)
        total = 0.0
        for pid, priority in self.rules.priorities.items():
            if priority.boost_s <= own and key <= self.now:
                continue  # (a key in the future: an appointment waiting for its time)
            # An arrival of this class at time t goes ahead if t - boost < key.
            window = min(wait, key + priority.boost_s - self.now)
            if window > 0:
                rate = self.learner.expected_rate(
                    ticket.service, pid, self.now, self._second, window
                )
                total += rate * window
        return total

    def _expected_bookings(self, ticket: Ticket, wait: float) -> float:
        """Booked customers expected to check in within `wait` and be called before
        `ticket` (their key inside the window is below its key)."""
        key = call_key(ticket, self.rules.priorities)
        total = 0.0
        for booked in self.booked:
            if booked.service != ticket.service or booked.key >= key:
                continue
            edge = self.now + wait - booked.at
            inside = sum(1 for o in booked.offsets if o <= booked.late_s and o < edge)
            total += booked.shows * inside / len(booked.offsets)
        return total

    # ----- shared counters: simulate the call policy --------------------------------

    def _simulate(  # noqa: C901 (setting up a simulation, reworked by issue 22)
        self, virtuals: list[Ticket], only: str | None = None
    ) -> dict[str, Estimate | None]:
        """Estimates from simulated futures, for every waiting ticket (or just `only`)."""
        branch, rules = self.branch, self.rules
        prio = rules.priorities
        lines: dict[str, list[tuple[float, str, Ticket | float]]] = {}
        for service in rules.services:
            lines[service] = [
                (call_key(branch.tickets[t], prio), t, branch.tickets[t])
                for t in branch.lines.get(service, ())
            ]
        for virtual in virtuals:
            lines[virtual.service].append((call_key(virtual, prio), virtual.id, virtual))
        ahead = {}
        for entries in lines.values():
            entries.sort(key=lambda e: (e[0], e[1]))
            ahead.update((tid, i) for i, (_, tid, _) in enumerate(entries))
        # Counters that serve now, and paused ones, which come back after their break.
        counters = []
        for cid, spec in rules.counters.items():
            counter = branch.counters[cid]
            if counter.state is CounterState.OPEN:
                counters.append((cid, spec.services, 0.0, spec))
            elif counter.state is CounterState.PAUSED:
                planned_end = self._on_break(cid, 0.0)
                if planned_end is None:
                    elapsed = self.now - (counter.since if counter.since is not None else self.now)
                    planned_end = self.learner.pause_left(elapsed)
                counters.append((cid, spec.services, planned_end, spec))
            elif cid in self.openings:  # closed, and planned to open later today
                counters.append((cid, spec.services, self.openings[cid], spec))
        # Only tickets some counter here can serve are ever called; others get no estimate.
        servable = {service for _, services, _, _ in counters for service in services}
        if only and _service_of(only, virtuals) not in servable:
            return {only: None}
        # Customers still to come who may be called before someone waiting: priority
        # customers (their boost puts them ahead), and anyone for a service that an
        # in_order counter serves before another of its services.
        overtaking = {
            service
            for _, services, _, spec in counters
            if spec.profile == IN_ORDER
            for service in services[:-1]
        }
        # An arrival for a line that no in_order counter serves before another goes behind
        # everyone waiting now once its boost no longer covers the time since (at
        # `last_key`): it can then be called before no one estimated here, and it is left
        # out (it could only delay another customer still to come). In a long line that is
        # most of the simulated future, and most of its cost.
        last_key = max((entries[-1][0] for entries in lines.values() if entries), default=self.now)
        jumpers = []
        for service, spec in rules.services.items():  # in a fixed order: replayable draws
            until = rules.until_cutoff(spec, self.now)  # nobody comes after the cut-off
            if service not in servable or until <= 0:
                continue
            for pid, priority in prio.items():
                # (last_key after now: an appointment waits for its booked time, and
                # anyone who comes before it goes first.)
                if priority.boost_s > 0 or service in overtaking or last_key > self.now:
                    ends = until
                    if service not in overtaking:
                        ends = min(until, last_key - self.now + priority.boost_s)
                    if ends <= 0:
                        continue
                    # Hour by hour over the stretch of the day it may come in.
                    rates = self.learner.expected_rates(service, pid, self.now, self._second, ends)
                    if any(rate > 0 for _, rate in rates):
                        jumpers.append((service, priority.boost_s, rates, ends))
        # Booked customers still to come who may be called before someone estimated here.
        booked = [
            b
            for b in self.booked
            if b.service in servable
            and (
                b.service in overtaking
                or b.key < last_key
                or b.at + b.late_s - b.boost_s < last_key  # checks in late: a walk-in
            )
        ]
        thetas = {s: self.learner.abandonment_rate(s) for s in rules.services}
        samples: dict[str, list[float]] = {tid: [] for tid in ([only] if only else ahead)}
        # Steps per replication: every ticket called before the target (or all), plus the
        # counters' first frees.
        if only:
            target = lines[_service_of(only, virtuals)][ahead[only]][:2]
            steps = sum(1 for entries in lines.values() for e in entries if e[:2] <= target)
        else:
            steps = len(ahead)
        steps += len(counters)
        self.deep = bool(only) and steps >= DEEP_STEPS
        replications = max(MIN_REPLICATIONS, min(self.replications, STEP_BUDGET // max(1, steps)))
        if self.deep:
            # Deep in a long line a wait is the sum of hundreds of times: its spread is a
            # few percent of it, and 8 futures find its mean to a third of that spread (the
            # calibration's correction for long waits is many times wider).
            replications = min(replications, DEEP_REPLICATIONS)
        # Staff's turnaround before each next call (none to draw when they call at once),
        # and each service's occupancies at a counter of average speed.
        self._turnaround = self._turnarounds if any(self._turnarounds) else []
        self._shapes = {service: self._normalized(service) for service in servable}
        for _ in range(replications):
            called = self._replicate(lines, counters, jumpers, booked, thetas, only, servable)
            if only and only not in called:
                return {only: None}  # not called in every future: no honest estimate
            for tid, when in called.items():
                if tid in samples:
                    samples[tid].append(when)
        result: dict[str, Estimate | None] = {}
        for tid, values in samples.items():
            if len(values) < replications:
                result[tid] = None  # not called in every future: no honest estimate
                continue
            service = branch.tickets[tid].service if tid in branch.tickets else tid[1:]
            result[tid] = _summarize(values, ahead[tid], thetas[service])
        return result

    # The event loop stays one function: a call per simulated event would cost in the
    # estimator's hottest code.
    def _replicate(  # noqa: C901
        self, lines, counters, jumpers, booked, thetas, only, servable
    ) -> dict[str, float]:
        """One possible future: returns when each waiting ticket is called (s from now).

        Customers still to come (`jumpers`, one Poisson stream each) are drawn lazily: a
        line's head is the earlier (by call key) of its first waiting ticket and the first
        arrival of each of its streams that has come by then, so an arrival is drawn only
        when the one before it is called; behind a long line, most never are. While a
        counter that serves the line is idle, each arrival is also an event that wakes
        one such counter (its staff react), as it would be if drawn at once.

        Booked customers (`booked`) are drawn at once: whether each comes, when, and so
        its call key; each arrival is an event that wakes an idle counter too."""
        rng = self.rng
        heads = dict.fromkeys(lines, 0)
        heap: list[tuple[float, int, int]] = []  # (time, 0 = counter free / 1 = arrival, i)
        turnarounds, windows = self._turnaround, self._shapes
        own = self._first(1)  # one staff's reaction: each free counter's staff react apart
        for index, (cid, services, back_at, _) in enumerate(counters):
            current = self.branch.counters[cid].ticket
            free_at = back_at
            if current is None and back_at == 0.0:
                reaction = own[int(rng.random() * len(own))] if own else 0.0
                free_at = self._first_call(cid, services, reaction)
            if current is not None:
                ticket = self.branch.tickets[current]
                elapsed = self.now - (ticket.called_at or self.now)
                free_at = max(free_at, self._busy_for(ticket, elapsed, cid, thetas))
                if turnarounds:
                    free_at += turnarounds[int(rng.random() * len(turnarounds))]
            heap.append((free_at, 0, index))
        now = self.now
        # Per stream: its arrivals drawn and not yet called (times from now, in order), the
        # last drawn, and whether an arrival event is on the heap.
        drawn: list[list[float]] = []
        last: list[float] = []
        announced = [False] * len(jumpers)
        streams: dict[str, list[int]] = {}
        for index, (service, _, rates, until) in enumerate(jumpers):
            first = _next_arrival(rates, 0.0, rng)
            drawn.append([first] if first < until else [])
            last.append(first)
            streams.setdefault(service, []).append(index)
        visits: dict[str, list[list[float]]] = {}  # service -> [arrival, key] still to call
        visit_of: list[str] = []
        for one in booked:
            visit = one.draw(rng, now)
            if visit is not None:
                visits.setdefault(one.service, []).append(list(visit))
                heap.append((visit[0], 2, len(visit_of)))
                visit_of.append(one.service)
        heapq.heapify(heap)
        idle: set[int] = set()
        called: dict[str, float] = {}
        remaining = sum(len(lines[s]) for s in servable)
        horizon = HORIZON_S
        # Arrivals can outpace the counters in a simulated future; bound its length (the
        # arrivals of the whole horizon included).
        arrivals = sum(max(r for _, r in rates) for _, _, rates, _ in jumpers) * HORIZON_S
        events_left = 20 * (remaining + len(counters)) + 200 + int(arrivals) + 2 * len(visit_of)
        while heap and remaining and events_left:
            events_left -= 1
            t, kind, index = heapq.heappop(heap)
            if t > horizon:
                break
            if kind == 2:  # a booked customer checks in: staff at an idle counter react
                self._wake(visit_of[index], t, idle, counters, heap)
                continue
            if kind == 1:  # an arrival for a line that an idle counter serves
                service, _, rates, until = jumpers[index]
                self._wake(service, t, idle, counters, heap)  # staff react to the newcomer
                announced[index] = False
                if any(service in counters[waiting][1] for waiting in idle):
                    times = drawn[index]
                    if not times or times[-1] <= t:  # the next, to wake the next idle counter
                        last[index] = _next_arrival(rates, last[index], rng)
                        if last[index] >= until:
                            continue
                        times.append(last[index])
                    announced[index] = True
                    heapq.heappush(heap, (next(a for a in times if a > t), 1, index))
                continue
            back = self._on_break(counters[index][0], t) if self.breaks else None
            if back is not None:  # freed up during a planned break: back when it ends
                heapq.heappush(heap, (back, 0, index))
                continue
            cid, services, _, spec = counters[index]
            keys = []
            for service in services:
                entries = lines[service]
                key = entries[heads[service]][0] if heads[service] < len(entries) else None
                for stream in streams.get(service, ()):
                    times = drawn[stream]
                    if times and times[0] <= t:  # an arrival has come: its call key
                        arrived = now + times[0] - jumpers[stream][1]
                        if key is None or arrived < key:
                            key = arrived
                for visit in visits.get(service, ()):
                    if visit[0] <= t and (key is None or visit[1] < key):
                        key = visit[1]  # a booked customer who has checked in
                keys.append(key)
            rank = choose(spec.profile, spec.overflow_s, keys, now + t)
            if rank is None:
                idle.add(index)  # nothing it can serve now; an arrival may wake it
                if len(idle) == len(counters):
                    horizon = t  # every counter idle and nobody left that they serve
                for service in services:
                    for stream in streams.get(service, ()):
                        if drawn[stream] and not announced[stream]:
                            announced[stream] = True
                            heapq.heappush(heap, (drawn[stream][0], 1, stream))
                continue
            service = services[rank]
            key = keys[rank]
            entries = lines[service]
            if heads[service] < len(entries) and entries[heads[service]][0] == key:
                _, tid, ticket = entries[heads[service]]
                heads[service] += 1
                remaining -= 1
                called[tid] = t
                if tid == only:
                    break
                in_line = now + t - ticket.queue_since
            elif visit := next(
                (v for v in visits.get(service, ()) if v[0] <= t and v[1] == key), None
            ):  # a booked customer who checked in
                visits[service].remove(visit)
                in_line = t - visit[0]
            else:  # a simulated newcomer, who may have given up too
                stream = next(
                    j
                    for j in streams[service]
                    if drawn[j] and now + drawn[j][0] - jumpers[j][1] == key
                )
                times = drawn[stream]
                in_line = t - times.pop(0)
                if not times:
                    last[stream] = _next_arrival(jumpers[stream][2], last[stream], rng)
                    if last[stream] < jumpers[stream][3]:
                        times.append(last[stream])
            theta = thetas[service]
            gone = theta > 0 and rng.random() < -math.expm1(-theta * in_line)
            if gone:
                occupancy = self._no_show_time(service)
            else:  # the service's shape, at this counter's speed
                window = windows[service]
                if window:
                    occupancy = window[int(rng.random() * len(window))] * self._factor(cid, service)
                else:
                    occupancy = self._draw(service, cid)
            if turnarounds:  # the counter calls again after staff's turnaround
                occupancy += turnarounds[int(rng.random() * len(turnarounds))]
            heapq.heappush(heap, (t + occupancy, 0, index))
        return called

    def _wake(self, service: str, t: float, idle: set[int], counters, heap: list) -> None:
        """A newcomer for `service` at `t`: one idle counter that serves it calls after the
        first of those idle counters' staff reacts (the first of that many)."""
        serving = [w for w in sorted(idle) if service in counters[w][1]]
        if serving:
            idle.discard(serving[0])
            times = self._first(len(serving))
            react = times[int(self.rng.random() * len(times))] if times else 0.0
            heapq.heappush(heap, (t + react, 0, serving[0]))

    def _busy_for(self, ticket: Ticket, elapsed: float, cid: str, thetas: dict) -> float:
        """How much longer counter `cid` is busy with `ticket`, called `elapsed` s ago. A
        called customer may have gone: then the counter is only busy for what staff spend
        on a no-show. Recalled, they have with the share of recalled customers seen to
        have gone; not yet recalled or started, with the abandonment probability for their
        time in line (unless they would have been marked no-show by now); started
        (serving), they are there."""
        service = ticket.service
        if ticket.status is TicketStatus.CALLED:
            no_show = self._no_show_time(service)
            if ticket.recalls > 0:
                gone = self.rng.random() < self._gone_after_recall
            elif thetas[service] > 0 and elapsed < no_show:
                in_line = (ticket.called_at or self.now) - ticket.queue_since
                gone = self.rng.random() < -math.expm1(-thetas[service] * in_line)
            else:
                gone = False
            if gone:
                return max(0.0, no_show - elapsed)
        return self._residual(service, elapsed, cid)

    def _no_show_time(self, service: str) -> float:
        """The learned counter time on a customer who had gone (cached: the learner sums)."""
        seconds = self._no_show.get(service)
        if seconds is None:
            seconds = self._no_show[service] = self.learner.mean_no_show_occupancy(service)
        return seconds

    def _normalized(self, service: str) -> list[float]:
        """The service's observed occupancies, each divided by its counter's factor: the
        shape of the service's times at a counter of average speed ([] until
        MIN_EMPIRICAL are seen). A list is faster to index than the learner's deque."""
        window = self._windows.get(service)
        if window is None:
            learned = self.learner.occupancies(service)
            if len(learned) < MIN_EMPIRICAL:
                window = []
            else:
                who = self.learner.occupancy_counters(service)
                window = [
                    occupancy if cid is None else occupancy / self._factor(cid, service)
                    for occupancy, cid in zip(learned, who, strict=True)
                ]
            self._windows[service] = window
        return window

    def _draw(self, service: str, cid: str) -> float:
        """An occupancy of `service` at counter `cid`: the service's shape at its speed."""
        window = self._normalized(service)
        factor = self._factor(cid, service)
        if window:
            return window[int(self.rng.random() * len(window))] * factor
        return self.rng.expovariate(1 / (self._mean(service) * factor))

    def _residual(self, service: str, elapsed: float, cid: str) -> float:
        """Remaining occupancy of counter `cid`, busy with `service` for `elapsed` s."""
        factor = self._factor(cid, service)
        mean = self._mean(service) * factor
        window = self._normalized(service)
        if not window:
            return self.rng.expovariate(1 / mean)
        ordered = self._sorted.get(service)
        if ordered is None:
            ordered = self._sorted[service] = sorted(window)
        start = bisect.bisect_right(ordered, elapsed / factor)
        longer = len(ordered) - start
        if longer >= TAIL_SEEN or len(ordered) < TAIL_FROM:
            if not longer:  # longer than anything seen: assume one more mean
                return self.rng.expovariate(1 / mean)
            # One of the occupancies seen longer, less the time gone.
            return ordered[start + int(self.rng.random() * longer)] * factor - elapsed
        # Longer than all but a few seen: the rest as one of the TAIL_SEEN longest seen
        # goes past the one below them (the tail's mean excess). Drawn from the few longer
        # ones, one outlier would set every future (issue 22: a 3,161 s business customer,
        # one occupancy of about 13,000 s seen longer: the next four promised 9,031-9,931 s).
        top = len(ordered) - TAIL_SEEN
        return (ordered[top + int(self.rng.random() * TAIL_SEEN)] - ordered[top - 1]) * factor


def _rest_of(times: list[float], elapsed: float, rng: random.Random) -> float:
    """The rest of one of the sorted `times` (staff's reactions or turnarounds) given
    `elapsed` already gone: a draw from those longer, less `elapsed`; when none was longer,
    as soon as the quickest seen (never 0 unless staff are seen to call at once)."""
    if not times:
        return 0.0
    start = bisect.bisect_right(times, elapsed) if elapsed > 0 else 0
    if start >= len(times):
        return next((t for t in times if t > 0), 0.0)
    return times[start + int(rng.random() * (len(times) - start))] - elapsed


def _next_arrival(rates: list[tuple[float, float]], after: float, rng: random.Random) -> float:
    """The next arrival after `after` (s from now) of a Poisson stream whose rate is
    constant over each stretch of `rates` ((its end in s from now, arrivals per second), in
    order, from now); inf past the last. One draw, as `expovariate` over one stretch."""
    need = rng.expovariate(1.0)
    start = 0.0
    for end, rate in rates:
        if end > after:
            since = max(after, start)
            room = (end - since) * rate
            if need < room:
                return since + need / rate
            need -= room
        start = end
    return math.inf


def _service_of(only: str, virtuals: list[Ticket]) -> str:
    return next(v.service for v in virtuals if v.id == only)


def _summarize(values: list[float], ahead: int, theta: float) -> Estimate:
    """Mean and interval of simulated waits, each weighted by the chance e^(-θw) that the
    customer stays that long: the estimate is for a customer who stays."""
    values.sort()
    weights = [math.exp(-theta * v) for v in values] if theta > 0 else [1.0] * len(values)
    total = sum(weights)
    if total <= 0:  # waits so long nobody would stay: fall back to the unweighted ones
        weights, total = [1.0] * len(values), float(len(values))
    mean = sum(w * v for w, v in zip(weights, values, strict=True)) / total
    if len(values) >= EMPIRICAL_FROM:
        return Estimate(
            mean,
            _weighted_quantile(values, weights, total, LOW_P),
            _weighted_quantile(values, weights, total, HIGH_P),
            ahead,
        )
    var = sum(w * (v - mean) ** 2 for w, v in zip(weights, values, strict=True)) / total
    var *= len(values) / (len(values) - 1)
    low, high = gamma_quantile(mean, var, LOW_P), gamma_quantile(mean, var, HIGH_P)
    return Estimate(mean, low, high, ahead)


def _weighted_quantile(ordered: list[float], weights: list[float], total: float, p: float) -> float:
    running = 0.0
    for value, weight in zip(ordered, weights, strict=True):
        running += weight
        if running >= p * total:
            return value
    return ordered[-1]


def _stages(rate: float, theta: float, stages: float) -> tuple[float, float]:
    """Mean and variance of the time for `stages` departures at rates rate + iθ."""
    whole = int(stages)
    mean = var = 0.0
    for i in range(whole):
        r = rate + i * theta
        mean += 1 / r
        var += 1 / (r * r)
    fraction = stages - whole
    if fraction > 0:
        r = rate + whole * theta
        mean += fraction / r
        var += fraction / (r * r)
    return mean, var
