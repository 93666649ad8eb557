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
        # The queue's behaviour only: no estimates are made (they are checked below).
        for c in simulate(_pool("mm5-80", 5, 0.8), seed=4, customers=100_000, estimates=False)
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


# ----- the whole branch: hours, cut-offs, recalls, speeds, reactions, curves ---------

import random  # noqa: E402
from dataclasses import replace  # noqa: E402

from nowserving.sim.draws import ServiceDraws  # noqa: E402
from nowserving.sim.engine import DAY0, _Simulation  # noqa: E402
from nowserving.sim.world import Scenario, SimCounter, SimService, curve_mean  # noqa: E402

OPENS = DAY0 + 9 * 3600  # the first simulated day opens at 09:00


def one_day(scenario: Scenario, seed: int = 1) -> list:
    """Every event of the scenario's first day, as the real domain recorded them."""
    run = _Simulation(scenario, seed, 10**9, None)
    events = []
    handle = run.branch.handle

    def recording(command, estimate=None):
        new, outcome, duplicate = handle(command, estimate)
        events.extend(new)
        return new, outcome, duplicate

    run.branch.handle = recording
    run.day(0)
    return events


def small_day(**changes) -> Scenario:
    service = SimService("a", 300.0, "exp", 1.0, (30.0,), patience_s=None)
    counters = (SimCounter("c1", ("a",)), SimCounter("c2", ("a",)))
    base = Scenario("small", "", (service,), counters, customers=10**9, hours=8.0, days=1)
    return replace(base, **changes)


def test_a_counter_calls_only_within_its_hours():
    """GIVEN c2 open 10:00-12:00 WHEN the day runs THEN c2 calls nobody before 10:00 or
    after 12:00 (it finishes the customer it has), and calls someone in between."""
    day = small_day(counters=(SimCounter("c1", ("a",)), SimCounter("c2", ("a",), hours=(1, 3))))
    events = one_day(day)
    by_c2 = [
        e.at - OPENS for e in events if e.type == "ticket_called" and e.data["counter"] == "c2"
    ]
    assert by_c2
    assert min(by_c2) >= 3600 and max(by_c2) < 3 * 3600
    closed = [e for e in events if e.type == "counter_closed" and e.data["counter"] == "c2"]
    assert len(closed) == 2  # closed in the morning, and again at 12:00 (after its customer)


def test_no_ticket_after_a_services_cut_off():
    day = small_day(services=(replace(small_day().services[0], last_ticket_h=6.5),))
    issued = [e.at - OPENS for e in one_day(day) if e.type == "ticket_issued"]
    assert issued and max(issued) < 6.5 * 3600


def test_a_customer_who_has_gone_is_recalled_before_the_no_show():
    """GIVEN everybody gone after a minute and 2 recalls, 30 s apart WHEN the day runs THEN
    each no-show comes after two recalls, 30 s apart, and 30 s after the last."""
    service = replace(small_day().services[0], patience_s=60.0, arrivals_per_hour=(40.0,))
    day = small_day(services=(service,), recalls=2, recall_interval_s=30.0)
    events = one_day(day)
    called = {e.data["ticket"]: e.at for e in events if e.type == "ticket_called"}
    recalls: dict[str, list[float]] = {}
    for e in events:
        if e.type == "ticket_recalled":
            recalls.setdefault(e.data["ticket"], []).append(e.at)
    no_shows = [e for e in events if e.type == "ticket_no_show"]
    assert len(no_shows) > 10
    for e in no_shows:
        ticket = e.data["ticket"]
        start = called[ticket]
        assert recalls[ticket] == [start + 30, start + 60]
        assert e.at == start + 90


