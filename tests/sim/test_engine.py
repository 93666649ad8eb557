"""The simulator reproduces textbook numbers, and scenario files are read and checked."""

from __future__ import annotations

import math
import statistics

import pytest

from nowserving.errors import ConfigError
from nowserving.sim import load_scenario, simulate
from nowserving.sim.metrics import evaluate, format_report
from nowserving.sim.scenarios import _pool


def erlang_c_mean_wait(s: int, rho: float, mean_service: float) -> float:
    a = rho * s
    top = a**s / math.factorial(s) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(s)) + top)
    return p_wait * mean_service / (s * (1 - rho))


def test_mm5_mean_wait_matches_erlang_c_within_sampling_error():
    """GIVEN M/M/5 at ρ = 0.8 WHEN 100,000 customers are simulated THEN the mean wait of
    all customers after warm-up is Erlang C's, within 2 batch-means half-widths (10
    contiguous batches: waits are autocorrelated, so interleaved ones would understate it)."""
    customers = [
        c
        for c in simulate(_pool("mm5-80", 5, 0.8), seed=4, customers=100_000)
        if not c.warmup and c.wait is not None
    ]
    waits = [c.wait for c in customers]
    size = len(waits) // 10
    means = [statistics.mean(waits[i * size : (i + 1) * size]) for i in range(10)]
    half_width = 2.262 * statistics.stdev(means) / math.sqrt(len(means))
    expected = erlang_c_mean_wait(5, 0.8, 10.0)
    assert half_width < 0.15 * expected  # the check below means something
    assert abs(statistics.mean(waits) - expected) < 2 * half_width, (
        statistics.mean(waits),
        expected,
        half_width,
    )


def test_our_estimate_is_near_the_oracle_on_a_small_pool():
    customers = simulate(_pool("mm5-85", 5, 0.85), seed=2, customers=20_000)
    report = evaluate("mm5-85", customers, abandonment=False)
    assert report.rase_ratio.value < 1.2
    assert report.by_estimator["ours"]["RASE"].value < report.by_estimator["LES"]["RASE"].value
    assert 0.75 <= report.coverage.value <= 0.85
    assert "ours / QL RASE" in format_report(report)


def test_the_example_scenario_file_is_read(tmp_path):
    from nowserving.config import EXAMPLE

    scenario = load_scenario(EXAMPLE.parent / "branch-scenario.toml")
    assert [s.id for s in scenario.services] == ["cash", "accounts", "loans"]
    assert scenario.counters[0].pauses == ((3.0, 3.75),)
    assert scenario.services[0].arrivals_per_hour[1] == 31


def test_a_bad_scenario_file_lists_its_problems(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[[services]]\nid = "a"\n[[counters]]\nservices = ["b"]\nbreaks = ["noon"]\n')
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    text = "\n".join(info.value.problems)
    assert "services[0]" in text and "unknown service 'b'" in text and "noon" in text
