"""The simulation engine: customers arrive, take tickets, wait, maybe give up; counters
call, serve, pause. Every queue decision is the real domain's (`Branch.handle`); every
estimate is the real estimator's. Baselines are computed at the same arrival instant from
the same state, so all estimators are judged on one sample path."""

from __future__ import annotations

import heapq
import itertools
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, time

from nowserving.domain import Branch, BranchRules, Command, CounterSpec, Priority, Service
from nowserving.sim.scenarios import Scenario, SimService

DAY0 = datetime(2026, 1, 5, tzinfo=UTC).timestamp()  # a Monday, 00:00 UTC
DAY_S = 86_400.0


@dataclass
class Customer:
    """One customer's day, as the metrics need it."""

    service: str
    day: int
    arrived: float
    warmup: bool
    estimate: dict | None  # ours, given at issue: mean, low, high (seconds)
    baselines: dict  # name -> predicted wait
    called: float | None = None
    gone: bool = False  # had left before being called (a no-show)

    @property
    def wait(self) -> float | None:
        return None if self.called is None else self.called - self.arrived


def _rules(scenario: Scenario) -> BranchRules:
    services = {
        s.id: Service(s.id, f"S{i}"[:2] if i else "S", {"en": s.id}, 1, 999_999, 6)
        for i, s in enumerate(scenario.services)
    }
    opens = scenario.extra.get("opens", 9.0)
    counters = {
        c.id: CounterSpec(
            c.id,
            {"en": c.id},
            c.services,
            tuple((round((opens + a) * 60), round((opens + b) * 60)) for a, b in c.pauses),
        )
        for c in scenario.counters
    }
    priorities = {
        "normal": Priority("normal", 0.0),
        "priority": Priority("priority", scenario.priority_boost_s),
    }
    return BranchRules(
        "sim",
        services,
        counters,
        priorities,
        languages=("en",),
        timezone="UTC",
        day_starts_at=time(0, 0),
        no_show_after_recalls=0,
    )


class _Service:
    """Draws for one service: interarrival times, service times, patience, priority."""

    def __init__(self, spec: SimService, rng: random.Random) -> None:
        self.spec, self.rng = spec, rng
        if spec.service_dist == "lognormal":
            sigma2 = math.log(1 + spec.service_cv**2)
            self.mu, self.sigma = math.log(spec.mean_service_s) - sigma2 / 2, math.sqrt(sigma2)

    def rate_at(self, hour: float) -> float:
        rates = self.spec.arrivals_per_hour
        index = min(len(rates) - 1, max(0, int(hour))) if len(rates) > 1 else 0
        return rates[index] / 3600

    def next_arrival(self, t: float) -> float:
        """The next arrival after t (s since day start), following the hour's rate."""
        while True:
            rate = self.rate_at(t / 3600)
            hour_end = (
                (math.floor(t / 3600) + 1) * 3600
                if len(self.spec.arrivals_per_hour) > 1
                else math.inf
            )
            if rate <= 0:
                if hour_end == math.inf:
                    return math.inf
                t = hour_end
                continue
            gap = self._gap(rate)
            if t + gap <= hour_end:
                return t + gap
            t = hour_end  # memoryless restart at the hour boundary (for M; approximate else)

    def _gap(self, rate: float) -> float:
        kind = self.spec.arrival_dist
        if kind == "D":
            return 1 / rate
        if kind == "H2":
            c2 = self.spec.arrival_scv
            p = (1 + math.sqrt((c2 - 1) / (c2 + 1))) / 2
            branch_rate = 2 * p * rate if self.rng.random() < p else 2 * (1 - p) * rate
            return self.rng.expovariate(branch_rate)
        return self.rng.expovariate(rate)

    def service_time(self) -> float:
        spec = self.spec
        if spec.service_dist == "fixed":
            return spec.mean_service_s
        if spec.service_dist == "lognormal":
            return self.rng.lognormvariate(self.mu, self.sigma)
        return self.rng.expovariate(1 / spec.mean_service_s)

    def patience(self) -> float:
        p = self.spec.patience_s
        return math.inf if p is None else self.rng.expovariate(1 / p)


def simulate(
    scenario: Scenario, seed: int = 1, customers: int | None = None, progress=None
) -> list[Customer]:
    """Run `scenario` and return every customer with the estimates they were given."""
    run = _Simulation(scenario, seed, customers or scenario.customers, progress)
    for day in range(scenario.days):
        if len(run.results) >= run.limit:
            break
        run.day(day)
    return run.results


