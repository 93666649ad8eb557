"""Our estimate against what the simulated world itself expects, and the waits that came.

    .venv/bin/python bench/world_replays.py SCENARIO [--seed S] [--days D] [--from HH:MM]
        [--to HH:MM] [--service ID] [--replays R] [--every K]

Runs SCENARIO with estimates, as the estimates bench does. At every K-th arrival of SERVICE
between FROM and TO (branch time) after the learning days, the simulation is copied and the
rest of the day replayed R times with fresh draws: the service times of everyone waiting and
of those at a counter (given how long they have been there), everyone's patience, the
arrivals to come and staff's reactions. The mean wait of the replays in which the customer
stays is what the world itself expects for them, knowing what the branch knows. Printed per
day and in all, as totals over the customers who were served: ours against the replays
(the model's own bias), and the waits they had against the replays (how the day turned out).
A bias that the bench shows in one stretch of the day is the model's if the first is off,
the world's draws if only the second is (docs/estimates.md, "Long waits in bank-whole").
"""

from __future__ import annotations

import argparse
import copy
import random
import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import command_line  # noqa: E402

from nowserving.sim import SCENARIOS  # noqa: E402
from nowserving.sim.engine import Customer, _Simulation  # noqa: E402


def clock(text: str) -> float:
    """'14:12' as hours (14.2)."""
    hours, minutes = text.split(":")
    return int(hours) + int(minutes) / 60


def replayed(sim: _Simulation, customer: Customer, rng: random.Random) -> float | None:
    """The wait of `customer` in one replay of the rest of the day from now (None: they
    had gone, or were not called that day)."""
    world = copy.deepcopy(sim)
    world.newcomers = None  # no estimates: the world only
    for draws in world.draws.values():
        draws.rng = random.Random(rng.random())
    world.staff = random.Random(rng.random())
    target = next(c for c, _, _ in world.tickets.values() if c.arrived == customer.arrived)
    for ticket, (waiting, _, _) in list(world.tickets.items()):
        draws = world.draws[waiting.service]
        world.tickets[ticket] = (waiting, draws.service_time(), draws.patience())
    now = customer.arrived
    for i, (_, order, kind, counter) in enumerate(world.heap):
        ticket = world.branch.counters[counter].ticket if kind == "done" else None
        serving = world.branch.tickets.get(ticket) if ticket else None
        if serving is None or serving.id in world.gone or serving.called_at is None:
            continue
        spent, draws = now - serving.called_at, world.draws[serving.service]
        for _ in range(1000):  # its time at the counter, given the time spent so far
            took = draws.service_time() / world.speeds[counter]
            if took > spent:
                break
        world.heap[i] = (serving.called_at + max(took, spent), order, kind, counter)
    world.heap.sort()  # a sorted list is a heap
    while world.heap and target.called is None:
        world.step()
    return None if target.called is None or target.gone else target.wait


def judge_day(sim: _Simulation, day: int, args, window, rng) -> list[tuple[Customer, float]]:
    """Run `day`; every `args.every`-th arrival of the service in the window (after the
    learning days) with the mean wait of its replays."""
    sim.start_day(day)
    found, seen = [], 0
    while sim.heap:
        before = len(sim.results)
        at, kind, what = sim.step()
        arrived = kind == "arrive" and what == args.service and len(sim.results) > before
        if not arrived or day < sim.scenario.learning_days:
            continue
        customer = sim.results[-1]
        if not window[0] <= at - sim.start < window[1] or customer.estimate is None:
            continue
        seen += 1
        if (seen - 1) % args.every == 0:
            waits = [replayed(sim, customer, rng) for _ in range(args.replays)]
            stayed = [w for w in waits if w is not None]
            if len(stayed) * 2 >= args.replays:
                found.append((customer, statistics.mean(stayed)))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=15)
    parser.add_argument("--from", dest="start", default="14:12", help="branch time")
    parser.add_argument("--to", dest="end", default="15:00", help="branch time")
    parser.add_argument("--service", default="personal")
    parser.add_argument("--replays", type=int, default=20)
    parser.add_argument("--every", type=int, default=3, help="every K-th arrival in the window")
    args = parser.parse_args()
    print(f"$ {command_line()}")
    scenario = replace(SCENARIOS[args.scenario], days=args.days)
    sim = _Simulation(scenario, args.seed, scenario.customers, None)
    window = [(clock(t) - scenario.opens_h) * 3600 for t in (args.start, args.end)]
    rng = random.Random(args.seed * 1009)
    judged = {day: judge_day(sim, day, args, window, rng) for day in range(args.days)}
    rows = {d: [(c, r) for c, r in pairs if c.wait and not c.gone] for d, pairs in judged.items()}

    def against(pairs, of) -> str:
        return f"{sum(of(c) for c, _ in pairs) / sum(r for _, r in pairs) - 1:+.0%}"

    print(
        f"{args.scenario}, seed {args.seed}, {args.service} arriving {args.start}-{args.end}: "
        "ours / the world's replays, waits / replays"
    )
    for day, pairs in sorted(rows.items()):
        if pairs:
            ours, waits = (
                against(pairs, lambda c: c.estimate["mean"]),
                against(pairs, Customer.wait.fget),
            )
            print(f"  day {day:>2}: {len(pairs):>3} customers  ours {ours:>5}  waits {waits:>5}")
    every = [p for pairs in rows.values() for p in pairs]
    if every:
        print(
            f"  all: {len(every)} customers  ours {against(every, lambda c: c.estimate['mean'])}"
            f"  waits {against(every, Customer.wait.fget)}  (ours / waits: "
            f"{sum(c.estimate['mean'] for c, _ in every) / sum(c.wait for c, _ in every) - 1:+.0%})"
        )


if __name__ == "__main__":
    main()
