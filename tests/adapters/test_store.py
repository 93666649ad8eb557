"""The durable event log: append, rebuild, snapshots, and damaged snapshots."""

from __future__ import annotations

import sqlite3

import pytest

from nowserving.adapters.store import EventLog
from nowserving.domain import Branch, Command
from nowserving.errors import StoreError
from tests.conftest import T0


def fill(branch: Branch, log: EventLog, n: int) -> None:
    start = branch.seq
    for i in range(start, start + n):
        kind, args = (
            ("issue_ticket", {"service": "ab"[i % 2]})
            if i % 3
            else ("call_next", {"counter": "c2"})
        )
        if i % 3 == 0 and branch.counters["c2"].ticket:
            kind = "finish"
        events, _, _ = branch.handle(Command(f"x{i}", kind, "d", T0 + i, args))
        log.append(events)


def test_restart_rebuilds_exactly(tmp_path, rules):
    branch = Branch(rules)
    with EventLog(tmp_path / "e.sqlite") as log:
        fill(branch, log, 200)
    with EventLog(tmp_path / "e.sqlite") as log:
        assert log.load(rules).to_dict() == branch.to_dict()
        assert log.last_seq() == branch.seq


def test_snapshots_speed_restart_and_agree_with_full_replay(tmp_path, rules):
    branch = Branch(rules)
    with EventLog(tmp_path / "e.sqlite", snapshot_every=50) as log:
        for _ in range(4):
            fill(branch, log, 40)
            log.maybe_snapshot(branch)
    with EventLog(tmp_path / "e.sqlite") as log:
        snap_seq = log._db.execute("SELECT max(seq) FROM snapshots").fetchone()[0]
        assert 0 < snap_seq <= branch.seq
        assert log.load(rules).to_dict() == branch.to_dict()
        assert log.load(rules, use_snapshots=False).to_dict() == branch.to_dict()


def test_a_damaged_snapshot_falls_back_to_the_events(tmp_path, rules, caplog):
    branch = Branch(rules)
    with EventLog(tmp_path / "e.sqlite") as log:
        fill(branch, log, 60)
        log.save_snapshot(branch)
        log._db.execute("UPDATE snapshots SET state = '{\"seq\": 3}'")
    with EventLog(tmp_path / "e.sqlite") as log:
        assert log.load(rules).to_dict() == branch.to_dict()
    assert "unusable" in caplog.text


def test_a_batch_is_all_or_nothing(tmp_path, rules):
    branch = Branch(rules)
    with EventLog(tmp_path / "e.sqlite") as log:
        events, _, _ = branch.handle(Command("a", "issue_ticket", "k", T0, {"service": "a"}))
        log.append(events)
        with pytest.raises(StoreError):
            log.append(events)  # same seqs again: the primary key refuses the whole batch
        assert log.last_seq() == branch.seq


def test_log_is_wal_with_synchronous_commits(tmp_path):
    with EventLog(tmp_path / "e.sqlite") as log:
        assert log._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert log._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_unopenable_path_is_a_store_error(tmp_path):
    with pytest.raises(StoreError) as info:
        EventLog(tmp_path / "no" / "such" / "dir" / "e.sqlite")
    assert isinstance(info.value.__cause__, sqlite3.Error)


def test_the_booking_code_key_is_made_once_and_kept_in_the_file(tmp_path):
    """GIVEN a new log WHEN its booking code key is asked for, the log closed and reopened
    THEN the same 32-byte key comes back, and no event holds it."""
    with EventLog(tmp_path / "log.db") as store:
        key = store.secret("booking_code_key")
    with EventLog(tmp_path / "log.db") as store:
        assert store.secret("booking_code_key") == key and len(key) == 32
        assert list(store.events()) == []
