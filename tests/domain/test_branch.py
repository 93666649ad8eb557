"""The ticket lifecycle, command by command, on a small branch."""

from __future__ import annotations

import itertools

import pytest

from nowserving.domain import Branch, Command
from tests.conftest import T0, small_rules

_ids = itertools.count()


def run(branch: Branch, kind: str, at: float = T0, device: str = "dev", **args) -> dict:
    _, outcome, _ = branch.handle(Command(f"cmd-{next(_ids)}", kind, device, at, args))
    return outcome


def ok(branch: Branch, kind: str, at: float = T0, **args) -> dict:
    outcome = run(branch, kind, at, **args)
    assert outcome["ok"], outcome
    return outcome


def refused(branch: Branch, kind: str, at: float = T0, **args) -> str:
    outcome = run(branch, kind, at, **args)
    assert not outcome["ok"], outcome
    return outcome["code"]


@pytest.fixture
def branch(rules) -> Branch:
    return Branch(rules)


def test_numbers_are_prefixed_padded_and_sequential_per_service(branch):
    """GIVEN a new day WHEN tickets are issued for two services THEN each counts on its own."""
    tickets = [
        ok(branch, "issue_ticket", T0 + i, service=s)["ticket"] for i, s in enumerate("aaba")
    ]
    assert tickets == ["2026-11-23/A001", "2026-11-23/A002", "2026-11-23/B01", "2026-11-23/A003"]


def test_full_lifecycle_issue_call_recall_start_finish(branch):
    ok(branch, "issue_ticket", service="a")
    called = ok(branch, "call_next", T0 + 60, counter="c1")
    assert called["ticket"] == "2026-11-23/A001"
    ok(branch, "recall", T0 + 90, counter="c1")
    assert branch.tickets[called["ticket"]].recalls == 1
    ok(branch, "start", T0 + 100, counter="c1")
    ok(branch, "finish", T0 + 400, counter="c1")
    ticket = branch.tickets[called["ticket"]]
    assert (ticket.status, ticket.called_at, ticket.started_at, ticket.finished_at) == (
        "done",
        T0 + 60,
        T0 + 100,
        T0 + 400,
    )
    assert branch.counters["c1"].ticket is None
    assert branch.counters["c1"].served == 1


def test_next_while_serving_finishes_the_current_customer(branch):
    ok(branch, "issue_ticket", service="a")
    ok(branch, "issue_ticket", service="a")
    first = ok(branch, "call_next", counter="c1")["ticket"]
    ok(branch, "start", counter="c1")
    second = ok(branch, "call_next", T0 + 10, counter="c1")["ticket"]
    assert branch.tickets[first].status == "done"
    assert branch.tickets[second].status == "called"


def test_next_while_a_ticket_is_still_called_is_refused(branch):
    ok(branch, "issue_ticket", service="a")
    ok(branch, "issue_ticket", service="a")
    ok(branch, "call_next", counter="c1")
    assert refused(branch, "call_next", counter="c1") == "counter_busy"


def test_no_show_needs_the_configured_recalls(branch):
    ok(branch, "issue_ticket", service="a")
    ticket = ok(branch, "call_next", counter="c1")["ticket"]
    assert refused(branch, "no_show", counter="c1") == "recall_first"
    ok(branch, "recall", T0 + 30, counter="c1")
    assert refused(branch, "no_show", T0 + 31, counter="c1") == "recall_first"
    ok(branch, "recall", T0 + 60, counter="c1")
    ok(branch, "no_show", T0 + 61, counter="c1")
    assert branch.tickets[ticket].status == "no_show"
    assert branch.counters["c1"].ticket is None


def test_empty_queue_and_unknown_names_are_refused_with_codes(branch):
    assert refused(branch, "call_next", counter="c1") == "queue_empty"
    assert refused(branch, "call_next", counter="c9") == "unknown_counter"
    assert refused(branch, "issue_ticket", service="zz") == "unknown_service"
    assert refused(branch, "issue_ticket", service="a", language="fr") == "unknown_language"
    assert refused(branch, "issue_ticket", service="a", priority="vip") == "unknown_priority"
    assert refused(branch, "start", counter="c1") == "no_ticket"
    assert refused(branch, "cancel", ticket="2026-11-23/A999") == "unknown_ticket"


def test_counter_skills_route_tickets(branch):
    """GIVEN tickets for a and b WHEN c1 (a only) and c3 (b only) call THEN each gets its own."""
    ok(branch, "issue_ticket", T0, service="b")
    ok(branch, "issue_ticket", T0 + 1, service="a")
    assert ok(branch, "call_next", T0 + 2, counter="c1")["ticket"].endswith("A001")
    assert ok(branch, "call_next", T0 + 2, counter="c3")["ticket"].endswith("B01")


