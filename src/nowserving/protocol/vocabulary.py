"""The contract's one vocabulary: device roles, and each command with its arguments, who
may send it, and whether a counter device sends it as itself. Everything that checks or
documents a command reads this table."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    """What a device is, and so what it may do."""

    KIOSK = "kiosk"
    COUNTER = "counter"
    DISPLAY = "display"
    STAFF = "staff"


@dataclass(frozen=True)
class CommandSpec:
    """One command type: its arguments (name -> required; all are strings), the roles
    that may send it, whether a counter device sends it for its own counter, and whether
    the queue decides it (False: the server answers it itself, e.g. `ping`)."""

    args: dict[str, bool]
    roles: frozenset[Role]
    own_counter: bool = True
    queued: bool = True


# Reasons travel as these codes and are put into words only where they are shown
# (i18n `panel.pause_<code>`, `panel.reason_<code>`, `display.reason_<code>`); a reason that
# is not a code (another tool's free text) is shown as it is.
PAUSE_REASONS = ("break", "lunch", "meeting")  # pause_counter's `reason`
CALL_REASONS = ("priority", "appointment")  # call_ticket's `reason`: calling out of turn

_COUNTER_ARG = {"counter": False}
_AT_COUNTERS = frozenset({Role.COUNTER, Role.STAFF})

COMMANDS: dict[str, CommandSpec] = {
    "issue_ticket": CommandSpec(
        # number, issued_at, supersedes: a ticket issued offline from a lease
        {
            "service": True,
            "language": False,
            "priority": False,
            "number": False,
            "issued_at": False,
            "supersedes": False,
            "token": False,  # the random word in the ticket's QR code (the phone page's key)
        },
        frozenset({Role.KIOSK, Role.STAFF}),
        own_counter=False,
    ),
    "lease_numbers": CommandSpec(
        {"service": True, "count": False}, frozenset({Role.KIOSK, Role.STAFF}), own_counter=False
    ),
    "call_next": CommandSpec(_COUNTER_ARG, _AT_COUNTERS),
    "call_ticket": CommandSpec({**_COUNTER_ARG, "ticket": True, "reason": True}, _AT_COUNTERS),
    "recall": CommandSpec(_COUNTER_ARG, _AT_COUNTERS),
    "start": CommandSpec(_COUNTER_ARG, _AT_COUNTERS),
    "finish": CommandSpec(_COUNTER_ARG, _AT_COUNTERS),
    "no_show": CommandSpec(_COUNTER_ARG, _AT_COUNTERS),
    "transfer": CommandSpec(
        {**_COUNTER_ARG, "ticket": False, "to_service": True, "placement": False},
        _AT_COUNTERS,
    ),
    "cancel": CommandSpec(
        {"ticket": True, "reason": False}, frozenset({Role.STAFF}), own_counter=False
    ),
    "rate": CommandSpec({**_COUNTER_ARG, "rating": True}, _AT_COUNTERS),
    "post_notice": CommandSpec(
        {"text": False, "minutes": False, "language": False}, _AT_COUNTERS, own_counter=False
    ),
    "open_counter": CommandSpec(_COUNTER_ARG, _AT_COUNTERS),
    "pause_counter": CommandSpec({**_COUNTER_ARG, "reason": False}, _AT_COUNTERS),
    "close_counter": CommandSpec(_COUNTER_ARG, _AT_COUNTERS),
    # Is the server there and working: answered by the apply loop with its time and seq,
    # never recorded (nothing changes). The self-test uses it.
    "ping": CommandSpec({}, frozenset(Role), own_counter=False, queued=False),
}
