"""Staff sign-in against the real server and Mosquitto: the PIN checked on the server, a
lock after five wrong PINs by the server's clock, the staff number in the events, and
nothing of the PIN anywhere it could leak."""

from __future__ import annotations

import logging

import pytest

from nowserving.adapters.store import EventLog
from nowserving.config import parse_config
from nowserving.config.branch import EXAMPLE
from nowserving.config.pins import hash_pin
from nowserving.config.schema import read_toml
from nowserving.server.app import BranchServer

PIN = "480317"  # not a substring of any time, seq or id the test makes
HASHES = {"1005": hash_pin(PIN, n=2**10), "1006": hash_pin("975310", n=2**10)}


@pytest.fixture
def branch_config():
    """The example branch, but counter c5 has no default staff: someone must sign in."""
    data = read_toml(EXAMPLE)
    for counter in data["counters"]:
        if counter["id"] == "c5":
            del counter["default_staff"]
    return parse_config(data, str(EXAMPLE))


@pytest.fixture
def start(branch_config, broker, tmp_path, clock):
    servers = []

    def _start() -> BranchServer:
        server = BranchServer(branch_config, EventLog(tmp_path / "events.sqlite"), broker,
                              clock=clock, pins=HASHES)  # fmt: skip
        server.start()
        assert server.wait_serving(10)
        servers.append(server)
        return server

    yield _start
    for server in servers:
        server.close()


def test_calls_wait_for_a_sign_in_then_carry_the_staff_number(start, connect, caplog):
    """GIVEN counter c5 with nobody signed in and no default staff WHEN it calls THEN it is
    refused with not_signed_in; WHEN 1005 signs in with the right PIN THEN the call, start,
    finish and rating events carry staff 1005, and the PIN is nowhere."""
    caplog.set_level(logging.DEBUG)
    server = start()
    kiosk, counter = connect("kiosk-1"), connect("counter-5")
    assert kiosk.request("issue_ticket", {"service": "loans"}).ok
    assert counter.request("call_next").code == "not_signed_in"
    reply = counter.request("sign_in", {"staff": "1005", "pin": PIN})
    assert reply.ok, reply
    for kind in ("call_next", "start", "finish"):
        assert counter.request(kind).ok, kind
    assert counter.request("rate", {"rating": "satisfied"}).ok
    events = list(server.store.events())
    staffed = {e.type: e.data.get("staff") for e in events}
    assert staffed["staff_signed_in"] == "1005"
    for kind in ("ticket_called", "ticket_started", "ticket_finished", "ticket_rated"):
        assert staffed[kind] == "1005", kind
    assert server.branch.counters["c5"].staff == "1005"
    assert counter.state.counter("c5").staff == "1005" and counter.state.counter("c5").signed_in
    server.close()
    assert PIN.encode() not in (server.store.path).read_bytes()
    assert PIN not in caplog.text and PIN not in repr([e.to_dict() for e in events])


def test_five_wrong_pins_lock_for_a_minute_of_server_time(start, connect, clock):
    """GIVEN staff 1005 WHEN five wrong PINs come THEN the fifth locks the number, the right
    PIN is refused while locked (from another device too), and accepted after 60 s."""
    start()
    counter, other = connect("counter-5"), connect("counter-6")
    codes = [counter.request("sign_in", {"staff": "1005", "pin": "0000"}).code for _ in range(5)]
    assert codes == ["wrong_pin"] * 4 + ["staff_locked"]
    locked = other.request("sign_in", {"staff": "1005", "pin": PIN})
    assert locked.code == "staff_locked" and locked.params["seconds"] == 60
    clock.advance(59)
    assert counter.request("sign_in", {"staff": "1005", "pin": PIN}).params["seconds"] == 1
    clock.advance(1)
    assert counter.request("sign_in", {"staff": "1005", "pin": PIN}).ok


def test_a_restart_keeps_who_is_signed_in_and_a_lock(start, connect):
    """GIVEN 1005 signed in at c5 and 1006 locked WHEN the server restarts from its log
    THEN 1005 is still signed in there and 1006 still locked; sign-out ends the sign-in."""
    server = start()
    counter = connect("counter-5")
    assert counter.request("sign_in", {"staff": "1005", "pin": PIN}).ok
    for _ in range(5):
        counter.request("sign_in", {"staff": "1006", "pin": "1111"})
    server.close()
    again = start()
    assert again.branch.counters["c5"].staff == "1005"
    assert counter.request("sign_in", {"staff": "1006", "pin": "975310"}).code == "staff_locked"
    assert counter.request("sign_out").ok
    assert counter.request("call_next").code == "not_signed_in"


def test_unknown_staff_and_the_wrong_counter_are_refused(start, connect):
    """An unknown staff number is answered as a wrong PIN; 1005 works only at c5 and c6."""
    start()
    assert connect("counter-5").request("sign_in", {"staff": "9999", "pin": PIN}).code == (
        "wrong_pin"
    )
    refused = connect("counter-1").request("sign_in", {"staff": "1005", "pin": PIN})
    assert refused.code == "staff_not_here"


def test_a_default_staff_counter_calls_as_its_default(server, connect):
    """GIVEN the example's c1 with default staff 1001 and nobody signed in WHEN it calls
    THEN the call carries 1001."""
    connect("kiosk-1").request("issue_ticket", {"service": "cash"})
    assert connect("counter-1").request("call_next").ok
    called = [e for e in server.store.events() if e.type == "ticket_called"]
    assert called[0].data["staff"] == "1001"
