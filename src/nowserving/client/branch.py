"""A device's side of the wire contract, for every device app (kiosk, counter, display).

Nothing here blocks the caller: `send` returns a Future at once, and the command is
published again with the same id until the server answers or the deadline passes, when
it resolves to a `Reply` with code `unreachable`. What arrives (state, lines, events,
replies, connection changes) is decoded at the edge into typed objects and handed to the
app's callbacks. Those run on paho's network thread (or the retry timer's): each is
guarded, so one that raises is logged and dropped and the network loop lives on. A GUI app
puts `client.qt.QtBranchBridge` in between, which re-emits everything on the GUI thread.

`request`, `wait_state` and `wait_line` block, for tools, tests and benches; never call
them on a GUI thread.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from nowserving.adapters.mqtt import Broker, MqttLink
from nowserving.config.device import DeviceConfig
from nowserving.errors import ProtocolError
from nowserving.protocol import PROTOCOL_VERSION, Topics, encode
from nowserving.protocol.acl import tool_user
from nowserving.protocol.messages import RATE_LIMITED
from nowserving.protocol.status import status_message
from nowserving.protocol.views import (
    BranchState,
    DeviceStatus,
    EventView,
    Line,
    Reply,
    decode_event,
    decode_line,
    decode_online,
    decode_reply,
    decode_state,
    decode_status,
)

log = logging.getLogger(__name__)

RETRY_S = 2.0  # a command not answered in this long is published again, same id
DEADLINE_S = 10.0  # ... until this long has passed: then the server is unreachable
UNREACHABLE = "unreachable"


@dataclass
class _Pending:
    future: Future
    message: bytes
    deadline: float
    next_try: float


def broker_for(device: DeviceConfig, tool: bool = False) -> Broker:
    """Where a device's config says its broker is, and how it logs in: as the device's app,
    or (`tool`) as a tool running beside it, which must not push the app off the broker
    (docs/install-broker.md: one connection per login)."""
    settings = device.broker
    username = settings.username
    if tool and username:
        username = tool_user(username)
    return Broker(
        settings.host,
        settings.port,
        username=username,
        password=settings.read_password(),
        mqtt_version=settings.mqtt_version,
        tls_ca=str(settings.tls_ca) if settings.tls_ca else None,
    )


class BranchClient:
    """One device's connection to its branch."""

    def __init__(
        self,
        broker: Broker,
        branch: str,
        device_id: str,
        *,
        on_state: Callable[[BranchState], None] | None = None,
        on_line: Callable[[Line], None] | None = None,
        on_event: Callable[[EventView], None] | None = None,
        on_reply: Callable[[Reply], None] | None = None,
        on_connection: Callable[[bool], None] | None = None,
        on_server: Callable[[bool], None] | None = None,
        on_status: Callable[[DeviceStatus], None] | None = None,
        on_ticket_record: Callable[[str, bytes], None] | None = None,
        on_hall: Callable[[bytes], None] | None = None,
        watch_state: bool = True,
        watch_events: bool = False,
        watch_lines: tuple[str, ...] = (),
        watch_server: bool = False,
        watch_statuses: bool = False,
        watch_hall: bool = False,
        status: Callable[[], dict] | None = None,
        retry_s: float = RETRY_S,
        presence: bool = True,
    ) -> None:
        self.device_id = device_id
        self.topics = Topics(branch)
        self.on_state, self.on_line, self.on_event = on_state, on_line, on_event
        self.on_reply, self.on_connection = on_reply, on_connection
        self.on_server = on_server  # the server's retained status: online or not
        self.server_online: bool | None = None  # None: not heard yet
        # Every other device's retained status (`watch_statuses`: a staff panel's alerts).
        self.on_status = on_status
        self._status_prefix = self.topics.status("") if watch_statuses else None
        # The web role's ticket records (token hash, payload; empty: cleared), as they come.
        self.on_ticket_record = on_ticket_record
        self._record_prefix = self.topics.web_ticket("")
        self.on_hall = on_hall  # the web role's hall screen: the hall code's message
        # A lobby display's hall QR (`watch_hall`): the code's message, as it comes.
        self.on_lobby_hall: Callable[[bytes], None] | None = None
        self._web_root = f"{self.topics.base}/web/"
        self.status = status or dict  # the app's fields of its retained status; may be set later
        # False: a tool acting as the device beside its app (`nowserving self-test`): no last
        # will and no status of its own, so the app's presence is left as it is.
        self.presence = presence
        # Fields others put in this device's retained status (its last self-test), carried
        # along in every status it publishes, so that an app restart does not erase them.
        self.carried: dict = {}
        self.retry_s = retry_s
        self._cond = threading.Condition()
        self._pending: dict[str, _Pending] = {}
        self.state: BranchState | None = None
        self.lines: dict[str, Line] = {}
        self._line_topics = {self.topics.line(s): s for s in watch_lines}
        self._ids = itertools.count(1)
        self._session = uuid.uuid4().hex[:8]
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        offline = encode(status_message(device_id, online=False))
        self.link = MqttLink(
            broker,
            f"nowserving-{device_id}-{self._session}",
            on_message=self._received,
            on_connected=self._connected,
            on_disconnected=self._disconnected,
            will=(self.topics.status(device_id), offline) if presence else None,
        )
        self.link.subscribe(self.topics.reply(device_id))
        if presence:
            self.link.subscribe(self.topics.status(device_id))
        if watch_state:
            self.link.subscribe(self.topics.state)
        if watch_events or on_event is not None:
            self.link.subscribe(self.topics.events)
        for topic in self._line_topics:
            self.link.subscribe(topic)
        if watch_server or on_server is not None:
            self.link.subscribe(self.topics.status("server"))
        if watch_statuses:
            self.link.subscribe(self.topics.status("+"))
        if on_ticket_record is not None:
            self.link.subscribe(self.topics.web_tickets)
        if on_hall is not None:
            self.link.subscribe(self.topics.web_hall)
        if watch_hall:
            self.link.subscribe(self.topics.lobby_hall)

    def __enter__(self) -> BranchClient:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        """Whether the link to the broker is up now."""
        return self.link.connected.is_set()

    def start(self, wait_s: float | None = 10.0) -> None:
        """Connect in the background; with `wait_s`, wait that long for the broker first
        (tools and tests). Apps pass None and learn of the connection by callback."""
        self.link.start()
        self._timer = threading.Thread(target=self._retry_loop, name="retries", daemon=True)
        self._timer.start()
        if wait_s is not None and not self.link.wait_connected(wait_s):
            raise TimeoutError(
                f"{self.device_id}: no broker at {self.link.broker.host}:{self.link.broker.port}"
            )

    def close(self) -> None:
        """Stop retrying, say offline (a clean status, not the will), disconnect; pending
        commands are cancelled."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._timer is not None:
            self._timer.join(timeout=5)
            self._timer = None
        if self.connected and self.presence:
            self.publish_status(online=False)
        self.link.close()
        with self._cond:
            pending, self._pending = list(self._pending.values()), {}
        for item in pending:
            item.future.cancel()

    # ----- commands ---------------------------------------------------------------------

    def new_command_id(self) -> str:
        """A command id unique to this device and session."""
        return f"{self.device_id}-{self._session}-{next(self._ids)}"

    def send(
        self,
        kind: str,
        args: dict | None = None,
        *,
        command_id: str | None = None,
        deadline_s: float = DEADLINE_S,
    ) -> Future:
        """Send a command; the Future resolves to the server's `Reply`, or to one with
        code `unreachable` once `deadline_s` passes unanswered. Re-sending the same
        `command_id` later is safe: the server applies it once."""
        command_id = command_id or self.new_command_id()
        message = {"v": PROTOCOL_VERSION, "id": command_id, "type": kind, "args": args or {}}
        now = time.monotonic()
        future: Future = Future()
        pending = _Pending(future, encode(message), now + deadline_s, now + self.retry_s)
        with self._cond:
            if command_id in self._pending:  # already on its way: the same outcome
                return self._pending[command_id].future
            self._pending[command_id] = pending
            self._cond.notify_all()  # the retry thread learns of a new deadline
        if self.connected:
            self.link.publish(self.topics.command(self.device_id), pending.message)
        return future

    def request(
        self, kind: str, args: dict | None = None, *, command_id: str | None = None,
        timeout: float = DEADLINE_S,
    ) -> Reply:  # fmt: skip
        """Send and wait for the outcome (tools and tests; never on a GUI thread)."""
        return self.send(kind, args, command_id=command_id, deadline_s=timeout).result(timeout + 5)

    def _retry_loop(self) -> None:
        """Publish unanswered commands again (same id), and give up on them at their
        deadline. Runs on its own thread; touches only the pending table."""
        while not self._stop.is_set():
            with self._cond:
                # Sleep until the next retry or deadline is due (or a command is sent, or
                # the client closes): an idle device wakes for nothing.
                due = min(
                    (min(i.next_try, i.deadline) for i in self._pending.values()), default=None
                )
                wait = None if due is None else max(0.0, due - time.monotonic())
                if wait is None or wait > 0:
                    self._cond.wait(timeout=wait)
                if self._stop.is_set():
                    return
            now = time.monotonic()
            expired, again = [], []
            with self._cond:
                for command_id, item in list(self._pending.items()):
                    if now >= item.deadline:
                        expired.append((command_id, self._pending.pop(command_id)))
                    elif now >= item.next_try:
                        item.next_try = now + self.retry_s
                        again.append(item.message)
            if self.connected:
                for message in again:
                    self.link.publish(self.topics.command(self.device_id), message)
            for command_id, item in expired:
                reply = Reply(
                    command_id, False, {}, UNREACHABLE, "the server did not answer in time"
                )
                self._resolve(item.future, reply)

    def _resolve(self, future: Future, reply: Reply) -> None:
        if future.set_running_or_notify_cancel():
            future.set_result(reply)
        self._call(self.on_reply, reply)

    # ----- status -----------------------------------------------------------------------

    def publish_status(self, online: bool = True) -> None:
        """The device's retained status; its fields come from the app's `status` callback."""
        fields = {**self.carried, **self.status()} if online else {}
        message = status_message(self.device_id, online=online, **fields)
        self.link.publish(self.topics.status(self.device_id), encode(message), retain=True)

    # ----- blocking helpers for tools and tests -----------------------------------------

    def wait_state(
        self, predicate: Callable[[BranchState], bool] = lambda s: True, timeout: float = 10.0
    ) -> BranchState:
        """Wait until the latest summary satisfies `predicate`; returns it."""
        with self._cond:
            ok = self._cond.wait_for(
                lambda: self.state is not None and predicate(self.state), timeout
            )
            if not ok:
                raise TimeoutError(f"state did not reach the expected condition in {timeout} s")
            return self.state

    def wait_line(
        self, service: str, predicate: Callable[[Line], bool], timeout: float = 10.0
    ) -> Line:
        """Wait until the latest line of `service` satisfies `predicate`; returns it."""
        with self._cond:
            ok = self._cond.wait_for(
                lambda: service in self.lines and predicate(self.lines[service]), timeout
            )
            if not ok:
                raise TimeoutError(f"line {service} did not reach the condition in {timeout} s")
            return self.lines[service]

    # ----- paho's thread ----------------------------------------------------------------

    def _connected(self) -> None:
        if self.presence:
            self.publish_status(online=True)
        with self._cond:
            unanswered = [item.message for item in self._pending.values()]
        for message in unanswered:  # anything sent while away goes out now, same ids
            self.link.publish(self.topics.command(self.device_id), message)
        self._call(self.on_connection, True)

    def _disconnected(self) -> None:
        self._call(self.on_connection, False)

    def _take_web(self, topic: str, payload: bytes) -> None:
        """A topic of the web role's alone (a ticket record, or the hall code), or the
        lobby displays' hall code."""
        if topic == self.topics.lobby_hall:
            self._call(self.on_lobby_hall, payload)
        elif topic == self.topics.web_hall:
            self._call(self.on_hall, payload)
        elif self.on_ticket_record and topic.startswith(self._record_prefix):
            self._call(self.on_ticket_record, topic[len(self._record_prefix) :], payload)

    def _received(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        try:
            if topic == self.topics.state:
                self._take_state(decode_state(payload))
            elif topic in self._line_topics:
                self._take_line(decode_line(payload))
            elif topic == self.topics.events:
                self._call(self.on_event, decode_event(payload))
            elif topic == self.topics.reply(self.device_id):
                self._take_reply(decode_reply(payload))
            elif topic == self.topics.status("server"):
                self.server_online = decode_online(payload)
                self._call(self.on_server, self.server_online)
            elif topic == self.topics.status(self.device_id):
                self._carry_over(payload)
            elif topic.startswith(self._web_root) or topic == self.topics.lobby_hall:
                self._take_web(topic, payload)
            elif self._status_prefix and topic.startswith(self._status_prefix):
                device = topic[len(self._status_prefix) :]
                self._call(self.on_status, decode_status(device, payload))
        except ProtocolError as err:
            log.warning("dropped a bad message on %s: %s (%s)", topic, err.code, err.message)

    def _carry_over(self, payload: bytes) -> None:
        """The device's own retained status (as it was before this connection, then each
        echo): a self-test's result found there is kept in every status published from
        now on, and published again at once if it is new."""
        try:
            result = json.loads(payload).get("self_test") if payload else None
        except (ValueError, AttributeError):
            return
        if not isinstance(result, dict) or result == self.carried.get("self_test"):
            return
        self.carried["self_test"] = result
        if self.connected and self.presence:
            self.publish_status()

    def _take_state(self, state: BranchState) -> None:
        with self._cond:
            if self.state is not None and state.order < self.state.order:
                return  # an older summary (e.g. a retained one from before a restart)
            self.state = state
            self._cond.notify_all()
        self._call(self.on_state, state)

    def _take_line(self, line: Line) -> None:
        with self._cond:
            known = self.lines.get(line.service)
            if known is not None and line.order < known.order:
                return
            self.lines[line.service] = line
            self._cond.notify_all()
        self._call(self.on_line, line)

    def _take_reply(self, reply: Reply) -> None:
        with self._cond:
            if reply.code == RATE_LIMITED and reply.id in self._pending:
                # The server is shedding this device's load: not an answer, try again later.
                self._pending[reply.id].next_try = time.monotonic() + self.retry_s
                return
            item = self._pending.pop(reply.id, None) if reply.id else None
        if item is None:
            return  # a repeated answer to a retry, or to a command of an earlier session
        self._resolve(item.future, reply)

    def _call(self, callback: Callable | None, *args) -> None:
        """Run an app's callback; one that raises is logged and dropped, so a bug in the
        app never stops the network loop."""
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            name = getattr(callback, "__qualname__", repr(callback))
            log.exception("%s: callback %s failed", self.device_id, name)
