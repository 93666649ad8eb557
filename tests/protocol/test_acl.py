"""Broker ACLs generated from the config, enforced by a real Mosquitto with passwords."""

from __future__ import annotations

import hashlib
import json
import queue
import shutil
import subprocess

import pytest

from nowserving.adapters.mqtt import Broker, MqttLink
from nowserving.adapters.store import EventLog
from nowserving.client import BranchClient
from nowserving.devtools.broker import LocalMosquitto, find_mosquitto
from nowserving.domain.remote import hall_code, hall_window
from nowserving.protocol import Topics
from nowserving.protocol.acl import mosquitto_acl
from nowserving.server.app import BranchServer

TOPICS = Topics("pudong")


@pytest.fixture
def secured(tmp_path, example_config):
    """A Mosquitto with one password per device and the generated ACL."""
    passwd = shutil.which("mosquitto_passwd") or find_mosquitto() + "_passwd"
    users = ["server", *example_config.devices]
    pwfile = tmp_path / "passwd"
    for i, user in enumerate(users):
        subprocess.run(
            [passwd, *([] if i else ["-c"]), "-b", str(pwfile), user, f"pw-{user}"], check=True
        )
    roles = {d.id: d.role for d in example_config.devices.values()}
    (tmp_path / "acl").write_text(mosquitto_acl("pudong", roles))
    extra = f"allow_anonymous false\npassword_file {pwfile}\nacl_file {tmp_path / 'acl'}\n"
    with LocalMosquitto(tmp_path / "broker", extra=extra) as mosquitto:
        yield mosquitto


def login(mosquitto, user: str) -> Broker:
    return Broker("127.0.0.1", mosquitto.port, username=user, password=f"pw-{user}")


def watchers(mosquitto, devices: tuple[str, ...], *topics: str) -> tuple[dict, list]:
    """A link per device, subscribed to `topics` (started by the caller): what each hears,
    as (topic, payload) in a queue per device, and the links."""
    heard = {d: queue.Queue() for d in devices}
    links = [
        MqttLink(login(mosquitto, d), f"watch-{d}",
                 on_message=lambda t, p, m, q, d=d: heard[d].put((t, p)))
        for d in heard
    ]  # fmt: skip
    for link in links:
        for topic in topics:
            link.subscribe(topic)
    return heard, links


def test_devices_work_within_their_rights(secured, example_config, tmp_path, clock):
    server_broker = login(secured, "server")
    with (
        BranchServer(
            example_config, EventLog(tmp_path / "e.sqlite"), server_broker, clock=clock
        ) as server,
        BranchClient(login(secured, "kiosk-1"), "pudong", "kiosk-1") as kiosk,
        BranchClient(login(secured, "counter-1"), "pudong", "counter-1") as counter,
    ):
        assert server.wait_serving(5)
        assert kiosk.request("issue_ticket", {"service": "cash"}).ok
        assert counter.request("call_next").ok
        assert kiosk.wait_state(lambda s: s.seq >= 3).recent_calls[0].number == "A001"


def test_the_broker_drops_what_a_device_may_not_publish(secured):
    """GIVEN a watcher that may read commands, state and statuses WHEN the display publishes
    a command, a state and another device's command, then its own status THEN the watcher
    gets only the status: the broker handles one client's messages in order, so the three
    before it were dropped."""
    seen: queue.Queue = queue.Queue()
    with (
        MqttLink(
            login(secured, "server"), "watcher", on_message=lambda t, p, m, q: seen.put(t)
        ) as watcher,
        MqttLink(login(secured, "lobby-1"), "display") as display,
    ):
        for topic in (f"{TOPICS.base}/cmd/+", TOPICS.state, f"{TOPICS.base}/status/#"):
            watcher.subscribe(topic)
        watcher.start()
        display.start()
        assert watcher.wait_connected(5) and display.wait_connected(5)
        # Subscriptions are handled in order: once this echo arrives, all three are active.
        watcher.publish(TOPICS.status("server"), b"{}")
        assert seen.get(timeout=5) == TOPICS.status("server")
        payload = json.dumps({"v": 1, "id": "x", "type": "issue_ticket"}).encode()
        for topic in (
            TOPICS.command("lobby-1"),
            TOPICS.state,
            TOPICS.command("kiosk-1"),
            TOPICS.status("lobby-1"),
        ):
            display.publish(topic, payload).wait_for_publish(5)
        assert seen.get(timeout=5) == TOPICS.status("lobby-1")
        assert seen.empty()


