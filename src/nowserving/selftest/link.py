"""The self-test's network checks: the broker with the device's own address, TLS and
password; whether the server answers; whether the clock agrees with it; and publishing the
result into the device's retained status."""

from __future__ import annotations

import json
import queue
import shutil
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from nowserving.adapters.mqtt import MqttLink
from nowserving.client import UNREACHABLE, BranchClient, broker_for
from nowserving.config.device import DeviceConfig
from nowserving.errors import ConfigError
from nowserving.protocol import Role, Topics, encode
from nowserving.protocol.vocabulary import Cmd
from nowserving.selftest.report import FAIL, OK, SKIP, WARN, Check

CLOCK_WARN_S = 2.0  # the device's clock this far from the server's: a warning
# ... this far: a failure. A lobby display drops calls it thinks are a minute old, and a
# kiosk cut off from the server stamps its tickets with its own clock.
CLOCK_FAIL_S = 10.0
RETAINED_WAIT_S = 1.0  # retained messages follow the SUBACK at once; this is plenty


@dataclass
class Session:
    """The device's connection for the test: its own broker login, no presence of its own
    (the app, if it runs, keeps its status). Filled in as the checks go."""

    client: BranchClient | None = None
    server_heard: threading.Event | None = None  # set by the server's retained status
    ping: dict | None = None  # the server's answer to `ping`
    sent_at: float = 0.0  # wall clock when the ping went out and when it was answered
    answered_at: float = 0.0

    def close(self) -> None:
        """Let go of the test's broker connection (idempotent)."""
        if self.client is not None:
            self.client.close()
            self.client = None


def check_broker(device: DeviceConfig, timeout_s: float, session: Session) -> Check:
    """Reach the broker as the device does: the host and port, TLS with the branch CA, the
    device's user and password. On success `session.client` is connected."""
    settings = device.broker
    where = f"{settings.host}:{settings.port}"
    try:
        sock = socket.create_connection((settings.host, settings.port), timeout=timeout_s)
    except socket.gaierror as err:
        return Check("broker", FAIL, f"cannot find host {settings.host!r}: {err.strerror}")
    except ConnectionRefusedError:
        return Check(
            "broker", FAIL, f"nothing listens on {where}: is Mosquitto running on the server?"
        )
    except TimeoutError:
        return Check(
            "broker", FAIL, f"no answer from {where} in {timeout_s:g} s (network, address?)"
        )
    except OSError as err:
        return Check("broker", FAIL, f"cannot reach {where}: {err.strerror or err}")
    with sock:
        if settings.tls_ca is not None:
            problem = _tls_problem(sock, settings.host, str(settings.tls_ca), timeout_s)
            if problem:
                return Check("broker", FAIL, f"{where}: {problem}")
    try:
        broker = broker_for(device, tool=True)
    except ConfigError as err:
        return Check("broker", FAIL, "; ".join(err.problems))
    heard = threading.Event()
    client = BranchClient(
        broker,
        device.branch,
        device.id,
        presence=False,
        retry_s=1.0,
        on_server=lambda _: heard.set(),  # paho's thread: only sets an event
    )
    client.start(wait_s=None)
    if not client.link.wait_connected(timeout_s):
        refusal = client.link.refusal
        client.close()
        user = broker.username or device.id
        if refusal:
            return Check(
                "broker",
                FAIL,
                f"{where} refused user {user!r}: {refusal} (check the password file "
                f"{settings.password_file or '(none)'}; a re-provisioned device needs its "
                "new bundle)",
            )
        plain = "" if settings.tls_ca else " (is it a TLS port? broker.tls_ca is not set)"
        return Check("broker", FAIL, f"{where} gave no MQTT answer in {timeout_s:g} s{plain}")
    session.client, session.server_heard = client, heard
    tls = f"TLS with {settings.tls_ca.name}" if settings.tls_ca else "no TLS"
    return Check(
        "broker",
        OK,
        f"{where}, {tls}, user {settings.username or device.id}, MQTT {settings.mqtt_version}",
    )


def _tls_problem(sock: socket.socket, host: str, ca: str, timeout_s: float) -> str | None:
    """Why a TLS handshake with the branch CA fails, or None if it succeeds."""
    try:
        context = ssl.create_default_context(cafile=ca)
    except (OSError, ssl.SSLError) as err:
        return f"cannot use the CA file {ca}: {err}"
    sock.settimeout(timeout_s)
    try:
        with context.wrap_socket(sock, server_hostname=host):
            return None
    except ssl.SSLCertVerificationError as err:
        return f"TLS: the broker's certificate is not trusted: {err.verify_message}"
    except (ssl.SSLError, OSError) as err:
        return f"TLS handshake failed ({err}): is this the broker's TLS port?"


