"""Tickets as the printer gets them: python-escpos's real bytes (Dummy transport), read back
and compared with the layout; the QR code decoded with zbar."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime

import pytest
from PIL import ImageChops

from nowserving.adapters.printer.device import Paper, TicketPrinter, open_escpos
from nowserving.adapters.printer.layout import (
    PAPER_DOTS,
    Feed,
    QrCode,
    Strip,
    TicketContent,
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
            got = next(images)
            width = part.image.width
            # GS v 0 pads rows to whole bytes: compare the ticket's own columns.
            assert got.size == ((width + 7) // 8 * 8, part.image.height)
            own = got.crop((0, 0, width, got.height)).convert("L")
            diff = ImageChops.difference(own, part.image.convert("L"))
            assert diff.getbbox() is None
        elif isinstance(part, QrCode) and profile != "TM-T88V":
            next(images)  # the printer has no native QR: a raster one
    qr = [value for kind, value in commands if kind == "qr"]
    assert qr == ([URL] if profile == "TM-T88V" else [])


def test_an_80mm_chinese_ticket_with_qr_fits_the_byte_budget():
    """A 115,200-baud serial printer moves ~11 KB/s: an 80 mm Chinese ticket with its QR
    code must stay within 12 KB."""
    _, data = printed(TICKETS["zh"], 80, "TM-T88V")
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
