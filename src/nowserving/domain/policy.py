"""The call policy: which waiting ticket a counter gets when staff press "next".

A ticket's call key is `queue_since - boost` of its priority class; the smallest key is
called first. That equals "longest effective wait first", where a priority class counts
as having waited `boost` seconds longer. Because the key does not depend on the current
time, the order of a line never changes while people wait, and a normal ticket that has
waited `boost` seconds longer than a priority one still goes first (aging: no starvation).
Ties go to the service the counter lists first, then to the lower ticket id.
"""

from __future__ import annotations

from collections.abc import Iterable

from nowserving.domain.model import CounterSpec, Priority, Ticket


def boost(priority: str, priorities: dict[str, Priority]) -> float:
    """The head start in seconds of a priority class (0 for a class no longer configured)."""
    return priorities[priority].boost_s if priority in priorities else 0.0


def call_key(ticket: Ticket, priorities: dict[str, Priority]) -> float:
    return ticket.queue_since - boost(ticket.priority, priorities)


def pick_next(
    counter: CounterSpec,
    waiting_by_service: dict[str, Iterable[Ticket]],
    priorities: dict[str, Priority],
) -> Ticket | None:
    """The ticket `counter` should call next, or None when none of its services has one."""
    best: tuple | None = None
    chosen: Ticket | None = None
    for rank, service in enumerate(counter.services):
        for ticket in waiting_by_service.get(service, ()):
            key = (call_key(ticket, priorities), rank, ticket.id)
            if best is None or key < best:
                best, chosen = key, ticket
    return chosen
