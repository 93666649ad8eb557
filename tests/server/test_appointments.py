"""Appointments through the real server and Mosquitto: book, check in, the merged call."""

from __future__ import annotations

import sqlite3
import tomllib
from datetime import UTC, datetime

import pytest

from nowserving.adapters.store import EventLog
from nowserving.client import BranchClient
from nowserving.config import parse_config
from nowserving.protocol.views import decode_ticket
from nowserving.server.app import BranchServer
from tests.conftest import ManualClock

BOOKING_BRANCH = """
[branch]
id = "bookbank"
names = { en = "Booking Bank" }
languages = ["en"]

[[services]]
id = "loans"
prefix = "L"
names = { en = "Loans" }
bookings_per_hour = 4

[[counters]]
id = "c1"
names = { en = "Counter 1" }
services = ["loans"]

[[devices]]
id = "kiosk"
role = "kiosk"

[[devices]]
id = "bookings"
role = "staff"

[[devices]]
id = "desk"
role = "counter"
counter = "c1"
"""


@pytest.fixture
def booking_server(broker, tmp_path):
    config = parse_config(tomllib.loads(BOOKING_BRANCH), "booking-branch")
    clock = ManualClock()
    with BranchServer(config, EventLog(tmp_path / "events.sqlite"), broker, clock=clock) as srv:
        assert srv.wait_serving(10)
        yield srv, clock


def _local(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M")


def test_a_checked_in_appointment_is_called_before_walk_ins_who_came_after_its_time(
    booking_server, broker, tmp_path
):
    """GIVEN a loans booking for T+30 min made by the booking service WHEN a walk-in comes
    at T+20, the customer checks in at the kiosk at T+22 and walk-ins come at T+27 and T+31
    (with another booking due at T+35) THEN their tickets count the appointment and the
    booking due among the people ahead, and the counter calls T+20, the appointment, T+27,
    T+31; the kiosk may not book, and
    the booking's code is in the reply but in no event."""
    server, clock = booking_server
    kiosk = BranchClient(broker, "bookbank", "kiosk")
    service = BranchClient(broker, "bookbank", "bookings")
    desk = BranchClient(broker, "bookbank", "desk")
    try:
        for client in (kiosk, service, desk):
            client.start()
        booked_at = clock() + 1800
        assert kiosk.request("book", {"service": "loans", "time": _local(booked_at)}).code == (
            "not_allowed"
        )
        made = service.request("book", {"service": "loans", "time": _local(booked_at)})
        assert made.ok, made
        code = made.result["code"]
        clock.advance(1200)
        numbers = [kiosk.request("issue_ticket", {"service": "loans"}).ticket["number"]]
        clock.advance(120)
        checked = kiosk.request("check_in", {"code": code})
        assert checked.ok and checked.result["booked_at"] == booked_at
        # Estimated as a walk-in's, counting from its booked time: printed and shown.
        assert decode_ticket(checked.ticket).issued_estimate is not None
        appointment = checked.ticket["number"]
        # Due at T+35 (so before anyone who came after T+30), not here yet.
        assert service.request("book", {"service": "loans", "time": _local(booked_at + 300)}).ok
        aheads = []
        for minutes in (5, 4):
            clock.advance(minutes * 60)
            ticket = decode_ticket(kiosk.request("issue_ticket", {"service": "loans"}).ticket)
            numbers.append(ticket.number)
            aheads.append((ticket.ahead, ticket.ahead_appointments))
        # T+27: T+20 and the appointment; T+31: those, T+27 and the booking due at T+35.
        assert aheads == [(2, 1), (4, 2)]
        called = []
        for _ in range(4):
            reply = desk.request("call_next")
            assert reply.ok, reply
            called.append(reply.ticket["number"])
            assert desk.request("finish").ok
        assert called == [numbers[0], appointment, numbers[1], numbers[2]]
    finally:
        for client in (kiosk, service, desk):
            client.close()
    with sqlite3.connect(tmp_path / "events.sqlite") as db:  # a reader beside the server
        rows = db.execute("SELECT * FROM events").fetchall()
    assert rows and not any(code in str(row) for row in rows)
