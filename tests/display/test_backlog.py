"""Which form a call is said in when calls queue up: fewer repeats first, then one
language; a call is dropped only when even that leaves a later call too late, and then the
oldest, never the newest."""

from __future__ import annotations

from nowserving.display.backlog import MARGIN_S, TURN_OVERHEAD_S, Form, Waiting, forms, plan

# Seconds of a call in each form of forms(2, True): twice both, once both, once one.
FULL, ONCE, SHORT = 18.4, 9.6, 5.5
LENGTHS = (FULL, ONCE, SHORT)


def burst(n: int, deadline: float = 60.0) -> list[Waiting]:
    return [Waiting(deadline, LENGTHS) for _ in range(n)]


def test_forms_drop_repeats_one_at_a_time_then_the_second_language():
    assert forms(3, True) == [Form(3, True), Form(2, True), Form(1, True), Form(1, False)]
    assert forms(2, False) == [Form(2, False), Form(1, False)]
    assert forms(1, False) == [Form(1, False)]
    assert [f.describe() for f in forms(2, True)] == [
        "twice, both languages", "once, both languages", "once, one language",
    ]  # fmt: skip


def test_a_call_alone_or_with_room_to_spare_is_said_in_full():
    assert plan(0.0, burst(1)) == 0
    assert plan(0.0, burst(4)) == 0  # the fourth starts at 3 x 18.65 = 55.95


def test_the_backlog_decides_how_much_is_said():
    """GIVEN n calls made at once with 60 s to start WHEN the first's turn comes THEN the
    fullest form in which all n, each in that form, start in time, MARGIN_S to spare."""
    assert MARGIN_S == 1.0
    assert plan(0.0, burst(5)) == 1  # in full, the fifth would start at 74.6
    assert plan(0.0, burst(6)) == 1  # once, both: the sixth at 5 x 9.85 = 49.25
    assert plan(0.0, burst(7)) == 2  # the seventh would start at 59.1, later than 59
    assert plan(0.0, burst(8)) == 2
    assert plan(0.0, burst(10)) == 2  # the tenth at 9 x 5.75 = 51.75


def test_the_deadlines_count_from_now():
    assert plan(49.0, burst(2)) == 1  # the second starts at 58.85
    assert plan(53.0, burst(2)) == 2  # 58.75
    assert plan(54.0, burst(2)) is None  # 59.75: too late for the second, even so
    assert plan(50.0 - FULL - TURN_OVERHEAD_S, burst(2)) == 0


def test_when_even_the_shortest_form_is_too_long_the_oldest_is_dropped():
    assert plan(0.0, burst(12)) is None  # the twelfth would start at 63.25
    assert plan(0.0, burst(11)) == 2  # 57.5
    # The newest is never dropped to make room: with nothing behind it, it is said.
    assert plan(59.0, burst(1)) == 0


def test_calls_behind_that_are_already_late_take_no_time():
    stale = Waiting(-1.0, LENGTHS)  # it will be dropped as its turn comes
    assert plan(0.0, [Waiting(60.0, LENGTHS), stale, stale, Waiting(60.0, LENGTHS)]) == 0
    assert plan(0.0, [Waiting(60.0, LENGTHS), stale]) == 0
