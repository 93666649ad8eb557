"""A kiosk's self-test: the test ticket through the kiosk's printer code on the Dummy
printer, its paper sensor, lamps and buttons on MockFactory pins; the result published."""

from __future__ import annotations

from dataclasses import replace

from gpiozero.pins.mock import MockFactory

from nowserving.adapters.printer.device import open_escpos
from nowserving.adapters.printer.preview import SAMPLE_URL
from nowserving.config.hardware import PrinterSettings
from nowserving.selftest import Hardware, run_self_test
from tests.adapters.printer.escpos_bytes import parse
from tests.selftest.conftest import QUICK, Prompted, device, no_ntp, retained_status, sensor

PRINTER = {"kind": "dummy", "profile": "TM-T88V"}
GPIO = {"pin_factory": "mock", "buttons": {"guide": 5}, "leds": {"priority": 22, "cash": 23}}


def kiosk(broker):
    return device(broker, "kiosk", "kiosk-1", printer=PRINTER, gpio=GPIO)


def dummy():
    return open_escpos(PrinterSettings(**PRINTER))


def test_a_working_kiosk_passes_and_its_status_says_so(live_server, broker, example_config):
    """GIVEN the server, a Dummy printer with paper and mock pins WHEN the self-test runs
    and the guide button is pressed when asked THEN every check passes, the printer got a
    test ticket, and the kiosk's retained status carries the result."""
    factory, escpos = MockFactory(), dummy()
    sensor(escpos)
    say = Prompted(factory, pins=(5,))
    options = replace(QUICK, buttons_timeout_s=10)
    report = run_self_test(
        example_config, kiosk(broker), options, Hardware(escpos, factory), say, no_ntp
    )
    assert report.ok, say.text
    names = ["software", "config", "zone", "broker", "server", "clock", "printer", "paper"]
    assert [c.name for c in report.checks] == [*names, "lamps", "buttons"]
    assert {c.status for c in report.checks} == {"ok"}, say.text
    printed = parse(escpos.output)
    assert ("qr", SAMPLE_URL.format(branch="pudong")) in printed and printed[-1][0] == "cut"
    assert "  pressed: guide" in say.lines
    status = retained_status(broker, "kiosk-1")
    assert status["self_test"]["ok"] is True and status["online"] is False  # no app runs
    assert [c["name"] for c in status["self_test"]["checks"]] == [c.name for c in report.checks]


def test_lamps_light_one_by_one_in_order_then_together(live_server, broker, example_config):
    """GIVEN two lamps WHEN the self-test runs THEN each pin went on and off alone, in the
    device file's order, then both on together and off."""
    factory = MockFactory()
    report = run_self_test(
        example_config, kiosk(broker), QUICK, Hardware(dummy(), factory), Prompted(), no_ntp
    )
    assert report.get("lamps").status == "ok"
    first_on = {}
    for name, pin in GPIO["leds"].items():
        states = factory.pin(pin).states
        assert [s.state for s in states] == [False, True, False, True, False], name
        first_on[name] = states[1].timestamp  # after the pin was made, nearly at once
    assert first_on["priority"] < first_on["cash"]


def test_a_printer_failing_mid_ticket_fails_the_test(live_server, broker, example_config):
    """GIVEN a printer unplugged while printing WHEN the self-test runs THEN `printer`
    fails with the error, and the published result says so."""
    escpos = dummy()
    sensor(escpos)
    writes = []

    def unplugged(data: bytes) -> None:
        writes.append(data)
        if len(writes) > 6:
            raise OSError("[Errno 19] No such device")

    escpos._raw = unplugged
    say = Prompted()
    report = run_self_test(
        example_config, kiosk(broker), QUICK, Hardware(escpos, MockFactory()), say, no_ntp
    )
    assert not report.ok
    check = report.get("printer")
    assert check.status == "FAIL" and "No such device" in check.detail
    assert "FAIL  printer" in say.text and "FAIL (1 of" in say.lines[-2]
    status = retained_status(broker, "kiosk-1")["self_test"]
    assert status["ok"] is False
    assert {"name": "printer", "status": "FAIL", "detail": check.detail} in status["checks"]


def test_no_paper_fails_before_printing_and_low_paper_warns(live_server, broker, example_config):
    escpos = dummy()
    sensor(escpos, paper=0x60)  # the paper-end sensor
    report = run_self_test(
        example_config, kiosk(broker), QUICK, Hardware(escpos, MockFactory()), Prompted(), no_ntp
    )
    assert report.get("printer").status == "FAIL" and "out of paper" in report.get("printer").detail
    assert ("cut", None) not in parse(escpos.output)
    escpos = dummy()
    sensor(escpos, paper=0x0C)  # the near-end sensor
    report = run_self_test(
        example_config, kiosk(broker), QUICK, Hardware(escpos, MockFactory()), Prompted(), no_ntp
    )
    paper = report.get("paper")
    assert report.ok and paper.status == "warn" and "low" in paper.detail


def test_a_button_never_pressed_fails_and_is_named(live_server, broker, example_config):
    say = Prompted()
    options = replace(QUICK, buttons_timeout_s=0.3)
    report = run_self_test(
        example_config, kiosk(broker), options, Hardware(dummy(), MockFactory()), say, no_ntp
    )
    check = report.get("buttons")
    assert check.status == "FAIL" and "guide (GPIO5)" in check.detail
    assert "buttons: press each once within 0.3 s: guide" in say.lines


def test_unattended_it_reaches_the_printer_without_printing(live_server, broker, example_config):
    """GIVEN --no-print (as after an update) WHEN the self-test runs THEN the printer's
    sensors are read and not a byte of a ticket is sent."""
    escpos = dummy()
    sensor(escpos)
    options = replace(QUICK, print_ticket=False)
    report = run_self_test(
        example_config, kiosk(broker), options, Hardware(escpos, MockFactory()), Prompted(), no_ntp
    )
    assert report.ok and "no ticket printed" in report.get("printer").detail
    assert report.get("paper").status == "ok"
    assert [kind for kind, _ in parse(escpos.output)] == []  # only the two status queries
    sensor(escpos, online=0x08 | 0x12)  # the offline bit: cover open
    report = run_self_test(
        example_config, kiosk(broker), options, Hardware(escpos, MockFactory()), Prompted(), no_ntp
    )
    assert report.get("printer").status == "FAIL" and "offline" in report.get("printer").detail
