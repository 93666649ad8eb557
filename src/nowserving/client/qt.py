"""The Qt side of a device: what a `BranchClient` receives, re-emitted as signals on the
GUI thread, and commands sent without ever waiting on the network.

Callbacks from paho's thread (and the client's retry thread) never touch a Qt object
beyond emitting `_arrived`, a signal connected with Qt.QueuedConnection: Qt copies the
call into the GUI thread's event loop, and only there are the public signals emitted. So
every slot connected to them — QML or Python, with or without a QObject — runs on the GUI
thread.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from PySide6.QtCore import (
    Property,
    QAbstractListModel,
    QByteArray,
    QCoreApplication,
    QEventLoop,
    QModelIndex,
    QObject,
    QSize,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtQuick import QQuickView

from nowserving.adapters.systemd import Notifier, Watchdog
from nowserving.client.branch import DEADLINE_S, BranchClient
from nowserving.errors import NowservingError
from nowserving.i18n import FONT
from nowserving.protocol.views import BranchState, EventView, Line, Reply


class BranchClock(QObject):
    """The time a screen shows, in the branch's zone whatever the device's zone is:
    `text` ("HH:MM"), renewed as each minute begins."""

    changed = Signal()

    def __init__(
        self, zone: str, clock: Callable[[], float] = time.time, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._zone, self._clock = ZoneInfo(zone), clock
        self._text = ""
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._tick)
        self._tick()

    def now(self) -> datetime:
        """The branch's local time now."""
        return datetime.fromtimestamp(self._clock(), self._zone)

    @Slot()
    def _tick(self) -> None:
        now = self.now()
        text = now.strftime("%H:%M")
        if text != self._text:
            self._text = text
            self.changed.emit()
        # Wake when the next minute begins (by the branch clock; at least every 10 s).
        self._timer.start(int(min(10.0, 60.0 - now.second - now.microsecond / 1e6) * 1000) + 5)

    def stop(self) -> None:
        """Stop renewing (before the screen goes)."""
        self._timer.stop()

    text = Property(str, lambda self: self._text, notify=changed)


