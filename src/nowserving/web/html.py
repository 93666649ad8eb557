"""What every page of the web role starts with: its head, and the language switch."""

from __future__ import annotations

from html import escape

from nowserving import i18n
from nowserving.web.view import LANGUAGES


def head(language: str, title: str, stylesheet: str, extra: str = "") -> str:
    """The document's start up to `</head>`: its language, title and stylesheet."""
    return (
        f'<!doctype html><html lang="{"zh-CN" if language == "zh" else language}"><head>'
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<title>{escape(title)}</title><link rel="stylesheet" href="{stylesheet}">{extra}'
        "</head>"
    )


def language_switch(language: str, here: str) -> str:
    """Links to this page (`here`) in each language, the current one marked."""
    links = []
    for code in LANGUAGES:
        label = escape(i18n.text(code, "web.language_name"))
        if code == language:
            links.append(f'<span aria-current="true">{label}</span>')
        else:
            links.append(f'<a href="{escape(here)}?lang={code}" hreflang="{code}">{label}</a>')
    return f'<nav class="lang">{" ".join(links)}</nav>'
