"""The live audit: from a server's event log, how often real customers were called inside
the interval they were given when their ticket was issued, per service and hour."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from nowserving.adapters.store import EventLog


def audit_rows(db: str | Path, timezone: str = "UTC") -> list[dict]:
    """One row per (service, hour of issue): tickets called, inside the interval, errors."""
    tz = ZoneInfo(timezone)
    pending: dict[str, tuple[str, int, dict, float]] = {}
    groups: dict[tuple[str, int], list[tuple[bool, float]]] = defaultdict(list)
    with EventLog(db) as log:
        for event in log.events():
            data = event.data
            if event.type == "ticket_issued" and data.get("estimate"):
                hour = datetime.fromtimestamp(event.at, tz).hour
                pending[data["ticket"]] = (data["service"], hour, data["estimate"], event.at)
            elif event.type == "ticket_called" and data["ticket"] in pending:
                service, hour, estimate, issued = pending.pop(data["ticket"])
                wait = event.at - issued
                inside = estimate["low"] <= wait <= estimate["high"]
                groups[(service, hour)].append((inside, estimate["mean"] - wait))
            elif event.type in ("ticket_cancelled", "ticket_transferred"):
                pending.pop(data["ticket"], None)  # not called for what was estimated
    rows = []
    for (service, hour), results in sorted(groups.items()):
        n = len(results)
        rows.append(
            {
                "service": service,
                "hour": hour,
                "called": n,
                "inside": sum(1 for i, _ in results if i),
                "mean_error_s": sum(e for _, e in results) / n,
                "mean_abs_error_s": sum(abs(e) for _, e in results) / n,
            }
        )
    return rows


def audit_text(db: str | Path, timezone: str = "UTC") -> str:
    """How often customers were called inside their printed interval, as a text table."""
    rows = audit_rows(db, timezone)
    if not rows:
        return "no customer with a recorded estimate has been called yet"
    lines = [
        f"{'service':<12} {'hour':>5} {'called':>7} {'inside 80% interval':>20} "
        f"{'mean error':>11} {'mean |error|':>13}"
    ]
    for r in rows:
        lines.append(
            f"{r['service']:<12} {r['hour']:>4}h {r['called']:>7} "
            f"{r['inside'] / r['called']:>20.0%} {r['mean_error_s'] / 60:>+10.1f}m "
            f"{r['mean_abs_error_s'] / 60:>12.1f}m"
        )
    called = sum(r["called"] for r in rows)
    inside = sum(r["inside"] for r in rows)
    lines.append(f"{'all':<12} {'':>5} {called:>7} {inside / called:>20.0%}")
    return "\n".join(lines)