class _Simulation:
    """One run: the branch, the event heap of the current day, and what customers saw."""

    def __init__(self, scenario: Scenario, seed: int, limit: int, progress) -> None:
        self.scenario, self.limit, self.progress = scenario, limit, progress
        self.rules = _rules(scenario)
        self.branch = Branch(self.rules)
        self.ids = itertools.count()
        rng = random.Random(seed)
        self.draws = {s.id: _Service(s, random.Random(rng.random())) for s in scenario.services}
        self.specs = {s.id: s for s in scenario.services}
        self.results: list[Customer] = []
        self.last_wait: dict[str, float] = {}  # LES: wait of the last customer called
        self.heap: list[tuple[float, int, str, str]] = []
        self.order = itertools.count()
        self.tickets: dict[str, tuple[Customer, float, float]] = {}
        self.idle: list[str] = []  # open counters with nobody to call, in counter order
        self.gone: set[str] = set()  # tickets whose customer left before being called

    def run(self, kind: str, at: float, **args) -> tuple[list, dict]:
        events, outcome, _ = self.branch.handle(
            Command(f"s{next(self.ids)}", kind, "sim", at, args)
        )
        return events, outcome

    def push(self, at: float, kind: str, what: str) -> None:
        heapq.heappush(self.heap, (at, next(self.order), kind, what))

    def day(self, day: int) -> None:
        scenario = self.scenario
        self.start = DAY0 + day * DAY_S + scenario.extra.get("opens", 9.0) * 3600
        length = scenario.hours * 3600 if scenario.hours else DAY_S * 0.9
        self.end_of_issue = self.start + length
        self.day_number = day
        self.tickets.clear()  # anyone still waiting went home with the day
        self.idle = []
        for sid, draw in self.draws.items():
            first = draw.next_arrival(0.0)
            if first != math.inf:
                self.push(self.start + first, "arrive", sid)
        for counter in scenario.counters:
            for pause_start, pause_end in counter.pauses:
                self.push(self.start + pause_start * 3600, "pause", counter.id)
                self.push(self.start + pause_end * 3600, "open", counter.id)
            # The domain keeps counter states across days: open every counter each morning.
            if self.branch.counters[counter.id].state != "open":
                self.run("open_counter", self.start, counter=counter.id)
            self.idle.append(counter.id)
        while self.heap:
            at, _, kind, what = heapq.heappop(self.heap)
            getattr(self, f"_on_{kind}")(at, what)

    def _on_arrive(self, at: float, sid: str) -> None:
        draw, spec = self.draws[sid], self.specs[sid]
        nxt = self.start + draw.next_arrival(at - self.start)
        if nxt < self.end_of_issue and len(self.results) + 1 < self.limit:
            self.push(nxt, "arrive", sid)
        baselines = _baselines(self.branch, self.rules, spec, sid, at, self.last_wait)
        priority = "priority" if draw.rng.random() < spec.priority_share else "normal"
        events, outcome = self.run("issue_ticket", at, service=sid, priority=priority)
        issued = next(e for e in events if e.type == "ticket_issued")
        warmup = at - self.start < self.scenario.warmup_s or (
            self.day_number < self.scenario.learning_days
        )
        customer = Customer(sid, self.day_number, at, warmup, issued.data["estimate"], baselines)
        self.results.append(customer)
        self.tickets[outcome["ticket"]] = (customer, draw.service_time(), draw.patience())
        for counter_id in self.idle:
            if sid in self.rules.counters[counter_id].services:
                self.idle.remove(counter_id)
                self._call(counter_id, at)
                break
        if self.progress and len(self.results) % 10_000 == 0:
            self.progress(len(self.results))

    def _call(self, counter_id: str, at: float) -> None:
        _, outcome = self.run("call_next", at, counter=counter_id)
        if not outcome["ok"]:
            if outcome["code"] == "queue_empty" and counter_id not in self.idle:
                self.idle.append(counter_id)
            return
        customer, service_s, patience = self.tickets.pop(outcome["ticket"])
        customer.called = at
        in_line = at - customer.arrived
        self.last_wait[customer.service] = in_line
        if in_line > patience:
            customer.gone = True
            self.gone.add(outcome["ticket"])
            self.push(at + self.scenario.no_show_handling_s, "done", counter_id)
        else:
            self.push(at + service_s, "done", counter_id)

    def _on_done(self, at: float, counter_id: str) -> None:
        gone = self.branch.counters[counter_id].ticket in self.gone
        self.run("no_show" if gone else "finish", at, counter=counter_id)
        if self.branch.counters[counter_id].state == "open":
            self._call(counter_id, at)

    def _on_pause(self, at: float, counter_id: str) -> None:
        self.run("pause_counter", at, counter=counter_id, reason="lunch")
        if counter_id in self.idle:
            self.idle.remove(counter_id)

    def _on_open(self, at: float, counter_id: str) -> None:
        self.run("open_counter", at, counter=counter_id)
        if self.branch.counters[counter_id].ticket is None:
            self._call(counter_id, at)


def _baselines(
    branch: Branch,
    rules: BranchRules,
    spec: SimService,
    sid: str,
    at: float,
    last_wait: dict[str, float],
) -> dict:
    """The textbook estimators at this arrival, from the state before the ticket is issued."""
    line = branch.lines.get(sid, {})
    n = len(line)
    open_counters = [
        c
        for c, s in rules.counters.items()
        if sid in s.services and branch.counters[c].state == "open"
    ]
    s = max(1, len(open_counters))
    mu = 1 / spec.mean_service_s
    theta = 0.0 if spec.patience_s is None else 1 / spec.patience_s
    head = min((branch.tickets[t].queue_since for t in line), default=None)
    return {
        "naive": n * branch.learner.mean_occupancy(sid) / s,
        "QL": (n + 1) / (s * mu),
        "QL_m": sum(1 / (s * mu + i * theta) for i in range(n + 1)),
        "LES": last_wait.get(sid, 0.0),
        "HOL": 0.0 if head is None else at - head,
    }
