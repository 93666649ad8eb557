"""A branch server running as its own process (`python -m nowserving server`)."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nowserving.adapters.mqtt import MqttLink
from nowserving.config import EXAMPLE
from nowserving.protocol import Topics


def open_all_day(folder: Path) -> Path:
    """The example branch open every day, all day: a server on the real clock takes tickets
    whenever the tests run (the example's own hours end at 17:00 in Shanghai)."""
    copy = folder / "examples"
    if not copy.exists():
        shutil.copytree(EXAMPLE.parent, copy)
        branch = copy / EXAMPLE.name
        text = re.sub(r"(?m)^hours = .*\n", "", branch.read_text(encoding="utf-8"))
        branch.write_text(text, encoding="utf-8")
    return copy / EXAMPLE.name


class ServerProcess:
    """`nowserving server` as its own process, on the example branch open all day. `broker`
    is where it is watched from; `login`: the user and password file it logs in with
    (default: none, as `broker`)."""

    def __init__(self, broker, db, config=None, login: tuple[str, str] | None = None) -> None:
        config = config or open_all_day(db.parent)
        self.broker, self.db, self.config = broker, db, config
        self.login = login
        self.server_port = broker.port
        self.proc: subprocess.Popen | None = None
        self.log = db.with_suffix(".log")

    def command(self, *options: str) -> list[str]:
        """The command line that starts it."""
        login = (
            ["--username", self.login[0], "--password-file", self.login[1]] if self.login else []
        )
        return [
            sys.executable, "-m", "nowserving", "server", "--config", str(self.config),
            "--broker", f"127.0.0.1:{self.server_port}", *login, "--db", str(self.db), *options,
        ]  # fmt: skip

    def run(self, *options: str, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run it to its end (a refusal), for its exit code and what it said."""
        return subprocess.run(
            self.command(*options), capture_output=True, text=True, timeout=timeout
        )

    def start(self, timeout: float = 15, *options: str) -> None:
        """Start the server and wait until it says it is online (its retained status);
        `--new` the first time (when there is no log yet)."""
        if not self.db.exists():
            options = ("--new", *options)
        online: queue.Queue = queue.Queue()

        def seen(topic, payload, mid, qos):
            online.put(json.loads(payload))  # paho thread -> test thread

        with MqttLink(self.broker, f"waiter-{os.getpid()}", on_message=seen) as link:
            link.subscribe(Topics("pudong").status("server"))
            link.start()
            assert link.wait_connected(5)
            with self.log.open("ab") as log:
                self.proc = subprocess.Popen(
                    self.command(*options), stdout=log, stderr=subprocess.STDOUT
                )
            # A retained status from an earlier run may arrive first: wait for this one's.
            status = online.get(timeout=timeout)
            while not (status.get("online") and status.get("pid") == self.proc.pid):
                status = online.get(timeout=timeout)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            # Where it is stuck, from its own log (the server dumps its stacks on SIGUSR1).
            self.proc.send_signal(signal.SIGUSR1)
            time.sleep(1)
            self.proc.kill()
            self.proc.wait(timeout=10)
            tail = self.log.read_text(errors="replace")[-6000:]
            said = f"the server did not stop within 10 s; its log ends:\n{tail}"
            raise AssertionError(said) from None


@pytest.fixture
def server_process(broker, tmp_path):
    proc = ServerProcess(broker, tmp_path / "events.sqlite")
    yield proc
    proc.stop()
