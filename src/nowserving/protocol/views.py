"""What devices receive, decoded into typed objects at the edge.

The server builds `state`, `line/<service>`, events and replies (`messages.py`); devices
decode them here. Anything that does not match the contract raises ProtocolError with what
was wrong, and the client drops it with a log line: a device never shows half-understood
state.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from nowserving.domain.events import EVENT_TYPES
from nowserving.errors import ProtocolError
from nowserving.protocol.messages import MAX_STATE_BYTES, PROTOCOL_VERSION


class WaitMinutes(NamedTuple):
    """A wait range in whole minutes, as people are shown it."""

    low: int
    high: int

    @property
    def now(self) -> bool:
        """At most a minute: said as "now", never as "0–1 min"."""
        return self.high <= 1


def wait_minutes(low_s: float, high_s: float) -> WaitMinutes:
    """The minutes a wait range of `low_s`–`high_s` seconds is shown as, on every screen
    and ticket: the low end rounded down, the high end up and at least 1, so the range
    shown always holds the estimate's (19.02 min is "up to 20", never 19).

    It lives here, beside the estimate it reads, because the wire carries seconds and every
    device that shows a wait (the kiosk's screen and ticket, the lobby display, the demo's
    console) reads them from this module; the domain knows nothing of how people read time,
    and a role's module cannot be shared with another role."""
    return WaitMinutes(int(low_s // 60), max(1, math.ceil(high_s / 60)))


@dataclass(frozen=True)
class EstimateView:
    """A wait estimate: expected seconds, the 80% interval, and the people ahead."""

    mean: float
    low: float
    high: float
    ahead: int

    @property
    def minutes(self) -> WaitMinutes:
        """The interval as shown: `wait_minutes`."""
        return wait_minutes(self.low, self.high)


@dataclass(frozen=True)
class ServiceView:
    """One service in the summary: its line's count, next numbers and newcomer's wait."""

    id: str
    prefix: str
    names: dict[str, str]
    waiting: int
    issued: int
    accepting: bool
    next: tuple[str, ...]
    line_seq: int
    estimate: EstimateView | None
    closed: ClosureView | None = None  # closed for the day by a manager (`close_service`)


@dataclass(frozen=True)
class ClosureView:
    """A service closed for the rest of the day: since when, and why in each language."""

    at: float
    reason: str
    reasons: dict[str, str]

    def reason_in(self, language: str) -> str:
        """The reason in `language`, else the one given for all (may be "")."""
        return self.reasons.get(language) or self.reason


@dataclass(frozen=True)
class TicketView:
    """A ticket as its holder is shown it (printed, or on the kiosk's screen): the `ticket`
    of a reply (`messages.ticket_view`, read with `decode_ticket`; staff panels read its other
    fields), or one a kiosk issued from its lease while the server was away."""

    id: str  # "<business day>/<number>": the key of its status page
    number: str
    service: str
    language: str
    issued_at: float
    ahead: int  # people before it in line (0 once it no longer waits)
    issued_estimate: EstimateView | None  # the wait estimate given when it was issued
    priority: str | None = None  # its priority class (None: the branch's default)
    # Of `ahead`, appointments: checked in, or booked and due (`Branch.people_ahead`).
    ahead_appointments: int = 0


@dataclass(frozen=True)
class CounterTicket:
    """The ticket at a counter, as the summary shows it."""

    id: str
    number: str
    service: str
    status: str
    language: str
    called_at: float | None
    recalls: int
    recalled_at: float | None = None  # the last recall (a recall waits out the cooldown)


@dataclass(frozen=True)
class CounterView:
    """One counter in the summary: its state and the ticket at it."""

    id: str
    names: dict[str, str]
    services: tuple[str, ...]
    state: str
    reason: str | None
    served: int
    ticket: CounterTicket | None
    staff: str | None = None  # who works there: signed in, or the counter's default staff
    signed_in: bool = False  # `staff` signed in (False: nobody, or the default staff)
    mean_s: float | None = None  # mean time per customer served today (None: none yet)


@dataclass(frozen=True)
class Call:
    """One recent call or recall."""

    ticket: str
    number: str
    service: str
    counter: str
    language: str
    at: float
    recalls: int = 0  # 0: the first call; n: the n-th recall of the same ticket


@dataclass(frozen=True)
class Notice:
    """What staff posted for the lobby, shown until `until`."""

    text: str
    language: str | None
    at: float
    until: float
    id: str | None = None  # what `take_down_notice` names it by (None: an older server)
    texts: dict[str, str] = field(default_factory=dict)  # the notice in each language given

    def in_language(self, language: str) -> str:
        """The notice in `language` if it was given so, else its text."""
        return self.texts.get(language) or self.text


@dataclass(frozen=True)
class BranchState:
    """The retained summary: everything a display or kiosk shows."""

    seq: int
    branch: str
    names: dict[str, str]
    languages: tuple[str, ...]
    at: float
    estimated_at: float | None
    estimated_seq: int | None
    business_day: str | None
    services: tuple[ServiceView, ...]
    counters: tuple[CounterView, ...]
    recent_calls: tuple[Call, ...]
    notices: tuple[Notice, ...] = ()
    # A restored server starts a new epoch: states are ordered by (epoch, seq).
    epoch: int = 0
    server: str | None = None  # the server instance that published it

    @property
    def order(self) -> tuple[int, int]:
        """What orders summaries: (epoch, seq)."""
        return (self.epoch, self.seq)

    def service(self, service_id: str) -> ServiceView | None:
        """The service `service_id` in this summary, if any."""
        return next((s for s in self.services if s.id == service_id), None)

    def counter(self, counter_id: str) -> CounterView | None:
        """The counter `counter_id` in this summary, if any."""
        return next((c for c in self.counters if c.id == counter_id), None)


@dataclass(frozen=True)
class LineTicket:
    """One waiting ticket in a line, in call order."""

    id: str
    number: str
    priority: str
    language: str
    issued_at: float
    transfers: int
    estimate: EstimateView | None
    # Orders the line with the priority's boost (a transfer moves it); None from a server
    # that predates it, which is then taken to be `issued_at`.
    queue_since: float | None = None
    # An appointment's booked time and head start (`policy.line_key`), and why the ticket
    # counts from earlier than its arrival (`policy.why_first`): None for a plain walk-in.
    booked_at: float | None = None
    head_start_s: float = 0.0
    why: Why | None = None
    # A priority ticket's call key as the N:1 interleave placed it (`policy.call_key`).
    order_key: float | None = None
    # People ahead of it (`Branch.people_ahead`: bookings due included), and of them
    # appointments; None from a server that predates it (then its place in `tickets`).
    ahead: int | None = None
    ahead_appointments: int = 0


@dataclass(frozen=True)
class Why:
    """Why a ticket is ahead of its arrival: an appointment's booked time, a priority."""

    appointment: float | None = None
    priority: str | None = None


@dataclass(frozen=True)
class Line:
    """One service's waiting line: its head in call order (the first LINE_HEAD tickets,
    more than a panel lists) and counts of the whole line."""

    seq: int
    service: str
    at: float
    estimated_at: float | None
    estimated_seq: int | None
    tickets: tuple[LineTicket, ...]  # the head: the first `LINE_HEAD` in call order
    epoch: int = 0
    # Counts of the whole line (from a server that predates them: `tickets`, and 0).
    waiting: int = 0
    priority_waiting: int = 0  # of them, in a priority class other than the default
    oldest_issued_at: float | None = None  # the longest waiting one's issue time

    @property
    def order(self) -> tuple[int, int]:
        """What orders lines: (epoch, seq)."""
        return (self.epoch, self.seq)

    @property
    def more(self) -> int:
        """How many wait behind the head this message lists."""
        return self.waiting - len(self.tickets)


@dataclass(frozen=True)
class EventView:
    """One event from the event stream."""

    seq: int
    type: str
    at: float
    command_id: str | None
    device: str | None
    data: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """The server's answer to one command (or the client's own verdict: `unreachable`)."""

    id: str | None
    ok: bool
    result: dict[str, Any]
    code: str | None = None
    message: str | None = None
    params: dict[str, Any] = field(default_factory=dict)  # a refusal's numbers and names

    @property
    def ticket(self) -> dict[str, Any] | None:
        """The reply's ticket as sent (`decode_ticket` types it)."""
        return self.result.get("ticket")


# ----- decoding -----------------------------------------------------------------------


class _Reader:
    """Typed access to one JSON object; every failure names the path that was wrong."""

    def __init__(self, value: object, where: str) -> None:
        if not isinstance(value, dict):
            raise ProtocolError("bad_message", f"{where or 'message'} is not an object")
        self.value, self.where = value, where

    def _get(self, key: str, kinds: tuple[type, ...], optional: bool) -> Any:
        value = self.value.get(key)
        if type(value) in kinds:  # the common case, checked first: summaries are decoded
            return value  # by every device many times a second
        if value is None and optional:
            return None
        if key not in self.value:
            raise ProtocolError("bad_message", f"{self._path(key)} is missing")
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise ProtocolError("bad_message", f"{self._path(key)} has the wrong type")
        return value

    def _path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def str(self, key: str, optional: bool = False) -> str | None:
        return self._get(key, (str,), optional)

    def int(self, key: str, optional: bool = False) -> int | None:
        return self._get(key, (int,), optional)

    def num(self, key: str, optional: bool = False) -> float | None:
        value = self._get(key, (int, float), optional)
        return None if value is None else float(value)

    def bool(self, key: str) -> bool:
        return self._get(key, (bool,), False)

    def names(self, key: str) -> dict[str, str]:
        value = self._get(key, (dict,), False)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ProtocolError("bad_message", f"{self.where}.{key} must map strings")
        return dict(value)

    def strs(self, key: str) -> tuple[str, ...]:
        value = self._get(key, (list,), False)
        if not all(isinstance(v, str) for v in value):
            raise ProtocolError("bad_message", f"{self.where}.{key} must list strings")
        return tuple(value)

    def each(self, key: str, decode: Callable[[object, str], Any]) -> tuple:
        path = self._path(key)
        return tuple(
            decode(v, f"{path}[{i}]") for i, v in enumerate(self._get(key, (list,), False))
        )

    def obj(self, key: str, decode: Callable[[object, str], Any]) -> Any:
        value = self._get(key, (dict,), True)
        return None if value is None else decode(value, self._path(key))


def _message(payload: bytes, limit: int) -> _Reader:
    if len(payload) > limit:
        raise ProtocolError("too_large", f"{len(payload)} bytes; at most {limit}")
    try:
        message = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ProtocolError("bad_json", f"not a UTF-8 JSON document: {err}") from None
    reader = _Reader(message, "")
    version = message.get("v")
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise ProtocolError("bad_version", f"v must be {PROTOCOL_VERSION}")
    return reader


def _estimate(value: object, where: str) -> EstimateView:
    r = _Reader(value, where)
    return EstimateView(r.num("mean"), r.num("low"), r.num("high"), r.int("ahead"))


def decode_ticket(value: object, where: str = "result.ticket") -> TicketView:
    """A reply's ticket (`Reply.ticket`), checked against the contract."""
    r = _Reader(value, where)
    return TicketView(
        r.str("id"), r.str("number"), r.str("service"), r.str("language"), r.num("issued_at"),
        r.int("ahead", optional=True) or 0, r.obj("issued_estimate", _estimate),
        r.str("priority", optional=True), r.int("ahead_appointments", optional=True) or 0,
    )  # fmt: skip


def _service(value: object, where: str) -> ServiceView:
    r = _Reader(value, where)
    return ServiceView(
        r.str("id"),
        r.str("prefix"),
        r.names("names"),
        r.int("waiting"),
        r.int("issued"),
        r.bool("accepting"),
        r.strs("next"),
        r.int("line_seq"),
        r.obj("estimate", _estimate),
        r.obj("closed", _closure),
    )


def _closure(value: object, where: str) -> ClosureView:
    r = _Reader(value, where)
    return ClosureView(r.num("at"), r.str("reason", optional=True) or "", r.names("reasons"))


def _counter_ticket(value: object, where: str) -> CounterTicket:
    r = _Reader(value, where)
    return CounterTicket(
        r.str("id"),
        r.str("number"),
        r.str("service"),
        r.str("status"),
        r.str("language"),
        r.num("called_at", optional=True),
        r.int("recalls"),
        r.num("recalled_at", optional=True),
    )


def _counter(value: object, where: str) -> CounterView:
    r = _Reader(value, where)
    return CounterView(
        r.str("id"),
        r.names("names"),
        r.strs("services"),
        r.str("state"),
        r.str("reason", optional=True),
        r.int("served"),
        r.obj("ticket", _counter_ticket),
        r.str("staff", optional=True),
        bool(r.value.get("signed_in", False)),
        r.num("mean_s", optional=True),
    )


def _call(value: object, where: str) -> Call:
    r = _Reader(value, where)
    return Call(
        r.str("ticket"), r.str("number"), r.str("service"), r.str("counter"),
        r.str("language"), r.num("at"), r.int("recalls", optional=True) or 0,
    )  # fmt: skip


def _notice(value: object, where: str) -> Notice:
    r = _Reader(value, where)
    return Notice(
        r.str("text"), r.str("language", optional=True), r.num("at"), r.num("until"),
        r.str("id", optional=True), r.names("texts") if "texts" in r.value else {},
    )  # fmt: skip


def decode_state(payload: bytes) -> BranchState:
    """The retained summary, checked against the contract."""
    r = _message(payload, MAX_STATE_BYTES)
    return BranchState(
        r.int("seq"),
        r.str("branch"),
        r.names("names"),
        r.strs("languages"),
        r.num("at"),
        r.num("estimated_at", optional=True),
        r.int("estimated_seq", optional=True),
        r.str("business_day", optional=True),
        r.each("services", _service),
        r.each("counters", _counter),
        r.each("recent_calls", _call),
        r.each("notices", _notice),
        epoch=r.int("epoch", optional=True) or 0,
        server=r.str("server", optional=True),
    )


def _line_ticket(value: object, where: str) -> LineTicket:
    r = _Reader(value, where)
    return LineTicket(
        r.str("id"),
        r.str("number"),
        r.str("priority"),
        r.str("language"),
        r.num("issued_at"),
        r.int("transfers"),
        r.obj("estimate", _estimate),
        r.num("queue_since", optional=True),
        r.num("booked_at", optional=True),
        r.num("head_start_s", optional=True) or 0.0,
        r.obj("why", _why),
        r.num("order_key", optional=True),
        r.int("ahead", optional=True),
        r.int("ahead_appointments", optional=True) or 0,
    )


def _why(value: object, where: str) -> Why:
    r = _Reader(value, where)
    return Why(r.num("appointment", optional=True), r.str("priority", optional=True))


def decode_line(payload: bytes) -> Line:
    """One `line/<service>` message: the head of the line and its counts, at most
    MAX_STATE_BYTES like a summary (LINE_HEAD tickets take about 11 KB). A server that
    predates the counts sent the whole line: its counts are then those of `tickets`."""
    r = _message(payload, MAX_STATE_BYTES)
    tickets = r.each("tickets", _line_ticket)
    waiting = r.int("waiting", optional=True)
    waiting = len(tickets) if waiting is None else waiting
    if waiting < len(tickets):
        raise ProtocolError("bad_message", f"waiting is {waiting}, fewer than tickets lists")
    priority = r.int("priority_waiting", optional=True) or 0
    if not 0 <= priority <= waiting:
        raise ProtocolError("bad_message", f"priority_waiting is {priority}, not 0-{waiting}")
    oldest = r.num("oldest_issued_at", optional=True)
    if oldest is None and tickets:
        oldest = min(t.issued_at for t in tickets)
    return Line(
        r.int("seq"),
        r.str("service"),
        r.num("at"),
        r.num("estimated_at", optional=True),
        r.int("estimated_seq", optional=True),
        tickets,
        epoch=r.int("epoch", optional=True) or 0,
        waiting=waiting,
        priority_waiting=priority,
        oldest_issued_at=oldest,
    )


def decode_event(payload: bytes) -> EventView:
    """One event-stream message, checked against the contract."""
    r = _message(payload, MAX_STATE_BYTES)
    kind = r.str("type")
    if kind not in EVENT_TYPES:
        raise ProtocolError("bad_message", f"unknown event type {kind[:40]!r}")
    data = r.value.get("data")
    if not isinstance(data, dict):
        raise ProtocolError("bad_message", "data is not an object")
    return EventView(
        r.int("seq"), kind, r.num("at"), r.str("command_id", optional=True),
        r.str("device", optional=True), data,
    )  # fmt: skip


def decode_reply(payload: bytes) -> Reply:
    """One reply to a command, checked against the contract."""
    r = _message(payload, MAX_STATE_BYTES)
    command_id = r.str("id", optional=True)
    if r.bool("ok"):
        result = r.value.get("result", {})
        if not isinstance(result, dict):
            raise ProtocolError("bad_message", "result is not an object")
        return Reply(command_id, True, result)
    error = _Reader(r.value.get("error"), "error")
    params = error.value.get("params") or {}
    if not isinstance(params, dict):
        raise ProtocolError("bad_message", "error.params is not an object")
    return Reply(command_id, False, {}, error.str("code"), error.str("message"), params)


def decode_online(payload: bytes) -> bool:
    """Whether a device's retained status says it is online (an empty payload: the status
    was cleared, so no)."""
    if not payload:
        return False
    return _message(payload, MAX_STATE_BYTES).bool("online")


@dataclass(frozen=True)
class DeviceStatus:
    """A device's retained status (`status/<device>`): online or not, and what it says of
    its hardware (a kiosk's `printer`, `paper`, `spool`, ...; docs/kiosk.md, "Status")."""

    device: str
    online: bool
    fields: dict[str, Any]


def decode_status(device: str, payload: bytes) -> DeviceStatus:
    """One device's retained status (an empty payload: cleared, so offline)."""
    if not payload:
        return DeviceStatus(device, False, {})
    r = _message(payload, MAX_STATE_BYTES)
    fields = {k: v for k, v in r.value.items() if k not in ("v", "device", "online")}
    return DeviceStatus(device, r.bool("online"), fields)
