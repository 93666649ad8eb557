"""Faults injected into the running server: a failing estimate, a failing command, a
failing publish. None may hang the branch silently or leave it different from its log."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import threading

import pytest

from nowserving.adapters.store import EventLog
from nowserving.config import EXAMPLE
from nowserving.domain import Branch
from nowserving.domain.estimate import Estimator
from nowserving.server.app import BranchServer


def _boom(*args, **kwargs):
    raise ZeroDivisionError("float division by zero (injected)")


def failing_estimates(branch, now):
    """Runs in the server's estimating process (so it is a module-level function)."""
    raise ZeroDivisionError("float division by zero (injected)")


@pytest.mark.expect_log_exception
def test_failing_estimates_are_left_out_and_the_branch_goes_on(
    example_config, broker, tmp_path, clock, connect, monkeypatch, caplog
):
    """GIVEN every estimate fails (the background ones and the one at issue) WHEN tickets
    are issued and called THEN they are issued and called, without estimates, and the
    failures are logged."""
    monkeypatch.setattr(Estimator, "for_new_ticket", _boom)
    failed, seen = threading.Event(), []
    handler = logging.Handler()
    handler.emit = lambda r: seen.append(r.getMessage()) or failed.set()
    logging.getLogger("nowserving.server.estimates").addHandler(handler)
    store = EventLog(tmp_path / "events.sqlite")
    with BranchServer(
        example_config, store, broker, clock=clock, estimate=failing_estimates
    ) as server:
        assert server.wait_serving(10)
        kiosk, counter = connect("kiosk-1"), connect("counter-1")
        issued = kiosk.request("issue_ticket", {"service": "cash"})
        assert issued.ok and issued.ticket["issued_estimate"] is None
        assert kiosk.request("issue_ticket", {"service": "cash"}).ok
        called = counter.request("call_next")
        assert called.ok and called.ticket["number"] == "A001"
        state = kiosk.wait_state(lambda s: s.seq >= called.result["seq"])
        assert state.estimated_at is None
        assert all(s.estimate is None for s in state.services)
        assert failed.wait(10), "the estimating process's failure was never logged"
        assert "wait estimates failed" in seen[0] and "injected" in seen[0]
        messages = [r.getMessage() for r in caplog.records]
        assert any("no wait estimate for a new cash ticket" in m for m in messages), messages
        assert not server.done.is_set()
    logging.getLogger("nowserving.server.estimates").removeHandler(handler)


@pytest.mark.expect_log_exception
def test_a_command_that_raises_is_answered_recorded_and_leaves_the_log_true(
    server, connect, monkeypatch, tmp_path, caplog
):
    """GIVEN `start` raises half-way through the fold WHEN a counter starts THEN the reply
    is internal_error, the refusal is in the log, the state equals what the log rebuilds,
    a retry of the same id is answered the same, and other commands still work."""
    kiosk, counter = connect("kiosk-1"), connect("counter-1")
    assert kiosk.request("issue_ticket", {"service": "cash"}).ok
    assert counter.request("call_next").ok

    def half_applied(self, event, data):
        self.tickets[data["ticket"]].started_at = event.at  # state touched, then:
        raise RuntimeError("injected fold failure")

    monkeypatch.setattr(Branch, "_apply_ticket_started", half_applied)
    reply = counter.request("start", command_id="start-1")
    assert reply.ok is False and reply.code == "internal_error"
    assert any("injected fold failure" in (r.exc_text or "") for r in caplog.records)
    again = counter.request("start", command_id="start-1")
    assert again == reply
    monkeypatch.undo()
    assert counter.request("start").ok  # the branch goes on serving
    finished = counter.request("finish")
    assert finished.ok
    kiosk.wait_state(lambda s: s.seq >= finished.result["seq"])
    with EventLog(tmp_path / "events.sqlite") as log:
        rebuilt = log.load(server.config.rules, use_snapshots=False)
        events = list(log.events())
    assert rebuilt.to_dict() == server.branch.to_dict()
    rejected = [e for e in events if e.type == "command_rejected"]
    assert [e.data["code"] for e in rejected] == ["internal_error"]
    assert rejected[0].command_id == "start-1"
    assert not server.done.is_set()


