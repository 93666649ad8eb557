"""systemd's notify protocol (sd_notify), spoken directly over its datagram socket.

Outside systemd (no NOTIFY_SOCKET) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from contextlib import suppress

log = logging.getLogger(__name__)


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
        """Send `state` to systemd's notify socket (nothing when not under systemd)."""
        if self._address is None:
            return
        # If systemd went away there is nobody to tell: a failed send is not an error.
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock, suppress(OSError):
            sock.sendto(state.encode(), self._address)

    def ready(self, status: str = "") -> None:
        """READY=1: the service is up (with a status line)."""
        self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def watchdog(self) -> None:
        """WATCHDOG=1: the service is still healthy."""
        self.notify("WATCHDOG=1")


class Watchdog:
    """Pets systemd's watchdog on each `tick()`, but only while `healthy()` says so.

    The owner calls `tick()` every `interval` seconds from the loop whose stall should get
    the process restarted (a GUI app: a timer on its GUI thread), so that a frozen loop and
    an unhealthy app alike stop the petting and systemd restarts the service.
    """

    def __init__(self, notifier: Notifier, healthy: Callable[[], bool]) -> None:
        self.notifier = notifier
        self.healthy = healthy
        self.failing = False

    @property
    def interval(self) -> float | None:
        """Seconds between ticks; None outside systemd or without WatchdogSec=."""
        return self.notifier.watchdog_interval

    def tick(self) -> bool:
        """Pet the watchdog if the app is healthy; returns whether it did."""
        try:
            ok = bool(self.healthy())
        except Exception:
            log.exception("the health check failed")
            ok = False
        if ok:
            self.notifier.watchdog()
        elif not self.failing:
            log.error("unhealthy: no longer petting the watchdog, so systemd restarts this")
        self.failing = not ok
        return ok
