"""The web role's shared limits store (web/limits.py) under a flood of distinct addresses.

    .venv/bin/python bench/web_limits.py [--addresses 100000] [--processes 2]

`--processes` OS processes open one `web-limits.sqlite` (as two web roles on one host
would) and each floods it with its own distinct client addresses, each taking a join and
failing a sign-in (two immediate transactions). Prints each check's time (p50, p99, max),
the rows left in each table against the bound, and the file's size (with its WAL).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import command_line, describe_machine, pct  # noqa: E402

from nowserving.web.limits import FILE_NAME, ROWS, LimitStore  # noqa: E402
from nowserving.web.sessions import Lockout  # noqa: E402


def flood(path: str, worker: int, addresses: int) -> list[float]:
    """One process's flood: the time of each check, in ms."""
    times = []
    with LimitStore(Path(path)) as store:
        lockout = Lockout(time.time, store)
        for n in range(addresses):
            address = f"{worker}.{n >> 16}.{(n >> 8) & 255}.{n & 255}"
            start = time.perf_counter()
            store.take(f"join:pudong:{address}", 3 / 3600, 3, time.time())
            lockout.failed(f"guess{n}", address)
            times.append((time.perf_counter() - start) * 1000 / 2)
    return times


def main() -> None:
    """Run the flood and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=100_000, help="per process")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    print(command_line())
    print(describe_machine())
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / FILE_NAME)
        LimitStore(Path(path)).close()
        start = time.perf_counter()
        with multiprocessing.Pool(args.processes) as pool:
            runs = pool.starmap(flood, [(path, w, args.addresses) for w in range(args.processes)])
        took = time.perf_counter() - start
        times = sorted(t for run in runs for t in run)
        with LimitStore(Path(path)) as store:
            rows = {table: store.count(table) for table in ("lockout", "buckets")}
        size = sum(p.stat().st_size for p in Path(folder).glob(FILE_NAME + "*"))
    print(f"{args.processes} processes x {args.addresses} distinct addresses in {took:.1f} s")
    print(f"one check: p50 {pct(times, 50):.2f} ms, p99 {pct(times, 99):.2f} ms, "
          f"max {times[-1]:.1f} ms")  # fmt: skip
    print(f"rows left: lockout {rows['lockout']}, buckets {rows['buckets']} (bound {ROWS} each)")
    print(f"file with its WAL: {size / 1024 / 1024:.2f} MB")


if __name__ == "__main__":
    main()
