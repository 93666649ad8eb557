"""The clip set: espeak-ng makes every clip a call needs, trimmed, at one level and in one
format; a recorded clip in another PCM format is converted, one that is no PCM WAV is
refused by name; the Chinese clips are Mandarin (not tone numbers read out in English)."""

from __future__ import annotations

import array
import math
import struct
import subprocess
import wave
from pathlib import Path

import pytest

from nowserving.adapters import voice
from nowserving.adapters.voice import (
    FULL_SCALE,
    RATE,
    SILENCE,
    SPEECH_PEAK,
    VoiceError,
    call_clips,
    chime,
    clip_texts,
    generate,
    named_clips,
    number_clips,
    read_clip,
)
from nowserving.config import EXAMPLE, load_config


def level(samples, freq: float) -> float:
    """How strongly `freq` sounds in `samples` (Goertzel), relative to a full-scale sine."""
    coeff = 2 * math.cos(2 * math.pi * freq / RATE)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return math.sqrt(max(power, 0.0)) / (len(samples) * FULL_SCALE / 2)


def sine(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> list[int]:
    return [
        round(amplitude * FULL_SCALE * math.sin(2 * math.pi * freq * i / rate))
        for i in range(int(rate * seconds))
    ]


def test_a_call_is_the_catalogs_order_of_phrases_letters_digits_and_counter():
    assert call_clips("zh", "A012", "c3") == [
        "please", "letter-a", "digit-0", "digit-1", "digit-2", "suffix", "go_to", "counter-c3",
    ]  # fmt: skip
    assert call_clips("en", "B105", "c1", recall=True) == [
        "again", "ticket", "letter-b", "digit-1", "digit-0", "digit-5", "go_to", "counter-c1",
    ]  # fmt: skip


def test_a_number_with_something_unsayable_is_refused():
    assert number_clips("c07") == ["letter-c", "digit-0", "digit-7"]
    with pytest.raises(VoiceError, match="cannot say '-'"):
        number_clips("A-12")


def test_each_clip_says_its_text():
    texts = clip_texts("zh", named_clips(load_config(EXAMPLE)))
    assert texts["please"] == "请" and texts["digit-7"] == "七" and texts["letter-q"] == "Q"
    assert texts["counter-c3"] == "3号窗口"
    assert "ticket" not in texts  # empty in Chinese: not said, no clip
    assert clip_texts("en", named_clips(load_config(EXAMPLE)))["counter-c3"] == "Counter 3"


@pytest.mark.parametrize("language", ["zh", "en"])
def test_generated_clips_are_trimmed_speech_of_plausible_length(clips, language):
    texts = clip_texts(language, named_clips(load_config(EXAMPLE)))
    assert sorted(p.stem for p in (clips / language).glob("*.wav")) == sorted(texts)
    margin = int(0.02 * RATE)
    for name in texts:
        path = clips / language / f"{name}.wav"
        with wave.open(str(path)) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2)
        samples = read_clip(path)
        seconds = len(samples) / RATE
        # A call's clip is a word or short phrase (a tenth of a second to two seconds); the
        # guide's are sentences, up to a long name or two (at most 12 s).
        longest = 12.0 if name.startswith(("guide_", "service-", "group-", "priority-")) else 2.0
        assert 0.1 < seconds < longest, (path, seconds)
        assert max(map(abs, samples)) == pytest.approx(SPEECH_PEAK * FULL_SCALE, abs=2), path
        # Trimmed: sound begins and ends within the margin of the file's ends.
        assert any(abs(s) >= SILENCE for s in samples[:margin]), f"{path}: silence first"
        assert any(abs(s) >= SILENCE for s in samples[-margin:]), f"{path}: silence last"
    listed = (clips / language / "texts.tsv").read_text(encoding="utf-8").splitlines()
    assert dict(line.split("\t") for line in listed) == texts


def test_chinese_clips_are_spoken_in_mandarin():
    """espeak-ng 1.51's "cmn" reads Chinese as pinyin with its tone digits spoken in
    English ("ling two" for 零); a voice that switches to English for Chinese text is
    caught here by its phonemes."""
    spoken = voice.voice("zh").espeak_voice
    for name, text in clip_texts("zh", named_clips(load_config(EXAMPLE))).items():
        if name.startswith("letter-"):
            continue  # letters are said as their English names, in Chinese too
        phonemes = subprocess.run(
            ["espeak-ng", "-q", "-x", "-v", spoken],
            input=text.encode(), capture_output=True, check=True,
        ).stdout.decode()  # fmt: skip
        assert "(en)" not in phonemes, (name, text, phonemes)


