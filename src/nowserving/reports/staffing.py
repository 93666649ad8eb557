"""Staffing advice per service and hour: counters needed by Erlang C and Erlang A, checked
by running the learned day in the branch's own simulator, beside what the branch had and
the service level it got (docs/staffing.md)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from nowserving.domain.staffing import QueueFigures, counters_needed
from nowserving.i18n import text
from nowserving.reports.history import History
from nowserving.sim.engine import simulate
from nowserving.sim.world import Scenario, SimCounter, SimService


@dataclass(frozen=True)
class Target:
    """A service-level target: `share` (0..1) of customers called within `wait_s`."""

    share: float
    wait_s: float

    @classmethod
    def parse(cls, spec: str) -> Target:
        """ "80/10": 80 % within 10 minutes; ValueError with what is wrong otherwise."""
        percent, sep, minutes = spec.partition("/")
        try:
            share, wait = float(percent) / 100, float(minutes) * 60
        except ValueError:
            share = wait = math.nan
        if not sep or not 0 < share < 1 or not wait > 0:
            raise ValueError(f"target {spec!r}: write PERCENT/MINUTES, like 80/10")
        return cls(share, wait)


@dataclass
class Row:
    """One hour of one service: what was learned, what it had, what it needs."""

    service: str
    hour: int
    arrivals_per_hour: float
    mean_service_s: float
    patience_s: float
    had: float
    level_got: float
    erlang_c: QueueFigures | None
    erlang_a: QueueFigures | None
    simulated: tuple[float, float] | None = None  # service level, 95 % half-width

    @property
    def proposed(self) -> int | None:
        """The counters to staff: Erlang A's where customers give up, else Erlang C's."""
        figures = self.erlang_a if self.erlang_a is not None else self.erlang_c
        return None if figures is None else figures.counters


def advise(history: History, target: Target) -> list[Row]:
    """The rows of the advice, per service and hour with arrivals (not yet simulated)."""
    rows = []
    for service, learned in sorted(history.services.items()):
        patience = learned.patience_s()
        for hour in sorted(h for h, x in learned.hours.items() if x.arrivals):
            got = learned.hours[hour].figures(history.days)
            rate = got["arrivals_per_hour"] / 3600
            mean = learned.mean_service_s(hour)
            if math.isnan(mean):
                continue
            rows.append(
                Row(
                    service,
                    hour,
                    got["arrivals_per_hour"],
                    mean,
                    patience,
                    got["had"],
                    got["level"],
                    counters_needed(rate, mean, target.share, target.wait_s),
                    None
                    if math.isinf(patience)
                    else counters_needed(rate, mean, target.share, target.wait_s, patience),
                )
            )
    return rows


def day_scenario(rows: list[Row], counters: dict[int, int], cv: float = 1.0) -> Scenario:
    """One service's learned day as a simulator scenario, with `counters` (hour -> count)
    open each hour. Service times are exponential, or lognormal with the learned `cv`
    when it is far from 1."""
    first, last = rows[0].hour, rows[-1].hour
    by_hour = {r.hour: r for r in rows}
    rates = tuple(
        by_hour[h].arrivals_per_hour if h in by_hour else 0.0 for h in range(first, last + 1)
    )
    mean = sum(r.mean_service_s * r.arrivals_per_hour for r in rows) / max(
        1e-9, sum(r.arrivals_per_hour for r in rows)
    )
    patience = rows[0].patience_s
    lognormal = abs(cv - 1) > 0.2
    service = SimService(
        rows[0].service,
        mean,
        "lognormal" if lognormal else "exp",
        cv,
        rates,
        patience_s=None if math.isinf(patience) else patience,
    )
    length = last - first + 1
    sim_counters = []
    for k in range(1, max(counters.values(), default=0) + 1):
        open_hours = [h - first for h in range(first, last + 1) if counters.get(h, 0) >= k]
        if not open_hours:
            continue
        start, end = open_hours[0], open_hours[-1] + 1
        gaps = [(h, h + 1) for h in range(start, end) if h not in open_hours]
        # Open till the day's end: serve whoever still waits after the last ticket.
        hours = (float(start), float(end) if end < length else float(length + 24))
        sim_counters.append(SimCounter(f"c{k}", (service.id,), tuple(gaps), hours=hours))
    return Scenario(
        f"staffing-{service.id}",
        "the learned day",
        (service,),
        tuple(sim_counters),
        customers=10**9,
        hours=min(float(length), 23.9),  # the simulator's day stays inside one date
        days=1,
        warmup_s=0.0,
        extra={"opens": float(first)},
    )


def simulated_levels(
    scenario: Scenario, target: Target, days: int = 200, seed: int = 1
) -> dict[int, tuple[float, float]]:
    """Hour (from opening) -> (mean service level over `days` simulated days, 95 %
    half-width): the share of arrivals who reached a counter within the target wait."""
    runs = Scenario(**{**scenario.__dict__, "days": days})
    per_day: dict[int, dict[int, list[int]]] = {}
    for c in simulate(runs, seed=seed, estimates=False):
        hour = int(c.since_open // 3600)
        tally = per_day.setdefault(hour, {}).setdefault(c.day, [0, 0])
        tally[1] += 1
        if c.wait is not None and not c.gone and c.wait <= target.wait_s:
            tally[0] += 1
    levels = {}
    for hour, days_seen in per_day.items():
        shares = [ok / n for ok, n in days_seen.values()]
        half = math.nan
        if len(shares) > 1:
            half = 1.96 * statistics.stdev(shares) / math.sqrt(len(shares))
        levels[hour] = (statistics.mean(shares), half)
    return levels


def check_by_simulation(
    history: History, rows: list[Row], target: Target, days: int = 200, seed: int = 1
) -> None:
    """Fill each row's `simulated` by running its service's learned day with the proposed
    counters for `days` days."""
    for service in {r.service for r in rows}:
        own = [r for r in rows if r.service == service and r.proposed is not None]
        if not own:
            continue
        counters = {r.hour: r.proposed for r in own}
        scenario = day_scenario(own, counters, history.services[service].service_cv())
        levels = simulated_levels(scenario, target, days, seed)
        for r in own:
            r.simulated = levels.get(r.hour - own[0].hour)


def _cell(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return format(value, fmt)


@dataclass(frozen=True)
class ServiceNames:
    """A branch's services' and groups' names and each service's group, as its config says
    them: from the config itself (`of`), or as the head office keeps them in `branch_dim`
    (`to_json` / `from_json`) for a branch whose config the web role was not given."""

    services: dict[str, dict[str, str]]  # service id -> {language: name}
    groups: dict[str, dict[str, str]]  # group id -> {language: name}
    group_of: dict[str, str]  # service id -> the group it is learned as

    @classmethod
    def of(cls, config) -> ServiceNames:
        """The branch config's (its `[[services]]` and `[[groups]]`)."""
        return cls(
            {s.id: dict(s.names) for s in config.rules.services.values()},
            {g: dict(group.names) for g, group in config.groups.items()},
            {s: g for g, group in config.groups.items() for s in group.services},
        )

    @classmethod
    def from_json(cls, data: dict | None) -> ServiceNames:
        """What `to_json` gave ({} or None: no services known)."""
        services = (data or {}).get("services") or {}
        return cls(
            {s: {k: v for k, v in names.items() if k != "group"} for s, names in services.items()},
            dict((data or {}).get("groups") or {}),
            {s: names["group"] for s, names in services.items() if names.get("group")},
        )

    def to_json(self) -> dict:
        """{"services": {id: {"zh", "en", "group"?}}, "groups": {id: {"zh", "en"}}} (zh and
        en only, an id where a name is missing): `branch_dim.services`."""

        def two(names: dict[str, str], default: str) -> dict[str, str]:
            return {lang: names.get(lang, default) for lang in ("zh", "en")}

        services = {}
        for sid, names in self.services.items():
            services[sid] = two(names, sid)
            if sid in self.group_of:
                services[sid]["group"] = self.group_of[sid]
        return {"services": services, "groups": {g: two(n, g) for g, n in self.groups.items()}}

    def labels(self, language: str) -> dict[str, str]:
        """Each service's and group's id -> its name in `language`."""
        names = {s: n.get(language, s) for s, n in self.services.items()}
        names.update({g: n.get(language, g) for g, n in self.groups.items()})
        return names

    def members(self, group: str) -> list[str]:
        """The ids of the services learned as `group`, in the order of the config's
        `[[services]]` (the same from the config and from `branch_dim`)."""
        return [s for s in self.services if self.group_of.get(s) == group]


