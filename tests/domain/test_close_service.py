"""Closing a service for the rest of the day (`close_service`) and reopening it."""

from __future__ import annotations

import json

from nowserving.domain import Branch, Command
from nowserving.protocol import state_message
from nowserving.protocol.views import decode_state
from tests.conftest import T0
from tests.domain.test_branch import ok, refused, run

NEXT_DAY = T0 + 20 * 3600  # 05:00 the next morning: a new business day (it rolls at 04:00)


def test_closing_refuses_new_tickets_but_serves_those_waiting(rules):
    """GIVEN two waiting for A WHEN A is closed for the day THEN a new ticket, a lease and a
    second close are refused, B still issues, and both waiting are still called."""
    branch = Branch(rules)
    ok(branch, "issue_ticket", T0, service="a")
    ok(branch, "issue_ticket", T0 + 1, service="a")
    done = ok(branch, "close_service", T0 + 60, service="a", reason_zh="系统故障",
              reason_en="System fault")  # fmt: skip
    assert done["event"] == "service_closed"
    outcome = run(branch, "issue_ticket", T0 + 61, service="a")
    assert (outcome["code"], outcome["params"]) == ("service_closed", {"time": "09:01"})
    assert "System fault" in outcome["message"]
    assert refused(branch, "lease_numbers", T0 + 62, service="a") == "service_closed"
    assert refused(branch, "close_service", T0 + 63, service="a") == "already_closed"
    ok(branch, "issue_ticket", T0 + 64, service="b")
    called = [ok(branch, "call_next", T0 + 70 + i, counter=c)["ticket"] for i, c in
              enumerate(["c1", "c2"])]  # fmt: skip
    assert called == ["2026-11-23/A001", "2026-11-23/A002"]


def test_reopen_undoes_it_and_the_next_day_is_open_again(rules):
    branch = Branch(rules)
    assert refused(branch, "reopen_service", T0, service="a") == "already_open"
    assert refused(branch, "close_service", T0, service="zz") == "unknown_service"
    ok(branch, "close_service", T0, service="a", reason="Staff shortage")
    ok(branch, "reopen_service", T0 + 10, service="a")
    ok(branch, "issue_ticket", T0 + 11, service="a")
    ok(branch, "close_service", T0 + 20, service="a")
    assert branch.closed_today("a", NEXT_DAY) is None  # before any command of the new day
    summary = {s["id"]: s for s in state_message(branch, {}, NEXT_DAY)["services"]}
    assert summary["a"]["accepting"] is True and summary["a"]["closed"] is None
    assert ok(branch, "issue_ticket", NEXT_DAY, service="a")["ticket"] == "2026-11-24/A001"
    assert branch.closed_services == {}


def test_the_summary_carries_the_closure_and_replay_and_snapshots_keep_it(rules):
    """GIVEN A closed with a reason per language WHEN the summary is built, the log replayed
    and a snapshot loaded THEN each says A is closed, why, and takes no tickets."""
    branch = Branch(rules)
    reasons = {"reason_zh": "系统故障", "reason_en": "System fault"}
    command = Command("x1", "close_service", "web-1", T0, {"service": "a", **reasons})
    events, _, _ = branch.handle(command)
    state = decode_state(json.dumps(state_message(branch, {}, T0 + 1)).encode())
    view = {s.id: s for s in state.services}
    assert view["a"].accepting is False and view["b"].accepting is True
    assert view["a"].closed.reason_in("zh") == "系统故障"
    assert view["a"].closed.reason_in("en") == "System fault"
    assert view["b"].closed is None
    replayed = Branch(rules)
    for event in events:
        replayed.apply(event)
    assert replayed.closed_services == branch.closed_services
    copy = Branch.from_dict(rules, branch.to_dict())
    assert copy.to_dict() == branch.to_dict()
    assert refused(copy, "issue_ticket", T0 + 2, service="a") == "service_closed"


def test_an_offline_ticket_printed_before_the_closure_is_still_taken(rules):
    """GIVEN a kiosk holding a lease WHEN A closes and the kiosk's spooled ticket arrives
    THEN it joins the line: the customer holds it already."""
    branch = Branch(rules)
    ok(branch, "lease_numbers", T0, device="kiosk", service="a", count="5")
    ok(branch, "close_service", T0 + 10, service="a")
    ok(branch, "issue_ticket", T0 + 20, device="kiosk", service="a", number="A999",
       issued_at=str(T0 + 5))  # fmt: skip
    assert [t.number for t in branch.waiting_line("a")] == ["A999"]
