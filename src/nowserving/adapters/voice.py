"""The clip set the branch speaks from: one short WAV per word or phrase. The lobby display
speaks calls from it, the kiosk's audio guide its screens (kiosk/guide.py).

Speech is built offline by joining clips, so nothing spoken needs a network or a speech
engine at the branch: `generate` makes a language's clips once with espeak-ng, and an
installer may replace any of them by a recording of the same name. A clip set is a folder:

    DIR/chime.wav                 the two-tone chime before every call (any language)
    DIR/<language>/<name>.wav     please, go_to, ..., guide_on, ..., digit-0..digit-9,
                                  letter-a..letter-z, number-10..number-19 and
                                  number-20..number-50 by tens (with the digits: times
                                  of day, said by the kiosk's guide), counter-<counter id>,
                                  service-<id>, group-<id>, priority-<id>
    DIR/<language>/texts.tsv      what each clip says (the script for recording them)

What a language says, and in which order, is its catalog's `[voice]` section
(assets/i18n/<language>.toml), so a new language is a new catalog file.
Every clip is 22050 Hz, mono, 16-bit PCM once loaded (see `read_clip`).
"""

from __future__ import annotations

import array
import io
import itertools
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import wave
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nowserving.errors import NowservingError
from nowserving.i18n import catalog

if TYPE_CHECKING:
    from nowserving.config import BranchConfig

RATE = 22050  # Hz; espeak-ng's own rate, and plenty for speech
FULL_SCALE = 32767
SPEECH_PEAK = 0.8  # generated clips are scaled to this peak, so that they sound alike
CHIME_PEAK = 0.6  # a chime is piercing: it stays below the speech
SILENCE = 330  # |sample| below this (-40 dBFS) is silence when trimming
MARGIN_S = 0.01  # kept before and after the sound when trimming
CHIME = "chime"
NUMBER, COUNTER = "number", "counter"  # the tokens of `call`/`recall` that are no phrase
GUIDE = "guide_"  # the phrases of the kiosk's audio guide start with this
PAUSE = "pause"  # in a list of clips: a pause, not a clip
GAP_S = 0.06  # silence between two clips: words apart, yet one sentence
PAUSE_S = 0.5  # for a PAUSE: after the chime, between languages, between sentences
# The [voice] keys that are settings rather than phrases.
_SETTINGS = ("espeak_voice", "call", "recall", "digits", "letters", "numbers", "tens")


class VoiceError(NowservingError, OSError):
    """A clip is missing or unreadable, or clips cannot be made (no espeak-ng)."""


@dataclass(frozen=True)
class Voice:
    """What one language says in a call, from its catalog's `[voice]` section."""

    language: str
    espeak_voice: str
    call: tuple[str, ...]  # tokens: `number`, `counter`, or a phrase's name
    recall: tuple[str, ...]
    phrases: dict[str, str]  # name -> text; an empty text is a phrase this language skips
    digits: tuple[str, ...]  # 10 texts, for 0-9
    letters: tuple[str, ...]  # 26 texts, for A-Z
    numbers: tuple[str, ...] = ()  # 10 texts, for 10-19 (times of day: `time_clips`)
    tens: tuple[str, ...] = ()  # 4 texts, for 20, 30, 40, 50


def voice(language: str) -> Voice:
    """The `[voice]` section of `language`'s catalog, checked; VoiceError says what is wrong."""
    try:
        section = catalog(language).get("voice")
    except KeyError as err:  # no catalog at all
        raise VoiceError(err.args[0]) from None
    if section is None:
        raise VoiceError(f"assets/i18n/{language}.toml has no [voice] section")
    phrases = {k: v for k, v in section.items() if k not in _SETTINGS}
    v = Voice(
        language,
        section.get("espeak_voice", language),
        tuple(section.get("call", "").split()),
        tuple(section.get("recall", "").split()),
        phrases,
        tuple(section.get("digits", "").split()),
        tuple(section.get("letters", "").split()),
        tuple(section.get("numbers", "").split()),
        tuple(section.get("tens", "").split()),
    )
    where = f"assets/i18n/{language}.toml [voice]"
    if len(v.digits) != 10 or len(v.letters) != 26:
        raise VoiceError(f"{where}: `digits` needs 10 words and `letters` 26")
    if (len(v.numbers), len(v.tens)) not in ((0, 0), (10, 4)):
        raise VoiceError(f"{where}: `numbers` needs 10 words (10-19) and `tens` 4 (20-50)")
    for token in v.call + v.recall:
        if token not in (NUMBER, COUNTER) and not phrases.get(token):
            raise VoiceError(f"{where}: `call`/`recall` says {token!r}, which has no text")
    return v


