"""QoS 1 request/reply latency through Mosquitto on loopback, with Nagle's algorithm off
on both ends (as nowserving runs) and with the defaults of paho and Mosquitto.

    .venv/bin/python bench/mqtt_roundtrip.py [--n 200]

One client publishes a request; an echo client answers on a reply topic; the time from
publish to the reply's arrival is measured, one request at a time.
"""

from __future__ import annotations

import argparse
import queue
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import command_line, describe_machine  # noqa: E402

from nowserving.adapters.mqtt import Broker, MqttLink  # noqa: E402
from nowserving.devtools.broker import LocalMosquitto  # noqa: E402


class _DefaultLink(MqttLink):
    """The same link without TCP_NODELAY: paho's default socket."""

    def _socket_opened(self, client, userdata, sock) -> None:
        pass


def round_trips(port: int, link_class: type, n: int) -> list[float]:
    broker = Broker("127.0.0.1", port)
    replies: queue.Queue = queue.Queue()
    echo = link_class(broker, "echo")
    echo._on_message = lambda t, p, m, q: echo.publish("rt/reply", p)  # paho thread
    echo.subscribe("rt/request")
    asker = link_class(broker, "asker", on_message=lambda t, p, m, q: replies.put(p))
    asker.subscribe("rt/reply")
    times = []
    with echo, asker:
        echo.start()
        asker.start()
        echo.wait_connected(5)
        asker.wait_connected(5)
        time.sleep(0.3)  # let both SUBACKs arrive before timing
        for i in range(n):
            started = time.perf_counter()
            asker.publish("rt/request", str(i).encode())
            replies.get(timeout=5)
            times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    print(f"$ {command_line()}")
    print(describe_machine())
    for label, link_class, nodelay in (
        ("TCP_NODELAY on both ends", MqttLink, True),
        ("defaults (Nagle on)", _DefaultLink, False),
    ):
        with tempfile.TemporaryDirectory() as tmp, LocalMosquitto(tmp, nodelay=nodelay) as mq:
            times = round_trips(mq.port, link_class, args.n)
        times.sort()
        print(
            f"{label:<26} QoS 1 request/reply: p50 {statistics.median(times):.2f} ms, "
            f"p99 {times[int(0.99 * len(times))]:.2f} ms ({args.n} round trips)"
        )


if __name__ == "__main__":
    main()
