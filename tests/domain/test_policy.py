"""The call policy's profiles: longest wait, in order, in order with overflow."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from nowserving.domain import Branch, Command, CounterSpec, Priority, Ticket
from nowserving.domain.policy import IN_ORDER, LONGEST_WAIT, call_key, call_order, pick_next
from tests.conftest import T0, small_rules

PRIORITIES = {"normal": Priority("normal", 0.0), "priority": Priority("priority", 600.0)}
SERVICES = ("a", "b", "c")
NOW = T0 + 10_000

_ids = itertools.count()


def ticket(service: str, since: float, priority: str = "normal") -> Ticket:
    n = next(_ids)
    return Ticket(f"t{n:05d}", f"N{n}", service, "en", priority, since, since, "k")


tickets = st.lists(
    st.builds(
        ticket,
        st.sampled_from(SERVICES),
        st.floats(T0, NOW, allow_nan=False),
        st.sampled_from(["normal", "priority"]),
    ),
    max_size=25,
)
counters = st.builds(
    lambda services, profile, overflow: CounterSpec(
        "c", {}, tuple(services), profile=profile, overflow_s=overflow
    ),
    st.permutations(SERVICES).flatmap(lambda p: st.integers(1, 3).map(lambda n: p[:n])),
    st.sampled_from([LONGEST_WAIT, IN_ORDER]),
    st.one_of(st.none(), st.floats(0, 7200)),
).filter(lambda c: c.overflow_s is None or c.profile == IN_ORDER)


def by_service(waiting: list[Ticket]) -> dict[str, list[Ticket]]:
    lines: dict[str, list[Ticket]] = {s: [] for s in SERVICES}
    for t in waiting:
        lines[t.service].append(t)
    return lines


def head(line: list[Ticket]) -> Ticket | None:
    return min(line, key=lambda t: (call_key(t, PRIORITIES), t.id), default=None)


@settings(max_examples=400, deadline=None)
@given(tickets, counters)
def test_every_profile_calls_the_head_of_one_of_its_lines(waiting, counter):
    """Priority classes and aging work inside every profile: whatever line the profile
    chooses, the ticket called is that line's head by call key."""
    lines = by_service(waiting)
    chosen = pick_next(counter, lines, PRIORITIES, NOW)
    served = [t for s in counter.services for t in lines[s]]
    if not served:
        assert chosen is None
        return
    assert chosen is not None and chosen.service in counter.services
    assert chosen is head(lines[chosen.service])


@settings(max_examples=400, deadline=None)
@given(tickets, counters)
def test_longest_wait_is_the_smallest_key_across_services(waiting, counter):
    counter = CounterSpec("c", {}, counter.services)  # the default profile
    assert counter.profile == LONGEST_WAIT
    lines = by_service(waiting)
    rank = {s: i for i, s in enumerate(counter.services)}
    candidates = [t for s in counter.services for t in lines[s]]
    expected = min(
        candidates,
        key=lambda t: (call_key(t, PRIORITIES), rank[t.service], t.id),
        default=None,
    )
    assert pick_next(counter, lines, PRIORITIES, NOW) is expected


@settings(max_examples=400, deadline=None)
@given(tickets, counters)
def test_in_order_serves_the_first_listed_service_with_anyone_waiting(waiting, counter):
    counter = CounterSpec("c", {}, counter.services, profile=IN_ORDER)
    lines = by_service(waiting)
    first = next((s for s in counter.services if lines[s]), None)
    chosen = pick_next(counter, lines, PRIORITIES, NOW)
    assert (chosen.service if chosen else None) == first


