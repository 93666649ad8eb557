"""How fast the head office's ingest stores every branch's events, and how far behind it
falls under a burst.

    .venv/bin/python bench/headoffice_ingest.py [--branches 50] [--days 3] [--templates 12]
        [--burst-rate 1670] [--burst-s 20] [--inflight 1000]

Branch days come from the simulator's worlds (`nowserving simulate`: the real domain
driving the bank scenarios' arrivals, calls, no-shows, pauses; tickets carry their printed
estimate): `--templates` simulated days, each given to branches × days with its times
shifted to that day and its seqs following on from the branch's previous day, published as
the branch server publishes them (`event_message`) on `nowserving/v2/<branch>/events` of a
real Mosquitto (anonymous, loopback, `max_inflight_messages --inflight`), read by `nowserving
headoffice ingest` as its own process into a real PostgreSQL (Debian's, started as the tests
start it: tests/headoffice/pg.py, fsync on).

1. **Backlog**: the ingest is stopped (its session kept), every event of branches × days is
   published, the ingest started: events/s from its first stored event to its last.
2. **Burst**: the ingest running, events published live at `--burst-rate / 10` for 10 s,
   then at `--burst-rate` (default 10 × the 500-branch peak of issue 26: 36 M events a
   month make ~167 events/s at peak) for `--burst-s`, then quiet: the lag (age of the oldest
   event published and not yet stored, sampled every 0.1 s) and the backlog in events.
3. **Disk**: the events partitions (table + indexes) per million events.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from bisect import bisect_right
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(ROOT))

import paho.mqtt.client as paho  # noqa: E402
import psycopg  # noqa: E402
from _common import command_line, cpu_seconds, describe_machine, pct  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion  # noqa: E402

from nowserving.devtools.broker import LocalMosquitto  # noqa: E402
from nowserving.protocol.messages import encode, event_message  # noqa: E402
from nowserving.sim import SCENARIOS, simulate  # noqa: E402
from nowserving.sim.engine import DAY_S  # noqa: E402
from tests.headoffice.pg import Postgres  # noqa: E402

# The session's queue unbounded (the backlog is held for the ingest); the in-flight window
# as docs/headoffice.md advises.
BROKER = "max_inflight_messages {inflight}\nmax_queued_messages 0\nmax_queued_bytes 0\n"
WORLDS = ("bank-whole", "branch-full", "bank-heavy-tail", "bank-uneven", "bank-patience")


def templates(count: int) -> list[list]:
    """`count` simulated branch days (domain events), from the bank worlds in turn."""
    days = []
    for i in range(count):
        scenario = dataclasses.replace(SCENARIOS[WORLDS[i % len(WORLDS)]], days=1)
        events: list = []
        simulate(scenario, seed=100 + i, record=events.extend)
        days.append(events)
    return days


class Branches:
    """Each branch's stream of days: template days shifted in time, seqs following on."""

    def __init__(self, days: list[list], branches: int) -> None:
        self.days = days
        self.names = [f"b{i:04d}" for i in range(branches)]
        self.seq = dict.fromkeys(self.names, 0)

    def day(self, index: int, day: int) -> tuple[str, list[bytes]]:
        """(topic, payloads) of branch `index`'s day `day`."""
        name = self.names[index]
        template = self.days[(index * 7 + day) % len(self.days)]
        out = []
        for event in template:
            self.seq[name] += 1
            shifted = dataclasses.replace(event, seq=self.seq[name], at=event.at + day * DAY_S)
            out.append(encode(event_message(shifted)))
        return f"nowserving/v2/{name}/events", out

    def interleaved(self, first_day: int, days: int) -> list[tuple[str, bytes]]:
        """Every branch's `days` days from `first_day`, branches taking turns (as a broker
        sees many bridges at once), each branch's events in order."""
        streams = []
        for index in range(len(self.names)):
            topic, payloads = [], []
            for day in range(first_day, first_day + days):
                t, p = self.day(index, day)
                topic = t
                payloads += p
            streams.append((topic, payloads))
        out, position = [], [0] * len(streams)
        while True:
            moved = False
            for i, (topic, payloads) in enumerate(streams):
                chunk = payloads[position[i] : position[i] + 5]
                position[i] += len(chunk)
                out += [(topic, p) for p in chunk]
                moved = moved or bool(chunk)
            if not moved:
                return out


