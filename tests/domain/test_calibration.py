"""The rules that keep a calibrated interval honest (`calibration.floored` and `honest`)."""

from __future__ import annotations

import math
import random

import pytest

from nowserving.domain import calibration
from nowserving.domain.calibration import RAW_FLOOR, floored, honest
from nowserving.domain.estimate import Estimate, Estimator
from nowserving.domain.learning import Learner
from tests.domain.test_estimate import dedicated


def test_deep_in_a_long_line_the_printed_interval_holds_the_mean_and_is_wider():
    """GIVEN the case found in a long line: the model's own interval 4,760-5,196 s around a
    mean of 4,977 s (±2%), and factors for waits over an hour that narrow the high end (the
    prior's then: a = 0.101, b = -0.054) WHEN it is calibrated THEN the printed interval
    holds the mean well inside it and is wider than the model's on both sides, not the
    4,302-4,977 s printed before; the same through the estimator with today's prior."""
    mean, low, high, factors = 4977.0, 4760.0, 5196.0, (0.101, -0.054)
    before = (low * math.exp(-factors[0]), max(mean, high * math.exp(factors[1])))
    assert before == (pytest.approx(4302, abs=1), 4977)  # the defect: the mean as high end
    raw = floored(1000, mean, low, high)
    below, above = RAW_FLOOR["60m+"]
    assert raw == (pytest.approx(mean * math.exp(-below)), pytest.approx(mean * math.exp(above)))
    now = honest(mean, *raw, factors)
    assert now == (
        pytest.approx(raw[0] * math.exp(-0.101)),
        pytest.approx(raw[1] * math.exp(-0.054)),
    )
    assert now[0] < low and now[1] > high
    branch = dedicated(c1="a")
    printed = Estimator(branch, 0.0)._calibrated(Estimate(mean, low, high, 1000))
    assert (printed.raw_low, printed.raw_high) == raw  # what the event records as raw
    assert printed.low < low and printed.high > high and printed.low < mean < printed.high


def test_the_floor_acts_only_on_long_waits_narrower_than_the_worlds_ever_were():
    """A model interval at least as wide as RAW_FLOOR, or for a wait under 30 minutes, is
    kept as it is; a narrower one for 30 minutes or more is widened, each end on its own."""
    assert floored(1000, 1200.0, 1190.0, 1210.0) == (1190.0, 1210.0)  # 20 minutes
    wide = (3000 * math.exp(-0.3), 3000 * math.exp(0.3))
    assert floored(50, 3000.0, *wide) == wide
    low, high = floored(50, 3000.0, 2990.0, 3000 * math.exp(0.3))
    assert low == pytest.approx(3000 * math.exp(-RAW_FLOOR["30-60m"][0]))
    assert high == pytest.approx(3000 * math.exp(0.3))


def test_a_calibrated_interval_always_holds_the_mean_inside_it():
    """GIVEN any model interval around its mean and any factors a branch may learn (either
    end widened or narrowed) THEN the printed interval holds the mean strictly inside; it is
    the plain split-conformal one [low·e^-a, high·e^b] unless a narrowing factor would take an
    end more than halfway to the mean; and it only widens where the factors widen."""
    rng = random.Random(7)
    for _ in range(2000):
        mean = rng.uniform(10, 20_000)
        low, high = mean * math.exp(-rng.uniform(0.001, 1)), mean * math.exp(rng.uniform(0.001, 1))
        a, b = rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.6)
        lo, hi = honest(mean, low, high, (a, b))
        assert lo < mean < hi
        plain_low, plain_high = low * math.exp(-a), high * math.exp(b)
        assert lo == pytest.approx(plain_low if plain_low <= (low + mean) / 2 else (low + mean) / 2)
        assert hi == pytest.approx(
            plain_high if plain_high >= (high + mean) / 2 else (high + mean) / 2
        )
        if a >= 0 and b >= 0:
            assert (lo, hi) == (pytest.approx(plain_low), pytest.approx(plain_high))


