"""Hundreds of malformed and hostile messages: each is refused, the server stays up and
the queue is unchanged; a good command afterwards still works."""

from __future__ import annotations

import json
import queue
import random

from nowserving.adapters.mqtt import MqttLink
from nowserving.protocol import PROTOCOL_VERSION, Topics
from nowserving.server.ratelimit import Budget

TOPICS = Topics("pudong")


def hostile_payloads() -> list[bytes]:
    rng = random.Random(7)
    base = {"v": PROTOCOL_VERSION, "id": "h-1", "type": "issue_ticket", "args": {"service": "cash"}}
    values = [
        None,
        True,
        0,
        -1,
        2**64,
        1.5,
        "",
        "x" * 5000,
        [],
        {},
        [1],
        {"a": 1},
        "cash\x00",
        "現金" * 150,
        float("nan"),
    ]
    payloads: list[dict | bytes] = []
    for key in ("v", "id", "type", "args"):
        for value in values:
            payloads.append({**base, key: value})
        payloads.append({k: v for k, v in base.items() if k != key})
    for value in values:
        payloads.append({**base, "args": {"service": value}})
        payloads.append({**base, "args": {"service": "cash", "language": value}})
        payloads.append({**base, "type": "call_next", "args": {"counter": value}})
        payloads.append({**base, "unknown": value})
    for kind in ("call_ticket", "transfer", "cancel", "pause_counter"):
        payloads.append({**base, "type": kind, "args": {}})
        payloads.append({**base, "type": kind, "args": {"bogus": "1"}})
    deep = b"[" * 1500 + b"1" + b"]" * 1500
    payloads.append(
        b'{"v":%d,"id":"h-1","type":"issue_ticket","args":{"service":' % PROTOCOL_VERSION
        + deep
        + b"}}"
    )
    payloads.append(b"[" * 3000 + b"]" * 3000)
    payloads.append(b"{" * 100_000)
    payloads.append(b"")
    payloads.append(b"null")
    payloads.append(b"\x00\x01\x02\xff" * 64)
    payloads.extend(
        bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))) for _ in range(60)
    )
    payloads.extend(json.dumps(base)[:cut].encode() for cut in range(1, 60, 3))
    payloads.append(json.dumps({**base, "v": 99}).encode())
    payloads.append(json.dumps([base]).encode())
    return [p if isinstance(p, bytes) else json.dumps(p, allow_nan=True).encode() for p in payloads]


def test_hostile_messages_are_refused_and_change_nothing(server, broker, connect):
    payloads = hostile_payloads()
    assert len(payloads) >= 200
    server.budget = Budget(burst=10_000)  # every one checked (the budget: test_flood.py)
    before = server.branch.to_dict()
    replies: queue.Queue = queue.Queue()
    with MqttLink(
        broker, "attacker", on_message=lambda t, p, m, q: replies.put(json.loads(p))
    ) as link:
        link.subscribe(TOPICS.reply("kiosk-1"))
        link.start()
        assert link.wait_connected(5)
        for payload in payloads:
            link.publish(TOPICS.command("kiosk-1"), payload).wait_for_publish(5)
        # Wrong topics: deeper than a device, empty device, another branch.
        for topic in (
            TOPICS.command("kiosk-1") + "/x",
            TOPICS.base + "/cmd/",
            "nowserving/v1/other/cmd/kiosk-1",
        ):
            link.publish(topic, payloads[0]).wait_for_publish(5)
        got = [replies.get(timeout=10) for _ in payloads]
    assert all(r["ok"] is False for r in got)
    codes = {r["error"]["code"] for r in got}
    assert {
        "bad_json",
        "bad_version",
        "bad_args",
        "bad_message",
        "bad_id",
        "too_large",
        "unknown_command",
    } <= codes, codes
    # Those that were well-formed but named things that do not exist reached the domain
    # and were refused there: recorded as refusals, nothing else.
    after = server.branch.to_dict()
    assert after["tickets"] == before["tickets"] == []
    assert after["counters"] == before["counters"]
    assert server._thread.is_alive()
    kiosk = connect("kiosk-1")
    assert kiosk.request("issue_ticket", {"service": "cash"}).ticket["number"] == "A001"
