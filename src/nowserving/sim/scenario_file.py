"""A branch's own day as a TOML scenario file (format in docs/estimates.md), read with the
shared config helper: every problem at once, each with its location."""

from __future__ import annotations

import math
from datetime import time
from pathlib import Path

from nowserving.config.branch import DEFAULT_PROFILE, read_call_profile
from nowserving.config.schema import Problems, Table, is_kind, read_toml, span
from nowserving.sim.world import (
    Curve,
    Scenario,
    SimBookings,
    SimCounter,
    SimService,
    curve_mean,
)

_SCENARIO_KEYS = (
    "name",
    "description",
    "opens",
    "closes",
    "days",
    "no_show_handling_minutes",
    "priority_boost_minutes",
    "staff_reaction_seconds",
    "no_show_after_recalls",
    "recall_interval_seconds",
)
_SERVICE_KEYS = (
    "id",
    "service_minutes",
    "service_distribution",
    "service_cv",
    "service_table",
    "arrivals_per_hour",
    "patience_minutes",
    "patience_curve",
    "priority_share",
    "last_ticket_at",
)
_BOOKING_KEYS = (
    "share", "lead_hours", "punctuality_minutes", "no_show", "slot_minutes", "per_hour",
)  # fmt: skip
_COUNTER_KEYS = ("id", "services", "breaks", "hours", "speed", "call_profile", "overflow_minutes")
SERVICE_DISTRIBUTIONS = ("lognormal", "exp", "fixed", "empirical")


def load_scenario(path: str | Path) -> Scenario:
    """Read a branch's own scenario from TOML (format in docs/estimates.md).

    Raise one ConfigError listing every problem, each with its location.
    """
    path = Path(path)
    return parse_scenario(read_toml(path), str(path), default_name=path.stem)


def parse_scenario(data: dict, source: str = "scenario", default_name: str = "") -> Scenario:
    """Validate an already-parsed scenario table (see `load_scenario`)."""
    p = Problems()
    root = Table(data, "", p, ("scenario", "services", "counters", "bookings"))
    head = root.table("scenario", _SCENARIO_KEYS, required=False)
    day = (head.clock("opens", time(9, 0)), head.clock("closes", time(17, 0)))
    opens, closes = _hour(day[0]), _hour(day[1])
    if closes <= opens:
        head.add("closes", "must be after opens")
    service_ids: set[str] = set()
    services = [_service(t, day, service_ids) for t in root.tables("services", _SERVICE_KEYS)]
    counter_ids: set[str] = set()
    counters = [
        _counter(t, service_ids, day, counter_ids) for t in root.tables("counters", _COUNTER_KEYS)
    ]
    served = {sid for c in counters for sid in c.services}
    for i, service in enumerate(services):
        if service and counters and service.id not in served:
            p.add(f"services[{i}]", f"no counter serves {service.id!r}, so no one would be called")
    recalls, interval, handling = _no_shows(head)
    scenario = Scenario(
        name=head.get("name", str, default_name),
        description=head.get("description", str, ""),
        services=tuple(s for s in services if s),
        counters=tuple(counters),
        customers=10**9,
        hours=closes - opens,
        days=head.number("days", 20, whole=True, at_least=1),
        no_show_handling_s=handling,
        priority_boost_s=head.number("priority_boost_minutes", 10, at_least=0) * 60,
        extra={"opens": opens},
        reaction_s=_reaction(head),
        recalls=recalls,
        recall_interval_s=interval,
        bookings=_bookings(root.optional_table("bookings", _BOOKING_KEYS)),
    )
    p.raise_if_any(source)
    return scenario


