"""The kiosk's audio guide: what each screen says, how `next`/`select` and a touch move
through it, and what is spoken — through the real Speaker, the example branch's clip set
made by espeak-ng, and a FilePlayer that writes each WAV it would play. GPIO buttons are
driven through gpiozero's MockFactory from a second thread, the touch screen through
pytest-qt offscreen."""

from __future__ import annotations

import threading
import time

import pytest
from gpiozero.pins.mock import MockFactory
from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtTest import QTest

from nowserving.adapters.audio import FilePlayer, wav_seconds
from nowserving.adapters.mqtt import Broker
from nowserving.adapters.printer.device import TicketPrinter, open_escpos
from nowserving.adapters.voice import PAUSE, ClipSet
from nowserving.client import BranchClient
from nowserving.client.qt import QtBranchBridge
from nowserving.config import parse_device_config
from nowserving.kiosk import guide
from nowserving.kiosk.app import KioskController
from nowserving.kiosk.guide import BACK, TAKE, Guide, Speaker
from nowserving.kiosk.launcher import build, build_view
from nowserving.kiosk.printing import PrintQueue
from nowserving.launch import Hardware
from tests.kiosk.test_kiosk import SETTINGS, find_item, kiosk_ready, press

ROWS = [
    {"serviceId": "cash", "group": False, "accepting": True},
    {"serviceId": "loans", "group": False, "accepting": False},
    {"serviceId": "personal", "group": True, "accepting": True},
]


# ----- the screens and the focus, without Qt ------------------------------------------------


def test_the_start_screen_says_each_button_and_whether_it_takes_tickets():
    screen = guide.start_screen(ROWS, in_group=False)
    assert screen.intro == ("guide_services",)
    assert [(c.action, c.clips) for c in screen.choices] == [
        ("service:cash", ("service-cash",)),
        ("service:loans", ("service-loans", "guide_not_taking")),
        ("service:personal", ("group-personal",)),
    ]
    assert guide.start_screen(ROWS, in_group=True).choices[-1] == guide.Choice(
        BACK, ("guide_back",)
    )


def test_next_goes_round_the_choices_and_select_does_the_one_last_said():
    g = Guide()
    assert g.show(guide.start_screen(ROWS, in_group=False)) == ["guide_services"]
    assert g.select() is None  # nothing said yet: the screen is said again
    assert g.next() == ["service-cash"]
    assert g.next() == ["service-loans", "guide_not_taking"]
    assert g.select() == "service:loans"
    g.next()
    assert g.next() == ["service-cash"]  # after the last, the first
    g.show(guide.late_screen())
    assert g.select() is None  # a new screen: the focus starts again
    assert g.next() == ["guide_back"]  # "back" first, as on the screen
    assert g.next() == ["guide_take"] and g.select() == TAKE


def test_a_first_touch_says_a_choice_and_a_second_does_it():
    g = Guide()
    g.show(guide.priority_screen(["priority"]))
    assert g.touch("priority:priority") == ["priority-priority"]
    assert g.touch("priority:") == ["guide_regular"]  # another choice: said, not done
    assert g.touch("priority:") == []  # the same again: do it
    assert g.has("priority:") and not g.has("service:cash")


def test_the_number_screen_spells_the_number():
    done = guide.number_screen("A012", printed=True, again="guide_again_touch")
    assert done.intro == ("guide_number", "letter-a", "digit-0", "digit-1", "digit-2",
                          PAUSE, "guide_done", PAUSE, "guide_again_touch")  # fmt: skip
    failed = guide.number_screen("B7", printed=False, again="guide_again_buttons")
    assert failed.intro == ("guide_failed", "letter-b", "digit-7", PAUSE, "guide_again_buttons")
    assert Guide().show(failed) == list(failed.intro)


# ----- the speaker -----------------------------------------------------------------------------


def test_the_speaker_plays_exactly_those_clips_and_newer_words_cut_older_ones(clips, tmp_path):
    """GIVEN the real clip set WHEN the start screen is said, then at once the first choice
    THEN the newest is played in full (a cut-off list is never queued behind it), each WAV
    as long as its clips."""
    player = FilePlayer(tmp_path / "out", speed=20)
    speaker = Speaker(ClipSet(clips), player)
    try:
        speaker.say("en", ["guide_on_touch", PAUSE, "guide_services"])
        speaker.say("en", ["service-cash"])
        deadline = time.monotonic() + 10
        while ("en/service-cash",) not in speaker.said and time.monotonic() < deadline:
            time.sleep(0.02)
        assert speaker.said[-1] == ("en/service-cash",)
        assert speaker.status == "audio: ok (file)"
        while len(player.played) < len(speaker.said) and time.monotonic() < deadline:
            time.sleep(0.02)
        last = player.played[-1].path.read_bytes()
        one = ClipSet(clips).path("en/service-cash").read_bytes()
        assert abs(wav_seconds(last) - wav_seconds(one)) < 0.05
    finally:
        speaker.close()


