"""How many durable commands per second the branch server sustains through a real
Mosquitto, and the latency from publishing a command to receiving the state summary that
includes it, at a steady rate: with short lines, then with a full lobby (by default 1,000
more waiting: 600 in one line, 400 spread over the other services). It also reports what
each consumer receives per change: a display or kiosk (the summary and the events), a
staff panel (its service's line).

    .venv/bin/python bench/server_throughput.py [--commands 20000] [--rate 100] [--seconds 30]
        [--long-line 600] [--spread 400]

The server runs as its own process (`python -m nowserving server`) with its SQLite event log
in WAL mode and synchronous=FULL, and no per-device budget; the load comes from this process
over loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import (  # noqa: E402
    command_line,
    cpu_seconds,
    describe_machine,
    load_branch_config,
    pct,
)

from nowserving.adapters.mqtt import Broker, MqttLink  # noqa: E402
from nowserving.client import BranchClient  # noqa: E402
from nowserving.devtools.broker import LocalMosquitto  # noqa: E402
from nowserving.protocol import Topics  # noqa: E402

COUNTERS = [f"counter-{i}" for i in range(1, 7)]
RECEIVED: dict[str, float] = {}  # command id -> when its reply arrived (perf_counter)
# The first service of counters c1..c6 in the example branch.
PRIMARY = ("cash", "cash", "accounts", "business", "loans", "wealth")


def start_server(config: Path, port: int, db: Path, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nowserving",
                "server",
                "--config",
                str(config),
                "--broker",
                f"127.0.0.1:{port}",
                "--db",
                str(db),
                "--new",
                # One kiosk sends a third of the load: lift the per-device budget, which is
                # what bench/flood.py measures.
                "--device-rate",
                "1000000",
                "--device-burst",
                "1000000",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return proc


def wait_online(broker: Broker, pid: int) -> None:
    online = threading.Event()

    def seen(topic, payload, mid, qos):
        status = json.loads(payload)
        if status.get("online") and status.get("pid") == pid:
            online.set()

    with MqttLink(broker, "bench-waiter", on_message=seen) as link:
        link.subscribe(Topics("pudong").status("server"))
        link.start()
        if not online.wait(20):
            raise SystemExit("server did not come online")


def workload(clients: dict[str, BranchClient], n: int) -> list[tuple]:
    """A branch's mix: one ticket issued for every two counter actions (call_next, start;
    the next call_next finishes the customer being served). Tickets go to the services
    the counters serve first, in turn, so arrivals match service and lines stay short."""
    plan = []
    for i in range(n):
        if i % 3 == 0:
            service = PRIMARY[i // 3 % len(PRIMARY)]
            plan.append((clients["kiosk-1"], "issue_ticket", {"service": service}))
        else:
            step = i - i // 3 - 1  # 0, 1, 2, ... over counter actions only
            counter = COUNTERS[step // 2 % len(COUNTERS)]
            plan.append((clients[counter], ("call_next", "start")[step % 2], {}))
    return plan


def throughput(clients: dict[str, BranchClient], n: int, window: int) -> tuple[float, int]:
    """Send n commands as fast as the window of unanswered ones allows; returns (s, refused)."""
    slots = threading.Semaphore(window)
    sent: queue.Queue = queue.Queue()
    refused = 0

    def collect() -> None:
        nonlocal refused
        for _ in range(n):
            refused += not sent.get().result(timeout=60).ok
            slots.release()

    collector = threading.Thread(target=collect)
    start = time.perf_counter()
    collector.start()
    for client, kind, args in workload(clients, n):
        slots.acquire()
        sent.put(client.send(kind, args, deadline_s=60))
    collector.join()
    return time.perf_counter() - start, refused


def steady_latency(
    clients: dict[str, BranchClient], watcher_states: list, rate: float, seconds: float
) -> tuple[list[float], list[float], int]:
    """The same mix at `rate`/s: latency to the reply and to the snapshot that includes it."""
    sent: list[tuple[float, object]] = []
    interval = 1 / rate
    start = time.perf_counter()
    for i, (client, kind, args) in enumerate(workload(clients, int(rate * seconds))):
        delay = start + i * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)  # pacing the load, not waiting for a result
        sent.append((time.perf_counter(), client.send(kind, args, deadline_s=30)))
    to_reply, replies = [], []
    for t0, future in sent:
        reply = future.result(timeout=40)
        to_reply.append(RECEIVED[reply.id] - t0)
        replies.append((t0, reply))
    # Refusals carry no seq (their event is in the next snapshot): time the accepted ones.
    accepted = [(t0, r.result["seq"]) for t0, r in replies if r.ok]
    last = max(seq for _, seq in accepted)
    deadline = time.monotonic() + 30
    while (not watcher_states or watcher_states[-1][1] < last) and time.monotonic() < deadline:
        time.sleep(0.01)  # the watcher's snapshot may trail the last reply by a moment
    to_state = [
        next(t for t, s in watcher_states if s >= seq and t >= t0) - t0 for t0, seq in accepted
    ]
    refused = len(replies) - len(accepted)
    return to_reply, to_state, refused


def main() -> None:  # noqa: C901 (one bench, its phases in order as it prints them)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=20_000)
    parser.add_argument(
        "--window",
        type=int,
        default=500,
        help="commands in flight at most during the throughput run",
    )
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument(
        "--long-line",
        type=int,
        default=600,
        help="then add this many waiting tickets to one line (loans) ...",
    )
    parser.add_argument(
        "--spread", type=int, default=400, help="... and this many over the other services"
    )
    args = parser.parse_args()
    print(f"$ {command_line()}")
    print(describe_machine())
    with tempfile.TemporaryDirectory() as tmp, LocalMosquitto(Path(tmp) / "broker") as mosq:
        tmp = Path(tmp)
        config = load_branch_config(tmp)
        broker = Broker("127.0.0.1", mosq.port)
        server = start_server(config, mosq.port, tmp / "events.sqlite", tmp / "server.log")
        try:
            wait_online(broker, server.pid)
            states: list[tuple[float, int]] = []
            clients: dict[str, BranchClient] = {}
            for device in ["kiosk-1", *COUNTERS]:
                clients[device] = BranchClient(broker, "pudong", device, watch_state=False)
                clients[device].start()
            # Stamp replies with their arrival time on paho's thread, for latency.
            for client in clients.values():
                client.on_reply = lambda reply: RECEIVED.__setitem__(reply.id, time.perf_counter())
            sizes: list[int] = []

            topics = Topics("pudong")
            event_sizes: list[int] = []
            line_sizes: dict[str, list[int]] = {}

            def state_seen(topic, payload, mid, qos):
                if topic == topics.events:
                    event_sizes.append(len(payload))
                    return
                if topic != topics.state:
                    line_sizes.setdefault(topic.rsplit("/", 1)[1], []).append(len(payload))
                    return
                # The encoder writes "v" then "seq" first: read seq without parsing it all.
                seq = int(payload[:40].split(b'"seq":', 1)[1].split(b",", 1)[0])
                states.append((time.perf_counter(), seq))
                sizes.append(len(payload))

            watcher = MqttLink(broker, "bench-state", on_message=state_seen)
            watcher.subscribe(topics.state)
            watcher.subscribe(topics.events)
            watcher.subscribe(f"{topics.base}/line/+")
            watcher.start()

            def latency(label: str) -> tuple[float, float]:
                """One steady phase, printed; returns (reply p99, summary p99) in ms."""
                sizes.clear()
                event_sizes.clear()
                line_sizes.clear()
                cpu = cpu_seconds(server.pid), cpu_seconds(mosq._proc.pid)
                to_reply, to_state, refused = steady_latency(
                    clients, states, args.rate, args.seconds
                )
                # CPU per phase: less at the mercy of other processes on the machine than a p99.
                used = cpu_seconds(server.pid) - cpu[0], cpu_seconds(mosq._proc.pid) - cpu[1]
                ms = [x * 1000 for x in to_state]
                rms = [x * 1000 for x in to_reply]
                print(
                    f"\nsteady {args.rate:g} commands/s for {args.seconds:g} s, {label} "
                    f"({len(rms)} commands; {refused} refused, snapshot latency over the "
                    f"{len(ms)} accepted):"
                )
                print(
                    f"  publish -> reply:          p50 {pct(rms, 50):.2f} ms  p99 "
                    f"{pct(rms, 99):.2f} ms  max {max(rms):.2f} ms"
                )
                print(
                    f"  publish -> state snapshot: p50 {pct(ms, 50):.2f} ms  p99 "
                    f"{pct(ms, 99):.2f} ms  max {max(ms):.2f} ms  mean "
                    f"{statistics.mean(ms):.2f} ms"
                )
                print(
                    f"  a display/kiosk gets per change: the summary (median "
                    f"{statistics.median(sizes):,.0f} bytes, largest {max(sizes):,}) and "
                    f"the events (largest {max(event_sizes):,} bytes)"
                )
                for service, got in sorted(line_sizes.items()):
                    print(
                        f"  line/{service}: {len(got)} messages, largest {max(got):,} bytes "
                        "(staff panels only)"
                    )
                print(
                    f"  CPU used: server {used[0]:.1f} s ({used[0] / args.seconds:.0%} of a "
                    f"core; its estimating process not counted), mosquitto {used[1]:.1f} s; "
                    f"load average at the end {os.getloadavg()[0]:.1f}"
                )
                return pct(rms, 99), pct(ms, 99)

            short = latency("a fresh branch, lines short")

            cpu0 = cpu_seconds(server.pid), cpu_seconds(mosq._proc.pid)
            elapsed, refused = throughput(clients, args.commands, args.window)
            cpu1 = cpu_seconds(server.pid), cpu_seconds(mosq._proc.pid)
            rate = args.commands / elapsed
            print(
                f"\nthroughput: {args.commands} commands of the same mix, at most "
                f"{args.window} in flight ({refused} refused by the queue; refusals are "
                "logged durably too)"
            )
            print(f"  {elapsed:.2f} s -> {rate:,.0f} durable commands/s")
            print(
                f"  CPU used: server {cpu1[0] - cpu0[0]:.1f} s "
                f"({(cpu1[0] - cpu0[0]) / elapsed:.0%} of a core), mosquitto "
                f"{cpu1[1] - cpu0[1]:.1f} s ({(cpu1[1] - cpu0[1]) / elapsed:.0%})"
            )

            if args.long_line or args.spread:
                kiosk = clients["kiosk-1"]
                others = ("cash", "accounts", "wealth", "business")
                services = ["loans"] * args.long_line
                services += [others[i % len(others)] for i in range(args.spread)]
                issued = [kiosk.send("issue_ticket", {"service": s}) for s in services]
                for future in issued:
                    future.result(timeout=120)
                full = latency(
                    f"after {len(services)} more tickets joined ({args.long_line} in one line, "
                    f"{args.spread} spread)"
                )
                # The aim (docs/performance.md): at most 2x the short-line p99, in every run.
                print(
                    f"\nfull lobby / short lines, p99: publish -> state snapshot "
                    f"{full[1] / short[1]:.2f}x ({full[1]:.2f} / {short[1]:.2f} ms; aim <= 2x), "
                    f"publish -> reply {full[0] / short[0]:.2f}x"
                )
            watcher.close()
            for client in clients.values():
                client.close()
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
