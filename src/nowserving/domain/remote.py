"""Remote tickets (a virtual queue): joined from the phone page before arriving, checked in
at the branch, and dropped when nobody checks them in by their time.

A remote ticket has its number from the moment it joins (`remote_joined`), but it is not
in the line: nobody counts it ahead of them and no counter can call it. It joins the line
when its customer checks in, at the kiosk (its check-in code, typed or scanned) or on its
phone page with the hall code (a code shown in the branch that changes every few minutes,
an HMAC of the time window under the branch's hall secret, so a photo of it sent to a
friend at home soon stops working). The check-in is its `ticket_issued`: from then on it
is a walk-in that arrived at the check-in time, so remote customers never go ahead of
those who came in person before them. Not checked in by its deadline (the join plus
`remote_check_in_s`, at the latest when the branch closes or the service stops issuing),
it is dropped (`remote_dropped`), which its page says.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from typing import TYPE_CHECKING

from nowserving.domain.bookings import code_from, code_hash
from nowserving.domain.model import Ticket, TicketStatus
from nowserving.errors import DomainError

if TYPE_CHECKING:
    from nowserving.domain.branch import Branch, Draft
    from nowserving.domain.commands import Command
    from nowserving.domain.events import Event

HOUR_S = 3600.0
HALL_CODE_LENGTH = 8  # 25^8 ≈ 1.5e11: not guessable in the minutes one is good for
HALL_CODE_GOOD = 2  # the window now and the one before: a code just shown still works
HALL_CODE_STALE = 12  # an older code (of the last 12 windows) is "expired"; older: not ours


def remote_code(token: str) -> str:
    """The check-in code of the remote ticket whose page key is `token`: derived from it
    (so the web role can show it on every visit without keeping it), but the token cannot
    be worked out from it. Typed or scanned at the kiosk like a booking code."""
    return code_from(hashlib.sha256(b"nowserving remote code:" + token.encode()).digest())


def hall_window(rules, at: float) -> int:
    """The number of the hall code's time window `at` falls in."""
    return math.floor(at / rules.hall_code_s)


def hall_code(secret: bytes, branch_id: str, window: int) -> str:
    """The hall code of `window`: an HMAC of the branch and the window under `secret`."""
    mac = hmac.new(secret, f"hall:{branch_id}:{window}".encode(), hashlib.sha256).digest()
    return code_from(mac, HALL_CODE_LENGTH)


def normal_code(text: object) -> str:
    """A code as typed: upper case, without spaces or dashes."""
    return "".join(ch for ch in str(text or "").upper() if ch.isalnum())


def check_hall_code(branch: Branch, given: object, at: float) -> None:
    """Refuse a check-in whose hall code is not the one shown in the branch now (or just
    before): `hall_code_expired` for an older one, `bad_hall_code` for anything else."""
    secret = branch.hall_secret
    if not secret:
        raise DomainError("no_hall_code", "this branch shows no hall code")
    code = normal_code(given)
    now = hall_window(branch.rules, at)
    branch_id = branch.rules.branch_id
    for back in range(HALL_CODE_STALE):
        if hmac.compare_digest(code, hall_code(secret, branch_id, now - back)):
            if back < HALL_CODE_GOOD:
                return
            raise DomainError(
                "hall_code_expired", "that hall code has expired: scan the one shown now"
            )
    raise DomainError("bad_hall_code", "that is not the code shown in the branch")


def deadline(branch: Branch, service, at: float) -> float:
    """By when a remote ticket joined at `at` must check in: `remote_check_in_s` later, and
    at the latest when the branch closes or the service stops issuing tickets today."""
    rules = branch.rules
    until = at + rules.remote_check_in_s
    closes = rules.closes_at(at)
    if closes is not None and closes > at:
        until = min(until, closes)
    return min(until, at + rules.until_cutoff(service, at))


# ----- decisions -------------------------------------------------------------------------


