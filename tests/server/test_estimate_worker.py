"""The estimating process: what goes to it in pieces comes back whole, with the refit."""

from __future__ import annotations

import math
import queue
import random

from nowserving.domain import Branch, Command
from nowserving.domain.learning import Learner
from nowserving.server.estimates import TICKETS_PIECE, EstimateWorker
from tests.conftest import T0, small_rules


def test_the_estimating_process_estimates_a_copy_sent_in_pieces_and_makes_the_refit():
    """GIVEN a branch whose learner leaves refits to the estimating process, with a refit
    due and more open tickets than one piece holds WHEN its frozen copy is estimated by the
    real child process THEN every waiting ticket comes back with an estimate, and the refit
    it sends back gives the factors the fold itself would have (a learner refitting inline
    on the same misses), which the branch then takes."""
    branch = Branch(small_rules())
    branch.learner.fit_elsewhere = True
    services = sorted(branch.rules.services)
    for i in range(TICKETS_PIECE + 30):
        args = {"service": services[i % len(services)]}
        branch.handle(Command(f"i{i}", "issue_ticket", "kiosk", T0 + i, args))
    inline, rng = Learner(services), random.Random(7)
    raw = {"raw": [100.0, 140.0], "ahead": 1, "mean": 120.0}
    for _ in range(100):
        wait = 120 * math.exp(rng.gauss(0, 1.0))
        branch.learner.judged(raw, wait, "2026-11-23")
        inline.judged(raw, wait, "2026-11-23")
    assert branch.learner.calibration(1, 120) != inline.calibration(1, 120)  # not refitted
    done: queue.Queue = queue.Queue()
    worker = EstimateWorker(lambda *result: done.put(result))  # worker thread -> test
    try:
        worker.request(branch.frozen_copy(), T0 + 200)
        estimates, _, fit = done.get(timeout=60)
    finally:
        worker.close()
    assert estimates is not None
    waiting = {t for line in branch.lines.values() for t in line}
    assert len(waiting) > TICKETS_PIECE and set(estimates[0]) == waiting
    assert fit is not None and fit[0] == 100
    branch.learner.take_fit(*fit)
    assert branch.learner.calibration(1, 120) == inline.calibration(1, 120)
    mine, theirs = branch.learner.to_dict(), inline.to_dict()
    assert (mine["calibration"], mine["misses"]) == (theirs["calibration"], theirs["misses"])
