"""The kiosk's controller: what the QML shows, and what a tap does.

Everything here runs on the GUI thread. The network is reached only through the
`QtBranchBridge` (sends return at once; answers come back as signals) and the printer only
through `PrintQueue` (a worker thread; its verdict comes back as a queued signal), so a tap
never waits on either.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Callable
from datetime import datetime, time
from zoneinfo import ZoneInfo

from PySide6.QtCore import (
    Property,
    QAbstractListModel,
    QByteArray,
    QModelIndex,
    QObject,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QImage
from PySide6.QtQuick import QQuickImageProvider

from nowserving.adapters.printer.layout import QrCode, TicketContent, lay_out, qr_image
from nowserving.client.qt import QtBranchBridge
from nowserving.config import BranchConfig
from nowserving.i18n import catalog, text
from nowserving.kiosk.printing import PrintQueue
from nowserving.protocol.views import BranchState, Reply

log = logging.getLogger(__name__)

DONE_S = 6  # the number stays on screen this long after printing
FAILED_S = 45  # ... and this long when it could not be printed
LANGUAGE_LABELS = {"zh": "中文", "en": "English"}
ROLES = {
    Qt.ItemDataRole.UserRole + 1: b"serviceId",
    Qt.ItemDataRole.UserRole + 2: b"name",
    Qt.ItemDataRole.UserRole + 3: b"detail",
    Qt.ItemDataRole.UserRole + 4: b"note",
    Qt.ItemDataRole.UserRole + 5: b"accepting",
}


class ServiceModel(QAbstractListModel):
    """The service buttons, one row per service of the branch."""

    countChanged = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[dict] = []

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's API)
        return 0 if parent.isValid() else len(self._rows)

    def roleNames(self) -> dict[int, QByteArray]:
        return {role: QByteArray(name) for role, name in ROLES.items()}

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or role not in ROLES:
            return None
        return self._rows[index.row()][ROLES[role].decode()]

    def set_rows(self, rows: list[dict]) -> None:
        if len(rows) == len(self._rows):
            self._rows = rows
            if rows:
                self.dataChanged.emit(self.index(0), self.index(len(rows) - 1))
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()
        self.countChanged.emit()

    count = Property(int, lambda self: len(self._rows), notify=countChanged)


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
        ticket_url: str = "",
        clock: Callable[[], float] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.config = config
        self.bridge = bridge
        self.printer = printer
        self.ticket_url = ticket_url
        self._clock = clock or (lambda: datetime.now().timestamp())
        self._zone = ZoneInfo(config.rules.timezone)
        self._language = config.rules.languages[0]
        self._phase = "choose"
        self._online = False
        self._state: BranchState | None = None
        self._pending: str | None = None  # command id of the ticket being issued
        self._late_service: str | None = None
        self._number = self._detail = self._late = ""
        self.last_url = ""
        self.last_ticket: TicketContent | None = None  # what was sent to the printer last
        self._model = ServiceModel(self)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.reset)
        bridge.stateChanged.connect(self._take_state)
        bridge.replyReceived.connect(self._take_reply)
        bridge.connectionChanged.connect(self._take_connection)
        self._printed.connect(self._take_printed, Qt.ConnectionType.QueuedConnection)
        self._button.connect(self.choose, Qt.ConnectionType.QueuedConnection)
        self._panel = None
        self._choosing: str | None = None  # the service being issued, for its lamp
        self._refresh_services()

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
    online = Property(bool, lambda self: self._online, notify=changed)
    ticketNumber = Property(str, lambda self: self._number, notify=changed)
    ticketDetail = Property(str, lambda self: self._detail, notify=changed)
    lateText = Property(str, lambda self: self._late, notify=changed)

    # ----- physical ticket buttons ---------------------------------------------------------

    def attach_panel(self, panel) -> None:
        """Ticket buttons and their lamps (an `adapters.gpio.Panel` whose names are service
        ids); presses come from gpiozero's thread as `pressed(name)`."""
        self._panel = panel
        self._refresh_lamps()

    def pressed(self, name: str) -> None:
        self._button.emit(name)  # gpiozero thread -> GUI thread (queued)

    def _refresh_lamps(self) -> None:
        """Lit: the service takes tickets; blinking: its ticket is being issued; dark: not."""
        if self._panel is None:
            return
        for sid in self.config.rules.services:
            view = self._state.service(sid) if self._state else None
            busy = self._phase == "printing" and self._choosing == sid
            self._panel.lamp(sid, on=view is None or view.accepting, blink=busy)

    # ----- what the customer does ---------------------------------------------------------

    @Slot(str)
    def setLanguage(self, language: str) -> None:
        if language in self.config.rules.languages and language != self._language:
            self._language = language
            self._refresh_services()
            self.changed.emit()

    @Slot(str)
    def choose(self, service: str) -> None:
        if self._phase != "choose" or service not in self.config.rules.services:
            return  # a second tap while the first is handled is not a second ticket
        closing = self._closing_after_wait(service)
        if closing is not None:
            self._late_service = service
            self._late = text(self._language, "kiosk.late_text", time=closing.strftime("%H:%M"))
            self._set_phase("confirm_late")
            return
        self._issue(service)

    @Slot()
    def confirmLate(self) -> None:
        if self._phase == "confirm_late" and self._late_service is not None:
            service, self._late_service = self._late_service, None
            self._phase = "choose"
            self._issue(service)

    @Slot()
    def reset(self) -> None:
        self._timer.stop()
        self._pending = self._late_service = None
        self._number = self._detail = self._late = ""
        self._set_phase("choose")

    # ----- issuing and printing -----------------------------------------------------------

    def _issue(self, service: str) -> None:
        args = {"service": service, "language": self._language}
        self._choosing = service
        self._set_phase("printing")
        self._pending = self.bridge.send("issue_ticket", args)

    @Slot(object)
    def _take_reply(self, reply: Reply) -> None:
        if reply.id is None or reply.id != self._pending:
            return
        self._pending = None
        if not reply.ok:
            log.warning("no ticket: %s (%s)", reply.code, reply.message)
            self._set_phase("unavailable")
            self._timer.start(FAILED_S * 1000)
            return
        ticket = reply.ticket
        self._number = ticket["number"]
        self._detail = self._ticket_detail(ticket)
        content = self._content(ticket)
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
            self._set_phase("failed")
            self._timer.start(FAILED_S * 1000)
        else:
            self._set_phase("done")
            self._timer.start(DONE_S * 1000)

    def _content(self, ticket: dict) -> TicketContent:
        service = self.config.rules.services[ticket["service"]]
        estimate = ticket.get("issued_estimate")
        wait = None
        if estimate:
            wait = (int(estimate["low"] // 60), max(1, math.ceil(estimate["high"] / 60)))
        token = secrets.token_urlsafe(9)  # not guessable from the number
        return TicketContent(
            language=ticket["language"],
            branch=self.config.names.get(ticket["language"], ""),
            service=service.names.get(ticket["language"], service.id),
            number=ticket["number"],
            ahead=ticket.get("ahead", 0),
            wait=wait,
            issued_at=datetime.fromtimestamp(ticket["issued_at"], self._zone),
            url=self.ticket_url.format(
                branch=self.config.rules.branch_id, ticket=ticket["id"], token=token
            ),
        )

    def _ticket_detail(self, ticket: dict) -> str:
        lang = ticket["language"]
        ahead = ticket.get("ahead", 0)
        parts = [text(lang, "ticket.ahead", n=ahead) if ahead else text(lang, "ticket.ahead_none")]
        estimate = ticket.get("issued_estimate")
        if estimate:
            parts.append(self._wait_words(estimate["low"], estimate["high"]))
        return " · ".join(parts)

    # ----- what the branch says -----------------------------------------------------------

    @Slot(object)
    def _take_state(self, state: BranchState) -> None:
        self._state = state
        self._refresh_services()

    @Slot(bool)
    def _take_connection(self, online: bool) -> None:
        self._online = online
        self.changed.emit()

    def _refresh_services(self) -> None:
        rows = []
        for sid, service in self.config.rules.services.items():
            view = self._state.service(sid) if self._state else None
            rows.append(
                {
                    "serviceId": sid,
                    "name": service.names.get(self._language, sid),
                    "detail": self._service_detail(view),
                    "note": self._closed_note(sid, view),
                    "accepting": view.accepting if view else True,
                }
            )
        self._model.set_rows(rows)
        self._refresh_lamps()

    def _service_detail(self, view) -> str:
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
        return f"{waiting} · {self._wait_words(view.estimate.low, view.estimate.high)}"

    def _wait_words(self, low: float, high: float) -> str:
        if high < 60:
            return text(self._language, "kiosk.wait_now")
        return text(
            self._language, "kiosk.wait", low=int(low // 60), high=max(1, math.ceil(high / 60))
        )

    def _closed_note(self, sid: str, view) -> str:
        if view is None or view.accepting:
            return ""
        cutoff = self.config.rules.services[sid].last_ticket_at
        if cutoff is not None and self.config.rules.past_cutoff(
            self.config.rules.services[sid], self._clock()
        ):
            return text(self._language, "kiosk.closed_cutoff", time=cutoff.strftime("%H:%M"))
        return text(self._language, "kiosk.closed_full")

    def _closing_after_wait(self, service: str) -> time | None:
        """Today's closing time, if the service's wait range (its 90th percentile) runs
        past it; None when it does not, or nothing is known."""
        view = self._state.service(service) if self._state else None
        if view is None or view.estimate is None:
            return None
        now = datetime.fromtimestamp(self._clock(), self._zone)
        hours = self.config.hours.get(now.strftime("%a").lower())
        if not hours:
            return None
        closing = now.replace(hour=hours[1].hour, minute=hours[1].minute, second=0)
        if now.timestamp() + view.estimate.high > closing.timestamp():
            return hours[1]
        return None

    def _set_phase(self, phase: str) -> None:
        self._phase = phase
        self._refresh_lamps()
        self.changed.emit()


class TicketImages(QQuickImageProvider):
    """`image://ticket/qr/<number>`: the last ticket's QR code, for the screen when the
    printer has failed."""

    def __init__(self, controller: KioskController) -> None:
        super().__init__(QQuickImageProvider.ImageType.Image)
        self.controller = controller

    def requestImage(self, image_id: str, size, requested_size) -> QImage:  # noqa: N802
        import io

        buffer = io.BytesIO()
        qr_image(QrCode(self.controller.last_url or " ", 8)).convert("L").save(buffer, "PNG")
        image = QImage.fromData(buffer.getvalue(), "PNG")
        if requested_size.isValid():
            image = image.scaled(requested_size, Qt.AspectRatioMode.KeepAspectRatio)
        return image
