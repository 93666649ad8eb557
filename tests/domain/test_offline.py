"""Leased numbers and tickets issued offline from them: no number twice, each ticket in
line by its issue time, and an unanswered online request never makes a second ticket."""

from __future__ import annotations

import hashlib

import pytest

from nowserving.domain import Branch, Command
from tests.conftest import T0


@pytest.fixture
def branch(rules) -> Branch:
    return Branch(rules)


def send(branch, kind, at, device="kiosk", command_id=None, **args):
    command_id = command_id or f"{device}-{kind}-{at}-{sorted(args.items())}"
    return branch.handle(Command(command_id, kind, device, at, args))[1]


def test_leased_numbers_are_never_issued_online(branch):
    """GIVEN kiosk K leases 5 numbers WHEN anyone issues online THEN the day still starts at
    A001 (leases come from the top of the range: A995-A999, then down)."""
    lease = send(branch, "lease_numbers", T0, service="a", count="5")
    assert lease["ok"] and (lease["lease"]["first"], lease["lease"]["last"]) == (995, 999)
    online = send(branch, "issue_ticket", T0 + 1, device="other", service="a")
    assert online["ticket"].endswith("/A001")
    again = send(branch, "lease_numbers", T0 + 2, service="a", count="2")["lease"]
    assert (again["first"], again["last"]) == (993, 994)


def test_online_and_leased_numbers_meet_but_never_cross(rules):
    """GIVEN a service with 10 numbers WHEN 6 are leased and 4 issued online THEN it is full
    for both, and no number was given twice."""
    from nowserving.domain import Service

    services = dict(rules.services)
    services["a"] = Service("a", "A", {}, first_number=1, last_number=10, padding=2)
    branch = Branch(rules.__class__(**{**rules.__dict__, "services": services}))
    assert send(branch, "lease_numbers", T0, service="a", count="6")["lease"]["first"] == 5
    numbers = [send(branch, "issue_ticket", T0 + i, device="o", service="a").get("ticket")
               for i in range(1, 6)]  # fmt: skip
    assert numbers[:4] == [f"2026-11-23/A{n:02d}" for n in range(1, 5)] and numbers[4] is None
    assert send(branch, "lease_numbers", T0 + 9, service="a")["code"] == "service_full"


def test_an_offline_ticket_takes_its_place_by_issue_time(branch):
    """GIVEN A001 issued offline at 09:00:10 and A006 online at 09:00:20, replayed later
    WHEN the replay arrives at 09:05 THEN A001 is first in line."""
    send(branch, "lease_numbers", T0, service="a", count="5")
    send(branch, "issue_ticket", T0 + 20, device="other", service="a")
    replay = send(
        branch, "issue_ticket", T0 + 300, service="a", number="A995", issued_at=str(T0 + 10)
    )
    assert replay["ok"], replay
    assert [t.number for t in branch.waiting_line("a")] == ["A995", "A001"]
    assert branch.tickets["2026-11-23/A995"].issued_at == T0 + 10


def test_a_number_is_used_once_and_only_by_its_lessee(branch):
    send(branch, "lease_numbers", T0, service="a", count="2")
    at = str(T0 + 1)
    refused = send(branch, "issue_ticket", T0 + 2, device="thief", service="a", number="A998",
                   issued_at=at)  # fmt: skip
    assert refused["code"] == "not_leased"
    assert send(branch, "issue_ticket", T0 + 3, service="a", number="A998", issued_at=at)["ok"]
    again = send(branch, "issue_ticket", T0 + 4, service="a", number="A998", issued_at=str(T0 + 2))
    assert again["code"] == "not_leased"
    wrong_service = send(branch, "issue_ticket", T0 + 5, service="b", number="A999", issued_at=at)
    assert wrong_service["code"] == "not_leased"


def test_an_unanswered_request_that_was_applied_after_all_is_cancelled(branch):
    """GIVEN a kiosk's online request was applied but its answer lost WHEN the kiosk's
    offline ticket says it supersedes that request THEN the online ticket is cancelled:
    one customer, one ticket."""
    send(branch, "lease_numbers", T0, service="a", count="5")
    lost = send(branch, "issue_ticket", T0 + 1, command_id="k-7", service="a")
    assert lost["ticket"].endswith("/A001")
    send(branch, "issue_ticket", T0 + 60, service="a", number="A995", issued_at=str(T0 + 4),
         supersedes="k-7")  # fmt: skip
    assert branch.tickets["2026-11-23/A001"].status == "cancelled"
    assert [t.number for t in branch.waiting_line("a")] == ["A995"]


def test_an_unanswered_request_that_arrives_late_makes_no_ticket(branch):
    """GIVEN a kiosk's online request still on its way WHEN the offline ticket superseding
    it is applied first THEN the late request is refused as superseded."""
    send(branch, "lease_numbers", T0, service="a", count="5")
    send(branch, "issue_ticket", T0 + 60, service="a", number="A995", issued_at=str(T0 + 4),
         supersedes="k-9")  # fmt: skip
    late = send(branch, "issue_ticket", T0 + 61, command_id="k-9", service="a")
    assert late["ok"] is False and late["code"] == "superseded"
    assert branch.issued["a"] == 1


