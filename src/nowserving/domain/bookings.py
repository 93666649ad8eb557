"""Appointments: bookings made from outside (`book`, `cancel_booking`), checked in at the
kiosk by their code (`check_in`), and booking no-shows. Everything is an event in the log.

A booking's code is made here (random, from an alphabet without look-alike characters)
and given only in the reply to `book`: the events and the log keep its sha256, as the
phone page's tokens (docs/appointments.md). A check-in inside the window [booked time - E,
booked time + L] of the service makes an appointment ticket that counts from the booked
time (`policy.line_key`); earlier is refused with when to come back; later makes a walk-in
ticket counted from the arrival. A booking nobody checked in by its time + L is a booking
no-show, recorded when the queue next notices the time (apart from call no-shows).
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import math
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from nowserving.domain.policy import line_key
from nowserving.errors import DomainError

if TYPE_CHECKING:
    from nowserving.domain.branch import Branch, Draft, EstimateNewcomer
    from nowserving.domain.commands import Command
    from nowserving.domain.events import Event

# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: read aloud or typed from paper without doubt.
CODE_ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"
CODE_LENGTH = 10  # 25^10 ≈ 9.5e13 codes: not guessable at the rate the edge allows
DURATIONS = ("short", "standard", "long")
BOOKED, CHECKED_IN, LATE, CANCELLED, NO_SHOW = (
    "booked", "checked_in", "late", "cancelled", "no_show",
)  # fmt: skip
OPEN = (BOOKED, NO_SHOW)  # may still check in (a no-show only as a walk-in)
_NO_HASH = "0" * 64


@dataclass
class Booking:
    """One appointment: its service, booked time, duration class and priority, where it
    stands, and the ticket its check-in made."""

    id: str
    service: str
    at: float
    duration: str
    priority: str
    code_hash: str
    status: str = BOOKED
    ticket: str | None = None
    ref: str | None = None  # the booking system's own id of it (`book`'s `ref`)
    language: str | None = None  # the customer's (`book`'s `language`), for the webhook

    def to_dict(self) -> dict:
        """The booking, for a snapshot."""
        return asdict(self)


def code_hash(code: str) -> str:
    """The hash the log keeps of a booking code (sha256, hex), upper-cased and trimmed
    first, as a customer may type it."""
    return hashlib.sha256(code.strip().upper().encode("utf-8", "surrogatepass")).hexdigest()


def new_code() -> str:
    """A fresh booking code."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def ref_code(key: bytes, booking_id: str, ref: str) -> str:
    """The code of a booking made with a `ref`: derived from the server's code key (kept in
    the log file's meta table, never in an event), so a `book` repeated with the same ref
    gets the same code back, also after a restart, while the log's events (which the head
    office receives) give no way to it."""
    return code_from(hmac.new(key, f"{booking_id}\x00{ref}".encode(), hashlib.sha256).digest())


def code_from(digest: bytes, length: int = CODE_LENGTH) -> str:
    """`length` code characters (CODE_ALPHABET) read off a digest, as a number."""
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(length):
        number, rest = divmod(number, len(CODE_ALPHABET))
        chars.append(CODE_ALPHABET[rest])
    return "".join(chars)


def parse_time(branch: Branch, text: object) -> float:
    """A booked time: local branch time "YYYY-MM-DD HH:MM" (or ISO with an offset)."""
    try:
        when = datetime.fromisoformat(str(text).strip())
    except ValueError:
        when = None
    if when is None:
        raise DomainError(
            "bad_booking_time", f"time must be local 'YYYY-MM-DD HH:MM', not {text!r}"
        )
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(branch.rules.timezone))
    return when.timestamp()


def local_hm(branch: Branch, at: float) -> str:
    """`at` as the branch's local "HH:MM"."""
    return datetime.fromtimestamp(at, ZoneInfo(branch.rules.timezone)).strftime("%H:%M")


# ----- decisions -------------------------------------------------------------------------


def decide_book(branch: Branch, cmd: Command, args: dict) -> tuple[list[Draft], str | None]:
    """A new booking, and its code (for the reply only); or, for a `ref` that names a live
    booking, that booking again (`booking_known`) with its code when it can be derived."""
    rules = branch.rules
    service = rules.services.get(args.get("service"))
    if service is None:
        raise DomainError("unknown_service", f"no service {args.get('service')!r}")
    if not service.bookings_per_hour:
        raise DomainError("not_bookable", f"{service.id} takes no bookings")
    at = parse_time(branch, args.get("time"))
    duration = args.get("duration") or "standard"
    if duration not in DURATIONS:
        raise DomainError("bad_duration", f"duration must be one of {', '.join(DURATIONS)}")
    priority = args.get("priority") or next(iter(rules.priorities))
    if priority not in rules.priorities:
        raise DomainError("unknown_priority", f"no priority class {priority!r}")
    ref = args.get("ref")
    language = args.get("language")
    if language is not None and language not in rules.languages:
        raise DomainError("unknown_language", f"language {language!r} is not offered")
    known = live_by_ref(branch, ref) if ref else None
    if known is not None:  # before the time check: a re-import of a past day is known too
        return _known(branch, known, (service.id, at, duration, priority))
    if at < cmd.at:
        raise DomainError("bad_booking_time", "the booked time has passed")
    _check_capacity(branch, service, at)
    booking_id = f"b{branch.seq + 1}"  # the seq of its event: unique in the log
    key = branch.code_key
    code = ref_code(key, booking_id, ref) if ref and key else new_code()
    data = {
        "booking": booking_id,
        "service": service.id,
        "at": at,
        "duration": duration,
        "priority": priority,
        "code_hash": code_hash(code),
    }
    if ref:
        data["ref"] = ref
    if language:
        data["language"] = language
    return [("booking_made", data)], code


