"""The lobby display's screen: the state of one screen, for its QML (docs/display.md).

Everything shown comes from the retained summary (`Lobby`); a new call in it gets its turn
in the spotlight — HOLD_S alone, at least TURN_S when others wait for theirs — and is handed
to `on_call` (the announcer) as soon as it is seen, so that the announcer sees a burst
whole and can shorten calls rather than drop them. Nothing here waits on the network or on
audio: the GUI thread only takes what the bridge delivers and what timers say.
"""

from __future__ import annotations

import json
import re
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Property, QObject, QRect, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtQuick import QQuickImageProvider

from nowserving.client.qt import BranchClock, QtBranchBridge, RowsModel
from nowserving.config import BranchConfig
from nowserving.config.device import DisplaySettings
from nowserving.display.model import FRESH_S, Lobby, ShownCall
from nowserving.i18n import catalog, wait_range
from nowserving.protocol.views import BranchState
from nowserving.protocol.vocabulary import PAUSE_REASONS

HOLD_S = 10.0  # a call alone stays in the spotlight this long
TURN_S = 4.0  # with more calls waiting for their turn, each still gets this long
MAX_WAITING_TURNS = 8  # beyond this (a burst, a reconnect), the oldest skip the spotlight
PAGE_S = 10.0  # lines that do not fit on the screen at once: each page shows this long
IMAGES = (".png", ".jpg", ".jpeg", ".svg", ".webp")
HALL_CODE = re.compile(r"[0-9A-Z]{4,16}")
HALL_KEEP = 1.5  # a hall code not followed by the next within 1.5 of its windows: not shown


def hall_base(config: BranchConfig) -> str | None:
    """Where the lobby's hall QR leads, but for the code (`…/<branch>/here/`): shown when
    a service may be joined remotely and the tickets' page is the web role's (`ticket_url`
    of `…/{branch}/t/{token}`); None: no hall QR on the lobby."""
    url = config.ticket_url
    if not any(s.remote for s in config.rules.services.values()):
        return None
    if not url or "/{branch}/t/{token}" not in url:
        return None
    return f"{url.split('/{branch}/t/{token}', 1)[0]}/{config.rules.branch_id}/here/"


