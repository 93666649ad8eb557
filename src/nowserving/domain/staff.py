"""Who works at each counter: signing in (with a PIN the server has checked), signing out,
a lock after too many wrong PINs, and the staff number calls and services are recorded with.

The domain never sees a PIN or its hash: the server checks the PIN and tells the domain
only whether it matched (`pin_matched`), so the log, the events and the replies never hold
one. Wrong tries and locks are events (`sign_in_failed`), so a restart, which rebuilds the
branch from its log, keeps a lock and the tries counted towards one.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from nowserving.errors import DomainError

if TYPE_CHECKING:
    from nowserving.domain.branch import Branch, Draft
    from nowserving.domain.commands import Command

PIN_TRIES = 5  # wrong PINs in a row for one staff number ...
LOCK_S = 60.0  # ... lock it for this long, by the server's clock
# With a staff list, these need someone at the counter: signed in, or its default staff.
NEEDS_STAFF = frozenset(
    {"call_next", "call_ticket", "recall", "start", "finish", "no_show", "transfer"}
)
# These events carry the staff number of whoever is at their counter (`staff`).
STAFFED_EVENTS = frozenset(
    {
        "ticket_called",
        "ticket_recalled",
        "ticket_started",
        "ticket_finished",
        "ticket_no_show",
        "ticket_transferred",
        "counter_opened",
        "counter_paused",
        "counter_closed",
    }
)
WRONG_PIN = "wrong staff number or PIN"


def staff_at(branch: Branch, counter_id: object) -> str | None:
    """Who works at a counter now: whoever signed in there, else its default staff."""
    counter = branch.counters.get(counter_id) if isinstance(counter_id, str) else None
    if counter is None:
        return None
    if counter.staff is not None:
        return counter.staff
    return branch.rules.counters[counter.id].default_staff


def require_staff(branch: Branch, command: Command) -> None:
    """Refuse a counter's ticket command (NEEDS_STAFF) while nobody works there, when the
    branch has a staff list (without one, counters work as before: nobody signs in)."""
    if command.type not in NEEDS_STAFF or not branch.rules.staff:
        return
    cid = command.args.get("counter")
    if cid in branch.counters and staff_at(branch, cid) is None:
        raise DomainError("not_signed_in", f"nobody is signed in at counter {cid}: sign in first")


def locked_for(branch: Branch, staff: str, at: float) -> float:
    """Seconds until `staff` may try a PIN again (0: now)."""
    _, until = branch.pin_tries.get(staff, (0, None))
    return 0.0 if until is None else max(0.0, until - at)


def _wrong_so_far(branch: Branch, staff: str, at: float) -> int:
    wrong, until = branch.pin_tries.get(staff, (0, None))
    return 0 if until is not None and until <= at else wrong  # a lock over: counting anew


def decide_sign_in(branch: Branch, cmd: Command, args: dict) -> list[Draft]:
    """Sign `staff` in at the counter, if the server found their PIN right (`pin_matched`)
    and they are not locked; a wrong PIN counts towards a lock."""
    counter = branch._counter(args)
    staff = args.get("staff")
    member = branch.rules.staff.get(staff) if isinstance(staff, str) else None
    if member is None:  # said as a wrong PIN is: no list of staff numbers from outside
        raise DomainError("wrong_pin", WRONG_PIN)
    wait = locked_for(branch, member.id, cmd.at)
    if wait > 0:
        seconds = math.ceil(wait)
        message = f"too many wrong PINs for {member.id}: try again in {seconds} s"
        data = {"command": cmd.type, "code": "staff_locked", "message": message,
                "params": {"seconds": seconds}}  # fmt: skip
        return [("command_rejected", data)]
    if args.get("pin_matched") != "yes":
        wrong = _wrong_so_far(branch, member.id, cmd.at) + 1
        data = {"counter": counter.id, "staff": member.id, "wrong": wrong}
        if wrong >= PIN_TRIES:
            data["locked_until"] = cmd.at + LOCK_S
        return [("sign_in_failed", data)]
    if member.counters and counter.id not in member.counters:
        raise DomainError("staff_not_here", f"{member.id} does not work at counter {counter.id}")
    drafts: list[Draft] = [
        ("staff_signed_out", {"counter": c.id, "staff": member.id, "reason": "elsewhere"})
        for c in branch.counters.values()
        if c.staff == member.id and c.id != counter.id
    ]
    if counter.staff not in (None, member.id):
        replaced = {"counter": counter.id, "staff": counter.staff, "reason": "replaced"}
        drafts.append(("staff_signed_out", replaced))
    drafts.append(("staff_signed_in", {"counter": counter.id, "staff": member.id}))
    return drafts


def decide_sign_out(branch: Branch, cmd: Command, args: dict) -> list[Draft]:
    """Sign out whoever is signed in at the counter (its default staff, if any, is back)."""
    counter = branch._counter(args)
    if counter.staff is None:
        raise DomainError("not_signed_in", f"nobody is signed in at counter {counter.id}")
    data = {"counter": counter.id, "staff": counter.staff, "reason": "signed_out"}
    return [("staff_signed_out", data)]


def failure_outcome(data: dict) -> dict:
    """The refusal a `sign_in_failed` event answers its command with."""
    if data.get("locked_until") is not None:
        message = f"{PIN_TRIES} wrong PINs for {data['staff']}: locked for {LOCK_S:.0f} s"
        return {"ok": False, "code": "staff_locked", "message": message,
                "params": {"seconds": math.ceil(LOCK_S)}}  # fmt: skip
    left = PIN_TRIES - data["wrong"]
    return {"ok": False, "code": "wrong_pin", "message": WRONG_PIN, "params": {"tries_left": left}}
