"""The kiosk's colours: every text on its background at least 7:1 (WCAG's AAA), and no
colour in its QML that this table does not know."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

QML = Path(__file__).parents[2] / "src" / "nowserving" / "kiosk" / "qml" / "Kiosk"
# (text, background): every pair the kiosk draws text in.
PAIRS = [
    ("#ffffff", "#0b1f3a"),  # the screen: titles, messages, the clock, the language buttons
    ("#0b1f3a", "#ffffff"),  # a chosen language or large print, on white
    ("#10213a", "#ffffff"),  # white buttons: back, take a ticket anyway, pages
    ("#10213a", "#f5b301"),  # a service that takes tickets (and a highlighted choice)
    ("#10213a", "#ffd24d"),  # ... while pressed
    ("#ffffff", "#3a4656"),  # a service that takes none, and why
    ("#f5b301", "#0b1f3a"),  # the number, and what to do next
    ("#ffffff", "#9b1c1c"),  # the offline mark
    ("#aab4c3", "#0b1f3a"),  # a page button that cannot be used
]


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize(("text", "background"), PAIRS)
def test_text_stands_out_seven_to_one(text, background):
    assert contrast(text, background) >= 7.0, (text, background, contrast(text, background))


def test_the_qml_uses_no_colour_the_table_does_not_know():
    known = {c for pair in PAIRS for c in pair}
    used = {
        c.lower() for f in QML.glob("*.qml") for c in re.findall(r"#[0-9a-fA-F]{6}", f.read_text())
    }
    assert used <= known, used - known
