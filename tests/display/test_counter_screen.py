"""The screen above one counter, offscreen with pytest-qt, against the real server and
Mosquitto: counter 3 driven by a real client goes closed -> open -> calls A001 (shown,
flashing) -> recall (flashes again) -> serving -> paused; a lost connection is marked while
the last state stays; the longest names fit at 1280x400 and 800x480 in zh, en and both; and
`nowserving display --counter` draws it, refusing a counter the branch does not have."""

from __future__ import annotations

import dataclasses
import json
import queue

import pytest
from PySide6.QtGui import QImage

from nowserving.adapters.mqtt import MqttLink
from nowserving.adapters.store import EventLog
from nowserving.cli import main
from nowserving.config import EXAMPLE
from nowserving.config.device import BrokerSettings, DeviceConfig, DisplaySettings
from nowserving.display.counter_screen import build_counter
from nowserving.protocol import Role
from nowserving.server.app import BranchServer
from tests.kiosk.test_kiosk import find_item
from tests.kiosk.test_layout import drawn, problems

SIZES = ((1280, 400), (800, 480))
LONG_NAMES = {
    "zh": "18号对公业务·外汇结算·贵宾理财综合服务窗口",
    "en": "Counter 18 · Corporate Banking, Foreign Exchange & Private Wealth Services",
}


def display_device(port: int, **settings) -> DeviceConfig:
    """lobby-1's device file, reaching the test broker, with these [display] settings."""
    broker = BrokerSettings("127.0.0.1", port)
    display = DisplaySettings(**settings)
    return DeviceConfig("lobby-1", Role.DISPLAY, "pudong", broker, display=display)


@pytest.fixture
def counter_screen(qtbot, broker):
    """counter_screen(config, counter, size, **settings) -> (controller, view), shown and
    holding the branch's state."""
    made = []

    def make(config, counter="c3", size=(1280, 400), **settings):
        app = build_counter(config, display_device(broker.port, **settings), counter,
                            view_size=size, flash_s=1.0)  # fmt: skip
        made.append(app)
        app.view.show()
        qtbot.waitExposed(app.view)
        controller = app.controller
        qtbot.waitUntil(lambda: controller.online and controller.hasState, timeout=10_000)
        return controller, app.view

    yield make
    for app in made:
        app.close()


def texts(view, name: str) -> list[str]:
    return [i.property("text") for i in _items(view.rootObject(), name) if i.isVisible()]


def _items(item, name: str) -> list:
    found = [item] if item.objectName() == name else []
    for child in item.childItems():
        found += _items(child, name)
    return found


