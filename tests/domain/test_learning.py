"""What the branch learns: occupancy, the abandonment rate, pauses."""

from __future__ import annotations

import math
import random
from datetime import time

import pytest

from nowserving.domain import calibration
from nowserving.domain.learning import PRIOR_OCCUPANCY_S, REACTION_WINDOW, Learner, day_clock


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


def test_a_quiet_services_patience_is_refitted_at_each_call_until_it_has_fifty():
    """GIVEN a quiet service whose first calls are customers called at once and one
    no-show after 300 s (fitted on that alone: a patience of minutes) WHEN 30 more are
    served after 10 minutes in line each THEN θ is refitted at each call, the fit of all
    its calls (not the first handful's, kept until the 50th call: every waiting customer
    was taken for gone, issue 22); a service nobody left keeps θ = 0; a snapshot keeps it."""
    from nowserving.domain.learning import _abandonment_mle

    learner = Learner(["quiet", "patient"])
    for _ in range(10):
        learner.served("quiet", 900.0, 0.0)
        learner.served("patient", 900.0, 600.0)
    learner.gone("quiet", 60.0, 300.0)
    first = learner.abandonment_rate("quiet")
    assert first >= 1 / 300  # a patience of 5 minutes, from one no-show
    for _ in range(30):
        learner.served("quiet", 900.0, 600.0)
    refitted = learner.abandonment_rate("quiet")
    assert refitted == _abandonment_mle(learner.services["quiet"].outcomes)
    assert refitted < first / 20
    assert learner.abandonment_rate("patient") == 0.0
    copy = Learner.from_dict(["quiet", "patient"], learner.to_dict())
    assert copy.abandonment_rate("quiet") == refitted


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


def _a_day_of_arrivals(learner: Learner, day: int, per_hour: dict[int, int], until: float) -> None:
    """Arrivals at service "a", evenly in each hour of the day (hour -> how many), up to
    `until` seconds into the day; the day is day `day` from 2026-01-05, UTC."""
    midnight = 1_767_571_200.0 + day * 86_400  # 2026-01-05 00:00 UTC
    for hour, n in sorted(per_hour.items()):
        for i in range(n):
            second = hour * 3600 + 3600 * (i + 0.5) / n
            if second < until:
                at = midnight + second
                learner.arrived("a", "normal", at, day_clock("UTC", time(0, 0), at))


def test_arrivals_are_expected_by_the_time_of_day_not_the_last_hours_rate():
    """GIVEN two days with 10 arrivals 9-10 h and 40 arrivals 10-11 h WHEN it is 10:00 on
    the third, after the usual 10 THEN the next hour expects 40 (the last hour's rate: 10);
    a third day busier than usual (20 in its last hour) expects more, shrunk toward 40."""
    usual = {9: 10, 10: 40}
    learner = Learner(["a"])
    for day in range(2):
        _a_day_of_arrivals(learner, day, usual, 86_400)
    _a_day_of_arrivals(learner, 2, usual, 10 * 3600)
    now = 1_767_571_200.0 + 2 * 86_400 + 10 * 3600
    assert learner.arrival_rate("a", "normal", now) * 3600 == pytest.approx(10)
    assert learner.expected_rate("a", "normal", now, 10 * 3600, 3600) * 3600 == pytest.approx(40)
    # Only until 11:00 has anyone ever come: an hour from 10:30 expects half of it.
    assert learner.expected_rate("a", "normal", now, 10.5 * 3600, 3600) * 3600 == pytest.approx(
        20 * (10 + 30) / (25 + 30)  # (and its last hour usually has 25, against today's 10)
    )
    busy = Learner(["a"])
    for day in range(2):
        _a_day_of_arrivals(busy, day, usual, 86_400)
    _a_day_of_arrivals(busy, 2, {9: 20}, 10 * 3600)
    rate = busy.expected_rate("a", "normal", now, 10 * 3600, 3600) * 3600
    assert rate == pytest.approx(40 * (20 + 30) / (10 + 30))
    # Before a whole day is seen, and without the time of day: the last hour's rate.
    first = Learner(["a"])
    _a_day_of_arrivals(first, 0, usual, 10 * 3600)
    now = 1_767_571_200.0 + 10 * 3600
    assert first.expected_rate("a", "normal", now, 10 * 3600, 3600) * 3600 == pytest.approx(10)
    assert learner.expected_rate("a", "normal", now, None, 3600) == learner.arrival_rate(
        "a", "normal", now
    )
    copy = Learner.from_dict(["a"], learner.to_dict())
    assert copy.to_dict() == learner.to_dict()


