"""The screen above one counter ("请 A012 号", docs/display.md "The counter display"): the
counter's name, the number it calls or serves, or that it is paused or closed, in every
shown language, from the retained summary alone (`CounterWatch`). A new call or recall
flashes for FLASH_S. Nothing here waits on the network: the GUI thread only takes what
the bridge delivers and what timers say.

`build_counter` starts one, like `launcher.build` starts a lobby display; it publishes the
display's retained status (with its last will), naming the counter.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Property, QObject, QSize, QTimer, Signal, Slot
from PySide6.QtQuick import QQuickView

from nowserving.client import BranchClient, broker_for
from nowserving.client.qt import BranchClock, QtBranchBridge, gui_application, quick_view
from nowserving.config import BranchConfig
from nowserving.config.device import DeviceConfig, DisplaySettings
from nowserving.display.counter_view import CALLING, CONNECTING, PAUSED, SERVING, CounterWatch
from nowserving.display.model import FRESH_S
from nowserving.i18n import catalog
from nowserving.launch import App
from nowserving.protocol.views import BranchState
from nowserving.protocol.vocabulary import PAUSE_REASONS

QML = Path(__file__).parent / "qml"
FLASH_S = 10.0  # a new call (or recall) is highlighted this long
SIZE = (1280, 400)  # a bar display's, when none is asked for (a screenshot)


class CounterScreen(QObject):
    """The state of the screen above counter `counter_id`."""

    changed = Signal()  # connection, language: the screen's frame
    shownChanged = Signal()  # what the counter does (mode, number, texts, flashing)
    called = Signal()  # a new call or recall: the screen flashes

    def __init__(
        self,
        config: BranchConfig,
        bridge: QtBranchBridge,
        counter_id: str,
        settings: DisplaySettings | None = None,
        fresh_s: float = FRESH_S,
        flash_s: float = FLASH_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.config, self.bridge, self.counter_id = config, bridge, counter_id
        self.settings = settings or DisplaySettings()
        self.branch_clock = BranchClock(config.rules.timezone, clock, self)
        self.watch = CounterWatch(counter_id, fresh_s)
        spec = config.rules.counters.get(counter_id)
        self._names = dict(spec.names) if spec else {}
        self._languages = list(self.settings.languages or config.rules.languages)
        self._strings = {lang: catalog(lang)["counter_screen"] for lang in self._languages}
        self._reasons = {lang: catalog(lang)["display"] for lang in self._languages}
        self._language_index = 0
        self._broker_up = False
        self._server_up: bool | None = None
        self._flashing = False
        self._serial = 0  # counts calls, so QML restarts its flash on each
        self._texts: tuple[dict, dict] = ({}, {})
        self._flash = QTimer(self, singleShot=True, interval=int(flash_s * 1000))
        self._flash.timeout.connect(self._flash_over)
        # Languages take turns when so set, or when a text cannot hold them all (QML
        # decides that); the turn is kept here either way.
        self._alternate = QTimer(self, interval=int(self.settings.alternate_seconds * 1000))
        self._alternate.timeout.connect(self._switch_language)
        if len(self._languages) > 1:
            self._alternate.start()
        self._show()
        bridge.stateChanged.connect(self._take_state)
        bridge.connectionChanged.connect(self._take_connection)
        bridge.serverChanged.connect(self._take_server)
        if bridge.client.state is not None:  # a summary that came before the screen
            self._take_state(bridge.client.state)

    def close(self) -> None:
        """Stop the timers (idempotent)."""
        for timer in (self._flash, self._alternate):
            timer.stop()
        self.branch_clock.stop()

    # ----- from the bridge (GUI thread) --------------------------------------------------

    @Slot(object)
    def _take_state(self, state: BranchState) -> None:
        had_state = self.watch.state is not None
        new_call = self.watch.take(state)
        if new_call:
            self._serial += 1
            self._flashing = True
            self._flash.start()
        elif self.watch.shown.mode != CALLING:
            self._flash.stop()
            self._flashing = False
        self._show(force=new_call)
        if new_call:
            self.called.emit()
        if not had_state:
            self.changed.emit()

    @Slot(bool)
    def _take_connection(self, up: bool) -> None:
        self._broker_up = up
        self.changed.emit()

    @Slot(bool)
    def _take_server(self, up: bool) -> None:
        self._server_up = up
        self.changed.emit()

    @Slot()
    def _flash_over(self) -> None:
        self._flashing = False
        self.shownChanged.emit()

    @Slot()
    def _switch_language(self) -> None:
        self._language_index = (self._language_index + 1) % len(self._languages)
        self.changed.emit()

    # ----- what the screen shows -----------------------------------------------------------

    def _show(self, force: bool = False) -> None:
        texts = self._texts_now()
        if force or texts != self._texts:
            self._texts = texts
            self.shownChanged.emit()

    def _texts_now(self) -> tuple[dict, dict]:
        """(headline, caption), each language -> text. The headline stands in the number's
        place when there is no number (paused, closed, idle); the caption goes under it."""
        shown = self.watch.shown
        headline, caption = {}, {}
        for lang, s in self._strings.items():
            if shown.mode in (CALLING, SERVING):
                key = "recall" if shown.mode == CALLING and shown.recalls else shown.mode
                caption[lang] = s[key].format(number=shown.number)
            elif shown.mode == PAUSED:
                headline[lang] = s["paused"]
                reason = self._reason(lang, shown.reason)
                caption[lang] = (
                    s["paused_reason"].format(reason=reason) if reason else s["paused_hint"]
                )
            elif shown.mode == CONNECTING:
                headline[lang], caption[lang] = s["connecting"], ""
            else:  # idle, closed, unknown
                headline[lang], caption[lang] = s[shown.mode], s[f"{shown.mode}_hint"]
        return headline, caption

    def _reason(self, lang: str, reason: str | None) -> str | None:
        """A pause reason in `lang`'s words (a code), or as staff's tool sent it."""
        if reason in PAUSE_REASONS:
            return self._reasons[lang][f"reason_{reason}"]
        return reason

    def _online(self) -> bool:
        return self._broker_up and self._server_up is not False

    def _number(self) -> str:
        shown = self.watch.shown
        return shown.number if shown.mode in (CALLING, SERVING) else ""

    counterId = Property(str, lambda self: self.counter_id, constant=True)
    counterNames = Property("QVariantMap", lambda self: self._names, constant=True)
    languages = Property("QVariantList", lambda self: self._languages, constant=True)
    languageIndex = Property(int, lambda self: self._language_index, notify=changed)
    alternate = Property(
        bool, lambda self: self.settings.language_mode == "alternate", constant=True
    )
    strings = Property("QVariantMap", lambda self: self._strings, constant=True)
    theme = Property(str, lambda self: self.settings.theme, constant=True)
    online = Property(bool, _online, notify=changed)
    hasState = Property(bool, lambda self: self.watch.state is not None, notify=changed)
    clock = Property(QObject, lambda self: self.branch_clock, constant=True)  # branch time
    mode = Property(str, lambda self: self.watch.shown.mode, notify=shownChanged)
    number = Property(str, _number, notify=shownChanged)
    recall = Property(bool, lambda self: self.watch.shown.recalls > 0, notify=shownChanged)
    headline = Property("QVariantMap", lambda self: self._texts[0], notify=shownChanged)
    caption = Property("QVariantMap", lambda self: self._texts[1], notify=shownChanged)
    flashing = Property(bool, lambda self: self._flashing, notify=shownChanged)
    serial = Property(int, lambda self: self._serial, notify=shownChanged)


class CounterDisplayApp(App):
    """A running counter display: `controller` and `view` (not shown yet)."""

    bridge: QtBranchBridge
    controller: CounterScreen | None = None
    view: QQuickView | None = None

    def __init__(self, client: BranchClient, counter_id: str) -> None:
        super().__init__(client)
        self.counter_id = counter_id

    def status(self) -> dict:
        """The display's fields of its retained status (docs/display.md, "Its status")."""
        return {"audio": "audio: off", "screen": "on", "counter": self.counter_id}


