"""A real Mosquitto started with the generated config: every device can do what its role
allows and nothing else, over TLS with the branch CA, and only with its own password."""

from __future__ import annotations

import socket
import ssl
from dataclasses import replace

import pytest

from nowserving.adapters.store import EventLog
from nowserving.client import BranchClient
from nowserving.config import EXAMPLE, load_config
from nowserving.protocol import Topics
from nowserving.provision import provision
from nowserving.provision.pki import make_authority
from nowserving.server.app import BranchServer

from .probe import Probe, allowed, refused

T = Topics("pudong")


@pytest.fixture
def server(provisioned, branch_broker, example_config, tmp_path, clock):
    """The branch server, logged in as `server` on the loopback listener."""
    with BranchServer(
        example_config, EventLog(tmp_path / "events.sqlite"), provisioned.server_broker(),
        clock=clock,
    ) as srv:  # fmt: skip
        assert srv.wait_serving(10)
        yield srv


def client(provisioned, device: str, **kwargs) -> BranchClient:
    return BranchClient(provisioned.device_broker(device), "pudong", device, **kwargs)


def test_every_role_does_its_work_over_tls_with_its_bundle(provisioned, server):
    """GIVEN the broker and server running the generated config WHEN each kind of device
    connects with nothing but its bundle THEN a kiosk issues, counters call, the staff PC
    reads a line and the display sees the calls; the server refuses what a role may not
    send, and counter-1 never sees counter-2's replies."""
    with (
        client(provisioned, "kiosk-1") as kiosk,
        client(provisioned, "counter-1") as counter_1,
        client(provisioned, "counter-2") as counter_2,
        client(provisioned, "manager", watch_lines=("cash",)) as manager,
        client(provisioned, "lobby-1", watch_events=True) as display,
        # counter-1's password, as its tools log in: its own login would push counter-1 off.
        Probe(provisioned.device_broker("counter-1", tool=True)) as eavesdropper,
    ):
        assert allowed(eavesdropper.login())
        eavesdropper.subscribe(f"{T.base}/reply/+", T.reply("counter-2"))
        assert kiosk.request("issue_ticket", {"service": "cash"}).ticket["number"] == "A001"
        assert kiosk.request("issue_ticket", {"service": "cash"}).ticket["number"] == "A002"
        assert kiosk.request("call_next").code == "not_allowed"  # a kiosk only issues
        assert manager.wait_line("cash", lambda line: len(line.tickets) == 2).tickets
        assert counter_2.request("call_next").ticket["number"] == "A001"
        assert counter_1.request("call_next", {"counter": "c2"}).code == "not_allowed"
        assert counter_1.request("call_next").ticket["number"] == "A002"
        state = display.wait_state(lambda s: len(s.recent_calls) == 2)
        assert [c.number for c in state.recent_calls] == ["A002", "A001"]
        # The server answered counter-2 before counter-1, in this order: had counter-2's
        # replies reached the eavesdropper, they would have come first.
        topic, _ = eavesdropper.messages.get(timeout=10)
        assert topic == T.reply("counter-1")


@pytest.mark.parametrize(
    ("device", "mine", "not_mine"),
    [
        ("lobby-1", T.status("lobby-1"), [T.command("lobby-1"), T.state, T.events]),
        ("kiosk-1", T.command("kiosk-1"), [T.command("counter-1"), T.reply("kiosk-1"), T.state]),
        ("counter-1", T.command("counter-1"), [T.command("counter-2"), T.status("counter-2")]),
        ("manager", T.command("manager"), [T.command("counter-1"), T.line("cash")]),
    ],
)
def test_the_broker_refuses_what_a_role_may_not_publish(
    provisioned, branch_broker, device, mine, not_mine
):
    """GIVEN a device logged in with its bundle WHEN it publishes on its own topic and on
    topics that are not its THEN the broker acknowledges the first and answers "Not
    authorized" to each of the others (MQTT 5 says so in the PUBACK)."""
    with Probe(provisioned.device_broker(device)) as probe:
        assert allowed(probe.login())
        assert allowed(probe.publish(mine))
        for topic in not_mine:
            assert refused(probe.publish(topic)), topic


def test_only_known_users_with_their_own_password_get_in(provisioned, branch_broker):
    kiosk = provisioned.device_broker("kiosk-1")
    other = provisioned.device_broker("kiosk-2").password
    for login in (
        replace(kiosk, password="guess"),
        replace(kiosk, password=other),  # another device's password
        replace(kiosk, username="kiosk-9"),
        replace(kiosk, username=None, password=None),  # anonymous
    ):
        with Probe(login) as probe:
            assert probe.login().is_failure, login.username


