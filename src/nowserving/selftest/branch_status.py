"""`nowserving branch-status`: every device's retained status in one table — online or not,
version, its last self-test — read with a staff device's login (which may read `status/#`)."""

from __future__ import annotations

import json
import queue
import time
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from nowserving.adapters.mqtt import MqttLink
from nowserving.client import broker_for
from nowserving.config import BranchConfig
from nowserving.config.device import DeviceConfig
from nowserving.protocol import Topics

QUIET_S = 0.5  # retained statuses come in one burst after subscribing: then this silence
NOTES = ("printer", "paper", "audio", "screen", "last_error", "spool", "seq")


def read_statuses(device: DeviceConfig, wait_s: float = 5.0) -> dict[str, dict]:
    """device id -> its retained status, as the broker holds them now."""
    topics = Topics(device.branch)
    prefix = f"{topics.base}/status/"
    got: queue.Queue = queue.Queue()
    link = MqttLink(
        broker_for(device, tool=True),
        f"nowserving-{device.id}-status-{uuid.uuid4().hex[:8]}",
        on_message=lambda t, p, m, q: got.put((t, p)),  # paho's thread: hands it over
    )
    link.subscribe(f"{prefix}+")
    statuses: dict[str, dict] = {}
    with link:
        link.start()
        if not link.wait_connected(wait_s):
            raise OSError(
                f"cannot log in to {device.broker.host}:{device.broker.port} as "
                f"{link.broker.username or device.id}: {link.refusal or 'no answer'}"
            )
        ends = time.monotonic() + wait_s
        while time.monotonic() < ends:
            try:
                topic, payload = got.get(timeout=QUIET_S)
            except queue.Empty:
                break
            try:
                message = json.loads(payload) if payload else None
            except ValueError:
                message = None
            if isinstance(message, dict):
                statuses[topic.removeprefix(prefix)] = message
    return statuses


def status_table(statuses: dict[str, dict], config: BranchConfig | None) -> tuple[list[str], bool]:
    """The table's lines, and whether the branch is all well: the server and every kiosk,
    counter and display of the config online (staff PCs come and go), and no failed
    self-test."""
    zone = ZoneInfo(config.rules.timezone) if config else None
    roles = {d.id: d.role.value for d in config.devices.values()} if config else {}
    ids = ["server", *roles, *sorted(set(statuses) - set(roles) - {"server"})]
    rows = [("device", "role", "online", "version", "self-test", "notes")]
    well = True
    for device in dict.fromkeys(ids):
        status = statuses.get(device)
        role = "server" if device == "server" else roles.get(device, "?")
        if status is None:
            rows.append((device, role, "never", "", "", "no status: not started yet?"))
            well = well and role == "staff"
            continue
        online = status.get("online") is True
        well = well and (online or role == "staff")
        result = status.get("self_test")
        result = result if isinstance(result, dict) else {}
        test = "-"
        if result:
            when = _time(result.get("at"), zone)
            if result.get("ok"):
                test = f"ok {when}"
            else:
                failed = [
                    c.get("name", "?")
                    for c in result.get("checks", [])
                    if isinstance(c, dict) and c.get("status") == "FAIL"
                ]
                test = f"FAIL {when}: {', '.join(failed)}"
                well = False
        notes = ", ".join(_note(k, status[k]) for k in NOTES if k in status)
        version = status.get("version") or result.get("version", "")
        rows.append((device, role, "yes" if online else "NO", str(version), test, notes))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(5)) + "  " + r[5] for r in rows]
    return [line.rstrip() for line in lines], well


def _note(key: str, value: object) -> str:
    text = str(value)
    return text if text.startswith(f"{key}: ") else f"{key} {text}"  # "audio: ok (aplay)"


def _time(at: object, zone: ZoneInfo | None) -> str:
    if not isinstance(at, int | float):
        return "?"
    return datetime.fromtimestamp(at, zone).strftime("%m-%d %H:%M")
