"""Log lines about refused messages, a bounded number per device.

A device that misbehaves (a stuck button, a bug, an attacker with its credentials) must not
fill the disk with the server's log: each device gets `burst` lines per `window` seconds,
then one line saying it is being quietened, and at the end of the window one line with
how many were left out.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

UNKNOWN = "(unknown devices)"


class RefusalLog:
    """Rate-limited logging of refusals, keyed by device."""

    def __init__(
        self,
        logger: logging.Logger,
        burst: int = 10,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_devices: int = 256,
    ) -> None:
        self.logger = logger
        self.burst = burst
        self.window_s = window_s
        self.clock = clock
        self.max_devices = max_devices
        # device -> [window start, lines logged in it, lines left out]
        self._devices: OrderedDict[str, list] = OrderedDict()

    def note(
        self, device: str, message: str, *args, level: int = logging.WARNING, **kwargs
    ) -> None:
        now = self.clock()
        entry = self._devices.get(device)
        if entry is None or now - entry[0] >= self.window_s:
            if entry is not None:
                self._summarize(device, entry)
            entry = self._devices[device] = [now, 0, 0]
            while len(self._devices) > self.max_devices:
                self._summarize(*self._devices.popitem(last=False))
        self._devices.move_to_end(device)
        if entry[1] < self.burst:
            entry[1] += 1
            self.logger.log(level, message, *args, **kwargs)
            return
        entry[2] += 1
        if entry[2] == 1:
            self.logger.warning(
                "%s: more than %d refusals in %g s; counting the rest without logging them",
                device,
                self.burst,
                self.window_s,
            )

    def _summarize(self, device: str, entry: list) -> None:
        if entry[2]:
            self.logger.warning(
                "%s: %d more refusals were not logged (window of %g s)",
                device,
                entry[2],
                self.window_s,
            )
