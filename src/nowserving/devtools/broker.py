"""Run a private Mosquitto broker on loopback (for the demo, the tests and the benches).

Production branches run the system Mosquitto with deploy/mosquitto/ config; this starts
one with a generated config on a free port, and can stop and restart it on the same port.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from nowserving.errors import NowservingError

SEARCH_PATH = "/usr/sbin:/usr/local/sbin:/usr/bin:/usr/local/bin"


class BrokerUnavailable(NowservingError, RuntimeError):
    """Mosquitto is not installed or would not start."""


def find_mosquitto() -> str:
    """The mosquitto binary's path; BrokerUnavailable when it is not installed."""
    path = shutil.which("mosquitto") or shutil.which("mosquitto", path=SEARCH_PATH)
    if path is None:
        raise BrokerUnavailable("mosquitto is not installed: sudo apt-get install mosquitto")
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalMosquitto:
    """A Mosquitto process on 127.0.0.1 with Nagle off and anonymous access (unless
    `extra` config says otherwise)."""

    def __init__(
        self,
        workdir: str | Path,
        port: int | None = None,
        extra: str = "",
        nodelay: bool = True,
        config: str | None = None,
        also_ports: tuple[int, ...] = (),
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.extra = extra
        # A whole config of one's own (listeners, auth) in place of the generated one; it
        # must listen on 127.0.0.1:`port`, which `start` waits for.
        self.config = config
        # Its other listeners: Mosquitto opens them one after another, so `start` waits for
        # each (Debian 13's opens a loopback listener after the TLS one).
        self.also_ports = tuple(also_ports)
        self.nodelay = nodelay  # False only to measure what Nagle costs (bench/)
        self.binary = find_mosquitto()
        self.log_path = self.workdir / "mosquitto.log"
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> LocalMosquitto:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def config_text(self) -> str:
        # Run as whoever starts it: as root, Mosquitto would otherwise switch to the
        # `mosquitto` user, which cannot read a private work directory.
        """The config file Mosquitto is started with."""
        user = f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
        if self.config is not None:
            return (
                f"{user}persistence_location {self.workdir}/\nlog_dest file {self.log_path}\n"
                f"log_type error\nlog_type warning\nlog_type notice\n{self.config}\n"
            )
        auth = "" if "allow_anonymous" in self.extra else "allow_anonymous true\n"
        auth += user
        return (
            f"listener {self.port} 127.0.0.1\n{auth}"
            f"set_tcp_nodelay {'true' if self.nodelay else 'false'}\n"
            f"persistence false\nlog_dest file {self.log_path}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            f"{self.extra}\n"
        )

    def start(self, timeout: float = 10.0) -> None:
        """Start Mosquitto and wait until every listener takes connections."""
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.config_text())
        self._proc = subprocess.Popen(
            [self.binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        waiting = [self.port, *self.also_ports]
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                raise BrokerUnavailable(f"mosquitto exited at start: {err.strip()[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", waiting[0]), timeout=0.2).close()
                waiting.pop(0)
                if not waiting:
                    return
            except OSError:
                time.sleep(0.02)  # polling a port that is coming up, bounded by the deadline
        self.stop()
        raise BrokerUnavailable(f"mosquitto did not listen on port {waiting[0]} in {timeout} s")

    def stop(self) -> None:
        """Stop Mosquitto (SIGTERM, then SIGKILL after 5 s); idempotent."""
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            if self._proc.stderr:
                self._proc.stderr.close()
            self._proc = None

    def kill(self) -> None:
        """Kill Mosquitto -9, as a power cut does: what it had not saved (queued messages
        since its last autosave) is lost with it; idempotent."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            if self._proc.stderr:
                self._proc.stderr.close()
            self._proc = None

    def restart(self) -> None:
        """Stop and start again on the same ports."""
        self.stop()
        self.start()

    def reload(self) -> None:
        """Make Mosquitto read its password file and ACL again (SIGHUP), as
        `systemctl reload mosquitto` does; it happens soon after, not before this returns."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGHUP)