def test_tls_needs_the_branch_ca_and_plain_mqtt_is_refused(provisioned, branch_broker, tmp_path):
    kiosk = provisioned.device_broker("kiosk-1")
    with Probe(kiosk) as probe:
        assert allowed(probe.login())
    # Python's strictest certificate checks (3.13's defaults) accept the broker's too.
    context = ssl.create_default_context(cafile=kiosk.tls_ca)
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    with context.wrap_socket(
        socket.create_connection(("127.0.0.1", kiosk.port), timeout=10),
        server_hostname="localhost",
    ) as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    # Another CA's word is not enough.
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(make_authority("someone else").cert_pem)
    with pytest.raises(ssl.SSLCertVerificationError):
        Probe(kiosk, tls_ca=str(stranger)).start()
    # Plain MQTT on the devices' port: the broker hangs up without a word.
    with Probe(replace(kiosk, tls_ca=None)) as plain:
        assert plain.disconnected.wait(10)
        assert plain.connacks.empty()


def test_a_certificate_for_other_hosts_is_refused(provisioned, branch_broker):
    """The broker's certificate names 127.0.0.1 and localhost; a client that reaches it by
    another name refuses it (the check that stops a man in the middle)."""
    ca = provisioned.out / "installer" / "ca.pem"
    context = ssl.create_default_context(cafile=str(ca))
    with (
        pytest.raises(ssl.SSLCertVerificationError, match="[Hh]ostname"),
        context.wrap_socket(
            socket.create_connection(("127.0.0.1", provisioned.tls_port), 10),
            server_hostname="branch.example",
        ),
    ):
        pass


def test_revoking_a_device_and_reloading_shuts_it_out(provisioned, branch_broker, tmp_path):
    """GIVEN kiosk-2 connected WHEN it is revoked, a kiosk-3 is added by re-running
    provision, and Mosquitto reloads (SIGHUP) THEN kiosk-2 is disconnected and refused from
    then on, kiosk-3 gets in, and every other device keeps its password."""
    kiosk_2 = provisioned.device_broker("kiosk-2")
    kiosk_2 = replace(kiosk_2, tls_ca=str(provisioned.out / "installer" / "ca.pem"))
    bigger = tmp_path / "branch.toml"
    bigger.write_text(
        EXAMPLE.read_text(encoding="utf-8") + '\n[[devices]]\nid = "kiosk-3"\nrole = "kiosk"\n',
        encoding="utf-8",
    )
    with Probe(kiosk_2) as revoked:
        assert allowed(revoked.login())
        provision(load_config(bigger), provisioned.out, revoke=("kiosk-2",))
        branch_broker.reload()
        assert revoked.disconnected.wait(10)
        # paho logs in again by itself: refused now.
        assert refused(revoked.login())
    with Probe(kiosk_2) as again:
        assert again.login().is_failure
    for device in ("kiosk-3", "kiosk-1", "lobby-1", "counter-6"):
        with Probe(provisioned.device_broker(device)) as probe:
            assert allowed(probe.login()), device


def test_the_server_reaches_the_broker_only_with_its_password(provisioned, branch_broker):
    server = provisioned.server_broker()
    with Probe(server) as probe:
        assert allowed(probe.login())
        assert allowed(probe.publish(T.state))
    with Probe(replace(server, password="guess")) as probe:
        assert probe.login().is_failure
    # The plain listener is on loopback only (the TLS one too, here, but by the test's choice).
    assert f"listener {provisioned.local_port} 127.0.0.1\n" in provisioned.broker_config()


def test_nothing_larger_than_the_contract_needs_gets_through(provisioned, branch_broker):
    """GIVEN kiosk-1's login on MQTT 3.1.1 (so that paho does not know the broker's limit
    and sends anyway) WHEN it parks a 3 MB retained status, after a small one THEN the
    broker disconnects it and keeps the small one: no staff device is sent megabytes."""
    import queue as queues

    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    login = provisioned.device_broker("kiosk-1")
    gone, ready = queues.Queue(), queues.Queue()
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv311)
    client.username_pw_set(login.username, login.password)
    client.tls_set(ca_certs=login.tls_ca)
    client.on_connect = lambda c, u, f, rc, p: ready.put(rc)  # paho's thread: hand it over
    client.on_disconnect = lambda c, u, f, rc, p: gone.put(rc)
    client.reconnect_delay_set(60, 60)
    client.connect(login.host, login.port)
    client.loop_start()
    try:
        assert not ready.get(timeout=10).is_failure
        client.publish(T.status("kiosk-1"), b'{"small":1}', qos=1, retain=True).wait_for_publish(10)
        client.publish(T.status("kiosk-1"), b"x" * (3 * 1024 * 1024), qos=1, retain=True)
        gone.get(timeout=30)
    finally:
        client.loop_stop()
    with Probe(provisioned.device_broker("manager", tool=True)) as reader:
        assert allowed(reader.login())
        reader.subscribe(T.status("kiosk-1"))
        assert reader.messages.get(timeout=10) == (T.status("kiosk-1"), b'{"small":1}')
