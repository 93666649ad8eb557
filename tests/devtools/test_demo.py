"""`nowserving demo` runs a whole branch and says what happened and where to look."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from nowserving.adapters.printer.layout import wait_text
from nowserving.adapters.store import EventLog
from nowserving.devtools.demo import _break_left, _voice_text, _wait_text
from nowserving.kiosk.app import KioskController
from nowserving.protocol.views import EstimateView, TicketView

TICKET = re.compile(
    r"\d\d:\d\d:\d\d  ticket +([A-E]\d{3}) +\S.* / .+?  \((zh|en)\)(  \[priority\])?(?P<wait>.*)"
)
WAIT = re.compile(r"(|  — 马上 / now|  — 约 (\d+)–(\d+) 分钟 / about \2–\3 min, \d+ ahead)")
CALL = re.compile(r"CALL +([A-E]\d{3}) → \d号(窗口|贵宾室) / (Counter|Room) \d")


def test_demo_runs_a_branch_headless(tmp_path):
    """GIVEN 45 branch minutes at 900x WHEN the demo runs headless THEN what must happen,
    however fast this machine is today: the devices are up before the doors open, so the
    first customer gets a printed ticket; every ticket issued is printed, and no other; the
    console agrees with the event log; the summary points at the log, the audit command and
    the screenshots; and each call the lobby says it spoke is a WAV. (How many customers
    come in three real seconds is the machine's business, not the test's.)"""
    out = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "nowserving", "demo", "--minutes", "45", "--speed", "900",
         "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = result.stdout
    with EventLog(out / "events.sqlite") as log:
        events = list(log.events())
    issued = [e.data["number"] for e in events if e.type == "ticket_issued"]
    called = {e.data["number"] for e in events if e.type == "ticket_called"}
    calls = sum(e.type in ("ticket_called", "ticket_recalled") for e in events)
    summary = re.search(r"(\d+) tickets issued, (\d+) called", text)
    assert summary and (int(summary[1]), int(summary[2])) == (len(issued), len(called)), text
    assert issued and issued[0].endswith("001"), text  # the first customer got a ticket
    # The real kiosk took the customers' taps and printed each ticket as a PNG.
    assert sorted(p.stem for p in (out / "tickets").glob("*.png")) == sorted(issued)
    shown = [TICKET.fullmatch(line) for line in text.splitlines() if "  ticket  " in line]
    assert shown and all(shown), text
    assert shown[0][1] == issued[0] and {m[1] for m in shown} <= set(issued)
    assert all(WAIT.fullmatch(m["wait"]) for m in shown), text  # the ticket's own minutes
    assert {m[1] for m in CALL.finditer(text)} <= called
    assert f"Look at: {out / 'demo.log'}" in text
    assert f" audit --db {out / 'events.sqlite'} --timezone Asia/Shanghai" in text
    assert "loaded at seq 0" in (out / "demo.log").read_text()
    assert f"and {out / 'tickets'} ({len(issued)} printed" in text
    assert f"and {out / 'kiosk.png'}" in text
    assert f"and {out / 'panel-counter-1.png'}" in text  # a staff panel, through mock pins
    # The lobby display showed the calls, and what it spoke is there as WAVs (no sound here).
    assert f"and {out / 'lobby.png'}" in text
    lobby = re.search(r"The lobby spoke (\d+) of (\d+) calls: .* 0.067 s of real time", text)
    assert lobby and int(lobby[2]) == calls, text
    spoken = sorted((out / "announcements").glob("*.wav"))
    assert len(spoken) == int(lobby[1]) and all(p.stat().st_size > 20_000 for p in spoken)


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
    ticket = TicketView("x/A001", "A001", "cash", "en", 0.0, 2, EstimateView(**estimate, ahead=2))
    printed = wait_text("en", KioskController._content(kiosk, ticket).wait)
    said = _wait_text({**estimate, "ahead": 2})
    if printed == wait_text("en", (0, 1)):
        assert said == "  — 马上 / now"
    else:
        minutes = re.search(r"(\d+)–(\d+)", printed).group(0)
        assert f"about {minutes} min" in said and f"约 {minutes} 分钟" in said


def test_the_summary_says_why_the_lobby_spoke_few_calls():
    said = _voice_text(Counter(finished=5, dropped=33, silenced=1), calls=45, speed=60)
    assert said == (
        "The lobby spoke 5 of 45 calls: a call not begun within 60 s of branch time is "
        "dropped, and at 60x speed that is 1 s of real time (33 dropped; 1 silenced; 6 never "
        "had their turn on the screen)."
    )


def test_the_demo_staff_take_the_breaks_the_config_plans(example_config):
    """GIVEN the example bank (counter c1 away 12:00-12:45, c3 12:45-13:30, c2 never) WHEN
    the demo's staff ask whether they are on a break THEN only inside a planned break, for
    what is left of it, in branch time: the wait estimates count on those breaks, and a
    demo whose staff worked through them told its own customers long waits that never came
    (cash at 12h: 27% inside their interval)."""
    shanghai = ZoneInfo(example_config.rules.timezone)

    def at(hour: int, minute: int) -> float:
        return datetime(2026, 12, 7, hour, minute, tzinfo=shanghai).timestamp()

    assert _break_left(example_config, "c1", at(11, 59)) == 0
    assert _break_left(example_config, "c1", at(12, 0)) == 45 * 60
    assert _break_left(example_config, "c1", at(12, 30)) == 15 * 60
    assert _break_left(example_config, "c1", at(12, 45)) == 0
    assert _break_left(example_config, "c3", at(13, 0)) == 30 * 60
    assert _break_left(example_config, "c2", at(12, 30)) == 0
