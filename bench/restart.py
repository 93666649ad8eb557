"""How long the branch server takes to rebuild its state from an event log of a million
events: from the newest snapshot (what a restart does) and by replaying every event.

    .venv/bin/python bench/restart.py [--events 1000000] [--snapshot-every 20000]

The log is made by driving the real domain through simulated branch days (tickets issued,
called, started, finished, some no-shows), appending events in batches and snapshotting as
the server does. Each counter serves one service here, so issue-time estimates come from
the closed form rather than simulation: the events are of the same kinds and sizes, and
making the log takes about a minute instead of a quarter of an hour. Only the rebuild is
timed.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import command_line, describe_machine, load_branch_config  # noqa: E402

from nowserving.adapters.store import EventLog  # noqa: E402
from nowserving.config import load_config  # noqa: E402
from nowserving.domain import Branch, Command, NewcomerEstimates  # noqa: E402

DAY = 86_400


def make_log(rules, path: Path, n_events: int, snapshot_every: int) -> None:
    rng = random.Random(1)
    branch = Branch(rules)
    newcomers = NewcomerEstimates()  # tickets carry estimates, as the server's do
    counters = list(rules.counters)
    services = list(rules.services)
    at = 1_795_395_600.0  # 2026-11-23 09:00 in Shanghai
    day_start = at
    batch: list = []
    with EventLog(path, snapshot_every=snapshot_every) as log:
        i = 0
        while branch.seq < n_events:
            i += 1
            at += rng.expovariate(1 / 4)
            if at - day_start > 9 * 3600:  # close for the night; next morning at 09:00
                day_start += DAY
                at = day_start
            if rng.random() < 0.34:
                command = Command(
                    f"k{i}", "issue_ticket", "kiosk-1", at, {"service": rng.choice(services)}
                )
            else:
                counter = rng.choice(counters)
                current = branch.counters[counter].ticket
                status = branch.tickets[current].status if current else None
                kind = {"called": "start", "serving": "call_next"}.get(status, "call_next")
                if status == "called" and rng.random() < 0.05:
                    kind = "recall" if branch.tickets[current].recalls < 2 else "no_show"
                command = Command(f"c{i}", kind, counter, at, {"counter": counter})
            events, _, _ = branch.handle(command, newcomers.estimate)
            batch.extend(events)
            if len(batch) >= 1000:
                log.append(batch)
                batch = []
                log.maybe_snapshot(branch)
        log.append(batch)
        log.maybe_snapshot(branch)


def one_service_per_counter(path: Path) -> Path:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r'services = \["([a-z]+)"[^\]]*\]', r'services = ["\1"]', text)
    text = re.sub(r"(?m)^breaks = .*\n", "", text)
    path.write_text(text, encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--snapshot-every", type=int, default=20_000)
    args = parser.parse_args()
    print(f"$ {command_line()}")
    print(describe_machine())
    with tempfile.TemporaryDirectory() as tmp:
        rules = load_config(one_service_per_counter(load_branch_config(Path(tmp)))).rules
        path = Path(tmp) / "events.sqlite"
        t = time.perf_counter()
        make_log(rules, path, args.events, args.snapshot_every)
        made = time.perf_counter() - t
        size = sum(p.stat().st_size for p in Path(tmp).glob("events.sqlite*"))
        with EventLog(path) as log:
            last = log.last_seq()
            days = log._db.execute(
                "SELECT count(*) FROM events WHERE type = 'day_started'"
            ).fetchone()[0]
        print(
            f"\nlog: {last:,} events over {days} business days, {size / 2**20:.0f} MiB "
            f"(made in {made:.0f} s)"
        )
        for label, use in (("from the newest snapshot", True), ("full replay", False)):
            times = []
            for _ in range(3):
                t = time.perf_counter()
                with EventLog(path) as log:
                    branch = log.load(rules, use_snapshots=use)
                times.append(time.perf_counter() - t)
            assert branch.seq == last
            print(
                f"  restart {label:<25} best of 3: {min(times):.3f} s "
                f"(all: {', '.join(f'{x:.3f}' for x in times)})"
            )


if __name__ == "__main__":
    main()
