"""The self-test's hardware checks, each through the same code the role's app uses: the
ticket printer, the lamps and buttons on GPIO, the lobby's voice and its screen.

The hardware is what the device file says, opened here, unless `Hardware` (the stand-ins
a role's `build` takes too: `nowserving.launch`) hands in an already-open one (tests: the
Dummy printer, MockFactory pins, a FilePlayer). A role's app holds its printer and pins
while it runs: stop it first. Each check imports its adapter when it runs: a counter has
no escpos, a staff PC no Qt.
"""

from __future__ import annotations

import importlib
import platform
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from nowserving import __version__
from nowserving.config import BranchConfig
from nowserving.config.device import DeviceConfig
from nowserving.errors import NowservingError
from nowserving.protocol import Role
from nowserving.selftest.report import FAIL, OK, SKIP, WARN, Check

# What each role's service starts from: imported here as the service would import it, so
# that an update lacking a library of the role fails its self-test (and rolls back) rather
# than the next start. A staff device runs no service of its own.
ROLE_MODULES = {
    Role.KIOSK: ("nowserving.kiosk.main",),
    Role.COUNTER: ("nowserving.counter.main",),
    Role.DISPLAY: ("nowserving.display.main",),
    Role.STAFF: (),
}
BUSY_HINT = " (is the role's service running? it holds the hardware: stop it first)"
ANNOUNCE_TIMEOUT_S = 120.0  # a test call is ~10 s; a stuck player is killed well before


def check_software(device: DeviceConfig) -> Check:
    """The version, and that the role's entry module, with everything it needs, imports."""
    missing = []
    for module in ROLE_MODULES.get(device.role, ()):
        try:
            importlib.import_module(module)
        except Exception as err:  # ImportError, or a library that fails to load
            missing.append(f"{module} ({err})")
    where = f"nowserving {__version__}, Python {platform.python_version()}, {sys.prefix}"
    if missing:
        return Check(
            "software",
            FAIL,
            f"{where}: cannot import {', '.join(missing)}: install nowserving[{device.role}]",
        )
    return Check("software", OK, where)


def check_printer(
    config: BranchConfig,
    device: DeviceConfig,
    escpos=None,
    ticket_png: Path | None = None,
    print_ticket: bool = True,
) -> list[Check]:
    """Print a test ticket through the kiosk's printer code, reading the paper sensor
    before and after (or, without `print_ticket`, only reach the printer and read its
    sensors): `printer` and `paper`."""
    settings = device.printer
    if settings is None:
        return [Check("printer", SKIP, "no [printer] in the device file")]
    from nowserving.adapters.printer.device import TicketPrinter, open_escpos
    from nowserving.adapters.printer.layout import preview
    from nowserving.adapters.printer.preview import print_test_ticket
    from nowserving.errors import PrinterError

    try:
        if print_ticket:
            printed = print_test_ticket(config, device.id, settings, escpos)
            paper = printed.paper_after
        else:
            escpos = escpos if escpos is not None else open_escpos(settings)
            with TicketPrinter(escpos, settings) as printer:
                paper, online = printer.paper(), printer.online()
            if online is False:
                raise PrinterError("the printer says it is offline (cover open, or paper jam?)")
    except PrinterError as err:
        hint = BUSY_HINT if "busy" in str(err).lower() else ""
        return [Check("printer", FAIL, f"{settings.kind} printer: {err}{hint}")]
    if not print_ticket:
        said = f"reached the {settings.kind} printer; no ticket printed (--no-print)"
        return [Check("printer", OK, said), _paper(paper, settings.kind)]
    sent = f", {printed.bytes_sent:,} bytes" if printed.bytes_sent is not None else ""
    if ticket_png is not None:
        preview(printed.parts, settings.paper_mm).save(ticket_png)
        sent += f", as {ticket_png}"
    said = (
        f"printed a TEST ticket ({settings.kind}, {settings.paper_mm} mm{sent}): "
        "its Chinese text, number and QR code should be sharp and the paper cut"
    )
    return [Check("printer", OK, said), _paper(paper, settings.kind)]


def _paper(paper, kind: str) -> Check:
    from nowserving.adapters.printer.device import Paper

    if paper is Paper.OK:
        return Check("paper", OK, "the sensor says there is paper")
    if paper is Paper.LOW:
        return Check("paper", WARN, "running low: put in a new roll soon")
    if paper is Paper.OUT:
        return Check("paper", FAIL, "out of paper")
    return Check("paper", WARN, f"unknown: this {kind} printer cannot say")


def check_gpio(
    device: DeviceConfig,
    factory,
    buttons_timeout_s: float,
    lamp_s: float,
    say: Callable[[str], None],
) -> list[Check]:
    """Light each lamp in turn, then all together (`lamps`); then wait for each button to
    be pressed once (`buttons`). A button not pressed in time fails: its wiring is not
    known to work."""
    gpio = device.gpio
    if gpio is None or not (gpio.buttons or gpio.leds):
        return [Check("lamps", SKIP, "no [gpio] in the device file")]
    from nowserving.adapters.gpio import GpioError, Panel, factory_for

    presses: queue.Queue = queue.Queue()
    try:
        # gpiozero's thread: hands the name over.
        panel = Panel(gpio, presses.put, factory_for(gpio, factory))
    except GpioError as err:
        hint = BUSY_HINT if "busy" in str(err).lower() or "in use" in str(err).lower() else ""
        return [Check("gpio", FAIL, f"{err}{hint}")]
    with panel:
        checks = [_blink(panel, gpio.leds, lamp_s, say)] if gpio.leds else []
        if gpio.buttons:
            checks.append(_buttons(gpio.buttons, presses, buttons_timeout_s, say))
    return checks


