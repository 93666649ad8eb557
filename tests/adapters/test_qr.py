"""The console's QR as inline SVG, and its answer where the qrcode library is missing (the
web extra does not install it): the page gives the code as text and says why."""

from __future__ import annotations

import sys

from nowserving.adapters.qr import qr_svg
from nowserving.config import EXAMPLE, load_config
from nowserving.web.console_bookings_page import booked_page


def test_a_code_becomes_an_inline_svg():
    svg = qr_svg("99Y6CMEAHW")
    assert svg.startswith("<svg") and "<path" in svg


def test_without_qrcode_the_code_is_shown_as_text_and_the_page_says_why(monkeypatch):
    """GIVEN no qrcode library (blocked as on a web host) WHEN a booking's answer is made
    THEN there is no QR, the code is there as text, and the page says why (both languages)."""
    monkeypatch.setitem(sys.modules, "qrcode", None)  # `import qrcode` raises ImportError
    assert qr_svg("99Y6CMEAHW") is None
    config = load_config(EXAMPLE)
    args = {"service": "loans", "time": "2026-11-24 10:00"}
    result = {"event": "booking_made", "booking": "b1", "code": "99Y6CMEAHW"}
    en = booked_page(config, "en", "anna", "c", args, result, "/console/pudong/bookings")
    zh = booked_page(config, "zh", "anna", "c", args, result, "/console/pudong/bookings")
    assert ">99Y6CMEAHW<" in en and "<svg" not in en
    assert "without the qrcode library" in en and "qrcode 库" in zh
