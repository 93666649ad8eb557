"""A counter's self-test: its lamps and buttons on MockFactory pins, pressed from another
thread while the test waits; pins held by a running app are reported, not fought over."""

from __future__ import annotations

from dataclasses import replace

from gpiozero.pins.mock import MockFactory

from nowserving.adapters.gpio import Panel
from nowserving.config.hardware import GpioSettings
from nowserving.selftest import Hardware, run_self_test
from tests.selftest.conftest import QUICK, Prompted, device, no_ntp, retained_status

BUTTONS = {"next": 17, "recall": 27, "finish": 22, "no_show": 24}
LAMPS = {"open": 5, "waiting": 6, "busy": 23, "error": 26}


def counter(broker):
    gpio = {"pin_factory": "mock", "buttons": BUTTONS, "leds": LAMPS}
    return device(broker, "counter", "counter-1", gpio=gpio)


def test_a_counter_whose_buttons_are_all_pressed_passes(live_server, broker, example_config):
    """GIVEN counter 1 with four buttons WHEN each is pressed once when asked THEN the
    self-test passes, naming each, and pings as counter-1 (the server knows it at c1)."""
    factory = MockFactory()
    say = Prompted(factory, pins=tuple(BUTTONS.values()))
    options = replace(QUICK, buttons_timeout_s=10)
    report = run_self_test(
        example_config, counter(broker), options, Hardware(pin_factory=factory), say, no_ntp
    )
    assert report.ok, say.text
    assert report.get("config").detail == "counter counter-1 at counter c1 of branch pudong"
    assert report.get("buttons").detail == "each pressed once: next, recall, finish, no_show"
    assert report.get("lamps").status == "ok"
    assert [name for name, pin in LAMPS.items() if factory.pin(pin).state] == []  # dark again
    assert retained_status(broker, "counter-1")["self_test"]["ok"] is True


def test_some_buttons_pressed_the_rest_named(live_server, broker, example_config):
    factory = MockFactory()
    say = Prompted(factory, pins=(BUTTONS["next"], BUTTONS["finish"]))
    options = replace(QUICK, buttons_timeout_s=0.5)
    report = run_self_test(
        example_config, counter(broker), options, Hardware(pin_factory=factory), say, no_ntp
    )
    check = report.get("buttons")
    assert check.status == "FAIL"
    assert "recall (GPIO27), no_show (GPIO24)" in check.detail
    assert "pressed: next, finish" in check.detail


def test_pins_held_by_the_running_app_fail_with_what_to_do(live_server, broker, example_config):
    """GIVEN the counter app holding the pins WHEN the self-test runs THEN `gpio` fails and
    says to stop the role's service, and nothing else breaks."""
    factory = MockFactory()
    app_pins = GpioSettings(pin_factory="mock", buttons=BUTTONS, leds=LAMPS)
    with Panel(app_pins, lambda name: None, factory):
        report = run_self_test(
            example_config, counter(broker), QUICK, Hardware(pin_factory=factory), Prompted(),
            no_ntp,
        )  # fmt: skip
    check = report.get("gpio")
    assert check.status == "FAIL" and "stop it first" in check.detail
    assert report.get("server").status == "ok"