def test_the_shipped_prior_keeps_a_floored_long_wait_clear_of_its_mean():
    """With the shipped prior's factors, an interval at the floor for a long wait prints
    each end at least 7% from the mean (the halfway rule is a guard for what a branch may
    learn, not needed by the prior)."""
    prior = calibration.Calibration.prior_only()
    for group, mean in (("30-60m", 45 * 60.0), ("60m+", 100 * 60.0)):
        assert calibration.stratum(0, mean) == group
        low, high = honest(mean, *floored(0, mean, mean, mean), prior.of(group))
        assert low < mean / 1.07 and high > mean * 1.07


def test_a_new_branch_widens_by_how_unsure_it_still_is_of_the_mean():
    """GIVEN a service's occupancies seen so far (CV about 0.6) WHEN a model interval is
    widened by how unsure the branch is of their mean THEN the widening is that of a mean
    learned from n customers (CV/√n), large after a dozen, small after hundreds and gone
    as n grows; with no spread seen nothing is added."""
    rng = random.Random(3)
    times = [300 * math.exp(rng.gauss(0, 0.55)) for _ in range(2000)]
    unsure = {n: calibration.unsure_of_mean(times[:n]) for n in (0, 12, 300, 2000)}
    assert unsure[0] == pytest.approx(1 / math.sqrt(5))  # nothing seen: the prior's 5
    assert unsure[12] == pytest.approx(0.6 / math.sqrt(12), rel=0.35)
    assert unsure[12] > unsure[300] > unsure[2000] and unsure[2000] < 0.02
    assert calibration.unsure_of_mean([300.0] * 40) == 0.0
    mean, low, high = 600.0, 400.0, 900.0
    for u in unsure.values():
        lo, hi = calibration.widened(mean, low, high, u)
        # Each end's log distance from the mean grows as sqrt(d² + (1.2816·u)²).
        assert math.log(mean / lo) == pytest.approx(math.hypot(math.log(1.5), 1.2816 * u))
        assert math.log(hi / mean) == pytest.approx(math.hypot(math.log(1.5), 1.2816 * u))
    assert calibration.widened(mean, low, high, 0.0) == (low, high)
    # A low end of 0 stays 0 (a free counter may call at once); the high end still widens.
    assert calibration.widened(mean, 0.0, high, 0.2)[0] == 0.0


def test_the_weighted_upper_quantile_is_the_smallest_value_past_its_share():
    """GIVEN values in parts of their own weight (own at 1, neighbours', the prior's), ties
    included WHEN the upper 10 % quantile is taken by bisection THEN it is the smallest
    value whose weight at or below it exceeds 90 % of the whole, as walking the merged
    values in order finds."""
    from nowserving.domain.calibration import upper_quantile

    rng = random.Random(7)
    for _ in range(500):
        parts = [
            (sorted(round(rng.gauss(centre, 1), 1) for _ in range(rng.randint(0, 40))), weight)
            for centre, weight in ((0, 1.0), (0.5, rng.choice([0.5, 1.0, 7.5])), (-0.3, 3.75))
        ]
        if not any(values for values, _ in parts):
            continue
        merged = sorted((v, w) for values, w in parts for v in values)
        total, running, walked = sum(w for _, w in merged), 0.0, merged[-1][0]
        for value, w in merged:
            running += w
            if running > 0.9 * total:
                walked = value
                break
        assert upper_quantile(parts, 0.10) == walked


def _misses(group: str, waits: list[float], low: float, high: float) -> list[tuple]:
    return [("d", math.log(low / w), math.log(w / high), group) for w in waits]