@settings(max_examples=400, deadline=None)
@given(tickets, counters, st.floats(0, 7200))
def test_overflow_lets_a_later_line_compete_once_its_head_waited_long_enough(
    waiting, counter, overflow
):
    """GIVEN in_order with an overflow of N s THEN the call is the smallest key among the
    first non-empty line's head and every later head that has waited more than N s."""
    counter = CounterSpec("c", {}, counter.services, profile=IN_ORDER, overflow_s=overflow)
    lines = by_service(waiting)
    heads = [(s, head(lines[s])) for s in counter.services if lines[s]]
    chosen = pick_next(counter, lines, PRIORITIES, NOW)
    if not heads:
        assert chosen is None
        return
    candidates = [heads[0][1]] + [
        h for _, h in heads[1:] if NOW - call_key(h, PRIORITIES) > overflow
    ]
    best = min(call_key(h, PRIORITIES) for h in candidates)
    assert chosen in candidates and call_key(chosen, PRIORITIES) == best


@settings(max_examples=200, deadline=None)
@given(tickets, counters)
def test_call_order_is_the_order_of_successive_calls(waiting, counter):
    """The staff panel's list: calling next again and again (nobody else calling, nobody
    new) takes the tickets in exactly call_order's order."""
    lines = by_service(waiting)
    keyed = {
        s: sorted(((call_key(t, PRIORITIES), t) for t in line), key=lambda e: (e[0], e[1].id))
        for s, line in lines.items()
    }
    listed = call_order(counter, keyed, NOW)
    called = []
    while (t := pick_next(counter, lines, PRIORITIES, NOW)) is not None:
        called.append(t)
        lines[t.service].remove(t)
    assert listed == called
    assert call_order(counter, keyed, NOW, limit=3) == called[:3]


def test_aging_inside_in_order():
    """A normal customer who has waited longer than the priority boost goes before a
    priority one in the same line; the other line still waits for both."""
    counter = CounterSpec("c", {}, ("a", "b"), profile=IN_ORDER)
    old = ticket("a", NOW - 700)
    vip = ticket("a", NOW - 60, "priority")
    b = ticket("b", NOW - 5000)
    assert pick_next(counter, {"a": [old, vip], "b": [b]}, PRIORITIES, NOW) is old
    assert pick_next(counter, {"a": [vip], "b": [b]}, PRIORITIES, NOW) is vip


# ----- through the branch -----------------------------------------------------------


def vip_branch(profile: str, overflow_s: float | None = None) -> Branch:
    counters = {
        "v": CounterSpec("v", {}, ("a", "b"), profile=profile, overflow_s=overflow_s),
        "c3": CounterSpec("c3", {}, ("b",)),
    }
    return Branch(small_rules(counters=counters))


def run(branch: Branch, kind: str, at: float, **args) -> dict:
    _, outcome, _ = branch.handle(Command(f"p{next(_ids)}", kind, "d", at, args))
    return outcome


def number_called(branch: Branch, at: float) -> str:
    outcome = run(branch, "call_next", at, counter="v")
    assert outcome["ok"], outcome
    number = branch.tickets[outcome["ticket"]].number
    run(branch, "finish", at, counter="v")
    return number


def test_in_order_counter_serves_its_first_service_first():
    """GIVEN b waiting since 09:00 and a since 09:20 WHEN the in_order counter calls THEN
    a goes first; the longest_wait counter calls b first."""
    for profile, first in ((IN_ORDER, "A001"), (LONGEST_WAIT, "B01")):
        branch = vip_branch(profile)
        run(branch, "issue_ticket", T0, service="b")
        run(branch, "issue_ticket", T0 + 1200, service="a")
        assert number_called(branch, T0 + 1300) == first


def test_overflow_threshold_through_the_branch():
    """GIVEN in_order with a 30-minute overflow, b waiting since 09:00 and a stream of a
    WHEN the counter calls at 09:20 THEN a; at 09:40 (b has waited 40 min) THEN b."""
    branch = vip_branch(IN_ORDER, overflow_s=1800)
    run(branch, "issue_ticket", T0, service="b")
    for minute in (10, 15, 35):
        run(branch, "issue_ticket", T0 + minute * 60, service="a")
    assert number_called(branch, T0 + 1200) == "A001"
    assert number_called(branch, T0 + 2400) == "B01"
    assert number_called(branch, T0 + 2400) == "A002"