def test_a_long_wait_expects_the_days_later_hours_not_the_next_one_carried_on():
    """GIVEN two days with 10 arrivals 9-10 h, 40 at 10-11 h and 5 at 11-12 h WHEN it is
    9:00 on the third and customers may come for three hours THEN each hour expects its
    own (10, 40, 5), not the next hour's 10 for all three; without a cut-off the
    profile's hours run to 12 and the last goes on; before a whole day, the last hour's
    rate carried on."""
    usual = {9: 10, 10: 40, 11: 5}
    learner = Learner(["a"])
    for day in range(2):
        _a_day_of_arrivals(learner, day, usual, 86_400)
    now = 1_767_571_200.0 + 2 * 86_400 + 9 * 3600
    rates = learner.expected_rates("a", "normal", now, 9 * 3600, 3 * 3600)
    assert [end for end, _ in rates] == [3600, 7200, 10800]
    assert [rate * 3600 for _, rate in rates] == pytest.approx([10, 40, 5])
    # The first hour is the rate expected over the next hour, as before.
    assert rates[0][1] == learner.expected_rate("a", "normal", now, 9 * 3600, 3600)
    endless = learner.expected_rates("a", "normal", now, 9 * 3600, math.inf)
    assert len(endless) == 12 and endless[-1] == (math.inf, 0.0)
    first = Learner(["a"])
    _a_day_of_arrivals(first, 0, {8: 6}, 9 * 3600)
    now = 1_767_571_200.0 + 9 * 3600
    assert first.expected_rates("a", "normal", now, 9 * 3600, 7200) == [
        (7200, first.arrival_rate("a", "normal", now))
    ]


def test_a_configured_typical_time_is_the_prior():
    learner = Learner(["a"], priors={"a": 1200.0})
    assert learner.mean_occupancy("a") == 1200.0
    learner.served("a", 600.0, 0.0)
    assert learner.mean_occupancy("a") == (600 + 4 * 1200) / 5


def test_a_counters_speed_is_learned_and_shrunk_toward_average_when_little_is_seen():
    """GIVEN c1 taking 100 s and c2 taking 300 s per customer of `a` WHEN 300 of each are
    seen THEN c1 is about half and c2 about one and a half the service's mean (200 s);
    a counter seen six times at 300 s counts as somewhat closer to average, and one never
    seen as exactly average."""
    learner = Learner(["a", "b"])
    for _ in range(300):
        learner.served("a", 100.0, 0.0, "c1")
        learner.served("a", 300.0, 0.0, "c2")
    assert learner.mean_occupancy("a") == 200.0
    assert learner.counter_factor("c1", "a") == pytest.approx(0.5, abs=0.01)
    assert learner.counter_factor("c2", "a") == pytest.approx(1.5, abs=0.01)
    for _ in range(6):
        learner.served("a", 300.0, 0.0, "c3")
    for _ in range(22):  # speeds are refitted every 50 customers
        learner.served("a", 100.0, 0.0, "c1")
        learner.served("a", 300.0, 0.0, "c2")
    assert 1.1 < learner.counter_factor("c3", "a") < 1.45
    assert learner.counter_factor("c4", "a") == 1.0