def test_counter_speed_scales_its_service_times():
    day = small_day(counters=(SimCounter("c1", ("a",), speed=2.0), SimCounter("c2", ("a",))))
    events = one_day(day)
    called = {e.data["ticket"]: e for e in events if e.type == "ticket_called"}
    times: dict[str, list[float]] = {"c1": [], "c2": []}
    for e in events:
        if e.type == "ticket_finished":
            times[e.data["counter"]].append(e.at - called[e.data["ticket"]].at)
    fast, slow = (statistics.mean(times[c]) for c in ("c1", "c2"))
    assert fast == pytest.approx(150, rel=0.3) and slow == pytest.approx(300, rel=0.3)


def test_staff_take_their_reaction_time_before_each_call():
    """GIVEN a reaction of 5-15 s WHEN a counter finishes and someone waits THEN its next
    call comes 5-15 s later (and the branch learns those times)."""
    service = replace(small_day().services[0], arrivals_per_hour=(30.0,))
    day = small_day(services=(service,), reaction_s=(5.0, 15.0))
    run_events = one_day(day)
    gaps = []
    finished: dict[str, float] = {}
    for e in run_events:
        if e.type == "ticket_finished":
            finished[e.data["counter"]] = e.at
        elif e.type == "ticket_called" and e.data["counter"] in finished:
            gaps.append(e.at - finished.pop(e.data["counter"]))
    assert len(gaps) > 50
    assert all(g >= 5 for g in gaps)
    assert min(g for g in gaps) < 7 and sorted(gaps)[len(gaps) // 2] < 15


def test_patience_from_a_curve_levels_off_and_service_from_a_table():
    curve = ((600.0, 0.1), (1800.0, 0.3))
    table = ((60.0, 0.5), (600.0, 1.0))
    spec = SimService(
        "a", curve_mean(table), "empirical", service_table=table, patience_curve=curve
    )
    draws = ServiceDraws(spec, random.Random(5))
    patience = [draws.patience() for _ in range(20_000)]
    assert statistics.mean(p <= 600 for p in patience) == pytest.approx(0.1, abs=0.01)
    assert statistics.mean(p <= 1800 for p in patience) == pytest.approx(0.3, abs=0.015)
    assert statistics.mean(p == math.inf for p in patience) == pytest.approx(0.7, abs=0.015)
    times = [draws.service_time() for _ in range(20_000)]
    assert statistics.mean(times) == pytest.approx(curve_mean(table), rel=0.03)
    assert curve_mean(table) == 0.5 * 30 + 0.5 * 330
    assert max(times) <= 600


def test_the_report_has_coverage_per_hour_and_half_widths_per_tenth():
    """GIVEN three small days WHEN judged THEN coverage and bias come per hour from
    opening, and each tenth's bias has a half-width."""
    service = replace(small_day().services[0], arrivals_per_hour=(40.0,))
    day = small_day(services=(service,), days=3, warmup_s=0.0)
    report = evaluate("small", simulate(day, seed=3), abandonment=False)
    assert [h for h, *_ in report.hourly] == list(range(8))
    assert all(n > 0 and 0 <= c <= 1 for _, n, c, _, _ in report.hourly)
    assert all(0 <= low <= high <= 1 for *_, (low, high) in report.hourly)  # days drawn again
    assert len(report.decile_half_width) == 10
    assert all(h >= 0 for h in report.decile_half_width)
    assert "per hour from opening" in format_report(report)


def test_bank_bookings_book_check_in_and_miss_as_in_the_real_flow():
    """A day of `bank-bookings`: about 30% of the demand books a 10-minute slot, checks in
    with its code (appointment tickets counted from the booked time, or a walk-in ticket
    when too late), and about 10% of the bookings are booking no-shows. The twin without
    bookings has the same arrival instants, all walking in."""
    from nowserving.sim import SCENARIOS
    from nowserving.sim.scenarios import without_bookings

    scenario = replace(SCENARIOS["bank-bookings"], days=2)
    events = []
    customers = simulate(scenario, seed=3, estimates=False, record=events.extend)
    kinds = [e.type for e in events]
    made, missed = kinds.count("booking_made"), kinds.count("booking_no_show")
    checked_in = [e for e in events if e.type == "ticket_issued" and e.data.get("booking")]
    booked = [c for c in customers if c.booked]
    assert len(booked) == len(checked_in) > 0
    assert 0.2 < made / (made + len(customers) - len(booked)) < 0.4
    assert 0.03 < missed / made < 0.2
    on_time = [e for e in checked_in if "booked_at" in e.data]
    assert len(on_time) > 0.8 * len(checked_in)
    assert all(e.data["booked_at"] % 600 == 0 for e in on_time)  # 10-minute slots
    alone = simulate(without_bookings(scenario), seed=3, estimates=False)
    assert not any(c.booked for c in alone)
    assert len(alone) == pytest.approx(made + len(customers) - len(booked), rel=0.01)


def test_booked_customers_get_estimates_scored_apart_from_the_walk_ins():
    """GIVEN two days of `bank-bookings` with estimates WHEN they are scored THEN the
    customers who checked in have their ticket's estimate (on time: counted from the booked
    time), and the report gives their figures apart; the walk-ins' table (beside the
    textbook estimators, which know no bookings) holds walk-ins only."""
    from nowserving.sim import SCENARIOS
    from nowserving.sim.metrics import measured_customers

    scenario = replace(SCENARIOS["bank-bookings"], days=2)
    customers = simulate(scenario, seed=5)
    booked = [c for c in customers if c.booked and c.called is not None]
    assert booked and all(c.estimate is not None for c in booked)
    report = evaluate("bank-bookings", customers, scenario.abandonment)
    figures = report.booked
    assert figures is not None and 0 < figures.customers <= len(booked)
    assert 0 < figures.coverage <= 1 and figures.rmse > 0 and figures.late <= figures.customers
    assert not any(c.booked for c in measured_customers(customers))
    assert "booked customers:" in format_report(report)


def test_a_relived_future_of_a_world_without_chance_is_the_one_lived():
    """GIVEN one counter with fixed service times and nobody who gives up or goes ahead
    WHEN each customer's wait is lived again from their arrival THEN it is the wait they
    had (only what is left to chance is drawn afresh), and watching changes nothing."""
    from dataclasses import replace

    pool = _pool("md1", 1, 0.9, customers=120)
    scenario = replace(pool, services=(replace(pool.services[0], service_dist="fixed"),))
    relived = []

    def watch(run, customer):
        relived.append((customer, run.relive(customer, customer.arrived, random.Random(7))))

    watched = simulate(scenario, seed=3, estimates=False, watch=watch)
    plain = simulate(scenario, seed=3, estimates=False)
    assert [c.wait for c in watched] == [c.wait for c in plain]
    waited = [(c.wait, again) for c, again in relived if c.wait]
    assert len(waited) > 40
    assert all(again == pytest.approx(wait) for wait, again in waited)


def test_a_relived_future_draws_the_staff_reaction_under_way_afresh():
    """GIVEN one counter with fixed service times, few customers and staff who take 2-20 s
    to call WHEN a customer who finds the counter idle is lived again THEN the call comes
    2-20 s after they came, drawn afresh each time (not the reaction this run drew: a
    perfect estimate cannot know it), and watching changes nothing."""
    from dataclasses import replace

    pool = _pool("md1", 1, 0.3, customers=150)
    scenario = replace(
        pool, services=(replace(pool.services[0], service_dist="fixed"),), reaction_s=(2.0, 20.0)
    )
    relived = []

    def watch(run, customer):
        if customer.arrived in run.reacting.values():  # the idle counter saw them come
            again = [run.relive(customer, customer.arrived, random.Random(k)) for k in range(12)]
            relived.append((customer, again))

    watched = simulate(scenario, seed=3, estimates=False, watch=watch)
    plain = simulate(scenario, seed=3, estimates=False)
    assert [c.wait for c in watched] == [c.wait for c in plain]
    assert len(relived) > 30
    for customer, again in relived:
        assert 2.0 <= customer.wait <= 20.0
        assert all(2.0 <= wait <= 20.0 for wait in again)
        assert len(set(again)) == len(again)
