"""The chance ranges of the estimates bench: days (or a first day's hours) drawn again."""

from __future__ import annotations

import math

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
