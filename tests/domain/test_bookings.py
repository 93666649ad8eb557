"""Appointments in the queue: booking, cancelling, check-in inside and outside the window,
booking no-shows, and a replayed log that rebuilds the bookings."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from nowserving.domain import Branch, Command
from nowserving.domain.bookings import CODE_ALPHABET, Ahead, code_hash
from tests.conftest import small_rules

_ids = itertools.count()
DAY = "2026-11-23"


def at(hm: str) -> float:
    """Unix seconds of `hm` on the test day (the small branch runs on UTC)."""
    return datetime.fromisoformat(f"{DAY} {hm}").replace(tzinfo=UTC).timestamp()


def run(branch: Branch, kind: str, when: str, device: str = "dev", **args) -> tuple[list, dict]:
    events, outcome, _ = branch.handle(Command(f"k-{next(_ids)}", kind, device, at(when), args))
    return events, outcome


def ok(branch: Branch, kind: str, when: str, **args) -> dict:
    _, outcome = run(branch, kind, when, **args)
    assert outcome["ok"], outcome
    return outcome


def refused(branch: Branch, kind: str, when: str, **args) -> dict:
    _, outcome = run(branch, kind, when, **args)
    assert not outcome["ok"], outcome
    return outcome


def bookable_rules(per_hour: int = 4):
    rules = small_rules()
    a = replace(rules.services["a"], bookings_per_hour=per_hour)
    return replace(rules, services={**rules.services, "a": a})


@pytest.fixture
def branch() -> Branch:
    return Branch(bookable_rules())


def book(branch: Branch, hm: str = "10:30", **more) -> dict:
    return ok(branch, "book", "08:00", service="a", time=f"{DAY} {hm}", **more)


def test_a_booking_gets_an_unguessable_code_that_no_event_holds(branch):
    """GIVEN a bookable service WHEN a booking is made THEN the reply holds a 10-character
    code from the unambiguous alphabet, and the event holds only its hash."""
    events, outcome = run(branch, "book", "08:00", service="a", time=f"{DAY} 10:30")
    code = outcome["code"]
    assert len(code) >= 8 and set(code) <= set(CODE_ALPHABET)
    assert not set(code) & set("0O1IL2Z5S8B")
    text = json.dumps([e.to_dict() for e in events])
    assert code not in text
    made = [e for e in events if e.type == "booking_made"]
    assert made[0].data["code_hash"] == code_hash(code)
    assert outcome["booking"] == made[0].data["booking"]
    assert book(branch)["code"] != code  # every booking its own


def test_on_time_check_in_makes_an_appointment_ticket_counting_from_the_booked_time(branch):
    """GIVEN a 10:30 booking WHEN checked in at 10:30 THEN the ticket is an appointment
    ticket: booked at 10:30, five minutes' head start, the booking checked in."""
    code = book(branch)["code"]
    outcome = ok(branch, "check_in", "10:30", code=code.lower())  # typed in lower case
    ticket = branch.tickets[outcome["ticket"]]
    assert ticket.booked_at == at("10:30") and ticket.head_start_s == 300
    assert outcome["booked_at"] == at("10:30") and "late" not in outcome
    booking = branch.bookings[ticket.booking]
    assert (booking.status, booking.ticket) == ("checked_in", ticket.id)
    assert refused(branch, "check_in", "10:31", code=code)["code"] == "unknown_booking"


def test_early_check_in_inside_the_window_waits_for_the_booked_time(branch):
    """GIVEN a 10:30 booking checked in at 10:05 WHEN walk-ins come at 10:20 and 10:27
    THEN the 10:20 walk-in goes first (before 10:25, the booked time less the head start),
    the appointment next, then the 10:27 walk-in."""
    code = book(branch)["code"]
    appointment = ok(branch, "check_in", "10:05", code=code)["ticket"]
    first = ok(branch, "issue_ticket", "10:20", service="a")["ticket"]
    last = ok(branch, "issue_ticket", "10:27", service="a")["ticket"]
    assert [t.id for t in branch.waiting_line("a")] == [first, appointment, last]


