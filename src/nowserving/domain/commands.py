"""Commands: what devices ask the queue to do. Each carries a client-generated id."""

from __future__ import annotations

from dataclasses import dataclass, field

# The command types and which device roles may send them.
COMMAND_TYPES: dict[str, frozenset[str]] = {
    "issue_ticket": frozenset({"kiosk", "staff"}),
    "call_next": frozenset({"counter", "staff"}),
    "call_ticket": frozenset({"counter", "staff"}),
    "recall": frozenset({"counter", "staff"}),
    "start": frozenset({"counter", "staff"}),
    "finish": frozenset({"counter", "staff"}),
    "no_show": frozenset({"counter", "staff"}),
    "transfer": frozenset({"counter", "staff"}),
    "cancel": frozenset({"staff"}),
    "open_counter": frozenset({"counter", "staff"}),
    "pause_counter": frozenset({"counter", "staff"}),
    "close_counter": frozenset({"counter", "staff"}),
}


@dataclass(frozen=True)
class Command:
    """A request from a device, stamped with the server's time `at` when it is applied."""

    id: str
    type: str
    device: str
    at: float
    args: dict = field(default_factory=dict)
