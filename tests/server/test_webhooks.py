"""Webhooks through the real server and broker to the reference receiver on loopback:
signed, retried, dead-lettered, kept across a restart; a phone number goes nowhere else."""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import threading
from contextlib import closing
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from nowserving.adapters.mqtt import MqttLink
from nowserving.adapters.outbox import WebhookOutbox
from nowserving.adapters.store import EventLog
from nowserving.cli import main
from nowserving.config.webhook import WebhookSettings
from nowserving.protocol import Topics
from nowserving.protocol.webhook import BOOKING_KINDS, sign, verify
from nowserving.server.app import BranchServer
from nowserving.server.webhooks import Webhooks
from tests.server.webhook_receiver import ReferenceReceiver, signature_ok
from tests.waiting import wait_until

SECRET = b"0f3c9a6d2b71e8f45a90c3d17e6b2a48c5f0e9d3a1b7c6e2f8d4a0b9c3e7f1a2"
PHONE = "13912345678"


@pytest.fixture
def receiver():
    r = ReferenceReceiver(SECRET)
    yield r
    r.close()


class Branch:
    """The example branch's server with webhooks to `url`, restartable on the same files."""

    def __init__(self, config, broker, clock, tmp_path: Path, url: str) -> None:
        self.config, self.broker, self.clock = config, broker, clock
        self.log_path = tmp_path / "events.sqlite"
        self.outbox_path = tmp_path / "events-webhooks.sqlite"
        self.settings = WebhookSettings(
            urls=(url,), secret_file=tmp_path / "secret", near_ahead=1, near_minutes=None,
            timeout_s=2.0, attempts=3, retry_s=0.05, retry_max_s=0.2,
        )  # fmt: skip
        self.server: BranchServer | None = None

    def start(self, hooks: bool = True, clock=None, **settings) -> BranchServer:
        """Start the server (with webhooks timed by `clock`, default the real one)."""
        webhooks = None
        if hooks:
            outbox = WebhookOutbox(self.outbox_path)
            chosen = dataclasses.replace(self.settings, **settings)
            more = {} if clock is None else {"clock": clock}
            webhooks = Webhooks(chosen, SECRET, outbox, self.config.names, **more)
        self.server = BranchServer(
            self.config, EventLog(self.log_path), self.broker, clock=self.clock, webhooks=webhooks
        )
        self.server.start()
        assert self.server.wait_serving(10)
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    def outbox(self) -> WebhookOutbox:
        """A second connection to the outbox, as `nowserving webhooks` opens it."""
        return WebhookOutbox(self.outbox_path)


@pytest.fixture
def branch(example_config, broker, clock, tmp_path, receiver):
    b = Branch(example_config, broker, clock, tmp_path, receiver.url)
    yield b
    b.stop()


def test_each_ticket_event_reaches_the_receiver_signed(branch, receiver, connect):
    """GIVEN webhooks to the reference receiver WHEN three tickets are issued, the first
    called, recalled and finished, and the second called and marked no-show THEN the
    receiver gets issued x3, near_turn for the third (two ahead, then one), called,
    recalled, finished, called, no_show: each signed, each once."""
    branch.start()
    kiosk, counter = connect("kiosk-1"), connect("counter-2")
    for _ in range(3):
        assert kiosk.request("issue_ticket", {"service": "cash", "language": "en"}).ok
    assert counter.request("call_next").ok
    branch.clock.advance(30)
    assert counter.request("recall").ok
    assert counter.request("finish").ok
    assert counter.request("call_next").ok
    for _ in range(2):
        branch.clock.advance(30)
        assert counter.request("recall").ok
    assert counter.request("no_show").ok
    got = receiver.wait_for(lambda got: len(got) >= 10)
    assert all(r.signed for r in got)
    assert [(r.json["type"], r.json["number"]) for r in got] == [
        ("issued", "A001"), ("issued", "A002"), ("issued", "A003"),
        ("called", "A001"), ("near_turn", "A003"), ("recalled", "A001"),
        ("finished", "A001"), ("called", "A002"), ("recalled", "A002"),
        ("recalled", "A002"), ("no_show", "A002"),
    ][: len(got)]  # fmt: skip
    receiver.wait_for(lambda got: len(got) == 11)
    called = got[3].json
    assert called["counter"] == "c2" and called["counter_name"] == "Counter 2"
    assert called["service_name"] and called["language"] == "en" and "phone" not in called
    near = receiver.got[4].json
    assert near["ahead"] == 1 and near["id"].endswith("/near_turn")
    assert len({r.json["id"] for r in receiver.got}) == 11
    wait_until(lambda: branch.outbox().waiting() == 0, what="the outbox emptied")


