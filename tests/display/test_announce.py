"""Spoken calls: the clip sequence of a call in zh and en (and of a recall), the WAV is
exactly those clips joined, and the announcer speaks queued calls one after another, drops
the stale, keeps quiet hours, repeats, scales the volume, and without an audio output stays
silent while its queue goes on and its status says so."""

from __future__ import annotations

import array
import io
import shutil
import threading
import time
import wave
from datetime import datetime
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from nowserving.adapters.audio import FilePlayer, SystemPlayer
from nowserving.adapters.voice import (
    GAP_S,
    PAUSE,
    PAUSE_S,
    RATE,
    ClipSet,
    VoiceError,
    duration,
    gain,
    join,
)
from nowserving.cli import main
from nowserving.config import EXAMPLE, AudioSettings, load_config
from nowserving.display.announce import Announcer, compose, in_quiet_hours, render, seconds
from nowserving.protocol.views import Call

SPEED = 20  # the file player's turns take 1/20 of the sound's time
ZONE = ZoneInfo("Asia/Shanghai")  # the example branch's
NOON = datetime(2026, 11, 23, 12, 0, tzinfo=ZONE).timestamp()
LATE_EVENING = datetime(2026, 11, 23, 23, 0, tzinfo=ZONE).timestamp()
ZH_A012_C3 = [
    "zh/please", "zh/letter-a", "zh/digit-0", "zh/digit-1", "zh/digit-2", "zh/suffix",
    "zh/go_to", "zh/counter-c3",
]  # fmt: skip
EN_A012_C3 = [
    "en/ticket", "en/letter-a", "en/digit-0", "en/digit-1", "en/digit-2", "en/go_to",
    "en/counter-c3",
]  # fmt: skip


def call(number="A012", counter="c3", language="zh", recalls=0, at=NOON, ticket=None) -> Call:
    return Call(ticket or f"t-{number}", number, "cash", counter, language, at, recalls)


def frames(wav: bytes | Path) -> bytes:
    """The sample bytes of a WAV file or of WAV bytes (after checking its format)."""
    with wave.open(str(wav) if isinstance(wav, Path) else io.BytesIO(wav)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2)
        return w.readframes(w.getnframes())


def expected_frames(folder: Path, names: list[str]) -> bytes:
    """The clips' own sample bytes with GAP_S between clips and PAUSE_S for a pause:
    written out from the files, independently of `join`."""
    gap, pause = bytes(2 * round(GAP_S * RATE)), bytes(2 * round(PAUSE_S * RATE))
    out, after_clip = b"", False
    for name in names:
        if name == PAUSE:
            out, after_clip = out + pause, False
        else:
            out += (gap if after_clip else b"") + frames(folder / f"{name}.wav")
            after_clip = True
    return out


def test_a_chinese_call_is_chime_then_please_number_hao_to_counter(clips):
    assert compose(clips, "A012", "c3", "zh") == ["chime", PAUSE, *ZH_A012_C3]


def test_an_english_call_then_chinese_has_one_chime(clips):
    assert compose(clips, "A012", "c3", "en", then="zh") == [
        "chime", PAUSE, *EN_A012_C3, PAUSE, *ZH_A012_C3,
    ]  # fmt: skip


def test_a_recall_says_so_first(clips):
    assert compose(clips, "A012", "c3", "zh", recall=True) == [
        "chime", PAUSE, "zh/again", *ZH_A012_C3,
    ]  # fmt: skip
    assert compose(clips, "A012", "c3", "en", recall=True)[2:4] == ["en/again", "en/ticket"]


def test_repeat_says_the_whole_call_again_after_one_chime(clips):
    names = compose(clips, "A012", "c3", "zh", then="en", repeat=2)
    speech = [*ZH_A012_C3, PAUSE, *EN_A012_C3]
    assert names == ["chime", PAUSE, *speech, PAUSE, *speech]


def test_a_missing_clip_is_named_with_how_to_make_it(clips, tmp_path):
    with pytest.raises(VoiceError) as info:
        compose(clips, "A012", "c9", "zh")
    assert "zh/counter-c9.wav" in str(info.value)
    assert f"nowserving voice-clips --language zh --out {clips}" in str(info.value)


