"""The kiosk's and display's main process relays the app's sd_notify to systemd's socket."""

from __future__ import annotations

import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path

import pytest

from nowserving.adapters.notify_relay import Relay, main

# The app's side: what the kiosk under cage sends, then its exit.
APP = """
import os, socket, sys
assert "WATCHDOG_PID" not in os.environ, "a WATCHDOG_PID the app is not"
assert os.environ["XDG_RUNTIME_DIR"] == sys.argv[1], "cage's socket goes in the runtime dir"
print(os.environ["WATCHDOG_USEC"], flush=True)
with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
    s.sendto(b"READY=1\\nSTATUS=kiosk-1 up\\nMAINPID=1", os.environ["NOTIFY_SOCKET"])
    s.sendto(b"WATCHDOG=1", os.environ["NOTIFY_SOCKET"])
    s.sendto(b"FDSTORE=1", os.environ["NOTIFY_SOCKET"])
    s.sendto(b"WATCHDOG=1", os.environ["NOTIFY_SOCKET"])
sys.exit(3)
"""


@pytest.fixture
def short_dir():
    """A directory whose socket paths fit AF_UNIX's 108 bytes (pytest's tmp_path under xdist
    may not; on a device the relay's is /run/nowserving-kiosk)."""
    path = tempfile.mkdtemp(prefix="ns-relay-", dir="/tmp")
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


def test_the_apps_messages_reach_systemd_from_the_relay(short_dir, monkeypatch):
    tmp_path = short_dir
    path = str(tmp_path / "systemd-notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(path)
        systemd.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        monkeypatch.setenv("WATCHDOG_USEC", "20000000")
        monkeypatch.setenv("WATCHDOG_PID", "1")
        monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/988")  # pam_systemd's, hidden
        runtime = tmp_path / "runtime"
        runtime.mkdir()
        # The command's status is the relay's: systemd sees the app's failure.
        command = [sys.executable, "-c", APP, str(runtime)]
        assert main(["--runtime-dir", str(runtime), "--", *command]) == 3
        messages = [systemd.recv(256) for _ in range(3)]
        systemd.setblocking(False)
        rest = [m for m in iter(lambda: _recv(systemd), None)]
    # MAINPID= and FDSTORE= are not passed on: the relay stays the unit's main process.
    assert messages == [b"READY=1\nSTATUS=kiosk-1 up", b"WATCHDOG=1", b"WATCHDOG=1"]
    assert rest == []
    assert list(runtime.iterdir()) == []  # its private socket removed


def _recv(sock: socket.socket) -> bytes | None:
    try:
        return sock.recv(256)
    except BlockingIOError:
        return None


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGABRT])  # a stop, the watchdog's
def test_a_stop_reaches_the_command_and_its_status_is_returned(stop):
    # No NOTIFY_SOCKET: outside systemd the relay only runs the command.
    relay = Relay([sys.executable, "-c", "import time; time.sleep(60)"], {})
    try:
        relay.start()
        relay.stop(stop)
        assert relay.run(stop_timeout=30) == 128 + signal.SIGTERM
    finally:
        relay.close()
