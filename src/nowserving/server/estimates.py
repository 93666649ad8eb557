"""Wait estimates off the command path: a child process estimates from frozen copies.

The apply loop hands over a `Branch.frozen_copy()` now and then; this module's thread
sends it to a child process, which runs the estimator, and hands the result back through
`on_done` (the server turns it into an inbox item, taken up in order with the commands).
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
from nowserving.domain.estimate import Estimator
from nowserving.protocol.messages import Estimates
from nowserving.server.ratelimit import RefusalLog

log = logging.getLogger(__name__)

# Spawned, not forked: the server has threads (paho's), and a fork copies their locks.
_CONTEXT = multiprocessing.get_context("spawn")
CHILD_NICENESS = 10
CHILD_TIMEOUT_S = 60.0  # a child that takes longer is taken as hung: killed, estimates left out

EstimateAll = Callable[[Branch, float], tuple[dict, dict]]


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
        branch, now = request
        started = time.monotonic()
        try:
            tickets, arrivals = estimate(branch, now)
            reply = (True, (tickets, arrivals, now, branch.seq))
        except Exception:
            reply = (False, traceback.format_exc())
        connection.send((*reply, time.monotonic() - started))


class EstimateWorker:
    """One child process and one thread talking to it; at most one estimate running and
    one waiting."""

    def __init__(
        self,
        on_done: Callable[[Estimates | None, float], None],
        estimate: EstimateAll = estimate_all,
    ) -> None:
        self._on_done = on_done  # (estimates or None if they failed, seconds taken)
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
                    result, took = self._ask(branch, now)
                except Exception as err:  # e.g. a state that cannot be pickled: a bug
                    self._failures.note("estimates", "estimating failed: %r", err, exc_info=True)
                    self._stop_child()
                    result, took = None, 0.0
                finally:
                    with self._cond:
                        self._busy = False
                self._on_done(result, took)  # worker thread -> apply thread (an inbox item)
        finally:
            self._stop_child()

    def _ask(self, branch: Branch, now: float) -> tuple[Estimates | None, float]:
        started = time.monotonic()
        try:
            if self._process is None:
                self._start_child()
            self._connection.send((branch, now))
            if not self._connection.poll(CHILD_TIMEOUT_S):
                raise TimeoutError(f"no estimates after {CHILD_TIMEOUT_S:g} s")
            ok, result, took = self._connection.recv()
        except (EOFError, OSError) as err:  # died or hung (TimeoutError): a new one next time
            if not self._closed:  # (when closing, killed on purpose)
                self._failures.note("estimates", "the estimating process failed: %r", err)
            self._stop_child()
            return None, time.monotonic() - started
        if not ok:
            self._failures.note(
                "estimates",
                "wait estimates failed at seq %d; left out of the state:\n%s",
                branch.seq,
                result,
                level=logging.ERROR,
            )
            return None, took
        return result, took