def test_a_counter_with_two_skills_takes_the_longest_waiting(branch):
    ok(branch, "issue_ticket", T0, service="b")
    ok(branch, "issue_ticket", T0 + 1, service="a")
    assert ok(branch, "call_next", T0 + 2, counter="c2")["ticket"].endswith("B01")


def test_priority_goes_first_but_aging_stops_starvation(branch):
    """A priority ticket (10 min boost) jumps a normal one that waited less than 10 min,
    but not one that waited longer."""
    ok(branch, "issue_ticket", T0, service="a")  # A001 normal, key 0
    ok(branch, "issue_ticket", T0 + 60, service="a")  # A002 normal, key 60
    ok(branch, "issue_ticket", T0 + 630, service="a", priority="priority")  # A003, key 30
    calls = []
    for i in range(3):
        calls.append(ok(branch, "call_next", T0 + 700 + i, counter="c1")["ticket"][-4:])
        ok(branch, "finish", T0 + 700 + i, counter="c1")
    assert calls == ["A001", "A003", "A002"]


def test_pause_and_close_counter(branch):
    ok(branch, "issue_ticket", service="a")
    ok(branch, "pause_counter", counter="c1", reason="lunch")
    assert branch.counters["c1"].reason == "lunch"
    assert refused(branch, "call_next", counter="c1") == "counter_paused"
    ok(branch, "open_counter", counter="c1")
    assert refused(branch, "open_counter", counter="c1") == "already_open"
    ok(branch, "call_next", counter="c1")
    assert refused(branch, "close_counter", counter="c1") == "counter_busy"
    ok(branch, "finish", counter="c1")
    ok(branch, "close_counter", counter="c1")
    assert refused(branch, "call_next", counter="c1") == "counter_closed"


def test_transfer_to_front_of_another_service_keeps_the_number(branch):
    ok(branch, "issue_ticket", T0, service="b")  # B01 waiting
    ok(branch, "issue_ticket", T0 + 1, service="a")
    moved = ok(branch, "call_next", T0 + 2, counter="c1")["ticket"]  # A001 at c1
    ok(branch, "transfer", T0 + 3, counter="c1", to_service="b")
    ticket = branch.tickets[moved]
    assert (ticket.status, ticket.service, ticket.number, ticket.transfers) == (
        "waiting",
        "b",
        "A001",
        1,
    )
    assert branch.counters["c1"].ticket is None
    # Front placement: A001 is called before B01 although B01 waited longer.
    assert ok(branch, "call_next", T0 + 4, counter="c3")["ticket"] == moved


def test_transfer_to_back_goes_behind_everyone(branch):
    ok(branch, "issue_ticket", T0, service="a")
    ok(branch, "issue_ticket", T0 + 1, service="b")
    moved = ok(branch, "call_next", T0 + 2, counter="c1")["ticket"]
    ok(branch, "transfer", T0 + 3, counter="c1", to_service="b", placement="back")
    assert [t.id for t in branch.waiting_line("b")] == ["2026-11-23/B01", moved]


def test_call_out_of_order_needs_a_reason_and_records_it(branch):
    ok(branch, "issue_ticket", T0, service="a")
    ok(branch, "issue_ticket", T0 + 1, service="a")
    assert (
        refused(branch, "call_ticket", counter="c1", ticket="2026-11-23/A002", reason=" ")
        == "reason_required"
    )
    ok(branch, "call_ticket", counter="c1", ticket="2026-11-23/A002", reason="wheelchair")
    assert branch.tickets["2026-11-23/A002"].out_of_order == "wheelchair"


def test_cancel_only_waiting_tickets(branch):
    ok(branch, "issue_ticket", service="a")
    ok(branch, "cancel", ticket="2026-11-23/A001")
    assert branch.tickets["2026-11-23/A001"].status == "cancelled"
    assert refused(branch, "cancel", ticket="2026-11-23/A001") == "wrong_state"
    assert refused(branch, "call_next", counter="c1") == "queue_empty"


def test_a_repeated_command_id_changes_nothing(branch):
    command = Command("press-1", "issue_ticket", "kiosk", T0, {"service": "a"})
    events, first, duplicate = branch.handle(command)
    assert not duplicate and len(events) == 2  # day_started + ticket_issued
    seq = branch.seq
    events, again, duplicate = branch.handle(command)
    assert duplicate and events == [] and again == first and branch.seq == seq


def test_day_rollover_restarts_numbers_and_expires_open_tickets(branch):
    ok(branch, "issue_ticket", T0, service="a")
    ok(branch, "issue_ticket", T0 + 1, service="a")
    ok(branch, "call_next", T0 + 2, counter="c1")
    # 03:59 next morning still belongs to the 23rd; 04:00 starts the 24th.
    late = T0 + 18 * 3600 + 59 * 60
    assert ok(branch, "issue_ticket", late, service="a")["ticket"] == "2026-11-23/A003"
    assert ok(branch, "issue_ticket", late + 60, service="a")["ticket"] == "2026-11-24/A001"
    assert branch.business_day == "2026-11-24"
    assert list(branch.tickets) == ["2026-11-24/A001"]
    assert branch.counters["c1"].ticket is None


