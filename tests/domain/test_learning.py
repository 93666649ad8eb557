"""What the branch learns: occupancy, the abandonment rate, pauses."""

from __future__ import annotations

import math
import random

import pytest

from nowserving.domain.learning import PRIOR_OCCUPANCY_S, Learner


def test_mean_occupancy_starts_from_the_prior_and_then_follows_the_data():
    learner = Learner(["a"])
    assert learner.mean_occupancy("a") == PRIOR_OCCUPANCY_S
    for _ in range(10):
        learner.served("a", 60.0, 0.0)
    assert learner.mean_occupancy("a") == 60.0


def test_abandonment_rate_is_recovered_from_censored_no_shows():
    """GIVEN customers with exponential patience (θ = 1/600 s) called after uniform waits,
    seen only as "was there" or "had gone" WHEN fitted THEN θ is recovered within 10%."""
    rng = random.Random(3)
    theta = 1 / 600
    learner = Learner(["a"])
    for _ in range(2000):
        wait = rng.uniform(0, 1800)
        if rng.random() < -math.expm1(-theta * wait):
            learner.gone("a", 30.0, wait)
        else:
            learner.served("a", 200.0, wait)
    assert learner.abandonment_rate("a") == pytest.approx(theta, rel=0.1)


def test_no_no_shows_means_no_abandonment():
    learner = Learner(["a"])
    for _ in range(100):
        learner.served("a", 100.0, 500.0)
    assert learner.abandonment_rate("a") == 0.0


def test_pause_left_is_the_mean_excess_of_pauses_seen():
    learner = Learner(["a"])
    for seconds in (600, 1800, 2700):
        learner.paused_for(seconds)
    assert learner.pause_left(0) == pytest.approx(1700)
    assert learner.pause_left(1200) == pytest.approx((600 + 1500) / 2)


def test_snapshot_round_trip():
    learner = Learner(["a"])
    learner.arrived("a", "normal", 10.0)
    learner.served("a", 100.0, 50.0)
    learner.gone("a", 20.0, 900.0)
    learner.paused_for(600)
    copy = Learner.from_dict(["a"], learner.to_dict())
    assert copy.to_dict() == learner.to_dict()
    assert copy.abandonment_rate("a") == learner.abandonment_rate("a")


def test_a_configured_typical_time_is_the_prior():
    learner = Learner(["a"], priors={"a": 1200.0})
    assert learner.mean_occupancy("a") == 1200.0
    learner.served("a", 600.0, 0.0)
    assert learner.mean_occupancy("a") == (600 + 4 * 1200) / 5
