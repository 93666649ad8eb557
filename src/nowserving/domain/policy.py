"""The call policy: which waiting ticket a counter gets when staff press "next".

Inside one service's line, a ticket's call key (`line_key`, the one rule the call, the
estimator's simulation and the staff panel use) is the time it counts from less its head
start: a walk-in counts from its arrival (`queue_since`), an appointment checked in inside
its window from its booked time (`booked_at`) with the service's appointment head start;
the priority class's boost adds to either. The smallest key is called first. That equals
"longest effective wait first", where a priority class counts as having waited `boost`
seconds longer. Because the key does not depend on the current time, the order of a line
never changes while people wait, and a normal ticket that has waited `boost` seconds
longer than a priority one still goes first (aging: no starvation).

Across the services a counter lists, its call profile decides which line's head is next:

- `longest_wait`: the head with the smallest call key, whatever its service (ties go to
  the service listed first). Nobody waits longer than someone called before them.
- `in_order`: the first listed service with anyone waiting: primary and secondary skills.
  With an overflow threshold, a later service whose head has waited (counting its boost)
  more than the threshold competes too, by call key: a line the counter only helps with is
  not left waiting for ever while its primary line is never empty.

The profile only chooses among the heads of the lines, so priority classes and their aging
work the same inside every profile.

A branch may pace its priority classes by an N:1 interleave instead of the time credit
(`[queue] priority_rule = "interleave"`): after every N customers of no priority class, one
priority customer (`interleave_keys`). It is written as call keys too (the branch keeps
each waiting priority ticket's on the ticket, `order_key`), so the call, the estimator and
the panel still share one order; the class's boost then caps how far it may go ahead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

from nowserving.domain.model import CounterSpec, Priority, Ticket

LONGEST_WAIT, IN_ORDER = "longest_wait", "in_order"
PROFILES = (LONGEST_WAIT, IN_ORDER)
CREDIT, INTERLEAVE = "credit", "interleave"
PRIORITY_RULES = (CREDIT, INTERLEAVE)
# An interleaved priority ticket goes this much before the customer it is placed ahead of.
INTERLEAVE_GAP_S = 0.001

T = TypeVar("T")


def boost(priority: str, priorities: dict[str, Priority]) -> float:
    """The head start in seconds of a priority class (0 for a class no longer configured)."""
    return priorities[priority].boost_s if priority in priorities else 0.0


def line_key(
    since: float,
    priority: str,
    priorities: dict[str, Priority],
    booked_at: float | None = None,
    head_start_s: float = 0.0,
) -> float:
    """What orders a line: when the customer counts from (the booked time of an
    appointment, else the arrival `since`), less their head start (the priority's boost,
    plus an appointment's). Fixed while they wait, so everyone ages alike: someone can be
    called before a customer only if they count from less than the largest head start
    after that customer's arrival (docs/appointments.md, "The merged order")."""
    anchor = since if booked_at is None else booked_at
    return anchor - boost(priority, priorities) - head_start_s


def call_key(ticket: Ticket, priorities: dict[str, Priority]) -> float:
    """A ticket's `line_key`; under the interleave, a waiting priority ticket's key as the
    branch placed it (`order_key`, from `interleave_keys`)."""
    if ticket.order_key is not None:
        return ticket.order_key
    return line_key(
        ticket.queue_since, ticket.priority, priorities, ticket.booked_at, ticket.head_start_s
    )


def base_key(ticket: Ticket) -> float:
    """When a ticket counts from, less an appointment's head start: its `line_key` without
    any priority boost (what the interleave orders each stream by)."""
    return line_key(ticket.queue_since, "", {}, ticket.booked_at, ticket.head_start_s)


def interleave_keys(
    regular: Sequence[float],
    paced: Sequence[tuple[float, float, str]],
    every: int,
    since_priority: int,
) -> dict[str, float]:
    """The call keys of a line's priority tickets under the N:1 interleave.

    `regular`: the call keys of the line's other tickets, sorted; `paced`: each priority
    ticket's (`base_key`, its class's boost in seconds, id), sorted; `every`: N; and
    `since_priority`: customers of no priority class called from this line since its last
    priority one. The p-th priority ticket (from 0) is placed just before the regular
    ticket number k = max(0, N - since_priority) + p·N (so after k of them), but never
    behind anyone who counts from later than itself (an empty stretch of regulars does not
    hold it back) and never more than its boost ahead of its own base (the aging bound of
    the time credit: nobody waits past the target only because of others' priority).

    Depends only on the set of tickets and the count, never on the order they came in.
    When the line is called in this order, a ticket's key does not change: calling a
    regular lowers k by one and drops the first regular, calling the priority ticket
    restarts the count as the next one moves up."""
    first = max(0, every - since_priority)
    keys = {}
    for p, (base, boost_s, tid) in enumerate(paced):
        k = first + p * every
        key = base if k >= len(regular) else min(base, regular[k] - INTERLEAVE_GAP_S)
        keys[tid] = max(key, base - boost_s)
    return keys


def why_first(ticket: Ticket, priorities: dict[str, Priority]) -> dict | None:
    """Why a ticket counts from earlier than its arrival, for the staff panel and the phone
    page to say: {"appointment": booked time} and/or {"priority": class}; None: it counts
    from its arrival like everyone else."""
    why: dict = {}
    if ticket.booked_at is not None:
        why["appointment"] = ticket.booked_at
    if boost(ticket.priority, priorities) > 0:
        why["priority"] = ticket.priority
    return why or None


def choose(
    profile: str, overflow_s: float | None, heads: Sequence[float | None], now: float
) -> int | None:
    """Which of a counter's lines to call from: the index into `heads`, the call key of
    the head of each line it serves (None: nobody waits there), in the counter's order.

    Kept small and allocation-free: the estimator calls it for every simulated call."""
    best = None
    best_key = 0.0
    for rank, key in enumerate(heads):
        if key is None:
            continue
        if best is None:
            best, best_key = rank, key
            continue
        # A later line competes unless the profile is in_order and it does not overflow;
        # ties stay with the service listed first.
        competes = profile != IN_ORDER or (overflow_s is not None and now - key > overflow_s)
        if competes and key < best_key:
            best, best_key = rank, key
    return best


def pick_next(
    counter: CounterSpec,
    waiting_by_service: dict[str, Iterable[Ticket]],
    priorities: dict[str, Priority],
    now: float,
) -> Ticket | None:
    """The ticket `counter` should call next at `now`, or None when none of its services
    has one."""
    heads: list[Ticket | None] = []
    for service in counter.services:
        head = min(
            waiting_by_service.get(service, ()),
            key=lambda t: (call_key(t, priorities), t.id),
            default=None,
        )
        heads.append(head)
    keys = [None if h is None else call_key(h, priorities) for h in heads]
    rank = choose(counter.profile, counter.overflow_s, keys, now)
    return None if rank is None else heads[rank]


def call_order(
    counter: CounterSpec,
    lines: dict[str, Sequence[tuple[float, T]]],
    now: float,
    limit: int | None = None,
) -> list[T]:
    """Everyone `counter` could call, in the order it would call them if nobody else
    called and nobody new came at `now`: `lines` holds each service's line as (call key,
    item) pairs, already in call order (as the server publishes them)."""
    services = counter.services
    positions = [0] * len(services)
    ordered: list[T] = []
    total = sum(len(lines.get(s, ())) for s in services)
    while len(ordered) < (total if limit is None else min(total, limit)):
        heads = []
        for i, service in enumerate(services):
            line = lines.get(service, ())
            heads.append(line[positions[i]][0] if positions[i] < len(line) else None)
        rank = choose(counter.profile, counter.overflow_s, heads, now)
        if rank is None:
            break
        ordered.append(lines[services[rank]][positions[rank]][1])
        positions[rank] += 1
    return ordered
