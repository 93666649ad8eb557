"""The lobby display, offscreen with pytest-qt, against the real server and Mosquitto: calls
reach the screen with the right number and counter, calls in quick succession each get
their turn and are all handed to the announcer in order, the lines and notices follow the
state, and a lost connection is shown while the last state stays."""

from __future__ import annotations

import json
import queue

import pytest

from nowserving.adapters.audio import FilePlayer
from nowserving.adapters.mqtt import MqttLink
from nowserving.config.device import BrokerSettings, DeviceConfig, DisplaySettings
from nowserving.config.hardware import AudioSettings
from nowserving.display.announce import render
from nowserving.display.launcher import build
from nowserving.launch import Hardware
from nowserving.protocol import Role
from tests.kiosk.test_kiosk import find_item

TURN_S = 0.3  # short turns, so that five calls take seconds, not half a minute


def lobby_device(port: int, **tables) -> DeviceConfig:
    """lobby-1's device file, reaching the test broker, with the settings given."""
    broker = BrokerSettings("127.0.0.1", port)
    return DeviceConfig("lobby-1", Role.DISPLAY, "pudong", broker, **tables)


@pytest.fixture
def lobby(qtbot, server, broker, example_config):
    """lobby-1 (silent) on an offscreen 1920x1080 window; `announced` gets each call as its
    turn starts (what the announcer would speak)."""
    made = []

    def make(settings: DisplaySettings | None = None, size=(1920, 1080)):
        announced: list = []
        app = build(example_config, lobby_device(broker.port, display=settings), view_size=size,
                    hold_s=TURN_S * 2, turn_s=TURN_S)  # fmt: skip
        made.append(app)
        controller = app.controller
        controller.on_call = lambda call, age: announced.append(call)
        app.view.show()
        qtbot.waitUntil(lambda: controller.online and controller.hasState, timeout=10_000)
        return controller, app.view, announced

    yield make
    for app in made:
        app.close()


def issue(connect, n: int, service: str = "cash", language: str = "zh") -> list[str]:
    kiosk = connect("kiosk-1")
    return [
        kiosk.request("issue_ticket", {"service": service, "language": language}).ticket["number"]
        for _ in range(n)
    ]


def text_of(view, name: str) -> str:
    item = find_item(view.rootObject(), name)
    assert item is not None, name
    return item.property("text")


def test_a_call_reaches_the_screen_with_its_number_and_counter(qtbot, lobby, connect):
    """GIVEN a waiting customer WHEN counter 3 calls THEN the spotlight shows the number and
    counter 3 in both languages, flashing, and the call goes to the announcer in the
    customer's language."""
    (number,) = issue(connect, 1, language="en")
    controller, view, announced = lobby()
    connect("counter-3").request("call_next")
    qtbot.waitUntil(lambda: controller.spotlight.get("number") == number, timeout=5_000)
    assert controller.highlighted
    assert text_of(view, "spotNumber") == number
    counters = [i.property("text") for i in _items(view.rootObject(), "spotCounter")]
    assert counters == ["3号窗口", "Counter 3"]
    assert [(c.number, c.counter, c.language) for c in announced] == [(number, "c3", "en")]
    qtbot.waitUntil(lambda: not controller.highlighted, timeout=5_000)  # its turn ends
    assert controller.spotlight["number"] == number  # ... and it stays on screen


def test_five_calls_200_ms_apart_each_get_their_turn_in_order(qtbot, lobby, connect):
    numbers = issue(connect, 4) + issue(connect, 1, "loans")  # counters 1-4: cash; 5: loans
    controller, view, announced = lobby()
    spotlit: list[str] = []
    controller.spotlightChanged.connect(
        lambda: controller.highlighted and spotlit.append(controller.spotlight["number"])
    )
    for i in range(5):
        connect(f"counter-{i + 1}").request("call_next")
        qtbot.wait(200)
    qtbot.waitUntil(lambda: len(announced) == 5, timeout=10_000)
    assert [c.number for c in announced] == numbers  # handed over as seen, in order
    qtbot.waitUntil(lambda: len(spotlit) == 5, timeout=10_000)
    assert spotlit == numbers  # each had the spotlight, first called first
    qtbot.waitUntil(lambda: not controller.highlighted, timeout=5_000)
    # The history lists the earlier calls, newest first, with their counters.
    history = [(h["number"], h["counter"]["en"]) for h in controller.history.rows]
    assert history == [(numbers[i], f"Counter {i + 1}") for i in (3, 2, 1, 0)]
    assert controller.spotlight == {
        "number": numbers[4], "counter": {"zh": "5号贵宾室", "en": "Room 5"}, "recall": False,
        "serial": 5,
    }  # fmt: skip