def test_too_early_is_refused_with_when_to_come_back(branch):
    """GIVEN a 10:30 booking and a 30-minute early window WHEN checked in at 09:55 THEN it
    is refused `too_early`, saying to come from 10:00 (and the service, for a walk-in
    ticket meanwhile), and the booking stays open."""
    code = book(branch)["code"]
    outcome = refused(branch, "check_in", "09:55", code=code)
    assert outcome["code"] == "too_early"
    assert outcome["params"] == {"time": "10:00", "booked": "10:30", "service": "a"}
    assert ok(branch, "check_in", "10:00", code=code)["booked_at"] == at("10:30")


def test_late_inside_the_window_still_counts_from_the_booked_time(branch):
    """GIVEN a 10:30 booking checked in at 10:38 (inside L = 10 min) and walk-ins from
    10:26 THEN the appointment goes ahead of those who came after 10:25."""
    code = book(branch)["code"]
    early = ok(branch, "issue_ticket", "10:24", service="a")["ticket"]
    later = ok(branch, "issue_ticket", "10:26", service="a")["ticket"]
    appointment = ok(branch, "check_in", "10:38", code=code)["ticket"]
    assert [t.id for t in branch.waiting_line("a")] == [early, appointment, later]


def test_too_late_is_a_walk_in_from_the_arrival_and_the_reply_says_so(branch):
    """GIVEN a 10:30 booking WHEN checked in at 10:45 (past L) THEN the ticket is a
    walk-in counted from 10:45, the reply says `late`, and the booking is marked late
    (after being noticed as a booking no-show)."""
    code = book(branch)["code"]
    before = ok(branch, "issue_ticket", "10:39", service="a")["ticket"]
    events, outcome = run(branch, "check_in", "10:45", code=code)
    assert outcome["ok"] and outcome["late"] is True and "booked_at" not in outcome
    assert [e.type for e in events] == ["booking_no_show", "ticket_issued"]
    ticket = branch.tickets[outcome["ticket"]]
    assert ticket.booked_at is None and ticket.queue_since == at("10:45")
    assert [t.id for t in branch.waiting_line("a")] == [before, ticket.id]
    assert branch.bookings[ticket.booking].status == "late"


def test_a_missing_check_in_is_a_booking_no_show_not_a_call_no_show(branch):
    """GIVEN a 10:30 booking nobody checks in WHEN the queue next acts after 10:40 THEN a
    `booking_no_show` is recorded once (and no `ticket_no_show`)."""
    booking = book(branch)["booking"]
    events, _ = run(branch, "issue_ticket", "10:40", service="a")
    assert "booking_no_show" not in [e.type for e in events]  # 10:40 is still inside
    events, _ = run(branch, "issue_ticket", "10:41", service="a")
    assert [e.type for e in events] == ["booking_no_show", "ticket_issued"]
    assert events[0].data == {"booking": booking}
    assert branch.bookings[booking].status == "no_show"
    events, _ = run(branch, "issue_ticket", "10:42", service="a")
    assert [e.type for e in events] == ["ticket_issued"]


def test_bookable_capacity_per_hour_keeps_the_walk_ins_share():
    """GIVEN 2 bookings an hour WHEN a third is asked for the same hour THEN it is refused
    `booking_full` with the hour; another hour, or after a cancel, it is taken."""
    branch = Branch(bookable_rules(per_hour=2))
    first = book(branch, "10:00")["booking"]
    book(branch, "10:50")
    full = refused(branch, "book", "08:00", service="a", time=f"{DAY} 10:30")
    assert full["code"] == "booking_full" and full["params"] == {"time": "10:00"}
    book(branch, "11:00")
    ok(branch, "cancel_booking", "08:01", booking=first)
    book(branch, "10:30")
    assert refused(branch, "cancel_booking", "08:02", booking=first)["code"] == "booking_closed"