def test_a_missing_clip_is_reported_not_raised(tmp_path):
    """GIVEN a clip folder without the guide's clips (voice-clips not run again after an
    upgrade) THEN the speaker's status says which clip is missing and it says nothing."""
    (tmp_path / "clips" / "en").mkdir(parents=True)
    statuses: list[str] = []
    speaker = Speaker(ClipSet(tmp_path / "clips"), FilePlayer(tmp_path / "out"), 100,
                      statuses.append)  # fmt: skip
    try:
        speaker.say("en", ["guide_services"])
        deadline = time.monotonic() + 5
        while not speaker.status.startswith("audio: clip problem") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "en/guide_services" in speaker.status and speaker.said == []
        assert statuses[-1] == speaker.status
    finally:
        speaker.close()


# ----- the kiosk, guided -----------------------------------------------------------------------


def said(qtbot, speaker: Speaker, expected: list[str], language: str = "en") -> None:
    """Wait until the speaker has started to say `expected` (clips in `language`)."""
    want = tuple(n if n == PAUSE else f"{language}/{n}" for n in expected)
    try:
        qtbot.waitUntil(lambda: bool(speaker.said) and speaker.said[-1] == want, timeout=10_000)
    except Exception:  # pytest-qt's TimeoutError: say what was said instead
        last = speaker.said[-1] if speaker.said else None
        raise AssertionError(f"said last {last}, not {want}") from None


EN_START = ["guide_on_touch", PAUSE, "guide_services"]


@pytest.fixture
def guided(qtbot, server, broker, example_config, clips, tmp_path):
    """A kiosk on its offscreen screen with a Dummy printer, and an audio guide."""
    prints = PrintQueue(TicketPrinter(open_escpos(SETTINGS), SETTINGS))
    client = BranchClient(broker, "pudong", "kiosk-1", status=lambda: prints.status)
    controller = KioskController(example_config, QtBranchBridge(client), prints, None)
    speaker = Speaker(ClipSet(clips), FilePlayer(tmp_path / "heard", speed=50))
    controller.attach_speaker(speaker)
    view = build_view(controller, QSize(1024, 600))
    client.start(wait_s=None)
    view.show()
    qtbot.waitUntil(kiosk_ready(controller), timeout=10_000)
    yield controller, view, speaker
    speaker.close()
    controller.close()
    client.close()
    prints.close()
    view.close()


def hold(view, name: str) -> None:
    """A finger held on the item called `name` for a second (a long press is 0.8 s)."""
    item = find_item(view.rootObject(), name)
    assert item is not None and item.isVisible(), name
    centre = item.mapToScene(QPointF(item.width() / 2, item.height() / 2)).toPoint()
    QTest.mousePress(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)
    QTest.qWait(1000)
    QTest.mouseRelease(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)


def test_holding_a_language_button_starts_the_guide_in_that_language(qtbot, guided):
    """GIVEN the kiosk in Chinese WHEN a customer holds "English" THEN the screen turns
    English and the guide says how to use it and the start screen; a tap on "中文" then
    changes the language, and the screen is said again in Chinese."""
    controller, view, speaker = guided
    assert controller.language == "zh" and not controller.guideOn
    hold(view, "language-en")
    assert controller.language == "en" and controller.guideOn
    said(qtbot, speaker, EN_START)
    press(view, "language-zh")
    assert controller.language == "zh" and controller.guideOn
    said(qtbot, speaker, ["guide_services"], "zh")


def test_touch_once_to_hear_twice_to_take_a_ticket_and_hear_its_number(qtbot, guided, server):
    """GIVEN the guide on WHEN the customer touches 'cash' once THEN it is said and nothing
    is issued; a second touch asks about priority (said); the regular choice touched twice
    issues a ticket; the number is spoken; a touch on the number screen says it again."""
    controller, view, speaker = guided
    controller.startGuide("en")
    said(qtbot, speaker, EN_START)
    press(view, "service-cash")
    said(qtbot, speaker, ["service-cash"])
    assert controller.phase == "choose" and server.branch.issued["cash"] == 0
    press(view, "service-cash")
    assert controller.phase == "priority"
    said(qtbot, speaker, ["guide_priority"])
    press(view, "choice-priority-")
    said(qtbot, speaker, ["guide_regular"])
    press(view, "choice-priority-")
    qtbot.waitUntil(lambda: controller.phase == "done", timeout=10_000)
    number = controller.ticketNumber
    assert number == "A001" and server.branch.issued["cash"] == 1
    spoken = ["guide_number", "letter-a", "digit-0", "digit-0", "digit-1", PAUSE,
              "guide_done", PAUSE, "guide_again_touch"]  # fmt: skip
    said(qtbot, speaker, spoken)
    count = len(speaker.said)
    QTest.mouseClick(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     view.rootObject().mapToScene(QPointF(200, 300)).toPoint())  # fmt: skip
    qtbot.waitUntil(lambda: len(speaker.said) > count, timeout=10_000)
    assert speaker.said[-1] == speaker.said[count - 1]


