"""The head office's ingest end to end: two real branch servers, each behind its own
provisioned Mosquitto bridged over TLS into a head-office Mosquitto, and `nowserving
headoffice ingest` (its own process) writing into a real PostgreSQL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from nowserving.adapters.store import EventLog
from nowserving.client import BranchClient
from nowserving.config import EXAMPLE, load_config
from nowserving.devtools.broker import LocalMosquitto, free_port
from nowserving.headoffice.schema import migrate
from nowserving.protocol.acl import ingest_acl
from nowserving.provision import provision
from nowserving.provision.passwords import new_password, password_file
from nowserving.provision.pki import issue_server_certificate, make_authority
from nowserving.server.app import BranchServer
from tests.provision.conftest import Provisioned, settings_for_tests
from tests.waiting import wait_until

BRANCHES = ("pudong", "xuhui")
# xuhui's broker queues at most 20 messages for an absent client (the provisioned limit is
# 20,000): a cut of the bridge overflows its queue, as a days-long one would in the field.
QUEUE_LIMITS = {"xuhui": "max_queued_messages 20\n"}
CUT_S = 10.0  # the bridge cut "for a minute", scaled: both branches keep working meanwhile
PACE_S = 0.05  # between two tickets of a branch while it is cut off (20 a second)


class HeadOffice:
    """The head-office Mosquitto (TLS, its own CA) with each branch's bridge user and ACL
    from provisioning, and the ingest's login (`ingest_acl`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.ca = folder / "ca.pem"
        self.password = folder / "ingest.password"
        folder.mkdir(parents=True)
        authority = make_authority("head office CA")
        cert, key = issue_server_certificate(authority, ["127.0.0.1"])
        self.ca.write_bytes(authority.cert_pem)
        (folder / "server.pem").write_bytes(cert)
        (folder / "server.key").write_bytes(key)
        self.password.write_text(new_password() + "\n")
        self.mosquitto: LocalMosquitto | None = None  # once `broker` made it

    def broker(self, outs: list[Path]) -> LocalMosquitto:
        f = self.folder
        passwd = password_file({"headoffice": self.password.read_text().strip()})
        acl = ingest_acl()
        for out in outs:
            branch = next((out / "head-office").glob("*.passwd")).stem
            passwd += (out / "head-office" / f"{branch}.passwd").read_text()
            acl += "\n" + (out / "head-office" / f"{branch}.acl").read_text()
        (f / "passwd").write_text(passwd)
        (f / "acl").write_text(acl)
        config = (
            "per_listener_settings false\nallow_anonymous false\n"
            f"password_file {f / 'passwd'}\nacl_file {f / 'acl'}\n"
            f"listener {self.port} 127.0.0.1\ncafile {self.ca}\n"
            f"certfile {f / 'server.pem'}\nkeyfile {f / 'server.key'}\n"
            "persistence true\nset_tcp_nodelay true\nmax_inflight_messages 200\n"
        )
        return LocalMosquitto(f / "run", port=self.port, config=config)