def test_bad_bookings_are_refused_with_codes(branch):
    """GIVEN bad requests THEN each is refused with its catalogued code."""
    assert refused(branch, "book", "08:00", service="b", time=f"{DAY} 10:00")["code"] == (
        "not_bookable"
    )
    assert refused(branch, "book", "08:00", service="a", time="soon")["code"] == (
        "bad_booking_time"
    )
    assert refused(branch, "book", "08:00", service="a", time=f"{DAY} 07:00")["code"] == (
        "bad_booking_time"
    )
    assert refused(branch, "book", "08:00", service="a", time=f"{DAY} 10:00",
                   duration="forever")["code"] == "bad_duration"  # fmt: skip
    assert refused(branch, "book", "08:00", service="a", time=f"{DAY} 10:00",
                   priority="vip")["code"] == "unknown_priority"  # fmt: skip
    assert refused(branch, "check_in", "10:00", code="NOPE")["code"] == "unknown_booking"
    cancelled = book(branch)
    ok(branch, "cancel_booking", "09:00", booking=cancelled["booking"])
    assert refused(branch, "check_in", "10:30", code=cancelled["code"])["code"] == (
        "unknown_booking"
    )


def test_a_booking_keeps_its_priority_class(branch):
    """GIVEN a booking in the priority class WHEN checked in THEN its ticket has that class
    and the panel's reason names both."""
    from nowserving.domain.policy import why_first

    code = book(branch, priority="priority")["code"]
    ticket = branch.tickets[ok(branch, "check_in", "10:25", code=code)["ticket"]]
    assert ticket.priority == "priority"
    assert why_first(ticket, branch.rules.priorities) == {
        "appointment": at("10:30"),
        "priority": "priority",
    }


def test_replaying_the_log_and_a_snapshot_rebuild_the_bookings(branch):
    """GIVEN bookings made, cancelled, checked in and missed WHEN the log is replayed into
    a new branch, and a snapshot reloaded THEN both hold the same bookings and line."""
    log = []
    for hm in ("10:00", "10:30", "11:00"):
        log += run(branch, "book", "08:00", service="a", time=f"{DAY} {hm}")[0]
    codes = {b.at: b for b in branch.bookings.values()}
    log += run(branch, "cancel_booking", "08:05", booking=codes[at("11:00")].id)[0]
    # the 10:30 booking's code is not known here (only its hash): check in a fresh one
    events, outcome = run(branch, "book", "08:06", service="a", time=f"{DAY} 10:45")
    log += events
    log += run(branch, "check_in", "10:20", code=outcome["code"])[0]
    log += run(branch, "issue_ticket", "10:39", service="a")[0]  # notices 10:00's no-show
    replayed = Branch(branch.rules)
    for event in log:
        replayed.apply(event)
    loaded = Branch.from_dict(branch.rules, json.loads(json.dumps(branch.to_dict())))
    for other in (replayed, loaded):
        assert {k: v.to_dict() for k, v in other.bookings.items()} == {
            k: v.to_dict() for k, v in branch.bookings.items()
        }
        assert [t.id for t in other.waiting_line("a")] == [t.id for t in branch.waiting_line("a")]
    statuses = sorted(b.status for b in branch.bookings.values())
    assert statuses == ["booked", "cancelled", "checked_in", "no_show"]


def test_a_transferred_appointment_is_placed_by_the_transfer_rule(branch):
    """GIVEN an appointment ticket called and transferred to another service THEN it no
    longer counts from its booked time; undoing the transfer puts it back."""
    code = book(branch)["code"]
    ticket = ok(branch, "check_in", "10:28", code=code)["ticket"]
    ok(branch, "call_next", "10:29", counter="c1")
    ok(branch, "transfer", "10:31", counter="c1", to_service="b")
    assert branch.tickets[ticket].booked_at is None
    ok(branch, "undo_transfer", "10:31", counter="c1", ticket=ticket)
    assert branch.tickets[ticket].booked_at == at("10:30")


