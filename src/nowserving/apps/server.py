"""The branch server: the one writer of queue state.

paho's thread only puts messages on `inbox`. The apply thread (`run`) takes them in
batches, checks and applies each command, appends the batch's events to the log in one
durable transaction, and only then publishes events, replies and the retained snapshot,
and acknowledges the commands to the broker. A crash before the commit therefore loses
nothing: the broker still holds the unacknowledged commands for the persistent session,
redelivers them, and the command ids keep each from being applied twice.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from nowserving import __version__
from nowserving.adapters.mqtt import Broker, MqttLink
from nowserving.adapters.store import EventLog
from nowserving.adapters.systemd import Notifier
from nowserving.config import BranchConfig
from nowserving.domain import Branch, Command, Event
from nowserving.domain.commands import COMMAND_TYPES
from nowserving.domain.estimate import Estimator
from nowserving.errors import ProtocolError
from nowserving.protocol import (
    Topics,
    decode_command,
    encode,
    event_message,
    reply_message,
    state_message,
    ticket_view,
)
from nowserving.protocol.messages import Estimates

log = logging.getLogger(__name__)

BATCH = 200  # commands per durable transaction at most
ESTIMATE_EVERY_S = 1.0  # wait estimates in the snapshot are at most this old ...
ESTIMATE_SHARE = 0.02  # ... unless computing them would take more of the apply loop
REFRESH_S = 15.0  # ... and the snapshot is republished this often while people wait
COUNTER_COMMANDS = frozenset(COMMAND_TYPES) - {"issue_ticket", "cancel"}


@dataclass
class _Inbound:
    topic: str
    payload: bytes
    mid: int
    qos: int


_CONNECTED = object()


class BranchServer:
    """Applies commands from MQTT to the branch and publishes what changed."""

    def __init__(
        self,
        config: BranchConfig,
        log_store: EventLog,
        broker: Broker,
        clock: Callable[[], float] = time.time,
        notifier: Notifier | None = None,
    ) -> None:
        self.config = config
        self.notifier = notifier or Notifier()
        self.store = log_store
        self.clock = clock
        self.topics = Topics(config.rules.branch_id)
        self.branch: Branch = log_store.load(config.rules)
        self.inbox: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._estimate_cache: tuple[int, float, Estimates] | None = None
        self._estimate_every = ESTIMATE_EVERY_S
        self._published = (-1, time.monotonic())
        offline = encode({"v": 1, "device": "server", "online": False})
        self.link = MqttLink(
            broker,
            f"nowserving-server-{config.rules.branch_id}",
            on_message=self._received,
            on_connected=self._reconnected,
            will=(self.topics.status("server"), offline),
            persistent=True,
            manual_ack=True,
        )
        self.link.subscribe(self.topics.commands, qos=1)
        log.info("branch %s loaded at seq %d", config.rules.branch_id, self.branch.seq)

    def __enter__(self) -> BranchServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        """Run the apply loop on its own thread and connect to the broker."""
        # Ready first: the log is loaded, and the loop's watchdog pets must come after it.
        self.notifier.ready(f"branch {self.config.rules.branch_id} at seq {self.branch.seq}")
        self._thread = threading.Thread(target=self.run, name="apply-loop", daemon=True)
        self._thread.start()
        self.link.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.link.connected.is_set():
            self._publish_status(online=False)
        self.link.close()
        self.store.close()

    # ----- the thread hop: paho's network thread hands messages to the apply loop ---------

    def _received(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        self.inbox.put(_Inbound(topic, payload, mid, qos))  # paho thread -> apply thread

    def _reconnected(self) -> None:
        self.inbox.put(_CONNECTED)  # paho thread -> apply thread: republish state

    # ----- the apply loop ---------------------------------------------------------------

    def run(self) -> None:
        interval = self.notifier.watchdog_interval
        petted = time.monotonic()
        while not self._stop.is_set():
            # The watchdog is petted from this loop only: a stuck loop gets restarted.
            if interval is not None and time.monotonic() - petted >= interval:
                self.notifier.watchdog()
                petted = time.monotonic()
            try:
                first = self.inbox.get(timeout=0.2)
            except queue.Empty:
                if self.link.connected.is_set():
                    self._refresh_if_due()
                continue
            batch = [first]
            while len(batch) < BATCH:
                try:
                    batch.append(self.inbox.get_nowait())
                except queue.Empty:
                    break
            self._process(batch)

    def _process(self, batch: list) -> None:
        events: list[Event] = []
        replies: list[tuple[str, dict]] = []
        republish = False
        for item in batch:
            if item is _CONNECTED:
                republish = True
                continue
            reply = self._handle(item, events)
            if reply is not None:
                replies.append(reply)
        # Durable first: nothing that depends on these events leaves before the commit.
        self.store.append(events)
        for event in events:
            self.link.publish(self.topics.events, encode(event_message(event)))
        for topic, message in replies:
            self.link.publish(topic, encode(message))
        if events or republish:
            self.publish_state()
        if republish:
            self._publish_status(online=True)
        for item in batch:
            if item is not _CONNECTED and item.qos > 0:
                self.link.ack(item.mid, item.qos)
        self.store.maybe_snapshot(self.branch)

    def _handle(self, item: _Inbound, events: list[Event]) -> tuple[str, dict] | None:
        """Check and apply one inbound message; returns the reply to send, if any."""
        device_id = self.topics.device_of_command(item.topic)
        if device_id is None:
            self._refuse(item.topic, "wrong_topic", "not a command topic")
            return None
        reply_to = self.topics.reply(device_id)
        try:
            command_id, kind, args = decode_command(item.payload)
            args = self._authorize(device_id, kind, args, command_id)
        except ProtocolError as err:
            self._refuse(item.topic, err.code, err.message)
            return reply_to, reply_message(
                err.command_id, {"ok": False, "code": err.code, "message": err.message}
            )
        command = Command(command_id, kind, device_id, self.clock(), args)
        new_events, outcome, duplicate = self.branch.handle(command)
        events.extend(new_events)
        if duplicate:
            log.info("command %s from %s seen before; replying again", command_id, device_id)
        elif not outcome["ok"]:
            log.info(
                "command %s %s from %s refused: %s", command_id, kind, device_id, outcome["message"]
            )
        return reply_to, reply_message(command_id, outcome, self._result(outcome))

    def _authorize(self, device_id: str, kind: str, args: dict, command_id: str) -> dict:
        device = self.config.devices.get(device_id)
        if device is None:
            raise ProtocolError(
                "unknown_device", f"device {device_id!r} is not in the config", command_id
            )
        if device.role not in COMMAND_TYPES[kind]:
            raise ProtocolError("not_allowed", f"a {device.role} may not send {kind}", command_id)
        if device.role == "counter" and kind in COUNTER_COMMANDS:
            if args.get("counter", device.counter) != device.counter:
                raise ProtocolError(
                    "not_allowed", f"{device_id} acts only as counter {device.counter}", command_id
                )
            args = {**args, "counter": device.counter}
        return args

    def _result(self, outcome: dict) -> dict:
        if not outcome["ok"]:
            return {}
        result = {"event": outcome["event"], "seq": outcome["seq"]}
        ticket = self.branch.tickets.get(outcome.get("ticket", ""))
        if ticket is not None:
            result["ticket"] = ticket_view(self.branch, ticket)
        if "counter" in outcome:
            result["counter"] = outcome["counter"]
        return result

    def _refuse(self, topic: str, code: str, message: str) -> None:
        log.warning("refused message on %s: %s (%s)", topic[:120], code, message)

    # ----- publishing -------------------------------------------------------------------

    def publish_state(self) -> None:
        now = self.clock()
        state = state_message(self.branch, self.config.names, now, self._estimates(now))
        self._published = (self.branch.seq, time.monotonic())
        self.link.publish(self.topics.state, encode(state), retain=True)

    def _estimates(self, now: float) -> Estimates:
        """Current wait estimates, recomputed at most every ESTIMATE_EVERY_S seconds, and
        never more often than ESTIMATE_SHARE allows: with hundreds waiting, simulating every
        ticket's wait takes tens of milliseconds of the apply loop."""
        cached = self._estimate_cache
        if cached is None or (
            cached[0] != self.branch.seq and time.monotonic() - cached[1] >= self._estimate_every
        ):
            started = time.monotonic()
            tickets, arrivals = Estimator(self.branch, now).for_all()
            took = time.monotonic() - started
            self._estimate_every = max(ESTIMATE_EVERY_S, took / ESTIMATE_SHARE)
            cached = self._estimate_cache = (
                self.branch.seq,
                time.monotonic(),
                (tickets, arrivals, now, self.branch.seq),
            )
        return cached[2]

    def _refresh_if_due(self) -> None:
        """Republish when estimates went stale, and now and then while people wait."""
        seq, at = self._published
        idle_for = time.monotonic() - at
        waiting = any(self.branch.lines.values())
        stale = self._estimate_cache is not None and self._estimate_cache[0] != seq
        if (stale and idle_for >= self._estimate_every) or (waiting and idle_for >= REFRESH_S):
            self.publish_state()

    def _publish_status(self, online: bool) -> None:
        status = {
            "v": 1,
            "device": "server",
            "online": online,
            "version": __version__,
            "seq": self.branch.seq,
            "pid": os.getpid(),
        }
        self.link.publish(self.topics.status("server"), encode(status), retain=True)
