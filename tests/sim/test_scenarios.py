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
        "(did you mean 'lognormal'?) (one of lognormal, exp, fixed, empirical)",
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


WHOLE = (EXAMPLES / "whole-branch-scenario.toml").read_text(encoding="utf-8")


def test_the_whole_branch_example_is_read_in_full():
    scenario = load_scenario(EXAMPLES / "whole-branch-scenario.toml")
    assert scenario.reaction_s == (2.0, 20.0)
    assert (scenario.recalls, scenario.recall_interval_s) == (2, 30.0)
    services = {s.id: s for s in scenario.services}
    assert services["cash"].patience_curve[-1] == (3600.0, 0.2)
    assert services["cash"].last_ticket_h == 7.5 and services["loans"].last_ticket_h == 7.0
    loans = services["loans"]
    assert loans.service_dist == "empirical" and loans.service_table[0] == (480.0, 0.1)
    assert loans.mean_service_s == pytest.approx(18.75 * 60)
    counters = {c.id: c for c in scenario.counters}
    assert counters["c5"].hours == (1.0, 8.0) and counters["c1"].speed == 1.3
    assert (counters["vip"].profile, counters["vip"].overflow_s) == ("in_order", 2400.0)
    assert counters["c2"].profile == "longest_wait"


def test_every_new_key_is_checked_and_all_problems_come_at_once(tmp_path):
    """GIVEN the whole-branch example with a mistake in each of its new keys WHEN loaded
    THEN one ConfigError lists each, located."""
    text = (
        WHOLE.replace("staff_reaction_seconds = [2, 20]", "staff_reaction_seconds = [20, 2]")
        .replace("no_show_after_recalls = 2  ", "no_show_handling_minutes = 1  ")
        .replace(
            "[[5, 0.02], [15, 0.08], [30, 0.15], [60, 0.2]]",
            "[[5, 0.02], [15, 0.08], [10, 0.15], [60, 1.2]]",
        )
        .replace('last_ticket_at = "16:00"', 'last_ticket_at = "18:00"')
        .replace("[40, 0.95], [75, 1.0]]", "[40, 0.95], [75, 0.99]]\nservice_minutes = 20")
        .replace("patience_curve = [[10", "patience_minutes = 30\npatience_curve = [[10")
        .replace("speed = 1.3", "speed = 0")
        .replace('hours = "10:00-17:00"', 'hours = "10:00-09:30"')
        .replace('call_profile = "in_order"', 'call_profile = "in-order"')
        .replace('["business", "cash"]', '["business", "cash"]\noverflow_minutes = 5')
    )  # fmt: skip
    assert problems_of(tmp_path, text) == [
        "services[0].patience_curve[2]: minutes must rise, from more than 0: 10",
        "services[0].patience_curve[3]: share must be from 0.15 to 1: 1.2",
        "services[1].patience_curve: give patience_minutes or patience_curve, not both",
        "services[3].service_minutes: is given by service_table with the empirical distribution",
        "services[3].service_table: the last share must be 1 (every customer is done by then)",
        "services[3].last_ticket_at: must be within the day, 09:00-17:00",
        "counters[0].speed: must be more than 0 and at most 10",
        'counters[3].overflow_minutes: is only used with call_profile = "in_order" '
        '(this one is "longest_wait")',
        "counters[4].hours: must close after it opens",
        "counters[6].call_profile: unknown call profile 'in-order' (did you mean 'in_order'?) "
        "(one of longest_wait, in_order)",
        "scenario.recall_interval_seconds: is only used with no_show_after_recalls",
        "scenario.staff_reaction_seconds: must be seconds from 0 to 3600, or [shortest, "
        "longest], not [20, 2]",
    ]


def test_recalls_need_their_interval_and_replace_the_handling_time(tmp_path):
    text = WHOLE.replace("recall_interval_seconds = 30", "no_show_handling_minutes = 2")
    assert problems_of(tmp_path, text) == [
        "scenario.recall_interval_seconds: is required with no_show_after_recalls",
        "scenario.no_show_handling_minutes: is not used with no_show_after_recalls "
        "(the recalls take the counter's time)",
    ]


def test_the_one_counter_worlds_are_what_issue_22_asks_for():
    """GIVEN the built-in one-counter worlds WHEN their advice line is read THEN it is
    served first by a single in_order counter, lognormal with a mean of 15-25 minutes and
    CV 0.6-0.8, and its demand is 0.9-1.0 of that counter's capacity."""
    from nowserving.sim import SCENARIOS

    for name in ("bank-advice", "bank-advice-long"):
        scenario = SCENARIOS[name]
        advice = next(s for s in scenario.services if s.id == "advice")
        first = [c for c in scenario.counters if c.services[0] == "advice"]
        assert len(first) == 1 and first[0].profile == "in_order"
        assert advice.service_dist == "lognormal"
        assert 15 * 60 <= advice.mean_service_s <= 25 * 60 and 0.6 <= advice.service_cv <= 0.8
        per_hour = sum(advice.arrivals_per_hour) / len(advice.arrivals_per_hour)
        load = per_hour * advice.mean_service_s / 3600 / first[0].speed
        assert 0.9 <= round(load, 6) <= 1.0


BOOKING_DAY = """
[scenario]
days = 1
[bookings]
share = 0.5
lead_hours = [1, 24]
punctuality_minutes = [-3, 4]
no_show = 0.2
slot_minutes = 15
per_hour = 2
[[services]]
id = "a"
service_minutes = 5
arrivals_per_hour = 10
[[counters]]
id = "c1"
services = ["a"]
[[counters]]
id = "c2"
services = ["a"]
"""


def test_a_bookings_table_sets_who_books_and_the_hourly_cap(tmp_path):
    """GIVEN a scenario file with `[bookings]` (half the customers book 15-minute slots,
    at most 2 an hour) WHEN it is loaded and a day lived THEN the simulator's bookings are
    those, no hour holds more than 2, and whoever found their hour full walked in; bad
    values are all reported at once, each located."""
    from nowserving.sim import simulate
    from nowserving.sim.world import SimBookings

    path = tmp_path / "booked.toml"
    path.write_text(BOOKING_DAY, encoding="utf-8")
    scenario = load_scenario(path)
    assert scenario.bookings == SimBookings(0.5, (1.0, 24.0), (-3.0, 4.0), 0.2, 15.0, 2)
    events = []
    customers = simulate(scenario, seed=4, estimates=False, record=events.extend)
    hours = [e.data["at"] // 3600 for e in events if e.type == "booking_made"]
    assert hours and max(hours.count(h) for h in hours) <= 2
    walk_ins = sum(1 for c in customers if not c.booked)
    assert walk_ins > 0.6 * len(customers)  # half book, but only 2 an hour get a booking
    bad = (
        BOOKING_DAY.replace("share = 0.5", "share = 1.5")
        .replace("lead_hours = [1, 24]", "lead_hours = [24, 1]")
        .replace("per_hour = 2", "per_hour = 0\nshares = 1")
    )
    assert problems_of(tmp_path, bad) == [
        "bookings.shares: unknown key (did you mean 'share'?)",
        "bookings.lead_hours: must be [shortest, longest] hours before the booked time, "
        "0 <= shortest <= longest, not [24, 1]",
        "bookings.share: must be from 0 to 1",
        "bookings.per_hour: must be at least 1",
    ]
