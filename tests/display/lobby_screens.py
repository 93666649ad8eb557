"""The lobby of a real branch, without a server: a branch of up to 16 services with long zh
and en names (tests/kiosk/branches.py) at noon, long lines, waits past two hours, one
service closed, calls at every counter, a notice and a paused counter; fed to the display's
controller as the server's summary would be."""

from __future__ import annotations

import json
from dataclasses import replace
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


HALL_URL = "https://q.example.cn/{branch}/t/{token}"


def with_hall(config):
    """`config` with its first service joinable from the phone (`remote`) and the web
    role's ticket page: the lobby shows the hall code."""
    first = next(iter(config.rules.services.values()))
    services = {**config.rules.services, first.id: replace(first, remote=True)}
    return replace(config, rules=replace(config.rules, services=services), ticket_url=HALL_URL)


def hall_message(code: str = "MXP7K3QD", at: float = NOON, minutes: int = 5) -> bytes:
    """The server's retained message for the lobby's hall code (server/hall.py)."""
    start = at - at % (minutes * 60)
    return json.dumps({"v": 2, "branch": "big", "code": code, "from": start,
                       "until": start + minutes * 60}).encode()  # fmt: skip


def lobby_screen(
    count: int, size: tuple[int, int], folder: Path, settings=None, at=NOON, closes="17:00",
    hall: bool = False,
):  # fmt: skip
    """(controller, view): the lobby of a branch of `count` services closing at `closes`,
    shown at `size`, online; `hall`: showing the hall code."""
    config = branch(count, folder, closes=closes)
    if hall:
        config = with_hall(config)
    client = BranchClient(Broker("127.0.0.1", 9), "big", "lobby-1")
    portrait = size[1] > size[0]
    controller = DisplayController(
        config, QtBranchBridge(client), settings or DisplaySettings(), portrait=portrait,
        clock=lambda: at,
    )  # fmt: skip
    controller._take_connection(True)
    controller._take_server(True)
    controller._take_state(busy_state(config, at))
    if hall:
        controller._take_hall(hall_message(at=at))
    view = build_view(controller, QSize(*size))
    view.show()
    drawn(view)
    return controller, view
