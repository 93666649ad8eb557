"""Shared by the benches: how the run was made, and a branch sized for load."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from nowserving.config import EXAMPLE
from nowserving.devtools.broker import find_mosquitto


def describe_machine() -> str:
    out = subprocess.run([find_mosquitto(), "-h"], capture_output=True, text=True).stdout
    mosq = re.search(r"mosquitto version (\S+)", out)
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{platform.machine()}, {os.cpu_count()} cores ({cpu}); Python "
        f"{platform.python_version()}; paho-mqtt {version('paho-mqtt')}; Mosquitto "
        f"{mosq.group(1) if mosq else '?'}; SQLite {__import__('sqlite3').sqlite_version}"
    )


def load_branch_config(workdir: Path) -> Path:
    """The example branch with number ranges wide enough for a load test, no cut-offs and
    no opening hours (a bench runs whenever it is run), and a ticket page."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = re.sub(r"range = \[1, \d+\]", "range = [1, 99999]", text)
    text = re.sub(r"(?m)^(last_ticket_at|daily_cap) = .*\n", "", text)
    # Open every day and all day (no hours), with a ticket page: its QR code is printed.
    text = re.sub(r"(?m)^hours = .*\n", "", text)
    text = text.replace(
        "[branch]\n", '[branch]\nticket_url = "https://q.example/{branch}/t/{token}"\n'
    )
    path = workdir / "bench-branch.toml"
    path.write_text(text, encoding="utf-8")
    pins = re.search(r'(?m)^staff_pins = "([^"]+)"', text)
    if pins:  # a path relative to the config: the example's file goes along
        (workdir / pins.group(1)).write_bytes((EXAMPLE.parent / pins.group(1)).read_bytes())
    return path


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def command_line() -> str:
    return " ".join([Path(sys.executable).name, *sys.argv])


def pct(values: list[float], p: float) -> float:
    """The p-th percentile, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def qt_waiter(what: str):
    """wait(predicate, timeout_s): run Qt's event loop until `predicate()` holds (a
    TimeoutError naming `what` after `timeout_s`); for benches that drive a Qt device."""
    import time

    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()

    def wait(predicate, timeout_s: float = 10) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the {what} did not get there")
            QTimer.singleShot(1, loop.quit)
            loop.exec()

    return wait
