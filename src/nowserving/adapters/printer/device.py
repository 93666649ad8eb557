"""The ticket printer: python-escpos over USB, serial, network, a file, or its `Dummy`
(chosen in the device config, never by silent fallback), printing laid-out tickets and
reporting paper and connection state.

Every call here may block on the printer, so device apps call it from a worker thread,
never the GUI thread.
"""

from __future__ import annotations

import contextlib
import copy
import enum
import logging
import threading

from escpos import printer as escpos_printers
from escpos.constants import QR_ECLEVEL_M, RT_STATUS_ONLINE, RT_STATUS_PAPER
from escpos.escpos import Escpos

from nowserving.adapters.printer.layout import PAPER_DOTS, Feed, Part, QrCode, Strip, qr_image
from nowserving.config.hardware import PRINTER_KINDS, PrinterSettings
from nowserving.errors import PrinterError

log = logging.getLogger(__name__)

FEED = b"\x1bJ"  # ESC J n: print and feed n dots


class Paper(enum.StrEnum):
    """What the printer's paper sensors say."""

    OK = "ok"
    LOW = "low"
    OUT = "out"
    UNKNOWN = "unknown"  # the printer cannot say (a file, a silent printer)


def open_escpos(settings: PrinterSettings) -> Escpos:
    """A python-escpos printer for `settings`; raises PrinterError if it cannot be opened."""
    kw = {"profile": settings.profile} if settings.profile else {}
    try:
        if settings.kind == "usb":
            return escpos_printers.Usb(
                settings.vendor_id, settings.product_id, timeout=int(settings.timeout_s * 1000),
                **kw,
            )  # fmt: skip
        if settings.kind == "serial":
            return escpos_printers.Serial(
                settings.device, baudrate=settings.baudrate, timeout=settings.timeout_s, **kw
            )
        if settings.kind == "network":
            return escpos_printers.Network(
                settings.host, port=settings.port, timeout=settings.timeout_s, **kw
            )
        if settings.kind == "file":
            return escpos_printers.File(settings.path, **kw)
        if settings.kind == "dummy":
            return escpos_printers.Dummy(**kw)
    except Exception as err:  # each transport raises its own kinds (usb.core, serial, OSError)
        raise PrinterError(f"cannot open the {settings.kind} printer: {err}") from err
    raise PrinterError(
        f"unknown printer kind {settings.kind!r} (one of {', '.join(PRINTER_KINDS)})"
    )


class TicketPrinter:
    """Prints tickets laid out by `layout.lay_out`; one ticket at a time."""

    def __init__(self, escpos: Escpos, settings: PrinterSettings) -> None:
        self.escpos = escpos
        self.settings = settings
        self.native_qr = bool(escpos.profile.supports("qrCode"))
        self._lock = threading.Lock()
        self._profile_dots = _profile_dots(escpos)
        if self._profile_dots is None:
            # python-escpos prints "The media.width.pixel field of the printer profile is not
            # set" to stdout for every image when its profile does not know the width (the
            # default one): nine lines per ticket in the journal and the self-test. The
            # paper's width is what the ticket is laid out for; this printer's copy only.
            data = copy.deepcopy(escpos.profile.profile_data)
            data.setdefault("media", {}).setdefault("width", {})["pixels"] = PAPER_DOTS[
                settings.paper_mm
            ]
            escpos.profile.profile_data = data

    def __enter__(self) -> TicketPrinter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def printable_dots(self) -> int | None:
        """How many dots across the printer prints, if its profile says."""
        return self._profile_dots

    def print_ticket(self, parts: list[Part]) -> None:
        """Print and cut; raises PrinterError if the printer fails on the way."""
        with self._lock:
            try:
                self._print(parts)
            except PrinterError:
                raise
            except Exception as err:  # transports raise what their libraries raise
                raise PrinterError(f"printing failed: {err}") from err

    def _print(self, parts: list[Part]) -> None:
        p = self.escpos
        p.hw("INIT")
        p.set(align="center")
        for part in parts:
            if isinstance(part, Strip):
                sharp = part.scale == 1  # else each pixel printed as 2 x 2 dots
                p.image(part.image, sharp, sharp, impl="bitImageRaster")
            elif isinstance(part, Feed):
                for chunk in range(0, part.dots, 255):
                    p._raw(FEED + bytes((min(255, part.dots - chunk),)))
            elif isinstance(part, QrCode) and self.native_qr:
                p.qr(part.url, ec=QR_ECLEVEL_M, size=part.module_dots, native=True)
            elif isinstance(part, QrCode):
                p.image(qr_image(part), impl="bitImageRaster")
        p.cut()
        with contextlib.suppress(AttributeError):
            p.flush()  # the File transport buffers

    def paper(self) -> Paper:
        """The paper sensor, or UNKNOWN when the printer cannot be asked or does not answer
        within the timeout (a silent printer is not one with plenty of paper)."""
        with self._lock:
            try:
                status = self.escpos.query_status(RT_STATUS_PAPER)
            except NotImplementedError:
                return Paper.UNKNOWN
            except Exception as err:
                log.warning("paper status: %s", err)
                return Paper.UNKNOWN
        if not status:
            return Paper.UNKNOWN
        if status[0] & 0x60 == 0x60:  # paper end sensor
            return Paper.OUT
        if status[0] & 0x0C == 0x0C:  # near-end sensor
            return Paper.LOW
        return Paper.OK

    def online(self) -> bool | None:
        """True/False as the printer says; None when it cannot be asked or is silent."""
        with self._lock:
            try:
                status = self.escpos.query_status(RT_STATUS_ONLINE)
            except NotImplementedError:
                return None
            except Exception as err:
                log.warning("online status: %s", err)
                return None
        return None if not status else not status[0] & 0x08

    def close(self) -> None:
        """Let go of the printer's connection (idempotent)."""
        with contextlib.suppress(Exception):
            self.escpos.close()


def _profile_dots(escpos: Escpos) -> int | None:
    """How many dots across `escpos`'s profile says it prints, if it says."""
    pixels = escpos.profile.profile_data.get("media", {}).get("width", {}).get("pixels")
    return pixels if isinstance(pixels, int) else None
