"""Message schemas: strict decoding of what comes in, one encoder for what goes out.

Everything inbound is checked here, at the edge: size, UTF-8, JSON, version, envelope keys,
command type and each argument's type and length. Anything else is a ProtocolError whose
`code` goes back in the error reply.
"""

from __future__ import annotations

import json
import re

from nowserving.domain import Branch, Event, Ticket
from nowserving.domain.estimate import Estimate
from nowserving.errors import ProtocolError

# Current estimates: per waiting ticket id, per service (a new arrival), and the time and
# seq of the state they were computed from.
Estimates = tuple[dict[str, Estimate | None], dict[str, Estimate | None], float, int]

PROTOCOL_VERSION = 1
MAX_PAYLOAD = 4096  # bytes; the largest valid command is a few hundred
MAX_TEXT = 200  # characters in any string argument
COMMAND_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

_COUNTER = {"counter": False}
# For each command type: its arguments and whether each is required. All are strings.
ARGUMENTS: dict[str, dict[str, bool]] = {
    "issue_ticket": {"service": True, "language": False, "priority": False},
    "call_next": _COUNTER,
    "call_ticket": {**_COUNTER, "ticket": True, "reason": True},
    "recall": _COUNTER,
    "start": _COUNTER,
    "finish": _COUNTER,
    "no_show": _COUNTER,
    "transfer": {**_COUNTER, "ticket": False, "to_service": True, "placement": False},
    "cancel": {"ticket": True, "reason": False},
    "open_counter": _COUNTER,
    "pause_counter": {**_COUNTER, "reason": False},
    "close_counter": _COUNTER,
}


def encode(message: dict) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


def decode_command(payload: bytes) -> tuple[str, str, dict]:
    """Check a command payload against the contract: returns (id, type, args)."""
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError("too_large", f"{len(payload)} bytes; at most {MAX_PAYLOAD}")
    try:
        message = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ProtocolError("bad_json", f"not a UTF-8 JSON document: {err}") from None
    if not isinstance(message, dict):
        raise ProtocolError("bad_message", "a command is a JSON object")
    command_id = message.get("id")
    if not isinstance(command_id, str) or not COMMAND_ID_RE.match(command_id):
        raise ProtocolError("bad_id", "id must be 1-64 characters of A-Z a-z 0-9 . _ : -")
    try:
        kind, args = _check_command(message)
    except ProtocolError as err:
        err.command_id = command_id
        raise
    return command_id, kind, args


def _check_command(message: dict) -> tuple[str, dict]:
    version = message.get("v")
    if version != PROTOCOL_VERSION or isinstance(version, bool):
        raise ProtocolError("bad_version", f"v must be {PROTOCOL_VERSION}, not {_short(version)}")
    unknown = set(message) - {"v", "id", "type", "args"}
    if unknown:
        raise ProtocolError("bad_message", f"unknown keys: {_short(sorted(unknown))}")
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in ARGUMENTS:
        raise ProtocolError("unknown_command", f"no command type {_short(kind)}")
    args = message.get("args", {})
    if not isinstance(args, dict):
        raise ProtocolError("bad_args", "args must be a JSON object")
    spec = ARGUMENTS[kind]
    for key, value in args.items():
        if key not in spec:
            raise ProtocolError("bad_args", f"{kind} takes no argument {_short(key)}")
        if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT:
            raise ProtocolError("bad_args", f"{key} must be a string of 1-{MAX_TEXT} chars")
    missing = [k for k, required in spec.items() if required and k not in args]
    if missing:
        raise ProtocolError("bad_args", f"{kind} needs {', '.join(missing)}")
    return kind, dict(args)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def ticket_view(branch: Branch, ticket: Ticket, ahead: int | None = None) -> dict:
    """A ticket as clients see it; `ahead` (people before it in line) while it waits."""
    view = {
        "id": ticket.id,
        "number": ticket.number,
        "service": ticket.service,
        "status": str(ticket.status),
        "priority": ticket.priority,
        "language": ticket.language,
        "issued_at": ticket.issued_at,
        "counter": ticket.counter,
        "called_at": ticket.called_at,
        "recalls": ticket.recalls,
        "issued_estimate": ticket.estimate,
    }
    if ticket.status == "waiting":
        if ahead is None:
            line = branch.waiting_line(ticket.service)
            ahead = next(i for i, t in enumerate(line) if t.id == ticket.id)
        view["ahead"] = ahead
    return view


def state_message(
    branch: Branch, names: dict[str, str], at: float, estimates: Estimates | None = None
) -> dict:
    """The retained snapshot: everything a new subscriber needs, numbered by `seq`.

    `estimates` are (per waiting ticket, per service for a new arrival, when computed)."""
    rules = branch.rules
    for_tickets, for_arrivals, estimated_at, estimated_seq = estimates or ({}, {}, None, None)
    services = []
    ahead: dict[str, int] = {}
    for sid, service in rules.services.items():
        line = branch.waiting_line(sid)
        ahead.update((t.id, i) for i, t in enumerate(line))
        services.append(
            {
                "id": sid,
                "prefix": service.prefix,
                "names": service.names,
                "waiting": len(line),
                "issued": branch.issued.get(sid, 0),
                "accepting": not rules.past_cutoff(service, at)
                and branch.issued.get(sid, 0) < service.capacity,
                "line": [t.number for t in line],
                "estimate": _estimate(for_arrivals.get(sid)),
            }
        )
    counters = []
    for cid, spec in rules.counters.items():
        counter = branch.counters[cid]
        ticket = branch.tickets.get(counter.ticket) if counter.ticket else None
        counters.append(
            {
                "id": cid,
                "names": spec.names,
                "services": list(spec.services),
                "state": str(counter.state),
                "reason": counter.reason,
                "served": counter.served,
                "ticket": None
                if ticket is None
                else {
                    "id": ticket.id,
                    "number": ticket.number,
                    "service": ticket.service,
                    "status": str(ticket.status),
                    "language": ticket.language,
                },
            }
        )
    active = []
    for t in branch.tickets.values():
        if t.status in ("waiting", "called", "serving"):
            view = ticket_view(branch, t, ahead.get(t.id))
            if t.status == "waiting":
                view["estimate"] = _estimate(for_tickets.get(t.id))
            active.append(view)
    return {
        "v": PROTOCOL_VERSION,
        "seq": branch.seq,
        "branch": rules.branch_id,
        "names": names,
        "languages": list(rules.languages),
        "at": at,
        "estimated_at": estimated_at,
        "estimated_seq": estimated_seq,
        "business_day": branch.business_day,
        "services": services,
        "counters": counters,
        "tickets": active,
        "recent_calls": list(branch.recent_calls),
    }


def _estimate(estimate: Estimate | None) -> dict | None:
    return None if estimate is None else estimate.to_dict()


def event_message(event: Event) -> dict:
    return {"v": PROTOCOL_VERSION, **event.to_dict()}


def reply_message(command_id: str | None, outcome: dict, result: dict | None = None) -> dict:
    """A reply to the asking device: ok with a result, or an error with code and message."""
    reply: dict = {"v": PROTOCOL_VERSION, "id": command_id, "ok": outcome["ok"]}
    if outcome["ok"]:
        reply["result"] = result or {}
    else:
        reply["error"] = {"code": outcome["code"], "message": outcome["message"]}
    return reply