def number_clips(number: str) -> list[str]:
    """The clips that say a ticket number, one per character: A012 -> letter-a, digit-0, ..."""
    names = []
    for char in number:
        if char.isascii() and char.isdigit():
            names.append(f"digit-{char}")
        elif char.isascii() and char.isalpha():
            names.append(f"letter-{char.lower()}")
        else:
            raise VoiceError(f"ticket number {number!r}: cannot say {char!r}")
    return names


def _number_names(n: int) -> list[str]:
    """0-59 as clips: a digit's below 10, number-<n> below 20, else its tens and its units
    (number-30, digit-5: "thirty five", "三十 五")."""
    if n < 10:
        return [f"digit-{n}"]
    if n < 20:
        return [f"number-{n}"]
    tens, units = divmod(n, 10)
    return [f"number-{tens * 10}"] + ([f"digit-{units}"] if units else [])


def time_clips(language: str, hm: str) -> list[str]:
    """The clips that say a time of day shown as "HH:MM", in `language`'s words: the hour,
    `guide_time_hour` (点), then `guide_time_oclock` on the hour (整, "o'clock"), or the
    minutes (before 10 after `guide_time_oh`: 零, "oh") and `guide_time_minute` (分); a
    phrase the language leaves empty is not said. [] for anything that is no such time."""
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", hm.strip()) if hm else None
    if match is None:
        return []
    hour, minute = int(match[1]), int(match[2])
    phrases = voice(language).phrases

    def said(name: str) -> list[str]:
        return [name] if phrases.get(name) else []

    names = [*_number_names(hour), *said("guide_time_hour")]
    if minute == 0:
        return names + said("guide_time_oclock")
    if minute < 10:
        names += said("guide_time_oh")
    return names + _number_names(minute) + said("guide_time_minute")


def call_clips(language: str, number: str, counter: str, recall: bool = False) -> list[str]:
    """The clips (names within the language's folder) of one call, in the spoken order."""
    v = voice(language)
    names: list[str] = []
    for token in v.recall if recall else v.call:
        if token == NUMBER:
            names += number_clips(number)
        elif token == COUNTER:
            names.append(f"counter-{counter}")
        else:
            names.append(token)
    return names


def named_clips(config: BranchConfig) -> dict[str, dict[str, str]]:
    """The clips that say a name from the branch's config, each with its names per
    language: counter-<id> (calls), service-<id>, group-<id> and priority-<id> (the kiosk's
    audio guide; the priority classes offered at the kiosk)."""
    rules = config.rules
    named = {f"counter-{c.id}": dict(c.names) for c in rules.counters.values()}
    named.update({f"service-{s.id}": dict(s.names) for s in rules.services.values()})
    named.update({f"group-{gid}": dict(g.names) for gid, g in config.groups.items()})
    named.update({f"priority-{p.id}": dict(p.names) for p in rules.priorities.values() if p.kiosk})
    return named


