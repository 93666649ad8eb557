"""Button edge at a counter to the call appearing in the published state, through the real
server and Mosquitto, with 20 counters pressing at a steady rate.

    .venv/bin/python bench/counter.py [--counters 20] [--seconds 30] [--every 2]

Each counter is the real `CounterDevice` on gpiozero's MockFactory in a process of its own
(as each runs on its own Pi), driving its `next` and `start` pins in turn (next calls a
customer, start serves them, the following next finishes them and calls the next one).
Latency is from the falling edge of `next` to the first summary, received by that
counter's own client, in which the counter holds a new ticket.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import command_line, describe_machine  # noqa: E402
from server_throughput import start_server, wait_online  # noqa: E402

from nowserving.adapters.mqtt import Broker  # noqa: E402
from nowserving.client import BranchClient  # noqa: E402
from nowserving.config import EXAMPLE, load_config  # noqa: E402
from nowserving.config.device import parse_device_config  # noqa: E402
from nowserving.counter.app import CounterDevice  # noqa: E402
from nowserving.devtools.broker import LocalMosquitto  # noqa: E402

NEXT, START = 5, 6


def branch_with_counters(workdir: Path, n: int) -> Path:
    """The example branch with wide number ranges and `n` counters serving cash."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = re.sub(r"range = \[1, \d+\]", "range = [1, 99999]", text)
    text = re.sub(r"(?m)^(last_ticket_at|daily_cap|hours|staff_pins) = .*\n", "", text)
    # No staff list: the bench's counters call without anyone signing in (as without one).
    text = re.sub(r"(?ms)^\[\[staff\]\].*?(?=^\[)", "", text)
    text = re.sub(r"(?ms)^\[\[counters\]\].*?(?=^\[\[devices\]\])", "", text)
    text = re.sub(r"(?ms)^\[\[devices\]\]\nid = \"counter-.*?(?=^\[\[|\Z)", "", text)
    for i in range(1, n + 1):
        text += (
            f'\n[[counters]]\nid = "c{i}"\nnames = {{ zh = "{i}号窗口", en = "Counter {i}" }}\n'
            f'services = ["cash"]\n'
            f'\n[[devices]]\nid = "counter-{i}"\nrole = "counter"\ncounter = "c{i}"\n'
        )
    path = workdir / "bench-counters.toml"
    path.write_text(text, encoding="utf-8")
    load_config(path)  # fail here, clearly, if the edit broke it
    return path


def child(config_path: Path, port: int, index: int, presses: int, every: float) -> None:
    """One counter, in a process of its own as on a Pi: press its pins, print latencies
    (ms from the edge of `next` to its own client seeing the call in a summary)."""
    from gpiozero.pins.mock import MockFactory

    config = load_config(config_path)
    device = parse_device_config(
        {
            "device": {"id": f"counter-{index}", "role": "counter", "branch": "pudong"},
            "broker": {"host": "127.0.0.1", "port": port},
            "gpio": {"pin_factory": "mock", "buttons": {"next": NEXT, "start": START}},
        }
    )
    calls: list[float] = []
    factory = MockFactory()
    client = BranchClient(Broker("127.0.0.1", port), "pudong", device.id)
    unit = CounterDevice(config, device, client, factory)
    lamps = client.on_state
    last = [None]

    def seen(state) -> None:
        lamps(state)
        view = state.counter(f"c{index}")
        ticket = view.ticket.id if view and view.ticket else None
        if ticket and ticket != last[0]:
            last[0] = ticket
            calls.append(time.perf_counter())

    client.on_state = seen
    client.start()
    client.wait_state()
    next_pin, start_pin = factory.pin(NEXT), factory.pin(START)
    pace = threading.Event()
    pace.wait(every * index / 20)  # spread the counters out
    edges = []
    for _ in range(presses):
        edges.append(time.perf_counter())
        next_pin.drive_low()
        next_pin.drive_high()
        pace.wait(every / 2)  # the customer walks up (pacing the load, not waiting)
        start_pin.drive_low()
        start_pin.drive_high()
        pace.wait(every / 2)
    pace.wait(1)
    latencies = []
    for edge in edges:
        after = [t for t in calls if t >= edge]
        if after:
            latencies.append(round((after[0] - edge) * 1000, 3))
    print(json.dumps({"presses": len(edges), "latencies": latencies}), flush=True)
    unit.close()
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counters", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--every", type=float, default=2.0, help="seconds between presses")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    presses = int(args.seconds / args.every)
    if args.child:
        child(Path(args.child[0]), int(args.child[1]), int(args.child[2]), presses, args.every)
        return
    print(f"$ {command_line()}")
    print(describe_machine())
    with tempfile.TemporaryDirectory() as tmp, LocalMosquitto(Path(tmp) / "broker") as mosq:
        tmp = Path(tmp)
        path = branch_with_counters(tmp, args.counters)
        broker = Broker("127.0.0.1", mosq.port)
        server = start_server(path, mosq.port, tmp / "events.sqlite", tmp / "server.log")
        try:
            wait_online(broker, server.pid)
            with BranchClient(broker, "pudong", "kiosk-1") as kiosk:
                futures = [
                    kiosk.send("issue_ticket", {"service": "cash"}, deadline_s=120)
                    for _ in range(args.counters * (presses + 2))
                ]
                for f in futures:
                    f.result(timeout=130)
            children = [
                subprocess.Popen(
                    [
                        sys.executable,
                        __file__,
                        "--seconds",
                        str(args.seconds),
                        "--every",
                        str(args.every),
                        "--child",
                        str(path),
                        str(mosq.port),
                        str(i),
                    ],
                    stdout=subprocess.PIPE,
                    text=True,
                )  # fmt: skip
                for i in range(1, args.counters + 1)
            ]
            results = [json.loads(c.communicate(timeout=args.seconds + 120)[0]) for c in children]
        finally:
            server.terminate()
            server.wait(10)
    latencies = sorted(x for r in results for x in r["latencies"])
    total = sum(r["presses"] for r in results)
    print(
        f"\n{args.counters} counters, each in a process of its own, a 'next' press each every "
        f"{args.every:g} s for {args.seconds:g} s: {len(latencies)} calls seen of {total} presses"
    )
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    print(
        f"  button edge -> call in the published summary (seen by the counter): p50 "
        f"{statistics.median(latencies):.1f} ms  p99 {p99:.1f} ms  max {latencies[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