@pytest.mark.parametrize(("language", "then"), [("zh", None), ("zh", "en"), ("en", "zh")])
def test_the_wav_is_exactly_the_clips_joined(clips, language, then):
    names = compose(clips, "B105", "c1", language, then=then)
    wav = render(clips, "B105", "c1", language, then=then)
    assert frames(wav) == expected_frames(clips, names)
    seconds = len(frames(wav)) / 2 / RATE
    assert (5 if then else 3) < seconds < (14 if then else 8)


def test_volume_scales_every_sample_cubically(clips):
    loud = array.array("h", frames(render(clips, "A012", "c3", "zh")))
    quiet = array.array("h", frames(render(clips, "A012", "c3", "zh", volume=50)))
    assert gain(50) == 0.125
    assert quiet == array.array("h", (round(s * 0.125) for s in loud))
    assert max(quiet) > 0


@pytest.mark.parametrize(
    ("now", "quiet"),
    [("21:59", False), ("22:00", True), ("23:30", True), ("03:00", True), ("07:00", False)],
)
def test_quiet_hours_may_cross_midnight(now, quiet):
    hour, minute = map(int, now.split(":"))
    span = (clock_time(22, 0), clock_time(7, 0))
    assert in_quiet_hours(clock_time(hour, minute), span) is quiet
    day_span = (clock_time(12, 0), clock_time(13, 0))
    assert in_quiet_hours(clock_time(hour, minute), day_span) is False
    assert in_quiet_hours(clock_time(12, 30), day_span) is True


class Lobby:
    """An announcer on the example branch, playing into files; records what it reports."""

    def __init__(
        self, settings: AudioSettings | None, folder: Path, player=None, wall=None, monotonic=None
    ):
        self.events: list[tuple[str, str, str]] = []
        self.statuses: list[str] = []
        self.ready = threading.Event()  # the audio is ok: clips read, output found
        self.player = player or FilePlayer(folder / "played", speed=SPEED)
        self.announcer = Announcer(
            settings, load_config(EXAMPLE).rules, player=self.player,
            when_event=lambda e, c, detail: self.events.append((e, c.number, detail)),
            on_status=self._status, wall=wall or (lambda: NOON),
            monotonic=monotonic or time.monotonic,
        )  # fmt: skip

    def _status(self, status: str) -> None:
        self.statuses.append(status)
        if status.startswith("audio: ok"):
            self.ready.set()

    def of(self, event: str) -> list[str]:
        return [number for e, number, _ in self.events if e == event]


@pytest.fixture
def lobby(clips, tmp_path):
    made: list[Lobby] = []

    def make(player=None, wall=None, monotonic=None, **settings) -> Lobby:
        settings = AudioSettings(clips=clips, **settings)
        made.append(Lobby(settings, tmp_path, player, wall, monotonic))
        return made[-1]

    yield make
    for each in made:
        each.announcer.close()


def test_queued_calls_are_spoken_one_after_another_in_order(lobby, clips):
    """GIVEN three calls handed in at once WHEN they are spoken THEN each starts after
    the one before ended, in order, each the WAV of its own call (zh, then en)."""
    room = lobby()
    numbers = ["A012", "B105", "C007"]
    for number in numbers:
        assert room.announcer.announce(call(number, language="en" if number == "B105" else "zh"))
    assert room.announcer.wait_idle(30)
    played = room.player.played
    assert len(played) == 3 and room.of("finished") == numbers
    for before, after in zip(played, played[1:], strict=False):
        assert after.started >= before.ended
    assert frames(played[0].path) == frames(render(clips, "A012", "c3", "zh", then="en",
                                                   volume=80))  # fmt: skip
    assert frames(played[1].path) == frames(render(clips, "B105", "c3", "en", then="zh",
                                                   volume=80))  # fmt: skip
    assert room.announcer.status == "audio: ok (file)"


def test_announce_never_blocks_the_caller(lobby):
    room = lobby()
    started = time.monotonic()
    for i in range(20):
        room.announcer.announce(call(f"A{i:03d}"))
    assert time.monotonic() - started < 0.05


