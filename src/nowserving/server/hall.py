"""The hall code: what a phone scans in the branch to prove its customer is there.

The server keeps a random secret in its event log's meta table (`EventLog.secret`, made on
the first start, never in an event) and publishes, for each time window of
`[remote] hall_code_minutes`, the code of that window (`domain.remote.hall_code`, an HMAC
of the branch and the window) on `…/web/hall`, retained, for the web role's hall screen
alone. The hall screen's address holds a key derived from the same secret: the message
carries only its hash, so the web role can tell the branch's screen from a stranger.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from nowserving.adapters.store import EventLog
from nowserving.domain.model import BranchRules
from nowserving.domain.remote import hall_code, hall_window
from nowserving.protocol.messages import PROTOCOL_VERSION


class Hall:
    """The branch's hall secret and the codes made from it."""

    def __init__(self, secret: bytes, rules: BranchRules) -> None:
        self.secret = secret
        self.rules = rules
        self.published: int | None = None  # the window last published

    @classmethod
    def of(cls, store: EventLog, rules: BranchRules) -> Hall:
        """The hall of the branch whose event log is `store` (its secret kept there); the
        hall screen's address is written beside the log (`<log>.hall-screen`, mode 0600)
        for the installer to open."""
        hall = cls(store.secret("hall_key"), rules)
        screen = Path(f"{store.path}.hall-screen")
        address = f"/{rules.branch_id}/hall/{hall.screen_key()}\n"
        if not screen.exists() or screen.read_text(encoding="ascii") != address:
            screen.write_text(address, encoding="ascii")  # for the installer to open
            screen.chmod(0o600)
        return hall

    def screen_key(self) -> str:
        """The key in the hall screen's address (`/<branch>/hall/<key>`)."""
        return hmac.new(self.secret, b"hall screen", hashlib.sha256).hexdigest()[:32]

    def due(self, at: float) -> bool:
        """Whether the code of `at`'s window is still to be published."""
        return hall_window(self.rules, at) != self.published

    def message(self, at: float) -> dict:
        """The retained hall message for `at`'s window (and notes it as published)."""
        window = hall_window(self.rules, at)
        self.published = window
        period = self.rules.hall_code_s
        return {
            "v": PROTOCOL_VERSION,
            "branch": self.rules.branch_id,
            "code": hall_code(self.secret, self.rules.branch_id, window),
            "from": window * period,
            "until": (window + 1) * period,
            "screen_hash": hashlib.sha256(self.screen_key().encode()).hexdigest(),
        }

    def lobby_message(self, at: float) -> dict:
        """The retained hall message for the lobby displays (`Topics.lobby_hall`): the code
        of `at`'s window and the window, nothing from which another code or the hall
        screen's key could be made (docs/appointments.md, "On the lobby TV")."""
        message = self.message(at)
        del message["screen_hash"]
        return message
