"""The web role's view of its branches: one device client per branch, the ticket records
by token hash, and a wake-up for the pages of a branch when something of it changes.

paho's thread only files what arrives and hands a wake-up to the event loop
(`call_soon_threadsafe`); pages read the latest under a lock and never wait on the network.
A page's stream works its page out again only when what the page is made of changed
(`BranchFeed.inputs`): its ticket's record, its place in the line, the branch's notices or
the counters open for its service; not for every change of the branch (see performance.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import threading
from functools import partial

from nowserving.adapters.mqtt import Broker
from nowserving.client import BranchClient
from nowserving.config import BranchConfig
from nowserving.protocol.views import BranchState, Line
from nowserving.web.view import Record, line_places

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
        self._wake = wake
        self.generation = 0  # how many changes the event loop has been told of
        self.changed: asyncio.Event | None = None  # set (and replaced) at each change
        self._places: dict[str, tuple[Line, dict[str, int]]] = {}
        self._summary: tuple[BranchState | None, dict[str, tuple]] = (None, {})
        self.client = BranchClient(
            broker,
            self.id,
            device,
            on_state=lambda state: self._wake(),
            on_line=lambda line: self._wake(),
            on_ticket_record=self._record,
            watch_lines=tuple(config.rules.services),
            presence=True,
        )

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
        """The latest line (its head) of `service`."""
        return self.client.lines.get(service)

    def places(self, service: str) -> tuple[Line | None, dict[str, int]]:
        """The latest line of `service` and its tickets' places, worked out once per line
        message (event loop only)."""
        line = self.client.lines.get(service)
        if line is None:
            return None, {}
        known = self._places.get(service)
        if known is None or known[0] is not line:
            known = self._places[service] = (line, line_places(line))
        return known

    def inputs(self, record: Record) -> tuple:
        """What the page of `record` is made of, cheap to compare: the record, the line
        while it waits (only the head's count when it is behind the head), and the part of
        the summary it shows. Pages whose inputs are unchanged need not be worked out."""
        line_part: object = None
        if record.status == "waiting":
            line, places = self.places(record.service)
            if line is not None:
                line_part = line if record.id in places else (len(line.tickets), line.waiting)
        return record, line_part, self._summary_part(record.service)

    def _summary_part(self, service: str) -> tuple:
        state = self.client.state
        if self._summary[0] is not state:
            self._summary = (state, {})
        parts = self._summary[1]
        part = parts.get(service)
        if part is None:
            part = parts[service] = (
                () if state is None else (
                    state.business_day,
                    tuple(state.notices),
                    tuple(c.id for c in state.counters
                          if service in c.services and c.state == "open"),
                )
            )  # fmt: skip
        return part


class Feeds:
    """Every branch the process serves, and the change signal pages wait on."""

    def __init__(self, configs: list[BranchConfig], broker: Broker, device: str) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self.branches = {
            c.rules.branch_id: BranchFeed(
                c, broker, device, partial(self._wake_from_thread, c.rules.branch_id)
            )
            for c in configs
        }

    def start(self) -> None:
        """Connect every branch (in the background) on the running event loop."""
        self._loop = asyncio.get_running_loop()
        for feed in self.branches.values():
            feed.changed = asyncio.Event()
            feed.client.start(wait_s=None)

    def close(self) -> None:
        """Disconnect every branch."""
        for feed in self.branches.values():
            feed.client.close()

    def _wake_from_thread(self, branch: str) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake, branch)  # paho thread -> event loop

    def _wake(self, branch: str) -> None:
        feed = self.branches[branch]
        feed.generation += 1
        changed, feed.changed = feed.changed, asyncio.Event()
        if changed is not None:
            changed.set()

    async def wait_change(self, feed: BranchFeed, seen: int, timeout: float) -> bool:
        """Wait until `feed` has changed since generation `seen` (at once if it already
        has); False when `timeout` seconds passed without a change."""
        if feed.generation != seen or feed.changed is None:
            return feed.generation != seen
        changed = feed.changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout)
        return feed.generation != seen