def test_five_calls_are_all_spoken_in_order_and_never_over_each_other(
    qtbot,
    server,
    broker,
    connect,
    clips,
    tmp_path,
    example_config,
):
    """The real announcer behind the screen (its player writes what it plays, taking a
    twentieth of each sound's time): each call is spoken, in the customer's language then
    the branch's other one, one after another."""
    numbers = issue(connect, 4) + issue(connect, 1, "loans", language="en")
    player = FilePlayer(tmp_path / "spoken", speed=20)
    device = lobby_device(broker.port, audio=AudioSettings(clips=clips))
    with build(example_config, device, hardware=Hardware(player=player), hold_s=TURN_S * 2,
               turn_s=TURN_S) as app:  # fmt: skip
        announcer, client = app.announcer, app.client
        app.view.show()
        qtbot.waitUntil(lambda: app.controller.online and app.controller.hasState, timeout=10_000)
        for i in range(5):
            connect(f"counter-{i + 1}").request("call_next")
            qtbot.wait(200)
        qtbot.waitUntil(lambda: len(player.played) == 5, timeout=20_000)
        languages = [("zh", "en")] * 4 + [("en", "zh")]
        expected = [
            render(clips, n, f"c{i + 1}", first, then=then, volume=80)
            for i, (n, (first, then)) in enumerate(zip(numbers, languages, strict=True))
        ]
        assert [p.path.read_bytes() for p in player.played] == expected
        ends = [p.ended for p in player.played]
        starts = [p.started for p in player.played]
        assert all(start >= end for start, end in zip(starts[1:], ends, strict=False))
        qtbot.waitUntil(lambda: announcer.status == "audio: ok (file)", timeout=5_000)
        # ... and the display's retained status says so, for whoever watches the branch.
        seen: queue.Queue = queue.Queue()
        monitor = MqttLink(client.link.broker, "monitor", on_message=lambda *m: seen.put(m[1]))
        monitor.subscribe(client.topics.status("lobby-1"))
        with monitor:
            monitor.start()
            status = json.loads(seen.get(timeout=5))
        assert (status["online"], status["audio"], status["screen"]) == (
            True, "audio: ok (file)", "on"
        )  # fmt: skip
        assert status["version"]


def test_a_recall_is_shown_and_announced_again(qtbot, lobby, connect, clock):
    (number,) = issue(connect, 1)
    controller, view, announced = lobby()
    counter = connect("counter-1")
    counter.request("call_next")
    qtbot.waitUntil(lambda: len(announced) == 1, timeout=5_000)
    clock.advance(30)  # past the recall cool-down
    assert counter.request("recall").ok
    qtbot.waitUntil(lambda: len(announced) == 2, timeout=5_000)
    assert [(c.number, c.recalls) for c in announced] == [(number, 0), (number, 1)]
    # Handed to the announcer at once; in the spotlight when the call before has had its turn.
    qtbot.waitUntil(lambda: controller.spotlight.get("recall") is True, timeout=5_000)
    assert controller.history.rows == []  # one ticket, listed once


def test_lines_and_estimates_follow_the_state(qtbot, lobby, connect):
    controller, view, _ = lobby()
    cash = lambda: next(r for r in controller.services.rows if r["names"]["en"].startswith("Cash"))  # noqa: E731
    assert cash()["count"] == 0 and cash()["wait"]["en"] == "no wait"
    issue(connect, 3)
    qtbot.waitUntil(lambda: cash()["count"] == 3, timeout=5_000)
    assert cash()["waiting"]["zh"] == "3 人等候"
    qtbot.waitUntil(lambda: "min" in cash()["wait"]["en"], timeout=10_000)  # estimated
    connect("counter-1").request("call_next")
    qtbot.waitUntil(lambda: cash()["count"] == 2, timeout=5_000)


def test_a_notice_and_a_paused_counter_appear_in_the_ticker(qtbot, lobby, connect):
    controller, view, _ = lobby()
    connect("counter-2").request("post_notice", {"text": "系统维护 System maintenance"})
    connect("counter-6").request("pause_counter", {"reason": "lunch"})  # a code
    qtbot.waitUntil(lambda: len(controller.notices) == 2, timeout=5_000)
    assert controller.notices[0]["en"] == "系统维护 System maintenance"
    # The reason travels as a code; each language shows it in its own words.
    assert controller.notices[1] == {
        "zh": "6号贵宾室暂停服务：午餐",
        "en": "Room 6 is paused: lunch",
    }
    assert "System maintenance" in text_of(view, "ticker")


