"""The web role's view of its branches: one device client per branch, the ticket records
by token hash, and a wake-up for the pages whose content a message may change.

paho's thread only files what arrives and hands a wake-up to the event loop
(`call_soon_threadsafe`); pages read the latest under a lock and never wait on the network.
A page's stream is woken only by its ticket's record, its service's line, or a summary that
changes its service's notices or open counters (`Watch`), and works its page out again only
when what the page is made of changed (`BranchFeed.inputs`); see performance.md.
The console's live page of a branch is woken by any change of that branch it shows (summary,
lines, device statuses, server and broker connection; `BranchFeed.wait_change`).
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
from nowserving.web.view import Record, line_places

log = logging.getLogger(__name__)

MAX_RECORD_BYTES = 8192
_NO_HASH = "0" * 64


class Watch:
    """A page's stream waiting for a change of what its page shows.

    One future and one timer a wait: `asyncio.wait_for(event.wait())` would make a task of
    each wait and take three hops to wake it, which with thousands of streams was most of
    the web role's work (performance.md)."""

    __slots__ = ("digest", "service", "ticket", "closed", "changed", "_waiter")

    def __init__(self, digest: str) -> None:
        self.digest = digest
        self.service: str | None = None
        self.ticket: str | None = None  # the ticket's id: a line's change wakes by it
        self.closed = False  # the client has gone
        self.changed = False  # woken since the last `clear`
        self._waiter: asyncio.Future | None = None

    def wake(self) -> None:
        """Tell the stream its page may have changed (event loop only)."""
        self.changed = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def clear(self) -> None:
        """Forget the wake-ups so far: one from here on ends the next `wait`."""
        self.changed = False

    async def wait(self, timeout: float) -> bool:
        """Wait until woken since the last `clear`; False on timeout."""
        if not self.changed:
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            timer = loop.call_later(timeout, _time_up, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
        return self.changed


def _time_up(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _head(line: Line | None) -> tuple[dict[str, tuple], tuple]:
    """What a line's change may change on its pages: each ticket of the head by id (its
    place and estimate), and what a page behind the head shows of it (the head's length)."""
    if line is None:
        return {}, ()
    parts = {t.id: (i, t.estimate, line.estimated_at) for i, t in enumerate(line.tickets)}
    return parts, (len(line.tickets), line.waiting > len(line.tickets))


class BranchFeed:
    """One branch as the web role sees it."""

    def __init__(self, config: BranchConfig, broker: Broker, device: str) -> None:
        self.config = config
        self.id = config.rules.branch_id
        self._lock = threading.Lock()
        self._records: dict[str, Record] = {}
        self._hall: dict | None = None  # the hall code's message (web/remote.py)
        self._statuses: dict[str, DeviceStatus] = {}
        self._changed = asyncio.Event()  # the console's pages: anything they show changed
        self.changes = 0  # how many such changes so far (event loop only)
        self.loop: asyncio.AbstractEventLoop | None = None  # set by Feeds.start
        self._places: dict[str, tuple[Line, dict[str, int]]] = {}
        self._summary: tuple[BranchState | None, dict[str, tuple]] = (None, {})
        self._shown: dict[str, tuple] = {}  # each watched service's summary part, last told
        self._by_service: dict[str, set[Watch]] = {}
        self._by_digest: dict[str, set[Watch]] = {}
        self._by_ticket: dict[str, set[Watch]] = {}
        self._heads: dict[str, tuple[dict[str, tuple], tuple]] = {}  # each line, last told
        self.client = BranchClient(
            broker,
            self.id,
            device,
            on_state=lambda state: self._post(self._state_changed),
            on_line=lambda line: self._post(self._line_changed, line.service),
            on_ticket_record=self._record,
            on_hall=self._take_hall,
            on_server=lambda online: self._post(self._branch_changed),
            on_status=self._status,
            on_connection=lambda up: self._post(self._branch_changed),
            watch_lines=tuple(config.rules.services),
            watch_statuses=True,  # the console's device health
            presence=True,
        )

    # ----- wake-ups: paho's thread posts, the event loop tells the watches concerned ------

    def _post(self, fn, *args) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(fn, *args)  # paho thread -> event loop

    def _branch_changed(self) -> None:
        # the console's pages of this branch (ticket pages are told only by the below)
        self.changes += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_change(self, timeout: float, since: int | None = None) -> None:
        """Wait for a change the console shows of this branch (or `timeout` seconds); at
        once if `changes` is no longer `since` (a change came while a page was being sent)."""
        if since is not None and since != self.changes:
            return
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout)

    def _state_changed(self) -> None:
        self._branch_changed()
        for service, watches in self._by_service.items():
            part = self._summary_part(service)
            if self._shown.get(service) != part:
                self._shown[service] = part
                for watch in watches:
                    watch.wake()

    def _line_changed(self, service: str) -> None:
        # Work out once what changed in the line, and wake only the pages it changes: the
        # tickets whose place or estimate moved, and the pages behind the head when its
        # length did (a page shows its own place, not the line).
        self._branch_changed()
        old = self._heads.get(service)
        new = self._heads[service] = _head(self.client.lines.get(service))
        watches = self._by_service.get(service)
        if not watches:
            return
        if old is None:
            for watch in watches:
                watch.wake()
            return
        old_parts, new_parts = old[0], new[0]
        for ticket in old_parts.keys() | new_parts.keys():
            if old_parts.get(ticket) != new_parts.get(ticket):
                for watch in self._by_ticket.get(ticket, ()):
                    watch.wake()
        if old[1] != new[1]:
            for watch in watches:
                if watch.ticket not in new_parts:
                    watch.wake()

    def _record_changed(self, digest: str) -> None:
        for watch in self._by_digest.get(digest, ()):
            watch.wake()

    def watch(self, token: str) -> Watch:
        """A watch on the page of `token` (event loop only; `unwatch` it when done)."""
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
        watch = Watch(digest)
        self._by_digest.setdefault(digest, set()).add(watch)
        return watch

    def follow(self, watch: Watch, record: Record) -> None:
        """Tell `watch` of changes to `record`'s line and summary part (a transfer moves it)."""
        if watch.ticket != record.id:
            self._drop(self._by_ticket, watch.ticket, watch)
            watch.ticket = record.id
            self._by_ticket.setdefault(record.id, set()).add(watch)
        service = record.service
        if watch.service != service:
            self._drop(self._by_service, watch.service, watch)
            watch.service = service
            self._by_service.setdefault(service, set()).add(watch)
            self._shown.setdefault(service, self._summary_part(service))
            if service not in self._heads:
                self._heads[service] = _head(self.client.lines.get(service))

    def unwatch(self, watch: Watch) -> None:
        """Forget `watch`."""
        self._drop(self._by_service, watch.service, watch)
        self._drop(self._by_digest, watch.digest, watch)
        self._drop(self._by_ticket, watch.ticket, watch)

    @staticmethod
    def _drop(index: dict[str, set[Watch]], key: str | None, watch: Watch) -> None:
        watches = index.get(key) if key is not None else None
        if watches is not None:
            watches.discard(watch)
            if not watches:
                del index[key]

    def _status(self, status: DeviceStatus) -> None:
        # paho's thread: keep the device's latest status, then wake the console's pages.
        with self._lock:
            self._statuses[status.device] = status
        self._post(self._branch_changed)

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
        self._post(self._record_changed, digest)

    def _take_hall(self, payload: bytes) -> None:
        # paho's thread: keep the hall code's latest message (the hall screen reloads).
        from nowserving.web.remote import hall_message

        with self._lock:
            self._hall = hall_message(payload) if payload else None

    def hall(self) -> dict | None:
        """The hall code's latest message, if the server published one."""
        with self._lock:
            return self._hall

    def find(self, token: str) -> Record | None:
        """The ticket whose QR code holds `token`, if it is of the current business day.
        The lookup is by the token's hash; the hash found is compared again in constant time."""
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
        with self._lock:
            record = self._records.get(digest)
        found = hmac.compare_digest(digest, digest if record is not None else _NO_HASH)
        if not found or record is None:
            return None
        return self._of_today(record)

    def record(self, watch: Watch) -> Record | None:
        """The ticket `watch` follows (its token was found once: no need to hash it again)."""
        with self._lock:
            record = self._records.get(watch.digest)
        return None if record is None else self._of_today(record)

    def _of_today(self, record: Record) -> Record | None:
        state = self.client.state
        day = state.business_day if state is not None else None
        if day is not None and (record.business_day or "") < day:
            return None  # a token is good for its business day only
        # (A record of a later day than the summary: the summary is on its way. A day's
        # first command, e.g. a remote join, is answered before its summary is published.)
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
                behind = line.waiting > len(line.tickets)
                line_part = line if record.id in places else (len(line.tickets), behind)
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
    """Every branch the process serves."""

    def __init__(self, configs: list[BranchConfig], broker: Broker, device: str) -> None:
        self.branches = {c.rules.branch_id: BranchFeed(c, broker, device) for c in configs}

    def start(self) -> None:
        """Connect every branch (in the background) on the running event loop."""
        loop = asyncio.get_running_loop()
        for feed in self.branches.values():
            feed.loop = loop
            feed.client.start(wait_s=None)

    def close(self) -> None:
        """Disconnect every branch."""
        for feed in self.branches.values():
            feed.client.close()
