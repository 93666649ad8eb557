"""Events: the facts the queue is made of. Nothing is ever deleted, only added."""

from __future__ import annotations

from dataclasses import dataclass, field

EVENT_TYPES = frozenset(
    {
        "day_started",
        "numbers_leased",
        "ticket_issued",
        "ticket_called",
        "ticket_recalled",
        "ticket_started",
        "ticket_finished",
        "ticket_no_show",
        "ticket_transferred",
        "ticket_cancelled",
        "ticket_rated",
        "ticket_stepped_out",
        "notice_posted",
        "notice_taken_down",
        "transfer_undone",
        "counter_opened",
        "counter_paused",
        "counter_closed",
        "service_closed",
        "service_reopened",
        "staff_signed_in",
        "staff_signed_out",
        "sign_in_failed",
        "command_rejected",
        "log_restored",
        "booking_made",
        "booking_known",
        "booking_cancelled",
        "booking_no_show",
        "remote_joined",
        "remote_dropped",
    }
)


@dataclass(frozen=True)
class Event:
    """One fact, numbered by `seq` (1, 2, 3, ... with no gaps) in the branch's log."""

    seq: int
    type: str
    at: float
    command_id: str | None
    device: str | None
    data: dict = field(default_factory=dict)
    # The fingerprint of the command that caused it (`Command.digest`); kept in the log,
    # not published: it lets a rebuilt branch still tell a retry from a reused id.
    digest: str | None = None

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {self.type!r}")

    def to_dict(self) -> dict:
        """The event as the wire carries it (without its digest)."""
        return {
            "seq": self.seq,
            "type": self.type,
            "at": self.at,
            "command_id": self.command_id,
            "device": self.device,
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Event:
        """The event a `to_dict` describes."""
        return cls(d["seq"], d["type"], d["at"], d["command_id"], d["device"], d["data"])
