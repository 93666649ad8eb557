"""Accuracy of wait estimates over simulated customers, as in Ibrahim & Whitt (2009):
over customers who had to wait and were served, MAE, RMSE, ASE (mean squared error) and
RASE = ASE / (mean wait)², with 95% half-widths from 10 batch means; and for our interval,
how often the actual wait fell inside it (coverage) and its mean width."""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass, field, replace

from nowserving.domain.calibration import Z80
from nowserving.sim.engine import Customer

ESTIMATORS = ("ours", "naive", "QL", "QL_m", "LES", "HOL")
BATCHES = 10
T_975_9 = 2.262  # Student t, 9 degrees of freedom
DRAWS = 1000  # bootstrap draws of whole days, for the chance ranges
WIDTH_DRAWS = 200  # ... of the width ratio, which sorts each draw's customers
WIDTH_AIM = 1.3  # issue 22: mean width / the narrowest with the same coverage, per band
PERFECT_DRAWS = 200  # draws of waits for what a perfect interval's width ratio reads


@dataclass(frozen=True)
class Figure:
    """One measure of an estimator: its name, value and how it was made."""

    value: float
    half_width: float

    def __str__(self) -> str:
        return f"{self.value:.4g} ± {self.half_width:.2g}"


@dataclass(frozen=True)
class BookedFigures:
    """How our estimate did for the customers who checked in with a booking (their ticket's
    estimate counts from the booked time; on time or late, after the learning days)."""

    customers: int
    late: int  # of them, checked in after the window: walk-in tickets
    mean_wait: float
    mae: float
    rmse: float
    coverage: float  # share of waits inside our interval
    width: float  # our interval's mean width (s)
    bias: float  # (mean estimate - mean wait) / mean wait


@dataclass
class Report:
    """How good each estimator was on a scenario's customers."""

    scenario: str
    customers: int
    measured: int  # customers who waited and were served, after warm-up
    mean_wait: float
    by_estimator: dict[str, dict[str, Figure]]  # name -> MAE, RMSE, ASE, RASE
    rase_ratio: Figure | None  # ours / the oracle (QL, or QL_m with abandonment)
    oracle: str
    coverage: Figure
    width: float
    decile_bias: list[float]  # ours, (mean estimate - mean wait) / overall mean wait
    decile_half_width: list[float]  # ... its 95% half-width from 10 contiguous batches
    # Per hour of the day (by arrival, from opening): (hour, customers, coverage, bias as a
    # share of that hour's mean wait, the coverage's chance range from its days).
    hourly: list[tuple[int, int, float, float, tuple[float, float]]] = field(default_factory=list)
    # Customers who checked in with a booking, apart (the figures above are walk-ins').
    booked: BookedFigures | None = None


def _batches(values: list, n: int = BATCHES) -> list[list]:
    size = len(values) // n
    return [values[i * size : (i + 1) * size] for i in range(n)] if size else [values]


def _figure(per_batch: list[float]) -> Figure:
    if len(per_batch) < 2:
        return Figure(per_batch[0] if per_batch else math.nan, math.nan)
    return Figure(
        statistics.mean(per_batch),
        T_975_9 * statistics.stdev(per_batch) / math.sqrt(len(per_batch)),
    )


def measured_customers(customers: list[Customer], booked: bool = False) -> list[Customer]:
    """The customers the accuracy is measured on: served after waiting; walk-ins (the
    textbook estimators beside ours know no bookings), or with `booked` the customers who
    checked in with a booking (`booked_figures`)."""
    return [
        c
        for c in customers
        if not c.warmup
        and c.booked == booked
        and c.called is not None
        and not c.gone
        and c.wait > 0
        and c.estimate is not None
    ]


def booked_figures(customers: list[Customer]) -> BookedFigures | None:
    """Our estimate's accuracy for booked customers, apart from the walk-ins' (`evaluate`);
    None when none waited."""
    group = measured_customers(customers, booked=True)
    if not group:
        return None
    errors = [c.estimate["mean"] - c.wait for c in group]
    mean_wait = statistics.mean(c.wait for c in group)
    return BookedFigures(
        len(group),
        sum(1 for c in group if c.late),
        mean_wait,
        statistics.mean(abs(e) for e in errors),
        math.sqrt(statistics.mean(e * e for e in errors)),
        statistics.mean(c.estimate["low"] <= c.wait <= c.estimate["high"] for c in group),
        statistics.mean(c.estimate["high"] - c.estimate["low"] for c in group),
        statistics.mean(errors) / mean_wait,
    )