class DisplayController(QObject):
    """The state of one lobby screen."""

    changed = Signal()  # connection, audio, language: the screen's frame
    spotlightChanged = Signal()  # a call entered or left the spotlight
    noticesChanged = Signal()
    pageChanged = Signal()  # the page of lines shown, or how many there are
    hallChanged = Signal()  # the hall code shown (or none)
    _audio_arrived = Signal(str)  # from the announcer's thread
    _hall_arrived = Signal(bytes)  # the hall code's retained message, from paho's thread

    def __init__(
        self,
        config: BranchConfig,
        bridge: QtBranchBridge,
        settings: DisplaySettings | None = None,
        on_call: Callable[[ShownCall, float], None] | None = None,
        portrait: bool | None = None,
        fresh_s: float = FRESH_S,
        hold_s: float = HOLD_S,
        turn_s: float = TURN_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.config = config
        self.branch_clock = BranchClock(config.rules.timezone, clock, self)
        self.settings = settings or DisplaySettings()
        self.bridge = bridge
        self.lobby = Lobby(config.rules, self.settings, fresh_s)
        self.on_call = on_call  # (call, its age in seconds) as soon as it is seen
        self.hold_s, self.turn_s = hold_s, turn_s
        self._languages = list(self.settings.languages or config.rules.languages)
        self._strings = {lang: catalog(lang)["display"] for lang in self._languages}
        self._portrait = (
            portrait if portrait is not None else self.settings.orientation == "portrait"
        )
        self._language_index = 0
        self._broker_up = False
        self._server_up: bool | None = None
        self._received = time.monotonic()  # when the last summary arrived (for call ages)
        self._had_state = False
        self._pending: deque[ShownCall] = deque()  # new calls waiting for their turn
        self._current: ShownCall | None = None
        self._turn_started = 0.0
        self._highlighted = False
        self._serial = 0  # counts turns, so QML restarts its animation on each
        self._audio = "off"
        self._media: list[Path] = []
        self._media_index = 0
        self._notices: list[dict] = []
        self._spot: dict = {}
        self.history = RowsModel(("number", "counter", "recall"), self)
        self.services = RowsModel(
            ("serviceId", "names", "shortNames", "count", "waiting", "wait", "late", "closed"), self
        )
        self._line_page, self._line_pages = 0, 1
        self._pages = QTimer(self, interval=int(PAGE_S * 1000))
        self._pages.timeout.connect(self._next_page)
        self._turn = QTimer(self)
        self._turn.setSingleShot(True)
        self._turn.timeout.connect(self._next_turn)
        self._alternate = QTimer(self, interval=int(self.settings.alternate_seconds * 1000))
        self._alternate.timeout.connect(self._switch_language)
        if self.settings.language_mode == "alternate" and len(self._languages) > 1:
            self._alternate.start()
        self._slides = QTimer(self, interval=int(self.settings.media_seconds * 1000))
        self._slides.timeout.connect(self._next_slide)
        if self.settings.media is not None:
            self._scan_media()
            self._slides.start()
        self._audio_arrived.connect(self.set_audio, Qt.ConnectionType.QueuedConnection)
        # The hall code (docs/appointments.md, "On the lobby TV"): its QR and letters.
        self._hall_base = hall_base(config)
        self._hall_code = ""
        self._hall_expiry = QTimer(self, singleShot=True)
        self._hall_expiry.timeout.connect(self._hall_expired)
        if self._hall_base is not None:
            self._hall_arrived.connect(self._take_hall, Qt.ConnectionType.QueuedConnection)
            bridge.client.on_lobby_hall = self._hall_arrived.emit
        bridge.stateChanged.connect(self._take_state)
        bridge.connectionChanged.connect(self._take_connection)
        bridge.serverChanged.connect(self._take_server)
        if bridge.client.state is not None:  # a summary that came before the screen
            self._take_state(bridge.client.state)

    def close(self) -> None:
        """Stop the timers and the announcer, and stop listening (idempotent)."""
        for timer in (self._turn, self._alternate, self._slides, self._pages, self._hall_expiry):
            timer.stop()
        self.branch_clock.stop()

    # ----- from the bridge (GUI thread) --------------------------------------------------

    @Slot(object)
    def _take_state(self, state: BranchState) -> None:
        self._received = time.monotonic()
        new = self.lobby.take(state)
        if self.on_call is not None:
            for call in new:  # oldest first: the announcer speaks them in this order
                age = max(0.0, state.at - call.at)
                self.on_call(call, age)
        self._pending.extend(new)
        while len(self._pending) > MAX_WAITING_TURNS:  # they stay listed in the history
            self._pending.popleft()
        if new:
            self._schedule_turn()
        self._show_calls()  # a new call is listed at once, until its turn in the spotlight
        self.services.set_rows(self._services())
        notices = self._notices_now()
        if notices != self._notices:
            self._notices = notices
            self.noticesChanged.emit()
        self._has_state()

    def _has_state(self) -> None:
        if not self._had_state:
            self._had_state = True
            self.changed.emit()

    @Slot(bytes)
    def _take_hall(self, payload: bytes) -> None:
        """The hall code's message: its code shown until the next (cleared: none). One not
        followed by the next within HALL_KEEP of its window (a server stuck) goes."""
        code, period = "", 0.0
        try:
            message = json.loads(payload) if payload else {}
            code = str(message.get("code", ""))
            period = float(message["until"]) - float(message["from"])
        except (ValueError, KeyError, TypeError, AttributeError):
            code = ""
        if not HALL_CODE.fullmatch(code) or not 0 < period <= 3600:
            code = ""
        if code:
            self._hall_expiry.start(int(period * HALL_KEEP * 1000))
        if code != self._hall_code:
            self._hall_code = code
            self.hallChanged.emit()

    @Slot()
    def _hall_expired(self) -> None:
        self._hall_code = ""
        self.hallChanged.emit()

    def _hall_shown(self) -> str:
        """The hall code on screen: "" when none, or while the server is out of reach (a
        check-in needs it; the code may have changed since)."""
        return self._hall_code if self._online() else ""

    def hall_url(self) -> str:
        """The link in the hall QR ("" when none is shown)."""
        code = self._hall_shown()
        return f"{self._hall_base}{code}" if code and self._hall_base else ""

    @Slot(bool)
    def _take_connection(self, up: bool) -> None:
        self._broker_up = up
        self.changed.emit()
        self.hallChanged.emit()

    @Slot(bool)
    def _take_server(self, up: bool) -> None:
        self._server_up = up
        self.changed.emit()
        self.hallChanged.emit()

    # ----- the spotlight -------------------------------------------------------------------

    def _schedule_turn(self) -> None:
        if not self._highlighted:
            self._next_turn()
            return
        left = self._turn_started + self.turn_s - time.monotonic()
        if left < self._turn.remainingTime() / 1000 or not self._turn.isActive():
            self._turn.start(max(0, int(left * 1000)))

    @Slot()
    def _next_turn(self) -> None:
        if not self._pending:
            self._highlighted = False  # the last call stays on screen, no longer flashing
            self._show_calls(turned=True)
            return
        self._current = self._pending.popleft()
        self._highlighted = True
        self._serial += 1
        self._turn_started = time.monotonic()
        self._turn.start(int((self.turn_s if self._pending else self.hold_s) * 1000))
        self._show_calls(turned=True)

    def _show_calls(self, turned: bool = False) -> None:
        """The spotlight and the history as they are now; QML hears only of what changed."""
        self.history.set_rows(self._history())
        spot = self._spotlight()
        if turned or spot != self._spot:
            self._spot = spot
            self.spotlightChanged.emit()

    def _spotlight(self) -> dict:
        call = self._current or (self.lobby.calls[0] if self.lobby.calls else None)
        if call is None:
            return {}
        return {
            "number": call.number,
            "counter": call.counter_names,
            "recall": call.recalls > 0,
            "serial": self._serial,
        }

    def _history(self) -> list[dict]:
        shown = self._current or (self.lobby.calls[0] if self.lobby.calls else None)
        rest = [c for c in self.lobby.calls if shown is None or c.ticket != shown.ticket]
        return [
            {"number": c.number, "counter": c.counter_names, "recall": c.recalls > 0}
            for c in rest[: self.settings.history]
        ]

    # ----- what the screen shows -------------------------------------------------------------

    def _services(self) -> list[dict]:
        rows = []
        for row in self.lobby.rows():
            waiting, wait = {}, {}
            for lang, s in self._strings.items():
                waiting[lang] = (
                    s["waiting"].format(n=row.waiting) if row.waiting else s["waiting_none"]
                )
                if not row.accepting:
                    wait[lang] = s["closed"]
                elif row.serving == 0:
                    wait[lang] = s["counters_none"]
                elif row.low_min is None:
                    wait[lang] = s["wait_unknown"] if row.waiting else s["wait_now"]
                elif row.high_min <= 1:
                    wait[lang] = s["wait_now"]
                else:
                    wait[lang] = s["wait"].format(range=wait_range(lang, row.low_min, row.high_min))
            closed = not row.accepting or row.serving == 0
            rows.append(
                {"serviceId": row.id, "names": row.names,
                 "shortNames": self.config.short_names.get(row.id, {}), "count": row.waiting,
                 "waiting": waiting, "wait": wait, "late": row.late and not closed,
                 "closed": closed}
            )  # fmt: skip
        return rows

    def _notices_now(self) -> list[dict]:
        """The ticker: staff's notices, then paused counters and why (per language)."""
        now = self.lobby.state.at if self.lobby.state else 0
        # A notice given in each language is shown in the language shown; one text, as it is.
        items = [
            {lang: n.in_language(lang) for lang in self._languages} for n in self.lobby.notices(now)
        ]
        for away in self.lobby.away():
            item = {}
            for lang, s in self._strings.items():
                counter = away.names.get(lang, away.counter)
                reason = away.reason  # a code in each language's words; free text as it is
                if reason in PAUSE_REASONS:
                    reason = s[f"reason_{reason}"]
                item[lang] = (
                    s["away_reason"].format(counter=counter, reason=reason)
                    if reason
                    else s["away"].format(counter=counter)
                )
            items.append(item)
        return items + self._closed_services()

    def _closed_services(self) -> list[dict]:
        """Ticker items for services a manager closed for the day, with why (per language)."""
        state = self.lobby.state
        items = []
        for service in state.services if state else ():
            if service.closed is None:
                continue
            item = {}
            for lang, s in self._strings.items():
                name = service.names.get(lang, service.id)
                reason = service.closed.reason_in(lang)
                item[lang] = (
                    s["service_closed_reason"].format(service=name, reason=reason)
                    if reason
                    else s["service_closed"].format(service=name)
                )
            items.append(item)
        return items

    # ----- pages of lines ---------------------------------------------------------------

    @Slot(int)
    def setLinePages(self, pages: int) -> None:
        """How many pages the screen needs to show every line (from its layout): with more
        than one, they take turns, PAGE_S each."""
        pages = max(1, pages)
        if pages == self._line_pages:
            return
        self._line_pages = pages
        if pages > 1 and not self._pages.isActive():
            self._pages.start()
        elif pages == 1:
            self._pages.stop()
        if self._line_page >= pages:
            self._line_page = 0
        self.pageChanged.emit()

    @Slot()
    def _next_page(self) -> None:
        self._line_page = (self._line_page + 1) % self._line_pages
        self.pageChanged.emit()

    @Slot()
    def _switch_language(self) -> None:
        self._language_index = (self._language_index + 1) % len(self._languages)
        self.changed.emit()

    def _shown_languages(self) -> list[str]:
        if self.settings.language_mode == "alternate":
            return [self._languages[self._language_index]]
        return self._languages

    def _scan_media(self) -> None:
        folder = self.settings.media
        try:
            self._media = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGES)
        except OSError:
            self._media = []  # the folder went away: no slides until it is back

    @Slot()
    def _next_slide(self) -> None:
        self._media_index += 1
        if self._media_index >= len(self._media):
            self._scan_media()  # installers may add or remove pictures at any time
            self._media_index = 0
        self.changed.emit()

    def _media_url(self) -> str:
        if not self._media:
            return ""
        return QUrl.fromLocalFile(str(self._media[self._media_index % len(self._media)])).toString()

    def report_audio(self, status: str) -> None:
        """Any thread: the announcer's word on the audio output."""
        self._audio_arrived.emit(status)

    @Slot(str)
    def set_audio(self, status: str) -> None:
        """What the announcer says of the audio output (GUI thread)."""
        if status != self._audio:
            self._audio = status
            self.changed.emit()

    def _online(self) -> bool:
        return self._broker_up and self._server_up is not False

    def _logo(self) -> str:
        logo = self.settings.logo
        return QUrl.fromLocalFile(str(logo)).toString() if logo else ""

    branchNames = Property("QVariantMap", lambda self: self.config.names, constant=True)
    languages = Property("QVariantList", lambda self: self._languages, constant=True)
    shownLanguages = Property("QVariantList", _shown_languages, notify=changed)
    strings = Property("QVariantMap", lambda self: self._strings, constant=True)
    portrait = Property(bool, lambda self: self._portrait, constant=True)
    theme = Property(str, lambda self: self.settings.theme, constant=True)
    logo = Property(str, _logo, constant=True)
    online = Property(bool, _online, notify=changed)
    hasState = Property(bool, lambda self: self._had_state, notify=changed)
    spotlight = Property("QVariantMap", lambda self: self._spot, notify=spotlightChanged)
    highlighted = Property(bool, lambda self: self._highlighted, notify=spotlightChanged)
    historyModel = Property(QObject, lambda self: self.history, constant=True)
    servicesModel = Property(QObject, lambda self: self.services, constant=True)
    notices = Property("QVariantList", lambda self: self._notices, notify=noticesChanged)
    media = Property(str, _media_url, notify=changed)
    clock = Property(QObject, lambda self: self.branch_clock, constant=True)  # branch time
    audio = Property(str, lambda self: self._audio, notify=changed)
    linePage = Property(int, lambda self: self._line_page, notify=pageChanged)
    linePages = Property(int, lambda self: self._line_pages, notify=pageChanged)
    # The hall code shown ("" none), and its letters as read out: "ABCD EFGH".
    hallCode = Property(str, _hall_shown, notify=hallChanged)
    hallLetters = Property(
        str,
        lambda self: " ".join(re.findall(".{1,4}", self._hall_shown())),
        notify=hallChanged,
    )


class HallImages(QQuickImageProvider):
    """`image://hall/<code>`: the QR code of the hall link shown now (dark on white, its
    quiet zone included), drawn from qrcode's matrix (no Pillow on a display)."""

    def __init__(self, controller: DisplayController) -> None:
        super().__init__(QQuickImageProvider.ImageType.Image)
        self.controller = controller

    def requestImage(self, image_id: str, size, requested_size) -> QImage:  # noqa: N802
        """Qt's image provider API: the hall QR, as large as asked (whole modules)."""
        import qrcode

        qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
        qr.add_data(self.controller.hall_url() or " ")
        qr.make(fit=True)
        matrix = qr.get_matrix()
        side = requested_size.width() if requested_size.isValid() else 0
        module = max(1, side // len(matrix))
        image = QImage(module * len(matrix), module * len(matrix), QImage.Format.Format_RGB32)
        image.fill(QColor("white"))
        painter = QPainter(image)
        for y, row in enumerate(matrix):
            for x, dark in enumerate(row):
                if dark:
                    painter.fillRect(QRect(x * module, y * module, module, module), Qt.black)
        painter.end()
        if size is not None:
            size.setWidth(image.width())
            size.setHeight(image.height())
        return image