class IngestProcess:
    """`python -m nowserving headoffice ingest` against the head office and `dsn`."""

    def __init__(self, office: HeadOffice, dsn: str, log: Path) -> None:
        self.argv = [
            sys.executable, "-m", "nowserving", "headoffice", "ingest", "--dsn", dsn,
            "--broker", f"127.0.0.1:{office.port}", "--username", "headoffice",
            "--password-file", str(office.password), "--tls-ca", str(office.ca),
        ]  # fmt: skip
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def branch_config(folder: Path, branch: str):
    text = EXAMPLE.read_text(encoding="utf-8").replace('id = "pudong"', f'id = "{branch}"', 1)
    path = folder / "examples" / f"{branch}.toml"
    if not path.parent.exists():  # beside the files it names (staff PINs, ...)
        shutil.copytree(EXAMPLE.parent, path.parent)
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def stored(dsn: str, branch: str) -> list[tuple[int, str]]:
    """(seq, via) of every event of `branch` in the head office's database."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT seq, via FROM events WHERE branch = %s ORDER BY seq", (branch,)
        ).fetchall()


def branch_row(dsn: str, branch: str) -> dict:
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute("SELECT * FROM branches WHERE branch = %s", (branch,)).fetchone()


def complete(dsn: str, branch: str, seq: int) -> bool:
    """Every event 1..seq of `branch` is in, once."""
    return [s for s, _ in stored(dsn, branch)] == list(range(1, seq + 1))


@pytest.fixture
def head_office(tmp_path) -> HeadOffice:
    return HeadOffice(tmp_path / "head-office")


@pytest.fixture
def branches(tmp_path, head_office, clock):
    """Two provisioned branches, each a Mosquitto bridged to `head_office` and a real
    server: {branch: (server, kiosk client, counter client, provisioned)}."""
    running, outs = {}, []
    for branch in BRANCHES:
        out = tmp_path / branch
        settings = settings_for_tests(out)
        settings.head_office = f"127.0.0.1:{head_office.port}"
        config = branch_config(tmp_path, branch)
        provision(config, out, settings, head_office_ca=head_office.ca, bridge_restart_s=(1, 2))
        outs.append(out)
        running[branch] = (config, Provisioned(out, settings.tls_port, settings.local_port))
    office = head_office.broker(outs)
    head_office.mosquitto = office
    office.start()
    started = []
    try:
        result = {}
        for branch, (config, p) in running.items():
            broker = LocalMosquitto(
                tmp_path / f"{branch}-broker", port=p.tls_port,
                config=p.broker_include() + QUEUE_LIMITS.get(branch, ""),
                also_ports=(p.local_port,),
            )  # fmt: skip
            broker.start()
            started.append(broker)
            server = BranchServer(config, EventLog(tmp_path / f"{branch}.sqlite"),
                                  p.server_broker(), clock=clock)  # fmt: skip
            started.append(server)
            server.start()
            assert server.wait_serving(15)
            kiosk = BranchClient(p.device_broker("kiosk-1"), branch, "kiosk-1")
            counter = BranchClient(p.device_broker("counter-1"), branch, "counter-1")
            for client in (kiosk, counter):
                client.start()
                started.append(client)
            result[branch] = (server, kiosk, counter, p, broker)
        yield result
    finally:
        for thing in reversed(started):
            (thing.close if hasattr(thing, "close") else thing.stop)()
        office.stop()


# A kiosk-like device in its own process: its retained status says online, its last will
# offline; killed -9, the branch broker sends the will (over the bridge to the head office).
DEVICE = """
import sys, threading
from nowserving.client import BranchClient, broker_for
from nowserving.config import load_device_config
broker = broker_for(load_device_config(sys.argv[1]))
BranchClient(broker, sys.argv[2], sys.argv[3]).start(30)
print("up", flush=True)
threading.Event().wait()
"""


def device_up(dsn: str, branch: str, device: str) -> bool | None:
    """What the head office keeps of `device`'s status: up, down, or None (nothing)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT online FROM device_status WHERE branch = %s AND device = %s", (branch, device)
        ).fetchone()
    return None if row is None else row[0]


