"""The branch config: one TOML file, validated in full before anything starts.

Every problem is collected with its location (`services[2].prefix`) and, where it helps,
a hint ("did you mean 'cash'?"), and reported together in one ConfigError (see `schema`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nowserving import i18n
from nowserving.config.schema import Problems, Table, hint, read_toml, span
from nowserving.config.webhook import WebhookSettings, parse_webhook
from nowserving.domain import BranchRules, CounterSpec, Priority, Service, StaffMember
from nowserving.domain.model import WEEKDAYS
from nowserving.domain.policy import CREDIT, IN_ORDER, LONGEST_WAIT, PRIORITY_RULES, PROFILES
from nowserving.protocol import Role
from nowserving.protocol.vocabulary import HEAD_OFFICE

DEFAULT_LANGUAGES = ("zh", "en")

EXAMPLES = Path(__file__).parent.parent / "examples"
EXAMPLE = EXAMPLES / "bank-branch.toml"

_TOP_KEYS = (
    "branch", "queue", "priorities", "services", "groups", "counters", "staff", "devices",
    "webhook", "web", "remote",
)  # fmt: skip
_WEB_KEYS = ("step_out_margin_minutes", "head_back_ahead", "head_back_minutes")
_REMOTE_KEYS = ("per_hour", "per_address_per_hour", "check_in_minutes", "hall_code_minutes")
_BRANCH_KEYS = (
    "id", "names", "timezone", "languages", "day_starts_at", "hours", "ticket_url", "staff_pins",
)  # fmt: skip
# Where a ticket's QR code leads: the branch's status page for one ticket. {token} is a
# random word printed on the ticket (never guessable from the number); {branch} the id.
_QUEUE_KEYS = (
    "no_show_after_recalls",
    "transfer_placement",
    "counters_start_open",
    "recall_cooldown_seconds",
    "feedback_window_seconds",
    "wait_warning_minutes",
    "call_profile",
    "overflow_minutes",
    "priority_rule",
    "interleave",
)
_COUNTER_KEYS = (
    "id",
    "names",
    "services",
    "breaks",
    "hours",
    "call_profile",
    "overflow_minutes",
    "default_staff",
)
# What a counter does when more than one of its services has someone waiting, unless the
# counter or [queue] says otherwise (docs/config.md says why this one).
DEFAULT_PROFILE = LONGEST_WAIT
_SERVICE_KEYS = (
    "id",
    "prefix",
    "names",
    "range",
    "padding",
    "daily_cap",
    "last_ticket_at",
    "typical_minutes",
    "short_names",
    "bookings_per_hour",
    "check_in_early_minutes",
    "check_in_late_minutes",
    "appointment_head_start_minutes",
    "target",
    "remote",
)


@dataclass(frozen=True)
class Device:
    """A device allowed to talk to the server, and what it is."""

    id: str
    role: Role
    counter: str | None = None


@dataclass(frozen=True)
class ServiceGroup:
    """Services the kiosk shows behind one button (个人业务 → cash, cards, accounts)."""

    id: str
    names: dict[str, str]
    services: tuple[str, ...]


@dataclass(frozen=True)
class BranchConfig:
    """A validated branch: the queue rules plus what the server needs beyond them."""

    rules: BranchRules
    names: dict[str, str]
    devices: dict[str, Device]
    hours: dict[str, tuple[time, time] | None]
    # The page that follows a ticket (its QR code); None: there is none yet, so no ticket
    # promises one.
    ticket_url: str | None = None
    groups: dict[str, ServiceGroup] = field(default_factory=dict)  # the kiosk's first screen
    # Per service, per language: a shorter name for where the full one cannot fit.
    short_names: dict[str, dict[str, str]] = field(default_factory=dict)
    # The file of the staff's PIN hashes (`branch.staff_pins`), which only the server reads
    # (config/pins.py); None: nobody can sign in.
    staff_pins: Path | None = None
    # Where ticket events also go, signed (config/webhook.py); None: nowhere.
    webhook: WebhookSettings | None = None
    web: WebRules = field(default_factory=lambda: WebRules())
    # Per service, its service level for reports: (share, wait in seconds), "80/10" ->
    # (0.8, 600.0); a service not listed is held to 80/10 (docs/console.md, reports).
    targets: dict[str, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class WebRules:
    """The phone page's rules for a customer who steps out (`[web]`, docs/web.md)."""

    step_out_margin_s: float = 300.0  # back this long before the estimate's lower bound
    head_back_ahead: int = 3  # tell them to head back with this many people ahead ...
    head_back_s: float = 600.0  # ... or when the lower bound of the wait is this short
    # Remote tickets (`[remote] per_address_per_hour`): joins one client address may make.
    remote_per_address: int = 3


