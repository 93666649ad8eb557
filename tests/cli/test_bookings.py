"""`nowserving bookings import` against the real server and Mosquitto: the shipped CSV and
ICS examples are booked once however often they are imported, and bad rows are reported by
line, never with a traceback."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from nowserving.cli import main
from nowserving.config import EXAMPLE

CSV = EXAMPLE.parent / "bookings.csv"
ICS = EXAMPLE.parent / "bookings.ics"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def imported(broker, path) -> int:
    return main(["bookings", "import", "--config", str(EXAMPLE), "--broker",
                 f"{broker.host}:{broker.port}", str(path)])  # fmt: skip


def made(server) -> list[dict]:
    return [e.data for e in server.store.events() if e.type == "booking_made"]


def local(at: float) -> str:
    return datetime.fromtimestamp(at, SHANGHAI).strftime("%Y-%m-%d %H:%M")


def test_the_examples_are_booked_once_however_often_imported(server, broker, capsys):
    """GIVEN the example CSV (3 bookings) and ICS (2, and one cancelled) WHEN each is
    imported twice THEN 5 bookings are made, at the files' times in branch time, and the
    second import answers with the same booking ids and codes (by the file's ids, sent as
    `ref`: each import's command ids are new)."""
    assert imported(broker, CSV) == 0
    first = capsys.readouterr().out.splitlines()
    assert first[0] == "id,booking,code" and len(first) == 4
    assert all(len(line.split(",")[2]) == 10 for line in first[1:])  # each booking's code
    assert imported(broker, ICS) == 0
    assert imported(broker, CSV) == 0
    again = capsys.readouterr().out.splitlines()
    assert again[-3:] == first[1:]  # the same bookings, with the same codes
    assert imported(broker, ICS) == 0
    bookings = made(server)
    assert [(b["service"], local(b["at"]), b["duration"], b["priority"]) for b in bookings] == [
        ("loans", "2026-11-23 10:00", "long", "normal"),
        ("wealth", "2026-11-23 10:30", "standard", "normal"),
        ("loans", "2026-11-23 14:00", "standard", "priority"),
        ("wealth", "2026-11-23 11:00", "standard", "normal"),  # 03:00Z
        ("loans", "2026-11-23 15:30", "long", "normal"),
    ]


def test_bad_rows_are_reported_by_line_and_the_rest_booked(server, broker, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text(
        "ID,Service,Time,Phone\n"
        "a1,loans,2026-11-23 11:00,139 1234-5678\n"  # fine, with a phone for the webhook
        "a2,,2026-11-23 11:00\n"  # no service
        "a3,loans,tomorrow\n"  # no time
        "a1,loans,2026-11-23 12:00\n"  # the same id again
        "a4,cash,2026-11-23 11:00\n"  # cash takes no bookings
        "a5,loans,2026-11-20 11:00\n"  # past
        "a6,loans,2026-11-23 11:30,call me\n",  # no phone number
        encoding="utf-8",
    )
    assert imported(broker, path) == 1
    err = capsys.readouterr().err
    assert "line 3: no service" in err
    assert "line 4: time 'tomorrow' is not 'YYYY-MM-DD HH:MM'" in err
    assert "line 5: id 'a1' again (first on line 2)" in err
    assert "line 6: a4: not_bookable" in err
    assert "line 7: a5: bad_booking_time" in err
    assert "line 8: phone is no mobile number" in err and "call me" not in err
    assert not any("13912345678" in str(e.data) for e in server.store.events())
    assert "1 booked (none twice), 6 not booked" in err
    assert "Traceback" not in err
    # The booking system changed a1's time: refused, not booked twice.
    path.write_text("id,service,time\na1,loans,2026-11-23 11:30\n", encoding="utf-8")
    assert imported(broker, path) == 1
    assert "line 2: a1: booking_changed: changed since it was imported" in capsys.readouterr().err
    assert len(made(server)) == 1
    for content, says in (
        (b"\xff\xfeid", "not UTF-8 text"),
        (b"name,when\nx,y\n", "the header must name the columns id, service, time"),
    ):
        path.write_bytes(content)
        assert imported(broker, path) == 1
        assert says in capsys.readouterr().err
