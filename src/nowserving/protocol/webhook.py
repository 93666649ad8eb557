"""The webhook contract: what a ticket's events look like to a bank's own service (an SMS
gateway, a WeChat service), and how each request is signed.

A request is a POST of one JSON object (`payload`) with the header

    Nowserving-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>

keyed with the branch's webhook secret, like Stripe's: the time is signed with the body,
so a receiver refuses a request older than a few minutes (a replay) as well as a forged
one. `verify` is the receiver's side (docs/webhooks.md shows it standalone).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from nowserving.domain import Branch, Event

WEBHOOK_VERSION = 1
SIGNATURE_HEADER = "Nowserving-Signature"
TOLERANCE_S = 300  # a receiver refuses a signature older (or newer) than this

# The ticket events a webhook can get: the event log's type -> the webhook's.
KINDS = {
    "ticket_issued": "issued",
    "ticket_called": "called",
    "ticket_recalled": "recalled",
    "ticket_no_show": "no_show",
    "ticket_finished": "finished",
}
NEAR_TURN = "near_turn"  # not an event of the log: the server's verdict on a waiting ticket
TICKET_KINDS = ("issued", NEAR_TURN, "called", "recalled", "no_show", "finished")
# A booking's own messages (docs/webhooks.md, "A booking's messages"): made and missed are
# events of the log; the reminder is sent `booking_reminder_minutes` before the booked time.
BOOKING_MADE, BOOKING_REMINDER, BOOKING_NO_SHOW = (
    "booking_made", "booking_reminder", "booking_no_show",
)  # fmt: skip
BOOKING_KINDS = (BOOKING_MADE, BOOKING_REMINDER, BOOKING_NO_SHOW)
EVENT_KINDS = TICKET_KINDS + BOOKING_KINDS  # what `[webhook] events` may list
DEFAULT_KINDS = TICKET_KINDS  # ... and what it means when it lists none
# Events after which a ticket needs no phone number any more (day end aside).
ENDING = frozenset({"ticket_finished", "ticket_no_show", "ticket_cancelled"})
# Events after which a booking's phone number goes (its check-in hands it to the ticket).
BOOKING_ENDING = frozenset({"booking_cancelled", "booking_no_show"})
PHONE_RE = re.compile(r"^\+?[0-9]{5,15}$")  # what the kiosk's keypad makes (E.164 at most)
_HEADER_RE = re.compile(r"^t=(\d{1,12}),v1=([0-9a-f]{64})$")


def sign(secret: bytes, body: bytes, at: int) -> str:
    """The signature header's value for `body` sent at `at` (unix seconds)."""
    digest = hmac.new(secret, f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def verify(secret: bytes, body: bytes, header: str, now: float, tolerance: float = TOLERANCE_S):
    """Whether `header` signs `body` with `secret`, made within `tolerance` of `now`."""
    found = _HEADER_RE.match(header or "")
    if found is None:
        return False
    at = int(found[1])
    expected = hmac.new(secret, f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, found[2]) and abs(now - at) <= tolerance


def ticket_payload(event: Event, branch: Branch, names: Mapping[str, str]) -> dict | None:
    """The webhook payload of a ticket event of the log (None: not one a webhook gets).
    `branch` is the branch just after the event (for the ticket's service and language)."""
    kind = KINDS.get(event.type)
    if kind is None:
        return None
    data = event.data
    ticket = branch.tickets.get(data["ticket"])
    service = data.get("service") or (ticket.service if ticket else None)
    language = data.get("language") or (ticket.language if ticket else None)
    payload = _base(branch, names, kind, data["ticket"], service, language, event.seq, event.at)
    if "counter" in data:
        payload["counter"] = data["counter"]
        counter = branch.rules.counters.get(data["counter"])
        payload["counter_name"] = counter.names.get(language, data["counter"]) if counter else ""
    if kind == "issued" and isinstance(data.get("estimate"), dict):
        estimate = data["estimate"]
        payload["ahead"] = estimate.get("ahead")
        payload["wait_minutes"] = _minutes(estimate.get("low"), estimate.get("high"))
    if kind == "issued" and ticket is not None and ticket.status == "waiting":
        # Who the merged order puts before it, bookings due included (`people_ahead`).
        payload["ahead"] = branch.people_ahead(ticket, event.at).people
    if kind == "recalled":
        payload["recalls"] = data.get("recalls")
    return payload


def booking_payloads(event: Event, branch: Branch, names: Mapping[str, str],
                     reminder_s: float) -> list[tuple[dict, float | None]]:  # fmt: skip
    """A booking event's payloads, each with when to send it (None: now): `booking_made`
    and, when the booked time is more than `reminder_s` away, its `booking_reminder` then;
    `booking_no_show`. Other events have none. `branch` is the branch after the event."""
    if event.type not in (BOOKING_MADE, BOOKING_NO_SHOW):
        return []
    booking = branch.bookings.get(event.data["booking"])
    if booking is None:
        return []
    made = _booking_base(branch, names, event.type, booking, event.seq, event.at)
    if event.type == BOOKING_NO_SHOW:
        return [(made, None)]
    found = [(made, None)]
    remind_at = booking.at - reminder_s
    if remind_at > event.at:
        reminder = _booking_base(branch, names, BOOKING_REMINDER, booking, event.seq, remind_at)
        reminder["id"] = f"{branch.rules.branch_id}/booking/{booking.id}/{BOOKING_REMINDER}"
        reminder["minutes_before"] = round(reminder_s / 60)
        found.append((reminder, remind_at))
    return found


def _booking_base(branch: Branch, names: Mapping[str, str], kind: str, booking, seq: int,
                  at: float) -> dict:  # fmt: skip
    rules = branch.rules
    language = booking.language or rules.languages[0]
    spec = rules.services.get(booking.service)
    early = spec.check_in_early_s if spec else 0.0
    late = spec.check_in_late_s if spec else 0.0
    payload = {
        "v": WEBHOOK_VERSION,
        "id": f"{rules.branch_id}/booking/{booking.id}/{kind}/{seq}",
        "type": kind,
        "branch": rules.branch_id,
        "branch_name": names.get(language, ""),
        "seq": seq,
        "at": at,
        "booking": booking.id,
        "service": booking.service,
        "service_name": spec.names.get(language, booking.service) if spec else booking.service,
        "language": language,
        "booked_at": booking.at,
        "booked_time": _local(rules.timezone, booking.at, "%Y-%m-%d %H:%M"),
        "check_in_from": _local(rules.timezone, booking.at - early, "%H:%M"),
        "check_in_until": _local(rules.timezone, booking.at + late, "%H:%M"),
    }
    if booking.ref:
        payload["ref"] = booking.ref
    return payload


def _local(timezone: str, at: float, form: str) -> str:
    return datetime.fromtimestamp(at, ZoneInfo(timezone)).strftime(form)


def near_turn_payload(
    branch: Branch, names: Mapping[str, str], ticket_id: str, ahead: int,
    wait: tuple[float, float] | None, at: float,
) -> dict:  # fmt: skip
    """The payload saying that a waiting ticket's turn is near: `ahead` people before it,
    its wait `wait` (10th, 90th percentile, seconds) if estimated."""
    ticket = branch.tickets[ticket_id]
    payload = _base(branch, names, NEAR_TURN, ticket_id, ticket.service, ticket.language,
                    branch.seq, at)  # fmt: skip
    payload["id"] = f"{branch.rules.branch_id}/{ticket_id}/{NEAR_TURN}"  # once per ticket
    payload["ahead"] = ahead
    payload["wait_minutes"] = None if wait is None else _minutes(*wait)
    return payload


def _base(branch: Branch, names: Mapping[str, str], kind: str, ticket_id: str,
          service: str | None, language: str | None, seq: int, at: float) -> dict:  # fmt: skip
    branch_id = branch.rules.branch_id
    spec = branch.rules.services.get(service or "")
    return {
        "v": WEBHOOK_VERSION,
        "id": f"{branch_id}/{ticket_id}/{kind}/{seq}",
        "type": kind,
        "branch": branch_id,
        "branch_name": names.get(language or "", ""),
        "seq": seq,
        "at": at,
        "ticket": ticket_id,
        "number": ticket_id.rpartition("/")[2],
        "service": service,
        "service_name": spec.names.get(language or "", service) if spec else service,
        "language": language,
    }


def _minutes(low: float | None, high: float | None) -> list[int] | None:
    if low is None or high is None:
        return None
    return [int(low // 60), int(-(-high // 60))]