def test_a_forged_or_stale_signature_is_refused():
    """GIVEN a body signed by nowserving WHEN the receiver checks it (its own code and
    nowserving's `verify`) THEN the right secret passes, a changed body, another secret
    or a time beyond the tolerance do not."""
    body, at = b'{"type":"called"}', 1_795_000_000
    header = sign(SECRET, body, at)
    assert header.startswith(f"t={at},v1=")
    for check in (signature_ok, verify):
        assert check(SECRET, body, header, at + 10)
        assert not check(SECRET, body + b" ", header, at + 10)
        assert not check(b"another secret", body, header, at + 10)
        assert not check(SECRET, body, header, at + 301)
        assert not check(SECRET, body, "t=1,v1=zz", at)


def test_the_documented_snippet_verifies_a_real_request(branch, receiver, connect):
    """GIVEN the verification snippet in docs/webhooks.md WHEN it is run on a request the
    server sent THEN it accepts it, and refuses the same request with a changed body."""
    doc = (Path(__file__).parents[2] / "docs" / "webhooks.md").read_text(encoding="utf-8")
    snippet = doc.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(snippet, namespace)  # the integrator's code, as written
    branch.start()
    assert connect("kiosk-1").request("issue_ticket", {"service": "cash"}).ok
    request = receiver.wait_for(lambda got: got)[0]
    header = request.headers["Nowserving-Signature"]
    assert namespace["verified"](SECRET, request.body, header)
    assert not namespace["verified"](SECRET, request.body.replace(b"A001", b"A002"), header)


def test_a_receiver_that_fails_gets_retries_then_a_dead_letter(branch, receiver, connect):
    """GIVEN a receiver that answers 503 WHEN a ticket is issued THEN the same message is
    tried `attempts` (3) times, numbered, and then is a dead letter (logged without its
    body, kept without the number), tried no more; `nowserving webhooks --retry` sends it
    again, as it was but for the number, once the receiver is well."""
    receiver.status = 503
    branch.start()
    assert connect("kiosk-1").request("issue_ticket", {"service": "cash", "phone": PHONE}).ok
    outbox = branch.outbox()
    dead = wait_until(outbox.dead_letters, what="a dead letter")
    assert len(dead) == 1 and dead[0].attempts == 3 and dead[0].error == "HTTP 503"
    # Dead-lettering is one step: the message no longer waits, so nothing more is sent.
    assert "phone" not in dead[0].body and outbox.waiting() == 0
    got = receiver.wait_for(lambda got: got)
    assert [r.headers["Nowserving-Attempt"] for r in got] == ["1", "2", "3"]
    assert len({r.body for r in got}) == 1 and got[0].json["phone"] == PHONE
    assert outbox.phones_kept() == 1  # the ticket is open: its number waits for what comes
    receiver.status = 200
    branch.stop()
    assert main(["webhooks", "--outbox", str(branch.outbox_path), "--retry"]) == 0
    assert outbox.waiting() == 1 and outbox.dead_letters() == []
    branch.start()
    wait_until(lambda: outbox.waiting() == 0, what="the dead letter sent again")
    got = receiver.wait_for(lambda got: got)
    assert len(got) == 4 and got[3].signed and got[3].headers["Nowserving-Attempt"] == "1"
    assert got[3].json == {k: v for k, v in got[0].json.items() if k != "phone"}
    assert outbox.dead_letters() == []


