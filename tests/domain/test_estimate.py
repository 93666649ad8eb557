"""The wait estimator on hand-worked cases."""

from __future__ import annotations

import itertools

import pytest

from nowserving.domain import Branch, Command, CounterSpec
from nowserving.domain.estimate import Estimator
from nowserving.domain.gamma import gamma_quantile
from tests.conftest import T0, small_rules

_ids = itertools.count()
M = 300.0  # every customer occupies a counter for 5 minutes in these cases


def run(branch: Branch, kind: str, at: float, **args) -> dict:
    _, outcome, _ = branch.handle(Command(f"e{next(_ids)}", kind, "d", at, args))
    assert outcome["ok"], outcome
    return outcome


def teach(branch: Branch, service: str, counter: str, n: int = 40, at: float = T0) -> float:
    """Serve n customers of `service` at `counter`, each for exactly M seconds."""
    for _ in range(n):
        run(branch, "issue_ticket", at, service=service)
        run(branch, "call_next", at, counter=counter)
        at += M
        run(branch, "finish", at, counter=counter)
    return at


def dedicated(**counters) -> Branch:
    specs = {c: CounterSpec(c, {}, tuple(s)) for c, s in counters.items()}
    return Branch(small_rules(counters=specs))


def test_one_counter_k_ahead_is_k_plus_one_occupancies():
    """GIVEN one counter serving `a`, busy, with 2 waiting WHEN a customer takes a ticket
    THEN the wait is 3 occupancies: mean 3·M, interval of an Erlang(3)."""
    branch = dedicated(c1="a")
    at = teach(branch, "a", "c1")
    run(branch, "issue_ticket", at, service="a")
    run(branch, "call_next", at, counter="c1")  # busy
    run(branch, "issue_ticket", at, service="a")
    run(branch, "issue_ticket", at, service="a")
    estimate = Estimator(branch, at).for_new_ticket("a", "normal")
    assert estimate.ahead == 2
    assert estimate.mean == pytest.approx(3 * M)
    assert estimate.low == pytest.approx(1.1021 * M, rel=1e-3)  # Erlang(3) 10th percentile
    assert estimate.high == pytest.approx(5.3223 * M, rel=1e-3)  # ... and 90th


def test_an_idle_counter_means_no_wait():
    branch = dedicated(c1="a", c3="b")
    at = teach(branch, "a", "c1")
    assert Estimator(branch, at).for_new_ticket("a", "normal").mean == 0


def test_two_counters_with_different_skills_are_separate_pools():
    """c1 serves a, c3 serves b: a's line does not delay b."""
    branch = dedicated(c1="a", c3="b")
    at = teach(branch, "a", "c1")
    at = teach(branch, "b", "c3", at=at)
    for _ in range(3):
        run(branch, "issue_ticket", at, service="a")
    run(branch, "call_next", at, counter="c1")
    run(branch, "issue_ticket", at, service="b")
    run(branch, "call_next", at, counter="c3")
    tickets, arrivals = Estimator(branch, at).for_all()
    assert arrivals["a"].mean == pytest.approx(3 * M)  # 2 ahead + itself
    assert arrivals["b"].mean == pytest.approx(M)  # nobody ahead, c3 busy


def test_a_paused_counter_does_not_serve_the_pool():
    branch = dedicated(c1="a", c2="a")
    at = teach(branch, "a", "c1")
    run(branch, "issue_ticket", at, service="a")
    run(branch, "call_next", at, counter="c1")
    run(branch, "issue_ticket", at, service="a")
    run(branch, "call_next", at, counter="c2")
    open_both = Estimator(branch, at).for_new_ticket("a", "normal").mean
    run(branch, "pause_counter", at, counter="c2", reason="lunch")
    one_open = Estimator(branch, at).for_new_ticket("a", "normal").mean
    assert open_both == pytest.approx(M / 2)  # first of two busy counters to free up
    assert one_open == pytest.approx(M)


def test_a_priority_arrival_goes_ahead_of_younger_normal_tickets():
    """Boost 600 s: a priority customer arriving 300 s after three normal ones waits only
    for those who came more than 600 s before it: none here."""
    branch = dedicated(c1="a")
    at = teach(branch, "a", "c1")
    run(branch, "issue_ticket", at, service="a")
    run(branch, "call_next", at, counter="c1")
    for i in range(3):
        run(branch, "issue_ticket", at + i, service="a")
    estimator = Estimator(branch, at + 300)
    assert estimator.for_new_ticket("a", "priority").ahead == 0
    assert estimator.for_new_ticket("a", "priority").mean == pytest.approx(M)
    assert estimator.for_new_ticket("a", "normal").ahead == 3


def test_shared_counters_are_simulated_and_agree_with_the_closed_form():
    """Two counters both serving a and b, busy, exponential occupancies (too few seen to
    use their distribution), 2 waiting: the new ticket is third in the call order, so it
    waits for 3 departures at rate 2/M: mean 1.5·M."""
    branch = dedicated(c1="ab", c2="ab")
    at = T0
    for service, counter in (("a", "c1"), ("b", "c2")):
        run(branch, "issue_ticket", at, service=service)
        run(branch, "call_next", at, counter=counter)
    run(branch, "issue_ticket", at, service="a")
    run(branch, "issue_ticket", at + 1, service="b")
    estimate = Estimator(branch, at + 2, replications=2000).for_new_ticket("a", "normal")
    mean_occupancy = branch.learner.mean_occupancy("a")  # the prior: nothing served yet
    assert estimate.ahead == 1  # one of `a` ahead; one of `b` ahead in the shared order
    assert estimate.mean == pytest.approx(1.5 * mean_occupancy, rel=0.08)
    assert estimate.low < estimate.mean < estimate.high