def test_leases_end_with_the_day(branch):
    """GIVEN a lease from yesterday WHEN a ticket from it arrives today THEN it is refused
    (stale), and today's numbering starts again at 1."""
    send(branch, "lease_numbers", T0, service="a", count="5")
    tomorrow = T0 + 86400
    stale = send(branch, "issue_ticket", tomorrow, service="a", number="A995",
                 issued_at=str(T0 + 30))  # fmt: skip
    assert stale["code"] in ("not_leased", "stale_ticket")
    assert send(branch, "issue_ticket", tomorrow + 1, service="a")["ticket"].endswith("/A001")


def test_replay_and_snapshots_keep_leases(branch):
    send(branch, "lease_numbers", T0, service="a", count="3")
    send(branch, "issue_ticket", T0 + 5, service="a", number="A998", issued_at=str(T0 + 1))
    copy = Branch.from_dict(branch.rules, branch.to_dict())
    assert copy.leases == branch.leases and copy.leased_top == branch.leased_top
    assert set(copy.leases) == {"A997", "A999"}


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ({"count": "²"}, "bad_count"),
        ({"count": "0"}, "bad_count"),
        ({"count": "1000"}, "bad_count"),
    ],
)
def test_bad_lease_arguments_are_refused_not_crashed_on(branch, args, code):
    assert send(branch, "lease_numbers", T0, service="a", **args)["code"] == code


@pytest.mark.parametrize("issued_at", ["nan", "inf", "-inf", "yesterday", ""])
def test_bad_issue_times_are_refused_not_crashed_on(branch, issued_at):
    send(branch, "lease_numbers", T0, service="a", count="2")
    reply = send(branch, "issue_ticket", T0 + 1, service="a", number="A999", issued_at=issued_at)
    assert reply["code"] == "bad_issued_at"


@pytest.mark.parametrize(
    ("clock_off", "placed_at"),
    [
        (-3600, T0 + 60),  # an hour behind: not before the lease was granted
        (-86400 * 3, T0 + 60),  # days behind
        (+3600, T0 + 900),  # an hour ahead: not after the server heard of it
        (+86400, T0 + 900),  # a day ahead: still today's ticket
        (1e20, T0 + 900),
    ],
)
def test_an_offline_ticket_is_placed_by_the_servers_clock(branch, clock_off, placed_at):
    """GIVEN A001 issued online at 09:00 and a lease granted at 09:01 WHEN the kiosk, its
    clock wrong by `clock_off`, replays a ticket issued at 09:05 by the true time, at 09:15
    THEN it is placed between the grant and its arrival, behind A001, with what the kiosk's
    clock said kept for the record."""
    send(branch, "issue_ticket", T0, device="other", service="a")
    send(branch, "lease_numbers", T0 + 60, service="a", count="2")
    kiosk_time = T0 + 300 + clock_off
    args = {"service": "a", "number": "A999", "issued_at": str(kiosk_time)}
    events, reply, _ = branch.handle(Command("late", "issue_ticket", "kiosk", T0 + 900, args))
    assert reply["ok"], reply
    assert branch.tickets["2026-11-23/A999"].issued_at == placed_at
    assert [t.number for t in branch.waiting_line("a")] == ["A001", "A999"]
    assert events[-1].data["kiosk_issued_at"] == kiosk_time


def test_a_service_whose_numbers_are_all_leased_is_not_accepting(rules):
    """GIVEN every number left leased WHEN the summary is built THEN the service says it
    takes no tickets (the kiosk that holds the lease still issues from it)."""
    from nowserving.domain import Service
    from nowserving.protocol import state_message

    services = dict(rules.services)
    services["a"] = Service("a", "A", {}, first_number=1, last_number=10, padding=2)
    branch = Branch(rules.__class__(**{**rules.__dict__, "services": services}))
    send(branch, "issue_ticket", T0, device="o", service="a")
    summary = {s["id"]: s for s in state_message(branch, {}, T0 + 1)["services"]}
    assert summary["a"]["accepting"] is True
    send(branch, "lease_numbers", T0 + 2, service="a", count="9")
    summary = {s["id"]: s for s in state_message(branch, {}, T0 + 3)["services"]}
    assert summary["a"]["accepting"] is False


def test_the_qr_token_is_kept_with_the_ticket(branch):
    events, outcome, _ = branch.handle(
        Command("t-1", "issue_ticket", "kiosk", T0, {"service": "a", "token": "Xk3v9Qa2Lmab"})
    )
    # Only its hash is kept: the log never holds the word that opens the phone page.
    assert "token" not in events[-1].data
    assert events[-1].data["token_hash"] == hashlib.sha256(b"Xk3v9Qa2Lmab").hexdigest()
