"""The webhook outbox seen from a second connection (as `nowserving webhooks` opens it):
each change is whole, and what the apply loop handed over is kept in its order."""

from __future__ import annotations

from nowserving.adapters.outbox import Bookings, WebhookOutbox

DAY = "2026-11-23"
PHONE = "13912345678"


def issued(number: str) -> tuple[str, str, str, dict]:
    ticket = f"{DAY}/{number}"
    body = {"id": f"pudong/{ticket}/issued/1", "type": "issued", "ticket": ticket}
    return f"{body['id']} http://hook", "http://hook", ticket, body


def test_a_dead_letter_never_shows_while_its_message_still_waits(tmp_path):
    """GIVEN a waiting message with a phone number WHEN its last try fails THEN a second
    connection, looking at every statement of the change, sees the message waiting or dead,
    never both, and the dead letter without the number."""
    path = tmp_path / "events-webhooks.sqlite"
    with WebhookOutbox(path) as outbox, WebhookOutbox(path) as watcher:
        outbox.take([issued("A001")], 0.0, 1, phones={f"{DAY}/A001": PHONE})
        [message] = outbox.due(1.0)
        assert message.body["phone"] == PHONE
        seen: list[tuple[int, int]] = []

        def look(statement: str) -> None:  # called by sqlite before each statement runs
            seen.append((watcher.waiting(), len(watcher.dead_letters())))

        outbox._db.set_trace_callback(look)  # the writer's own connection: no other hook
        outbox.failed(message.n, "HTTP 503", None, 2.0)
        outbox._db.set_trace_callback(None)
        seen.append((watcher.waiting(), len(watcher.dead_letters())))
        assert set(seen) == {(1, 0), (0, 1)} and seen[-1] == (0, 1), seen
        [dead] = watcher.dead_letters()
        assert "phone" not in dead.body and dead.attempts == 1 and dead.error == "HTTP 503"


def test_a_new_day_handed_over_with_its_first_ticket_keeps_who_was_told(tmp_path):
    """GIVEN yesterday's ticket told `near_turn` WHEN today's first batch (the day started,
    a ticket near its turn when issued) is kept THEN today's ticket counts as told and
    yesterday's does not; yesterday's number goes, today's stays."""
    path = tmp_path / "events-webhooks.sqlite"
    with WebhookOutbox(path) as outbox:
        outbox.take([], 0.0, 1, {"2026-11-22/A009"}, phones={"2026-11-22/A009": PHONE})
        outbox.take(
            [issued("A001")], 1.0, 3, {f"{DAY}/A001"}, phones={f"{DAY}/A001": PHONE}, day=DAY
        )
    with WebhookOutbox(path) as again:  # as the next server opens it
        assert again.near_sent() == {f"{DAY}/A001"} and again.cursor == 3
        assert again.phones_kept() == 2  # today's ticket's, and its waiting message's


def test_a_ticket_that_ended_keeps_its_number_only_in_its_waiting_messages(tmp_path):
    """GIVEN a ticket with a phone number WHEN its issued message and its end are handed
    over together THEN the message carries the number and the number is kept nowhere else;
    once the message is sent, nowhere at all."""
    path = tmp_path / "events-webhooks.sqlite"
    with WebhookOutbox(path) as outbox:
        outbox.take([issued("A001")], 0.0, 2, phones={f"{DAY}/A001": PHONE},
                    ended=[f"{DAY}/A001"])  # fmt: skip
        [message] = outbox.due(1.0)
        assert message.body["phone"] == PHONE and outbox.phones_kept() == 1
        outbox.sent(message.n)
        assert outbox.phones_kept() == 0 and outbox.waiting() == 0
    for file in tmp_path.glob("events-webhooks.sqlite*"):
        assert PHONE.encode() not in file.read_bytes(), file


def test_a_bookings_number_outlives_the_day_goes_to_its_ticket_or_goes(tmp_path):
    """GIVEN two bookings with numbers WHEN a new day starts, one becomes a booking no-show
    and then checks in late, and the other checks in, all in one hand-over THEN the missed
    one's number is gone (its late ticket has none) and the other's is its ticket's: its
    issued message carries it."""
    path = tmp_path / "events-webhooks.sqlite"
    other = "+8613800000000"
    with WebhookOutbox(path) as outbox:
        outbox.take([], 0.0, 1, bookings=Bookings(phones={"b1": PHONE, "b2": other}))
        moves = Bookings(checked_in={f"{DAY}/L001": "b1", f"{DAY}/L002": "b2"}, ended=["b2"])
        outbox.take([issued("L001"), issued("L002")], 1.0, 5, day=DAY, bookings=moves)
        bodies = {m.body["ticket"]: m.body for m in outbox.due(2.0)}
        assert bodies[f"{DAY}/L001"]["phone"] == PHONE and "phone" not in bodies[f"{DAY}/L002"]
        assert outbox.phones_kept() == 2  # L001's, and its waiting message's
    assert other.encode() not in b"".join(p.read_bytes() for p in tmp_path.iterdir())