def test_a_planned_break_is_counted_on():
    """GIVEN one counter serving `a`, busy at 09:00 (UTC) and due on a break 09:00-10:00
    WHEN a customer takes a ticket at 09:00 THEN they are called when the break ends:
    whenever the counter frees up, it is on its break until 10:00."""
    specs = {"c1": CounterSpec("c1", {}, ("a",), ((9 * 60, 10 * 60),))}
    branch = Branch(small_rules(counters=specs))
    teach(branch, "a", "c1", at=T0 - 41 * M)
    run(branch, "issue_ticket", T0 - 10, service="a")
    run(branch, "call_next", T0 - 10, counter="c1")
    estimate = Estimator(branch, T0).for_new_ticket("a", "normal")
    assert (estimate.low, estimate.mean, estimate.high) == (3600, 3600, 3600)
    # Without the break: about one remaining occupancy.
    without = Branch(small_rules(counters={"c1": CounterSpec("c1", {}, ("a",))}))
    teach(without, "a", "c1", at=T0 - 41 * M)
    run(without, "issue_ticket", T0 - 10, service="a")
    run(without, "call_next", T0 - 10, counter="c1")
    assert Estimator(without, T0).for_new_ticket("a", "normal").mean == pytest.approx(M)


def test_the_estimate_given_at_issue_is_recorded_in_the_event():
    branch = dedicated(c1="a")
    at = teach(branch, "a", "c1")
    run(branch, "issue_ticket", at, service="a")
    run(branch, "call_next", at, counter="c1")
    events, outcome, _ = branch.handle(Command("x", "issue_ticket", "k", at, {"service": "a"}))
    recorded = events[-1].data["estimate"]
    assert recorded == {
        "mean": M,
        "low": round(gamma_quantile(M, M * M, 0.1), 2),
        "high": round(gamma_quantile(M, M * M, 0.9), 2),
        "ahead": 0,
    }
    assert branch.tickets[outcome["ticket"]].estimate == recorded


def test_no_open_counter_means_no_estimate():
    branch = dedicated(c1="a", c3="b")
    at = teach(branch, "a", "c1")
    run(branch, "close_counter", at, counter="c3")
    assert Estimator(branch, at).for_new_ticket("b", "normal") is None


def test_a_simulated_estimate_is_reused_for_a_burst_and_shifted():
    """GIVEN shared counters (simulated) WHEN two customers take tickets 0.5 s apart THEN
    the second gets the first's estimate plus one occupancy shared by the two counters;
    a second later it is simulated afresh."""
    branch = dedicated(c1="ab", c2="ab")
    at = T0
    for service, counter in (("a", "c1"), ("b", "c2")):
        run(branch, "issue_ticket", at, service=service)
        run(branch, "call_next", at, counter=counter)
    first_id = run(branch, "issue_ticket", at, service="a")["ticket"]
    second_id = run(branch, "issue_ticket", at + 0.5, service="a")["ticket"]
    first, second = branch.tickets[first_id].estimate, branch.tickets[second_id].estimate
    shift = branch.learner.mean_occupancy("a") / 2
    assert second["ahead"] == first["ahead"] + 1
    assert second["mean"] == pytest.approx(first["mean"] + shift, abs=0.01)
    later_id = run(branch, "issue_ticket", at + 2, service="a")["ticket"]
    later = branch.tickets[later_id].estimate
    assert later["ahead"] == 2
    assert later["mean"] != pytest.approx(second["mean"] + shift, abs=0.01)  # simulated


def test_staff_reaction_at_a_free_counter_is_learned_and_used():
    """GIVEN a free counter whose staff took 20 s to call the last ten newcomers WHEN
    another arrives THEN the estimate follows the observed reactions, not an instant call."""
    branch = dedicated(c1="a")
    at = teach(branch, "a", "c1")
    assert Estimator(branch, at).for_new_ticket("a", "normal").mean == 0
    for _ in range(10):
        at += 60
        run(branch, "issue_ticket", at, service="a")
        run(branch, "call_next", at + 20, counter="c1")
        run(branch, "finish", at + 20 + M, counter="c1")
        at += 20 + M
    # `teach` called 40 customers at once (reaction 0; the very first is not counted: the
    # counter had never been freed), then these ten took 20 s.
    assert list(branch.learner.reactions) == [0.0] * 39 + [20.0] * 10
    estimate = Estimator(branch, at + 60).for_new_ticket("a", "normal")
    assert (estimate.low, estimate.high) == (0.0, 20.0)
    assert estimate.mean == pytest.approx(200 / 49)


def test_a_service_nobody_can_serve_ends_the_simulation():
    """GIVEN priority customers arriving at `a` (so simulated futures keep producing
    arrivals) and every counter serving `b` closed WHEN someone takes a ticket for `b` THEN
    there is no estimate, promptly (this once looped forever and ate all memory)."""
    branch = dedicated(c1="a", c2="ab", c3="b")
    at = T0
    for i in range(60):  # 60 an hour at `a`: more than c1 serves at 5 minutes each
        run(branch, "issue_ticket", at + i, service="a", priority="priority")
    run(branch, "close_counter", at + 10, counter="c2")
    run(branch, "close_counter", at + 10, counter="c3")
    _, outcome, _ = branch.handle(Command("b1", "issue_ticket", "k", at + 61, {"service": "b"}))
    assert outcome["ok"]
    assert branch.tickets[outcome["ticket"]].estimate is None
    tickets, arrivals = Estimator(branch, at + 62).for_all()
    assert arrivals["b"] is None and tickets[outcome["ticket"]] is None
