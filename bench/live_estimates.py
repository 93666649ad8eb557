"""Wait estimates through the real server: a time-scaled world drives the branch server
over MQTT with simulated devices, and the estimates printed at issue are scored against
the actual calls.

    .venv/bin/python bench/live_estimates.py [--scenario bank-uneven] [--days 3]
        [--speed 120] [--seeds 1,2,3] [--keep DIR] [--simulated]

The world is a built-in bank-day scenario (`nowserving scenarios`): customers come to a
kiosk device, counters of their own speed call, serve, recall and mark no-shows through
their own counter devices, staff take their reaction time before each call, counters
pause for their breaks and open and close at their hours. The branch server is the real
one (`BranchServer`: its MQTT link, its durable event log, its estimates process), on a
private Mosquitto, with a clock that runs `speed` times real time and jumps over nights.
Each seed is a new branch: a fresh event log, so its first day starts from the shipped
calibration prior. Afterwards the event log is replayed: every customer who had to wait and
was served is scored as `nowserving simulate` scores them (the first day left out while the
branch learns), the baselines computed from the state before each issue; then the branch's
first day (from its first customer) and its third (days 1-2 served first) are scored alone:
coverage per hour with how far chance alone moves it, and the figures per group. With
several seeds a summary pools each day's hours over them and gives each hour's spread from
seed to seed. `--simulated` runs the same days through the simulator instead (seconds a
seed), scored alike: what the live figures are to be compared with.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import logging
import math
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from contextlib import closing
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import command_line  # noqa: E402

from nowserving.adapters.mqtt import Broker  # noqa: E402
from nowserving.adapters.store import EventLog  # noqa: E402
from nowserving.client import BranchClient  # noqa: E402
from nowserving.config.branch import BranchConfig, Device  # noqa: E402
from nowserving.devtools.broker import LocalMosquitto  # noqa: E402
from nowserving.domain import Branch  # noqa: E402
from nowserving.protocol import Role  # noqa: E402
from nowserving.server.app import BranchServer  # noqa: E402
from nowserving.server.ratelimit import Budget  # noqa: E402
from nowserving.sim import SCENARIOS  # noqa: E402
from nowserving.sim.draws import ServiceDraws  # noqa: E402
from nowserving.sim.engine import (  # noqa: E402
    DAY0,
    DAY_S,
    Customer,
    _baselines,
    _rules,
    simulate,
)
from nowserving.sim.metrics import (  # noqa: E402
    breakdown,
    evaluate,
    format_breakdown,
    format_report,
    measured_customers,
)
from nowserving.sim.world import Scenario  # noqa: E402

KIOSK = "kiosk"
COVERAGE_AIM = (0.75, 0.85)  # issue 22: every hour of a first day and of a third
SCORED_DAYS = (("first day", 0), ("day 3", 2))  # label, days after the first
# Student t, 97.5%, by degrees of freedom (seeds - 1)
T_975 = {2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}
LATE_LIMIT_S = 20.0  # branch s the 99th percentile action may come late: staff take 2-20 s


class JumpClock:
    """Branch time: runs `speed` times real time, and can jump ahead over a night."""

    def __init__(self, start: float, speed: float) -> None:
        self.start, self.speed = start, speed
        self._t0 = time.monotonic()
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.start + (time.monotonic() - self._t0) * self.speed

    def jump_to(self, at: float) -> None:
        with self._lock:
            now = self.start + (time.monotonic() - self._t0) * self.speed
            self.start += max(0.0, at - now)


def branch_config(scenario: Scenario) -> BranchConfig:
    rules = _rules(scenario)
    devices = {KIOSK: Device(KIOSK, Role.KIOSK)}
    for cid in rules.counters:
        devices[f"counter-{cid}"] = Device(f"counter-{cid}", Role.COUNTER, cid)
    return BranchConfig(rules=rules, names={"en": scenario.name}, devices=devices, hours={})


class World:
    """Customers and staff, on the branch's clock, acting through their devices."""

    def __init__(self, scenario: Scenario, clock: JumpClock, broker: Broker, seed: int) -> None:
        self.scenario, self.clock = scenario, clock
        rng = random.Random(seed)
        self.draws = {s.id: ServiceDraws(s, random.Random(rng.random())) for s in scenario.services}
        self.staff = random.Random(rng.random())
        self.specs = {c.id: c for c in scenario.counters}
        self.clients = {KIOSK: BranchClient(broker, "sim", KIOSK)}
        for cid in self.specs:
            self.clients[cid] = BranchClient(broker, "sim", f"counter-{cid}")
        self.heap: list = []
        self.order = itertools.count()
        # ticket -> (arrived, service time at speed 1, patience)
        self.customers: dict[str, tuple[float, float, float]] = {}
        # counter -> idle, pending (about to call), busy, busy-paused, paused, closed; open
        # at first (a branch's counters start open)
        self.state: dict[str, str] = dict.fromkeys(self.specs, "idle")
        self.ticket: dict[str, str | None] = dict.fromkeys(self.specs)
        self.closing: set[str] = set()
        self.recalls: dict[str, int] = {}  # counter -> recalls of its customer who had gone
        self.opened = 0.0  # when the current day opened, branch time
        self.refused = 0
        self.late: list[float] = []  # branch seconds each action came after its time

    def start(self) -> None:
        for client in self.clients.values():
            client.start()

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def push(self, at: float, kind: str, what: str) -> None:
        heapq.heappush(self.heap, (at, next(self.order), kind, what))

    def act(self, who: str, kind: str, **args) -> dict:
        reply = self.clients[who].request(kind, args or None)
        if not reply.ok and reply.code not in ("queue_empty",):
            self.refused += 1
        return {"ok": reply.ok, "code": reply.code, "ticket": reply.ticket}

    # ----- a day ----------------------------------------------------------------------

    def day(self, day: int) -> None:
        scenario = self.scenario
        self.opened = DAY0 + day * DAY_S + scenario.opens_h * 3600
        self.clock.jump_to(self.opened)
        length = (scenario.hours or 8.0) * 3600
        self.ends = {
            s.id: self.opened
            + (length if s.last_ticket_h is None else min(length, s.last_ticket_h * 3600))
            for s in scenario.services
        }
        self.customers.clear()
        self.closing.clear()
        for sid, draw in self.draws.items():
            self.push(self.opened + draw.next_arrival(0.0), "arrive", sid)
        for cid, spec in self.specs.items():
            for a, b in spec.pauses:
                self.push(self.opened + a * 3600, "pause", cid)
                self.push(self.opened + b * 3600, "open", cid)
            opens_at, closes_at = spec.hours or (0.0, None)
            if closes_at is not None and closes_at * 3600 < length:
                self.push(self.opened + closes_at * 3600, "close", cid)
            self.ticket[cid] = None
            if opens_at > 0:
                if self.state[cid] != "closed":
                    self.act(cid, "close_counter")
                self.state[cid] = "closed"
                self.push(self.opened + opens_at * 3600, "open", cid)
            else:
                if self.state[cid] in ("closed", "paused"):
                    self.act(cid, "open_counter")
                self.state[cid] = "idle"
        while self.heap:
            at, _, kind, what = heapq.heappop(self.heap)
            wait = (at - self.clock()) / self.clock.speed
            if wait > 0:
                time.sleep(wait)
            self.late.append(max(0.0, self.clock() - at))
            getattr(self, f"_on_{kind}")(what)

    def _reaction(self) -> float:
        low, high = self.scenario.reaction_s
        return self.staff.uniform(low, high) if high > 0 else 0.0

    def _on_arrive(self, sid: str) -> None:
        draw, at = self.draws[sid], self.clock()
        nxt = self.opened + draw.next_arrival(at - self.opened)
        if nxt < self.ends[sid]:
            self.push(nxt, "arrive", sid)
        priority = "priority" if draw.rng.random() < draw.spec.priority_share else "normal"
        outcome = self.act(KIOSK, "issue_ticket", service=sid, priority=priority)
        if not outcome["ok"]:
            return
        self.customers[outcome["ticket"]["id"]] = (at, draw.service_time(), draw.patience())
        for cid, spec in self.specs.items():
            if self.state[cid] == "idle" and sid in spec.services:
                self.state[cid] = "pending"  # staff see the newcomer; the first to react calls
                self.push(self.clock() + self._reaction(), "call", cid)

    def _on_call(self, cid: str) -> None:
        if self.state[cid] != "pending":
            return
        outcome = self.act(cid, "call_next")
        if not outcome["ok"]:
            self.state[cid] = "idle"
            return
        ticket = outcome["ticket"]["id"]
        self.state[cid], self.ticket[cid] = "busy", ticket
        arrived, service_s, patience = self.customers.pop(ticket)
        now = self.clock()
        scenario = self.scenario
        if now - arrived > patience:  # gone: recalled, then a no-show
            self.recalls[cid] = 0
            if scenario.recalls and scenario.recall_interval_s > 0:
                self.push(now + scenario.recall_interval_s, "recall", cid)
            else:
                self.push(now + scenario.no_show_handling_s, "no_show", cid)
        else:
            self.push(now + service_s / self.specs[cid].speed, "finish", cid)

    def _on_recall(self, cid: str) -> None:
        """Staff recall, and once recalled enough, mark a no-show. A recall the server finds
        too soon (the branch clock moved on less than the cool-down between two commands'
        arrivals) is tried again a moment later, as staff would."""
        interval = self.scenario.recall_interval_s
        if self.act(cid, "recall")["code"] == "recall_too_soon":
            self.refused -= 1
            self.push(self.clock() + 1.0, "recall", cid)
            return
        self.recalls[cid] += 1
        last = self.recalls[cid] >= self.scenario.recalls
        self.push(self.clock() + interval, "no_show" if last else "recall", cid)

    def _on_finish(self, cid: str, kind: str = "finish") -> None:
        self.act(cid, kind)
        self.ticket[cid] = None
        if cid in self.closing:
            self.closing.discard(cid)
            self.act(cid, "close_counter")
            self.state[cid] = "closed"
        elif self.state[cid] == "busy":
            self.state[cid] = "pending"
            self.push(self.clock() + self._reaction(), "call", cid)
        elif self.state[cid] == "busy-paused":  # stays paused until its break ends
            self.state[cid] = "paused"

    def _on_no_show(self, cid: str) -> None:
        self._on_finish(cid, "no_show")

    def _on_pause(self, cid: str) -> None:
        if self.state[cid] in ("closed", "paused"):
            return
        self.act(cid, "pause_counter", reason="lunch")
        self.state[cid] = "paused" if self.ticket[cid] is None else "busy-paused"

    def _on_open(self, cid: str) -> None:
        spec = self.specs[cid]
        at = self.clock()
        if cid in self.closing or (
            spec.hours and not self.opened + spec.hours[0] * 3600 - 1 <= at
            < self.opened + spec.hours[1] * 3600
        ):  # fmt: skip
            return
        self.act(cid, "open_counter")
        if self.ticket[cid] is None:
            self.state[cid] = "pending"
            self.push(at + self._reaction(), "call", cid)
        else:
            self.state[cid] = "busy"

    def _on_close(self, cid: str) -> None:
        if self.ticket[cid] is not None:
            self.closing.add(cid)
        else:
            self.act(cid, "close_counter")
            self.state[cid] = "closed"


