"""`line/<service>` through the real server and Mosquitto: small however long the line."""

from __future__ import annotations

import queue

from nowserving.adapters.mqtt import MqttLink
from nowserving.protocol import Topics
from nowserving.protocol.messages import LINE_HEAD
from nowserving.protocol.views import decode_line

LONG = 600


def test_a_line_of_600_reaches_staff_as_its_head_and_counts(server, connect, broker):
    """GIVEN 600 customers joining the cash line (every 60th a priority customer) WHEN a
    staff device watches the line THEN every message it gets is under 16 KB (a 600-long
    line was 136 KB), and the last lists the first 50 in call order and counts all 600."""
    payloads: queue.Queue = queue.Queue()
    topic = Topics("pudong").line("cash")
    with MqttLink(broker, "size-watcher", on_message=lambda t, p, m, q: payloads.put(p)) as link:
        link.subscribe(topic)
        link.start()
        assert link.wait_connected(10)
        staff = connect("manager", watch_lines=("cash",))
        # 200 each: what a device may send at once (the server's per-device budget).
        senders = [connect("kiosk-1"), connect("kiosk-2"), staff]
        futures = [
            senders[i % 3].send(
                "issue_ticket",
                {"service": "cash", "priority": "priority" if i % 60 == 59 else "normal"},
            )
            for i in range(LONG)
        ]
        assert all(f.result(timeout=60).ok for f in futures)
        line = staff.wait_line("cash", lambda line: line.waiting == LONG, timeout=20)
        sizes = []
        while True:
            payload = payloads.get(timeout=10)
            sizes.append(len(payload))
            if decode_line(payload).waiting == LONG:
                break
    assert max(sizes) < 16 * 1024, sizes
    head = [t.number for t in server.branch.next_in_line("cash", LINE_HEAD)]
    assert [t.number for t in line.tickets] == head and len(head) == LINE_HEAD
    assert (line.waiting, line.priority_waiting, line.more) == (LONG, LONG // 60, LONG - 50)
    assert line.tickets[0].priority == "priority"  # boosted to the front
