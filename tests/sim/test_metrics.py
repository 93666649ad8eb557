"""The chance ranges of the estimates bench: days (or a first day's hours) drawn again."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from nowserving.sim.engine import Customer
from nowserving.sim.metrics import ESTIMATORS, coverage_chance, format_chance, group_figures


def customer(day: int, hour: int, wait: float, low: float, high: float) -> Customer:
    mean = (low + high) / 2
    return Customer(
        "cash",
        day,
        arrived=day * 86_400 + hour * 3600,
        warmup=False,
        estimate={"mean": mean, "low": low, "high": high, "ahead": 2},
        baselines={e: mean + 60 for e in ESTIMATORS[1:]},
        called=day * 86_400 + hour * 3600 + wait,
        since_open=hour * 3600,
    )


def shifted(c: Customer, factor: float) -> Customer:
    """`c` with both its interval's ends `factor` times as far from 0."""
    low, high = c.estimate["low"] * factor, c.estimate["high"] * factor
    return replace(c, estimate={**c.estimate, "low": low, "high": high})


def day_of(day: int, misses: int, hours: int = 1) -> list[Customer]:
    """50 customers of one day; the first `misses` wait past their interval's high end, the
    others 210-406 s inside it."""
    return [
        customer(day, i % hours, 900 if i < misses else 210 + 4 * i, 200, 410) for i in range(50)
    ]


def test_misses_that_come_in_whole_days_move_the_coverage_more_than_spread_ones():
    spread = [c for day in range(20) for c in day_of(day, 10)]
    assert coverage_chance(spread) == (0.8, 0.8)  # every day alike: no chance left
    spells = [c for day in range(20) for c in day_of(day, 50 if day < 4 else 0)]
    low, high = coverage_chance(spells)
    # The same 80% of 1,000 customers: ± 2.5 points if they were independent, but four
    # whole days of misses among twenty move it by about ± 17.
    assert low < 0.7 and high > 0.9
    assert low <= 0.8 <= high
    assert format_chance((low, high)) == f" [{low:.1%}–{high:.1%}]"


def test_another_intervals_hits_are_drawn_again_by_the_same_days():
    """GIVEN ours missing 10 of every day's 50 and the world's own interval (bench/replays.py)
    missing four whole days, WHEN the world's coverage is drawn again, THEN its range is that
    of misses in whole days, and ours' stays a point."""
    group = [c for day in range(20) for c in day_of(day, 10)]
    world = [c.day >= 4 for c in group]
    spells = [c for day in range(20) for c in day_of(day, 50 if day < 4 else 0)]
    assert coverage_chance(group) == (0.8, 0.8)
    assert coverage_chance(group, world) == coverage_chance(spells)


def test_a_single_day_is_drawn_again_by_its_hours():
    one_day = day_of(0, 25, hours=5)  # misses in hours 0-4 alike: 5 of 10 each
    assert coverage_chance(one_day) == (0.5, 0.5)
    low, high = coverage_chance(day_of(0, 25, hours=1))  # one day, one hour: nothing to draw
    assert math.isnan(low) and math.isnan(high)
    assert format_chance((low, high)) == ""  # the benches print the coverage alone


def test_ours_worse_on_every_day_is_beyond_chance():
    group = [c for day in range(10) for c in day_of(day, 10)]
    figures = group_figures("cash", group, sharpness=True, losses=True)
    # (only a service's or class's losses are listed: the range costs a bootstrap per baseline)
    assert group_figures("cash", group).rmse_chance == {}
    # Every day alike, so the ranges are single points: ours' RMSE against each baseline's
    # (every baseline 60 s higher than ours: 25 s better), and the width ratio.
    for e in ESTIMATORS[1:]:
        low, high = figures.rmse_chance[e]
        assert low == pytest.approx(high)
        assert low == pytest.approx(figures.rmse["ours"] - figures.rmse[e])
        assert low == pytest.approx(25.0, abs=0.1)
    assert figures.coverage_chance == (0.8, 0.8)
    low, high = figures.ratio_chance
    assert low == pytest.approx(high) == pytest.approx(figures.width / figures.narrowest)


def test_a_right_interval_reads_wider_than_the_narrowest_the_fewer_its_customers():
    """The narrowest interval is found on the customers it is judged on: over a few dozen,
    even an interval that is exactly right reads well over 1x, over thousands near it."""
    import random

    from nowserving.sim.metrics import perfect_ratio

    rng = random.Random(3)
    spread = math.log(1.3) / 1.2816  # ± 30% at the 10th and 90th percentiles
    group = []
    for i in range(2000):
        mean = rng.uniform(3600, 7200)
        wait = mean * math.exp(rng.gauss(0, spread))
        group.append(customer(i % 20, 3, wait, mean / 1.3, mean * 1.3))
    few, many = perfect_ratio(group[:35]), perfect_ratio(group, draws=20)
    assert 1.1 < few[0] < few[1] and few[1] > 1.3  # 35 right intervals can read over 1.3x
    assert 1.0 < many[0] < 1.08  # 2,000 of them read close to 1x
    # The bench works it out for a band over the aim only: one a quarter too high (covering
    # 60%) reads far over what a right one of its width would; one within the aim is not
    # looked at again.
    high = [shifted(c, 1.25) for c in group[:200]]
    figures = group_figures("60-120 min", high, sharpness=True)
    assert figures.width / figures.narrowest > 1.5 > figures.ratio_perfect[1]
    right = group_figures("60-120 min", group[:2000:10], sharpness=True)
    assert right.width / right.narrowest < 1.3 and math.isnan(right.ratio_perfect[0])
