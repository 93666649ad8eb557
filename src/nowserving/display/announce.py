"""Spoken calls: which clips a call is (`compose`), its sound (`render`), and the
`Announcer` that speaks calls one at a time on its own thread. No Qt here: the display
hands calls in and shows what comes back (docs/announcements.md).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

from nowserving.adapters.audio import Player, PlayerError, SystemPlayer
from nowserving.adapters.voice import (
    CHIME,
    COUNTER,
    GAP_S,
    NUMBER,
    PAUSE,
    PAUSE_S,
    RATE,
    ClipSet,
    VoiceError,
    call_clips,
    default_clips_dir,
    duration,
    gain,
    generate,
    join,
    number_clips,
    require,
    voice,
    wav_bytes,
)
from nowserving.config.hardware import AudioSettings
from nowserving.display.backlog import Form, Waiting, forms, plan
from nowserving.domain import BranchRules
from nowserving.protocol.views import Call

log = logging.getLogger(__name__)

REPROBE_S = 30.0  # with no output, look again this often (a speaker plugged in later)
GATHER_S = 0.05  # a call that finds the announcer idle waits this long for others with it
KEEP_SEEN = 1000  # calls remembered, so that the same call handed in again is spoken once
# What an announcer reports about each call it was given, in the order they may happen.
EVENTS = ("started", "finished", "dropped", "silenced", "failed")


def compose(
    clips_dir: str | Path,
    number: str,
    counter: str,
    language: str,
    recall: bool = False,
    then: str | None = None,
    repeat: int = 1,
) -> list[str]:
    """The clips of a call in order, as "chime" and "<language>/<clip>", with PAUSEs.

    The chime comes once; then the call in `language`, then (after a pause) in `then`;
    all of the speech `repeat` times. A VoiceError names every clip file that is missing.
    """
    names = call_names(number, counter, language, recall, then, repeat)
    require(ClipSet(clips_dir), names)
    return names


def call_names(
    number: str,
    counter: str,
    language: str,
    recall: bool = False,
    then: str | None = None,
    repeat: int = 1,
) -> list[str]:
    """The clips of a call, as `compose` gives them, without looking for the files."""
    speech = [f"{language}/{n}" for n in call_clips(language, number, counter, recall)]
    if then:
        speech += [PAUSE, *(f"{then}/{n}" for n in call_clips(then, number, counter, recall))]
    names = [CHIME]
    for _ in range(repeat):
        names += [PAUSE, *speech]
    return names


def seconds(clips: ClipSet, names: Sequence[str], volume: int = 100) -> float:
    """How long `join(clips, names, volume)` plays, from the clips' lengths; a clip that
    cannot be read counts as none (the call will fail on it anyway)."""
    samples = 0
    after_clip = False
    for name in names:
        if name == PAUSE:
            samples += round(PAUSE_S * RATE)
            after_clip = False
            continue
        if after_clip:
            samples += round(GAP_S * RATE)
        with contextlib.suppress(VoiceError):
            samples += len(clips.samples(name, gain(volume)))
        after_clip = True
    return samples / RATE


def render(
    clips_dir: str | Path,
    number: str,
    counter: str,
    language: str,
    recall: bool = False,
    then: str | None = None,
    repeat: int = 1,
    volume: int = 100,
) -> bytes:
    """The WAV file of a call: what the display plays for it (see `compose`)."""
    names = compose(clips_dir, number, counter, language, recall, then, repeat)
    return wav_bytes(join(ClipSet(clips_dir), names, volume))


def needed_clips(languages: Sequence[str], rules: BranchRules) -> list[str]:
    """Every clip the branch's calls may need: the letters of its prefixes, not all 26."""
    letters = [n for s in rules.services.values() for n in number_clips(s.prefix)]
    names = [CHIME]
    for language in languages:
        v = voice(language)
        spoken = [t for t in v.call + v.recall if t not in (NUMBER, COUNTER)]
        spoken += [f"digit-{i}" for i in range(10)] + letters
        spoken += [f"counter-{cid}" for cid in rules.counters]
        names += [f"{language}/{name}" for name in dict.fromkeys(spoken)]
    return names


def in_quiet_hours(now: clock_time, span: tuple[clock_time, clock_time] | None) -> bool:
    """Whether `now` is in `span` (start included, end not); a span may cross midnight."""
    if span is None:
        return False
    start, end = span
    return start <= now < end if start < end else (now >= start or now < end)


