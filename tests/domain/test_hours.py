"""Opening hours: the queue issues no ticket while the branch is closed, and says when it
opens."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from nowserving.domain import Branch, Command
from tests.conftest import small_rules

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOURS = {
    "mon": (time(9), time(17)),
    "fri": (time(9), time(17)),
    "sat": (time(9, 30), time(15)),
    "sun": None,
}  # tue-thu not listed: no hours (open all day)


def at(day: int, hh: int, mm: int = 0) -> float:
    """2026-11-`day` hh:mm in Shanghai (the 23rd is a Monday)."""
    return datetime(2026, 11, day, hh, mm, tzinfo=SHANGHAI).timestamp()


@pytest.fixture
def rules():
    return small_rules(timezone="Asia/Shanghai", hours=HOURS)


@pytest.mark.parametrize(
    ("now", "open_", "next_opening"),
    [
        (at(23, 8, 59), False, at(23, 9)),  # Monday before opening
        (at(23, 9), True, None),
        (at(23, 16, 59), True, None),
        (at(23, 17), False, at(24, 0)),  # Tuesday has no hours: open from midnight
        (at(24, 3), True, None),
        (at(28, 15, 0), False, at(30, 9)),  # Saturday after 15:00: Sunday closed -> Monday
        (at(29, 12), False, at(30, 9)),  # Sunday
    ],
)
def test_when_the_branch_is_open_and_when_it_opens_next(rules, now, open_, next_opening):
    assert rules.open_at(now) is open_
    assert rules.next_opening(now) == next_opening


def test_closing_time_is_the_days_own(rules):
    assert rules.closes_at(at(28, 10)) == at(28, 15)  # Saturday
    assert rules.closes_at(at(24, 10)) is None  # no hours on Tuesday
    assert rules.closes_at(at(29, 10)) is None  # closed on Sunday


def test_no_ticket_or_lease_while_the_branch_is_closed(rules):
    """GIVEN Sunday WHEN a kiosk asks for a ticket or a lease THEN it is refused, saying
    when the branch opens; on Monday at 09:00 it is issued."""
    branch = Branch(rules)
    for kind, args in (("issue_ticket", {"service": "a"}), ("lease_numbers", {"service": "a"})):
        _, outcome, _ = branch.handle(Command(f"k-{kind}", kind, "kiosk", at(29, 12), args))
        assert outcome["code"] == "branch_closed"
        assert "it opens 2026-11-30 09:00" in outcome["message"]
    _, outcome, _ = branch.handle(
        Command("k-2", "issue_ticket", "kiosk", at(30, 9), {"service": "a"})
    )
    assert outcome["ok"] and outcome["ticket"].endswith("/A001")
