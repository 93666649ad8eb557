"""Button edge at a counter to the call appearing in the published state, through the real
server and Mosquitto, with 20 counters pressing at a steady rate.

    .venv/bin/python bench/counter.py [--counters 20] [--seconds 30] [--every 2]

Each counter is the real `CounterDevice` on gpiozero's MockFactory; a thread per counter
drives its `next` and `start` pins in turn (next calls a customer, start serves them, the
following next finishes them and calls the next one). Latency is from the falling edge of
`next` to the first retained summary, received by a separate watcher, in which that
counter holds a new ticket.
"""

from __future__ import annotations

import argparse
import re
import statistics
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
    text = re.sub(r"(?m)^(last_ticket_at|daily_cap) = .*\n", "", text)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counters", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--every", type=float, default=2.0, help="seconds between presses")
    args = parser.parse_args()
    print(f"$ {command_line()}")
    print(describe_machine())
    from gpiozero.pins.mock import MockFactory

    with tempfile.TemporaryDirectory() as tmp, LocalMosquitto(Path(tmp) / "broker") as mosq:
        tmp = Path(tmp)
        path = branch_with_counters(tmp, args.counters)
        config = load_config(path)
        broker = Broker("127.0.0.1", mosq.port)
        server = start_server(path, mosq.port, tmp / "events.sqlite", tmp / "server.log")
        units = []
        try:
            wait_online(broker, server.pid)
            presses = int(args.seconds / args.every) + 2
            with BranchClient(broker, "pudong", "kiosk-1") as kiosk:
                futures = [
                    kiosk.send("issue_ticket", {"service": "cash"}, deadline_s=120)
                    for _ in range(args.counters * presses)
                ]
                for f in futures:
                    f.result(timeout=130)
            seen: dict[str, list[tuple[float, str]]] = {}  # counter -> (time, ticket) changes
            lock = threading.Lock()

            def state_seen(state) -> None:
                now = time.perf_counter()
                with lock:
                    for view in state.counters:
                        ticket = view.ticket.id if view.ticket else None
                        history = seen.setdefault(view.id, [])
                        if ticket and (not history or history[-1][1] != ticket):
                            history.append((now, ticket))

            watcher = BranchClient(broker, "pudong", "lobby-1", on_state=state_seen)
            watcher.start()
            for i in range(1, args.counters + 1):
                device = parse_device_config(
                    {
                        "device": {"id": f"counter-{i}", "role": "counter", "branch": "pudong"},
                        "broker": {"host": "127.0.0.1", "port": mosq.port},
                        "gpio": {"pin_factory": "mock", "buttons": {"next": NEXT, "start": START}},
                    }
                )
                factory = MockFactory()
                client = BranchClient(broker, "pudong", device.id)
                units.append((CounterDevice(config, device, client, factory), client, factory))
                client.start()
            edges: dict[str, list[float]] = {f"c{i}": [] for i in range(1, args.counters + 1)}

            def staff(index: int, factory) -> None:
                next_pin, start_pin = factory.pin(NEXT), factory.pin(START)
                pace = threading.Event()
                pace.wait(args.every * index / args.counters)  # spread the counters out
                for _ in range(presses - 1):
                    edges[f"c{index + 1}"].append(time.perf_counter())
                    next_pin.drive_low()
                    next_pin.drive_high()
                    pace.wait(args.every / 2)  # the customer walks up (pacing, not waiting)
                    start_pin.drive_low()
                    start_pin.drive_high()
                    pace.wait(args.every / 2)

            threads = [
                threading.Thread(target=staff, args=(i, factory))
                for i, (_, _, factory) in enumerate(units)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            threading.Event().wait(1)  # the last summaries arrive
            latencies = []
            with lock:
                for counter, times in edges.items():
                    calls = [t for t, _ in seen.get(counter, [])]
                    for edge in times:
                        after = [t for t in calls if t >= edge]
                        if after:
                            latencies.append((after[0] - edge) * 1000)
            watcher.close()
        finally:
            for unit, client, _ in units:
                unit.close()
                client.close()
            server.terminate()
            server.wait(10)
    latencies.sort()
    total = sum(len(v) for v in edges.values())
    print(
        f"\n{args.counters} counters, a 'next' press each every {args.every:g} s for "
        f"{args.seconds:g} s: {len(latencies)} calls seen of {total} presses"
    )
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    print(
        f"  button edge -> call in the published summary: p50 "
        f"{statistics.median(latencies):.1f} ms  p99 {p99:.1f} ms  max {latencies[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
