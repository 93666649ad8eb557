"""The head office's upkeep against the real PostgreSQL, without MQTT: a hole that appears
after the fact is found again (`recheck`), old months are let go (`retire`), and the
ingest's health is published retained and shown by `status`."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, date, datetime

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from nowserving.headoffice.db import Batch, EventRow, HeadOfficeDb
from nowserving.headoffice.health import health_topic
from nowserving.headoffice.ingest import Ingest
from nowserving.headoffice.upkeep import recheck, recheck_all, retire, retired_tables
from tests.waiting import wait_until


def at(year: int, month: int, day: int, hour: int = 10) -> float:
    return datetime(year, month, day, hour, tzinfo=UTC).timestamp()


def batch(branch: str, seqs, when: float, via: str = "stream") -> Batch:
    b = Batch()
    for seq in seqs:
        b.events.append(EventRow(branch, 0, seq, when + seq, "ticket_issued", None, None,
                                 '{"number": "A001"}', via))  # fmt: skip
    b.heard.add(branch)
    return b


def progress(db: HeadOfficeDb, branch: str) -> tuple[int, int]:
    return db.conn.execute(
        "SELECT contiguous_seq, max_seq FROM branches WHERE branch = %s", (branch,)
    ).fetchone()


def test_a_range_deleted_later_is_found_again_and_repaired(dsn):
    """GIVEN a branch whose events 1-10 are in WHEN events 4-5 are deleted afterwards (an
    older backup restored) THEN recheck moves it back to 3, the gap repair asks for 4-5
    again (asked afresh, though that gap was repaired once), and their repair closes it."""
    db = HeadOfficeDb(dsn)
    try:
        db.write(batch("pudong", range(1, 11), at(2026, 3, 2)))
        assert progress(db, "pudong") == (10, 10)
        assert not recheck(db.conn, "pudong").hole
        assert db.holes(499) == []
        # The gap 4-5 was asked for five times and repaired once before.
        db.conn.execute("INSERT INTO gaps (branch, epoch, first_seq, last_seq, asks, "
                        "repaired_at) VALUES ('pudong', 0, 4, 5, 5, now())")  # fmt: skip

        db.conn.execute("DELETE FROM events WHERE branch = 'pudong' AND seq IN (4, 5)")
        found = recheck_all(db.conn)
        assert [(r.branch, r.before, r.after, r.hole) for r in found] == [("pudong", 10, 3, True)]
        (hole,) = db.holes(499)
        assert (hole.first, hole.last, hole.tail) == (4, 5, False)
        assert db.asked(hole) == 1  # a new gap: the five asks of the old one do not count

        db.write(batch("pudong", (4, 5), at(2026, 3, 2), via="repair"))
        assert progress(db, "pudong") == (10, 10)
        assert db.holes(499) == []
        assert not recheck(db.conn, "pudong").hole
    finally:
        db.close()


def test_old_months_are_detached_then_dropped_and_not_asked_for_again(dsn):
    """GIVEN a branch with events in January, February and March WHEN two months are kept
    on 15 March THEN January is detached (kept as retired_events_2026_01 for pg_dump), the
    branch is not missing anything (recheck knows January went on purpose), a January
    event coming again is not stored, and --drop drops the detached month."""
    db = HeadOfficeDb(dsn)
    try:
        db.write(batch("pudong", range(1, 6), at(2026, 1, 20)))
        db.write(batch("pudong", range(6, 11), at(2026, 2, 20)))
        db.write(batch("pudong", range(11, 16), at(2026, 3, 2)))
        detached, dropped = retire(db.conn, 2, date(2026, 3, 15))
        assert [p.name for p in detached] == ["events_2026_01"] and dropped == []
        assert retired_tables(db.conn) == ["retired_events_2026_01"]
        count = db.conn.execute("SELECT count(*), min(seq) FROM events").fetchone()
        assert count == (10, 6)
        assert not recheck(db.conn, "pudong").hole
        assert progress(db, "pudong") == (15, 15)

        db.write(batch("pudong", (3,), at(2026, 1, 20), via="repair"))  # an old one again
        assert db.too_old == 1
        assert db.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 10

        detached, dropped = retire(db.conn, 2, date(2026, 3, 15), drop=True)
        assert detached == [] and dropped == ["retired_events_2026_01"]
        assert retired_tables(db.conn) == []
    finally:
        db.close()


def test_the_ingest_publishes_its_health_retained_and_status_shows_it(dsn, broker):
    """GIVEN the ingest on a broker WHEN a branch's bridge flag and events come THEN its
    retained health topic names the branch with its lag and status and the rows/s, and
    `nowserving headoffice status` prints the same ingest line above the branches."""
    db = HeadOfficeDb(dsn)
    ingest = Ingest(db, broker, client_id="ho-test")
    runner = threading.Thread(target=ingest.run)
    got: dict = {}
    watcher = paho.Client(CallbackAPIVersion.VERSION2)
    watcher.on_message = lambda _c, _u, m: got.update(json.loads(m.payload))
    try:
        ingest.start()
        runner.start()
        wait_until(ingest.link.connected.is_set, 10, "the ingest's connection")
        ingest.link.publish("nowserving/bridge/pudong", b"1", retain=True)
        event = {"v": 2, "epoch": 0, "seq": 1, "type": "day_started", "at": at(2026, 3, 2),
                 "command_id": None, "device": None, "data": {}}  # fmt: skip
        ingest.link.publish("nowserving/v2/pudong/events", json.dumps(event).encode())
        wait_until(lambda: progress(db, "pudong") == (1, 1), 10, "the event stored")
        ingest.report()
        watcher.connect(broker.host, broker.port)
        watcher.subscribe(health_topic("ho-test"), qos=1)
        watcher.loop_start()
        # An earlier retained report (the bridge flag seen, the event not yet stored) may
        # come first: wait for the one made after the event was stored.
        wait_until(lambda: "pudong" in got.get("branches", {}) and got.get("stored") == 1, 10,
                   "the health topic")  # fmt: skip
        assert got["online"] is True and got["stored"] == 1 and got["last_error"] is None
        assert got["branches"]["pudong"]["last_seq"] == 1
        assert got["branches"]["pudong"]["status"] == "ok"
        out = subprocess.run(
            [sys.executable, "-m", "nowserving", "headoffice", "status", "--dsn", dsn],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        first, _head, branch = out.stdout.splitlines()
        assert first.startswith("ingest ho-test: up") and "last error: none" in first, first
        assert branch.split()[0] == "pudong" and branch.split()[-1] == "ok", out.stdout
        ingest.close()
        wait_until(lambda: got.get("online") is False, 10, "the ingest saying it is gone")
    finally:
        ingest.close()
        runner.join(10)
        watcher.loop_stop()
        db.close()