class Announcer:
    """Speaks calls one at a time, on its own thread: `announce` never blocks.

    A call starts only when the one before has finished, so two never overlap. One that
    cannot start before its deadline is dropped: a call from minutes ago only confuses.
    When calls queue up, each is said shorter (fewer repeats, then one language) so that
    every call waiting can start in time; only when even that is too long are the oldest
    dropped, never the newest (`backlog.plan`). `dropped` and `shortened` count them. In
    quiet hours, with audio off, or with no output, calls are silenced but still go through
    the queue, so that `when_event` reports each one. `status` says what state the audio
    is in ("audio: ok (paplay)", "audio: unavailable (...)", ...); `on_status` hears the
    first status and every change, in order, so a listener need not read `status` at the
    start (and had better not: a change may overtake what it read). Both callbacks run on
    the announcer's thread.
    """

    def __init__(
        self,
        settings: AudioSettings | None,
        rules: BranchRules,
        *,
        languages: Sequence[str] | None = None,
        player: Player | None = None,
        when_event: Callable[[str, Call, str], None] | None = None,
        on_status: Callable[[str], None] | None = None,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or AudioSettings(enabled=False)
        self.enabled = settings is not None and settings.enabled
        self.rules = rules
        self.languages = tuple(languages or rules.languages)
        self.clips = ClipSet(self.settings.clips or default_clips_dir())
        self.player = player or SystemPlayer(self.settings.device)
        self.when_event = when_event
        self.on_status = on_status
        self._wall, self._monotonic = wall, monotonic
        self._zone = ZoneInfo(rules.timezone)
        self.forms: list[Form] = forms(self.settings.repeat, self.settings.other_language)
        self.dropped = 0  # calls not said at all, since the start
        self.shortened = 0  # calls said in less than their full form, since the start
        self._backlog: deque[tuple[Call, float]] = deque()  # (call, monotonic deadline)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._arrived = threading.Condition(self._lock)
        self._pending = 0
        self._seen: dict[tuple[str, int], None] = {}
        self._closed = False
        self._output: str | None = "checking"  # None: an output to play on; else why not
        self._probed_at = 0.0
        self._clips_problem: str | None = None
        self.playing: Call | None = None
        self.status = "audio: off" if not self.enabled else "audio: checking"
        self._thread = threading.Thread(target=self._run, name="announcer", daemon=True)
        self._thread.start()

    def __enter__(self) -> Announcer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def announce(
        self, call: Call, deadline: float | None = None, *, age: float | None = None
    ) -> bool:
        """Queue `call`; False if this same call (ticket and recall count) was queued before.

        `deadline` (monotonic) is when it is too late to start. Without one, it is
        `max_delay_s` after the call was made: `age` seconds ago if given, else as the wall
        clock and `call.at` say.
        """
        if deadline is None:
            if age is None:
                age = self._wall() - call.at
            deadline = self._monotonic() + self.settings.max_delay_s - max(0.0, age)
        key = (call.ticket, call.recalls)
        with self._lock:
            if self._closed or key in self._seen:
                return False
            self._seen[key] = None
            if len(self._seen) > KEEP_SEEN:
                del self._seen[next(iter(self._seen))]
            self._pending += 1
            self._backlog.append((call, deadline))
            self._arrived.notify()
        return True

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every call handed in so far is done with; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        """Stop at once, cutting off a call being spoken; calls still queued are forgotten."""
        with self._lock:
            self._closed = True
            self._stop.set()
            self._arrived.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        self._guarded(self.on_status, self.status)
        if self.enabled:
            self._check_clips()
            self._probe()
        while (turn := self._next_turn()) is not None:
            call, deadline, behind = turn
            try:
                self._speak(call, deadline, behind)
            except Exception as err:  # one bad call must not end every announcement after it
                log.exception("announcing %s failed", call.number)
                self._emit("failed", call, repr(err))
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()
        with self._idle:  # calls left in the queue will never be spoken
            self._pending = 0
            self._idle.notify_all()

    def _next_turn(self) -> tuple[Call, float, list[tuple[Call, float]]] | None:
        """The call whose turn it is, its deadline and the calls queued behind it; None
        once closed."""
        with self._arrived:
            was_idle = not self._backlog
            self._arrived.wait_for(lambda: self._backlog or self._stop.is_set())
        if was_idle:  # calls handed in together (one summary, a burst) are planned together
            self._stop.wait(GATHER_S)
        with self._arrived:
            if self._stop.is_set():
                return None
            call, deadline = self._backlog.popleft()
            return call, deadline, list(self._backlog)

    def _speak(self, call: Call, deadline: float, behind: list[tuple[Call, float]]) -> None:
        if not self.enabled:
            return self._emit("silenced", call, "audio is off")
        now = self._monotonic()
        if now > deadline:
            return self._drop(call, f"{now - deadline:.1f} s too late")
        why_silent = self._why_silent()
        if why_silent is not None:
            return self._emit("silenced", call, why_silent)
        form = self._form(now, call, deadline, behind)
        if form is None:
            return self._drop(
                call,
                f"no time for it and the {_calls(len(behind))} behind it to start within "
                f"{self.settings.max_delay_s:g} s of being made, even each said once in one "
                "language: the oldest go first",
            )
        language, then = self._languages_of(call)
        try:
            names = compose(
                self.clips.root, call.number, call.counter, language,
                call.recalls > 0, then if form.other_language else None, form.repeat,
            )  # fmt: skip
            wav = wav_bytes(join(self.clips, names, self.settings.volume))
        except VoiceError as err:
            log.error("cannot announce %s: %s", call.number, err)
            self._clips_problem = str(err)
            self._update_status()
            return self._emit("failed", call, str(err))
        if self._clips_problem is not None:  # clips may have been added since: look again
            self._check_clips()
            self._update_status()
        self.playing = call
        detail = ""
        if form != self.forms[0]:
            self.shortened += 1
            detail = f"shortened to {form.describe()}: {_calls(len(behind))} behind it"
            log.info("said %s to %s %s", call.number, call.counter, detail)
        self._emit("started", call, detail)
        try:
            self.player.play(wav, self._stop)
        except PlayerError as err:
            log.warning("audio output failed: %s", err)
            self._output, self._probed_at = str(err), self._monotonic()
            self._update_status()
            return self._emit("failed", call, str(err))
        finally:
            self.playing = None
        self._emit("finished", call, "")

    def _why_silent(self) -> str | None:
        local = datetime.fromtimestamp(self._wall(), self._zone).time()
        if in_quiet_hours(local, self.settings.quiet_hours):
            return "quiet hours"
        if self._output is not None and self._monotonic() - self._probed_at >= REPROBE_S:
            self._probe()
        if self._output is not None:
            return f"no audio output: {self._output}"
        return None

    def _languages_of(self, call: Call) -> tuple[str, str | None]:
        """The call's language, and the other one it is then said in (if so set)."""
        language = call.language if call.language in self.languages else self.languages[0]
        then = None
        if self.settings.other_language:
            then = next((lang for lang in self.languages if lang != language), None)
        return language, then

    def _form(
        self, now: float, call: Call, deadline: float, behind: list[tuple[Call, float]]
    ) -> Form | None:
        """The form to say `call` in so that the calls behind it start in time; None: drop
        it to make room for them."""
        backlog = [Waiting(d, self._lengths(c)) for c, d in [(call, deadline), *behind]]
        index = plan(now, backlog)
        return None if index is None else self.forms[index]

    def _lengths(self, call: Call) -> list[float]:
        """Seconds `call` takes in each of `forms`."""
        language, then = self._languages_of(call)
        recall = call.recalls > 0
        lengths = []
        for form in self.forms:
            other = then if form.other_language else None
            names = call_names(call.number, call.counter, language, recall, other, form.repeat)
            lengths.append(seconds(self.clips, names, self.settings.volume))
        return lengths

    def _drop(self, call: Call, why: str) -> None:
        self.dropped += 1
        log.warning("dropped the call of %s to %s: %s", call.number, call.counter, why)
        self._emit("dropped", call, why)

    def _check_clips(self) -> None:
        # Every clip is read (and scaled) now: a bad recording shows in the status at
        # start, not at the first call, and the first call is not slower than the rest.
        try:
            needed = needed_clips(self.languages, self.rules)
            require(self.clips, needed)
            for name in needed:
                self.clips.samples(name, gain(self.settings.volume))
            self._clips_problem = None
        except VoiceError as err:
            log.warning("%s", err)
            self._clips_problem = str(err)

    def _probe(self) -> None:
        self._output = self.player.probe()
        self._probed_at = self._monotonic()
        if self._output:
            log.info("no audio output: %s", self._output)
        self._update_status()

    def _update_status(self) -> None:
        if self._output is not None:
            status = f"audio: unavailable ({self._output})"
        elif self._clips_problem is not None:
            status = f"audio: clip problem ({self._clips_problem})"
        else:
            status = f"audio: ok ({getattr(self.player, 'name', type(self.player).__name__)})"
        if status != self.status:
            self.status = status
            self._guarded(self.on_status, status)

    def _emit(self, event: str, call: Call, detail: str) -> None:
        self._guarded(self.when_event, event, call, detail)

    @staticmethod
    def _guarded(callback: Callable | None, *args) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:  # a failing listener is logged; the announcer goes on
            log.exception("announcer callback %r failed", callback)


def _calls(n: int) -> str:
    return "1 call" if n == 1 else f"{n} calls"


def write_preview(
    rules: BranchRules,
    wav: Path,
    number: str,
    counter: str,
    language: str,
    *,
    then: str | None = None,
    recall: bool = False,
    clips_dir: Path | None = None,
    repeat: int = 1,
    volume: int = 100,
) -> list[str]:
    """Write the WAV the display would play for a call; lines saying what it is.

    Without `clips_dir`, the clips are made with espeak-ng in a temporary folder first.
    """
    if counter not in rules.counters:
        raise VoiceError(
            f"the branch has no counter {counter!r} (it has {', '.join(rules.counters)})"
        )
    with tempfile.TemporaryDirectory() as tmp:
        folder = clips_dir or Path(tmp)
        if clips_dir is None:
            counters = {f"counter-{c.id}": c.names for c in rules.counters.values()}
            for lang in dict.fromkeys(filter(None, (language, then))):
                generate(lang, folder, counters)
        names = compose(folder, number, counter, language, recall, then, repeat)
        samples = join(ClipSet(folder), names, volume)
    wav.write_bytes(wav_bytes(samples))
    return [" ".join(names), f"{wav}: {duration(samples):.1f} s"]
