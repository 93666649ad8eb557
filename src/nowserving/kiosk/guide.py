"""The kiosk's audio guide: each screen and each choice spoken from the branch's clip set
(the lobby display's voice catalogue, adapters/voice.py), for customers who cannot read
the screen. No Qt here: the controller says which screen is up and what was pressed, and
hands what to say to a `Speaker`.

A screen is an introduction and its choices. `next` speaks the next choice, `select` does
the one last spoken (or, with none, says the screen again); on the touch screen the first
touch on a choice speaks it and a second touch does it, as phone screen readers do.
Clip names here are within a language's folder ("guide_on", "service-A", "digit-7").
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nowserving.adapters.audio import Player, PlayerError
from nowserving.adapters.voice import (
    PAUSE,
    ClipSet,
    VoiceError,
    join,
    number_clips,
    require,
    wav_bytes,
)

log = logging.getLogger(__name__)

# Actions a choice may have besides "service:<id>", "priority:<id>" and "key:<key>" (a key
# of the booking code's keypad: a character, or "del").
BACK, TAKE = "back", "take"
APPOINTMENT = "appointment"  # the start screen's "I have an appointment"
CHECK_IN = "check_in"  # check in with the code typed
WALK_IN = "walk_in"  # too early: a walk-in ticket now


@dataclass(frozen=True)
class Choice:
    """One thing a customer may select: what it does, and what it says."""

    action: str  # "service:<id>" (a service or a group), "priority:<id>" ("": none), BACK, TAKE
    clips: tuple[str, ...]


@dataclass(frozen=True)
class Screen:
    """What a screen says when it comes up, and its choices in the order `next` goes."""

    intro: tuple[str, ...]
    choices: tuple[Choice, ...] = ()


def start_screen(rows: Sequence[dict], in_group: bool, check_in: bool = False) -> Screen:
    """The start screen's buttons (the controller's rows: a service or a group each); a
    service not taking tickets says so after its name; `check_in`: "I have an appointment"
    after the services (where the branch takes bookings)."""
    choices = []
    for row in rows:
        clips: tuple[str, ...] = (f"{'group' if row['group'] else 'service'}-{row['serviceId']}",)
        if not row["accepting"]:
            clips += ("guide_not_taking",)
        choices.append(Choice(f"service:{row['serviceId']}", clips))
    if check_in and not in_group:
        choices.append(Choice(APPOINTMENT, ("guide_checkin_start",)))
    if in_group:
        choices.append(Choice(BACK, ("guide_back",)))
    return Screen(("guide_services",), tuple(choices))


def priority_screen(classes: Sequence[str]) -> Screen:
    """Priority service, or a regular ticket?"""
    choices = [Choice(f"priority:{pid}", (f"priority-{pid}",)) for pid in classes]
    return Screen(("guide_priority",), (*choices, Choice("priority:", ("guide_regular",))))


def late_screen() -> Screen:
    """The wait runs past closing: back (first, as on the screen) or take a ticket anyway."""
    return Screen(("guide_late",), (Choice(BACK, ("guide_back",)), Choice(TAKE, ("guide_take",))))


def number_screen(
    number: str, printed: bool | None, again: str, appointment: Sequence[str] = (),
    late: bool = False,
) -> Screen:  # fmt: skip
    """The issued number, and what to do next; `printed`: True, False (the printer failed)
    or None (a kiosk with no printer: remember it); `again`: how to hear it again. A
    checked-in appointment's ticket says its time (`appointment`: the time's clips); one
    checked in too `late` says it is a walk-in ticket."""
    if printed is False:
        intro: tuple[str, ...] = ("guide_failed", *number_clips(number))
    else:
        then = "guide_done" if printed else "guide_remember"
        intro = ("guide_number", *number_clips(number), PAUSE)
        if appointment:
            intro += ("guide_appointment", *appointment, PAUSE)
        if late:
            intro += ("guide_checkin_late", PAUSE)
        intro += (then,)
    return Screen((*intro, PAUSE, again))


def code_screen(keys: Sequence[str]) -> Screen:
    """The booking code's keypad: scan or type; its keys (each character as a letter or a
    digit), Delete, Back and Check in, in the screen's order."""
    choices = [Choice(f"key:{k}", tuple(number_clips(k))) for k in keys]
    choices += [Choice("key:del", ("guide_delete",)), Choice(BACK, ("guide_back",)),
                Choice(CHECK_IN, ("guide_check_in",))]  # fmt: skip
    return Screen(("guide_code",), tuple(choices))


def typed(code: str) -> list[str]:
    """What a keypad's key says once it typed: the code so far, spelled."""
    return ["guide_code_typed", *number_clips(code)] if code else ["guide_code_empty"]


