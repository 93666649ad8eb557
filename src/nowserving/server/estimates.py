"""Wait estimates off the command path: a child process estimates from frozen copies.

The apply loop hands over a `Branch.frozen_copy()` now and then; this module's thread
sends it to a child process, which runs the estimator, and hands the result back through
`on_done` (the server turns it into an inbox item, taken up in order with the commands).
The child also makes the calibration's refit that the learner's fold asked for since the
last copy (`Learner.fit_due`, ~3 ms over 10,000 misses), before estimating, and sends it
back with the estimates: the apply loop takes it (`Learner.take_fit`) instead of refitting.
A process, not a thread: estimating a thousand tickets is pure Python, and a thread doing
it would hold the GIL for milliseconds at a time while commands wait. So a command never
waits for estimates, and estimates that fail (or a child that dies) are logged and left
out; they never stop the branch.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import time
import traceback
from collections.abc import Callable

from nowserving.domain import Branch
from nowserving.domain.calibration import Calibration
from nowserving.domain.estimate import Estimator
from nowserving.protocol.messages import Estimates
from nowserving.server.ratelimit import RefusalLog

log = logging.getLogger(__name__)

# Spawned, not forked: the server has threads (paho's), and a fork copies their locks.
_CONTEXT = multiprocessing.get_context("spawn")
CHILD_NICENESS = 10
CHILD_TIMEOUT_S = 60.0  # a child that takes longer is taken as hung: killed, estimates left out

EstimateAll = Callable[[Branch, float], tuple[dict, dict]]
Fit = tuple[int, Calibration]  # a calibration refit: (its fixed point, the factors)
# What is large goes between the processes in pieces: pickling (and unpickling) is one C
# call that holds the GIL, so a copy with 1,000 tickets pickled in one held the apply loop
# up for ~2-3 ms (~10 ms on a loaded machine); in pieces, for ~0.2 ms at most at a time.
# The open tickets, what the learner keeps per service and per counter, the misses of a
# refit due (up to 10,000), and the tickets' estimates.
TICKETS_PIECE = 100
MISSES_PIECE = 1000
ESTIMATES_PIECE = 200


def _send_pieces(connection, items: list, size: int) -> None:
    for start in range(0, len(items), size):
        connection.send(items[start : start + size])


def _recv_pieces(connection, count: int) -> list:
    return [item for _ in range(count) for item in connection.recv()]


def _pieces(items: list, size: int) -> int:
    return -(-len(items) // size)


def estimate_all(branch: Branch, now: float) -> tuple[dict, dict]:
    """Estimates for every waiting ticket and every service's newcomer."""
    return Estimator(branch, now).for_all()


def _child(connection, estimate: EstimateAll) -> None:
    """The child process: estimate each branch it is sent until told to stop."""
    # Background work: on a Pi's few cores, the apply loop and the broker come first.
    with contextlib.suppress(OSError):
        os.nice(CHILD_NICENESS)
    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        branch, now, counts, due_at = request
        # The rest of the copy, in pieces (see `_send`): read before anything can fail.
        tickets, services, counters, misses = (_recv_pieces(connection, n) for n in counts)
        branch.tickets = {t.id: t for t in tickets}
        branch.learner.services, branch.learner.counters = dict(services), dict(counters)
        started = time.monotonic()
        fit = None
        try:
            if due_at is not None:
                branch.learner.set_due(due_at, tuple(misses))
            fit = branch.learner.fit_due()  # first: the estimates use it, as on the loop
            tickets, arrivals = estimate(branch, now)
        except Exception:
            connection.send((False, traceback.format_exc(), time.monotonic() - started, fit, 0))
            continue
        items = list(tickets.items())
        header = (arrivals, now, branch.seq)
        took = time.monotonic() - started
        connection.send((True, header, took, fit, _pieces(items, ESTIMATES_PIECE)))
        _send_pieces(connection, items, ESTIMATES_PIECE)


