"""The branch server: the one writer of queue state.

paho's thread only puts messages on `inbox`. The apply thread (`run`) takes them in
batches, checks and applies each command, appends the batch's events to the log in one
durable transaction, and only then publishes events, replies and the retained snapshot,
and acknowledges the commands to the broker. A crash before the commit therefore loses
nothing: the broker still holds the unacknowledged commands for the persistent session,
redelivers them, and the command ids keep each from being applied twice.

Before it applies anything on a connection, the server reads the broker's retained summary
(`_check_broker`): when another server instance published it since this one last served,
this one steps down; when it is ahead of the log (a lost or older log), the server refuses
to serve, or, told `restore`, starts a new epoch past every number devices saw.
Commands that arrive meanwhile wait, unacknowledged.

What is published is split so that each consumer gets only what it shows: a small
retained summary (`state`) after every batch, the head and counts of each service's line
(`line/<service>`, the same size whatever the line's length) when it changed (at most every
LINE_EVERY_S), and wait estimates made on another thread (`server/estimates.py`), never on
the command path. The summary, events and replies are encoded on the apply thread (they
are small, and a command's latency is theirs); lines are encoded and published by
`LatestPublisher`'s thread, newest per topic. A new ticket's own estimate, which
its event records, comes from `newcomers` (`domain/newcomer.py`), which starts from the
worker's latest newcomer estimates, so issuing seldom simulates.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from nowserving import __version__
from nowserving.adapters.mqtt import Broker, MqttLink
from nowserving.adapters.store import EventLog
from nowserving.adapters.systemd import Notifier
from nowserving.config import BranchConfig
from nowserving.config.pins import load_pins
from nowserving.domain import Branch, Command, Event, NewcomerEstimates
from nowserving.domain.bookings import BOOKED
from nowserving.domain.commands import remember_key
from nowserving.domain.staff import locked_for
from nowserving.errors import ProtocolError, RefusedToServe
from nowserving.protocol import (
    PROTOCOL_VERSION,
    Topics,
    decode_command,
    encode,
    event_message,
    line_message,
    reply_message,
    state_message,
    ticket_view,
)
from nowserving.protocol.messages import (
    COMMAND_ID_RE,
    MAX_PAYLOAD,
    RATE_LIMITED,
    Estimates,
    check_depth,
    seen_in_state,
    web_ticket_message,
)
from nowserving.protocol.status import status_message
from nowserving.protocol.vocabulary import (
    COMMANDS,
    HEAD_OFFICE,
    HEAD_OFFICE_COMMANDS,
    WEB_CONSOLE,
    Cmd,
    Role,
)
from nowserving.server.estimates import EstimateAll, EstimateWorker, Fit, estimate_all
from nowserving.server.hall import Hall
from nowserving.server.history import events_range_reply
from nowserving.server.pins import PinChecker
from nowserving.server.publisher import LatestPublisher
from nowserving.server.ratelimit import FLOODING, UNKNOWN, Budget, RefusalLog
from nowserving.server.webhooks import Webhooks, open_webhooks, take_phone

log = logging.getLogger(__name__)

BATCH = 200  # commands per durable transaction at most
ESTIMATE_EVERY_S = 1.0  # wait estimates are at most this old after a change ...
ESTIMATE_SHARE = 0.25  # ... unless computing them would take more of a core than this
REFRESH_S = 15.0  # ... and are remade this often while people wait, even with no change
LINE_EVERY_S = 0.25  # a changed line is republished at most this often
LINES_AT_ONCE = 1  # lines built per batch while commands wait (the rest right after)
SWITCH_INTERVAL_S = 0.0005
FREEZE_EVERY = 2000  # events between two gc.freeze() calls
CHECK_AGAIN_S = 10.0  # the broker's retained state not read by then: ask again
QUARANTINE_S = 30.0  # a flooding device is not listened to for this long
HELD_QOS0 = 10_000  # QoS 0 commands kept while the broker is checked, at most


@dataclass
class _Inbound:
    topic: str
    payload: bytes
    mid: int
    qos: int


_CONNECTED = object()  # the link is up and subscribed
_DISCONNECTED = object()  # the link is down: nothing is applied until checked again
_CHECKED = object()  # the broker sent all it holds retained on the checked topics


@dataclass
class _Estimated:
    estimates: Estimates | None
    took: float
    fit: Fit | None = None  # the calibration's refit, made with them (Learner.fit_due)


@dataclass
class _PinChecked:
    inbound: _Inbound  # a sign_in, not acknowledged while its PIN was checked
    matched: bool


_DEFERRED = object()  # a command that waits for its PIN check: no reply, no ack yet


class BranchServer:
    """Applies commands from MQTT to the branch and publishes what changed."""

    def __init__(
        self,
        config: BranchConfig,
        log_store: EventLog,
        broker: Broker,
        clock: Callable[[], float] = time.time,
        notifier: Notifier | None = None,
        estimate: EstimateAll = estimate_all,
        *,
        restore: bool = False,
        budget: Budget | None = None,
        pins: dict[str, str] | None = None,
        webhooks: Webhooks | None = None,
    ) -> None:
        """`pins`: staff number -> PIN hash (None: from the config's `staff_pins` file);
        `webhooks`: where ticket events also go (None: as the config's `[webhook]` says)."""
        self.config = config
        self.notifier = notifier or Notifier()
        self.store = log_store
        self.clock = clock
        self.topics = Topics(config.rules.branch_id)
        self.branch: Branch = log_store.load(config.rules)
        self.branch.learner.fit_elsewhere = True  # refits in the estimating process
        self.branch.code_key = log_store.secret("booking_code_key")
        # The hall code's secret (server/hall.py): the queue checks codes against it.
        self.hall = Hall.of(log_store, config.rules)
        self.branch.hall_secret = self.hall.secret
        # Estimates for new tickets, started from the worker's (see `_take_estimates`).
        self.newcomers = NewcomerEstimates()
        self.inbox: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.estimates: Estimates | None = None
        self._estimate_every = ESTIMATE_EVERY_S
        self._estimated = (-1, -REFRESH_S)  # (seq, monotonic time) of the last request
        self._line_seqs: dict[str, int] = {}  # service -> seq of its line's last change
        self._lines_due: set[str] = set(config.rules.services)  # lines to publish
        self._line_sent: dict[str, float] = {}  # service -> monotonic time it may go again
        # Before any thread starts: a missing secret file stops the server here.
        self.webhooks = webhooks or open_webhooks(config, log_store.path)
        if self.webhooks is not None:
            self.webhooks.catch_up(log_store, self.branch)
        self.worker = EstimateWorker(self._estimated_off_thread, estimate)
        self.pins = load_pins(config.staff_pins, config.rules.staff) if pins is None else pins
        self.pin_checker = PinChecker(self._pin_checked)
        # Lines are encoded and sent on this one's thread (apply thread -> publisher thread).
        self.line_publisher = LatestPublisher(self._publish_retained, name="line-publisher")
        self._committed = 0  # events of the current batch already in the log
        self._frozen_at = -FREEZE_EVERY  # seq at the last gc.freeze()
        self.refusals = RefusalLog(log)
        self.budget = budget or Budget()
        self.done = threading.Event()  # set when the apply loop has ended
        self.failure: BaseException | None = None
        self.instance = uuid.uuid4().hex[:12]  # this process, in every summary it publishes
        # Told that the log is older than what devices saw (a backup put back): on the first
        # check that finds it behind, start a new epoch instead of refusing.
        self.restore = restore
        self.serving = False  # checked against the broker on this connection
        self._serving = threading.Event()  # the same, for other threads to wait on
        self._served_before = False  # has served on an earlier connection of this process
        self._held: list[_Inbound] = []  # commands that came before the check
        self._retained: dict[str, bytes] = {}  # what the check read
        self._check_sent: float | None = None  # monotonic time the check was asked for
        # Token hashes whose ticket records (`Topics.web_ticket`) are retained on the broker:
        # cleared when their day is over. Those found there at the check are added too.
        self._web_records: set[str] = set()
        offline = encode(status_message("server", online=False))
        self.link = MqttLink(
            broker,
            f"nowserving-server-{config.rules.branch_id}",
            on_message=self._received,
            on_connected=self._reconnected,
            on_disconnected=self._lost,
            will=(self.topics.status("server"), offline),
            persistent=True,
            manual_ack=True,
        )
        # Flooding devices, not listened to until (monotonic time); see `_quarantine`.
        self._quarantined: dict[str, float] = {}
        self._listening: set[str] = self._command_topics()
        for topic in self._listening:
            self.link.subscribe(topic, qos=1)
        log.info("branch %s loaded at seq %d", config.rules.branch_id, self.branch.seq)

    def __enter__(self) -> BranchServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        """Run the apply loop on its own thread and connect to the broker."""
        # paho's thread and the estimates' thread hold the GIL for up to the switch
        # interval (5 ms by default) when the apply loop wants it back: keep that short.
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        # Ready first: the log is loaded, and the loop's watchdog pets must come after it.
        self.notifier.ready(f"branch {self.config.rules.branch_id} at seq {self.branch.seq}")
        self._thread = threading.Thread(target=self.run, name="apply-loop", daemon=True)
        self._thread.start()
        if self.webhooks is not None:
            self.webhooks.start()
        self.link.start()

    def wait_serving(self, timeout: float) -> bool:
        """Wait until the server is connected, has checked the broker and applies commands."""
        return self._serving.wait(timeout)

    def close(self) -> None:
        """Stop the apply loop, say offline (unless it refused to serve) and let go of
        everything."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.worker.close()
        self.pin_checker.close()
        if self.webhooks is not None:
            self.webhooks.close()
        self.line_publisher.close()
        # A server that refused or stepped down says nothing: the branch is not its to speak for.
        if self.link.connected.is_set() and not isinstance(self.failure, RefusedToServe):
            self._publish_status(online=False)
        self.link.close()
        self.store.close()

    # ----- the thread hop: paho's network thread hands messages to the apply loop ---------

    def _received(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        self.inbox.put(_Inbound(topic, payload, mid, qos))  # paho thread -> apply thread

    def _reconnected(self) -> None:
        self.inbox.put(_CONNECTED)  # paho thread -> apply thread: check, then republish

    def _lost(self) -> None:
        self.inbox.put(_DISCONNECTED)  # paho thread -> apply thread: stop applying

    def _checked(self) -> None:
        self.inbox.put(_CHECKED)  # paho thread -> apply thread: the retained state is in

    def _estimated_off_thread(
        self, estimates: Estimates | None, took: float, fit: Fit | None = None
    ) -> None:
        self.inbox.put(_Estimated(estimates, took, fit))  # estimate thread -> apply thread

    def _pin_checked(self, inbound: object, matched: bool) -> None:
        self.inbox.put(_PinChecked(inbound, matched))  # PIN thread -> apply thread

    # ----- the apply loop ---------------------------------------------------------------

    def run(self) -> None:
        """The apply loop. An error that escapes it ends the server (see `done`): a
        supervisor restarts the process, which rebuilds from the log and gets the
        unacknowledged commands again. It never hangs silently."""
        try:
            self._loop()
        except RefusedToServe as err:
            self.failure = err
            log.critical("%s", err)
        except BaseException as err:
            self.failure = err
            log.critical("the apply loop failed; the server stops", exc_info=True)
        finally:
            self.done.set()

    def _loop(self) -> None:
        interval = self.notifier.watchdog_interval
        petted = time.monotonic()
        while not self._stop.is_set():
            # The watchdog is petted from this loop only, and only while paho's thread lives:
            # a stuck loop or a deaf link gets the server restarted.
            if interval is not None and time.monotonic() - petted >= interval:
                if self.link.alive:
                    self.notifier.watchdog()
                petted = time.monotonic()
            try:
                first = self.inbox.get(timeout=self._idle_timeout())
            except queue.Empty:
                if self.serving and self.link.connected.is_set():
                    self._publish_hall_if_due()
                    self._publish_due_lines()
                    self._request_estimates_if_due()
                    self._release_quarantine_if_due()
                elif self._check_sent is not None:
                    self._check_again_if_due()
                continue
            batch = [first]
            while len(batch) < BATCH:
                try:
                    batch.append(self.inbox.get_nowait())
                except queue.Empty:
                    break
            self._process(batch)

    def _process(self, batch: list) -> None:
        """Apply a batch: commit its events in one transaction, then publish what depends
        on them and acknowledge its commands."""
        events: list[Event] = []
        replies: list[tuple[str, dict]] = []
        commands: list[_Inbound] = []
        republish = estimated = False
        for item in batch:
            if isinstance(item, _Inbound | _PinChecked):
                admitted = self._admit(item)
            elif item is _CHECKED and self._check_sent is not None and not self.serving:
                self._check_broker(events)
                republish = True
                admitted, self._held = self._held, []
            else:
                estimated |= self._take_signal(item)
                continue
            for inbound in admitted:
                reply = self._handle(inbound, events)
                if reply is not _DEFERRED:
                    commands.append(getattr(inbound, "inbound", inbound))  # a _PinChecked's
                    replies += [reply] if reply is not None else []
        self._commit_and_publish(events, replies, republish or estimated)
        if republish:
            self.hall.published = None  # a new connection: say the code again
            self._publish_web_records(None)
            self._lines_due.update(self.config.rules.services)
            self._line_sent.clear()
            self._publish_status(online=True)
            self._retire_legacy_state()
        for item in commands:
            if item.qos > 0:
                self.link.ack(item.mid, item.qos)
        self._publish_hall_if_due()
        self._publish_due_lines()
        self._request_estimates_if_due()
        self._release_quarantine_if_due()
        self.store.maybe_snapshot(self.branch)
        self._freeze_if_due()

    def _admit(self, item: _Inbound | _PinChecked) -> list:
        """The commands to apply now: `item`, or none while the broker is being checked
        (then it waits, unacknowledged, and what the check reads is noted)."""
        if isinstance(item, _PinChecked):  # not serving now: unacknowledged, it comes again
            return [item] if self.serving else []
        if item.topic == self.topics.state:
            if not self.serving:
                self._retained[item.topic] = item.payload
            return []
        if item.topic.startswith(self._web_prefix):
            if item.payload:  # a ticket record retained from before: checked at republish
                self._web_records.add(item.topic[len(self._web_prefix) :])
            return []
        if not self.serving:
            # Not acknowledged: the broker keeps a QoS 1 command meanwhile (20 at most in
            # flight). QoS 0 ones have no such bound: a flood of them is not kept.
            if item.qos or len(self._held) < HELD_QOS0:
                self._held.append(item)
            return []
        return [item]

    def _take_signal(self, item: object) -> bool:
        """The link came up or went down, or estimates arrived (then True)."""
        if item is _CONNECTED:
            self._start_check()
        elif item is _DISCONNECTED:
            self.serving, self._check_sent = False, None
            self._serving.clear()
        elif isinstance(item, _Estimated):
            self._take_estimates(item)
            return True
        return False  # a check answered twice (asked for again): nothing to do

    def _commit_and_publish(
        self, events: list[Event], replies: list[tuple[str, dict]], changed: bool
    ) -> None:
        # Durable first: nothing that depends on these events leaves before the commit.
        self.store.append(events[self._committed :])
        self._committed = 0
        if self.webhooks is not None:  # handed over: the webhooks' thread sends them
            self.webhooks.take(events, self.branch, self.estimates)
        for event in events:
            message = event_message(event, self.branch.epoch)
            self.link.publish(self.topics.events, encode(message))
        if self.serving:
            self._publish_web_records(events)
        for topic, message in replies:
            self.link.publish(topic, encode(message))
        self._note_changed_lines(events)
        if self.serving and (events or changed):
            self.publish_state()

    # ----- before serving: the broker's word on where the branch stands ---------------------

    def _start_check(self) -> None:
        """Read the broker's retained summary before applying anything on this connection."""
        self.serving = False
        self._retained.clear()
        self._check_sent = time.monotonic()
        self.link.read_retained([self.topics.state, self.topics.web_tickets], self._checked)

    def _check_again_if_due(self) -> None:
        if time.monotonic() - self._check_sent >= CHECK_AGAIN_S and self.link.connected.is_set():
            log.warning("no answer from the broker on its retained state yet; asking again")
            self._start_check()

    def _check_broker(self, events: list[Event]) -> None:
        """Compare the log with the summary devices last saw; serve, restore (adding its
        events to `events`, the batch's), or refuse (RefusedToServe)."""
        self._check_sent = None
        self.store.append(events[self._committed :])  # the log as it is, before any reload
        self._committed = len(events)
        found = seen_in_state(self._retained.get(self.topics.state, b""))
        seen, publisher = found if found is not None else (None, None)
        if publisher not in (None, self.instance) and self._served_before:
            raise RefusedToServe(
                f"another branch server (instance {publisher}) has served branch "
                f"{self.config.rules.branch_id} on this broker since this one (instance "
                f"{self.instance}) lost its connection; this one steps down. Run one server "
                "per branch (docs/server.md)."
            )
        if seen is not None and seen.ahead_of(self.branch):
            # Another process may have written the same log since it was loaded.
            self._reload()
        if seen is not None and seen.ahead_of(self.branch):
            where = (
                f"the event log {self.store.path} is at epoch {self.branch.epoch}, seq "
                f"{self.branch.seq} (business day {self.branch.business_day}), but devices "
                f"have seen epoch {seen.epoch}, seq {seen.seq} (business day {seen.day}) "
                "in the broker's retained state"
            )
            if not self.restore:
                raise RefusedToServe(
                    f"{where}: the log is lost or older, and serving from it would give out "
                    "numbers customers already hold. Put the newest backup back and start "
                    "with --restore (docs/server.md, 'Restoring from a backup')."
                )
            events += self.branch.restore(self.clock(), seen)
            log.warning("%s: restored into epoch %d; numbers already given out are skipped",
                        where, self.branch.epoch)  # fmt: skip
        if publisher not in (None, self.instance):
            log.warning("took over branch %s from server instance %s",
                        self.config.rules.branch_id, publisher)  # fmt: skip
        self.restore = False
        self.serving = self._served_before = True
        self._serving.set()

    # ----- commands ---------------------------------------------------------------------

    def _handle(self, item: _Inbound | _PinChecked, events: list[Event]):
        """Check and apply one inbound message; returns the reply to send, if any, or
        _DEFERRED (a sign-in whose PIN is being checked)."""
        item, matched = getattr(item, "inbound", item), getattr(item, "matched", None)
        device_id = self.topics.device_of_command(item.topic)
        if device_id is None and self.topics.legacy.device_of_command(item.topic):
            return self._refuse_legacy(item)
        if device_id is None:
            self._refuse(item.topic, "wrong_topic", "not a command topic")
            return None
        reply_to = self.topics.reply(device_id)
        if not self.budget.allow(self._budget_key(device_id)):
            return self._over_budget(device_id, reply_to, item)
        try:
            command_id, kind, args = decode_command(item.payload)
            args = self._authorize(device_id, kind, args, command_id)
            args, phone = take_phone(kind, args, command_id)  # the webhook's, not the queue's
        except ProtocolError as err:
            self._refuse(item.topic, err.code, err.message)
            return reply_to, reply_message(
                err.command_id, {"ok": False, "code": err.code, "message": err.message}
            )
        except Exception:  # a bug at the edge: refuse the message, never crash-loop on it
            log.exception("checking a message on %s failed", item.topic[:120])
            outcome = {"ok": False, "code": "bad_message", "message": "could not be checked"}
            return reply_to, reply_message(None, outcome)
        args = self._before_queue(item, device_id, command_id, kind, args, matched)
        if not isinstance(args, dict):  # answered without the queue, or a PIN being checked
            return args
        command = Command(command_id, kind, device_id, self.clock(), args)
        try:
            new_events, outcome, duplicate = self.branch.handle(command, self.newcomers.estimate)
        except Exception:
            log.exception("command %s %s from %s failed", command_id, kind, device_id)
            new_events, outcome = self._contain(command, events)
            duplicate = False
        events.extend(new_events)
        self._keep_phone(phone, outcome, duplicate)
        if duplicate and outcome["ok"]:
            log.info("command %s from %s seen before; replying again", command_id, device_id)
        elif not outcome["ok"]:
            self.refusals.note(
                device_id,
                "command %s %s from %s refused: %s",
                command_id,
                kind,
                device_id,
                outcome["message"],
                level=logging.INFO,
            )
        return reply_to, reply_message(command_id, outcome, self._result(outcome))

    def _before_queue(self, item: _Inbound, device: str, command_id: str, kind: str,
                      args: dict, matched: bool | None):  # fmt: skip
        """The args the queue gets, or the reply without it (`ping`), or _DEFERRED."""
        if kind == Cmd.EVENTS_RANGE:
            return self.topics.reply(device), self._events_range(command_id, args)
        if not COMMANDS[kind].queued:
            return self.topics.reply(device), self._answer_itself(command_id)
        args = self._sign_in_args(item, device, command_id, kind, args, matched)
        if isinstance(args, dict) or args is _DEFERRED:
            return args
        return self.topics.reply(device), args

    def _sign_in_args(self, item: _Inbound, device: str, command_id: str, kind: str,
                      args: dict, matched: bool | None):  # fmt: skip
        """sign_in's args as the queue gets them: the PIN replaced by whether it matched,
        so that no PIN reaches the log, an event or a reply. Unchecked yet, the PIN goes to
        the checker's thread (returns _DEFERRED); a retry of an applied sign-in, or one
        for a locked staff number, needs no hash (returns the reply, or matched False).
        Any other command's args are returned as they are."""
        if kind != Cmd.SIGN_IN:
            return args
        if matched is None:
            known = self.branch.outcomes.get(remember_key(device, command_id))
            if known is not None:
                return reply_message(command_id, known, self._result(known))
            staff = args["staff"]
            if not locked_for(self.branch, staff, self.clock()):
                if self.pin_checker.full:
                    message = "too many sign-ins at once: try again shortly"
                    outcome = {"ok": False, "code": RATE_LIMITED, "message": message}
                    return reply_message(command_id, outcome)
                self.pin_checker.check(item, args["pin"], self.pins.get(staff))
                return _DEFERRED
        checked = {k: v for k, v in args.items() if k != "pin"}
        return {**checked, "pin_matched": "yes" if matched else "no"}

    def _keep_phone(self, phone: str | None, outcome: dict, duplicate: bool) -> None:
        """A new ticket's phone number (from the kiosk), or an open booking's (from `book`),
        goes to the webhooks' outbox and nowhere else; a branch without webhooks keeps
        none. A booking's goes to its ticket when it checks in."""
        if phone is None or self.webhooks is None or not outcome["ok"] or duplicate:
            return
        ticket, booking = outcome.get("ticket"), outcome.get("booking")
        if ticket:
            self.webhooks.keep_phone(ticket, phone)
        elif booking and getattr(self.branch.bookings.get(booking), "status", None) == BOOKED:
            self.webhooks.keep_booking_phone(booking, phone)  # not one checked in already

    def _over_budget(self, device_id: str, reply_to: str, item: _Inbound):
        """A command past its device's budget: not applied, not recorded; answered once a
        second at most (the device retries what is not answered)."""
        key = self._budget_key(device_id)
        self.refusals.note(key, "%s is over its budget of %g commands a second (%d at once): "
                           "refusing its commands unapplied", device_id, self.budget.rate,
                           self.budget.burst)  # fmt: skip
        if key != UNKNOWN and self.budget.flooding(key) and key not in self._quarantined:
            self._quarantine(key)
        if not self.budget.tell(key):
            return None
        try:
            command_id = decode_command(item.payload)[0]
        except ProtocolError as err:
            command_id = err.command_id
        message = f"more than {self.budget.rate:g} commands a second: try again shortly"
        return reply_to, reply_message(
            command_id, {"ok": False, "code": RATE_LIMITED, "message": message}
        )

    # ----- flooding devices: not listened to for a while ----------------------------------

    def _command_topics(self) -> set[str]:
        """What the server subscribes to: every device's commands, or, while some flood,
        each other known device's."""
        if not self._quarantined:
            return {self.topics.commands, self.topics.legacy.commands}
        heard = [d for d in (*self.config.devices, HEAD_OFFICE) if d not in self._quarantined]
        return {t.command(d) for d in heard for t in (self.topics, self.topics.legacy)}

    def _listen(self) -> None:
        """Subscribe to what `_command_topics` says now: the new first, then the old go (a
        command may come twice meanwhile: its id makes it count once)."""
        wanted = self._command_topics()
        for topic in sorted(wanted - self._listening):
            self.link.subscribe(topic, qos=1)
        for topic in sorted(self._listening - wanted):
            self.link.unsubscribe(topic)
        self._listening = wanted

    def _quarantine(self, device: str) -> None:
        """Stop listening to a device that floods: the broker drops its commands (none is
        acknowledged by the server, so a device that works retries what matters later)."""
        self._quarantined[device] = time.monotonic() + QUARANTINE_S
        log.warning(
            "%s sent more than %d refused commands in a second: not listening to it for "
            "%g s (docs/server.md, 'A device that floods')",
            device,
            FLOODING,
            QUARANTINE_S,
        )
        self._listen()
        self._publish_status(online=True)

    def _release_quarantine_if_due(self) -> None:
        if not self._quarantined:
            return
        now = time.monotonic()
        released = [d for d, until in self._quarantined.items() if until <= now]
        for device in released:
            del self._quarantined[device]
            log.warning("%s: listening to it again", device)
        if released:
            self._listen()
            self._publish_status(online=True)

    def _budget_key(self, device_id: str) -> str:
        """Whose budget a command counts against: its device's, or, for every device the
        config does not know, one shared budget."""
        known = device_id in self.config.devices or device_id == HEAD_OFFICE
        return device_id if known else UNKNOWN

    def _events_range(self, command_id: str, args: dict) -> dict:
        """The head office's `events_range`: a range of the log, read-only (server/history.py)."""
        try:
            return events_range_reply(self.store, self.branch, command_id, args)
        except ProtocolError as err:
            self._refuse(self.topics.command(HEAD_OFFICE), err.code, err.message)
            outcome = {"ok": False, "code": err.code, "message": err.message}
            return reply_message(command_id, outcome)

    def _answer_itself(self, command_id: str) -> dict:
        """A command the queue never sees (`ping`): answered from this loop, so an answer
        says the loop is alive; nothing is recorded, as nothing changes."""
        result = {"at": self.clock(), "seq": self.branch.seq, "version": __version__}
        return reply_message(command_id, {"ok": True}, result)

    def _contain(self, command: Command, events: list[Event]) -> tuple[list[Event], dict]:
        """A command whose handling raised: make the state exactly what the log says again
        (commit the batch so far, rebuild from the log), then record the command as refused
        with `internal_error`, so that its redelivery is answered instead of retried."""
        self.store.append(events[self._committed :])
        self._committed = len(events)
        self._reload()
        return self.branch.reject(
            command, "internal_error", "the server failed to handle this command; see its log"
        )

    def _reload(self) -> None:
        """The branch as the log has it, and nothing kept from before, as on a restart."""
        self.branch = self.store.load(self.config.rules)
        self.branch.learner.fit_elsewhere = True
        self.branch.code_key = self.store.secret("booking_code_key")
        self.branch.hall_secret = self.hall.secret
        self.newcomers = NewcomerEstimates()

    def _authorize(self, device_id: str, kind: str, args: dict, command_id: str) -> dict:
        if device_id != HEAD_OFFICE:
            return self._authorize_device(device_id, kind, args, command_id)
        # The head office's ingest, through the bridge: it only reads.
        if kind not in HEAD_OFFICE_COMMANDS:
            raise ProtocolError("not_allowed", f"the head office may not send {kind}", command_id)
        return args

    def _authorize_device(self, device_id: str, kind: str, args: dict, command_id: str) -> dict:
        device = self.config.devices.get(device_id)
        if device is None:
            raise ProtocolError(
                "unknown_device", f"device {device_id!r} is not in the config", command_id
            )
        spec = COMMANDS[kind]
        if device.role not in spec.roles:
            raise ProtocolError("not_allowed", f"a {device.role} may not send {kind}", command_id)
        if device.role == Role.WEB and kind in WEB_CONSOLE:
            # For a manager signed in to its console: it names the counter itself.
            if kind in (Cmd.OPEN_COUNTER, Cmd.PAUSE_COUNTER, Cmd.CLOSE_COUNTER) and not args.get(
                "counter"
            ):
                raise ProtocolError("bad_args", f"{kind} from a web device names the counter",
                                    command_id)  # fmt: skip
            return args
        if device.role == Role.WEB and kind in (Cmd.JOIN_REMOTE, Cmd.CHECK_IN):
            return self._web_customer_args(kind, args, command_id)
        if device.role == Role.WEB and spec.queued:
            # It acts for a customer: only with the ticket and the token of its QR code.
            if not args.get("ticket") or not args.get("token"):
                raise ProtocolError(
                    "not_allowed", f"a web device sends {kind} with ticket and token", command_id
                )
            return {k: v for k, v in args.items() if k != "counter"}
        if device.role == Role.COUNTER and spec.own_counter:
            if args.get("counter", device.counter) != device.counter:
                raise ProtocolError(
                    "not_allowed", f"{device_id} acts only as counter {device.counter}", command_id
                )
            args = {**args, "counter": device.counter}
        return args

    @staticmethod
    def _web_customer_args(kind: str, args: dict, command_id: str) -> dict:
        """A remote join, or a check-in from a phone page: always with the page's token;
        a check-in also with the hall code (presence) and the ticket or booking code."""
        if not args.get("token"):
            raise ProtocolError("not_allowed", f"a web device sends {kind} with a token",
                                command_id)  # fmt: skip
        if kind == Cmd.CHECK_IN and (
            not args.get("hall") or not (args.get("ticket") or args.get("code"))
        ):
            raise ProtocolError(
                "not_allowed", "a web device checks in with the hall code, and the ticket "
                "or the booking code", command_id,
            )  # fmt: skip
        return args

    def _result(self, outcome: dict) -> dict:
        if not outcome["ok"]:
            return {}
        result = {"event": outcome["event"], "seq": outcome["seq"]}
        ticket = self.branch.tickets.get(outcome.get("ticket", ""))
        if ticket is not None:
            result["ticket"] = ticket_view(self.branch, ticket, self.clock())
        if "counter" in outcome:
            result["counter"] = outcome["counter"]
        if "lease" in outcome:
            result["lease"] = outcome["lease"]
        for key in ("booking", "code", "booked_at", "late", "remote"):  # docs/appointments.md
            if key in outcome:
                result[key] = outcome[key]
        return result

    def _refuse(self, topic: str, code: str, message: str) -> None:
        device = self.topics.device_of_command(topic)
        key = self._budget_key(device) if device else UNKNOWN
        self.refusals.note(key, "refused message on %s: %s (%s)", topic[:120], code, message)

    # ----- an earlier protocol version ---------------------------------------------------

    def _refuse_legacy(self, item: _Inbound) -> tuple[str, dict]:
        """A device still speaking v1 gets a v1-shaped refusal on its v1 reply topic."""
        legacy = self.topics.legacy
        device = legacy.device_of_command(item.topic)
        message = f"this branch speaks protocol v{PROTOCOL_VERSION} under {self.topics.base}/"
        self._refuse(item.topic, "bad_version", message)
        command_id = None
        try:  # only to echo the id: any payload at all must be refused without harm
            if len(item.payload) <= MAX_PAYLOAD:
                text = item.payload.decode("utf-8")
                check_depth(text)
                command_id = json.loads(text).get("id")
        except Exception:
            command_id = None
        if not isinstance(command_id, str) or not COMMAND_ID_RE.match(command_id):
            command_id = None
        error = {"code": "bad_version", "message": message}
        return legacy.reply(device), {"v": 1, "id": command_id, "ok": False, "error": error}

    def _retire_legacy_state(self) -> None:
        """Clear the retained v1 snapshot, so that a v1 client is not shown a frozen queue."""
        self.link.publish(self.topics.legacy.state, b"", retain=True)

    # ----- publishing -------------------------------------------------------------------

    def publish_state(self) -> None:
        """Publish the retained summary as the branch stands now."""
        now = self.clock()
        state = state_message(
            self.branch, self.config.names, now, self.estimates, self._line_seqs, self.instance
        )
        self.link.publish(self.topics.state, encode(state), retain=True)

    def _publish_hall_if_due(self) -> None:
        """The hall code of the current window, retained for the web role's hall screen,
        once per window (server/hall.py)."""
        now = self.clock()
        if self.serving and self.hall.due(now):
            message = self.hall.message(now)
            self.link.publish(self.topics.web_hall, encode(message), retain=True)
            if any(s.remote for s in self.config.rules.services.values()):  # lobby displays
                lobby = self.hall.lobby_message(now)
                self.link.publish(self.topics.lobby_hall, encode(lobby), retain=True)

    @property
    def _web_prefix(self) -> str:
        return self.topics.web_ticket("")

    def _publish_web_records(self, events: list[Event] | None) -> None:
        """The retained record of each ticket `events` touched (None: of every ticket of the
        day), for the web role alone; records of tickets no longer of the day are cleared."""
        tickets = self.branch.tickets
        if events is None:
            touched = [t for t in tickets.values() if t.token_hash]
        else:
            ids = {e.data["ticket"] for e in events if isinstance(e.data.get("ticket"), str)}
            touched = [tickets[i] for i in sorted(ids) if i in tickets and tickets[i].token_hash]
        if events is None or any(e.type == "day_started" for e in events):
            live = {t.token_hash for t in tickets.values() if t.token_hash}
            for stale in sorted(self._web_records - live):
                self.link.publish(self.topics.web_ticket(stale), b"", retain=True)
            self._web_records &= live
        for ticket in touched:
            message = web_ticket_message(self.branch, ticket)
            self.link.publish(
                self.topics.web_ticket(ticket.token_hash), encode(message), retain=True
            )
            self._web_records.add(ticket.token_hash)

    def _note_changed_lines(self, events: list[Event]) -> None:
        for event in events:
            for service in _lines_changed_by(event, self.branch):
                self._line_seqs[service] = event.seq
                self._lines_due.add(service)

    def _publish_due_lines(self) -> None:
        """Hand changed lines to the publisher, each at most every LINE_EVERY_S (a staff
        panel needs no more). Only the message is built here (the head of the line and its
        counts, ~0.2 ms); encoding and sending happen on the publisher's thread."""
        if not self._lines_due or not self.serving:
            return
        now, at = time.monotonic(), self.clock()
        # After new estimates every line is due: while commands wait, one a batch.
        left = LINES_AT_ONCE if not self.inbox.empty() else len(self._lines_due)
        for service in sorted(self._lines_due):
            if now < self._line_sent.get(service, 0.0):
                continue
            if left == 0:
                break
            left -= 1
            message = line_message(self.branch, service, at, self.estimates)
            self.line_publisher.offer(self.topics.line(service), message)
            self._line_sent[service] = now + LINE_EVERY_S
            self._lines_due.discard(service)

    def _publish_retained(self, topic: str, payload: bytes) -> None:
        self.link.publish(topic, payload, retain=True)  # on the publisher's thread

    def _idle_timeout(self) -> float:
        """How long the loop may wait for a message before a held-back line is due."""
        if not self._lines_due:
            return 0.2
        now = time.monotonic()
        due = min(self._line_sent.get(s, 0.0) for s in self._lines_due)
        return min(0.2, max(0.001, due - now))

    def _freeze_if_due(self) -> None:
        """Move what the branch has accumulated out of the cyclic garbage collector's way.

        Remembered outcomes, tickets and learned samples are long-lived and free of
        cycles, but a full collection scans them all: with tens of thousands it paused the
        apply loop for 15-30 ms now and then (bench/server_throughput.py). Frozen objects
        are still freed by reference counting; only cyclic garbage made before a freeze
        would stay, and the branch makes none on purpose."""
        if self.branch.seq - self._frozen_at >= FREEZE_EVERY:
            gc.collect()  # cheap: what was frozen before is not scanned again
            gc.freeze()
            self._frozen_at = self.branch.seq

    # ----- estimates, made on the worker's thread ------------------------------------------

    def _request_estimates_if_due(self) -> None:
        """Ask for fresh estimates when the state changed (at most every ESTIMATE_EVERY_S,
        and never for more than ESTIMATE_SHARE of a core) or, while people wait, when
        they are REFRESH_S old: waits shrink as time passes, with or without events."""
        if self.worker.busy:
            return
        seq, at = self._estimated
        since = time.monotonic() - at
        changed = seq != self.branch.seq and since >= self._estimate_every
        waiting = since >= REFRESH_S and any(self.branch.lines.values())
        if changed or waiting:
            self._estimated = (self.branch.seq, time.monotonic())
            # Its thousand-odd new objects would set off collections part way through.
            gc.disable()
            try:
                copy = self.branch.frozen_copy()
            finally:
                gc.enable()
            self.worker.request(copy, self.clock())

    def _take_estimates(self, item: _Estimated) -> None:
        self._estimate_every = max(ESTIMATE_EVERY_S, item.took / ESTIMATE_SHARE)
        self.estimates = item.estimates  # None when they failed: left out, not stale
        if item.fit is not None:
            self.branch.learner.take_fit(*item.fit)
        elif item.estimates is None:  # the estimating process failed: refit here instead
            try:
                self.branch.learner.fit_due()
            except Exception:  # a bug: the factors of the fixed point before stand
                log.exception("refitting the calibration failed")
        if item.estimates is not None:
            _, arrivals, at, seq = item.estimates
            self.newcomers.anchor(self.branch, at, arrivals, seq)
        self._lines_due.update(self.config.rules.services)

    def _publish_status(self, online: bool) -> None:
        fields = {}
        if online:
            fields = {
                "seq": self.branch.seq,
                "epoch": self.branch.epoch,
                "pid": os.getpid(),
                "instance": self.instance,
                "sessions_lost": self.link.sessions_lost,
                "throttled": self.budget.throttled(),
                "not_listening_to": sorted(self._quarantined),
            }
        status = status_message("server", online=online, **fields)
        self.link.publish(self.topics.status("server"), encode(status), retain=True)


def _lines_changed_by(event: Event, branch: Branch) -> tuple[str, ...]:
    """The services whose waiting line `event` changed."""
    data = event.data
    if event.type in ("ticket_issued", "ticket_called"):
        return (data["service"],)
    if event.type == "ticket_transferred":
        return (data["from_service"], data["to_service"])
    if event.type == "ticket_cancelled":
        ticket = branch.tickets.get(data["ticket"])
        return (ticket.service,) if ticket is not None else tuple(branch.lines)
    if event.type == "day_started":
        return tuple(branch.rules.services)
    return ()