def test_a_known_ref_answers_with_the_same_booking_and_code_after_a_restart(branch):
    """GIVEN a booking made with the booking system's `ref` WHEN the same `book` comes again
    under new command ids, in this branch and in one replayed from the log (the command-id
    memory empty, as after a restart or 50,000 commands later) THEN nothing is booked twice:
    the reply names the same booking with the same code; the log holds the ref, not the
    code."""
    branch.code_key = b"k" * 32
    events, first = run(branch, "book", "08:00", service="a", time=f"{DAY} 10:30", ref="CRM-7")
    text = json.dumps([e.to_dict() for e in events])
    assert "CRM-7" in text and first["code"] not in text
    again = ok(branch, "book", "08:01", service="a", time=f"{DAY} 10:30", ref="CRM-7")
    assert (again["event"], again["booking"], again["code"]) == (
        "booking_known", first["booking"], first["code"],
    )  # fmt: skip
    replayed = Branch(branch.rules)
    replayed.code_key = branch.code_key
    for event in events:
        replayed.apply(event)
    later = ok(replayed, "book", "11:00", service="a", time=f"{DAY} 10:30", ref="CRM-7")
    assert (later["booking"], later["code"]) == (first["booking"], first["code"])
    assert len(replayed.bookings) == 1
    # Changed in the booking system since: refused, never booked twice.
    changed = refused(replayed, "book", "08:02", service="a", time=f"{DAY} 11:30", ref="CRM-7")
    assert changed["code"] == "booking_changed" and changed["params"] == {
        "booking": first["booking"]
    }
    # Once cancelled, the ref may be booked anew: a new booking with a new code.
    ok(replayed, "cancel_booking", "08:03", booking=first["booking"])
    anew = ok(replayed, "book", "08:04", service="a", time=f"{DAY} 11:30", ref="CRM-7")
    assert anew["event"] == "booking_made" and anew["code"] != first["code"]
    loaded = Branch.from_dict(branch.rules, json.loads(json.dumps(replayed.to_dict())))
    assert loaded.booking_refs == {"CRM-7": anew["booking"]}


def test_without_the_code_key_a_known_ref_is_answered_without_a_code(branch):
    """GIVEN a booking made with a ref by a branch without a code key (random code) WHEN
    booked again with the ref THEN the reply names the booking but gives no code."""
    first = book(branch, ref="ics-uid-1")
    again = book(branch, ref="ics-uid-1")
    assert again["booking"] == first["booking"] and "code" not in again


def test_people_ahead_counts_checked_in_appointments_and_the_bookings_due_before_them():
    """GIVEN walk-ins at 10:00 and 10:27, a 10:30 booking checked in at 10:10, and
    bookings at 10:31 (due), 10:32 (cancelled), 10:50 (later than the merged order puts
    before anyone here) and 10:15 (past its window: it would come as a walk-in) WHEN a
    walk-in takes a ticket at 10:28 THEN four are ahead of them, two with appointments
    (one checked in, one due); the reply, the line message and the webhook's count agree,
    and the words say so in both languages."""
    from nowserving.i18n import ahead_words
    from nowserving.protocol.messages import line_message, ticket_view

    branch = Branch(bookable_rules(per_hour=6))
    codes = {hm: book(branch, hm) for hm in ("10:15", "10:30", "10:31", "10:32", "10:50")}
    ok(branch, "cancel_booking", "08:01", booking=codes["10:32"]["booking"])
    ok(branch, "issue_ticket", "10:00", service="a")
    ok(branch, "check_in", "10:10", code=codes["10:30"]["code"])
    ok(branch, "issue_ticket", "10:27", service="a")
    new = branch.tickets[ok(branch, "issue_ticket", "10:28", service="a")["ticket"]]
    ahead = branch.people_ahead(new, at("10:28"))
    assert (ahead.people, ahead.appointments, ahead.due) == (4, 2, 1)
    view = ticket_view(branch, new, at("10:28"))
    assert (view["ahead"], view["ahead_appointments"]) == (4, 2)
    heads = line_message(branch, "a", at("10:28"))["tickets"]
    assert [(t["ahead"], t.get("ahead_appointments", 0)) for t in heads] == [
        (0, 0), (1, 0), (3, 2), (4, 2)  # 10:00; the appointment; 10:27 (after 10:31 less 5 min)
    ]  # fmt: skip
    assert branch.people_ahead(branch.tickets[heads[2]["id"]], at("10:28")).people == 3
    # Once the 10:31 booking's window has closed, it goes before nobody; nor once cancelled.
    assert branch.people_ahead(new, at("10:42")).people == 3
    ok(branch, "cancel_booking", "10:29", booking=codes["10:31"]["booking"])
    assert branch.people_ahead(new, at("10:29")) == Ahead(3, 1, 0)
    assert ahead_words("en", 4, 2) == "4 people ahead of you, incl. 2 with appointments"
    assert ahead_words("zh", 4, 2) == "前面还有 4 人（含预约 2 人）"
    assert ahead_words("en", 3) == "3 people ahead of you"
