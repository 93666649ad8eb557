"""Counter call profiles through the real server and Mosquitto."""

from __future__ import annotations

import pytest

from nowserving.adapters.store import EventLog
from nowserving.client import BranchClient
from nowserving.config import parse_config
from nowserving.server.app import BranchServer
from tests.conftest import ManualClock

VIP_BRANCH = """
[branch]
id = "vipbank"
names = { en = "VIP Bank" }
languages = ["en"]

[[services]]
id = "vip"
prefix = "V"
names = { en = "VIP" }

[[services]]
id = "business"
prefix = "B"
names = { en = "Business" }

[[services]]
id = "personal"
prefix = "P"
names = { en = "Personal banking" }

[[counters]]
id = "vip-room"
names = { en = "VIP room" }
services = ["vip", "business", "personal"]
call_profile = "in_order"

[[counters]]
id = "c1"
names = { en = "Counter 1" }
services = ["personal"]

[[devices]]
id = "kiosk"
role = "kiosk"

[[devices]]
id = "vip-desk"
role = "counter"
counter = "vip-room"
"""


@pytest.fixture
def vip_server(broker, tmp_path):
    import tomllib

    config = parse_config(tomllib.loads(VIP_BRANCH), "vip-branch")
    clock = ManualClock()
    with BranchServer(config, EventLog(tmp_path / "events.sqlite"), broker, clock=clock) as srv:
        assert srv.wait_serving(10)
        yield srv, clock


def test_a_vip_counter_in_order_serves_vips_first(vip_server, broker):
    """GIVEN a VIP room listing (vip, business, personal) with call_profile in_order, and
    personal and business customers who came long before two VIPs WHEN the VIP room calls
    next again and again THEN both VIPs first, then business, then personal — in each
    line in turn."""
    server, clock = vip_server
    kiosk = BranchClient(broker, "vipbank", "kiosk")
    desk = BranchClient(broker, "vipbank", "vip-desk")
    try:
        kiosk.start()
        desk.start()
        for service in ("personal", "personal", "business", "vip", "vip"):
            assert kiosk.request("issue_ticket", {"service": service}).ok
            clock.advance(300)
        called = []
        for _ in range(5):
            reply = desk.request("call_next")
            assert reply.ok, reply
            called.append(reply.ticket["number"])
            assert desk.request("finish").ok
        assert called == ["V001", "V002", "B001", "P001", "P002"]
        assert server.branch.rules.counters["vip-room"].profile == "in_order"
    finally:
        kiosk.close()
        desk.close()