def test_a_skewed_short_wait_gets_the_narrowest_split_and_a_symmetric_one_the_even_split():
    """GIVEN the next in line whose waits are exponential (a counter's remaining time) and a
    model interval at their 10th and 90th percentiles, 3,000 of them (no prior) WHEN the
    group is calibrated THEN 80 % stay covered, fewer than 10 % but at least 2 % fall below,
    and the interval is at least a fifth narrower than the even split's; a wait whose
    spread is symmetric (a long wait, or a narrow one) keeps 10 % below and 10 % above."""
    rng = random.Random(3)
    waits = [rng.expovariate(1 / 100) for _ in range(3000)]
    low, high = 100 * -math.log(0.9), 100 * -math.log(0.1)
    fit = calibration.Calibration.fit(_misses("0", waits, low, high), 0.10, with_prior=False)
    a, b = fit.of("0")
    lo, hi = low * math.exp(-a), high * math.exp(b)
    below = sum(w < lo for w in waits) / len(waits)
    inside = sum(lo <= w <= hi for w in waits) / len(waits)
    assert inside == pytest.approx(0.80, abs=0.005)
    assert 0.015 < below < 0.09
    assert hi - lo < 0.8 * (high - low)
    # Symmetric in logs and narrow: the even split, as before.
    waits = [100 * math.exp(rng.gauss(0, 0.05)) for _ in range(3000)]
    low, high = 100 * math.exp(-0.064), 100 * math.exp(0.064)
    for group in ("1", "30-60m"):
        fit = calibration.Calibration.fit(_misses(group, waits, low, high), 0.10, False)
        a, b = fit.of(group)
        below = sum(w < low * math.exp(-a) for w in waits) / len(waits)
        above = sum(w > high * math.exp(b) for w in waits) / len(waits)
        assert below == pytest.approx(0.10, abs=0.005)
        assert above == pytest.approx(0.10, abs=0.005)


def test_a_thin_group_counts_its_neighbours_misses_and_priors_beside_its_own():
    """GIVEN a branch on its own days (no prior for groups with enough customers) whose one
    and three ahead were seen often and two ahead only 30 times WHEN it is calibrated THEN
    two ahead's factors are those of its own misses, its neighbours' and the three groups'
    prior (its own prior half of the PRIOR_WEIGHT, each neighbour's a quarter); one and
    three ahead, with enough of their own, use only their own misses; on day one every
    group leans on the prior so, and a group beyond 30 minutes (no neighbours) on its own
    prior alone, as before."""
    rng = random.Random(11)

    def misses(group: str, n: int, spread: float) -> list[tuple]:
        return [
            (f"d{i % 3}", rng.gauss(-1, spread), rng.gauss(-1, spread), group) for i in range(n)
        ]

    seen = misses("1", 400, 0.6) + misses("2", 30, 0.3) + misses("3", 350, 0.4)
    fit = calibration.Calibration.fit(seen, 0.10, with_prior=False)

    def side(group: str, at: int) -> list[float]:
        return sorted(m[at] for m in seen if m[3] == group)

    prior = {g: calibration.PRIOR[g] for g in ("1", "2", "3")}
    weight = calibration.PRIOR_WEIGHT / sum(
        len(prior[g][0]) * (1 if g == "2" else 0.5) for g in prior
    )
    parts = [
        [(side(g, at), 1.0) for g in ("2", "1", "3")]
        + [(sorted(prior[g][at - 1]), weight * (1 if g == "2" else 0.5)) for g in ("2", "1", "3")]
        for at in (1, 2)
    ]
    assert fit.of("2") == calibration._sharpest(*parts, 0.10, True)
    alone = calibration.Calibration.fit([m for m in seen if m[3] != "2"], 0.10, False)
    assert alone.of("1") == fit.of("1")  # enough of its own: no neighbours, no prior
    only_own = calibration._sharpest([(side("1", 1), 1.0)], [(side("1", 2), 1.0)], 0.10, True)
    assert fit.of("1") == only_own
    # With neighbours the thin group's factors differ from those of itself and its prior.
    own_weight = calibration.PRIOR_WEIGHT / len(prior["2"][0])
    lonely = calibration._sharpest(
        [(side("2", 1), 1.0), (sorted(prior["2"][0]), own_weight)],
        [(side("2", 2), 1.0), (sorted(prior["2"][1]), own_weight)],
        0.10,
        True,
    )
    assert fit.of("2") != lonely
    # Day one, nothing seen: three ahead from its prior and its neighbours' priors.
    first = calibration.Calibration.prior_only()
    near = [("3", 1.0), ("2", 0.5), ("4+ <30m", 0.5)]
    weight = calibration.PRIOR_WEIGHT / sum(len(calibration.PRIOR[g][0]) * w for g, w in near)
    expected = calibration._sharpest(
        *[[(sorted(calibration.PRIOR[g][at]), weight * w) for g, w in near] for at in (0, 1)],
        0.10,
        True,
    )
    assert first.of("3") == expected
    long = calibration.PRIOR["60m+"]
    assert first.of("60m+") == calibration._sharpest(
        [(sorted(long[0]), calibration.PRIOR_WEIGHT / len(long[0]))],
        [(sorted(long[1]), calibration.PRIOR_WEIGHT / len(long[1]))],
        0.10,
        False,
    )


