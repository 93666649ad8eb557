"""`nowserving self-test`: every check of a device in order, each printed as it is made,
then the result published into the device's retained status, so that whoever watches
`status/#` (`nowserving branch-status`) sees every device of the branch."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from nowserving.config import BranchConfig, check_device_against_branch
from nowserving.config.device import DeviceConfig
from nowserving.errors import ConfigError
from nowserving.launch import Hardware
from nowserving.protocol import Role
from nowserving.selftest import hardware, link
from nowserving.selftest.report import FAIL, OK, WARN, Check, Report


@dataclass(frozen=True)
class Options:
    """How the self-test runs; an unattended run (after an update) passes
    `buttons_timeout_s=0` and `pattern_seconds=0`."""

    buttons_timeout_s: float = 30.0  # 0: buttons are not checked
    pattern_seconds: float = 10.0  # 0: no test pattern
    pattern_png: Path | None = None  # save what the screen showed
    ticket_png: Path | None = None  # save the test ticket as the paper shows it
    print_ticket: bool = True  # False: the printer is reached, but prints nothing
    announce: bool = True  # False: clips and sound output are checked, nothing is said
    network_timeout_s: float = 5.0  # for the broker and the server, each
    lamp_s: float = 0.5  # how long each lamp stays lit
    publish: bool = True


def run_self_test(
    config: BranchConfig,
    device: DeviceConfig,
    options: Options = Options(),
    hw: Hardware | None = None,
    say: Callable[[str], None] = print,
    ntp: Callable[[], bool | None] | None = None,
) -> Report:
    """Check the device and return the report; `say` hears every line to show."""
    hw = hw or Hardware()
    report = Report(device.id, device.role.value, device.branch, time.time())

    def record(check: Check | list[Check]) -> None:
        for item in check if isinstance(check, list) else [check]:
            report.checks.append(item)
            say(item.line())

    say(f"nowserving self-test: {device.id} ({device.role}) of branch {device.branch}")
    record(hardware.check_software(device))
    record(_check_config(config, device))
    record(check_zone(config.rules.timezone))
    session = link.Session()
    try:
        record(link.check_broker(device, options.network_timeout_s, session))
        record(link.check_server(device, session, options.network_timeout_s))
        if session.client is not None:
            record(link.check_clock(session, ntp))
    finally:
        session.close()
    if device.role is Role.KIOSK:
        record(
            hardware.check_printer(
                config, device, hw.escpos, options.ticket_png, options.print_ticket
            )
        )
    if device.role in (Role.KIOSK, Role.COUNTER):
        record(
            hardware.check_gpio(
                device, hw.pin_factory, options.buttons_timeout_s, options.lamp_s, say
            )
        )
    if device.role is Role.DISPLAY:
        record(hardware.check_audio(config, device, hw.player, options.announce))
        record(hardware.check_screen(config, device, options.pattern_seconds, options.pattern_png))
    say(report.summary())
    if options.publish and report.get("broker").status == OK:
        try:
            topic = link.publish_result(device, report.as_status(), options.network_timeout_s)
            say(f"published in {topic} (see it with `nowserving branch-status`)")
        except OSError as err:
            say(f"not published: {err}")
    elif options.publish:
        say("not published: no broker")
    return report


def check_zone(branch_zone: str, now: float | None = None) -> Check:
    """The device's time zone against the branch's: screens show branch time either way,
    but logs, the journal and anything else on the device read the system's."""
    now = time.time() if now is None else now
    local = datetime.fromtimestamp(now).astimezone()
    branch = datetime.fromtimestamp(now, ZoneInfo(branch_zone))
    mine = f"{local.tzname()} ({local.strftime('%z')})"
    if local.utcoffset() == branch.utcoffset():
        return Check("zone", OK, f"{mine}, as the branch's {branch_zone}")
    return Check(
        "zone",
        WARN,
        f"this device's zone is {mine}, the branch's {branch_zone} ({branch.strftime('%z')}): "
        f"screens show branch time, but set the system's too: timedatectl set-timezone "
        f"{branch_zone}",
    )


def _check_config(config: BranchConfig, device: DeviceConfig) -> Check:
    try:
        check_device_against_branch(device, config, "device file")
    except ConfigError as err:
        return Check("config", FAIL, "; ".join(err.problems))
    known = config.devices[device.id]
    at = f" at counter {known.counter}" if known.counter else ""
    return Check("config", OK, f"{device.role} {device.id}{at} of branch {config.rules.branch_id}")
