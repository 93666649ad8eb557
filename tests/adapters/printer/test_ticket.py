"""Tickets as the printer gets them: python-escpos's real bytes (Dummy transport), read back
and compared with the layout; the QR code decoded with zbar."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace
from datetime import datetime

import pytest
from PIL import ImageChops

from nowserving.adapters.printer.device import Paper, TicketPrinter, open_escpos
from nowserving.adapters.printer.layout import (
    MIN_DOTS,
    PAPER_DOTS,
    Feed,
    QrCode,
    Strip,
    TicketContent,
    _strip,
    lay_out,
    preview,
)
from nowserving.config.hardware import PrinterSettings
from nowserving.errors import PrinterError
from tests.adapters.printer.escpos_bytes import parse

URL = "https://queue.example/pudong/t/Xk3v9Qa2Lm"
TICKETS = {
    "zh": TicketContent(
        "zh", "浦东支行", "现金存取", "A012", 3, (5, 12), datetime(2026, 11, 23, 9, 7), URL
    ),
    "en": TicketContent(
        "en",
        "Pudong Branch",
        "Cash deposit & withdrawal",
        "A012",
        0,
        None,
        datetime(2026, 11, 23, 9, 7),
        URL,
    ),  # fmt: skip
}


def printed(ticket: TicketContent, paper_mm: int, profile: str) -> tuple[list, bytes]:
    settings = PrinterSettings(kind="dummy", paper_mm=paper_mm, profile=profile)
    with TicketPrinter(open_escpos(settings), settings) as printer:
        parts = lay_out(ticket, paper_mm, printer.printable_dots)
        printer.print_ticket(parts)
        return parts, printer.escpos.output


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize(("paper_mm", "profile"), [(80, "TM-T88V"), (58, "POS-5890")])
def test_the_bytes_print_exactly_the_layout(language, paper_mm, profile):
    """GIVEN a laid-out ticket WHEN printed on the Dummy printer THEN reading the bytes back
    gives the same strips (pixel for pixel), feeds and QR code (native where the profile
    has it, raster where not), then a cut where the printer has a cutter."""
    parts, data = printed(TICKETS[language], paper_mm, profile)
    commands = parse(data)
    if profile == "TM-T88V":  # a printer with a cutter cuts; one without only feeds
        assert commands.pop() == ("cut", None)
    expected = []
    for part in parts:
        if isinstance(part, Strip):
            expected.append("image")
        elif isinstance(part, Feed):
            expected.append("feed")
        elif isinstance(part, QrCode):
            expected.append("qr" if profile == "TM-T88V" else "image")
    assert [kind for kind, _ in commands] == expected
    images = iter(value for kind, value in commands if kind == "image")
    for part in parts:
        if isinstance(part, Strip):
            got, drawn = next(images), part.on_paper()
            # GS v 0 pads rows to whole bytes: compare the ticket's own columns.
            padded = (part.image.width + 7) // 8 * 8 * part.scale
            assert got.size == (padded, drawn.height)
            own = got.crop((0, 0, drawn.width, got.height)).convert("L")
            diff = ImageChops.difference(own, drawn.convert("L"))
            assert diff.getbbox() is None
        elif isinstance(part, QrCode) and profile != "TM-T88V":
            next(images)  # the printer has no native QR: a raster one
    qr = [value for kind, value in commands if kind == "qr"]
    assert qr == ([URL] if profile == "TM-T88V" else [])


@pytest.mark.parametrize("paper_mm", [80, 58])
def test_a_printer_whose_profile_knows_no_width_prints_in_silence(paper_mm, capsys):
    """GIVEN the default profile, which does not know the paper's width (python-escpos then
    prints a warning to stdout for every image: nine lines a ticket in the journal and in the
    self-test) WHEN a ticket is printed THEN nothing is printed to stdout, the profile's
    width is the paper's for this printer only, and the layout is the paper's."""
    settings = PrinterSettings(kind="dummy", paper_mm=paper_mm)
    with TicketPrinter(open_escpos(settings), settings) as printer:
        assert printer.printable_dots is None  # the profile does not say: the paper decides
        printer.print_ticket(lay_out(TICKETS["zh"], paper_mm, printer.printable_dots))
        assert (
            printer.escpos.profile.profile_data["media"]["width"]["pixels"] == PAPER_DOTS[paper_mm]
        )
    assert capsys.readouterr().out == ""
    fresh = open_escpos(settings).profile.profile_data["media"]["width"]["pixels"]
    assert fresh == "Unknown"  # the library's own profile is left as it was


def test_an_80mm_chinese_ticket_with_qr_fits_the_byte_budget(example_config):
    """A 115,200-baud serial printer moves ~11 KB/s: an 80 mm Chinese ticket with its QR
    code must stay within 12 KB: the example branch's fullest (a priority class, its
    counters, the missed-call rule, the day's hours, a wait in hours and minutes)."""
    from zoneinfo import ZoneInfo

    from nowserving.adapters.printer.content import ticket_content

    monday = datetime(2026, 12, 7, 9, 7, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    ticket = ticket_content(
        example_config, language="zh", service="cash", number="A012", ahead=17,
        wait=(221, 325), issued_at=monday, url=URL, priority="priority",
    )  # fmt: skip
    assert ticket.priority and ticket.counters and ticket.hours and ticket.recalls is not None
    for content in (TICKETS["zh"], ticket):
        _, data = printed(content, 80, "TM-T88V")
        assert len(data) <= 12 * 1024, len(data)


@pytest.mark.skipif(not shutil.which("zbarimg"), reason="zbar-tools not installed")
@pytest.mark.parametrize("paper_mm", [58, 80])
def test_the_previews_qr_code_decodes_to_the_ticket_url(paper_mm, tmp_path):
    """GIVEN the ticket's picture WHEN zbar reads it THEN it finds the ticket's URL."""
    image = preview(lay_out(TICKETS["zh"], paper_mm), paper_mm)
    assert image.width == PAPER_DOTS[paper_mm]
    path = tmp_path / "ticket.png"
    image.save(path)
    out = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(path)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == URL


def test_a_long_service_name_is_shrunk_to_the_paper():
    """GIVEN a service name far wider than 58 mm paper WHEN laid out THEN its strip fits."""
    long = TicketContent(
        "en", "Pudong", "International remittances and foreign exchange services", "F001",
        1, (1, 3), datetime(2026, 11, 23, 9, 7), URL,
    )  # fmt: skip
    for part in lay_out(long, 58):
        if isinstance(part, Strip):
            assert part.image.width <= PAPER_DOTS[58] - 16


def test_a_printer_that_cannot_say_reports_unknown_paper():
    """GIVEN a printer whose transport cannot be read (a file, the Dummy) WHEN asked for
    paper THEN the answer is unknown, never plenty."""
    settings = PrinterSettings(kind="dummy")
    with TicketPrinter(open_escpos(settings), settings) as printer:
        assert printer.paper() is Paper.UNKNOWN and printer.online() is None


def test_a_printer_that_fails_mid_print_raises_a_printer_error():
    """GIVEN a transport that fails after some bytes WHEN printing THEN PrinterError."""
    settings = PrinterSettings(kind="dummy", profile="TM-T88V")
    escpos = open_escpos(settings)
    calls = []

    def failing_raw(msg: bytes) -> None:
        calls.append(msg)
        if len(calls) > 5:
            raise OSError("[Errno 19] No such device (unplugged)")

    escpos._raw = failing_raw
    with TicketPrinter(escpos, settings) as printer, pytest.raises(PrinterError, match="unplugged"):
        printer.print_ticket(lay_out(TICKETS["zh"], 80))


def test_an_unknown_printer_kind_is_refused():
    with pytest.raises(PrinterError, match="unknown printer kind"):
        open_escpos(PrinterSettings(kind="laser"))


LONG_NAMES = {  # 50 characters each
    "zh": "个人外汇买卖、跨境汇款与境外留学及旅游金融综合服务专窗"
    "（含外币兑换、外籍人士开户及旅行支票业务办理）",
    "en": "International remittances, foreign exchange & gold",
}


def service_strips(ticket: TicketContent, paper_mm: int) -> list[Strip]:
    """The strips between the branch's name and "your number": the service's name."""
    parts = lay_out(ticket, paper_mm)
    strips = [p for p in parts if isinstance(p, Strip)]
    return strips[1:-9] if ticket.url else strips[1:-7]


@pytest.mark.parametrize("paper_mm", [58, 80])
@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_long_service_name_wraps_to_readable_lines(language, paper_mm, tmp_path):
    """GIVEN a 50-character service name WHEN laid out on 58 or 80 mm paper THEN it takes
    two lines that fit the paper, none in type under 18 dots (2.25 mm), on 58 mm each at
    least 3/4 as tall as a short name's (it used to shrink to one line of 1.75 mm type);
    only 50 Chinese characters on 58 mm, which two lines of 18-dot type cannot hold, take a
    third line instead; no QR code without a ticket page."""
    name = LONG_NAMES[language]
    assert len(name) == 50
    branch, service, counters, priority = {
        "zh": ("浦东支行", "现金存取", ("1号窗口", "2号窗口"), "优先（老人、孕妇、残障人士）"),
        "en": ("Pudong Branch", "Cash", ("Counter 1", "Counter 2"), "Priority (elderly)"),
    }[language]  # fmt: skip
    short = TicketContent(language, branch, service, "A012", 3, (5, 12),
                          datetime(2026, 11, 23, 9, 7))  # fmt: skip
    reference = lay_out(short, paper_mm)[2].image.height
    long = replace(short, service=name, counters=counters, recalls=2, priority=priority,
                   hours="09:00–17:00")  # fmt: skip
    parts = lay_out(long, paper_mm)
    strips = [p.image for p in parts[2:] if isinstance(p, Strip)]
    lines = 3 if (language, paper_mm) == ("zh", 58) else 2
    assert [s.tobytes() for s in strips[:lines]] == [
        s.tobytes() for s in _wrapped_name(name, paper_mm)
    ]
    readable = _strip(short.service, MIN_DOTS, 999, 1).height  # the smallest readable type
    for strip in strips[:lines]:
        assert strip.width <= PAPER_DOTS[paper_mm] - 16
        assert strip.height >= readable, (strip.height, readable)
        if paper_mm == 58:
            assert strip.height >= 0.75 * reference, (strip.height, reference)
    assert not [p for p in parts if isinstance(p, QrCode)]  # no ticket page: no QR code
    if folder := os.environ.get("KIOSK_SCREENSHOTS"):  # docs/screenshots: looked at
        preview(parts, paper_mm).save(f"{folder}/ticket-long-{language}-{paper_mm}mm.png")


def _wrapped_name(name: str, paper_mm: int) -> list:
    """The service's name as the ticket wraps it (40 dots on 80 mm, bold)."""
    from nowserving.adapters.printer.layout import MARGIN_DOTS, _wrapped

    size = round(40 * PAPER_DOTS[paper_mm] / PAPER_DOTS[80])
    return _wrapped(name, size, PAPER_DOTS[paper_mm] - 2 * MARGIN_DOTS, 1)


@pytest.mark.parametrize("paper_mm", [58, 80])
@pytest.mark.parametrize("language", ["zh", "en"])
def test_without_a_page_no_qr_code_and_no_promise_of_one(language, paper_mm):
    """GIVEN a branch with no ticket page (no `ticket_url`) THEN the ticket has no QR code
    and does not say "scan"; with one, it has both."""
    without = replace(TICKETS[language], url=None)
    parts = lay_out(without, paper_mm)
    assert not [p for p in parts if isinstance(p, QrCode)]
    scan = _scan(language, paper_mm)
    assert not any(p.image.tobytes() == scan for p in parts if isinstance(p, Strip))
    parts = lay_out(TICKETS[language], paper_mm)
    assert [p.url for p in parts if isinstance(p, QrCode)] == [URL]
    assert any(p.image.tobytes() == scan for p in parts if isinstance(p, Strip))


def _scan(language: str, paper_mm: int = 80) -> bytes:
    """The "scan to follow" line as the ticket prints it."""
    from nowserving.adapters.printer.layout import MARGIN_DOTS, _wrapped
    from nowserving.i18n import text

    size = max(18, round(22 * PAPER_DOTS[paper_mm] / PAPER_DOTS[80]))
    width = PAPER_DOTS[paper_mm] - 2 * MARGIN_DOTS
    return _wrapped(text(language, "ticket.scan"), size, width)[0].tobytes()


def test_the_ticket_says_where_to_go_what_to_watch_and_what_a_missed_call_means():
    """GIVEN the counters that serve it, its priority class, the branch's recall rule and
    today's hours THEN the ticket prints each line (the same words at the same size make
    the same pixels, so each is found among the ticket's strips)."""
    from nowserving.adapters.printer.layout import MARGIN_DOTS, _wrapped

    full = replace(
        TICKETS["en"], counters=("Counter 1", "Counter 2"), recalls=2, hours="09:00–17:00",
        priority="Priority",
    )  # fmt: skip
    printed = [p.image.tobytes() for p in lay_out(full, 80) if isinstance(p, Strip)]
    width = PAPER_DOTS[80] - 2 * MARGIN_DOTS
    for words, size in (
        ("Priority", 28),
        ("Served at Counter 1, Counter 2", 20),
        ("Please watch the screens and listen for your number.", 20),
        ("If you miss your call it is made again; after 3 calls the number lapses.", 18),
        ("Open today 09:00–17:00", 18),
    ):
        bold = 1 if words == "Priority" else 0
        for strip in _wrapped(words, size, width, bold):
            assert strip.tobytes() in printed, words
    plain = [p.image.tobytes() for p in lay_out(TICKETS["en"], 80) if isinstance(p, Strip)]
    assert _wrapped("Open today 09:00–17:00", 18, width)[0].tobytes() not in plain