class Publisher:
    """One paho client publishing at QoS 1 (a bridge is one connection too), its network
    loop run by the publishing thread itself: paho loses track of in-flight messages when
    another thread publishes at this rate (the acks stop coming after ~60,000)."""

    def __init__(self, port: int) -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-publisher",
                                  protocol=MQTTProtocolVersion.MQTTv5)  # fmt: skip
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.sent = self.acked = 0
        self.client.on_publish = self._acked
        self.client.connect("127.0.0.1", port)

    def _acked(self, *_args) -> None:
        self.acked += 1

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain)
        self.sent += 1
        if self.sent % 200 == 0:
            self.pump(0)

    def pump(self, seconds: float) -> None:
        """Run the network loop for about `seconds` (at least one pass)."""
        end = time.perf_counter() + seconds
        while True:
            self.client.loop(max(0.0, min(0.05, end - time.perf_counter())))
            if time.perf_counter() >= end:
                return

    def flush(self, timeout: float = 600) -> None:
        """Until the broker has acknowledged every message published."""
        deadline = time.perf_counter() + timeout
        while self.acked < self.sent:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"the broker's acks ({self.acked} of {self.sent})")
            self.client.loop(0.05)

    def close(self) -> None:
        self.client.disconnect()


class IngestProcess:
    """`nowserving headoffice ingest` against the bench's broker and database."""

    def __init__(self, dsn: str, port: int, log: Path, profile: Path | None = None,
                 rebuild: bool = True) -> None:  # fmt: skip
        profiler = ["-m", "cProfile", "-o", str(profile)] if profile else []
        self.argv = [sys.executable, *profiler, "-m", "nowserving", "headoffice", "ingest",
                     "--dsn", dsn, "--broker", f"127.0.0.1:{port}"]  # fmt: skip
        if not rebuild:
            self.argv.append("--no-rebuild")
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)


