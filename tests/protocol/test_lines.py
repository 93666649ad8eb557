"""`line/<service>`: the head of a line and its counts, small however long the line, and
decoded with an error that names what is wrong."""

from __future__ import annotations

import json

import pytest

from nowserving.domain import Branch, Command
from nowserving.errors import ProtocolError
from nowserving.protocol.messages import LINE_HEAD, MAX_STATE_BYTES, encode, line_message
from nowserving.protocol.views import decode_line
from tests.conftest import T0, small_rules

LONG = 600


@pytest.fixture(scope="module")
def long_line() -> Branch:
    """600 waiting for service a, every 60th in the priority class, one a second (made once:
    no test changes it)."""
    branch = Branch(small_rules())
    for i in range(LONG):
        args = {"service": "a", "priority": "priority" if i % 60 == 59 else "normal"}
        branch.handle(Command(f"i{i}", "issue_ticket", "k", T0 + i, args), None)
    return branch


def test_a_line_of_600_is_sent_as_its_head_and_counts(long_line):
    """GIVEN 600 waiting in one line WHEN its message is made THEN it holds the first 50
    in call order and the whole line's counts, in under 16 KB (it was 136 KB)."""
    payload = encode(line_message(long_line, "a", T0 + LONG))
    assert len(payload) < 16 * 1024
    line = decode_line(payload)
    head = [t.number for t in long_line.next_in_line("a", LINE_HEAD)]
    assert [t.number for t in line.tickets] == head and len(head) == LINE_HEAD
    assert (line.waiting, line.priority_waiting, line.more) == (LONG, LONG // 60, LONG - 50)
    assert line.oldest_issued_at == T0


def test_a_short_line_is_sent_whole_and_an_empty_one_has_no_oldest(rules):
    branch = Branch(rules)
    line = decode_line(encode(line_message(branch, "a", T0)))
    assert (line.tickets, line.waiting, line.more, line.oldest_issued_at) == ((), 0, 0, None)


def test_a_line_from_a_server_without_counts_counts_its_tickets(long_line):
    """GIVEN a line message as servers sent it before the counts WHEN decoded THEN its
    counts are those of the tickets it lists."""
    sent = json.loads(encode(line_message(long_line, "a", T0)))
    for key in ("waiting", "priority_waiting", "oldest_issued_at"):
        del sent[key]
    line = decode_line(encode(sent))
    assert (line.waiting, line.priority_waiting, line.more) == (LINE_HEAD, 0, 0)
    assert line.oldest_issued_at == min(t.issued_at for t in line.tickets)


def _changed(branch: Branch, change) -> bytes:
    sent = json.loads(encode(line_message(branch, "a", T0)))
    change(sent)
    return encode(sent)


@pytest.mark.parametrize(
    ("change", "code", "says"),
    [
        (lambda m: m.update(v=1), "bad_version", "v must be 2"),
        (lambda m: m.pop("seq"), "bad_message", "seq is missing"),
        (lambda m: m.update(tickets={}), "bad_message", "tickets has the wrong type"),
        (lambda m: m["tickets"][3].update(number=7), "bad_message",
         r"tickets\[3\].number has the wrong type"),
        (lambda m: m["tickets"][0].update(estimate={"low": 1}), "bad_message",
         r"tickets\[0\].estimate.mean is missing"),
        (lambda m: m.update(waiting=True), "bad_message", "waiting has the wrong type"),
        (lambda m: m.update(waiting=49), "bad_message", "waiting is 49, fewer than tickets"),
        (lambda m: m.update(priority_waiting=-1), "bad_message", "priority_waiting is -1"),
        (lambda m: m.update(priority_waiting=601), "bad_message", "not 0-600"),
        (lambda m: m.update(oldest_issued_at="early"), "bad_message",
         "oldest_issued_at has the wrong type"),
    ],
)  # fmt: skip
def test_a_malformed_line_is_refused_naming_what_is_wrong(long_line, change, code, says):
    """GIVEN a valid line message with one thing broken WHEN decoded THEN it is refused
    with a code and a message that says what and where."""
    payload = _changed(long_line, change)
    with pytest.raises(ProtocolError, match=says) as raised:
        decode_line(payload)
    assert raised.value.code == code


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"x" * (MAX_STATE_BYTES + 1), "too_large"),
        (b'{"v":2,"seq":', "bad_json"),
        (b"\xff\xfe", "bad_json"),
        (b"[1, 2]", "bad_message"),
    ],
)
def test_a_line_that_is_no_message_at_all_is_refused(payload, code):
    with pytest.raises(ProtocolError) as raised:
        decode_line(payload)
    assert raised.value.code == code
