"""How much of each call there is time to say when calls queue up: the forms a call can be
said in, fullest first (`forms`), and which one the call whose turn it is gets (`plan`).

Pure arithmetic over clip lengths and deadlines (docs/announcements.md, "When calls queue
up"): no clock, no thread, no sound.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Between two calls: building the WAV and starting the player. Counted per call so that a
# plan that just fits on paper still fits with a player that takes a moment to start.
TURN_OVERHEAD_S = 0.25
# Kept free before the deadline of each call behind the first: the plan is made again at
# every turn, so only the last step's error counts, and a player that once takes longer to
# start than TURN_OVERHEAD_S must not cost the newest call.
MARGIN_S = 1.0


@dataclass(frozen=True)
class Form:
    """How much of a call is said: its speech `repeat` times, in one or both languages."""

    repeat: int
    other_language: bool

    def describe(self) -> str:
        """A few words for logs and events: "twice, both languages", "once, one language"."""
        times = {1: "once", 2: "twice"}.get(self.repeat, f"{self.repeat} times")
        return f"{times}, {'both languages' if self.other_language else 'one language'}"


def forms(repeat: int, other_language: bool) -> list[Form]:
    """The forms a call may be said in, fullest (as configured) first: one repeat fewer at
    each step, then once in the customer's language only."""
    steps = [Form(r, other_language) for r in range(max(1, repeat), 0, -1)]
    if other_language:
        steps.append(Form(1, False))
    return steps


@dataclass(frozen=True)
class Waiting:
    """A call in the backlog: when it must start by (monotonic) and how long each form
    takes (seconds, in the order of `forms`)."""

    deadline: float
    seconds: Sequence[float]


def plan(now: float, backlog: Sequence[Waiting]) -> int | None:
    """The form (an index into `forms`) for the first call of `backlog`, whose turn it is;
    None: drop it to make room.

    The fullest form in which every call of the backlog, each said in that form one after
    the other, starts by its deadline (each behind the first with MARGIN_S to spare). Calls
    behind whose deadline has already passed are left out: they will be dropped as they
    come, taking no time. When even the shortest form leaves a call behind too late, the
    first call is dropped, so that a burst costs its oldest calls and the newest is always
    said; a call with nothing (live) behind it is never dropped here.
    """
    first, *behind = backlog
    live = [first, *(w for w in behind if w.deadline >= now)]
    for form in range(len(first.seconds)):
        if _fits(now, live, form):
            return form
    return None if len(live) > 1 else len(first.seconds) - 1


def _fits(now: float, calls: Sequence[Waiting], form: int) -> bool:
    first, *behind = calls
    start = now + first.seconds[form] + TURN_OVERHEAD_S
    for call in behind:
        if start > call.deadline - MARGIN_S:
            return False
        start += call.seconds[form] + TURN_OVERHEAD_S
    return True
