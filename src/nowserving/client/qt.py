"""The Qt side of a device: what a `BranchClient` receives, re-emitted as signals on the
GUI thread, and commands sent without ever waiting on the network.

Callbacks from paho's thread (and the client's retry thread) never touch a Qt object
beyond emitting `_arrived`, a signal connected with Qt.QueuedConnection: Qt copies the
call into the GUI thread's event loop, and only there are the public signals emitted. So
every slot connected to them — QML or Python, with or without a QObject — runs on the GUI
thread.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal, Slot

from nowserving.client.branch import DEADLINE_S, BranchClient
from nowserving.protocol.views import BranchState, EventView, Line, Reply


class QtBranchBridge(QObject):
    """Signals for one `BranchClient`; create it on the GUI thread."""

    stateChanged = Signal(object)  # BranchState
    lineChanged = Signal(object)  # Line
    eventReceived = Signal(object)  # EventView
    replyReceived = Signal(object)  # Reply (also "unreachable" ones)
    connectionChanged = Signal(bool)

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

    def _from_network(self, kind: str):
        def hand_over(payload: BranchState | Line | EventView | Reply | bool) -> None:
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
