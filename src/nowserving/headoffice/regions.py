"""The head office's branches file: regions, and per branch its region, names, zone and
wait targets (docs/headoffice.md, "Regions and branches"), loaded into `region_dim` and
`branch_dim`.

```toml
[regions.east]
name = { zh = "华东区", en = "East" }

[branches.pudong]
region = "east"
config = "branches/pudong.toml"      # names, zone, targets, services from its own config
[branches.xuhui]
region = "east"
name = { zh = "徐汇支行", en = "Xuhui" }
timezone = "Asia/Shanghai"
targets = { accounts = "80/10" }     # percent / minutes, as a branch config's services say
```
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nowserving.errors import ConfigError

_TARGET = re.compile(r"\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*")


@dataclass(frozen=True)
class BranchEntry:
    """One branch as the head office files it."""

    branch: str
    region: str | None
    names: dict[str, str]
    timezone: str = "UTC"
    targets: dict[str, tuple[float, float]] = field(default_factory=dict)  # (share, seconds)
    # Its services' and groups' names and each service's group (`ServiceNames.to_json`),
    # from its config (`config =`); {} without one.
    services: dict = field(default_factory=dict)
    start_open: bool | None = None  # its config's `counters_start_open` (None: no config)


@dataclass(frozen=True)
class Regions:
    """Every region (id -> names) and branch of the file."""

    regions: dict[str, dict[str, str]]
    branches: dict[str, BranchEntry]


def _names(value, where: str, problems: list[str], default: str) -> dict[str, str]:
    if value is None:
        return {"zh": default, "en": default}
    if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in ("zh", "en")):
        problems.append(f'{where}.name: give {{ zh = "…", en = "…" }}')
        return {"zh": default, "en": default}
    return {"zh": value["zh"], "en": value["en"]}


def _targets(value, where: str, problems: list[str]) -> dict[str, tuple[float, float]]:
    found = {}
    for service, text in (value or {}).items():
        match = _TARGET.fullmatch(str(text))
        share, minutes = (float(match[1]) / 100, float(match[2])) if match else (0.0, 0.0)
        if not (0 < share <= 1 and 0 < minutes <= 600):
            problems.append(f'{where}.targets.{service}: "percent/minutes" like "80/10", '
                            f"not {text!r}")  # fmt: skip
        else:
            found[service] = (share, minutes * 60)
    return found


def _from_config(bid: str, path: Path, entry: dict) -> dict:
    """Branch `bid`'s names, zone, targets and services read from its own config file (a
    ValueError if the file is another branch's)."""
    from nowserving.config import load_config
    from nowserving.reports.staffing import ServiceNames

    config = load_config(path)
    if config.rules.branch_id != bid:
        raise ValueError(f"{path} is branch {config.rules.branch_id}'s config, not {bid}'s")
    names = {lang: config.names.get(lang, config.rules.branch_id) for lang in ("zh", "en")}
    return {"name": names, "timezone": config.rules.timezone, "_targets": config.targets,
            "_services": ServiceNames.of(config).to_json(),
            "_start_open": config.rules.counters_start_open,
            **{k: v for k, v in entry.items() if k != "config"}}  # fmt: skip


def _branch(bid: str, entry, regions: dict, base: Path, problems: list[str]) -> BranchEntry:
    where = f"branches.{bid}"
    if not isinstance(entry, dict):
        problems.append(f"{where}: a table")
        return BranchEntry(bid, None, {"zh": bid, "en": bid})
    if "config" in entry:
        try:
            entry = _from_config(bid, base / str(entry["config"]), entry)
        except (OSError, ConfigError, ValueError) as err:
            problems.append(f"{where}.config: {err}")
    unknown = set(entry) - {
        "region",
        "name",
        "timezone",
        "targets",
        "_targets",
        "_services",
        "_start_open",
    }
    if unknown:
        problems.append(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    region = entry.get("region")
    if region is not None and region not in regions:
        problems.append(f"{where}.region: no [regions.{region}] (have: {', '.join(regions)})")
        region = None
    zone = str(entry.get("timezone", "UTC"))
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"{where}.timezone: not a zone name like Asia/Shanghai: {zone!r}")
        zone = "UTC"
    targets = dict(entry.get("_targets") or {})
    targets.update(_targets(entry.get("targets"), where, problems))
    names = _names(entry.get("name"), where, problems, bid)
    return BranchEntry(
        bid, region, names, zone, targets, entry.get("_services") or {}, entry.get("_start_open")
    )


def read_regions(path: Path) -> Regions:
    """The branches file at `path`; ConfigError listing every problem at once."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError([f"{path}: {err}"], "headoffice branches") from err
    problems: list[str] = []
    regions = {}
    for rid, entry in (data.get("regions") or {}).items():
        regions[rid] = _names((entry or {}).get("name"), f"regions.{rid}", problems, rid)
    branches = {bid: _branch(bid, entry, regions, path.parent, problems)
                for bid, entry in (data.get("branches") or {}).items()}  # fmt: skip
    for key in set(data) - {"regions", "branches"}:
        problems.append(f"{key}: unknown (the file has [regions.*] and [branches.*])")
    if problems:
        raise ConfigError(problems, str(path))
    return Regions(regions, branches)


def load_regions(conn, regions: Regions) -> list[str]:
    """Make `region_dim` and `branch_dim` what `regions` says (one transaction); returns the
    branches whose zone or targets changed: their days need a rebuild."""
    with conn.transaction():
        before = {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT branch, timezone, targets FROM branch_dim")}  # fmt: skip
        conn.execute("DELETE FROM branch_dim")
        conn.execute("DELETE FROM region_dim")
        for rid, names in regions.regions.items():
            conn.execute("INSERT INTO region_dim VALUES (%s, %s, %s)",
                         (rid, names["zh"], names["en"]))  # fmt: skip
        changed = []
        for b in regions.branches.values():
            targets = {s: [share, wait] for s, (share, wait) in sorted(b.targets.items())}
            conn.execute(
                "INSERT INTO branch_dim (branch, region, name_zh, name_en, timezone, targets, "
                "services, counters_start_open) VALUES (%s, %s, %s, %s, %s, %s::jsonb, "
                "%s::jsonb, %s)",
                (b.branch, b.region, b.names["zh"], b.names["en"], b.timezone,
                 json.dumps(targets), json.dumps(b.services, ensure_ascii=False),
                 b.start_open),
            )  # fmt: skip
            old = before.get(b.branch)
            if old is not None and (old[0], old[1]) != (b.timezone, targets):
                changed.append(b.branch)
    return changed
