"""kill -9 the server while commands stream in: after a restart every command the broker
accepted is in the state exactly once, acknowledged ones included."""

from __future__ import annotations

import queue
import threading
from collections import Counter

from nowserving.adapters.store import EventLog

N = 400


def test_kill_9_mid_stream_loses_nothing_and_doubles_nothing(server_process, connect):
    server_process.start()
    kiosk = connect("kiosk-1")
    ids = [kiosk.new_command_id() for _ in range(N)]
    sent: queue.Queue = queue.Queue()  # (id, future) in the order they were sent
    replied: dict = {}
    killed = threading.Event()

    def collect() -> None:
        for _ in ids:
            command_id, future = sent.get(timeout=90)
            replied[command_id] = future.result(timeout=90)
            if len(replied) == N // 4:
                server_process.kill()  # mid-stream: more commands are on their way
                killed.set()

    collector = threading.Thread(target=collect)
    collector.start()
    for i, command_id in enumerate(ids):
        future = kiosk.send(
            "issue_ticket",
            {"service": ("cash", "business", "wealth")[i % 3]},
            command_id=command_id,
            deadline_s=60,
        )
        sent.put((command_id, future))
        if i == N // 2:
            assert killed.wait(30)
            server_process.start()  # the rest arrive while it comes back
    collector.join(timeout=90)
    assert not collector.is_alive() and len(replied) == N, f"{len(replied)} of {N} replies"
    assert server_process.stop() == 0
    with EventLog(server_process.db) as log:
        applied = Counter(e.command_id for e in log.events() if e.type == "ticket_issued")
        numbers = [e.data["ticket"] for e in log.events() if e.type == "ticket_issued"]
    assert all(r.ok for r in replied.values())
    assert set(applied) == set(ids), "a command the broker accepted was lost"
    assert max(applied.values()) == 1, "a command was applied twice"
    assert len(numbers) == len(set(numbers)) == N
