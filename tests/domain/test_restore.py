"""Restarting from a log older than what devices saw (a backup): a new epoch, and no number
given twice."""

from __future__ import annotations

from nowserving.domain import Branch, Command, Seen
from tests.conftest import T0


def send(branch, kind, at, device="kiosk", **args):
    return branch.handle(Command(f"{device}-{kind}-{at}", kind, device, at, args))


def day_of_tickets(rules, tickets: int) -> tuple[Branch, list]:
    """A branch that issued `tickets` online tickets for service a and leased 5 numbers to
    kiosk-2 at the end; returns it and every event."""
    branch, events = Branch(rules), []
    for i in range(tickets):
        events += send(branch, "issue_ticket", T0 + i, service="a")[0]
    events += send(branch, "lease_numbers", T0 + tickets, device="kiosk-2", service="a",
                   count="5")[0]  # fmt: skip
    return branch, events


def seen(branch: Branch) -> Seen:
    numbers = {s: (branch.numbered[s], branch.leased_top[s]) for s in branch.rules.services}
    return Seen(branch.epoch, branch.seq, branch.business_day, numbers)


def test_a_restored_log_starts_a_new_epoch_past_every_number_devices_saw(rules):
    """GIVEN a day of 30 tickets and a lease, of which the log kept only the first 20
    events WHEN the server restores THEN it is at epoch 1 (ahead of what devices saw), the
    next online ticket is A031, and kiosk-2 can still issue from the lease the log lost."""
    full, events = day_of_tickets(rules, 30)
    old = Branch(rules)
    for event in events[:20]:
        old.apply(event)
    assert seen(full).ahead_of(old)
    restored = old.restore(T0 + 100, seen(full))
    assert [e.type for e in restored] == ["log_restored"]
    assert old.epoch == 1 and not seen(full).ahead_of(old)
    online = send(old, "issue_ticket", T0 + 101, service="a")[1]
    assert online["ticket"].endswith("/A031")
    offline = send(old, "issue_ticket", T0 + 102, device="kiosk-2", service="a", number="A995",
                   issued_at=str(T0 + 50))[1]  # fmt: skip
    assert offline["ok"], offline
    # The lease's numbers stay out of the online range: one online ticket more is all
    # that was taken since.
    assert old.numbers_left(rules.services["a"]) == full.numbers_left(rules.services["a"]) - 1


def test_an_empty_log_restored_begins_the_day_devices_saw(rules):
    full, _ = day_of_tickets(rules, 12)
    empty = Branch(rules)
    restored = empty.restore(T0 + 100, seen(full))
    assert [e.type for e in restored] == ["day_started", "log_restored"]
    assert send(empty, "issue_ticket", T0 + 101, service="a")[1]["ticket"].endswith("/A013")


def test_a_restore_past_another_day_keeps_no_numbers(rules):
    """GIVEN devices last saw yesterday's state WHEN the server restores today THEN only
    the epoch moves on: today starts at A001."""
    full, _ = day_of_tickets(rules, 12)
    tomorrow = T0 + 86400
    empty = Branch(rules)
    empty.restore(tomorrow, seen(full))
    assert empty.epoch == 1
    assert send(empty, "issue_ticket", tomorrow + 1, service="a")[1]["ticket"].endswith("/A001")


def test_a_restore_replays_to_the_same_state(rules):
    full, events = day_of_tickets(rules, 30)
    old = Branch(rules)
    for event in events[:20]:
        old.apply(event)
    log = events[:20] + old.restore(T0 + 100, seen(full))
    log += send(old, "issue_ticket", T0 + 101, service="a")[0]
    again = Branch(rules)
    for event in log:
        again.apply(event)
    assert again.to_dict() == old.to_dict()
    assert Branch.from_dict(rules, old.to_dict()).to_dict() == old.to_dict()
