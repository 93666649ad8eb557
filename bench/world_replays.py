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
import random
import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import command_line  # noqa: E402

from nowserving.sim import SCENARIOS, simulate  # noqa: E402
from nowserving.sim.engine import Customer  # noqa: E402


def clock(text: str) -> float:
    """'14:12' as hours (14.2)."""
    hours, minutes = text.split(":")
    return int(hours) + int(minutes) / 60


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
    window = [(clock(t) - scenario.opens_h) * 3600 for t in (args.start, args.end)]
    rng = random.Random(args.seed * 1009)
    judged: dict[int, list[tuple[Customer, float]]] = {}
    seen: dict[int, int] = {}  # day -> arrivals of the service in the window

    def watch(run, customer: Customer) -> None:
        """Every `args.every`-th arrival of the service in the window of a day after the
        learning days, with the mean wait of its replays (those in which it stays)."""
        if (
            customer.service != args.service
            or customer.day < scenario.learning_days
            or not window[0] <= customer.since_open < window[1]
            or customer.estimate is None
        ):
            return
        seen[customer.day] = seen.get(customer.day, 0) + 1
        if (seen[customer.day] - 1) % args.every:
            return
        waits = [run.relive(customer, customer.arrived, rng) for _ in range(args.replays)]
        stayed = [w for w in waits if w is not None]
        if len(stayed) * 2 >= args.replays:
            judged.setdefault(customer.day, []).append((customer, statistics.mean(stayed)))

    simulate(scenario, seed=args.seed, watch=watch)
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
