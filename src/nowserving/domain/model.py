"""The things a branch is made of: its rules (from config) and its tickets."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Service:
    """A service customers queue for: its ticket prefix, names and number range."""

    id: str
    prefix: str
    names: dict[str, str]
    first_number: int = 1
    last_number: int = 999
    padding: int = 3
    daily_cap: int | None = None
    last_ticket_at: time | None = None  # local time after which no ticket is issued
    typical_s: float | None = None  # expected counter time per customer, until learned
    # Appointments (docs/appointments.md): bookable per local hour (None: not bookable);
    # check-in window around the booked time; the head start an appointment has there.
    bookings_per_hour: int | None = None
    check_in_early_s: float = 1800.0
    check_in_late_s: float = 600.0
    appointment_head_start_s: float = 300.0
    # Remote tickets (docs/appointments.md): joined from the phone page before arriving.
    remote: bool = False

    def number_text(self, number: int) -> str:
        """`number` as printed: the prefix and the zero-padded digits."""
        return f"{self.prefix}{number:0{self.padding}d}"

    @property
    def capacity(self) -> int:
        """How many tickets the service can issue in one business day."""
        span = self.last_number - self.first_number + 1
        return span if self.daily_cap is None else min(span, self.daily_cap)


@dataclass(frozen=True)
class Priority:
    """A priority class. `boost_s` is the head start in seconds it gets over normal tickets.

    A ticket's call score is its time in queue plus its boost, so a normal ticket that has
    waited `boost_s` longer than a priority one is called first: nobody starves.
    """

    id: str
    boost_s: float
    names: dict[str, str] = field(default_factory=dict)
    kiosk: bool = False  # offered at the kiosk, for customers to choose themselves


@dataclass(frozen=True)
class CounterSpec:
    """A service counter and the services it can serve, in order of preference."""

    id: str
    names: dict[str, str]
    services: tuple[str, ...]
    # Planned breaks, as (start, end) minutes after local midnight: the wait estimator
    # counts on the counter being away then (staff finish the customer they have first).
    breaks: tuple[tuple[int, int], ...] = ()
    # How it chooses among its services' lines (`policy`): "longest_wait" or "in_order";
    # with "in_order", a later service whose head has waited more than `overflow_s`
    # (counting its priority boost) competes by wait with the first non-empty one.
    profile: str = "longest_wait"
    overflow_s: float | None = None
    # Planned hours, as (open, close) minutes after local midnight: a closed counter that
    # opens later today, or an open one that closes, as the estimator counts on.
    hours: tuple[int, int] | None = None
    # Who its calls are recorded for while nobody is signed in (a counter with buttons
    # only); None: with a staff list, nobody may call here until someone signs in.
    default_staff: str | None = None


@dataclass(frozen=True)
class StaffMember:
    """Someone who may sign in at a counter: their staff number, names, and the counters
    they may sign in at (empty: any). Their PIN's hash is the server's alone (config/pins)."""

    id: str
    names: dict[str, str] = field(default_factory=dict)
    counters: tuple[str, ...] = ()


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class BranchRules:
    """Everything the queue needs to know from the branch config."""

    branch_id: str
    services: dict[str, Service]
    counters: dict[str, CounterSpec]
    priorities: dict[str, Priority]
    languages: tuple[str, ...] = ("zh", "en")
    timezone: str = "UTC"
    day_starts_at: time = time(4, 0)
    no_show_after_recalls: int = 2
    transfer_placement: str = "front"  # "front" or "back" of the target service's line
    counters_start_open: bool = True
    recall_cooldown_s: float = 20.0  # a called ticket may be recalled this long after its call
    feedback_window_s: float = 60.0  # a finished customer may rate the service this long
    wait_warning_s: float = 1200.0  # staff panels mark a customer who has waited this long
    # How priority classes go ahead (`policy`): "credit" (each class's boost as a time
    # credit) or "interleave" (one priority customer after every `interleave` others,
    # never more than the boost ahead).
    priority_rule: str = "credit"
    interleave: int = 3
    # Opening hours per weekday (WEEKDAYS), local: (opens, closes), or None for a day the
    # branch is closed. A day not listed has no hours: the branch is open all day.
    hours: dict[str, tuple[time, time] | None] = field(default_factory=dict)
    # The staff list: when it is empty, counters need nobody signed in (as before).
    staff: dict[str, StaffMember] = field(default_factory=dict)
    # Remote tickets (`[remote]`, docs/appointments.md): joins a branch takes in any hour,
    # how long a remote ticket may take to check in, how long a hall code lasts.
    remote_per_hour: int = 30
    remote_check_in_s: float = 7200.0
    hall_code_s: float = 300.0

    def business_day(self, at: float) -> str:
        """The business day (ISO date) a moment belongs to: the day rolls at `day_starts_at`."""
        local = datetime.fromtimestamp(at, ZoneInfo(self.timezone))
        start = timedelta(hours=self.day_starts_at.hour, minutes=self.day_starts_at.minute)
        return (local - start).date().isoformat()

    def open_at(self, at: float) -> bool:
        """Whether the branch is open at `at` by its opening hours."""
        local = datetime.fromtimestamp(at, ZoneInfo(self.timezone))
        day = WEEKDAYS[local.weekday()]
        if day not in self.hours:
            return True
        opening = self.hours[day]
        return opening is not None and opening[0] <= local.time() < opening[1]

    def hours_on(self, at: float) -> tuple[time, time] | None | bool:
        """The opening hours of the local day `at` falls on: (opens, closes), None when
        the branch is closed that day, True when it has no hours (open all day)."""
        local = datetime.fromtimestamp(at, ZoneInfo(self.timezone))
        return self.hours.get(WEEKDAYS[local.weekday()], True)

    def closes_at(self, at: float) -> float | None:
        """When the branch closes on the local day of `at` (Unix seconds); None without
        hours that day (closed, or open all day)."""
        zone = ZoneInfo(self.timezone)
        hours = self.hours_on(at)
        if not isinstance(hours, tuple):
            return None
        day = datetime.fromtimestamp(at, zone).date()
        return datetime.combine(day, hours[1], zone).timestamp()

    def next_opening(self, at: float) -> float | None:
        """When the branch opens next after `at` (Unix seconds), within a week; None when
        it is open at `at`, or never opens."""
        if self.open_at(at):
            return None
        zone = ZoneInfo(self.timezone)
        today = datetime.fromtimestamp(at, zone).date()
        for ahead in range(8):
            day = today + timedelta(days=ahead)
            hours = self.hours.get(WEEKDAYS[day.weekday()], True)
            if hours is True:
                return datetime.combine(day, time(0, 0), zone).timestamp()
            if hours is not None:
                opens = datetime.combine(day, hours[0], zone).timestamp()
                if opens > at:
                    return opens
        return None

    def day_began(self, at: float) -> float:
        """When the business day that `at` belongs to began (Unix seconds)."""
        zone = ZoneInfo(self.timezone)
        day = date.fromisoformat(self.business_day(at))
        return datetime.combine(day, self.day_starts_at, zone).timestamp()

    def past_cutoff(self, service: Service, at: float) -> bool:
        """True when, by the local clock, `service` has stopped issuing tickets today."""
        return self.until_cutoff(service, at) <= 0

    def until_cutoff(self, service: Service, at: float) -> float:
        """Seconds from `at` until `service` stops issuing tickets today, by the local clock
        (minutes counted from `day_starts_at`): inf without a cut-off, 0 once past it."""
        if service.last_ticket_at is None:
            return math.inf
        local = datetime.fromtimestamp(at, ZoneInfo(self.timezone))
        day_start = self.day_starts_at.hour * 60 + self.day_starts_at.minute
        now_min = (local.hour * 60 + local.minute - day_start) % 1440
        cut = service.last_ticket_at
        cut_min = (cut.hour * 60 + cut.minute - day_start) % 1440
        now_s = now_min * 60 + local.second + local.microsecond / 1e6
        return max(0.0, cut_min * 60 - now_s)


class TicketStatus(enum.StrEnum):
    """Where a ticket is in its life."""

    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # still open when the business day rolled over
    REMOTE = "remote"  # joined from a phone, not in the line until it checks in
    DROPPED = "dropped"  # remote, and not checked in by its time


ACTIVE = frozenset({TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING})


class CounterState(enum.StrEnum):
    """Whether a counter calls customers."""

    OPEN = "open"
    PAUSED = "paused"
    CLOSED = "closed"


@dataclass
class Ticket:
    """One customer's ticket for the current business day."""

    id: str  # "<business day>/<number>", unique across the log
    number: str  # what is printed and called, e.g. "A001"
    service: str
    language: str
    priority: str
    issued_at: float
    queue_since: float  # orders the line; moved by transfers
    device: str
    status: TicketStatus = TicketStatus.WAITING
    counter: str | None = None
    called_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    recalls: int = 0
    recalled_at: float | None = None
    rating: str | None = None  # satisfied, neutral or unsatisfied, from the keypad
    transfers: int = 0
    out_of_order: str | None = None  # reason when called ahead of its turn
    estimate: dict | None = None  # the wait estimate given when it was issued
    staff: str | None = None  # who called, served or finished it last (a staff number)
    # After a transfer from a counter: who did it, when, and where the ticket was (status,
    # counter, service, times): what `undo_transfer` puts back. None once it moved on.
    undo: dict | None = None
    # sha256 (hex) of the random word in the ticket's QR code: the phone page's key. The
    # word itself is never kept; it is checked against this in constant time.
    token_hash: str | None = None
    stepped_out_at: float | None = None  # the customer said on the phone page they stepped out
    back_by: float | None = None  # ... and the page told them to be back by then
    # An appointment's ticket (checked in inside its window): its booking and the booked
    # time it counts from (instead of its arrival) with a head start; a transfer clears it.
    booking: str | None = None
    booked_at: float | None = None
    head_start_s: float = 0.0
    # Under the N:1 interleave (`policy.interleave_keys`): a waiting priority ticket's call
    # key as the branch placed it in its line; None: the key is `policy.line_key`'s.
    order_key: float | None = None
    # A remote ticket (joined from the phone page): when it joined, the check-in deadline,
    # and the sha256 of its check-in code (`remote.remote_code`). Its line time is its
    # check-in's (`issued_at`, `queue_since`).
    joined_at: float | None = None
    remote_until: float | None = None
    code_hash: str | None = None

    def to_dict(self) -> dict:
        """The ticket, for a snapshot."""
        d = dict(self.__dict__)
        d["status"] = str(self.status)
        return d

    def copy(self) -> Ticket:
        """A shallow copy (its fields are immutable), several times faster than
        `dataclasses.replace` for the thousand copied per estimate."""
        other = object.__new__(Ticket)
        other.__dict__.update(self.__dict__)
        return other

    @classmethod
    def from_dict(cls, d: dict) -> Ticket:
        """The ticket a `to_dict` describes."""
        return cls(**{**d, "status": TicketStatus(d["status"])})


@dataclass
class Counter:
    """A counter's live state: open, paused or closed, and the ticket it is on."""

    id: str
    state: CounterState
    reason: str | None = None
    ticket: str | None = None
    served: int = 0
    since: float | None = None  # when it was last paused
    free_since: float | None = None  # when it last became free to call, while it stays so
    last_finished: str | None = None  # the ticket it finished last (its customer may rate)
    last_finished_at: float | None = None
    staff: str | None = None  # who is signed in (a staff number), or nobody
    service_s: float = 0.0  # the time its `served` customers spent at it today, in all

    def to_dict(self) -> dict:
        """The counter, for a snapshot."""
        return {**self.__dict__, "state": str(self.state)}

    @classmethod
    def from_dict(cls, d: dict) -> Counter:
        """The counter a `to_dict` describes."""
        return cls(**{**d, "state": CounterState(d["state"])})
