"""`nowserving display --screenshot`: the lobby drawn from the branch's state."""

from __future__ import annotations

from PySide6.QtGui import QImage

from nowserving.cli import main
from nowserving.config import EXAMPLE


def test_a_screenshot_is_drawn(qtbot, server, connect, example_device, tmp_path):
    """GIVEN the shipped lobby-1.toml and a call WHEN `nowserving display --screenshot`
    THEN the lobby is drawn at the size asked."""
    connect("kiosk-1").request("issue_ticket", {"service": "cash"})
    connect("counter-1").request("call_next")
    png = tmp_path / "lobby.png"
    argv = ["display", "--config", str(EXAMPLE), "--device", str(example_device("lobby-1")),
            "--screenshot", str(png), "--size", "1280x720"]  # fmt: skip
    assert main(argv) == 0
    assert QImage(str(png)).size().toTuple() == (1280, 720)
