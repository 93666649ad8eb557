"""The branch config: one TOML file, validated in full before anything starts.

Every problem is collected with its location (`services[2].prefix`) and, where it helps,
a hint ("did you mean 'cash'?"), and reported together in one ConfigError.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nowserving.domain import BranchRules, CounterSpec, Priority, Service
from nowserving.errors import ConfigError

ROLES = ("kiosk", "counter", "display", "staff")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
HOURS_RE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

EXAMPLE = Path(__file__).parent / "examples" / "bank-branch.toml"


@dataclass(frozen=True)
class Device:
    """A device allowed to talk to the server, and what it is."""

    id: str
    role: str
    counter: str | None = None


@dataclass(frozen=True)
class BranchConfig:
    """A validated branch: the queue rules plus what the server needs beyond them."""

    rules: BranchRules
    names: dict[str, str]
    devices: dict[str, Device]
    hours: dict[str, tuple[time, time] | None]


class _Problems:
    """Collects problems; `need` reads a key and records what is wrong with it."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")

    def unknown_keys(self, table: dict, where: str, allowed: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                self.add(_join(where, key), f"unknown key{_hint(key, allowed)}")

    def need(
        self,
        table: dict,
        key: str,
        where: str,
        kind: type | tuple,
        default=None,
        required: bool = True,
    ):
        if key not in table:
            if required:
                self.add(_join(where, key), "is required")
            return default
        value = table[key]
        if isinstance(value, bool) and kind is not bool and bool not in _as_tuple(kind):
            ok = False
        else:
            ok = isinstance(value, kind)
        if not ok:
            self.add(_join(where, key), f"must be {_kind_name(kind)}, not {value!r}")
            return default
        return value


def _as_tuple(kind) -> tuple:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind) -> str:
    names = {
        str: "a string",
        int: "a whole number",
        float: "a number",
        bool: "true or false",
        list: "a list",
        dict: "a table",
    }
    return " or ".join(names.get(k, k.__name__) for k in _as_tuple(kind))


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _hint(word: str, choices) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _clock(text: object, where: str, problems: _Problems) -> time | None:
    if not isinstance(text, str) or not re.fullmatch(r"\d{2}:\d{2}", text):
        problems.add(where, f'must be a time like "16:30", not {text!r}')
        return None
    hour, minute = int(text[:2]), int(text[3:])
    if hour > 23 or minute > 59:
        problems.add(where, f"{text!r} is not a time of day")
        return None
    return time(hour, minute)


def _names(
    table: dict, where: str, languages: tuple[str, ...], problems: _Problems, key: str = "names"
) -> dict[str, str]:
    names = problems.need(table, key, where, dict, default={})
    for lang in languages:
        if not isinstance(names.get(lang), str) or not names.get(lang, "").strip():
            problems.add(_join(where, f"{key}.{lang}"), "is required (one name per language)")
    for lang in names:
        if lang not in languages:
            problems.add(
                _join(where, f"{key}.{lang}"),
                f"language {lang!r} is not in branch.languages{_hint(lang, languages)}",
            )
    return {k: v for k, v in names.items() if isinstance(v, str)}


def _ident(value: object, where: str, problems: _Problems, seen: set[str]) -> str | None:
    if not isinstance(value, str) or not ID_RE.match(value):
        problems.add(where, f'must be a short lower-case id like "cash", not {value!r}')
        return None
    if value in seen:
        problems.add(where, f"{value!r} is used twice")
    seen.add(value)
    return value


