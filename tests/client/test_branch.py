"""The device client against a real Mosquitto (and the real server where one is needed):
it never blocks its caller, retries with the same id, survives its callbacks, and drops
what does not match the contract."""

from __future__ import annotations

import json
import queue
import threading

import pytest

from nowserving.adapters.mqtt import MqttLink
from nowserving.adapters.store import EventLog
from nowserving.client import UNREACHABLE, BranchClient
from nowserving.server.app import BranchServer


def test_send_returns_at_once_and_says_unreachable_without_a_server(broker):
    """GIVEN a broker but no server WHEN a kiosk sends THEN send returns an unfinished
    Future at once, and it resolves to `unreachable` at the deadline."""
    with BranchClient(broker, "pudong", "kiosk-1") as kiosk:
        future = kiosk.send("issue_ticket", {"service": "cash"}, deadline_s=1.0)
        assert not future.done()
        reply = future.result(timeout=5)
    assert reply.ok is False and reply.code == UNREACHABLE


def test_a_command_sent_while_the_server_is_away_is_retried_and_applied_once(
    broker, example_config, tmp_path, clock
):
    """GIVEN the server is down WHEN a kiosk sends, and the server comes up a few retries
    later THEN the command is answered and applied exactly once."""
    with BranchClient(broker, "pudong", "kiosk-1", retry_s=0.2) as kiosk:
        future = kiosk.send("issue_ticket", {"service": "cash"}, deadline_s=30)
        answered = threading.Event()
        future.add_done_callback(lambda f: answered.set())
        assert not answered.wait(0.8)  # a few retries went out unanswered
        store = EventLog(tmp_path / "events.sqlite")
        with BranchServer(example_config, store, broker, clock=clock) as server:
            reply = future.result(timeout=15)
            assert reply.ok and reply.ticket["number"] == "A001"
            # Retries still in flight are answered as repeats: nothing more is issued.
            assert kiosk.request("issue_ticket", {"service": "cash"}).ticket["number"] == "A002"
            assert server.branch.issued["cash"] == 2


@pytest.mark.expect_log_exception
def test_a_callback_that_raises_does_not_stop_the_client(server, connect, caplog):
    """GIVEN a state callback that raises WHEN states arrive THEN the failure is logged and
    the client keeps receiving (replies, later states, events)."""
    events: queue.Queue = queue.Queue()

    def broken(state):
        raise RuntimeError("app bug (injected)")

    display = connect("lobby-1", on_state=broken, on_event=events.put)
    kiosk = connect("kiosk-1")
    first = kiosk.request("issue_ticket", {"service": "cash"})
    second = kiosk.request("issue_ticket", {"service": "cash"})
    assert display.wait_state(lambda s: s.seq >= second.result["seq"]).service("cash").waiting == 2
    assert events.get(timeout=5).seq <= first.result["seq"]
    assert any("app bug (injected)" in (r.exc_text or "") for r in caplog.records)


def test_messages_that_break_the_contract_are_dropped_and_logged(broker, caplog):
    """GIVEN malformed messages on the state, events and reply topics WHEN received THEN
    each is dropped with a log line and the last good state stays."""
    good = {"v": 2, "seq": 5, "branch": "pudong", "names": {}, "languages": ["zh"],
            "at": 1.0, "estimated_at": None, "estimated_seq": None, "business_day": None,
            "services": [], "counters": [], "recent_calls": [], "notices": []}  # fmt: skip
    with BranchClient(broker, "pudong", "lobby-1", watch_events=True) as display:
        topics = display.topics
        with MqttLink(broker, "someone") as link:
            link.start()
            assert link.wait_connected(5)
            link.publish(topics.state, json.dumps(good).encode()).wait_for_publish(5)
            assert display.wait_state().seq == 5
            bad = [
                (topics.state, b"not json"),
                (topics.state, json.dumps({**good, "seq": "6"}).encode()),
                (topics.state, json.dumps({**good, "seq": 7, "services": [{"id": 1}]}).encode()),
                (topics.state, json.dumps({**good, "seq": 8, "v": 1}).encode()),
                (topics.events, b'{"v":2,"seq":1,"type":"rocket_launched","at":1,"data":{}}'),
                (topics.reply("lobby-1"), b'{"v":2,"id":"x","ok":"yes"}'),
            ]
            for topic, payload in bad:
                link.publish(topic, payload).wait_for_publish(5)
            link.publish(topics.state, json.dumps({**good, "seq": 9}).encode())
            assert display.wait_state(lambda s: s.seq == 9).seq == 9  # in order after the bad
    dropped = [r.getMessage() for r in caplog.records if "dropped a bad message" in r.getMessage()]
    assert len(dropped) == len(bad), dropped
    assert any("services[0]" in m for m in dropped), dropped
    assert any("rocket_launched" in m for m in dropped), dropped


