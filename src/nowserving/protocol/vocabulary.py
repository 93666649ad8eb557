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
    WEB = "web"  # the phone page behind the ticket's QR: acts for a customer holding a token


class Cmd(enum.StrEnum):
    """Every command type, by name: what a device sends, and what `COMMANDS` describes."""

    ISSUE_TICKET = "issue_ticket"
    LEASE_NUMBERS = "lease_numbers"
    CALL_NEXT = "call_next"
    CALL_TICKET = "call_ticket"
    RECALL = "recall"
    START = "start"
    FINISH = "finish"
    NO_SHOW = "no_show"
    TRANSFER = "transfer"
    CANCEL = "cancel"
    RATE = "rate"
    POST_NOTICE = "post_notice"
    TAKE_DOWN_NOTICE = "take_down_notice"
    UNDO_TRANSFER = "undo_transfer"
    OPEN_COUNTER = "open_counter"
    PAUSE_COUNTER = "pause_counter"
    CLOSE_COUNTER = "close_counter"
    CLOSE_SERVICE = "close_service"
    REOPEN_SERVICE = "reopen_service"
    SIGN_IN = "sign_in"
    SIGN_OUT = "sign_out"
    STEP_OUT = "step_out"
    BOOK = "book"
    CANCEL_BOOKING = "cancel_booking"
    CHECK_IN = "check_in"
    JOIN_REMOTE = "join_remote"
    PING = "ping"
    EVENTS_RANGE = "events_range"


@dataclass(frozen=True)
class CommandSpec:
    """One command type: its arguments (name -> required; all are strings), the roles
    that may send it, whether a counter device sends it for its own counter, and whether
    the queue decides it (False: the server answers it itself, e.g. `ping`)."""

    args: dict[str, bool]
    roles: frozenset[Role]
    own_counter: bool = True
    queued: bool = True
    per_language: tuple[str, ...] = ()  # optional args also given as `<arg>_<language code>`


# Reasons travel as these codes and are put into words only where they are shown
# (i18n `panel.pause_<code>`, `panel.reason_<code>`, `display.reason_<code>`); a reason that
# is not a code (another tool's free text) is shown as it is.
PAUSE_REASONS = ("break", "lunch", "meeting")  # pause_counter's `reason`
CALL_REASONS = ("priority", "appointment")  # call_ticket's `reason`: calling out of turn

_COUNTER_ARG = {"counter": False}
_AT_COUNTERS = frozenset({Role.COUNTER, Role.STAFF})
# The web role also sends these for a manager signed in to its console (docs/console.md),
# without a ticket's token: the server lets a web device send only these so.
WEB_CONSOLE = frozenset({"post_notice", "take_down_notice", "open_counter", "pause_counter",
                         "close_counter", "close_service", "reopen_service",
                         "book", "cancel_booking"})  # fmt: skip
_MANAGED = _AT_COUNTERS | {Role.WEB}

