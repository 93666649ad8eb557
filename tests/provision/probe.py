"""A raw MQTT 5 client for tests: what the broker answers, to the letter.

With MQTT 5 Mosquitto acknowledges a QoS 1 publish it refuses with reason code "Not
authorized" (with 3.1.1 it would drop it silently), and refuses a login in its CONNACK:
so each check waits for the broker's own answer instead of for something not to happen.
"""

from __future__ import annotations

import queue
import threading
import uuid

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from nowserving.adapters.mqtt import Broker

TIMEOUT_S = 10


class Probe:
    """One MQTT 5 connection as `broker.username` (TLS when `broker.tls_ca` is set)."""

    def __init__(
        self, broker: Broker, tls_ca: str | None = None, client_id: str | None = None
    ) -> None:
        self.broker = broker
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"probe-{uuid.uuid4().hex[:8]}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        if broker.username:
            self.client.username_pw_set(broker.username, broker.password)
        ca = tls_ca or broker.tls_ca
        if ca:
            self.client.tls_set(ca_certs=ca)
        self.connacks: queue.Queue[ReasonCode] = queue.Queue()
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.disconnected = threading.Event()
        self._acks: dict[int, ReasonCode] = {}
        self._suback = threading.Event()
        self._cond = threading.Condition()
        # paho's network thread: each callback only records what arrived.
        self.client.on_connect = lambda c, u, f, rc, p: self.connacks.put(rc)
        self.client.on_disconnect = lambda c, u, f, rc, p: self.disconnected.set()
        self.client.on_publish = self._published
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self._suback.set()
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload))

    def __enter__(self) -> Probe:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        """Connect (TLS errors raise here) and start the network thread."""
        self.client.connect(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()

    def login(self) -> ReasonCode:
        """The broker's answer to the login."""
        return self.connacks.get(timeout=TIMEOUT_S)

    def publish(self, topic: str, payload: bytes = b"{}", retain: bool = False) -> ReasonCode:
        """Publish at QoS 1 and return the broker's PUBACK reason code."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        with self._cond:
            if not self._cond.wait_for(lambda: info.mid in self._acks, TIMEOUT_S):
                raise TimeoutError(f"no PUBACK for {topic}")
            return self._acks.pop(info.mid)

    def subscribe(self, *topics: str) -> None:
        self._suback.clear()
        self.client.subscribe([(t, 1) for t in topics])
        if not self._suback.wait(TIMEOUT_S):
            raise TimeoutError(f"no SUBACK for {topics}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _published(self, client, userdata, mid, reason_code, properties) -> None:
        with self._cond:
            self._acks[mid] = reason_code
            self._cond.notify_all()


def allowed(code: ReasonCode) -> bool:
    return not code.is_failure


def refused(code: ReasonCode) -> bool:
    return str(code) == "Not authorized"
