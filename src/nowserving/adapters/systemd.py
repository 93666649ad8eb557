"""systemd's notify protocol (sd_notify), spoken directly over its datagram socket.

Outside systemd (no NOTIFY_SOCKET) every call does nothing.
"""

from __future__ import annotations

import os
import socket
from contextlib import suppress


class Notifier:
    """Tells systemd the service is ready, and pets its watchdog."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # an abstract socket
            address = "\0" + address[1:]
        self._address = address or None
        usec = env.get("WATCHDOG_USEC", "")
        # Pet at a third of the timeout, so one slow pass does not trip it.
        self.watchdog_interval = int(usec) / 3e6 if usec.isdigit() else None

    def notify(self, state: str) -> None:
        if self._address is None:
            return
        # If systemd went away there is nobody to tell: a failed send is not an error.
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock, suppress(OSError):
            sock.sendto(state.encode(), self._address)

    def ready(self, status: str = "") -> None:
        self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def watchdog(self) -> None:
        self.notify("WATCHDOG=1")