def wait_for(predicate, timeout: float, what: str, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(every)  # polling the database for a condition, bounded by the deadline


def stored(conn) -> int:
    return int(conn.execute("SELECT coalesce(sum(contiguous_seq), 0) FROM branches").fetchone()[0])


def backlog(args, branches: Branches, ingest, publisher, conn) -> dict:
    """Everything queued at the broker while the ingest is down; then how fast it drains."""
    ingest.stop()
    made = time.perf_counter()
    messages = branches.interleaved(0, args.days)
    made = time.perf_counter() - made
    start = time.perf_counter()
    for topic, payload in messages:
        publisher.publish(topic, payload)
    publisher.flush()
    published = time.perf_counter() - start
    before = stored(conn)
    started = time.perf_counter()
    ingest.start()
    wait_for(lambda: stored(conn) >= before + len(messages), 3600, "the backlog", 0.5)
    wall = time.perf_counter() - started
    span = conn.execute(
        "SELECT extract(epoch FROM max(received_at) - min(received_at)), count(*) FROM events"
    ).fetchone()
    return {"events": len(messages), "made_s": made, "publish_s": published, "wall_s": wall,
            "span_s": float(span[0]), "rows": span[1],
            "ingest_cpu_s": cpu_seconds(ingest.proc.pid)}  # fmt: skip


def burst(args, branches: Branches, publisher, conn) -> dict:
    """Live: a base rate, then 10 times it, then quiet; the lag sampled meanwhile."""
    messages = branches.interleaved(args.days, 2)
    base = args.burst_rate / 10
    plan = [(10.0, base), (args.burst_s, args.burst_rate)]
    needed = int(sum(s * r for s, r in plan))
    messages = messages[:needed]
    sent_at: list[float] = []  # publish time of the k-th message of the burst
    origin = stored(conn)
    samples: list[tuple[float, int, float]] = []  # (t, backlog events, lag s)
    done = threading.Event()

    def sample() -> None:
        with psycopg.connect(conn.info.dsn, autocommit=True) as c:
            while not done.is_set():
                now, have = time.perf_counter(), stored(c) - origin
                sent = len(sent_at)
                lag = now - sent_at[have] if have < sent else 0.0
                samples.append((now, sent - have, lag))
                done.wait(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    i = 0
    phase_start = start
    for seconds, rate in plan:
        count = int(seconds * rate)
        for k in range(count):
            due = phase_start + k / rate
            delay = due - time.perf_counter()
            if delay > 0:
                publisher.pump(delay)  # pacing the publisher at the planned rate
            topic, payload = messages[i]
            sent_at.append(time.perf_counter())
            publisher.publish(topic, payload)
            i += 1
        phase_start += seconds
    end_of_burst = time.perf_counter()
    publisher.flush()
    wait_for(lambda: stored(conn) - origin >= i, 600, "the burst to be stored")
    caught_up = time.perf_counter()
    done.set()
    sampler.join()
    in_burst = [s for s in samples if s[0] >= start + 10]
    lags = [s[2] for s in in_burst]
    return {"events": i, "base": base, "rate": args.burst_rate,
            "achieved": (i - int(10 * base)) / (end_of_burst - start - 10),
            "lag_p50": pct(lags, 50), "lag_p99": pct(lags, 99), "lag_max": max(lags),
            "backlog_max": max(s[1] for s in in_burst),
            "caught_up_s": caught_up - end_of_burst,
            "cutoff": bisect_right([s[0] for s in samples], end_of_burst)}  # fmt: skip


def disk(conn) -> tuple[int, int, int]:
    """(bytes of the events partitions with their indexes, of their tables alone, rows)."""
    total, heap = conn.execute(
        "SELECT sum(pg_total_relation_size(inhrelid)), sum(pg_relation_size(inhrelid)) "
        "FROM pg_inherits WHERE inhparent = 'events'::regclass"
    ).fetchone()
    rows = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    return int(total), int(heap), rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--branches", type=int, default=50)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--templates", type=int, default=12)
    parser.add_argument("--burst-rate", type=float, default=1670.0)
    parser.add_argument("--burst-s", type=float, default=20.0)
    parser.add_argument("--inflight", type=int, default=1000)
    parser.add_argument("--skip-burst", action="store_true")
    parser.add_argument(
        "--no-rebuild",
        dest="rebuild",
        action="store_false",
        help="the ingest leaves the visits and rollups alone (as before 2026-12)",
    )
    parser.add_argument("--profile", type=Path, help="cProfile the ingest into this file")
    args = parser.parse_args()
    print(command_line())
    print(describe_machine())
    t = time.perf_counter()
    days = templates(args.templates)
    sizes = [len(d) for d in days]
    mean = sum(sizes) / len(sizes)
    print(f"{args.templates} simulated branch days in {time.perf_counter() - t:.1f} s: "
          f"{min(sizes)}-{max(sizes)} events a day (mean {mean:.0f})")  # fmt: skip
    branches = Branches(days, args.branches)
    work = Path(tempfile.mkdtemp(prefix="nowserving-bench-ho-"))
    pg = Postgres()
    pg.start(fsync=True)
    broker = LocalMosquitto(
        work / "broker",
        extra=BROKER.format(inflight=args.inflight),
    )
    broker.start()
    ingest = IngestProcess(
        pg.database(), broker.port, work / "ingest.log", args.profile, args.rebuild
    )
    publisher = None
    try:
        print(psycopg.connect(pg.dsn()).execute("SELECT version()").fetchone()[0].split(",")[0])
        conn = psycopg.connect(ingest.argv[ingest.argv.index("--dsn") + 1], autocommit=True)
        publisher = Publisher(broker.port)
        for name in branches.names:  # the bridges' flags: the ingest is subscribed once in
            publisher.publish(f"nowserving/bridge/{name}", b"1", retain=True)
        publisher.flush()
        ingest.start()
        wait_for(lambda: conn.execute("SELECT to_regclass('branches')").fetchone()[0]
                 and conn.execute("SELECT count(*) FROM branches").fetchone()[0]
                 == len(branches.names), 60, "the ingest to subscribe")  # fmt: skip
        b = backlog(args, branches, ingest, publisher, conn)
        print(f"\nbacklog: {args.branches} branches x {args.days} days = {b['events']:,} "
              f"events (made in {b['made_s']:.1f} s, queued at the broker in "
              f"{b['publish_s']:.1f} s)")  # fmt: skip
        print(f"  stored in {b['span_s']:.1f} s from the first to the last: "
              f"{b['events'] / b['span_s']:,.0f} events/s ({b['wall_s']:.1f} s from the "
              f"ingest's start: {b['events'] / b['wall_s']:,.0f} events/s); ingest process "
              f"CPU {b['ingest_cpu_s']:.1f} s ({b['ingest_cpu_s'] / b['events'] * 1e6:.0f} "
              f"µs/event)")  # fmt: skip
        expected = b["events"]
        if not args.skip_burst:
            r = burst(args, branches, publisher, conn)
            print(f"\nburst: {r['base']:,.0f} events/s for 10 s, then {r['rate']:,.0f} events/s "
                  f"(published {r['achieved']:,.0f}/s) for {args.burst_s:.0f} s")  # fmt: skip
            print(f"  lag during the burst: p50 {r['lag_p50'] * 1000:.0f} ms, p99 "
                  f"{r['lag_p99'] * 1000:.0f} ms, max {r['lag_max'] * 1000:.0f} ms; backlog "
                  f"at most {r['backlog_max']:,} events; all stored "
                  f"{r['caught_up_s'] * 1000:.0f} ms after the burst's last event")  # fmt: skip
            expected += r["events"]
        total, heap, rows = disk(conn)
        print(f"\ndisk: {rows:,} events take {total / 2**20:.0f} MiB with indexes "
              f"({heap / 2**20:.0f} MiB table): {total / rows * 1e6 / 2**30:.2f} GiB per "
              f"million events ({heap / rows * 1e6 / 2**30:.2f} GiB without indexes)")  # fmt: skip
        missing = conn.execute(
            "SELECT count(*) FROM branches WHERE contiguous_seq <> max_seq"
        ).fetchone()[0]
        print(f"branches with a hole: {missing}; every event published stored once: "
              f"{rows == expected}")  # fmt: skip
        conn.close()
    finally:
        if publisher is not None:
            publisher.close()
        ingest.stop()
        broker.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