def decide_join_remote(branch: Branch, cmd: Command, args: dict) -> list[Draft]:
    """A customer joins a remote service from the phone page (the web role, with the new
    page's `token`): a number, outside the line until check-in."""
    rules = branch.rules
    service = rules.services.get(args.get("service"))
    if service is None:
        raise DomainError("unknown_service", f"no service {args.get('service')!r}")
    if not service.remote:
        raise DomainError("not_remote", f"{service.id} cannot be joined remotely")
    language = args.get("language") or rules.languages[0]
    if language not in rules.languages:
        raise DomainError("unknown_language", f"language {language!r} is not offered")
    token = args.get("token")
    if not token:
        raise DomainError("token_required", "a remote ticket needs its page's token")
    branch.check_open(service, cmd.at)
    if branch.numbers_left(service) <= 0:
        raise DomainError(
            "service_full",
            f"{service.id} has issued all {service.capacity} tickets today",
            {"capacity": service.capacity},
        )
    joins = sorted(
        t.joined_at for t in branch.tickets.values()
        if t.joined_at is not None and t.joined_at > cmd.at - HOUR_S
    )  # fmt: skip
    if rules.remote_per_hour <= 0:
        raise DomainError("not_remote", "this branch takes no remote tickets")
    if len(joins) >= rules.remote_per_hour:
        minutes = math.ceil((joins[-rules.remote_per_hour] + HOUR_S - cmd.at) / 60)
        raise DomainError(
            "remote_full",
            f"the branch takes {rules.remote_per_hour} remote tickets an hour: "
            f"try again in {minutes} min",
            {"minutes": max(1, minutes)},
        )
    until = deadline(branch, service, cmd.at)
    number = service.number_text(service.first_number + branch.numbered.get(service.id, 0))
    priority = next(iter(rules.priorities))
    _, data = branch.issued_draft(number, service, language, priority, args)
    data["until"] = until
    data["code_hash"] = code_hash(remote_code(token))
    return [("remote_joined", data)]


def remote_by_code(branch: Branch, code: object) -> Ticket | None:
    """The remote ticket (still to check in) whose check-in code is `code`, compared in
    constant time against each; None if none."""
    given = code_hash(normal_code(code))
    found = None
    for ticket in branch.remotes.values():
        if hmac.compare_digest(given, ticket.code_hash or "") and found is None:
            found = ticket
    return found


def decide_check_in_remote(branch: Branch, cmd: Command, args: dict, ticket: Ticket,
                           estimate) -> list[Draft]:  # fmt: skip
    """A remote ticket checks in: it joins the line now, as a walk-in arriving now."""
    if ticket.status is TicketStatus.DROPPED:
        raise DomainError(
            "remote_dropped", f"{ticket.number} was not checked in in time",
            {"number": ticket.number},
        )  # fmt: skip
    if ticket.status is not TicketStatus.REMOTE:
        raise DomainError(
            "already_checked_in", f"{ticket.number} is checked in already",
            {"number": ticket.number},
        )  # fmt: skip
    service = branch.rules.services[ticket.service]
    branch.check_open(service, cmd.at)
    data = {
        "ticket": ticket.id,
        "number": ticket.number,
        "service": ticket.service,
        "language": ticket.language,
        "priority": ticket.priority,
        "remote": True,
        "at_kiosk": "ticket" not in args,
    }
    if estimate is not None:
        data["estimate"] = estimate(branch, ticket.service, ticket.priority, cmd.at)
    return [("ticket_issued", data)]


def dropped(branch: Branch, cmd: Command) -> list[tuple[str, dict]]:
    """Remote tickets past their check-in deadline at `cmd.at`."""
    return [
        ("remote_dropped", {"ticket": t.id, "number": t.number})
        for t in branch.remotes.values()
        if t.remote_until is not None and cmd.at > t.remote_until
    ]


# ----- the fold ----------------------------------------------------------------------------


def apply_remote_joined(branch: Branch, event: Event, data: dict) -> None:
    """A remote ticket joined: it has its number, and waits outside the line."""
    ticket = Ticket(
        id=data["ticket"],
        number=data["number"],
        service=data["service"],
        language=data["language"],
        priority=data["priority"],
        issued_at=event.at,
        queue_since=event.at,
        device=event.device or "",
        status=TicketStatus.REMOTE,
        token_hash=data.get("token_hash"),
        joined_at=event.at,
        remote_until=data["until"],
        code_hash=data["code_hash"],
    )
    branch.tickets[ticket.id] = ticket
    branch.remotes[ticket.id] = ticket
    branch.numbered[ticket.service] = branch.numbered.get(ticket.service, 0) + 1


def apply_checked_in(branch: Branch, event: Event, data: dict) -> Ticket:
    """A remote ticket checked in (`ticket_issued` with `remote`): it arrives now."""
    ticket = branch.tickets[data["ticket"]]
    branch.remotes.pop(ticket.id, None)
    ticket.status = TicketStatus.WAITING
    ticket.issued_at = ticket.queue_since = event.at
    ticket.estimate = data.get("estimate")
    ticket.language = data.get("language", ticket.language)
    return ticket


def apply_remote_dropped(branch: Branch, event: Event, data: dict) -> None:
    """A remote ticket was not checked in by its deadline."""
    ticket = branch.tickets[data["ticket"]]
    branch.remotes.pop(ticket.id, None)
    ticket.status = TicketStatus.DROPPED
    ticket.finished_at = event.at