def build_counter(
    config: BranchConfig,
    device: DeviceConfig,
    counter_id: str,
    *,
    clock: Callable[[], float] = time.time,
    view_size: tuple[int, int] | None = None,
    fresh_s: float = FRESH_S,
    flash_s: float = FLASH_S,
) -> CounterDisplayApp:
    """The display `device` as the screen above `counter_id`, connecting (silent: the
    lobby speaks the calls). `fresh_s`: how young a call in the first summary must be to
    flash (0 for a screenshot, a picture of now)."""
    gui_application()
    settings = device.display or DisplaySettings()
    client = BranchClient(broker_for(device), config.rules.branch_id, device.id,
                          watch_server=True)  # fmt: skip
    app = CounterDisplayApp(client, counter_id)
    client.status = app.status
    with app.building():
        app.bridge = QtBranchBridge(client)
        controller = CounterScreen(config, app.bridge, counter_id, settings, fresh_s=fresh_s,
                                   flash_s=flash_s, clock=clock)  # fmt: skip
        app.controller = app.owns(controller)
        size = QSize(*(view_size or SIZE))
        app.view = app.owns(quick_view(QML, "CounterScreen", {"counterScreen": controller}, size))
        controller.setParent(app.view)  # so the screen goes before what it shows
        app.start()
    return app
