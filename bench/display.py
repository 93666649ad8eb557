"""The lobby display's figures: a counter's call to the display's model and to the next
rendered frame (through the real server and Mosquitto), start to first frame, and memory
over an hour of a busy branch's calls.

    .venv/bin/python bench/display.py [--calls 200] [--starts 5] [--hours 1] [--speed 20]

The server runs as its own process (`python -m nowserving server`) on a private Mosquitto;
the display runs offscreen (QT_QPA_PLATFORM=offscreen) at 1920x1080. Latency starts just
before a counter's `call_next` is published and ends when the call is in the display's
model (`DisplayController.lobby.calls`: in the spotlight, or in the history while an
earlier call still has its turn), then at the next `frameSwapped` of its window.
The memory run is a separate display process fed a busy branch's calls (one every 10 s of
branch time, six counters) `--speed` times faster than real time, with its spotlight turns
shortened by the same factor; its RSS is sampled every tenth of the run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _common import (  # noqa: E402
    command_line,
    describe_machine,
    load_branch_config,
    pct,
    qt_waiter,
)
from server_throughput import start_server, wait_online  # noqa: E402

from nowserving.adapters.mqtt import Broker  # noqa: E402
from nowserving.devtools.broker import LocalMosquitto  # noqa: E402

CHILD = """
import os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import QSize
from PySide6.QtGui import QGuiApplication
from nowserving.adapters.mqtt import Broker
from nowserving.client import BranchClient
from nowserving.client.qt import QtBranchBridge
from nowserving.config import load_config
from nowserving.display.app import DisplayController, HOLD_S, TURN_S
from nowserving.display.launcher import build_view
app = QGuiApplication(sys.argv[:1])
config = load_config(sys.argv[1])
speed = float(sys.argv[3])
client = BranchClient(Broker("127.0.0.1", int(sys.argv[2])), config.rules.branch_id, "lobby-1",
                      watch_server=True)
controller = DisplayController(config, QtBranchBridge(client), hold_s=HOLD_S / speed,
                               turn_s=TURN_S / speed)
view = build_view(controller, QSize(1920, 1080))
first = []
def swapped():
    if not first:
        first.append(1)
        print("frame", flush=True)
