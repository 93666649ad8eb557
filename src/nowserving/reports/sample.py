"""A simulated branch's event log for trying and measuring reports: the simulator's bank day
(`branch-full`) for a number of days, with what the simulator leaves out added the way the
server would log it: a staff member per counter (one of them slower: counter c2 at 0.6 of
the speed) and a rating after a share of the finishes (tests, bench/reports.py, screenshots).
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from nowserving.adapters.store import EventLog
from nowserving.domain import Event
from nowserving.sim import SCENARIOS
from nowserving.sim.engine import simulate

STAFF_EVENTS = ("ticket_called", "ticket_recalled", "ticket_started", "ticket_finished",
                "ticket_no_show")  # fmt: skip


def staff_of(counter: str) -> str:
    """The staff number who works at a simulated counter: c2 -> 1002."""
    return "1" + counter.removeprefix("c").zfill(3)


def busy(scale: int):
    """branch-full with `scale` times its arrivals and counters (scale 3: ~1,000 a day)."""
    base = SCENARIOS["branch-full"]
    services = tuple(
        replace(s, arrivals_per_hour=tuple(r * scale for r in s.arrivals_per_hour))
        for s in base.services
    )
    counters = tuple(
        replace(
            c, id=f"c{i * len(base.counters) + n + 1}", speed=0.6 if i == 0 and n == 1 else c.speed
        )  # fmt: skip
        for i in range(scale)
        for n, c in enumerate(base.counters)
    )
    return replace(base, services=services, counters=counters)


def write_sample_log(path: str | Path, days: int, scale: int = 1, seed: int = 1,
                     estimates: bool = False, rated: float = 0.3,
                     timezone: str = "UTC") -> int:  # fmt: skip
    """Simulate `days` of `busy(scale)` into a new event log at `path`; return its events.
    The simulator's days open at 09:00 UTC: they are moved to open at 09:00 in `timezone`."""
    events: list[Event] = []
    simulate(replace(busy(scale), days=days), seed=seed, estimates=estimates,
             record=events.extend)  # fmt: skip
    rng = random.Random(seed)
    shift = ZoneInfo(timezone).utcoffset(datetime(2026, 1, 5)).total_seconds()
    out: list[Event] = []
    called: dict[str, float] = {}
    for e in events:
        data = e.data
        if e.type in STAFF_EVENTS and data.get("counter"):
            data = {**data, "staff": staff_of(data["counter"])}
        if "issued_at" in data:
            data = {**data, "issued_at": data["issued_at"] - shift}
        e = replace(e, seq=len(out) + 1, at=e.at - shift, data=data)
        out.append(e)
        if e.type == "ticket_called":
            called[data["ticket"]] = e.at
        if e.type == "ticket_finished" and rng.random() < rated:
            took = e.at - called.pop(data["ticket"], e.at)
            # Customers served quickly are more often satisfied.
            chances = (0.8, 0.15) if took < 600 else (0.55, 0.25)
            draw = rng.random()
            rating = "satisfied" if draw < chances[0] else (
                "neutral" if draw < sum(chances) else "unsatisfied")  # fmt: skip
            out.append(Event(len(out) + 1, "ticket_rated", e.at + 5, None, e.device,
                             {"ticket": data["ticket"], "counter": data["counter"],
                              "rating": rating, "staff": data.get("staff")}))  # fmt: skip
    with EventLog(path, create=True, branch="sim", snapshot_every=10**12) as log:
        for i in range(0, len(out), 10_000):
            log.append(out[i : i + 10_000])
    return len(out)
