"""The lobby of a real branch, without a server: a branch of up to 16 services with long zh
and en names (tests/kiosk/branches.py) at noon, long lines, waits past two hours, one
service closed, calls at every counter, a notice and a paused counter; fed to the display's
controller as the server's summary would be."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from PySide6.QtCore import QSize

from nowserving.adapters.mqtt import Broker
from nowserving.client import BranchClient
from nowserving.client.qt import QtBranchBridge
from nowserving.config.device import DisplaySettings
from nowserving.display.app import DisplayController
from nowserving.display.launcher import build_view
from nowserving.domain import Branch, Command
from nowserving.domain.estimate import Estimate
from nowserving.protocol import encode, state_message
from nowserving.protocol.views import decode_state
from tests.kiosk.branches import branch
from tests.kiosk.test_layout import drawn

NOON = datetime(2026, 12, 7, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()  # a Monday


def busy_state(config, at: float = NOON):
    """The summary of `config`'s branch at `at`: 3 tickets in every line, the first four
    called, counter 4 paused, a notice, waits from 10 minutes to past three hours."""
    core = Branch(config.rules)
    n = 0

    def send(kind: str, **args) -> None:
        nonlocal n
        n += 1
        core.handle(Command(f"cmd-{n}", kind, "kiosk-1", at - 600 + n, args))

    for counter in config.rules.counters:
        send("open_counter", counter=counter)
    for service in config.rules.services:
        for _ in range(3):
            send("issue_ticket", service=service, language="zh")
    for counter in list(config.rules.counters)[:3]:
        send("call_next", counter=counter)
    send("pause_counter", counter=list(config.rules.counters)[3], reason="break")
    send("post_notice", text="系统升级，现金业务稍慢 / Cash is slower today: system upgrade",
         minutes="30")  # fmt: skip
    estimates = {
        sid: Estimate(600.0 + i * 900, 400.0 + i * 800, 900.0 + i * 1000, 3)
        for i, sid in enumerate(config.rules.services)
    }
    state = state_message(core, config.names, at, ({}, estimates, at, core.seq))
    return decode_state(encode(state))


def lobby_screen(
    count: int, size: tuple[int, int], folder: Path, settings=None, at=NOON, closes="17:00"
):
    """(controller, view): the lobby of a branch of `count` services closing at `closes`,
    shown at `size`, online."""
    config = branch(count, folder, closes=closes)
    client = BranchClient(Broker("127.0.0.1", 9), "big", "lobby-1")
    portrait = size[1] > size[0]
    controller = DisplayController(
        config, QtBranchBridge(client), settings or DisplaySettings(), portrait=portrait,
        clock=lambda: at,
    )  # fmt: skip
    controller._take_connection(True)
    controller._take_server(True)
    controller._take_state(busy_state(config, at))
    view = build_view(controller, QSize(*size))
    view.show()
    drawn(view)
    return controller, view