def test_the_guide_goes_off_when_the_customer_has_gone(qtbot, guided):
    controller, _, speaker = guided
    controller.startGuide("en")
    controller._customer_gone()  # what the idle timer does
    assert not controller.guideOn and controller.language == "zh"
    controller.choose("cash")  # the next customer's tap does it at once
    assert controller.phase == "priority"
    controller._guide_button("next")  # a guide button turns the guide on again, in zh
    said(qtbot, speaker, ["guide_on_touch", PAUSE, "guide_priority"], "zh")


def test_a_late_wait_is_said_and_back_comes_first(qtbot, example_config, clips, tmp_path):
    """GIVEN 16:20 and a cash wait past closing WHEN a guided customer chooses cash, a
    regular ticket THEN the guide says the wait runs late; `next` says "back" first, and
    select goes back to the start screen, which is said again."""
    from nowserving.domain import Branch
    from nowserving.domain.estimate import Estimate
    from nowserving.protocol import encode, state_message
    from nowserving.protocol.views import decode_state
    from tests.conftest import ManualClock
    from tests.kiosk.test_kiosk import a_kiosk, shanghai

    now = shanghai(7, 16, 20)
    controller = a_kiosk(example_config, ManualClock(now))
    speaker = Speaker(ClipSet(clips), FilePlayer(tmp_path / "heard", speed=50))
    controller.attach_speaker(speaker)
    try:
        branch = Branch(example_config.rules)
        estimates = ({}, {"cash": Estimate(2800.0, 2400.0, 3300.0, 12)}, now, branch.seq)
        state = state_message(branch, example_config.names, now, estimates)
        controller._take_state(decode_state(encode(state)))
        controller.startGuide("en")
        controller.choose("cash")
        controller.choose("cash")
        controller.choosePriority("")
        controller.choosePriority("")
        assert controller.phase == "confirm_late"
        said(qtbot, speaker, ["guide_late"])
        controller._guide_button("next")
        said(qtbot, speaker, ["guide_back"])
        controller._guide_button("select")
        assert controller.phase == "choose"
        said(qtbot, speaker, ["guide_services"])
    finally:
        speaker.close()
        controller.close()


def test_a_closed_branch_says_it_is_closed(qtbot, example_config, clips, tmp_path):
    from tests.conftest import ManualClock
    from tests.kiosk.test_kiosk import a_kiosk, shanghai

    controller = a_kiosk(example_config, ManualClock(shanghai(13, 11)))  # a Sunday
    speaker = Speaker(ClipSet(clips), FilePlayer(tmp_path / "heard", speed=50))
    controller.attach_speaker(speaker)
    try:
        controller.startGuide("zh")
        said(qtbot, speaker, ["guide_on_touch", PAUSE, "guide_closed"], "zh")
    finally:
        speaker.close()
        controller.close()


