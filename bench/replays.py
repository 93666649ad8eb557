"""Our estimate against what the simulated world itself allowed, for the customers chosen.

    .venv/bin/python bench/replays.py WORLD [--seed S] [--days D] [--from-day D]
        [--hours H,H] [--window HH:MM-HH:MM] [--service ID] [--priority P]
        [--min-ahead K] [--predicted MIN-MAX] [--every N] [--replays R] [--each]

Runs WORLD with estimates, as bench/estimates.py does (`--days`, `--seed`). At every N-th
arrival chosen (walk-ins after the learning days and from day D, counted from 0; in the
hours from opening the estimates bench shows, `int(since_open // 3600)`, or a window of
branch time; of a service, priority class, with at least K ahead, with our predicted
wait in a band of minutes, as the estimates bench's bands) the run is lived again
R times from that moment with fresh draws for what is not yet known (`relive` in
`sim/engine.py`: the waiting customers' times, each busy counter's rest given the time
gone, later arrivals, staff, patience). The replays in which the customer stays give the
world's own expectation (their mean) and its own 80% interval (their 10th and 90th
percentiles, `statistics.quantiles(..., method="exclusive")`: from R replays (R + 1 a
multiple of 10, 9 or more), an interval that holds another draw of the same world four
times in five on average whatever R is; R moves only its width's noise. Fewer than 9
stayed: from the shortest to the longest, which holds fewer).

Over the chosen customers who waited and were served (`measured_customers`, as the
estimates bench scores them), printed in all and per day, hour, number ahead and service:
our interval's coverage with its chance range in brackets, as the estimates bench gives
it (`coverage_chance`: the 95% range when the group's days are drawn again, or its hours
within one day; misses of one day go together), the shares below and above it, its bias
and mean width (the bench's figures); the world's interval's coverage with its chance
range, below, above and width; ours ÷ the world's mean (the model's own bias) and the
waits ÷ the world's mean (how the days turned out); the RMSE against the waits of ours,
the world's mean and QL. A cell that ours misses and the world's own interval misses as
much is a spell no estimate could foresee; one that only ours misses is ours
(docs/estimates.md, "What the world allowed (stop 34)").
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import command_line  # noqa: E402

from nowserving.sim import SCENARIOS, simulate  # noqa: E402
from nowserving.sim.engine import Customer  # noqa: E402
from nowserving.sim.metrics import (  # noqa: E402
    coverage_chance,
    format_chance,
    group_figures,
    measured_customers,
)

AHEAD_GROUPS = ((0, 0), (1, 1), (2, 3), (4, 5), (6, 10**6))


@dataclass
class Replayed:
    """One chosen customer and the waits of its replays in which it stayed."""

    customer: Customer
    waits: list[float]  # sorted
    left: int  # replays in which it was gone or not called that day

    @property
    def mean(self) -> float:
        """The world's own expectation of the wait."""
        return statistics.mean(self.waits)

    @property
    def interval(self) -> tuple[float, float]:
        """The world's own 80% interval: the replays' 10th and 90th percentiles."""
        if len(self.waits) < 2:
            return self.waits[0], self.waits[0]
        deciles = statistics.quantiles(self.waits, n=10, method="exclusive")
        # (from fewer than 9 it would reach past the replays: it stops at them)
        return max(deciles[0], self.waits[0]), min(deciles[-1], self.waits[-1])


def clock(text: str) -> float:
    """'14:12' as hours (14.2)."""
    try:
        hours, minutes = (int(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time HH:MM: {text!r}") from None
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise argparse.ArgumentTypeError(f"not a time of day: {text!r}")
    return hours + minutes / 60


def hour_list(text: str) -> set[int]:
    """'3,5' as {3, 5}: hours from opening."""
    try:
        return {int(h) for h in text.split(",")}
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not hours from opening like 4 or 3,5: {text!r}"
        ) from None


def time_window(text: str) -> tuple[float, float]:
    """'14:00-15:30' as (14.0, 15.5), branch time in hours."""
    parts = text.split("-")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"not a window HH:MM-HH:MM: {text!r}")
    start, end = (clock(t) for t in parts)
    if end <= start:
        raise argparse.ArgumentTypeError(f"the window ends before it starts: {text!r}")
    return start, end


