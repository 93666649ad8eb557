"""The merged order of a line (`policy.line_key`): appointments from their booked time,
walk-ins from their arrival, bounded head starts, and nobody starved by bookings."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from nowserving.domain import CounterSpec, Priority, Ticket
from nowserving.domain.policy import call_key, pick_next
from tests.conftest import T0

PRIORITIES = {"normal": Priority("normal", 0.0), "priority": Priority("priority", 600.0)}
COUNTER = CounterSpec("c1", {}, ("a",))
TARGET_S = 20 * 60  # the branch's wait target (`wait_warning_minutes`' default)
HEAD_START_S = 300.0
_ids = itertools.count()


def walk_in(arrival: float, priority: str = "normal") -> Ticket:
    n = next(_ids)
    return Ticket(f"t{n:05d}", f"A{n}", "a", "en", priority, arrival, arrival, "k")


def appointment(arrival: float, booked: float) -> Ticket:
    ticket = walk_in(arrival)
    ticket.booked_at, ticket.head_start_s, ticket.booking = booked, HEAD_START_S, "b"
    return ticket


def merged(waiting: list[Ticket], now: float) -> Ticket:
    """The call: the policy's pick, whose line key is `line_key`."""
    return pick_next(COUNTER, {"a": waiting}, PRIORITIES, now)


def strict_booked_time(waiting: list[Ticket], now: float) -> Ticket:
    """The rule the issue names (ZMS before its fix): a checked-in appointment always goes
    before any walk-in, in booked order; walk-ins by arrival after them."""
    return min(waiting, key=lambda t: (t.booked_at is None, t.booked_at or t.queue_since, t.id))


def serve_day(
    customers: list[Ticket], service_s: Callable[[Ticket], float], pick
) -> dict[str, float]:
    """One counter through a day: `customers` arrive at their `issued_at`; returns each
    one's wait from arrival to call (seconds)."""
    arrivals = sorted(customers, key=lambda t: t.issued_at)
    waiting: list[Ticket] = []
    waits: dict[str, float] = {}
    now, i = arrivals[0].issued_at, 0
    while len(waits) < len(customers):
        while i < len(arrivals) and arrivals[i].issued_at <= now:
            waiting.append(arrivals[i])
            i += 1
        if not waiting:
            now = arrivals[i].issued_at
            continue
        ticket = pick(waiting, now)
        waiting.remove(ticket)
        waits[ticket.id] = now - ticket.issued_at
        now += service_s(ticket)
    return waits


def dense_day(seed: int = 7) -> tuple[list[Ticket], list[Ticket]]:
    """09:00-17:00 at one counter: a booking every 10 minutes, each checked in 10-15
    minutes early; walk-ins about every 20 minutes. Service takes 5-7 minutes."""
    rng = random.Random(seed)
    bookings = [
        appointment(T0 + k * 600 - rng.uniform(600, 900), T0 + k * 600) for k in range(1, 48)
    ]
    walk_ins, t = [], T0
    while t < T0 + 8 * 3600:
        t += rng.expovariate(1 / 1200)
        walk_ins.append(walk_in(t))
    return bookings, walk_ins


def test_dense_bookings_do_not_starve_walk_ins_as_the_strict_rule_does():
    """GIVEN a day where bookings take 60 % of the counter and come 10-15 minutes early
    WHEN served by the strict booked-time rule and by the merged order THEN under the strict
    rule the longest walk-in wait passes the 20-minute target (walk-ins wait until no
    appointment is in the hall) and under the merged order it stays below it."""
    bookings, walk_ins = dense_day()
    durations = {t.id: random.Random(t.id).uniform(300, 420) for t in bookings + walk_ins}

    def service(ticket: Ticket) -> float:
        return durations[ticket.id]

    longest = {}
    for name, rule in (("strict", strict_booked_time), ("merged", merged)):
        waits = serve_day(bookings + walk_ins, service, rule)
        longest[name] = max(waits[t.id] for t in walk_ins)
        late = max(waits[t.id] - max(0.0, t.booked_at - t.issued_at) for t in bookings)
        longest[name + "_appointment_late"] = late
    print(
        f"longest walk-in wait: strict {longest['strict'] / 60:.1f} min, "
        f"merged {longest['merged'] / 60:.1f} min; longest appointment called after its "
        f"booked time: strict {longest['strict_appointment_late'] / 60:.1f} min, "
        f"merged {longest['merged_appointment_late'] / 60:.1f} min"
    )
    assert longest["strict"] > TARGET_S
    assert longest["merged"] < TARGET_S


def test_priority_is_bounded_nobody_passes_a_customer_from_later_than_its_boost():
    """GIVEN a flood of priority customers (one a minute, more than the counter serves)
    WHEN a normal customer waits THEN only priority customers who came less than the
    boost (10 min) after them are called first: their wait is bounded, not for ever."""
    normal = walk_in(T0 + 60)
    flood = [walk_in(T0 + k * 60, "priority") for k in range(0, 120)]
    order: list[Ticket] = []
    waits = serve_day([normal, *flood], lambda t: 240.0, lambda w, now: _note(order, w, now))
    before = order[: order.index(normal)]
    assert before and all(t.issued_at < normal.issued_at + 600 for t in before)
    assert waits[normal.id] <= 11 * 240  # at most the 11 who came in its first 10 minutes


def _note(order: list[Ticket], waiting: list[Ticket], now: float) -> Ticket:
    ticket = merged(waiting, now)
    order.append(ticket)
    return ticket


def test_an_appointment_counts_from_its_booked_time_not_its_arrival():
    """GIVEN an appointment for 10:30 that arrived at 10:00 and walk-ins at 10:20 and 10:26
    THEN the order is 10:20, the appointment (10:25 with its head start), 10:26."""
    base = T0 + 3600
    appt = appointment(base, base + 1800)
    early, later = walk_in(base + 1200), walk_in(base + 1560)
    waiting = [later, appt, early]
    order = sorted(waiting, key=lambda t: (call_key(t, PRIORITIES), t.id))
    assert order == [early, appt, later]


customers = st.lists(
    st.tuples(
        st.floats(T0, T0 + 7200, allow_nan=False),
        st.one_of(st.none(), st.floats(T0, T0 + 9000, allow_nan=False)),
        st.sampled_from(["normal", "priority"]),
    ),
    min_size=1,
    max_size=25,
)


def _make(spec: tuple[float, float | None, str]) -> Ticket:
    arrival, booked, priority = spec
    ticket = appointment(arrival, booked) if booked is not None else walk_in(arrival)
    ticket.priority = priority
    return ticket


@settings(max_examples=300, deadline=None)
@given(customers, st.randoms(use_true_random=False))
def test_the_call_order_does_not_depend_on_the_order_customers_were_added(specs, rnd):
    """GIVEN any mix of walk-ins, appointments and priorities WHEN the same line is built
    in two insertion orders THEN the counter calls them in the same order."""
    tickets = [_make(s) for s in specs]
    shuffled = list(tickets)
    rnd.shuffle(shuffled)

    def calls(line: list[Ticket]) -> list[str]:
        line, order = list(line), []
        while line:
            ticket = merged(line, T0 + 9000)
            line.remove(ticket)
            order.append(ticket.id)
        return order

    assert calls(tickets) == calls(shuffled)
    keys = [call_key(t, PRIORITIES) for t in tickets]
    by_id = {t.id: k for t, k in zip(tickets, keys, strict=True)}
    called = calls(tickets)
    assert [by_id[i] for i in called] == sorted(keys)
