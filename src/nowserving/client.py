"""A device's side of the wire contract: send commands, wait for replies, watch state.

Kiosk, counter and display apps build on this; so do the demo, the tests and the benches.
Replies and snapshots arrive on paho's thread and are handed over through a condition
variable; `on_event` callbacks run on paho's thread and must only hand data on.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import uuid
from collections.abc import Callable

from nowserving.adapters.mqtt import Broker, MqttLink
from nowserving.protocol import PROTOCOL_VERSION, Topics, encode

log = logging.getLogger(__name__)


class BranchClient:
    """One device's connection to its branch."""

    def __init__(
        self,
        broker: Broker,
        branch: str,
        device_id: str,
        *,
        on_event: Callable[[dict], None] | None = None,
        watch_state: bool = True,
        watch_lines: tuple[str, ...] = (),
    ) -> None:
        self.device_id = device_id
        self.topics = Topics(branch)
        self._on_event = on_event
        self._cond = threading.Condition()
        self._replies: dict[str, dict] = {}
        self.state: dict | None = None
        self.lines: dict[str, dict] = {}  # service -> its latest line message
        self._line_topics = {self.topics.line(s): s for s in watch_lines}
        self._ids = itertools.count(1)
        self._session = uuid.uuid4().hex[:8]
        offline = encode({"v": PROTOCOL_VERSION, "device": device_id, "online": False})
        self.link = MqttLink(
            broker,
            f"nowserving-{device_id}-{self._session}",
            on_message=self._received,
            on_connected=self._announce,
            will=(self.topics.status(device_id), offline),
        )
        self.link.subscribe(self.topics.reply(device_id))
        if watch_state:
            self.link.subscribe(self.topics.state)
        if on_event is not None:
            self.link.subscribe(self.topics.events)
        for topic in self._line_topics:
            self.link.subscribe(topic)

    def __enter__(self) -> BranchClient:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self, timeout: float = 10.0) -> None:
        self.link.start()
        if not self.link.wait_connected(timeout):
            raise TimeoutError(
                f"{self.device_id}: no broker at {self.link.broker.host}:{self.link.broker.port}"
            )

    def close(self) -> None:
        self.link.close()

    def new_command_id(self) -> str:
        return f"{self.device_id}-{self._session}-{next(self._ids)}"

    def send(
        self,
        kind: str,
        args: dict | None = None,
        *,
        command_id: str | None = None,
        timeout: float = 10.0,
    ) -> dict:
        """Send a command and wait for the server's reply to it."""
        command_id = command_id or self.new_command_id()
        self.send_nowait(kind, args, command_id=command_id)
        return self.wait_reply(command_id, timeout)

    def send_nowait(
        self, kind: str, args: dict | None = None, *, command_id: str | None = None
    ) -> str:
        command_id = command_id or self.new_command_id()
        message = {"v": PROTOCOL_VERSION, "id": command_id, "type": kind, "args": args or {}}
        self.link.publish(self.topics.command(self.device_id), encode(message))
        return command_id

    def wait_reply(self, command_id: str, timeout: float = 10.0) -> dict:
        with self._cond:
            if not self._cond.wait_for(lambda: command_id in self._replies, timeout):
                raise TimeoutError(f"no reply to {command_id} within {timeout} s")
            return self._replies.pop(command_id)

    def wait_state(self, predicate: Callable[[dict], bool], timeout: float = 10.0) -> dict:
        """Wait until the latest snapshot satisfies `predicate`; returns that snapshot."""
        with self._cond:
            ok = self._cond.wait_for(
                lambda: self.state is not None and predicate(self.state), timeout
            )
            if not ok:
                raise TimeoutError(f"state did not reach the expected condition in {timeout} s")
            return self.state

    def wait_line(
        self, service: str, predicate: Callable[[dict], bool], timeout: float = 10.0
    ) -> dict:
        """Wait until the latest line of `service` satisfies `predicate`; returns it."""
        with self._cond:
            ok = self._cond.wait_for(
                lambda: service in self.lines and predicate(self.lines[service]), timeout
            )
            if not ok:
                raise TimeoutError(f"line {service} did not reach the condition in {timeout} s")
            return self.lines[service]

    def _announce(self) -> None:
        status = {"v": PROTOCOL_VERSION, "device": self.device_id, "online": True}
        self.link.publish(self.topics.status(self.device_id), encode(status), retain=True)

    def _received(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        # paho's thread: decode, then hand over under the condition variable.
        try:
            message = json.loads(payload)
            if not isinstance(message, dict):
                raise ValueError("not an object")
        except ValueError:
            log.warning("undecodable message on %s dropped", topic)
            return
        if topic == self.topics.events:
            if self._on_event is not None:
                self._on_event(message)
            return
        with self._cond:
            if topic == self.topics.state:
                if self.state is None or message.get("seq", 0) >= self.state.get("seq", 0):
                    self.state = message
            elif topic in self._line_topics:
                service = self._line_topics[topic]
                known = self.lines.get(service)
                if known is None or message.get("seq", 0) >= known.get("seq", 0):
                    self.lines[service] = message
            elif message.get("id") is not None:
                self._replies[message["id"]] = message
            self._cond.notify_all()