def _check_capacity(branch: Branch, service, at: float) -> None:
    hour = math.floor(at / 3600)  # whole hours are whole local hours in every real zone
    taken = sum(
        1
        for b in branch.bookings.values()
        if b.service == service.id and b.status != CANCELLED and math.floor(b.at / 3600) == hour
    )
    if taken >= service.bookings_per_hour:
        raise DomainError(
            "booking_full",
            f"{service.id} is fully booked at {local_hm(branch, hour * 3600)}",
            {"time": local_hm(branch, hour * 3600)},
        )


def live_by_ref(branch: Branch, ref: object) -> Booking | None:
    """The booking not cancelled that was made with `ref`, if any."""
    found = branch.booking_refs.get(ref) if isinstance(ref, str) else None
    booking = branch.bookings.get(found) if found else None
    return booking if booking is not None and booking.status != CANCELLED else None


def _known(branch: Branch, booking: Booking, asked: tuple) -> tuple[list[Draft], str | None]:
    """A `book` repeated with a known ref: the same booking, or a refusal when the booking
    system changed it since (cancel it, then book anew)."""
    if (booking.service, booking.at, booking.duration, booking.priority) != asked:
        raise DomainError(
            "booking_changed",
            f"booking {booking.ref!r} was made for another service, time, duration or "
            "priority: cancel it, then book it anew",
            {"booking": booking.id},
        )
    code = None
    if branch.code_key and booking.ref:
        derived = ref_code(branch.code_key, booking.id, booking.ref)
        if hmac.compare_digest(code_hash(derived), booking.code_hash):
            code = derived  # not so when the key changed (a log moved without its meta)
    return [("booking_known", {"booking": booking.id})], code


def _booking(branch: Branch, booking_id: object) -> Booking:
    booking = branch.bookings.get(booking_id) if isinstance(booking_id, str) else None
    if booking is None:
        raise DomainError("unknown_booking", "no such booking")
    return booking


def decide_cancel_booking(branch: Branch, cmd: Command, args: dict) -> list[Draft]:
    """The booking service takes a booking back (before its check-in)."""
    booking = _booking(branch, args.get("booking"))
    if booking.status not in OPEN:
        raise DomainError(
            "booking_closed", f"the booking is {booking.status}", {"status": booking.status}
        )
    return [("booking_cancelled", {"booking": booking.id})]


def booking_by_code(branch: Branch, code: object) -> Booking:
    """The booking whose code is `code`; an unknown code is refused, compared in constant
    time against every open booking's hash so the answer's timing tells nothing."""
    given = code_hash(str(code or ""))
    found = None
    for booking in branch.bookings.values():
        if hmac.compare_digest(given, booking.code_hash) and booking.status in OPEN:
            found = booking
    if found is None:
        hmac.compare_digest(given, _NO_HASH)
        raise DomainError("unknown_booking", "no such booking")
    return found


def decide_check_in(
    branch: Branch, cmd: Command, args: dict, estimate: EstimateNewcomer | None = None
) -> list[Draft]:
    """A customer checks in with their booking code: an appointment ticket inside the
    window, a refusal saying when to come back before it, a walk-in ticket after it; each
    with its wait estimate from `estimate`, as a walk-in's (`NewcomerEstimates.estimate`)."""
    booking = booking_by_code(branch, args.get("code"))
    rules = branch.rules
    service = rules.services.get(booking.service)
    if service is None:
        raise DomainError("unknown_service", f"no service {booking.service!r}")
    opens = booking.at - service.check_in_early_s
    if cmd.at < opens:
        raise DomainError(
            "too_early",
            f"check in from {local_hm(branch, opens)} for the booking at "
            f"{local_hm(branch, booking.at)}",
            {  # the service too: the kiosk offers a walk-in ticket for it meanwhile
                "time": local_hm(branch, opens),
                "booked": local_hm(branch, booking.at),
                "service": booking.service,
            },
        )
    language = args.get("language") or booking.language or rules.languages[0]
    if language not in rules.languages:
        raise DomainError("unknown_language", f"language {language!r} is not offered")
    branch.check_open(service, cmd.at)
    if branch.numbers_left(service) <= 0:
        raise DomainError(
            "service_full",
            f"{service.id} has issued all {service.capacity} tickets today",
            {"capacity": service.capacity},
        )
    number = service.number_text(service.first_number + branch.numbered.get(service.id, 0))
    more: dict = {"booking": booking.id}
    if cmd.at > booking.at + service.check_in_late_s:
        more["late"] = True  # a walk-in from now: the reply says so
    else:
        more["booked_at"] = booking.at
        more["head_start_s"] = service.appointment_head_start_s
    if estimate is not None:
        anchor = {k: more[k] for k in ("booked_at", "head_start_s") if k in more}
        more["estimate"] = estimate(branch, service.id, booking.priority, cmd.at, **anchor)
    return [branch.issued_draft(number, service, language, booking.priority, args, **more)]