def test_printing_the_number_a_failed_print_and_no_ticket_are_each_said(
    qtbot, example_config, clips, tmp_path
):
    """GIVEN the guide on in English and a kiosk with a printer WHEN its ticket is being
    printed, is printed, could not be printed, or no ticket can be issued THEN each screen
    says its own clips: "printing your ticket"; the number spelt and what to do; the printer
    failed and the number; no ticket can be taken now (no server and no lease here)."""
    from nowserving.kiosk.app import Phase
    from nowserving.protocol.views import TicketView
    from tests.conftest import ManualClock
    from tests.kiosk.test_kiosk import shanghai

    prints = PrintQueue(TicketPrinter(open_escpos(SETTINGS), SETTINGS))
    client = BranchClient(Broker("127.0.0.1", 9), "pudong", "kiosk-1")  # never started
    controller = KioskController(example_config, QtBranchBridge(client), prints, None,
                                 ManualClock(shanghai(7, 10)))  # fmt: skip
    speaker = Speaker(ClipSet(clips), FilePlayer(tmp_path / "heard", speed=50))
    controller.attach_speaker(speaker)
    try:
        controller.startGuide("en")
        said(qtbot, speaker, EN_START)
        controller._set_phase(Phase.PRINTING)  # what a second touch on a choice leads to
        said(qtbot, speaker, ["guide_printing"])
        controller._print(TicketView("2026-12-07/A012", "A012", "cash", "en", 0.0, 3, None))
        qtbot.waitUntil(lambda: controller.phase == "done", timeout=10_000)
        said(qtbot, speaker, ["guide_number", "letter-a", "digit-0", "digit-1", "digit-2",
                              PAUSE, "guide_done", PAUSE, "guide_again_touch"])  # fmt: skip
        controller._take_printed("A012", "out of paper")
        said(qtbot, speaker, ["guide_failed", "letter-a", "digit-0", "digit-1", "digit-2",
                              PAUSE, "guide_again_touch"])  # fmt: skip
        controller.reset()
        controller.choose("cash")  # the first touch says it, the second does it
        controller.choose("cash")
        controller.choosePriority("")
        controller.choosePriority("")  # a regular ticket: no server, no lease
        assert controller.phase == "unavailable"
        said(qtbot, speaker, ["guide_unavailable"])
    finally:
        speaker.close()
        controller.close()
        prints.close()


# ----- guide buttons through GPIO -------------------------------------------------------------

PINS = {"cash": 5, "guide": 19, "next": 20, "select": 21, "back": 26}


@pytest.fixture
def buttons_kiosk(qtbot, server, broker, example_config, clips, tmp_path):
    """A kiosk with no screen, a ticket button and the guide's four buttons, and `[audio]`
    from its device file (the clip set; a FilePlayer for the headset)."""
    factory = MockFactory()
    device = parse_device_config(
        {
            "device": {"id": "kiosk-1", "role": "kiosk", "branch": "pudong"},
            "broker": {"host": "127.0.0.1", "port": broker.port},
            "gpio": {"pin_factory": "mock", "buttons": PINS, "bounce_ms": 20},
            "audio": {"clips": str(clips)},
        }
    )
    player = FilePlayer(tmp_path / "heard", speed=50)
    hardware = Hardware(pin_factory=factory, player=player)
    with build(example_config, device, hardware=hardware, view_size=None) as app:
        qtbot.waitUntil(lambda: app.controller._state is not None, timeout=10_000)
        yield app, factory


def push(factory: MockFactory, name: str) -> None:
    """From another thread, as gpiozero's own callbacks come: one press of button `name`."""

    def finger() -> None:
        pin = factory.pin(PINS[name])
        pin.drive_low()
        pin.drive_high()

    thread = threading.Thread(target=finger)
    thread.start()
    thread.join(timeout=5)


def test_the_guide_buttons_take_a_customer_to_a_priority_ticket(qtbot, buttons_kiosk, server):
    """GIVEN a kiosk with guide buttons WHEN a customer presses `guide` THEN it speaks
    Chinese (the branch's first language) saying how to use the buttons; `guide` again
    switches to English; `next` says the first service; `select` takes it, the priority
    question is said; `next` `select` on the priority class issues a priority ticket, whose
    number is said; the device status says the audio works."""
    app, factory = buttons_kiosk
    controller, speaker = app.controller, app.speaker
    push(factory, "guide")
    said(qtbot, speaker, ["guide_on_buttons", PAUSE, "guide_services"], "zh")
    push(factory, "guide")
    said(qtbot, speaker, ["guide_on_buttons", PAUSE, "guide_services"])
    first = controller._model.rows[0]["serviceId"]
    push(factory, "next")
    said(qtbot, speaker, [f"service-{first}"])
    push(factory, "select")
    qtbot.waitUntil(lambda: controller.phase == "priority", timeout=5_000)
    said(qtbot, speaker, ["guide_priority"])
    push(factory, "next")
    said(qtbot, speaker, ["priority-priority"])
    push(factory, "select")
    qtbot.waitUntil(lambda: controller.phase in ("done", "failed"), timeout=10_000)
    ticket = server.branch.tickets[f"{server.branch.business_day}/{controller.ticketNumber}"]
    assert ticket.priority == "priority" and ticket.service == first
    from nowserving.adapters.voice import number_clips

    # No printer on this kiosk: the customer is asked to remember the number.
    said(qtbot, speaker, ["guide_number", *number_clips(ticket.number), PAUSE,
                          "guide_remember", PAUSE, "guide_again_buttons"])  # fmt: skip
    push(factory, "select")  # again, please
    qtbot.waitUntil(lambda: speaker.said[-1] == speaker.said[-2], timeout=10_000)
    assert app.status()["audio"] == "audio: ok (file)"
