"""The main process of the kiosk and display units: starts cage, relays the app's sd_notify.

The units open a logind session for cage (PAMName=), and pam_systemd moves the unit's
processes into the session's scope: systemd then takes no READY=1 or WATCHDOG=1 from the
app under cage (NotifyAccess= accepts only the unit's own cgroup, or its main PID), and a
Type=notify unit would time out and restart for ever. So the unit's main process is this
relay (the main PID, NotifyAccess=main): it gives the command a private NOTIFY_SOCKET, passes
on what the app says there (readiness, watchdog, status; never MAINPID= or file
descriptors), and exits with the command's status. It imports nothing heavy (no Qt): it is
up at once, even on a slow device. With `--runtime-dir DIR` the command gets
XDG_RUNTIME_DIR=DIR: the units' ProtectHome= makes the session's /run/user/UID (which
pam_systemd names) inaccessible, so cage could not make its Wayland socket there.

    python -m nowserving.adapters.notify_relay --runtime-dir /run/nowserving-kiosk -- \
        /usr/bin/cage -- nowserving kiosk ...

When systemd stops the unit the relay passes SIGTERM (SIGINT, SIGHUP; SIGTERM for the
watchdog's SIGABRT) on to the command's process group (cage and the app: they are not in
the unit's cgroup, so systemd's own kill does not reach them), and SIGKILL after
`--stop-timeout` seconds; if the relay itself dies, the command gets SIGTERM from the kernel
(the parent-death signal).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

# What the app may tell systemd through the relay; MAINPID=, FDSTORE= and the like are not
# passed (the relay is the main process, and file descriptors are not relayed).
RELAYED = ("READY", "STATUS", "WATCHDOG", "STOPPING", "RELOADING", "ERRNO", "EXTEND_TIMEOUT_USEC")
_PR_SET_PDEATHSIG = 1


def relayed(message: bytes) -> bytes:
    """The lines of an sd_notify message that are passed on to systemd (maybe none)."""
    lines = message.decode("utf-8", "replace").split("\n")
    kept = [line for line in lines if line.partition("=")[0] in RELAYED and "=" in line]
    return "\n".join(kept).encode()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, before exec
    """In the child: SIGTERM when the relay dies (prctl PR_SET_PDEATHSIG)."""
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class Relay:
    """A private notify socket for `command`, and its messages sent on to systemd's."""

    def __init__(
        self,
        command: Sequence[str],
        environ: dict[str, str] | None = None,
        runtime_dir: str | None = None,
    ) -> None:
        self.command = list(command)
        self.environ = dict(os.environ if environ is None else environ)
        if runtime_dir:
            self.environ["XDG_RUNTIME_DIR"] = runtime_dir
        address = self.environ.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # an abstract socket
            address = "\0" + address[1:]
        self.upstream = address or None
        self.stopping = 0.0  # when a stop signal came (monotonic), 0 if none
        self.stop_signal = signal.SIGTERM
        # Private: a directory of the relay's own (mode 0700), in the runtime directory if
        # there is one, else in the (private) /tmp.
        self._dir = tempfile.mkdtemp(prefix="nowserving-notify-", dir=runtime_dir or None)
        self.path = str(Path(self._dir) / "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        self.out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.child: subprocess.Popen | None = None

    def start(self) -> subprocess.Popen:
        """Start the command with NOTIFY_SOCKET naming the relay's socket."""
        env = dict(self.environ)
        env["NOTIFY_SOCKET"] = self.path
        # sd_watchdog_enabled() would refuse a WATCHDOG_PID that is not the caller's own.
        env.pop("WATCHDOG_PID", None)
        self.child = subprocess.Popen(self.command, env=env, preexec_fn=_die_with_parent)  # noqa: PLW1509
        return self.child

    def forward(self, message: bytes) -> None:
        """Send the relayed part of one message to systemd (nothing outside systemd)."""
        kept = relayed(message)
        if kept and self.upstream is not None:
            with suppress(OSError):  # systemd gone: nobody to tell
                self.out.sendto(kept, self.upstream)

    def stop(self, signum: int) -> None:
        """A stop signal: pass it on to the command's process group (cage and the app)."""
        if not self.stopping:
            self.stopping = time.monotonic()
            # The watchdog's SIGABRT (WatchdogSignal=) stops them too, without core dumps.
            abort = signum == signal.SIGABRT
            self.stop_signal = signal.SIGTERM if abort else signal.Signals(signum)
        self._signal_group(self.stop_signal)

    def _signal_group(self, signum: int) -> None:
        if self.child is None:
            return
        with suppress(ProcessLookupError, PermissionError):
            os.kill(self.child.pid, signum)
        # The app under cage, in the relay's process group when the relay leads it (systemd
        # starts the main process with setsid()); never a group the relay does not lead.
        own = os.getpgrp()
        if own != os.getpid():
            return
        with suppress(ProcessLookupError, PermissionError):
            if signum == signal.SIGKILL:  # the end of the relay too: systemd restarts it
                os.killpg(own, signum)
            elif os.getpgid(self.child.pid) == own:
                old = signal.signal(signum, signal.SIG_IGN)
                try:
                    os.killpg(own, signum)
                finally:
                    signal.signal(signum, old)

    def run(self, stop_timeout: float = 10.0) -> int:
        """Relay until the command exits; its exit status (128+N if killed by signal N)."""
        child = self.child or self.start()
        while (status := child.poll()) is None:
            if self.stopping and time.monotonic() - self.stopping > stop_timeout:
                self._signal_group(signal.SIGKILL)
            with suppress(InterruptedError):
                ready, _, _ = select.select([self.sock], [], [], 0.5)
                if ready:
                    self._drain()
        self._drain()
        return status if status >= 0 else 128 - status

    def _drain(self) -> None:
        while True:
            try:
                message = self.sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            self.forward(message)

    def close(self) -> None:
        """Remove the private socket."""
        self.sock.close()
        self.out.close()
        with suppress(OSError):
            os.unlink(self.path)
        with suppress(OSError):
            os.rmdir(self._dir)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command under the relay; the command's exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m nowserving.adapters.notify_relay",
        description="Start a command with a private NOTIFY_SOCKET and relay its readiness, "
        "watchdog and status to systemd as the unit's main process.",
    )
    parser.add_argument("--stop-timeout", type=float, default=10.0, metavar="SECONDS")
    parser.add_argument(
        "--runtime-dir",
        metavar="DIR",
        help="XDG_RUNTIME_DIR for the command (where cage makes its Wayland socket): the "
        "unit's RuntimeDirectory=, since ProtectHome= hides the session's /run/user/UID",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run")
    relay = Relay(command, runtime_dir=args.runtime_dir)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGABRT):
        signal.signal(signum, lambda n, _frame: relay.stop(n))
    try:
        relay.start()
    except OSError as exc:
        relay.close()
        print(f"cannot start {command[0]}: {exc}", file=sys.stderr)
        return 127
    try:
        return relay.run(args.stop_timeout)
    finally:
        relay.close()


if __name__ == "__main__":
    sys.exit(main())
