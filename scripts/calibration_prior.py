"""Make the shipped calibration prior (src/nowserving/domain/calibration_prior.py): how the
model's own 80% intervals missed on the first days of the simulator's bank days.

    .venv/bin/python scripts/calibration_prior.py [--days 3] [--seeds 101,102]

Each bank-day world is simulated for `days` days per seed (seeds apart from the bench's
1-3, so the bench judges the prior on days it was not made from); for every customer who
had to wait and was served, log(raw low / wait) and log(wait / raw high) are kept in the
estimate's group (`calibration.stratum`), and 40 evenly spaced quantiles of each side are
written out per group. Run again when the model changes (docs/estimates.md)."""

from __future__ import annotations

import argparse
import math
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from nowserving.domain.calibration import RAW_FLOOR, STRATA, stratum
from nowserving.domain.learning import CALIBRATION_FLOOR_S
from nowserving.sim import SCENARIOS, simulate

WORLDS = (
    "branch-day",
    "branch-full",
    "bank-heavy-tail",
    "bank-uneven",
    "bank-patience",
    "bank-skills",
    "bank-whole",
    "bank-advice",
    "bank-advice-long",
)
QUANTILES = 40
TARGET = Path(__file__).parent.parent / "src/nowserving/domain/calibration_prior.py"


def misses(name: str, seed: int, days: int) -> list[tuple[str, float, float, float, float]]:
    """(group, below, above, log(mean / low), log(high / mean)) of every judged customer
    of one run: its misses, and its model interval's half widths."""
    scenario = replace(SCENARIOS[name], days=days)
    found = []
    for c in simulate(scenario, seed=seed):
        if c.called is None or c.gone or c.wait <= 0 or not c.estimate or "raw" not in c.estimate:
            continue
        low, high = c.estimate["raw"]
        wait, low, high = (max(CALIBRATION_FLOOR_S, x) for x in (c.wait, low, high))
        mean = max(CALIBRATION_FLOOR_S, c.estimate["mean"])
        group = stratum(c.estimate["ahead"], c.estimate["mean"])
        widths = (math.log(mean / low), math.log(high / mean))
        found.append((group, math.log(low / wait), math.log(wait / high), *widths))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seeds", default="101,102")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = [(name, seed) for name in WORLDS for seed in seeds]
    by_group: dict[str, list[tuple[float, float]]] = {g: [] for g in STRATA}
    half_widths: dict[str, list[tuple[float, float]]] = {}
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for found in pool.map(misses, *zip(*runs, strict=True), [args.days] * len(runs)):
            for group, below, above, narrow, wide in found:
                by_group[group].append((below, above))
                half_widths.setdefault(group, []).append((narrow, wide))
    # What calibration.RAW_FLOOR is made of: the narrowest 5% of the model intervals (now
    # recorded already floored, so a rerun finds the floor again where it binds).
    for group in RAW_FLOOR:
        sides = [sorted(w[side] for w in half_widths.get(group, [])) for side in (0, 1)]
        if sides[0]:
            fifth = [round(side[int(0.05 * len(side))], 3) for side in sides]
            print(f"RAW_FLOOR {group}: {fifth[0]} / {fifth[1]} of {len(sides[0])} customers")
    lines = [
        '"""The shipped calibration prior (see `calibration.py`): per group, quantiles of the',
        "model intervals' misses below and above, log(low / wait) and log(wait / high), on the",
        f"first {args.days} days of the simulator's bank days ({len(WORLDS)} worlds, seeds "
        f"{args.seeds}).",
        "",
        'Made by scripts/calibration_prior.py; do not edit by hand."""',
        "",
        "PRIOR: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {",
    ]
    for group, pairs in by_group.items():
        if not pairs:
            continue
        sides = []
        for side in (0, 1):
            ordered = sorted(p[side] for p in pairs)
            points = [
                ordered[min(len(ordered) - 1, int((i + 0.5) / QUANTILES * len(ordered)))]
                for i in range(QUANTILES)
            ]
            sides.append("(" + ", ".join(f"{x:.3f}" for x in points) + ",)")
        lines.append(f"    # {len(pairs)} customers")
        lines.append(f'    "{group}": (')
        lines.extend(f"        {side}," for side in sides)
        lines.append("    ),")
    lines.append("}")
    TARGET.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {TARGET}: " + ", ".join(f"{g} {len(p)}" for g, p in by_group.items()))


if __name__ == "__main__":
    main()