def table(rows: list[Row], target: Target, days: int, language: str = "en",
          names: dict[str, str] | None = None) -> str:  # fmt: skip
    """The advice as a text table, headed in `language`; its services (or groups) by their
    `names` where given (`ServiceNames.labels`), else by id."""

    def h(key: str) -> str:
        return text(language, f"staffing.{key}")

    names = names or {}
    lines = [text(language, "staffing.title", share=round(target.share * 100),
                  minutes=round(target.wait_s / 60), days=days)]  # fmt: skip
    heads = ("service", "hour", "arrivals", "service_time", "had", "got", "erlang_c",
             "erlang_a", "simulated")  # fmt: skip
    first = max([10] + [_width(names.get(r.service, r.service)) for r in rows])
    widths = (first, 5, 8, 9, 6, 7, 8, 8, 14)
    lines.append(" ".join(_pad(h(k), w) for k, w in zip(heads, widths, strict=True)))
    for r in rows:
        sim = (
            "–" if r.simulated is None else f"{r.simulated[0]:.0%} ± {_cell(r.simulated[1], '.0%')}"
        )
        cells = (
            names.get(r.service, r.service),
            f"{r.hour:02d}",
            _cell(r.arrivals_per_hour, ".1f"),
            _cell(r.mean_service_s / 60, ".1f"),
            _cell(r.had, ".1f"),
            _cell(r.level_got, ".0%"),
            _cell(None if r.erlang_c is None else r.erlang_c.counters, "d"),
            _cell(None if r.erlang_a is None else r.erlang_a.counters, "d"),
            sim,
        )
        lines.append(" ".join(_pad(str(c), w) for c, w in zip(cells, widths, strict=True)))
    return "\n".join(lines)


def _width(cell: str) -> int:
    """The columns `cell` takes in a terminal: a Chinese character takes two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in cell)


def _pad(cell: str, width: int) -> str:
    """Left-justify by display width."""
    return cell + " " * max(1, width - _width(cell) + 1)
