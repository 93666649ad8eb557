"""Our estimate against what the simulated world itself expected, at sampled arrivals.

    .venv/bin/python bench/estimate_replays.py WORLD [--seed S] [--days D] [--service ID]
        [--priority P] [--min-ahead K] [--every N] [--replays R] [--from-day D]

At every N-th arrival of SERVICE (with at least K ahead, from day D on) the run is lived
again R times from that moment with fresh draws for what is not yet known (`relive` in
`sim/engine.py`): the mean of those waits is the world's own expectation. Ours far from it
is the model's fault (its structure or what it learned); ours near it while the actual
waits are far is chance. Prints each moment, then ours ÷ the world's mean overall and by
number ahead, and the RMSE against the actual waits of ours, the world's mean and QL
(docs/estimates.md, "Per-service losses (stop 33)").
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import command_line  # noqa: E402

from nowserving.sim import SCENARIOS, simulate  # noqa: E402

AHEAD_GROUPS = ((0, 0), (1, 1), (2, 3), (4, 5), (6, 10**6))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("world", choices=sorted(SCENARIOS))
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--days", type=int, default=15)
    parser.add_argument("--service", help="only its customers (default: every service)")
    parser.add_argument("--priority", help="only this priority class")
    parser.add_argument("--min-ahead", type=int, default=1)
    parser.add_argument("--every", type=int, default=2, help="every N-th eligible arrival")
    parser.add_argument("--replays", type=int, default=12)
    parser.add_argument("--from-day", type=int, default=2, help="first day (0: the first)")
    args = parser.parse_args()
    print(f"$ {command_line()}")
    scenario = replace(SCENARIOS[args.world], days=args.days)
    seen, moments = [0], []

    def watch(run, customer) -> None:
        estimate = customer.estimate
        if (
            estimate is None
            or customer.day < args.from_day
            or (args.service and customer.service != args.service)
            or (args.priority and customer.priority != args.priority)
            or estimate.get("ahead", 0) < args.min_ahead
        ):
            return
        seen[0] += 1
        if seen[0] % args.every:
            return
        base = 1_000 * args.seed + 7 * seen[0]
        waits = [
            run.relive(customer, customer.arrived, random.Random(base + k))
            for k in range(args.replays)
        ]
        waits = [w for w in waits if w is not None]
        if len(waits) < 2:
            return
        moments.append((customer, statistics.mean(waits)))
        print(
            f"day {customer.day:2d} {customer.since_open / 3600:5.2f} h {customer.service} "
            f"{customer.priority}, {estimate.get('ahead', 0)} ahead: ours "
            f"{estimate['mean']:.0f} s, the world's {statistics.mean(waits):.0f} s "
            f"(sd {statistics.stdev(waits):.0f}), QL {customer.baselines.get('QL', math.nan):.0f}",
            flush=True,
        )

    simulate(scenario, seed=args.seed, watch=watch)
    report(moments)


def report(moments: list) -> None:
    """Ours against the world's mean, overall and by number ahead, and the RMSE of each
    against the waits the customers had."""
    if not moments:
        print("no moment sampled")
        return
    print(f"\n{len(moments)} moments: ours ÷ the world's mean (sums)")
    for low, high in ((0, 10**6), *AHEAD_GROUPS):
        group = [(c, m) for c, m in moments if low <= c.estimate.get("ahead", 0) <= high]
        if group:
            ours = sum(c.estimate["mean"] for c, _ in group)
            label = "all" if high == 10**6 and low == 0 else f"{low}-{high} ahead"
            label = label.replace(f"-{10**6}", "+")
            print(f"  {label:>12}: {ours / sum(m for _, m in group):.3f} (n {len(group)})")
    served = [(c, m) for c, m in moments if c.called is not None and not c.gone]
    if not served:
        return
    print(
        f"served {len(served)}: mean wait {statistics.mean(c.wait for c, _ in served):.0f} s, "
        f"ours {statistics.mean(c.estimate['mean'] for c, _ in served):.0f}, the world's "
        f"{statistics.mean(m for _, m in served):.0f}"
    )
    for name, guess in (
        ("ours", lambda c, m: c.estimate["mean"]),
        ("the world's mean", lambda c, m: m),
        ("QL", lambda c, m: c.baselines.get("QL", math.nan)),
    ):
        errors = [(guess(c, m) - c.wait) ** 2 for c, m in served]
        print(f"  RMSE against the waits, {name}: {math.sqrt(statistics.mean(errors)):.0f} s")


if __name__ == "__main__":
    main()
