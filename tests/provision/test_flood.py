"""One device flooding the server, with a stolen login, on a broker started from
`provision`'s own config: the other devices' commands are all answered, and the flood costs
no row in the event log past the device's budget."""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from nowserving.adapters.store import EventLog
from nowserving.client import BranchClient
from nowserving.protocol import PROTOCOL_VERSION, Topics, encode
from nowserving.server.app import BranchServer
from nowserving.server.ratelimit import Budget

FLOOD_S = 4.0
PINGS = 30


def flood(broker, topic: str, stop: threading.Event, sent: list[int]) -> None:
    """Publish `call_next` (nobody waits: each would be a refusal) as fast as paho can, at
    QoS 0 (no flow control at all), until `stop`."""
    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id="flood", protocol=MQTTProtocolVersion.MQTTv5
    )
    client.username_pw_set(broker.username, broker.password)
    client.tls_set(ca_certs=broker.tls_ca)
    client.connect(broker.host, broker.port)
    client.loop_start()
    n = 0
    while not stop.is_set():
        n += 1
        message = {"v": PROTOCOL_VERSION, "id": f"f{n}", "type": "call_next", "args": {}}
        client.publish(topic, encode(message), qos=0)
    sent.append(n)
    client.disconnect()
    client.loop_stop()


def pings(counter: BranchClient, count: int) -> list[float]:
    """Round trips of `ping` (answered by the server's apply loop itself), in ms, one every
    0.1 s: within a counter's budget, as a working counter is."""
    times = []
    for _ in range(count):
        time.sleep(0.1)  # pacing the device, not waiting for something to happen
        start = time.perf_counter()
        reply = counter.request("ping", timeout=30)
        assert reply.ok, reply
        times.append((time.perf_counter() - start) * 1000)
    return times


def p99(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(0.99 * len(values)))]


def test_a_flooding_device_does_not_starve_the_others(
    provisioned, branch_broker, example_config, tmp_path, clock, monkeypatch, caplog
):
    """GIVEN the server serving WHEN counter-1's login floods call_next at QoS 0 for 4 s
    while counter-2 pings THEN every ping is answered, counter-1 is throttled and then not
    listened to, and its flood left no more rows in the event log than its budget allows
    (the time figures are printed, and measured on a quiet machine by bench/flood.py)."""
    monkeypatch.setattr("nowserving.server.app.QUARANTINE_S", 1.0)  # then heard again soon
    budget = Budget()
    store = EventLog(tmp_path / "events.sqlite")
    server = BranchServer(
        example_config, store, provisioned.server_broker(), clock=clock, budget=budget
    )
    with server, BranchClient(provisioned.device_broker("counter-2"), "pudong", "counter-2") as c2:
        assert server.wait_serving(10)
        quiet = pings(c2, PINGS)
        stop, sent = threading.Event(), []
        flooder = threading.Thread(
            target=flood,
            args=(provisioned.device_broker("counter-1"), Topics("pudong").command("counter-1"),
                  stop, sent),
        )  # fmt: skip
        flooder.start()
        started = time.monotonic()
        try:
            loud = pings(c2, PINGS)
            while time.monotonic() - started < FLOOD_S:
                loud += pings(c2, 1)
        finally:
            stop.set()
            flooder.join(30)
        took = time.monotonic() - started
        rows = sum(1 for e in store.events() if e.device == "counter-1")
        # Who was not listened to, from the server's own warnings (its quarantine may be
        # over already: 1 s here, and the flooder's thread can take longer to end).
        quarantined = sorted(
            {r.args[0] for r in caplog.records if "not listening to it" in r.getMessage()}
        )
        # The flood over, counter-1 is heard again (its next command is answered).
        with BranchClient(provisioned.device_broker("counter-1"), "pudong", "counter-1") as c1:
            assert c1.request("ping", timeout=20).ok
    print(
        f"\nflood: counter-1 sent {sent[0]} call_next at QoS 0 in {took:.1f} s over TLS; "
        f"refused unapplied {budget.refused.get('counter-1', 0)}; rows in the log {rows}\n"
        f"counter-2 ping p99: quiet {p99(quiet):.1f} ms ({len(quiet)}), "
        f"during the flood {p99(loud):.1f} ms ({len(loud)})"
    )
    assert len(loud) >= PINGS and all(t > 0 for t in loud)
    assert budget.refused.get("counter-1", 0) > 0 and quarantined == ["counter-1"]
    assert rows <= budget.burst + budget.rate * (took + 5)
    assert server.failure is None
