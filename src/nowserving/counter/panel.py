"""The staff panel's controller (`nowserving counter --ui`): the counter's customer, its
lines, and the actions — the same `CounterDevice.act` path as the GPIO buttons for
next/recall/start/done/no-show/pause, plus what only a screen can do: call a given ticket
with a reason, transfer to a service (confirmed, and undone within seconds), post a notice
for the lobby for a chosen time and take notices down; what the counter did today, and
the kiosks' alerts. Every refusal and every reason a button is off is said in the panel's
language (`counter/words.py`).

Runs on the GUI thread; what the network says arrives through a `QtBranchBridge`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from PySide6.QtCore import Property, QObject, QTimer, Signal, Slot

from nowserving.client.qt import QtBranchBridge
from nowserving.config import BranchConfig
from nowserving.counter.app import CounterDevice
from nowserving.counter.signin import SignInController
from nowserving.counter.words import alerts_of, button_states, refusal_text
from nowserving.domain.branch import UNDO_TRANSFER_S
from nowserving.domain.policy import call_order, line_key
from nowserving.i18n import catalog, text
from nowserving.protocol.views import BranchState, DeviceStatus, Line, LineTicket, Reply
from nowserving.protocol.vocabulary import CALL_REASONS, PAUSE_REASONS, Cmd

LANGUAGE_LABELS = {"zh": "中文", "en": "English"}
# Undo is offered this long after a transfer: well inside the server's window, so that an
# undo pressed at the last moment still arrives in time.
UNDO_OFFER_S = UNDO_TRANSFER_S - 5
NOTICE_MINUTES = (15, 30, 60, 120, 240)  # the durations offered when posting a notice
NOTICE_PRESETS = ("slow", "short", "cash", "closing")  # i18n `notices.label_<key>`, `text_<key>`


def _call_key(ticket: LineTicket, priorities) -> float:
    """The key the server orders its lines by (`domain.policy.call_key`)."""
    if ticket.order_key is not None:  # placed by the N:1 interleave
        return ticket.order_key
    since = ticket.issued_at if ticket.queue_since is None else ticket.queue_since
    return line_key(since, ticket.priority, priorities, ticket.booked_at, ticket.head_start_s)


class PanelController(QObject):
    """What the staff panel shows of one counter."""

    changed = Signal()
    ticked = Signal()  # what moves by the second: countdowns on buttons and on undo

    def __init__(
        self,
        config: BranchConfig,
        device: CounterDevice,
        bridge: QtBranchBridge,
        clock: Callable[[], float] = time.time,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.config = config
        self.device = device
        self.bridge = bridge
        self._clock = clock
        self.counter = device.counter
        self._language = config.rules.languages[0]
        self._state: BranchState | None = None
        self._lines: dict[str, Line] = {}
        self._online = False
        self._message = ""
        self._received = time.monotonic()  # when the last summary came
        self._zone = ZoneInfo(config.rules.timezone)
        self._statuses: dict[str, DeviceStatus] = {}  # kiosks' retained statuses
        self._transfers: dict[str, dict] = {}  # transfer command id -> what it moves where
        self._undo: dict | None = None  # the last transfer, while it may be undone
        self._undos: set[str] = set()  # undo_transfer command ids on their way
        bridge.stateChanged.connect(self._take_state)
        bridge.lineChanged.connect(self._take_line)
        bridge.connectionChanged.connect(self._take_connection)
        bridge.replyReceived.connect(self._take_reply)
        bridge.statusChanged.connect(self._take_status)
        self.changed.connect(self.ticked)
        self._tick = QTimer(self)  # waiting and serving times move on
        self._tick.timeout.connect(self.changed.emit)
        self._tick.start(30_000)
        self._sign_in = SignInController(config, self.counter, bridge, lambda: self._language, self)
        self.changed.connect(self._sign_in.changed)  # e.g. the language: its screen follows
        self._seconds = QTimer(self)  # countdowns (recall cooldown, undo) move on
        self._seconds.timeout.connect(self._second)
        self._seconds.start(1_000)

    # ----- what it shows ------------------------------------------------------------------

    def _now(self) -> float:
        """The branch's time: the last summary's, moved on by how long ago it came (so a
        device whose own clock is off still shows the right minutes)."""
        if self._state is None:
            return self._clock()
        return self._state.at + time.monotonic() - self._received

    def _view(self):
        return self._state.counter(self.counter) if self._state else None

    def _get_strings(self) -> dict:
        return catalog(self._language)["panel"]

    def _get_counter_name(self) -> str:
        spec = self.config.rules.counters[self.counter]
        return spec.names.get(self._language, self.counter)

    def _get_status(self) -> str:
        view = self._view()
        return view.state if view else "closed"

    def _get_ticket(self) -> dict:
        view = self._view()
        if view is None or view.ticket is None:
            return {}
        ticket = view.ticket
        service = self.config.rules.services.get(ticket.service)
        since = (self._now() - ticket.called_at) / 60 if ticket.called_at else 0
        return {
            "number": ticket.number,
            "service": service.names.get(self._language, ticket.service) if service else "",
            "status": ticket.status,
            "since": text(self._language, "panel.since", m=int(since)),
            "recalls": ticket.recalls,
        }

    def _get_waiting(self) -> list:
        """Who waits for this counter, in the order it would call them now: its lines
        merged by its call profile, priority classes and their boosts included."""
        rules = self.config.rules
        spec = rules.counters[self.counter]
        # A line may trail the summary by a moment: who is at a counter is not waiting.
        at_counters = {
            c.ticket.id for c in (self._state.counters if self._state else ()) if c.ticket
        }
        now = self._now()
        lines = {}
        for sid in spec.services:
            line = self._lines.get(sid)
            lines[sid] = [
                (_call_key(ticket, rules.priorities), (sid, ticket))
                for ticket in (line.tickets if line else ())
                if ticket.id not in at_counters
            ]
        rows = []
        default = next(iter(rules.priorities), None)
        for sid, ticket in call_order(spec, lines, now, limit=30):
            service = rules.services[sid]
            waited = now - ticket.issued_at
            priority = rules.priorities.get(ticket.priority)
            marked = priority is not None and ticket.priority != default
            rows.append(
                {
                    "id": ticket.id,
                    "number": ticket.number,
                    "service": service.names.get(self._language, sid),
                    "waited": text(self._language, "panel.waited", m=int(waited / 60)),
                    "priority": ticket.priority,
                    # Its class's name when it is not the default one (the row is marked).
                    "priorityName": priority.names.get(self._language, ticket.priority)
                    if marked
                    else "",
                    "late": waited >= rules.wait_warning_s,
                    # Why it may be called before those who came earlier: its booked time.
                    "appointment": self._appointment_text(ticket),
                }
            )
        return rows

    def _waiting_count(self) -> int:
        return sum(
            len(self._lines[s].tickets) if s in self._lines else 0
            for s in self.config.rules.counters[self.counter].services
        )

    def _get_stats(self) -> dict:
        """What the counter did today, and who has waited too long for it."""
        view = self._view()
        served = view.served if view else 0
        mean = view.mean_s if view else None
        words = catalog(self._language)["panel"]
        late_after = self.config.rules.wait_warning_s
        late = sum(1 for row in self._get_waiting() if row["late"])
        return {
            "served": words["served_today"].format(n=served),
            "mean": words["mean_none"]
            if mean is None
            else words["mean_time"].format(m=f"{mean / 60:.1f}".rstrip("0").rstrip(".")),
            "late": words["late_count"].format(n=late, m=int(late_after / 60)) if late else "",
        }

    def _get_actions(self) -> dict:
        return button_states(
            self._language, self.config.rules, self._view(), self._now(),
            self._waiting_count(), bool(self._get_transfer_targets()),
        )  # fmt: skip

    def _get_transfer_targets(self) -> list:
        """Where the customer at the counter may be sent: every other service but the
        ones this counter serves itself (it would be serving them here)."""
        view = self._view()
        if view is None or view.ticket is None:
            return []
        own = set(self.config.rules.counters[self.counter].services) | {view.ticket.service}
        return [s for s in self._get_services() if s["id"] not in own]

    def _get_alerts(self) -> list:
        found = []
        for device in sorted(self._statuses):
            found += alerts_of(self._language, self._statuses[device])
        return found

    def _get_notices(self) -> list:
        now = self._now()
        words = catalog(self._language)["panel"]
        return [
            {
                "id": n.id or "",
                "text": n.in_language(self._language),
                "until": words["notice_until"].format(time=self._clock_text(n.until)),
            }
            for n in (self._state.notices if self._state else ())
            if n.until > now
        ]

    def _get_notice_minutes(self) -> list:
        words = catalog(self._language)["panel"]
        return [
            {"minutes": m, "label": words["notice_minutes"].format(m=m)} for m in NOTICE_MINUTES
        ]

    def _get_notice_presets(self) -> list:
        words = catalog(self._language)["notices"]
        return [
            {"key": key, "label": words[f"label_{key}"], "text": words[f"text_{key}"]}
            for key in NOTICE_PRESETS
        ]

    def _get_undo(self) -> dict:
        """The last transfer while it may be undone: what it did, and the undo's label."""
        if self._undo is None:
            return {}
        left = self._undo["until"] - time.monotonic()
        if left <= 0:
            return {}
        words = catalog(self._language)["panel"]
        service = self.config.rules.services.get(self._undo["service"])
        name = service.names.get(self._language, self._undo["service"]) if service else ""
        return {
            "text": words["transferred"].format(number=self._undo["number"], service=name),
            "label": words["undo"].format(s=int(left) + 1),
        }

    def _appointment_text(self, ticket) -> str:
        """ "appointment 10:30" for an appointment checked in inside its window ("": none)."""
        booked = ticket.why.appointment if ticket.why is not None else None
        if booked is None:
            return ""
        return text(self._language, "panel.why_appointment", time=self._clock_text(booked))

    def _clock_text(self, at: float) -> str:
        return datetime.fromtimestamp(at, self._zone).strftime("%H:%M")

    def _get_counts(self) -> list:
        counts = []
        for sid in self.config.rules.counters[self.counter].services:
            view = self._state.service(sid) if self._state else None
            name = self.config.rules.services[sid].names.get(self._language, sid)
            counts.append({"id": sid, "name": name, "waiting": view.waiting if view else 0})
        return counts

    def _get_services(self) -> list:
        return [
            {"id": sid, "name": s.names.get(self._language, sid)}
            for sid, s in self.config.rules.services.items()
        ]

    def _get_languages(self) -> list:
        return [
            {"code": c, "label": LANGUAGE_LABELS.get(c, c)} for c in self.config.rules.languages
        ]

    language = Property(str, lambda self: self._language, notify=changed)
    languages = Property("QVariantList", _get_languages, notify=changed)
    strings = Property("QVariantMap", _get_strings, notify=changed)
    counterName = Property(str, _get_counter_name, notify=changed)
    status = Property(str, _get_status, notify=changed)
    ticket = Property("QVariantMap", _get_ticket, notify=changed)
    waiting = Property("QVariantList", _get_waiting, notify=changed)
    counts = Property("QVariantList", _get_counts, notify=changed)
    services = Property("QVariantList", _get_services, notify=changed)
    online = Property(bool, lambda self: self._online, notify=changed)
    signIn = Property(QObject, lambda self: self._sign_in, constant=True)  # counter/signin.py
    message = Property(str, lambda self: self._message, notify=changed)
    stats = Property("QVariantMap", _get_stats, notify=changed)
    transferTargets = Property("QVariantList", _get_transfer_targets, notify=changed)
    alerts = Property("QVariantList", _get_alerts, notify=changed)
    notices = Property("QVariantList", _get_notices, notify=changed)
    noticeMinutes = Property("QVariantList", _get_notice_minutes, notify=changed)
    noticePresets = Property("QVariantList", _get_notice_presets, notify=changed)
    actions = Property("QVariantMap", _get_actions, notify=ticked)
    undo = Property("QVariantMap", _get_undo, notify=ticked)

    # ----- what staff do ------------------------------------------------------------------

    @Slot(str)
    def setLanguage(self, language: str) -> None:
        """Show the panel in `language`."""
        if language in self.config.rules.languages:
            self._language = language
            self.changed.emit()

    @Slot(str)
    def press(self, button: str) -> None:
        """An on-screen button: the same command, by the same code, as the counter's GPIO
        button of that name."""
        self._message = ""
        self.device.act(button)
        self.changed.emit()

    @Slot(str, str)
    def callTicket(self, ticket_id: str, reason: str) -> None:
        """Call a waiting ticket out of turn, with a reason code (CALL_REASONS)."""
        self.bridge.send(Cmd.CALL_TICKET, {"ticket": ticket_id, "reason": reason})

    @Slot(str)
    def transfer(self, service: str) -> None:
        """Send the customer at this counter to `service`'s line (the dialog has asked to
        confirm); the reply offers an undo for a few seconds."""
        view = self._view()
        if view is None or view.ticket is None:
            return
        self._message = ""
        command_id = self.bridge.send(Cmd.TRANSFER, {"to_service": service})
        self._transfers[command_id] = {
            "ticket": view.ticket.id, "number": view.ticket.number, "service": service,
        }  # fmt: skip
        self.changed.emit()

    @Slot()
    def undoTransfer(self) -> None:
        """Take the last transfer back: the customer is at this counter again as before."""
        if not self._get_undo():
            return
        self._undos.add(self.bridge.send(Cmd.UNDO_TRANSFER, {"ticket": self._undo["ticket"]}))
        self._undo = None
        self.changed.emit()

    @Slot(str)
    def takeDownNotice(self, notice: str) -> None:
        """Take a notice off the lobby before its time."""
        self.bridge.send(Cmd.TAKE_DOWN_NOTICE, {"notice": notice})

    pauseReasons = Property("QVariantList", lambda self: list(PAUSE_REASONS), constant=True)
    callReasons = Property("QVariantList", lambda self: list(CALL_REASONS), constant=True)

    @Slot(str)
    def pause(self, reason: str) -> None:
        """Pause the counter for a reason code (PAUSE_REASONS), or none."""
        self.bridge.send(Cmd.PAUSE_COUNTER, {"reason": reason} if reason else {})

    @Slot(str, int)
    def postPreset(self, key: str, minutes: int = 30) -> None:
        """Post one of the catalogue's notices, in every language of the branch."""
        if key in NOTICE_PRESETS:
            args = {f"text_{lang}": catalog(lang)["notices"][f"text_{key}"]
                    for lang in self.config.rules.languages}  # fmt: skip
            self.bridge.send(Cmd.POST_NOTICE, {**args, "minutes": str(minutes)})

    @Slot(str, int)
    def postNotice(self, notice: str, minutes: int = 30) -> None:
        """Post a notice for the lobby, in the panel's language, for `minutes`."""
        if notice.strip():
            args = {"text": notice.strip(), "language": self._language, "minutes": str(minutes)}
            self.bridge.send(Cmd.POST_NOTICE, args)

    # ----- what the branch says -----------------------------------------------------------

    @Slot(object)
    def _take_state(self, state: BranchState) -> None:
        self._state, self._received = state, time.monotonic()
        self.changed.emit()

    @Slot(object)
    def _take_line(self, line: Line) -> None:
        self._lines[line.service] = line
        self.changed.emit()

    @Slot(bool)
    def _take_connection(self, online: bool) -> None:
        self._online = online
        self.changed.emit()

    @Slot(object)
    def _take_reply(self, reply: Reply) -> None:
        transfer = self._transfers.pop(reply.id or "", None)
        words = catalog(self._language)["panel"]
        if not reply.ok:
            self._message = refusal_text(self._language, reply.code, reply.params)
        elif transfer is not None:
            self._message = ""
            self._undo = {**transfer, "until": time.monotonic() + UNDO_OFFER_S}
        elif reply.id in self._undos:
            self._message = words["undone"].format(number=reply.ticket["number"])
        else:
            self._message = ""
        self._undos.discard(reply.id or "")
        self.changed.emit()

    @Slot(object)
    def _take_status(self, status: DeviceStatus) -> None:
        device = self.config.devices.get(status.device)
        if device is not None and device.role == "kiosk":
            self._statuses[status.device] = status
            self.changed.emit()

    @Slot()
    def _second(self) -> None:
        if self._undo is not None and self._undo["until"] <= time.monotonic():
            self._undo = None
        self.ticked.emit()

    def close(self) -> None:
        """Stop listening to the bridge (idempotent)."""
        self._tick.stop()
        self._sign_in.close()
        self._seconds.stop()
