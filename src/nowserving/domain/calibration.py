"""How the branch corrects its intervals by how they have missed (split conformal
prediction, one side at a time), per group of estimates, from a shipped prior on day one.

The model's 80% interval is off in different ways for different customers: for the next
in line, the wait is one counter's remaining time and staff's reaction, whose spread a
model knows least; for someone far back, the sum of many times, where drift in the day
matters most. So misses are kept per *group* (`stratum`): an expected wait of 30-60
minutes, one over an hour, and under 30 minutes by the number ahead (0, 1, 2, 3, more).
For each group, a and b are the values exceeded by 10% of its misses on each side, and the
printed interval is [low·e^(-a), high·e^(b)].

A new branch has no misses of its own. It starts from `PRIOR`, the misses of the model's
own intervals in the simulator's bank days on their first days (made once by
`scripts/calibration_prior.py`, stored as quantiles per group), which count as
PRIOR_WEIGHT customers of each group. The branch's own customers join them as they are
served, so the correction moves from the prior's toward the branch's own with each
customer (after 300 of a group, half and half); once the branch has CALIBRATION_DAYS
days of its own, the prior is dropped for every group with at least STRATUM_FROM of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nowserving.domain.calibration_prior import PRIOR

PRIOR_WEIGHT = 300.0  # customers of a group the shipped prior counts as
STRATUM_FROM = 300  # a group's own misses needed to do without the prior
MINUTE = 60.0


def stratum(ahead: int, mean: float) -> str:
    """The group an estimate is calibrated in: by its expected wait from 30 minutes on,
    else by its number ahead up to 3, else one group."""
    if mean >= 60 * MINUTE:
        return "60m+"
    if mean >= 30 * MINUTE:
        return "30-60m"
    return str(max(0, ahead)) if ahead < 4 else "4+ <30m"


STRATA = ("0", "1", "2", "3", "4+ <30m", "30-60m", "60m+")


def upper_quantile(weighted: list[tuple[float, float]], share: float) -> float:
    """The value that `share` of the weight of (value, weight) pairs lies above."""
    ordered = sorted(weighted)
    total = sum(w for _, w in ordered)
    running = 0.0
    for value, weight in ordered:
        running += weight
        if running > (1 - share) * total:
            return value
    return ordered[-1][0]


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
        own: dict[str, list[tuple[float, float]]] = {}
        for miss in misses:
            own.setdefault(miss[3], []).append((miss[1], miss[2]))
        factors = {}
        for group in STRATA:
            seen = own.get(group, [])
            below = [(b, 1.0) for b, _ in seen]
            above = [(a, 1.0) for _, a in seen]
            prior = PRIOR.get(group)
            if prior is not None and (with_prior or len(seen) < STRATUM_FROM):
                lows, highs = prior
                below += [(b, PRIOR_WEIGHT / len(lows)) for b in lows]
                above += [(a, PRIOR_WEIGHT / len(highs)) for a in highs]
            if below:
                factors[group] = (upper_quantile(below, share), upper_quantile(above, share))
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
