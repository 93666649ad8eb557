"""The MQTT link every role uses: a paho-mqtt 2 client that owns connecting,
reconnecting, re-subscribing, presence (last will) and Nagle-free sockets.

Messages arrive on paho's network thread; `on_message` is called there and must only hand
the message over (put it on a queue). Nothing here touches domain state.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 24 * 3600  # a persistent session outlives any restart or outage


@dataclass(frozen=True)
class Broker:
    """Where the broker is and how to log in to it."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    mqtt_version: str = "5"  # "5" or "3.1.1"
    tls_ca: str | None = None

    @classmethod
    def parse(cls, text: str, **kwargs) -> Broker:
        """HOST:PORT, with the other fields from `kwargs`."""
        host, _, port = text.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"broker must be HOST:PORT, not {text!r}")
        return cls(host, int(port), **kwargs)


MessageHandler = Callable[[str, bytes, int, int], None]  # topic, payload, mid, qos


class MqttLink:
    """One connection to the broker, kept up until `close()`."""

    def __init__(
        self,
        broker: Broker,
        client_id: str,
        *,
        on_message: MessageHandler | None = None,
        on_connected: Callable[[], None] | None = None,
        on_disconnected: Callable[[], None] | None = None,
        will: tuple[str, bytes] | None = None,
        persistent: bool = False,
        manual_ack: bool = False,
        reconnect_max_s: int = 10,
    ) -> None:
        self.broker = broker
        self._v5 = broker.mqtt_version == "5"
        self._persistent = persistent
        self._on_message = on_message
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._subscriptions: dict[str, int] = {}
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self.refusal: str | None = None
        self.connections = 0  # how many times it has connected (and subscribed)
        # Times a persistent session was found gone on reconnecting (see `_connected`).
        self.sessions_lost = 0
        self._retained_reads: dict[int, Callable[[], None]] = {}  # UNSUBSCRIBE mid -> done
        # Held while an UNSUBSCRIBE is sent and its mid noted, and by paho's thread to look
        # it up: its UNSUBACK can come back before `unsubscribe` has returned the mid.
        self._reads_lock = threading.Lock()
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5 if self._v5 else MQTTProtocolVersion.MQTTv311,
            clean_session=None if self._v5 else not persistent,
            manual_ack=manual_ack,
        )
        if broker.username:
            self._client.username_pw_set(broker.username, broker.password)
        if broker.tls_ca:
            self._client.tls_set(ca_certs=broker.tls_ca)
        if will:
            self._client.will_set(will[0], will[1], qos=1, retain=True)
        self._client.reconnect_delay_set(1, reconnect_max_s)
        # No in-flight limit: paho would otherwise hold QoS1 publishes back in its own queue
        # while acks go straight out, so a command could be acked before its reply is sent,
        # and a crash then would lose the reply. Unlimited keeps everything in call order.
        self._client.max_inflight_messages_set(0)
        self._client.on_socket_open = self._socket_opened
        self._client.on_connect = self._connected
        self._client.on_disconnect = self._disconnected
        self._client.on_message = self._message
        self._client.on_subscribe = self._subscribed
        self._client.on_unsubscribe = self._unsubscribed
        self._subscribing: int | None = None  # mid of the SUBSCRIBE sent on connecting
        self._started = False

    def __enter__(self) -> MqttLink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        """Connect in the background; paho keeps reconnecting until `close()`."""
        properties = None
        clean_start: bool | int = paho.MQTT_CLEAN_START_FIRST_ONLY
        if self._v5:
            clean_start = not self._persistent
            if self._persistent:
                properties = Properties(PacketTypes.CONNECT)
                properties.SessionExpiryInterval = SESSION_EXPIRY_S
        self._client.connect_async(
            self.broker.host,
            self.broker.port,
            keepalive=15,
            clean_start=clean_start,
            properties=properties,
        )
        self._client.loop_start()
        self._started = True

    def wait_connected(self, timeout: float) -> bool:
        """Wait up to `timeout` s for the link to be connected and subscribed."""
        return self.connected.wait(timeout)

    @property
    def alive(self) -> bool:
        """Whether paho's network thread runs (connected or retrying). It dies only when an
        exception escapes a callback; the link is then deaf for good, and a supervisor's
        watchdog should restart the process."""
        thread = getattr(self._client, "_thread", None)  # paho's loop_start() thread
        return self._started and thread is not None and thread.is_alive()

    def subscribe(self, topic: str, qos: int = 1) -> None:
        """Subscribe now if connected, and again after every reconnect."""
        with self._lock:
            self._subscriptions[topic] = qos
        if self.connected.is_set():
            self._client.subscribe(topic, qos)

    def unsubscribe(self, topic: str) -> None:
        """Stop receiving `topic`, now and after reconnects."""
        with self._lock:
            known = self._subscriptions.pop(topic, None)
        if known is not None and self.connected.is_set():
            self._client.unsubscribe(topic)

    def read_retained(self, topics: list[str], done: Callable[[], None]) -> bool:
        """Have the broker send what it holds retained on `topics` (to `on_message`, as
        any message), then call `done` on paho's thread once all of it has arrived.

        Subscribes at QoS 0 and unsubscribes at once: Mosquitto writes a QoS 0 subscription's
        retained messages right behind its SUBACK, never held back by the in-flight window
        (which queued commands may fill), so the UNSUBACK that follows comes after them.
        False when not connected (nothing happens)."""
        if not self.connected.is_set():
            return False
        with self._reads_lock:  # paho's thread never holds a lock `unsubscribe` needs
            self._client.subscribe([(topic, 0) for topic in topics])
            result, mid = self._client.unsubscribe(topics)
            if result != paho.MQTT_ERR_SUCCESS:
                return False
            self._retained_reads[mid] = done
        return True

    def publish(
        self, topic: str, payload: bytes, qos: int = 1, retain: bool = False
    ) -> paho.MQTTMessageInfo:
        """Publish now, or when connected again (paho keeps QoS 1 messages meanwhile)."""
        return self._client.publish(topic, payload, qos=qos, retain=retain)

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge a message received with manual_ack, once it is safely handled."""
        self._client.ack(mid, qos)

    def close(self) -> None:
        """Disconnect cleanly (no last will) and stop paho's thread (idempotent)."""
        if self._started:
            self._started = False
            self.connected.clear()  # so the disconnect below is not reported as a loss
            self._client.disconnect()
            # paho's thread ends on the disconnect and sets its `_thread` to None, which may
            # fall between loop_stop's check and its join (paho-mqtt issue #872): then
            # there is nothing left to stop.
            with contextlib.suppress(AttributeError):
                self._client.loop_stop()

    # ----- paho callbacks: these run on paho's network thread -----------------------------

    def _socket_opened(self, client, userdata, sock) -> None:
        # paho never disables Nagle; with delayed ACKs a QoS 1 request/reply then takes
        # ~88 ms instead of 0.74 ms (bench/mqtt_roundtrip.py).
        if hasattr(sock, "setsockopt"):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _connected(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.refusal = str(reason_code)
            log.error(
                "broker %s:%d refused %s: %s",
                self.broker.host,
                self.broker.port,
                client._client_id.decode(),
                reason_code,
            )
            return
        self.refusal = None
        if self._persistent and self.connections and not flags.session_present:
            # The broker restarted without its saved sessions, or someone cleared this one:
            # whatever was queued for this client while it was away is gone.
            self.sessions_lost += 1
            log.error(
                "broker %s:%d had no session for %s on reconnecting: messages queued "
                "for it while it was away are lost; subscribing again",
                self.broker.host,
                self.broker.port,
                client._client_id.decode(),
            )
        with self._lock:
            subscriptions = list(self._subscriptions.items())
        if not subscriptions:
            self._ready()
            return
        # Ready only once the broker confirmed the subscriptions: a message published by
        # someone else right after `wait_connected` returns must reach us.
        _, self._subscribing = client.subscribe(subscriptions)

    def _subscribed(self, client, userdata, mid, reason_codes, properties) -> None:
        if mid == self._subscribing:
            self._subscribing = None
            self._ready()

    def _unsubscribed(self, client, userdata, mid, reason_codes, properties) -> None:
        with self._reads_lock:
            done = self._retained_reads.pop(mid, None)
        if done is not None:
            done()

    def _ready(self) -> None:
        self.connections += 1
        self.connected.set()
        log.info("connected to broker %s:%d", self.broker.host, self.broker.port)
        if self._on_connected:
            self._on_connected()

    def _disconnected(self, client, userdata, flags, reason_code, properties) -> None:
        was_connected = self.connected.is_set()
        self.connected.clear()
        with self._reads_lock:
            self._retained_reads.clear()  # their UNSUBACKs will never come
        if was_connected:
            log.warning(
                "lost broker %s:%d (%s); reconnecting",
                self.broker.host,
                self.broker.port,
                reason_code,
            )
            if self._on_disconnected:
                self._on_disconnected()

    def _message(self, client, userdata, message: paho.MQTTMessage) -> None:
        if self._on_message:
            self._on_message(message.topic, message.payload, message.mid, message.qos)
