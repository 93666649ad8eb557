"""Typed views of what devices receive: the ticket of a reply, and a wait in minutes."""

from __future__ import annotations

import json

import pytest

from nowserving.domain import Branch, Command, NewcomerEstimates
from nowserving.errors import ProtocolError
from nowserving.protocol.messages import encode, ticket_view
from nowserving.protocol.views import (
    EstimateView,
    TicketView,
    WaitMinutes,
    decode_ticket,
    wait_minutes,
)
from tests.conftest import T0

MISSING = object()


@pytest.mark.parametrize(
    ("low", "high", "minutes"),
    [
        (0, 30, (0, 1)),
        (0, 60, (0, 1)),  # a minute at most: "now" on the screen and the ticket alike
        (0, 60.5, (0, 2)),
        (59.9, 61, (0, 2)),
        (90, 1141, (1, 20)),  # 19.02 min is "up to 20", never 19
        (600, 1200, (10, 20)),
        (659, 1201, (10, 21)),
    ],
)
def test_a_wait_is_shown_in_whole_minutes_that_hold_it(low, high, minutes):
    """GIVEN a wait range in seconds THEN its minutes are the low end floored and the high
    end ceiled, at least 1; "now" is just a range up to a minute."""
    shown = wait_minutes(low, high)
    assert shown == minutes and isinstance(shown, WaitMinutes)
    assert shown.now == (high <= 60)
    assert EstimateView((low + high) / 2, low, high, 3).minutes == shown


def test_a_replys_ticket_decodes_to_the_ticket_view(rules):
    """GIVEN a ticket as the server sends it in a reply WHEN it is decoded THEN the typed
    view holds what its holder is shown, the estimate given at issue included."""
    branch, newcomers = Branch(rules), NewcomerEstimates()
    branch.handle(Command("i1", "issue_ticket", "k", T0, {"service": "a"}), newcomers.estimate)
    second = Command("i2", "issue_ticket", "k", T0 + 1, {"service": "a", "language": "en"})
    branch.handle(second, newcomers.estimate)
    ticket = branch.tickets["2026-11-23/A002"]
    sent = json.loads(encode(ticket_view(branch, ticket)))
    view = decode_ticket(sent)
    mean, low, high, ahead = (sent["issued_estimate"][k] for k in ("mean", "low", "high", "ahead"))
    assert view == TicketView(
        "2026-11-23/A002",
        "A002",
        "a",
        "en",
        T0 + 1,
        1,
        EstimateView(mean, low, high, ahead),
        "normal",
    )
    sent["issued_estimate"] = {"mean": 300, "low": 120.5, "high": 600, "ahead": 1}
    assert decode_ticket(sent).issued_estimate == EstimateView(300.0, 120.5, 600.0, 1)
    sent["status"], sent["ahead"] = "called", None  # `ahead` only while it waits
    assert decode_ticket(sent).ahead == 0


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"number": 2}, "result.ticket.number has the wrong type"),
        ({"issued_at": MISSING}, "result.ticket.issued_at is missing"),
        ({"issued_estimate": {"low": 1}}, "result.ticket.issued_estimate.mean is missing"),
    ],
)
def test_a_bad_ticket_is_refused_naming_what_is_wrong(change, where):
    sent = {"id": "d/A001", "number": "A001", "service": "a", "language": "zh",
            "issued_at": T0, "issued_estimate": None, **change}  # fmt: skip
    sent = {k: v for k, v in sent.items() if v is not MISSING}
    with pytest.raises(ProtocolError, match=where):
        decode_ticket(sent)