class QtBranchBridge(QObject):
    """Signals for one `BranchClient`; create it on the GUI thread."""

    stateChanged = Signal(object)  # BranchState
    lineChanged = Signal(object)  # Line
    eventReceived = Signal(object)  # EventView
    replyReceived = Signal(object)  # Reply (also "unreachable" ones)
    connectionChanged = Signal(bool)
    serverChanged = Signal(bool)  # the server's retained status (clients with watch_server)
    statusChanged = Signal(object)  # DeviceStatus of another device (watch_statuses)

    _arrived = Signal(str, object)  # (kind, payload), from any thread

    def __init__(self, client: BranchClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self._arrived.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        client.on_state = self._from_network("state")
        client.on_line = self._from_network("line")
        client.on_event = self._from_network("event")
        client.on_reply = self._from_network("reply")
        client.on_connection = self._from_network("connection")
        client.on_server = self._from_network("server")
        client.on_status = self._from_network("status")

    def _from_network(self, kind: str):
        # A callback the client already had (e.g. a device's lamps) keeps being called.
        previous = getattr(self.client, f"on_{kind}")

        def hand_over(payload: BranchState | Line | EventView | Reply | bool) -> None:
            if previous is not None:
                previous(payload)
            self._arrived.emit(kind, payload)  # network thread -> GUI thread (queued)

        hand_over.__qualname__ = f"QtBranchBridge.{kind}"
        return hand_over

    @Slot(str, object)
    def _deliver(self, kind: str, payload: object) -> None:
        {
            "state": self.stateChanged,
            "line": self.lineChanged,
            "event": self.eventReceived,
            "reply": self.replyReceived,
            "connection": self.connectionChanged,
            "server": self.serverChanged,
            "status": self.statusChanged,
        }[kind].emit(payload)

    def send(
        self,
        kind: str,
        args: dict | None = None,
        *,
        command_id: str | None = None,
        deadline_s: float = DEADLINE_S,
    ) -> str:
        """Send without waiting; the outcome comes as `replyReceived` with this id (code
        `unreachable` if the server does not answer within `deadline_s`)."""
        command_id = command_id or self.client.new_command_id()
        self.client.send(kind, args, command_id=command_id, deadline_s=deadline_s)
        return command_id


class RowsModel(QAbstractListModel):
    """Rows of dicts for a QML Repeater or ListView, each key a role. New rows of the same
    count update the delegates in place (no delegate is rebuilt); rows equal to the shown
    ones change nothing at all."""

    countChanged = Signal()

    def __init__(self, roles: tuple[str, ...], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._roles = {Qt.ItemDataRole.UserRole + 1 + i: name for i, name in enumerate(roles)}
        self._rows: list[dict] = []

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's API)
        """Qt's model API: how many rows."""
        return 0 if parent.isValid() else len(self._rows)

    def roleNames(self) -> dict[int, QByteArray]:
        """Qt's model API: the role names QML reads."""
        return {role: QByteArray(name.encode()) for role, name in self._roles.items()}

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        """Qt's model API: one row's value of one role."""
        if not index.isValid() or role not in self._roles:
            return None
        return self._rows[index.row()][self._roles[role]]

    def set_rows(self, rows: list[dict]) -> None:
        """Make the model hold `rows`, telling QML only what changed."""
        if rows == self._rows:
            return
        if len(rows) == len(self._rows):
            pairs = zip(rows, self._rows, strict=True)
            changed = [i for i, (new, old) in enumerate(pairs) if new != old]
            self._rows = rows
            self.dataChanged.emit(self.index(changed[0]), self.index(changed[-1]))
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()
        self.countChanged.emit()

    @property
    def rows(self) -> list[dict]:
        """The rows as they are now."""
        return self._rows

    count = Property(int, lambda self: len(self._rows), notify=countChanged)


def gui_application(offscreen: bool = False) -> QGuiApplication:
    """The process's Qt application (made on first use) with the font of screens and
    tickets, so CJK text has glyphs wherever the device runs. `offscreen`: draw without a
    screen (a screenshot, a headless kiosk) unless there is a Wayland session to draw on;
    it must be asked before the application is made."""
    if offscreen and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    if app.property("nowservingFont") is None:  # once per application
        app.setProperty("nowservingFont", QFontDatabase.addApplicationFont(str(FONT)))
    return app


def quick_view(
    qml_dir: Path, module: str, properties: dict, size: QSize, providers: dict | None = None
) -> QQuickView:
    """A device's QML module (named as its folder) in a view, its controllers injected;
    raises NowservingError if the QML does not load, so the app exits non-zero."""
    view = QQuickView()
    view.engine().addImportPath(str(qml_dir))
    for name, provider in (providers or {}).items():
        view.engine().addImageProvider(name, provider)
    view.setResizeMode(QQuickView.ResizeMode.SizeRootObjectToView)
    view.setInitialProperties(properties)
    view.loadFromModule(module, "Main")
    if view.status() != QQuickView.Status.Ready:
        errors = "; ".join(e.toString() for e in view.errors())
        raise NowservingError(f"the {module} QML did not load: {errors}")
    view.resize(size)
    return view


def screenshot(view: QQuickView, bridge: QtBranchBridge, path: Path, wait_ms: int = 3000) -> int:
    """Show `view` (offscreen when there is no screen), give the branch's state a moment to
    arrive, and save a PNG; returns the exit status."""
    loop = QEventLoop()
    bridge.stateChanged.connect(lambda _: QTimer.singleShot(300, loop.quit))
    QTimer.singleShot(wait_ms, loop.quit)
    view.show()
    loop.exec()
    image = view.grabWindow()
    if image.isNull() or not image.save(str(path)):
        print(f"could not write the screenshot {path}")
        return 1
    print(f"wrote {path} ({image.width()}x{image.height()})")
    return 0


def start_watchdog(healthy: Callable[[], bool], notifier: Notifier | None = None) -> QTimer | None:
    """Tell systemd the app is up, then pet its watchdog from a timer on the GUI thread while
    `healthy()` holds: a frozen GUI stops the petting as surely as an unhealthy app, and
    systemd restarts the service. Outside systemd it does nothing. Call it on the GUI thread,
    once the window is up."""
    watchdog = Watchdog(notifier or Notifier(), healthy)
    watchdog.notifier.ready()
    if watchdog.interval is None:
        return None
    timer = QTimer(QCoreApplication.instance(), interval=max(1, int(watchdog.interval * 1000)))
    # A lambda, not the bound method: PySide would hold `watchdog` only weakly.
    timer.timeout.connect(lambda: watchdog.tick())
    timer.start()
    return timer