def test_a_counter_reads_the_kiosks_status_and_a_display_does_not(secured):
    """GIVEN kiosk-1 online with its paper out WHEN counter-1 (a staff panel's alerts) and
    lobby-1 watch every device's status THEN the counter gets the kiosk's, the display not."""
    heard: dict[str, queue.Queue] = {"counter-1": queue.Queue(), "lobby-1": queue.Queue()}
    watchers = [
        BranchClient(login(secured, d), "pudong", d, watch_state=False, watch_statuses=True,
                     on_status=lambda s, d=d: s.device == "kiosk-1" and heard[d].put(s))
        for d in heard
    ]  # fmt: skip
    kiosk = BranchClient(login(secured, "kiosk-1"), "pudong", "kiosk-1", watch_state=False,
                         status=lambda: {"printer": "ok", "paper": "out"})  # fmt: skip
    with kiosk, watchers[0], watchers[1]:
        status = heard["counter-1"].get(timeout=5)
        assert status.online and status.fields["paper"] == "out"
        with pytest.raises(queue.Empty):
            heard["lobby-1"].get(timeout=1)


def test_a_wrong_password_is_refused(secured):
    bad = Broker("127.0.0.1", secured.port, username="kiosk-1", password="guess")
    with MqttLink(bad, "intruder") as link:
        link.start()
        assert not link.wait_connected(2)
        assert link.refusal is not None and "authori" in link.refusal.lower()


def test_only_the_web_role_reads_ticket_records_and_no_event_carries_a_token(  # noqa: C901
    secured, example_config, tmp_path, clock
):
    """GIVEN the web role, a counter and the lobby each subscribed to the ticket records and
    the events WHEN a kiosk issues a ticket with its QR token THEN only the web role gets
    the ticket's record (under the token's sha256), and the event everyone reads has
    neither the token nor its hash; the web role may cancel with the token, not call."""
    token = "k3Jd9vQ2mZ8xT1bW4nE7sA"
    digest = hashlib.sha256(token.encode()).hexdigest()
    heard, links = watchers(
        secured, ("web-1", "counter-1", "lobby-1"), TOPICS.web_tickets, TOPICS.events
    )
    with (
        BranchServer(example_config, EventLog(tmp_path / "e.sqlite"), login(secured, "server"),
                     clock=clock) as server,
        BranchClient(login(secured, "kiosk-1"), "pudong", "kiosk-1") as kiosk,
        BranchClient(login(secured, "web-1"), "pudong", "web-1") as web,
        links[0], links[1], links[2],
    ):  # fmt: skip
        assert server.wait_serving(5)
        for link in links:
            link.start()
            assert link.wait_connected(5)  # connected: subscribed too (MqttLink)
        reply = kiosk.request("issue_ticket", {"service": "cash", "token": token})
        ticket = reply.result["ticket"]["id"]
        record = event = None
        while record is None or event is None:
            topic, payload = heard["web-1"].get(timeout=5)
            if topic == TOPICS.web_ticket(digest):
                record = json.loads(payload)
            elif json.loads(payload)["type"] == "ticket_issued":
                event = json.loads(payload)
        assert (record["id"], record["status"], record["number"]) == (ticket, "waiting", "A001")
        assert "token_hash" not in event["data"] and token not in json.dumps(event)
        for device in ("counter-1", "lobby-1"):
            for _ in range(2):  # day_started, ticket_issued
                topic, payload = heard[device].get(timeout=5)
                assert topic == TOPICS.events
                assert token not in payload.decode() and digest not in payload.decode()
        assert not web.request("call_next", {"counter": "c1"}).ok
        assert web.request("cancel", {"ticket": ticket, "token": "wrong"}).code == "unknown_ticket"
        assert web.request("cancel", {"ticket": ticket}).code == "not_allowed"
        assert web.request("cancel", {"ticket": ticket, "token": token}).ok
        record = json.loads(heard["web-1"].get(timeout=5)[1])
        while record.get("status") != "cancelled":
            record = json.loads(heard["web-1"].get(timeout=5)[1])
        for device in ("counter-1", "lobby-1"):
            while not heard[device].empty():
                assert heard[device].get()[0] == TOPICS.events


