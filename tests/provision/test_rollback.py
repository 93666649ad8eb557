"""A log that cannot silently go back in time: `nowserving server` on a provisioned broker
refuses a missing, empty, damaged or older log, and restores a backup into a new epoch
without giving out a number twice."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from nowserving.client import BranchClient
from nowserving.errors import RefusedToServe
from tests.server.conftest import ServerProcess


@pytest.fixture
def server_process(provisioned, branch_broker, tmp_path):
    """The server as its own process, logged in as `server` on the loopback listener, and
    watched with the staff PC's tools login."""
    password = provisioned.out / "server" / "server.password"
    watcher = provisioned.device_broker("manager", tool=True)
    proc = ServerProcess(watcher, tmp_path / "events.sqlite", login=("server", str(password)))
    proc.server_port = provisioned.local_port
    yield proc
    proc.stop()


@pytest.fixture
def device(provisioned):
    clients: list[BranchClient] = []

    def _device(device_id: str, **kwargs) -> BranchClient:
        client = BranchClient(provisioned.device_broker(device_id), "pudong", device_id, **kwargs)
        client.start()
        clients.append(client)
        return client

    yield _device
    for client in clients:
        client.close()


def issue(kiosk: BranchClient, count: int) -> list[str]:
    return [
        kiosk.request("issue_ticket", {"service": "cash"}).ticket["number"] for _ in range(count)
    ]


def refusal(server_process, *options: str) -> str:
    """Run the server, expect it to refuse; returns what it said."""
    done = server_process.run(*options)
    assert done.returncode == RefusedToServe.EXIT_CODE, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    return done.stderr


def test_a_missing_empty_or_foreign_file_is_not_taken_for_a_new_log(server_process):
    db = server_process.db
    said = refusal(server_process)
    assert f"there is no event log at {db}" in said and "--new" in said
    assert not db.exists()
    db.write_bytes(b"")
    assert f"the event log {db} is empty" in refusal(server_process)
    db.write_bytes(b"this is not a database " * 200)
    said = refusal(server_process)
    assert str(db) in said and "restore the newest backup" in said


def test_a_damaged_page_is_named_not_a_traceback(server_process, device):
    server_process.start()
    issue(device("kiosk-1"), 300)
    server_process.stop()
    data = bytearray(server_process.db.read_bytes())
    assert len(data) > 16 * 4096
    data[8 * 4096 : 12 * 4096] = b"\xa5" * (4 * 4096)  # a few pages in the middle of the log
    server_process.db.write_bytes(bytes(data))
    said = refusal(server_process)
    assert str(server_process.db) in said and "damaged" in said and "--restore" in said


def test_a_log_that_lost_its_last_events_is_refused_then_restored(server_process, device):
    """GIVEN 40 tickets issued, and a log that lost the events after the 10th WHEN the
    server starts THEN it refuses, naming both positions; started with --restore it serves
    in epoch 1, a lobby display that stayed connected takes the new state, and the next
    ticket is A041: no number customers hold is given again."""
    server_process.start()
    kiosk, lobby = device("kiosk-1"), device("lobby-1")
    assert issue(kiosk, 40)[-1] == "A040"
    seen = lobby.wait_state(lambda s: s.services[0].issued == 40)
    server_process.stop()
    with sqlite3.connect(server_process.db) as db:
        db.execute("DELETE FROM events WHERE seq > 10")
        db.execute("DELETE FROM snapshots")
    said = refusal(server_process)
    assert f"the event log {server_process.db} is at epoch 0, seq 10" in said
    assert f"devices have seen epoch 0, seq {seen.seq}" in said and "--restore" in said
    server_process.start(15, "--restore")
    state = lobby.wait_state(lambda s: s.epoch == 1)
    assert state.seq < seen.seq  # lower, and taken all the same: a new epoch
    assert issue(kiosk, 2) == ["A041", "A042"]
    server_process.stop()
    server_process.start()  # once restored, an ordinary start
    assert issue(kiosk, 1) == ["A043"]


def test_an_older_backup_put_back_keeps_leases_and_numbers(server_process, device, tmp_path):
    """GIVEN a backup taken after 10 tickets, then 30 more tickets and a lease of 5 numbers
    to kiosk-2 WHEN the backup is put back and the server started with --restore THEN online
    numbers go on from A041 and kiosk-2's offline ticket from the lost lease is taken."""
    server_process.start()
    kiosk = device("kiosk-1")
    issue(kiosk, 10)
    server_process.stop()
    backup = tmp_path / "backup.sqlite"
    shutil.copy(server_process.db, backup)
    server_process.start()
    issue(kiosk, 30)
    lease = device("kiosk-2").request("lease_numbers", {"service": "cash", "count": "5"})
    assert lease.ok and lease.result["lease"]["last"] == 999
    server_process.stop()
    shutil.copy(backup, server_process.db)
    assert "is at epoch 0, seq 11 " in refusal(server_process)  # day_started, 10 tickets
    server_process.start(15, "--restore")
    assert issue(kiosk, 1) == ["A041"]
    offline = device("kiosk-2").request(
        "issue_ticket", {"service": "cash", "number": "A999", "issued_at": "0"}
    )
    assert offline.ok, offline.message
    assert offline.ticket["number"] == "A999"


def test_a_lost_disk_without_a_backup_starts_new_past_what_devices_saw(server_process, device):
    server_process.start()
    kiosk = device("kiosk-1")
    issue(kiosk, 12)
    server_process.stop()
    server_process.db.unlink()
    assert "there is no event log" in refusal(server_process)
    # --new alone makes a log, which is refused on connecting: it is behind.
    assert "is at epoch 0, seq 0" in refusal(server_process, "--new")
    server_process.db.unlink()
    server_process.start(15, "--new", "--restore")
    assert issue(kiosk, 1) == ["A013"]