def clip_texts(language: str, named: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Every clip of a language and what it says: the phrases calls and the audio guide
    use, digits, letters and `named` (clip name -> its names per language, `named_clips`)."""
    v = voice(language)
    used = {t for t in v.call + v.recall if t not in (NUMBER, COUNTER)}
    guide = {n for n, said in v.phrases.items() if n.startswith(GUIDE) and said}
    texts = {n: v.phrases[n] for n in v.phrases if n in used or n in guide}
    texts.update({f"digit-{i}": word for i, word in enumerate(v.digits)})
    texts.update({f"letter-{chr(97 + i)}": word for i, word in enumerate(v.letters)})
    texts.update({f"number-{10 + i}": word for i, word in enumerate(v.numbers)})
    texts.update({f"number-{20 + 10 * i}": word for i, word in enumerate(v.tens)})
    for name, names in named.items():
        texts[name] = names.get(language) or next(iter(names.values()), name.split("-", 1)[-1])
    return texts


# Where the device image's first boot makes a display's clips: the units' StateDirectory=.
SYSTEM_CLIPS = Path("/var/lib/nowserving/voice")


def default_clips_dir() -> Path:
    """Where clips live unless `[audio] clips` says: systemd's state folder (the units'),
    XDG data if set, the system's state folder if it has clips (a device's: what
    `sudo nowserving self-test` on a display must find), else ~/.local/share."""
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0]) / "voice"
    if os.environ.get("XDG_DATA_HOME"):
        return Path(os.environ["XDG_DATA_HOME"]) / "nowserving" / "voice"
    if SYSTEM_CLIPS.is_dir():
        return SYSTEM_CLIPS
    return Path.home() / ".local" / "share" / "nowserving" / "voice"


def generate(
    language: str, out_dir: str | Path, named: Mapping[str, Mapping[str, str]]
) -> list[Path]:
    """Make `language`'s clips (and the chime) in `out_dir` with espeak-ng; the files written.

    Each clip is trimmed of leading and trailing silence, so that joined clips sound like
    one sentence, and scaled to one peak level, so that none stands out.
    """
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise VoiceError(
            "espeak-ng is not installed (apt-get install espeak-ng); "
            "or record the clips yourself (docs/announcements.md)"
        )
    v = voice(language)
    folder = Path(out_dir) / language
    folder.mkdir(parents=True, exist_ok=True)
    texts = clip_texts(language, named)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        for name, text in texts.items():
            # The text goes on stdin: a counter named "-3" must not read as an option.
            done = subprocess.run(
                [espeak, "-v", v.espeak_voice, "-w", str(raw)],
                input=text.encode(),
                capture_output=True,
                timeout=30,
            )
            if done.returncode != 0 or not raw.exists():
                why = done.stderr.decode(errors="replace").strip()
                raise VoiceError(f"espeak-ng -v {v.espeak_voice} failed on {text!r}: {why}")
            samples = normalise(trim(read_clip(raw)), SPEECH_PEAK)
            raw.unlink()
            write_wav(folder / f"{name}.wav", samples)
            written.append(folder / f"{name}.wav")
    lines = [f"{name}\t{text}\n" for name, text in texts.items()]
    (folder / "texts.tsv").write_text("".join(lines), encoding="utf-8")
    write_wav(Path(out_dir) / f"{CHIME}.wav", chime())
    return [Path(out_dir) / f"{CHIME}.wav", *written]


def chime() -> array.array:
    """A two-tone ding-dong (E5 then C5) with a bell's decay, made here: no file to ship."""
    length, fade = int(1.4 * RATE), int(0.1 * RATE)
    out = [0.0] * length
    for freq, start_s in ((659.25, 0.0), (523.25, 0.45)):
        start = int(start_s * RATE)
        for i in range(length - start):
            t = i / RATE
            # A fifth of the second harmonic gives the tone a bell's edge; the 5 ms attack
            # and the fade at the end avoid clicks.
            tone = math.sin(2 * math.pi * freq * t) + 0.2 * math.sin(4 * math.pi * freq * t)
            out[start + i] += tone * math.exp(-3.5 * t) * min(1.0, t / 0.005)
    for i in range(fade):
        out[length - 1 - i] *= i / fade
    return normalise(array.array("h", (int(x * 10000) for x in out)), CHIME_PEAK)


def trim(samples: array.array) -> array.array:
    """`samples` without the silence before and after the sound (a little margin kept)."""
    first = next((i for i, s in enumerate(samples) if abs(s) >= SILENCE), None)
    if first is None:
        return samples
    last = next(i for i in range(len(samples) - 1, -1, -1) if abs(samples[i]) >= SILENCE)
    margin = int(MARGIN_S * RATE)
    return samples[max(0, first - margin) : last + margin + 1]


def normalise(samples: array.array, peak: float) -> array.array:
    """`samples` scaled so that the loudest one is `peak` of full scale."""
    top = max(max(samples, default=0), -min(samples, default=0))
    return scale(samples, peak * FULL_SCALE / top) if top else samples


def scale(samples: array.array, gain: float) -> array.array:
    """`samples` times `gain`, clipped to 16 bits."""
    top = max(max(samples, default=0), -min(samples, default=0))
    if top * abs(gain) < FULL_SCALE:  # nothing to clip: the same, without a test per sample
        return array.array("h", map(round, map(gain.__mul__, samples)))
    return array.array("h", (max(-32768, min(FULL_SCALE, round(s * gain))) for s in samples))


def silence(seconds: float) -> array.array:
    """`seconds` of silence at the clips' sample rate."""
    return array.array("h", bytes(2 * round(seconds * RATE)))


def duration(samples: array.array) -> float:
    """How long `samples` play, in seconds."""
    return len(samples) / RATE


