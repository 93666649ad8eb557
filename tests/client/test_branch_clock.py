"""Branch time on every screen: the branch's zone from its config, whatever the device's."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QSize
from PySide6.QtQuick import QQuickItem

from nowserving.adapters.mqtt import Broker
from nowserving.client import BranchClient
from nowserving.client.qt import BranchClock, QtBranchBridge
from nowserving.display.app import DisplayController
from nowserving.display.launcher import build_view as lobby_view
from nowserving.kiosk.app import KioskController
from nowserving.kiosk.launcher import build_view as kiosk_view
from tests.conftest import BRANCH_MORNING, ManualClock

NOWHERE = Broker("127.0.0.1", 9)  # the screens are checked without a branch: never started


@pytest.fixture
def device_in_utc(monkeypatch):
    """The device's own zone is UTC (the branch's is Asia/Shanghai, 8 hours ahead)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def texts(item: QQuickItem) -> list[str]:
    found = [item.property("text")] if item.property("text") else []
    for child in item.childItems():
        found += texts(child)
    return found


def test_the_clock_shows_branch_time_and_turns_with_the_minute(qtbot, device_in_utc):
    clock = ManualClock(BRANCH_MORNING + 16 * 60 + 58)  # 09:16:58 in Shanghai, 01:16 UTC
    shown = BranchClock("Asia/Shanghai", clock)
    assert shown.text == "09:16" and time.strftime("%H", time.localtime(clock())) == "01"
    clock.advance(3)
    with qtbot.waitSignal(shown.changed, timeout=5_000):
        pass  # it wakes when the branch's minute turns
    assert shown.text == "09:17"
    shown.stop()


def test_kiosk_and_lobby_show_branch_time_on_a_device_in_another_zone(
    qtbot, device_in_utc, example_config
):
    """GIVEN a device whose zone is UTC and a branch in Asia/Shanghai WHEN the kiosk and the
    lobby display are drawn at 09:16 branch time THEN both headers say 09:16, not 01:16."""
    clock = ManualClock(BRANCH_MORNING + 16 * 60)
    client = BranchClient(NOWHERE, "pudong", "kiosk-1")
    kiosk = KioskController(example_config, QtBranchBridge(client), None, "", clock)
    lobby = DisplayController(example_config, QtBranchBridge(client), clock=clock)
    views = [kiosk_view(kiosk, QSize(800, 480)), lobby_view(lobby, QSize(1280, 720))]
    try:
        for view in views:
            view.show()
            qtbot.waitExposed(view)
            shown = texts(view.rootObject())
            assert "09:16" in shown and "01:16" not in shown
    finally:
        for view in views:
            view.close()
        kiosk.close()
        lobby.close()