def band(text: str) -> tuple[float, float]:
    """'60-120' (minutes) as (3600.0, 7200.0) seconds; '120-' has no upper end."""
    low, _, high = text.partition("-")
    try:
        edges = (float(low) * 60, float(high) * 60 if high else math.inf)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a band of minutes like 60-120: {text!r}") from None
    if not 0 <= edges[0] < edges[1]:
        raise argparse.ArgumentTypeError(f"the band ends before it starts: {text!r}")
    return edges


def chooser(args: argparse.Namespace, scenario):
    """Whether a customer, as its ticket is issued, is one of those asked for."""
    hours = args.hours
    window = None
    if args.window:
        window = [(t - scenario.opens_h) * 3600 for t in args.window]

    def chosen(c: Customer) -> bool:
        return (
            c.estimate is not None
            and not c.booked
            and not c.warmup
            and c.day >= args.from_day
            and (hours is None or int(c.since_open // 3600) in hours)
            and (window is None or window[0] <= c.since_open < window[1])
            and (args.service is None or c.service == args.service)
            and (args.priority is None or c.priority == args.priority)
            and c.estimate.get("ahead", 0) >= args.min_ahead
            and (
                args.predicted is None
                or args.predicted[0] <= c.estimate["mean"] < args.predicted[1]
            )
        )

    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("world", choices=sorted(SCENARIOS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=15, help="days simulated")
    parser.add_argument("--from-day", type=int, default=0, help="first day chosen, from 0")
    parser.add_argument(
        "--hours", type=hour_list, help="hours from opening, as the bench's cells: 4 or 3,5"
    )
    parser.add_argument("--window", type=time_window, help="branch time, HH:MM-HH:MM")
    parser.add_argument("--service", help="only its customers")
    parser.add_argument("--priority", help="only this priority class")
    parser.add_argument("--min-ahead", type=int, default=0)
    parser.add_argument(
        "--predicted", type=band, help="our predicted wait in this band of minutes: 60-120"
    )
    parser.add_argument("--every", type=int, default=1, help="every N-th chosen arrival")
    parser.add_argument("--replays", type=int, default=19)
    parser.add_argument("--each", action="store_true", help="print each served customer replayed")
    args = parser.parse_args()
    print(f"$ {command_line()}", flush=True)
    scenario = replace(SCENARIOS[args.world], days=args.days)
    chosen = chooser(args, scenario)
    replayed: dict[int, Replayed] = {}  # id(customer) -> its replays

    def watch(run, customer: Customer) -> None:
        if not chosen(customer):
            return
        seen = watch.seen = getattr(watch, "seen", 0) + 1
        if (seen - 1) % args.every:
            return
        # One stream per customer, from its place in the run: the same replays whatever
        # else is chosen.
        rng = random.Random(1_000_003 * args.seed + len(run.results))
        waits = [run.relive(customer, customer.arrived, rng) for _ in range(args.replays)]
        stayed = sorted(w for w in waits if w is not None)
        if stayed:
            replayed[id(customer)] = Replayed(customer, stayed, len(waits) - len(stayed))

    customers = simulate(scenario, seed=args.seed, watch=watch)
    scored = [c for c in measured_customers(customers) if chosen(c)]
    print(
        f"{args.world}, seed {args.seed}: {len(scored)} chosen customers waited and were "
        f"served; {len(replayed)} replayed {args.replays} times (every {args.every}), "
        f"{sum(r.left for r in replayed.values())} replays in which they left"
    )
    cells: dict = {}  # the bench's hour cells apart, when several are asked for
    for c in scored:
        cells.setdefault(int(c.since_open // 3600) if args.hours else None, []).append(c)
    for hour, group in sorted(cells.items()):
        rows = [replayed[id(c)] for c in group if id(c) in replayed]
        if hour is not None:
            print(f"\nhour {hour} from opening")
        print(f"  ours over all {len(group)}: {ours_figures(group)}")
        if args.each:
            print("\n".join(moment(r) for r in rows))
        report(rows)


def moment(r: Replayed) -> str:
    """One customer replayed, as a line."""
    c, (low, high) = r.customer, r.interval
    return (
        f"day {c.day:2d} {c.since_open / 3600:5.2f} h {c.service} {c.priority}, "
        f"{c.estimate.get('ahead', 0)} ahead: ours {c.estimate['mean']:.0f} s "
        f"[{c.estimate['low']:.1f}, {c.estimate['high']:.1f}], the world's {r.mean:.0f} s "
        f"[{low:.1f}, {high:.1f}] ({len(r.waits)} stayed), QL "
        f"{c.baselines.get('QL', math.nan):.0f}, waited {c.wait:.1f}"
    )


def ours_figures(group: list[Customer]) -> str:
    """Our interval over `group`, as the estimates bench scores it."""
    g = group_figures("", group)
    above = statistics.mean(c.wait > c.estimate["high"] for c in group)
    return (
        f"coverage {g.coverage:.1%}{format_chance(g.coverage_chance)} (below {g.below:.1%}, "
        f"above {above:.1%}), bias {g.bias:+.0%}, width {g.width:.0f} s"
    )


def world_figures(rows: list[Replayed]) -> str:
    """The world's own interval over `rows`, its mean against ours and the waits, and the
    RMSE against the waits of ours, the world's mean and QL."""
    intervals = [r.interval for r in rows]
    waits = [r.customer.wait for r in rows]
    below = statistics.mean(w < low for w, (low, _) in zip(waits, intervals, strict=True))
    above = statistics.mean(w > high for w, (_, high) in zip(waits, intervals, strict=True))
    world = sum(r.mean for r in rows)
    ours = sum(r.customer.estimate["mean"] for r in rows)

    def rmse(guess) -> float:
        return math.sqrt(statistics.mean((guess(r) - r.customer.wait) ** 2 for r in rows))

    inside = [low <= w <= high for w, (low, high) in zip(waits, intervals, strict=True)]
    chance = format_chance(coverage_chance([r.customer for r in rows], inside))
    return (
        f"coverage {1 - below - above:.1%}{chance} (below {below:.1%}, above {above:.1%}), "
        f"width {statistics.mean(h - lo for lo, h in intervals):.0f} s; "
        f"ours/world {ours / world - 1:+.0%}, waits/world {sum(waits) / world - 1:+.0%}; "
        f"RMSE ours {rmse(lambda r: r.customer.estimate['mean']):.0f}, world "
        f"{rmse(lambda r: r.mean):.0f}, QL {rmse(lambda r: r.customer.baselines['QL']):.0f} s"
    )


def ahead_group(c: Customer) -> str:
    """The number ahead's group: 0, 1, 2-3, 4-5, 6+."""
    ahead = c.estimate.get("ahead", 0)
    low, high = next(g for g in AHEAD_GROUPS if g[0] <= ahead <= g[1])
    return str(low) if low == high else f"{low}+" if high == 10**6 else f"{low}-{high}"


def sharpness(rows: list[Replayed]) -> str:
    """Ours' and the world's own mean width over the narrowest that covers as many of the
    customers (the estimates bench's ratio per band, each about its own mean): what a small
    group's ratio is even for the world's own interval."""
    world = [
        replace(
            r.customer, estimate={**r.customer.estimate, "mean": r.mean, "low": low, "high": high}
        )
        for r in rows
        for low, high in (r.interval,)
    ]
    ours, theirs = (group_figures("", [r.customer for r in rows]), group_figures("", world))
    return "ours {:.2f}x, the world's {:.2f}x".format(
        *(g.width / g.narrowest if g.narrowest > 0 else math.inf for g in (ours, theirs))
    )


def report(rows: list[Replayed]) -> None:
    """Ours and the world's interval over the replayed customers who were served, in all
    and per day, hour from opening, number ahead and service (each where it varies)."""
    if not rows:
        print("no customer replayed was served")
        return
    print(f"  replayed, {len(rows)} served:")
    print(f"    ours:  {ours_figures([r.customer for r in rows])}")
    print(f"    world: {world_figures(rows)}")
    print(f"    width / narrowest with the same coverage: {sharpness(rows)}")
    keys = (
        ("day", lambda c: c.day),
        ("hour", lambda c: int(c.since_open // 3600)),
        ("ahead", ahead_group),
        ("service", lambda c: c.service),
    )
    for title, key in keys:
        groups: dict = {}
        for r in rows:
            groups.setdefault(key(r.customer), []).append(r)
        if len(groups) < 2:
            continue
        print(f"  by {title}:")
        order = sorted(
            groups, key=lambda g: int(g.rstrip("+").split("-")[0]) if title == "ahead" else g
        )
        for name in order:
            group = groups[name]
            ours = ours_figures([r.customer for r in group])
            print(f"    {name!s:>8} n {len(group):>4}  ours:  {ours}")
            print(f"    {'':>8} {'':>6}  world: {world_figures(group)}")


if __name__ == "__main__":
    main()
