"""Device status: one retained message per device, the same shape for every role."""

from __future__ import annotations

from nowserving import __version__
from nowserving.protocol.messages import PROTOCOL_VERSION


def status_message(device: str, online: bool, **fields) -> dict:
    """`{"v", "device", "online", "version", ...fields}`; offline (the last will) carries
    nothing else, since it is written when the device connects and may be shown much later."""
    message = {"v": PROTOCOL_VERSION, "device": device, "online": online}
    if online:
        message["version"] = __version__
        message.update(fields)
    return message