def test_a_counter_closed_then_calling_recalling_serving_and_paused(
    qtbot, server, counter_screen, connect, example_config, clock
):
    """GIVEN counter 3 closed WHEN staff open it, call A001, recall it, start, and pause
    for lunch THEN its screen says each, in Chinese and English, and flashes on the call
    and on the recall only."""
    kiosk, counter = connect("kiosk-1"), connect("counter-3")
    assert counter.request("close_counter").ok
    controller, view = counter_screen(example_config)
    qtbot.waitUntil(lambda: controller.mode == "closed", timeout=5_000)
    assert texts(view, "counterName") == ["3号窗口", "Counter 3"]
    assert texts(view, "headline") == ["本窗口已关闭", "Closed"]
    assert texts(view, "caption") == ["请到其他窗口办理", "Please go to another counter"]
    assert not find_item(view.rootObject(), "number").isVisible()

    assert counter.request("open_counter").ok
    qtbot.waitUntil(lambda: controller.mode == "idle", timeout=5_000)
    assert texts(view, "headline") == ["欢迎光临", "Welcome"]

    number = kiosk.request("issue_ticket", {"service": "cash"}).ticket["number"]
    assert number == "A001"
    flashes = []
    controller.called.connect(lambda: flashes.append(controller.number))
    assert counter.request("call_next").ok
    qtbot.waitUntil(lambda: controller.mode == "calling", timeout=5_000)
    assert controller.flashing and flashes == ["A001"]
    assert texts(view, "number") == ["A001"]
    assert texts(view, "caption") == ["请 A001 号", "Please, A001"]
    assert texts(view, "headline") == []
    qtbot.waitUntil(lambda: not controller.flashing, timeout=5_000)  # flash_s is 1 s
    assert controller.mode == "calling"  # ... still called, framed, no longer flashing

    clock.advance(30)  # past the recall cool-down
    assert counter.request("recall").ok
    qtbot.waitUntil(lambda: controller.recall, timeout=5_000)
    assert controller.flashing and flashes == ["A001", "A001"]
    assert texts(view, "caption") == ["请 A001 号（再次呼叫）", "Please, A001 (calling again)"]

    assert counter.request("start").ok
    qtbot.waitUntil(lambda: controller.mode == "serving", timeout=5_000)
    assert not controller.flashing and flashes == ["A001", "A001"]
    assert texts(view, "number") == ["A001"]
    assert texts(view, "caption") == ["正在办理 A001 号", "Now serving A001"]

    assert counter.request("pause_counter", {"reason": "lunch"}).ok
    qtbot.waitUntil(lambda: controller.mode == "paused", timeout=5_000)
    assert texts(view, "number") == []  # customers are told not to wait here
    assert texts(view, "headline") == ["暂停服务", "Paused"]
    assert texts(view, "caption") == [
        "暂停原因：午餐，请到其他窗口办理",
        "Reason: lunch. Please go to another counter",
    ]
    assert problems(view) == []


def test_a_screen_that_starts_later_shows_the_call_without_flashing(
    qtbot, server, counter_screen, connect, example_config, clock
):
    connect("kiosk-1").request("issue_ticket", {"service": "cash"})
    connect("counter-3").request("call_next")
    clock.advance(60)  # a minute later the screen is switched on
    connect("kiosk-1").request("issue_ticket", {"service": "cash"})  # a fresh summary
    controller, view = counter_screen(example_config)
    assert (controller.mode, controller.number, controller.flashing) == ("calling", "A001", False)


def test_the_other_counters_calls_are_not_this_screens(
    qtbot, server, counter_screen, connect, example_config
):
    kiosk = connect("kiosk-1")
    for _ in range(2):
        kiosk.request("issue_ticket", {"service": "cash"})
    controller, view = counter_screen(example_config)
    connect("counter-1").request("call_next")
    assert connect("counter-3").request("call_next").ok
    qtbot.waitUntil(lambda: controller.mode == "calling", timeout=5_000)
    assert controller.number == "A002"


def test_a_lost_connection_is_marked_and_the_last_state_stays(
    qtbot, server, counter_screen, connect, example_config, mosquitto
):
    connect("kiosk-1").request("issue_ticket", {"service": "cash"})
    connect("counter-3").request("call_next")
    controller, view = counter_screen(example_config, size=(800, 480))
    mark = find_item(view.rootObject(), "offlineMark")
    assert not mark.isVisible()
    mosquitto.stop()
    try:
        qtbot.waitUntil(lambda: not controller.online, timeout=10_000)
        assert mark.isVisible()
        assert texts(view, "number") == ["A001"]  # the last known state stays
        drawn(view)
        assert problems(view) == []  # the mark has its room
    finally:
        mosquitto.start()
    qtbot.waitUntil(lambda: controller.online, timeout=20_000)
    assert not mark.isVisible()


def test_its_retained_status_names_the_counter_and_has_a_last_will(
    qtbot, server, counter_screen, example_config, broker
):
    controller, view = counter_screen(example_config)
    seen: queue.Queue = queue.Queue()
    monitor = MqttLink(broker, "monitor", on_message=lambda *m: seen.put(m[1]))
    monitor.subscribe(controller.bridge.client.topics.status("lobby-1"))
    with monitor:
        monitor.start()
        status = json.loads(seen.get(timeout=5))
    assert (status["online"], status["screen"], status["counter"]) == (True, "on", "c3")


