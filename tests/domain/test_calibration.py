"""The rules that keep a calibrated interval honest (`calibration.floored` and `honest`)."""

from __future__ import annotations

import math
import random

import pytest

from nowserving.domain import calibration
from nowserving.domain.calibration import RAW_FLOOR, floored, honest
from nowserving.domain.estimate import Estimate, Estimator
from tests.domain.test_estimate import dedicated


def test_deep_in_a_long_line_the_printed_interval_holds_the_mean_and_is_wider():
    """GIVEN the case found in a long line: the model's own interval 4,760-5,196 s around a
    mean of 4,977 s (±2%), and the shipped prior's factors for waits over an hour (which
    narrow the high end) WHEN the estimator calibrates it THEN the printed interval holds
    the mean well inside it and is wider than the model's on both sides, not 4,302-4,977 s."""
    branch = dedicated(c1="a")
    a, b = branch.learner.calibration(1000, 4977.0)
    assert b < 0  # the prior narrows the high end of waits over an hour
    before = (4760 * math.exp(-a), max(4977, 5196 * math.exp(b)))
    assert before == (pytest.approx(4302, abs=1), 4977)  # the defect: the mean as high end
    printed = Estimator(branch, 0.0)._calibrated(Estimate(4977.0, 4760.0, 5196.0, 1000))
    assert printed.low < 4760 and printed.high > 5196
    below, above = RAW_FLOOR["60m+"]
    # The model's own, widened to the narrowest seen for such waits, is what is recorded.
    assert printed.raw_low == pytest.approx(4977 * math.exp(-below))
    assert printed.raw_high == pytest.approx(4977 * math.exp(above))
    assert printed.low == pytest.approx(printed.raw_low * math.exp(-a))
    assert printed.high == pytest.approx(printed.raw_high * math.exp(b))
    assert printed.high / printed.mean > 1.1 and printed.mean / printed.low > 1.2


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


def test_the_shipped_prior_never_brings_a_floored_long_wait_end_near_the_mean():
    """With the shipped prior's factors, an interval at the floor for a long wait is not
    narrowed halfway (the halfway rule is a guard for what a branch may learn)."""
    prior = calibration.Calibration.prior_only()
    for group, (below, above) in RAW_FLOOR.items():
        a, b = prior.of(group)
        assert below + a > below / 2 and above + b > above / 2
