"""Reports over a year of a busy branch: how long the visits projection takes to build and
to catch up after a restart, and how long each report takes (docs/performance.md).

    nice -n 10 python bench/reports.py [--days 300] [--scale 3] [--work DIR]

The log is `nowserving.reports.sample` (the simulator's bank day at `--scale` times its
arrivals and counters, with staff and ratings; no wait estimates: they take the simulator
~25 min for a year and change nothing here). It is kept in --work and reused.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from nowserving.reports.kpi import GROUPINGS, LocalTime, Rollup, report
from nowserving.reports.sample import write_sample_log
from nowserving.reports.visits import VisitProjection

TAIL = 5_000  # events the server logged while the web role was down (a busy day: ~3,500)


CPU: list[float] = []  # the CPU seconds of each `timed` call, beside its wall time


def timed(what, repeat: int = 1):
    """(result of the last run, median wall seconds) of `what()` run `repeat` times; its
    median CPU seconds go to CPU (on a shared machine the wall time includes waiting)."""
    took, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = what()
        took.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    CPU.append(statistics.median(cpu))
    return result, statistics.median(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=300)
    parser.add_argument("--scale", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "ns-reports")
    parser.add_argument(
        "--reports-only", action="store_true",
        help="time the reports alone, on the projection a run left in --work",
    )  # fmt: skip
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    log = args.work / f"log-{args.days}d-x{args.scale}.sqlite"
    if not log.exists():
        _, took = timed(lambda: write_sample_log(log, args.days, args.scale))
        print(f"simulated log written in {took:.0f} s")
    events = sqlite3.connect(log).execute("SELECT COUNT(*) FROM events").fetchone()[0]

    store = args.work / "visits.sqlite"
    if args.reports_only and store.exists():
        with VisitProjection(log, store) as projection:
            projection.catch_up()
            span, tickets = projection.span(), len(projection.visits(0, 2e9))
        time_reports(log, store, span, tickets)
        return
    # The whole log, projected from nothing (a first start, or a projection file lost).
    store.unlink(missing_ok=True)
    with VisitProjection(log, store) as projection:
        applied, full_s = timed(projection.catch_up)
        span = projection.span()
        tickets = len(projection.visits(0, 2e9))
    print(f"log: {events:,} events, {tickets:,} tickets over {args.days} days")
    print(f"projection from nothing: {full_s:.1f} s, {CPU[-1]:.1f} s CPU ({applied:,} events)")

    # A restart: the projection stood TAIL events behind the log (a copy of it cut short).
    behind = args.work / "log-behind.sqlite"
    shutil.copy(log, behind)
    with sqlite3.connect(behind) as db:
        db.execute("DELETE FROM events WHERE seq > ?", (events - TAIL,))
    store.unlink()
    with VisitProjection(behind, store) as projection:
        projection.catch_up()

    def restart() -> int:
        with VisitProjection(log, store) as projection:
            return projection.catch_up()

    applied, restart_s = timed(restart)
    print(f"restart, {TAIL:,} events behind: caught up in {restart_s:.2f} s, {CPU[-1]:.2f} s CPU "
          f"({applied:,} read)")  # fmt: skip
    _, idle_s = timed(restart, repeat=5)
    print(f"restart, nothing new: {idle_s * 1000:.0f} ms")

    time_reports(log, store, span, tickets)


def time_reports(log: Path, store: Path, span: tuple[float, float], tickets: int) -> None:
    """Each grouping over a year, a month and a day, as the console makes them."""
    local = LocalTime("UTC")
    last = local(span[1])[0]
    ranges = {"a year": last - timedelta(days=364), "a month": last - timedelta(days=29),
              "a day": last}  # fmt: skip
    with VisitProjection(log, store) as projection:
        rollup = Rollup("UTC")

        # As the console does: catch up (nothing new here), the range's visits, the measures.
        def run(by: str, first) -> object:
            projection.catch_up()
            rollup.forget(projection.changed())
            return rollup.report(projection.visits, by, first, last)

        def fresh(by: str, first) -> object:  # every visit counted again (no days kept)
            start, end = local.bounds(first, last)
            return report(projection.visits(start, end), by, first, last)

        for by in GROUPINGS[:2]:
            _, took = timed(lambda by=by: fresh(by, ranges["a year"]))
            print(f"  a year by {by}, every visit counted afresh: {took * 1000:.0f} ms "
                  f"({CPU[-1] * 1000:.0f} CPU)")  # fmt: skip
        first_day = local(span[0])[0]
        _, made_s = timed(lambda: rollup.make(projection.visits, first_day, last))
        print(f"at a start, every day's tallies made for the {len(GROUPINGS)} groupings: "
              f"{made_s:.1f} s, {CPU[-1]:.1f} s CPU")  # fmt: skip
        print("then each report (days kept) = catch-up + the range's visits + merged days")
        for name, first in ranges.items():
            figures = []
            for by in GROUPINGS:
                result, took = timed(lambda by=by, first=first: run(by, first), repeat=3)
                figures.append(f"{by} {took * 1000:.0f} ms ({CPU[-1] * 1000:.0f} CPU)")
            print(f"  {name} ({result.total['issued']:,} tickets): {', '.join(figures)}")
    rss = int(Path("/proc/self/status").read_text().split("VmRSS:")[1].split()[0]) // 1024
    print(f"this process's RSS at the end: {rss} MB")


if __name__ == "__main__":
    main()
