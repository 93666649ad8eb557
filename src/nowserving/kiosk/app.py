"""The kiosk's controller: what the QML shows, and what a tap does.

Everything here runs on the GUI thread. The network is reached only through the
`QtBranchBridge` (sends return at once; answers come back as signals) and the printer only
through `PrintQueue` (a worker thread; its verdict comes back as a queued signal), so a tap
never waits on either. What it does without the server (leases, the spool, the clock
check) is the Qt-free `OfflinePath` (offline.py); the controller tells it what the bridge
says and shows what it answers.
"""

from __future__ import annotations

import enum
import logging
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from PySide6.QtCore import Property, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QImage
from PySide6.QtQuick import QQuickImageProvider

from nowserving.adapters.printer.content import ticket_content
from nowserving.adapters.printer.layout import QrCode, TicketContent, lay_out, qr_image
from nowserving.adapters.voice import time_clips
from nowserving.client import UNREACHABLE
from nowserving.client.qt import BranchClock, QtBranchBridge, RowsModel
from nowserving.config import BranchConfig
from nowserving.config.hardware import GUIDE_BUTTONS, PRIORITY_BUTTON
from nowserving.domain.bookings import CODE_LENGTH
from nowserving.domain.model import WEEKDAYS
from nowserving.errors import ProtocolError
from nowserving.i18n import ahead_words, catalog, text, two_lines, wait_range
from nowserving.kiosk import guide
from nowserving.kiosk.checkin import CODE_KEYS, CheckIns, code_from_scan, plausible
from nowserving.kiosk.guide import (
    APPOINTMENT,
    BACK,
    CHECK_IN,
    TAKE,
    WALK_IN,
    Guide,
    Screen,
    Speaker,
)
from nowserving.kiosk.offline import ISSUE_DEADLINE_S, REPLAY_S, NoTicket, OfflinePath
from nowserving.kiosk.printing import PrintQueue
from nowserving.kiosk.spool import Spool
from nowserving.protocol.views import (
    BranchState,
    EstimateView,
    Reply,
    ServiceView,
    TicketView,
    decode_ticket,
)
from nowserving.protocol.vocabulary import Cmd

log = logging.getLogger(__name__)


class Phase(enum.StrEnum):
    """Where a customer is at the kiosk (the QML compares `kiosk.phase` to these names)."""

    CHOOSE = "choose"  # the start screen
    PRIORITY = "priority"  # a service chosen: priority service, or a regular ticket?
    CONFIRM_LATE = "confirm_late"  # the wait runs past closing: take a ticket anyway?
    PHONE = "phone"  # a phone number for the branch's webhook (SMS), or skip
    PRINTING = "printing"
    DONE = "done"  # take your ticket
    FAILED = "failed"  # not printed: the number and QR on screen
    UNAVAILABLE = "unavailable"  # no ticket could be issued
    CODE = "code"  # "I have an appointment": the booking code on a keypad (or a scan)
    CHECKING = "checking"  # the code sent: the server's answer awaited
    EARLY = "early"  # too early for the appointment: come back, or a walk-in ticket now
    NOT_CHECKED_IN = "not_checked_in"  # the code was not taken: why, and what to do


# The check-in's screens where the customer has a choice (back among them).
CHECK_IN_PHASES = (Phase.CODE, Phase.EARLY, Phase.NOT_CHECKED_IN)
DONE_S = 6  # the number stays on screen this long after printing
STUCK_S = 20  # a ticket neither printed nor refused by then: back to the start screen
FAILED_S = 45  # ... and this long when it could not be printed
IDLE_S = 30  # a question nobody answers: back to the start
ARMED_S = 10  # the priority button holds for the next service button this long
GUIDE_IDLE_S = 60  # a guided customer who presses nothing for this long has gone
LANGUAGE_LABELS = {"zh": "中文", "en": "English"}
# Each text in one line and in two (the screen takes whichever it can show larger).
SERVICE_ROLES = ("serviceId", "name", "name2", "shortName", "short2", "detail", "detail2",
                 "note", "note2", "accepting", "group")  # fmt: skip