@pytest.fixture
def long_named(example_config, broker, tmp_path, clock):
    """The example branch with counter 3 named as long as a branch would (LONG_NAMES), its
    real server running on the test broker."""
    counters = dict(example_config.rules.counters)
    counters["c3"] = dataclasses.replace(counters["c3"], names=LONG_NAMES)
    rules = dataclasses.replace(example_config.rules, counters=counters)
    config = dataclasses.replace(example_config, rules=rules)
    with BranchServer(config, EventLog(tmp_path / "events.sqlite"), broker, clock=clock) as srv:
        assert srv.wait_serving(10)
        yield config


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("languages", [("zh",), ("en",), ("zh", "en")], ids="-".join)
def test_the_longest_names_fit_every_screen_in_every_state(
    qtbot, long_named, counter_screen, connect, size, languages, clock
):
    """GIVEN the longest counter name and reason WHEN the screen shows calling, recall,
    serving, paused and closed at 1280x400 and 800x480 THEN no text is cut, spilled or on
    another; side by side, the texts that cannot hold both languages take turns."""
    controller, view = counter_screen(long_named, size=size, languages=languages)
    counter = connect("counter-3")
    connect("kiosk-1").request("issue_ticket", {"service": "cash"})
    steps = [
        ("calling", lambda: counter.request("call_next")),
        ("calling", lambda: (clock.advance(30), counter.request("recall"))),
        ("serving", lambda: counter.request("start")),
        ("paused", lambda: counter.request("pause_counter", {"reason": "系统维护 System upgrade"})),
        ("closed", lambda: (counter.request("finish"), counter.request("close_counter"))),
    ]
    for mode, step in steps:
        step()
        qtbot.waitUntil(lambda m=mode: controller.mode == m, timeout=5_000)
        drawn(view)
        assert problems(view) == [], mode
        assert texts(view, "counterName")  # the name is always there
    if len(languages) == 2:  # a text could not hold both: one language at a time
        assert view.rootObject().property("alternating")


def test_both_languages_side_by_side_when_they_fit(qtbot, server, counter_screen, example_config):
    for size in SIZES:
        controller, view = counter_screen(example_config, size=size)
        assert not view.rootObject().property("alternating"), size
        assert texts(view, "counterName") == ["3号窗口", "Counter 3"]
        drawn(view)
        assert problems(view) == []


@pytest.mark.parametrize("where", ["option", "device file"])
def test_the_command_draws_a_counter_screen(
    qtbot, server, connect, example_device, tmp_path, where
):
    """GIVEN lobby-1.toml WHEN `nowserving display --counter c3 --screenshot` (or the file's
    `[display] counter = "c3"`) THEN the counter's screen is drawn, at 1280x400 unless
    asked otherwise."""
    connect("kiosk-1").request("issue_ticket", {"service": "cash"})
    connect("counter-3").request("call_next")
    device = example_device("lobby-1")
    if where == "device file":
        text = device.read_text(encoding="utf-8")
        device.write_text(text.replace("[display]\n", '[display]\ncounter = "c3"\n'))
    png = tmp_path / "counter.png"
    argv = ["display", "--config", str(EXAMPLE), "--device", str(device),
            "--screenshot", str(png)]  # fmt: skip
    argv += ["--counter", "c3"] if where == "option" else []
    assert main(argv) == 0
    assert QImage(str(png)).size().toTuple() == (1280, 400)


def test_the_command_refuses_a_counter_the_branch_lacks(example_device, capsys):
    argv = ["display", "--config", str(EXAMPLE), "--device", str(example_device("lobby-1")),
            "--counter", "c33"]  # fmt: skip
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert "display.counter: unknown counter 'c33' (did you mean 'c3'?)" in err
