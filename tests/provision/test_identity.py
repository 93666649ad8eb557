"""Identities bound to logins, and one server per branch, on a broker started from
`provision`'s own config: a device's stolen password cannot take the server's session, and
a second server never answers alongside the first."""

from __future__ import annotations

import pytest

from nowserving.adapters.store import EventLog
from nowserving.client import BranchClient
from nowserving.errors import RefusedToServe
from nowserving.protocol.acl import tool_user
from nowserving.server.app import BranchServer

from .probe import Probe, allowed


@pytest.fixture
def start_server(provisioned, branch_broker, example_config, tmp_path, clock):
    """start_server(db=...) -> a started BranchServer logged in as `server`."""
    servers: list[BranchServer] = []

    def _start(db=None, **kwargs) -> BranchServer:
        store = EventLog(db or tmp_path / "events.sqlite")
        server = BranchServer(
            example_config, store, provisioned.server_broker(), clock=clock, **kwargs
        )
        server.start()
        servers.append(server)
        return server

    yield _start
    for server in servers:
        server.close()


def serving(server: BranchServer, timeout: float = 10) -> BranchServer:
    """Wait until `server` has checked the broker's state and serves."""
    assert server.wait_serving(timeout), server.failure
    return server


def test_no_device_login_can_take_the_servers_session(provisioned, start_server):
    """GIVEN the server serving WHEN every other device's login (and its tools' login) connects
    with the server's client id, twice over, and kiosk-1 issues three tickets meanwhile THEN
    each intruder gets a session of its own (its client id is its user name): the server is
    never pushed off, and all three tickets are issued and answered."""
    server = serving(start_server())
    users = [d for d in provisioned.out.joinpath("devices").iterdir() if d.name != "kiosk-1"]
    intruders = []
    for folder in sorted(users):
        for tool in (False, True):
            login = provisioned.device_broker(folder.name, tool=tool)
            for client_id in ("nowserving-server-pudong", "server"):
                probe = Probe(login, client_id=client_id)
                probe.start()
                intruders.append(probe)
    try:
        assert all(allowed(p.login()) for p in intruders)
        assert len(intruders) == 4 * len(users) >= 36
        with BranchClient(provisioned.device_broker("kiosk-1"), "pudong", "kiosk-1") as kiosk:
            numbers = [
                kiosk.request("issue_ticket", {"service": "cash"}).ticket["number"]
                for _ in range(3)
            ]
    finally:
        for probe in intruders:
            probe.close()
    assert numbers == ["A001", "A002", "A003"]
    assert server.link.connections == 1 and server.link.connected.is_set()
    assert [t.number for t in server.branch.waiting_line("cash")] == numbers


def test_a_login_is_one_connection(provisioned, branch_broker):
    """GIVEN kiosk-1 connected WHEN the same login connects again THEN the first connection
    is closed: a stolen password cannot open connections by the thousand."""
    login = provisioned.device_broker("kiosk-1")
    with Probe(login) as first, Probe(login) as second:
        assert allowed(first.login())
        assert allowed(second.login())
        assert first.disconnected.wait(10)
        assert not second.disconnected.is_set()
    # Its tools log in beside it, each with a login of their own.
    with Probe(login) as app, Probe(provisioned.device_broker("kiosk-1", tool=True)) as tool:
        assert allowed(app.login()) and allowed(tool.login())
        assert tool_user("kiosk-1") == tool.broker.username
        assert not app.disconnected.wait(1)


def test_a_second_server_on_the_same_log_takes_over_and_the_first_steps_down(
    provisioned, start_server, tmp_path
):
    """GIVEN a server that issued two tickets WHEN a second server process for the same
    branch (the same log) starts THEN the first steps down for good (RefusedToServe), the
    second serves on, and every command was answered once, each number given once."""
    db = tmp_path / "events.sqlite"
    first = serving(start_server(db))
    with BranchClient(provisioned.device_broker("kiosk-1"), "pudong", "kiosk-1") as kiosk:
        before = [kiosk.request("issue_ticket", {"service": "cash"}) for _ in range(2)]
        second = start_server(db)
        assert first.done.wait(15), "the first server did not step down"
        assert isinstance(first.failure, RefusedToServe)
        assert "steps down" in str(first.failure)
        serving(second)
        after = [kiosk.request("issue_ticket", {"service": "cash"}) for _ in range(2)]
    numbers = [r.ticket["number"] for r in before + after]
    assert numbers == ["A001", "A002", "A003", "A004"]
    with EventLog(db) as log:
        issued = [e.data["number"] for e in log.events() if e.type == "ticket_issued"]
    assert issued == numbers


def test_a_second_server_with_an_older_log_is_refused_and_the_first_serves_on(
    provisioned, start_server, tmp_path
):
    """GIVEN a server that issued three tickets WHEN a second server starts on an empty log
    of its own THEN it refuses (its log is behind what devices saw) without answering
    anything, and the first, pushed off the broker for a moment, serves on."""
    first = serving(start_server(tmp_path / "first.sqlite"))
    with BranchClient(provisioned.device_broker("kiosk-1"), "pudong", "kiosk-1") as kiosk:
        for _ in range(3):
            assert kiosk.request("issue_ticket", {"service": "cash"}).ok
        second = start_server(tmp_path / "second.sqlite")
        assert second.done.wait(15), "the second server did not refuse"
        assert isinstance(second.failure, RefusedToServe)
        assert "is at epoch 0, seq 0" in str(second.failure)
        assert second.branch.seq == 0
        reply = kiosk.request("issue_ticket", {"service": "cash"})
    assert reply.ticket["number"] == "A004"
    assert not first.done.is_set() and first.serving
