"""Simulation scenarios: the built-in textbook and branch cases, and a TOML format for a
branch to describe its own day (docs/estimates.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

from nowserving.config.schema import Problems, Table, read_toml, span


@dataclass(frozen=True)
class SimService:
    id: str
    mean_service_s: float
    service_dist: str = "exp"  # exp, lognormal, fixed
    service_cv: float = 1.0  # lognormal only
    # Arrivals per hour: one rate, or one per hour of the day from `start_hour`.
    arrivals_per_hour: tuple[float, ...] = (60.0,)
    arrival_dist: str = "M"  # M (Poisson), D (evenly spaced), H2 (bursty, SCV `arrival_scv`)
    arrival_scv: float = 4.0
    patience_s: float | None = None  # mean patience (exponential); None: nobody leaves
    priority_share: float = 0.0


@dataclass(frozen=True)
class SimCounter:
    id: str
    services: tuple[str, ...]
    # (start hour, end hour) spans in which the counter is paused; hours from day start.
    pauses: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    services: tuple[SimService, ...]
    counters: tuple[SimCounter, ...]
    customers: int = 20_000  # stop issuing after this many arrivals ...
    hours: float | None = None  # ... or after this many hours of a day (then a new day)
    days: int = 1
    no_show_handling_s: float = 0.0  # counter time spent on a customer who has gone
    priority_boost_s: float = 600.0
    warmup_s: float = 1000.0  # arrivals this early in a day are left out of the metrics
    learning_days: int = 0  # whole days left out while the branch first learns
    extra: dict = field(default_factory=dict)


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


_SCENARIO_KEYS = (
    "name",
    "description",
    "opens",
    "closes",
    "days",
    "no_show_handling_minutes",
    "priority_boost_minutes",
)
_SERVICE_KEYS = (
    "id",
    "service_minutes",
    "service_distribution",
    "service_cv",
    "arrivals_per_hour",
    "patience_minutes",
    "priority_share",
)
_COUNTER_KEYS = ("id", "services", "breaks")
SERVICE_DISTRIBUTIONS = ("lognormal", "exp", "fixed")


def load_scenario(path: str | Path) -> Scenario:
    """Read a branch's own scenario from TOML (format in docs/estimates.md).

    Raise one ConfigError listing every problem, each with its location.
    """
    path = Path(path)
    return parse_scenario(read_toml(path), str(path), default_name=path.stem)


def parse_scenario(data: dict, source: str = "scenario", default_name: str = "") -> Scenario:
    """Validate an already-parsed scenario table (see `load_scenario`)."""
    p = Problems()
    root = Table(data, "", p, ("scenario", "services", "counters"))
    head = root.table("scenario", _SCENARIO_KEYS, required=False)
    day = (head.clock("opens", time(9, 0)), head.clock("closes", time(17, 0)))
    opens, closes = _hour(day[0]), _hour(day[1])
    if closes <= opens:
        head.add("closes", "must be after opens")
    service_ids: set[str] = set()
    services = [
        _service(t, closes - opens, service_ids) for t in root.tables("services", _SERVICE_KEYS)
    ]
    counter_ids: set[str] = set()
    counters = [
        _counter(t, service_ids, day, counter_ids) for t in root.tables("counters", _COUNTER_KEYS)
    ]
    served = {sid for c in counters for sid in c.services}
    for i, service in enumerate(services):
        if service and counters and service.id not in served:
            p.add(f"services[{i}]", f"no counter serves {service.id!r}, so no one would be called")
    scenario = Scenario(
        name=head.get("name", str, default_name),
        description=head.get("description", str, ""),
        services=tuple(s for s in services if s),
        counters=tuple(counters),
        customers=10**9,
        hours=closes - opens,
        days=head.number("days", 20, whole=True, at_least=1),
        no_show_handling_s=head.number("no_show_handling_minutes", 1, at_least=0) * 60,
        priority_boost_s=head.number("priority_boost_minutes", 10, at_least=0) * 60,
        extra={"opens": opens},
    )
    p.raise_if_any(source)
    return scenario


def _service(table: Table, day_hours: float, seen: set[str]) -> SimService | None:
    sid = table.ident("id", seen)
    minutes = table.number("service_minutes", None, more_than=0, required=True)
    dist = table.choice(
        "service_distribution", SERVICE_DISTRIBUTIONS, "lognormal", what="distribution"
    )
    cv = table.number("service_cv", 0.6, more_than=0)
    if "service_cv" in table and dist != "lognormal":
        table.add("service_cv", 'is only used with service_distribution = "lognormal"')
    rates = _rates(table, day_hours)
    patience = table.number("patience_minutes", None, more_than=0)
    share = table.number("priority_share", 0.0, at_least=0, at_most=1)
    if sid is None or minutes is None or rates is None:
        return None
    return SimService(
        id=sid,
        mean_service_s=float(minutes) * 60,
        service_dist=dist,
        service_cv=float(cv),
        arrivals_per_hour=rates,
        patience_s=None if patience is None else float(patience) * 60,
        priority_share=float(share),
    )


def _rates(table: Table, day_hours: float) -> tuple[float, ...] | None:
    # One rate for the whole day, or one per hour from opening; hours past the end of the
    # list keep its last rate, but a list longer than the day is surely a mistake.
    value = table.need("arrivals_per_hour", (int, float, list))
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    where = table.at("arrivals_per_hour")
    rates = []
    for i, rate in enumerate(values):
        at = f"{where}[{i}]" if isinstance(value, list) else where
        if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0:
            table.problems.add(at, f"must be a number of customers, 0 or more, not {rate!r}")
        else:
            rates.append(float(rate))
    if not values:
        table.problems.add(where, "must list at least one rate")
    elif day_hours > 0 and len(values) > max(1, math.ceil(day_hours)):
        table.problems.add(
            where, f"lists {len(values)} hours, but the day has {math.ceil(day_hours)}"
        )
    return tuple(rates) if rates and len(rates) == len(values) else None


def _counter(
    table: Table, services: set[str], day: tuple[time, time], seen: set[str]
) -> SimCounter:
    cid = table.ident("id", seen)
    served = table.served("services", services)
    pauses = []
    for j, text in enumerate(table.get("breaks", list, [])):
        where = table.at(f"breaks[{j}]")
        pause = span(text, where, table.problems)
        if not pause:
            continue
        if pause[0] >= pause[1]:
            table.problems.add(where, "a break must end after it starts")
        elif day[0] < day[1] and (pause[0] < day[0] or pause[1] > day[1]):
            table.problems.add(where, f"must be within the day, {day[0]:%H:%M}-{day[1]:%H:%M}")
        else:
            opens = _hour(day[0])
            pauses.append((_hour(pause[0]) - opens, _hour(pause[1]) - opens))
    known = tuple(s for s in served if isinstance(s, str) and s in services)
    return SimCounter(cid or "?", known, tuple(pauses))


def _hour(t: time) -> float:
    return t.hour + t.minute / 60
