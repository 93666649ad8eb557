"""The generated bridge, between two real Mosquittos over TLS: the branch keeps serving while
the head office is away, and the head office catches up when it is back."""

from __future__ import annotations

import json
import threading

import pytest

from nowserving.adapters.mqtt import Broker, MqttLink
from nowserving.adapters.store import EventLog
from nowserving.client import BranchClient
from nowserving.devtools.broker import LocalMosquitto, free_port
from nowserving.protocol import Topics
from nowserving.protocol.acl import bridge_status_topic
from nowserving.provision import provision
from nowserving.provision.passwords import new_password, password_file
from nowserving.provision.pki import issue_server_certificate, make_authority
from nowserving.server.app import BranchServer

from .conftest import Provisioned, settings_for_tests
from .probe import Probe, allowed

T = Topics("pudong")


class HeadOffice:
    """A head-office Mosquitto with its own CA, and a dashboard user that reads everything."""

    def __init__(self, folder) -> None:
        self.folder = folder
        self.port = free_port()
        self.ca = folder / "ca.pem"
        self.dashboard_password = new_password()
        folder.mkdir(parents=True)
        authority = make_authority("head office CA")
        cert, key = issue_server_certificate(authority, ["127.0.0.1"])
        self.ca.write_bytes(authority.cert_pem)
        (folder / "server.pem").write_bytes(cert)
        (folder / "server.key").write_bytes(key)

    def broker(self, out) -> LocalMosquitto:
        """The broker, with the branch's generated users and ACL added to its own."""
        passwd = (out / "head-office" / "pudong.passwd").read_text()
        passwd += password_file({"dashboard": self.dashboard_password})
        (self.folder / "passwd").write_text(passwd)
        acl = (out / "head-office" / "pudong.acl").read_text()
        (self.folder / "acl").write_text(acl + "\nuser dashboard\ntopic read nowserving/#\n")
        f = self.folder
        config = (
            "per_listener_settings false\nallow_anonymous false\n"
            f"password_file {f / 'passwd'}\nacl_file {f / 'acl'}\n"
            f"listener {self.port} 127.0.0.1\ncafile {self.ca}\n"
            f"certfile {f / 'server.pem'}\nkeyfile {f / 'server.key'}\n"
            "persistence true\n"
        )
        return LocalMosquitto(f / "run", port=self.port, config=config)

    def login(self) -> Broker:
        return Broker(
            "127.0.0.1", self.port, "dashboard", self.dashboard_password, tls_ca=str(self.ca)
        )


class Collector:
    """A head-office subscriber with a kept session: what reached the head office."""

    def __init__(self, broker: Broker) -> None:
        self.states: list[int] = []
        self.events: list[int] = []
        self._cond = threading.Condition()
        self.link = MqttLink(
            broker, "collector", on_message=self._received, persistent=True, reconnect_max_s=1
        )
        self.link.subscribe(T.state)
        self.link.subscribe(T.events)

    def _received(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        # paho's network thread: only record, and wake the waiting test.
        seq = json.loads(payload)["seq"]
        with self._cond:
            (self.states if topic == T.state else self.events).append(seq)
            self._cond.notify_all()

    def received(self) -> tuple[list[int], list[int]]:
        """The seqs of the states and of the events received so far."""
        with self._cond:
            return list(self.states), list(self.events)

    def wait_for_state(self, seq: int, timeout: float = 30) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self.states and self.states[-1] == seq, timeout):
                raise TimeoutError(f"the head office has state {self.states[-1:]}, not {seq}")


def retained(broker: Broker, topic: str) -> bytes:
    with Probe(broker) as probe:
        assert allowed(probe.login())
        probe.subscribe(topic)
        return probe.messages.get(timeout=10)[1]


@pytest.fixture
def head_office(tmp_path) -> HeadOffice:
    return HeadOffice(tmp_path / "head-office")


@pytest.fixture
def bridged(tmp_path, example_config, head_office) -> Provisioned:
    """The example branch provisioned with a bridge to `head_office` (reconnecting within
    2 s rather than backing off to a minute, so that the test does not wait)."""
    out = tmp_path / "out"
    settings = settings_for_tests(out)
    settings.head_office = f"127.0.0.1:{head_office.port}"
    provision(example_config, out, settings, head_office_ca=head_office.ca, bridge_restart_s=(1, 2))
    return Provisioned(out, settings.tls_port, settings.local_port)


