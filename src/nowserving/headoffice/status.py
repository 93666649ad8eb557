"""`nowserving headoffice status`: per branch, how far the head office has its events, and
whether its link is up: a branch whose link is down is *stale*, not quiet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

_QUERY = """
SELECT b.branch, b.epoch, b.contiguous_seq, b.max_seq, b.state_epoch, b.state_seq,
       b.link_up, b.server_online, b.last_event_at, b.last_heard, b.gaps_repaired,
       b.events_repaired,
       (SELECT count(*) FROM gaps g WHERE g.branch = b.branch AND g.epoch = b.epoch
        AND g.repaired_at IS NULL AND g.last_seq > b.contiguous_seq) AS gaps_open,
       now()
FROM branches b ORDER BY b.branch
"""


@dataclass(frozen=True)
class BranchStatus:
    """One branch as the head office has it."""

    branch: str
    epoch: int
    last_seq: int  # every event up to this one is in
    max_seq: int
    lag: int | None  # events the branch has (its state's seq) that are not in yet
    link_up: bool | None  # None: never heard of the bridge
    server_online: bool | None
    last_event_at: datetime | None
    last_heard_s: float | None  # seconds since anything came from the branch
    gaps_repaired: int
    events_repaired: int
    gaps_open: int

    @property
    def verdict(self) -> str:
        """`stale` (link down or never up: what we have may be old), `server down`,
        `behind` (events missing), or `ok`."""
        if not self.link_up:
            return "stale"
        if self.server_online is False:
            return "server down"
        if self.lag or self.gaps_open:
            return "behind"
        return "ok"


def branch_statuses(conn) -> list[BranchStatus]:
    """Every branch the head office has heard of."""
    found = []
    for row in conn.execute(_QUERY).fetchall():
        (branch, epoch, contiguous, max_seq, state_epoch, state_seq, link_up, online,
         last_event_at, last_heard, repaired, events_repaired, gaps_open, now) = row  # fmt: skip
        lag = None
        if state_seq is not None and state_epoch == epoch:
            lag = max(0, state_seq - contiguous)
        heard = (now - last_heard).total_seconds() if last_heard else None
        found.append(BranchStatus(
            branch, epoch, contiguous, max_seq, lag, link_up, online, last_event_at, heard,
            repaired, events_repaired, gaps_open,
        ))  # fmt: skip
    return found


def _flag(value: bool | None, yes: str, no: str) -> str:
    return "?" if value is None else yes if value else no


def format_statuses(statuses: list[BranchStatus]) -> str:
    """A table for the terminal."""
    head = ("branch", "epoch", "last seq", "lag", "link", "server", "last event (UTC)",
            "heard", "gaps repaired", "open", "status")  # fmt: skip
    rows = [head]
    for s in statuses:
        rows.append((
            s.branch, str(s.epoch), str(s.last_seq), "?" if s.lag is None else str(s.lag),
            _flag(s.link_up, "up", "DOWN"), _flag(s.server_online, "online", "offline"),
            s.last_event_at.strftime("%Y-%m-%d %H:%M:%S") if s.last_event_at else "-",
            "-" if s.last_heard_s is None else f"{s.last_heard_s:.0f} s ago",
            f"{s.gaps_repaired} ({s.events_repaired} ev)", str(s.gaps_open), s.verdict,
        ))  # fmt: skip
    if len(rows) == 1:
        return "no branch has been heard of yet"
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)  # fmt: skip
