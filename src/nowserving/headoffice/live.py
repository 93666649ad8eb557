"""A branch's live summary at the head office, from its retained state message (the
`state` topic the bridge forwards): what is waiting, which counters are open and how many
were served today, as the branch's own lobby shows it.

The ingest keeps the newest per branch in `branches.live` with the batch that brought it,
so the head office's live page moves within a second or two of a call, without waiting
for today's visits to be rebuilt (docs/headoffice.md, "Head-office views")."""

from __future__ import annotations

LIVE_VERSION = 1


def _count(value: object) -> int:
    return value if type(value) is int and value >= 0 else 0


def live_summary(state: dict) -> dict | None:
    """The compact summary of a state message (None: not a state this can read)."""
    seq, services, counters = state.get("seq"), state.get("services"), state.get("counters")
    if type(seq) is not int or not isinstance(services, list) or not isinstance(counters, list):
        return None
    services = [s for s in services if isinstance(s, dict)]
    counters = [c for c in counters if isinstance(c, dict)]
    at = state.get("at")
    return {
        "v": LIVE_VERSION,
        "epoch": _count(state.get("epoch")),
        "seq": seq,
        "at": float(at) if isinstance(at, int | float) and not isinstance(at, bool) else None,
        "day": state.get("business_day") if isinstance(state.get("business_day"), str) else None,
        "waiting": sum(_count(s.get("waiting")) for s in services),
        "issued": sum(_count(s.get("issued")) for s in services),
        "counters_open": sum(1 for c in counters if c.get("state") == "open"),
        "counters_known": len(counters),
        "served": sum(_count(c.get("served")) for c in counters),
    }


def newer(summary: dict, than: dict | None) -> bool:
    """Whether `summary` is of a later state than `than` (ordered by epoch, then seq)."""
    return than is None or (summary["epoch"], summary["seq"]) >= (than["epoch"], than["seq"])
