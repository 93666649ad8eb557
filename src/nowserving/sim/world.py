"""What a simulated branch is like: its services, counters and customers. Built-in
scenarios (`scenarios.py`) and a branch's own TOML file (`scenario_file.py`) both describe
a day with these; the engine (`engine.py`) lives it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# A table of points (x, share) of a distribution function, read as straight lines from
# (0, 0) through each point: service times (seconds, share done by then) or patience
# (seconds waited, share gone by then).
Curve = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class SimService:
    """A service as the simulator sees it: arrivals, service times, patience."""

    id: str
    mean_service_s: float
    service_dist: str = "exp"  # exp, lognormal, fixed, empirical
    service_cv: float = 1.0  # lognormal only
    # Arrivals per hour: one rate, or one per hour of the day from `start_hour`.
    arrivals_per_hour: tuple[float, ...] = (60.0,)
    arrival_dist: str = "M"  # M (Poisson), D (evenly spaced), H2 (bursty, SCV `arrival_scv`)
    arrival_scv: float = 4.0
    patience_s: float | None = None  # mean patience (exponential); None: nobody leaves
    priority_share: float = 0.0
    service_table: Curve = ()  # "empirical": (seconds, share of customers done by then)
    # Patience as a curve (seconds waited, share gone by then), instead of `patience_s`;
    # beyond its last point nobody more leaves (the share levels off).
    patience_curve: Curve = ()
    last_ticket_h: float | None = None  # hours after opening when tickets stop

    @property
    def abandons(self) -> bool:
        """Whether its customers give up waiting."""
        return self.patience_s is not None or bool(self.patience_curve)

    def abandonment_rate(self) -> float:
        """θ for the QL_m baseline: the true one for exponential patience; for a curve, the
        constant rate that loses the same share by the curve's last point."""
        if self.patience_s is not None:
            return 1 / self.patience_s
        if self.patience_curve:
            seconds, share = self.patience_curve[-1]
            return -math.log(max(1e-9, 1 - share)) / seconds
        return 0.0


@dataclass(frozen=True)
class SimCounter:
    """A counter as the simulator sees it: services, profile, speed, hours."""

    id: str
    services: tuple[str, ...]
    # (start hour, end hour) spans in which the counter is paused; hours from day start.
    pauses: tuple[tuple[float, float], ...] = ()
    speed: float = 1.0  # 1.25: a customer takes 1/1.25 of the service's time here
    hours: tuple[float, float] | None = None  # open from, until (hours from day start)
    profile: str = "longest_wait"
    overflow_s: float | None = None


@dataclass(frozen=True)
class SimBookings:
    """Customers who book: a `share` of each service's demand books a time instead of
    walking in (the time they would have come, rounded up to the next `slot_minutes`),
    `lead_hours` (uniform between the two) before it, or at the day's opening when that
    is earlier; they come `punctuality_minutes` (normal: mean, sd; < 0 early) from the
    booked time, or not at all with probability `no_show`, and check in at the kiosk as in
    the real flow (too early: they come back when the window opens). `per_hour`: each
    service's bookable capacity per hour (the branch config's `bookings_per_hour`; None:
    no cap); a customer who finds their hour full walks in when they would have come."""

    share: float = 0.3
    lead_hours: tuple[float, float] = (0.5, 48.0)
    punctuality_minutes: tuple[float, float] = (-5.0, 6.0)
    no_show: float = 0.1
    slot_minutes: float = 10.0
    per_hour: int | None = None


@dataclass(frozen=True)
class Scenario:
    """A simulated branch: services, counters, days, and how customers behave."""

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
    # Staff take this long (uniform between the two) from being free to the next call.
    reaction_s: tuple[float, float] = (0.0, 0.0)
    # A called customer who has gone is recalled this many times, `recall_interval_s`
    # apart, and marked no-show one interval after the last (0: `no_show_handling_s`).
    recalls: int = 0
    recall_interval_s: float = 0.0
    bookings: SimBookings | None = None  # customers who book a time (None: all walk in)

    @property
    def abandonment(self) -> bool:
        """Whether any service's customers give up waiting."""
        return any(s.abandons for s in self.services)

    @property
    def opens_h(self) -> float:
        """The local hour the day opens (UTC in the simulator)."""
        return self.extra.get("opens", 9.0)


def curve_mean(curve: Curve) -> float:
    """The mean of a distribution given as a curve of (x, share) points from (0, 0)."""
    total, last_x, last_p = 0.0, 0.0, 0.0
    for x, p in curve:
        total += (last_x + x) / 2 * (p - last_p)
        last_x, last_p = x, p
    return total


def curve_inverse(curve: Curve, u: float) -> float:
    """The x at which the curve reaches share `u` (inf beyond its last share)."""
    last_x, last_p = 0.0, 0.0
    for x, p in curve:
        if u < p:
            return last_x + (x - last_x) * (u - last_p) / (p - last_p)
        last_x, last_p = x, p
    return math.inf
