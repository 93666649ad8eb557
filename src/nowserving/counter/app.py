"""A counter with buttons and lamps on GPIO (headless): one press is one command.

Buttons (named in the device file's `[gpio] buttons`): `next`, `recall`, `start`, `done`
(or `finish`), `no_show`, `pause` (pauses an open counter, opens a paused or closed one),
and `transfer_<service>` (sends the customer at the counter to that service's line, placed
as the branch's `queue.transfer_placement` says; one button per target). A counter with a
`next` button and no `recall` button recalls with a long press of `next` (`hold_s`).

Lamps (`[gpio] leds`): `open` (lit while open, blinking while paused, dark when closed),
`waiting` (someone waits for this counter), `busy` (blinking while a customer is called,
lit while served), `error` (the last command found no server, or was refused).

The optional feedback keypad (buttons `satisfied`, `neutral`, `unsatisfied`, lamp
`feedback`) takes one rating for the customer just finished, while its lamp is lit
(`queue.feedback_window_seconds` after the finish); other presses are ignored.

One press = one command: presses are debounced by the panel, and while a command is on its
way every further press is ignored. A command that finds no server is not kept for later:
the error lamp says so at once, and the next press of the same button sends it again under
the same id, so that if it did reach the server after all it is not applied twice.
"""

from __future__ import annotations

import logging
import threading
import time

from nowserving.adapters.gpio import Panel
from nowserving.client import UNREACHABLE, BranchClient
from nowserving.config import BranchConfig
from nowserving.config.device import DeviceConfig
from nowserving.config.hardware import COUNTER_BUTTONS, TRANSFER_BUTTON
from nowserving.protocol.views import BranchState, Reply
from nowserving.protocol.vocabulary import Cmd

log = logging.getLogger(__name__)

DEADLINE_S = 2.0  # staff must know at once when a press reached no server


def command_of(button: str) -> str | None:
    """The command a counter button sends (None for names no counter knows)."""
    if button.startswith(TRANSFER_BUTTON) and len(button) > len(TRANSFER_BUTTON):
        return Cmd.TRANSFER
    return COUNTER_BUTTONS.get(button)


class CounterDevice:
    """The buttons and lamps of one counter, driving its commands through `client`."""

    def __init__(self, config: BranchConfig, device: DeviceConfig, client: BranchClient,
                 factory=None) -> None:  # fmt: skip
        """`factory`: the pin factory of the device's `[gpio]` (None: gpiozero's choice)."""
        self.client = client
        self.counter = config.devices[device.id].counter
        self.services = config.rules.counters[self.counter].services
        self._lock = threading.Lock()
        self._in_flight: str | None = None  # the button whose command is on its way
        self._unanswered: dict[str, str] = {}  # button -> id of its command that found no one
        self._error: str | None = None
        self._state: BranchState | None = None
        self._window_s = config.rules.feedback_window_s
        self._served: int | None = None  # the counter's count of finished customers
        self._feedback_until = 0.0  # monotonic time the keypad closes
        self.panel: Panel | None = None  # no [gpio] (a staff PC): no pins, no lamps
        if device.gpio is not None:
            names = set(device.gpio.buttons)
            one_button = "next" in names and "recall" not in names
            holdable = frozenset({"next"}) if one_button else frozenset()
            self.panel = Panel(
                device.gpio, self._pressed, factory, on_hold=self._held, holdable=holdable
            )
        client.on_state = self._take_state
        self._refresh_lamps()

    def close(self) -> None:
        """Release the buttons and lamps (idempotent)."""
        if self.panel is not None:
            self.panel.close()

    # ----- gpiozero's threads -----------------------------------------------------------

    def _pressed(self, name: str) -> None:
        self.act(name)

    def _held(self, name: str) -> None:
        if name == "next":
            self.act("recall")  # a counter with one button: a long press recalls

    def act(self, name: str) -> str | None:
        """Send the command of button `name`; returns its id, or None if ignored."""
        kind, args = command_of(name), {}
        if kind == Cmd.RATE:
            return self._rate(name)
        if kind == Cmd.PAUSE_COUNTER:
            kind = self._pause_or_open()
        elif kind == Cmd.TRANSFER:
            args = {"to_service": name.removeprefix(TRANSFER_BUTTON)}
        if kind is None:
            log.warning("counter %s: no command for a button called %r", self.counter, name)
            return None
        with self._lock:
            if self._in_flight is not None:
                return None  # one press, one command: the last one is still on its way
            self._in_flight = name
            command_id = self._unanswered.pop(name, None) or self.client.new_command_id()
        future = self.client.send(kind, args, command_id=command_id, deadline_s=DEADLINE_S)
        future.add_done_callback(lambda f: self._answered(name, command_id, f.result()))
        return command_id

    def _rate(self, rating: str) -> str | None:
        with self._lock:
            if time.monotonic() >= self._feedback_until:
                return None  # no customer to rate: a press outside the window is ignored
            self._feedback_until = 0.0  # one rating per customer
        self._refresh_lamps()
        command_id = self.client.new_command_id()
        future = self.client.send(Cmd.RATE, {"rating": rating}, command_id=command_id)
        future.add_done_callback(
            lambda f: f.result().ok or log.warning("rating refused: %s", f.result().message)
        )
        return command_id

    def _pause_or_open(self) -> str:
        view = self._state.counter(self.counter) if self._state else None
        return Cmd.PAUSE_COUNTER if view is None or view.state == "open" else Cmd.OPEN_COUNTER

    # ----- answers and state (paho's and the client's threads) ---------------------------

    def _answered(self, name: str, command_id: str, reply: Reply) -> None:
        with self._lock:
            self._in_flight = None
            if reply.code == UNREACHABLE:
                self._unanswered[name] = command_id
                self._error = "server unreachable"
            elif not reply.ok:
                self._error = reply.message
            else:
                self._error = None
        if not reply.ok:
            # "Next" with nobody waiting is routine (staff see it on the error lamp), not a
            # fault worth a warning in the device's log.
            level = logging.INFO if reply.code == "queue_empty" else logging.WARNING
            log.log(level, "counter %s: %s refused: %s", self.counter, name, self._error)
        self._refresh_lamps()

    def _take_state(self, state: BranchState) -> None:
        self._state = state
        view = state.counter(self.counter)
        if view is not None:
            if self._served is not None and view.served > self._served:
                self._open_keypad()
            self._served = view.served
        self._refresh_lamps()

    def _open_keypad(self) -> None:
        with self._lock:
            self._feedback_until = time.monotonic() + self._window_s
        closer = threading.Timer(self._window_s, self._refresh_lamps)
        closer.daemon = True
        closer.start()

    def _refresh_lamps(self) -> None:
        if self.panel is None:
            return
        view = self._state.counter(self.counter) if self._state else None
        state = view.state if view else "closed"
        self.panel.lamp("open", on=state != "closed", blink=state == "paused")
        waiting = sum(
            s.waiting
            for s in (self._state.services if self._state else ())
            if s.id in self.services
        )
        self.panel.lamp("waiting", on=waiting > 0)
        ticket = view.ticket if view else None
        self.panel.lamp(
            "busy", on=ticket is not None, blink=ticket is not None and ticket.status == "called"
        )
        self.panel.lamp("error", on=self._error is not None)
        self.panel.lamp("feedback", on=time.monotonic() < self._feedback_until)

    @property
    def error(self) -> str | None:
        """Why the counter's last command failed, while it matters (None: all is well)."""
        return self._error
