"""What a wait estimate costs as lines grow (issue 22): the newcomer estimate made while a
ticket is issued (on the server's apply loop) and the estimates for everyone (the server's
estimating process), at 10 to 5,000 waiting.

    .venv/bin/python bench/estimate_cost.py [--waiting 10,100,500,1000,2000,5000]
        [--server-waiting 10,100,500,1000,2000] [--issues 20] [--no-server]

The branch is the example bank branch (six counters sharing five services, one `in_order`;
bench/_common.py widens its number ranges and drops its cut-offs). Domain level: a
`Branch` that has served 600 customers (lognormal times, staff reaction and turnaround),
then N more waiting, 60% in one line (loans) and the rest spread, arriving over the last
hour (at least; at most 600 an hour); timed in this process's CPU time (the machine's
other work does not count):

- *fresh*: `Estimator.for_new_ticket` for each service with nothing to reuse (the cost of
  an issue when no recent estimate or anchor applies), median and worst over the services;
- *issue*: `Branch.handle(issue_ticket)` with the server's `NewcomerEstimates`, 40 tickets
  one every 3 s of branch time, services in turn: the mean per ticket (and p50, max);
  without anchors (each fresh unless reused) and anchored as the server does (the
  estimating process's estimates handed over every 6 s; their making not counted);
- *all*: `Estimator.for_all` (what the estimating process does per state change).

Through the server: the real `nowserving server` process and a private Mosquitto (as
bench/server_throughput.py), N tickets issued by a kiosk client, then `--issues` more one
at a time, 1.2 s apart (beyond `REUSE_S`, so an issue reuses only the estimating process's
anchors): the time from publishing the command to its reply (p50 and max), which
includes the estimate made on the apply loop.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).parent))

from _common import (  # noqa: E402
    command_line,
    cpu_seconds,
    describe_machine,
    load_branch_config,
)

from nowserving.config import load_config  # noqa: E402
from nowserving.domain import Branch, Command, NewcomerEstimates  # noqa: E402
from nowserving.domain.estimate import Estimator  # noqa: E402

LONG = "loans"  # the one long line
OTHERS = ("cash", "accounts", "wealth", "business")
_ids = itertools.count()


def _services(n: int) -> list[str]:
    """N services, 60% the long line, the rest spread, interleaved as they arrive."""
    long_share = int(n * 0.6)
    spread = [OTHERS[i % len(OTHERS)] for i in range(n - long_share)]
    out, li = [], 0
    for i in range(n):
        if li < long_share and (i * 0.6 >= li or not spread):
            out.append(LONG)
            li += 1
        else:
            out.append(spread.pop())
    return out


class DomainBranch:
    """A Branch driven in this process, with the server's newcomer estimates."""

    def __init__(self, config, seed: int = 1) -> None:
        self.rules = config.rules
        self.branch = Branch(self.rules)
        self.newcomers = NewcomerEstimates()
        self.rng = random.Random(seed)
        self.at = datetime(2026, 11, 23, 4, 30, tzinfo=ZoneInfo(self.rules.timezone)).timestamp()

    def run(self, kind: str, device: str = "kiosk-1", estimate: bool = True, **args) -> dict:
        command = Command(f"b{next(_ids)}", kind, device, self.at, args)
        _, outcome, _ = self.branch.handle(command, self.newcomers.estimate if estimate else None)
        return outcome

    def teach(self, customers: int = 600) -> None:
        """Serve customers at every counter: lognormal times (mean ~5.5 min), staff
        reacting after 2-20 s, so the learner has what a day gives it."""
        counters = list(self.rules.counters)
        for round_ in range(customers // len(counters)):
            for counter in counters:
                services = self.rules.counters[counter].services
                self.run("issue_ticket", service=services[round_ % min(2, len(services))])
            for counter in counters:
                self.at += self.rng.uniform(2, 20) / len(counters)
                self.run("call_next", counter, counter=counter)
                self.run("start", counter, counter=counter)
            for counter in counters:  # each busy for about one lognormal time
                self.at += self.rng.lognormvariate(5.4, 0.6) / len(counters)
                self.run("finish", counter, counter=counter)
        for counter in counters:  # every counter busy
            self.run("issue_ticket", service=self.rules.counters[counter].services[0])
            self.run("call_next", counter, counter=counter)

    def fill(self, n: int) -> None:
        """N more waiting, arriving over the last hour (at most 600 an hour)."""
        span = max(3600.0, n * 6.0)
        for service in _services(n):
            self.at += span / max(1, n)
            self.run("issue_ticket", service=service, estimate=False)

    def waiting(self) -> int:
        return sum(len(line) for line in self.branch.lines.values())


def domain(levels: list[int]) -> None:
    print("\ndomain level (one process, CPU ms):")
    print(
        f"  {'waiting':>8} | {'fresh median':>12} {'worst':>7} | {'issue, no anchors':>25} | "
        f"{'issue, anchored':>25} | {'all':>7}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(load_branch_config(Path(tmp)))
    for n in levels:
        world = DomainBranch(config)
        world.teach()
        world.fill(n)
        waiting = world.waiting()
        fresh = []
        for service in world.rules.services:
            started = time.process_time()
            Estimator(world.branch, world.at).for_new_ticket(service, "normal")
            fresh.append((time.process_time() - started) * 1000)
        alone = _issues(world, anchored=False)
        anchored = _issues(world, anchored=True)
        started = time.process_time()
        Estimator(world.branch, world.at).for_all()
        whole = (time.process_time() - started) * 1000
        print(
            f"  {waiting:>8} | {statistics.median(fresh):>12.2f} {max(fresh):>7.1f} | "
            f"{_spread(alone):>25} | {_spread(anchored):>25} | {whole:>7.1f}"
        )


def _issues(world: DomainBranch, anchored: bool, count: int = 40) -> list[float]:
    """CPU ms per ticket issued, one every 3 s of branch time, services in turn. Anchored:
    as in the server, the estimating process's newcomer estimates (`for_all`, not timed)
    are handed to `NewcomerEstimates.anchor` every 6 s."""
    world.newcomers = NewcomerEstimates()
    took = []
    for i, service in enumerate(_services(count)):
        world.at += 3.0
        if anchored and i % 2 == 0:
            _, arrivals = Estimator(world.branch, world.at).for_all()
            world.newcomers.anchor(world.branch, world.at, arrivals, world.branch.seq)
        started = time.process_time()
        world.run("issue_ticket", service=service)
        took.append((time.process_time() - started) * 1000)
    return took


def _spread(took: list[float]) -> str:
    return (
        f"{statistics.mean(took):6.2f} (p50 {statistics.median(took):5.2f}, max {max(took):5.1f})"
    )


def through_server(levels: list[int], issues: int) -> None:
    import server_throughput as load

    from nowserving.adapters.mqtt import Broker
    from nowserving.devtools.broker import LocalMosquitto

    print(
        f"\nthrough the server ({issues} tickets one at a time, 1.2 s apart, after the "
        "lobby filled; publish -> reply, ms; the server's CPU ms per issue, all its threads, "
        "estimating process not counted):"
    )
    for n in levels:  # a broker and a server of its own for each (one server per branch)
        with tempfile.TemporaryDirectory() as tmp, LocalMosquitto(Path(tmp) / "broker") as mosq:
            tmp = Path(tmp)
            config = load_branch_config(tmp)
            broker = Broker("127.0.0.1", mosq.port)
            server = load.start_server(config, mosq.port, tmp / "events.sqlite", tmp / "log")
            try:
                load.wait_online(broker, server.pid)
                took, cpu = _issue_one_at_a_time(broker, n, issues, server.pid)
            finally:
                server.terminate()
                server.wait(10)
        print(
            f"  {n:>6} waiting: p50 {statistics.median(took):7.2f}  max {max(took):7.2f}  "
            f"server CPU per issue {cpu:6.2f}"
        )


def _issue_one_at_a_time(broker, n: int, issues: int, pid: int) -> tuple[list[float], float]:
    """Round trips of `issues` tickets (ms), and the server process's CPU ms per ticket
    over them (all its threads; its estimating process not counted)."""
    from nowserving.client import BranchClient

    with BranchClient(broker, "pudong", "kiosk-1", watch_state=False) as kiosk:
        kiosk.start()
        sent = [kiosk.send("issue_ticket", {"service": s}, deadline_s=900) for s in _services(n)]
        if not all(future.result(timeout=960).ok for future in sent):
            raise SystemExit(f"filling the lobby with {n}: some tickets were refused")
        time.sleep(5)  # the estimating process's first rounds (not timed)
        cpu = cpu_seconds(pid)
        took = []
        for service in _services(issues):
            started = time.perf_counter()
            reply = kiosk.send("issue_ticket", {"service": service}, deadline_s=120).result(130)
            took.append((time.perf_counter() - started) * 1000)
            if not reply.ok:
                raise SystemExit(f"an issue at {n} waiting was refused: {reply}")
            time.sleep(1.2)  # pacing the issues, not waiting for a result
    return took, (cpu_seconds(pid) - cpu) * 1000 / issues


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waiting", default="10,100,500,1000,2000,5000")
    parser.add_argument("--server-waiting", default="10,100,500,1000,2000")
    parser.add_argument("--issues", type=int, default=20)
    parser.add_argument("--no-server", action="store_true")
    args = parser.parse_args()
    print(f"$ {command_line()}")
    print(describe_machine())
    domain([int(x) for x in args.waiting.split(",")])
    if not args.no_server:
        through_server([int(x) for x in args.server_waiting.split(",")], args.issues)


if __name__ == "__main__":
    main()