def format_booked(figures: BookedFigures) -> str:
    """`booked_figures` as a line."""
    return (
        f"  booked customers: {figures.customers:,} waited and were served ({figures.late:,} "
        f"checked in late), mean wait {figures.mean_wait:.3g} s: ours MAE {figures.mae:.4g} s, "
        f"RMSE {figures.rmse:.4g} s, coverage {figures.coverage:.1%}, "
        f"mean width {figures.width:.3g} s, bias {figures.bias:+.0%}"
    )


def evaluate(scenario: str, customers: list[Customer], abandonment: bool) -> Report:
    """Score every estimator on `customers` of `scenario`."""
    waited = measured_customers(customers)
    if len(waited) < BATCHES:
        raise ValueError(f"{scenario}: only {len(waited)} customers waited; run longer")
    mean_wait = statistics.mean(c.wait for c in waited)
    batches = _batches(waited)
    by_estimator: dict[str, dict[str, Figure]] = {}
    rase_batches: dict[str, list[float]] = {}
    for name in ESTIMATORS:
        mae, rmse, ase, rase = [], [], [], []
        for batch in batches:
            errors = [_predicted(c, name) - c.wait for c in batch]
            sq = statistics.mean(e * e for e in errors)
            mae.append(statistics.mean(abs(e) for e in errors))
            rmse.append(math.sqrt(sq))
            ase.append(sq)
            rase.append(sq / statistics.mean(c.wait for c in batch) ** 2)
        rase_batches[name] = rase
        by_estimator[name] = {
            "MAE": _figure(mae),
            "RMSE": _figure(rmse),
            "ASE": _figure(ase),
            "RASE": _figure(rase),
        }
    oracle = "QL_m" if abandonment else "QL"
    ratio = _figure(
        [o / q for o, q in zip(rase_batches["ours"], rase_batches[oracle], strict=True) if q > 0]
    )
    coverage = _figure([statistics.mean(map(_inside, batch)) for batch in batches])
    width = statistics.mean(c.estimate["high"] - c.estimate["low"] for c in waited)
    return Report(
        scenario,
        len(customers),
        len(waited),
        mean_wait,
        by_estimator,
        ratio,
        oracle,
        coverage,
        width,
        *_decile_bias(waited, mean_wait),
        _hourly(waited),
        booked_figures(customers),
    )


