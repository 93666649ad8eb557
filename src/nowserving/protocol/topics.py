"""Topic names: one tree per branch under a versioned root."""

from __future__ import annotations

from dataclasses import dataclass

ROOT = "nowserving/v1"


@dataclass(frozen=True)
class Topics:
    """The topics of one branch, e.g. `nowserving/v1/pudong/state`."""

    branch: str

    @property
    def base(self) -> str:
        return f"{ROOT}/{self.branch}"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def events(self) -> str:
        return f"{self.base}/events"

    @property
    def commands(self) -> str:
        """The subscription that receives every device's commands."""
        return f"{self.base}/cmd/+"

    def command(self, device: str) -> str:
        return f"{self.base}/cmd/{device}"

    def reply(self, device: str) -> str:
        return f"{self.base}/reply/{device}"

    def status(self, device: str) -> str:
        return f"{self.base}/status/{device}"

    def device_of_command(self, topic: str) -> str | None:
        """The device a command topic belongs to, or None if `topic` is not one."""
        prefix = f"{self.base}/cmd/"
        if not topic.startswith(prefix):
            return None
        device = topic[len(prefix) :]
        return device if device and "/" not in device else None
