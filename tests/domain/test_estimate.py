"""The wait estimator on hand-worked cases."""

from __future__ import annotations

import itertools
import math
import random
import weakref
from dataclasses import replace

import pytest

from nowserving.domain import Branch, Command, CounterSpec, NewcomerEstimates
from nowserving.domain import estimate as estimate_module
from nowserving.domain.calibration import floored
from nowserving.domain.estimate import Estimator
from nowserving.domain.gamma import gamma_quantile
from tests.conftest import T0, small_rules

_ids = itertools.count()
M = 300.0  # every customer occupies a counter for 5 minutes in these cases
_newcomers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def handle(branch: Branch, command: Command) -> tuple:
    """`branch.handle`, with new tickets estimated as the server does (one
    `NewcomerEstimates` per branch, kept across commands)."""
    newcomers = _newcomers.setdefault(branch, NewcomerEstimates())
    return branch.handle(command, newcomers.estimate)


def run(branch: Branch, kind: str, at: float, **args) -> dict:
    _, outcome, _ = handle(branch, Command(f"e{next(_ids)}", kind, "d", at, args))
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
    # The model's own interval (the printed one is calibrated: `test_learning`).
    assert estimate.raw_low == pytest.approx(1.1021 * M, rel=1e-3)  # Erlang(3) 10th percentile
    assert estimate.raw_high == pytest.approx(5.3223 * M, rel=1e-3)  # ... and 90th


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
    assert estimate.mean == 3600
    # The model's own interval is 3600-3600; for an hour's wait that is narrower than any
    # it is trusted with, so it is widened to the floor (`calibration.floored`).
    assert (estimate.raw_low, estimate.raw_high) == floored(0, 3600, 3600, 3600)
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
    events, outcome, _ = handle(branch, Command("x", "issue_ticket", "k", at, {"service": "a"}))
    recorded = events[-1].data["estimate"]
    low, high = gamma_quantile(M, M * M, 0.1), gamma_quantile(M, M * M, 0.9)
    # Nobody judged yet: the printed interval is the model's, calibrated by the shipped prior.
    below, above = branch.learner.calibration(0, M)
    assert recorded == {
        "mean": M,
        "low": round(min(M, low * math.exp(-below)), 2),
        "high": round(max(M, high * math.exp(above)), 2),
        "ahead": 0,
        "raw": [round(low, 2), round(high, 2)],
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
    assert (estimate.raw_low, estimate.raw_high) == (0.0, 20.0)
    assert estimate.mean == pytest.approx(200 / 49)


def test_a_new_branch_never_promises_a_newcomer_at_a_free_counter_zero():
    """GIVEN a new branch that has seen no staff reaction yet WHEN a customer comes to a
    free counter THEN the interval starts above zero and leaves room for a reaction (the
    shipped prior of 2-20 s): staff always take a moment before they call."""
    branch = dedicated(c1="a")
    estimate = Estimator(branch, T0).for_new_ticket("a", "normal")
    assert estimate.ahead == 0
    assert 2.0 <= estimate.raw_low < estimate.mean < estimate.raw_high <= 20.0
    assert 2.0 <= estimate.low < estimate.mean < estimate.high
    assert estimate.high >= 15.0  # room for a slow reaction, not only the average one


def test_the_next_at_several_free_counters_is_called_by_the_first_staff_to_react():
    """GIVEN two counters serving `a`, free WHEN a newcomer is called 10 s after arriving
    THEN the branch learns it as the first of two staff to react; and a newcomer's low end
    when both are free is the 10th percentile of the first of two staff's reactions, below
    the one with one of them busy (before, both printed the seen reactions' 10th
    percentile: a call often came before the low end with several counters free)."""
    branch = dedicated(c1="a", c2="a")
    at = T0
    for counter in ("c1", "c2"):
        run(branch, "issue_ticket", at, service="a")
        run(branch, "call_next", at, counter=counter)
        run(branch, "finish", at + M, counter=counter)
    at += 2 * M
    run(branch, "issue_ticket", at, service="a")
    run(branch, "call_next", at + 10, counter="c1")
    assert (branch.learner.reactions[-1], branch.learner.reaction_free[-1]) == (10.0, 2)
    run(branch, "finish", at + 10 + M, counter="c1")
    at += 2 * M
    for i in range(40):  # staff 2-20 s, seen as the first of two
        branch.learner.reacted(2 + 18 * min((i * 0.37) % 1, (i * 0.61) % 1), 2)
    two = Estimator(branch, at).for_new_ticket("a", "normal")
    first = branch.learner.first_reaction_times(2)
    assert two.ahead == 0 and two.raw_low == first[len(first) // 10]
    run(branch, "issue_ticket", at, service="a")
    run(branch, "call_next", at, counter="c2")  # one of them busy now
    one = Estimator(branch, at).for_new_ticket("a", "normal")
    own = branch.learner.first_reaction_times(1)
    assert one.ahead == 0 and one.raw_low == own[len(own) // 10] > two.raw_low
    assert 0 < two.low <= one.low


def test_someone_ahead_never_gets_a_low_end_of_zero():
    """GIVEN two free counters sharing two services, whose staff were seen to call at once,
    and one customer waiting WHEN the next customer takes a ticket THEN, with one person
    ahead, the interval does not start at 0 (it did: both counters were simulated to call
    at once, and the estimate was 0-0) and holds its mean."""
    specs = {c: CounterSpec(c, {}, ("a", "b")) for c in ("c1", "c2")}
    branch = Branch(small_rules(counters=specs))
    at = teach(branch, "a", "c1")
    assert set(branch.learner.reactions) == {0.0}
    run(branch, "issue_ticket", at, service="a")
    estimate = Estimator(branch, at).for_new_ticket("a", "normal")
    assert estimate.ahead == 1
    assert 0 < estimate.low <= estimate.mean <= estimate.high
    assert estimate.low >= 1.0


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
    _, outcome, _ = handle(branch, Command("b1", "issue_ticket", "k", at + 61, {"service": "b"}))
    assert outcome["ok"]
    assert branch.tickets[outcome["ticket"]].estimate is None
    tickets, arrivals = Estimator(branch, at + 62).for_all()
    assert arrivals["b"] is None and tickets[outcome["ticket"]] is None


def test_the_simulation_follows_the_counters_call_profile():
    """GIVEN counter v serving (a, b), c3 serving b, both just busy, five b waiting WHEN a
    customer takes a ticket for a THEN with v in_order they are next at v (one occupancy);
    with longest_wait they wait behind the five b, shared by two counters."""
    waits = {}
    for profile in ("in_order", "longest_wait"):
        specs = {
            "v": CounterSpec("v", {}, ("a", "b"), profile=profile),
            "c3": CounterSpec("c3", {}, ("b",)),
        }
        branch = Branch(small_rules(counters=specs))
        at = teach(branch, "a", "v")
        at = teach(branch, "b", "c3", at=at)
        for service, counter in (("a", "v"), ("b", "c3")):
            run(branch, "issue_ticket", at, service=service)
            run(branch, "call_next", at, counter=counter)
        for i in range(5):
            run(branch, "issue_ticket", at + i, service="b")
        waits[profile] = Estimator(branch, at + 10).for_new_ticket("a", "normal").mean
    assert waits["in_order"] == pytest.approx(M - 10)
    assert waits["longest_wait"] > 2.5 * M


def test_a_slow_counters_customer_waits_for_the_slow_counter():
    """GIVEN c1 and c2 both serving `a`, c1 taking M and c2 3M per customer (300 each seen)
    WHEN c1 is closed and c2 has just called someone THEN a newcomer waits about 3M (c2's
    own time), not the service's mean of 2M; with both open and busy, the pool's rate is
    c1's plus c2's: 1/M + 1/3M."""
    branch = dedicated(c1="a", c2="a")
    at = T0
    for _ in range(300):  # what 300 customers at each would have taught it
        branch.learner.served("a", M, 0.0, "c1")
        branch.learner.served("a", 3 * M, 0.0, "c2")
    assert branch.learner.mean_occupancy("a") == pytest.approx(2 * M)
    run(branch, "issue_ticket", at, service="a")
    run(branch, "call_next", at, counter="c1")
    run(branch, "issue_ticket", at, service="a")
    run(branch, "call_next", at, counter="c2")
    run(branch, "issue_ticket", at, service="a")
    both = Estimator(branch, at).for_new_ticket("a", "normal")
    assert both.ahead == 1
    assert both.mean == pytest.approx(2 / (1 / M + 1 / (3 * M)), rel=0.03)
    run(branch, "finish", at + 1, counter="c1")
    run(branch, "close_counter", at + 1, counter="c1")
    slow = Estimator(branch, at + 1).for_new_ticket("a", "normal")
    assert slow.mean == pytest.approx(2 * 3 * M, rel=0.03)  # one ahead, then itself


def test_reuse_is_anchored_to_the_fresh_simulation():
    """GIVEN shared counters WHEN tickets come 0.6 s apart THEN the second reuses the
    first's simulation, but the third (1.2 s after that simulation) is simulated afresh:
    a reuse does not restart the one-second window."""
    branch = dedicated(c1="ab", c2="ab")
    at = T0
    for service, counter in (("a", "c1"), ("b", "c2")):
        run(branch, "issue_ticket", at, service=service)
        run(branch, "call_next", at, counter=counter)
    ids = [run(branch, "issue_ticket", at + 0.6 * i, service="a")["ticket"] for i in range(3)]
    first, second, third = (branch.tickets[t].estimate for t in ids)
    shift = branch.learner.mean_occupancy("a") / 2
    assert second["mean"] == pytest.approx(first["mean"] + shift, abs=0.01)
    assert third["mean"] != pytest.approx(first["mean"] + 2 * shift, abs=0.01)


def test_the_time_staff_take_between_a_finish_and_the_next_call_is_learned():
    """GIVEN staff who call the next customer 60 s after each finish WHEN they do so ten
    times THEN those 60 s are learned as their turnaround, and the pool's rate counts it."""
    branch = dedicated(c1="a")
    at = T0
    run(branch, "issue_ticket", at, service="a")
    run(branch, "call_next", at, counter="c1")
    for _ in range(10):
        run(branch, "issue_ticket", at + 1, service="a")
        run(branch, "finish", at + M, counter="c1")
        run(branch, "call_next", at + M + 60, counter="c1")
        at += M + 60
    assert list(branch.learner.turnarounds) == [60.0] * 10
    assert list(branch.learner.reactions) == []  # nobody came to a free counter
    estimator = Estimator(branch, at)
    assert estimator._service_rate("a") == pytest.approx(1 / (M + 60))


def test_planned_counter_hours_are_counted_on():
    """GIVEN c1 serving `a` with 20 waiting at 09:00 (UTC) WHEN c2, closed now, is planned
    to open at 10:00 THEN the newcomer's wait counts on it (shorter than with c1 alone);
    WHEN instead c2 is open now but planned to close at 09:30 THEN it counts on losing it
    (longer than with both open all day)."""

    def newcomer(c2_hours, c2_open: bool) -> float:
        specs = {
            "c1": CounterSpec("c1", {}, ("a",)),
            "c2": CounterSpec("c2", {}, ("a",), hours=c2_hours),
        }
        branch = Branch(small_rules(counters=specs))
        for _ in range(100):
            branch.learner.served("a", M, 0.0, "c1")
        if not c2_open:
            run(branch, "close_counter", T0 - 60, counter="c2")
        for _ in range(20):
            run(branch, "issue_ticket", T0 - 30, service="a")
        run(branch, "call_next", T0 - 30, counter="c1")
        return Estimator(branch, T0).for_new_ticket("a", "normal").mean

    alone = newcomer(None, c2_open=False)
    assert alone == pytest.approx(20 * M - 30, rel=0.01)
    opening = newcomer((10 * 60, 17 * 60), c2_open=False)
    assert 3600 < opening < alone - 1000
    both = newcomer(None, c2_open=True)
    closing = newcomer((8 * 60, 9 * 60 + 30), c2_open=True)
    assert closing > both + 1000


def test_customers_still_to_come_go_ahead_at_an_in_order_counter():
    """GIVEN v serving (a, b) in order and c1 serving a, both busy, 12 customers of `a` an
    hour coming WHEN a customer takes a ticket for b THEN the simulation lets newcomers
    of `a` go first at v, so the wait is longer than v's next free moment; at a
    longest_wait counter newcomers never go first."""
    waits = {}
    for profile in ("in_order", "longest_wait"):
        specs = {
            "v": CounterSpec("v", {}, ("a", "b"), profile=profile),
            "c1": CounterSpec("c1", {}, ("a",)),
        }
        branch = Branch(small_rules(counters=specs))
        for _ in range(100):
            branch.learner.served("a", M, 0.0, "v")
            branch.learner.served("b", M, 0.0, "v")
        for i in range(12):  # 12 in the last hour
            branch.learner.arrived("a", "normal", T0 - 3600 + 300 * i)
        for counter in ("v", "c1"):
            run(branch, "issue_ticket", T0, service="a")
            run(branch, "call_next", T0, counter=counter)
        waits[profile] = Estimator(branch, T0 + 1).for_new_ticket("b", "normal").mean
    assert waits["longest_wait"] == pytest.approx(M - 1)
    assert waits["in_order"] > 1.3 * M


def test_customers_still_to_come_drawn_lazily_make_the_busy_period_of_the_textbook():
    """GIVEN v serving (a, b) in order, busy with one of `a` and two more waiting,
    exponential times of mean M, and customers of `a` coming at λ = 1/(2M) (ρ = 0.5)
    WHEN a customer takes a ticket for b THEN they wait for v's busy period with `a`,
    which 3 customers' work starts: 3M / (1 - ρ) = 6M in the M/M/1 queue. (Arrivals are
    drawn only as the line reaches them: here every one is.)"""
    specs = {"v": CounterSpec("v", {}, ("a", "b"), profile="in_order")}
    branch = Branch(small_rules(counters=specs))
    for _ in range(10):  # the mean is learned; too few for their shape: exponential
        branch.learner.served("a", M, 0.0, "v")
    for i in range(3):  # with the 3 below, 6 in the last hour: one every 2M
        branch.learner.arrived("a", "normal", T0 - 3000 + 600 * i)
    for _ in range(3):
        run(branch, "issue_ticket", T0, service="a")
    run(branch, "call_next", T0, counter="v")
    estimate = Estimator(branch, T0, replications=400).for_new_ticket("b", "normal")
    assert estimate.mean == pytest.approx(6 * M, rel=0.15)


def test_deep_in_a_long_line_fewer_futures_agree_with_many(monkeypatch):
    """GIVEN 450 waiting at two counters that share `a` and `b`, times of 20-40 s (the
    newcomer behind DEEP_STEPS calls) WHEN its estimate is made from DEEP_REPLICATIONS
    futures, as on the command path THEN its mean is within a quarter of the 80% interval
    that 100 futures give, and its interval about as wide."""
    counters = {c: CounterSpec(c, {}, ("a", "b")) for c in ("c1", "c2")}
    branch = Branch(small_rules(counters=counters))
    for i in range(60):
        branch.learner.served("a", 20.0 + i % 21, 0.0, "c1")
        branch.learner.served("b", 20.0 + i % 21, 0.0, "c2")
    for _ in range(450):
        run(branch, "issue_ticket", T0, service="a")
    estimator = Estimator(branch, T0 + 1)
    few = estimator.for_new_ticket("a", "normal")
    assert estimator.deep
    monkeypatch.setattr(estimate_module, "DEEP_REPLICATIONS", 100)
    monkeypatch.setattr(estimate_module, "STEP_BUDGET", 100 * 500)
    many = Estimator(branch, T0 + 1).for_new_ticket("a", "normal")
    width = many.raw_high - many.raw_low
    assert abs(few.mean - many.mean) < width / 4
    assert 0.5 < (few.raw_high - few.raw_low) / width < 2


def test_a_recalled_customer_has_most_likely_gone():
    """GIVEN a counter whose recalled customers have nearly always turned out gone (60 s
    at the counter each) WHEN it has recalled the customer it called 30 s ago THEN a
    newcomer is expected to wait about the rest of those 60 s, not a whole occupancy."""
    waits = {}
    for recalled in (False, True):
        branch = dedicated(c1="ab")
        for _ in range(100):
            branch.learner.served("a", M, 0.0, "c1")
            branch.learner.gone("a", 60.0, 0.0)
            branch.learner.after_recall(gone=True)
        run(branch, "issue_ticket", T0, service="a")
        run(branch, "call_next", T0, counter="c1")
        if recalled:
            run(branch, "recall", T0 + 30, counter="c1")
        waits[recalled] = Estimator(branch, T0 + 30).for_new_ticket("a", "normal").mean
    assert waits[False] == pytest.approx(M - 30, rel=0.01)
    assert waits[True] == pytest.approx(30 + (M - 60) / 102, rel=0.1)


def test_nobody_is_expected_after_a_services_cut_off():
    """GIVEN priority customers arriving at 20 an hour at shared counters WHEN the service
    stops issuing tickets in a minute THEN the simulation expects none of them after it,
    so a normal newcomer waits less than without the cut-off."""
    from datetime import time as clock_time

    waits = {}
    for cutoff in (None, clock_time(9, 1)):
        rules = small_rules(counters={"c1": CounterSpec("c1", {}, ("a", "b"))})
        services = dict(rules.services)
        services["a"] = replace(services["a"], last_ticket_at=cutoff)
        branch = Branch(replace(rules, services=services))
        for _ in range(100):
            branch.learner.served("a", M, 0.0, "c1")
        for i in range(20):
            branch.learner.arrived("a", "priority", T0 - 3600 + 180 * i)
        for _ in range(3):
            run(branch, "issue_ticket", T0 - 20, service="a")
        run(branch, "call_next", T0 - 20, counter="c1")
        waits[cutoff] = Estimator(branch, T0).for_new_ticket("a", "normal").mean
    assert waits[clock_time(9, 1)] < waits[None] - M / 2


def test_services_that_took_no_time_do_not_break_the_simulation():
    """GIVEN shared counters whose customers were all finished in the same instant they
    were called (a clock moved by hand; seen in a demo) WHEN a newcomer is estimated THEN
    the simulation draws from a mean of at least a second, not a division by zero."""
    branch = dedicated(c1="ab", c2="ab")
    at = T0
    for _ in range(3):  # too few to use their distribution: exponential draws from the mean
        for counter in ("c1", "c2"):
            run(branch, "issue_ticket", at, service="a")
            run(branch, "call_next", at, counter=counter)
            run(branch, "finish", at, counter=counter)
    for service, counter in (("a", "c1"), ("b", "c2")):
        run(branch, "issue_ticket", at, service=service)
        run(branch, "call_next", at, counter=counter)
    run(branch, "issue_ticket", at, service="a")
    estimate = Estimator(branch, at + 1, replications=200).for_new_ticket("a", "normal")
    assert estimate.ahead == 1 and estimate.high > 0


def test_a_counter_busy_past_nearly_every_time_seen_is_not_set_by_one_outlier():
    """GIVEN occupancies of `a`: 180 of 300 s, 20 of 1,000-2,900 s and one of 20,000 s WHEN
    a counter has served one for 5,000 s THEN its rest is not always the outlier's 15,000 s
    but one of the 20 longest less the one below them (mean excess 1,900 s); at 500 s,
    with enough seen longer, the rest of one of those less the time gone, as before."""
    branch = dedicated(c1="ab")
    tail = [1000.0 + 100 * i for i in range(20)]
    for occupancy in [300.0] * 180 + tail + [20_000.0]:
        branch.learner.served("a", occupancy, 0.0)
    estimator = Estimator(branch, T0)
    top = sorted(tail + [20_000.0])[-20:]
    rests = [estimator._residual("a", 5000.0, "c1") for _ in range(2000)]
    assert set(rests) <= {x - 1000.0 for x in top}
    assert sum(rests) / len(rests) == pytest.approx(1900, rel=0.1)
    early = [estimator._residual("a", 500.0, "c1") for _ in range(200)]
    assert set(early) <= {x - 500.0 for x in tail + [20_000.0]}


def test_customers_still_to_come_follow_the_hours_of_the_day():
    """GIVEN customers expected at none an hour for the next hour and 10 an hour in the
    hour after WHEN their arrivals are drawn THEN none comes in the first hour and 10 in
    the second on average; over a single stretch a draw is the exponential of before
    (the same random number gives the same time)."""
    rng = random.Random(5)
    rates = [(3600.0, 0.0), (7200.0, 10 / 3600)]
    counts = []
    for _ in range(2000):
        t, n = estimate_module._next_arrival(rates, 0.0, rng), 0
        while t < math.inf:
            assert 3600 <= t < 7200
            n += 1
            t = estimate_module._next_arrival(rates, t, rng)
        counts.append(n)
    assert sum(counts) / len(counts) == pytest.approx(10, rel=0.05)
    one, same = random.Random(1), random.Random(1)
    drawn = estimate_module._next_arrival([(math.inf, 0.01)], 5.0, one)
    assert drawn == pytest.approx(5.0 + same.expovariate(0.01))
