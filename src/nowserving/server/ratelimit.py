"""What one device may cost the server: commands per second (`Budget`), and log lines about
refused messages (`RefusalLog`), both bounded per device.

A stuck button, a bug or an attacker with a device's password can send thousands of
commands a second. Past its budget a device's commands are refused without being applied,
so without a row in the event log each, and cost the apply loop a topic lookup; the
other devices' commands go on being answered in their normal time (bench/flood.py).

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
COMMANDS_PER_S = 20.0  # what a device may send on average: a kiosk issues one every few s
COMMANDS_AT_ONCE = 200  # ... and at once: a kiosk replaying its offline tickets
# Refused in one second past this, a device floods: the server stops listening to it for a
# while (the broker then drops its commands; Mosquitto has no limit per sender of its own).
FLOODING = 100


class Budget:
    """A token bucket per device: `burst` commands at once, refilled at `rate` a second."""

    def __init__(
        self,
        rate: float = COMMANDS_PER_S,
        burst: int = COMMANDS_AT_ONCE,
        clock: Callable[[], float] = time.monotonic,
        max_devices: int = 1024,
    ) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.max_devices = max_devices
        self._tokens: OrderedDict[str, list[float]] = OrderedDict()  # device -> [tokens, at]
        self.refused: dict[str, int] = {}  # device -> commands refused since the start
        self._told: dict[str, float] = {}  # device -> when it was last told it is over
        self._second: dict[str, list[float]] = {}  # device -> [second began, refused in it]

    def allow(self, device: str) -> bool:
        """Take one command's worth from `device`'s budget; False when there is none."""
        now = self.clock()
        bucket = self._tokens.get(device)
        if bucket is None:
            bucket = self._tokens[device] = [float(self.burst), now]
            while len(self._tokens) > self.max_devices:
                self._tokens.popitem(last=False)
        self._tokens.move_to_end(device)
        bucket[0] = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return True
        self.refused[device] = self.refused.get(device, 0) + 1
        second = self._second.get(device)
        if second is None or now - second[0] >= 1.0:
            second = self._second[device] = [now, 0]
        second[1] += 1
        return False

    def flooding(self, device: str) -> bool:
        """Whether `device` has had more than FLOODING commands refused within a second."""
        second = self._second.get(device)
        return second is not None and second[1] > FLOODING

    def tell(self, device: str) -> bool:
        """Whether to answer `device`'s refused command: once a second at most, so that a
        flood does not make a flood of replies (a device retries what goes unanswered)."""
        now = self.clock()
        if now - self._told.get(device, -1.0) < 1.0:
            return False
        self._told[device] = now
        return True

    def throttled(self) -> dict[str, int]:
        """The devices refused for being over budget, and how often (the worst ten)."""
        worst = sorted(self.refused.items(), key=lambda kv: -kv[1])[:10]
        return dict(worst)


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
        """Log a refusal of `device`'s unless it has had its share of lines in this window."""
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
