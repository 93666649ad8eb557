"""What the staff panel needs of the queue: refusals with their numbers, a transfer taken
back, notices taken down, each counter's mean service time; all of it replayed."""

from __future__ import annotations

import itertools

from nowserving.domain import Branch, Command
from nowserving.domain.branch import UNDO_TRANSFER_S
from nowserving.protocol.vocabulary import REFUSALS
from tests.conftest import T0, small_rules

_ids = itertools.count()


def run(branch: Branch, kind: str, at: float = T0, device: str = "desk-1", **args) -> dict:
    _, outcome, _ = branch.handle(Command(f"p-{next(_ids)}", kind, device, at, args))
    return outcome


def replayed(branch: Branch, events: list) -> Branch:
    again = Branch(branch.rules)
    for event in events:
        again.apply(event)
    return again


def recorded(branch: Branch, kind: str, at: float, device: str = "desk-1", **args):
    events, outcome, _ = branch.handle(Command(f"p-{next(_ids)}", kind, device, at, args))
    return events, outcome


def test_a_refusal_carries_its_numbers_for_the_device_to_say():
    """GIVEN a called ticket recalled once of the two needed WHEN no-show is pressed THEN the
    refusal says recall_first with number, recalls, need and more, as REFUSALS lists."""
    branch = Branch(small_rules())
    run(branch, "issue_ticket", service="a")
    run(branch, "call_next", T0 + 1, counter="c1")
    run(branch, "recall", T0 + 30, counter="c1")
    outcome = run(branch, "no_show", T0 + 31, counter="c1")
    assert outcome["code"] == "recall_first"
    assert outcome["params"] == {"number": "A001", "more": 1, "recalls": 1, "need": 2}
    assert set(outcome["params"]) == set(REFUSALS["recall_first"])


def test_a_transfer_taken_back_puts_the_customer_back_at_the_counter_and_replays():
    """GIVEN A001 served at c1 WHEN c1 transfers it to b and takes it back THEN A001 is served
    at c1 again, with its call time, out of b's line; a replay of the log agrees."""
    branch = Branch(small_rules())
    log = []
    for kind, at, args in (
        ("issue_ticket", T0, {"service": "a"}),
        ("call_next", T0 + 10, {"counter": "c1"}),
        ("start", T0 + 20, {"counter": "c1"}),
        ("transfer", T0 + 100, {"counter": "c1", "to_service": "b"}),
    ):
        log += recorded(branch, kind, at, **args)[0]
    ticket = branch.tickets["2026-11-23/A001"]
    assert ticket.service == "b" and branch.lines["b"]
    events, outcome = recorded(branch, "undo_transfer", T0 + 105, counter="c1", ticket=ticket.id)
    log += events
    assert outcome["ok"], outcome
    for state in (branch, replayed(branch, log)):
        back = state.tickets["2026-11-23/A001"]
        assert (back.service, back.status, back.counter, back.called_at) == (
            "a", "serving", "c1", T0 + 10)  # fmt: skip
        assert state.counters["c1"].ticket == back.id and not state.lines["b"]
    assert [e.type for e in events] == ["transfer_undone"]


def test_undo_is_refused_late_by_another_device_or_once_moved_on():
    branch = Branch(small_rules())
    run(branch, "issue_ticket", service="a")
    run(branch, "call_next", T0 + 10, counter="c1")
    run(branch, "transfer", T0 + 20, counter="c1", to_service="b")
    ticket = "2026-11-23/A001"
    late = run(branch, "undo_transfer", T0 + 21 + UNDO_TRANSFER_S, counter="c1", ticket=ticket)
    assert (late["code"], late["params"]["seconds"]) == ("undo_expired", int(UNDO_TRANSFER_S))
    other = run(branch, "undo_transfer", T0 + 22, device="desk-3", counter="c3", ticket=ticket)
    assert other["code"] == "not_undoable"
    run(branch, "call_next", T0 + 23, device="desk-3", counter="c3")  # b's counter calls it
    moved = run(branch, "undo_transfer", T0 + 24, counter="c1", ticket=ticket)
    assert moved["code"] == "not_undoable"


def test_a_notice_is_taken_down_by_its_id_and_stays_down_after_a_replay():
    branch = Branch(small_rules())
    log = []
    log += recorded(branch, "post_notice", T0, text="系统升级", minutes="45")[0]
    log += recorded(branch, "post_notice", T0 + 1, text="Short delay", minutes="10")[0]
    first = branch.notices[0]
    assert (first["id"], first["until"]) == (str(log[-2].seq), T0 + 45 * 60)
    events, outcome = recorded(branch, "take_down_notice", T0 + 2, notice=first["id"])
    log += events
    assert outcome["ok"] and [e.type for e in events] == ["notice_taken_down"]
    for state in (branch, replayed(branch, log)):
        assert [n["text"] for n in state.notices] == ["Short delay"]
    again = run(branch, "take_down_notice", T0 + 3, notice=first["id"])
    assert again["code"] == "unknown_notice"


def test_each_counter_adds_up_its_service_time():
    """GIVEN two customers served at c1 for 100 s and 300 s (from start, or call without
    one) THEN c1's service time is 400 s over 2 served; a new day starts from 0."""
    branch = Branch(small_rules())
    for i in range(2):
        run(branch, "issue_ticket", T0 + i, service="a")
    run(branch, "call_next", T0 + 10, counter="c1")
    run(branch, "start", T0 + 20, counter="c1")
    run(branch, "finish", T0 + 120, counter="c1")
    run(branch, "call_next", T0 + 130, counter="c1")
    run(branch, "finish", T0 + 430, counter="c1")
    counter = branch.counters["c1"]
    assert (counter.served, counter.service_s) == (2, 400.0)
    run(branch, "issue_ticket", T0 + 86_400, service="a")
    assert (branch.counters["c1"].served, branch.counters["c1"].service_s) == (0, 0.0)
