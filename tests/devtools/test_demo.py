"""`nowserving demo` runs a whole branch and says what happened and where to look."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from nowserving.adapters.printer.layout import wait_text
from nowserving.devtools.demo import _wait_text
from nowserving.kiosk.app import KioskController


def test_demo_runs_a_branch_headless(tmp_path):
    out = tmp_path / "demo"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "nowserving",
            "demo",
            "--minutes",
            "45",
            "--speed",
            "900",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")},
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert re.search(r"ticket +A0\d\d +现金存取 / Cash deposit", text), text
    assert re.search(r"CALL +[A-E]\d{3} → \d号(窗口|贵宾室) / (Counter|Room) \d", text), text
    summary = re.search(r"(\d+) tickets issued, (\d+) called", text)
    assert summary and int(summary[1]) > 5 and int(summary[2]) > 0, text
    assert f"Look at: {out / 'demo.log'}" in text
    assert (out / "events.sqlite").stat().st_size > 0
    assert "loaded at seq 0" in (out / "demo.log").read_text()
    # The real kiosk took the customers' taps and printed each ticket as a PNG.
    assert f"and {out / 'tickets'} (" in text and f"and {out / 'kiosk.png'}" in text
    assert f"and {out / 'panel-counter-1.png'}" in text  # a staff panel, through mock pins
    printed = sorted(p.stem for p in (out / "tickets").glob("*.png"))
    assert len(printed) == int(summary[1]) and any(p.endswith("001") for p in printed), printed
    # The lobby display showed the calls and spoke them (as WAVs: there is no sound here).
    assert f"and {out / 'lobby.png'}" in text
    spoken = sorted((out / "announcements").glob("*.wav"))
    assert spoken and all(p.stat().st_size > 20_000 for p in spoken), spoken


@pytest.mark.parametrize(
    ("low", "high"), [(0, 30), (0, 60), (0, 61), (90, 1141), (600, 1200), (659, 1201)]
)
def test_the_console_gives_the_wait_in_the_tickets_minutes(example_config, low, high):
    """GIVEN an estimate WHEN the demo prints the ticket's line THEN it says the minutes
    the printed ticket says (the kiosk's rounding: 19.02 min is "up to 20", never 19)."""
    estimate = {"low": low, "high": high, "mean": (low + high) / 2}
    kiosk = SimpleNamespace(
        config=example_config, ticket_url="{branch}{ticket}{token}", _token="t",
        _zone=ZoneInfo("Asia/Shanghai"),
    )  # fmt: skip
    ticket = {"id": "x/A001", "number": "A001", "service": "cash", "language": "en",
              "issued_at": 0.0, "issued_estimate": estimate}  # fmt: skip
    printed = wait_text("en", KioskController._content(kiosk, ticket).wait)
    said = _wait_text({**estimate, "ahead": 2})
    if printed == wait_text("en", (0, 1)):
        assert said == "  — 马上 / now"
    else:
        minutes = re.search(r"(\d+)–(\d+)", printed).group(0)
        assert f"about {minutes} min" in said and f"约 {minutes} 分钟" in said
