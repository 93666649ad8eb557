"""A new ticket's estimate: asked of `NewcomerEstimates` by the branch, recorded in the event."""

from __future__ import annotations

import itertools
import logging

import pytest

from nowserving.domain import Branch, Command, CounterSpec, NewcomerEstimates
from nowserving.domain.estimate import Estimate, Estimator
from nowserving.domain.newcomer import ANCHOR_S
from tests.conftest import T0, small_rules

_ids = itertools.count()
# Made off the command path for a newcomer at `a` with nobody ahead.
ANCHORED = Estimate(600.0, 300.0, 1200.0, 0)


def anchored(branch: Branch) -> Estimate:
    """ANCHORED, made with as many ahead as wait at `a` now (so it is taken unshifted)."""
    return Estimate(600.0, 300.0, 1200.0, len(branch.lines["a"]))


def shared() -> tuple[Branch, NewcomerEstimates]:
    """Two counters that both serve `a` and `b`, so a newcomer is simulated; the day
    started (at T0, with a ticket for `b`)."""
    counters = {c: CounterSpec(c, {}, ("a", "b")) for c in ("c1", "c2")}
    branch, newcomers = Branch(small_rules(counters=counters)), NewcomerEstimates()
    issue(branch, newcomers, T0, "b")
    return branch, newcomers


def issue(branch: Branch, newcomers: NewcomerEstimates | None, at: float, service="a") -> dict:
    """Issue a ticket; returns the estimate its event records."""
    command = Command(f"n{next(_ids)}", "issue_ticket", "k", at, {"service": service})
    events, outcome, _ = branch.handle(command, newcomers.estimate if newcomers else None)
    assert outcome["ok"], outcome
    return events[-1].data["estimate"]


def test_without_an_estimator_the_branch_records_no_estimate_and_never_estimates(monkeypatch):
    """GIVEN no estimator passed to `handle` WHEN tickets are issued THEN their events
    record `estimate: null`, and nothing was estimated (the fold stays a fold)."""

    def no_estimating(*args, **kwargs):
        raise AssertionError("the branch estimated on its own")

    monkeypatch.setattr(Estimator, "__init__", no_estimating)
    branch = Branch(small_rules())
    assert issue(branch, None, T0) is None
    assert branch.tickets[f"{branch.business_day}/A001"].estimate is None


@pytest.mark.expect_log_exception
def test_a_failing_estimate_never_refuses_a_ticket(monkeypatch, caplog):
    """GIVEN the estimator raises WHEN a ticket is issued THEN it is issued without an
    estimate, and the failure is logged."""

    def boom(*args, **kwargs):
        raise ZeroDivisionError("injected")

    monkeypatch.setattr(Estimator, "for_new_ticket", boom)
    branch, newcomers = shared()
    with caplog.at_level(logging.ERROR, "nowserving.domain.newcomer"):
        assert issue(branch, newcomers, T0 + 1) is None
    assert "no wait estimate for a new a ticket" in caplog.text


def test_an_anchor_is_the_start_for_tickets_issued_within_anchor_s():
    """GIVEN a newcomer estimate made off the command path WHEN tickets are issued soon
    after THEN the first gets it as it was, the next shifted by one more ahead; after
    ANCHOR_S, the newcomer is simulated afresh."""
    branch, newcomers = shared()
    newcomers.anchor(branch, T0 + 1, {"a": ANCHORED, "b": None}, branch.seq)
    assert issue(branch, newcomers, T0 + 2) == {
        "mean": 600.0,
        "low": 300.0,
        "high": 1200.0,
        "ahead": 0,
    }
    second = issue(branch, newcomers, T0 + 3)
    assert second["ahead"] == 1 and second["mean"] > 600.0
    assert "raw" not in second  # what was anchored had none: nothing for calibration
    fresh = issue(branch, newcomers, T0 + 1 + ANCHOR_S)
    assert fresh["ahead"] == 2 and "raw" in fresh  # the model's own interval, from its run


@pytest.mark.parametrize("change", ["pause_counter", "close_counter"])
def test_a_counter_change_drops_anchors_and_ignores_older_ones(change):
    """GIVEN an anchor WHEN a counter pauses (or closes) THEN the next ticket is simulated
    afresh; and an anchor made from the state before the change, arriving after it, is
    ignored. One from the state after it counts."""
    branch, newcomers = shared()
    newcomers.anchor(branch, T0 + 1, {"a": ANCHORED}, branch.seq)
    before = branch.seq
    command = Command(f"n{next(_ids)}", change, "c2", T0 + 2, {"counter": "c2"})
    assert branch.handle(command, newcomers.estimate)[1]["ok"]
    assert issue(branch, newcomers, T0 + 3)["mean"] != 600.0
    newcomers.anchor(branch, T0 + 4, {"a": anchored(branch)}, before)
    assert issue(branch, newcomers, T0 + 5)["mean"] != 600.0
    newcomers.anchor(branch, T0 + 6, {"a": anchored(branch)}, branch.seq)
    assert issue(branch, newcomers, T0 + 7)["mean"] == 600.0


