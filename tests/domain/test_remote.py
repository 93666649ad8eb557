"""Remote tickets: joined from the phone page, outside the line until checked in (kiosk code
or hall code on the page), in the line from the check-in's time, capped per hour, dropped
when not checked in by their deadline; and a replayed log that rebuilds them."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from nowserving.domain import Branch, Command, TicketStatus
from nowserving.domain.newcomer import NewcomerEstimates
from nowserving.domain.remote import hall_code, hall_window, remote_code
from tests.conftest import small_rules

_ids = itertools.count()
DAY = "2026-11-23"
SECRET = b"s" * 32


def at(hm: str) -> float:
    """Unix seconds of `hm` on the test day (the small branch runs on UTC)."""
    return datetime.fromisoformat(f"{DAY} {hm}").replace(tzinfo=UTC).timestamp()


def run(branch: Branch, kind: str, when: str, device: str = "dev", **args) -> dict:
    cmd = Command(f"r-{next(_ids)}", kind, device, at(when), args)
    return branch.handle(cmd, NewcomerEstimates().estimate)[1]


def ok(branch: Branch, kind: str, when: str, **args) -> dict:
    outcome = run(branch, kind, when, **args)
    assert outcome["ok"], outcome
    return outcome


def refused(branch: Branch, kind: str, when: str, **args) -> str:
    outcome = run(branch, kind, when, **args)
    assert not outcome["ok"], outcome
    return outcome["code"]


def remote_rules(per_hour: int = 30):
    rules = small_rules()
    a = replace(rules.services["a"], remote=True)
    return replace(rules, services={**rules.services, "a": a}, remote_per_hour=per_hour)


@pytest.fixture
def branch() -> Branch:
    branch = Branch(remote_rules())
    branch.hall_secret = SECRET
    return branch


def hall(branch: Branch, hm: str, back: int = 0) -> str:
    window = hall_window(branch.rules, at(hm)) - back
    return hall_code(SECRET, branch.rules.branch_id, window)


def join(branch: Branch, hm: str, token: str) -> str:
    return ok(branch, "join_remote", hm, service="a", token=token, language="en")["ticket"]


def test_a_remote_ticket_waits_outside_the_line_until_its_hall_check_in(branch):
    """GIVEN two walk-ins and a remote ticket joined before them WHEN nobody has checked it
    in THEN it is counted ahead of nobody and a counter calls the walk-ins; WHEN it checks
    in on its page with the hall code at 09:20 THEN it is in the line from 09:20, behind
    the walk-in of 09:10 and before one who comes at 09:30."""
    remote = join(branch, "09:00", "tok-remote")
    assert branch.tickets[remote].status is TicketStatus.REMOTE
    first = ok(branch, "issue_ticket", "09:05", service="a")["ticket"]
    second = ok(branch, "issue_ticket", "09:10", service="a")["ticket"]
    assert [t.id for t in branch.waiting_line("a")] == [first, second]
    assert branch.ahead_of(branch.tickets[second]) == 1  # the remote one is not ahead
    assert ok(branch, "call_next", "09:12", counter="c1")["ticket"] == first
    outcome = ok(branch, "check_in", "09:20", ticket=remote, token="tok-remote",
                 hall=hall(branch, "09:20").lower())  # fmt: skip
    assert outcome["remote"] is True
    ticket = branch.tickets[remote]
    assert ticket.status is TicketStatus.WAITING
    assert ticket.queue_since == at("09:20") == ticket.issued_at
    assert ticket.joined_at == at("09:00")
    later = ok(branch, "issue_ticket", "09:30", service="a")["ticket"]
    assert [t.id for t in branch.waiting_line("a")] == [second, remote, later]
    ok(branch, "finish", "09:31", counter="c1")
    assert ok(branch, "call_next", "09:32", counter="c1")["ticket"] == second
    ok(branch, "start", "09:33", counter="c1")
    assert ok(branch, "call_next", "09:40", counter="c1")["ticket"] == remote


def test_check_in_at_the_kiosk_by_the_remote_code(branch):
    """GIVEN a remote ticket WHEN its code (derived from its page's token) is typed at the
    kiosk THEN it joins the line, keeping its number; the same code again is refused."""
    remote = join(branch, "09:00", "tok-k")
    code = remote_code("tok-k")
    assert len(code) == 10 and code != remote_code("tok-l")
    outcome = ok(branch, "check_in", "09:40", code=f" {code.lower()} ")
    assert outcome["ticket"] == remote and outcome["remote"] is True
    assert branch.tickets[remote].queue_since == at("09:40")
    assert refused(branch, "check_in", "09:41", code=code) == "unknown_booking"


def test_an_expired_or_wrong_hall_code_is_refused(branch):
    """GIVEN a remote ticket WHEN checked in with the hall code of 20 minutes ago (a photo
    sent home) or a made-up one THEN refused, and it stays outside the line; the code of
    the window just before the current one still works (it was on the screen a moment
    ago)."""
    remote = join(branch, "09:00", "tok-h")
    args = {"ticket": remote, "token": "tok-h"}
    assert refused(branch, "check_in", "09:30", hall=hall(branch, "09:10"), **args) == (
        "hall_code_expired"
    )
    assert refused(branch, "check_in", "09:30", hall="ACDEFGHJ", **args) == "bad_hall_code"
    assert refused(branch, "check_in", "09:30", hall=hall(branch, "09:30"), ticket=remote,
                   token="wrong") == "unknown_ticket"  # fmt: skip
    assert branch.tickets[remote].status is TicketStatus.REMOTE
    ok(branch, "check_in", "09:30", hall=hall(branch, "09:30", back=1), **args)


def test_joins_are_capped_per_branch_per_hour(branch):
    """GIVEN a cap of 2 remote joins an hour WHEN a third comes within the hour THEN it is
    refused with when to try again; an hour after the first it is taken."""
    capped = Branch(remote_rules(per_hour=2))
    join(capped, "09:00", "t1")
    join(capped, "09:20", "t2")
    outcome = run(capped, "join_remote", "09:40", service="a", token="t3")
    assert outcome["code"] == "remote_full" and outcome["params"] == {"minutes": 20}
    join(capped, "10:01", "t3")
    assert refused(capped, "join_remote", "10:02", service="b", token="t4") == "not_remote"


def test_a_remote_ticket_not_checked_in_in_time_is_dropped(branch):
    """GIVEN a remote ticket joined at 09:00 (two hours to check in) WHEN the queue next
    handles a command after 11:00 THEN it is dropped; its check-in is refused as such."""
    remote = join(branch, "09:00", "tok-d")
    ok(branch, "issue_ticket", "10:59", service="a")
    assert branch.tickets[remote].status is TicketStatus.REMOTE
    ok(branch, "issue_ticket", "11:01", service="a")
    assert branch.tickets[remote].status is TicketStatus.DROPPED
    assert refused(branch, "check_in", "11:02", ticket=remote, token="tok-d",
                   hall=hall(branch, "11:02")) == "remote_dropped"  # fmt: skip


def test_a_replayed_log_or_snapshot_rebuilds_remote_tickets(branch):
    """GIVEN a remote ticket waiting and one checked in WHEN the log is replayed, or the
    branch loaded from its snapshot THEN both are as they were, numbers not given twice."""
    events = []
    for kind, hm, args in [
        ("join_remote", "09:00", {"service": "a", "token": "x1"}),
        ("join_remote", "09:01", {"service": "a", "token": "x2"}),
        ("issue_ticket", "09:02", {"service": "a"}),
    ]:
        cmd = Command(f"e-{next(_ids)}", kind, "dev", at(hm), args)
        events += branch.handle(cmd)[0]
    ok(branch, "check_in", "09:05", code=remote_code("x2"))
    replayed = Branch(branch.rules)
    for event in events:
        replayed.apply(event)
    assert sorted(replayed.remotes) == ["2026-11-23/A001", "2026-11-23/A002"]
    restored = Branch.from_dict(branch.rules, branch.to_dict())
    assert list(restored.remotes) == ["2026-11-23/A001"]
    assert [t.number for t in restored.waiting_line("a")] == ["A003", "A002"]
    new = ok(restored, "issue_ticket", "09:06", service="a")["ticket"]
    assert new.endswith("A004")