def test_counters_that_are_alike_come_out_alike():
    """GIVEN three counters whose times come from one lognormal (CV 1.5: much noise)
    WHEN 300 of each are seen THEN none is taken to be faster or slower by chance."""
    rng = random.Random(8)
    learner = Learner(["a"])
    for _ in range(300):
        for counter in ("c1", "c2", "c3"):
            learner.served("a", rng.lognormvariate(5, 1.1), 0.0, counter)
    for counter in ("c1", "c2", "c3"):
        assert learner.counter_factor(counter, "a") == pytest.approx(1.0, abs=0.03)


def test_a_counters_general_speed_carries_to_a_service_it_has_not_served():
    """c1 is twice as slow as c2 at `a` (many seen); at `b` it has served nobody yet: its
    speed at `b` is its general one."""
    learner = Learner(["a", "b"])
    for _ in range(200):
        learner.served("a", 200.0, 0.0, "c1")
        learner.served("a", 100.0, 0.0, "c2")
        learner.served("b", 60.0, 0.0, "c2")
    assert learner.counter_factor("c1", "b") == pytest.approx(4 / 3, abs=0.02)
    assert learner.counter_factor("c2", "b") == pytest.approx(1.0, abs=0.02)


def test_counter_speeds_survive_a_snapshot():
    learner = Learner(["a"])
    for i in range(50):
        learner.served("a", 100.0 + i, 0.0, "c1" if i % 2 else None)
    again = Learner.from_dict(["a"], learner.to_dict())
    assert again.to_dict() == learner.to_dict()
    assert again.counter_factor("c1", "a") == learner.counter_factor("c1", "a")


def test_intervals_that_run_narrow_are_widened_by_what_was_seen(monkeypatch):
    """GIVEN a model whose 80% interval is really a 50% one (misses on both sides) and no
    shipped prior WHEN 1,000 served customers have been judged THEN the calibration
    stretches it so that about 80% of new waits fall inside (for these right-skewed waits,
    fewer than 10% but at least 2% below: the narrowest split, `calibration._sharpest`);
    customers called at once and estimates without the model's interval are not judged."""
    monkeypatch.setattr(calibration, "PRIOR", {})
    rng = random.Random(4)
    learner = Learner(["a"])
    assert learner.calibration() == (0.0, 0.0)
    # Waits are lognormal around 600 s; the "model" gives the 25th-75th percentile.
    sigma = 0.8
    z25 = 0.6745
    raw = [600 * math.exp(-z25 * sigma), 600 * math.exp(z25 * sigma)]
    for i in range(1000):
        day = "2026-11-23" if i < 400 else "2026-11-24"
        learner.judged(
            {"raw": raw, "ahead": 5, "mean": 600}, 600 * math.exp(rng.gauss(0, sigma)), day
        )
    learner.judged({"raw": raw}, 0.0, "2026-11-24")
    learner.judged({"mean": 1.0}, 5000.0, "2026-11-24")
    assert len(learner.misses) == 1000
    below, above = learner.calibration(5, 600)
    assert learner.calibration(1, 600) == (0.0, 0.0)  # another group: nothing seen there
    low, high = raw[0] * math.exp(-below), raw[1] * math.exp(above)
    fresh = [600 * math.exp(rng.gauss(0, sigma)) for _ in range(20_000)]
    below_share = sum(w < low for w in fresh) / len(fresh)
    inside = sum(low <= w <= high for w in fresh) / len(fresh)
    assert inside == pytest.approx(0.80, abs=0.02)
    assert 0.01 < below_share < 0.10
    again = Learner.from_dict(["a"], learner.to_dict())
    assert again.calibration(5, 600) == learner.calibration(5, 600)
    assert again.to_dict() == learner.to_dict()


