"""Offline issuing against the real server and Mosquitto: with the server or the broker
gone, the kiosk keeps issuing from its leased numbers; back online, every ticket is in the
queue exactly once, in issue order, with no number twice. A kill -9 loses nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from nowserving.adapters.store import EventLog
from nowserving.client import BranchClient
from nowserving.client.qt import QtBranchBridge
from nowserving.kiosk.app import KioskController
from nowserving.kiosk.offline import LEASE_COUNT
from nowserving.kiosk.spool import Spool
from nowserving.server.app import BranchServer


@pytest.fixture
def kiosk(qtbot, broker, example_config, tmp_path, clock):
    """A screen-only kiosk (no printer) with a spool; the test starts and stops servers."""
    spool = Spool(tmp_path / "kiosk-1-spool.sqlite")
    client = BranchClient(broker, "pudong", "kiosk-1", retry_s=0.3)
    controller = KioskController(
        example_config, QtBranchBridge(client), None, "https://q.example/{token}", clock, spool
    )
    client.start(wait_s=None)
    yield controller, spool
    controller.close()
    client.close()
    spool.close()


def server(example_config, broker, tmp_path, clock) -> BranchServer:
    srv = BranchServer(example_config, EventLog(tmp_path / "events.sqlite"), broker, clock=clock)
    srv.start()
    assert srv.wait_serving(10)
    return srv


def take(qtbot, controller, service: str) -> str:
    controller.choose(service)
    assert controller.phase == "priority"  # the example branch offers priority at the kiosk
    controller.choosePriority("")  # a regular ticket
    qtbot.waitUntil(lambda: controller.phase in ("done", "unavailable"), timeout=15_000)
    assert controller.phase == "done", "no ticket"
    number = controller.ticketNumber
    controller.reset()
    return number


def leased(qtbot, controller, spool, services=("cash",)) -> None:
    day = "2026-11-23"
    qtbot.waitUntil(
        lambda: all(spool.available(day, s) == LEASE_COUNT for s in services), timeout=10_000
    )


def test_server_down_then_back(qtbot, kiosk, example_config, broker, tmp_path, clock):
    """GIVEN a kiosk holding leases WHEN the server goes away and customers take tickets
    THEN they get leased numbers; WHEN it is back THEN every ticket is in line once, by
    issue time, and nothing is left in the spool."""
    controller, spool = kiosk
    srv = server(example_config, broker, tmp_path, clock)
    qtbot.waitUntil(lambda: controller.online and controller._state is not None)
    assert take(qtbot, controller, "cash") == "A001"  # online; and leases are taken
    leased(qtbot, controller, spool)
    srv.close()
    clock.advance(60)
    offline = [take(qtbot, controller, "cash") for _ in range(3)]
    top = f"A{999 - LEASE_COUNT + 1:03d}"  # leases come from the top of the range down
    assert offline == [top, f"A{999 - LEASE_COUNT + 2:03d}", f"A{999 - LEASE_COUNT + 3:03d}"]
    assert not controller.online  # the kiosk shows it is cut off
    clock.advance(60)
    srv = server(example_config, broker, tmp_path, clock)
    try:
        qtbot.waitUntil(lambda: not spool.pending(), timeout=20_000)
        line = [t.number for t in srv.branch.waiting_line("cash")]
        assert line == ["A001", *offline]  # by issue time
        tickets = list(srv.branch.tickets.values())
        assert len({t.number for t in tickets}) == len(tickets)  # no number twice
        # The three online requests that went unanswered waited at the broker for the
        # server's session and were applied when it came back; the offline tickets that
        # superseded them cancelled those tickets, which nobody holds.
        ghosts = [t.number for t in tickets if t.status == "cancelled"]
        assert ghosts == ["A002", "A003", "A004"]
        assert take(qtbot, controller, "cash") == "A005"
    finally:
        srv.close()


def test_broker_down_then_back(qtbot, kiosk, example_config, broker, mosquitto, tmp_path, clock):
    """GIVEN the broker is gone WHEN a customer taps THEN the ticket is issued offline at
    once; WHEN the broker is back THEN the server has it."""
    controller, spool = kiosk
    srv = server(example_config, broker, tmp_path, clock)
    try:
        qtbot.waitUntil(lambda: controller.online and controller._state is not None)
        take(qtbot, controller, "cash")
        leased(qtbot, controller, spool)
        mosquitto.stop()
        qtbot.waitUntil(lambda: not controller.online, timeout=10_000)
        clock.advance(30)
        number = take(qtbot, controller, "cash")
        assert number == f"A{999 - LEASE_COUNT + 1:03d}"
        mosquitto.start()
        qtbot.waitUntil(lambda: not spool.pending(), timeout=30_000)
        assert srv.branch.tickets[f"2026-11-23/{number}"].status == "waiting"
    finally:
        srv.close()


def test_a_kill_9_after_spooling_loses_nothing(tmp_path):
    """GIVEN a kiosk process that spools a ticket and is killed -9 before it prints
    WHEN the spool is opened again THEN the ticket is there once and its number is spent."""
    path = tmp_path / "spool.sqlite"
    with Spool(path) as spool:
        spool.add_lease("2026-11-23", "cash", [(n, f"A{n:03d}") for n in range(1, 4)])
    script = textwrap.dedent(
        f"""
        import os, signal
        from nowserving.kiosk.spool import Spool
        spool = Spool({str(path)!r})
        print(spool.issue("2026-11-23", "cash", "k-1", {{"service": "cash"}}), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # the power goes before the printer starts
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == -9 and out.stdout.strip() == "A001"
    with Spool(path) as spool:
        assert [(i, a["number"]) for i, _, a in spool.pending()] == [("k-1", "A001")]
        assert spool.available("2026-11-23", "cash") == 2
        assert spool.issue("2026-11-23", "cash", "k-2", {"service": "cash"}) == "A002"


@pytest.fixture
def skewed_kiosk(qtbot, broker, example_config, tmp_path, clock):
    """A kiosk whose clock is the branch's plus `off[0]` seconds (the test changes it)."""
    off = [0.0]
    spool = Spool(tmp_path / "kiosk-1-spool.sqlite")
    client = BranchClient(broker, "pudong", "kiosk-1", retry_s=0.3)
    controller = KioskController(
        example_config, QtBranchBridge(client), None, "https://q.example/{token}",
        lambda: clock() + off[0], spool,
    )  # fmt: skip
    client.start(wait_s=None)
    yield controller, spool, off
    controller.close()
    client.close()
    spool.close()


def test_a_kiosk_an_hour_behind_says_so_and_stamps_offline_tickets_by_the_servers_time(
    qtbot, skewed_kiosk, example_config, broker, tmp_path, clock
):
    """GIVEN a kiosk whose clock is an hour behind WHEN it is online THEN its status says
    its clock is off; WHEN it issues offline and the server is back THEN the ticket is in
    line after A001, stamped with the server's time, not an hour early."""
    controller, spool, off = skewed_kiosk
    off[0] = -3600
    srv = server(example_config, broker, tmp_path, clock)
    qtbot.waitUntil(lambda: controller.online and controller._state is not None)
    # Until its first ping is answered the kiosk has only its own clock, which says 08:00:
    # the branch is closed then (a moment at start; see docs/kiosk.md).
    qtbot.waitUntil(lambda: "clock" in controller.alerts, timeout=10_000)
    assert take(qtbot, controller, "cash") == "A001"
    leased(qtbot, controller, spool)
    assert "3600 s behind the server's" in controller.alerts["clock"]
    srv.close()
    clock.advance(60)
    offline = take(qtbot, controller, "cash")
    srv = server(example_config, broker, tmp_path, clock)
    try:
        qtbot.waitUntil(lambda: not spool.pending(), timeout=20_000)
        line = srv.branch.waiting_line("cash")
        assert [t.number for t in line] == ["A001", offline]
        assert abs(line[1].issued_at - clock()) < 5  # when it was issued, by the true time
    finally:
        srv.close()


def test_a_kiosk_whose_clock_jumps_a_day_names_the_clock(
    qtbot, skewed_kiosk, example_config, broker, tmp_path, clock
):
    """GIVEN a kiosk holding today's leases WHEN, cut off, its clock jumps a day ahead
    THEN it issues nothing (its leases are for another day) and says its clock is wrong,
    not that no number is left."""
    controller, spool, off = skewed_kiosk
    srv = server(example_config, broker, tmp_path, clock)
    qtbot.waitUntil(lambda: controller.online and controller._state is not None)
    assert take(qtbot, controller, "cash") == "A001"  # the day begins; leases are taken
    leased(qtbot, controller, spool)
    srv.close()
    off[0] = 86400
    controller.choose("cash")
    controller.choosePriority("")
    qtbot.waitUntil(lambda: controller.phase == "unavailable", timeout=15_000)
    assert controller.ticketDetail == controller.strings["unavailable_clock"]
