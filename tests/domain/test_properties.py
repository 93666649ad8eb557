"""Invariants of the queue over random command sequences (hypothesis)."""

from __future__ import annotations

from collections import Counter as Tally

from hypothesis import given, settings
from hypothesis import strategies as st

from nowserving.domain import Branch, Command, NewcomerEstimates
from nowserving.domain.model import ACTIVE
from nowserving.domain.policy import call_key
from tests.conftest import T0, small_rules

RULES = small_rules()
COUNTERS = sorted(RULES.counters)
SERVICES = sorted(RULES.services)

counter = st.sampled_from(COUNTERS)
action = st.one_of(
    st.tuples(
        st.just("issue_ticket"),
        st.fixed_dictionaries(
            {
                "service": st.sampled_from(SERVICES),
                "priority": st.sampled_from(["normal", "priority"]),
            }
        ),
    ),
    *[
        st.tuples(st.just(kind), st.fixed_dictionaries({"counter": counter}))
        for kind in (
            "call_next",
            "recall",
            "start",
            "finish",
            "no_show",
            "open_counter",
            "close_counter",
        )
    ],
    st.tuples(st.just("pause_counter"), st.fixed_dictionaries({"counter": counter})),
    st.tuples(
        st.just("transfer"),
        st.fixed_dictionaries(
            {
                "counter": counter,
                "to_service": st.sampled_from(SERVICES),
                "placement": st.sampled_from(["front", "back"]),
            }
        ),
    ),
    st.tuples(st.just("cancel_some"), st.integers(0, 50)),
    st.tuples(st.just("repeat"), st.integers(0, 1000)),
)
steps = st.lists(st.tuples(action, st.floats(0, 900)), max_size=120)


def drive(plan) -> tuple[Branch, list, list[Command]]:
    branch, newcomers = Branch(RULES), NewcomerEstimates()  # events carry estimates
    events, sent = [], []
    at = T0
    for (kind, args), dt in plan:
        at += dt
        if kind == "repeat":
            if not sent:
                continue
            command = sent[args % len(sent)]
        elif kind == "cancel_some":
            waiting = [t for line in branch.lines.values() for t in line]
            if not waiting:
                continue
            command = Command(
                f"c{len(sent)}",
                "cancel",
                "staff",
                at,
                {"ticket": sorted(waiting)[args % len(waiting)]},
            )
        else:
            command = Command(f"c{len(sent)}", kind, "dev", at, args)
        before = branch.to_dict()
        if len(sent) % 7 == 3:
            branch.frozen_copy()  # as the server asks now and then: copies kept for later
        new, _, duplicate = branch.handle(command, newcomers.estimate)
        if duplicate:
            assert new == [] and branch.to_dict() == before, "a repeated id changed state"
        else:
            sent.append(command)
        events.extend(new)
    return branch, events, sent


@settings(max_examples=300, deadline=None)
@given(steps)
def test_no_ticket_lost_or_called_twice_and_numbers_unique(plan):  # noqa: C901 (one walk, every invariant)
    branch, events, _ = drive(plan)
    status: dict[str, str] = {}
    numbers_per_day: Tally = Tally()
    for event in events:
        data = event.data
        if event.type == "day_started":
            status = {}
        elif event.type == "ticket_issued":
            numbers_per_day[(branch.rules.business_day(event.at), data["number"])] += 1
            status[data["ticket"]] = "waiting"
        elif event.type == "ticket_called":
            assert status[data["ticket"]] == "waiting", "called a ticket that was not waiting"
            status[data["ticket"]] = "called"
        elif event.type == "ticket_transferred":
            status[data["ticket"]] = "waiting"
        elif event.type in ("ticket_finished", "ticket_no_show", "ticket_cancelled"):
            status[data["ticket"]] = "closed"
    assert all(n == 1 for n in numbers_per_day.values()), "a number issued twice in a day"
    # Every ticket of the day is somewhere: in exactly one line, at one counter, or closed.
    in_lines = [t for line in branch.lines.values() for t in line]
    at_counters = [c.ticket for c in branch.counters.values() if c.ticket]
    assert len(in_lines) == len(set(in_lines))
    assert len(at_counters) == len(set(at_counters))
    assert set(in_lines).isdisjoint(at_counters)
    for ticket in branch.tickets.values():
        if ticket.status == "waiting":
            assert ticket.id in in_lines
        elif ticket.status in ACTIVE:
            assert ticket.id in at_counters and branch.counters[ticket.counter].ticket == ticket.id
        else:
            assert ticket.id not in in_lines and ticket.id not in at_counters
    assert set(branch.tickets) == set(status)
    # What estimates are made from: exactly the open tickets (found by lines and counters),
    # as they are now (a copy kept from the last frozen copy only where nothing changed).
    frozen = branch.frozen_copy().tickets
    assert set(frozen) == {t.id for t in branch.tickets.values() if t.status in ACTIVE}
    assert all(frozen[i].__dict__ == branch.tickets[i].__dict__ for i in frozen)
    # The kept call order is the line sorted from scratch by the call policy's key.
    for service, line in branch.lines.items():
        by_policy = sorted(
            (branch.tickets[t] for t in line),
            key=lambda t: (call_key(t, branch.rules.priorities), t.id),
        )
        assert branch.waiting_line(service) == by_policy


@settings(max_examples=200, deadline=None)
@given(steps)
def test_replaying_the_events_gives_the_same_state(plan):
    branch, events, _ = drive(plan)
    replayed = Branch(RULES)
    for event in events:
        replayed.apply(event)
    assert replayed.to_dict() == branch.to_dict()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


@settings(max_examples=200, deadline=None)
@given(steps)
def test_a_snapshot_taken_anywhere_resumes_to_the_same_state(plan):
    branch, events, _ = drive(plan)
    cut = len(events) // 2
    first = Branch(RULES)
    for event in events[:cut]:
        first.apply(event)
    resumed = Branch.from_dict(RULES, first.to_dict())
    for event in events[cut:]:
        resumed.apply(event)
    assert resumed.to_dict() == branch.to_dict()
    assert all(resumed.waiting_line(s) == branch.waiting_line(s) for s in branch.lines)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(SERVICES), min_size=1, max_size=30), st.data())
def test_two_counters_calling_at_the_same_instant_get_different_tickets(services, data):
    branch = Branch(RULES)
    for i, service in enumerate(services):
        branch.handle(Command(f"i{i}", "issue_ticket", "k", T0 + i, {"service": service}))
    first, second = data.draw(st.permutations(COUNTERS))[:2]
    at = T0 + 1000
    _, a, _ = branch.handle(Command("x1", "call_next", first, at, {"counter": first}))
    _, b, _ = branch.handle(Command("x2", "call_next", second, at, {"counter": second}))
    if a["ok"] and b["ok"]:
        assert a["ticket"] != b["ticket"]
