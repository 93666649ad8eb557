"""The branch server through a real Mosquitto: commands, replies, state, rights, restarts."""

from __future__ import annotations

import json
import queue

from nowserving.adapters.mqtt import Broker, MqttLink
from nowserving.adapters.store import EventLog
from nowserving.client import BranchClient
from nowserving.protocol import Topics
from nowserving.server.app import BranchServer


def test_issue_and_call_through_the_broker(server, connect):
    kiosk, counter = connect("kiosk-1"), connect("counter-2")
    issued = kiosk.request("issue_ticket", {"service": "cash", "language": "en"})
    assert issued.ok, issued
    ticket = issued.ticket
    assert (ticket["number"], ticket["ahead"], ticket["language"]) == ("A001", 0, "en")
    called = counter.request("call_next")
    assert called.ok and called.ticket["counter"] == "c2"
    state = counter.wait_state(lambda s: s.seq >= called.result["seq"])
    c2 = state.counter("c2")
    assert c2.ticket.number == "A001" and c2.ticket.status == "called"
    assert state.recent_calls[0].number == "A001"


def test_a_late_subscriber_is_correct_from_the_retained_snapshot_alone(server, connect):
    kiosk = connect("kiosk-1")
    last = [kiosk.request("issue_ticket", {"service": s}) for s in ("cash", "loans", "cash")][-1]
    display = connect("lobby-1")  # connects after everything happened
    state = display.wait_state(lambda s: s.seq >= last.result["seq"])
    nexts = {s.id: s.next for s in state.services}
    assert nexts["cash"] == ("A001", "A002") and nexts["loans"] == ("C001",)
    staff = connect("manager", watch_lines=("cash",))
    cash = state.service("cash")
    line = staff.wait_line("cash", lambda line: line.seq >= cash.line_seq)
    assert [t.number for t in line.tickets] == ["A001", "A002"]


def test_the_event_stream_carries_each_event_once(server, connect):
    seen: queue.Queue = queue.Queue()
    connect("lobby-1", on_event=seen.put)
    kiosk = connect("kiosk-1")
    kiosk.request("issue_ticket", {"service": "wealth"})
    events = [seen.get(timeout=5), seen.get(timeout=5)]
    assert [e.type for e in events] == ["day_started", "ticket_issued"]
    assert events[1].data["number"] == "D001" and events[1].device == "kiosk-1"


def test_a_redelivered_command_is_applied_once_and_answered_again(server, connect):
    kiosk = connect("kiosk-1")
    first = kiosk.request("issue_ticket", {"service": "cash"}, command_id="press-77")
    again = kiosk.request("issue_ticket", {"service": "cash"}, command_id="press-77")
    assert first.ticket["id"] == again.ticket["id"]
    other = kiosk.request("issue_ticket", {"service": "cash"})
    assert other.ticket["number"] == "A002"


def test_devices_may_only_do_what_their_role_allows(server, connect):
    display, counter = connect("lobby-1"), connect("counter-1")
    refused = display.request("issue_ticket", {"service": "cash"})
    assert refused.code == "not_allowed"
    other = counter.request("call_next", {"counter": "c2"})
    assert other.code == "not_allowed"
    assert "acts only as counter c1" in other.message
    stranger = connect("intruder")
    assert stranger.request("call_next").code == "unknown_device"
    assert server.branch.seq == 0


def test_domain_refusals_come_back_as_error_replies(server, connect):
    counter = connect("counter-1")
    reply = counter.request("call_next")
    assert reply.ok is False and reply.code == "queue_empty"


def test_server_survives_a_broker_restart(server, connect, mosquitto):
    kiosk = connect("kiosk-1")
    assert kiosk.request("issue_ticket", {"service": "cash"}).ok
    mosquitto.restart()  # persistence is off: sessions and retained state are gone
    assert server.link.wait_connected(15) and kiosk.link.wait_connected(15)
    display = connect("lobby-1")
    state = display.wait_state(lambda s: s.seq >= 2, timeout=15)  # republished
    assert state.services[0].next == ("A001",)
    assert kiosk.request("issue_ticket", {"service": "cash"}, timeout=15).ok  # resubscribed


def test_mqtt_3_1_1_works_end_to_end(example_config, mosquitto, tmp_path, clock):
    broker = Broker("127.0.0.1", mosquitto.port, mqtt_version="3.1.1")
    with (
        BranchServer(example_config, EventLog(tmp_path / "e.sqlite"), broker, clock=clock),
        BranchClient(broker, "pudong", "kiosk-2") as kiosk,
    ):
        reply = kiosk.request("issue_ticket", {"service": "business"})
        assert reply.ok and reply.ticket["number"] == "E001"


def test_server_status_is_retained_with_a_last_will(server, broker):
    got: queue.Queue = queue.Queue()
    topic = Topics("pudong").status("server")
    with MqttLink(broker, "watcher", on_message=lambda t, p, m, q: got.put(json.loads(p))) as link:
        link.subscribe(topic)
        link.start()
        status = got.get(timeout=5)
        assert status["online"] is True and status["device"] == "server"


def test_replies_and_snapshots_carry_wait_estimates(server, connect):
    kiosk, counter = connect("kiosk-1"), connect("counter-1")
    manager = connect("manager", watch_lines=("cash",))
    for other in ("c2", "c3", "c4"):  # they serve cash too, and idle ones call at once
        assert manager.request("close_counter", {"counter": other}).ok
    for _ in range(3):
        kiosk.request("issue_ticket", {"service": "cash"})
    counter.request("call_next")
    reply = kiosk.request("issue_ticket", {"service": "cash"})
    printed = reply.ticket["issued_estimate"]
    assert printed["ahead"] == 2 and 0 < printed["low"] < printed["mean"] < printed["high"]
    # Estimates are recomputed at most once a second: wait for ones that include it.
    state = kiosk.wait_state(lambda s: (s.estimated_seq or 0) >= reply.result["seq"])
    assert state.service("cash").estimate.ahead == 3  # a newcomer now: three ahead
    line = manager.wait_line("cash", lambda line: line.estimated_seq == state.estimated_seq)
    assert [t.estimate.ahead for t in line.tickets] == [0, 1, 2]
    means = [t.estimate.mean for t in line.tickets]
    assert means == sorted(means) and state.estimated_at is not None


def test_every_role_may_ping_and_nothing_is_recorded(server, connect, clock):
    """GIVEN a branch with one ticket WHEN each role pings THEN each is answered with the
    server's time, seq and version, and the queue and event log have not changed."""
    kiosk = connect("kiosk-1")
    assert kiosk.request("issue_ticket", {"service": "cash"}).ok
    seq = server.branch.seq
    for device in ("kiosk-1", "counter-2", "lobby-1", "manager"):
        client = kiosk if device == "kiosk-1" else connect(device)
        reply = client.request("ping")
        assert reply.ok, reply
        assert reply.result["at"] == clock() and reply.result["seq"] == seq
        assert reply.result["version"]
    again = kiosk.request("ping", command_id="same-id")
    assert kiosk.request("ping", command_id="same-id").ok and again.ok
    assert server.branch.seq == seq
    assert kiosk.request("ping", {"counter": "c1"}).code == "bad_args"
