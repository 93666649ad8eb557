"""The line message says why a ticket is ahead of its arrival (appointment, priority)."""

from __future__ import annotations

import json
from dataclasses import replace

from nowserving.domain import Branch, Command
from nowserving.protocol.messages import line_message
from nowserving.protocol.views import Why, decode_line
from nowserving.protocol.vocabulary import COMMANDS, Cmd, Role
from tests.conftest import T0, small_rules


def test_the_line_gives_an_appointment_its_booked_time_and_reason():
    """GIVEN a walk-in, an appointment for T0+30 min and a priority walk-in WHEN the line
    message is made and decoded THEN the appointment says `why.appointment` with its booked
    time and head start, the priority ticket `why.priority`, the walk-in nothing."""
    rules = small_rules()
    bookable = replace(rules.services["a"], bookings_per_hour=4)
    rules = replace(rules, services={**rules.services, "a": bookable})
    branch = Branch(rules)
    made = branch.handle(
        Command("b", "book", "s", T0, {"service": "a", "time": "2026-11-23 09:30"})
    )
    code = made[1]["code"]
    branch.handle(Command("w", "issue_ticket", "k", T0 + 60, {"service": "a"}))
    branch.handle(Command("c", "check_in", "k", T0 + 120, {"code": code}))
    branch.handle(
        Command("p", "issue_ticket", "k", T0 + 180, {"service": "a", "priority": "priority"})
    )
    line = decode_line(json.dumps(line_message(branch, "a", T0 + 200)).encode())
    whys = {t.number: (t.why, t.booked_at, t.head_start_s) for t in line.tickets}
    assert whys["A001"] == (None, None, 0.0)
    assert whys["A002"] == (Why(appointment=T0 + 1800), T0 + 1800, 300.0)
    assert whys["A003"] == (Why(priority="priority"), None, 0.0)


def test_bookings_come_from_the_booking_service_and_check_in_from_the_kiosk():
    """The booking commands' senders: staff/web book and cancel; kiosk/staff check in, and
    the web role for a phone page (with the hall code: docs/appointments.md)."""
    assert COMMANDS[Cmd.BOOK].roles == {Role.STAFF, Role.WEB}
    assert COMMANDS[Cmd.CANCEL_BOOKING].roles == {Role.STAFF, Role.WEB}
    assert COMMANDS[Cmd.CHECK_IN].roles == {Role.KIOSK, Role.STAFF, Role.WEB}
    assert COMMANDS[Cmd.JOIN_REMOTE].roles == {Role.WEB}
    assert Role.COUNTER not in COMMANDS[Cmd.BOOK].roles


def test_under_the_interleave_the_line_carries_the_order_the_panel_merges_by():
    """GIVEN the N:1 interleave (N = 2) and walk-ins for services a and b with a priority
    customer in a WHEN the lines are sent and decoded, and counter c2 (a and b) merges them
    as the staff panel does (`policy.call_order` over the decoded keys) THEN the panel's
    order is the order the branch calls in."""
    from nowserving.counter.panel import _call_key
    from nowserving.domain.policy import call_order

    rules = small_rules(priority_rule="interleave", interleave=2)
    branch = Branch(rules)
    for i, (service, priority) in enumerate(
        [("a", "normal"), ("b", "normal"), ("a", "normal"), ("a", "normal"), ("b", "normal"),
         ("a", "priority"), ("b", "normal")]
    ):  # fmt: skip
        branch.handle(Command(f"t{i}", "issue_ticket", "k", T0 + 60 * i,
                              {"service": service, "priority": priority}))  # fmt: skip
    lines = {}
    for service in ("a", "b"):
        line = decode_line(json.dumps(line_message(branch, service, T0 + 600)).encode())
        lines[service] = [(_call_key(t, rules.priorities), t.number) for t in line.tickets]
    assert [n for _, n in lines["a"]] == ["A001", "A002", "A004", "A003"]  # after 2 others
    panel = call_order(rules.counters["c2"], lines, T0 + 600)
    called = []
    for i in range(7):
        _, outcome, _ = branch.handle(Command(f"c{i}", "call_next", "c", T0 + 700 + i,
                                              {"counter": "c2"}))  # fmt: skip
        called.append(branch.tickets[outcome["ticket"]].number)
        branch.handle(Command(f"f{i}", "finish", "c", T0 + 700 + i, {"counter": "c2"}))
    assert called == panel
