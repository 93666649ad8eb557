"""Every language's catalog has every key, with the same placeholders."""

from __future__ import annotations

import string

from nowserving.i18n import catalog, languages, text


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
    assert text("en", "ticket.wait", low=5, high=12) == "Estimated wait: 5–12 min"