def test_a_call_that_cannot_start_before_its_deadline_is_dropped(lobby):
    """GIVEN a call being spoken WHEN the next one's deadline passes before it can start
    THEN it is dropped (and logged), and the one after it is still spoken."""
    room = lobby()
    room.announcer.announce(call("A001"))
    room.announcer.announce(call("A002"), deadline=time.monotonic() + 0.05)
    room.announcer.announce(call("A003"))
    assert room.announcer.wait_idle(30)
    assert room.of("finished") == ["A001", "A003"]
    assert room.of("dropped") == ["A002"]
    assert len(room.player.played) == 2


def test_a_call_made_longer_ago_than_max_delay_is_dropped(lobby):
    room = lobby(max_delay_s=60)
    room.announcer.announce(call("A001", at=NOON - 61))
    room.announcer.announce(call("A002", at=NOON - 30))
    room.announcer.announce(call("A003"), age=75)
    assert room.announcer.wait_idle(30)
    assert room.of("dropped") == ["A001", "A003"] and room.of("finished") == ["A002"]


def lobby_time() -> float:
    """A clock SPEED times faster than real time: with a FilePlayer on it, the announcer
    lives through a minute of calls in three seconds, and plans for it as for a minute."""
    return time.monotonic() * SPEED


def burst_of(n: int) -> list[Call]:
    """`n` calls made at the same moment, to counters c1-c6, half of them in English."""
    return [
        call(f"A{i:03d}", counter=f"c{(i - 1) % 6 + 1}", language=("zh", "en")[i % 2])
        for i in range(1, n + 1)
    ]


def test_a_burst_of_ten_calls_is_said_whole_shortened_in_order(lobby, clips, tmp_path):
    """GIVEN the example display's settings (each call twice, in both languages: 18 s; a
    call not started within 60 s is dropped) WHEN ten calls come at once THEN every one is
    said at least once, in order, none over another: the first ones once in one language,
    the last in full as nothing waits behind it; none dropped, the shortened counted."""
    player = FilePlayer(tmp_path / "burst", speed=SPEED, clock=lobby_time)
    room = lobby(player=player, monotonic=lobby_time, repeat=2, volume=70, max_delay_s=60)
    assert room.ready.wait(10)
    calls = burst_of(10)
    for each in calls:
        room.announcer.announce(each, age=0)
    assert room.announcer.wait_idle(30)
    numbers = [c.number for c in calls]
    assert room.of("started") == room.of("finished") == numbers
    assert room.of("dropped") == [] and room.announcer.dropped == 0
    played = player.played
    assert len(played) == 10
    for before, after in zip(played, played[1:], strict=False):
        assert after.started >= before.ended
    first, last = calls[0], calls[-1]
    once_in_one = render(clips, first.number, first.counter, "en", volume=70)
    assert frames(played[0].path) == frames(once_in_one)
    full = render(clips, last.number, last.counter, "zh", then="en", repeat=2, volume=70)
    assert frames(played[-1].path) == frames(full)
    shortened = [e for e in room.events if e[0] == "started" and e[2]]
    assert len(shortened) == room.announcer.shortened >= 8
    assert shortened[0][2] == "shortened to once, one language: 9 calls behind it"


def test_when_even_the_shortest_calls_do_not_fit_the_oldest_are_dropped(lobby, tmp_path):
    """GIVEN calls said once in one language (about 6 s each, nothing to shorten), 15 s
    for one to start and six calls at once, of which only three fit WHEN the announcer
    works through them THEN it drops the oldest, says the rest in order, the newest among
    them, and counts and reports each drop. (A slower clock than the other tests': the
    plan packs the calls kept up to 1 s before their deadlines.)"""
    speed = SPEED / 4

    def slower_lobby_time() -> float:
        return time.monotonic() * speed

    player = FilePlayer(tmp_path / "burst", speed=speed, clock=slower_lobby_time)
    room = lobby(player=player, monotonic=slower_lobby_time, other_language=False,
                 max_delay_s=15)  # fmt: skip
    assert room.ready.wait(10)
    numbers = [c.number for c in burst_of(6)]
    for each in burst_of(6):
        room.announcer.announce(each, age=0)
    assert room.announcer.wait_idle(30)
    dropped = room.of("dropped")
    assert dropped and dropped == numbers[: len(dropped)]
    assert room.of("finished") == numbers[len(dropped) :]
    assert numbers[-1] in room.of("finished") and len(player.played) == 6 - len(dropped)
    assert room.announcer.dropped == len(dropped)
    why = [detail for e, _, detail in room.events if e == "dropped"]
    assert why[0].startswith("no time for it and the 5 calls behind it to start within 15 s")