class KioskController(QObject):
    """The state of one kiosk's screen."""

    changed = Signal()
    _printed = Signal(str, str)  # (ticket number, error or ""), from the print thread
    _button = Signal(str)  # a ticket button's name (= a service id), from gpiozero's thread

    def __init__(
        self,
        config: BranchConfig,
        bridge: QtBranchBridge,
        printer: PrintQueue | None,
        ticket_url: str | None = None,
        clock: Callable[[], float] | None = None,
        spool: Spool | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.config = config
        self.bridge = bridge
        self.printer = printer
        self._token = ""  # the QR key of the ticket being issued
        self.ticket_url = ticket_url  # None: no page to follow a ticket on, no QR code
        self._clock = clock or (lambda: datetime.now().timestamp())
        self.offline = OfflinePath(
            config.rules, spool, bridge.send, bridge.client.new_command_id, self._clock,
            bridge.client.publish_status,
        )  # fmt: skip
        self.alerts = self.offline.alerts  # for the device status: what staff must know
        self._zone = ZoneInfo(config.rules.timezone)
        # The branch's time as the server keeps it (this device's clock may be off).
        self.branch_clock = BranchClock(config.rules.timezone, self.offline.server_now, self)
        self.branch_clock.changed.connect(self.changed)  # each minute: open or closed now?
        self._language = config.rules.languages[0]
        self._phase = Phase.CHOOSE
        self._state: BranchState | None = None
        self._pending: str | None = None  # command id of the ticket being issued
        self._late_service: str | None = None
        self._chosen: str | None = None  # the service while its priority is asked
        self._priority: str | None = None  # the class chosen for the ticket being issued
        self._armed: str | None = None  # a priority class armed by its GPIO button
        self._group: str | None = None  # the service group open on the start screen
        self._large = False  # large print: every text and button half as large again
        self._guide: Guide | None = None  # the audio guide, while it is on
        self._speaker: Speaker | None = None  # None: no `[audio]`, no guide
        self._guide_buttons = False  # whether `next` and `select` are wired
        self._closed_shown = ""  # what the start screen last said of opening hours
        self._number = self._detail = self._late = self._next = ""
        self._on_screen = True  # chosen on the screen (not with a button): it may ask
        self._phone_for: tuple[str, str | None] | None = None  # (service, priority) asked
        self._digits = ""  # the phone number being typed (never logged)
        self._code = ""  # the booking code being typed
        self._checking: str | None = None  # command id of the check-in under way
        self._checking_code = ""
        self._check_ins = CheckIns()  # a check-in retried is the same command
        self._walk_in: str | None = None  # too early: the booked service, for a walk-in
        self._message = ""  # too early, or not checked in: what the screen says
        self._appointment = ""  # "Appointment 10:30" on the ticket being issued
        # What the audio guide says of a check-in: the appointment's "HH:MM" (its ticket), a
        # walk-in ticket for being late, too early's (booked, come back from) and why not.
        self._booked_hm, self._late_ticket = "", False
        self._early: tuple[str, str] = ("", "")
        self._refused = ""
        self.last_url = ""
        self.last_ticket: TicketContent | None = None  # what was sent to the printer last
        self.scan_reader: QObject | None = None  # the window's scanner reader (build_view)
        self._model = RowsModel(SERVICE_ROLES, self)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._customer_gone)
        bridge.stateChanged.connect(self._take_state)
        bridge.replyReceived.connect(self._take_reply)
        bridge.connectionChanged.connect(self._take_connection)
        self._printed.connect(self._take_printed, Qt.ConnectionType.QueuedConnection)
        self._button.connect(self._physical, Qt.ConnectionType.QueuedConnection)
        self._armed_timer = QTimer(self)
        self._armed_timer.setSingleShot(True)
        self._armed_timer.timeout.connect(self._disarm)
        self._panel = None
        self._choosing: str | None = None  # the service being issued, for its lamp
        self._refresh_services()
        self._replay_timer = QTimer(self)
        self._replay_timer.timeout.connect(self.offline.replay)
        self._replay_timer.start(int(REPLAY_S * 1000))

    def close(self) -> None:
        """Stop timers and let go of the spool and the bridge (before they are closed)."""
        self._replay_timer.stop()
        self._timer.stop()
        self._armed_timer.stop()
        self.branch_clock.stop()
        self.offline.close()
        for signal, slot in (
            (self.bridge.stateChanged, self._take_state),
            (self.bridge.replyReceived, self._take_reply),
            (self.bridge.connectionChanged, self._take_connection),
        ):
            signal.disconnect(slot)

    # ----- properties for QML -------------------------------------------------------------

    def _get_strings(self) -> dict:
        return catalog(self._language)["kiosk"]

    def _get_languages(self) -> list:
        return [
            {"code": c, "label": LANGUAGE_LABELS.get(c, c)} for c in self.config.rules.languages
        ]

    branchName = Property(
        str, lambda self: self.config.names.get(self._language, ""), notify=changed
    )
    language = Property(str, lambda self: self._language, notify=changed)
    languages = Property("QVariantList", _get_languages, notify=changed)
    strings = Property("QVariantMap", _get_strings, notify=changed)
    services = Property(QObject, lambda self: self._model, constant=True)
    phase = Property(str, lambda self: self._phase, notify=changed)
    clock = Property(QObject, lambda self: self.branch_clock, constant=True)  # branch time
    largePrint = Property(bool, lambda self: self._large, notify=changed)
    hasPage = Property(bool, lambda self: bool(self.ticket_url), constant=True)  # a QR code

    def _get_closed_text(self) -> str:
        self._closed_shown = self._closed_text()  # what the screen shows, to tell it of a change
        return self._closed_shown

    closedText = Property(str, _get_closed_text, notify=changed)
    groupName = Property(  # the open group's name ("" on the start screen)
        str,
        lambda self: (
            self.config.groups[self._group].names.get(self._language, "") if self._group else ""
        ),
        notify=changed,
    )
    online = Property(bool, lambda self: self.offline.reachable, notify=changed)
    ticketNumber = Property(str, lambda self: self._number, notify=changed)
    ticketDetail = Property(str, lambda self: self._detail, notify=changed)
    nextStep = Property(str, lambda self: self._next, notify=changed)  # after taking it
    lateText = Property(str, lambda self: self._late, notify=changed)
    priorityChoices = Property(
        "QVariantList", lambda self: self._get_priority_choices(), notify=changed
    )
    guideOn = Property(bool, lambda self: self._guide is not None, notify=changed)
    phoneDigits = Property(str, lambda self: self._digits, notify=changed)
    phoneComplete = Property(bool, lambda self: _phone_ok(self._digits), notify=changed)
    # Appointments: the check-in entry on the start screen (when a service takes bookings),
    # the code typed so far, its keypad, and what the screen says of the check-in.
    bookable = Property(
        bool,
        lambda self: any(s.bookings_per_hour for s in self.config.rules.services.values()),
        constant=True,
    )
    codeText = Property(str, lambda self: self._code, notify=changed)
    codeComplete = Property(bool, lambda self: plausible(self._code), notify=changed)
    codeKeys = Property("QVariantList", lambda self: list(CODE_KEYS), constant=True)
    checkInText = Property(str, lambda self: self._message, notify=changed)

    # ----- physical ticket buttons ---------------------------------------------------------

    def attach_panel(self, panel) -> None:
        """Ticket buttons and their lamps (an `adapters.gpio.Panel` whose names are service
        ids); presses come from gpiozero's thread as `pressed(name)`."""
        self._panel = panel
        self._guide_buttons = {"next", "select"} <= set(panel.buttons)
        self._refresh_lamps()

    def attach_speaker(self, speaker: Speaker) -> None:
        """The audio guide's voice (from the device file's `[audio]`); without one, holding
        a language button or pressing a guide button does nothing."""
        self._speaker = speaker

    def pressed(self, name: str) -> None:
        """A physical ticket button was pressed (on gpiozero's thread)."""
        self._button.emit(name)  # gpiozero thread -> GUI thread (queued)

    @Slot(str)
    def _physical(self, name: str) -> None:
        """A ticket button, on the GUI thread: a service's, a guide button, or the
        priority button, which makes the next ticket (within ARMED_S) a priority one."""
        if name in GUIDE_BUTTONS:
            self._guide_button(name)
            return
        if name != PRIORITY_BUTTON:
            self._choose(name, ask=False)  # a button asks nothing: the screen may be absent
            return
        offered = self._kiosk_priorities()
        if offered:
            self._armed = offered[0]
            self._armed_timer.start(ARMED_S * 1000)
            if self._panel is not None:
                self._panel.lamp(PRIORITY_BUTTON, on=True, blink=True)

    def _disarm(self) -> None:
        self._armed = None
        self._armed_timer.stop()
        if self._panel is not None:
            self._panel.lamp(PRIORITY_BUTTON, on=False)

    def _refresh_lamps(self) -> None:
        """Lit: the service takes tickets; blinking: its ticket is being issued; dark: not."""
        if self._panel is None:
            return
        for sid in self.config.rules.services:
            view = self._state.service(sid) if self._state else None
            busy = self._phase == Phase.PRINTING and self._choosing == sid
            self._panel.lamp(sid, on=view is None or view.accepting, blink=busy)

    # ----- what the customer does ---------------------------------------------------------

    @Slot(str)
    def setLanguage(self, language: str) -> None:
        """Show the kiosk in `language` (for this customer)."""
        if language in self.config.rules.languages and language != self._language:
            self._language = language
            self._refresh_services()
            self.changed.emit()
            self._guide_screen()

    @Slot(str)
    def choose(self, service: str) -> None:
        """The customer tapped `service`: ask about priority (if the branch offers it at the
        kiosk) and a late wait, then issue. With the audio guide on, a first touch says it."""
        if not self._heard(f"service:{service}"):
            self._choose(service, ask=True)

    def _choose(self, service: str, ask: bool) -> None:
        self._on_screen = ask
        if self._phase == Phase.CHOOSE and service in self.config.groups:
            self._open_group(service)
            return
        if self._phase != Phase.CHOOSE or service not in self.config.rules.services:
            return  # a second tap while the first is handled is not a second ticket
        if self._closed_text():
            return  # the start screen says closed; a tap in the moment it turns is not a ticket
        if self._armed is not None:  # the priority button came first
            priority = self._armed
            self._disarm()
            self._go_on(service, priority)
        elif ask and self._kiosk_priorities():
            self._chosen = service
            self._set_phase(Phase.PRIORITY)
            self._timer.start(IDLE_S * 1000)  # nobody answers: back to the start
        else:
            self._go_on(service, None)

    @Slot(str)
    def choosePriority(self, priority: str) -> None:
        """The customer says which priority class they are in ("": none, a regular one)."""
        if not self._heard(f"priority:{priority}"):
            self._choose_priority(priority)

    def _choose_priority(self, priority: str) -> None:
        if self._phase != Phase.PRIORITY or self._chosen is None:
            return
        if priority and priority not in self._kiosk_priorities():
            return
        service, self._chosen = self._chosen, None
        self._timer.stop()
        self._phase = Phase.CHOOSE
        self._go_on(service, priority or None)

    def _go_on(self, service: str, priority: str | None) -> None:
        """Issue, or first ask about a wait that runs past closing."""
        late = self._late_wait(service)
        if late is not None:
            self._late_service, self._late, self._priority = service, late, priority
            self._set_phase(Phase.CONFIRM_LATE)
            return
        self._issue(service, priority)

    def _kiosk_priorities(self) -> list[str]:
        """The priority classes customers may choose at the kiosk (not the default one)."""
        classes = list(self.config.rules.priorities.values())
        return [p.id for p in classes[1:] if p.kiosk]

    def _get_priority_choices(self) -> list:
        lang = self._language
        return [
            {"id": pid, "label": self.config.rules.priorities[pid].names.get(lang, pid)}
            for pid in self._kiosk_priorities()
        ]

    @Slot()
    def confirmLate(self) -> None:
        """The customer takes a ticket although the wait runs past closing."""
        if not self._heard(TAKE):
            self._confirm_late()

    def _confirm_late(self) -> None:
        if self._phase == Phase.CONFIRM_LATE and self._late_service is not None:
            service, self._late_service = self._late_service, None
            self._phase = Phase.CHOOSE
            self._issue(service, self._priority)

    def _open_group(self, group: str) -> None:
        """Show a group's services in place of the start screen's buttons."""
        self._group = group
        self._refresh_services()
        self._timer.start(IDLE_S * 1000)  # nobody chooses: back to the start
        self.changed.emit()
        self._guide_screen()

    @Slot()
    def back(self) -> None:
        """Back: from a group's services to the start screen's, from a question to the
        start screen."""
        if not self._heard(BACK):
            self._back()

    def _back(self) -> None:
        if self._phase in (Phase.PRIORITY, Phase.CONFIRM_LATE, *CHECK_IN_PHASES):
            self.reset()
        elif self._group is not None and self._phase == Phase.CHOOSE:
            self._timer.stop()
            self._group = None
            self._refresh_services()
            self.changed.emit()
            self._guide_screen()
        else:
            self._guide_screen()  # nowhere to go back to: where am I?

    @Slot(bool)
    def setLargePrint(self, on: bool) -> None:
        """Large print on or off (for this customer)."""
        if on != self._large:
            self._large = on
            self.changed.emit()

    @Slot()
    def _customer_gone(self) -> None:
        """Nobody acted for a while, or the ticket was taken: the start screen as the next
        customer should find it (the branch's first language, ordinary print, no guide)."""
        self._guide = None
        self.reset()
        self._large = False
        self.setLanguage(self.config.rules.languages[0])
        self.changed.emit()

    @Slot(str)
    def pressKey(self, key: str) -> None:
        """A key of the phone number's keypad: a digit, or "del" (the last one goes)."""
        if self._phase != Phase.PHONE:
            return
        if key == "del":
            self._digits = self._digits[:-1]
        elif key.isdigit() and len(key) == 1 and len(self._digits) < PHONE_DIGITS[1]:
            self._digits += key
        self._timer.start(IDLE_S * 1000)
        self.changed.emit()

    @Slot()
    def givePhone(self) -> None:
        """The customer confirms the number typed: the ticket is issued with it."""
        if self._phase == Phase.PHONE and _phone_ok(self._digits):
            self._after_phone(self._digits)

    @Slot()
    def skipPhone(self) -> None:
        """No phone number: the ticket is issued without one."""
        if self._phase == Phase.PHONE:
            self._after_phone(None)

    def _after_phone(self, phone: str | None) -> None:
        (service, priority), self._phone_for, self._digits = self._phone_for, None, ""
        self._timer.stop()
        self._phase = Phase.CHOOSE
        self._issue_now(service, priority, phone)

    @Slot()
    def reset(self) -> None:
        """Back to the start screen."""
        self._timer.stop()
        self._phone_for, self._digits = None, ""
        self._code = self._message = self._appointment = self._checking_code = ""
        self._checking = self._walk_in = None
        self._booked_hm, self._late_ticket, self._early, self._refused = "", False, ("", ""), ""
        if self._group is not None:
            self._group = None
            self._refresh_services()
        self._pending = self._late_service = self._chosen = self._priority = None
        self._number = self._detail = self._late = self._next = ""
        self._set_phase(Phase.CHOOSE)

    # ----- appointments: check-in by code (typed or scanned) ---------------------------------

    @Slot()
    def startCheckIn(self) -> None:
        """ "I have an appointment": the code's keypad (a scan is taken on any screen)."""
        if not self._heard(APPOINTMENT):
            self._start_check_in()

    def _start_check_in(self) -> None:
        if self._phase == Phase.CHOOSE and not self._closed_text():
            self._code = ""
            self._set_phase(Phase.CODE)
            self._timer.start(IDLE_S * 1000)  # nobody types: back to the start

    @Slot(str)
    def touchCodeKey(self, key: str) -> None:
        """A touch on a key of the code's keypad (with the audio guide on, a first touch
        says it)."""
        if not self._heard(f"key:{key}"):
            self.pressCodeKey(key)

    @Slot(str)
    def pressCodeKey(self, key: str) -> None:
        """A key for the code (the screen's keypad, or a person's keyboard): one of the
        code's characters, "del" (the last one goes) or "enter" (check in). With the
        audio guide on, the code so far is said."""
        if self._phase != Phase.CODE:
            return
        if key == "enter":
            self._check_in_typed()
            return
        if key == "del":
            self._code = self._code[:-1]
        elif len(key) == 1 and key.upper() in CODE_KEYS and len(self._code) < CODE_LENGTH:
            self._code += key.upper()
        self._timer.start((GUIDE_IDLE_S if self._guide else IDLE_S) * 1000)
        self.changed.emit()
        if self._guide is not None:
            self._say(guide.typed(self._code))

    @Slot()
    def checkIn(self) -> None:
        """Check in with the code typed (with the audio guide on, a first touch says it)."""
        if not self._heard(CHECK_IN):
            self._check_in_typed()

    def _check_in_typed(self) -> None:
        if self._phase != Phase.CODE:
            return
        if plausible(self._code):
            self._check_in(self._code)
        elif self._guide is not None:  # a guided customer is told why nothing happens
            self._say(["guide_code_short", guide.PAUSE, *guide.typed(self._code)])

    @Slot(str)
    def scanned(self, scanned: str) -> None:
        """A scanner read a booking code (`ScanReader`): check it in, whatever the screen
        (a new customer stands there), unless a ticket or a check-in is on its way."""
        if self._phase not in (Phase.PRINTING, Phase.CHECKING):
            self.reset()
            self._check_in(code_from_scan(scanned))

    def _check_in(self, code: str) -> None:
        if not plausible(code):
            self._not_checked_in("unknown_booking")
            return
        if not self.offline.online:  # the server holds the bookings: nothing to do without it
            self._not_checked_in(UNREACHABLE)
            return
        args = {"code": code, "language": self._language, "token": secrets.token_urlsafe(16)}
        command_id, args = self._check_ins.command(code, self.bridge.client.new_command_id(), args)
        self._token, self._checking_code = args["token"], code
        self._set_phase(Phase.CHECKING)
        self._timer.start(STUCK_S * 1000)  # never stuck, whatever happens
        self._checking = self.bridge.send(
            Cmd.CHECK_IN, args, command_id=command_id, deadline_s=ISSUE_DEADLINE_S
        )

    def _checked_in(self, reply: Reply) -> None:
        """The server's answer to a check-in: the ticket, too early, or why not."""
        if reply.code != UNREACHABLE:  # answered for good: the same code again is new
            self._check_ins.forget(self._checking_code)
        if reply.ok and reply.ticket is not None:
            try:
                ticket = decode_ticket(reply.ticket)
            except ProtocolError as err:
                log.error("the server's ticket breaks the contract: %s", err)
                self._unavailable()
                return
            if reply.result.get("remote"):  # a remote ticket: its page is on the phone already
                self._token = ""
            booked = reply.result.get("booked_at")
            if isinstance(booked, int | float):
                self._booked_hm = self._hm(booked)
                self._appointment = text(ticket.language, "ticket.appointment",
                                         time=self._booked_hm)  # fmt: skip
            self._late_ticket = bool(reply.result.get("late"))
            self._print(ticket)
            if reply.result.get("late"):  # a walk-in ticket: the customer is told so
                self._next = text(ticket.language, "kiosk.checkin_late") + " " + self._next
                self.changed.emit()
            return
        if reply.code == "too_early":
            params = reply.params
            service = params.get("service")
            self._walk_in = service if service in self.config.rules.services else None
            self._early = (str(params.get("booked", "")), str(params.get("time", "")))
            self._message = text(
                self._language, "kiosk.checkin_early",
                booked=params.get("booked", "?"), time=params.get("time", "?"),
            )  # fmt: skip
            self._set_phase(Phase.EARLY)
            self._timer.start(IDLE_S * 1000)
            return
        self._not_checked_in(reply.code or "")

    def _not_checked_in(self, code: str) -> None:
        key = {
            "unknown_booking": "checkin_unknown",
            UNREACHABLE: "checkin_offline",
            "branch_closed": "checkin_closed",
            "service_closed": "checkin_closed",
            "service_full": "checkin_full",
        }.get(code, "checkin_failed")
        if key == "checkin_failed":
            log.warning("check-in refused: %s", code)
        self._message = text(self._language, f"kiosk.{key}")
        self._refused = f"guide_{key}"
        self._set_phase(Phase.NOT_CHECKED_IN)
        self._timer.start(FAILED_S * 1000)

    @Slot()
    def walkIn(self) -> None:
        """Too early for the appointment: a walk-in ticket for its service now (the
        booking stays, for a check-in in its window)."""
        if not self._heard(WALK_IN):
            self._walk_in_now()

    def _walk_in_now(self) -> None:
        if self._phase == Phase.EARLY and self._walk_in is not None:
            service = self._walk_in
            self.reset()
            self._choose(service, ask=True)

    def _hm(self, at: float) -> str:
        return datetime.fromtimestamp(at, self._zone).strftime("%H:%M")

    # ----- issuing and printing -----------------------------------------------------------

    def _issue(self, service: str, priority: str | None = None) -> None:
        """Issue, or first ask for a phone number where the branch has the kiosk ask (on
        the screen, online, and not with the audio guide)."""
        hook = self.config.webhook
        if (hook is not None and hook.ask_phone and self._on_screen and self._guide is None
                and self.offline.online):  # fmt: skip
            self._phone_for, self._digits = (service, priority), ""
            self._set_phase(Phase.PHONE)
            self._timer.start(IDLE_S * 1000)  # nobody answers: back to the start
            return
        self._issue_now(service, priority, None)

    def _issue_now(self, service: str, priority: str | None, phone: str | None) -> None:
        self._token = secrets.token_urlsafe(16)  # the QR code's key: 128 random bits
        args = {"service": service, "language": self._language, "token": self._token}
        if priority:
            args["priority"] = priority
        if phone:  # for the webhook only: an offline ticket (below) never stores it
            args["phone"] = phone
        self._choosing, self._priority = service, priority
        self._set_phase(Phase.PRINTING)
        self._timer.start(STUCK_S * 1000)  # never stuck on "printing", whatever happens
        if not self.offline.online:  # no broker: no need to wait for an answer that cannot come
            self._issue_offline(service, None)
            return
        self._pending = self.bridge.send(Cmd.ISSUE_TICKET, args, deadline_s=ISSUE_DEADLINE_S)

    def _issue_offline(self, service: str, supersedes: str | None) -> None:
        """A ticket from this kiosk's leased numbers (spooled before it is printed)."""
        issued = self.offline.issue(
            service, self._language, self._token, supersedes, self._priority
        )
        if isinstance(issued, TicketView):
            self._print(issued)
            return
        if issued is NoTicket.CLOCK_WRONG:
            self._detail = self._get_strings()["unavailable_clock"]
        self._unavailable()

    def _unavailable(self) -> None:
        self._set_phase(Phase.UNAVAILABLE)
        self._timer.start(FAILED_S * 1000)

    @Slot(object)
    def _take_reply(self, reply: Reply) -> None:
        if self.offline.take_reply(reply):
            self._recheck_closed()  # e.g. the server's time: this kiosk's may be hours off
            return
        if reply.id is not None and reply.id == self._checking:
            self._checking = None
            self.offline.heard(reply)
            self._checked_in(reply)
            return
        if reply.id is None or reply.id != self._pending:
            return
        self._pending = None
        self.offline.heard(reply)
        if reply.code == UNREACHABLE and self._choosing is not None:
            self._issue_offline(self._choosing, supersedes=reply.id)
            return
        if reply.code == "service_full" and self._choosing is not None:
            self._issue_offline(self._choosing, None)  # what is left is this kiosk's lease
            return
        if not reply.ok or reply.ticket is None:
            log.warning("no ticket: %s (%s)", reply.code, reply.message)
            self._unavailable()
            return
        try:
            ticket = decode_ticket(reply.ticket)
        except ProtocolError as err:  # in the queue, but nobody can be told its number
            log.error("the server's ticket breaks the contract: %s", err)
            self._unavailable()
            return
        self._print(ticket)

    def _print(self, ticket: TicketView) -> None:
        self._number = ticket.number
        self._detail = self._ticket_detail(ticket)
        self._next = text(ticket.language, "kiosk.done_next")
        # A checked-in appointment's time goes on the ticket too.
        content = replace(self._content(ticket), appointment=self._appointment or None)
        self.last_ticket, self.last_url = content, content.url
        if self.printer is None:  # a screen-only kiosk: the screen is the ticket
            self._take_printed(self._number, "")
            return
        parts = lay_out(content, self.printer.paper_mm, self.printer.printable_dots)
        self.printer.submit(self._number, parts, self._printed.emit)
        self.changed.emit()

    @Slot(str, str)
    def _take_printed(self, number: str, error: str) -> None:
        if number != self._number:
            return
        if error:
            log.error("ticket %s not printed: %s", number, error)
            self._set_phase(Phase.FAILED)
            self._timer.start(FAILED_S * 1000)
        else:
            self._set_phase(Phase.DONE)
            # A guided customer has the number said, and may want it again.
            self._timer.start((GUIDE_IDLE_S if self._guide else DONE_S) * 1000)

    def _content(self, ticket: TicketView) -> TicketContent:
        url = None
        if self.ticket_url and self._token:
            branch = self.config.rules.branch_id
            url = self.ticket_url.format(branch=branch, ticket=ticket.id, token=self._token)
        estimate = ticket.issued_estimate
        return ticket_content(
            self.config, language=ticket.language, service=ticket.service,
            number=ticket.number, ahead=ticket.ahead, ahead_appointments=ticket.ahead_appointments,
            wait=estimate.minutes if estimate else None, issued_at=ticket.issued_at, url=url,
            priority=ticket.priority,
        )  # fmt: skip

    def _ticket_detail(self, ticket: TicketView) -> str:
        lang, ahead = ticket.language, ticket.ahead
        parts = [ahead_words(lang, ahead, ticket.ahead_appointments)]
        if self._appointment:
            parts.insert(0, self._appointment)
        if ticket.issued_estimate:
            parts.append(wait_words(lang, ticket.issued_estimate))
        return " · ".join(parts)

    # ----- what the branch says -----------------------------------------------------------

    @Slot(object)
    def _take_state(self, state: BranchState) -> None:
        self._state = state
        self._refresh_services()
        self.offline.take_state(state)  # leases topped up, the spool offered again
        self._recheck_closed()

    def _recheck_closed(self) -> None:
        """Open or closed may have changed (a summary, the server's time learnt): say so."""
        closed = self._closed_text()
        if closed != self._closed_shown:
            self._closed_shown = closed
            self.changed.emit()

    @Slot(bool)
    def _take_connection(self, online: bool) -> None:
        self.offline.take_connection(online)
        self.changed.emit()

    def _refresh_services(self) -> None:
        """The start screen's buttons: the open group's services, or every group and every
        service in none."""
        config = self.config
        if self._group is not None:
            shown = list(config.groups[self._group].services)
        else:
            grouped = {s for g in config.groups.values() for s in g.services}
            shown = [*config.groups, *(s for s in config.rules.services if s not in grouped)]
        rows = [self._group_row(g) if g in config.groups else self._service_row(g) for g in shown]
        self._model.set_rows(rows)
        self._refresh_lamps()

    def _service_row(self, sid: str) -> dict:
        service = self.config.rules.services[sid]
        view = self._state.service(sid) if self._state else None
        name = service.names.get(self._language, sid)
        short = self.config.short_names.get(sid, {}).get(self._language, name)
        return _two_ways(
            serviceId=sid, name=name, shortName=short, detail=self._service_detail(view),
            note=self._closed_note(sid, view), accepting=view.accepting if view else True,
            group=False,
        )  # fmt: skip

    def _group_row(self, gid: str) -> dict:
        group = self.config.groups[gid]
        views = [self._state.service(s) if self._state else None for s in group.services]
        name = group.names.get(self._language, gid)
        waiting = sum(v.waiting for v in views if v is not None)
        detail = text(self._language, "kiosk.group_detail", n=len(group.services))
        if waiting:
            detail += " · " + text(self._language, "kiosk.waiting", n=waiting)
        accepting = any(v is None or v.accepting for v in views)
        note = "" if accepting else text(self._language, "kiosk.closed_group")
        return _two_ways(
            serviceId=gid, name=name, shortName=name, detail=detail, note=note,
            accepting=accepting, group=True,
        )  # fmt: skip

    def _service_detail(self, view: ServiceView | None) -> str:
        if view is None:
            return ""
        lang = self._language
        waiting = (
            text(lang, "kiosk.waiting", n=view.waiting)
            if view.waiting
            else text(lang, "kiosk.waiting_none")
        )
        if view.estimate is None:
            return waiting
        return f"{waiting} · {wait_words(lang, view.estimate)}"

    def _closed_note(self, sid: str, view) -> str:
        if view is None or view.accepting:
            return ""
        if view.closed is not None:  # closed for the day by a manager
            reason = view.closed.reason_in(self._language)
            if reason:
                return text(self._language, "kiosk.closed_today_reason", reason=reason)
            return text(self._language, "kiosk.closed_today")
        cutoff = self.config.rules.services[sid].last_ticket_at
        if cutoff is not None and self.config.rules.past_cutoff(
            self.config.rules.services[sid], self._clock()
        ):
            return text(self._language, "kiosk.closed_cutoff", time=cutoff.strftime("%H:%M"))
        return text(self._language, "kiosk.closed_full")

    def _late_wait(self, service: str) -> str | None:
        """What to ask before issuing, when the service's wait range (its 90th percentile)
        runs past today's closing time: the wait and the closing time; None when it does
        not, or nothing is known."""
        view = self._state.service(service) if self._state else None
        now = self.offline.server_now()
        closes = self.config.rules.closes_at(now)
        if view is None or view.estimate is None or closes is None:
            return None
        if now + view.estimate.high <= closes:
            return None
        lang = self._language
        minutes = view.estimate.minutes
        return text(
            lang,
            "kiosk.late_text",
            wait=wait_range(lang, *minutes),
            time=datetime.fromtimestamp(closes, self._zone).strftime("%H:%M"),
        )

    def _closed_text(self) -> str:
        """What the start screen says while the branch is closed ("" while it is open)."""
        now = self.offline.server_now()
        if self.config.rules.open_at(now):
            return ""
        if self.offline.clock_off is None and self._state is not None and any(
            s.accepting for s in self._state.services
        ):  # fmt: skip
            return ""  # not told the server's time yet, and its summary says it takes tickets
        lang = self._language
        opens = self.config.rules.next_opening(now)
        if opens is None:
            return text(lang, "kiosk.closed")
        when = datetime.fromtimestamp(opens, self._zone)
        today = datetime.fromtimestamp(now, self._zone).date()
        days = (when.date() - today).days
        day = {0: "kiosk.today", 1: "kiosk.tomorrow"}.get(days)
        on = text(lang, day) if day else text(lang, f"kiosk.on_{WEEKDAYS[when.weekday()]}")
        return text(lang, "kiosk.closed_until", day=on, time=f"{when:%H:%M}")

    def _set_phase(self, phase: Phase) -> None:
        self._phase = phase
        self._refresh_lamps()
        self.changed.emit()
        self._guide_screen()

    # ----- the audio guide ----------------------------------------------------------------

    @Slot(str)
    def startGuide(self, language: str = "") -> None:
        """Turn the audio guide on (a language button held: in its language)."""
        if self._speaker is None:
            return
        if self._phase == Phase.PHONE:  # a guided customer is not asked to type a number
            self.skipPhone()
        self._guide = Guide()
        if language in self.config.rules.languages and language != self._language:
            self._language = language
            self._refresh_services()
        self._keep_guided()
        self.changed.emit()
        self._guide_screen("guide_on_buttons" if self._guide_buttons else "guide_on_touch")

    def _guide_button(self, name: str) -> None:
        """A guide button: any of them turns the guide on; then `guide` changes language,
        `next` says the next choice, `select` takes it (or says the screen again), `back`
        goes back."""
        if self._speaker is None:
            return
        if self._guide is None:
            self.startGuide()
            return
        if name == "guide":
            languages = self.config.rules.languages
            self.startGuide(languages[(languages.index(self._language) + 1) % len(languages)])
        elif name == "next":
            self._say(self._guide.next())
        elif name == "back":
            self._back()
        else:
            action = self._guide.select()
            self._do(action) if action else self._guide_screen()
        self._keep_guided()

    def _do(self, action: str) -> None:
        """Do a choice of the guide's screen (see guide.Choice.action)."""
        kind, _, arg = action.partition(":")
        if kind == "service":
            self._choose(arg, ask=True)
        elif kind == "priority":
            self._choose_priority(arg)
        elif kind == "key":
            self.pressCodeKey(arg)
        elif action == TAKE:
            self._confirm_late()
        elif action == BACK:
            self._back()
        elif action == APPOINTMENT:
            self._start_check_in()
        elif action == CHECK_IN:
            self._check_in_typed()
        elif action == WALK_IN:
            self._walk_in_now()

    def _heard(self, action: str) -> bool:
        """A touch on `action` while the guide is on: True if it was only said (the first
        touch); False: do it (a second touch, or no guide)."""
        if self._guide is None or not self._guide.has(action):
            return False
        self._keep_guided()
        clips = self._guide.touch(action)
        if clips:
            self._say(clips)
            return True
        return False

    def _keep_guided(self) -> None:
        """A guided customer pressed something: a question or the start screen waits
        GUIDE_IDLE_S more before the kiosk takes them to have gone."""
        if self._guide is not None and self._phase in (
            Phase.CHOOSE, Phase.PRIORITY, Phase.CONFIRM_LATE, *CHECK_IN_PHASES
        ):  # fmt: skip
            self._timer.start(GUIDE_IDLE_S * 1000)

    def _guide_screen(self, *before: str) -> None:
        """With the guide on: say the screen that is up (after `before`)."""
        if self._guide is None:
            return
        clips = self._guide.show(self._screen())
        self._say([*before, guide.PAUSE, *clips] if before else clips)
        self._keep_guided()  # a question waits longer for someone who listens first

    def _screen(self) -> Screen:
        """The audio guide's view of the screen that is up."""
        phase = self._phase
        if phase == Phase.CHOOSE:
            if self._closed_text():
                return guide.plain_screen("guide_closed")
            return guide.start_screen(self._model.rows, in_group=self._group is not None,
                                      check_in=self.bookable)  # fmt: skip
        if phase == Phase.PRIORITY:
            return guide.priority_screen(self._kiosk_priorities())
        if phase == Phase.CONFIRM_LATE:
            return guide.late_screen()
        if phase in (Phase.DONE, Phase.FAILED):
            again = "guide_again_buttons" if self._guide_buttons else "guide_again_touch"
            printed = None if self.printer is None else phase == Phase.DONE
            appointment = time_clips(self._language, self._booked_hm)
            return guide.number_screen(self._number, printed, again, appointment, self._late_ticket)
        if phase == Phase.PRINTING:
            return guide.plain_screen("guide_printing")
        return self._check_in_screen(phase)

    def _check_in_screen(self, phase: Phase) -> Screen:
        """The audio guide's view of a check-in's screen (or of no ticket at all)."""
        if phase == Phase.CODE:
            return guide.code_screen(CODE_KEYS)
        if phase == Phase.CHECKING:
            return guide.plain_screen("guide_checking")
        if phase == Phase.EARLY:
            booked, come_back = (time_clips(self._language, hm) for hm in self._early)
            return guide.early_screen(booked, come_back)
        if phase == Phase.NOT_CHECKED_IN:
            return guide.refused_screen(self._refused or "guide_checkin_failed")
        return guide.plain_screen("guide_unavailable")

    def _say(self, clips: list[str]) -> None:
        if self._speaker is not None:
            self._speaker.say(self._language, clips)

    @Slot()
    def guideAgain(self) -> None:
        """A touch on the number screen while the guide is on: say it again."""
        if self._guide is not None and self._phase in (Phase.DONE, Phase.FAILED):
            self._guide_screen()


