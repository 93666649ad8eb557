"""The wait a new ticket is given at issue: what its `ticket_issued` event records.

`NewcomerEstimates` is held by whoever applies commands (the server, the simulator) and
handed to `Branch.handle` as `newcomers.estimate`; the branch calls it while deciding an
online ticket and puts what it returns in the event. So replaying the log never
recomputes an estimate, and the branch keeps no estimator's caches.

Simulating a newcomer costs milliseconds, which a burst of tickets at shared counters
would pay one after another. So this keeps two things the branch's events never see:

- **anchors**: newcomer estimates the server made off the command path
  (`server/estimates.py`); a ticket issued up to `ANCHOR_S` after one starts from it,
  shifted by the change in people ahead;
- **the recent estimate** per (service, priority): reused, shifted the same way, within
  `estimate.REUSE_S` of a fresh one (`Estimator.for_new_ticket`) — within `ANCHOR_S` when
  the newcomer was deep in a long line (`estimate.DEEP_STEPS`).

Where no honest estimate could be made (no simulated future called the newcomer), that
is remembered as well, the same way (and an anchor of None for `ANCHOR_S`): a line too
long to estimate does not make every ticket of a burst simulate it again.

Both are forgotten when a counter opens, pauses or closes, or a day starts (the branch's
`counters_changed`), and anchors made from a state older than that are ignored.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from nowserving.domain.estimate import REUSE_S, Estimate, Estimator

if TYPE_CHECKING:
    from nowserving.domain.branch import Branch

log = logging.getLogger(__name__)

# A newcomer estimate made off the command path is the starting point (shifted by the
# change in people ahead) for tickets issued up to this long after it was made.
ANCHOR_S = 30.0

_Key = tuple[str, str]  # (service, priority)


class NewcomerEstimates:
    """Estimates for new tickets, with the anchors and the reuse cache that keep them cheap."""

    def __init__(self) -> None:
        # The last fresh newcomer estimate per (service, priority): (made at, estimate or
        # None, for how long it is reused).
        self._recent: dict[_Key, tuple[float, Estimate | None, float]] = {}
        # Newcomer estimates made off the command path (see `anchor`), same keys.
        self._anchors: dict[_Key, tuple[float, Estimate | None]] = {}
        self._counters_changed = 0  # the branch's `counters_changed` the two were kept under

    def estimate(
        self, branch: Branch, service: str, priority: str, at: float,
        booked_at: float | None = None, head_start_s: float = 0.0,
    ) -> dict | None:  # fmt: skip
        """The estimate for a ticket of `service` and `priority` issued at `at` into
        `branch` (as it stands before the ticket), as the `ticket_issued` event records it:
        `Estimate.to_dict()` plus the model's own interval as `raw`. None when no open
        counter serves the service, or when estimating failed (logged): an estimate is
        advice, and a failing one must never refuse a customer a ticket. With `booked_at`:
        an appointment checked in inside its window (`Estimator.for_appointment`)."""
        if booked_at is not None:
            try:
                made = Estimator(branch, at).for_appointment(
                    service, priority, booked_at, head_start_s
                )
            except Exception:
                log.exception("no wait estimate for a %s appointment", service)
                return None
            return _recorded(made)
        self._forget_if_counters_changed(branch)
        key = (service, priority)
        try:
            anchor = self._anchors.get(key)
            recent = self._recent.get(key)
            if anchor is not None and at - anchor[0] < ANCHOR_S:
                if anchor[1] is None:  # the estimating process found none: nor would we
                    return None
                estimate = Estimator(branch, at).for_new_ticket(*key, anchor, reuse_s=ANCHOR_S)
            elif recent is not None and recent[1] is None and at - recent[0] < recent[2]:
                return None  # not called in a simulated future, just now: nor would this one
            else:
                estimator = Estimator(branch, at)
                made = (recent[0], recent[1]) if recent is not None else None
                reuse_s = recent[2] if recent is not None else REUSE_S
                estimate = estimator.for_new_ticket(*key, made, reuse_s=reuse_s)
                if not estimator.reused:
                    # Reuse is anchored to the fresh estimate: a steady stream of arrivals
                    # must not ride one simulation for minutes, one second at a time. Deep
                    # in a long line (with an estimate or none) it is reused as long as an
                    # anchor: half a minute moves it little, and simulating it again for
                    # every ticket of a burst would hold up every command.
                    reuse_s = ANCHOR_S if estimator.deep else REUSE_S
                    self._recent[key] = (at, estimate, reuse_s)
        except Exception:
            log.exception("no wait estimate for a new %s ticket", service)
            return None
        return _recorded(estimate)

    def anchor(
        self, branch: Branch, at: float, arrivals: dict[str, Estimate | None], seq: int
    ) -> None:
        """Newcomer estimates (per service, default priority) made at `at` from `branch`'s
        state at `seq`, off the command path: a ticket issued soon after starts from them,
        so issuing never has to simulate a long line. Ignored when a counter opened, paused
        or closed (or a day started) since `seq`: they describe a future that changed."""
        self._forget_if_counters_changed(branch)
        if seq < branch.counters_changed:
            return
        default = next(iter(branch.rules.priorities))
        for service, estimate in arrivals.items():
            if estimate is None or estimate.mean > 0:  # None: no honest estimate, kept too
                self._anchors[(service, default)] = (at, estimate)
            else:  # an idle counter: the next newcomer is estimated afresh
                self._anchors.pop((service, default), None)

    def _forget_if_counters_changed(self, branch: Branch) -> None:
        """The future changed shape (a counter opened, paused or closed; a new day)."""
        if branch.counters_changed != self._counters_changed:
            self._recent.clear()
            self._anchors.clear()
            self._counters_changed = branch.counters_changed


def _recorded(estimate: Estimate | None) -> dict | None:
    """`estimate` as a `ticket_issued` event carries it."""
    if not estimate:
        return None
    recorded = estimate.to_dict()
    raw = (estimate.raw_low, estimate.raw_high)
    if None not in raw:  # the model's own interval: what calibration learns from
        recorded["raw"] = [round(raw[0], 2), round(raw[1], 2)]
    return recorded