def test_a_receiver_that_is_down_gets_a_dead_letter(branch, receiver, connect, caplog):
    """GIVEN a receiver whose port refuses connections WHEN two tickets are issued THEN
    both messages are dead letters after 3 tries each, with the reason, and the log says so
    naming the message, not its content."""
    receiver.close()
    branch.start()
    kiosk = connect("kiosk-1")
    for _ in range(2):
        assert kiosk.request("issue_ticket", {"service": "cash", "phone": PHONE}).ok
    outbox = branch.outbox()
    dead = wait_until(lambda: len(outbox.dead_letters()) == 2 and outbox.dead_letters())
    assert {d.attempts for d in dead} == {3}
    assert all("Connection" in d.error or "refused" in d.error for d in dead), dead
    # A dead letter's line is logged before the letter is recorded: both are there.
    lines = [r.getMessage() for r in caplog.records if "dead letter" in r.getMessage()]
    assert len(lines) == 2 and all(PHONE not in line for line in lines)


def test_a_receiver_that_refuses_a_message_gets_no_retries(branch, receiver, connect):
    """GIVEN a receiver that answers 400 WHEN a ticket is issued THEN the message is a
    dead letter after that one try: retrying would not change the receiver's mind."""
    receiver.status = 400
    branch.start()
    assert connect("kiosk-1").request("issue_ticket", {"service": "cash"}).ok
    dead = wait_until(branch.outbox().dead_letters, what="a dead letter")
    assert dead[0].attempts == 1 and dead[0].error == "HTTP 400" and len(receiver.got) == 1


def test_a_ticket_near_its_turn_when_issued_is_not_told_so_after_a_restart(
    branch, receiver, connect
):
    """GIVEN the day's first ticket, near its turn already when issued (nobody ahead: its
    `issued` says so) WHEN the server restarts and a second ticket is issued THEN the
    receiver gets the two `issued` messages and no `near_turn`: the tickets told (or not
    to be told) outlive a restart, also when the day started in the same batch."""
    branch.start()
    kiosk = connect("kiosk-1")
    assert kiosk.request("issue_ticket", {"service": "cash"}).ok
    receiver.wait_for(lambda got: len(got) == 1)
    branch.stop()
    branch.start()
    assert kiosk.request("issue_ticket", {"service": "cash"}).ok
    # What the restarted server decided before A002 was handed over comes before it.
    receiver.wait_for(lambda got: any(r.json["number"] == "A002" for r in got))
    wait_until(lambda: branch.outbox().waiting() == 0, what="the outbox emptied")
    assert [(r.json["type"], r.json["number"]) for r in receiver.wait_for(bool)] == [
        ("issued", "A001"), ("issued", "A002"),
    ]  # fmt: skip


def test_the_outbox_survives_a_restart(branch, receiver, connect):
    """GIVEN a receiver that is down WHEN a ticket is issued and the server stops before
    the message could go THEN the next server sends it, with its phone number."""
    receiver.status = 503
    branch.start(attempts=50, retry_s=0.05, retry_max_s=0.05)
    assert connect("kiosk-1").request("issue_ticket", {"service": "cash", "phone": PHONE}).ok
    receiver.wait_for(lambda got: got)
    branch.stop()
    assert branch.outbox().waiting() == 1
    receiver.status = 200
    branch.start()
    last = receiver.wait_for(lambda got: got[-1].json.get("phone") and got[-1].signed)[-1]
    assert last.json["type"] == "issued" and last.json["phone"] == PHONE
    wait_until(lambda: branch.outbox().waiting() == 0, what="the outbox emptied")


def test_events_logged_while_webhooks_were_off_are_sent_on_the_next_start(
    branch, receiver, connect
):
    """GIVEN a branch whose outbox is at some seq WHEN a server without webhooks issues a
    ticket (as if one crashed between the commit and the outbox) THEN the next server with
    webhooks sends that ticket's message first."""
    branch.start()
    kiosk = connect("kiosk-1")
    assert kiosk.request("issue_ticket", {"service": "cash"}).ok
    receiver.wait_for(lambda got: len(got) == 1)
    branch.stop()
    branch.start(hooks=False)
    assert kiosk.request("issue_ticket", {"service": "loans"}).ok
    branch.stop()
    branch.start()
    got = receiver.wait_for(lambda got: len(got) == 2)
    assert got[1].json["number"] == "C001" and got[1].json["type"] == "issued"


