"""The audio guide on the check-in screens (docs/appointments.md): the booking code's
keypad, too early, not checked in and the appointment's ticket, each said from the clip set
(times of day as clips) — through the real server and Mosquitto, the example branch's
espeak-ng clips and the real Speaker; touches offscreen with pytest-qt, guide buttons
through gpiozero's MockFactory from a second thread."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from nowserving.adapters.voice import PAUSE, number_clips, time_clips
from nowserving.kiosk import guide
from nowserving.kiosk.checkin import CODE_KEYS
from tests.kiosk import test_checkin, test_guide
from tests.kiosk.test_checkin import ZONE, scan
from tests.kiosk.test_guide import EN_START, said
from tests.kiosk.test_kiosk import press

# Their fixtures: a guided kiosk on its screen, one with guide buttons, bookings.
guided, buttons_kiosk, book = test_guide.guided, test_guide.buttons_kiosk, test_checkin.book


def test_a_time_of_day_is_said_as_the_screen_shows_it_in_each_language():
    assert time_clips("en", "10:30") == ["number-10", "number-30"]
    assert time_clips("en", "09:05") == ["digit-9", "guide_time_oh", "digit-5"]
    assert time_clips("en", "14:00") == ["number-14", "guide_time_oclock"]
    assert time_clips("en", "16:47") == ["number-16", "number-40", "digit-7"]
    assert time_clips("zh", "10:30") == ["number-10", "guide_time_hour", "number-30",
                                         "guide_time_minute"]  # fmt: skip
    assert time_clips("zh", "09:05") == ["digit-9", "guide_time_hour", "guide_time_oh",
                                         "digit-5", "guide_time_minute"]  # fmt: skip
    assert time_clips("zh", "14:00") == ["number-14", "guide_time_hour", "guide_time_oclock"]
    assert time_clips("en", "?") == [] and time_clips("en", "24:00") == []


def test_the_check_in_screens_and_what_they_say():
    code = guide.code_screen(CODE_KEYS)
    assert code.intro == ("guide_code",)
    assert code.choices[0] == guide.Choice(f"key:{CODE_KEYS[0]}", tuple(number_clips(CODE_KEYS[0])))
    assert [c.action for c in code.choices[-3:]] == ["key:del", guide.BACK, guide.CHECK_IN]
    assert guide.typed("3A") == ["guide_code_typed", "digit-3", "letter-a"]
    assert guide.typed("") == ["guide_code_empty"]
    early = guide.early_screen(["number-10"], ["number-9"])
    assert early.intro == ("guide_early", "number-10", PAUSE, "guide_early_from", "number-9",
                           "guide_early_or")  # fmt: skip
    assert [c.action for c in early.choices] == [guide.BACK, guide.WALK_IN]  # back first
    assert guide.refused_screen("guide_checkin_unknown").choices[0].action == guide.BACK
    start = guide.start_screen([{"serviceId": "cash", "group": False, "accepting": True}],
                               in_group=False, check_in=True)  # fmt: skip
    assert start.choices[-1] == guide.Choice(guide.APPOINTMENT, ("guide_checkin_start",))


def push(factory, name: str) -> None:
    """One press of guide button `name`, a person's press: the last one is past the buttons'
    debounce time (20 ms; a press within it is a bounce, and ignored)."""
    time.sleep(0.05)
    test_guide.push(factory, name)


def hm(at: float) -> str:
    return datetime.fromtimestamp(at, ZONE).strftime("%H:%M")


def ticket_said(number: str, booked: str = "", late: bool = False) -> list[str]:
    """What the number's screen says for a checked-in ticket (printed, touch screen)."""
    said_ = ["guide_number", *number_clips(number), PAUSE]
    if booked:
        said_ += ["guide_appointment", *time_clips("en", booked), PAUSE]
    if late:
        said_ += ["guide_checkin_late", PAUSE]
    return [*said_, "guide_done", PAUSE, "guide_again_touch"]


