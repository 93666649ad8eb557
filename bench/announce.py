"""The lobby's voice in a burst: how many of N calls made at once are said in full,
shortened or dropped, and when the last one starts.

    .venv/bin/python bench/announce.py [--calls 10] [--every 0] [--speed 1]

The real `Announcer` with the example display's `[audio]` settings (lobby-1.toml: repeat 2,
both languages, max_delay_s 60, volume 70) and the example branch's clip set, made first
with espeak-ng in a temporary folder, plays into a `FilePlayer`, which takes as long as
each WAV lasts. All calls are made at the same moment (time 0) and handed to the announcer
`--every` seconds apart (0: all at once; 4: as the lobby display hands them over, one per
spotlight turn), each with its age. `--speed N` runs the announcer's clock and the player
N times faster than real time (the figures are in the lobby's seconds either way); 1
takes about 80 s for ten calls. The count comes from the announcer's events alone, so the
same script measures an announcer from before calls were shortened.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import command_line, describe_machine  # noqa: E402

from nowserving.adapters.audio import FilePlayer  # noqa: E402
from nowserving.adapters.voice import generate, named_clips  # noqa: E402
from nowserving.config import EXAMPLE, load_config  # noqa: E402
from nowserving.config.device import load_device_config  # noqa: E402
from nowserving.display.announce import Announcer  # noqa: E402
from nowserving.protocol.views import Call  # noqa: E402


def burst(calls: int, every: float, speed: float, clips: Path, out: Path) -> list[tuple]:
    """(number, handed in, event, at, detail) per call, in the lobby's seconds from the
    moment the calls were made; the player's (started, ended) per WAV."""
    config = load_config(EXAMPLE)
    audio = load_device_config(EXAMPLE.parent / "lobby-1.toml").audio
    settings = replace(audio, clips=clips, quiet_hours=None)  # a bench runs at any hour
    began = time.monotonic()

    def lobby_time() -> float:
        return (time.monotonic() - began) * speed

    player = FilePlayer(out, speed=speed, clock=lobby_time)
    rows: dict[str, list] = {}
    ready = threading.Event()

    def heard(event: str, call, detail: str) -> None:  # the announcer's thread
        if event != "finished":
            rows[call.number][2:] = [event, lobby_time(), detail]

    def status(text: str) -> None:
        if text.startswith("audio: ok"):
            ready.set()

    with Announcer(settings, config.rules, player=player, when_event=heard,
                   on_status=status, monotonic=lobby_time) as announcer:  # fmt: skip
        if not ready.wait(30):
            raise SystemExit(f"the announcer's audio is not ok: {announcer.status}")
        made = lobby_time()
        now = time.time()
        for i in range(calls):
            while lobby_time() < made + i * every:
                time.sleep(0.001)
            number = f"A{i + 1:03d}"
            rows[number] = [number, lobby_time() - made, None, None, ""]
            call = Call(f"t-{number}", number, "cash", f"c{i % 6 + 1}", ("zh", "en")[i % 2],
                        now, 0)  # fmt: skip
            announcer.announce(call, age=lobby_time() - made)
        announcer.wait_idle(None)
    result = [(n, handed, event, at - made, detail) for n, handed, event, at, detail in
              rows.values()]  # fmt: skip
    return result, [(p.started - made, p.ended - made) for p in player.played]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--every", type=float, default=0.0, help="seconds between hand-ins")
    parser.add_argument("--speed", type=float, default=1.0)
    args = parser.parse_args()
    print(f"$ {command_line()}")
    print(describe_machine())
    with tempfile.TemporaryDirectory() as tmp:
        clips = Path(tmp) / "voice"
        for language in ("zh", "en"):
            generate(language, clips, named_clips(load_config(EXAMPLE)))
        rows, played = burst(args.calls, args.every, args.speed, clips, Path(tmp) / "played")
    print(
        f"\n{args.calls} calls made at once, handed in {args.every:g} s apart, example "
        f"settings (repeat 2, both languages, max_delay_s 60), {args.speed:g}x real time:"
    )
    for number, handed, event, at, detail in rows:
        form = detail or ("in full" if event == "started" else "")
        print(f"  {number}  handed in {handed:5.1f} s  {event:8s} at {at:5.1f} s  {form}")
    said = [r for r in rows if r[2] == "started"]
    shortened = [r for r in said if r[4]]
    dropped = [r for r in rows if r[2] == "dropped"]
    overlaps = sum(after[0] < before[1] for before, after in zip(played, played[1:], strict=False))
    last = f"the last started {max(r[3] for r in said):.1f} s after the calls" if said else ""
    print(
        f"\nsaid {len(said)} of {args.calls} ({len(said) - len(shortened)} in full, "
        f"{len(shortened)} shortened), dropped {len(dropped)}; {last}; "
        f"overlapping WAVs: {overlaps}; all said by {played[-1][1] if played else 0:.1f} s"
    )


if __name__ == "__main__":
    main()
