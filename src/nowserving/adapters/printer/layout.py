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

from nowserving.i18n import FONT, ahead_words, text, two_lines, wait_range

PAPER_DOTS = {58: 384, 80: 576}  # printable width at 203 dpi
QR_MODULE_DOTS = {58: 5, 80: 6}  # size of one QR module, in dots
MARGIN_DOTS = 8
MIN_DOTS = 18  # the smallest type, in dots (2.25 mm at 203 dpi): fine print stays readable


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
    url: str | None = None  # the ticket's page (the QR code); None: there is none to print
    priority: str | None = None  # the priority class's name, when not the default one
    counters: tuple[str, ...] = ()  # the counters that serve it, by name
    recalls: int | None = None  # how often a missed call is repeated (None: not said)
    hours: str | None = None  # today's opening hours, "09:00–17:00"
    appointment: str | None = None  # a checked-in appointment: "Appointment 10:30"
    ahead_appointments: int = 0  # of `ahead`, appointments (checked in, or booked and due)


@dataclass(frozen=True)
class Strip:
    """A 1-bit image, as narrow and short as its ink: printed centred, each pixel as
    `scale` x `scale` dots (2: the printer doubles it, GS v 0 m=3, for a quarter of the
    bytes; for type so large that 100 dpi draws it as well)."""

    image: Image.Image
    scale: int = 1

    def on_paper(self) -> Image.Image:
        """The strip as the printer draws it, dot for dot."""
        if self.scale == 1:
            return self.image
        size = (self.image.width * self.scale, self.image.height * self.scale)
        return self.image.resize(size, Image.Resampling.NEAREST)


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

    def dots(size: int) -> int:
        """A type size for this paper: scaled to it, but never under MIN_DOTS."""
        return max(MIN_DOTS, round(size * scale))

    def line(words: str, size: int, bold: int = 0, scale: int = 1) -> Strip:
        return Strip(_strip(words, dots(size) // scale, width // scale, bold), scale)

    def lines(words: str, size: int, bold: int = 0, gap: int = 4) -> list[Part]:
        """`words` on up to two lines at `size` (or a little smaller), never shrunk to
        unreadable: a long service name wraps before it shrinks."""
        strips = _wrapped(words, dots(size), width, bold)
        parts: list[Part] = []
        for strip in strips:
            parts += [Feed(gap), Strip(strip)] if parts else [Strip(strip)]
        return parts

    ahead = ahead_words(lang, ticket.ahead, ticket.ahead_appointments)
    when = ticket.issued_at.strftime("%Y-%m-%d %H:%M")
    parts: list[Part] = [*lines(ticket.branch, 30), Feed(12), *lines(ticket.service, 40, 1)]
    parts += [  # the priority class, a checked-in appointment's time
        part
        for marked, size in ((ticket.priority, 28), (ticket.appointment, 30))
        if marked
        for part in (Feed(8), *lines(marked, size, 1))
    ]
    parts += [
        Feed(18),
        line(text(lang, "ticket.your_number"), 26),
        Feed(8),
        line(ticket.number, 130, bold=2, scale=2),  # a quarter of the bytes, as sharp
        Feed(18),
        *lines(ahead, 32),
        Feed(10),
        line(wait_text(lang, ticket.wait), 32),
        Feed(16),
    ]
    if ticket.counters:
        names = text(lang, "time.list").join(ticket.counters)
        parts += [*lines(text(lang, "ticket.counters", counters=names), 20), Feed(6)]
    parts += [*lines(text(lang, "ticket.watch"), 20), Feed(6)]
    if ticket.recalls is not None:
        missed = (
            text(lang, "ticket.missed", calls=ticket.recalls + 1)
            if ticket.recalls
            else text(lang, "ticket.missed_once")
        )
        parts += [*lines(missed, 18), Feed(6)]
    if ticket.url:
        parts += [
            Feed(10),
            QrCode(ticket.url, QR_MODULE_DOTS[paper_mm]),
            Feed(8),
            line(text(lang, "ticket.scan"), 22),
        ]
    parts += [Feed(10), line(text(lang, "ticket.issued", time=when), 20)]
    if ticket.hours:
        parts += [Feed(6), line(text(lang, "ticket.hours", hours=ticket.hours), 18)]
    return parts


MIN_WRAPPED = 0.8  # a wrapped line may be this much smaller before it shrinks further


def _wrapped(words: str, size: int, max_width: int, bold: int = 0) -> list[Image.Image]:
    """`words` as one strip if it fits at `size`, else two (broken at the space, or between
    characters in Chinese, that makes the longer line shortest), at `size` or down to
    MIN_WRAPPED of it; past that, two lines shrunk to fit, but never under MIN_DOTS: words
    too long for two lines of readable type take more lines instead."""
    if _width(words, size, bold) <= max_width:
        return [_strip(words, size, max_width, bold)]
    first, second = two_lines(words)
    if not second:
        return [_strip(words, size, max_width, bold)]
    parts = [first, second]
    floor = min(size, MIN_DOTS)  # a size already under the floor is the caller's choice
    fit = size
    while fit > max(size * MIN_WRAPPED, floor) and _widest(parts, fit, bold) > max_width:
        fit -= 1
    while fit > floor and _widest(parts, fit, bold) > max_width:
        fit -= 1
    most = len(words.split()) if " " in words.strip() else len(words)  # a unit a line
    while _widest(parts, fit, bold) > max_width and len(parts) < most:
        parts = _even_lines(words, len(parts) + 1)
    while (
        len(parts) > 2 and fit < size * MIN_WRAPPED and _widest(parts, fit + 1, bold) <= max_width
    ):
        fit += 1  # shorter lines: as large as they fit, up to a wrapped line's size
    return [_strip(part, fit, max_width, bold) for part in parts]


def _widest(parts: list[str], size: int, bold: int) -> int:
    return max(_width(p, size, bold) for p in parts)


def _even_lines(words: str, count: int) -> list[str]:
    """`words` in `count` lines or fewer, the longest as short as it can be: at spaces when
    it has any (Latin), else between any two characters (Chinese)."""
    spaced = " " in words.strip()
    units = words.split() if spaced else list(words)
    joiner = " " if spaced else ""
    for longest in range(max(len(u) for u in units), len(words) + 1):
        lines, line = [], ""
        for unit in units:
            longer = f"{line}{joiner}{unit}" if line else unit
            if len(longer) > longest:
                lines, line = [*lines, line], unit
            else:
                line = longer
        lines.append(line)
        if len(lines) <= count:
            return lines
    return [words]


def _width(words: str, size: int, bold: int) -> int:
    left, _, right, _ = _font(size).getbbox(words, stroke_width=bold)
    return right - left


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
        p.on_paper() if isinstance(p, Strip) else qr_image(p) if isinstance(p, QrCode) else None
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
