"""Branches as real ones are: up to 16 services with long Chinese and English names, a
group, a closed service, a priority class offered at the kiosk (the names from
tests/long_names.py)."""

from __future__ import annotations

from pathlib import Path

from nowserving.config import BranchConfig, load_config
from tests.long_names import SERVICES, SHORT


def branch(
    count: int, folder: Path, group: bool = True, closes: str | None = None, bookable: bool = False
) -> BranchConfig:
    """A branch of `count` services (the first `count` of SERVICES), 4 counters sharing them,
    services 2-4 in a group 个人账户 / Personal accounts (when `group` and count >= 5), the
    last one stopping at 10:00 (closed in the afternoon); open all day, or from 08:00 until
    `closes` ("HH:MM") every day; the first service taking appointments when `bookable`."""
    lines = [
        "[branch]",
        'id = "big"',
        'names = { zh = "上海分行营业部", en = "Shanghai Branch Business Department" }',
        'timezone = "Asia/Shanghai"',
    ]
    if closes is not None:
        day = f'"08:00-{closes}"'
        lines.append("hours = { " + ", ".join(f"{d} = {day}" for d in
                     ("mon", "tue", "wed", "thu", "fri", "sat", "sun")) + " }")  # fmt: skip
    lines += [
        "",
        "[[priorities]]",
        'id = "normal"',
        'names = { zh = "普通", en = "Normal" }',
        "boost_minutes = 0",
        "",
        "[[priorities]]",
        'id = "priority"',
        'names = { zh = "优先（老人、孕妇、残障人士）", '
        'en = "Priority (elderly, pregnant, disabled)" }',
        "boost_minutes = 15",
        "kiosk = true",
    ]
    prefixes = "ABCDEFGHJKLMNPQR"
    for index in range(count):
        zh, en = SERVICES[index]
        lines += [
            "",
            "[[services]]",
            f'id = "s{index + 1}"',
            f'prefix = "{prefixes[index]}"',
            f'names = {{ zh = "{zh}", en = "{en}" }}',
            "range = [1, 999]",
        ]
        if index in SHORT:
            short_zh, short_en = SHORT[index]
            lines.append(f'short_names = {{ zh = "{short_zh}", en = "{short_en}" }}')
        if index == count - 1 and count > 1:
            lines.append('last_ticket_at = "10:00"')
        if index == 0 and bookable:
            lines.append("bookings_per_hour = 4")
    if group and count >= 5:
        lines += [
            "",
            "[[groups]]",
            'id = "accounts"',
            'names = { zh = "个人账户", en = "Personal accounts" }',
            'services = ["s2", "s3", "s4"]',
        ]
    for counter in range(4):
        serves = [f"s{i + 1}" for i in range(count) if i % 4 == counter] or ["s1"]
        lines += [
            "",
            "[[counters]]",
            f'id = "c{counter + 1}"',
            f'names = {{ zh = "{counter + 1}号窗口", en = "Counter {counter + 1}" }}',
            f"services = {serves!r}".replace("'", '"'),
        ]
    lines += ["", "[[devices]]", 'id = "kiosk-1"', 'role = "kiosk"']
    path = folder / f"branch-{count}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_config(path)
