"""Waiting for what another thread writes (paho's, gpiozero's, the server's apply loop),
where no event or signal says that it is done: poll the condition, with a deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, what: str = "") -> T:
    """Wait until `predicate()` is true (checked every 20 ms) and return it; fail the test
    after `timeout` seconds, naming `what` it waited for."""
    deadline = time.monotonic() + timeout
    tick = threading.Event()  # never set: its wait is the pause between checks
    while not (result := predicate()):
        if time.monotonic() >= deadline:
            pytest.fail(f"waited {timeout:g} s for {what or 'a condition'} in vain")
        tick.wait(0.02)
    return result