def _clusters(group: list, customer=lambda c: c) -> list[list]:
    """The group's customers by day, or by hour when they are all of one day: the units
    that are drawn again for a chance range (customers of one day share its queue and its
    spells, so they are not independent draws). `customer` finds an item's customer when
    the group holds something else (a customer and its hit, in `coverage_chance`)."""
    for key in (lambda c: c.day, lambda c: int(c.since_open // 3600)):
        parts: dict[int, list] = {}
        for item in group:
            parts.setdefault(key(customer(item)), []).append(item)
        if len(parts) > 1:
            return list(parts.values())
    return []


def _chance(clusters: list, stat, draws: int = DRAWS) -> tuple[float, float]:
    """The 95% range of `stat(picked clusters)` over `draws` draws of as many clusters,
    with replacement (a bootstrap over days); (nan, nan) with fewer than two clusters."""
    if len(clusters) < 2:
        return math.nan, math.nan
    rng = random.Random(0)  # the same ranges on every run
    values = sorted(stat(rng.choices(clusters, k=len(clusters))) for _ in range(draws))
    return values[int(0.025 * draws)], values[int(0.975 * draws) - 1]


def _inside(c: Customer) -> bool:
    return c.estimate["low"] <= c.wait <= c.estimate["high"]


def coverage_chance(group: list[Customer], inside: list[bool] | None = None) -> tuple[float, float]:
    """How far chance moves the group's coverage: its 95% range when its days are drawn
    again (docs/estimates.md, "Chance"). Of our interval, or of another whose hit for each
    customer is in `inside` (the world's own, in bench/replays.py)."""
    hits = list(zip(group, map(_inside, group) if inside is None else inside, strict=True))
    counts = [
        (sum(hit for _, hit in part), len(part)) for part in _clusters(hits, lambda pair: pair[0])
    ]
    return _chance(counts, lambda picked: sum(i for i, _ in picked) / sum(n for _, n in picked))


def format_chance(chance: tuple[float, float]) -> str:
    """' [a–b]': a coverage's chance range as the benches print it beside the coverage;
    nothing when there is none (one day, one hour)."""
    low, high = chance
    return "" if math.isnan(low) else f" [{low:.1%}–{high:.1%}]"


def _hourly(waited: list[Customer]) -> list[tuple[int, int, float, float, tuple[float, float]]]:
    """Coverage and bias of ours per hour of the day (pools, whose time is scaled, have
    all their customers in a few "hours" and are not meant to be read this way)."""
    hours: dict[int, list[Customer]] = {}
    for c in waited:
        hours.setdefault(int(c.since_open // 3600), []).append(c)
    result = []
    for hour in sorted(hours):
        group = hours[hour]
        covered = statistics.mean(map(_inside, group))
        mean_wait = statistics.mean(c.wait for c in group)
        bias = statistics.mean(c.estimate["mean"] - c.wait for c in group) / mean_wait
        result.append((hour, len(group), covered, bias, coverage_chance(group)))
    return result


def _decile_bias(waited: list[Customer], mean_wait: float) -> tuple[list[float], list[float]]:
    """Bias of our estimate in each tenth of the day (by arrival time within its day), and
    its half-width from 10 batches of that tenth's customers in time order (days apart:
    errors within a day go together, so single customers would understate it)."""
    days: dict[int, list[Customer]] = {}
    for c in waited:
        days.setdefault(c.day, []).append(c)
    tenths: list[list[float]] = [[] for _ in range(10)]
    for group in days.values():
        first, last = group[0].arrived, group[-1].arrived
        span = max(last - first, 1e-9)
        for c in group:
            tenths[min(9, int((c.arrived - first) / span * 10))].append(c.estimate["mean"] - c.wait)
    bias = [statistics.mean(t) / mean_wait if t else math.nan for t in tenths]
    half = [
        _figure([statistics.mean(b) / mean_wait for b in _batches(t)]).half_width
        if len(t) >= BATCHES
        else math.nan
        for t in tenths
    ]
    return bias, half


def format_report(report: Report) -> str:
    """The report as a text table."""
    lines = [
        f"{report.scenario}: {report.customers:,} customers, {report.measured:,} waited "
        f"and were served (mean wait {report.mean_wait:.3g} s)",
        f"  {'estimator':<8} {'MAE (s)':>16} {'RMSE (s)':>16} {'RASE':>18}",
    ]
    for name, figs in report.by_estimator.items():
        lines.append(f"  {name:<8} {figs['MAE']!s:>16} {figs['RMSE']!s:>16} {figs['RASE']!s:>18}")
    lines.append(f"  ours / {report.oracle} RASE: {report.rase_ratio}")
    lines.append(
        f"  80% interval: coverage {report.coverage.value:.1%} ± "
        f"{report.coverage.half_width:.1%}, mean width {report.width:.3g} s"
    )
    worst, tenth = max((abs(b), i) for i, b in enumerate(report.decile_bias) if not math.isnan(b))
    lines.append(
        "  bias per tenth of the day (% of mean wait): "
        + " ".join(f"{b:+.0%}" for b in report.decile_bias)
        + f"  (worst {worst:.0%} ± {report.decile_half_width[tenth]:.0%})"
    )
    if report.hourly and len(report.hourly) <= 24:
        lines.append(
            "  per hour from opening, coverage (bias): "
            + " ".join(f"{h}: {c:.0%} ({b:+.0%})" for h, _, c, b, _ in report.hourly)
        )
    if report.booked is not None:
        lines.append(format_booked(report.booked))
    return "\n".join(lines)


def format_day(customers: list[Customer]) -> str:
    """How the simulated days went for customers, per service (warm-up left out)."""
    by_service: dict[str, list[Customer]] = {}
    for c in customers:
        if not c.warmup:
            by_service.setdefault(c.service, []).append(c)
    lines = [
        f"  {'service':<12} {'customers':>9} {'mean wait':>10} {'90% waited under':>17} "
        f"{'gave up':>8} {'never called':>13}"
    ]
    for service, group in by_service.items():
        waits = sorted(c.wait for c in group if c.wait is not None and not c.gone)
        gone = sum(1 for c in group if c.gone)
        never = sum(1 for c in group if c.called is None)
        if waits:
            p90 = waits[min(len(waits) - 1, int(0.9 * len(waits)))]
            mean = statistics.mean(waits)
            lines.append(
                f"  {service:<12} {len(group):>9} {mean / 60:>9.1f}m {p90 / 60:>16.1f}m "
                f"{gone / len(group):>8.1%} {never / len(group):>13.1%}"
            )
    return "\n".join(lines)


# ----- what a customer meets: the figures per group (issue 22) ---------------------------

# Bands of our predicted wait (seconds) for sharpness: where intervals are too wide.
BANDS = ((0, 300), (300, 900), (900, 1800), (1800, 3600), (3600, 7200), (7200, math.inf))


@dataclass(frozen=True)
class Group:
    """How the estimators did for one group of customers (a service, a priority class, a
    number ahead, a day of the branch's life, a band of predicted wait)."""

    name: str
    customers: int
    mean_wait: float
    rmse: dict[str, float]  # estimator -> RMSE (s)
    coverage: float  # share of waits inside our interval
    below: float  # ... below its low end
    width: float  # our interval's mean width (s)
    narrowest: float  # the mean width of the narrowest interval with our coverage (s)
    bias: float  # ours: (mean estimate - mean wait) / mean wait
    zero: int  # intervals of 0-0, or from 0 with someone ahead, given to customers who waited
    # Chance ranges (95%, the group's days drawn again; "Chance" in docs/estimates.md):
    coverage_chance: tuple[float, float]
    # baseline -> ours' RMSE minus its (s) (services and priority classes only)
    rmse_chance: dict[str, tuple[float, float]]
    ratio_chance: tuple[float, float]  # of width / narrowest (bands of predicted wait only)
    # What a right interval's width / narrowest reads over as many customers: the median
    # and the 95th percentile (bands of predicted wait over WIDTH_AIM only; `perfect_ratio`).
    ratio_perfect: tuple[float, float] = (math.nan, math.nan)


def _narrowest(group: list[Customer], coverage: float) -> float:
    """The mean width of the narrowest interval that covers as many of `group` as ours:
    the better of a window around each customer's predicted mean that is the same for all
    ([mean + u, mean + v]) and one that scales with it ([mean·u, mean·v])."""
    need = max(1, math.ceil(coverage * len(group) - 1e-9))
    if need >= len(group):
        need = len(group)
    best = math.inf
    means = [max(c.estimate["mean"], 1e-9) for c in group]
    for values, scale in (
        (sorted(c.wait - m for c, m in zip(group, means, strict=True)), 1.0),
        (sorted(c.wait / m for c, m in zip(group, means, strict=True)), statistics.mean(means)),
    ):
        shortest = min(values[i + need - 1] - values[i] for i in range(len(values) - need + 1))
        best = min(best, shortest * scale)
    return best


def _predicted(c: Customer, estimator: str) -> float:
    return c.estimate["mean"] if estimator == "ours" else c.baselines[estimator]


def _rmse_chance(group: list[Customer]) -> dict[str, tuple[float, float]]:
    """Per baseline, the 95% range of ours' RMSE minus the baseline's over the group's days
    drawn again (from each day's sums of squared errors)."""
    sums = [
        (len(part), *(sum((_predicted(c, e) - c.wait) ** 2 for c in part) for e in ESTIMATORS))
        for part in _clusters(group)
    ]

    def difference(index: int):
        def stat(picked) -> float:
            n = sum(p[0] for p in picked)
            return math.sqrt(sum(p[1] for p in picked) / n) - math.sqrt(
                sum(p[index] for p in picked) / n
            )

        return stat

    return {e: _chance(sums, difference(i)) for i, e in enumerate(ESTIMATORS[1:], start=2)}


def _ratio(group: list[Customer]) -> float:
    """Our mean width over the narrowest with the same coverage (inf: nothing narrower)."""
    narrowest = _narrowest(group, statistics.mean(map(_inside, group)))
    width = statistics.mean(c.estimate["high"] - c.estimate["low"] for c in group)
    return width / narrowest if narrowest > 0 else math.inf


def perfect_ratio(group: list[Customer], draws: int = PERFECT_DRAWS) -> tuple[float, float]:
    """What the width ratio reads over `group` for an interval that is exactly right: each
    customer's wait drawn again from a law whose 10th and 90th percentiles are ours' ends
    (a lognormal; a normal cut at 0 where the low end is 0), ours' interval against those
    waits. The narrowest interval is found on the same customers it is judged on, so over
    a few dozen it reads well under a right interval's width: (median, 95th percentile) of
    `draws` draws, the ratio that the group's size alone makes (docs/estimates.md)."""
    rng = random.Random(0)
    laws = []
    for c in group:
        low, high = c.estimate["low"], c.estimate["high"]
        if low > 0 and high > low:
            laws.append((True, math.log(low * high) / 2, math.log(high / low) / (2 * Z80)))
        else:
            laws.append((False, (low + high) / 2, max(high - low, 1e-9) / (2 * Z80)))
    ratios = []
    for _ in range(draws):
        drawn = []
        for c, (log, middle, spread) in zip(group, laws, strict=True):
            wait = rng.gauss(middle, spread)
            while not log and wait < 0:
                wait = rng.gauss(middle, spread)
            wait = math.exp(wait) if log else wait
            drawn.append(replace(c, called=c.arrived + wait))
        ratios.append(_ratio(drawn))
    ratios.sort()
    return statistics.median(ratios), ratios[int(0.95 * draws) - 1]


def group_figures(
    name: str, group: list[Customer], sharpness: bool = False, losses: bool = False
) -> Group:
    """The figures of one group of measured customers (with `sharpness`, the chance range
    of its width ratio too: a band of predicted wait; with `losses`, that of ours' RMSE
    minus each baseline's: a service or priority class, whose losses the bench lists;
    otherwise `rmse_chance` is empty)."""
    mean_wait = statistics.mean(c.wait for c in group)
    rmse = {
        e: math.sqrt(statistics.mean((_predicted(c, e) - c.wait) ** 2 for c in group))
        for e in ESTIMATORS
    }
    inside = statistics.mean(map(_inside, group))
    width = statistics.mean(c.estimate["high"] - c.estimate["low"] for c in group)
    narrowest = _narrowest(group, inside)
    ratio_chance = (math.nan, math.nan)
    if sharpness:
        ratio_chance = _chance(
            _clusters(group), lambda picked: _ratio([c for p in picked for c in p]), WIDTH_DRAWS
        )
    return Group(
        name,
        len(group),
        mean_wait,
        rmse,
        inside,
        statistics.mean(c.wait < c.estimate["low"] for c in group),
        width,
        narrowest,
        statistics.mean(c.estimate["mean"] - c.wait for c in group) / mean_wait,
        sum(
            1
            for c in group
            if c.estimate["high"] <= 0 or (c.estimate["low"] <= 0 and c.estimate.get("ahead", 0))
        ),
        coverage_chance(group),
        _rmse_chance(group) if losses else {},
        ratio_chance,
        perfect_ratio(group)
        if sharpness and width > WIDTH_AIM * narrowest
        else (math.nan, math.nan),
    )


def day_of_life(day: int) -> str:
    """'day 1', 'day 2', 'day 3' or 'later': a branch's day counted from its first."""
    return f"day {day + 1}" if day < 3 else "later"


def _band(seconds: float) -> str:
    for low, high in BANDS:
        if low <= seconds < high:
            return f"{low // 60:g}-{high // 60:g} min" if high < math.inf else f"{low // 60:g}+ min"
    return "?"


def breakdown(customers: list[Customer]) -> dict[str, list[Group]]:
    """The figures per service, priority class, number ahead (0-5, then 6+), band of
    predicted wait and day of the branch's life (this one over every day, the learning
    days included; the others over the measured customers)."""
    measured = measured_customers(customers)
    every_day = [
        c
        for c in customers
        if c.called is not None
        and not c.gone
        and c.wait > 0
        and c.estimate is not None
        and not c.booked
    ]
    keys = {
        "service": (measured, lambda c: c.service),
        "priority class": (measured, lambda c: c.priority),
        "ahead": (measured, lambda c: str(min(6, c.estimate.get("ahead", 0)))),
        "predicted wait": (measured, lambda c: _band(c.estimate["mean"])),
        "day of life": (every_day, lambda c: day_of_life(c.day)),
    }
    result = {}
    for title, (group, key) in keys.items():
        groups: dict[str, list[Customer]] = {}
        for c in group:
            groups.setdefault(key(c), []).append(c)
        order = sorted(groups, key=lambda g: (len(g) if g[0].isdigit() else 0, g))
        if title == "predicted wait":
            order = [b for b in (_band(low) for low, _ in BANDS) if b in groups]
        sharp = title == "predicted wait"
        losses = title in ("service", "priority class")
        result[title] = [group_figures(g, groups[g], sharp, losses) for g in order]
    return result


def format_breakdown(groups: dict[str, list[Group]]) -> str:
    """The breakdown as text tables: RMSE of ours and every baseline, coverage, width."""
    lines = []
    for title, rows in groups.items():
        lines.append(
            f"  by {title}: n, mean wait (s), RMSE (s) "
            + " ".join(ESTIMATORS)
            + ", coverage (below), width (s) / narrowest, bias, 0-0"
        )
        for g in rows:
            rmse = " ".join(f"{g.rmse[e]:.0f}" for e in ESTIMATORS)
            ratio = g.width / g.narrowest if g.narrowest > 0 else math.inf
            lines.append(
                f"    {g.name:<14} {g.customers:>6} {g.mean_wait:>6.0f}  {rmse}  "
                f"{g.coverage:.1%} ({g.below:.1%})  {g.width:.0f} / {g.narrowest:.0f} "
                f"= {ratio:.2f}x  {g.bias:+.0%}  {g.zero}"
            )
    return "\n".join(lines)
