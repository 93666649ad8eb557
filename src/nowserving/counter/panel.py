"""The staff panel's controller (`nowserving counter --ui`): the counter's customer, its
lines, and the actions — the same `CounterDevice.act` path as the GPIO buttons for
next/recall/start/done/no-show/pause, plus what only a screen can do: call a given ticket
with a reason, transfer to a service, post a notice for the lobby.

Runs on the GUI thread; what the network says arrives through a `QtBranchBridge`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import Property, QObject, QTimer, Signal, Slot

from nowserving.client.qt import QtBranchBridge
from nowserving.config import BranchConfig
from nowserving.counter.app import CounterDevice
from nowserving.counter.signin import SignInController
from nowserving.domain.policy import boost, call_order
from nowserving.i18n import catalog, text
from nowserving.protocol.views import BranchState, Line, LineTicket, Reply
from nowserving.protocol.vocabulary import CALL_REASONS, PAUSE_REASONS, Cmd

LANGUAGE_LABELS = {"zh": "中文", "en": "English"}


def _call_key(ticket: LineTicket, priorities) -> float:
    """The key the server orders its lines by (`domain.policy.call_key`)."""
    since = ticket.issued_at if ticket.queue_since is None else ticket.queue_since
    return since - boost(ticket.priority, priorities)


class PanelController(QObject):
    """What the staff panel shows of one counter."""

    changed = Signal()

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
        bridge.stateChanged.connect(self._take_state)
        bridge.lineChanged.connect(self._take_line)
        bridge.connectionChanged.connect(self._take_connection)
        bridge.replyReceived.connect(self._take_reply)
        self._tick = QTimer(self)  # waiting and serving times move on
        self._tick.timeout.connect(self.changed.emit)
        self._tick.start(30_000)
        self._sign_in = SignInController(config, self.counter, bridge, lambda: self._language, self)
        self.changed.connect(self._sign_in.changed)  # e.g. the language: its screen follows

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
        for sid, ticket in call_order(spec, lines, now, limit=30):
            service = rules.services[sid]
            waited = (now - ticket.issued_at) / 60
            rows.append(
                {
                    "id": ticket.id,
                    "number": ticket.number,
                    "service": service.names.get(self._language, sid),
                    "waited": text(self._language, "panel.waited", m=int(waited)),
                    "priority": ticket.priority,
                }
            )
        return rows

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
        """Send the customer at this counter to `service`'s line."""
        self.bridge.send(Cmd.TRANSFER, {"to_service": service})

    pauseReasons = Property("QVariantList", lambda self: list(PAUSE_REASONS), constant=True)
    callReasons = Property("QVariantList", lambda self: list(CALL_REASONS), constant=True)

    @Slot(str)
    def pause(self, reason: str) -> None:
        """Pause the counter for a reason code (PAUSE_REASONS), or none."""
        self.bridge.send(Cmd.PAUSE_COUNTER, {"reason": reason} if reason else {})

    @Slot(str)
    def postNotice(self, notice: str) -> None:
        """Post a notice for the lobby, in the panel's language."""
        if notice.strip():
            self.bridge.send(Cmd.POST_NOTICE, {"text": notice.strip(), "language": self._language})

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
        self._message = "" if reply.ok else (reply.message or reply.code or "")
        self.changed.emit()

    def close(self) -> None:
        """Stop listening to the bridge (idempotent)."""
        self._tick.stop()
        self._sign_in.close()
