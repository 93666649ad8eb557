"""A branch restored from a backup (a new epoch) at the head office: the new epoch's first
events missed, and a hole found later in the epoch before it, are both repaired by
`events_range` naming the epoch (the branch's real log and server reply, a real
PostgreSQL; the path over the bridge is test_ingest.py's)."""

from __future__ import annotations

import pytest

from nowserving.adapters.store import EventLog
from nowserving.domain import Branch, Command, Seen
from nowserving.errors import ProtocolError
from nowserving.headoffice.db import Batch, HeadOfficeDb, Hole
from nowserving.headoffice.ingest import _event_row, range_args, take_range
from nowserving.headoffice.upkeep import recheck
from nowserving.protocol import event_message
from nowserving.server.history import events_range_reply
from tests.conftest import T0

B = "pudong"


def issue(branch: Branch, at: float) -> list:
    return branch.handle(Command(f"k-{at}", "issue_ticket", "kiosk", at, {"service": "a"}))[0]


def stream(events: list, epoch: int) -> Batch:
    """`events` as the bridge brings them (epoch as the stream says)."""
    batch = Batch(heard={B})
    batch.events = [_event_row(B, event_message(e, epoch), "stream") for e in events]
    return batch


def repair(db: HeadOfficeDb, log: EventLog, branch: Branch, hole) -> Batch:
    """What the ingest asks for `hole` (noted in `gaps`) and stores of the branch server's
    answer."""
    assert db.asked(hole) == 1
    args = range_args(hole)
    assert args["epoch"] == str(hole.epoch)  # named: this hole is only the epoch's
    batch = Batch(heard={B})
    assert take_range(batch, B, events_range_reply(log, branch, "ho-1", args)) == 0
    return batch


def row(db: HeadOfficeDb) -> tuple:
    return db.conn.execute(
        "SELECT epoch, epoch_base, contiguous_seq, gaps_repaired FROM branches WHERE branch = %s",
        (B,),
    ).fetchone()


def test_a_new_epochs_missed_start_and_an_older_epochs_hole_are_repaired(rules, dsn, tmp_path):
    """GIVEN a branch that issued 30 tickets (all at the head office, epoch 0), then was
    restored from a backup of its first 20 events (epoch 1 from seq 21) and issued 10 more,
    of which the head office got only the last 5 (its `log_restored` and first events missed)
    WHEN the ingest asks for the hole, naming epoch 1 THEN the branch sends 21..26 of epoch 1
    and where the epoch begins: every event of epoch 1 is in, counted from 20.
    WHEN events of epoch 0 are lost at the head office later THEN recheck finds the hole,
    and `events_range` naming epoch 0 repairs it from the branch's log (and answers nothing
    for seqs epoch 0 no longer has there)."""
    full = Branch(rules)
    events = [e for i in range(30) for e in issue(full, T0 + i)]
    assert full.seq == 31  # a day_started, then 30 tickets
    branch = Branch(rules)
    for event in events[:20]:
        branch.apply(event)
    numbers = {s: (full.numbered[s], full.leased_top[s]) for s in rules.services}
    restored = branch.restore(T0 + 100, Seen(0, 30, full.business_day, numbers))
    later = [e for i in range(10) for e in issue(branch, T0 + 101 + i)]
    assert [e.seq for e in restored] == [21] and branch.epoch == 1 and branch.seq == 31
    log = EventLog(tmp_path / "branch.sqlite")
    log.append(events[:20] + restored + later)

    db = HeadOfficeDb(dsn)
    try:
        db.write(stream(events, 0))
        db.write(stream(later[5:], 1))  # seqs 27..31: 21..26 never came
        assert row(db) == (1, 0, 0, 0)  # where epoch 1 begins is not known yet
        [hole] = db.holes(499)
        assert (hole.epoch, hole.first, hole.last) == (1, 1, 26)
        db.write(repair(db, log, branch, hole))
        assert row(db) == (1, 20, 31, 1) and db.holes(499) == []
        vias = db.conn.execute(
            "SELECT seq, via FROM events WHERE branch = %s AND epoch = 1 ORDER BY seq", (B,)
        ).fetchall()
        assert vias == [(s, "repair") for s in range(21, 27)] + [
            (s, "stream") for s in range(27, 32)
        ]

        # Epoch 0's events 10..12 go missing at the head office (a restore of its database).
        db.conn.execute("DELETE FROM events WHERE branch = %s AND epoch = 0 AND seq "
                        "BETWEEN 10 AND 12", (B,))  # fmt: skip
        found = recheck(db.conn, B)
        assert found is not None and (found.epoch, found.after) == (0, 9)
        [hole] = db.holes(499)
        assert (hole.epoch, hole.first, hole.last) == (0, 10, 12)
        db.write(repair(db, log, branch, hole))
        assert db.holes(499) == [] and row(db) == (1, 20, 31, 2)
        seqs = db.conn.execute(
            "SELECT seq FROM events WHERE branch = %s AND epoch = 0 ORDER BY seq", (B,)
        ).fetchall()
        assert [s for (s,) in seqs] == list(range(1, 32))
        # Epoch 0's 21..31 are the head office's only: the branch's log lost them.
        gone = events_range_reply(log, branch, "ho-2", {"from": "21", "to": "31", "epoch": "0"})
        assert gone["result"]["events"] == [] and gone["result"]["epoch_first"] == 1
        with pytest.raises(ProtocolError, match="epoch must be a number"):
            events_range_reply(log, branch, "ho-3", {"from": "1", "epoch": "-1"})
        # A current epoch's hole past its known start is asked for as before (a branch
        # server older than the `epoch` argument would refuse it).
        assert range_args(Hole(B, 1, 25, 26, False)) == {"from": "25", "to": "26"}
    finally:
        db.close()
        log.close()