def wav_bytes(samples: array.array) -> bytes:
    """`samples` as a WAV file (22050 Hz, mono, 16-bit)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(_little_endian(samples).tobytes())
    return buffer.getvalue()


def write_wav(path: Path, samples: array.array) -> None:
    """Write `samples` as a mono 16-bit WAV file."""
    path.write_bytes(wav_bytes(samples))


def read_clip(path: Path) -> array.array:
    """A clip's samples at 22050 Hz mono 16-bit, converted from whatever PCM WAV it is.

    Recorded clips come from phones and recorders at 44.1 or 48 kHz, stereo, 16 or 24 bit:
    those are converted (channels averaged, rate changed) rather than refused, so that an
    installer need not learn sox. What `wave` cannot read (float or compressed WAV, other
    files) is refused with the file's name and how to convert it.
    """
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            data = w.readframes(w.getnframes())
    except FileNotFoundError:
        raise VoiceError(f"{path}: no such clip") from None
    except (wave.Error, EOFError, OSError) as err:
        raise VoiceError(
            f"{path}: not a PCM WAV file ({err}); convert it, e.g. "
            f"`sox IN -r {RATE} -c 1 -b 16 {path.name}`"
        ) from None
    samples = _to_16_bits(data, width)
    if channels > 1:
        samples = array.array(
            "h",
            (sum(samples[i : i + channels]) // channels for i in range(0, len(samples), channels)),
        )
    return _resample(samples, rate) if rate != RATE else samples


def _to_16_bits(data: bytes, width: int) -> array.array:
    if width == 1:  # 8-bit WAV is unsigned
        return array.array("h", ((b - 128) << 8 for b in data))
    if width == 2:
        return _little_endian(array.array("h", data))
    if width == 3:
        return array.array(
            "h", (int.from_bytes(data[i + 1 : i + 3], "little", signed=True)
                  for i in range(0, len(data), 3))
        )  # fmt: skip
    wide = _little_endian(array.array("i", data))
    return array.array("h", (s >> 16 for s in wide))


def _little_endian(samples: array.array) -> array.array:
    # WAV data is little-endian; swap on the rare big-endian host.
    if sys.byteorder == "big":
        samples = array.array(samples.typecode, samples)
        samples.byteswap()
    return samples


def _resample(samples: array.array, rate: int) -> array.array:
    """`samples` at `rate` Hz, at RATE Hz: averaged when shrinking (which keeps the aliasing
    of a plain pick down), interpolated when growing. Good enough for speech."""
    count = max(1, round(len(samples) * RATE / rate))
    step = rate / RATE
    if step > 1:
        prefix = list(itertools.accumulate(samples, initial=0))
        out = []
        for i in range(count):
            a = min(int(i * step), len(samples) - 1)
            b = min(max(int((i + 1) * step), a + 1), len(samples))
            out.append((prefix[b] - prefix[a]) // (b - a))
        return array.array("h", out)
    last = len(samples) - 1
    out = []
    for i in range(count):
        x = i * step
        a = min(int(x), last)
        b = min(a + 1, last)
        out.append(round(samples[a] + (samples[b] - samples[a]) * (x - a)))
    return array.array("h", out)


class ClipSet:
    """A clip set's folder; clips are read on first use and kept (a call reuses most)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._loaded: dict[tuple[str, float], array.array] = {}

    def path(self, name: str) -> Path:
        """The file of a clip named "chime" or "<language>/<name>"."""
        return self.root / f"{name}.wav"

    def missing(self, names: Iterable[str]) -> list[str]:
        """The clips among `names` that have no file, in order, each once."""
        return [n for n in dict.fromkeys(names) if not self.path(n).is_file()]

    def samples(self, name: str, gain: float = 1.0) -> array.array:
        """A clip's samples, times `gain`: scaled once per clip and kept, since scaling a
        whole call in Python takes long enough on a Pi to be heard as a delay."""
        if (name, gain) not in self._loaded:
            if gain == 1.0:
                self._loaded[name, gain] = read_clip(self.path(name))
            else:
                self._loaded[name, gain] = scale(self.samples(name), gain)
        return self._loaded[name, gain]


def require(clips: ClipSet, names: Iterable[str]) -> None:
    """VoiceError naming every clip file among `names` that is missing, and how to make it."""
    missing = clips.missing(n for n in names if n != PAUSE)
    if missing:
        languages = sorted({m.split("/")[0] for m in missing if "/" in m}) or ["LANGUAGE"]
        make = "; ".join(
            f"nowserving voice-clips --language {lang} --out {clips.root}" for lang in languages
        )
        files = ", ".join(f"{m}.wav" for m in missing)
        raise VoiceError(
            f"missing clips in {clips.root}: {files}. Make them with `{make}` "
            "or record them (docs/announcements.md)"
        )


def join(clips: ClipSet, names: Sequence[str], volume: int = 100) -> array.array:
    """The samples of `names` one after another: GAP_S between clips, PAUSE_S for a PAUSE."""
    out = array.array("h")
    after_clip = False
    for name in names:
        if name == PAUSE:
            out += silence(PAUSE_S)
            after_clip = False
            continue
        if after_clip:
            out += silence(GAP_S)
        out += clips.samples(name, gain(volume))
        after_clip = True
    return out


def gain(volume: int) -> float:
    """The amplitude factor of a volume in percent: cubic, like PulseAudio's and PipeWire's
    sliders, so that 50 sounds about half as loud rather than hardly quieter than 100."""
    return (volume / 100) ** 3
