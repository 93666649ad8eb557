"""The Qt bridge, offscreen with pytest-qt: what paho's thread receives arrives as signals
on the GUI thread."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest
from PySide6.QtCore import Qt, QThread

from nowserving.adapters.systemd import Notifier
from nowserving.client import BranchClient
from nowserving.client.qt import QtBranchBridge, start_watchdog


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


def test_the_gui_thread_pets_the_watchdog_only_while_healthy(qtbot, tmp_path):
    """GIVEN an app under systemd (a notify socket and a 60 ms watchdog)
    WHEN it calls start_watchdog once its window is up
    THEN systemd hears READY=1, then WATCHDOG=1 from a timer on the GUI thread while the app
    is healthy, and no more once it is not, though the timer still ticks."""
    path = str(tmp_path / "notify")
    healthy, ticks, messages = [True], [], []

    def check() -> bool:
        ticks.append(threading.get_ident())
        return healthy[0]

    def received() -> list[str]:
        with contextlib.suppress(BlockingIOError):
            while True:
                messages.append(sock.recv(256).decode())
        return messages

    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.setblocking(False)
        timer = start_watchdog(check, Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "60000"}))
        try:
            qtbot.waitUntil(lambda: received().count("WATCHDOG=1") >= 2, timeout=5_000)
            assert messages[0] == "READY=1"
            assert set(ticks) == {threading.main_thread().ident}  # the GUI thread
            healthy[0] = False  # ticks run only in the event loop, so none is half done
            pets, seen = messages.count("WATCHDOG=1"), len(ticks)
            qtbot.waitUntil(lambda: len(ticks) >= seen + 3, timeout=5_000)
            assert received().count("WATCHDOG=1") == pets
        finally:
            timer.stop()


def test_outside_systemd_start_watchdog_makes_no_timer(qtbot):
    assert start_watchdog(lambda: True, Notifier({})) is None