@pytest.mark.expect_log_exception
def test_a_failure_outside_commands_stops_the_server_loudly(server, connect, monkeypatch, caplog):
    """GIVEN publishing fails WHEN a command is handled THEN the apply loop ends, says so,
    and the server is marked failed (the process then exits non-zero)."""
    kiosk = connect("kiosk-1")
    assert kiosk.request("issue_ticket", {"service": "cash"}).ok

    def broken(topic, payload, qos=1, retain=False):
        raise OSError("injected: the socket is gone")

    monkeypatch.setattr(server.link, "publish", broken)
    kiosk.send("issue_ticket", {"service": "cash"})
    assert server.done.wait(10)
    assert isinstance(server.failure, OSError)
    assert any(r.levelno == logging.CRITICAL for r in caplog.records)
    monkeypatch.undo()  # so that closing the server can say goodbye


def test_the_server_process_exits_non_zero_when_its_loop_fails(broker, tmp_path):
    """GIVEN a server process whose publishing fails after start-up WHEN a command comes
    THEN the process exits with status 1 and logs why, instead of hanging."""
    script = textwrap.dedent(
        f"""
        import sys
        from nowserving.adapters.mqtt import MqttLink
        from nowserving import cli
        real = MqttLink.publish
        def publish(self, topic, payload, qos=1, retain=False):
            if topic.endswith("/events"):
                raise OSError("injected: the socket is gone")
            return real(self, topic, payload, qos, retain)
        MqttLink.publish = publish
        sys.exit(cli.main(["server", "--config", {str(EXAMPLE)!r},
                           "--broker", "127.0.0.1:{broker.port}",
                           "--db", {str(tmp_path / "events.sqlite")!r}, "--new"]))
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    from nowserving.client import BranchClient

    with BranchClient(broker, "pudong", "kiosk-1") as kiosk:
        kiosk.wait_state(timeout=15)  # the server is up and subscribed
        kiosk.send("issue_ticket", {"service": "cash"})
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1, out
    assert b"the apply loop failed" in out and b"injected" in out


def test_command_ids_belong_to_their_device_and_survive_a_restart(
    example_config, broker, tmp_path, clock, connect
):
    """GIVEN two devices using the same id, and one reusing its id for another request
    WHEN applied, before and after a restart THEN each device has its own outcome and the
    reuse is refused with id_reused."""
    db = tmp_path / "events.sqlite"
    kiosk1, kiosk2 = connect("kiosk-1"), connect("kiosk-2")
    with BranchServer(example_config, EventLog(db), broker, clock=clock) as server:
        assert server.wait_serving(10)
        first = kiosk1.request("issue_ticket", {"service": "cash"}, command_id="same")
        other = kiosk2.request("issue_ticket", {"service": "cash"}, command_id="same")
        assert first.ticket["number"] == "A001"
        assert other.ticket["number"] == "A002"
        reused = kiosk1.request("issue_ticket", {"service": "loans"}, command_id="same")
        assert reused.code == "id_reused"
    with BranchServer(example_config, EventLog(db), broker, clock=clock) as server:
        assert server.wait_serving(10)
        retry = kiosk1.request("issue_ticket", {"service": "cash"}, command_id="same", timeout=15)
        assert retry.ticket["id"] == first.ticket["id"]
        reused = kiosk1.request("issue_ticket", {"service": "loans"}, command_id="same")
        assert reused.code == "id_reused"
        assert server.branch.issued["cash"] == 2 and server.branch.issued["loans"] == 0


def test_a_flood_of_garbage_adds_a_bounded_number_of_log_lines(server, broker, caplog):
    """GIVEN 2,000 garbage messages from one device WHEN refused THEN the server logs a
    dozen lines about them, not 2,000, and keeps serving."""
    from nowserving.adapters.mqtt import MqttLink
    from nowserving.server.ratelimit import Budget

    server.budget = Budget(burst=10_000)  # each one checked and refused (budget: test_flood)
    caplog.clear()
    with MqttLink(broker, "flooder") as link:
        link.start()
        assert link.wait_connected(5)
        for i in range(2000):
            link.publish(server.topics.command("kiosk-1"), b"garbage %d" % i)
        link.publish(server.topics.command("kiosk-1"), b"last").wait_for_publish(5)
    from nowserving.client import BranchClient

    with BranchClient(server.link.broker, "pudong", "kiosk-1") as kiosk:
        assert kiosk.request("issue_ticket", {"service": "cash"}, timeout=30).ok
    refusals = [r for r in caplog.records if "kiosk-1" in r.getMessage()]
    assert 10 <= len(refusals) <= 12, [r.getMessage() for r in refusals[:20]]
    assert any("counting the rest" in r.getMessage() for r in refusals)


def test_a_v1_device_is_told_to_upgrade(server, broker):
    """GIVEN a device speaking protocol v1 on the v1 topics WHEN it sends a command THEN
    it gets a v1 bad_version reply there, and nothing is applied."""
    import queue

    from nowserving.adapters.mqtt import MqttLink

    legacy = server.topics.legacy
    got: queue.Queue = queue.Queue()
    with MqttLink(broker, "old-kiosk", on_message=lambda t, p, m, q: got.put(p)) as link:
        link.subscribe(legacy.reply("kiosk-1"))
        link.start()
        assert link.wait_connected(5)
        command = {"v": 1, "id": "old-1", "type": "issue_ticket", "args": {"service": "cash"}}
        link.publish(legacy.command("kiosk-1"), json.dumps(command).encode())
        reply = json.loads(got.get(timeout=10))
    assert reply == {
        "v": 1,
        "id": "old-1",
        "ok": False,
        "error": {"code": "bad_version", "message": reply["error"]["message"]},
    }
    assert "nowserving/v2/pudong/" in reply["error"]["message"]
    assert server.branch.seq == 0


def test_a_hostile_payload_on_the_v1_topics_is_refused_without_harm(server, broker, connect):
    """GIVEN 50,000 nested brackets on a v1 command topic (they would blow the JSON
    parser's recursion) WHEN received THEN the server refuses it and goes on serving."""
    from nowserving.adapters.mqtt import MqttLink

    with MqttLink(broker, "old-attacker") as link:
        link.start()
        assert link.wait_connected(5)
        link.publish(server.topics.legacy.command("kiosk-1"), b"[" * 50_000).wait_for_publish(5)
    kiosk = connect("kiosk-1")
    assert kiosk.request("issue_ticket", {"service": "cash"}).ok
    assert not server.done.is_set()


def endless_estimates(branch, now):
    """Runs in the estimating process: an estimate that never ends (a hung child)."""
    while True:
        pass


def test_stopping_does_not_wait_for_an_estimate_under_way(example_config):
    """GIVEN the estimating process busy with an estimate that never ends WHEN the worker
    is closed (the server stopping) THEN it returns at once and the process is gone."""
    import time

    from nowserving.server.estimates import EstimateWorker

    done = threading.Event()
    worker = EstimateWorker(lambda *_: done.set(), estimate=endless_estimates)
    worker.request(Branch(example_config.rules), 0.0)
    deadline = time.monotonic() + 30
    while worker._process is None or not worker._process.is_alive():
        assert time.monotonic() < deadline, "the estimating process never started"
        time.sleep(0.05)
    process = worker._process
    started = time.monotonic()
    worker.close()
    took = time.monotonic() - started
    assert not process.is_alive()
    assert took < 5, f"closing took {took:.1f} s"  # the child's own timeout is 60 s
    assert done.wait(5)  # the dropped estimate is reported as none