def test_the_chime_is_two_tones_falling(clips):
    samples = read_clip(clips / "chime.wav")
    assert samples == chime()
    assert 1.0 < len(samples) / RATE < 2.0
    first, second = samples[: int(0.4 * RATE)], samples[int(0.5 * RATE) : int(0.9 * RATE)]
    assert level(first, 659.25) > 5 * level(first, 523.25)
    assert level(second, 523.25) > 2 * level(second, 659.25)


def write_pcm(path: Path, frames: list[int], rate: int, channels: int, width: int) -> None:
    """16-bit `frames` written as `width`-byte PCM (8-bit WAV is unsigned)."""
    if width == 1:
        packed = bytes((s >> 8) + 128 for s in frames)
    else:
        shift = 8 * width - 16
        packed = b"".join((s << shift).to_bytes(width, "little", signed=True) for s in frames)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(packed)


@pytest.mark.parametrize(
    ("rate", "channels", "width"), [(44100, 2, 2), (48000, 1, 3), (16000, 1, 2), (22050, 2, 1)]
)
def test_a_recorded_clip_in_another_pcm_format_is_converted(tmp_path, rate, channels, width):
    """GIVEN a 440 Hz tone recorded as another PCM WAV WHEN it is read THEN it is one
    second of 22050 Hz mono with the same tone, at about the same level."""
    tone = sine(440, rate, 1.0)
    frames = [s for s in tone for _ in range(channels)]
    write_pcm(tmp_path / "please.wav", frames, rate, channels, width)
    samples = read_clip(tmp_path / "please.wav")
    assert abs(len(samples) - RATE) <= 1
    assert level(samples, 440) == pytest.approx(0.5, abs=0.03)
    assert level(samples, 1000) < 0.01


def test_a_clip_that_is_no_pcm_wav_is_refused_by_name(tmp_path):
    floats = tmp_path / "go_to.wav"
    data = struct.pack("<100f", *([0.1] * 100))
    fmt = struct.pack("<HHIIHH", 3, 1, RATE, RATE * 4, 4, 32)  # format 3: IEEE float
    floats.write_bytes(
        b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<I", 16)
        + fmt + b"data" + struct.pack("<I", len(data)) + data
    )  # fmt: skip
    with pytest.raises(VoiceError, match=r"go_to\.wav: not a PCM WAV file .*sox"):
        read_clip(floats)
    (tmp_path / "again.wav").write_bytes(b"ID3 this is an mp3")
    with pytest.raises(VoiceError, match=r"again\.wav: not a PCM WAV file"):
        read_clip(tmp_path / "again.wav")
    with pytest.raises(VoiceError, match=r"suffix\.wav: no such clip"):
        read_clip(tmp_path / "suffix.wav")


def test_without_espeak_ng_generating_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(VoiceError, match="apt-get install espeak-ng"):
        generate("en", tmp_path / "voice", named_clips(load_config(EXAMPLE)))


def test_a_language_without_a_voice_section_is_named():
    with pytest.raises(VoiceError, match="no catalog for language 'fr'"):
        call_clips("fr", "A001", "c1")


def test_scaling_clips_at_full_scale():
    assert voice.scale(array.array("h", [30000, -30000, 100]), 2) == array.array(
        "h", [32767, -32768, 200]
    )


def test_the_default_clips_are_the_devices_own_when_run_by_hand(tmp_path, monkeypatch):
    """GIVEN a device whose first boot made the clips in the system's state folder WHEN
    `sudo nowserving self-test` (no STATE_DIRECTORY, root's home) looks for them THEN it
    finds those; the unit's STATE_DIRECTORY and an explicit XDG_DATA_HOME come first, and
    without system clips the user's own folder is the default."""
    system = tmp_path / "var-lib-nowserving" / "voice"
    monkeypatch.setattr(voice, "SYSTEM_CLIPS", system)
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "root"))
    assert voice.default_clips_dir() == tmp_path / "root" / ".local/share/nowserving/voice"
    system.mkdir(parents=True)
    assert voice.default_clips_dir() == system
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert voice.default_clips_dir() == tmp_path / "data" / "nowserving" / "voice"
    monkeypatch.setenv("STATE_DIRECTORY", f"{tmp_path / 'state'}:/elsewhere")
    assert voice.default_clips_dir() == tmp_path / "state" / "voice"
