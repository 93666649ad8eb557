"""Simulation scenarios: the built-in textbook and branch cases, and a TOML format for a
branch to describe its own day (docs/estimates.md)."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from nowserving.errors import ConfigError


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


def load_scenario(path: str | Path) -> Scenario:
    """Read a branch's own scenario from TOML (format in docs/estimates.md)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError([str(err)], str(path)) from err
    problems: list[str] = []
    head = data.get("scenario", {})
    services = []
    for i, s in enumerate(data.get("services", [])):
        where = f"services[{i}]"
        try:
            rates = s["arrivals_per_hour"]
            rates = tuple(float(r) for r in (rates if isinstance(rates, list) else [rates]))
            services.append(
                SimService(
                    id=str(s["id"]),
                    mean_service_s=float(s["service_minutes"]) * 60,
                    service_dist=s.get("service_distribution", "lognormal"),
                    service_cv=float(s.get("service_cv", 0.6)),
                    arrivals_per_hour=rates,
                    patience_s=(
                        float(s["patience_minutes"]) * 60 if "patience_minutes" in s else None
                    ),
                    priority_share=float(s.get("priority_share", 0.0)),
                )
            )
            if services[-1].service_dist not in ("exp", "lognormal", "fixed"):
                problems.append(f"{where}.service_distribution: exp, lognormal or fixed")
        except (KeyError, TypeError, ValueError) as err:
            problems.append(f"{where}: {err!r} (needs id, service_minutes, arrivals_per_hour)")
    ids = {s.id for s in services}
    counters = []
    for i, c in enumerate(data.get("counters", [])):
        where = f"counters[{i}]"
        served = tuple(c.get("services", []))
        for sid in served:
            if sid not in ids:
                problems.append(f"{where}.services: unknown service {sid!r}")
        pauses = []
        for span in c.get("breaks", []):
            try:
                start, end = (
                    _hours(t) - _hours(head.get("opens", "09:00")) for t in span.split("-")
                )
                pauses.append((start, end))
            except ValueError:
                problems.append(f'{where}.breaks: {span!r} is not like "12:00-12:45"')
        counters.append(SimCounter(str(c.get("id", f"c{i}")), served, tuple(pauses)))
    if not services:
        problems.append("services: at least one [[services]] table is needed")
    if not counters:
        problems.append("counters: at least one [[counters]] table is needed")
    if problems:
        raise ConfigError(problems, str(path))
    opens, closes = _hours(head.get("opens", "09:00")), _hours(head.get("closes", "17:00"))
    return Scenario(
        name=str(head.get("name", path.stem)),
        description=str(head.get("description", "")),
        services=tuple(services),
        counters=tuple(counters),
        customers=10**9,
        hours=closes - opens,
        days=int(head.get("days", 20)),
        no_show_handling_s=float(head.get("no_show_handling_minutes", 1.0)) * 60,
        priority_boost_s=float(head.get("priority_boost_minutes", 10)) * 60,
        extra={"opens": opens},
    )


def _hours(text: str) -> float:
    hour, minute = text.strip().split(":")
    value = int(hour) + int(minute) / 60
    if not 0 <= value < 24 or math.isnan(value):
        raise ValueError(text)
    return value
