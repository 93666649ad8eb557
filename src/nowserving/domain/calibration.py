"""How the branch corrects its intervals by how they have missed (split conformal
prediction, one side at a time), per group of estimates, from a shipped prior on day one.

The model's 80% interval is off in different ways for different customers: for the next
in line, the wait is one counter's remaining time and staff's reaction, whose spread a
model knows least; for someone far back, the sum of many times, where drift in the day
matters most. So misses are kept per *group* (`stratum`): an expected wait of 30-60
minutes, one over an hour, and under 30 minutes by the number ahead (0, 1, 2, 3, more).
For each group, a and b are the values exceeded by 10% of its misses on each side, and the
printed interval is [low·e^(-a), high·e^(b)]; below 30 minutes the 20% may be split
unevenly where that makes the interval narrower (`_sharpest`: a short wait is skewed, and
its equal-tailed interval was up to 1.45x the narrowest with the same coverage).

A new branch has no misses of its own. It starts from `PRIOR`, the misses of the model's
own intervals in the simulator's bank days on their first days (made once by
`scripts/calibration_prior.py`, stored as quantiles per group), which count as
PRIOR_WEIGHT customers of each group. The branch's own customers join them as they are
served, so the correction moves from the prior's toward the branch's own with each
customer (after 300 of a group, half and half); once the branch has CALIBRATION_DAYS
days of its own, the prior is dropped for every group with at least STRATUM_FROM of them.
While a group of one to three ahead leans on the prior, its NEIGHBOURS (one fewer and one
more ahead) lend it their own misses, counted as its own, and their prior's beside its
prior's (each at NEIGHBOUR_PRIOR the weight, the prior still PRIOR_WEIGHT customers in all):
a group seen a few dozen times in three days is no longer the prior's one group alone.

The factors move at fixed points, from whole days of misses: they cannot follow a spell
within a day (the first day's above all, which rests on the prior). So each group below
30 minutes (SHORT_GROUPS) also keeps a **drift** (adaptive conformal inference, Gibbs &
Candès 2021): after each judged customer it moves up by DRIFT_STEP·(1 − MISS_AIM) when
the printed interval missed the wait and down by DRIFT_STEP·MISS_AIM when it held it, and
both ends are stretched by it on top of the factors (`drifted`). Whatever the model and
factors do, the share of a group's printed intervals that miss stays near 20% over any
stretch of a few hundred customers; where they already do, the drift stays near 0.

Two rules keep a long wait's interval honest (`honest`). Deep in a long line the model's
own interval is a few percent wide (a sum of hundreds of times), far narrower than any it
made for waits of 30 minutes and more in the simulator's worlds, where the factors were
learned: there it is first widened to RAW_FLOOR, the narrowest 5% of the model's own in
those worlds, so the factors act on what they were learned on. And a factor that narrows
moves an end at most halfway to the mean: the printed interval always holds the model's
central estimate, never at its edge (before, a ±2% interval at 5,000 s narrowed by the
over-an-hour factor printed 4,302-4,977 s, the mean as its high end).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

from nowserving.domain.calibration_prior import PRIOR

PRIOR_WEIGHT = 300.0  # customers of a group the shipped prior counts as
STRATUM_FROM = 300  # a group's own misses needed to do without the prior
MINUTE = 60.0
# The narrowest a model interval is taken to be, per group, as (below, above) in log of the
# mean: log(mean / low) and log(high / mean). The 5th percentile of the model's own half
# widths for these groups on the first 3 days of the prior's worlds and seeds (30-60
# minutes: 0.135 / 0.122 of 726 customers; over an hour: 0.203 / 0.175 of 196;
# `scripts/calibration_prior.py` prints them). Below 30 minutes the model's width is kept.
Z80 = 1.2816  # the 90th percentile of a standard normal
RAW_FLOOR = {"30-60m": (0.13, 0.12), "60m+": (0.20, 0.17)}
# Below 30 minutes, a group's 20% of misses may be split unevenly between the two ends
# (`_sharpest`): at least SPLITS[0] below the low end (never a low end that only a freak
# wait falls under), the rest above: of those whose interval is within SPLIT_GAIN of the
# narrowest, the one nearest the even split.
SPLITS = (0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09)
SPLIT_GAIN = 0.02
SHORT_GROUPS = ("0", "1", "2", "3", "4+ <30m")  # the groups of waits under 30 minutes
# One to three ahead are thin groups in most branches (a few dozen customers in three days)
# and lean on the prior; while they do, the misses of the groups either side (one fewer
# and one more ahead) count beside their own, and the prior's of those groups beside
# theirs at NEIGHBOUR_PRIOR the weight (within the PRIOR_WEIGHT customers the prior counts
# as): a group's intervals are not made from a few dozen tail misses and one world set's
# quirks of one group (docs/estimates.md, "Prior and small groups").
NEIGHBOURS = {"1": ("0", "2"), "2": ("1", "3"), "3": ("2", "4+ <30m")}
NEIGHBOUR_PRIOR = 0.5
# The drift (log, both ends): DRIFT_STEP per miss of the printed interval less the share
# missed that is aimed at, bounded by DRIFT_CAP (e^1: at most 2.7x wider or narrower ends).
# 0.02 was chosen offline on the bench's nine bank worlds and branch-day (seeds 1-8, 6
# days; docs/estimates.md, "Day one and the spells of a day").
# Only waits under 30 minutes drift: a wait's miss is known when the customer is served, and
# for a longer wait that is too late to follow a spell (it widened the 30-60 minute band
# after its spells had passed: up to 1.5x the narrowest width in four worlds).
DRIFT_STEP = 0.02
DRIFT_CAP = 1.0
MISS_AIM = 0.20


def stratum(ahead: int, mean: float) -> str:
    """The group an estimate is calibrated in: by its expected wait from 30 minutes on,
    else by its number ahead up to 3, else one group."""
    if mean >= 60 * MINUTE:
        return "60m+"
    if mean >= 30 * MINUTE:
        return "30-60m"
    return str(max(0, ahead)) if ahead < 4 else "4+ <30m"


STRATA = ("0", "1", "2", "3", "4+ <30m", "30-60m", "60m+")


def floored(ahead: int, mean: float, low: float, high: float) -> tuple[float, float]:
    """A model interval widened, where it is narrower than RAW_FLOOR for its group, to
    [mean·e^(-below), mean·e^(above)] (each end on its own); otherwise as it is."""
    below, above = RAW_FLOOR.get(stratum(ahead, mean), (0.0, 0.0))
    return min(low, mean * math.exp(-below)), max(high, mean * math.exp(above))


def drifted(drift: float, missed: bool) -> float:
    """A group's drift after one more judged customer whose printed interval `missed` the
    wait (or held it): up by DRIFT_STEP·(1 − MISS_AIM) on a miss, down by
    DRIFT_STEP·MISS_AIM on a hit, within ±DRIFT_CAP."""
    step = DRIFT_STEP * ((1.0 if missed else 0.0) - MISS_AIM)
    return max(-DRIFT_CAP, min(DRIFT_CAP, drift + step))


def unsure_of_mean(occupancies, seen_as: int = 5) -> float:
    """How unsure the branch still is of a service's mean occupancy, as a relative
    standard error: the times' CV over √n (n its occupancies seen, at least `seen_as`, what
    the prior occupancy counts as; CV 1 until two are seen). The model draws its futures as
    if the times seen were the service's true ones; with a dozen seen the true mean may be
    a fifth off, and every time in a wait with it."""
    n = len(occupancies)
    if n < 2:
        return 1.0 / math.sqrt(seen_as)
    mean = sum(occupancies) / n
    if mean <= 0:
        return 0.0
    variance = sum((x - mean) ** 2 for x in occupancies) / (n - 1)
    return math.sqrt(variance) / mean / math.sqrt(max(n, seen_as))


def widened(mean: float, low: float, high: float, unsure: float) -> tuple[float, float]:
    """A model interval widened by `unsure` (a relative standard error of the mean it was
    drawn with): each end's distance from the mean, in logs, combined with that of a
    lognormal 10th/90th percentile of spread `unsure` (the two add as variances). It
    shrinks away as customers are seen (`unsure_of_mean`)."""
    if unsure <= 0 or mean <= 0:
        return low, high
    extra = (Z80 * unsure) ** 2
    below = math.log(mean / low) if low > 0 else math.inf
    above = math.log(high / mean) if high > mean else 0.0
    return (
        mean * math.exp(-math.sqrt(below**2 + extra)) if low > 0 else low,
        mean * math.exp(math.sqrt(above**2 + extra)),
    )


def honest(
    mean: float, low: float, high: float, factors: tuple[float, float]
) -> tuple[float, float]:
    """The printed ends of the model interval [low, high] around `mean`, given a group's
    factors (a, b): [low·e^(-a), high·e^(b)], except that an end a factor narrows moves at
    most halfway to the mean (and an end past the mean is taken as at it)."""
    a, b = factors
    low, high = min(low, mean), max(high, mean)
    return (
        min(low * math.exp(-a), (low + mean) / 2),
        max(high * math.exp(b), (high + mean) / 2),
    )


def upper_quantile(parts: list[tuple[list[float], float]], share: float) -> float:
    """The value that `share` of the weight lies above, of values given in `parts` as
    (sorted values, the weight of each): the smallest value v with the weight at or below v
    over (1 - share) of the whole, found by bisection (the server refits on its apply loop,
    over up to 10,000 misses: no sorting of pairs there)."""
    limit = (1 - share) * sum(weight * len(values) for values, weight in parts)

    def over(value: float) -> bool:
        return sum(weight * bisect.bisect_right(values, value) for values, weight in parts) > limit

    found = [
        values[i]
        for values, _ in parts
        if values
        for i in (_first(len(values), lambda i, v=values: over(v[i])),)
        if i < len(values)
    ]
    return min(found) if found else max(values[-1] for values, _ in parts if values)


def _first(n: int, holds) -> int:
    """The first index in range(n) where the monotone `holds` is true (n if none)."""
    low, high = 0, n
    while low < high:
        middle = (low + high) // 2
        if holds(middle):
            high = middle
        else:
            low = middle + 1
    return low


def _sharpest(below, above, share: float, split: bool) -> tuple[float, float]:
    """A group's factors (a, b) from its misses below and above (each `upper_quantile`'s
    parts: (sorted values, weight of each)):
    `share` of them past each end, or, where `split`, the split of the 2·share that gives
    the narrowest interval: for a skewed wait (the next in line at a counter whose times
    have a long tail) the equal-tailed 80% interval is up to 1.5x the shortest one. The
    width is judged in units of a typical model high end, e^b − r·e^(−a), with r the median
    model low ÷ high of the group (the sum of the two sides' medians, in logs). Of the
    splits within SPLIT_GAIN of the narrowest, the one nearest the even split is taken (the
    equal-tailed interval where it is that close): a far lower low end for a width that
    differs by a percent is chance, and costs coverage where the branch is not the
    worlds the prior was learned on."""
    a, b = (upper_quantile(side, share) for side in (below, above))
    if not split:
        return a, b
    r = math.exp(sum(upper_quantile(side, 0.5) for side in (below, above)))
    candidates = [(share, (a, b))] + [
        (low_share, (upper_quantile(below, low_share),
                     upper_quantile(above, 2 * share - low_share)))
        for low_share in SPLITS
    ]  # fmt: skip
    costs = [math.exp(b) - r * math.exp(-a) for _, (a, b) in candidates]
    narrowest = min(costs)
    return max(
        (low_share, factors)
        for (low_share, factors), cost in zip(candidates, costs, strict=True)
        if cost <= narrowest * (1 + SPLIT_GAIN)
    )[1]


_SORTED: dict[str, tuple] = {}  # group -> (PRIOR's entries used, (lows, highs) sorted)


def _prior_sorted(group: str) -> tuple[list[float], list[float]] | None:
    """The shipped prior's misses of `group`, sorted once (again if PRIOR is replaced); for
    a group with NEIGHBOURS, pooled with theirs, its own counted 1 / NEIGHBOUR_PRIOR times
    (so that one weight per value gives each neighbour's NEIGHBOUR_PRIOR the weight)."""
    entry = PRIOR.get(group)
    if entry is None:
        return None
    near = [PRIOR[other] for other in NEIGHBOURS.get(group, ()) if other in PRIOR]
    used = (entry, *near)
    cached = _SORTED.get(group)
    if (
        cached is None
        or len(cached[0]) != len(used)
        or any(a is not b for a, b in zip(cached[0], used, strict=True))
    ):
        copies = round(1 / NEIGHBOUR_PRIOR) if near else 1
        pooled = tuple(
            sorted([*side(entry)] * copies + [x for other in near for x in side(other)])
            for side in (lambda e: e[0], lambda e: e[1])
        )
        cached = _SORTED[group] = (used, pooled)
    return cached[1]


@dataclass(frozen=True)
class Calibration:
    """(a, b) per group: how far to stretch the low and high end of a model interval."""

    factors: dict[str, tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def prior_only(cls, share: float = 0.10) -> Calibration:
        """What a branch with no customers judged yet uses: the shipped prior alone."""
        return cls.fit([], share, with_prior=True)

    @classmethod
    def fit(cls, misses: list[tuple], share: float, with_prior: bool) -> Calibration:
        """From misses (day, log(low / wait), log(wait / high), group): each group's
        factors, with the prior counted beside its own misses where `with_prior` or
        where it has fewer than STRATUM_FROM."""
        below: dict[str, list[float]] = {}
        above: dict[str, list[float]] = {}
        for miss in misses:
            below.setdefault(miss[3], []).append(miss[1])
            above.setdefault(miss[3], []).append(miss[2])
        for sides in (below, above):
            for values in sides.values():
                values.sort()
        factors = {}
        for group in STRATA:
            own_below, own_above = below.get(group, []), above.get(group, [])
            below_parts, above_parts = [(own_below, 1.0)], [(own_above, 1.0)]
            prior = _prior_sorted(group)
            if prior is not None and (with_prior or len(own_below) < STRATUM_FROM):
                near = NEIGHBOURS.get(group, ())
                if near:  # the neighbours' own misses count as the group's own
                    below_parts, above_parts = (
                        [(sorted(x for g in (group, *near) for x in sides.get(g, ())), 1.0)]
                        for sides in (below, above)
                    )
                weight = PRIOR_WEIGHT / len(prior[0])  # the prior: PRIOR_WEIGHT customers
                below_parts.append((prior[0], weight))
                above_parts.append((prior[1], weight))
            if any(values for values, _ in below_parts):
                factors[group] = _sharpest(below_parts, above_parts, share, group in SHORT_GROUPS)
        return cls(factors)

    def of(self, group: str) -> tuple[float, float]:
        """The factors of `group` ((0, 0): nothing known)."""
        return self.factors.get(group, (0.0, 0.0))

    def to_dict(self) -> dict:
        """For a snapshot."""
        return {g: list(f) for g, f in self.factors.items()}

    @classmethod
    def from_dict(cls, data) -> Calibration:
        """What `to_dict` gave (an older snapshot's one pair: the prior instead)."""
        if not isinstance(data, dict):
            return cls.prior_only()
        return cls({g: (f[0], f[1]) for g, f in data.items()})