def test_the_length_of_a_call_is_known_before_it_is_joined(clips):
    names = compose(clips, "B105", "c1", "en", then="zh", repeat=2)
    samples = join(ClipSet(clips), names, 70)
    assert seconds(ClipSet(clips), names, 70) == duration(samples)
    assert 15 < duration(samples) < 25


def test_the_same_call_is_spoken_once_and_a_recall_again(lobby, clips):
    room = lobby(other_language=False)
    assert room.announcer.announce(call("A012"))
    assert not room.announcer.announce(call("A012"))  # the same call in the next state
    assert room.announcer.announce(call("A012", recalls=1))
    assert room.announcer.wait_idle(30)
    assert room.of("finished") == ["A012", "A012"]
    recall = render(clips, "A012", "c3", "zh", recall=True, volume=80)
    assert frames(room.player.played[1].path) == frames(recall)


def test_in_quiet_hours_calls_are_silenced(lobby):
    room = lobby(quiet_hours=(clock_time(22, 0), clock_time(7, 0)), wall=lambda: LATE_EVENING)
    room.announcer.announce(call("A001", at=LATE_EVENING))
    assert room.announcer.wait_idle(30)
    assert room.events == [("silenced", "A001", "quiet hours")]
    assert room.player.played == []


def test_each_call_is_repeated_as_configured(lobby, clips):
    room = lobby(repeat=2)
    room.announcer.announce(call("A012"))
    assert room.announcer.wait_idle(30)
    twice = render(clips, "A012", "c3", "zh", then="en", repeat=2, volume=80)
    assert [frames(p.path) for p in room.player.played] == [frames(twice)]
    once = frames(render(clips, "A012", "c3", "zh", then="en", volume=80))
    assert len(frames(twice)) > 1.8 * len(once)


def test_the_volume_setting_scales_what_is_played(lobby, clips):
    room = lobby(volume=50, other_language=False)
    room.announcer.announce(call("A012"))
    assert room.announcer.wait_idle(30)
    full = array.array("h", frames(render(clips, "A012", "c3", "zh")))
    played = array.array("h", frames(room.player.played[0].path))
    assert played == array.array("h", (round(s * 0.125) for s in full))


def test_without_an_audio_output_calls_are_silent_and_the_status_says_so(lobby):
    """GIVEN no player that reaches an output WHEN calls come THEN each goes through the
    queue silenced (stale ones still dropped), and the status says audio is unavailable."""
    room = lobby(player=SystemPlayer(players=("no-such-player",)))
    room.announcer.announce(call("A001"))
    room.announcer.announce(call("A002", at=NOON - 120))
    assert room.announcer.wait_idle(30)
    assert room.announcer.status == "audio: unavailable (no-such-player: not installed)"
    assert room.statuses == ["audio: checking", room.announcer.status]
    assert room.events[0] == ("silenced", "A001", "no audio output: no-such-player: not installed")
    assert room.events[1][:2] == ("dropped", "A002") and len(room.events) == 2


def test_missing_clips_show_in_the_status_and_fail_the_call(tmp_path):
    room = Lobby(AudioSettings(clips=tmp_path / "empty"), tmp_path)
    try:
        room.announcer.announce(call("A001"))
        assert room.announcer.wait_idle(30)
        assert room.announcer.status.startswith("audio: clip problem (missing clips in ")
        assert "voice-clips --language zh" in room.announcer.status
        assert room.of("failed") == ["A001"] and room.player.played == []
    finally:
        room.announcer.close()


def test_without_an_audio_table_the_announcer_is_off(tmp_path):
    room = Lobby(None, tmp_path)
    with room.announcer as announcer:
        assert announcer.status == "audio: off"
        announcer.announce(call("A001"))
        assert announcer.wait_idle(30)
    assert room.statuses == ["audio: off"]
    assert room.events == [("silenced", "A001", "audio is off")]