def test_a_new_branch_starts_from_the_shipped_prior_and_moves_to_its_own():
    """GIVEN a new branch (nothing judged) WHEN it serves customers of one group whose
    waits run wider than the model's interval THEN it starts from the shipped prior (a
    correction before any customer), moves away from it with every 50 customers, and
    after three days of its own with enough customers, uses only its own misses."""
    first = Learner(["a"]).calibration(1, 120)
    assert first == calibration.Calibration.fit([], 0.10, with_prior=True).of("1")
    assert first != (0.0, 0.0)
    rng = random.Random(5)
    learner = Learner(["a"])
    raw = {"raw": [100.0, 140.0], "ahead": 1, "mean": 120.0}
    highs = [first[1]]
    for day in ("2026-11-23", "2026-11-24", "2026-11-25"):
        for _ in range(400):
            learner.judged(raw, 120 * math.exp(rng.gauss(0, 1.0)), day)
        highs.append(learner.calibration(1, 120)[1])
    # The waits spread far wider than [100, 140]: the high end's stretch grows day by day.
    assert highs == sorted(highs) and highs[-1] > highs[0] + 0.5
    own = calibration.Calibration.fit(list(learner.misses), 0.10, with_prior=False)
    assert learner.calibration(1, 120) == own.of("1")


def test_a_refit_made_from_a_copy_gives_the_factors_the_fold_would():
    """GIVEN two learners fed the same misses, one refitting in its fold and one that
    leaves its refits to a copy (the server's estimating process, `fit_elsewhere`) WHEN
    each copy makes the fit due and it is given back THEN the factors are the same at
    every fixed point, the copy carries no misses but the due fit's, a stale fit does not
    replace a newer one, and a snapshot holds the fit of the last fixed point either way."""
    rng = random.Random(6)
    inline, apart = Learner(["a"]), Learner(["a"])
    apart.fit_elsewhere = True
    raw = {"raw": [100.0, 140.0], "ahead": 1, "mean": 120.0}
    stale = None
    for n in range(1, 401):
        wait, day = 120 * math.exp(rng.gauss(0, 1.0)), f"2026-11-2{3 + n // 150}"
        inline.judged(raw, wait, day)
        apart.judged(raw, wait, day)
        if n % 50 == 0:
            assert apart.calibration(1, 120) != inline.calibration(1, 120)  # not refitted here
            copy = apart.copy()
            assert len(copy.misses) == 0
            fit = copy.fit_due()
            assert fit is not None and fit[0] == n and copy.calibration(1, 120) == fit[1].of("1")
            if n == 100:
                stale = fit  # given back late, after the next fixed point's fit
                continue
            apart.take_fit(*fit)
            assert apart.calibration(1, 120) == inline.calibration(1, 120)
            assert apart.copy().fit_due() is None
        if n == 180:
            apart.take_fit(*stale)
            assert apart.calibration(1, 120) == inline.calibration(1, 120)
    assert apart.to_dict() == inline.to_dict()  # 400 given back: same factors
    for _ in range(50):
        inline.judged(raw, 100.0, "2026-11-25")
        apart.judged(raw, 100.0, "2026-11-25")
    assert apart.to_dict() == inline.to_dict()  # 450 due and not given back: fitted for it


def test_one_staffs_reaction_is_learned_from_the_first_of_several_free_counters():
    """GIVEN reactions seen as the first of 1-4 free counters' staff to call (each staff
    2-20 s, apart) WHEN asked for the first of k THEN the quantiles are the least of k
    staff's reactions (not the seen ones mixed), and a snapshot keeps the counts."""
    rng = random.Random(7)
    learner = Learner(["a"])
    for _ in range(REACTION_WINDOW):
        free = rng.choice((1, 1, 2, 3, 4))
        learner.reacted(min(rng.uniform(2, 20) for _ in range(free)), free)
    for free in (1, 2, 4):
        times = learner.first_reaction_times(free)
        assert times == sorted(times) and len(times) == REACTION_WINDOW
        median = 2 + 18 * (1 - 0.5 ** (1 / free))  # the least of `free` uniforms' median
        assert times[len(times) // 2] == pytest.approx(median, abs=1.0)
    one, four = learner.first_reaction_times(1), learner.first_reaction_times(4)
    assert four[len(four) // 10] < one[len(one) // 10]
    again = Learner.from_dict(["a"], learner.to_dict())
    assert again.first_reaction_times(4) == four
