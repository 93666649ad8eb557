"""Message schemas: strict decoding of what comes in, one encoder for what goes out.

Everything inbound is checked here, at the edge: size, UTF-8, JSON, version, envelope keys,
command type and each argument's type and length. Anything else is a ProtocolError whose
`code` goes back in the error reply.
"""

from __future__ import annotations

import json
import re

from nowserving.domain import Branch, Event, Seen, Ticket
from nowserving.domain.bookings import Ahead
from nowserving.domain.estimate import Estimate
from nowserving.domain.policy import why_first
from nowserving.domain.staff import staff_at
from nowserving.errors import ProtocolError
from nowserving.protocol.vocabulary import COMMANDS

# Current estimates: per waiting ticket id, per service (a new arrival), and the time and
# seq of the state they were computed from.
Estimates = tuple[dict[str, Estimate | None], dict[str, Estimate | None], float, int]

PROTOCOL_VERSION = 2  # 2: state split into a summary and per-service lines
NEXT_NUMBERS = 5  # numbers per service in the summary, next to be called first
LINE_HEAD = 50  # tickets in a `line/<service>` message, first to be called first
MAX_PAYLOAD = 4096  # bytes; the largest valid command is a few hundred
MAX_STATE_BYTES = 64 * 1024  # what a device accepts as a summary, an event or a reply
MAX_TEXT = 200  # characters in any string argument
RATE_LIMITED = "rate_limited"  # a refusal that means "not now": the client retries it
MAX_DEPTH = 4  # nesting of JSON objects and arrays; a valid command has 2
COMMAND_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")  # a per-language argument's suffix: `text_zh`
# A JSON string (to its end, or to the end of the text: one pass, never backtracking
# over the payload) or a bracket.
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')


def encode(message: dict) -> bytes:
    """A message as its compact UTF-8 JSON payload."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


def decode_command(payload: bytes) -> tuple[str, str, dict]:
    """Check a command payload against the contract: returns (id, type, args)."""
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError("too_large", f"{len(payload)} bytes; at most {MAX_PAYLOAD}")
    try:
        text = payload.decode("utf-8")
        check_depth(text)
        message = json.loads(text)
    except (UnicodeDecodeError, ValueError) as err:
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


def check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before parsing: how deep `json` itself goes
    depends on the interpreter (3.11 refuses 2,000 levels, 3.13 accepts them)."""
    depth = 0
    for token in _STRING_OR_BRACKET.findall(text):
        if token[0] == '"':
            continue
        depth += 1 if token in "[{" else -1
        if depth > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")


def _check_command(message: dict) -> tuple[str, dict]:
    version = message.get("v")
    if type(version) is not int or version != PROTOCOL_VERSION:  # not True, not 2.0
        raise ProtocolError("bad_version", f"v must be {PROTOCOL_VERSION}, not {_short(version)}")
    unknown = set(message) - {"v", "id", "type", "args"}
    if unknown:
        raise ProtocolError("bad_message", f"unknown keys: {_short(sorted(unknown))}")
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in COMMANDS:
        raise ProtocolError("unknown_command", f"no command type {_short(kind)}")
    args = message.get("args", {})
    if not isinstance(args, dict):
        raise ProtocolError("bad_args", "args must be a JSON object")
    spec = COMMANDS[kind].args
    per_language = COMMANDS[kind].per_language
    for key, value in args.items():
        base, _, language = key.rpartition("_")
        if key not in spec and not (base in per_language and LANGUAGE_CODE.fullmatch(language)):
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


def ticket_view(branch: Branch, ticket: Ticket, at: float | None = None) -> dict:
    """A ticket as a reply shows it at `at` (default: its issue); while it waits, `ahead`:
    the people the merged order puts before it (`Branch.people_ahead`: those in line and
    bookings due), and `ahead_appointments`: of them, appointments (when any)."""
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
        _put_ahead(view, branch.people_ahead(ticket, ticket.issued_at if at is None else at))
    return view


def _put_ahead(view: dict, ahead: Ahead) -> None:
    view["ahead"] = ahead.people
    if ahead.appointments:
        view["ahead_appointments"] = ahead.appointments


