"""The kiosk's offline path on its own, without Qt: a real spool on a temp file, a recorded
`send`, a clock the test moves, and the replies the server would give, handed in by hand.
(tests/kiosk/test_offline.py drives the same path through the controller against the real
server and Mosquitto.)"""

from __future__ import annotations

import itertools
import subprocess
import sys
from datetime import time

import pytest

from nowserving.client import UNREACHABLE
from nowserving.domain import Service
from nowserving.kiosk.offline import (
    CLOCK_CHECK_S,
    ISSUE_DEADLINE_S,
    LEASE_COUNT,
    LEASE_LOW,
    NoTicket,
    OfflinePath,
)
from nowserving.kiosk.spool import Spool
from nowserving.protocol.views import BranchState, EstimateView, Reply, ServiceView, TicketView
from tests.conftest import T0, ManualClock, small_rules
from tests.test_layering import libraries

DAY = "2026-11-23"  # the business day of T0 (09:00 UTC) for small_rules (UTC, from 04:00)


class Recorder:
    """`send` that records each command and answers nothing; ids as the client makes them."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict, float | None]] = []
        self._ids = itertools.count(1)

    def new_command_id(self) -> str:
        return f"kiosk-1-s-{next(self._ids)}"

    def __call__(self, kind, args, *, command_id=None, deadline_s=None) -> str:
        command_id = command_id or self.new_command_id()
        self.sent.append((command_id, kind, args, deadline_s))
        return command_id

    def of(self, kind: str) -> list[tuple[str, dict]]:
        return [(i, args) for i, k, args, _ in self.sent if k == kind]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def spool(tmp_path):
    with Spool(tmp_path / "kiosk-1-spool.sqlite") as spool:
        yield spool


@pytest.fixture
def make(spool, clock):
    """An OfflinePath over small_rules (overridable), the spool, a Recorder and the clock;
    returns (path, recorder, statuses) where statuses counts publish_status calls."""

    def build(rules=None, with_spool=True):
        send, statuses = Recorder(), []
        path = OfflinePath(
            rules or small_rules(), spool if with_spool else None, send, send.new_command_id,
            clock, lambda: statuses.append(dict(path.alerts)),
        )  # fmt: skip
        return path, send, statuses

    return build


def state(waiting: int = 0, estimate: EstimateView | None = None, day: str = DAY) -> BranchState:
    services = tuple(
        ServiceView(sid, prefix, {}, waiting, 0, True, (), 0, estimate)
        for sid, prefix in (("a", "A"), ("b", "B"))
    )
    return BranchState(1, "test", {}, ("zh", "en"), T0, None, None, day, services, (), ())


def grant(path: OfflinePath, send: Recorder) -> None:
    """The server grants every lease asked for: the top LEASE_COUNT numbers of each service."""
    tops = {"a": 999, "b": 99}
    for command_id, args in send.of("lease_numbers"):
        top = tops[args["service"]]
        lease = {"day": DAY, "first": top - LEASE_COUNT + 1, "last": top}
        assert path.take_reply(Reply(command_id, True, {"lease": lease}))


def online_with_leases(make, **kwargs):
    path, send, statuses = make(**kwargs)
    path.take_connection(True)
    path.take_state(state(waiting=2, estimate=EstimateView(300.0, 120.0, 600.0, 2)))
    grant(path, send)
    return path, send, statuses


def test_the_offline_path_imports_no_qt():
    """GIVEN the module WHEN it is imported, alone or through what it imports THEN no
    PySide6 is loaded: it is tested, and could run, without Qt."""
    assert "PySide6" not in libraries("kiosk.offline")
    code = (
        "import sys, nowserving.kiosk.offline; "
        "sys.exit(any(m.split('.')[0] == 'PySide6' for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_an_online_kiosk_leases_numbers_for_each_service_once(make, spool):
    """GIVEN a connected kiosk WHEN a state arrives THEN it asks a lease per service, not
    again while one is asked; WHEN granted THEN the numbers are in the spool and the next
    state asks for nothing."""
    path, send, _ = make()
    path.take_connection(True)
    path.take_state(state())
    path.take_state(state())
    assert [a for _, a in send.of("lease_numbers")] == [
        {"service": "a", "count": str(LEASE_COUNT)},
        {"service": "b", "count": str(LEASE_COUNT)},
    ]
    grant(path, send)
    assert spool.available(DAY, "a") == spool.available(DAY, "b") == LEASE_COUNT
    path.take_state(state())
    assert len(send.of("lease_numbers")) == 2
    for _ in range(LEASE_COUNT - LEASE_LOW + 1):  # fewer than LEASE_LOW left: top up
        path.issue("a", "en", "t")
    path.take_state(state())
    assert [a["service"] for _, a in send.of("lease_numbers")] == ["a", "b", "a"]


def test_a_disconnected_kiosk_asks_no_lease_and_a_refused_lease_is_asked_again(make, caplog):
    path, send, _ = make()
    path.take_state(state())
    assert send.sent == []
    path.take_connection(True)
    path.take_state(state())
    first = send.of("lease_numbers")
    for command_id, _ in first:
        path.take_reply(Reply(command_id, False, {}, "service_full", "no numbers left"))
    assert "no lease for a: no numbers left" in caplog.text
    path.take_state(state())
    assert len(send.of("lease_numbers")) == 2 * len(first)


def test_leases_of_days_gone_are_forgotten(make, spool):
    spool.add_lease("2026-11-22", "a", [(999, "A999")])
    path, _, _ = make()
    path.take_connection(True)
    path.take_state(state())
    assert spool.leased_days() == set()


def test_a_ticket_issued_offline_takes_the_lowest_leased_number_and_is_spooled(make, spool):
    """GIVEN leases WHEN a ticket is issued offline THEN it is the lowest leased number, with
    the people ahead and the estimate of the last state, and its `issue_ticket` is spooled
    (with the unanswered online request it supersedes) before anything is printed."""
    path, _, _ = online_with_leases(make)
    path.take_connection(False)
    ticket = path.issue("a", "en", "tok", supersedes="kiosk-1-s-9")
    assert ticket == TicketView(
        f"{DAY}/A980", "A980", "a", "en", T0, 2, EstimateView(300.0, 120.0, 600.0, 2)
    )
    [(command_id, kind, args)] = spool.pending()
    assert kind == "issue_ticket" and command_id == "kiosk-1-s-4"  # after a ping, two leases
    assert args == {
        "service": "a", "language": "en", "issued_at": repr(T0), "token": "tok",
        "supersedes": "kiosk-1-s-9", "number": "A980",
    }  # fmt: skip
    assert path.issue("a", "en", "tok2").number == "A981"
    assert "supersedes" not in spool.pending()[1][2]


def test_no_number_left_no_spool_or_past_the_cutoff_is_no_number(make, spool, clock):
    path, _, _ = make()
    assert path.issue("a", "en", "t") is NoTicket.NO_NUMBER  # never leased
    path, _, _ = make(with_spool=False)
    assert path.issue("a", "en", "t") is NoTicket.NO_NUMBER
    rules = small_rules()
    early = Service("a", "A", {"en": "A"}, last_ticket_at=time(8, 0))
    path, _, _ = online_with_leases(
        make, rules=small_rules(services={**rules.services, "a": early})
    )
    assert path.issue("a", "en", "t") is NoTicket.NO_NUMBER  # 09:00 is past 08:00
    assert path.issue("b", "en", "t").number == "B80"
    assert spool.available(DAY, "a") == LEASE_COUNT  # nothing was spent on the refusal


def test_a_clock_a_day_ahead_names_the_clock_not_the_numbers(make, clock, caplog):
    """GIVEN today's leases WHEN this clock jumps a day THEN nothing is issued, and the
    reason is the clock (the leases are for another day), said in the log with the days."""
    path, _, _ = online_with_leases(make)
    path.take_connection(False)
    clock.advance(86400)
    assert path.issue("a", "en", "t") is NoTicket.CLOCK_WRONG
    assert f"numbers are leased for {DAY}" in caplog.text


def answer_ping(path: OfflinePath, send: Recorder, server_at: float) -> None:
    """The server answers the last ping: its clock says `server_at`."""
    command_id = send.of("ping")[-1][0]
    assert path.take_reply(Reply(command_id, True, {"at": server_at}))


def test_a_kiosk_an_hour_behind_says_so_and_stamps_its_tickets_by_the_servers_time(
    make, spool, clock
):
    """GIVEN a kiosk whose clock is an hour behind WHEN it connects THEN it pings the server
    (with the issue deadline), its alert says how far off it is and its status is published;
    its offline tickets carry the server's time; WHEN the clock is set right THEN the next
    check (a minute on) clears the alert."""
    path, send, statuses = online_with_leases(make)
    [(_, kind, _, deadline)] = [s for s in send.sent if s[1] == "ping"]
    assert deadline == ISSUE_DEADLINE_S
    answer_ping(path, send, clock() + 3600)
    assert path.clock_off == -3600 and "3600 s behind the server's" in path.alerts["clock"]
    assert statuses == [dict(path.alerts)]
    assert path.server_now() == clock() + 3600
    ticket = path.issue("a", "en", "t")
    assert ticket.issued_at == clock() + 3600
    assert spool.pending()[0][2]["issued_at"] == repr(clock() + 3600)
    path.replay()
    assert len(send.of("ping")) == 1  # not due yet
    clock.advance(CLOCK_CHECK_S)
    path.replay()
    answer_ping(path, send, clock())
    assert "clock" not in path.alerts and path.clock_off == 0
    assert statuses[-1] == {}


def test_an_unanswered_ping_is_asked_again_on_the_next_tick(make, clock):
    path, send, _ = make()
    path.take_connection(True)
    [(command_id, _)] = send.of("ping")
    path.take_reply(Reply(command_id, False, {}, UNREACHABLE, "no answer"))
    path.replay()
    assert len(send.of("ping")) == 2
    assert path.clock_off is None and "clock" not in path.alerts


def test_a_clock_set_while_a_ping_is_on_its_way_is_not_a_measurement(make, clock):
    """GIVEN a ping sent WHEN the kiosk's clock jumps a day before its answer comes THEN
    half the jump is not taken for the server's time: the known offset stays, the kiosk
    asks again, and the next answer is measured."""
    path, send, _ = make()
    path.take_connection(True)
    answer_ping(path, send, clock())
    assert path.clock_off == 0
    clock.advance(CLOCK_CHECK_S)
    path.replay()
    sent = send.of("ping")[-1][0]
    clock.advance(86400)
    assert path.take_reply(Reply(sent, True, {"at": clock() - 86400}))
    assert path.clock_off == 0 and "clock" not in path.alerts
    path.replay()
    assert len(send.of("ping")) == 3
    answer_ping(path, send, clock() - 86400)
    assert path.clock_off == 86400 and "ahead of the server's" in path.alerts["clock"]


def test_the_spool_is_sent_in_order_once_and_settled_when_answered(make, spool):
    """GIVEN two tickets spooled while cut off WHEN the kiosk is back THEN each is sent under
    its own id, in order, and not again while in flight; an unanswered one is sent again; an
    answered one leaves the spool."""
    path, send, _ = online_with_leases(make)
    path.take_connection(False)
    path.issue("a", "en", "t1")
    path.issue("b", "zh", "t2")
    spooled = [i for i, _, _ in spool.pending()]
    path.replay()
    assert send.of("issue_ticket") == []  # no broker: nothing sent
    path.take_connection(True)
    path.replay()
    path.replay()
    sent = send.of("issue_ticket")
    assert [i for i, _ in sent] == spooled
    assert [a["number"] for _, a in sent] == ["A980", "B80"]
    assert path.take_reply(Reply(spooled[0], False, {}, UNREACHABLE, "no answer"))
    assert path.take_reply(Reply(spooled[1], True, {"ticket": {}}))
    assert [i for i, _, _ in spool.pending()] == spooled[:1]
    path.replay()
    assert [i for i, _ in send.of("issue_ticket")] == [*spooled, spooled[0]]
    assert path.alerts == {}


def test_a_refused_spooled_ticket_alerts_staff(make, spool, caplog):
    """GIVEN a spooled ticket WHEN the server refuses it THEN staff are told through the
    status (a customer holds a ticket the queue does not have) and it is settled."""
    path, send, statuses = online_with_leases(make)
    path.issue("a", "en", "t")
    path.replay()
    [(command_id, _)] = send.of("issue_ticket")
    path.take_reply(Reply(command_id, False, {}, "not_leased", "A980 is not leased"))
    assert path.alerts == {"spool": "offline ticket refused by the server: not_leased"}
    assert statuses == [{}, path.alerts]  # spooled (its count), then refused
    assert spool.pending() == []
    assert "spooled ticket kiosk-1-s-4 refused: not_leased" in caplog.text


def test_the_server_is_reachable_until_a_command_finds_it_silent(make):
    """GIVEN a connected kiosk WHEN its own command goes unanswered THEN the server is not
    reachable; WHEN a spooled ticket is answered, or its next command is THEN it is again."""
    path, send, _ = online_with_leases(make)
    assert path.reachable
    path.heard(Reply("x", False, {}, UNREACHABLE, "no answer"))
    assert path.online and not path.reachable
    path.issue("a", "en", "t")
    path.replay()
    [(command_id, _)] = send.of("issue_ticket")
    path.take_reply(Reply(command_id, True, {}))
    assert path.reachable
    path.heard(Reply("x", False, {}, UNREACHABLE, "no answer"))
    path.heard(Reply("y", True, {}))
    assert path.reachable
    path.take_connection(False)
    assert not path.reachable


def test_replies_to_other_commands_are_not_its_own(make):
    path, _, _ = online_with_leases(make)
    assert not path.take_reply(Reply("kiosk-1-s-99", True, {}))
    assert not path.take_reply(Reply(None, False, {}, "bad_message", "?"))


def test_a_closed_path_lets_go_of_the_spool(make, spool):
    path, send, _ = online_with_leases(make)
    path.close()
    sent = len(send.sent)
    path.take_state(state())
    path.replay()
    assert len(send.sent) == sent
    assert path.issue("a", "en", "t") is NoTicket.NO_NUMBER
