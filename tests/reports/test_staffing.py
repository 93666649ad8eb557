"""Learning a weekday from a simulated event log, and the simulator's check of the advice."""

from __future__ import annotations

import math

import pytest

from nowserving.adapters.store import EventLog
from nowserving.cli import main
from nowserving.domain.staffing import erlang_c_figures
from nowserving.reports.history import learn, patience_mle
from nowserving.reports.staffing import Row, Target, day_scenario, simulated_levels
from nowserving.sim.engine import simulate
from nowserving.sim.world import Scenario, SimCounter, SimService

TARGET = Target(0.8, 120)


def mm_day(rate_h: float, counters: int, patience: float | None = None) -> Scenario:
    service = SimService("cash", 300.0, arrivals_per_hour=(rate_h,), patience_s=patience)
    return Scenario(
        "t", "t", (service,), tuple(SimCounter(f"c{i}", ("cash",)) for i in range(counters)),
        customers=10**9, hours=8.0, days=14, warmup_s=0.0,
    )  # fmt: skip


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    path = tmp_path_factory.mktemp("log") / "events.sqlite"
    batch: list = []
    simulate(mm_day(30.0, 4, patience=600.0), seed=3, estimates=False, record=batch.extend)
    with EventLog(path, create=True) as store:
        store.append(batch)
    return path


def test_the_learned_rates_are_the_simulated_ones(log):
    """GIVEN 14 simulated days (2 Mondays) at 30 arrivals/h, 300 s service, 600 s patience
    WHEN Mondays are learned THEN rates, service time and patience come back within
    sampling error, and the 4 counters are seen open."""
    history = learn(log, "mon", "UTC", TARGET.wait_s)
    cash = history.services["cash"]
    assert history.days == 2
    arrivals = sum(h.arrivals for h in cash.hours.values()) / (2 * 8)
    assert arrivals == pytest.approx(30, rel=0.15)
    assert cash.mean_service_s() == pytest.approx(300, rel=0.15)
    assert cash.patience_s() == pytest.approx(600, rel=0.5)
    assert cash.hours[12].figures(2)["had"] == pytest.approx(4.0)


def test_patience_mle_recovers_an_exact_sample():
    assert patience_mle([], [], [100.0, 300.0]) == pytest.approx(200, rel=1e-6)
    assert math.isinf(patience_mle([10.0], [], []))


def test_the_simulator_agrees_with_erlang_c_on_an_mmc_day():
    """GIVEN an M/M/4 day at 40 arrivals/h and 300 s service (3.33 Erlangs) WHEN 200 days
    are simulated THEN the mid-day service level lies within Erlang C's ± its 95 % CI
    (with a little room for the morning's empty start)."""
    rows = [Row("cash", h, 40.0, 300.0, math.inf, 0, 0, None, None) for h in range(9, 17)]
    scenario = day_scenario(rows, dict.fromkeys(range(9, 17), 5))
    levels = simulated_levels(scenario, TARGET, days=200, seed=5)
    expected = erlang_c_figures(5, 40 / 3600, 300, TARGET.wait_s).service_level
    mean, half = levels[4]
    assert half < 0.05
    assert abs(mean - expected) < 2 * half, (mean, expected, half)


def test_the_command_prints_the_table_and_refuses_bad_input(log, capsys, tmp_path):
    config = tmp_path / "utc.toml"
    config.write_text(_utc_config(), encoding="utf-8")
    args = ["staffing", "--config", str(config), "--db", str(log), "--weekday", "mon"]
    assert main([*args, "--target", "80/2", "--days", "20", "--language", "en"]) == 0
    out = capsys.readouterr().out
    assert "Erlang A" in out and "cash" in out and " ± " in out
    assert main([*args, "--target", "eighty"]) == 2
    assert "PERCENT/MINUTES" in capsys.readouterr().err
    assert main([*args, "--from", "2030-01-01"]) == 1
    assert "no ticket issued on a mon" in capsys.readouterr().err


def _utc_config() -> str:
    from nowserving.i18n import assets_path

    example = assets_path().parent / "examples" / "bank-branch.toml"
    text = example.read_text(encoding="utf-8")
    return text.replace('"Asia/Shanghai"', '"UTC"').replace('staff_pins = "staff-pins.toml"', "")
