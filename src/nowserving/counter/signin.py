"""Staff sign-in at the panel (`panel.signIn` in QML, shown by SignIn.qml): who works at
this counter, the sign-in screen while nobody does (or while staff asked for it), and the
sign-in and sign-out commands.

The PIN goes to the server in the `sign_in` command and nowhere else: it is not kept here
after sending, not logged, and refusals are shown from the catalogue by their code
(`refusal.<code>`, filled in with the reply's `params`), never echoed.

Runs on the GUI thread; replies and the summary come through the panel's `QtBranchBridge`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import Property, QObject, QTimer, Signal, Slot

from nowserving.client.qt import QtBranchBridge
from nowserving.config import BranchConfig
from nowserving.config.pins import PIN_RE
from nowserving.i18n import catalog
from nowserving.protocol.views import BranchState, Reply
from nowserving.protocol.vocabulary import Cmd


class SignInController(QObject):
    """Who works at one counter, and the sign-in screen's state."""

    changed = Signal()

    def __init__(self, config: BranchConfig, counter: str, bridge: QtBranchBridge,
                 language: Callable[[], str], parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.config, self.counter, self.bridge = config, counter, bridge
        self._language = language  # the panel's: the screen speaks it too
        self._state: BranchState | None = None
        self._asked = False  # staff pressed "sign in" while the default staff works here
        self._pending: str | None = None  # the id of the sign-in on its way
        self._error: tuple[str, dict, str] | None = None  # the last refusal's code, params, message
        self._locked_until = 0.0  # monotonic time a lock ends, as the server said
        bridge.stateChanged.connect(self._take_state)
        bridge.replyReceived.connect(self._take_reply)
        self._countdown = QTimer(self)  # "try again in N s" counts down
        self._countdown.timeout.connect(self._tick)

    # ----- what it shows ------------------------------------------------------------------

    def _view(self):
        return self._state.counter(self.counter) if self._state else None

    def _staff_here(self) -> tuple[str | None, bool]:
        """(staff number of whoever works here, signed in) as the summary says; before the
        first summary, the counter's default staff as the config says."""
        view = self._view()
        if view is None:
            return self.config.rules.counters[self.counter].default_staff, False
        return view.staff, view.signed_in

    def _name(self, staff: str) -> str:
        member = self.config.rules.staff.get(staff)
        name = member.names.get(self._language(), "") if member else ""
        return f"{name} ({staff})" if name else staff

    def _get_strings(self) -> dict:
        return catalog(self._language())["signin"]

    def _get_label(self) -> str:
        staff, signed_in = self._staff_here()
        words = self._get_strings()
        if staff is None:
            return words["nobody"]
        return (words["signed_in"] if signed_in else words["default_staff"]).format(
            name=self._name(staff)
        )

    def _get_used(self) -> bool:
        return bool(self.config.rules.staff)

    def _get_needed(self) -> bool:
        return self._get_used() and self._staff_here()[0] is None

    def _get_shown(self) -> bool:
        return self._get_needed() or self._asked

    def _get_error(self) -> str:
        if self._error is None:
            return ""
        code, params, message = self._error
        if code == "staff_locked":
            params = {**params, "seconds": self._seconds_locked()}
        template = catalog(self._language()).get("refusal", {}).get(code)
        try:
            return template.format(**params) if template else message or code
        except (KeyError, IndexError):  # a reply without the numbers its words need
            return message or code

    def _seconds_locked(self) -> int:
        return max(0, round(self._locked_until - time.monotonic()))

    used = Property(bool, _get_used, notify=changed)
    needed = Property(bool, _get_needed, notify=changed)
    shown = Property(bool, _get_shown, notify=changed)
    signedIn = Property(bool, lambda self: self._staff_here()[1], notify=changed)
    label = Property(str, _get_label, notify=changed)
    strings = Property("QVariantMap", _get_strings, notify=changed)
    error = Property(str, _get_error, notify=changed)
    busy = Property(bool, lambda self: self._pending is not None, notify=changed)

    # ----- what staff do ------------------------------------------------------------------

    @Slot(str, str)
    def signIn(self, staff: str, pin: str) -> None:
        """Send a sign-in for `staff` with `pin` (refused here when it cannot be a PIN)."""
        staff = staff.strip()
        if not staff or not PIN_RE.match(pin):
            self._error = ("wrong_pin", {}, "")
        elif self._pending is None:
            self._error = None
            self._pending = self.bridge.send(Cmd.SIGN_IN, {"staff": staff, "pin": pin})
        self.changed.emit()

    @Slot()
    def signOut(self) -> None:
        """Sign out whoever is signed in here."""
        self.bridge.send(Cmd.SIGN_OUT, {})

    @Slot()
    def ask(self) -> None:
        """Show the sign-in screen (staff taking over from the default staff)."""
        self._asked, self._error = True, None
        self.changed.emit()

    @Slot()
    def cancel(self) -> None:
        """Close the sign-in screen, where it is not needed."""
        self._asked, self._error = False, None
        self.changed.emit()

    # ----- what the branch says -----------------------------------------------------------

    @Slot(object)
    def _take_state(self, state: BranchState) -> None:
        self._state = state
        self.changed.emit()

    @Slot(object)
    def _take_reply(self, reply: Reply) -> None:
        if reply.id is None or reply.id != self._pending:
            return
        self._pending = None
        if reply.ok:
            self._asked, self._error = False, None
        else:
            self._error = (reply.code or "", dict(reply.params), reply.message or "")
            if reply.code == "staff_locked":
                seconds = reply.params.get("seconds")
                if isinstance(seconds, int | float):
                    self._locked_until = time.monotonic() + seconds
                    self._countdown.start(1000)
        self.changed.emit()

    def _tick(self) -> None:
        if self._seconds_locked() <= 0:
            self._countdown.stop()
            self._error = None
        self.changed.emit()

    def close(self) -> None:
        """Stop the countdown (idempotent)."""
        self._countdown.stop()