def load_config(path: str | Path) -> BranchConfig:
    """Read and validate a branch config file; raise ConfigError listing every problem."""
    return parse_config(read_toml(path), str(path))


def parse_config(data: dict, source: str = "config") -> BranchConfig:
    """Validate an already-parsed config table (see `load_config`)."""
    p = Problems()
    root = Table(data, "", p, _TOP_KEYS)

    branch = root.table("branch", _BRANCH_KEYS)
    branch_id = branch.ident("id", set()) or "branch"
    languages = _languages(branch)
    names = _names(branch, languages)
    tz = branch.get("timezone", str, "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        branch.add("timezone", f'unknown time zone {tz!r} (use an IANA name like "Asia/Shanghai")')
        tz = "UTC"
    day_start = branch.clock("day_starts_at", time(4, 0))
    hours = _hours(branch)
    ticket_url = branch.get("ticket_url", str, None)
    if ticket_url is None:
        pass
    elif not re.match(r"^https?://\S+$", ticket_url) or "{token}" not in ticket_url:
        branch.add(
            "ticket_url",
            'must be an http(s) URL with {token} in it, like "https://q.example/{branch}/t/{token}"',
        )
    elif set(re.findall(r"{(\w*)}", ticket_url)) - {"branch", "token"}:
        branch.add("ticket_url", "may use only {branch} and {token}")

    queue = root.table("queue", _QUEUE_KEYS, required=False)
    recalls = queue.number("no_show_after_recalls", 2, whole=True, at_least=0)
    placement = queue.choice("transfer_placement", ("front", "back"), "front", what="placement")
    start_open = queue.get("counters_start_open", bool, True)
    cooldown = queue.number("recall_cooldown_seconds", 20, at_least=0)
    feedback = queue.number("feedback_window_seconds", 60, at_least=0)
    warning = queue.number("wait_warning_minutes", 20, more_than=0)
    priority_rule = queue.choice("priority_rule", PRIORITY_RULES, CREDIT, what="rule")
    interleave = queue.number("interleave", 3, whole=True, at_least=1)
    profile = read_call_profile(queue, (DEFAULT_PROFILE, None))

    priorities = _priorities(root, languages)
    services = _services(root, languages)
    short_names = _short_names(root, languages)
    targets = _targets(root)
    groups = _groups(root, languages, services)
    counters = _counters(root, languages, services, profile)
    staff = _staff(root, languages, counters)
    counters = _default_staff(root, counters, staff)
    devices = _devices(root, counters)
    pins = branch.get("staff_pins", str, None)
    staff_pins = None if pins is None else Path(source).parent / pins
    webhook = parse_webhook(root, source)

    remote = root.table("remote", _REMOTE_KEYS, required=False)
    remote_rules = _remote_rules(remote)
    p.raise_if_any(source)
    rules = BranchRules(
        branch_id=branch_id,
        services=services,
        counters=counters,
        priorities=priorities,
        languages=languages,
        timezone=tz,
        day_starts_at=day_start,
        no_show_after_recalls=recalls,
        transfer_placement=placement,
        counters_start_open=start_open,
        recall_cooldown_s=float(cooldown),
        feedback_window_s=float(feedback),
        wait_warning_s=float(warning) * 60,
        priority_rule=priority_rule,
        interleave=int(interleave),
        hours=hours,
        staff=staff,
        **remote_rules,
    )
    web_table = root.table("web", _WEB_KEYS, required=False)
    web = WebRules(
        step_out_margin_s=60.0 * web_table.number("step_out_margin_minutes", 5, at_least=0),
        head_back_ahead=web_table.number("head_back_ahead", 3, whole=True, at_least=0),
        head_back_s=60.0 * web_table.number("head_back_minutes", 10, at_least=0),
        remote_per_address=remote.number(
            "per_address_per_hour", 3, whole=True, at_least=1, at_most=100
        ),
    )
    return BranchConfig(
        rules=rules, names=names, devices=devices, hours=hours, ticket_url=ticket_url,
        groups=groups, short_names=short_names, staff_pins=staff_pins, webhook=webhook, web=web,
        targets=targets,
    )  # fmt: skip


def _languages(branch: Table) -> tuple[str, ...]:
    languages = branch.get("languages", list, list(DEFAULT_LANGUAGES))
    if not languages or not all(isinstance(x, str) and x for x in languages):
        branch.add("languages", 'must list at least one language code, e.g. ["zh", "en"]')
        return DEFAULT_LANGUAGES
    shipped = i18n.languages()
    for language in languages:
        if language not in shipped:
            branch.add(
                "languages",
                f"no screen texts for {language!r} (there are: {', '.join(shipped)}): add "
                f"assets/i18n/{language}.toml (docs/architecture.md, 'How to add a language')"
                f"{hint(language, shipped)}",
            )
    return tuple(languages)


def _names(table: Table, languages: tuple[str, ...]) -> dict[str, str]:
    names = table.need("names", dict, {})
    for lang in languages:
        if not isinstance(names.get(lang), str) or not names.get(lang, "").strip():
            table.add(f"names.{lang}", "is required (one name per language)")
    for lang in names:
        if lang not in languages:
            table.add(
                f"names.{lang}",
                f"language {lang!r} is not in branch.languages{hint(lang, languages)}",
            )
    return {k: v for k, v in names.items() if isinstance(v, str)}


def _short_names(root: Table, languages: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Each service's optional `short_names`, per language (read apart from its table)."""
    result: dict[str, dict[str, str]] = {}
    services = root.data.get("services", [])
    for index, data in enumerate(services if isinstance(services, list) else []):
        short = data.get("short_names") if isinstance(data, dict) else None
        if short is None:
            continue
        where = f"services[{index}].short_names"
        if not isinstance(short, dict) or not all(
            isinstance(v, str) and v.strip() for v in short.values()
        ):
            root.problems.add(where, 'must be a table like { zh = "外汇", en = "FX" }')
            continue
        for lang in short:
            if lang not in languages:
                root.problems.add(f"{where}.{lang}", f"language {lang!r} is not offered")
        if isinstance(data.get("id"), str):
            result[data["id"]] = dict(short)
    return result


def _targets(root: Table) -> dict[str, tuple[float, float]]:
    """Each service's optional report `target`, "percent/minutes" (read apart from its table)."""
    result: dict[str, tuple[float, float]] = {}
    services = root.data.get("services", [])
    for index, data in enumerate(services if isinstance(services, list) else []):
        text = data.get("target") if isinstance(data, dict) else None
        if text is None:
            continue
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*", str(text))
        share, minutes = (float(match[1]) / 100, float(match[2])) if match else (0.0, 0.0)
        if not (0 < share <= 1 and 0 < minutes <= 600):
            root.problems.add(
                f"services[{index}].target",
                f'must be "percent/minutes" like "80/10" (80 % called within 10 min), '
                f"1-100 % and 1-600 min, not {text!r}",
            )
        elif isinstance(data.get("id"), str):
            result[data["id"]] = (share, minutes * 60)
    return result


def _groups(root: Table, languages: tuple[str, ...], services: dict) -> dict[str, ServiceGroup]:
    """The kiosk's service groups: each names services that exist, none in two groups."""
    result: dict[str, ServiceGroup] = {}
    seen: set[str] = set(services)  # a group's id is tapped like a service's: never the same
    grouped: dict[str, str] = {}
    for table in root.tables("groups", ("id", "names", "services"), required=False):
        gid = table.ident("id", seen)
        names = _names(table, languages)
        members = table.need("services", list, [])
        for sid in members:
            if sid not in services:
                table.add("services", f"no service {sid!r}{hint(sid, services)}")
            elif sid in grouped:
                table.add("services", f"{sid!r} is already in group {grouped[sid]!r}")
            else:
                grouped[sid] = gid or "?"
        if not members:
            table.add("services", "a group needs at least one service")
        if gid:
            result[gid] = ServiceGroup(gid, names, tuple(s for s in members if s in services))
    return result


def _hours(branch: Table) -> dict[str, tuple[time, time] | None]:
    hours: dict[str, tuple[time, time] | None] = {}
    table = branch.data.get("hours", {})
    if not isinstance(table, dict):
        branch.add("hours", 'must be a table like { mon = "09:00-17:00" }')
        return hours
    for day, text in table.items():
        where = branch.at(f"hours.{day}")
        if day not in WEEKDAYS:
            branch.problems.add(where, f"unknown day{hint(day, WEEKDAYS)} (use mon, tue, ... sun)")
            continue
        if text == "closed":
            hours[day] = None
            continue
        opening = span(text, where, branch.problems, expected='"09:00-17:00" or "closed"')
        if opening:
            if opening[0] >= opening[1]:
                branch.problems.add(where, "opening time must be before closing time")
            hours[day] = opening
    return hours


def _priorities(root: Table, languages: tuple[str, ...]) -> dict[str, Priority]:
    result: dict[str, Priority] = {}
    seen: set[str] = set()
    keys = ("id", "names", "boost_minutes", "kiosk")
    for table in root.tables("priorities", keys, required=False):
        pid = table.ident("id", seen)
        names = _names(table, languages)
        boost = table.number("boost_minutes", 0, at_least=0, required=True)
        kiosk = table.get("kiosk", bool, False)
        if pid:
            result[pid] = Priority(pid, float(boost) * 60, names, kiosk)
    if not result:
        result["normal"] = Priority("normal", 0.0, {})
    elif next(iter(result.values())).boost_s != 0:
        root.add("priorities[0].boost_minutes", "the first class is the default and must be 0")
    return result


def _services(root: Table, languages: tuple[str, ...]) -> dict[str, Service]:
    result: dict[str, Service] = {}
    seen: set[str] = set()
    prefixes: dict[str, str] = {}
    for table in root.tables("services", _SERVICE_KEYS):
        sid = table.ident("id", seen)
        prefix = table.need("prefix", str, "")
        if prefix and not re.fullmatch(r"[A-Z]{1,2}", prefix):
            table.add("prefix", f"must be one or two capital letters, not {prefix!r}")
        elif prefix in prefixes:
            table.add("prefix", f"{prefix!r} is already used by {prefixes[prefix]!r}")
        elif prefix:
            prefixes[prefix] = sid or "?"
        names = _names(table, languages)
        first, last = _range(table)
        padding = table.get("padding", int, len(str(last)))
        if padding < len(str(last)) or padding > 6:
            table.add("padding", f"must be {len(str(last))} to 6 digits for range end {last}")
        cap = table.number("daily_cap", None, whole=True, at_least=1)
        cutoff = table.clock("last_ticket_at")
        typical = table.number("typical_minutes", None, more_than=0, at_most=600)
        booking = _booking_rules(table)
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
                **booking,
            )
    return result


def _remote_rules(table: Table) -> dict:
    """The branch's remote-ticket settings (`[remote]`, docs/appointments.md), as
    `BranchRules` fields."""
    per_hour = table.number("per_hour", 30, whole=True, at_least=1, at_most=10_000)
    minutes = table.number("check_in_minutes", 120, at_least=5, at_most=1440)
    hall = table.number("hall_code_minutes", 5, at_least=1, at_most=60)
    return {
        "remote_per_hour": per_hour,
        "remote_check_in_s": float(minutes) * 60,
        "hall_code_s": float(hall) * 60,
    }


def _booking_rules(table: Table) -> dict:
    """A service's appointment settings (docs/appointments.md), as `Service` fields."""
    per_hour = table.number("bookings_per_hour", None, whole=True, at_least=0, at_most=600)
    early = table.number("check_in_early_minutes", 30, at_least=0, at_most=1440)
    late = table.number("check_in_late_minutes", 10, at_least=0, at_most=1440)
    head = table.number("appointment_head_start_minutes", 5, at_least=0, at_most=240)
    return {
        "bookings_per_hour": per_hour or None,
        "check_in_early_s": float(early) * 60,
        "check_in_late_s": float(late) * 60,
        "appointment_head_start_s": float(head) * 60,
        "remote": table.get("remote", bool, False),
    }


def _range(table: Table) -> tuple[int, int]:
    rng = table.data.get("range", [1, 999])
    if (
        not isinstance(rng, list)
        or len(rng) != 2
        or not all(isinstance(x, int) and not isinstance(x, bool) for x in rng)
        or not 0 <= rng[0] < rng[1]
    ):
        table.add("range", f"must be [first, last] with 0 <= first < last, not {rng!r}")
        return 1, 999
    return rng[0], rng[1]


def read_call_profile(table: Table, default: tuple[str, float | None]) -> tuple[str, float | None]:
    """A call profile and its overflow threshold in seconds, from `call_profile` and
    `overflow_minutes` (either may be left to `default`)."""
    profile = table.choice("call_profile", PROFILES, None, what="call profile")
    minutes = table.number("overflow_minutes", None, at_least=0, at_most=1440)
    if profile is None:
        if "call_profile" in table:  # wrong, and said so: no follow-on complaints
            return default
        if minutes is None:
            return default
        profile = default[0]
    if minutes is not None and profile != IN_ORDER:
        table.add(
            "overflow_minutes",
            f'is only used with call_profile = "{IN_ORDER}" (this one is "{profile}")',
        )
        minutes = None
    return profile, None if minutes is None else float(minutes) * 60


def _counters(
    root: Table,
    languages: tuple[str, ...],
    services: dict[str, Service],
    profile: tuple[str, float | None] = (DEFAULT_PROFILE, None),
) -> dict[str, CounterSpec]:
    result: dict[str, CounterSpec] = {}
    seen: set[str] = set()
    for table in root.tables("counters", _COUNTER_KEYS):
        cid = table.ident("id", seen)
        names = _names(table, languages)
        served = table.served("services", services)
        if len(set(map(str, served))) != len(served):
            table.add("services", "lists a service twice")
        breaks = []
        for j, text in enumerate(table.get("breaks", list, [])):
            where = table.at(f"breaks[{j}]")
            pause = span(text, where, table.problems)
            if pause and pause[0] >= pause[1]:
                table.problems.add(where, "a break must end after it starts")
            elif pause:
                start, end = pause
                breaks.append((start.hour * 60 + start.minute, end.hour * 60 + end.minute))
        own_profile, overflow_s = read_call_profile(table, profile)
        hours = None
        if "hours" in table:
            found = span(
                table.data["hours"], table.at("hours"), table.problems, 'like "10:00-17:00"'
            )
            if found and found[0] >= found[1]:
                table.add("hours", "must close after it opens")
            elif found:
                hours = tuple(t.hour * 60 + t.minute for t in found)
        if cid:
            result[cid] = CounterSpec(
                cid,
                names,
                tuple(s for s in served if isinstance(s, str) and s in services),
                tuple(breaks),
                own_profile,
                overflow_s,
                hours,
            )
    return result


def _staff(
    root: Table, languages: tuple[str, ...], counters: dict[str, CounterSpec]
) -> dict[str, StaffMember]:
    """The staff list: who may sign in at a counter (their PINs are in `staff_pins`)."""
    result: dict[str, StaffMember] = {}
    seen: set[str] = set()
    for table in root.tables("staff", ("id", "names", "counters"), required=False):
        sid = table.ident("id", seen)
        names = _names(table, languages)
        at = table.get("counters", list, [])
        for cid in at:
            if cid not in counters:
                table.add("counters", f"no counter {cid!r}{hint(cid, counters)}")
        if sid:
            result[sid] = StaffMember(sid, names, tuple(c for c in at if c in counters))
    return result


def _default_staff(
    root: Table, counters: dict[str, CounterSpec], staff: dict[str, StaffMember]
) -> dict[str, CounterSpec]:
    """Each counter's `default_staff`, checked against the staff list."""
    tables = root.data.get("counters", [])
    for index, data in enumerate(tables if isinstance(tables, list) else []):
        who = data.get("default_staff") if isinstance(data, dict) else None
        cid = data.get("id") if isinstance(data, dict) else None
        if who is None or cid not in counters:
            continue
        where = f"counters[{index}].default_staff"
        member = staff.get(who) if isinstance(who, str) else None
        if member is None:
            root.problems.add(where, f"no staff {who!r} in [[staff]]{hint(who, staff)}")
        elif member.counters and cid not in member.counters:
            root.problems.add(where, f"{who!r} does not work at {cid!r} (see their counters)")
        else:
            counters[cid] = replace(counters[cid], default_staff=who)
    return counters


def _devices(root: Table, counters: dict[str, CounterSpec]) -> dict[str, Device]:
    result: dict[str, Device] = {}
    seen: set[str] = set()
    for table in root.tables("devices", ("id", "role", "counter")):
        did = table.ident("id", seen)
        if did == "server":
            table.add("id", '"server" is reserved for the branch server')
        if did == HEAD_OFFICE:
            table.add("id", f'"{HEAD_OFFICE}" is reserved for the head office\'s ingest')
        role = table.choice("role", tuple(Role), what="role", required=True)
        counter = table.data.get("counter")
        if role == Role.COUNTER:
            if not isinstance(counter, str) or counter not in counters:
                table.add(
                    "counter",
                    f"a counter device names its counter; {counter!r} "
                    f"is not one{hint(counter, counters)}",
                )
        elif counter is not None:
            table.add("counter", 'only a device with role "counter" has a counter')
        if did and role:
            result[did] = Device(did, Role(role), counter if role == Role.COUNTER else None)
    return result
