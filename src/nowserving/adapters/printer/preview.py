"""A sample ticket of a branch, as a picture and as the exact printer bytes: for looking at
the layout, for installers, and for the docs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from escpos.escpos import Escpos

from nowserving.adapters.printer.content import ticket_content
from nowserving.adapters.printer.device import Paper, TicketPrinter, open_escpos
from nowserving.adapters.printer.layout import TicketContent, lay_out, preview
from nowserving.config import BranchConfig
from nowserving.config.hardware import PrinterSettings
from nowserving.errors import PrinterError

SAMPLE_URL = "https://queue.example/{branch}/t/Xk3v9Qa2Lm"


def sample_ticket(config: BranchConfig, language: str) -> TicketContent:
    """The first service's ticket A012-style, three ahead, 5–12 minutes, issued at 09:07
    today, with a QR code (the branch's page, or a sample one)."""
    service = next(iter(config.rules.services.values()))
    zone = ZoneInfo(config.rules.timezone)
    morning = datetime.now(zone).replace(hour=9, minute=7, second=0, microsecond=0)
    return ticket_content(
        config, language=language, service=service.id,
        number=service.number_text(service.first_number + 11), ahead=3, wait=(5, 12),
        issued_at=morning.timestamp(), url=SAMPLE_URL.format(branch=config.rules.branch_id),
    )  # fmt: skip


def write_preview(
    config: BranchConfig,
    language: str,
    paper_mm: int,
    profile: str | None,
    png: Path | None,
    escpos: Path | None,
) -> list[str]:
    """Write what was asked for; returns a line saying what, for each file."""
    settings = PrinterSettings(kind="dummy", paper_mm=paper_mm, profile=profile or "TM-T88V")
    ticket = sample_ticket(config, language)
    said = []
    with TicketPrinter(open_escpos(settings), settings) as printer:
        parts = lay_out(ticket, paper_mm, printer.printable_dots)
        printer.print_ticket(parts)
        data = printer.escpos.output
        if escpos is not None:
            escpos.write_bytes(data)
            said.append(f"wrote {escpos}: {len(data):,} bytes for the printer ({settings.profile})")
    if png is not None:
        image = preview(parts, paper_mm)
        image.save(png)
        said.append(f"wrote {png}: {image.width}x{image.height} dots, {paper_mm} mm paper")
    if not said:
        said.append(f"{len(data):,} bytes; give --png and/or --escpos to write files")
    return said


@dataclass(frozen=True)
class PrintedTest:
    """What printing a test ticket found: the paper and online state before and after."""

    paper_before: Paper
    paper_after: Paper
    online: bool | None
    native_qr: bool
    bytes_sent: int | None  # known for the Dummy printer only
    parts: list = field(repr=False, default_factory=list)  # the layout, for a preview


def print_test_ticket(
    config: BranchConfig,
    device_id: str,
    settings: PrinterSettings,
    escpos: Escpos | None = None,
) -> PrintedTest:
    """Print a test ticket on the device's printer (or on `escpos`, already open), reading
    the paper sensor before and after. Raises PrinterError when the printer cannot be
    opened or fails, and before printing when it says it is out of paper or offline."""
    escpos = escpos if escpos is not None else open_escpos(settings)
    with TicketPrinter(escpos, settings) as printer:
        paper, online = printer.paper(), printer.online()
        if paper is Paper.OUT:
            raise PrinterError("the printer is out of paper")
        if online is False:
            raise PrinterError("the printer says it is offline (cover open, or paper jam?)")
        language = config.rules.languages[0]
        ticket = sample_ticket(config, language)
        test = TicketContent(
            language=language,
            branch=f"{ticket.branch} · {device_id}",
            service=f"{settings.kind} {settings.profile or ''} {settings.paper_mm} mm".strip(),
            number="TEST",
            ahead=0,
            wait=None,
            issued_at=datetime.now(ZoneInfo(config.rules.timezone)),
            url=ticket.url,
        )
        parts = lay_out(test, settings.paper_mm, printer.printable_dots)
        printer.print_ticket(parts)
        output = getattr(printer.escpos, "output", None)
        return PrintedTest(
            paper,
            printer.paper(),
            online,
            printer.native_qr,
            len(output) if isinstance(output, bytes) else None,
            parts,
        )


def print_test(config: BranchConfig, device_id: str, settings: PrinterSettings) -> list[str]:
    """Print a self-test ticket on the device's real printer; returns what happened, line by
    line. Raises PrinterError when the printer cannot be opened or fails."""
    printed = print_test_ticket(config, device_id, settings)
    online_text = {True: "yes", False: "NO", None: "cannot tell"}[printed.online]
    return [
        f"printer: {settings.kind}, profile {settings.profile or 'default'}, "
        f"{settings.paper_mm} mm paper, QR {'native' if printed.native_qr else 'as a picture'}",
        f"before printing: online {online_text}, paper {printed.paper_before}",
        "printed a test ticket: check that the Chinese text, the number and the QR code "
        "are sharp and the paper was cut",
    ]
