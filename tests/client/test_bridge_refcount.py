"""PySide6 6.12.0's `Signal.emit` returned `True` without a reference of its own: every emit
took one from `True`, and on Python 3.11 a long-running device died with "bool_dealloc"
(the demo did within a minute, with the lobby display's traffic). constraints.txt pins a
release without it; this test fails on one that has it."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, Signal


class Sender(QObject):
    ping = Signal(str)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="True is immortal from Python 3.12")
def test_emitting_a_signal_does_not_eat_references_to_true(qtbot):
    sender, got = Sender(), []
    sender.ping.connect(got.append)
    before = sys.getrefcount(True)
    for _ in range(1000):
        sender.ping.emit("x")
    assert len(got) == 1000
    assert abs(sys.getrefcount(True) - before) < 50  # the count drifts a little on its own