def state_message(
    branch: Branch,
    names: dict[str, str],
    at: float,
    estimates: Estimates | None = None,
    line_seqs: dict[str, int] | None = None,
    server: str | None = None,
) -> dict:
    """The retained summary: what a lobby display or a kiosk shows, ordered by
    (`epoch`, `seq`); `server` is the instance that published it.

    Its size depends on the branch's services and counters, never on how many wait: per
    service the count, the next NEXT_NUMBERS numbers and a newcomer's estimate; whole
    lines are on their own topics (`line_message`)."""
    rules = branch.rules
    _, for_arrivals, estimated_at, estimated_seq = estimates or ({}, {}, None, None)
    line_seqs = line_seqs or {}
    services = []
    for sid, service in rules.services.items():
        services.append(
            {
                "id": sid,
                "prefix": service.prefix,
                "names": service.names,
                "waiting": len(branch.lines.get(sid, ())),
                "issued": branch.issued.get(sid, 0),
                # Numbers given out today, online and leased: where a restored log resumes.
                "numbered": branch.numbered.get(sid, 0),
                "leased": branch.leased_top.get(sid, 0),
                "accepting": rules.open_at(at)
                and not rules.past_cutoff(service, at)
                and branch.closed_today(sid, at) is None
                and branch.numbers_left(service) > 0,
                # Closed for the rest of the day by a manager (`close_service`), or None.
                "closed": _closure(branch.closed_today(sid, at)),
                "next": [t.number for t in branch.next_in_line(sid, NEXT_NUMBERS)],
                "line_seq": line_seqs.get(sid, 0),
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
                # Who is signed in, else the counter's default staff (None: nobody).
                "staff": staff_at(branch, cid),
                "signed_in": counter.staff is not None,
                # Its mean time per customer served today (s): the staff panel shows it.
                "mean_s": round(counter.service_s / counter.served) if counter.served else None,
                "ticket": None
                if ticket is None
                else {
                    "id": ticket.id,
                    "number": ticket.number,
                    "service": ticket.service,
                    "status": str(ticket.status),
                    "language": ticket.language,
                    "called_at": ticket.called_at,
                    "recalls": ticket.recalls,
                    "recalled_at": ticket.recalled_at,
                },
            }
        )
    return {
        "v": PROTOCOL_VERSION,
        "epoch": branch.epoch,
        "seq": branch.seq,
        "server": server,
        "branch": rules.branch_id,
        "names": names,
        "languages": list(rules.languages),
        "at": at,
        "estimated_at": estimated_at,
        "estimated_seq": estimated_seq,
        "business_day": branch.business_day,
        "services": services,
        "counters": counters,
        "recent_calls": list(branch.recent_calls),
        "notices": [
            {k: n[k] for k in ("id", "text", "language", "at", "until", "texts") if k in n}
            for n in branch.notices
            if n["until"] > at
        ],
    }


def _closure(closure: dict | None) -> dict | None:
    if closure is None:
        return None
    return {"at": closure["at"], "reason": closure.get("reason", ""),
            "reasons": dict(closure.get("reasons") or {})}  # fmt: skip


def seen_in_state(payload: bytes) -> tuple[Seen, str | None] | None:
    """Where a retained summary says the branch stood, and which server instance published
    it; None for no summary or one that cannot be read. A summary from before `numbered`
    existed gives `issued` (online and offline tickets) for it: numbers are skipped rather
    than given twice."""
    if not payload or len(payload) > MAX_STATE_BYTES:
        return None
    try:
        state = json.loads(payload)
        numbers = {}
        for service in state.get("services", []):
            online = service.get("numbered", service["issued"])
            numbers[service["id"]] = (int(online), int(service.get("leased", 0)))
        seen = Seen(int(state.get("epoch", 0)), int(state["seq"]), state.get("business_day"),
                    numbers)  # fmt: skip
        server = state.get("server")
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return seen, server if isinstance(server, str) else None


