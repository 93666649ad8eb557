"""The estimator knows the bookings: a booking due ahead of a walk-in is a known future
arrival (docs/estimates.md, "Bookings")."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from nowserving.domain import Branch, CounterSpec
from nowserving.domain.estimate import Estimator
from tests.conftest import small_rules
from tests.domain.test_estimate import M, run, teach


def bookable(**counters) -> Branch:
    rules = small_rules(counters={c: CounterSpec(c, {}, tuple(s)) for c, s in counters.items()})
    a = replace(rules.services["a"], bookings_per_hour=60)
    return Branch(replace(rules, services={**rules.services, "a": a}))


def book(branch: Branch, now: float, when: float) -> str:
    """A booking of `a` at `when`, made at `now`: its id."""
    text = datetime.fromtimestamp(when, UTC).isoformat()
    return run(branch, "book", now, service="a", time=text)["booking"]


def busy(branch: Branch, counters: tuple[str, ...] = ("c1",)) -> float:
    """Teach 5-minute occupancies at c1, then leave each of `counters` busy and two
    walk-ins waiting: the moment."""
    at = teach(branch, "a", "c1")
    for counter in counters:
        run(branch, "issue_ticket", at, service="a")
        run(branch, "call_next", at, counter=counter)
    run(branch, "issue_ticket", at, service="a")
    run(branch, "issue_ticket", at, service="a")
    return at


@pytest.mark.parametrize("counters", [("c1",), ("c1", "c2")], ids=["closed form", "simulated"])
def test_a_walk_ins_estimate_rises_when_bookings_are_due_ahead_of_it(counters):
    """Bookings in 2 and 4 minutes count from 3 and 1 minutes ago (a 5-minute head start):
    a walk-in now goes after them if they come. Not here yet, each still comes with a
    chance of 0.7-0.85 (the prior: 1 in 10 misses, most come a few minutes early, so
    someone not here 2 minutes before is less likely to come), so the wait grows by more
    than half, and at most two, occupancies shared by the counters (with fixed 5-minute
    occupancies, two counters wait a whole round only when both come); its interval too.
    A booking in an hour is behind it and changes nothing."""
    spec = {"c1": "a"} if len(counters) == 1 else {"c1": "ab", "c2": "ab"}
    plain, booked = bookable(**spec), bookable(**spec)
    now = busy(plain, counters)
    assert busy(booked, counters) == now
    book(plain, now, now + 3600)
    for minutes in (2, 4, 60):
        book(booked, now, now + minutes * 60)
    without = Estimator(plain, now + 1, replications=2000).for_new_ticket("a", "normal")
    with_bookings = Estimator(booked, now + 1, replications=2000).for_new_ticket("a", "normal")
    share = len(counters)  # counters serving `a`
    rise = with_bookings.mean - without.mean
    assert 0.5 * M < rise * share < 2.0 * M, (without, with_bookings)
    assert with_bookings.high > without.high
    assert with_bookings.ahead == without.ahead == 2  # the printed "ahead" counts who waits


def test_a_cancelled_booking_stops_counting():
    branch, plain = bookable(c1="a"), bookable(c1="a")
    now = busy(branch)
    busy(plain)
    before = Estimator(plain, now + 1).for_new_ticket("a", "normal")
    booking = book(branch, now, now + 120)
    assert Estimator(branch, now + 1).for_new_ticket("a", "normal").mean > before.mean
    run(branch, "cancel_booking", now + 1, booking=booking)
    assert Estimator(branch, now + 2).for_new_ticket("a", "normal").mean == pytest.approx(
        Estimator(plain, now + 2).for_new_ticket("a", "normal").mean
    )


def test_a_checked_in_booking_is_in_the_line_once():
    """Checked in, the appointment is a waiting ticket ordered by the call's key (its
    booked time less the head start), no longer a booking to come."""
    branch = bookable(c1="a")
    now = busy(branch)
    code = run(branch, "book", now, service="a", time=_text(now + 120))["code"]
    expected = Estimator(branch, now + 1).for_new_ticket("a", "normal")
    run(branch, "check_in", now + 1, code=code)
    estimate = Estimator(branch, now + 1).for_new_ticket("a", "normal")
    assert estimate.ahead == 3  # the appointment (key now - 3 min) and the two walk-ins
    assert estimate.mean > expected.mean  # it came: no longer 90% likely but certain
    assert Estimator(branch, now + 1).booked == []


def test_a_booking_no_show_rate_of_one_makes_bookings_invisible():
    """50 bookings missed: the branch learns that booked customers do not come."""
    branch, plain = bookable(c1="a"), bookable(c1="a")
    now = busy(branch)
    busy(plain)
    for i in range(50):
        book(branch, now - 3 * 3600, now - 3 * 3600 + 60 + i * 60)
    run(branch, "issue_ticket", now, service="b")  # the queue notices the no-shows
    run(plain, "issue_ticket", now, service="b")
    assert branch.learner.booking_no_show_rate() == 1.0
    book(branch, now, now + 120)
    assert Estimator(branch, now + 1).for_new_ticket("a", "normal").mean == pytest.approx(
        Estimator(plain, now + 1).for_new_ticket("a", "normal").mean
    )


def test_punctuality_is_learned_from_check_ins():
    branch = bookable(c1="a")
    now = busy(branch)
    for i in range(25):
        code = run(branch, "book", now, service="a", time=_text(now + 600 + i * 60))["code"]
        run(branch, "check_in", now + 420 + i * 60, code=code)  # 3 minutes early each
    assert branch.learner.booking_punctuality() == [-180.0] * 25
    assert branch.learner.booking_no_show_rate() == pytest.approx(1 / 35)


def _text(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat()


@pytest.mark.parametrize("counters", [("c1",), ("c1", "c2")], ids=["closed form", "simulated"])
def test_an_appointment_checked_in_gets_an_estimate_from_its_booked_time(counters):
    """GIVEN a busy line and a booking in 20 minutes WHEN the customer checks in now
    (inside the 30-minute window) THEN the check-in's ticket records an estimate, as a
    walk-in's: the same people ahead now, and a wait no shorter than a walk-in's now
    (walk-ins who come in the next 15 minutes still go first); checked in too late, its
    walk-in ticket gets the walk-in's estimate."""
    from nowserving.domain import Command, NewcomerEstimates

    spec = {"c1": "a"} if len(counters) == 1 else {"c1": "ab", "c2": "ab"}
    branch = bookable(**spec)
    now = busy(branch, counters)
    code = run(branch, "book", now, service="a",
               time=datetime.fromtimestamp(now + 1200, UTC).isoformat())["code"]  # fmt: skip
    walk_in = Estimator(branch, now + 1, replications=2000).for_new_ticket("a", "normal")
    events, outcome, _ = branch.handle(
        Command("in-1", "check_in", "kiosk", now + 1, {"code": code}), NewcomerEstimates().estimate
    )
    assert outcome["ok"] and outcome["booked_at"] == now + 1200
    recorded = events[-1].data["estimate"]
    assert recorded["ahead"] == walk_in.ahead == 2
    assert recorded["mean"] >= 0.95 * walk_in.mean and recorded["high"] > recorded["low"] > 0
    assert branch.tickets[outcome["ticket"]].estimate == recorded
    late = run(branch, "book", now, service="a",
               time=datetime.fromtimestamp(now + 120, UTC).isoformat())["code"]  # fmt: skip
    events, outcome, _ = branch.handle(
        Command("in-2", "check_in", "kiosk", now + 1200, {"code": late}),
        NewcomerEstimates().estimate,
    )
    assert outcome["late"] and events[-1].data["estimate"]["ahead"] == 3  # the appointment too
