"""The simulation engine: customers arrive, take tickets, wait, maybe give up; counters
call, serve, recall, pause, open and close. Every queue decision is the real domain's
(`Branch.handle`); every estimate is the real estimator's. Baselines are computed at the
same arrival instant from the same state, so all estimators are judged on one sample path."""

from __future__ import annotations

import copy
import heapq
import itertools
import math
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time

from nowserving.domain import (
    Branch,
    BranchRules,
    Command,
    CounterSpec,
    NewcomerEstimates,
    Priority,
    Service,
)
from nowserving.sim.draws import ServiceDraws
from nowserving.sim.world import Scenario, SimService

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
    since_open: float = 0.0  # seconds from the day's opening to the arrival
    priority: str = "normal"  # the customer's priority class
    booked: bool = False  # checked in with a booking (else a walk-in)
    late: bool = False  # ... after its window: a walk-in ticket from the check-in

    @property
    def wait(self) -> float | None:
        """How long the customer waited to be called (None: never called)."""
        return None if self.called is None else self.called - self.arrived


def _minutes(hours_from_open: float, opens: float) -> int:
    return round((opens + hours_from_open) * 60)


def _rules(scenario: Scenario) -> BranchRules:
    opens = scenario.opens_h
    services = {}
    for i, s in enumerate(scenario.services):
        # Its own cut-off, else the day's end: nobody takes a ticket after closing, and the
        # branch config says so (the estimator then expects nobody later either).
        last = s.last_ticket_h if s.last_ticket_h is not None else scenario.hours
        cutoff = None
        if last is not None:
            minute = _minutes(last, opens)
            cutoff = time(minute // 60 % 24, minute % 60)
        services[s.id] = Service(
            s.id, f"S{i}"[:2] if i else "S", {"en": s.id}, 1, 999_999, 6, last_ticket_at=cutoff
        )
    if scenario.bookings is not None:  # every service takes bookings (a cap, if any)
        cap = scenario.bookings.per_hour or 100_000
        services = {sid: replace(s, bookings_per_hour=cap) for sid, s in services.items()}
    counters = {
        c.id: CounterSpec(
            c.id,
            {"en": c.id},
            c.services,
            tuple((_minutes(a, opens), _minutes(b, opens)) for a, b in c.pauses),
            c.profile,
            c.overflow_s,
            None if c.hours is None else (_minutes(c.hours[0], opens), _minutes(c.hours[1], opens)),
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
        no_show_after_recalls=scenario.recalls,
        recall_cooldown_s=scenario.recall_interval_s,
    )


def simulate(
    scenario: Scenario,
    seed: int = 1,
    customers: int | None = None,
    progress=None,
    estimates: bool = True,
    record=None,
    watch=None,
) -> list[Customer]:
    """Run `scenario` and return every customer with the estimates they were given
    (`estimates` False: none are made, for what only needs the queue's behaviour).
    `record(events)`, when given, receives the domain's events of every command (to write
    an event log, as the server would); `watch(run, customer)` is called as each customer
    has a ticket (`run.relive` lives the rest of their wait again)."""
    run = _Simulation(scenario, seed, customers or scenario.customers, progress, estimates)
    run.record = record
    run.watch = watch
    for day in range(scenario.days):
        if len(run.results) >= run.limit:
            break
        run.day(day)
    return run.results


class _Simulation:
    """One run: the branch, the event heap of the current day, and what customers saw."""

    def __init__(
        self, scenario: Scenario, seed: int, limit: int, progress, estimates: bool = True
    ) -> None:
        self.scenario, self.limit, self.progress = scenario, limit, progress
        self.rules = _rules(scenario)
        self.branch = Branch(self.rules)
        # No estimating process here: each newcomer is estimated as it comes (a simulated
        # one reused for a second).
        self.newcomers = NewcomerEstimates() if estimates else None
        self.ids = itertools.count()
        rng = random.Random(seed)
        self.draws = {s.id: ServiceDraws(s, random.Random(rng.random())) for s in scenario.services}
        self.staff = random.Random(rng.random())  # reaction times: drawn apart from the rest
        # Who books, when and whether they come: apart too (drawn only when some book, so
        # the worlds without bookings draw as before).
        self.booking = random.Random(rng.random()) if scenario.bookings is not None else None
        if self.booking is not None:  # the demand's instants from their own draws: the same
            self.demand = {  # with any share booking (`scenarios.without_bookings`)
                s.id: ServiceDraws(s, random.Random(self.booking.random()))
                for s in scenario.services
            }
        self.specs = {s.id: s for s in scenario.services}
        self.speeds = {c.id: c.speed for c in scenario.counters}
        self.results: list[Customer] = []
        self.last_wait: dict[str, float] = {}  # LES: wait of the last customer called
        self.heap: list[tuple[float, int, str, str]] = []
        self.order = itertools.count()
        self.tickets: dict[str, tuple[Customer, float, float]] = {}
        self.idle: list[str] = []  # open counters with nobody to call, in counter order
        self.gone: set[str] = set()  # tickets whose customer left before being called
        self.closing: set[str] = set()  # counters to close once their customer is done
        self.reacting: dict[tuple[float, str], float] = {}  # (call, counter) -> since when
        self.record = None
        self.watch = None

    def run(self, kind: str, at: float, **args) -> tuple[list, dict]:
        command = Command(f"s{next(self.ids)}", kind, "sim", at, args)
        estimate = self.newcomers.estimate if self.newcomers is not None else None
        events, outcome, _ = self.branch.handle(command, estimate)
        if self.record is not None:
            self.record(events)
        return events, outcome

    def push(self, at: float, kind: str, what: str) -> None:
        heapq.heappush(self.heap, (at, next(self.order), kind, what))

    def day(self, day: int) -> None:
        scenario = self.scenario
        self.start = DAY0 + day * DAY_S + scenario.opens_h * 3600
        length = scenario.hours * 3600 if scenario.hours else DAY_S * 0.9
        self.end_of_issue = self.start + length
        self.issue_ends = {
            s.id: self.end_of_issue
            if s.last_ticket_h is None
            else min(self.end_of_issue, self.start + s.last_ticket_h * 3600)
            for s in scenario.services
        }
        self.day_number = day
        self.tickets.clear()  # anyone still waiting went home with the day
        self.idle = []
        self.closing.clear()
        self.reacting.clear()
        self._first_arrivals()
        for counter in scenario.counters:
            for pause_start, pause_end in counter.pauses:
                self.push(self.start + pause_start * 3600, "pause", counter.id)
                self.push(self.start + pause_end * 3600, "open", counter.id)
            opens_at, closes_at = counter.hours or (0.0, None)
            # Closing at the day's end (or later) means serving whoever still waits.
            if closes_at is not None and closes_at * 3600 < length:
                self.push(self.start + closes_at * 3600, "close", counter.id)
            state = self.branch.counters[counter.id].state
            if opens_at > 0:  # opens later: closed until then
                if state != "closed":
                    self.run("close_counter", self.start, counter=counter.id)
                self.push(self.start + opens_at * 3600, "open", counter.id)
                continue
            # The domain keeps counter states across days: open every counter each morning.
            if state != "open":
                self.run("open_counter", self.start, counter=counter.id)
            self.idle.append(counter.id)
        while self.heap:
            self.step()

    def step(self) -> None:
        """Handle the day's next event."""
        at, _, kind, what = heapq.heappop(self.heap)
        getattr(self, f"_on_{kind}")(at, what)

    def _first_arrivals(self) -> None:
        """Each service's first arrival of the day (the next is drawn as it comes), or,
        where customers book, the whole day's demand at once."""
        for sid, draw in self.draws.items():
            if self.scenario.bookings is not None:
                self._plan_bookings(sid, self.demand[sid])
                continue
            first = draw.next_arrival(0.0)
            if self.start + first < self.issue_ends[sid]:
                self.push(self.start + first, "arrive", sid)

    def _plan_bookings(self, sid: str, draw: ServiceDraws) -> None:
        """The day's demand of `sid`, drawn at once: each customer walks in, or (a share)
        books the next slot from when they would have come."""
        plan, rng = self.scenario.bookings, self.booking
        slot = plan.slot_minutes * 60
        t = draw.next_arrival(0.0)
        while self.start + t < self.issue_ends[sid]:
            if rng.random() >= plan.share:
                self.push(self.start + t, "arrive", sid)
            else:
                booked = self.start + math.ceil(t / slot) * slot
                if booked < self.issue_ends[sid]:
                    made = max(self.start, booked - rng.uniform(*plan.lead_hours) * 3600)
                    self.push(made, "book", f"{sid}|{booked}|{self.start + t}")
            t = draw.next_arrival(t)

    def _on_book(self, at: float, what: str) -> None:
        sid, booked, would_come = what.split("|")
        when = datetime.fromtimestamp(float(booked), UTC).isoformat()
        _, outcome = self.run("book", at, service=sid, time=when)
        plan, rng = self.scenario.bookings, self.booking
        if not outcome["ok"]:
            if outcome["code"] == "booking_full":  # the hour is full: they walk in instead
                self.push(max(at, float(would_come)), "arrive", sid)
            return
        if rng.random() < plan.no_show:
            return  # a booking no-show: the queue records it after the window
        comes = max(at, float(booked) + rng.gauss(*plan.punctuality_minutes) * 60)
        self.push(comes, "check_in", f"{sid}|{booked}|{outcome['code']}")

    def _on_check_in(self, at: float, what: str) -> None:
        sid, booked, code = what.split("|")
        events, outcome = self.run("check_in", at, code=code)
        if not outcome["ok"]:
            if outcome["code"] == "too_early":  # told when to come back: they do
                opens = float(booked) - self.rules.services[sid].check_in_early_s
                self.push(max(at, opens), "check_in", what)
            return
        issued = next(e for e in events if e.type == "ticket_issued")
        self._arrived(at, sid, issued, outcome, {}, booked=True)
        self.results[-1].late = bool(outcome.get("late"))

    def _on_arrive(self, at: float, sid: str) -> None:
        draw, spec = self.draws[sid], self.specs[sid]
        if self.scenario.bookings is None:  # else the day's arrivals are on the heap
            nxt = self.start + draw.next_arrival(at - self.start)
            if nxt < self.issue_ends[sid] and len(self.results) + 1 < self.limit:
                self.push(nxt, "arrive", sid)
        baselines = {}
        if self.newcomers is not None:  # estimating: the textbook estimators beside ours
            baselines = _baselines(
                self.branch, self.rules, spec, sid, at, self.last_wait, self.speeds
            )
        priority = "priority" if draw.rng.random() < spec.priority_share else "normal"
        events, outcome = self.run("issue_ticket", at, service=sid, priority=priority)
        if not outcome["ok"]:  # past the service's cut-off: turned away
            return
        issued = next(e for e in events if e.type == "ticket_issued")
        self._arrived(at, sid, issued, outcome, baselines)

    def _arrived(self, at, sid, issued, outcome, baselines, booked: bool = False) -> None:
        """A customer has a ticket: they wait, and idle counters that serve it see them."""
        draw = self.draws[sid]
        priority = issued.data["priority"]
        warmup = at - self.start < self.scenario.warmup_s or (
            self.day_number < self.scenario.learning_days
        )
        customer = Customer(
            sid,
            self.day_number,
            at,
            warmup,
            issued.data.get("estimate"),  # a check-in's counts from its booked time
            baselines,
            since_open=at - self.start,
            priority=priority,
            booked=booked,
        )
        self.results.append(customer)
        self.tickets[outcome["ticket"]] = (customer, draw.service_time(), draw.patience())
        # Staff at every idle counter that serves it see the newcomer; the first to react
        # calls them (without reaction times, the first idle counter calls at once).
        reacting = self.scenario.reaction_s[1] > 0
        for counter_id in list(self.idle):
            if sid in self.rules.counters[counter_id].services:
                self.idle.remove(counter_id)
                self._call_soon(counter_id, at)
                if not reacting:
                    break
        if self.progress and len(self.results) % 10_000 == 0:
            self.progress(len(self.results))
        if self.watch is not None:
            self.watch(self, customer)

    def relive(self, customer: Customer, at: float, rng: random.Random) -> float | None:
        """`customer`'s wait in another future of this run from `at` (now, as the world
        stands): a copy lives on with fresh draws for what is not yet known — the waiting
        customers' service and patience times, each busy counter's rest given the time it
        has served, staff's reactions (those under way given the time gone), who of the
        newcomers is a priority — until the customer is called (None: gone, or not called
        today). No estimates are made in it. The mean over many is what the world itself
        expected (docs/estimates.md). `rng` seeds the fresh draws."""
        run = copy.deepcopy(self, self._shared_with_replays())
        run.newcomers, run.record, run.progress, run.watch = None, None, None, None
        for draw in run.draws.values():
            draw.rng = random.Random(rng.random())
        run.staff = random.Random(rng.random())
        for ticket, (waiting, _, _) in list(run.tickets.items()):
            draw = run.draws[waiting.service]
            run.tickets[ticket] = (waiting, draw.service_time(), draw.patience())
        heap = []
        low, high = run.scenario.reaction_s
        for when, order, kind, what in run.heap:
            since = run.reacting.pop((when, what), None) if kind == "call" else None
            if since is not None:  # staff reacting since `since`: not yet, so uniform on
                when = since + run.staff.uniform(max(low, at - since), high)
                run.reacting[(when, what)] = since
            counter = run.branch.counters.get(what) if kind == "done" else None
            serving = counter.ticket if counter is not None else None
            if serving is not None and serving not in run.gone:
                ticket = run.branch.tickets[serving]
                draw, served = run.draws[ticket.service], at - (ticket.called_at or at)
                for _ in range(1000):  # its time, given it has lasted `served` (rejection)
                    rest = draw.service_time() / run.speeds[what]
                    if rest > served:
                        break
                # (none longer in 1,000 draws: it ends now, not when this world ends it)
                when = at - served + max(rest, served)
            heap.append((when, order, kind, what))
        heapq.heapify(heap)
        run.heap = heap
        index = next(i for i in range(len(self.results) - 1, -1, -1) if self.results[i] is customer)
        target = run.results[index]
        while run.heap and target.called is None:
            run.step()
        return None if target.called is None or target.gone else target.wait

    def _shared_with_replays(self) -> dict:
        """`deepcopy`'s memo for `relive`: what a replay does not change is not copied (a
        fourth of the time). Customers no longer waiting stay as they are; the remembered
        outcomes are only added to (their dicts are never changed); the learner is only
        written to (no estimates are made in a replay: nothing there reads it), so its
        cheap copy will do."""
        waiting = {id(c) for c, _, _ in self.tickets.values()}
        memo: dict = {id(c): c for c in self.results if id(c) not in waiting}
        memo[id(self.branch.outcomes)] = self.branch.outcomes.copy()
        memo[id(self.branch.learner)] = self.branch.learner.copy()
        memo[id(self.newcomers)] = None
        return memo

    def _call_soon(self, counter_id: str, at: float) -> None:
        """Staff call next after their reaction time (at once when the scenario has none)."""
        low, high = self.scenario.reaction_s
        if high <= 0:
            self._call(counter_id, at)
        else:
            when = at + self.staff.uniform(low, high)
            self.reacting[(when, counter_id)] = at
            self.push(when, "call", counter_id)

    def _on_call(self, at: float, counter_id: str) -> None:
        self.reacting.pop((at, counter_id), None)
        counter = self.branch.counters[counter_id]
        if counter.state == "open" and counter.ticket is None:
            self._call(counter_id, at)

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
        scenario = self.scenario
        if in_line > patience:
            customer.gone = True
            self.gone.add(outcome["ticket"])
            if scenario.recall_interval_s > 0:
                interval = scenario.recall_interval_s
                for k in range(1, scenario.recalls + 1):
                    self.push(at + k * interval, "recall", counter_id)
                self.push(at + (scenario.recalls + 1) * interval, "done", counter_id)
            else:
                self.push(at + scenario.no_show_handling_s, "done", counter_id)
        else:
            self.push(at + service_s / self.speeds[counter_id], "done", counter_id)

    def _on_recall(self, at: float, counter_id: str) -> None:
        self.run("recall", at, counter=counter_id)

    def _on_done(self, at: float, counter_id: str) -> None:
        gone = self.branch.counters[counter_id].ticket in self.gone
        self.run("no_show" if gone else "finish", at, counter=counter_id)
        if counter_id in self.closing:
            self.closing.discard(counter_id)
            self.run("close_counter", at, counter=counter_id)
        elif self.branch.counters[counter_id].state == "open":
            self._call_soon(counter_id, at)

    def _on_pause(self, at: float, counter_id: str) -> None:
        self.run("pause_counter", at, counter=counter_id, reason="lunch")
        if counter_id in self.idle:
            self.idle.remove(counter_id)

    def _on_open(self, at: float, counter_id: str) -> None:
        if counter_id in self.closing or self._outside_hours(counter_id, at):
            return  # a break that ends outside the counter's hours
        self.run("open_counter", at, counter=counter_id)
        if self.branch.counters[counter_id].ticket is None:
            self._call_soon(counter_id, at)

    def _on_close(self, at: float, counter_id: str) -> None:
        if counter_id in self.idle:
            self.idle.remove(counter_id)
        if self.branch.counters[counter_id].ticket is not None:
            self.closing.add(counter_id)  # staff finish their customer first
        elif self.branch.counters[counter_id].state != "closed":
            self.run("close_counter", at, counter=counter_id)

    def _outside_hours(self, counter_id: str, at: float) -> bool:
        hours = next(c.hours for c in self.scenario.counters if c.id == counter_id)
        if hours is None:
            return False
        return not self.start + hours[0] * 3600 <= at < self.start + hours[1] * 3600


def _baselines(
    branch: Branch,
    rules: BranchRules,
    spec: SimService,
    sid: str,
    at: float,
    last_wait: dict[str, float],
    speeds: dict[str, float],
) -> dict:
    """The textbook estimators at this arrival, from the state before the ticket is issued.
    The oracles (QL, QL_m) are told the true rates: each open counter's own speed."""
    line = branch.lines.get(sid, {})
    n = len(line)
    open_counters = [
        c
        for c, s in rules.counters.items()
        if sid in s.services and branch.counters[c].state == "open"
    ]
    s = max(1, len(open_counters))
    mu = 1 / spec.mean_service_s
    total = mu * (sum(speeds[c] for c in open_counters) if open_counters else 1.0)
    theta = spec.abandonment_rate()
    head = min((branch.tickets[t].queue_since for t in line), default=None)
    return {
        "naive": n * branch.learner.mean_occupancy(sid) / s,
        "QL": (n + 1) / total,
        "QL_m": sum(1 / (total + i * theta) for i in range(n + 1)),
        "LES": last_wait.get(sid, 0.0),
        "HOL": 0.0 if head is None else at - head,
    }