def line_message(
    branch: Branch, service: str, at: float, estimates: Estimates | None = None
) -> dict:
    """The retained head of one service's line: its first LINE_HEAD tickets in call order
    (each with `ahead`: people before it, as `Branch.people_ahead` counts them, bookings due
    included), each with its current estimate, and counts of the whole line
    (`waiting`, `priority_waiting`, `oldest_issued_at`). What a counter's staff panel lists,
    and small however long the line: about 11 KB with 600 waiting, not 136 KB."""
    for_tickets, _, estimated_at, estimated_seq = estimates or ({}, {}, None, None)
    heads = branch.heads_ahead(service, LINE_HEAD, at)
    tickets = [
        {
            "id": t.id,
            "number": t.number,
            "priority": t.priority,
            "language": t.language,
            "issued_at": t.issued_at,
            "queue_since": t.queue_since,
            "transfers": t.transfers,
            "estimate": _estimate(for_tickets.get(t.id)),
            **_why(t, branch.rules.priorities),
        }
        for t, _ in heads
    ]
    for view, (_, ahead) in zip(tickets, heads, strict=True):
        _put_ahead(view, ahead)
    waiting, priority_waiting, oldest = _line_counts(branch, service)
    return {
        "v": PROTOCOL_VERSION,
        "epoch": branch.epoch,
        "seq": branch.seq,
        "service": service,
        "at": at,
        "estimated_at": estimated_at,
        "estimated_seq": estimated_seq,
        "waiting": waiting,
        "priority_waiting": priority_waiting,
        "oldest_issued_at": oldest,
        "tickets": tickets,
    }


def _line_counts(branch: Branch, service: str) -> tuple[int, int, float | None]:
    """(waiting, of them in a priority class other than the default, the earliest issue
    time among them): one pass over the line's ids, ~50 µs for 600."""
    default = next(iter(branch.rules.priorities), None)
    tickets = branch.tickets
    line = branch.lines.get(service, {})
    priority, oldest = 0, None
    for ticket_id in line:
        ticket = tickets[ticket_id]
        if ticket.priority != default:
            priority += 1
        if oldest is None or ticket.issued_at < oldest:
            oldest = ticket.issued_at
    return len(line), priority, oldest


def _estimate(estimate: Estimate | None) -> dict | None:
    return None if estimate is None else estimate.to_dict()


def event_message(event: Event, epoch: int = 0) -> dict:
    """An event as published on the event stream: every device reads it, so a ticket's
    token hash stays out (the web role has its own topic, `web_ticket_message`). `epoch`:
    the log's epoch the event belongs to ((epoch, seq) names an event for good)."""
    message = {"v": PROTOCOL_VERSION, "epoch": epoch, **event.to_dict()}
    if "token_hash" in event.data:
        message["data"] = {k: v for k, v in event.data.items() if k != "token_hash"}
    return message


def web_ticket_message(branch: Branch, ticket: Ticket) -> dict:
    """A ticket's retained record for the web role (`Topics.web_ticket`): who it is and
    where it is in its life; its place and estimate come from its line."""
    return {
        "v": PROTOCOL_VERSION,
        "branch": branch.rules.branch_id,
        "business_day": branch.business_day,
        "seq": branch.seq,
        "id": ticket.id,
        "number": ticket.number,
        "service": ticket.service,
        "language": ticket.language,
        "status": str(ticket.status),
        "counter": ticket.counter,
        "issued_at": ticket.issued_at,
        "called_at": ticket.called_at,
        "recalls": ticket.recalls,
        "recalled_at": ticket.recalled_at,
        "finished_at": ticket.finished_at,
        "rating": ticket.rating,
        "stepped_out_at": ticket.stepped_out_at,
        "back_by": ticket.back_by,
        "estimate": ticket.estimate,
        "feedback_window_s": branch.rules.feedback_window_s,
        # A remote ticket (docs/appointments.md): when it joined, and by when it must check
        # in (None for a ticket taken in the branch).
        "joined_at": ticket.joined_at,
        "check_in_by": ticket.remote_until,
    }


def reply_message(command_id: str | None, outcome: dict, result: dict | None = None) -> dict:
    """A reply to the asking device: ok with a result, or an error with code and message."""
    reply: dict = {"v": PROTOCOL_VERSION, "id": command_id, "ok": outcome["ok"]}
    if outcome["ok"]:
        reply["result"] = result or {}
    else:
        reply["error"] = {"code": outcome["code"], "message": outcome["message"]}
        if outcome.get("params"):  # what the message is made of, for a device's own words
            reply["error"]["params"] = outcome["params"]
    return reply


def _why(ticket: Ticket, priorities: dict) -> dict:
    """An appointment's or a priority ticket's fields of the line (`policy.why_first`);
    nothing for a plain walk-in, so a line of walk-ins stays as small as before."""
    why = why_first(ticket, priorities)
    if why is None:
        return {}
    more: dict = {"why": why}
    if ticket.booked_at is not None:
        more["booked_at"], more["head_start_s"] = ticket.booked_at, ticket.head_start_s
    if ticket.order_key is not None:  # placed by the N:1 interleave (`policy.call_key`)
        more["order_key"] = ticket.order_key
    return more
