"""Commands: what devices ask the queue to do. Each carries a client-generated id."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Command:
    """A request from a device, stamped with the server's time `at` when it is applied."""

    id: str
    type: str
    device: str
    at: float
    args: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        """What at-most-once delivery remembers it by: ids are unique per device only."""
        return remember_key(self.device, self.id)

    @property
    def digest(self) -> str:
        """A short fingerprint of what the command asks, to catch an id reused for another
        request."""
        text = json.dumps([self.type, self.args], sort_keys=True, ensure_ascii=False)
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def remember_key(device: str | None, command_id: str) -> str:
    # Neither a device id (a topic level) nor a command id may contain "/".
    """What at-most-once delivery remembers a device's command by."""
    return f"{device or ''}/{command_id}"
