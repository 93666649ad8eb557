"""One device floods the branch server; how long another device's commands take meanwhile.

    .venv/bin/python bench/flood.py [--seconds 10] [--pings 100] [--qos 0] [--tool paho]

A provisioned branch (TLS broker, per-device users and ACLs from `nowserving provision`),
the server as its own process (`nowserving server`, logged in as `server` on loopback),
counter-2 sending `ping` every 0.1 s (answered by the server's apply loop itself), first
quietly, then while counter-1's login publishes `call_next` as fast as it can: with paho
(one Python process) or with `mosquitto_pub -l` (C), at QoS 0 (no flow control) or 1.
Prints the pings' round trips (p50, p99, max) quiet and during the flood, the flood's
rate, and how much of it reached the event log.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import command_line, cpu_seconds, describe_machine, pct  # noqa: E402

from nowserving.client import BranchClient, broker_for  # noqa: E402
from nowserving.config import EXAMPLE, load_config, load_device_config  # noqa: E402
from nowserving.devtools.broker import LocalMosquitto, free_port  # noqa: E402
from nowserving.protocol import PROTOCOL_VERSION, Topics  # noqa: E402
from nowserving.provision import Settings, provision  # noqa: E402

FLOOD_PAHO = """
import sys, paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
host, port, user, password, ca, topic, qos = sys.argv[1:8]
c = paho.Client(CallbackAPIVersion.VERSION2, client_id="flood",
                protocol=MQTTProtocolVersion.MQTTv5)
c.username_pw_set(user, password)
c.tls_set(ca_certs=ca)
c.connect(host, int(port))
c.loop_start()
n = 0
while True:
    n += 1
    c.publish(topic, b'{"v":%d,"id":"f%d","type":"call_next","args":{}}' % (%d, n), qos=int(qos))
"""


def ping_times(client: BranchClient, count: int, interval: float) -> list[float]:
    """`count` pings, one every `interval` s (within a device's budget, as a counter is)."""
    times = []
    for _ in range(count):
        time.sleep(interval)  # pacing a device, not waiting for a condition
        start = time.perf_counter()
        reply = client.request("ping", timeout=60)
        if not reply.ok:
            raise SystemExit(f"ping failed: {reply}")
        times.append((time.perf_counter() - start) * 1000)
    return times


def describe(times: list[float]) -> str:
    return (
        f"p50 {pct(times, 50):6.2f} ms  p99 {pct(times, 99):7.2f} ms  "
        f"max {max(times):7.2f} ms  ({len(times)} pings)"
    )


def flooder(args, out: Path, tool: str) -> subprocess.Popen:
    device = load_device_config(out / "devices" / "counter-1" / "nowserving" / "device.toml")
    broker = broker_for(device)
    topic = Topics("pudong").command("counter-1")
    if tool == "paho":
        script = FLOOD_PAHO.replace("(%d, n)", f"({PROTOCOL_VERSION}, n)")
        return subprocess.Popen(
            [sys.executable, "-c", script, broker.host, str(broker.port), broker.username,
             broker.password, broker.tls_ca, topic, str(args.qos)],
        )  # fmt: skip
    # mosquitto_pub -l publishes each line of its input as a message.
    proc = subprocess.Popen(
        ["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-u", broker.username,
         "-P", broker.password, "--cafile", broker.tls_ca, "-V", "mqttv5", "-t", topic,
         "-q", str(args.qos), "-l", "-i", "flood"],
        stdin=subprocess.PIPE,
    )  # fmt: skip

    def feed() -> None:
        n = 0
        try:
            while True:
                lines = []
                for _ in range(1000):
                    n += 1
                    message = {"v": PROTOCOL_VERSION, "id": f"f{n}", "type": "call_next"}
                    lines.append(json.dumps(message) + "\n")
                proc.stdin.write("".join(lines).encode())
        except (BrokenPipeError, ValueError, OSError):
            return

    threading.Thread(target=feed, daemon=True).start()
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the flood lasts")
    parser.add_argument("--pings", type=int, default=100, help="quiet pings before the flood")
    parser.add_argument(
        "--interval", type=float, default=0.1, help="seconds between pings (default: 0.1)"
    )
    parser.add_argument("--qos", type=int, choices=(0, 1), default=0)
    parser.add_argument("--tool", choices=("paho", "mosquitto_pub"), default="paho")
    args = parser.parse_args()
    print(f"# {command_line()}\n# {describe_machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        out = work / "out"
        settings = Settings(
            server_hosts=["127.0.0.1", "localhost"], tls_port=free_port(),
            tls_bind="127.0.0.1", local_port=free_port(),
            broker_folder=str(out / "server" / "mosquitto"),
        )  # fmt: skip
        provision(load_config(EXAMPLE), out, settings)
        include = f"include_dir {out / 'server' / 'conf.d'}\n"
        with LocalMosquitto(
            work / "broker", port=settings.tls_port, config=include,
            also_ports=(settings.local_port,),
        ) as broker:  # fmt: skip
            db = work / "events.sqlite"
            server = subprocess.Popen(
                [sys.executable, "-m", "nowserving", "server", "--config", str(EXAMPLE),
                 "--broker", f"127.0.0.1:{settings.local_port}", "--username", "server",
                 "--password-file", str(out / "server" / "server.password"), "--db", str(db),
                 "--new"],
                stdout=subprocess.DEVNULL, stderr=(work / "server.log").open("wb"),
            )  # fmt: skip
            device = load_device_config(
                out / "devices" / "counter-2" / "nowserving" / "device.toml"
            )
            try:
                with BranchClient(broker_for(device), "pudong", "counter-2") as counter:
                    ping_times(counter, 5, 0)  # warm up: the server checks the broker first
                    quiet = ping_times(counter, args.pings, args.interval)
                    cpu = cpu_seconds(server.pid)
                    flood = flooder(args, out, args.tool)
                    started = time.monotonic()
                    loud: list[float] = []
                    while time.monotonic() - started < args.seconds:
                        loud += ping_times(counter, 1, args.interval)
                    took = time.monotonic() - started
                    flood.kill()
                    flood.wait()
                    server_cpu = cpu_seconds(server.pid) - cpu
            finally:
                server.terminate()
                server.wait(10)
            with sqlite3.connect(db) as log:
                rows = log.execute(
                    "SELECT count(*) FROM events WHERE device='counter-1'"
                ).fetchone()[0]
            dropped = broker.log_path.read_text().count("Outgoing messages are being dropped")
    print(f"flood: counter-1's login, {args.tool}, call_next at QoS {args.qos}, {took:.1f} s")
    print(f"quiet:  {describe(quiet)}")
    print(f"flood:  {describe(loud)}")
    print(
        f"server CPU during the flood: {server_cpu / took:.0%} of a core; counter-1's rows "
        f"in the event log: {rows}; broker 'messages are being dropped' lines: {dropped}"
    )


if __name__ == "__main__":
    main()