def _bookings(table: Table | None) -> SimBookings | None:
    """Customers who book (`[bookings]`, docs/estimates.md); None: nobody books."""
    if table is None:
        return None
    default = SimBookings()
    lead = _pair(
        table,
        "lead_hours",
        default.lead_hours,
        lambda a, b: 0 <= a <= b <= 24 * 60,
        "[shortest, longest] hours before the booked time, 0 <= shortest <= longest",
    )
    punctuality = _pair(
        table,
        "punctuality_minutes",
        default.punctuality_minutes,
        lambda a, b: -120 <= a <= 120 and 0 <= b <= 120,
        "[mean, sd] minutes from the booked time (< 0 early), each within 120",
    )
    return SimBookings(
        share=float(table.number("share", default.share, at_least=0, at_most=1)),
        lead_hours=lead,
        punctuality_minutes=punctuality,
        no_show=float(table.number("no_show", default.no_show, at_least=0, at_most=1)),
        slot_minutes=float(table.number("slot_minutes", default.slot_minutes, more_than=0,
                                        at_most=240)),
        per_hour=table.number("per_hour", None, whole=True, at_least=1),
    )  # fmt: skip


def _pair(table: Table, key: str, default: tuple[float, float], fits, what: str):
    """Two numbers `[a, b]` that `fits(a, b)`; else the problem is recorded (`what`)."""
    value = table.get(key, list, list(default))
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(is_kind(v, (int, float)) for v in value)
        or not fits(*value)
    ):
        table.add(key, f"must be {what}, not {value!r}")
        return default
    return float(value[0]), float(value[1])


def _no_shows(head: Table) -> tuple[int, float, float]:
    """(recalls, their interval in s, counter time on a customer who has gone in s)."""
    recalls = head.number("no_show_after_recalls", 0, whole=True, at_least=0, at_most=10)
    interval = head.number("recall_interval_seconds", None, more_than=0, at_most=3600)
    handling = head.number("no_show_handling_minutes", 1, at_least=0)
    with_recalls = "no_show_after_recalls" in head
    if with_recalls and "recall_interval_seconds" not in head:
        head.add("recall_interval_seconds", "is required with no_show_after_recalls")
    if "recall_interval_seconds" in head and not with_recalls:
        head.add("recall_interval_seconds", "is only used with no_show_after_recalls")
        interval = None
    if "no_show_handling_minutes" in head and with_recalls:
        head.add(
            "no_show_handling_minutes",
            "is not used with no_show_after_recalls (the recalls take the counter's time)",
        )
    return int(recalls), float(interval or 0.0), float(handling) * 60


def _reaction(head: Table) -> tuple[float, float]:
    """Staff reaction time: one number of seconds, or [shortest, longest] (uniform)."""
    value = head.get("staff_reaction_seconds", (int, float, list), 0)
    where = head.at("staff_reaction_seconds")
    values = value if isinstance(value, list) else [value, value]
    if (
        len(values) != 2
        or not all(is_kind(v, (int, float)) for v in values)
        or not 0 <= values[0] <= values[1] <= 3600
    ):
        head.problems.add(
            where, f"must be seconds from 0 to 3600, or [shortest, longest], not {value!r}"
        )
        return 0.0, 0.0
    return float(values[0]), float(values[1])