PHONE_DIGITS = (5, 15)  # what the server takes (protocol/webhook.py PHONE_RE)


def _phone_ok(digits: str) -> bool:
    return digits.isdigit() and PHONE_DIGITS[0] <= len(digits) <= PHONE_DIGITS[1]


def _two_ways(**row) -> dict:
    """A button's row, with each text also in two lines: evenly for names and notes, at
    its " · " for the detail (who waits, then how long)."""
    for key, second in (("name", "name2"), ("shortName", "short2"), ("note", "note2")):
        row[second] = "\n".join(part for part in two_lines(row[key]) if part)
    row["detail2"] = row["detail"].replace(" · ", "\n", 1)
    return row


def wait_words(language: str, estimate: EstimateView) -> str:
    """A wait as the screen says it, in the ticket's minutes ("now" just when the ticket
    prints it: up to a minute)."""
    minutes = estimate.minutes
    if minutes.now:
        return text(language, "kiosk.wait_now")
    return text(language, "kiosk.wait", range=wait_range(language, *minutes))


class TicketImages(QQuickImageProvider):
    """`image://ticket/qr/<number>`: the last ticket's QR code, for the screen when the
    printer has failed."""

    def __init__(self, controller: KioskController) -> None:
        super().__init__(QQuickImageProvider.ImageType.Image)
        self.controller = controller

    def requestImage(self, image_id: str, size, requested_size) -> QImage:  # noqa: N802
        """Qt's image provider API: the QR code of the ticket on screen."""
        import io

        buffer = io.BytesIO()
        qr_image(QrCode(self.controller.last_url or " ", 8)).convert("L").save(buffer, "PNG")
        image = QImage.fromData(buffer.getvalue(), "PNG")
        if requested_size.isValid():
            image = image.scaled(requested_size, Qt.AspectRatioMode.KeepAspectRatio)
        return image
