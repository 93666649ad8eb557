"""The hall code on the lobby TV (docs/appointments.md, "On the lobby TV"): the real server
publishes it for a branch with remote services, the display shows its QR code and letters
offscreen, follows it as it rotates, and shows none it cannot vouch for."""

from __future__ import annotations

from dataclasses import replace

import pytest
import qrcode
from PySide6.QtCore import QSize

from nowserving.client import BranchClient
from nowserving.client.qt import QtBranchBridge
from nowserving.config.device import DisplaySettings
from nowserving.display.app import DisplayController, HallImages, hall_base
from nowserving.display.launcher import build_view
from nowserving.domain.remote import hall_code, hall_window
from tests.display.lobby_screens import hall_message
from tests.kiosk.test_layout import drawn, items

URL = "https://q.example.cn/{branch}/t/{token}"


@pytest.fixture
def lobby(qtbot, server, broker, example_config):
    """The example branch's lobby (its ticket page the web role's) on a 1280x720 screen."""
    config = replace(example_config, ticket_url=URL)
    client = BranchClient(broker, "pudong", "lobby-1", watch_server=True,
                          watch_hall=hall_base(config) is not None)  # fmt: skip
    controller = DisplayController(config, QtBranchBridge(client), DisplaySettings())
    view = build_view(controller, QSize(1280, 720))
    client.start(wait_s=None)
    view.show()
    yield controller, view
    view.close()
    controller.close()
    client.close()


def shown(view, name: str) -> list:
    return [i for i in items(view.rootObject()) if i.objectName() == name]


def code_now(server, clock) -> str:
    """The hall code of the moment, as the server makes it (without publishing it)."""
    rules = server.config.rules
    return hall_code(server.hall.secret, rules.branch_id, hall_window(rules, clock()))


def qr_matrix(url: str) -> list[list[bool]]:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(url)
    qr.make(fit=True)
    return qr.get_matrix()


def modules(controller) -> list[list[bool]]:
    """The QR image the screen gets, read back module by module (dark or not)."""
    image = HallImages(controller).requestImage("x", QSize(), QSize(200, 200))
    count = len(qr_matrix(controller.hall_url()))
    step = image.width() // count
    return [
        [image.pixelColor(x * step + step // 2, y * step + step // 2).lightness() < 128
         for x in range(count)]
        for y in range(count)
    ]  # fmt: skip


def test_the_lobby_shows_the_hall_code_and_follows_it(qtbot, lobby, server, clock):
    """GIVEN a branch with a remote service WHEN the server publishes the hall code THEN the
    lobby shows its QR (of the hall link) and its letters; when the window turns, the next
    code replaces it; with the server gone, or no code for one and a half windows, none is
    shown."""
    controller, view = lobby
    first = code_now(server, clock)
    qtbot.waitUntil(lambda: controller.hallCode == first, timeout=10_000)
    assert controller.hall_url() == f"https://q.example.cn/pudong/here/{first}"
    drawn(view)
    assert [i.property("text") for i in shown(view, "hallLetters")] == [f"{first[:4]} {first[4:]}"]
    qr = shown(view, "hallQr")[0]
    assert qr.property("paintedWidth") >= 100  # drawn, large enough to scan from a step away
    assert modules(controller) == qr_matrix(controller.hall_url())
    clock.advance(5 * 60)  # the next window
    second = code_now(server, clock)
    assert second != first
    qtbot.waitUntil(lambda: controller.hallCode == second, timeout=10_000)
    controller._take_server(False)  # as the server's last will says
    assert controller.hallCode == "" and controller.hall_url() == ""
    drawn(view)
    assert shown(view, "hallQr") == []
    controller._take_server(True)
    assert controller.hallCode == second
    controller._hall_expired()  # what the timer does when no next code comes
    assert controller.hallCode == ""


def test_no_hall_code_without_remote_services_a_page_or_a_sound_message(
    qtbot, example_config, broker
):
    assert hall_base(example_config) is None  # no ticket page
    assert hall_base(replace(example_config, ticket_url="https://q.example.cn/t?x={token}")) is None
    rules = example_config.rules
    services = {k: replace(s, remote=False) for k, s in rules.services.items()}
    local = replace(example_config, ticket_url=URL, rules=replace(rules, services=services))
    assert hall_base(local) is None
    config = replace(example_config, ticket_url=URL)
    controller = DisplayController(config, QtBranchBridge(BranchClient(broker, "pudong", "l")))
    controller._take_connection(True)
    try:
        for bad in (b"", b"nonsense", b"[]", b'{"code": "<b>x</b>", "from": 0, "until": 300}',
                    b'{"code": "MXP7K3QD", "from": 0}', hall_message("mxp7k3qd")):  # fmt: skip
            controller._take_hall(bad)
            assert controller.hallCode == "", bad
        controller._take_hall(hall_message("MXP7K3QD"))
        assert controller.hallLetters == "MXP7 K3QD"
    finally:
        controller.close()