def test_a_new_day_drops_anchors():
    """GIVEN an anchor made seconds before the business day ends WHEN a ticket is issued
    seconds into the next THEN it is simulated afresh (the day started in between)."""
    branch, newcomers = shared()
    next_day = branch.rules.day_began(T0) + 86_400
    newcomers.anchor(branch, next_day - 5, {"a": ANCHORED}, branch.seq)
    assert issue(branch, newcomers, next_day + 5)["mean"] != 600.0


def test_replaying_tickets_with_estimates_gives_the_same_state():
    """GIVEN tickets issued with anchored and simulated estimates WHEN their events are
    replayed into a new branch, with no estimator THEN the state is the same: estimates
    are facts in the events, never recomputed."""
    counters = {c: CounterSpec(c, {}, ("a", "b")) for c in ("c1", "c2")}
    branch, newcomers = Branch(small_rules(counters=counters)), NewcomerEstimates()
    events = []
    for i in range(8):
        if i == 2:
            newcomers.anchor(branch, T0 + 20 * i, {"a": anchored(branch)}, branch.seq)
        command = Command(f"r{i}", "issue_ticket", "k", T0 + 20 * i, {"service": "a"})
        events += branch.handle(command, newcomers.estimate)[0]
    printed = [e.data["estimate"]["mean"] for e in events if e.type == "ticket_issued"]
    assert printed[2] == 600.0 and printed[1] != 600.0  # anchored; simulated before
    replayed = Branch(branch.rules)
    for event in events:
        replayed.apply(event)
    assert replayed.to_dict() == branch.to_dict()


def counting_simulations(monkeypatch) -> list[int]:
    """Counts the estimator's simulations (the real ones run)."""
    runs: list[int] = []
    simulate = Estimator._simulate

    def counted(self, *args, **kwargs):
        runs.append(1)
        return simulate(self, *args, **kwargs)

    monkeypatch.setattr(Estimator, "_simulate", counted)
    return runs


def test_a_line_too_long_to_estimate_is_not_simulated_for_every_ticket(monkeypatch):
    """GIVEN 600 waiting at two shared counters taking 5 minutes a customer (25 hours of
    work, past the simulation's 12 h horizon) WHEN tickets are issued THEN the first gets
    no estimate from one simulation, the next within ANCHOR_S none without simulating
    again, and one after ANCHOR_S is simulated afresh; an anchor of None from the
    estimating process is taken the same way."""
    branch, newcomers = shared()
    for i in range(600):
        command = Command(f"f{i}", "issue_ticket", "k", T0 + 1, {"service": "a"})
        assert branch.handle(command, None)[1]["ok"]
    runs = counting_simulations(monkeypatch)
    assert issue(branch, newcomers, T0 + 2) is None
    assert issue(branch, newcomers, T0 + 2 + ANCHOR_S / 2) is None
    assert len(runs) == 1
    assert issue(branch, newcomers, T0 + 3 + ANCHOR_S) is None
    assert len(runs) == 2
    newcomers.anchor(branch, T0 + 4 + ANCHOR_S, {"b": None}, branch.seq)
    assert issue(branch, newcomers, T0 + 5 + ANCHOR_S, "b") is None
    assert len(runs) == 2


def test_a_newcomer_deep_in_a_long_line_is_reused_for_anchor_s(monkeypatch):
    """GIVEN 450 waiting at two shared counters taking 30 s a customer (the newcomer
    behind more than DEEP_STEPS calls) WHEN tickets are issued 10 s apart THEN one
    simulation serves those within ANCHOR_S, each shifted by the one more ahead; a short
    line's estimate is reused only within REUSE_S."""
    branch, newcomers = shared()
    for _ in range(10):
        branch.learner.served("a", 30.0, 0.0, "c1")
        branch.learner.served("b", 30.0, 0.0, "c2")
    for i in range(450):
        command = Command(f"d{i}", "issue_ticket", "k", T0 + 1, {"service": "a"})
        assert branch.handle(command, None)[1]["ok"]
    runs = counting_simulations(monkeypatch)
    first = issue(branch, newcomers, T0 + 2)
    second = issue(branch, newcomers, T0 + 12)
    assert len(runs) == 1
    assert second["ahead"] == first["ahead"] + 1 and second["mean"] > first["mean"]
    issue(branch, newcomers, T0 + 2 + ANCHOR_S)
    assert len(runs) == 2

    short, few = shared()
    runs.clear()
    issue(short, few, T0 + 2)
    issue(short, few, T0 + 4)  # past REUSE_S: simulated again
    assert len(runs) == 2