def test_every_check_in_screen_and_outcome_is_said(qtbot, guided, book, clock, server):
    """GIVEN the guide on (touch screen) WHEN a customer goes to the code's keypad, types,
    checks in too soon, goes back, and scans codes: too early, on time, used, too late
    THEN each screen is said, with its times as clips, and each touch says before it does."""
    controller, view, speaker = guided
    controller.startGuide("en")
    said(qtbot, speaker, EN_START)
    early, on_time, late = book(120), book(20), book(25)
    now = clock()
    press(view, "check-in")
    said(qtbot, speaker, ["guide_checkin_start"])
    assert controller.phase == "choose"
    press(view, "check-in")
    said(qtbot, speaker, ["guide_code"])
    press(view, "code-key-A")
    said(qtbot, speaker, ["letter-a"])
    assert controller.codeText == ""
    press(view, "code-key-A")
    said(qtbot, speaker, ["guide_code_typed", "letter-a"])
    press(view, "choice-check_in-")
    said(qtbot, speaker, ["guide_check_in"])
    press(view, "choice-check_in-")  # one character is no code: said why, nothing sent
    said(qtbot, speaker, ["guide_code_short", PAUSE, "guide_code_typed", "letter-a"])
    assert controller.phase == "code"
    controller.back()  # the keypad's Back (the start screen's hidden one has its name)
    said(qtbot, speaker, ["guide_back"])
    controller.back()
    said(qtbot, speaker, ["guide_services"])

    scan(view, early)  # at 09:00 for 11:00: come back from 10:30
    qtbot.waitUntil(lambda: controller.phase == "early", timeout=10_000)
    booked = hm(now + 120 * 60)
    come_back = hm(now + 120 * 60 - timedelta(minutes=30).total_seconds())
    said(qtbot, speaker, ["guide_early", *time_clips("en", booked), PAUSE, "guide_early_from",
                          *time_clips("en", come_back), "guide_early_or"])  # fmt: skip
    press(view, "choice-walk_in-")
    said(qtbot, speaker, ["guide_walk_in"])
    assert controller.phase == "early"

    scan(view, on_time)
    qtbot.waitUntil(lambda: controller.phase == "done", timeout=10_000)
    said(qtbot, speaker, ticket_said(controller.ticketNumber, booked=hm(now + 20 * 60)))

    scan(view, on_time)  # used
    qtbot.waitUntil(lambda: controller.phase == "not_checked_in", timeout=10_000)
    said(qtbot, speaker, ["guide_checkin_unknown"])
    press(view, "choice-back-")
    said(qtbot, speaker, ["guide_back"])

    clock.advance(40 * 60)
    scan(view, late)
    qtbot.waitUntil(lambda: controller.phase == "done", timeout=10_000)
    said(qtbot, speaker, ticket_said(controller.ticketNumber, late=True))


def test_the_guide_buttons_reach_the_keypad_and_the_early_choices(
    qtbot, buttons_kiosk, book, clock
):
    """GIVEN a kiosk with guide buttons WHEN a customer presses `next` past the services to
    "I have an appointment" and `select` THEN the keypad is said; `next` `select` types its
    first key, and the code so far is said; `back` returns to the start. A too-early code
    read by the scanner is said in Chinese; `next` says back, then the walk-in ticket, and
    `select` takes it (the priority question is said)."""
    app, factory = buttons_kiosk
    controller, speaker = app.controller, app.speaker
    push(factory, "guide")
    said(qtbot, speaker, ["guide_on_buttons", PAUSE, "guide_services"], "zh")
    for _ in controller._model.rows:  # each said before the next press (not a bounce)
        count = len(speaker.said)
        push(factory, "next")
        qtbot.waitUntil(lambda: len(speaker.said) > count, timeout=10_000)  # noqa: B023
    push(factory, "next")
    said(qtbot, speaker, ["guide_checkin_start"], "zh")
    push(factory, "select")
    said(qtbot, speaker, ["guide_code"], "zh")
    push(factory, "next")
    said(qtbot, speaker, number_clips(CODE_KEYS[0]), "zh")
    push(factory, "select")
    said(qtbot, speaker, ["guide_code_typed", *number_clips(CODE_KEYS[0])], "zh")
    assert controller.codeText == CODE_KEYS[0]
    push(factory, "back")
    said(qtbot, speaker, ["guide_services"], "zh")

    code = book(120)
    booked = hm(clock() + 120 * 60)
    controller.scanned(code)  # as the window's scanner reader hands it over
    qtbot.waitUntil(lambda: controller.phase == "early", timeout=10_000)
    come_back = hm(clock() + 90 * 60)
    said(qtbot, speaker, ["guide_early", *time_clips("zh", booked), PAUSE, "guide_early_from",
                          *time_clips("zh", come_back), "guide_early_or"], "zh")  # fmt: skip
    push(factory, "next")
    said(qtbot, speaker, ["guide_back"], "zh")
    push(factory, "next")
    said(qtbot, speaker, ["guide_walk_in"], "zh")
    push(factory, "select")
    qtbot.waitUntil(lambda: controller.phase == "priority", timeout=5_000)
    said(qtbot, speaker, ["guide_priority"], "zh")
