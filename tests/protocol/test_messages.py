"""The wire contract's edge: strict decoding of commands, and the outbound messages."""

from __future__ import annotations

import json

import pytest

from nowserving.domain import Branch, Command
from nowserving.errors import ProtocolError
from nowserving.protocol import (
    PROTOCOL_VERSION,
    Topics,
    decode_command,
    encode,
    line_message,
    state_message,
)
from nowserving.protocol.messages import MAX_DEPTH, MAX_PAYLOAD
from nowserving.protocol.vocabulary import COMMANDS
from tests.conftest import T0


def command(**fields) -> bytes:
    message = {
        "v": PROTOCOL_VERSION,
        "id": "k1-1",
        "type": "issue_ticket",
        "args": {"service": "cash"},
    }
    message.update(fields)
    return json.dumps(message).encode()


def test_every_command_type_has_an_argument_spec():
    """Every queued command in the vocabulary is one the branch can decide, and no other;
    the rest (`ping`, the head office's `events_range`) the server answers itself."""
    decided = {name[len("_decide_") :] for name in dir(Branch) if name.startswith("_decide_")}
    assert {name for name, spec in COMMANDS.items() if spec.queued} == decided
    assert {name for name, spec in COMMANDS.items() if not spec.queued} == {"ping", "events_range"}


def test_a_good_command_decodes():
    assert decode_command(command()) == ("k1-1", "issue_ticket", {"service": "cash"})
    assert decode_command(command(type="call_next", args={})) == ("k1-1", "call_next", {})


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"\xff\xfe", "bad_json"),
        (b"{", "bad_json"),
        (b"[1,2]", "bad_message"),
        (b"[" * 5000 + b"]" * 5000, "too_large"),
        (b"[" * 2000 + b"]" * 2000, "bad_json"),  # deeper than MAX_DEPTH, on any Python
        (b"[[[[[1]]]]]", "bad_json"),
        (command(args={"service": {"a": {"b": {"c": 1}}}}), "bad_json"),
        (command(v=PROTOCOL_VERSION + 1), "bad_version"),
        (command(v=PROTOCOL_VERSION - 1), "bad_version"),
        (command(v=float(PROTOCOL_VERSION)), "bad_version"),
        (command(v=True), "bad_version"),
        (command(id="has space"), "bad_id"),
        (command(id="x" * 65), "bad_id"),
        (command(type="launch_rockets"), "unknown_command"),
        (command(args=[]), "bad_args"),
        (command(args={"service": 7}), "bad_args"),
        (command(args={"service": "cash", "colour": "red"}), "bad_args"),
        (command(args={"service": "x" * 201}), "bad_args"),
        (command(args={}), "bad_args"),
        (command(extra=1), "bad_message"),
        (json.dumps({"id": "a", "type": "call_next"}).encode(), "bad_version"),
    ],
)
def test_bad_commands_are_refused_with_a_code(payload, code):
    with pytest.raises(ProtocolError) as info:
        decode_command(payload)
    assert info.value.code == code


def test_oversized_payload_is_refused_before_parsing():
    with pytest.raises(ProtocolError, match="too_large"):
        decode_command(b" " * (MAX_PAYLOAD + 1))


def test_nesting_up_to_the_limit_is_fine_and_brackets_in_strings_do_not_count():
    """GIVEN brackets inside string arguments WHEN decoded THEN only real nesting counts."""
    text = "[{" * 50
    assert decode_command(command(type="pause_counter", args={"reason": text}))[2] == {
        "reason": text
    }
    assert MAX_DEPTH >= 2  # a command is an object holding an object


def test_topics():
    topics = Topics("pudong")
    assert topics.state == "nowserving/v2/pudong/state"
    assert topics.line("cash") == "nowserving/v2/pudong/line/cash"
    assert topics.device_of_command("nowserving/v2/pudong/cmd/kiosk-1") == "kiosk-1"
    assert topics.device_of_command("nowserving/v2/pudong/cmd/a/b") is None
    assert topics.device_of_command("nowserving/v2/other/cmd/kiosk-1") is None
    assert topics.device_of_command("nowserving/v1/pudong/cmd/kiosk-1") is None
    assert topics.legacy.device_of_command("nowserving/v1/pudong/cmd/kiosk-1") == "kiosk-1"


def test_state_summary_and_lines(rules):
    """GIVEN tickets in two lines WHEN the summary and lines are built THEN the summary has
    counts and next numbers, and each line its tickets in call order."""
    branch = Branch(rules)
    for i, service in enumerate("aab"):
        branch.handle(Command(f"i{i}", "issue_ticket", "k", T0 + i, {"service": service}))
    branch.handle(Command("c", "call_next", "d", T0 + 5, {"counter": "c1"}))
    state = json.loads(encode(state_message(branch, {"en": "Test"}, T0 + 6)))
    assert state["seq"] == branch.seq and state["business_day"] == "2026-11-23"
    assert "tickets" not in state
    services = {s["id"]: s for s in state["services"]}
    assert services["a"]["next"] == ["A002"] and services["a"]["waiting"] == 1
    assert services["b"]["names"] == {"zh": "乙", "en": "B"}
    c1 = next(c for c in state["counters"] if c["id"] == "c1")
    assert c1["ticket"]["number"] == "A001" and c1["state"] == "open"
    line = json.loads(encode(line_message(branch, "a", T0 + 6)))
    assert line["seq"] == branch.seq and [t["number"] for t in line["tickets"]] == ["A002"]


def test_the_summary_does_not_grow_with_the_queue(rules):
    """GIVEN 900 waiting WHEN the summary is built THEN it is as small as with 10."""
    branch = Branch(rules)
    sizes = []
    for n in (10, 900):
        while branch.issued["a"] < n:
            i = branch.issued["a"]
            branch.handle(Command(f"i{i}", "issue_ticket", "k", T0 + i, {"service": "a"}))
        sizes.append(len(encode(state_message(branch, {"en": "Test"}, T0 + n))))
    assert abs(sizes[1] - sizes[0]) < 50, sizes