def test_a_phone_number_goes_nowhere_but_the_webhook(
    branch, receiver, connect, broker, tmp_path, caplog
):
    """GIVEN a customer who leaves a phone number at the kiosk WHEN the ticket is issued,
    called and finished THEN the receiver gets the number with each message, and it is in
    no log line, not in the event log's files, on no topic but the kiosk's own command
    topic (which only the server reads), and not in the outbox's files once the ticket
    ended and its messages went."""
    caplog.set_level(logging.DEBUG)
    traffic: list[tuple[str, bytes]] = []
    lock = threading.Lock()

    def heard(topic, payload, mid, qos):
        with lock:
            traffic.append((topic, payload))  # paho thread -> test (under the lock)

    with MqttLink(broker, "everything", on_message=heard) as spy:
        spy.subscribe("#")
        spy.start()
        assert spy.wait_connected(5)
        branch.start()
        kiosk, counter = connect("kiosk-1"), connect("counter-2")
        issued = kiosk.request("issue_ticket", {"service": "cash", "phone": PHONE})
        assert issued.ok and PHONE not in json.dumps(issued.result)
        assert counter.request("call_next").ok
        assert counter.request("finish").ok
        got = receiver.wait_for(lambda got: len(got) == 3)
        wait_until(lambda: branch.outbox().phones_kept() == 0, what="the number deleted")
        branch.stop()
    assert [r.json["phone"] for r in got] == [PHONE] * 3
    with lock:
        carried = sorted({t for t, payload in traffic if PHONE.encode() in payload})
    assert carried == [Topics("pudong").command("kiosk-1")]  # the one place, so grep works
    assert PHONE not in caplog.text
    for path in tmp_path.glob("events*.sqlite*"):  # the log, the outbox, their WAL files
        assert PHONE.encode() not in path.read_bytes(), path


