"""The Qt bridge, offscreen with pytest-qt: what paho's thread receives arrives as signals
on the GUI thread."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt, QThread

from nowserving.client import BranchClient
from nowserving.client.qt import QtBranchBridge


def test_state_events_and_replies_arrive_on_the_gui_thread(qtbot, qapp, server, broker):
    """GIVEN a bridge made on the GUI thread WHEN the server publishes (received on paho's
    thread) THEN stateChanged, eventReceived and replyReceived are emitted on the GUI
    thread, with typed payloads."""
    gui = qapp.thread()
    threads: dict[str, QThread] = {}
    client = BranchClient(broker, "pudong", "kiosk-1", watch_events=True)
    bridge = QtBranchBridge(client)
    # A direct connection runs the slot in whatever thread emits: only the bridge's own
    # hop can make that the GUI thread.
    bridge.stateChanged.connect(
        lambda s: threads.setdefault("state", QThread.currentThread()),
        Qt.ConnectionType.DirectConnection,
    )
    bridge.eventReceived.connect(lambda e: threads.setdefault("event", QThread.currentThread()))
    bridge.replyReceived.connect(lambda r: threads.setdefault("reply", QThread.currentThread()))
    with qtbot.waitSignal(bridge.connectionChanged, timeout=10_000) as connected:
        client.start(wait_s=None)  # an app never waits for the network
    assert connected.args == [True]
    try:
        with qtbot.waitSignal(bridge.replyReceived, timeout=10_000) as replied:
            command_id = bridge.send("issue_ticket", {"service": "cash"})
        reply = replied.args[0]
        assert reply.id == command_id and reply.ok and reply.ticket["number"] == "A001"
        qtbot.waitUntil(lambda: "state" in threads and "event" in threads, timeout=10_000)
        assert client.link._client._thread is not threading.current_thread()  # paho's own
        assert threads == {"state": gui, "event": gui, "reply": gui}
    finally:
        client.close()


@pytest.mark.qt_no_exception_capture
def test_a_slot_that_raises_does_not_stop_the_bridge(qtbot, server, broker):
    """GIVEN a slot that raises on the first state WHEN more states come THEN they are
    still delivered (PySide reports the slot's exception; the bridge goes on)."""
    client = BranchClient(broker, "pudong", "kiosk-1")
    bridge = QtBranchBridge(client)
    seen = []

    def slot(state):
        seen.append(state.seq)
        if len(seen) == 1:
            raise RuntimeError("slot bug (injected)")

    bridge.stateChanged.connect(slot)
    client.start(wait_s=None)
    try:
        qtbot.waitUntil(lambda: len(seen) >= 1, timeout=10_000)
        bridge.send("issue_ticket", {"service": "cash"})
        qtbot.waitUntil(lambda: len(seen) >= 2, timeout=10_000)
    finally:
        client.close()