def load_config(path: str | Path) -> BranchConfig:
    """Read and validate a branch config file; raise ConfigError listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError([f"cannot read: {err.strerror}"], str(path)) from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([f"not valid TOML: {err}"], str(path)) from err
    return parse_config(data, str(path))


def parse_config(data: dict, source: str = "config") -> BranchConfig:
    """Validate an already-parsed config table (see `load_config`)."""
    p = _Problems()
    p.unknown_keys(data, "", ("branch", "queue", "priorities", "services", "counters", "devices"))

    branch = p.need(data, "branch", "", dict, default={})
    p.unknown_keys(
        branch, "branch", ("id", "names", "timezone", "languages", "day_starts_at", "hours")
    )
    branch_id = _ident(p.need(branch, "id", "branch", str), "branch.id", p, set()) or "branch"
    languages = p.need(branch, "languages", "branch", list, default=["zh", "en"])
    if not languages or not all(isinstance(x, str) and x for x in languages):
        p.add("branch.languages", 'must list at least one language code, e.g. ["zh", "en"]')
        languages = ["zh", "en"]
    languages = tuple(languages)
    names = _names(branch, "branch", languages, p)
    tz = p.need(branch, "timezone", "branch", str, default="UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        p.add(
            "branch.timezone", f'unknown time zone {tz!r} (use an IANA name like "Asia/Shanghai")'
        )
        tz = "UTC"
    day_start = _clock(branch.get("day_starts_at", "04:00"), "branch.day_starts_at", p)
    hours = _hours(branch.get("hours", {}), p)

    queue = p.need(data, "queue", "", dict, default={}, required=False)
    p.unknown_keys(
        queue, "queue", ("no_show_after_recalls", "transfer_placement", "counters_start_open")
    )
    recalls = p.need(queue, "no_show_after_recalls", "queue", int, default=2, required=False)
    if recalls < 0:
        p.add("queue.no_show_after_recalls", "must be 0 or more")
    placement = p.need(queue, "transfer_placement", "queue", str, default="front", required=False)
    if placement not in ("front", "back"):
        p.add(
            "queue.transfer_placement",
            f'must be "front" or "back"{_hint(placement, ("front", "back"))}',
        )
    start_open = p.need(queue, "counters_start_open", "queue", bool, default=True, required=False)

    priorities = _priorities(data.get("priorities"), languages, p)
    services = _services(data.get("services"), languages, p)
    counters = _counters(data.get("counters"), languages, services, p)
    devices = _devices(data.get("devices"), counters, p)

    if p.items:
        raise ConfigError(p.items, source)
    rules = BranchRules(
        branch_id=branch_id,
        services=services,
        counters=counters,
        priorities=priorities,
        languages=languages,
        timezone=tz,
        day_starts_at=day_start or time(4, 0),
        no_show_after_recalls=recalls,
        transfer_placement=placement,
        counters_start_open=start_open,
    )
    return BranchConfig(rules=rules, names=names, devices=devices, hours=hours)


def _hours(table: object, p: _Problems) -> dict[str, tuple[time, time] | None]:
    hours: dict[str, tuple[time, time] | None] = {}
    if not isinstance(table, dict):
        p.add("branch.hours", 'must be a table like { mon = "09:00-17:00" }')
        return hours
    for day, text in table.items():
        where = f"branch.hours.{day}"
        if day not in WEEKDAYS:
            p.add(where, f"unknown day{_hint(day, WEEKDAYS)} (use mon, tue, ... sun)")
            continue
        if text == "closed":
            hours[day] = None
            continue
        m = HOURS_RE.match(text) if isinstance(text, str) else None
        if not m:
            p.add(where, f'must be "09:00-17:00" or "closed", not {text!r}')
            continue
        opens = _clock(text[:5], where, p)
        closes = _clock(text[6:], where, p)
        if opens and closes:
            if opens >= closes:
                p.add(where, "opening time must be before closing time")
            hours[day] = (opens, closes)
    return hours


def _array(value: object, where: str, p: _Problems, required: bool = True) -> list[dict]:
    if value is None:
        if required:
            p.add(where, f"is required: add at least one [[{where}]] table")
        return []
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        p.add(where, f"must be an array of tables ([[{where}]])")
        return []
    return value


def _priorities(value, languages, p: _Problems) -> dict[str, Priority]:
    result: dict[str, Priority] = {}
    seen: set[str] = set()
    for i, table in enumerate(_array(value, "priorities", p, required=False)):
        where = f"priorities[{i}]"
        p.unknown_keys(table, where, ("id", "names", "boost_minutes"))
        pid = _ident(p.need(table, "id", where, str), f"{where}.id", p, seen)
        names = _names(table, where, languages, p)
        boost = p.need(table, "boost_minutes", where, (int, float), default=0)
        if boost < 0:
            p.add(f"{where}.boost_minutes", "must be 0 or more")
        if pid:
            result[pid] = Priority(pid, float(boost) * 60, names)
    if not result:
        result["normal"] = Priority("normal", 0.0, {})
    elif next(iter(result.values())).boost_s != 0:
        p.add("priorities[0].boost_minutes", "the first class is the default and must be 0")
    return result


def _services(value, languages, p: _Problems) -> dict[str, Service]:
    result: dict[str, Service] = {}
    seen: set[str] = set()
    prefixes: dict[str, str] = {}
    for i, table in enumerate(_array(value, "services", p)):
        where = f"services[{i}]"
        p.unknown_keys(
            table,
            where,
            (
                "id",
                "prefix",
                "names",
                "range",
                "padding",
                "daily_cap",
                "last_ticket_at",
                "typical_minutes",
            ),
        )
        sid = _ident(p.need(table, "id", where, str), f"{where}.id", p, seen)
        prefix = p.need(table, "prefix", where, str, default="")
        if prefix and not re.fullmatch(r"[A-Z]{1,2}", prefix):
            p.add(f"{where}.prefix", f"must be one or two capital letters, not {prefix!r}")
        elif prefix in prefixes:
            p.add(f"{where}.prefix", f"{prefix!r} is already used by {prefixes[prefix]!r}")
        elif prefix:
            prefixes[prefix] = sid or "?"
        names = _names(table, where, languages, p)
        first, last = 1, 999
        rng = table.get("range", [1, 999])
        if (
            not isinstance(rng, list)
            or len(rng) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in rng)
            or not 0 <= rng[0] < rng[1]
        ):
            p.add(f"{where}.range", f"must be [first, last] with 0 <= first < last, not {rng!r}")
        else:
            first, last = rng
        padding = p.need(table, "padding", where, int, default=len(str(last)), required=False)
        if padding < len(str(last)) or padding > 6:
            p.add(f"{where}.padding", f"must be {len(str(last))} to 6 digits for range end {last}")
        cap = p.need(table, "daily_cap", where, int, default=None, required=False)
        if cap is not None and cap < 1:
            p.add(f"{where}.daily_cap", "must be at least 1")
        cutoff = None
        if "last_ticket_at" in table:
            cutoff = _clock(table["last_ticket_at"], f"{where}.last_ticket_at", p)
        typical = p.need(
            table, "typical_minutes", where, (int, float), default=None, required=False
        )
        if typical is not None and not 0 < typical <= 600:
            p.add(f"{where}.typical_minutes", "must be more than 0 and at most 600")
            typical = None
        if sid:
            result[sid] = Service(
                sid,
                prefix,
                names,
                first,
                last,
                padding,
                cap,
                cutoff,
                None if typical is None else float(typical) * 60,
            )
    return result


def _counters(value, languages, services, p: _Problems) -> dict[str, CounterSpec]:
    result: dict[str, CounterSpec] = {}
    seen: set[str] = set()
    for i, table in enumerate(_array(value, "counters", p)):
        where = f"counters[{i}]"
        p.unknown_keys(table, where, ("id", "names", "services", "breaks"))
        cid = _ident(p.need(table, "id", where, str), f"{where}.id", p, seen)
        names = _names(table, where, languages, p)
        served = p.need(table, "services", where, list, default=[])
        if not served and "services" in table:
            p.add(f"{where}.services", "must list at least one service")
        for j, sid in enumerate(served):
            if sid not in services:
                p.add(f"{where}.services[{j}]", f"unknown service {sid!r}{_hint(sid, services)}")
        if len(set(served)) != len(served):
            p.add(f"{where}.services", "lists a service twice")
        breaks = []
        for j, span in enumerate(p.need(table, "breaks", where, list, default=[], required=False)):
            m = HOURS_RE.match(span) if isinstance(span, str) else None
            start = _clock(span[:5], f"{where}.breaks[{j}]", p) if m else None
            end = _clock(span[6:], f"{where}.breaks[{j}]", p) if m else None
            if not m:
                p.add(f"{where}.breaks[{j}]", f'must be like "12:00-12:45", not {span!r}')
            elif start and end:
                if start >= end:
                    p.add(f"{where}.breaks[{j}]", "a break must end after it starts")
                breaks.append((start.hour * 60 + start.minute, end.hour * 60 + end.minute))
        if cid:
            result[cid] = CounterSpec(
                cid, names, tuple(s for s in served if s in services), tuple(breaks)
            )
    return result


def _devices(value, counters, p: _Problems) -> dict[str, Device]:
    result: dict[str, Device] = {}
    seen: set[str] = set()
    for i, table in enumerate(_array(value, "devices", p)):
        where = f"devices[{i}]"
        p.unknown_keys(table, where, ("id", "role", "counter"))
        did = _ident(p.need(table, "id", where, str), f"{where}.id", p, seen)
        if did == "server":
            p.add(f"{where}.id", '"server" is reserved for the branch server')
        role = p.need(table, "role", where, str, default="")
        if role and role not in ROLES:
            p.add(
                f"{where}.role",
                f"unknown role {role!r}{_hint(role, ROLES)} (one of {', '.join(ROLES)})",
            )
        counter = table.get("counter")
        if role == "counter":
            if counter not in counters:
                p.add(
                    f"{where}.counter",
                    f"a counter device names its counter; {counter!r} "
                    f"is not one{_hint(counter, counters)}",
                )
        elif counter is not None:
            p.add(f"{where}.counter", 'only a device with role "counter" has a counter')
        if did:
            result[did] = Device(did, role, counter if role == "counter" else None)
    return result
