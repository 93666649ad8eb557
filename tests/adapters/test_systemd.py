"""The server tells systemd it is ready and pets the watchdog from its apply loop."""

from __future__ import annotations

import socket

from nowserving.adapters.store import EventLog
from nowserving.adapters.systemd import Notifier
from nowserving.server.app import BranchServer


def test_ready_and_watchdog_reach_the_notify_socket(tmp_path, example_config, broker, clock):
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(5)
        notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "600000"})
        assert notifier.watchdog_interval == 0.2
        with BranchServer(
            example_config, EventLog(tmp_path / "e.sqlite"), broker, clock=clock, notifier=notifier
        ):
            messages = [sock.recv(256).decode() for _ in range(3)]
    assert messages[0].startswith("READY=1\nSTATUS=branch pudong")
    assert messages[1:] == ["WATCHDOG=1", "WATCHDOG=1"]


def test_outside_systemd_nothing_is_sent():
    notifier = Notifier({})
    assert notifier.watchdog_interval is None
    notifier.ready()  # no socket: a no-op, no error
    notifier.watchdog()
