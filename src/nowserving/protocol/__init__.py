"""The wire contract every role speaks over MQTT (written out in docs/protocol.md)."""

from nowserving.protocol.messages import (
    MAX_PAYLOAD,
    PROTOCOL_VERSION,
    decode_command,
    encode,
    event_message,
    line_message,
    reply_message,
    state_message,
    ticket_view,
)
from nowserving.protocol.topics import Topics
from nowserving.protocol.vocabulary import COMMANDS, CommandSpec, Role

__all__ = [
    "COMMANDS",
    "CommandSpec",
    "Role",
    "MAX_PAYLOAD",
    "PROTOCOL_VERSION",
    "Topics",
    "decode_command",
    "encode",
    "event_message",
    "line_message",
    "reply_message",
    "state_message",
    "ticket_view",
]
