"""A lobby display's self-test: a test call through the announcer to a FilePlayer, the test
pattern on an offscreen screen (saved and looked at), and the server seen through its
retained status (a display may not send commands through a provisioned broker)."""

from __future__ import annotations

import wave
from dataclasses import replace

from PIL import Image

from nowserving.adapters.audio import FilePlayer, SystemPlayer
from nowserving.selftest import Hardware, run_self_test
from tests.selftest.conftest import QUICK, Prompted, device, no_ntp, retained_status

BARS = [(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0), (255, 0, 255), (255, 0, 0)]


def lobby(broker, clips_dir, **display):
    audio = {"clips": str(clips_dir), "quiet_hours": "00:00-23:59", "repeat": 3}
    return device(
        broker, "display", "lobby-1", audio=audio, display={"languages": ["zh", "en"], **display}
    )


def test_a_working_display_speaks_shows_its_pattern_and_passes(
    live_server, broker, example_config, clips, tmp_path
):
    """GIVEN clips, a player and a screen WHEN the self-test runs THEN one test call was
    played (once, quiet hours notwithstanding), the pattern was drawn with its colour bars
    and red frame, and the display's status carries the result."""
    player = FilePlayer(tmp_path / "said", speed=50)
    png = tmp_path / "pattern.png"
    options = replace(QUICK, pattern_seconds=0.3, pattern_png=png)
    say = Prompted()
    report = run_self_test(
        example_config, lobby(broker, clips), options, Hardware(player=player), say, no_ntp
    )
    assert report.ok, say.text
    assert report.get("server").detail.startswith("online, and its summary arrived")
    assert report.get("audio").status == "ok" and "A001 to 1号窗口" in report.get("audio").detail
    assert len(player.played) == 1
    with wave.open(str(player.played[0].path)) as said:
        assert 4 < said.getnframes() / said.getframerate() < 15  # chime, zh, en: said once
    screen = report.get("screen")
    assert screen.status == "warn" and "offscreen" in screen.detail  # nobody saw it here
    image = Image.open(png).convert("RGB")
    assert image.size == (1920, 1080)
    for i, colour in enumerate(BARS):
        assert image.getpixel((int((i + 0.5) * 1920 / 8), 200)) == colour, i
    for x, y in ((0, 540), (1919, 540), (960, 0), (960, 1079)):
        assert image.getpixel((x, y)) == (255, 0, 0), (x, y)
    assert retained_status(broker, "lobby-1")["self_test"]["ok"] is True


def test_a_portrait_display_gets_a_portrait_pattern(
    live_server, broker, example_config, clips, tmp_path
):
    png = tmp_path / "portrait.png"
    options = replace(QUICK, pattern_seconds=0.2, pattern_png=png, announce=False)
    display = lobby(broker, clips, orientation="portrait")
    player = FilePlayer(tmp_path / "said")
    report = run_self_test(
        example_config, display, options, Hardware(player=player), Prompted(), no_ntp
    )
    assert Image.open(png).size == (1080, 1920)
    assert report.get("audio").detail == "ok (file), clips complete; no test call (--no-announce)"
    assert player.played == []  # unattended: silent


def test_no_sound_output_fails_the_audio_check(live_server, broker, example_config, clips):
    player = SystemPlayer(players=())  # nothing to play on
    report = run_self_test(
        example_config, lobby(broker, clips), QUICK, Hardware(player=player), Prompted(), no_ntp
    )
    check = report.get("audio")
    assert check.status == "FAIL" and "no audio output" in check.detail and not report.ok


def test_missing_clips_fail_and_say_how_to_make_them(live_server, broker, example_config, tmp_path):
    player = FilePlayer(tmp_path / "said", speed=50)
    report = run_self_test(
        example_config, lobby(broker, tmp_path / "no-clips"), QUICK, Hardware(player=player),
        Prompted(), no_ntp,
    )  # fmt: skip
    check = report.get("audio")
    assert check.status == "FAIL" and "nowserving voice-clips --language zh" in check.detail
    assert player.played == []


def test_a_display_with_the_server_down_fails_the_server_check(
    broker, example_config, clips, tmp_path
):
    """GIVEN a broker and no server ever WHEN a display's self-test runs THEN `server` fails
    saying the server is not there."""
    options = replace(QUICK, network_timeout_s=0.5, announce=False)
    report = run_self_test(
        example_config, lobby(broker, clips), options, Hardware(), Prompted(), no_ntp
    )
    check = report.get("server")
    assert check.status == "FAIL" and "is `nowserving server` running" in check.detail
