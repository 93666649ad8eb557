"""Sound out: a WAV played through the system's own player, or written to files.

No audio library is linked: a lobby display plays a few seconds now and then, and the
system's players already know its sound server and outputs. A `Player` has two calls:
`probe` (is there an output at all, and if not, why) and `play` (one WAV, to its end or
until told to stop). The announcer never plays two at once, so a player need not mix.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
import threading
import time
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from nowserving.errors import NowservingError

PROBE_TIMEOUT_S = 5.0
GRACE_S = 5.0  # a player still running this long after its WAV's end is stuck: killed
POLL_S = 0.05  # how often a playing WAV checks whether it must stop
# The players tried, in order. A sound server first: it mixes, owns the device (aplay on a
# device a server holds fails as busy) and routes to the output the user picked. paplay
# before pw-play because it speaks to PulseAudio and to PipeWire's pulse layer (Raspberry
# Pi OS's default) alike, and `pactl` tells us whether the server has a real output.
# aplay last: plain ALSA, for images without a sound server (or a service without a
# user session, where no server can be reached).
PLAYERS = ("paplay", "pw-play", "aplay")
_DEVICE_OPTION = {"paplay": "--device={}", "pw-play": "--target={}", "aplay": "-D{}"}


class PlayerError(NowservingError, OSError):
    """A WAV could not be played (the player failed or hung)."""


class Player(Protocol):
    """Where announcements sound."""

    def probe(self) -> str | None:
        """None when there is an output to play on; otherwise why there is none."""

    def play(self, wav: bytes, stop: threading.Event) -> None:
        """Play `wav` to its end (blocking), or until `stop` is set; PlayerError if it fails."""


def wav_seconds(wav: bytes) -> float:
    """How long a WAV file plays."""
    with wave.open(io.BytesIO(wav), "rb") as w:
        return w.getnframes() / w.getframerate()


class SystemPlayer:
    """The first of `players` that can reach an output; `device` picks one (its own naming:
    a sink for paplay/pw-play, an ALSA device for aplay); None: the system's default."""

    def __init__(self, device: str | None = None, players: Sequence[str] = PLAYERS) -> None:
        self.device = device
        self.players = tuple(players)
        self.command: list[str] | None = None  # the player chosen by the last probe

    @property
    def name(self) -> str:
        """The player's name, as logs and the display's status say it."""
        return Path(self.command[0]).name if self.command else "none"

    def probe(self) -> str | None:
        """Try each player on 50 ms of silence; keep the first that plays it."""
        reasons = []
        self.command = None
        for player in self.players:
            why = self._try(player)
            if why is None:
                return None
            reasons.append(f"{player}: {why}")
        return "; ".join(reasons) or "no player to try"

    def _try(self, player: str) -> str | None:
        path = shutil.which(player)
        if path is None:
            return "not installed"
        if player == "paplay":
            why = _pulse_sink()
            if why:
                return why
        command = [path]
        if self.device:
            command.append(_DEVICE_OPTION[player].format(self.device))
        blank = io.BytesIO()
        with wave.open(blank, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(22050)
            w.writeframes(bytes(2 * 1102))
        try:
            self._run(command, blank.getvalue(), threading.Event(), PROBE_TIMEOUT_S)
        except PlayerError as err:
            return str(err)
        self.command = command
        return None

    def play(self, wav: bytes, stop: threading.Event) -> None:
        """Play `wav` to its end, or until `stop` is set."""
        if self.command is None:
            raise PlayerError("no audio output (probe found none)")
        self._run(self.command, wav, stop, wav_seconds(wav) + GRACE_S)

    @staticmethod
    def _run(command: list[str], wav: bytes, stop: threading.Event, limit_s: float) -> None:
        # A file rather than stdin: pw-play reads only files.
        with tempfile.NamedTemporaryFile(suffix=".wav") as file:
            file.write(wav)
            file.flush()
            proc = subprocess.Popen(
                [*command, file.name], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            ends = time.monotonic() + limit_s
            while proc.poll() is None:
                if stop.wait(POLL_S) or time.monotonic() > ends:
                    proc.kill()
                    proc.wait()
                    if stop.is_set():
                        return
                    raise PlayerError(f"{Path(command[0]).name} did not finish: killed")
            error = proc.stderr.read().decode(errors="replace").strip()
            proc.stderr.close()
        if proc.returncode != 0:
            last = error.splitlines()[-1] if error else f"exit status {proc.returncode}"
            # aplay says "aplay: main:831: audio open error: ..."; the why is the end.
            raise PlayerError(re.sub(r"^[\w-]+: \w+:\d+: ", "", last))


def _pulse_sink() -> str | None:
    """Why a PulseAudio/PipeWire server is no use (none, or only its dummy sink), or None."""
    pactl = shutil.which("pactl")
    if pactl is None:
        return None  # nothing to ask; the silent try will tell
    try:
        info = subprocess.run(
            [pactl, "info"], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return "the sound server does not answer"
    if info.returncode != 0:
        return "no sound server (pactl info failed)"
    sink = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in info.stdout.splitlines()
            if ln.startswith("Default Sink:")
        ),
        "",
    )
    if sink in ("", "auto_null"):
        return "the sound server has no output (no sound card?)"
    return None


@dataclass(frozen=True)
class Played:
    """One WAV a FilePlayer played: its file and when it started and ended (monotonic)."""

    path: Path
    started: float
    ended: float


class FilePlayer:
    """Writes each WAV it plays to `folder` (001.wav, ...) and takes as long as the sound
    (divided by `speed`, so that tests need not wait out every chime).

    For previews and tests: what would have been heard, with real timing, and no sound card.
    """

    def __init__(
        self, folder: str | Path, speed: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.speed = speed
        self.clock = clock
        self.played: list[Played] = []
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """The player's name, as logs and the display's status say it."""
        return "file"

    def probe(self) -> str | None:
        """Why it cannot play (None: it can)."""
        return None

    def play(self, wav: bytes, stop: threading.Event) -> None:
        """Write `wav` to the folder (a file per call), taking as long as it would play."""
        started = self.clock()
        with self._lock:
            path = self.folder / f"{len(self.played) + 1:03d}.wav"
        path.write_bytes(wav)
        stop.wait(wav_seconds(wav) / self.speed)
        with self._lock:
            self.played.append(Played(path, started, self.clock()))