def _blink(panel, leds: dict[str, int], lamp_s: float, say: Callable[[str], None]) -> Check:
    stop = threading.Event()  # never set: waits that keep each lamp lit for lamp_s
    say(f"lamps: lighting {', '.join(leds)} one by one, then all together: watch them")
    dark = []
    for name in leds:
        panel.lamp(name, True)
        if not panel.leds[name].value:
            dark.append(name)
        stop.wait(lamp_s)
        panel.lamp(name, False)
    for name in leds:
        panel.lamp(name, True)
    stop.wait(lamp_s * 2)
    for name in leds:
        panel.lamp(name, False)
    pins = ", ".join(f"{n} (GPIO{p})" for n, p in leds.items())
    if dark:
        return Check("lamps", FAIL, f"the pins of {', '.join(dark)} did not switch on")
    return Check("lamps", OK, f"lit in turn: {pins}: did each light, in that order?")


def _buttons(
    buttons: dict[str, int], presses: queue.Queue, timeout_s: float, say: Callable[[str], None]
) -> Check:
    if timeout_s <= 0:
        return Check("buttons", SKIP, "not checked (--buttons-timeout 0)")
    waiting = dict(buttons)
    say(f"buttons: press each once within {timeout_s:g} s: {', '.join(buttons)}")
    ends = time.monotonic() + timeout_s
    while waiting:
        try:
            name = presses.get(timeout=max(0.0, ends - time.monotonic()))
        except queue.Empty:
            break
        if waiting.pop(name, None) is not None:
            say(f"  pressed: {name}" + (f" (still: {', '.join(waiting)})" if waiting else ""))
    pressed = [n for n in buttons if n not in waiting]
    if waiting:
        missing = ", ".join(f"{n} (GPIO{p})" for n, p in waiting.items())
        got = f"; pressed: {', '.join(pressed)}" if pressed else ""
        return Check(
            "buttons",
            FAIL,
            f"not pressed within {timeout_s:g} s: {missing}: check the wiring{got}",
        )
    return Check("buttons", OK, f"each pressed once: {', '.join(pressed)}")


def check_audio(config: BranchConfig, device: DeviceConfig, player, announce: bool = True) -> Check:
    """Say a test call through the display's announcer and its player: clips, output and
    all. Quiet hours do not apply to a test, and it is said once. Without `announce`, only
    the clips and the output are checked, in silence."""
    audio = device.audio
    if audio is None or not audio.enabled:
        return Check("audio", SKIP, "no [audio] (or enabled = false): this display is silent")
    from nowserving.display.announce import Announcer
    from nowserving.protocol.views import Call

    if not announce:
        statuses: queue.Queue = queue.Queue()
        with Announcer(audio, config.rules, player=player, on_status=statuses.put):
            status = statuses.get(timeout=ANNOUNCE_TIMEOUT_S)
            while status == "audio: checking":  # then the clips are read and output probed
                status = statuses.get(timeout=ANNOUNCE_TIMEOUT_S)
        if status.startswith("audio: ok"):
            return Check(
                "audio",
                OK,
                f"{status.removeprefix('audio: ')}, clips complete; no test call (--no-announce)",
            )
        return Check("audio", FAIL, status.removeprefix("audio: "))

    rules = config.rules
    service = next(iter(rules.services.values()))
    shown = device.display.counters if device.display and device.display.counters else ()
    counter = shown[0] if shown else next(iter(rules.counters))
    language = rules.languages[0]
    number = service.number_text(service.first_number)
    call = Call("self-test", number, service.id, counter, language, time.time())
    outcome: queue.Queue = queue.Queue()

    def heard(event: str, _call, detail: str) -> None:  # the announcer's thread
        if event != "started":
            outcome.put((event, detail))

    settings = replace(audio, quiet_hours=None, repeat=1)
    started = time.monotonic()
    with Announcer(settings, rules, player=player, when_event=heard) as announcer:
        announcer.announce(call, age=0)
        try:
            event, detail = outcome.get(timeout=ANNOUNCE_TIMEOUT_S)
        except queue.Empty:
            event, detail = "failed", f"no outcome in {ANNOUNCE_TIMEOUT_S:g} s"
        status = announcer.status
    took = time.monotonic() - started
    name = rules.counters[counter].names.get(language, counter)
    if event == "finished":
        return Check(
            "audio",
            OK,
            f"said a test call, {number} to {name}, through {status.removeprefix('audio: ')}"
            f" in {took:.1f} s: did you hear the chime and the call?",
        )
    return Check("audio", FAIL, f"the test call was {event}: {detail}")


def check_screen(
    config: BranchConfig, device: DeviceConfig, seconds: float, png: Path | None
) -> Check:
    """Show the test pattern full screen for `seconds`."""
    if seconds <= 0:
        return Check("screen", SKIP, "not shown (--pattern-seconds 0)")
    try:
        from nowserving.display.testpattern import show_test_pattern

        shown = show_test_pattern(config, device, seconds, png)
    except ImportError as err:
        return Check("screen", FAIL, f"Qt is missing ({err}): install nowserving[display]")
    except NowservingError as err:
        return Check("screen", FAIL, str(err))
    saved = f"; saved as {shown.png}" if shown.png else ""
    if shown.offscreen:
        return Check(
            "screen",
            WARN,
            f"drawn offscreen ({shown.platform}, {shown.width}x{shown.height}): "
            f"nobody saw it{saved}",
        )
    return Check(
        "screen",
        OK,
        f"showed the test pattern for {seconds:g} s on {shown.screen or shown.platform} "
        f"({shown.width}x{shown.height}): colour bars, a red frame on every edge and every "
        f"language's text?{saved}",
    )
