"""Debounced buttons and lamps on gpiozero's MockFactory, pins driven from another thread."""

from __future__ import annotations

import queue

import pytest
from gpiozero.pins.mock import MockFactory

from nowserving.adapters.gpio import Panel
from nowserving.config.hardware import GpioSettings
from tests.kiosk.test_buttons import press
from tests.waiting import wait_until


def presses_of(bounce_ms: int, bounces: int) -> list[str]:
    factory, got = MockFactory(), queue.Queue()
    settings = GpioSettings(buttons={"next": 5}, leds={"busy": 17}, bounce_ms=bounce_ms)
    with Panel(settings, got.put, factory):
        press(factory, 5, bounces=bounces, span_s=0.03)
    return list(got.queue)


def test_a_bounce_storm_is_one_press():
    """GIVEN 20 edges within 30 ms WHEN debounced at 50 ms THEN one press."""
    assert presses_of(50, bounces=10) == ["next"]


def test_without_debouncing_the_storm_is_many_presses():
    """The storm is real: with debouncing off, the same contact gives many presses."""
    assert len(presses_of(0, bounces=10)) > 1


def test_lamps_on_off_and_blink():
    factory = MockFactory()
    with Panel(GpioSettings(leds={"busy": 17}), lambda name: None, factory) as panel:
        lamp = factory.pin(17)
        panel.lamp("busy", on=True)
        assert lamp.state
        panel.lamp("busy", on=False)
        assert not lamp.state
        lamp.clear_states()
        panel.lamp("busy", on=True, blink=True)  # gpiozero blinks it on a thread of its own
        wait_until(lambda: len(lamp.states) >= 4, timeout=5, what="on, off, on")
        assert [s.state for s in lamp.states[1:4]] == [True, False, True]
        panel.lamp("nonexistent", on=True)  # a lamp the device does not have: nothing


def test_a_blinking_lamp_keeps_blinking_through_repeated_updates():
    """GIVEN a lamp told to blink on every state update (50 a second here) THEN it blinks
    at its own pace rather than restarting, and so staying lit."""
    factory = MockFactory()
    with Panel(GpioSettings(leds={"busy": 17}), lambda name: None, factory) as panel:
        lamp = factory.pin(17)
        lamp.clear_states()

        def updated_until_dark_twice() -> bool:  # a blink restarted each time never goes dark
            panel.lamp("busy", on=True, blink=True)
            return [s.state for s in lamp.states].count(False) >= 2

        # Its own pace is dark twice in 0.75 s; the blink thread may be slower on a busy machine.
        wait_until(updated_until_dark_twice, timeout=5, what="the lamp to go dark twice")


@pytest.mark.expect_log_exception
def test_a_callback_that_raises_does_not_stop_the_buttons():
    factory, calls = MockFactory(), []

    def flaky(name: str) -> None:
        calls.append(name)
        if len(calls) == 1:
            raise RuntimeError("app bug (injected)")

    with Panel(GpioSettings(buttons={"next": 5}, bounce_ms=0), flaky, factory):
        press(factory, 5)
        press(factory, 5)
    assert calls == ["next", "next"]