def score(scenario: Scenario, log: EventLog) -> list[Customer]:
    """Replay the log: each issued ticket's printed estimate, its baselines from the state
    before it, and when it was called (a customer who turned out gone is marked so)."""
    rules = _rules(scenario)
    branch = Branch(rules)
    specs = {s.id: s for s in scenario.services}
    speeds = {c.id: c.speed for c in scenario.counters}
    customers: dict[str, Customer] = {}
    last_wait: dict[str, float] = {}
    first_day: str | None = None
    for event in log.events():
        data = event.data
        if event.type == "ticket_issued" and not data.get("offline"):
            sid = data["service"]
            baselines = _baselines(branch, rules, specs[sid], sid, event.at, last_wait, speeds)
            day = rules.business_day(event.at)
            first_day = first_day or day
            since_open = event.at - (int(event.at // DAY_S) * DAY_S + scenario.opens_h * 3600)
            customers[data["ticket"]] = Customer(
                sid,
                int((event.at - DAY0) // DAY_S),
                event.at,
                day == first_day,
                data.get("estimate"),
                baselines,
                since_open=since_open,
                priority=data.get("priority", "normal"),
            )
        elif event.type == "ticket_called" and data["ticket"] in customers:
            customer = customers[data["ticket"]]
            if customer.called is None:
                customer.called = event.at
                last_wait[customer.service] = event.at - customer.arrived
        elif event.type == "ticket_no_show" and data["ticket"] in customers:
            customers[data["ticket"]].gone = True
        branch.apply(event)
    return list(customers.values())


def chance(customers: int, coverage: float = 0.8) -> float:
    """How far chance alone moves the coverage of `customers` independent 80% intervals
    (95%, binomial); customers of one hour are not quite independent, so it understates."""
    return 1.96 * math.sqrt(coverage * (1 - coverage) / customers) if customers else math.inf


def hourly(customers: list[Customer]) -> dict[int, tuple[int, int]]:
    """Hour from opening -> (customers scored, inside their interval)."""
    result: dict[int, tuple[int, int]] = {}
    for c in measured_customers(customers):
        n, inside = result.get(int(c.since_open // 3600), (0, 0))
        covered = c.estimate["low"] <= c.wait <= c.estimate["high"]
        result[int(c.since_open // 3600)] = (n + 1, inside + covered)
    return dict(sorted(result.items()))


def format_hourly(hours: dict[int, tuple[int, int]], opens_h: float) -> str:
    """Coverage per hour, its chance spread, and whether it is inside the aim (or outside
    it by more than chance alone would move it)."""
    low, high = COVERAGE_AIM
    lines = [
        f"  {'hour':<13} {'scored':>6} {'coverage':>9} {'chance':>8}  aim {low:.0%}-{high:.0%}"
    ]
    for hour, (n, inside) in hours.items():
        c, spread = inside / n, chance(n)
        verdict = (
            "in"
            if low <= c <= high
            else "outside, within chance"
            if abs(c - 0.8) <= spread
            else "OUTSIDE beyond chance"
        )
        start = int(opens_h * 60) + hour * 60
        lines.append(
            f"  {hour} ({start // 60:02d}:{start % 60:02d})    {n:>6} {c:>9.1%} {spread:>7.1%}  "
            f"{verdict}"
        )
    n = sum(n for n, _ in hours.values())
    inside = sum(i for _, i in hours.values())
    if n:
        lines.append(f"  {'all':<13} {n:>6} {inside / n:>9.1%} {chance(n):>7.1%}")
    return "\n".join(lines)


def run(
    scenario: Scenario, days: int, speed: float, seed: int, keep: Path | None = None
) -> tuple[list[Customer], World]:
    """One new branch (a fresh event log) through `days` days: its customers, scored, and
    the world that drove it."""
    config = branch_config(scenario)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder, LocalMosquitto(Path(folder) / "mq") as mq:
        broker = Broker("127.0.0.1", mq.port)
        clock = JumpClock(DAY0 + scenario.opens_h * 3600, speed)
        db = Path(folder) / "events.sqlite"
        # Simulated days run fast: no per-device budget (bench/flood.py measures that).
        unlimited = Budget(rate=1e9, burst=10**9)
        with BranchServer(config, EventLog(db), broker, clock=clock, budget=unlimited) as server:
            if not server.wait_serving(10):
                raise SystemExit("the server did not connect to its broker")
            world = World(scenario, clock, broker, seed)
            world.start()
            try:
                for day in range(days):
                    world.day(day)
                    print(
                        f"seed {seed}: day {day + 1} done ({time.perf_counter() - started:.0f} s)",
                        flush=True,
                    )
            finally:
                world.close()
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            kept = keep / f"events-{scenario.name}-seed{seed}.sqlite"
            with closing(sqlite3.connect(db)) as source, closing(sqlite3.connect(kept)) as copy:
                source.backup(copy)
        with EventLog(db) as log:
            return score(scenario, log), world


def report_run(scenario: Scenario, customers: list[Customer], days: int) -> dict:
    """Print one run's figures; returns each scored day's hours and its RMSEs."""
    if days > 1:
        print(format_report(evaluate(scenario.name, customers, scenario.abandonment)))
    first = min((c.day for c in customers), default=0)
    result = {}
    for label, after in SCORED_DAYS:
        that_day = [replace(c, warmup=False) for c in customers if c.day == first + after]
        if len(measured_customers(that_day)) < 10:
            continue
        report = evaluate(f"{scenario.name}, {label}", that_day, scenario.abandonment)
        print(f"\n{label} alone:")
        print(format_report(report))
        print(f"  {label}, coverage per hour from opening:")
        print(format_hourly(hourly(that_day), scenario.opens_h))
        print(format_breakdown(breakdown(that_day)))
        result[label] = (hourly(that_day), report)
    return result


def summary(scenario: Scenario, runs: dict[int, dict]) -> None:
    """Each scored day over the seeds: hours pooled, and each seed's RMSE beside the best
    baseline's."""
    print(f"\nover seeds {', '.join(map(str, runs))}:")
    for label, _ in SCORED_DAYS:
        pooled: dict[int, tuple[int, int]] = {}
        per_seed = []
        for seed, days in runs.items():
            if label not in days:
                continue
            hours, report = days[label]
            for hour, (n, inside) in hours.items():
                a, b = pooled.get(hour, (0, 0))
                pooled[hour] = (a + n, b + inside)
            rmse = {name: f["RMSE"].value for name, f in report.by_estimator.items()}
            best = min((v, k) for k, v in rmse.items() if k != "ours")
            seed_hours = " ".join(f"{h}: {i / n:.0%}" for h, (n, i) in hours.items())
            per_seed.append(
                f"  seed {seed}: coverage {report.coverage.value:.1%}, RMSE ours {rmse['ours']:.0f}"
                f" s, best baseline {best[0]:.0f} s [{best[1]}]; per hour {seed_hours}"
            )
        if per_seed:
            print(f"{label}:")
            print("\n".join(per_seed))
            print(f"  {label}, the seeds' hours pooled:")
            print(format_hourly(dict(sorted(pooled.items())), scenario.opens_h))
            print(seed_spread(label, [days[label][0] for days in runs.values() if label in days]))


def seed_spread(label: str, runs: list[dict[int, tuple[int, int]]]) -> str:
    """Each hour's mean coverage over the seeds with its 95% half-width from seed to seed:
    unlike the binomial spread, this counts that a day's misses come in spells."""
    if len(runs) < 3:
        return ""
    cells = []
    for hour in sorted({h for hours in runs for h in hours}):
        values = [inside / n for hours in runs for n, inside in (hours.get(hour, (0, 0)),) if n]
        if len(values) >= 3:
            half = T_975.get(len(values) - 1, 2.0) * statistics.stdev(values)
            cells.append(f"{hour}: {statistics.mean(values):.0%} ± {half / len(values) ** 0.5:.0%}")
    low, high = COVERAGE_AIM
    single = [inside / n for hours in runs for n, inside in hours.values() if n]
    outside = sum(not low <= c <= high for c in single)
    return (
        f"  {label}, each hour over the seeds (± from seed to seed): "
        + ", ".join(cells)
        + f"\n  {label}: {outside} of {len(single)} single-day hours outside {low:.0%}-{high:.0%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="bank-uneven", choices=sorted(SCENARIOS))
    parser.add_argument(
        "--days", type=int, default=3, help="days to run (3: the first day and the third)"
    )
    parser.add_argument("--speed", type=float, default=120.0, help="branch seconds per second")
    parser.add_argument(
        "--seeds", default="1", help="comma-separated; each a new branch with a fresh log"
    )
    parser.add_argument("--seed", type=int, help="one seed (the same as --seeds N)")
    parser.add_argument("--keep", type=Path, help="a folder to keep each run's event log in")
    parser.add_argument(
        "--simulated",
        action="store_true",
        help="the same days through the simulator instead of the server (seconds a seed)",
    )
    args = parser.parse_args()
    seeds = [args.seed] if args.seed is not None else [int(s) for s in args.seeds.split(",")]
    print(f"$ {command_line()}", flush=True)
    # Counters that react second to a newcomer find the line empty: the server's warnings
    # about their refusals are expected here (its errors still show).
    logging.getLogger("nowserving.server.app").setLevel(logging.ERROR)
    scenario = SCENARIOS[args.scenario]
    runs = {}
    for seed in seeds:
        if args.simulated:  # the same days through `nowserving simulate`, scored alike
            customers = simulate(replace(scenario, days=args.days), seed=seed)
            print(f"\n{scenario.description}: {args.days} days simulated, seed {seed}")
            runs[seed] = report_run(scenario, customers, args.days)
            continue
        customers, world = run(scenario, args.days, args.speed, seed, args.keep)
        print(f"\n{scenario.description}: {args.days} days at {args.speed:g}x, seed {seed}")
        print(f"{world.refused} commands refused by the server (other than an empty queue)")
        # The world acts late when the machine is busy (a sleep overshoots, a reply takes a
        # while): branch seconds that no customer or staff member would have waited.
        late = sorted(world.late)
        p99 = late[int(0.99 * len(late))]
        print(
            f"the world's actions came late by (branch s): median {late[len(late) // 2]:.1f}, "
            f"p99 {p99:.1f}, most {late[-1]:.1f}"
        )
        if p99 > LATE_LIMIT_S:
            print(
                f"NOT A FAIR RUN: 1% of the world's actions came over {LATE_LIMIT_S:g} s late "
                "(as long as staff's slowest reaction): the machine did not keep up; run slower "
                "(--speed) or on a quieter machine"
            )
        figures = report_run(scenario, customers, args.days)
        if p99 <= LATE_LIMIT_S:
            runs[seed] = figures
    if len(runs) > 1:
        summary(scenario, runs)
    if len(runs) < len(seeds):
        print(f"left out of the summary (not fair runs): seeds {sorted(set(seeds) - set(runs))}")


if __name__ == "__main__":
    main()
