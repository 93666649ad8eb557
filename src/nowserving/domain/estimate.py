"""Wait estimates: for every waiting ticket and for a new arrival at each service, the
expected wait and an 80% interval (10th to 90th percentile), from the current state and
what the branch has learned (`learning.Learner`).

Two methods, one per kind of service:

- A **dedicated pool** — every open counter that serves the service serves only it — is
  the textbook many-server queue. With K people ahead, s counters busy at a learned mean
  occupancy m (rate Λ = s/m) and a learned abandonment rate θ, the line shrinks at
  Λ + iθ while i are ahead, so the wait is a sum of exponential stages: mean
  Σ_{i=0..K} 1/(Λ + iθ) (Whitt's QL_m, with learned instead of true rates), variance the
  sum of squares, and the interval is that of a gamma with the same mean and variance.
  Priority customers who will arrive and go ahead (their boost puts them in front) add to K.
- **Counters shared between services** are simulated: R replications of the actual call
  policy from the current state, with each busy counter's remaining time and each later
  occupancy drawn from the occupancies observed for that service (their empirical
  distribution, so lognormal or fixed service times are followed as they are), and called
  customers gone with the learned abandonment probability. The mean and percentiles of
  each ticket's simulated call time are its estimate.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from nowserving.domain.gamma import gamma_quantile
from nowserving.domain.model import CounterState, Ticket
from nowserving.domain.policy import boost, call_key

LOW_P, HIGH_P = 0.10, 0.90
REPLICATIONS = 100
STEP_BUDGET = 2000  # simulated calls per estimate: long lines get fewer replications ...
MIN_REPLICATIONS = 16
EMPIRICAL_FROM = 60  # ... and below this many, the interval comes from a fitted gamma
HORIZON_S = 12 * 3600.0  # a simulated future goes no further than this
REUSE_S = 1.0  # a simulated newcomer's estimate is reused for this long (see for_new_ticket)
MIN_EMPIRICAL = 30  # occupancies needed before drawing from them instead of an exponential


@dataclass(frozen=True)
class Estimate:
    """Expected wait in seconds from now, with the 10th and 90th percentiles."""

    mean: float
    low: float
    high: float
    ahead: int

    def to_dict(self) -> dict:
        return {
            "mean": round(self.mean, 2),
            "low": round(self.low, 2),
            "high": round(self.high, 2),
            "ahead": self.ahead,
        }


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
        self._reactions = self.learner.reaction_times()
        self.breaks = self._planned_breaks()

    def _planned_breaks(self) -> dict[str, list[tuple[float, float]]]:
        """Each counter's planned breaks not yet over, as (start, end) seconds from now."""
        local = datetime.fromtimestamp(self.now, ZoneInfo(self.rules.timezone))
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        breaks: dict[str, list[tuple[float, float]]] = {}
        for cid, spec in self.rules.counters.items():
            spans = [
                (midnight + a * 60 - self.now, midnight + b * 60 - self.now) for a, b in spec.breaks
            ]
            if spans := [(a, b) for a, b in spans if b > 0]:
                breaks[cid] = spans
        return breaks

    def _on_break(self, cid: str, t: float) -> float | None:
        """When the counter is back, if `t` seconds from now falls in a planned break."""
        for start, end in self.breaks.get(cid, ()):
            if start <= t < end:
                return end
        return None

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
            return self._pool_estimate(virtual)
        before = recent[1] if recent is not None else None
        if before is not None and before.mean > 0 and self.now - recent[0] < reuse_s:
            ahead = self._ahead(virtual)
            # Each person more (or fewer) ahead: one occupancy shared by the open counters.
            counters = max(1, len(self._open_counters(service)))
            shift = (ahead - before.ahead) * self.learner.mean_occupancy(service) / counters
            return Estimate(
                max(0.0, before.mean + shift),
                max(0.0, before.low + shift),
                max(0.0, before.high + shift),
                ahead,
            )
        return self._simulate([virtual], only=virtual.id)[virtual.id]

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
        return tickets, arrivals

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
        (the closed form knows no breaks; the simulation does)."""
        counters = self._open_counters(service)
        return bool(counters) and all(
            self.rules.counters[c].services == (service,) and c not in self.breaks for c in counters
        )

    def _ahead(self, ticket: Ticket) -> int:
        return self.branch.ahead_of(ticket)

    # ----- dedicated pool: closed form -----------------------------------------------

    def _pool_estimate(self, ticket: Ticket, ahead: int | None = None) -> Estimate:
        service = ticket.service
        ahead = self._ahead(ticket) if ahead is None else ahead
        counters = self._open_counters(service)
        idle = sum(1 for c in counters if self.branch.counters[c].ticket is None)
        if ahead < idle:  # a free counter will call: after staff's usual reaction
            reactions = sorted(self.learner.reaction_times()) or [0.0]
            n = len(reactions)
            return Estimate(
                sum(reactions) / n,
                reactions[int(LOW_P * n)],
                reactions[min(n - 1, int(HIGH_P * n))],
                ahead,
            )
        m = self.learner.mean_occupancy(service)
        rate = len(counters) / m
        theta = self.learner.abandonment_rate(service)
        stages = ahead - idle + 1
        mean, var = _stages(rate, theta, stages)
        # Priority customers still to come who will be called before this one.
        jumpers = self._expected_jumpers(ticket, mean)
        if jumpers > 0:
            more_mean, more_var = _stages(rate, theta, stages + jumpers)
            mean, var = more_mean, more_var
        # Customers ahead who turn out to have gone still take a moment of a counter.
        gone_ahead = sum(i * theta / (rate + i * theta) for i in range(1, stages))
        mean += gone_ahead * self.learner.mean_no_show_occupancy(service) / len(counters)
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
            if priority.boost_s <= own:
                continue
            # An arrival of this class at time t goes ahead if t - boost < key.
            window = min(wait, key + priority.boost_s - self.now)
            if window > 0:
                total += self.learner.arrival_rate(ticket.service, pid, self.now) * window
        return total

    # ----- shared counters: simulate the call policy --------------------------------

    def _simulate(
        self, virtuals: list[Ticket], only: str | None = None
    ) -> dict[str, Estimate | None]:
        """Estimates from simulated futures, for every waiting ticket (or just `only`)."""
        branch, rules = self.branch, self.rules
        prio = rules.priorities
        lines: dict[str, list[tuple[float, str, Ticket | None]]] = {}
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
                counters.append((cid, spec.services, 0.0))
            elif counter.state is CounterState.PAUSED:
                planned_end = self._on_break(cid, 0.0)
                if planned_end is None:
                    elapsed = self.now - (counter.since if counter.since is not None else self.now)
                    planned_end = self.learner.pause_left(elapsed)
                counters.append((cid, spec.services, planned_end))
        # Only tickets some counter here can serve are ever called; others get no estimate.
        servable = {service for _, services, _ in counters for service in services}
        if only and _service_of(only, virtuals) not in servable:
            return {only: None}
        # Priority customers still to come who would be called before someone waiting.
        jumpers = []
        for service in servable:
            for pid, priority in prio.items():
                if priority.boost_s > 0:
                    rate = self.learner.arrival_rate(service, pid, self.now)
                    if rate > 0:
                        jumpers.append((service, priority.boost_s, rate))
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
        replications = max(MIN_REPLICATIONS, min(self.replications, STEP_BUDGET // max(1, steps)))
        for _ in range(replications):
            called = self._replicate(lines, counters, jumpers, thetas, only, servable)
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

    def _replicate(self, lines, counters, jumpers, thetas, only, servable) -> dict[str, float]:
        """One possible future: returns when each waiting ticket is called (s from now)."""
        rng = self.rng
        heads = dict.fromkeys(lines, 0)
        copied: set[str] = set()
        heap: list[tuple[float, int, int]] = []  # (time, 0 = counter free / 1 = arrival, i)
        for index, (cid, _, back_at) in enumerate(counters):
            current = self.branch.counters[cid].ticket
            free_at = back_at
            if current is None and back_at == 0.0 and self._reactions:
                # A free counter calls after staff's reaction, as observed.
                free_at = self._reactions[int(rng.random() * len(self._reactions))]
            if current is not None:
                ticket = self.branch.tickets[current]
                elapsed = self.now - (ticket.called_at or self.now)
                free_at = max(free_at, self._residual(ticket.service, elapsed))
            heap.append((free_at, 0, index))
        for index, (_, _, rate) in enumerate(jumpers):
            heap.append((rng.expovariate(rate), 1, index))
        heapq.heapify(heap)
        idle: set[int] = set()
        called: dict[str, float] = {}
        remaining = sum(len(lines[s]) for s in servable)
        horizon = HORIZON_S
        # Arrivals can outpace the counters in a simulated future; bound its length.
        events_left = 20 * (remaining + len(counters)) + 200
        while heap and remaining and events_left:
            events_left -= 1
            t, kind, index = heapq.heappop(heap)
            if t > horizon:
                break
            if kind == 1:  # a priority customer arrives and joins the line by its key
                service, boost_s, rate = jumpers[index]
                if service not in copied:
                    lines = {**lines, service: list(lines[service])}
                    copied.add(service)
                entries = lines[service]
                key = self.now + t - boost_s
                at = bisect.bisect_left(entries, (key,), lo=heads[service])
                entries.insert(at, (key, "", None))
                heapq.heappush(heap, (t + rng.expovariate(rate), 1, index))
                for waiting in sorted(idle):
                    if service in counters[waiting][1]:
                        idle.discard(waiting)
                        heapq.heappush(heap, (t, 0, waiting))
                        break
                continue
            back = self._on_break(counters[index][0], t) if self.breaks else None
            if back is not None:  # freed up during a planned break: back when it ends
                heapq.heappush(heap, (back, 0, index))
                continue
            best = None
            for service in counters[index][1]:
                entries = lines.get(service)
                if entries and heads[service] < len(entries):
                    entry = entries[heads[service]]
                    if best is None or (entry[0], entry[1]) < (best[1][0], best[1][1]):
                        best = (service, entry)
            if best is None:
                idle.add(index)  # nothing it can serve now; an arrival may wake it
                if len(idle) == len(counters):
                    horizon = t  # every counter idle and nobody left that they serve
                continue
            service, (_, tid, ticket) = best
            heads[service] += 1
            if ticket is None:  # a priority customer who arrived in this future
                occupancy = self._draw(service)
            else:
                remaining -= 1
                called[tid] = t
                if tid == only:
                    break
                in_line = self.now + t - ticket.queue_since
                theta = thetas[service]
                if theta > 0 and rng.random() < -math.expm1(-theta * in_line):
                    occupancy = self.learner.mean_no_show_occupancy(service)
                else:
                    occupancy = self._draw(service)
            heapq.heappush(heap, (t + occupancy, 0, index))
        return called

    def _draw(self, service: str) -> float:
        window = self._windows.get(service)
        if window is None:  # a list is faster to index than the learner's deque
            learned = self.learner.occupancies(service)
            window = self._windows[service] = list(learned) if len(learned) >= MIN_EMPIRICAL else []
        if window:
            return window[int(self.rng.random() * len(window))]
        return self.rng.expovariate(1 / self.learner.mean_occupancy(service))

    def _residual(self, service: str, elapsed: float) -> float:
        """Remaining occupancy of a counter busy for `elapsed` seconds so far."""
        window = self.learner.occupancies(service)
        if len(window) < MIN_EMPIRICAL:
            return self.rng.expovariate(1 / self.learner.mean_occupancy(service))
        ordered = self._sorted.get(service)
        if ordered is None:
            ordered = self._sorted[service] = sorted(window)
        start = bisect.bisect_right(ordered, elapsed)
        if start >= len(ordered):  # longer than anything seen: assume one more mean
            return self.rng.expovariate(1 / self.learner.mean_occupancy(service))
        return ordered[start + int(self.rng.random() * (len(ordered) - start))] - elapsed


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
