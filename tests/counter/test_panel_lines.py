"""The staff panel with a long line: it reads the head and counts `line/<service>` sends."""

from __future__ import annotations

from gpiozero.pins.mock import MockFactory

from nowserving.counter.launcher import build
from nowserving.launch import Hardware
from tests.counter.test_buttons import device_config

LONG = 600


def test_a_panel_shows_the_head_of_a_600_long_line_and_its_count(
    qtbot, server, broker, connect, example_config
):
    """GIVEN 600 waiting for cash WHEN counter 1's panel (cash only) shows its line THEN it
    lists the first 30 the counter would call, in order, and counts all 600."""
    senders = [connect("kiosk-1"), connect("kiosk-2"), connect("manager")]  # 200 each at once
    futures = [senders[i % 3].send("issue_ticket", {"service": "cash"}) for i in range(LONG)]
    assert all(f.result(timeout=60).ok for f in futures)
    config = device_config("counter-1", broker.port, buttons={})
    with build(
        example_config, config, hardware=Hardware(pin_factory=MockFactory()), panel_size=(1280, 800)
    ) as app:
        panel = app.panel
        first = [t.number for t in server.branch.next_in_line("cash", 30)]
        qtbot.waitUntil(lambda: [w["number"] for w in panel.waiting] == first, timeout=10_000)
        qtbot.waitUntil(lambda: [c["waiting"] for c in panel.counts] == [LONG], timeout=10_000)
        # The summary's count may come before the line that has the last of them.
        qtbot.waitUntil(lambda: app.client.lines["cash"].waiting == LONG, timeout=10_000)
        line = app.client.lines["cash"]
        assert (line.waiting, line.more, len(line.tickets)) == (LONG, LONG - 50, 50)
