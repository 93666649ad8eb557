"""QR codes as inline SVG, for web pages (the console's booking answer), with the qrcode
library where it is installed: it is in the kiosk extra, not the web one (a plain web host
stays small), so its absence is an answer (None), never an error."""

from __future__ import annotations


def qr_svg(text: str) -> str | None:
    """`text` as an SVG QR code (no XML declaration: inline in a page), or None where the
    qrcode library is missing."""
    try:
        import qrcode
        import qrcode.image.svg
    except ImportError:
        return None
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    svg = image.to_string(encoding="unicode")
    return svg[svg.index("<svg") :]
