"""docs/protocol.md's walkthrough, run as written with mosquitto_pub and mosquitto_sub
against the server process: a third-party client needs nothing but that page."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

from nowserving.protocol import Topics

DOC = Path(__file__).parents[2] / "docs" / "protocol.md"
CLIENTS = shutil.which("mosquitto_pub") and shutil.which("mosquitto_sub")


def walkthrough() -> list[tuple[list[str], dict]]:
    """(mosquitto_pub argv, expected reply) pairs from the doc's walkthrough section."""
    text = DOC.read_text(encoding="utf-8").split("## Walkthrough", 1)[1]
    steps, lines = [], text.splitlines()
    for line, following in zip(lines, lines[1:], strict=False):
        if line.startswith("mosquitto_pub "):
            assert following.startswith("# reply: "), following
            steps.append((shlex.split(line), json.loads(following[len("# reply: ") :])))
    return steps


def on_port(argv: list[str], port: int) -> list[str]:
    return [
        str(port) if prev == "-p" else arg for prev, arg in zip(["", *argv[:-1]], argv, strict=True)
    ]


def subscribe_one(topic: str, port: int) -> subprocess.Popen:
    """Start mosquitto_sub for one message; return once its subscription is acknowledged."""
    # stdbuf: a piped mosquitto_sub would hold its SUBACK line in a block buffer.
    sub = subprocess.Popen(
        [
            "stdbuf",
            "-oL",
            "mosquitto_sub",
            "-d",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-q",
            "1",
            "-C",
            "1",
            "-W",
            "15",
            "-t",
            topic,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in sub.stdout:
        if "received SUBACK" in line:
            return sub
    raise AssertionError(f"mosquitto_sub never subscribed to {topic}")


def received(sub: subprocess.Popen) -> dict:
    out, _ = sub.communicate(timeout=20)
    payloads = [line for line in out.splitlines() if line.startswith("{")]
    assert payloads, f"no message; mosquitto_sub said: {out!r}"
    return json.loads(payloads[0])


def test_the_walkthrough_runs_as_documented(server_process, mosquitto):
    assert CLIENTS, "mosquitto_pub/mosquitto_sub missing: apt-get install mosquitto-clients"
    server_process.start()
    port = mosquitto.port
    steps = walkthrough()
    assert len(steps) >= 10
    for argv, expected in steps:
        # The reply comes on the command topic's twin, whatever version's tree it is in.
        sub = subscribe_one(argv[argv.index("-t") + 1].replace("/cmd/", "/reply/"), port)
        subprocess.run(on_port(argv, port), check=True, timeout=10)
        reply = received(sub)
        assert reply["id"] == json.loads(argv[argv.index("-m") + 1])["id"]
        assert reply["ok"] is expected["ok"], (argv[-1], reply)
        if "number" in expected:
            assert reply["result"]["ticket"]["number"] == expected["number"], reply
        if "code" in expected:
            assert reply["error"]["code"] == expected["code"], reply
    state = received(
        subprocess.Popen(
            [
                "mosquitto_sub",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-C",
                "1",
                "-W",
                "10",
                "-t",
                f"{Topics('pudong').state}",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
    )
    counters = {c["id"]: c for c in state["counters"]}
    assert counters["c2"]["state"] == "paused" and counters["c2"]["reason"] == "lunch"
    assert counters["c2"]["ticket"]["number"] == "A002"
    assert counters["c2"]["ticket"]["status"] == "serving"
    assert counters["c3"]["ticket"]["number"] == "A001"
    assert counters["c3"]["ticket"]["status"] == "serving"  # counter-3's own walk-1
    assert sum(s["waiting"] for s in state["services"]) == 0
    calls = [c["number"] for c in state["recent_calls"]]
    assert calls == ["A001", "A001", "A002"]  # A001 called at c1, transferred, called at c3


def test_the_doc_names_every_command_and_event_type():
    from nowserving.domain import EVENT_TYPES
    from nowserving.protocol.vocabulary import COMMANDS

    text = DOC.read_text(encoding="utf-8")
    for name in [*COMMANDS, *EVENT_TYPES]:
        assert re.search(rf"`{name}`", text), f"docs/protocol.md does not describe {name}"
