"""The kiosk's figures: tap to ticket bytes ready (through the real server and Mosquitto),
bytes per ticket, cold start to the first frame, and memory once idle.

    .venv/bin/python bench/kiosk.py [--taps 200]

The server runs as its own process (`python -m nowserving server`) on a private Mosquitto;
the kiosk runs offscreen (QT_QPA_PLATFORM=offscreen) with python-escpos's Dummy printer
(profile TM-T88V, 80 mm), so "bytes ready" is the moment the last byte of the ticket has
been handed to the printer's transport.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
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
import os, sys, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import QSize
from PySide6.QtGui import QGuiApplication
from nowserving.adapters.mqtt import Broker
from nowserving.client import BranchClient
from nowserving.client.qt import QtBranchBridge
from nowserving.config import load_config
from nowserving.kiosk.app import KioskController
from nowserving.kiosk.launcher import build_view
app = QGuiApplication(sys.argv[:1])
config = load_config(sys.argv[1])
client = BranchClient(Broker("127.0.0.1", int(sys.argv[2])), config.rules.branch_id, "kiosk-1")
controller = KioskController(config, QtBranchBridge(client), None, config.ticket_url)
view = build_view(controller, QSize(1080, 1920))
view.frameSwapped.connect(lambda: print("frame", flush=True))
client.start(wait_s=None)
view.show()
app.exec()
"""


def taps(config_path: Path, port: int, n: int) -> tuple[list[float], list[int]]:
    """Tap 'cash' n times in Chinese: ms from the tap to the ticket's bytes being written."""
    from PySide6.QtGui import QGuiApplication

    from nowserving.adapters.printer.device import TicketPrinter, open_escpos
    from nowserving.client import BranchClient
    from nowserving.client.qt import QtBranchBridge
    from nowserving.config import load_config
    from nowserving.config.hardware import PrinterSettings
    from nowserving.kiosk.app import KioskController
    from nowserving.kiosk.printing import PrintQueue

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    config = load_config(config_path)
    settings = PrinterSettings(kind="dummy", paper_mm=80, profile="TM-T88V")
    printer = TicketPrinter(open_escpos(settings), settings)
    queue = PrintQueue(printer)
    client = BranchClient(Broker("127.0.0.1", port), config.rules.branch_id, "kiosk-1")
    controller = KioskController(config, QtBranchBridge(client), queue, config.ticket_url)
    controller.setLanguage("zh")
    printed = threading.Event()
    done_at: list[float] = []
    real_print = printer.print_ticket

    def timed_print(parts):
        real_print(parts)
        done_at.append(time.perf_counter())  # the last byte is in the transport
        printed.set()

    printer.print_ticket = timed_print
    client.start()
    wait = qt_waiter("kiosk")

    wait(lambda: controller._state is not None)
    latencies, sizes = [], []
    for _ in range(n):
        printer.escpos.clear()
        printed.clear()
        start = time.perf_counter()
        controller.choose("cash")
        if controller.phase == "priority":  # the branch offers priority: a regular ticket
            controller.choosePriority("")
        wait(printed.is_set)
        latencies.append((done_at[-1] - start) * 1000)
        sizes.append(len(printer.escpos.output))
        wait(lambda: controller.phase == "done")
        controller.reset()
    controller.close()
    client.close()
    queue.close()
    app.processEvents()
    return latencies, sizes


def cold_start(config_path: Path, port: int, runs: int) -> tuple[list[float], list[float]]:
    """Seconds from starting a kiosk process to its first frame; its RSS (MB) 5 s later."""
    starts, rss = [], []
    for _ in range(runs):
        began = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(config_path), str(port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            for line in proc.stdout:
                if line.startswith("frame"):
                    starts.append(time.perf_counter() - began)
                    break
            threading.Event().wait(5)  # let it settle: idle memory, not start-up's peak
            status = Path(f"/proc/{proc.pid}/status").read_text()
            kb = next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS"))
            rss.append(kb / 1024)
        finally:
            proc.kill()
            proc.wait(10)
    return starts, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--taps", type=int, default=200)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    print(f"$ {command_line()}")
    print(describe_machine())
    with tempfile.TemporaryDirectory() as tmp, LocalMosquitto(Path(tmp) / "broker") as mosq:
        tmp = Path(tmp)
        config = load_branch_config(tmp)
        server = start_server(config, mosq.port, tmp / "events.sqlite", tmp / "server.log")
        try:
            wait_online(Broker("127.0.0.1", mosq.port), server.pid)
            latencies, sizes = taps(config, mosq.port, args.taps)
            print(
                f"\ntap -> ticket bytes written, {args.taps} Chinese 80 mm tickets with QR "
                f"(server round trip included):\n  p50 {pct(latencies, 50):.1f} ms  "
                f"p99 {pct(latencies, 99):.1f} ms  max {max(latencies):.1f} ms"
            )
            print(
                f"bytes per ticket: median {statistics.median(sizes):,.0f}, "
                f"largest {max(sizes):,} (paper query included)"
            )
            starts, rss = cold_start(config, mosq.port, args.starts)
            print(
                f"\ncold start to first frame (1080x1920, offscreen), {args.starts} runs: "
                f"min {min(starts):.2f} s  median {statistics.median(starts):.2f} s  "
                f"max {max(starts):.2f} s"
            )
            print(
                f"memory 5 s after start (RSS): median {statistics.median(rss):.0f} MB, "
                f"largest {max(rss):.0f} MB"
            )
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    # PySide6 can crash while the interpreter finalizes objects it still holds (seen here as
    # "bool_dealloc" during garbage collection at exit); the figures are out: leave now.
    os._exit(0)