def test_the_head_office_catches_up_after_an_outage(
    bridged, head_office, example_config, tmp_path, clock
):
    """GIVEN a branch bridged to its head office WHEN the head office goes away, the branch
    issues and calls meanwhile, and the head office comes back THEN the branch served
    throughout, and the head office ends up with the branch's current state (retained),
    every event of the outage in order (at least once), the devices' statuses and the
    link's flag."""
    office = head_office.broker(bridged.out)
    with (
        office,
        LocalMosquitto(
            tmp_path / "branch", port=bridged.tls_port, config=bridged.broker_include(),
            also_ports=(bridged.local_port,),
        ),
        BranchServer(
            example_config, EventLog(tmp_path / "events.sqlite"), bridged.server_broker(),
            clock=clock,
        ) as server,
        BranchClient(bridged.device_broker("kiosk-1"), "pudong", "kiosk-1") as kiosk,
        BranchClient(bridged.device_broker("counter-1"), "pudong", "counter-1") as counter,
    ):  # fmt: skip
        collector = Collector(head_office.login())
        collector.link.start()
        try:
            assert collector.link.wait_connected(10)
            first = kiosk.request("issue_ticket", {"service": "cash"})
            collector.wait_for_state(first.result["seq"])

            office.stop()
            replies = [kiosk.request("issue_ticket", {"service": "cash"}) for _ in range(3)]
            replies += [counter.request(kind) for kind in ("call_next", "start", "call_next")]
            assert all(r.ok for r in replies), replies  # the branch kept serving
            seq = replies[-1].result["seq"]
            assert server.branch.seq == seq
            office.start()

            collector.wait_for_state(seq)
            assert json.loads(retained(head_office.login(), T.state))["seq"] == seq
            events = collector.received()[1]
            # Each event at least once (QoS 1: one in flight when the link broke may come
            # twice), none missing, in order.
            assert events == sorted(events)
            assert sorted(set(events)) == list(range(events[0], seq + 1))
            assert json.loads(retained(head_office.login(), T.status("kiosk-1")))["online"]
            assert retained(head_office.login(), bridge_status_topic("pudong")) == b"1"
        finally:
            collector.link.close()


def test_the_state_is_sent_again_when_the_link_comes_back(bridged, head_office, tmp_path):
    """GIVEN the head office away WHEN the branch's state changes several times and the
    head office comes back THEN it gets the last state, though the bridge queues none
    (QoS 0): re-connecting, the bridge sends the branch's retained state."""
    office = head_office.broker(bridged.out)
    branch = LocalMosquitto(
        tmp_path / "branch",
        port=bridged.tls_port,
        config=bridged.broker_include(),
        also_ports=(bridged.local_port,),
    )
    with office, branch, Probe(bridged.server_broker()) as server:
        assert allowed(server.login())
        assert allowed(server.publish(T.state, b'{"seq": 1}', retain=True))
        collector = Collector(head_office.login())
        collector.link.start()
        try:
            collector.wait_for_state(1)
            office.stop()
            for seq in range(2, 6):
                assert allowed(
                    server.publish(T.state, json.dumps({"seq": seq}).encode(), retain=True)
                )
            office.start()
            collector.wait_for_state(5)
            states = collector.received()[0]
            assert not {2, 3, 4} & set(states), states
        finally:
            collector.link.close()
    assert "out 0" in (bridged.out / "server/conf.d/nowserving-bridge.conf").read_text()


def test_the_bridge_may_write_only_its_own_branch_at_the_head_office(bridged, head_office):
    """The branch's bridge user, as the head office's ACL sees it: its branch's state,
    events and statuses, and nothing of another branch's or of the devices' commands."""
    password = json.loads((bridged.out / "installer" / "provision.json").read_text())
    bridge = Broker(
        "127.0.0.1", head_office.port, "bridge-pudong", password["bridge_password"],
        tls_ca=str(head_office.ca),
    )  # fmt: skip
    other = Topics("xuhui")
    with head_office.broker(bridged.out), Probe(bridge) as probe:
        assert allowed(probe.login())
        # The lines, ticket records and the web device's replies: for a web role there.
        for topic in (T.state, T.events, T.status("kiosk-1"), T.line("cash"),
                      T.web_ticket("ab" * 32), T.reply("web-1")):  # fmt: skip
            assert allowed(probe.publish(topic)), topic
        for topic in (other.state, other.events, other.line("cash"), T.command("kiosk-1"),
                      T.command("web-1"), T.reply("kiosk-1")):  # fmt: skip
            assert str(probe.publish(topic)) == "Not authorized", topic


def test_without_a_head_office_there_is_no_bridge(tmp_path, example_config):
    out = tmp_path / "out"
    provision(example_config, out, settings_for_tests(out))
    assert not (out / "server" / "conf.d" / "nowserving-bridge.conf").exists()
    assert not (out / "head-office").exists()
