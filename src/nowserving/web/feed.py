"""The web role's view of its branches: one device client per branch, the ticket records
by token hash, and a wake-up for every page waiting on a change.

paho's thread only files what arrives and hands a wake-up to the event loop
(`call_soon_threadsafe`); pages read the latest under a lock and never wait on the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import threading

from nowserving.adapters.mqtt import Broker
from nowserving.client import BranchClient
from nowserving.config import BranchConfig
from nowserving.protocol.views import BranchState, DeviceStatus, Line
from nowserving.web.view import Record

log = logging.getLogger(__name__)

MAX_RECORD_BYTES = 8192
_NO_HASH = "0" * 64


class BranchFeed:
    """One branch as the web role sees it."""

    def __init__(self, config: BranchConfig, broker: Broker, device: str, wake) -> None:
        self.config = config
        self.id = config.rules.branch_id
        self._lock = threading.Lock()
        self._records: dict[str, Record] = {}
        self._statuses: dict[str, DeviceStatus] = {}
        self._wake = wake
        self.client = BranchClient(
            broker,
            self.id,
            device,
            on_state=lambda state: self._wake(),
            on_line=lambda line: self._wake(),
            on_ticket_record=self._record,
            on_server=lambda online: self._wake(),
            on_status=self._status,
            on_connection=lambda up: self._wake(),
            watch_lines=tuple(config.rules.services),
            watch_statuses=True,  # the console's device health
            presence=True,
        )

    def _status(self, status: DeviceStatus) -> None:
        # paho's thread: keep the device's latest status, then wake the pages.
        with self._lock:
            self._statuses[status.device] = status
        self._wake()

    def statuses(self) -> dict[str, DeviceStatus]:
        """Every device's latest retained status (device id -> status)."""
        with self._lock:
            return dict(self._statuses)

    def _record(self, digest: str, payload: bytes) -> None:
        # paho's thread: file the record, then wake the pages.
        with self._lock:
            if not payload:
                self._records.pop(digest, None)
            elif len(payload) <= MAX_RECORD_BYTES:
                try:
                    data = json.loads(payload)
                    known = self._records.get(digest)
                    if known is None or data["seq"] >= known.data["seq"]:
                        self._records[digest] = Record(data)
                except (ValueError, KeyError, TypeError):
                    log.warning("%s: dropped an unreadable ticket record", self.id)
        self._wake()

    def find(self, token: str) -> Record | None:
        """The ticket whose QR code holds `token`, if it is of the current business day.
        The lookup is by the token's hash; the hash found is compared again in constant time."""
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
        with self._lock:
            record = self._records.get(digest)
        state = self.client.state
        found = hmac.compare_digest(digest, digest if record is not None else _NO_HASH)
        if not found or record is None:
            return None
        if state is not None and record.business_day != state.business_day:
            return None  # a token is good for its business day only
        return record

    def state(self) -> BranchState | None:
        """The branch's latest summary."""
        return self.client.state

    def line(self, service: str) -> Line | None:
        """The latest whole line of `service`."""
        return self.client.lines.get(service)


class Feeds:
    """Every branch the process serves, and the change signal pages wait on."""

    def __init__(self, configs: list[BranchConfig], broker: Broker, device: str) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self.branches = {
            c.rules.branch_id: BranchFeed(c, broker, device, self._wake_from_thread)
            for c in configs
        }

    def start(self) -> None:
        """Connect every branch (in the background) on the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        for feed in self.branches.values():
            feed.client.start(wait_s=None)

    def close(self) -> None:
        """Disconnect every branch."""
        for feed in self.branches.values():
            feed.client.close()

    def _wake_from_thread(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake)  # paho thread -> event loop

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_change(self, timeout: float) -> None:
        """Wait for anything of any branch to change (or `timeout` seconds)."""
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout)