def test_cutoff_and_daily_cap(rules):
    from datetime import time as clock_time

    from nowserving.domain import Service

    services = dict(rules.services)
    services["a"] = Service("a", "A", {}, daily_cap=2, last_ticket_at=clock_time(16, 30))
    branch = Branch(small_rules(services=services))
    ok(branch, "issue_ticket", T0, service="a")
    ok(branch, "issue_ticket", T0 + 1, service="a")
    assert refused(branch, "issue_ticket", T0 + 2, service="a") == "service_full"
    assert refused(branch, "issue_ticket", T0 + 7.5 * 3600, service="a") == "service_closed"


def test_seconds_until_a_cut_off_count_from_the_days_start(rules):
    """GIVEN a day that starts at 04:00 (UTC) WHEN a service stops at 16:30, or at 01:00
    after midnight, or never THEN the seconds left are counted on that day's clock, and
    none once past it."""
    from datetime import time as clock_time

    from nowserving.domain import Service

    at_half_past_four = Service("a", "A", {}, last_ticket_at=clock_time(16, 30))
    after_midnight = Service("a", "A", {}, last_ticket_at=clock_time(1, 0))
    assert rules.until_cutoff(at_half_past_four, T0 + 30) == 7.5 * 3600 - 30  # T0 is 09:00
    assert rules.until_cutoff(after_midnight, T0) == 16 * 3600
    assert rules.until_cutoff(at_half_past_four, T0 + 7.5 * 3600) == 0
    assert rules.past_cutoff(at_half_past_four, T0 + 7.5 * 3600)
    assert not rules.past_cutoff(at_half_past_four, T0 + 7.5 * 3600 - 1)
    assert rules.until_cutoff(Service("a", "A", {}), T0) == float("inf")


def test_snapshot_round_trip_gives_the_same_state(branch):
    ok(branch, "issue_ticket", T0, service="a")
    ok(branch, "issue_ticket", T0 + 1, service="b", priority="priority")
    ok(branch, "call_next", T0 + 2, counter="c2")
    ok(branch, "pause_counter", T0 + 3, counter="c1", reason="lunch")
    copy = Branch.from_dict(branch.rules, branch.to_dict())
    assert copy.to_dict() == branch.to_dict()
    assert copy.lines == branch.lines


def test_a_recall_waits_for_the_cool_down(branch):
    """GIVEN a ticket just called WHEN recalled at once THEN refused; 20 s later, fine."""
    ok(branch, "issue_ticket", service="a")
    ok(branch, "call_next", T0 + 1, counter="c1")
    assert refused(branch, "recall", T0 + 5, counter="c1") == "recall_too_soon"
    ok(branch, "recall", T0 + 21, counter="c1")
    assert refused(branch, "recall", T0 + 30, counter="c1") == "recall_too_soon"


def test_a_rating_lands_once_on_the_customer_just_finished(branch):
    """GIVEN A001 finished at c1 WHEN the keypad rates within the window THEN A001 gets
    the rating, once; after the window, or with nobody finished, nothing is taken."""
    assert refused(branch, "rate", counter="c1", rating="satisfied") == "no_feedback_open"
    ok(branch, "issue_ticket", service="a")
    ticket = ok(branch, "call_next", T0 + 1, counter="c1")["ticket"]
    ok(branch, "finish", T0 + 100, counter="c1")
    assert refused(branch, "rate", T0 + 101, counter="c1", rating="great") == "bad_rating"
    ok(branch, "rate", T0 + 110, counter="c1", rating="unsatisfied")
    assert branch.tickets[ticket].rating == "unsatisfied"
    assert refused(branch, "rate", T0 + 111, counter="c1", rating="satisfied") == "already_rated"
    ok(branch, "issue_ticket", T0 + 120, service="a")
    ok(branch, "call_next", T0 + 121, counter="c1")
    ok(branch, "finish", T0 + 130, counter="c1")
    assert refused(branch, "rate", T0 + 191, counter="c1", rating="neutral") == "no_feedback_open"


def test_notices_show_until_they_expire(branch):
    from nowserving.protocol import state_message

    ok(branch, "post_notice", T0, text="系统维护，请稍候 / System maintenance", minutes="10")
    shown = state_message(branch, {}, T0 + 60)["notices"]
    assert [n["text"] for n in shown] == ["系统维护，请稍候 / System maintenance"]
    assert state_message(branch, {}, T0 + 601)["notices"] == []
    ok(branch, "post_notice", T0 + 700, text="Back soon")
    ok(branch, "post_notice", T0 + 701, minutes="0")  # taken down
    assert state_message(branch, {}, T0 + 702)["notices"] == []
    assert refused(branch, "post_notice", T0 + 703, text="") == "bad_notice"
