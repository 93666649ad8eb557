"""The queue domain: pure Python, standard library only, no clock and no I/O.

State is a fold of events (`Branch.apply`); commands are decided into events
(`Branch.handle`). A new ticket's wait estimate comes from `NewcomerEstimates`, which the
caller holds and passes in. Time always comes in as an argument.
"""

from nowserving.domain.branch import Branch, Seen
from nowserving.domain.commands import Command
from nowserving.domain.events import EVENT_TYPES, Event
from nowserving.domain.model import (
    BranchRules,
    CounterSpec,
    CounterState,
    Priority,
    Service,
    StaffMember,
    Ticket,
    TicketStatus,
)
from nowserving.domain.newcomer import NewcomerEstimates

__all__ = [
    "EVENT_TYPES",
    "Branch",
    "BranchRules",
    "Command",
    "CounterSpec",
    "CounterState",
    "Event",
    "NewcomerEstimates",
    "Priority",
    "Seen",
    "Service",
    "StaffMember",
    "Ticket",
    "TicketStatus",
]
