"""The ingest keeps the derived tables and each branch's live summary itself, against a real
Mosquitto and PostgreSQL: a simulated branch day streamed through the broker is made into
visits and rollups between batches (no separate `rebuild --due`), equal to a full rebuild,
and the branch's retained state is summed up for the live page."""

from __future__ import annotations

import json
import threading

from nowserving.headoffice.db import Batch, EventRow, HeadOfficeDb
from nowserving.headoffice.ingest import Ingest
from nowserving.headoffice.visits import rebuild, rebuild_due_days
from nowserving.reports.sample import write_sample_log
from tests.headoffice.test_visits import rows_of
from tests.waiting import wait_until


def progress(db: HeadOfficeDb, branch: str) -> tuple[int, int]:
    found = db.conn.execute(
        "SELECT contiguous_seq, max_seq FROM branches WHERE branch = %s", (branch,)
    ).fetchone()
    return found or (0, 0)


def _rollups(db: HeadOfficeDb) -> list[tuple]:
    return db.conn.execute(
        "SELECT day, service, issued, served, within_target, waits FROM visits_daily "
        "ORDER BY day, service"
    ).fetchall()


def test_the_ingest_rebuilds_due_days_and_keeps_the_live_summary(dsn, broker, tmp_path):
    """GIVEN the ingest on a broker (rebuilding between batches, its default)
    WHEN a branch's simulated day comes as events, then its retained state
    THEN the day's visits and rollups are made by the ingest, equal to a full rebuild's, no
    mark is left due, its health counts the rebuilds, and the state's summary is stored."""
    log = tmp_path / "events.sqlite"
    write_sample_log(log, days=1, seed=3)
    rows = rows_of(log)
    db = HeadOfficeDb(dsn)
    ingest = Ingest(db, broker, client_id="ho-live")
    runner = threading.Thread(target=ingest.run)
    try:
        ingest.start()
        runner.start()
        wait_until(ingest.link.connected.is_set, 10, "the ingest's connection")
        ingest.link.publish("nowserving/bridge/pudong", b"1", retain=True)
        for r in rows:
            event = {"v": 2, "epoch": 0, "seq": r.seq, "type": r.type, "at": r.at,
                     "command_id": r.command_id, "device": r.device,
                     "data": json.loads(r.data)}  # fmt: skip
            ingest.link.publish("nowserving/v2/pudong/events", json.dumps(event).encode())
            if r.seq % 250 == 0:  # within the broker's queue for a session (1,000 by default)
                wait_until(lambda s=r.seq: progress(db, "pudong")[0] == s, 10, "a part stored")
        state = {"v": 2, "epoch": 0, "seq": len(rows), "at": rows[-1].at,
                 "business_day": "2026-01-05",
                 "services": [{"id": "accounts", "waiting": 3, "issued": 40},
                              {"id": "cash", "waiting": 2, "issued": 60}],
                 "counters": [{"id": "c1", "state": "open", "served": 30},
                              {"id": "c2", "state": "paused", "served": 12},
                              {"id": "c3", "state": "closed", "served": 0}]}  # fmt: skip
        ingest.link.publish("nowserving/v2/pudong/state", json.dumps(state).encode())

        def rebuilt() -> bool:
            count = db.conn.execute(
                "SELECT (SELECT count(*) FROM rebuild_due), "
                "(SELECT contiguous_seq FROM branches WHERE branch = 'pudong')"
            ).fetchone()
            return count == (0, len(rows))

        wait_until(rebuilt, 30, "every event stored and its days rebuilt by the ingest")
        by_ingest = _rollups(db)
        assert sum(r[2] for r in by_ingest) > 200 and ingest.health.rebuilt >= 1
        rebuild(db.conn, ["pudong"])
        assert _rollups(db) == by_ingest
        live = db.conn.execute("SELECT live FROM branches WHERE branch = 'pudong'").fetchone()[0]
        assert live == {"v": 1, "epoch": 0, "seq": len(rows), "at": rows[-1].at,
                        "day": "2026-01-05", "waiting": 5, "issued": 100,
                        "counters_open": 1, "counters_known": 3, "served": 42}  # fmt: skip
    finally:
        ingest.close()
        runner.join(10)
        db.close()


def test_a_day_that_cannot_be_rebuilt_does_not_hold_up_the_others(dsn, caplog):
    """GIVEN two branches' days due, one holding an event the visit fold cannot read
    WHEN the due days are rebuilt (as the ingest does between batches)
    THEN the other branch's day is made, the bad one is logged and stays due, behind."""
    at = 1_767_600_000.0  # 2026-01-05 08:00 UTC
    rows = [EventRow("bad", 0, 1, at, "ticket_called", None, None, '{"counter": "c1"}'),
            EventRow("good", 0, 1, at + 1, "ticket_issued", None, None,
                     '{"ticket": "t1", "service": "cash", "number": "A001"}')]  # fmt: skip
    db = HeadOfficeDb(dsn)
    try:
        db.write(Batch(events=rows, heard={"bad", "good"}))
        assert rebuild_due_days(db.conn) == 1
        assert db.conn.execute("SELECT branch, ticket FROM visits").fetchall() == [("good", "t1")]
        assert db.conn.execute("SELECT branch FROM rebuild_due").fetchall() == [("bad",)]
        assert "cannot rebuild bad's 2026-01-05" in caplog.text
    finally:
        db.close()