def test_disconnect_shows_the_mark_keeps_the_state_and_reconnect_converges(
    qtbot, lobby, connect, mosquitto
):
    issue(connect, 2)
    controller, view, _ = lobby()
    qtbot.waitUntil(lambda: controller.services.rows[0]["count"] == 2, timeout=5_000)
    mark = find_item(view.rootObject(), "offlineMark")
    assert not mark.isVisible()
    mosquitto.stop()
    try:
        qtbot.waitUntil(lambda: not controller.online, timeout=10_000)
        assert mark.isVisible()
        assert controller.services.rows[0]["count"] == 2  # the last known state stays
    finally:
        mosquitto.start()
    qtbot.waitUntil(lambda: controller.online, timeout=20_000)
    issue(connect, 1)  # the world moved on: the screen catches up
    qtbot.waitUntil(lambda: controller.services.rows[0]["count"] == 3, timeout=10_000)
    assert not mark.isVisible()


def test_the_server_going_away_shows_the_mark(qtbot, lobby, server):
    controller, view, _ = lobby()
    server.close()  # its retained status turns offline
    qtbot.waitUntil(lambda: not controller.online, timeout=10_000)
    assert find_item(view.rootObject(), "offlineMark").isVisible()


def test_a_display_that_starts_later_shows_the_calls_without_replaying_old_ones(
    qtbot, lobby, connect, clock
):
    numbers = issue(connect, 2)
    connect("counter-1").request("call_next")
    connect("counter-2").request("call_next")
    clock.advance(60)  # a minute later, the screen is switched on
    connect("kiosk-2")  # (any change publishes a fresh summary)
    issue(connect, 1)
    controller, view, announced = lobby()
    assert announced == []  # they were called before this screen looked
    assert controller.spotlight["number"] == numbers[1]
    assert [h["number"] for h in controller.history.rows] == [numbers[0]]


def _items(item, name: str) -> list:
    found = [item] if item.objectName() == name else []
    for child in item.childItems():
        found += _items(child, name)
    return found


def test_alternating_languages_take_turns(qtbot, lobby):
    settings = DisplaySettings(language_mode="alternate", alternate_seconds=2)
    controller, view, _ = lobby(settings)
    assert controller.shownLanguages == ["zh"]
    qtbot.waitUntil(lambda: controller.shownLanguages == ["en"], timeout=4_000)
    qtbot.waitUntil(lambda: controller.shownLanguages == ["zh"], timeout=4_000)  # round again


def test_a_notice_in_each_language_is_shown_in_the_language_on_screen(qtbot, lobby, connect):
    """GIVEN a lobby taking turns between zh and en WHEN staff post a notice in both THEN
    the ticker says it in Chinese while Chinese is shown and in English while English is."""
    settings = DisplaySettings(language_mode="alternate", alternate_seconds=1)
    controller, view, _ = lobby(settings)
    posted = connect("counter-2").request(
        "post_notice", {"text_zh": "系统升级，现金业务稍慢", "text_en": "Cash is slower: upgrade"}
    )
    assert posted.ok
    qtbot.waitUntil(lambda: len(controller.notices) == 1, timeout=5_000)
    zh, en = "系统升级，现金业务稍慢", "Cash is slower: upgrade"
    assert controller.notices[0] == {"zh": zh, "en": en}
    for language, words in (("zh", zh), ("en", en)):
        qtbot.waitUntil(lambda lang=language: controller.shownLanguages == [lang], timeout=3_000)
        qtbot.waitUntil(lambda w=words: text_of(view, "ticker") == w, timeout=3_000)


def test_media_pictures_show_in_turn_and_give_way_to_a_call(qtbot, lobby, connect, tmp_path):
    from PySide6.QtGui import QColor, QImage

    for name, colour in (("1.png", "red"), ("2.png", "blue")):
        picture = QImage(64, 36, QImage.Format.Format_RGB32)
        picture.fill(QColor(colour))
        picture.save(str(tmp_path / name))
    (tmp_path / "notes.txt").write_text("not a picture")
    settings = DisplaySettings(media=tmp_path, media_seconds=2)
    (number,) = issue(connect, 1)
    controller, view, _ = lobby(settings)
    media = find_item(view.rootObject(), "media")
    assert controller.media.endswith("/1.png") and media.isVisible()
    qtbot.waitUntil(lambda: controller.media.endswith("/2.png"), timeout=4_000)
    connect("counter-1").request("call_next")
    qtbot.waitUntil(lambda: controller.highlighted, timeout=5_000)
    assert not media.isVisible()  # the call has the room
    qtbot.waitUntil(lambda: media.isVisible(), timeout=5_000)  # its turn over