def test_the_web_role_runs_the_console_commands_and_reads_statuses(secured, example_config,
                                                                   tmp_path, clock):  # fmt: skip
    """GIVEN the web role logged in with its own password WHEN it posts a notice in two
    languages, takes it down, pauses and opens a counter (the console's actions) THEN the
    server does each, still refuses it a call, and the broker lets it read a kiosk's status."""
    statuses: queue.Queue = queue.Queue()
    with (
        BranchServer(
            example_config, EventLog(tmp_path / "e.sqlite"), login(secured, "server"), clock=clock
        ) as server,
        BranchClient(login(secured, "kiosk-1"), "pudong", "kiosk-1", watch_state=False,
                     status=lambda: {"printer": "ok", "paper": "out"}),  # fmt: skip
        BranchClient(login(secured, "web-1"), "pudong", "web-1", watch_statuses=True,
                     on_status=lambda s: s.device == "kiosk-1" and statuses.put(s)) as web,
    ):  # fmt: skip
        assert server.wait_serving(5)
        posted = web.request("post_notice", {"text_zh": "系统维护", "text_en": "Maintenance",
                                             "minutes": "30"})  # fmt: skip
        assert posted.ok
        state = web.wait_state(lambda s: s.notices)
        assert state.notices[0].texts == {"zh": "系统维护", "en": "Maintenance"}
        assert web.request("take_down_notice", {"notice": state.notices[0].id}).ok
        assert web.request("pause_counter", {"counter": "c1", "reason": "lunch"}).ok
        paused = web.wait_state(lambda s: s.counters[0].state == "paused")
        assert paused.counters[0].reason == "lunch"
        assert web.request("open_counter", {"counter": "c1"}).ok
        assert web.request("pause_counter", {}).code == "bad_args"
        assert web.request("call_next", {"counter": "c1"}).code == "not_allowed"
        assert statuses.get(timeout=5).fields["paper"] == "out"


def test_the_lobby_reads_the_hall_code_and_nothing_to_make_one_with(
    secured, example_config, tmp_path, clock
):
    """GIVEN the branch with a remote service WHEN the server publishes the hall code THEN
    the lobby display reads the code of the moment on its own topic (the code and its
    window only: no hash of the hall screen's key) and not the web role's hall message; a
    kiosk and a counter read neither (docs/appointments.md, "On the lobby TV")."""
    heard, links = watchers(
        secured, ("lobby-1", "kiosk-1", "counter-1"), TOPICS.lobby_hall, TOPICS.web_hall
    )
    with (
        BranchServer(example_config, EventLog(tmp_path / "e.sqlite"), login(secured, "server"),
                     clock=clock) as server,
        links[0], links[1], links[2],
    ):  # fmt: skip
        assert server.wait_serving(5)
        for link in links:
            link.start()
            assert link.wait_connected(5)
        topic, payload = heard["lobby-1"].get(timeout=5)
        message = json.loads(payload)
        assert topic == TOPICS.lobby_hall and set(message) == {"v", "branch", "code", "from",
                                                               "until"}  # fmt: skip
        window = hall_window(example_config.rules, clock())
        assert message["code"] == hall_code(server.hall.secret, "pudong", window)
        for device in heard:  # retained: anything readable has come by the time it is read
            with pytest.raises(queue.Empty):
                heard[device].get(timeout=0.5 if device == "lobby-1" else 1)