COMMANDS: dict[Cmd, CommandSpec] = {
    Cmd.ISSUE_TICKET: CommandSpec(
        # number, issued_at, supersedes: a ticket issued offline from a lease
        {
            "service": True,
            "language": False,
            "priority": False,
            "number": False,
            "issued_at": False,
            "supersedes": False,
            "token": False,  # the random word in the ticket's QR code (the phone page's key)
            # The customer's phone number, for the branch's webhook only: the server keeps
            # it in the webhook outbox and never records, publishes or logs it.
            "phone": False,
        },
        frozenset({Role.KIOSK, Role.STAFF}),
        own_counter=False,
    ),
    Cmd.LEASE_NUMBERS: CommandSpec(
        {"service": True, "count": False}, frozenset({Role.KIOSK, Role.STAFF}), own_counter=False
    ),
    Cmd.CALL_NEXT: CommandSpec(_COUNTER_ARG, _AT_COUNTERS),
    Cmd.CALL_TICKET: CommandSpec({**_COUNTER_ARG, "ticket": True, "reason": True}, _AT_COUNTERS),
    Cmd.RECALL: CommandSpec(_COUNTER_ARG, _AT_COUNTERS),
    Cmd.START: CommandSpec(_COUNTER_ARG, _AT_COUNTERS),
    Cmd.FINISH: CommandSpec(_COUNTER_ARG, _AT_COUNTERS),
    Cmd.NO_SHOW: CommandSpec(_COUNTER_ARG, _AT_COUNTERS),
    Cmd.TRANSFER: CommandSpec(
        {**_COUNTER_ARG, "ticket": False, "to_service": True, "placement": False},
        _AT_COUNTERS,
    ),
    # The web role sends `cancel`, `rate` and `step_out` for a customer, with the `token`
    # from the ticket's QR code, which the server checks against the ticket's hash.
    Cmd.CANCEL: CommandSpec(
        {"ticket": True, "reason": False, "token": False},
        frozenset({Role.STAFF, Role.WEB}),
        own_counter=False,
    ),
    Cmd.RATE: CommandSpec(
        {**_COUNTER_ARG, "rating": True, "ticket": False, "token": False},
        _AT_COUNTERS | {Role.WEB},
    ),
    Cmd.STEP_OUT: CommandSpec(
        {"ticket": True, "token": True, "back_by": False}, frozenset({Role.WEB}), own_counter=False
    ),
    # `text_zh`, `text_en`, ...: the notice in each language (a screen shows the one it shows).
    Cmd.POST_NOTICE: CommandSpec(
        {"text": False, "minutes": False, "language": False},
        _MANAGED,
        own_counter=False,
        per_language=("text",),
    ),  # fmt: skip
    # A notice's id is the seq of the event that posted it (the summary's `notices[].id`).
    Cmd.TAKE_DOWN_NOTICE: CommandSpec({"notice": True}, _MANAGED, own_counter=False),
    # Within a few seconds of a transfer from this counter, by the same device.
    Cmd.UNDO_TRANSFER: CommandSpec({**_COUNTER_ARG, "ticket": True}, _AT_COUNTERS),
    Cmd.OPEN_COUNTER: CommandSpec(_COUNTER_ARG, _MANAGED),
    Cmd.PAUSE_COUNTER: CommandSpec({**_COUNTER_ARG, "reason": False}, _MANAGED),
    Cmd.CLOSE_COUNTER: CommandSpec(_COUNTER_ARG, _MANAGED),
    # A service issues no new tickets for the rest of the business day (those waiting are
    # still served); `reason_zh`, `reason_en`, ...: why, in each language, for the lobby.
    Cmd.CLOSE_SERVICE: CommandSpec(
        {"service": True, "reason": False},
        frozenset({Role.STAFF, Role.WEB}),
        own_counter=False,
        per_language=("reason",),
    ),
    Cmd.REOPEN_SERVICE: CommandSpec(
        {"service": True}, frozenset({Role.STAFF, Role.WEB}), own_counter=False
    ),
    # Staff sign in with their staff number and PIN, which the server checks against the
    # hashes only it holds (server/pins.py); the PIN goes no further than that check.
    Cmd.SIGN_IN: CommandSpec({**_COUNTER_ARG, "staff": True, "pin": True}, _AT_COUNTERS),
    Cmd.SIGN_OUT: CommandSpec(_COUNTER_ARG, _AT_COUNTERS),
    # Appointments (docs/appointments.md): a booking service (the staff or web role) books
    # and cancels; the customer checks in at the kiosk (or staff for them) with the code.
    Cmd.BOOK: CommandSpec(
        # `phone`: the customer's, for the branch's webhook only, as issue_ticket's.
        {
            "service": True,
            "time": True,
            "duration": False,
            "priority": False,
            "ref": False,
            "phone": False,
            "language": False,  # the customer's: the webhook's booking messages are in it
        },
        frozenset({Role.STAFF, Role.WEB}),
        own_counter=False,
    ),
    Cmd.CANCEL_BOOKING: CommandSpec(
        {"booking": True}, frozenset({Role.STAFF, Role.WEB}), own_counter=False
    ),
    # The web role checks in for a customer too (docs/appointments.md): a remote ticket
    # by its `ticket` and `token`, or a booking by its `code` (with `token` for the new
    # ticket's page); always with the `hall` code shown in the branch.
    Cmd.CHECK_IN: CommandSpec(
        {"code": False, "language": False, "token": False, "ticket": False, "hall": False},
        frozenset({Role.KIOSK, Role.STAFF, Role.WEB}),
        own_counter=False,
    ),
    # A remote ticket (virtual queue) joined from the phone page, with the new page's token.
    Cmd.JOIN_REMOTE: CommandSpec(
        {"service": True, "language": False, "token": True},
        frozenset({Role.WEB}),
        own_counter=False,
    ),
    # Is the server there and working: answered by the apply loop with its time and seq,
    # never recorded (nothing changes). The self-test uses it.
    Cmd.PING: CommandSpec({}, frozenset(Role), own_counter=False, queued=False),
    # The head office's ingest repairs a gap in a branch's event stream from the branch's
    # own log (docs/headoffice.md): read-only, answered by the server itself, and sent by
    # no device role, only by the head-office account (HEAD_OFFICE) through the bridge.
    Cmd.EVENTS_RANGE: CommandSpec(
        {"from": True, "to": False, "epoch": False},
        frozenset(),
        own_counter=False,
        queued=False,
    ),
}

