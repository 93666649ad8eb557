"""The kiosk's offline path, without Qt: numbers leased while the server answers, tickets
issued from them while it does not (spooled before they are printed), the spool sent again
once it answers, and this kiosk's clock measured against the server's.

`KioskController` (app.py) holds one `OfflinePath` and tells it what the bridge says (each
state, each reply, each change of the connection) and ticks `replay` every REPLAY_S. It
runs on its caller's thread (the kiosk's GUI thread) and never waits: it reaches the
server only through `send`, whose answers come back through `take_reply`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

from nowserving.client import UNREACHABLE
from nowserving.domain.model import BranchRules
from nowserving.kiosk.spool import Spool
from nowserving.protocol.views import BranchState, Reply, TicketView
from nowserving.protocol.vocabulary import Cmd

log = logging.getLogger(__name__)

ISSUE_DEADLINE_S = 3.0  # no answer from the server in this long: issue offline
LEASE_LOW, LEASE_COUNT = 5, 20  # fewer leased numbers left than this: lease this many more
REPLAY_S = 5.0  # how often spooled tickets are offered again while the server is away
CLOCK_CHECK_S = 60.0  # how often the kiosk compares its clock with the server's
CLOCK_OFF_S = 60.0  # its clock this far off the server's: said in its status


class Send(Protocol):
    """Send a command without waiting; its reply comes to `take_reply` under the id returned
    (`QtBranchBridge.send`)."""

    def __call__(
        self, kind: str, args: dict, *, command_id: str | None = ..., deadline_s: float = ...
    ) -> str:
        """Send a command; returns its id (the reply comes to `take_reply`)."""
        ...


class NoTicket(StrEnum):
    """Why no ticket could be issued offline."""

    NO_NUMBER = "no_number"  # no leased number of today is left (or the cut-off has passed)
    CLOCK_WRONG = "clock_wrong"  # this kiosk's clock is off: its leases are for another day


class OfflinePath:
    """Leases, the spool and its replay, and the clock check of one kiosk."""

    def __init__(
        self,
        rules: BranchRules,
        spool: Spool | None,
        send: Send,
        new_command_id: Callable[[], str],
        clock: Callable[[], float],
        publish_status: Callable[[], None],
    ) -> None:
        self.rules = rules
        self.spool = spool
        self._send = send
        self._new_command_id = new_command_id  # an offline ticket is spooled, not yet sent
        self._clock = clock
        self._publish_status = publish_status
        self.alerts: dict[str, str] = {}  # for the device status: what staff must know
        self.online = False  # the broker is reachable
        self.server_silent = False  # the last command found no server
        # This clock minus the server's (s), as last measured; offline tickets are stamped
        # by the server's time, not this device's, when it is known.
        self.clock_off: float | None = None
        self._state: BranchState | None = None
        self._leasing: dict[str, str] = {}  # command id -> service, leases asked for
        self._replaying: set[str] = set()  # spooled command ids sent and not yet answered
        self._clock_pings: dict[str, float] = {}  # ping command id -> this clock when sent
        self._clock_checked: float | None = None  # this clock at the last check

    @property
    def reachable(self) -> bool:
        """The server answers (as far as the last command knows)."""
        return self.online and not self.server_silent

    def close(self) -> None:
        """Let go of the spool (before it is closed)."""
        self.spool = None

    # ----- what the kiosk is told ---------------------------------------------------------

    def take_state(self, state: BranchState) -> None:
        """The branch's new summary: top up the leases and offer the spool again."""
        self._state = state
        self._top_up_leases()
        self.replay()

    def take_connection(self, online: bool) -> None:
        """The link to the broker came up or went down."""
        self.online = online
        if online:
            self._clock_checked = None  # measure again: it may have been set meanwhile
            self._clock_pings.clear()
            self._check_clock_if_due()

    def take_reply(self, reply: Reply) -> bool:
        """Handle the answer to a lease, a ping or a spooled ticket; False if it is not one."""
        if reply.id in self._clock_pings:
            self._take_clock(self._clock_pings.pop(reply.id), reply)
        elif reply.id in self._leasing:
            self._take_lease(self._leasing.pop(reply.id), reply)
        elif reply.id in self._replaying:
            self._take_replayed(reply)
        else:
            return False
        return True

    def heard(self, reply: Reply) -> None:
        """The kiosk's own command was answered, or found no server (`unreachable`)."""
        self.server_silent = reply.code == UNREACHABLE

    # ----- issuing without the server -----------------------------------------------------

    def issue(
        self,
        service: str,
        language: str,
        token: str,
        supersedes: str | None = None,
        priority: str | None = None,
    ) -> TicketView | NoTicket:
        """A ticket from this kiosk's leased numbers, spooled before it is printed; or why
        there is none. `supersedes`: the online request that went unanswered."""
        now = self.server_now()
        rules = self.rules
        day = rules.business_day(now)  # today by the clock: yesterday's leases are void
        command_id = self._new_command_id()
        args = {"service": service, "language": language, "issued_at": repr(now), "token": token}
        if priority:
            args["priority"] = priority
        if supersedes:
            args["supersedes"] = supersedes
        number = None
        if self.spool is not None and not rules.past_cutoff(rules.services[service], now):
            number = self.spool.issue(day, service, command_id, args)
        if number is None:
            leased = self.spool.leased_days() - {day} if self.spool is not None else set()
            if "clock" in self.alerts or leased:
                log.warning(
                    "no server, and no leased number for %s on %s by this kiosk's clock "
                    "(numbers are leased for %s): its clock is wrong, set its time (NTP)",
                    service, day, ", ".join(sorted(leased)) or "no day",
                )  # fmt: skip
                return NoTicket.CLOCK_WRONG
            log.warning("no server and no leased number left for %s", service)
            return NoTicket.NO_NUMBER
        log.info("issued %s offline (spooled as %s)", number, command_id)
        self._publish_status()  # its `spooled` count: the console says what waits
        view = self._state.service(service) if self._state else None
        return TicketView(
            f"{day}/{number}", number, service, language, now,
            ahead=view.waiting if view else 0,
            issued_estimate=view.estimate if view else None,
            priority=priority,
        )  # fmt: skip

    # ----- leases ---------------------------------------------------------------------------

    def _top_up_leases(self) -> None:
        """Keep a few numbers per service leased, for when the server cannot be reached."""
        state = self._state
        if self.spool is None or state is None or not state.business_day or not self.online:
            return
        self.spool.forget_days_before(state.business_day)
        asked = set(self._leasing.values())
        for view in state.services:
            if (
                view.accepting
                and view.id not in asked
                and self.spool.available(state.business_day, view.id) < LEASE_LOW
            ):
                command_id = self._send(
                    Cmd.LEASE_NUMBERS, {"service": view.id, "count": str(LEASE_COUNT)}
                )
                self._leasing[command_id] = view.id

    def _take_lease(self, service: str, reply: Reply) -> None:
        if not reply.ok:
            if reply.code != UNREACHABLE:
                log.warning("no lease for %s: %s", service, reply.message)
            return
        if self.spool is None:
            return
        lease = reply.result["lease"]
        spec = self.rules.services[service]
        numbers = [(n, spec.number_text(n)) for n in range(lease["first"], lease["last"] + 1)]
        self.spool.add_lease(lease["day"], service, numbers)

    # ----- the spool ------------------------------------------------------------------------

    def replay(self) -> None:
        """Send spooled tickets (each under its own id: the server applies each once)."""
        self._check_clock_if_due()
        if self.spool is None or not self.online:
            return
        for command_id, kind, args in self.spool.pending():
            if command_id not in self._replaying:
                self._replaying.add(command_id)
                self._send(kind, args, command_id=command_id)

    def _take_replayed(self, reply: Reply) -> None:
        self._replaying.discard(reply.id)
        if reply.code == UNREACHABLE:
            return  # offered again on the next state or tick
        self.server_silent = False
        if not reply.ok:
            # A customer holds this ticket and the server will not have it: staff must know.
            log.error("spooled ticket %s refused: %s (%s)", reply.id, reply.code, reply.message)
            self.alerts["spool"] = f"offline ticket refused by the server: {reply.code}"
        if self.spool is not None:
            self.spool.settle(reply.id, "ok" if reply.ok else reply.code)
        self._publish_status()  # one fewer spooled (and the alert, if it was refused)

    # ----- this kiosk's clock ---------------------------------------------------------------

    def server_now(self) -> float:
        """The time by the server's clock, as far as this kiosk knows it."""
        return self._clock() - (self.clock_off or 0.0)

    def _check_clock_if_due(self) -> None:
        """Ask the server its time (a `ping`), at most every CLOCK_CHECK_S."""
        now = self._clock()
        due = self._clock_checked is None or abs(now - self._clock_checked) >= CLOCK_CHECK_S
        if not self.online or not due or self._clock_pings:
            return
        self._clock_checked = now
        self._clock_pings[self._send(Cmd.PING, {}, deadline_s=ISSUE_DEADLINE_S)] = now

    def _take_clock(self, sent: float, reply: Reply) -> None:
        at = reply.result.get("at") if reply.ok else None
        if not isinstance(at, int | float):
            self._clock_checked = None  # no answer: ask again next time
            return
        answered = self._clock()
        if not 0 <= answered - sent <= CLOCK_OFF_S:
            # The clock was set (or jumped) while the ping was on its way: half the jump
            # would pass for the server's time. Not a measurement; ask again next time.
            log.info("clock changed during a ping (%.0f s): measured again", answered - sent)
            self._clock_checked = None
            return
        self.clock_off = (sent + answered) / 2 - at
        slack = abs(answered - sent) / 2
        alert = None
        if abs(self.clock_off) - slack > CLOCK_OFF_S:
            way = "ahead of" if self.clock_off > 0 else "behind"
            alert = (
                f"this kiosk's clock is {abs(self.clock_off):.0f} s {way} the server's: "
                "set its time (NTP); offline tickets are stamped with the server's time"
            )
        if alert != self.alerts.get("clock"):
            if alert:
                log.warning("%s", alert)
                self.alerts["clock"] = alert
            else:
                self.alerts.pop("clock", None)
            self._publish_status()
