"""The branch queue as a state machine: `handle` decides a command and applies its events.

`decide_*` methods read state and return event drafts (or raise DomainError); only
`apply` changes state, so replaying the log through `apply` rebuilds the same branch.
A new ticket's wait estimate comes from a collaborator the caller passes to `handle`
(`domain/newcomer.py`), and is recorded in the event: the fold never estimates.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import math
import re
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

from nowserving.domain import bookings, remote
from nowserving.domain.commands import Command, remember_key
from nowserving.domain.events import Event
from nowserving.domain.learning import Learner, day_clock
from nowserving.domain.model import (
    ACTIVE,
    BranchRules,
    Counter,
    CounterState,
    Ticket,
    TicketStatus,
)
from nowserving.domain.policy import (
    INTERLEAVE,
    base_key,
    boost,
    call_key,
    interleave_keys,
    pick_next,
)
from nowserving.domain.staff import (
    STAFFED_EVENTS,
    decide_sign_in,
    decide_sign_out,
    failure_outcome,
    require_staff,
    staff_at,
)
from nowserving.errors import DomainError

# How many command outcomes are remembered for at-most-once delivery. A device retries
# within seconds; this covers far more than a busy branch's whole day.
REMEMBERED_COMMANDS = 50_000
RECENT_CALLS = 10
LEASE_DEFAULT, LEASE_MAX = 20, 100  # numbers per lease_numbers, by default and at most
RATINGS = ("satisfied", "neutral", "unsatisfied")
NOTICE_MINUTES, NOTICES = 30, 5  # a notice lasts 30 min by default; at most 5 are shown
# A transfer from a counter may be taken back by the same counter device this long after
# (a mistaken tap): the customer is back at the counter as before (`undo_transfer`).
UNDO_TRANSFER_S = 15.0
# What `undo_transfer` puts back of a ticket transferred from a counter.
_BEFORE_TRANSFER = ("service", "status", "counter", "called_at", "started_at", "recalls",
                    "recalled_at", "queue_since", "transfers", "booked_at",
                    "head_start_s")  # fmt: skip

Draft = tuple  # (event type, data) or (event type, data, the Command it is for)
# (branch as it stands, service, priority, at[, booked_at=, head_start_s= for an
# appointment]) -> a new ticket's estimate as its event records it, or None; never raises
# (`NewcomerEstimates.estimate` is the one in use).
EstimateNewcomer = Callable[..., "dict | None"]


class Branch:
    """The authoritative state of one branch's queue for the current business day."""

    def __init__(self, rules: BranchRules) -> None:
        self.rules = rules
        self.seq = 0
        # Raised when the server restarts from a log older than what devices have seen (a
        # backup): (epoch, seq) is what orders states, so devices take the restored one.
        self.epoch = 0
        self.business_day: str | None = None
        self.issued: dict[str, int] = {s: 0 for s in rules.services}
        # Numbers given out today per service: online from the bottom of the range up,
        # leased from the top down (so the day starts at 001, and an offline ticket's
        # high number tells staff what it is).
        self.numbered: dict[str, int] = {s: 0 for s in rules.services}
        self.leased_top: dict[str, int] = {s: 0 for s in rules.services}
        # Leased numbers not yet used, -> (device, service, granted at); void when the day
        # ends. Device "" and no time: leased in events a restored log lost (any kiosk).
        self.leases: dict[str, tuple[str, str, float | None]] = {}
        self.tickets: dict[str, Ticket] = {}
        # Waiting ticket ids per service, in no particular order (the policy orders them).
        self.lines: dict[str, dict[str, None]] = {s: {} for s in rules.services}
        # The same lines as sorted (call key, ticket id): the call order, kept as tickets
        # join and leave, so the head, a position or the next few cost no sorting.
        self._keys: dict[str, list[tuple[float, str]]] = {s: [] for s in rules.services}
        # Under the N:1 interleave: per service, customers of no priority class called from
        # its line since its last priority one (`policy.interleave_keys`).
        self.since_priority: dict[str, int] = {}
        start = CounterState.OPEN if rules.counters_start_open else CounterState.CLOSED
        self.counters: dict[str, Counter] = {c: Counter(c, start) for c in rules.counters}
        self.outcomes: OrderedDict[str, dict] = OrderedDict()
        self.recent_calls: deque[dict] = deque(maxlen=RECENT_CALLS)
        self.notices: list[dict] = []  # for the lobby: text, language, at, until, device
        # Staff number -> (wrong PINs in a row, locked until or None): see domain/staff.py.
        self.pin_tries: dict[str, tuple[int, float | None]] = {}
        self.learner = Learner(rules.services, _priors(rules))
        # Seq of the last event after which the counters serve differently (one opened,
        # paused or closed; a new day): estimates made before it describe another future.
        # Not in snapshots: a branch loaded from one takes the snapshot's seq.
        self.counters_changed = 0
        # Appointments, by booking id (domain/bookings.py): they outlive business days.
        self.bookings: dict[str, bookings.Booking] = {}
        self._new_code: str | None = None  # the code of a booking being made, for its reply
        self.booking_refs: dict[str, str] = {}  # a live booking's `ref` -> its id
        # The key a booking made with a `ref` derives its code from (bookings.ref_code):
        # given by the server from the log's meta; None: such codes are random too.
        self.code_key: bytes | None = None
        # Services closed for the rest of a business day (`close_service`), by id: the day,
        # when, and the reason in each language. Cleared by a new day or `reopen_service`.
        self.closed_services: dict[str, dict] = {}
        # Remote tickets not checked in yet, by id (domain/remote.py); and the secret the
        # hall codes are made with (the server's, never in the log; None: no hall code).
        self.remotes: dict[str, Ticket] = {}
        self.hall_secret: bytes | None = None

    # ----- commands -------------------------------------------------------------------

    def handle(
        self, command: Command, estimate: EstimateNewcomer | None = None
    ) -> tuple[list[Event], dict, bool]:
        """Apply `command` at most once: returns (new events, outcome, was_duplicate).

        A ticket issued online gets its wait estimate from `estimate`, called with the
        branch as it stands before the ticket (without one, the event records none).
        Ids are remembered per device. The same id again from the same device is answered
        with the first outcome; with a different request it is refused with `id_reused`.
        Anything but a DomainError raised while deciding propagates: the caller contains
        it (the state is unchanged by a failed decision, except for a new business day
        already applied, whose event the caller's log never saw; see the server)."""
        known = self.outcomes.get(command.key)
        if known is not None:
            if known.get("digest", command.digest) != command.digest:
                refusal = {
                    "ok": False,
                    "code": "id_reused",
                    "message": f"id {command.id!r} was used before for another command",
                }
                return [], refusal, True
            return [], known, True
        decide = getattr(self, f"_decide_{command.type}", None)
        if command.type == "issue_ticket":  # the decisions that record an estimate
            decide = partial(self._decide_issue_ticket, estimate=estimate)
        elif command.type == "check_in":
            decide = partial(self._decide_check_in, estimate=estimate)
        events = self._start_day_if_due(command) + self._notice_missed(command)
        try:
            if decide is None:
                raise DomainError("unknown_command", f"no such command {command.type!r}")
            require_staff(self, command)
            drafts = decide(command, command.args)
        except DomainError as err:
            drafts = [_rejection(command, err.code, err.message, err.params)]
        staff = staff_at(self, command.args.get("counter"))  # who is at it, before these
        for kind, data, *own in drafts:
            if staff is not None and kind in STAFFED_EVENTS and "staff" not in data:
                data = {**data, "staff": staff}
            if own:  # an event on behalf of another command of the device (supersedes)
                events.append(self._emit(kind, data, own[0], digest=False))
            else:
                events.append(self._emit(kind, data, command))
        return events, self._outcome_with_code(command), False

    def _notice_missed(self, command: Command) -> list[Event]:
        """Booking no-shows and remote tickets dropped by `command`'s time: recorded before
        it is decided."""
        return [
            self._emit(kind, data, command, with_id=False)
            for kind, data in bookings.missed(self, command) + remote.dropped(self, command)
        ]

    def _outcome_with_code(self, command: Command) -> dict:
        """The outcome of `command`, with the code of a booking it made: in the reply (and
        the outcomes remembered for a retry), never in an event."""
        outcome = self.outcomes[command.key]
        if self._new_code is not None and outcome.get("ok"):
            outcome["code"] = self._new_code
        self._new_code = None
        return outcome

    def restore(self, at: float, seen: Seen) -> list[Event]:
        """Start a new epoch past what devices have seen (`seen`, from the broker's retained
        state), when this log is older: numbers given out that day are never given again,
        and numbers leased in the lost events stay good for the kiosks holding them."""
        command = Command(f"restore-{seen.epoch + 1}", "restore", "server", at)
        events = self._start_day_if_due(command) if seen.day == self.rules.business_day(at) else []
        data = {
            "epoch": max(self.epoch, seen.epoch) + 1,
            "day": seen.day,
            "log_seq": self.seq,
            "seen_epoch": seen.epoch,
            "seen_seq": seen.seq,
            "numbers": {s: list(n) for s, n in seen.numbers.items()},
        }
        events.append(self._emit("log_restored", data, command, with_id=False))
        return events

    def reject(self, command: Command, code: str, message: str) -> tuple[list[Event], dict]:
        """Record `command` as refused without deciding it (e.g. its handling failed)."""
        events = self._start_day_if_due(command)
        events.append(self._emit(*_rejection(command, code, message), command))
        return events, self.outcomes[command.key]

    def _start_day_if_due(self, command: Command) -> list[Event]:
        day = self.rules.business_day(command.at)
        if self.business_day is not None and day <= self.business_day:
            return []
        expired = [
            t.id for t in self.tickets.values()
            if t.status in ACTIVE or t.status is TicketStatus.REMOTE
        ]  # fmt: skip
        return [self._emit("day_started", {"day": day, "expired": expired}, command, False)]

    def _emit(
        self, kind: str, data: dict, command: Command, with_id: bool = True, digest: bool = True
    ) -> Event:
        event = Event(
            self.seq + 1,
            kind,
            command.at,
            command.id if with_id else None,
            command.device,
            data,
            command.digest if with_id and digest else None,
        )
        self.apply(event)
        return event

    def _counter(self, args: dict) -> Counter:
        cid = args.get("counter")
        if cid not in self.counters:
            raise DomainError("unknown_counter", f"no counter {cid!r} in this branch",
                              {"counter": str(cid)})  # fmt: skip
        return self.counters[cid]

    def _open_counter(self, args: dict) -> Counter:
        counter = self._counter(args)
        if counter.state is not CounterState.OPEN:
            raise DomainError(
                f"counter_{counter.state}",
                f"counter {counter.id} is {counter.state}; open it first",
                {"counter": counter.id},
            )
        return counter

    def _ticket(self, ticket_id: object) -> Ticket:
        ticket = self.tickets.get(ticket_id) if isinstance(ticket_id, str) else None
        if ticket is None:
            raise DomainError("unknown_ticket", f"no ticket {ticket_id!r} today")
        return ticket

    def _current(self, counter: Counter, *allowed: TicketStatus) -> Ticket:
        if counter.ticket is None:
            raise DomainError("no_ticket", f"counter {counter.id} has no ticket")
        ticket = self.tickets[counter.ticket]
        if ticket.status not in allowed:
            want = " or ".join(str(s) for s in allowed)
            raise DomainError(
                "wrong_state",
                f"{ticket.number} is {ticket.status}, not {want}",
                {"number": ticket.number, "status": str(ticket.status)},
            )
        return ticket

    def _free_counter_for_call(self, counter: Counter) -> list[Draft]:
        """Pressing "next" while serving finishes that customer; while calling, it refuses."""
        if counter.ticket is None:
            return []
        current = self.tickets[counter.ticket]
        if current.status is TicketStatus.CALLED:
            raise DomainError(
                "counter_busy",
                f"{current.number} is still called at {counter.id}: "
                "start, finish, transfer or mark it no-show first",
                {"number": current.number},
            )
        return [("ticket_finished", {"ticket": current.id, "counter": counter.id})]

    def _call_draft(self, ticket: Ticket, counter: Counter, reason: str | None) -> Draft:
        data = {
            "ticket": ticket.id,
            "number": ticket.number,
            "service": ticket.service,
            "counter": counter.id,
            "language": ticket.language,
        }
        if reason:
            data["reason"] = reason
        return ("ticket_called", data)

    def _decide_issue_ticket(
        self, cmd: Command, args: dict, estimate: EstimateNewcomer | None = None
    ) -> list[Draft]:
        rules = self.rules
        service = rules.services.get(args.get("service"))
        if service is None:
            raise DomainError("unknown_service", f"no service {args.get('service')!r}")
        language = args.get("language") or rules.languages[0]
        if language not in rules.languages:
            raise DomainError("unknown_language", f"language {language!r} is not offered")
        priority = args.get("priority") or next(iter(rules.priorities))
        if priority not in rules.priorities:
            raise DomainError("unknown_priority", f"no priority class {priority!r}")
        if args.get("number") is not None:
            return self._offline_ticket(cmd, args, service, language, priority)
        self.check_open(service, cmd.at)
        if self.numbers_left(service) <= 0:
            raise DomainError(
                "service_full",
                f"{service.id} has issued all {service.capacity} tickets today",
                {"capacity": service.capacity},
            )
        number = service.number_text(service.first_number + self.numbered.get(service.id, 0))
        waits = estimate(self, service.id, priority, cmd.at) if estimate is not None else None
        return [self.issued_draft(number, service, language, priority, args, estimate=waits)]

    def check_open(self, service, at: float) -> None:
        """Refuse a ticket for `service` at `at` when the branch or the service is closed."""
        if not self.rules.open_at(at):
            opens = self.rules.next_opening(at)
            when = "" if opens is None else f": it opens {_local(self.rules, opens)}"
            raise DomainError(
                "branch_closed",
                f"the branch is closed now{when}",
                {"opens": "" if opens is None else _local(self.rules, opens)},
            )
        closure = self.closed_today(service.id, at)
        if closure is not None:
            time = _local(self.rules, closure["at"])[-5:]
            reason = closure["reasons"].get("en") or closure["reason"]  # messages are English
            why = f": {reason}" if reason else ""
            raise DomainError(
                "service_closed",
                f"{service.id} was closed for the day at {time}{why}",
                {"time": time},
            )
        if self.rules.past_cutoff(service, at):
            raise DomainError(
                "service_closed",
                f"{service.id} issues no more tickets today "
                f"(last ticket at {service.last_ticket_at:%H:%M})",
                {"time": f"{service.last_ticket_at:%H:%M}"},
            )

    def closed_today(self, service: str, at: float) -> dict | None:
        """The closure of `service` (`close_service`) if it holds at `at`, else None: a
        closure lasts the business day it was made in."""
        closure = self.closed_services.get(service)
        if closure is None or closure["day"] != self.rules.business_day(at):
            return None
        return closure

    def _decide_close_service(self, cmd: Command, args: dict) -> list[Draft]:
        """Issue no more tickets for a service today; those already waiting are still served."""
        service = self.rules.services.get(args.get("service"))
        if service is None:
            raise DomainError("unknown_service", f"no service {args.get('service')!r}")
        if self.closed_today(service.id, cmd.at) is not None:
            raise DomainError("already_closed", f"{service.id} is already closed today")
        reasons = {
            lang: args[f"reason_{lang}"].strip()[:120]
            for lang in self.rules.languages
            if (args.get(f"reason_{lang}") or "").strip()
        }
        reason = (args.get("reason") or "").strip()[:120] or next(iter(reasons.values()), "")
        data = {"service": service.id, "day": self.rules.business_day(cmd.at), "reason": reason}
        if reasons:
            data["reasons"] = reasons
        return [("service_closed", data)]

    def _decide_reopen_service(self, cmd: Command, args: dict) -> list[Draft]:
        """Undo `close_service` for today: the service issues tickets again."""
        service = self.rules.services.get(args.get("service"))
        if service is None:
            raise DomainError("unknown_service", f"no service {args.get('service')!r}")
        if self.closed_today(service.id, cmd.at) is None:
            raise DomainError("already_open", f"{service.id} is not closed")
        return [("service_reopened", {"service": service.id})]

    def _decide_lease_numbers(self, cmd: Command, args: dict) -> list[Draft]:
        """A block of today's numbers for a kiosk to issue from while it cannot reach the
        server; online tickets never get them."""
        service = self.rules.services.get(args.get("service"))
        if service is None:
            raise DomainError("unknown_service", f"no service {args.get('service')!r}")
        self.check_open(service, cmd.at)
        count = args.get("count") or str(LEASE_DEFAULT)
        if not re.fullmatch(r"[0-9]{1,3}", count) or not 1 <= int(count) <= LEASE_MAX:
            raise DomainError(
                "bad_count", f"count must be 1-{LEASE_MAX}, not {count!r}", {"max": LEASE_MAX}
            )
        left = self.numbers_left(service)
        if left <= 0:
            raise DomainError(
                "service_full",
                f"{service.id} has given out all {service.capacity} numbers today",
                {"capacity": service.capacity},
            )
        last = service.first_number + service.capacity - 1 - self.leased_top.get(service.id, 0)
        first = last - min(int(count), left) + 1
        return [
            (
                "numbers_leased",
                {"service": service.id, "day": self.business_day, "first": first, "last": last},
            )
        ]

    def issued_draft(self, number: str, service, language: str, priority: str, args: dict,
                     **more) -> Draft:  # fmt: skip
        """The `ticket_issued` draft of a new ticket."""
        data = {
            "ticket": f"{self.business_day}/{number}",
            "number": number,
            "service": service.id,
            "language": language,
            "priority": priority,
            **more,
        }
        if args.get("token"):  # only its hash is kept: the log and events never hold it
            data["token_hash"] = token_hash(args["token"])
        return ("ticket_issued", data)

    def numbers_left(self, service) -> int:
        """How many numbers `service` can still give out today, online or leased."""
        used = self.numbered.get(service.id, 0) + self.leased_top.get(service.id, 0)
        return service.capacity - used

    def _offline_ticket(
        self, cmd: Command, args: dict, service, language: str, priority: str
    ) -> list[Draft]:
        """A ticket a kiosk issued while cut off, from its lease: it takes its place in the
        line by its issue time, and replaces the online request it could not get answered
        (`supersedes`), which then can never make a second ticket."""
        number = args["number"]
        device, leased_for, granted_at = self.leases.get(number) or (None, None, None)
        if leased_for != service.id or device not in (cmd.device, ""):
            message = f"{number} is not leased to {cmd.device} for today"
            raise DomainError("not_leased", message, {"number": number})
        try:
            claimed = float(args.get("issued_at", ""))
        except ValueError:
            claimed = math.nan
        if not math.isfinite(claimed):
            raise DomainError("bad_issued_at", "issued_at must be Unix seconds")
        # Placed by the server's clock: a kiosk's clock may be wrong, but the ticket was
        # issued after its number was leased and before it reached the server.
        if granted_at is None:  # a lease from events a restored log lost: sometime today
            granted_at = self.rules.day_began(cmd.at)
        issued_at = min(max(claimed, granted_at), cmd.at)
        if self.rules.business_day(issued_at) != self.business_day:
            raise DomainError(
                "stale_ticket", f"{number} was issued on another business day", {"number": number}
            )
        drafts: list[Draft] = []
        superseded = args.get("supersedes")
        if superseded:
            drafts += self._supersede(cmd, superseded, number)
        more = {"estimate": None, "offline": True, "issued_at": issued_at}
        if abs(claimed - issued_at) > 1:
            more["kiosk_issued_at"] = claimed  # what the kiosk's clock said, for the record
        drafts.append(self.issued_draft(number, service, language, priority, args, **more))
        return drafts

    def _supersede(self, cmd: Command, superseded: str, number: str) -> list[Draft]:
        """The online request that went unanswered: if it was applied after all, its ticket
        (which nobody holds) is cancelled; if not, it is recorded as refused, so that it
        makes no ticket if it still arrives."""
        known = self.outcomes.get(remember_key(cmd.device, superseded))
        reason = f"superseded by offline ticket {number}"
        if known is None:
            own = Command(superseded, "issue_ticket", cmd.device, cmd.at)
            return [("command_rejected", _rejection(own, "superseded", reason)[1], own)]
        ticket = self.tickets.get(known.get("ticket", ""))
        if ticket is not None and ticket.status is TicketStatus.WAITING:
            return [("ticket_cancelled", {"ticket": ticket.id, "reason": reason})]
        return []

    def _decide_call_next(self, cmd: Command, args: dict) -> list[Draft]:
        counter = self._open_counter(args)
        drafts = self._free_counter_for_call(counter)
        spec = self.rules.counters[counter.id]
        # Only the head of each line can be next: `pick_next` chooses among the heads by
        # the counter's call profile.
        waiting = {s: self.next_in_line(s, 1) for s in spec.services}
        ticket = pick_next(spec, waiting, self.rules.priorities, cmd.at)
        if ticket is None:
            raise DomainError("queue_empty", f"nobody is waiting for counter {counter.id}")
        return [*drafts, self._call_draft(ticket, counter, None)]

    def _decide_call_ticket(self, cmd: Command, args: dict) -> list[Draft]:
        counter = self._open_counter(args)
        ticket = self._ticket(args.get("ticket"))
        if ticket.status is not TicketStatus.WAITING:
            raise DomainError(
                "wrong_state",
                f"{ticket.number} is {ticket.status}, not waiting",
                {"number": ticket.number, "status": str(ticket.status)},
            )
        reason = args.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise DomainError("reason_required", "calling out of order needs a reason")
        drafts = self._free_counter_for_call(counter)
        return [*drafts, self._call_draft(ticket, counter, reason.strip())]

    def _decide_recall(self, cmd: Command, args: dict) -> list[Draft]:
        counter = self._counter(args)
        ticket = self._current(counter, TicketStatus.CALLED)
        last = ticket.recalled_at or ticket.called_at or cmd.at
        wait = self.rules.recall_cooldown_s - (cmd.at - last)
        if wait > 0:
            raise DomainError(
                "recall_too_soon",
                f"{ticket.number} was called {cmd.at - last:.0f} s ago: recall in {wait:.0f} s",
                {"number": ticket.number, "seconds": math.ceil(wait)},
            )
        return [
            (
                "ticket_recalled",
                {
                    "ticket": ticket.id,
                    "number": ticket.number,
                    "counter": counter.id,
                    "language": ticket.language,
                    "recalls": ticket.recalls + 1,
                },
            )
        ]

    def _decide_rate(self, cmd: Command, args: dict) -> list[Draft]:
        """The feedback keypad: one rating for the customer the counter finished last, while
        the window is open; or (`ticket` and `token`, the phone page) for that ticket, if it
        was served and finished this business day (its token's life: a customer may look at
        the phone long after leaving). One rating a ticket, whichever way it comes."""
        rating = args.get("rating")
        if rating not in RATINGS:
            raise DomainError("bad_rating", f"rating is one of {', '.join(RATINGS)}")
        ticket, counter, open_ = self._rating_target(cmd, args)
        if ticket is None or counter is None or not open_:
            where = f"counter {counter.id}" if "token" not in args and counter else "this ticket"
            raise DomainError("no_feedback_open", f"{where} takes no rating now")
        if ticket.rating is not None:
            raise DomainError(
                "already_rated", f"{ticket.number} was rated already", {"number": ticket.number}
            )
        data = {"ticket": ticket.id, "counter": counter.id, "rating": rating}
        if "token" in args:
            data["by"] = "phone"  # the phone page's, not the counter's keypad
        if ticket.staff is not None:  # who served them, whoever is at the counter now
            data["staff"] = ticket.staff
        return [("ticket_rated", data)]

    def _rating_target(self, cmd: Command, args: dict):
        """The ticket a `rate` is for, its counter, and whether it takes a rating now."""
        if "token" in args:
            ticket = self._ticket_by_token(args)
            at = ticket.finished_at if ticket.status is TicketStatus.DONE else None
            counter = self.counters.get(ticket.counter or "")
            open_ = at is not None and self.rules.business_day(at) == self.business_day
            return ticket, counter, open_
        counter = self._counter(args)
        ticket = self.tickets.get(counter.last_finished or "")
        at = counter.last_finished_at
        # The keypad's window is short: the next customer at the counter must not rate
        # the one before.
        return ticket, counter, at is not None and cmd.at - at <= self.rules.feedback_window_s

    def _decide_sign_in(self, cmd: Command, args: dict) -> list[Draft]:
        return decide_sign_in(self, cmd, args)

    def _decide_sign_out(self, cmd: Command, args: dict) -> list[Draft]:
        return decide_sign_out(self, cmd, args)

    def _decide_post_notice(self, cmd: Command, args: dict) -> list[Draft]:
        """A notice for the lobby (the reason for a delay, ...), shown until it expires."""
        # `text_<language>`: the same notice in each of the branch's languages, so that
        # a screen shows it in the language it shows (`text`: in one, or for all).
        texts = {
            lang: args[f"text_{lang}"].strip()
            for lang in self.rules.languages
            if (args.get(f"text_{lang}") or "").strip()
        }
        text = (args.get("text") or "").strip() or next(iter(texts.values()), "")
        minutes = args.get("minutes") or str(NOTICE_MINUTES)
        if not re.fullmatch(r"[0-9]{1,3}", minutes):
            raise DomainError("bad_minutes", "minutes must be 0-999 (0 takes notices down)")
        if not text and minutes != "0":
            raise DomainError("bad_notice", "a notice needs text")
        until = cmd.at + int(minutes) * 60
        data = {"text": text, "until": until, "language": args.get("language")}
        if texts:
            data["texts"] = texts
        return [("notice_posted", data)]

    def _decide_take_down_notice(self, cmd: Command, args: dict) -> list[Draft]:
        """Take one notice off the lobby before it expires (any counter may: staff share
        the lobby)."""
        wanted = args.get("notice")
        notice = next(
            (n for n in self.notices if n.get("id") == wanted and n["until"] > cmd.at), None
        )
        if notice is None:
            raise DomainError(
                "unknown_notice", f"no notice {wanted!r} is shown now", {"notice": str(wanted)}
            )
        return [("notice_taken_down", {"notice": notice["id"], "text": notice["text"]})]

    def _decide_start(self, cmd: Command, args: dict) -> list[Draft]:
        counter = self._counter(args)
        ticket = self._current(counter, TicketStatus.CALLED)
        return [("ticket_started", {"ticket": ticket.id, "counter": counter.id})]

    def _decide_finish(self, cmd: Command, args: dict) -> list[Draft]:
        counter = self._counter(args)
        ticket = self._current(counter, TicketStatus.CALLED, TicketStatus.SERVING)
        return [("ticket_finished", {"ticket": ticket.id, "counter": counter.id})]

    def _decide_no_show(self, cmd: Command, args: dict) -> list[Draft]:
        counter = self._counter(args)
        ticket = self._current(counter, TicketStatus.CALLED)
        need = self.rules.no_show_after_recalls
        if ticket.recalls < need:
            raise DomainError(
                "recall_first",
                f"recall {ticket.number} {need - ticket.recalls} more time(s) "
                "before marking it no-show",
                {
                    "number": ticket.number,
                    "more": need - ticket.recalls,
                    "recalls": ticket.recalls,
                    "need": need,
                },
            )
        return [("ticket_no_show", {"ticket": ticket.id, "counter": counter.id})]

    def _decide_transfer(self, cmd: Command, args: dict) -> list[Draft]:
        if args.get("ticket") is not None:
            ticket = self._ticket(args["ticket"])
            if ticket.status not in ACTIVE:
                raise DomainError(
                    "wrong_state",
                    f"{ticket.number} is {ticket.status}",
                    {"number": ticket.number, "status": str(ticket.status)},
                )
        else:
            counter = self._counter(args)
            ticket = self._current(counter, TicketStatus.CALLED, TicketStatus.SERVING)
        target = args.get("to_service")
        if target not in self.rules.services:
            raise DomainError("unknown_service", f"no service {target!r}")
        if target == ticket.service and ticket.status is TicketStatus.WAITING:
            raise DomainError(
                "same_service",
                f"{ticket.number} already waits for {target}",
                {"number": ticket.number},
            )
        placement = args.get("placement") or self.rules.transfer_placement
        if placement not in ("front", "back"):
            raise DomainError("bad_placement", "placement is 'front' or 'back'")
        queue_since = cmd.at
        line = self._keys.get(target)
        if placement == "front" and line:
            # Just ahead of the smallest call key in the target line, given its own boost.
            front = line[0][0]
            own = boost(ticket.priority, self.rules.priorities)
            if self.rules.priority_rule == INTERLEAVE:
                own = 0.0  # its base then comes first, which the interleave keeps first
            queue_since = min(cmd.at, front + own - 0.001)
        data = {
            "ticket": ticket.id,
            "number": ticket.number,
            "from_service": ticket.service,
            "to_service": target,
            "placement": placement,
            "queue_since": queue_since,
            "counter": ticket.counter,
        }
        if ticket.counter is not None:  # from a counter: it may be taken back (undo_transfer)
            was = {k: getattr(ticket, k) for k in _BEFORE_TRANSFER}
            data["was"] = {**was, "status": str(ticket.status)}
        return [("ticket_transferred", data)]

    def _decide_undo_transfer(self, cmd: Command, args: dict) -> list[Draft]:
        """Take back a transfer this counter device made moments ago: the customer is at
        the counter again as before (called or being served), out of the line it was sent
        to. Refused once the window has passed, the ticket has moved on, or the counter has
        someone else."""
        counter = self._counter(args)
        ticket = self._ticket(args.get("ticket"))
        undo = ticket.undo
        if (
            undo is None
            or undo["device"] != cmd.device
            or undo["was"].get("counter") != counter.id
            or ticket.status is not TicketStatus.WAITING
        ):
            raise DomainError(
                "not_undoable",
                f"{ticket.number} was not just transferred from here, or has moved on",
                {"number": ticket.number},
            )
        if cmd.at - undo["at"] > UNDO_TRANSFER_S:
            raise DomainError(
                "undo_expired",
                f"a transfer can be taken back within {UNDO_TRANSFER_S:.0f} s",
                {"number": ticket.number, "seconds": int(UNDO_TRANSFER_S)},
            )
        if counter.ticket is not None:
            number = self.tickets[counter.ticket].number
            raise DomainError(
                "counter_busy", f"counter {counter.id} has {number} now", {"number": number}
            )
        data = {"ticket": ticket.id, "number": ticket.number, "counter": counter.id,
                "from_service": ticket.service, "was": dict(undo["was"])}  # fmt: skip
        return [("transfer_undone", data)]

    def _decide_book(self, cmd: Command, args: dict) -> list[Draft]:
        drafts, self._new_code = bookings.decide_book(self, cmd, args)
        return drafts

    def _decide_cancel_booking(self, cmd: Command, args: dict) -> list[Draft]:
        return bookings.decide_cancel_booking(self, cmd, args)

    def _decide_check_in(
        self, cmd: Command, args: dict, estimate: EstimateNewcomer | None = None
    ) -> list[Draft]:
        """A booking's or a remote ticket's check-in: by its code (the kiosk, or a booking's
        phone page), or by the remote ticket's `token` (its phone page); from a phone
        page with the `hall` code, which proves the customer is in the branch."""
        if "hall" in args:
            remote.check_hall_code(self, args["hall"], cmd.at)
        if "ticket" in args:
            ticket = self._ticket_by_token(args)
            return remote.decide_check_in_remote(self, cmd, args, ticket, estimate)
        ticket = remote.remote_by_code(self, args.get("code"))
        if ticket is not None:
            return remote.decide_check_in_remote(self, cmd, args, ticket, estimate)
        return bookings.decide_check_in(self, cmd, args, estimate)

    def _decide_join_remote(self, cmd: Command, args: dict) -> list[Draft]:
        return remote.decide_join_remote(self, cmd, args)

    def _decide_cancel(self, cmd: Command, args: dict) -> list[Draft]:
        """Staff take a waiting ticket out of the line; or the customer does, from the phone
        page (with the ticket's `token`)."""
        by_customer = "token" in args
        ticket = self._ticket_by_token(args) if by_customer else self._ticket(args.get("ticket"))
        self._require_waiting(ticket)
        data = {"ticket": ticket.id}
        if by_customer:
            data["by"] = "customer"
        return [("ticket_cancelled", data)]

    def _decide_step_out(self, cmd: Command, args: dict) -> list[Draft]:
        """The customer says (phone page) they step out until `back_by`: recorded, and
        shown to staff; their place in line is kept, and a call while they are out is
        recalled and marked no-show as any other (docs/web.md, "Stepping out")."""
        ticket = self._ticket_by_token(args)
        self._require_waiting(ticket)
        try:
            back_by = float(args.get("back_by", "nan"))
        except ValueError:
            back_by = math.nan
        data: dict = {"ticket": ticket.id, "number": ticket.number}
        if math.isfinite(back_by):
            data["back_by"] = back_by
        return [("ticket_stepped_out", data)]

    def _require_waiting(self, ticket: Ticket) -> None:
        if ticket.status is not TicketStatus.WAITING:
            raise DomainError(
                "wrong_state",
                f"{ticket.number} is {ticket.status}, not waiting",
                {"number": ticket.number, "status": str(ticket.status)},
            )

    def _ticket_by_token(self, args: dict) -> Ticket:
        """The ticket `args` names, if `args["token"]` is its QR code's word. Unknown ticket
        and wrong word are refused alike, and the hashes are compared in constant time."""
        ticket = (
            self.tickets.get(args.get("ticket")) if isinstance(args.get("ticket"), str) else None
        )
        given = token_hash(str(args.get("token", "")))
        expected = (ticket.token_hash if ticket is not None else None) or _NO_HASH
        if not hmac.compare_digest(given, expected) or ticket is None:
            raise DomainError("unknown_ticket", "no such ticket today")
        return ticket

    def _decide_open_counter(self, cmd: Command, args: dict) -> list[Draft]:
        counter = self._counter(args)
        if counter.state is CounterState.OPEN:
            raise DomainError("already_open", f"counter {counter.id} is already open")
        return [("counter_opened", {"counter": counter.id})]

    def _decide_pause_counter(self, cmd: Command, args: dict) -> list[Draft]:
        counter = self._counter(args)
        if counter.state is not CounterState.OPEN:
            raise DomainError(
                f"counter_{counter.state}", f"counter {counter.id} is not open",
                {"counter": counter.id},
            )  # fmt: skip
        reason = args.get("reason") or "break"
        return [("counter_paused", {"counter": counter.id, "reason": reason})]

    def _decide_close_counter(self, cmd: Command, args: dict) -> list[Draft]:
        counter = self._counter(args)
        if counter.state is CounterState.CLOSED:
            raise DomainError("already_closed", f"counter {counter.id} is already closed")
        if counter.ticket is not None:
            number = self.tickets[counter.ticket].number
            raise DomainError(
                "counter_busy",
                f"counter {counter.id} still has {number}: finish it first",
                {"number": number},
            )
        return [("counter_closed", {"counter": counter.id})]

    # ----- the fold ---------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Fold one event into the state. Events are facts: never refused here."""
        if event.seq != self.seq + 1:
            raise ValueError(f"event {event.seq} does not follow {self.seq}")
        getattr(self, f"_apply_{event.type}")(event, event.data)
        self.seq = event.seq
        if event.command_id is not None:
            self._remember(event)

    def _remember(self, event: Event) -> None:
        data = event.data
        if event.type == "command_rejected":
            outcome = {"ok": False, "code": data["code"], "message": data["message"]}
            if data.get("params"):
                outcome["params"] = dict(data["params"])
        elif event.type == "sign_in_failed":
            outcome = failure_outcome(data)
        else:
            outcome = {"ok": True, "event": event.type, "seq": event.seq}
            for key in ("ticket", "counter", "booking", "booked_at", "late", "remote"):
                if data.get(key) is not None:
                    outcome[key] = data[key]
            if event.type == "numbers_leased":
                outcome["lease"] = dict(data)
        if event.digest is not None:
            outcome["digest"] = event.digest
        key = remember_key(event.device, event.command_id)
        self.outcomes[key] = outcome
        self.outcomes.move_to_end(key)
        while len(self.outcomes) > REMEMBERED_COMMANDS:
            self.outcomes.popitem(last=False)

    def _leave_line(self, ticket: Ticket) -> None:
        if self.lines.setdefault(ticket.service, {}).pop(ticket.id, False) is None:
            keys = self._keys[ticket.service]
            del keys[bisect.bisect_left(keys, self._key(ticket))]
            ticket.order_key = None
            self._reorder(ticket.service)

    def _join_line(self, ticket: Ticket) -> None:
        self.lines.setdefault(ticket.service, {})[ticket.id] = None
        ticket.order_key = base_key(ticket) if self._paced(ticket) else None
        bisect.insort(self._keys.setdefault(ticket.service, []), self._key(ticket))
        self._reorder(ticket.service)

    def _paced(self, ticket: Ticket) -> bool:
        """Whether the N:1 interleave places this ticket (a priority class, under it)."""
        return self.rules.priority_rule == INTERLEAVE and (
            boost(ticket.priority, self.rules.priorities) > 0
        )

    def _reorder(self, service: str) -> None:
        """Under the interleave: place the line's priority tickets again (their keys
        depend on the others waiting and on the count since the last priority call)."""
        if self.rules.priority_rule != INTERLEAVE:
            return
        keys = self._keys.get(service, [])
        regular, paced = [], []
        for key, tid in keys:
            ticket = self.tickets[tid]
            if self._paced(ticket):
                paced.append((base_key(ticket), boost(ticket.priority, self.rules.priorities), tid))
            else:
                regular.append(key)
        if not paced:
            return
        paced.sort()
        placed = interleave_keys(
            regular, paced, self.rules.interleave, self.since_priority.get(service, 0)
        )
        for tid, key in placed.items():
            ticket = self.tickets[tid]
            if ticket.order_key != key:
                del keys[bisect.bisect_left(keys, (ticket.order_key, tid))]
                ticket.order_key = key
                bisect.insort(keys, (key, tid))

    def _key(self, ticket: Ticket) -> tuple[float, str]:
        return (call_key(ticket, self.rules.priorities), ticket.id)

    def _leave_counter(self, ticket: Ticket, at: float) -> None:
        if ticket.counter is not None and ticket.counter in self.counters:
            counter = self.counters[ticket.counter]
            if counter.ticket == ticket.id:
                counter.ticket = None
                if counter.state is CounterState.OPEN:
                    counter.free_since = at

    def _apply_day_started(self, event: Event, data: dict) -> None:
        self.counters_changed = event.seq
        self.business_day = data["day"]
        self.issued = {s: 0 for s in self.rules.services}
        self.numbered = {s: 0 for s in self.rules.services}
        self.leased_top = {s: 0 for s in self.rules.services}
        self.leases = {}
        self.tickets = {}
        self.lines = {s: {} for s in self.rules.services}
        self._keys = {s: [] for s in self.rules.services}
        for counter in self.counters.values():
            counter.ticket = None
            counter.served = 0
            counter.staff = None  # a new day: everyone signs in again
            counter.service_s = 0.0
        self.recent_calls.clear()
        self.closed_services = {}
        self.remotes = {}

    def _apply_numbers_leased(self, event: Event, data: dict) -> None:
        service = self.rules.services.get(data["service"])
        for n in range(data["first"], data["last"] + 1):
            text = service.number_text(n) if service else f"{n}"
            self.leases[text] = (event.device or "", data["service"], event.at)
        count = data["last"] - data["first"] + 1
        self.leased_top[data["service"]] = self.leased_top.get(data["service"], 0) + count

    def _clock(self, at: float) -> tuple[str, float]:
        """(business day, seconds since it started) of `at`, for the learner."""
        return day_clock(self.rules.timezone, self.rules.day_starts_at, at)

    def _apply_ticket_issued(self, event: Event, data: dict) -> None:
        if data.get("remote"):  # a remote ticket checked in: it arrives now
            ticket = remote.apply_checked_in(self, event, data)
            self.learner.arrived(ticket.service, ticket.priority, event.at, self._clock(event.at))
            self.issued[ticket.service] = self.issued.get(ticket.service, 0) + 1
            self._join_line(ticket)
            return
        issued_at = data.get("issued_at", event.at)
        ticket = Ticket(
            id=data["ticket"],
            number=data["number"],
            service=data["service"],
            language=data["language"],
            priority=data["priority"],
            issued_at=issued_at,
            queue_since=issued_at,
            device=event.device or "",
            estimate=data.get("estimate"),
            # Logs from before hashes kept the word itself.
            token_hash=data.get("token_hash") or (data.get("token") and token_hash(data["token"])),
            booking=data.get("booking"),
            booked_at=data.get("booked_at"),
            head_start_s=data.get("head_start_s", 0.0),
        )
        self.tickets[ticket.id] = ticket
        if ticket.booking is not None:
            booking = self.bookings.get(ticket.booking)
            if booking is not None:  # how punctual booked customers are
                self.learner.checked_in(issued_at - booking.at)
            bookings.apply_checked_in(self, data)
        else:  # booked customers are known arrivals to the estimator, not a walk-in rate
            self.learner.arrived(ticket.service, ticket.priority, issued_at, self._clock(issued_at))
        self.issued[ticket.service] = self.issued.get(ticket.service, 0) + 1
        if data.get("offline"):
            self.leases.pop(ticket.number, None)
        else:
            self.numbered[ticket.service] = self.numbered.get(ticket.service, 0) + 1
        self._join_line(ticket)

    def _apply_ticket_called(self, event: Event, data: dict) -> None:
        ticket = self.tickets[data["ticket"]]
        if ticket.status is TicketStatus.WAITING:  # called from its line (not a recall)
            count = self.since_priority.get(ticket.service, 0) + 1
            self.since_priority[ticket.service] = 0 if self._paced(ticket) else count
        self._leave_line(ticket)
        ticket.status = TicketStatus.CALLED
        ticket.counter = data["counter"]
        ticket.called_at = event.at
        ticket.out_of_order = data.get("reason")
        ticket.undo = None  # moved on: a transfer before this can no longer be taken back
        counter = self.counters[data["counter"]]
        if counter.free_since is not None and counter.free_since <= ticket.queue_since:
            # The counter was free when this customer arrived: how long staff took to call,
            # the first of the counters free then that serve them.
            self.learner.reacted(event.at - ticket.queue_since, self._free_for(ticket))
        elif counter.free_since is not None:
            # The customer was waiting when the counter became free: staff's turnaround.
            self.learner.turned_around(event.at - counter.free_since)
        counter.ticket, counter.free_since = ticket.id, None
        ticket.staff = data.get("staff")
        self._note_call(ticket, event.at)

    def _free_for(self, ticket: Ticket) -> int:
        """How many open counters that serve `ticket` have been free since it joined its
        line (the one calling it among them)."""
        return sum(
            1
            for cid, counter in self.counters.items()
            if counter.state is CounterState.OPEN
            and counter.ticket is None
            and counter.free_since is not None
            and counter.free_since <= ticket.queue_since
            and ticket.service in self.rules.counters[cid].services
        )

    def _note_call(self, ticket: Ticket, at: float) -> None:
        # A recall is a call too: the lobby shows and announces it again.
        self.recent_calls.appendleft(
            {
                "ticket": ticket.id,
                "number": ticket.number,
                "service": ticket.service,
                "counter": ticket.counter,
                "language": ticket.language,
                "at": at,
                "recalls": ticket.recalls,
            }
        )

    def _apply_ticket_recalled(self, event: Event, data: dict) -> None:
        ticket = self.tickets[data["ticket"]]
        ticket.recalls, ticket.recalled_at = data["recalls"], event.at
        self._note_call(ticket, event.at)

    def _apply_ticket_rated(self, event: Event, data: dict) -> None:
        self.tickets[data["ticket"]].rating = data["rating"]

    def _apply_ticket_stepped_out(self, event: Event, data: dict) -> None:
        ticket = self.tickets[data["ticket"]]
        ticket.stepped_out_at, ticket.back_by = event.at, data.get("back_by")

    def _apply_notice_posted(self, event: Event, data: dict) -> None:
        if data["until"] <= event.at:  # minutes 0: take the device's notices down
            self.notices = [n for n in self.notices if n["device"] != event.device]
            return
        notice = {**data, "at": event.at, "device": event.device, "id": str(event.seq)}
        self.notices = [n for n in self.notices if n["until"] > event.at][-(NOTICES - 1) :]
        self.notices.append(notice)

    def _apply_notice_taken_down(self, event: Event, data: dict) -> None:
        self.notices = [n for n in self.notices if n.get("id") != data["notice"]]

    def _apply_ticket_started(self, event: Event, data: dict) -> None:
        ticket = self.tickets[data["ticket"]]
        ticket.status = TicketStatus.SERVING
        ticket.started_at = event.at
        ticket.staff = data.get("staff", ticket.staff)

    def _learn_occupancy(self, ticket: Ticket, at: float, gone: bool) -> None:
        if ticket.recalls:
            self.learner.after_recall(gone)
        occupancy = at - (ticket.called_at if ticket.called_at is not None else at)
        in_line = (ticket.called_at or at) - ticket.queue_since
        if gone:
            self.learner.gone(ticket.service, occupancy, in_line)
        else:
            self.learner.served(ticket.service, occupancy, in_line, ticket.counter)

    def _apply_ticket_finished(self, event: Event, data: dict) -> None:
        ticket = self.tickets[data["ticket"]]
        self._learn_occupancy(ticket, event.at, gone=False)
        if ticket.called_at is not None and not ticket.transfers and not ticket.out_of_order:
            # How the interval given at issue did, for a customer who stayed to be served.
            self.learner.judged(
                ticket.estimate, ticket.called_at - ticket.issued_at, self.business_day or ""
            )
        ticket.status = TicketStatus.DONE
        ticket.finished_at = event.at
        ticket.staff = data.get("staff", ticket.staff)
        self._leave_counter(ticket, event.at)
        counter = self.counters[data["counter"]]
        counter.served += 1
        began = ticket.started_at if ticket.started_at is not None else ticket.called_at
        counter.service_s += max(0.0, event.at - began) if began is not None else 0.0
        counter.last_finished, counter.last_finished_at = ticket.id, event.at

    def _apply_ticket_no_show(self, event: Event, data: dict) -> None:
        ticket = self.tickets[data["ticket"]]
        self._learn_occupancy(ticket, event.at, gone=True)
        ticket.status = TicketStatus.NO_SHOW
        ticket.finished_at = event.at
        self._leave_counter(ticket, event.at)

    def _apply_ticket_transferred(self, event: Event, data: dict) -> None:
        ticket = self.tickets[data["ticket"]]
        if ticket.called_at is not None:  # a counter spent this time on them
            self._learn_occupancy(ticket, event.at, gone=False)
        self._leave_line(ticket)
        self._leave_counter(ticket, event.at)
        ticket.service = data["to_service"]
        ticket.queue_since = data["queue_since"]
        ticket.status = TicketStatus.WAITING
        ticket.counter = None
        ticket.called_at = ticket.started_at = None
        ticket.recalls = 0
        ticket.transfers += 1
        ticket.booked_at, ticket.head_start_s = None, 0.0  # placed by the transfer rule now
        was = data.get("was")
        ticket.undo = None if was is None else {"device": event.device, "at": event.at, "was": was}
        self._join_line(ticket)

    def _apply_transfer_undone(self, event: Event, data: dict) -> None:
        ticket = self.tickets[data["ticket"]]
        self._leave_line(ticket)
        was = data["was"]
        for key in _BEFORE_TRANSFER:
            if key in was:  # logs from before appointments lack booked_at, head_start_s
                setattr(ticket, key, was[key])
        ticket.status = TicketStatus(was["status"])
        ticket.undo = None
        counter = self.counters[data["counter"]]
        counter.ticket, counter.free_since = ticket.id, None

    def _apply_ticket_cancelled(self, event: Event, data: dict) -> None:
        ticket = self.tickets[data["ticket"]]
        self._leave_line(ticket)
        ticket.status = TicketStatus.CANCELLED
        ticket.finished_at = event.at

    def _apply_remote_joined(self, event: Event, data: dict) -> None:
        remote.apply_remote_joined(self, event, data)

    def _apply_remote_dropped(self, event: Event, data: dict) -> None:
        remote.apply_remote_dropped(self, event, data)

    def _apply_booking_made(self, event: Event, data: dict) -> None:
        bookings.apply_booking_made(self, event, data)

    def _apply_booking_known(self, event: Event, data: dict) -> None:
        pass  # a `book` repeated with a known ref: nothing changes, the reply names it

    def _apply_booking_cancelled(self, event: Event, data: dict) -> None:
        bookings.apply_booking_status(self, data["booking"], bookings.CANCELLED)

    def _apply_booking_no_show(self, event: Event, data: dict) -> None:
        if data["booking"] in self.bookings:
            self.learner.booking_missed()
        bookings.apply_booking_status(self, data["booking"], bookings.NO_SHOW)

    def _apply_counter_opened(self, event: Event, data: dict) -> None:
        self.counters_changed = event.seq
        counter = self.counters[data["counter"]]
        if counter.state is CounterState.PAUSED and counter.since is not None:
            self.learner.paused_for(event.at - counter.since)
        counter.state, counter.reason, counter.since = CounterState.OPEN, None, None
        if counter.ticket is None:
            counter.free_since = event.at

    def _apply_counter_paused(self, event: Event, data: dict) -> None:
        self.counters_changed = event.seq
        counter = self.counters[data["counter"]]
        counter.state, counter.reason = CounterState.PAUSED, data["reason"]
        counter.since, counter.free_since = event.at, None

    def _apply_counter_closed(self, event: Event, data: dict) -> None:
        self.counters_changed = event.seq
        counter = self.counters[data["counter"]]
        counter.state, counter.reason = CounterState.CLOSED, None

    def _apply_service_closed(self, event: Event, data: dict) -> None:
        self.closed_services[data["service"]] = {
            "day": data["day"], "at": event.at, "reason": data.get("reason", ""),
            "reasons": dict(data.get("reasons") or {}),
        }  # fmt: skip

    def _apply_service_reopened(self, event: Event, data: dict) -> None:
        self.closed_services.pop(data["service"], None)

    def _apply_command_rejected(self, event: Event, data: dict) -> None:
        pass

    def _apply_staff_signed_in(self, event: Event, data: dict) -> None:
        self.counters[data["counter"]].staff = data["staff"]
        self.pin_tries.pop(data["staff"], None)

    def _apply_staff_signed_out(self, event: Event, data: dict) -> None:
        counter = self.counters[data["counter"]]
        if counter.staff == data["staff"]:
            counter.staff = None

    def _apply_sign_in_failed(self, event: Event, data: dict) -> None:
        self.pin_tries[data["staff"]] = (data["wrong"], data.get("locked_until"))

    def _apply_log_restored(self, event: Event, data: dict) -> None:
        self.epoch = data["epoch"]
        if data.get("day") != self.business_day:
            return  # what devices saw was another day's: today's numbers start afresh
        for sid, (online, leased) in data.get("numbers", {}).items():
            service = self.rules.services.get(sid)
            if service is None:
                continue
            self.numbered[sid] = max(self.numbered.get(sid, 0), online)
            known = self.leased_top.get(sid, 0)
            if leased > known:  # leased in the lost events: kept for whichever kiosk has them
                last = service.first_number + service.capacity - 1 - known
                for n in range(last - (leased - known) + 1, last + 1):
                    self.leases.setdefault(service.number_text(n), ("", sid, None))
                self.leased_top[sid] = leased

    # ----- views and snapshots --------------------------------------------------------

    def frozen_copy(self) -> Branch:
        """A copy of what estimates read, which later events do not change: for
        estimating on another thread while this one goes on applying commands."""
        other = Branch.__new__(Branch)
        other.rules, other.seq, other.business_day = self.rules, self.seq, self.business_day
        other.epoch = self.epoch
        other.issued = dict(self.issued)
        other.tickets = self._open_tickets_copied()
        other.lines = {s: dict(line) for s, line in self.lines.items()}
        other._keys = {s: list(keys) for s, keys in self._keys.items()}
        other.counters = {c: replace(counter) for c, counter in self.counters.items()}
        other.outcomes = OrderedDict()
        other.recent_calls = deque(maxlen=RECENT_CALLS)
        other.notices = []
        other.pin_tries = {}
        other.learner = self.learner.copy()
        other.counters_changed = self.counters_changed
        # Bookings not yet checked in: the estimator expects them (Booking is mutable).
        other.bookings = {
            b.id: replace(b) for b in self.bookings.values() if b.status == bookings.BOOKED
        }
        other._new_code = None
        other.booking_refs, other.code_key = {}, None
        other.remotes, other.hall_secret = {}, None  # nor remote tickets before check-in
        return other

    def _open_tickets_copied(self) -> dict[str, Ticket]:
        """A copy of each open ticket: each waiting one is in its line, each called or
        served one at its counter (tests/domain/test_properties.py), so they are found
        without going through every ticket of the day (7,000 by a busy afternoon). A ticket
        unchanged since the last frozen copy keeps that copy (nobody changes a copy): with
        a thousand waiting, most are, and comparing costs a third of copying and makes no
        new objects for the garbage collector to go through (~2-5 ms on the apply loop)."""
        tickets = self.tickets
        before = getattr(self, "_copied", {})
        open_ids = [t for line in self.lines.values() for t in line]
        open_ids += [c.ticket for c in self.counters.values() if c.ticket is not None]
        copied = {}
        for ticket_id in open_ids:
            ticket, copy = tickets[ticket_id], before.get(ticket_id)
            if copy is None or copy.__dict__ != ticket.__dict__:
                copy = ticket.copy()
            copied[ticket_id] = copy
        self._copied = copied
        return dict(copied)

    def ahead_of(self, ticket: Ticket) -> int:
        """How many in its line the policy would call before `ticket` (which need not be
        in the line: a newcomer's place is where it would join)."""
        key = self._key(ticket)
        if self._paced(ticket) and ticket.id not in self.lines.get(ticket.service, {}):
            key = (self._placed_newcomer(ticket), ticket.id)  # as the interleave would
        return bisect.bisect_left(self._keys.get(ticket.service, ()), key)

    def _placed_newcomer(self, ticket: Ticket) -> float:
        keys = self._keys.get(ticket.service, [])
        regular = [k for k, t in keys if not self._paced(self.tickets[t])]
        paced = sorted(
            [(base_key(self.tickets[t]), boost(self.tickets[t].priority, self.rules.priorities), t)
             for _, t in keys if self._paced(self.tickets[t])]
            + [(base_key(ticket), boost(ticket.priority, self.rules.priorities), ticket.id)]
        )  # fmt: skip
        since = self.since_priority.get(ticket.service, 0)
        return interleave_keys(regular, paced, self.rules.interleave, since)[ticket.id]

    def people_ahead(self, ticket: Ticket, at: float) -> bookings.Ahead:
        """Who is ahead of waiting `ticket` at `at`, the one rule every place that shows
        "people ahead" uses (the reply, so the kiosk and the ticket; the line message, so
        the phone page; the webhook): those in its line the policy calls before it, and the
        bookings due that the merged order puts before it if they check in inside their
        window (docs/appointments.md, "People ahead")."""
        keys = self._keys.get(ticket.service, ())
        key = self._key(ticket)
        waiting = bisect.bisect_left(keys, key)
        booked = sum(1 for _, t in keys[:waiting] if self.tickets[t].booked_at is not None)
        due = bisect.bisect_left(bookings.due_keys(self, ticket.service, at), key[0])
        return bookings.Ahead(waiting + due, booked + due, due)

    def heads_ahead(self, service: str, n: int, at: float) -> list[tuple[Ticket, bookings.Ahead]]:
        """The first `n` tickets the policy would call for `service`, each with who is
        ahead of it (`people_ahead`, for a line's head at once)."""
        due = bookings.due_keys(self, service, at)
        heads, booked = [], 0
        for waiting, (key, ticket_id) in enumerate(self._keys.get(service, ())[:n]):
            ticket = self.tickets[ticket_id]
            ahead = bisect.bisect_left(due, key)
            heads.append((ticket, bookings.Ahead(waiting + ahead, booked + ahead, ahead)))
            booked += ticket.booked_at is not None
        return heads

    def next_in_line(self, service: str, n: int) -> list[Ticket]:
        """The first `n` tickets the policy would call for `service`."""
        return [self.tickets[t] for _, t in self._keys.get(service, ())[:n]]

    def waiting_line(self, service: str) -> list[Ticket]:
        """The tickets waiting for `service`, in the order the policy would call them."""
        return [self.tickets[t] for _, t in self._keys.get(service, ())]

    def to_dict(self) -> dict:
        """Everything needed to resume folding from `seq` (a snapshot for fast restarts)."""
        return {
            "seq": self.seq,
            "epoch": self.epoch,
            "business_day": self.business_day,
            "issued": dict(self.issued),
            "numbered": dict(self.numbered),
            "leased_top": dict(self.leased_top),
            "leases": {n: list(v) for n, v in self.leases.items()},
            "tickets": [t.to_dict() for t in self.tickets.values()],
            "counters": [c.to_dict() for c in self.counters.values()],
            "outcomes": list(self.outcomes.items()),
            "recent_calls": list(self.recent_calls),
            "notices": list(self.notices),
            "pin_tries": {s: list(t) for s, t in self.pin_tries.items()},
            "learner": self.learner.to_dict(),
            "bookings": [b.to_dict() for b in self.bookings.values()],
            "closed_services": {s: dict(c) for s, c in self.closed_services.items()},
            "since_priority": dict(self.since_priority),
        }

    @classmethod
    def from_dict(cls, rules: BranchRules, d: dict) -> Branch:
        """The branch a snapshot (`to_dict`) describes."""
        branch = cls(rules)
        branch.seq = d["seq"]
        branch.epoch = d["epoch"]
        branch.business_day = d["business_day"]
        branch.issued = {**branch.issued, **d["issued"]}
        branch.numbered = {**branch.numbered, **d["numbered"]}
        branch.leased_top = {**branch.leased_top, **d["leased_top"]}
        branch.leases = {n: tuple(v) for n, v in d["leases"].items()}
        branch.since_priority = dict(d.get("since_priority", {}))  # before the lines fill
        for td in d["tickets"]:
            ticket = Ticket.from_dict(td)
            branch.tickets[ticket.id] = ticket
            if ticket.status is TicketStatus.WAITING:
                branch._join_line(ticket)
            elif ticket.status is TicketStatus.REMOTE:
                branch.remotes[ticket.id] = ticket
        for cd in d["counters"]:
            if cd["id"] in branch.counters:
                branch.counters[cd["id"]] = Counter.from_dict(cd)
        branch.outcomes = OrderedDict((k, v) for k, v in d["outcomes"])
        branch.recent_calls.extend(d["recent_calls"])
        branch.notices = list(d.get("notices", []))
        branch.pin_tries = {s: tuple(t) for s, t in d.get("pin_tries", {}).items()}
        branch.learner = Learner.from_dict(rules.services, d["learner"], _priors(rules))
        branch.counters_changed = branch.seq  # when is unknown: at the latest, by now
        branch.bookings = bookings.bookings_from_dict(d.get("bookings", []))
        branch.booking_refs = bookings.refs_of(branch.bookings)
        branch.closed_services = {s: dict(c) for s, c in d.get("closed_services", {}).items()}
        return branch