# The head office's ingest sends its commands as this device, which no branch config may
# name: its topics (`cmd/headoffice`, `reply/headoffice`) cross the bridge, and only the
# head office's own account may write them there (protocol/acl.py `ingest_acl`).
HEAD_OFFICE = "headoffice"
HEAD_OFFICE_COMMANDS = frozenset({Cmd.EVENTS_RANGE, Cmd.PING})


# Every refusal code a device may be answered with (a reply's `error.code`), with the
# `error.params` it carries: devices put it into words from their catalogue
# (`refusal.<code>` in assets/i18n, the params filled in), never from the English
# `error.message`. `unreachable` is the client's own verdict, not the server's.
REFUSALS: dict[str, tuple[str, ...]] = {
    # the queue's (domain/branch.py)
    "id_reused": (),
    "unknown_command": (),
    "unknown_counter": ("counter",),
    "counter_paused": ("counter",),
    "counter_closed": ("counter",),
    "unknown_ticket": (),
    "no_ticket": (),
    "wrong_state": ("number", "status"),
    "counter_busy": ("number",),
    "unknown_service": (),
    "unknown_language": (),
    "unknown_priority": (),
    "service_full": ("capacity",),
    "branch_closed": ("opens",),
    "service_closed": ("time",),
    "bad_count": ("max",),
    "not_leased": ("number",),
    "bad_issued_at": (),
    "stale_ticket": ("number",),
    "superseded": (),
    "queue_empty": (),
    "reason_required": (),
    "recall_too_soon": ("number", "seconds"),
    "bad_rating": (),
    "no_feedback_open": (),
    "already_rated": ("number",),
    "bad_minutes": (),
    "bad_notice": (),
    "unknown_notice": ("notice",),
    "recall_first": ("number", "more", "recalls", "need"),
    "same_service": ("number",),
    "bad_placement": (),
    "not_undoable": ("number",),
    "undo_expired": ("number", "seconds"),
    "already_open": (),
    "already_closed": (),
    "internal_error": (),
    # appointments' (domain/bookings.py)
    "not_bookable": (),
    "bad_booking_time": (),
    "bad_duration": (),
    "booking_full": ("time",),
    "unknown_booking": (),
    "booking_closed": ("status",),
    "booking_changed": ("booking",),
    "too_early": ("time", "booked"),
    # remote tickets' (domain/remote.py)
    "not_remote": (),
    "token_required": (),
    "remote_full": ("minutes",),
    "remote_dropped": ("number",),
    "already_checked_in": ("number",),
    "no_hall_code": (),
    "hall_code_expired": (),
    "bad_hall_code": (),
    # staff sign-in's (domain/staff.py)
    "not_signed_in": (),
    "wrong_pin": (),
    "staff_locked": ("seconds",),
    "staff_not_here": (),
    # the edge's (protocol/messages.py, server/app.py)
    "too_large": (),
    "bad_json": (),
    "bad_message": (),
    "bad_id": (),
    "bad_version": (),
    "bad_args": (),
    "not_allowed": (),
    "unknown_device": (),
    "rate_limited": (),
    # the client's
    "unreachable": (),
}
