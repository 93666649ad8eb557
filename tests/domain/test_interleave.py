"""The N:1 interleave (`[queue] priority_rule = "interleave"`): one priority customer after
every N others, bounded by the class's boost, in the one order the call, the estimator and
the panel share (`policy.call_key`), and independent of the order tickets were added."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from nowserving.domain import Branch, Command, Priority
from nowserving.domain.policy import call_key
from tests.conftest import T0, small_rules

_ids = itertools.count()


def rules(rule: str = "interleave", boost_s: float = 600.0, every: int = 3):
    priorities = {"normal": Priority("normal", 0.0), "priority": Priority("priority", boost_s)}
    return small_rules(priorities=priorities, priority_rule=rule, interleave=every)


def run(branch: Branch, kind: str, at: float, **args) -> dict:
    _, outcome, _ = branch.handle(Command(f"i-{next(_ids)}", kind, "dev", at, args))
    assert outcome["ok"], outcome
    return outcome


def issue(branch: Branch, minute: float, priority: str = "normal") -> str:
    ticket = run(branch, "issue_ticket", T0 + minute * 60, service="a", priority=priority)
    return branch.tickets[ticket["ticket"]].number


def calls(branch: Branch, at: float) -> list[str]:
    """Call c1 (service a only) until the line is empty; the numbers in call order."""
    called = []
    while branch.waiting_line("a"):
        ticket = run(branch, "call_next", at, counter="c1")["ticket"]
        called.append(branch.tickets[ticket].number)
        run(branch, "finish", at, counter="c1")
        at += 1
    return called


def test_one_priority_customer_after_every_three_others_where_the_credit_lets_all_jump():
    """GIVEN six customers from 09:00 to 09:05 and two priority customers at 09:06 and 09:07
    (boost 10 min) WHEN counter c1 calls them all THEN under the interleave (N = 3) it calls
    three, one priority, three, the other priority; under the time credit both priority
    customers go first. The line's order before any call is already the call order, and it
    is what `call_key` (which the estimator reads) sorts to."""
    orders = {}
    for rule in ("interleave", "credit"):
        branch = Branch(rules(rule))
        for minute in range(6):
            issue(branch, minute)
        issue(branch, 6, "priority")
        issue(branch, 7, "priority")
        line = [t.number for t in branch.waiting_line("a")]
        by_key = sorted(
            branch.waiting_line("a"), key=lambda t: (call_key(t, branch.rules.priorities), t.id)
        )
        assert [t.number for t in by_key] == line
        orders[rule] = calls(branch, T0 + 600)
        assert orders[rule] == line
    assert orders["interleave"] == ["A001", "A002", "A003", "A007", "A004", "A005", "A006", "A008"]
    assert orders["credit"] == ["A007", "A008", "A001", "A002", "A003", "A004", "A005", "A006"]


def test_the_count_carries_on_across_arrivals_and_a_priority_customer_never_waits_for_later_ones():
    """GIVEN the interleave with two customers called since the last priority one WHEN a
    priority customer comes THEN it goes after one more; and a priority customer alone
    with customers who came after it goes first (an empty stretch holds nobody back)."""
    branch = Branch(rules())
    for minute in range(4):
        issue(branch, minute)
    run(branch, "call_next", T0 + 300, counter="c1")  # A001
    run(branch, "finish", T0 + 301, counter="c1")
    run(branch, "call_next", T0 + 302, counter="c1")  # A002
    run(branch, "finish", T0 + 303, counter="c1")
    issue(branch, 6, "priority")  # A005: after one more (A003), before A004
    assert [t.number for t in branch.waiting_line("a")] == ["A003", "A005", "A004"]
    assert branch.since_priority == {"a": 2}
    again = Branch.from_dict(branch.rules, json.loads(json.dumps(branch.to_dict())))
    assert [t.number for t in again.waiting_line("a")] == ["A003", "A005", "A004"]

    alone = Branch(rules())
    issue(alone, 0, "priority")
    issue(alone, 1)
    issue(alone, 2)
    assert calls(alone, T0 + 600) == ["A001", "A002", "A003"]


def test_the_boost_bounds_the_interleave_nobody_is_passed_by_one_who_came_later_than_it():
    """GIVEN customers every minute from 09:00 to 09:09 and a priority customer at 09:10
    whose class's boost is 2.5 min WHEN the interleave would place it after three THEN it
    goes no further ahead than 09:07:30: after the 09:07 customer, before 09:08's."""
    branch = Branch(rules(boost_s=150.0))
    for minute in range(10):
        issue(branch, minute)
    issue(branch, 10, "priority")
    assert [t.number for t in branch.waiting_line("a")] == [
        "A001", "A002", "A003", "A004", "A005", "A006", "A007", "A008", "A011", "A009", "A010",
    ]  # fmt: skip


specs = st.lists(
    st.tuples(st.integers(0, 120), st.booleans()), min_size=1, max_size=20
)  # (arrival minute, priority)


@settings(max_examples=120, deadline=None)
@given(specs, st.integers(0, 5), st.integers(1, 4), st.randoms(use_true_random=False))
def test_the_interleaved_order_does_not_depend_on_the_order_tickets_were_added(
    arrivals, called, every, rnd
):
    """GIVEN any customers (some of a priority class) and some already called WHEN the same
    waiting line is rebuilt from a snapshot whose tickets are in another order THEN the line
    and the calls that follow are the same."""
    branch = Branch(rules(every=every))
    for minute, priority in sorted(arrivals):
        issue(branch, minute, "priority" if priority else "normal")
    at = T0 + 200 * 60
    for _ in range(min(called, len(arrivals) - 1)):
        run(branch, "call_next", at, counter="c1")
        run(branch, "finish", at, counter="c1")
    state = json.loads(json.dumps(branch.to_dict()))
    rnd.shuffle(state["tickets"])
    other = Branch.from_dict(branch.rules, state)
    assert [t.id for t in other.waiting_line("a")] == [t.id for t in branch.waiting_line("a")]
    assert calls(other, at + 10) == calls(branch, at + 10)


def test_the_credit_stays_the_default():
    """GIVEN rules that do not say THEN the rule is the time credit."""
    assert replace(small_rules()).priority_rule == "credit"
