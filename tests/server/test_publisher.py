"""LatestPublisher: retained messages encoded and sent on their own thread, newest per topic."""

from __future__ import annotations

import json
import threading

import pytest

from nowserving.server.publisher import LatestPublisher
from tests.waiting import wait_until


class Sent:
    """A publish function that records what it is given; `hold` keeps it inside its first
    call until `release`, so that a test can offer more while the thread is busy."""

    def __init__(self, hold: bool = False, fail_on: str | None = None) -> None:
        self.messages: list[tuple[str, dict]] = []
        self.inside, self.released = threading.Event(), threading.Event()
        self.hold, self.fail_on = hold, fail_on
        if not hold:
            self.released.set()

    def __call__(self, topic: str, payload: bytes) -> None:
        self.inside.set()
        self.released.wait(10)
        if topic == self.fail_on:
            raise RuntimeError("the broker link broke")
        self.messages.append((topic, json.loads(payload)))


def test_a_topic_offered_again_while_busy_is_sent_once_with_the_newest():
    """GIVEN the publisher busy sending line a's first message WHEN a's second and third and
    b's first are offered THEN a's first, a's third and b's first go out, the second never."""
    sent = Sent(hold=True)
    with LatestPublisher(sent) as publisher:
        publisher.offer("line/a", {"seq": 1})
        assert sent.inside.wait(10)
        publisher.offer("line/a", {"seq": 2})
        publisher.offer("line/a", {"seq": 3})
        publisher.offer("line/b", {"seq": 3})
        sent.released.set()
        assert publisher.flush(10)
        assert sent.messages == [("line/a", {"seq": 1}), ("line/a", {"seq": 3}),
                                 ("line/b", {"seq": 3})]  # fmt: skip
        assert (publisher.sent, publisher.replaced) == (3, 1)


def test_close_drops_what_is_pending_and_nothing_offered_after_goes():
    """GIVEN the publisher sending line a, line b pending WHEN it is closed THEN a goes out,
    b is dropped (a stopping server must not overwrite a retained message later), and
    nothing offered after the close goes either."""
    sent = Sent(hold=True)
    publisher = LatestPublisher(sent)
    publisher.offer("line/a", {"seq": 1})
    assert sent.inside.wait(10)
    publisher.offer("line/b", {"seq": 1})
    assert publisher.pending == 1
    closing = threading.Thread(target=publisher.close)
    closing.start()
    wait_until(lambda: publisher.pending == 0, what="close() to drop line/b")
    sent.released.set()
    closing.join(10)
    publisher.close()  # idempotent
    publisher.offer("line/c", {"seq": 2})
    assert [topic for topic, _ in sent.messages] == ["line/a"]


@pytest.mark.expect_log_exception
def test_a_failing_publish_is_logged_and_later_messages_still_go(caplog):
    sent = Sent(fail_on="line/a")
    with LatestPublisher(sent) as publisher:
        publisher.offer("line/a", {"seq": 1})
        assert publisher.flush(10)
        publisher.offer("line/b", {"seq": 2})
        assert publisher.flush(10)
    assert sent.messages == [("line/b", {"seq": 2})]
    assert "publishing on line/a failed" in caplog.text
