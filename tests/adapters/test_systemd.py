"""The apps tell systemd they are ready and pet its watchdog only while they are healthy."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest

from nowserving.adapters.mqtt import MqttLink
from nowserving.adapters.store import EventLog
from nowserving.adapters.systemd import Notifier, Watchdog
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


def notify_socket(tmp_path) -> tuple[socket.socket, dict[str, str]]:
    """A datagram socket standing in for systemd's, and the environment that names it."""
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    return sock, {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "3000000"}


@pytest.mark.expect_log_exception
def test_the_watchdog_is_petted_only_while_the_app_is_healthy(tmp_path, caplog):
    """GIVEN a health check that fails for a while, then raises, then passes again
    WHEN the owner's loop ticks through it
    THEN systemd hears WATCHDOG=1 only for the healthy ticks, and one error is logged per
    unhealthy spell."""
    sock, env = notify_socket(tmp_path)
    answers = iter([True, False, False, RuntimeError("boom"), True])

    def healthy() -> bool:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    with sock:
        watchdog = Watchdog(Notifier(env), healthy)
        assert watchdog.interval == 1.0
        assert [watchdog.tick() for _ in range(5)] == [True, False, False, False, True]
        sock.setblocking(False)
        messages = []
        with contextlib.suppress(BlockingIOError):
            while True:
                messages.append(sock.recv(256).decode())
    assert messages == ["WATCHDOG=1", "WATCHDOG=1"]
    assert [r.message for r in caplog.records if r.levelname == "ERROR"] == [
        "unhealthy: no longer petting the watchdog, so systemd restarts this",
        "the health check failed",
    ]


def test_a_link_whose_network_thread_died_is_not_alive(broker, monkeypatch):
    """GIVEN a link whose message handler raises (a bug)
    WHEN a message arrives, the exception escapes into paho's thread and ends it
    THEN the link says it is not alive, so the apps stop petting the watchdog."""
    arrived = threading.Event()
    escaped = []  # what ended a thread: expected here, so it is caught, then checked
    monkeypatch.setattr(threading, "excepthook", lambda args: escaped.append(args.exc_value))

    def broken(*_):
        arrived.set()
        raise RuntimeError("a bug in a handler")

    with MqttLink(broker, "doomed", on_message=broken) as link:
        assert not link.alive  # not started
        link.subscribe("t/#")
        link.start()
        assert link.wait_connected(10) and link.alive
        paho_thread = next(t for t in threading.enumerate() if t.name.endswith("-doomed"))
        link.publish("t/x", b"1")
        assert arrived.wait(10)
        paho_thread.join(10)
        assert not link.alive
    assert [str(e) for e in escaped] == ["a bug in a handler"]
