"""Simulation scenarios: the built-in textbook and branch cases (a branch describes its
own day in a TOML file: `scenario_file.py`, docs/estimates.md)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from nowserving.sim.scenario_file import load_scenario, parse_scenario
from nowserving.sim.world import Scenario, SimBookings, SimCounter, SimService, curve_mean

__all__ = [
    "SCENARIOS",
    "Scenario",
    "SimBookings",
    "SimCounter",
    "SimService",
    "load_scenario",
    "parse_scenario",
]


def _pool(
    name: str,
    s: int,
    rho: float,
    arrival: str = "M",
    patience: float | None = None,
    customers: int = 200_000,
    description: str = "",
) -> Scenario:
    mean = 10.0  # seconds: time is scaled so days hold many customers
    rate = rho * s / mean * 3600
    service = SimService("q", mean, "exp", 1.0, (rate,), arrival, 4.0, patience)
    return Scenario(
        name,
        description or f"{arrival}/M/{s}, ρ = {rho}",
        (service,),
        tuple(SimCounter(f"c{i}", ("q",)) for i in range(s)),
        customers=customers,
        days=20,
    )


def _branch_day(
    name: str,
    description: str,
    *,
    pauses: bool,
    priorities: float,
    patience: float | None,
    lognormal: bool,
) -> Scenario:
    # A bank day, 09:00-17:00: morning and lunch peaks, five services on six counters
    # with overlapping skills (as in the example branch).
    peak = (0.7, 1.2, 1.0, 0.9, 1.4, 1.3, 0.9, 0.6)

    def rates(per_hour: float) -> tuple[float, ...]:
        return tuple(per_hour * f for f in peak)

    dist = "lognormal" if lognormal else "exp"
    services = (
        SimService(
            "cash", 240, dist, 0.6, rates(26), patience_s=patience, priority_share=priorities
        ),
        SimService(
            "accounts", 540, dist, 0.6, rates(8), patience_s=patience, priority_share=priorities
        ),
        SimService(
            "loans", 1200, dist, 0.5, rates(2), patience_s=patience, priority_share=priorities
        ),
        SimService(
            "wealth", 900, dist, 0.5, rates(2.5), patience_s=patience, priority_share=priorities
        ),
        SimService(
            "business", 480, dist, 0.6, rates(5), patience_s=patience, priority_share=priorities
        ),
    )
    lunch = ((3.0, 3.75),) if pauses else ()
    late_lunch = ((3.75, 4.5),) if pauses else ()
    counters = (
        SimCounter("c1", ("cash",), lunch),
        SimCounter("c2", ("cash", "accounts"), late_lunch),
        SimCounter("c3", ("accounts", "cash"), lunch),
        SimCounter("c4", ("business", "cash"), late_lunch),
        SimCounter("c5", ("loans", "wealth")),
        SimCounter("c6", ("wealth", "loans", "accounts"), lunch),
    )
    return Scenario(
        name,
        description,
        services,
        counters,
        customers=10**9,
        hours=8.0,
        days=40,
        no_show_handling_s=60.0 if patience else 0.0,
        warmup_s=0.0,
        learning_days=1,
    )


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        _pool("mm100-90", 100, 0.90),
        _pool("mm100-95", 100, 0.95),
        _pool("mm100-98", 100, 0.98),
        _pool("dm100-95", 100, 0.95, "D"),
        _pool("h2m100-95", 100, 0.95, "H2"),
        _pool("mm5-85", 5, 0.85),
        _pool(
            "mm100-95-abandon",
            100,
            0.95,
            patience=10.0,
            description="M/M/100+M, ρ = 0.95, mean patience = mean service time",
        ),
        _pool(
            "mm100-lognormal",
            100,
            0.95,
            customers=200_000,
            description="M/LN/100, ρ = 0.95, lognormal service, CV 1.5",
        ),
        _branch_day(
            "branch-day",
            "a bank day with morning and lunch peaks, 5 services, "
            "6 counters with overlapping skills, lognormal service times",
            pauses=False,
            priorities=0.0,
            patience=None,
            lognormal=True,
        ),
        _branch_day(
            "branch-full",
            "the bank day with lunch breaks, 10% priority customers "
            "and customers who give up (no-shows)",
            pauses=True,
            priorities=0.10,
            patience=2400.0,
            lognormal=True,
        ),
    )
}
# A day of time-varying arrivals with abandonment: 8 "hours" whose load goes from
# ρ = 0.8 to an overloaded 1.1 and back (time is scaled as in the pools).
_rates = tuple(r * 100 / 10.0 * 3600 for r in (0.8, 0.95, 1.05, 1.1, 1.0, 0.9, 1.0, 0.85))
SCENARIOS["mtm100-abandon"] = Scenario(
    "mtm100-abandon",
    "M_t/M/100+M: hourly load 0.8 → 1.1 → 0.85, mean patience = mean service time",
    (SimService("q", 10.0, "exp", 1.0, _rates, "M", 4.0, 10.0),),
    tuple(SimCounter(f"c{i}", ("q",)) for i in range(100)),
    customers=10**9,
    hours=8.0,
)
# The lognormal pool differs from mm100-95 only in its service time distribution.
_ln = SCENARIOS["mm100-lognormal"]
SCENARIOS["mm100-lognormal"] = Scenario(
    _ln.name,
    _ln.description,
    (SimService("q", 10.0, "lognormal", 1.5, _ln.services[0].arrivals_per_hour),),
    _ln.counters,
    customers=_ln.customers,
)


# ----- bank days whose world is not what the estimator assumes -----------------------
# Each changes one thing of `branch-full` (lunch breaks, 10% priority customers,
# customers who give up); `bank-whole` changes them all at once, on a larger branch.


def _varied(name: str, description: str, **changes) -> Scenario:
    base = SCENARIOS["branch-full"]
    return replace(base, name=name, description=description, **changes)


_full = SCENARIOS["branch-full"]
_heavy_loans = ((480.0, 0.1), (900.0, 0.5), (1500.0, 0.8), (2700.0, 0.95), (5400.0, 1.0))
_patience_curve = ((300.0, 0.03), (900.0, 0.12), (1800.0, 0.22), (3600.0, 0.3))
for _scenario in (
    _varied(
        "bank-heavy-tail",
        "the full bank day with heavy-tailed service times: lognormal with CV 1.5, and "
        "loans from a table with a long tail (10% over 40 minutes)",
        services=tuple(
            replace(
                s,
                service_dist="empirical",
                service_table=_heavy_loans,
                mean_service_s=curve_mean(_heavy_loans),
            )
            if s.id == "loans"
            else replace(s, service_cv=1.5)
            for s in _full.services
        ),
    ),
    _varied(
        "bank-uneven",
        "the full bank day with counters of unequal speed (0.7-1.5) and staff who take "
        "2-20 s from a free counter to the next call",
        counters=tuple(
            replace(c, speed=speed)
            for c, speed in zip(_full.counters, (1.5, 0.7, 1.0, 1.2, 0.8, 1.1), strict=True)
        ),
        reaction_s=(2.0, 20.0),
    ),
    _varied(
        "bank-patience",
        "the full bank day with patience that is not exponential (30% have gone after an "
        "hour, and no more after that) and no-shows recalled twice, 30 s apart",
        services=tuple(
            replace(s, patience_s=None, patience_curve=_patience_curve) for s in _full.services
        ),
        recalls=2,
        recall_interval_s=30.0,
    ),
    _varied(
        "bank-skills",
        "the full bank day with strict skill order: every counter serves its first listed "
        "service first (in_order)",
        counters=tuple(replace(c, profile="in_order") for c in _full.counters),
    ),
):
    SCENARIOS[_scenario.name] = _scenario

# ----- one-counter lines (issue 22) ---------------------------------------------------
# A service served first by a single `in_order` counter, with long and variable service
# times and demand near that counter's capacity: its line grows through the day, and
# only that counter's pace (and its overflow to its other lines) sets the wait.


def _advice(name: str, description: str, minutes: float, cv: float, load: float) -> Scenario:
    peak = (0.7, 1.2, 1.0, 0.9, 1.4, 1.3, 0.9, 0.6)
    mean_peak = sum(peak) / len(peak)

    def rates(per_hour: float) -> tuple[float, ...]:
        return tuple(per_hour * f / mean_peak for f in peak)

    services = tuple(
        replace(s, arrivals_per_hour=rates(per_hour))
        for s, per_hour in zip(
            (
                SimService("cash", 240, "lognormal", 0.6, patience_s=2400.0, priority_share=0.1),
                SimService("accounts", 540, "lognormal", 0.6, patience_s=2400.0),
                # the one-counter lines: `adv` serves advice first, `biz` business first
                SimService("advice", minutes * 60, "lognormal", cv, priority_share=0.1),
                SimService("business", 900, "lognormal", 0.7),
            ),
            (
                20 * mean_peak,
                7 * mean_peak,
                load * 60 / minutes * 1.1,  # `adv` is 10% faster than average
                0.95 * 60 / 15,
            ),
            strict=True,
        )
    )
    counters = (
        # helpers: each serves the one-counter line when its own first line is empty
        SimCounter("c1", ("cash", "business"), ((3.0, 3.75),), profile="in_order"),
        SimCounter("c2", ("cash", "accounts"), ((3.75, 4.5),)),
        SimCounter("c3", ("accounts", "advice", "cash"), ((3.0, 3.75),), profile="in_order"),
        SimCounter("adv", ("advice", "accounts"), profile="in_order", speed=1.1),
        SimCounter("biz", ("business", "cash"), profile="in_order"),
    )
    return Scenario(
        name,
        description,
        services,
        counters,
        customers=10**9,
        hours=8.0,
        days=40,
        no_show_handling_s=60.0,
        warmup_s=0.0,
        learning_days=1,
        reaction_s=(2.0, 20.0),
    )


for _scenario in (
    _advice(
        "bank-advice",
        "a bank day whose advice line is served first by one in_order counter (lognormal, "
        "mean 20 min, CV 0.6, load 1.0 on it) and whose business line likewise (15 min, "
        "CV 0.7, load 0.95); a counter whose own line is empty helps each",
        20.0,
        0.6,
        1.0,
    ),
    _advice(
        "bank-advice-long",
        "the advice day with longer, more variable advice (lognormal, mean 25 min, CV 0.8) "
        "at the counter's full capacity (load 1.0)",
        25.0,
        0.8,
        1.0,
    ),
):
    SCENARIOS[_scenario.name] = _scenario

# The example file of a whole branch's day, as it is shipped (docs/estimates.md).
_whole = load_scenario(Path(__file__).parent.parent / "examples" / "whole-branch-scenario.toml")
SCENARIOS["bank-whole"] = replace(_whole, name="bank-whole", warmup_s=0.0, learning_days=1, days=40)

# ----- bookings (issue 25) ----------------------------------------------------------------
# The full bank day where 30% of each service's customers book the next 10-minute slot from
# when they would have come, 0.5-48 hours ahead, come 5 minutes early on average (sd 6) and
# miss 10% of their bookings; they check in at the kiosk as in the real flow.
# `without_bookings` gives the same demand (the same arrival instants) all walking in.
SCENARIOS["bank-bookings"] = _varied(
    "bank-bookings",
    "the full bank day with 30% of customers booking a time (10-minute slots, 5 min early "
    "on average, 10% booking no-shows)",
    bookings=SimBookings(),
)


def without_bookings(scenario: Scenario) -> Scenario:
    """The same demand (the same arrival instants) with every customer walking in."""
    if scenario.bookings is None:
        return scenario
    return replace(scenario, bookings=replace(scenario.bookings, share=0.0))
