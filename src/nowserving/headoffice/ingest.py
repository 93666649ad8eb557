"""`nowserving headoffice ingest`: every branch's bridged events into PostgreSQL.

paho's network thread only puts each message on a queue. The writer (the thread that calls
`run`) takes them in batches, writes a batch in one transaction (`db.HeadOfficeDb.write`)
and only after the commit acknowledges its messages to the broker (paho manual ack): a
message the ingest had not stored when it died is delivered again by the broker, from the
ingest's kept session, and stored once (inserts ignore an event already in).

Then it looks for holes in each branch's seq (a broker dropped events, or the head office
started after the branch): a hole seen for `repair_after_s` is asked of the branch server
itself with `events_range` over the bridge, and its answer is written like any batch.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass

import psycopg

from nowserving.adapters.mqtt import Broker, MqttLink
from nowserving.headoffice.db import Batch, EventRow, HeadOfficeDb, Hole
from nowserving.headoffice.health import HEALTH_EVERY_S, Health, gone_message, health_topic
from nowserving.headoffice.live import live_summary, newer
from nowserving.headoffice.rebuilder import Rebuilder
from nowserving.headoffice.status import branch_statuses
from nowserving.headoffice.upkeep import recheck
from nowserving.protocol import PROTOCOL_VERSION, encode
from nowserving.protocol.acl import bridge_status_topic
from nowserving.protocol.vocabulary import HEAD_OFFICE, Cmd

log = logging.getLogger(__name__)

ROOT = "nowserving/v2"
BATCH = 2000  # messages per transaction at most
RANGE = 500  # events asked for at once (what a branch answers in one reply)
REPAIR_AFTER_S = 2.0  # a hole seen this long is asked for (events may be on their way)
ASK_AGAIN_S = 30.0  # a request unanswered this long is sent again ...
MAX_ASKS = 5  # ... this many times at most; then the hole stays open (`status` shows it)
PLAN_EVERY_S = 1.0
RETRY_S = 2.0  # the database went away: try the batch again this often
# One branch's seqs are recounted from the table each plan (round robin): a hole that
# appears later (an older backup restored, rows deleted) is found and repaired.
RECHECK_EVERY_S = 1.0


@dataclass
class _Msg:
    topic: str
    payload: bytes
    mid: int
    qos: int


def _event_row(branch: str, message: object, via: str) -> EventRow | None:
    """An event message checked against the contract, or None (logged)."""
    if not isinstance(message, dict) or message.get("v") != PROTOCOL_VERSION:
        return None
    seq, epoch, at = message.get("seq"), message.get("epoch", 0), message.get("at")
    kind, data = message.get("type"), message.get("data")
    ok = (
        type(seq) is int and seq > 0 and type(epoch) is int and epoch >= 0
        and isinstance(at, int | float) and not isinstance(at, bool)
        and isinstance(kind, str) and isinstance(data, dict)
    )  # fmt: skip
    if not ok:
        return None
    command_id, device = message.get("command_id"), message.get("device")
    return EventRow(
        branch, epoch, seq, float(at), kind,
        command_id if isinstance(command_id, str) else None,
        device if isinstance(device, str) else None,
        json.dumps(data, ensure_ascii=False, separators=(",", ":")), via,
    )  # fmt: skip


def range_args(hole: Hole) -> dict[str, str]:
    """`events_range`'s arguments for `hole`: naming its epoch when that matters (a past
    epoch's hole, or a new epoch whose start was missed: the branch answers only that
    epoch's events and where it begins), else not, as a branch server older than the
    `epoch` argument refuses it."""
    args = {"from": str(hole.first), "to": str(hole.last)}
    if hole.past or (hole.epoch > 0 and hole.first == 1):
        args["epoch"] = str(hole.epoch)
    return args


def take_range(batch: Batch, branch: str, body: dict) -> int:
    """Add a branch server's answer to `events_range` to `batch`: its events, as repairs,
    and where the epoch asked for begins in its log. Returns how many events were dropped
    as malformed."""
    result = body.get("result")
    if not body.get("ok") or not isinstance(result, dict):
        log.warning("branch %s refused events_range: %s", branch, body.get("error"))
        return 0
    asked, start = result.get("asked_epoch"), result.get("epoch_first")
    if type(asked) is int and type(start) is int and start > 0:
        batch.epoch_starts[(branch, asked)] = start
    events = result.get("events")
    events = events if isinstance(events, list) else []
    dropped = 0
    for event in events:
        row = _event_row(branch, event, "repair")
        if row is None:
            dropped += 1
            log.warning("dropped a malformed event of branch %s", branch)
        else:
            batch.events.append(row)
    log.info("branch %s sent %d event(s) from its log (%s-%s)", branch, len(events),
             result.get("from"), result.get("to"))  # fmt: skip
    return dropped


class Ingest:
    """Consumes the head-office broker's branch topics into the database."""

    def __init__(
        self,
        db: HeadOfficeDb,
        broker: Broker,
        *,
        client_id: str = "nowserving-headoffice-ingest",
        repair_after_s: float = REPAIR_AFTER_S,
        ask_again_s: float = ASK_AGAIN_S,
        rebuild: bool = True,
    ) -> None:
        self.db = db
        self.repair_after_s = repair_after_s
        self.ask_again_s = ask_again_s
        self.inbox: queue.Queue[_Msg] = queue.Queue()
        self.stopping = threading.Event()
        self.stored = 0  # events newly stored by this process
        self._seen: dict[tuple[str, int, int], float] = {}  # hole start -> monotonic time
        # branch -> (epoch, first, monotonic time) of the request it has not answered yet
        self._asked: dict[str, tuple[int, int, float]] = {}
        self._planned = 0.0
        self._reported = 0.0
        self._rechecked = 0.0
        self._recheck_next = ""  # the branch after which the round robin goes on
        self.health = Health(client_id)
        # Due branch-days made beside the writer (else by `rebuild --due`): rebuilder.py.
        self.rebuilder = Rebuilder(db.dsn, self.health, self.inbox.qsize) if rebuild else None
        self.health_topic = health_topic(client_id)
        self.link = MqttLink(
            broker, client_id, on_message=self._received, persistent=True, manual_ack=True,
            will=(self.health_topic, gone_message(client_id)),
        )  # fmt: skip
        # `status/+`: the server's and every device's retained status (the live page's
        # devices down); they change rarely, and the bridge forwards the retained ones on
        # connecting.
        for topic in ("events", "state", "status/+", f"reply/{HEAD_OFFICE}"):
            self.link.subscribe(f"{ROOT}/+/{topic}", qos=1)
        self.link.subscribe(bridge_status_topic("+"), qos=1)

    def _received(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        self.inbox.put(_Msg(topic, payload, mid, qos))  # paho thread -> writer

    def start(self) -> None:
        """Connect (in the background, reconnecting until `close`), and start rebuilding."""
        self.link.start()
        if self.rebuilder is not None:
            self.rebuilder.start()

    def close(self) -> None:
        """Stop `run`, say so on the health topic (a clean disconnect sends no will), and
        disconnect."""
        self.stopping.set()
        if self.rebuilder is not None:
            self.rebuilder.close()
        self.link.publish(self.health_topic, gone_message(self.health.client_id), retain=True)
        self.link.close()

    def run(self) -> None:
        """The writer loop, until `close` (or `stopping` is set)."""
        while not self.stopping.is_set():
            batch = self._take()
            if batch:
                self._store(batch)
                if self.rebuilder is not None:
                    self.rebuilder.nudge()
            now = time.monotonic()
            if now - self._planned >= PLAN_EVERY_S:
                self._planned = now
                self._repair()
            if now - self._rechecked >= RECHECK_EVERY_S:
                self._rechecked = now
                self._recheck_one()
            if now - self._reported >= HEALTH_EVERY_S:
                self._reported = now
                self.report()

    def _take(self) -> list[_Msg]:
        try:
            batch = [self.inbox.get(timeout=PLAN_EVERY_S)]
        except queue.Empty:
            return []
        while len(batch) < BATCH:
            try:
                batch.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def _store(self, messages: list[_Msg]) -> None:
        """Write the batch, retrying while the database is away; then acknowledge it."""
        batch = Batch()
        for message in messages:
            self._read(message, batch)
        while not self.stopping.is_set():
            try:
                inserted = self.db.write(batch)
                break
            except psycopg.OperationalError as err:
                log.warning("the database refused a batch (%s); trying again", err)
                self.health.error(f"the database refused a batch: {err}")
                self._reconnect()
            except psycopg.Error as err:  # e.g. a month detached meanwhile: read it again
                log.error("a batch failed (%s); trying again", err)
                self.health.error(f"a batch failed: {err}")
                self.stopping.wait(RETRY_S)
        else:
            return  # stopping: nothing acknowledged, the broker delivers it again
        self.stored += sum(inserted.values())
        self.health.stored = self.stored
        self.health.too_old = self.db.too_old
        for message in messages:
            if message.qos > 0:
                self.link.ack(message.mid, message.qos)

    def _reconnect(self) -> None:
        self.stopping.wait(RETRY_S)
        try:
            self.db.close()
            self.db = HeadOfficeDb(self.db.dsn)
        except psycopg.OperationalError as err:
            log.warning("cannot reach the database: %s", err)

    def _read(self, message: _Msg, batch: Batch) -> None:
        """Add what one message says to `batch`; a message that breaks the contract is
        logged and dropped (it is acknowledged: it can never be stored)."""
        parts = message.topic.split("/")
        try:
            body = json.loads(message.payload) if message.payload else None
        except ValueError:
            body = None
        if parts[:2] == ["nowserving", "bridge"] and len(parts) == 3:
            batch.links[parts[2]] = message.payload == b"1"
            batch.heard.add(parts[2])
            return
        if len(parts) == 5 and "/".join(parts[:2]) == ROOT and parts[3] == "status":
            self._read_status(batch, parts[2], parts[4], body)
            return
        if len(parts) < 4 or "/".join(parts[:2]) != ROOT or not isinstance(body, dict):
            log.warning("dropped a message on %s: not one the ingest reads", message.topic[:120])
            self.health.error(f"dropped a message on {message.topic[:120]}: not one it reads")
            return
        branch, what = parts[2], "/".join(parts[3:])
        batch.heard.add(branch)
        if what == "events":
            self._add_event(batch, branch, body, "stream")
        elif what == "state" and type(body.get("seq")) is int:
            batch.states[branch] = (int(body.get("epoch") or 0), body["seq"])
            summary = live_summary(body)
            if summary is not None and newer(summary, batch.live.get(branch)):
                batch.live[branch] = summary
        elif what == f"reply/{HEAD_OFFICE}":
            self._take_range(batch, branch, body)

    def _read_status(self, batch: Batch, branch: str, device: str, body: object) -> None:
        """A retained `status/<device>`: the server's online flag, or a device up or down
        (its last will says offline); an empty one (the status cleared) forgets the device."""
        batch.heard.add(branch)
        if device == "server":
            if isinstance(body, dict):
                batch.servers[branch] = body.get("online") is True
        elif body is None:
            batch.devices[(branch, device)] = None
        elif isinstance(body, dict):
            batch.devices[(branch, device)] = body.get("online") is True

    def _add_event(self, batch: Batch, branch: str, body: object, via: str) -> None:
        row = _event_row(branch, body, via)
        if row is None:
            log.warning("dropped a malformed event of branch %s", branch)
            self.health.error(f"dropped a malformed event of branch {branch}")
        else:
            batch.events.append(row)

    def _take_range(self, batch: Batch, branch: str, body: dict) -> None:
        """A branch server's answer to `events_range`: its events, stored as repairs."""
        self._asked.pop(branch, None)
        dropped = take_range(batch, branch, body)
        if dropped:
            self.health.error(f"dropped {dropped} malformed event(s) of branch {branch}")

    # ----- health and recheck -----------------------------------------------------------

    def report(self) -> None:
        """Publish the ingest's health (retained) and keep it in the database."""
        self.health.tick()
        statuses = None
        try:
            statuses = branch_statuses(self.db.conn)
            self.health.save(self.db.conn)
        except psycopg.Error as err:
            log.warning("cannot read or write the health numbers: %s", err)
            self.health.error(f"cannot read the branches' progress: {err}")
        payload = encode(self.health.message(statuses))
        self.link.publish(self.health_topic, payload, qos=1, retain=True)

    def _recheck_one(self) -> None:
        """Recount the next branch's seqs (round robin); a hole found is repaired."""
        try:
            row = self.db.conn.execute(
                "SELECT coalesce((SELECT min(branch) FROM branches WHERE branch > %s), "
                "(SELECT min(branch) FROM branches))",
                (self._recheck_next,),
            ).fetchone()
            if row[0] is None:
                return
            self._recheck_next = row[0]
            found = recheck(self.db.conn, row[0])
        except psycopg.Error as err:
            log.warning("cannot recheck branch %s: %s", self._recheck_next, err)
            return
        if found is not None and found.hole:
            self.health.holes_found += 1
            self.health.error(f"branch {found.branch}: events from {found.after + 1} were "
                              "missing again; asking the branch for them")  # fmt: skip

    # ----- gap repair -------------------------------------------------------------------

    def _repair(self) -> None:
        try:
            holes = self.db.holes(RANGE - 1)
        except psycopg.OperationalError as err:
            log.warning("cannot look for gaps: %s", err)
            self.health.error(f"cannot look for gaps: {err}")
            return
        now = time.monotonic()
        open_now = {(h.branch, h.epoch, h.first) for h in holes}
        self._seen = {k: t for k, t in self._seen.items() if k in open_now}
        for hole in holes:
            seen = self._seen.setdefault((hole.branch, hole.epoch, hole.first), now)
            if now - seen < self.repair_after_s:
                continue
            asked = self._asked.get(hole.branch)
            if (
                asked is not None
                and asked[:2] == (hole.epoch, hole.first)
                and (now - asked[2] < self.ask_again_s)
            ):
                continue
            self._ask(hole, now)

    def _ask(self, hole: Hole, now: float) -> None:
        asks = self.db.asked(hole)
        if asks > MAX_ASKS:
            if asks == MAX_ASKS + 1:
                log.error("branch %s never sent events %d-%d: leaving the gap open",
                          hole.branch, hole.first, hole.last)  # fmt: skip
            return
        self._asked[hole.branch] = (hole.epoch, hole.first, now)
        command = {
            "v": PROTOCOL_VERSION,
            "id": f"ho-{hole.first}-{uuid.uuid4().hex[:8]}",
            "type": Cmd.EVENTS_RANGE.value,
            "args": range_args(hole),
        }
        log.info("asking branch %s for events %d-%d of epoch %d", hole.branch, hole.first,
                 hole.last, hole.epoch)  # fmt: skip
        self.link.publish(f"{ROOT}/{hole.branch}/cmd/{HEAD_OFFICE}", encode(command))