@dataclass(frozen=True)
class Seen:
    """Where devices saw the branch stand (the broker's retained state): its epoch, seq and
    business day, and per service the numbers given out online and leased that day."""

    epoch: int
    seq: int
    day: str | None
    numbers: dict[str, tuple[int, int]] = field(default_factory=dict)

    def ahead_of(self, branch: Branch) -> bool:
        """Whether devices have seen a later state than `branch` is at."""
        return (self.epoch, self.seq) > (branch.epoch, branch.seq)


_NO_HASH = "0" * 64  # compared against when no ticket has the hash: the same work either way


def token_hash(token: str) -> str:
    """The hash a ticket keeps of its QR code's word (sha256, hex)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _rejection(command: Command, code: str, message: str, params: dict | None = None) -> Draft:
    data = {"command": command.type, "code": code, "message": message}
    if params:  # what a device fills its own words with (`refusal.<code>` in its catalogue)
        data["params"] = params
    return ("command_rejected", data)


def _priors(rules: BranchRules) -> dict[str, float]:
    """What the config says a customer of each service typically takes, where it says so."""
    return {s.id: s.typical_s for s in rules.services.values() if s.typical_s is not None}


def _local(rules: BranchRules, at: float) -> str:
    """`at` in the branch's local time, as a refusal says it: "2026-11-24 09:00"."""
    return datetime.fromtimestamp(at, ZoneInfo(rules.timezone)).strftime("%Y-%m-%d %H:%M")