def check_server(device: DeviceConfig, session: Session, timeout_s: float) -> Check:
    """Does the server answer: a `ping` from kiosks, counters and staff; a display may not
    send commands through a provisioned broker, so it reads the server's retained status."""
    client = session.client
    if client is None:
        return Check("server", SKIP, "no broker")
    if device.role is Role.DISPLAY:
        return _server_seen(session, timeout_s)
    session.sent_at, started = time.time(), time.monotonic()
    reply = client.request(Cmd.PING, timeout=timeout_s)
    took_ms = (time.monotonic() - started) * 1000
    session.answered_at = time.time()
    if reply.ok:
        session.ping = reply.result
        return Check(
            "server",
            OK,
            f"answered a ping in {took_ms:.0f} ms (server {reply.result.get('version', '?')}, "
            f"seq {reply.result.get('seq', '?')})",
        )
    if reply.code == UNREACHABLE:
        said = {True: "online", False: "offline"}.get(client.server_online, "not known")
        return Check(
            "server",
            FAIL,
            f"no answer in {timeout_s:g} s (the server's status: {said}): is `nowserving "
            "server` running on the branch server and connected to this broker?",
        )
    if reply.code == "unknown_command":  # a server older than `ping`: it answered all the same
        return Check("server", WARN, f"answered, but it is older than this device: {reply.message}")
    return Check("server", FAIL, f"refused the ping: {reply.code}: {reply.message}")


def _server_seen(session: Session, timeout_s: float) -> Check:
    client = session.client
    deadline = time.monotonic() + timeout_s
    session.server_heard.wait(timeout_s)
    if client.server_online is not True:
        said = "offline" if client.server_online is False else "not there"
        return Check(
            "server",
            FAIL,
            f"its status is {said}: is `nowserving server` running on the branch server?",
        )
    try:
        state = client.wait_state(timeout=max(0.1, deadline - time.monotonic()))
    except TimeoutError:
        return Check("server", FAIL, "online, but its summary (state) did not arrive")
    return Check("server", OK, f"online, and its summary arrived (seq {state.seq})")


def check_clock(
    session: Session, ntp: Callable[[], bool | None] | None = None, wall=time.time
) -> Check:
    """The device's clock against the server's (from the ping's answer, allowing for half
    the round trip), and whether NTP says it is synchronised."""
    ntp = ntp or ntp_synchronised
    synced = ntp()
    ntp_text = {True: "; NTP synchronised", False: "; NTP NOT synchronised", None: ""}[synced]
    if session.ping is not None and isinstance(session.ping.get("at"), int | float):
        middle = (session.sent_at + session.answered_at) / 2
        slack = (session.answered_at - session.sent_at) / 2
        offset = middle - session.ping["at"]
        size = max(0.0, abs(offset) - slack)
        text = f"{_span(offset)} the server's (±{slack:.2f} s){ntp_text}"
        if size > CLOCK_FAIL_S:
            return Check("clock", FAIL, f"{text}: set the time (NTP) on this device or the server")
        if size > CLOCK_WARN_S or synced is False:
            return Check("clock", WARN, text)
        return Check("clock", OK, text)
    state = session.client.state if session.client is not None else None
    if state is not None and wall() < state.at - CLOCK_FAIL_S:
        # The summary was published at `at`, so now is later than that: this clock is behind.
        return Check(
            "clock",
            FAIL,
            f"behind the server's last summary by {state.at - wall():.0f} s{ntp_text}: "
            "set the time (NTP)",
        )
    if synced is None:
        return Check("clock", WARN, "cannot tell (no ping answer and no timedatectl)")
    return Check("clock", OK if synced else WARN, ntp_text.removeprefix("; "))


def _span(offset: float) -> str:
    size = abs(offset)
    if size < 1:
        amount = f"{size:.2f} s"
    elif size < 120:
        amount = f"{size:.1f} s"
    elif size < 7200:
        amount = f"{size / 60:.0f} min"
    else:
        amount = f"{size / 3600:.1f} h"
    return f"{amount} {'ahead of' if offset > 0 else 'behind'}"


def ntp_synchronised() -> bool | None:
    """Whether systemd says the clock is synchronised (None: it cannot be asked)."""
    timedatectl = shutil.which("timedatectl")
    if timedatectl is None:
        return None
    try:
        out = subprocess.run(
            [timedatectl, "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = out.stdout.strip()
    return {"yes": True, "no": False}.get(value) if out.returncode == 0 else None


def publish_result(device: DeviceConfig, result: dict, timeout_s: float) -> str:
    """Put `result` in the device's retained status as `self_test`, keeping what the app
    (if it runs) says there, and its presence. Returns the topic; raises OSError if the
    broker cannot be reached or does not take it."""
    topics = Topics(device.branch)
    topic = topics.status(device.id)
    seen: queue.Queue = queue.Queue()
    link = MqttLink(
        broker_for(device, tool=True),
        f"nowserving-{device.id}-selftest-{uuid.uuid4().hex[:8]}",
        on_message=lambda t, p, m, q: seen.put(p),  # paho's thread: hands the payload over
    )
    link.subscribe(topic)
    with link:
        link.start()
        if not link.wait_connected(timeout_s):
            raise OSError(f"no broker to publish to ({link.refusal or 'no answer'})")
        previous = _status(seen, RETAINED_WAIT_S)
        if previous.get("online") is True:
            message = {**previous, "self_test": result}  # the app is there: keep its word
        else:
            message = {"v": 2, "device": device.id, "online": False, "self_test": result}
        info = link.publish(topic, encode(message), retain=True)
        info.wait_for_publish(timeout_s)
        if not info.is_published():
            raise OSError("the broker did not take the result")
    return topic


def _status(seen: queue.Queue, wait_s: float) -> dict:
    try:
        payload = seen.get(timeout=wait_s)
    except queue.Empty:
        return {}
    try:
        message = json.loads(payload) if payload else {}
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}
