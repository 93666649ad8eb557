"""Every language's catalog has every key, with the same placeholders."""

from __future__ import annotations

import string

import pytest

from nowserving.i18n import catalog, languages, text, wait_range


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_catalog_has_every_key_with_the_same_placeholders():
    reference = catalog("en")
    assert {"en", "zh"} <= set(languages())
    for language in languages():
        other = catalog(language)
        for section, entries in reference.items():
            for key, template in entries.items():
                assert key in other.get(section, {}), f"{language} lacks {section}.{key}"
                assert placeholders(other[section][key]) == placeholders(template), (
                    f"{language}: {section}.{key} has other placeholders"
                )


def test_text_fills_placeholders():
    assert text("zh", "ticket.ahead", n=3) == "前面还有 3 人"
    said = text("en", "ticket.wait", range=wait_range("en", 5, 12))
    assert said == "Estimated wait: 5–12\u00a0min"  # a no-break space: never "5–12 / min"


@pytest.mark.parametrize(
    ("language", "low", "high", "said"),
    [
        ("en", 5, 12, "5–12 min"),
        ("en", 90, 119, "90–119 min"),
        ("en", 110, 120, "1 h 50 min – 2 h"),
        ("en", 207, 330, "3 h 27 min – 5 h 30 min"),
        ("en", 45, 150, "45 min – 2 h 30 min"),
        ("zh", 207, 330, "3 小时 27 分 – 5 小时 30 分"),
        ("zh", 3, 8, "3–8 分钟"),
    ],
)
def test_waits_from_two_hours_on_are_said_in_hours_and_minutes(language, low, high, said):
    """GIVEN a wait range in whole minutes THEN it reads as minutes below two hours and as
    hours and minutes from two hours on ("207–330 min" means nothing to anyone)."""
    assert wait_range(language, low, high).replace("\u00a0", " ") == said
