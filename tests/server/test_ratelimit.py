"""Refusal logging, bounded per device."""

from __future__ import annotations

import logging

from nowserving.server.ratelimit import RefusalLog


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_each_device_gets_a_burst_then_a_count(caplog):
    """GIVEN 100 refusals from one device and 2 from another in a minute WHEN logged THEN
    the first device gets 10 lines and a notice, the other both lines, and the next
    window opens with the count of what was left out."""
    clock = Clock()
    refusals = RefusalLog(logging.getLogger("test.refusals"), burst=10, window_s=60, clock=clock)
    with caplog.at_level(logging.INFO, logger="test.refusals"):
        for i in range(100):
            refusals.note("kiosk-1", "refused %d", i)
        refusals.note("kiosk-2", "refused a")
        refusals.note("kiosk-2", "refused b")
        clock.now = 61
        refusals.note("kiosk-1", "refused late")
    lines = [r.getMessage() for r in caplog.records]
    assert lines[:10] == [f"refused {i}" for i in range(10)]
    assert "more than 10 refusals" in lines[10]
    assert lines[11:13] == ["refused a", "refused b"]
    assert lines[13] == "kiosk-1: 90 more refusals were not logged (window of 60 s)"
    assert lines[14] == "refused late" and len(lines) == 15


def test_many_devices_are_bounded_too(caplog):
    """GIVEN refusals from 1,000 made-up device names WHEN logged THEN memory stays bounded."""
    refusals = RefusalLog(logging.getLogger("test.refusals"), max_devices=50, clock=Clock())
    for i in range(1000):
        refusals.note(f"device-{i}", "refused")
    assert len(refusals._devices) == 50
