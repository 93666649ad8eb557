"""Buttons and lamps on GPIO pins through gpiozero, with the pin factory passed in
(gpiozero's `MockFactory` in tests and the demo, never chosen silently).

Real contacts bounce, and `MockFactory` ignores gpiozero's `bounce_time`, so debouncing is
done here: after a press, more presses of the same button within `bounce_s` are the same
press. Callbacks come from gpiozero's threads; `on_press` must only hand the name over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from gpiozero import LED, Button
from gpiozero.pins import Factory
from gpiozero.pins.mock import MockFactory

from nowserving.config.hardware import GpioSettings
from nowserving.errors import NowservingError

log = logging.getLogger(__name__)


class GpioError(NowservingError, OSError):
    """The pins cannot be set up (no such pin factory, a pin in use, no GPIO here)."""


def pin_factory(name: str) -> Factory | None:
    """The factory the device config names: None lets gpiozero choose (lgpio on a Pi)."""
    if name == "mock":
        return MockFactory()
    if name == "lgpio":
        try:
            from gpiozero.pins.lgpio import LGPIOFactory

            return LGPIOFactory()
        except Exception as err:  # ImportError, or lgpio finding no GPIO chip
            raise GpioError(f"the lgpio pin factory is not usable here: {err}") from err
    return None


def factory_for(settings: GpioSettings, given: Factory | None = None) -> Factory | None:
    """The pin factory for a device's `[gpio]`: the one handed in (a test's or the demo's
    MockFactory), else the one the device file names."""
    return given if given is not None else pin_factory(settings.pin_factory)


def pins_status(panel: Panel | None) -> str:
    """What a device's status says of its pins: `none` (no `[gpio]`, so none were opened),
    `mock` (gpiozero's MockFactory: the demo, a test; no finger reaches them) or `ok`."""
    if panel is None:
        return "none"
    devices = [*panel.buttons.values(), *panel.leds.values()]
    return "mock" if any(isinstance(d.pin_factory, MockFactory) for d in devices) else "ok"


class Panel:
    """Named buttons and lamps. `on_press(name)` is called once per press, debounced.

    A button named in `holdable` has two meanings: held for `settings.hold_s` it calls
    `on_hold(name)` (and not `on_press`); otherwise `on_press(name)` comes when it is let
    go. Other buttons report the press itself, at once."""

    def __init__(
        self,
        settings: GpioSettings,
        on_press: Callable[[str], None],
        factory: Factory | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_hold: Callable[[str], None] | None = None,
        holdable: frozenset[str] = frozenset(),
    ) -> None:
        self._on_press = on_press
        self._on_hold = on_hold
        self._held: set[str] = set()
        self._clock = clock
        self._bounce_s = settings.bounce_ms / 1000
        self._last: dict[str, float] = {}
        self._modes: dict[str, str] = {}  # lamp -> what it shows: on, off or blink
        self._lock = threading.Lock()
        self.buttons: dict[str, Button] = {}
        self.leds: dict[str, LED] = {}
        try:
            for name, pin in settings.buttons.items():
                button = Button(pin, pull_up=True, hold_time=settings.hold_s, pin_factory=factory)
                if name in holdable:
                    button.when_held = lambda _b, name=name: self._hold(name)
                    button.when_released = lambda _b, name=name: self._release(name)
                else:
                    button.when_pressed = lambda _b, name=name: self._pressed(name)
                self.buttons[name] = button
            for name, pin in settings.leds.items():
                self.leds[name] = LED(pin, pin_factory=factory)
        except Exception as err:  # gpiozero's BadPinFactory, PinInUse, ...
            self.close()
            raise GpioError(f"cannot set up the GPIO pins: {err}") from err

    def __enter__(self) -> Panel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _pressed(self, name: str) -> None:
        # gpiozero's thread: debounce, then hand the press over.
        now = self._clock()
        with self._lock:
            last = self._last.get(name)
            self._last[name] = now
            if last is not None and now - last < self._bounce_s:
                return
        try:
            self._on_press(name)
        except Exception:
            log.exception("handling a press of %s failed", name)

    def _hold(self, name: str) -> None:
        # gpiozero's thread: held long enough; its release is not a press.
        with self._lock:
            self._held.add(name)
        try:
            if self._on_hold is not None:
                self._on_hold(name)
        except Exception:
            log.exception("handling a long press of %s failed", name)

    def _release(self, name: str) -> None:
        with self._lock:
            if name in self._held:
                self._held.discard(name)
                return
        self._pressed(name)

    def lamp(self, name: str, on: bool, blink: bool = False) -> None:
        """Light, blink or darken a lamp; setting what it already shows changes nothing
        (restarting a blink on every state update would keep it lit)."""
        led = self.leds.get(name)
        if led is None:
            return
        mode = "blink" if blink else "on" if on else "off"
        with self._lock:
            if self._modes.get(name) == mode:
                return
            self._modes[name] = mode
            if blink:
                led.blink(on_time=0.25, off_time=0.25)
            elif on:
                led.on()
            else:
                led.off()

    def close(self) -> None:
        """Release every pin (idempotent)."""
        for device in [*self.buttons.values(), *self.leds.values()]:
            device.close()
        self.buttons, self.leds = {}, {}