@pytest.mark.expect_log_exception
def test_a_failing_listener_does_not_stop_the_announcer(lobby, caplog):
    room = lobby(other_language=False)
    spoken = threading.Event()

    def listener(event, c, detail):
        if event == "finished":
            spoken.set()
        raise RuntimeError("a listener with a bug")

    room.announcer.when_event = listener
    room.announcer.announce(call("A001"))
    room.announcer.announce(call("A002"))
    assert room.announcer.wait_idle(30) and spoken.is_set()
    assert len(room.player.played) == 2
    assert "a listener with a bug" in caplog.text


def test_close_cuts_off_the_call_being_spoken_promptly(clips, tmp_path):
    room = Lobby(AudioSettings(clips=clips), tmp_path, FilePlayer(tmp_path / "p", speed=1))
    started = threading.Event()
    room.announcer.when_event = lambda e, c, d: e == "started" and started.set()
    room.announcer.announce(call("A001"))
    room.announcer.announce(call("A002"))
    assert started.wait(10)
    before = time.monotonic()
    room.announcer.close()
    assert time.monotonic() - before < 1.0
    assert not room.announcer._thread.is_alive()
    assert not room.announcer.announce(call("A003"))
    room.announcer.close()  # idempotent


def test_a_bad_recording_shows_in_the_status_at_start(clips, tmp_path):
    """GIVEN an installer's clip that is no PCM WAV WHEN the announcer starts THEN its
    status names that file, before any call comes."""
    folder = tmp_path / "voice"
    shutil.copytree(clips, folder)
    (folder / "zh" / "suffix.wav").write_bytes(b"ID3 an mp3 renamed")
    problems: list[str] = []
    changed = threading.Event()

    def on_status(status: str) -> None:
        problems.append(status)
        if status != "audio: checking":
            changed.set()

    with Announcer(
        AudioSettings(clips=folder), load_config(EXAMPLE).rules,
        player=FilePlayer(tmp_path / "played"), on_status=on_status,
    ):  # fmt: skip
        assert changed.wait(10)
    assert len(problems) == 2
    assert problems[1].startswith("audio: clip problem (")
    assert "zh/suffix.wav: not a PCM WAV file" in problems[1]


def test_announce_preview_writes_the_wav_the_display_would_play(clips, tmp_path, capsys):
    out = tmp_path / "call.wav"
    argv = ["announce-preview", "--number", "A012", "--counter", "c3", "--language", "zh"]
    assert main([*argv, "--then", "en", "--wav", str(out), "--clips", str(clips)]) == 0
    assert frames(out) == frames(render(clips, "A012", "c3", "zh", then="en"))
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split() == compose(clips, "A012", "c3", "zh", then="en")
    assert printed[1].startswith(f"{out}: ")


def test_announce_preview_without_clips_makes_them_with_espeak_ng(tmp_path):
    out = tmp_path / "recall.wav"
    argv = ["announce-preview", "--number", "B105", "--counter", "c1", "--language", "en"]
    assert main([*argv, "--recall", "--wav", str(out)]) == 0
    assert 3 < len(frames(out)) / 2 / RATE < 8


def test_announce_preview_refuses_what_it_cannot_say(clips, tmp_path, capsys):
    base = ["announce-preview", "--language", "zh", "--wav", str(tmp_path / "x.wav")]
    assert main([*base, "--number", "A012", "--counter", "c9", "--clips", str(clips)]) == 1
    assert "no counter 'c9'" in capsys.readouterr().err
    assert main([*base, "--number", "A012", "--counter", "c3", "--clips", str(tmp_path)]) == 1
    assert "voice-clips --language zh" in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()


def test_voice_clips_makes_a_language_and_says_how_long_each_is(tmp_path, capsys):
    assert main(["voice-clips", "--language", "en", "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # The chime; 3 call phrases, 10 digits, 26 letters, 6 counters; 38 phrases of the
    # kiosk's audio guide (21 for check-ins and times), 14 numbers (10-19, 20-50: times),
    # and its names: 5 services, 1 priority class offered at the kiosk.
    assert lines[-1].startswith(f"105 clips in {tmp_path} (")
    listed = "\n".join(lines)
    for clip in ("counter-c3", "guide_on_buttons", "service-cash", "priority-priority"):
        assert f"{tmp_path / 'en' / clip}.wav  " in listed
    assert (tmp_path / "chime.wav").exists()
