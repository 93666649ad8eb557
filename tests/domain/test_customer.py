"""What a customer does from the phone page (the web role sends it with the ticket's token):
cancel, step out, rate; a wrong token is refused exactly as an unknown ticket."""

from __future__ import annotations

import hashlib

import pytest

from nowserving.domain import Branch
from tests.conftest import T0
from tests.domain.test_branch import ok, refused, run

TOKEN = "k3Jd9vQ2mZ8xT1bW4nE7sA"  # 16 random bytes, as the kiosk makes them


@pytest.fixture
def branch(rules) -> Branch:
    return Branch(rules)


def issue(branch: Branch, token: str = TOKEN) -> str:
    return ok(branch, "issue_ticket", service="a", token=token)["ticket"]


def test_the_ticket_keeps_only_the_hash_of_its_token(branch):
    ticket_id = issue(branch)
    ticket = branch.tickets[ticket_id]
    assert ticket.token_hash == hashlib.sha256(TOKEN.encode()).hexdigest()
    assert TOKEN not in repr(branch.to_dict())


def test_a_customer_cancels_their_own_waiting_ticket(branch):
    ticket = issue(branch)
    outcome = ok(branch, "cancel", T0 + 5, ticket=ticket, token=TOKEN)
    assert outcome["event"] == "ticket_cancelled"
    assert branch.tickets[ticket].status == "cancelled"
    assert not branch.lines["a"]
    assert refused(branch, "cancel", T0 + 6, ticket=ticket, token=TOKEN) == "wrong_state"


def test_a_wrong_token_is_refused_as_an_unknown_ticket_is(branch):
    ticket = issue(branch)
    wrong = refused(branch, "cancel", ticket=ticket, token=TOKEN[:-1] + "B")
    unknown = refused(branch, "cancel", ticket="2026-11-23/A999", token=TOKEN)
    assert wrong == unknown == "unknown_ticket"
    untokened = ok(branch, "issue_ticket", service="a")["ticket"]  # a ticket without a QR
    assert refused(branch, "step_out", ticket=untokened, token="") == "unknown_ticket"
    assert branch.tickets[ticket].status == "waiting"


def test_stepping_out_is_recorded_and_keeps_the_place(branch):
    first, second = issue(branch), issue(branch, "another-token-of-22chr")
    outcome = ok(branch, "step_out", T0 + 10, ticket=first, token=TOKEN, back_by=str(T0 + 900))
    assert outcome["event"] == "ticket_stepped_out"
    ticket = branch.tickets[first]
    assert (ticket.stepped_out_at, ticket.back_by) == (T0 + 10, T0 + 900)
    # Still first in line: called as anyone, then recalled and marked no-show as anyone.
    assert ok(branch, "call_next", T0 + 20, counter="c1")["ticket"] == first
    assert second in branch.lines["a"]


def test_a_customer_rates_their_finished_visit_within_the_feedback_window(branch, rules):
    ticket = issue(branch)
    ok(branch, "call_next", T0 + 10, counter="c1")
    assert refused(branch, "rate", T0 + 11, ticket=ticket, token=TOKEN,
                   rating="satisfied") == "no_feedback_open"  # fmt: skip
    ok(branch, "finish", T0 + 100, counter="c1")
    outcome = ok(branch, "rate", T0 + 110, ticket=ticket, token=TOKEN, rating="neutral")
    assert outcome["event"] == "ticket_rated"
    assert branch.tickets[ticket].rating == "neutral"
    # One rating per ticket: the counter's keypad cannot rate the same customer again.
    assert refused(branch, "rate", T0 + 111, counter="c1", rating="satisfied") == "already_rated"


def test_the_phone_rates_until_the_business_day_ends_and_the_keypad_within_its_window(
    branch, rules
):
    """GIVEN two finished customers WHEN one rates from the phone hours later, the other
    after the day rolled over (04:00), and the keypad past its window THEN only the first
    counts."""
    first, second = issue(branch), issue(branch, "another-token-0123456789")
    ok(branch, "call_next", T0 + 10, counter="c1")
    ok(branch, "finish", T0 + 100, counter="c1")
    keypad_late = T0 + 100 + rules.feedback_window_s + 1
    assert refused(branch, "rate", keypad_late, counter="c1", rating="neutral") == (
        "no_feedback_open"
    )
    evening = T0 + 9 * 3600  # 18:00: the customer looks at the phone at home
    outcome = ok(branch, "rate", evening, ticket=first, token=TOKEN, rating="satisfied")
    assert outcome["event"] == "ticket_rated" and branch.tickets[first].rating == "satisfied"
    assert refused(branch, "rate", evening + 1, ticket=first, token=TOKEN,
                   rating="unsatisfied") == "already_rated"  # fmt: skip
    ok(branch, "call_next", T0 + 200, counter="c1")
    ok(branch, "finish", T0 + 300, counter="c1")
    next_day = T0 + 19 * 3600 + 1  # past 04:00 the next day
    outcome = run(branch, "rate", next_day, ticket=second, token="another-token-0123456789",
                  rating="satisfied")  # fmt: skip
    assert outcome["code"] == "unknown_ticket"  # its token ended with its day