def early_screen(booked: Sequence[str], come_back: Sequence[str]) -> Screen:
    """Too early: the booked time and from when to come back (each a time's clips); back
    (first, as on the screen) or a walk-in ticket now."""
    intro = ("guide_early", *booked, PAUSE, "guide_early_from", *come_back, "guide_early_or")
    return Screen(intro, (Choice(BACK, ("guide_back",)), Choice(WALK_IN, ("guide_walk_in",))))


def refused_screen(phrase: str) -> Screen:
    """Not checked in: why (`phrase`, e.g. guide_checkin_unknown), and back."""
    return Screen((phrase,), (Choice(BACK, ("guide_back",)),))


def plain_screen(phrase: str) -> Screen:
    """A screen with nothing to choose: closed, printing, unavailable."""
    return Screen((phrase,))


class Guide:
    """Where a guided customer is: the screen up, and the choice last spoken (the focus)."""

    def __init__(self) -> None:
        self.screen = Screen(())
        self.focus: int | None = None

    def show(self, screen: Screen) -> list[str]:
        """A new screen is up: what to say (the focus goes back to its start)."""
        self.screen, self.focus = screen, None
        return list(screen.intro)

    def next(self) -> list[str]:
        """Move to the next choice (after the last, the first again) and say it; a screen
        with no choices is said again."""
        choices = self.screen.choices
        if not choices:
            return list(self.screen.intro)
        self.focus = 0 if self.focus is None else (self.focus + 1) % len(choices)
        return list(choices[self.focus].clips)

    def select(self) -> str | None:
        """The action of the choice in focus; None: nothing in focus (say the screen again)."""
        if self.focus is None or not self.screen.choices:
            return None
        return self.screen.choices[self.focus].action

    def touch(self, action: str) -> list[str]:
        """A touch on the screen's choice `action`: [] if it is the one in focus (a second
        touch: do it), else its clips (it is now in focus: say it). An action the screen
        does not list is done at once."""
        for index, choice in enumerate(self.screen.choices):
            if choice.action == action:
                if index == self.focus:
                    return []
                self.focus = index
                return list(choice.clips)
        return []

    def has(self, action: str) -> bool:
        """Whether the screen up offers `action`."""
        return any(c.action == action for c in self.screen.choices)


class Speaker:
    """Speaks lists of clips on its own thread: `say` never blocks, and what is said next
    cuts off what is being said (the customer has moved on). `status` says whether it can
    speak ("audio: ok (paplay)", "audio: unavailable (...)", "audio: clip problem (...)");
    `on_status` hears each change, on the speaker's thread. `said` keeps every list it
    started to play, as "<language>/<clip>" names."""

    def __init__(
        self,
        clips: ClipSet,
        player: Player,
        volume: int = 100,
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        self.clips = clips
        self.player = player
        self.volume = volume
        self.on_status = on_status
        self.status = "audio: checking"
        self.said: list[tuple[str, ...]] = []
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._cut = threading.Event()  # set: stop what is playing (something newer, or close)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="guide-speaker", daemon=True)
        self._thread.start()

    def say(self, language: str, names: Sequence[str]) -> None:
        """Say `names` (clips within `language`'s folder, and PAUSEs), after cutting off
        what is being said."""
        if self._closed or not names:
            return
        self._cut.set()
        self._queue.put(tuple(n if n == PAUSE else f"{language}/{n}" for n in names))

    def close(self) -> None:
        """Stop at once; nothing more is said."""
        self._closed = True
        self._cut.set()
        self._queue.put(None)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        why = self.player.probe()
        self._set_status(f"audio: unavailable ({why})" if why else self._ok())
        while True:
            names = self._queue.get()
            self._cut.clear()
            while not self._queue.empty() and names is not None:  # only the newest matters
                names = self._queue.get()
            if names is None or self._closed:
                return
            if self.status.startswith("audio: unavailable"):  # plugged in since?
                why = self.player.probe()
                if why:
                    self._set_status(f"audio: unavailable ({why})")
                    continue
            try:
                require(self.clips, names)
                wav = wav_bytes(join(self.clips, names, self.volume))
            except VoiceError as err:
                log.error("the audio guide cannot speak: %s", err)
                self._set_status(f"audio: clip problem ({err})")
                continue
            self.said.append(names)
            try:
                self.player.play(wav, self._cut)
            except PlayerError as err:
                log.warning("audio output failed: %s", err)
                self._set_status(f"audio: unavailable ({err})")
                continue
            self._set_status(self._ok())

    def _ok(self) -> str:
        return f"audio: ok ({getattr(self.player, 'name', type(self.player).__name__)})"

    def _set_status(self, status: str) -> None:
        if status == self.status:
            return
        self.status = status
        if self.on_status is not None:
            try:
                self.on_status(status)
            except Exception:  # a failing listener is logged; the speaker goes on
                log.exception("speaker status callback failed")
