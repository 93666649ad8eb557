"""The vocabulary is one table: every command type named once, described once, decided once."""

from __future__ import annotations

from nowserving.config.hardware import COUNTER_BUTTONS
from nowserving.domain import Branch
from nowserving.protocol.vocabulary import COMMANDS, Cmd


def test_every_command_is_named_described_and_decided():
    """GIVEN the command names (Cmd) and their specs (COMMANDS) THEN they are the same set,
    and the queue has a decision for each command it sees (not `ping`)."""
    assert set(Cmd) == set(COMMANDS)
    for cmd, spec in COMMANDS.items():
        assert hasattr(Branch, f"_decide_{cmd}") == spec.queued, cmd


def test_every_counter_button_sends_a_command_a_counter_may_send():
    for button, cmd in COUNTER_BUTTONS.items():
        assert "counter" in {str(role) for role in COMMANDS[cmd].roles}, button
