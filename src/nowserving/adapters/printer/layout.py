"""A ticket laid out once, as the printer will print it: text rendered with Pillow and the
shipped CJK font into tight 1-bit strips (so Chinese needs no printer code page), the gaps
between them as paper feeds (no blank raster bands cost bytes), and the QR code as a
native printer command where the printer has one.

The same parts make the PNG preview (`preview`), so what the picture shows is what the
bytes print.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

import qrcode
from PIL import Image, ImageDraw, ImageFont

from nowserving.i18n import FONT, text, wait_range

PAPER_DOTS = {58: 384, 80: 576}  # printable width at 203 dpi
QR_MODULE_DOTS = {58: 5, 80: 6}  # size of one QR module, in dots
MARGIN_DOTS = 8


@dataclass(frozen=True)
class TicketContent:
    """What a ticket says, in the customer's language."""

    language: str
    branch: str  # the branch's name
    service: str  # the service's name
    number: str  # "A012"
    ahead: int
    wait: tuple[int, int] | None  # the 80% interval in whole minutes, None if unknown
    issued_at: datetime  # local time
    url: str  # the ticket's status page (the QR code)


@dataclass(frozen=True)
class Strip:
    """A 1-bit image, as narrow and short as its ink: printed centred."""

    image: Image.Image


@dataclass(frozen=True)
class Feed:
    """Blank paper, in dots."""

    dots: int


@dataclass(frozen=True)
class QrCode:
    """A QR code for the printer to draw natively: its content and module size."""

    url: str
    module_dots: int


Part = Strip | Feed | QrCode


def wait_text(language: str, wait: tuple[int, int] | None) -> str:
    """The wait line of a ticket, in `language`."""
    if wait is None:
        return text(language, "ticket.wait_unknown")
    low, high = wait
    if high <= 1:
        return text(language, "ticket.wait_now")
    return text(language, "ticket.wait", range=wait_range(language, low, high))


def lay_out(ticket: TicketContent, paper_mm: int = 80, printable: int | None = None) -> list[Part]:
    """The ticket's parts, top to bottom, for paper `paper_mm` wide (58 or 80) on a
    printer that prints `printable` dots across (its profile's width, if narrower)."""
    width = min(PAPER_DOTS[paper_mm], printable or PAPER_DOTS[paper_mm]) - 2 * MARGIN_DOTS
    scale = PAPER_DOTS[paper_mm] / PAPER_DOTS[80]
    lang = ticket.language

    def line(words: str, size: int, bold: int = 0) -> Strip:
        return Strip(_strip(words, round(size * scale), width, bold))

    ahead = (
        text(lang, "ticket.ahead", n=ticket.ahead)
        if ticket.ahead
        else text(lang, "ticket.ahead_none")
    )
    when = ticket.issued_at.strftime("%Y-%m-%d %H:%M")
    return [
        line(ticket.branch, 30),
        Feed(12),
        line(ticket.service, 40, bold=1),
        Feed(18),
        line(text(lang, "ticket.your_number"), 26),
        Feed(8),
        line(ticket.number, 140, bold=3),
        Feed(18),
        line(ahead, 32),
        Feed(10),
        line(wait_text(lang, ticket.wait), 32),
        Feed(20),
        QrCode(ticket.url, QR_MODULE_DOTS[paper_mm]),
        Feed(8),
        line(text(lang, "ticket.scan"), 24),
        Feed(10),
        line(text(lang, "ticket.issued", time=when), 22),
    ]


def _strip(words: str, size: int, max_width: int, bold: int = 0) -> Image.Image:
    """`words` in the ticket font at `size` px (thickened by `bold` px: the font has one
    weight), shrunk to fit `max_width`, cropped to its ink."""
    while True:
        font = _font(size)
        left, top, right, bottom = font.getbbox(words, stroke_width=bold)
        if right - left <= max_width or size <= 8:
            break
        size = min(size - 1, int(size * max_width / (right - left)))
    image = Image.new("1", (right - left, bottom - top), 255)
    ImageDraw.Draw(image).text(
        (-left, -top), words, font=font, fill=0, stroke_width=bold, stroke_fill=0
    )
    return image


@cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT), size)


def qr_image(code: QrCode) -> Image.Image:
    """The QR code as the printer draws it natively: model 2, level M, quiet zone included."""
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=code.module_dots, border=4
    )
    qr.add_data(code.url)
    qr.make(fit=True)
    return qr.make_image().get_image().convert("1")


def preview(parts: list[Part], paper_mm: int = 80) -> Image.Image:
    """The whole ticket as one picture of the paper, strips and QR centred."""
    width = PAPER_DOTS[paper_mm]
    images = [
        p.image if isinstance(p, Strip) else qr_image(p) if isinstance(p, QrCode) else None
        for p in parts
    ]
    height = 2 * MARGIN_DOTS + sum(
        p.dots if isinstance(p, Feed) else image.height
        for p, image in zip(parts, images, strict=True)
    )
    paper = Image.new("1", (width, height), 255)
    y = MARGIN_DOTS
    for part, image in zip(parts, images, strict=True):
        if image is None:
            y += part.dots
            continue
        paper.paste(image, ((width - image.width) // 2, y))
        y += image.height
    return paper