def _service(table: Table, day: tuple[time, time], seen: set[str]) -> SimService | None:
    sid = table.ident("id", seen)
    dist = table.choice(
        "service_distribution", SERVICE_DISTRIBUTIONS, "lognormal", what="distribution"
    )
    empirical = dist == "empirical"
    minutes = table.number("service_minutes", None, more_than=0, required=not empirical)
    if empirical and "service_minutes" in table:
        table.add("service_minutes", "is given by service_table with the empirical distribution")
    cv = table.number("service_cv", 0.6, more_than=0)
    if "service_cv" in table and dist != "lognormal":
        table.add("service_cv", 'is only used with service_distribution = "lognormal"')
    service_table: Curve = ()
    if empirical:
        service_table = _curve(table, "service_table", required=True, up_to_one=True)
    elif "service_table" in table:
        table.add("service_table", 'is only used with service_distribution = "empirical"')
    rates = _rates(table, _hour(day[1]) - _hour(day[0]))
    patience = table.number("patience_minutes", None, more_than=0)
    curve = _curve(table, "patience_curve")
    if patience is not None and "patience_curve" in table:
        table.add("patience_curve", "give patience_minutes or patience_curve, not both")
    share = table.number("priority_share", 0.0, at_least=0, at_most=1)
    cutoff = table.clock("last_ticket_at")
    if cutoff is not None and not day[0] < cutoff <= day[1]:
        table.add("last_ticket_at", f"must be within the day, {day[0]:%H:%M}-{day[1]:%H:%M}")
        cutoff = None
    mean_s = curve_mean(service_table) if empirical else (minutes or 0) * 60
    if sid is None or not mean_s or rates is None:
        return None
    return SimService(
        id=sid,
        mean_service_s=float(mean_s),
        service_dist=dist,
        service_cv=float(cv),
        arrivals_per_hour=rates,
        patience_s=None if patience is None else float(patience) * 60,
        priority_share=float(share),
        service_table=service_table,
        patience_curve=curve,
        last_ticket_h=None if cutoff is None else _hour(cutoff) - _hour(day[0]),
    )


def _curve(table: Table, key: str, *, required: bool = False, up_to_one: bool = False) -> Curve:
    """[[minutes, share], ...]: minutes rising, shares from 0 to 1 and never falling (and
    ending at 1 when `up_to_one`); returned in seconds."""
    value = table.need(key, list, []) if required else table.get(key, list, [])
    where = table.at(key)
    if key in table and not value and isinstance(table.data.get(key), list):
        table.problems.add(where, "must list at least one [minutes, share] point")
    points: list[tuple[float, float]] = []
    bad = False
    for i, point in enumerate(value):
        at = f"{where}[{i}]"
        if (
            not isinstance(point, list)
            or len(point) != 2
            or not all(is_kind(x, (int, float)) for x in point)
        ):
            table.problems.add(at, f"must be [minutes, share], not {point!r}")
            bad = True
            continue
        minutes, share = float(point[0]), float(point[1])
        last_minutes, last_share = points[-1] if points else (0.0, 0.0)
        if minutes <= last_minutes:
            table.problems.add(at, f"minutes must rise, from more than 0: {point[0]!r}")
            bad = True
        elif not last_share <= share <= 1:
            table.problems.add(at, f"share must be from {last_share:g} to 1: {point[1]!r}")
            bad = True
        points.append((minutes, share))
    if up_to_one and points and not bad and points[-1][1] != 1:
        table.problems.add(where, "the last share must be 1 (every customer is done by then)")
        bad = True
    return () if bad else tuple((m * 60, s) for m, s in points)


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
        pause = _within_day(table, f"breaks[{j}]", text, day, "a break must end after it starts")
        if pause:
            pauses.append(pause)
    hours = None
    if "hours" in table:
        hours = _within_day(table, "hours", table.data["hours"], day, "must close after it opens")
    speed = table.number("speed", 1.0, more_than=0, at_most=10)
    profile, overflow_s = read_call_profile(table, (DEFAULT_PROFILE, None))
    known = tuple(s for s in served if isinstance(s, str) and s in services)
    return SimCounter(cid or "?", known, tuple(pauses), float(speed), hours, profile, overflow_s)


def _within_day(
    table: Table, key: str, text: object, day: tuple[time, time], backwards: str
) -> tuple[float, float] | None:
    """A "10:00-12:45" span within the day, as hours from opening."""
    where = table.at(key)
    found = span(text, where, table.problems)
    if not found:
        return None
    if found[0] >= found[1]:
        table.problems.add(where, backwards)
    elif day[0] < day[1] and (found[0] < day[0] or found[1] > day[1]):
        table.problems.add(where, f"must be within the day, {day[0]:%H:%M}-{day[1]:%H:%M}")
    else:
        opens = _hour(day[0])
        return _hour(found[0]) - opens, _hour(found[1]) - opens
    return None


def _hour(t: time) -> float:
    return t.hour + t.minute / 60