def missed(branch: Branch, cmd: Command) -> list[tuple[str, dict]]:
    """Booking no-shows the queue notices at `cmd.at`: booked, not checked in by time + L."""
    drafts = []
    for booking in branch.bookings.values():
        if booking.status != BOOKED:
            continue
        service = branch.rules.services.get(booking.service)
        late_s = service.check_in_late_s if service is not None else 0.0
        if cmd.at > booking.at + late_s:
            drafts.append(("booking_no_show", {"booking": booking.id}))
    return drafts


# ----- people ahead ----------------------------------------------------------------------


@dataclass(frozen=True)
class Ahead:
    """Who the merged order puts before a waiting customer: `people` in all, of them
    `appointments` (checked in, or booked and due: `due`, not here yet)."""

    people: int
    appointments: int = 0
    due: int = 0


def due_keys(branch: Branch, service: str, at: float) -> list[float]:
    """The call keys (sorted) that `service`'s bookings not yet checked in will have if
    they check in inside their window, for those whose window is still open at `at`: each
    goes before every customer whose key is higher (`policy.line_key`). A booking further
    off than the head start counts from later than anyone here now, so it goes before
    none of them; one past its window comes, if at all, as a walk-in from its arrival."""
    rules = branch.rules
    spec = rules.services.get(service)
    if spec is None:
        return []
    # Nobody in line counts from later than E after now (an appointment checked in early,
    # less its head start), so a booking later than that and the largest boost goes before
    # none of them: only a window of the service's open bookings is looked at.
    top = max((p.boost_s for p in rules.priorities.values()), default=0.0)
    items = _open_bookings(branch).get(service, [])
    first = bisect.bisect_left(items, (at - spec.check_in_late_s, ""))
    last = bisect.bisect_right(items, (at + spec.check_in_early_s + top, "\U0010ffff"))
    found = (branch.bookings[booking_id] for _, booking_id in items[first:last])
    return sorted(
        line_key(b.at, b.priority, rules.priorities, b.at, spec.appointment_head_start_s)
        for b in found
    )


def _open_bookings(branch: Branch) -> dict[str, list[tuple[float, str]]]:
    """Each service's bookings not yet checked in, as (booked time, id) in order: kept on
    the branch until a booking is made or changes (`_changed`), as bookings made days
    ahead pile up."""
    index = getattr(branch, "_open_bookings", None)
    if index is None:
        index = {}
        for booking in branch.bookings.values():
            if booking.status == BOOKED:
                index.setdefault(booking.service, []).append((booking.at, booking.id))
        for items in index.values():
            items.sort()
        branch._open_bookings = index
    return index


def _changed(branch: Branch) -> None:
    branch.__dict__.pop("_open_bookings", None)


# ----- the fold ----------------------------------------------------------------------------


def apply_booking_made(branch: Branch, event: Event, data: dict) -> None:
    """A booking was made."""
    _changed(branch)
    branch.bookings[data["booking"]] = Booking(
        data["booking"], data["service"], data["at"], data["duration"], data["priority"],
        data["code_hash"], ref=data.get("ref"), language=data.get("language"),
    )  # fmt: skip
    if data.get("ref"):
        branch.booking_refs[data["ref"]] = data["booking"]


def apply_booking_status(branch: Branch, booking_id: str, status: str) -> None:
    """A booking was cancelled or missed."""
    _changed(branch)
    booking = branch.bookings.get(booking_id)
    if booking is not None:
        booking.status = status
        if status == CANCELLED and booking.ref:
            branch.booking_refs.pop(booking.ref, None)  # the ref may be booked anew


def apply_checked_in(branch: Branch, data: dict) -> None:
    """A ticket was issued for a booking (`ticket_issued` with `booking`)."""
    _changed(branch)
    booking = branch.bookings.get(data["booking"])
    if booking is not None:
        booking.status = LATE if data.get("late") else CHECKED_IN
        booking.ticket = data["ticket"]


def bookings_from_dict(items: list[dict]) -> dict[str, Booking]:
    """The bookings a snapshot holds."""
    return {d["id"]: Booking(**d) for d in items}


def refs_of(items: dict[str, Booking]) -> dict[str, str]:
    """Each live booking's ref -> its id (the index `book` looks refs up in)."""
    return {b.ref: b.id for b in items.values() if b.ref and b.status != CANCELLED}
