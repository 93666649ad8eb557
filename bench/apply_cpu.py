"""Where the branch server's CPU goes with short lines and with a full lobby: the same load
as bench/server_throughput.py (100 commands/s of the branch's mix, then 1,000 more waiting,
600 in one line), with the server in this process and its methods timed in thread CPU
time. A p99 moves with whatever else runs on the machine; CPU time per second of load
much less, so this shows what a full lobby costs the apply loop itself. It also prints the
apply thread's CPU time per batch (p50, p99, max) in each phase: the tail a full lobby adds
to the loop's own work, which a loaded machine moves much less than a latency's p99.

    .venv/bin/python bench/apply_cpu.py [--seconds 15] [--rate 100] [--history 20000]

As in server_throughput.py, the full lobby comes after a day's history (`--history`
commands of the mix, as fast as they are answered): 7,000-odd tickets of the day and the
calibration's 10,000 misses, whose refits and copies are part of what a batch costs.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import server_throughput as load  # noqa: E402
from _common import command_line, describe_machine, load_branch_config  # noqa: E402

from nowserving.adapters.mqtt import Broker  # noqa: E402
from nowserving.adapters.store import EventLog  # noqa: E402
from nowserving.client import BranchClient  # noqa: E402
from nowserving.config import load_config  # noqa: E402
from nowserving.devtools.broker import LocalMosquitto  # noqa: E402
from nowserving.domain.branch import Branch  # noqa: E402
from nowserving.domain.learning import Learner  # noqa: E402
from nowserving.server.app import BranchServer  # noqa: E402
from nowserving.server.estimates import EstimateWorker  # noqa: E402
from nowserving.server.ratelimit import Budget  # noqa: E402

SPENT: collections.Counter = collections.Counter()  # what -> thread CPU seconds
BATCHES: list[float] = []  # the apply thread's CPU seconds per batch
# The calibration's refit on the apply thread (`Learner._calibrate` before it moved to the
# estimating process: there `fit_due` runs only when that process failed).
REFIT = "fit_due" if hasattr(Learner, "fit_due") else "_calibrate"
TIMED = [  # (class, method, what it is); the first is everything the apply loop does per batch
    (BranchServer, "_process", "apply thread: a batch, all of it"),
    (BranchServer, "_commit_and_publish", "  commit, events, replies, summary"),
    (BranchServer, "publish_state", "    the summary (built and encoded)"),
    (BranchServer, "_handle", "  checking and applying commands"),
    (BranchServer, "_publish_due_lines", "  lines (built; and encoded before issue 21)"),
    (BranchServer, "_request_estimates_if_due", "  asking for estimates (the frozen copy)"),
    (BranchServer, "_take_estimates", "  taking estimates"),
    (Branch, "frozen_copy", "    of which the frozen copy"),
    (Learner, REFIT, "  calibration refits"),
    (EstimateWorker, "_ask", "estimates thread: pickling the copy, reading the result"),
]


def timed(method, what: str):
    def wrapper(*args, **kwargs):
        started = time.thread_time()
        try:
            return method(*args, **kwargs)
        finally:
            spent = time.thread_time() - started
            SPENT[what] += spent
            if what == TIMED[0][2]:
                BATCHES.append(spent)

    return wrapper


def phase(
    clients: dict[str, BranchClient], label: str, rate: float, seconds: float
) -> tuple[float, float]:
    """One steady phase, printed; returns the apply thread's CPU per batch, (p50, p99) ms."""
    SPENT.clear()
    BATCHES.clear()
    start = time.perf_counter()
    sent = []
    for i, (client, kind, args) in enumerate(load.workload(clients, int(rate * seconds))):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)  # pacing the load, not waiting for a result
        sent.append(client.send(kind, args, deadline_s=30))
    for future in sent:
        future.result(timeout=60)
    print(f"\n{label}: CPU ms per second of load ({rate:g} commands/s for {seconds:g} s)")
    for _, _, what in TIMED:
        print(f"  {what:58s} {SPENT[what] * 1000 / seconds:7.1f}")
    per_batch = sorted(x * 1000 for x in BATCHES)
    p50, p99 = (per_batch[min(len(per_batch) - 1, len(per_batch) * q // 100)] for q in (50, 99))
    print(
        f"  apply thread CPU per batch ({len(per_batch)} batches): p50 {p50:.2f} ms  "
        f"p99 {p99:.2f} ms  max {per_batch[-1]:.2f} ms"
    )
    return p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--history", type=int, default=20_000)
    args = parser.parse_args()
    print(f"$ {command_line()}")
    print(describe_machine())
    for cls, name, what in TIMED:
        setattr(cls, name, timed(getattr(cls, name), what))
    with tempfile.TemporaryDirectory() as tmp, LocalMosquitto(Path(tmp) / "broker") as mosq:
        tmp = Path(tmp)
        config = load_config(load_branch_config(tmp))
        broker = Broker("127.0.0.1", mosq.port)
        log = EventLog(tmp / "events.sqlite")
        with BranchServer(config, log, broker, budget=Budget(1e6, 1_000_000)) as server:
            if not server.wait_serving(20):
                raise SystemExit("the server did not start serving")
            devices = ["kiosk-1", *load.COUNTERS]
            clients = {d: BranchClient(broker, "pudong", d, watch_state=False) for d in devices}
            for client in clients.values():
                client.start()
            short = phase(clients, "short lines", args.rate, args.seconds)
            if args.history:
                load.throughput(clients, args.history, 500)
            others = ("cash", "accounts", "wealth", "business")
            services = ["loans"] * 600 + [others[i % 4] for i in range(400)]
            kiosk = clients["kiosk-1"]
            for future in [kiosk.send("issue_ticket", {"service": s}) for s in services]:
                future.result(timeout=120)
            full = phase(clients, "1,000 more waiting (600 in one line)", args.rate, args.seconds)
            print(
                f"\nfull lobby / short lines, apply thread CPU per batch: p99 "
                f"{full[1] / short[1]:.2f}x ({full[1]:.2f} / {short[1]:.2f} ms), p50 "
                f"{full[0] / short[0]:.2f}x"
            )
            for client in clients.values():
                client.close()


if __name__ == "__main__":
    main()