class EstimateWorker:
    """One child process and one thread talking to it; at most one estimate running and
    one waiting."""

    def __init__(
        self,
        on_done: Callable[[Estimates | None, float, Fit | None], None],
        estimate: EstimateAll = estimate_all,
    ) -> None:
        self._on_done = on_done  # (estimates or None if they failed, seconds taken, Fit)
        self._estimate = estimate
        self._cond = threading.Condition()
        self._request: tuple[Branch, float] | None = None
        self._busy = False
        self._closed = False
        self._failures = RefusalLog(log, burst=3, window_s=600)
        self._process = self._connection = None
        self._thread = threading.Thread(target=self._run, name="estimates", daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        """Whether estimates are being made now."""
        with self._cond:
            return self._busy or self._request is not None

    def request(self, branch: Branch, now: float) -> None:
        """Estimate `branch` (a frozen copy, no longer changed by anyone) as of `now`."""
        with self._cond:
            self._request = (branch, now)
            self._cond.notify()

    def close(self) -> None:
        """Stop the worker thread and its process at once: an estimate under way is
        dropped (the child holds nothing worth keeping), so a stopping server does not
        wait for one made on a loaded machine."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            process = self._process
        if process is not None:
            process.kill()  # the thread's poll() then sees the pipe close (EOFError)
        self._thread.join(timeout=10)

    def _start_child(self) -> None:
        self._connection, theirs = _CONTEXT.Pipe()
        process = _CONTEXT.Process(
            target=_child, args=(theirs, self._estimate), name="nowserving-estimates"
        )
        process.daemon = True
        process.start()
        with self._cond:  # seen by close() only once started (then it can be killed)
            self._process = process
        theirs.close()
        if self._closed:  # closed while it started: close() did not see it
            process.kill()

    def _stop_child(self) -> None:
        if self._process is None:
            return
        with contextlib.suppress(OSError):
            self._connection.send(None)  # asks it to stop
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)
        self._connection.close()
        self._process = self._connection = None

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._request is not None or self._closed)
                    if self._closed:
                        return
                    (branch, now), self._request = self._request, None
                    self._busy = True
                try:
                    result, took, fit = self._ask(branch, now)
                except Exception as err:  # e.g. a state that cannot be pickled: a bug
                    self._failures.note("estimates", "estimating failed: %r", err, exc_info=True)
                    self._stop_child()
                    result, took, fit = None, 0.0, None
                finally:
                    with self._cond:
                        self._busy = False
                self._on_done(result, took, fit)  # worker thread -> apply thread (an inbox item)
        finally:
            self._stop_child()

    def _ask(self, branch: Branch, now: float) -> tuple[Estimates | None, float, Fit | None]:
        started = time.monotonic()
        try:
            if self._process is None:
                self._start_child()
            self._send(branch, now)
            if not self._connection.poll(CHILD_TIMEOUT_S):
                raise TimeoutError(f"no estimates after {CHILD_TIMEOUT_S:g} s")
            ok, result, took, fit, pieces = self._connection.recv()
            if ok:  # the tickets' estimates follow in pieces (see ESTIMATES_PIECE)
                arrivals, at, seq = result
                result = (dict(_recv_pieces(self._connection, pieces)), arrivals, at, seq)
        except (EOFError, OSError) as err:  # died or hung (TimeoutError): a new one next time
            if not self._closed:  # (when closing, killed on purpose)
                self._failures.note("estimates", "the estimating process failed: %r", err)
            self._stop_child()
            return None, time.monotonic() - started, None
        if not ok:
            self._failures.note(
                "estimates",
                "wait estimates failed at seq %d; left out of the state:\n%s",
                branch.seq,
                result,
                level=logging.ERROR,
            )
            return None, took, fit
        return result, took, fit

    def _send(self, branch: Branch, now: float) -> None:
        """The copy without what is large in it, then that in pieces (see TICKETS_PIECE):
        its tickets, the learner's windows per service and per counter (~0.2 ms each to
        pickle), and the misses of a refit due. The copy is this thread's to take apart."""
        learner = branch.learner
        parts = [
            (list(branch.tickets.values()), TICKETS_PIECE),
            (list(learner.services.items()), 1),
            (list(learner.counters.items()), 10),
        ]
        due_at, misses = learner.hand_over_due() or (None, ())
        parts.append((misses, MISSES_PIECE))
        branch.tickets, learner.services, learner.counters = {}, {}, {}
        counts = tuple(_pieces(items, size) for items, size in parts)
        self._connection.send((branch, now, counts, due_at))
        for items, size in parts:
            _send_pieces(self._connection, items, size)
