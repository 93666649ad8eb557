"""Topic names: one tree per branch under a versioned root."""

from __future__ import annotations

from dataclasses import dataclass

ROOT = "nowserving/v2"
LEGACY_ROOT = "nowserving/v1"  # answered with bad_version, and its retained state cleared


@dataclass(frozen=True)
class Topics:
    """The topics of one branch, e.g. `nowserving/v2/pudong/state`."""

    branch: str
    root: str = ROOT

    @property
    def base(self) -> str:
        """The branch's topic root: `nowserving/v<N>/<branch>`."""
        return f"{self.root}/{self.branch}"

    @property
    def state(self) -> str:
        """The retained summary's topic."""
        return f"{self.base}/state"

    def line(self, service: str) -> str:
        """One service's whole waiting line (for staff; a display needs only `state`)."""
        return f"{self.base}/line/{service}"

    @property
    def events(self) -> str:
        """The event stream's topic."""
        return f"{self.base}/events"

    @property
    def commands(self) -> str:
        """The subscription that receives every device's commands."""
        return f"{self.base}/cmd/+"

    def command(self, device: str) -> str:
        """Where `device` sends its commands."""
        return f"{self.base}/cmd/{device}"

    def reply(self, device: str) -> str:
        """Where the server answers `device`."""
        return f"{self.base}/reply/{device}"

    def status(self, device: str) -> str:
        """`device`'s retained status (`server` for the server's)."""
        return f"{self.base}/status/{device}"

    def web_ticket(self, token_hash: str) -> str:
        """One ticket's retained record for the web role, under the sha256 of its token:
        the web role finds a ticket by the token a phone brings. Only the web role (and the
        server) may read these."""
        return f"{self.base}/web/ticket/{token_hash}"

    @property
    def web_tickets(self) -> str:
        """The subscription to every ticket record of the branch (`web_ticket`)."""
        return f"{self.base}/web/ticket/+"

    @property
    def web_hall(self) -> str:
        """The hall code of the moment, retained, for the web role's hall screen alone
        (server/hall.py): the code a phone in the branch scans to check in."""
        return f"{self.base}/web/hall"

    @property
    def lobby_hall(self) -> str:
        """The hall code of the moment for the lobby displays' QR code (server/hall.py):
        the code and its window only, no key; displays may read it, other devices not."""
        return f"{self.base}/hall"

    @property
    def legacy(self) -> Topics:
        """The same branch under the previous version's root."""
        return Topics(self.branch, LEGACY_ROOT)

    def device_of_command(self, topic: str) -> str | None:
        """The device a command topic belongs to, or None if `topic` is not one."""
        prefix = f"{self.base}/cmd/"
        if not topic.startswith(prefix):
            return None
        device = topic[len(prefix) :]
        return device if device and "/" not in device else None