view.frameSwapped.connect(swapped)
client.start(wait_s=None)
view.show()
app.exec()
"""


def latencies(config_path: Path, port: int, n: int) -> tuple[list[float], list[float]]:
    """ms from a counter's call_next to the call in the display's model, and to the frame."""
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QGuiApplication

    from nowserving.client import BranchClient
    from nowserving.client.qt import QtBranchBridge
    from nowserving.config import load_config
    from nowserving.display.app import DisplayController
    from nowserving.display.launcher import build_view

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    config = load_config(config_path)
    broker = Broker("127.0.0.1", port)
    client = BranchClient(broker, config.rules.branch_id, "lobby-1", watch_server=True)
    bridge = QtBranchBridge(client)
    controller = DisplayController(config, bridge)
    view = build_view(controller, QSize(1920, 1080))
    marks: dict[str, float] = {}
    expected: list[str] = []

    def modelled(_state) -> None:  # connected after the controller's own slot: runs after it
        calls = controller.lobby.calls  # the spotlight, then the history: all on screen
        if expected and "model" not in marks and any(c.number == expected[0] for c in calls):
            marks["model"] = time.perf_counter()

    def swapped() -> None:
        if "model" in marks and "frame" not in marks:
            marks["frame"] = time.perf_counter()

    bridge.stateChanged.connect(modelled)
    view.frameSwapped.connect(swapped)
    client.start()
    view.show()
    wait = qt_waiter("display")

    kiosk = BranchClient(broker, config.rules.branch_id, "kiosk-1", watch_state=False)
    counters = [
        BranchClient(broker, config.rules.branch_id, f"counter-{i}", watch_state=False)
        for i in range(1, 5)
    ]  # c1-c4 all serve cash
    for c in (kiosk, *counters):
        c.start()
    wait(lambda: controller.hasState)
    issue = lambda: kiosk.request("issue_ticket", {"service": "cash"}).ticket["number"]  # noqa: E731
    numbers = [issue() for _ in range(n)]
    to_model, to_frame = [], []
    for i, number in enumerate(numbers):
        marks.clear()
        expected[:] = [number]
        wait(lambda: True, 0)
        start = time.perf_counter()
        counters[i % 4].send("call_next", {})
        wait(lambda: "frame" in marks)
        to_model.append((marks["model"] - start) * 1000)
        to_frame.append((marks["frame"] - start) * 1000)
        counters[i % 4].request("start")  # the customer arrived: the next call may come
        end = time.monotonic() + 0.05  # 20 calls a second at most: a busy lobby and then some
        wait(lambda end=end: time.monotonic() > end)
    for c in (kiosk, *counters):
        c.close()
    controller.close()
    client.close()
    app.processEvents()
    return to_model, to_frame


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS")) / 1024


def display_process(config_path: Path, port: int, speed: float = 1) -> tuple:
    """A display in its own process; returns it and the seconds to its first frame."""
    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(config_path), str(port), str(speed)],
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in proc.stdout:
        if line.startswith("frame"):
            return proc, time.perf_counter() - began
    raise SystemExit("the display process ended before its first frame")


def cold_starts(config_path: Path, port: int, runs: int) -> list[float]:
    starts = []
    for _ in range(runs):
        proc, took = display_process(config_path, port)
        starts.append(took)
        proc.kill()
        proc.wait(10)
    return starts


def busy_hour(config_path: Path, port: int, hours: float, speed: float) -> list[tuple]:
    """Feed a display process an hour of calls (one per 10 s of branch time) `speed` times
    faster; returns (branch minutes, RSS MB) samples."""
    from nowserving.client import BranchClient
    from nowserving.config import load_config

    config = load_config(config_path)
    broker = Broker("127.0.0.1", port)
    proc, _ = display_process(config_path, port, speed)
    kiosk = BranchClient(broker, config.rules.branch_id, "kiosk-1", watch_state=False)
    counters = [
        BranchClient(broker, config.rules.branch_id, f"counter-{i}", watch_state=False)
        for i in range(1, 5)
    ]
    for c in (kiosk, *counters):
        c.start()
    calls = int(hours * 360)
    samples = []
    every = max(1, calls // 10)
    try:
        for i in range(calls):
            kiosk.request("issue_ticket", {"service": "cash", "language": ("zh", "en")[i % 2]})
            counters[i % 4].request("call_next")
            counters[i % 4].request("start")
            time.sleep(10 / speed)
            if i % every == 0 or i == calls - 1:
                samples.append((i * 10 / 60, rss_mb(proc.pid)))
    finally:
        for c in (kiosk, *counters):
            c.close()
        proc.kill()
        proc.wait(10)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--speed", type=float, default=20.0)
    args = parser.parse_args()
    print(f"$ {command_line()}")
    print(describe_machine())
    with tempfile.TemporaryDirectory() as tmp, LocalMosquitto(Path(tmp) / "broker") as mosq:
        tmp = Path(tmp)
        config = load_branch_config(tmp)
        server = start_server(config, mosq.port, tmp / "events.sqlite", tmp / "server.log")
        try:
            wait_online(Broker("127.0.0.1", mosq.port), server.pid)
            to_model, to_frame = latencies(config, mosq.port, args.calls)
            print(f"\ncounter's call_next -> the display, {args.calls} calls, 1920x1080 offscreen:")
            for name, values in (("in the model", to_model), ("next frame", to_frame)):
                print(
                    f"  {name:13s} p50 {pct(values, 50):.1f} ms  p99 {pct(values, 99):.1f} ms  "
                    f"max {max(values):.1f} ms"
                )
            starts = cold_starts(config, mosq.port, args.starts)
            print(
                f"\nstart to first frame (1920x1080, offscreen), {args.starts} runs: "
                f"min {min(starts):.2f} s  median {statistics.median(starts):.2f} s  "
                f"max {max(starts):.2f} s"
            )
            samples = busy_hour(config, mosq.port, args.hours, args.speed)
            print(
                f"\nmemory over {args.hours:g} h of calls (one per 10 s, {args.speed:g}x real "
                f"time), RSS: " + ", ".join(f"{m:.0f} min {mb:.0f} MB" for m, mb in samples)
            )
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)  # see bench/kiosk.py: PySide6 may crash while the interpreter finalizes
