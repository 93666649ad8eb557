"""Scenario files: every problem is reported at once with its location, never as a
Python error's repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from nowserving.config import EXAMPLES
from nowserving.errors import ConfigError
from nowserving.sim import load_scenario

GOOD = (EXAMPLES / "branch-scenario.toml").read_text(encoding="utf-8")


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "day.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    return info.value.problems


def test_several_errors_are_all_reported_with_their_locations(tmp_path):
    """GIVEN the example scenario with six mistakes WHEN it is loaded THEN one ConfigError
    lists all six, each located, with hints, and none is a KeyError's repr."""
    text = (
        GOOD.replace("days = 20", "dayz = 20")
        .replace("service_minutes = 4\n", 'service_minutes = "four"\n')
        .replace("arrivals_per_hour = 2\n", "arrivals_per_hour = [2, -1]\n")
        .replace('id = "accounts"', 'id = "accounts"\nservice_distribution = "normal"')
        .replace('services = ["loans", "accounts"]', 'services = ["loan", "accounts"]')
        .replace('breaks = ["12:45-13:30"]', 'breaks = ["12:45-13:30", "noon", "17:30-18:00"]')
    )
    assert problems_of(tmp_path, text) == [
        "scenario.dayz: unknown key (did you mean 'days'?)",
        "services[0].service_minutes: must be a number, not 'four'",
        "services[1].service_distribution: unknown distribution 'normal' "
        "(did you mean 'lognormal'?) (one of lognormal, exp, fixed)",
        "services[2].arrivals_per_hour[1]: must be a number of customers, 0 or more, not -1",
        "counters[1].breaks[1]: must be like \"12:00-12:45\", not 'noon'",
        "counters[1].breaks[2]: must be within the day, 09:00-17:00",
        "counters[3].services[0]: unknown service 'loan' (did you mean 'loans'?)",
    ]


def test_missing_keys_are_named_not_shown_as_key_errors(tmp_path):
    problems = problems_of(tmp_path, '[[services]]\nid = "cash"\n[[counters]]\nid = "c1"\n')
    assert problems == [
        "services[0].service_minutes: is required",
        "services[0].arrivals_per_hour: is required",
        "counters[0].services: is required",
    ]
    assert not any("KeyError" in p or "Error(" in p for p in problems)


def test_a_day_that_ends_before_it_starts_and_an_unserved_service(tmp_path):
    text = GOOD.replace('closes = "17:00"', 'closes = "08:00"').replace(
        'services = ["loans", "accounts"]', 'services = ["accounts"]'
    )
    assert problems_of(tmp_path, text) == [
        "scenario.closes: must be after opens",
        "services[2]: no counter serves 'loans', so no one would be called",
    ]


def test_more_hourly_rates_than_hours_in_the_day(tmp_path):
    text = GOOD.replace('closes = "17:00"', 'closes = "15:30"')
    assert problems_of(tmp_path, text) == [
        "services[0].arrivals_per_hour: lists 8 hours, but the day has 7",
        "services[1].arrivals_per_hour: lists 8 hours, but the day has 7",
    ]


def test_a_spread_needs_the_lognormal_distribution_and_ids_are_unique(tmp_path):
    text = GOOD.replace('id = "loans"', 'id = "cash"\nservice_distribution = "exp"')
    assert problems_of(tmp_path, text) == [
        "services[2].id: 'cash' is used twice",
        'services[2].service_cv: is only used with service_distribution = "lognormal"',
        "counters[3].services[0]: unknown service 'loans'",
    ]


def test_defaults_of_a_small_scenario(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(
        '[[services]]\nid = "a"\nservice_minutes = 5\narrivals_per_hour = 10\n'
        '[[counters]]\nid = "c1"\nservices = ["a"]\n',
        encoding="utf-8",
    )
    scenario = load_scenario(path)
    assert (scenario.name, scenario.hours, scenario.days) == ("small", 8.0, 20)
    assert scenario.services[0].service_dist == "lognormal"
    assert scenario.services[0].service_cv == 0.6
    assert scenario.no_show_handling_s == 60 and scenario.priority_boost_s == 600
