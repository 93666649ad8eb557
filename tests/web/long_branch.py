"""A branch as real ones are, shared by the tests that try a screen with it: up to 16
services and 12 counters with long zh and en names (the example branch rewritten; the
service names from tests/long_names.py), and `OVERFLOW`, the in-browser check that nothing
runs out of the page or out of its box."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from nowserving.config import EXAMPLE, BranchConfig, load_config
from tests.long_names import CASH, MORE

# 15:50 on a Monday at the branch (Asia/Shanghai; open 09:00-17:00): `burst` runs from
# here to 16:40, twenty minutes before closing, past two services' last tickets.
AFTERNOON = datetime(2026, 11, 23, 15, 50, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()

# Every element of the page stays inside the viewport, and no box's text runs out of it. A
# box made to scroll sideways (`overflow-x: auto`, a wide table's) may hold what is wider
# than the page: what is inside it is held to the box instead.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth, bad = [];
  if (document.documentElement.scrollWidth > width)
    bad.push("page " + document.documentElement.scrollWidth + " > " + width);
  const all = [...document.querySelectorAll("body *")];
  const scrolls = el => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
  const boxes = all.filter(scrolls);
  for (const el of all) {
    if (el.closest("[hidden]") || !el.getClientRects().length) continue;
    const r = el.getBoundingClientRect(), name = el.tagName + "#" + el.id + "." + el.className;
    const held = boxes.some(b => b !== el && b.contains(el));  // checked against its box
    if (!held && (r.left < -0.5 || r.right > width + 0.5))
      bad.push(name + " at " + r.left + "-" + r.right);
    if (!scrolls(el) && el.clientWidth && el.scrollWidth > el.clientWidth + 1)
      bad.push(name + " text " + el.scrollWidth + " > " + el.clientWidth);
  }
  return bad;
}"""


def long_branch(folder: Path, services: int = 14, bookable: bool = False) -> BranchConfig:
    """The example branch with long names: `services` services (5 to 16; the example's 5
    and the rest from MORE, which take 2 bookings an hour when `bookable`) and 12
    counters, c7-c12 serving cash and one more each."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace('names = { zh = "现金存取", en = "Cash deposit & withdrawal" }',
                        f'names = {{ zh = "{CASH[0]}", en = "{CASH[1]}" }}')  # fmt: skip
    counter_1 = 'names = { zh = "1号个人综合业务窗口", en = "Counter 1 (personal services)" }'
    text = text.replace('names = { zh = "1号窗口", en = "Counter 1" }', counter_1)
    extra = []
    for i, (zh, en) in enumerate(MORE[: services - 5]):
        extra += ["", "[[services]]", f'id = "x{i}"', f'prefix = "{"FGHJKLMNPQR"[i]}"',
                  f'names = {{ zh = "{zh}", en = "{en}" }}', "range = [1, 999]"]  # fmt: skip
        if bookable:
            extra.append("bookings_per_hour = 2")
    for n in range(7, 13):
        extra += ["", "[[counters]]", f'id = "c{n}"',
                  f'names = {{ zh = "{n}号对公与个人综合业务窗口", '
                  f'en = "Counter {n} (business & personal)" }}',
                  f'services = ["cash", "x{n - 7}"]']  # fmt: skip
    head, devices = text.split("[[devices]]", 1)
    pins = EXAMPLE.with_name("staff-pins.toml")
    (folder / pins.name).write_bytes(pins.read_bytes())
    path = folder / "long-branch.toml"
    path.write_text(head + "\n".join(extra) + "\n\n[[devices]]" + devices, encoding="utf-8")
    config = load_config(path)
    assert len(config.rules.services) == services and len(config.rules.counters) == 12
    return config


def burst(connect, config, clock) -> tuple:
    """Three tickets for every service from two kiosks, then calls and finishes at six
    counters over the next 50 minutes (`clock` from AFTERNOON to 16:40): many rows on
    every page, long waits left. The two kiosks' clients, to issue more."""
    kiosks = connect("kiosk-1"), connect("kiosk-2")
    counters = [connect(f"counter-{n}") for n in range(1, 7)]
    for n, service in enumerate(list(config.rules.services) * 3):
        reply = kiosks[n % 2].request("issue_ticket", {"service": service})
        assert reply.ok, (service, reply)
    for _ in range(2):
        clock.advance(4 * 60)
        for counter in counters:
            if counter.request("call_next").ok:
                counter.request("start")
        clock.advance(6 * 60)
        for counter in counters:
            counter.request("finish")
    clock.advance(30 * 60)  # 16:40: twenty minutes to closing
    for counter in counters[:4]:
        counter.request("call_next")
    return kiosks
