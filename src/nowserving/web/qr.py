"""QR codes as inline SVG for the web role's pages (qrcode is in the web extra: pure Python)."""

from __future__ import annotations

import qrcode
import qrcode.image.svg


def qr_svg(data: str) -> str:
    """`data` as an inline SVG QR code (no style attribute: the pages' CSP allows none)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    svg = image.to_string(encoding="unicode")
    svg = svg[svg.index("<svg") :]
    end = svg.index(">")
    view = svg[:end].split('viewBox="', 1)[1].split('"', 1)[0]
    return (f'<svg class="qr" viewBox="{view}" xmlns="http://www.w3.org/2000/svg" '
            f'role="img" aria-label="QR">{svg[end + 1 :]}')  # fmt: skip