def test_connection_changes_are_reported(broker, mosquitto):
    """GIVEN a connected client WHEN the broker goes away and comes back THEN the client
    says so both times, by callback."""
    seen: queue.Queue = queue.Queue()
    with BranchClient(broker, "pudong", "lobby-1", on_connection=seen.put) as display:
        assert seen.get(timeout=5) is True
        mosquitto.restart()
        assert seen.get(timeout=10) is False
        assert seen.get(timeout=20) is True
        assert display.connected


def test_status_is_retained_with_the_apps_fields(broker):
    """GIVEN a device with a status callback WHEN it connects THEN its retained status has
    online, version and the app's fields."""
    got: queue.Queue = queue.Queue()
    status = {"printer": "ok", "paper": "low"}
    watcher = MqttLink(broker, "watcher", on_message=lambda t, p, m, q: got.put(json.loads(p)))
    with BranchClient(broker, "pudong", "kiosk-1", status=lambda: status) as kiosk, watcher:
        watcher.subscribe(kiosk.topics.status("kiosk-1"))
        watcher.start()
        message = got.get(timeout=5)
    assert message["online"] is True and message["printer"] == "ok" and message["version"]


def test_sending_an_id_that_is_on_its_way_gives_its_future(broker):
    """GIVEN a command still unanswered WHEN the app sends the same id again THEN it gets
    the same Future (the first is not orphaned)."""
    with BranchClient(broker, "pudong", "kiosk-1") as kiosk:
        first = kiosk.send("issue_ticket", {"service": "cash"}, command_id="x-1", deadline_s=1)
        again = kiosk.send("issue_ticket", {"service": "cash"}, command_id="x-1", deadline_s=1)
        assert again is first
        assert first.result(timeout=5).code == "unreachable"


def test_a_self_test_result_in_the_status_survives_the_app_starting(broker):
    """GIVEN a device's retained status with a self-test's result (the app not running)
    WHEN the app starts THEN its status is online with its own fields and the result, and
    a tool connected with presence off leaves no status of its own."""
    got: queue.Queue = queue.Queue()
    watcher = MqttLink(broker, "watcher", on_message=lambda t, p, m, q: got.put(json.loads(p)))
    topic = "nowserving/v2/pudong/status/kiosk-1"
    result = {"at": 1.0, "ok": True, "checks": []}
    with watcher:
        watcher.start()
        assert watcher.wait_connected(5)
        message = {"v": 2, "device": "kiosk-1", "online": False, "self_test": result}
        watcher.publish(topic, json.dumps(message).encode(), retain=True).wait_for_publish(5)
        with BranchClient(broker, "pudong", "kiosk-1", presence=False) as tool:
            assert tool.connected and tool.carried == {}
        watcher.subscribe(topic)
        assert got.get(timeout=5) == message  # the tool came and went without a trace
        with BranchClient(broker, "pudong", "kiosk-1", status=lambda: {"paper": "ok"}) as app:
            while (seen := got.get(timeout=5)).get("self_test") != result or not seen["online"]:
                pass
            assert seen["paper"] == "ok" and app.carried == {"self_test": result}