def _spell_coverage(monkeypatch, step: float) -> tuple[float, Learner]:
    """Judge 1,000 customers whose waits the model's interval fits, then a spell of 300
    whose waits run twice as long, all on one business day, each printed interval made
    from the learner's factors at that moment; the share of the spell's printed intervals
    that held the wait."""
    monkeypatch.setattr(calibration, "PRIOR", {})
    monkeypatch.setattr(calibration, "DRIFT_STEP", step)
    rng = random.Random(7)
    learner = Learner(["a"])
    raw = [600 * math.exp(-1.2816 * 0.5), 600 * math.exp(1.2816 * 0.5)]  # its 80% interval
    held = []
    for i in range(1300):
        a, b = learner.calibration(5, 600)
        low, high = raw[0] * math.exp(-a), raw[1] * math.exp(b)
        wait = 600 * (2 if i >= 1000 else 1) * math.exp(rng.gauss(0, 0.5))
        estimate = {"raw": raw, "ahead": 5, "mean": 600, "low": low, "high": high}
        learner.judged(estimate, wait, "2026-11-23")
        if i >= 1000:
            held.append(low <= wait <= high)
    return sum(held) / len(held), learner


def test_the_drift_follows_a_spell_the_days_factors_cannot(monkeypatch):
    """GIVEN a model whose interval fits the waits, then a spell in which every wait runs
    twice as long WHEN each customer's printed interval is judged THEN the group's drift
    widens the next ones within the spell: of the spell's intervals far more hold the wait
    than with the factors alone (which are fitted from the whole day's misses), and the
    drift is kept by a snapshot and a copy; a judged estimate without its printed interval
    moves no drift; another group's is untouched."""
    step = calibration.DRIFT_STEP
    alone, _ = _spell_coverage(monkeypatch, 0.0)
    drifting, learner = _spell_coverage(monkeypatch, step)
    assert alone < 0.55
    assert drifting > 0.65
    assert learner.drift["4+ <30m"] > 0.3
    assert learner.calibration(1, 600) == (0.0, 0.0)
    again = Learner.from_dict(["a"], learner.to_dict())
    assert again.calibration(5, 600) == learner.calibration(5, 600)
    assert learner.copy().calibration(5, 600) == learner.calibration(5, 600)
    before = dict(learner.drift)
    learner.judged({"raw": [100.0, 200.0], "ahead": 5, "mean": 600}, 5000.0, "2026-11-23")
    assert learner.drift == before


def test_the_drift_stays_near_zero_where_the_printed_intervals_hold_four_in_five():
    """GIVEN printed intervals that miss exactly one wait in five WHEN 1,000 are judged THEN
    the drift ends where it began, within one step; it never passes DRIFT_CAP."""
    drift = 0.0
    for i in range(1000):
        drift = calibration.drifted(drift, missed=i % 5 == 0)
    assert abs(drift) < calibration.DRIFT_STEP
    for _ in range(1000):
        drift = calibration.drifted(drift, missed=True)
    assert drift == calibration.DRIFT_CAP