def _branch_time(at: float) -> str:
    return datetime.fromtimestamp(at, ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")


def test_a_bookings_phone_number_reaches_the_webhook_of_its_ticket_only(
    branch, receiver, connect, tmp_path, caplog
):
    """GIVEN two loans bookings made with a phone number, one cancelled WHEN the other
    checks in at the kiosk and is called and finished THEN the receiver gets the number
    with its ticket's messages; the cancelled booking's number is gone at once, the other
    when its ticket ends; neither is in a reply, a log line or the event log's files."""
    caplog.set_level(logging.DEBUG)
    branch.start()
    manager, kiosk, room = connect("manager"), connect("kiosk-1"), connect("counter-5")
    booked = _branch_time(branch.clock() + 1800)
    other = "+8613800000000"
    dropped = manager.request("book", {"service": "loans", "time": booked, "phone": other})
    made = manager.request("book", {"service": "loans", "time": booked, "phone": PHONE})
    assert made.ok and dropped.ok and PHONE not in json.dumps(made.result)
    bad = manager.request("book", {"service": "loans", "time": booked, "phone": "call me"})
    assert bad.code == "bad_args" and "call me" not in bad.message
    assert manager.request("cancel_booking", {"booking": dropped.result["booking"]}).ok
    kept = [(made.result["booking"], PHONE)]  # booked second: alone once the other went

    def booking_phones():
        with closing(sqlite3.connect(f"file:{branch.outbox_path}?mode=ro", uri=True)) as db:
            return db.execute("SELECT booking, phone FROM booking_phones").fetchall()

    wait_until(lambda: booking_phones() == kept, what="the cancelled booking's number gone")
    branch.clock.advance(1500)
    checked = kiosk.request("check_in", {"code": made.result["code"], "language": "en"})
    assert checked.ok and "booked_at" in checked.result
    assert room.request("call_next").ok and room.request("finish").ok
    got = receiver.wait_for(lambda got: len(got) == 3)
    wait_until(lambda: branch.outbox().phones_kept() == 0, what="the number deleted")
    branch.stop()
    assert [(r.json["type"], r.json["phone"]) for r in got] == [
        ("issued", PHONE), ("called", PHONE), ("finished", PHONE),
    ]  # fmt: skip
    assert got[0].json["number"] == checked.ticket["number"]
    for number in (PHONE, other):
        assert number not in caplog.text
        for path in tmp_path.glob("events*.sqlite*"):  # the log, the outbox, their WAL files
            assert number.encode() not in path.read_bytes(), path


def test_a_bad_phone_number_is_refused_without_repeating_it(branch, connect, caplog):
    """GIVEN a phone "number" that is no number WHEN a kiosk sends it THEN the ticket is
    refused as bad_args and neither the reply nor the log repeats it."""
    branch.start()
    reply = connect("kiosk-1").request("issue_ticket", {"service": "cash", "phone": "call me"})
    assert not reply.ok and reply.code == "bad_args"
    assert "call me" not in reply.message and "call me" not in caplog.text


def test_a_bookings_own_messages_made_reminder_and_no_show_in_its_language(
    example_config, broker, clock, tmp_path, connect, caplog
):
    """GIVEN webhooks for booking messages, reminders 20 minutes before, all on the branch's
    clock WHEN loans bookings are made (with a phone number, in Chinese) for 30 and 10
    minutes ahead and for an hour ahead, the last cancelled THEN each booking's
    `booking_made` comes at once, in its language, with words ready to send and the
    number; the 30-minute one's reminder waits in the outbox until 20 minutes before (the
    10-minute one gets none: too near; the cancelled one's goes); the 10-minute one,
    never checked in, gets `booking_no_show` when the queue notices; no number is in a
    log line or the event log."""
    caplog.set_level(logging.DEBUG)
    receiver = ReferenceReceiver(SECRET, clock=clock)
    branch = Branch(example_config, broker, clock, tmp_path, receiver.url)
    try:
        branch.start(clock=clock, events=("issued", *BOOKING_KINDS), booking_reminder_s=1200)
        manager, kiosk = connect("manager"), connect("kiosk-1")
        other = "+8613800000000"

        def book(minutes: int, phone: str, **more) -> str:
            when = _branch_time(clock() + minutes * 60)
            made = manager.request(
                "book", {"service": "loans", "time": when, "phone": phone, **more}
            )
            assert made.ok and phone not in json.dumps(made.result), made
            return made.result["booking"]

        first, near = book(30, PHONE, language="zh"), book(10, other, language="en")
        dropped = book(60, PHONE)
        wait_until(lambda: branch.outbox().waiting() == 2, what="two reminders waiting")
        assert manager.request("cancel_booking", {"booking": dropped}).ok
        got = receiver.wait_for(lambda got: len(got) == 3)
        wait_until(lambda: branch.outbox().waiting() == 1, what="the cancelled one's reminder gone")
        assert [(r.json["type"], r.json["booking"], r.json["phone"]) for r in got] == [
            ("booking_made", first, PHONE), ("booking_made", near, other),
            ("booking_made", dropped, PHONE),
        ]  # fmt: skip
        made = got[0].json
        assert made["language"] == "zh" and made["service_name"] == "贷款与按揭"
        assert made["text"].startswith("浦东支行：您已预约") and made["booked_time"] in made["text"]
        assert got[1].json["language"] == "en" and "Check in at the kiosk" in got[1].json["text"]
        clock.advance(600)  # 20 minutes before the first booking
        got = receiver.wait_for(lambda got: len(got) == 4)
        reminder = got[3].json
        assert (reminder["type"], reminder["booking"], reminder["phone"]) == (
            "booking_reminder", first, PHONE,
        )  # fmt: skip
        assert reminder["minutes_before"] == 20 and "提醒您" in reminder["text"]
        clock.advance(660)  # past the near booking's check-in window (10 minutes late)
        assert kiosk.request("issue_ticket", {"service": "cash", "language": "en"}).ok
        got = receiver.wait_for(lambda got: len(got) == 6)
        kinds = sorted((r.json["type"], r.json.get("booking")) for r in got[4:])
        assert kinds == [("booking_no_show", near), ("issued", None)]
        missed = next(r.json for r in got[4:] if r.json["type"] == "booking_no_show")
        assert missed["phone"] == other and "Book again" in missed["text"]
        assert all(r.signed for r in got) and len({r.json["id"] for r in got}) == 6
    finally:
        branch.stop()
        receiver.close()
    for number in (PHONE, other):
        assert number not in caplog.text
        for path in tmp_path.glob("events.sqlite*"):  # the event log and its WAL
            assert number.encode() not in path.read_bytes(), path