def start_device(p: Provisioned, branch: str, device: str) -> subprocess.Popen:
    config = p.bundle(device) / "device.toml"
    proc = subprocess.Popen([sys.executable, "-c", DEVICE, str(config), branch, device],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout.readline().strip() == "up"
    return proc


def issue(kiosk: BranchClient, n: int) -> int:
    """Issue `n` tickets; returns the seq of the last one."""
    seq = 0
    for _ in range(n):
        reply = kiosk.request("issue_ticket", {"service": "cash"})
        assert reply.ok, reply
        seq = reply.result["seq"]
    return seq


def test_every_event_of_two_branches_arrives_once_across_a_kill_and_a_missed_range(
    branches, head_office, dsn, tmp_path
):
    """GIVEN two bridged branches, pudong having served before the ingest ever ran (its
    first events reached no one at the head office) WHEN the ingest runs, is killed -9 in
    the middle of a stream from both branches and started again THEN every event of each
    branch is in PostgreSQL exactly once: the missed range repaired from pudong's own log
    (`events_range` over the bridge), the rest from the stream."""
    pudong, xuhui = branches["pudong"], branches["xuhui"]
    missed = issue(pudong[1], 5)
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrate(conn)  # as the ingest does when it starts: the test reads the tables at once
    ingest = IngestProcess(head_office, dsn, tmp_path / "ingest.log")
    ingest.start()
    try:
        # Subscribed: the retained link flags are in (the stream reaches it from here on).
        for branch in BRANCHES:
            wait_until(lambda b=branch: (branch_row(dsn, b) or {}).get("link_up"), 30, branch)
        seqs = {"pudong": issue(pudong[1], 3), "xuhui": issue(xuhui[1], 4)}
        for branch, seq in seqs.items():
            wait_until(lambda b=branch, s=seq: complete(dsn, b, s), 60, f"{branch} 1..{seq}")
        vias = dict(stored(dsn, "pudong"))
        assert {vias[s] for s in range(1, missed + 1)} == {"repair"}, vias
        assert vias[missed + 1] == "stream"
        assert branch_row(dsn, "pudong")["gaps_repaired"] >= 1

        # A stream from both branches; the ingest dies -9 in its middle, and comes back.
        done = []
        threads = [
            threading.Thread(target=lambda k=kiosk: done.append(issue(k, 40)))
            for kiosk in (pudong[1], xuhui[1])
        ]
        for thread in threads:
            thread.start()
        wait_until(lambda: len(stored(dsn, "xuhui")) > seqs["xuhui"] + 5, 30, "the stream")
        ingest.kill()
        for thread in threads:
            thread.join(60)
        assert len(done) == 2
        ingest.start()
        for branch, (server, *_rest) in branches.items():
            seq = server.branch.seq
            wait_until(lambda b=branch, s=seq: complete(dsn, b, s), 60, f"{branch} 1..{seq}")
        status = subprocess.run(
            [sys.executable, "-m", "nowserving", "headoffice", "status", "--dsn", dsn],
            capture_output=True, text=True, timeout=30, env=os.environ,
        )  # fmt: skip
        assert status.returncode == 0, status.stderr
        lines = {line.split()[0]: line for line in status.stdout.splitlines()[2:]}
        assert set(lines) == set(BRANCHES), status.stdout
        assert status.stdout.startswith("ingest nowserving-headoffice-ingest: up"), status.stdout
        for branch, (server, *_rest) in branches.items():
            row = branch_row(dsn, branch)
            assert row["contiguous_seq"] == server.branch.seq
            assert row["link_up"] is True and row["server_online"] is True
        wait_until(
            lambda: all(branch_row(dsn, b)["state_seq"] == branches[b][0].branch.seq
                        for b in BRANCHES), 30, "the states",
        )  # fmt: skip
        out = subprocess.run(
            [sys.executable, "-m", "nowserving", "headoffice", "status", "--dsn", dsn],
            capture_output=True, text=True, timeout=30,
        ).stdout  # fmt: skip
        assert all(line.split()[-1] == "ok" for line in out.splitlines()[2:]), out

        # A device with a last will, through the real bridge: up, killed -9 (the will says
        # down), up again; its status is the head office's, every branch's.
        device = start_device(branches["pudong"][3], "pudong", "kiosk-2")
        try:
            wait_until(lambda: device_up(dsn, "pudong", "kiosk-2") is True, 30, "kiosk-2 up")
            device.kill()
            device.wait(10)
            wait_until(lambda: device_up(dsn, "pudong", "kiosk-2") is False, 30, "its will")
            device = start_device(branches["pudong"][3], "pudong", "kiosk-2")
            wait_until(lambda: device_up(dsn, "pudong", "kiosk-2") is True, 30, "up again")
        finally:
            device.kill()
            device.wait(10)
        assert device_up(dsn, "xuhui", "kiosk-1") is True  # retained, forwarded on connect

        # A branch's link goes down: the branch is stale, not quiet.
        branches["xuhui"][4].stop()
        wait_until(lambda: branch_row(dsn, "xuhui")["link_up"] is False, 30, "the link flag")
        out = subprocess.run(
            [sys.executable, "-m", "nowserving", "headoffice", "status", "--dsn", dsn],
            capture_output=True, text=True, timeout=30,
        ).stdout  # fmt: skip
        lines = {line.split()[0]: line for line in out.splitlines()[2:]}
        assert lines["xuhui"].split()[-1] == "stale" and "DOWN" in lines["xuhui"], out
        assert lines["pudong"].split()[-1] == "ok", out
    finally:
        ingest.stop()
        print((tmp_path / "ingest.log").read_text()[-3000:])


def issue_once_up(kiosk: BranchClient) -> int:
    """Issue a ticket as soon as the branch answers again (its broker was restarting)."""
    replies = []

    def answered() -> bool:
        if kiosk.connected:
            reply = kiosk.request("issue_ticket", {"service": "cash"}, timeout=2)
            if reply.ok:
                replies.append(reply)
        return bool(replies)

    wait_until(answered, 30, "the branch to answer again")
    return replies[0].result["seq"]


def keep_working(kiosk: BranchClient, until: float) -> int:
    """Issue tickets at PACE_S until `until` (monotonic); returns how many."""
    n = 0
    pause = threading.Event()  # never set: its wait is the pace
    while time.monotonic() < until:
        issue(kiosk, 1)
        n += 1
        pause.wait(PACE_S)
    return n


def test_the_bridge_cut_while_both_branches_work_loses_nothing(
    branches, head_office, dsn, tmp_path
):
    """GIVEN two bridged branches and the ingest WHEN the head office's broker is away for
    CUT_S while both branches keep issuing tickets — xuhui's broker overflowing the queue it
    keeps for its bridge, pudong's broker killed -9 in the middle (the queue it kept is lost
    with it) and started again — and then comes back THEN every event 1..N of each branch is
    in PostgreSQL exactly once: what the bridges kept from the stream, what the brokers lost
    repaired from each branch server's own log."""
    pudong, xuhui = branches["pudong"], branches["xuhui"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrate(conn)
    ingest = IngestProcess(head_office, dsn, tmp_path / "ingest.log")
    ingest.start()
    try:
        for branch in BRANCHES:
            wait_until(lambda b=branch: (branch_row(dsn, b) or {}).get("link_up"), 30, branch)
        before = {"pudong": issue(pudong[1], 2), "xuhui": issue(xuhui[1], 2)}
        for branch, seq in before.items():
            wait_until(lambda b=branch, s=seq: complete(dsn, b, s), 30, f"{branch} 1..{seq}")

        head_office.mosquitto.stop()  # the cut: no bridge reaches the head office
        end = time.monotonic() + CUT_S
        worked = []
        xuhui_works = threading.Thread(target=lambda: worked.append(keep_working(xuhui[1], end)))
        xuhui_works.start()
        pudong_before_kill = keep_working(pudong[1], end - CUT_S / 2)
        pudong[4].kill()  # its bridge's queue goes with it
        pudong[4].start()
        issue_once_up(pudong[1])  # its restarted broker queues this one for the bridge
        keep_working(pudong[1], end)
        xuhui_works.join(CUT_S + 30)
        assert worked and worked[0] > 20, worked  # more than xuhui's broker could queue
        assert pudong_before_kill > 0
        head_office.mosquitto.start()  # the link back

        for branch, (server, *_rest) in branches.items():
            seq = server.branch.seq
            wait_until(lambda b=branch, s=seq: complete(dsn, b, s), 60, f"{branch} 1..{seq}")
        for branch in BRANCHES:
            vias = dict(stored(dsn, branch))
            cut = [vias[s] for s in range(before[branch] + 1, len(vias) + 1)]
            # Some came through the bridge's queue, the ones a broker dropped by repair.
            assert {"stream", "repair"} <= set(cut), (branch, cut)
            assert branch_row(dsn, branch)["gaps_repaired"] >= 1
            assert branch_row(dsn, branch)["contiguous_seq"] == len(vias)
    finally:
        ingest.stop()
        print((tmp_path / "ingest.log").read_text()[-3000:])
