"""Sound out: the system player finds an output by playing silence with the real aplay, says
why there is none, and the file player keeps each WAV with its real duration."""

from __future__ import annotations

import io
import threading
import wave

import pytest

from nowserving.adapters.audio import FilePlayer, PlayerError, SystemPlayer, wav_seconds


def tone_wav(seconds: float) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes(b"\x00\x10" * int(22050 * seconds))
    return buffer.getvalue()


def test_aplay_on_alsas_null_device_is_an_output_and_plays():
    # aplay comes with alsa-utils, which scripts/setup.sh installs.
    player = SystemPlayer(device="null", players=("aplay",))
    assert player.probe() is None
    assert player.name == "aplay" and player.command[1:] == ["-Dnull"]
    player.play(tone_wav(0.2), threading.Event())


def test_an_alsa_device_that_does_not_exist_is_no_output_and_says_why():
    player = SystemPlayer(device="nonesuch", players=("aplay",))
    why = player.probe()
    assert why is not None and why.startswith("aplay: ") and "error" in why
    with pytest.raises(PlayerError, match="probe found none"):
        player.play(tone_wav(0.1), threading.Event())


def test_no_player_installed_is_said_per_player():
    player = SystemPlayer(players=("no-such-player", "nor-this-one"))
    assert player.probe() == "no-such-player: not installed; nor-this-one: not installed"
    assert player.name == "none"


def test_the_file_player_keeps_each_wav_and_takes_its_time(tmp_path):
    player = FilePlayer(tmp_path, speed=2)
    for seconds in (0.4, 0.2):
        player.play(tone_wav(seconds), threading.Event())
    first, second = player.played
    assert [p.path.name for p in player.played] == ["001.wav", "002.wav"]
    assert wav_seconds(first.path.read_bytes()) == pytest.approx(0.4)
    assert first.ended - first.started == pytest.approx(0.2, abs=0.05)
    assert second.started >= first.ended


def test_a_stopped_file_player_returns_at_once(tmp_path):
    stop = threading.Event()
    stop.set()
    player = FilePlayer(tmp_path)
    player.play(tone_wav(5), stop)
    assert player.played[0].ended - player.played[0].started < 0.1
