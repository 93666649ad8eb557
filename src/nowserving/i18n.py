"""The words of every screen, ticket and announcement, per language, from
`assets/i18n/<language>.toml` (adding a language is adding a file)."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

ASSETS = Path(__file__).parent / "assets"
# The font of the screens and the printed ticket (Chinese included). Here, not beside the
# ticket's layout: a display or a counter has no Pillow to import the layout with.
FONT = ASSETS / "fonts" / "wqy-microhei.ttc"


def assets_path(*parts: str) -> Path:
    """A file shipped in assets/ (fonts, catalogs, sounds)."""
    return ASSETS.joinpath(*parts)


@cache
def catalog(language: str) -> dict[str, dict[str, str]]:
    """The catalog of `language`; a KeyError names a language with no catalog."""
    path = assets_path("i18n", f"{language}.toml")
    if not path.exists():
        raise KeyError(f"no catalog for language {language!r} in {path.parent}")
    return tomllib.loads(path.read_text(encoding="utf-8"))


def text(language: str, key: str, **values: object) -> str:
    """`key` ("ticket.ahead") in `language`, with its placeholders filled in."""
    section, _, name = key.partition(".")
    return catalog(language)[section][name].format(**values)


def ahead_words(language: str, people: int, appointments: int = 0, section: str = "ticket"):
    """How many are ahead, as the ticket and the kiosk (`section` "ticket") or the phone
    page ("web") say it: "5 people ahead of you", with "incl. 2 with appointments" when
    the merged order puts appointments among them (checked in, or booked and due:
    `Branch.people_ahead`), or "You are next"."""
    if not people:
        return text(language, f"{section}.ahead_none")
    if appointments:
        return text(language, f"{section}.ahead_appointments", n=people, booked=appointments)
    return text(language, f"{section}.ahead", n=people)


def wait_range(language: str, low_min: int, high_min: int) -> str:
    """A wait range as people read it: "12–20 min" below two hours, "2 h 10 min – 3 h 5 min"
    from two hours on (a wait of hundreds of minutes means nothing to anyone)."""
    words = catalog(language)["time"]
    if high_min < 120:
        return words["minutes"].format(low=low_min, high=high_min)
    low, high = duration(language, low_min), duration(language, high_min)
    return words["range"].format(low=low, high=high)


def duration(language: str, minutes: int) -> str:
    """`minutes` as "45 min", "2 h" or "3 h 27 min"."""
    words = catalog(language)["time"]
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return words["duration_m"].format(m=rest)
    if not rest:
        return words["duration_h"].format(h=hours)
    return words["duration_hm"].format(h=hours, m=rest)


BREAKS = (",", "、", "，", ";", "；", ":", "：", "&", "·")  # a line breaks best after these


def two_lines(words: str) -> tuple[str, str]:
    """`words` in two lines as even as possible: at spaces when it has any (Latin), else
    between any two characters (Chinese); after a comma or the like when that is nearly as
    even (a list breaks between its items, not inside one). ("", "") never: a single word
    comes back as (word, "")."""
    spaced = " " in words.strip()
    units = words.split() if spaced else list(words)
    joiner = " " if spaced else ""
    cuts = []
    for cut in range(1, len(units)):
        first, second = joiner.join(units[:cut]), joiner.join(units[cut:])
        cuts.append((max(len(first), len(second)), first.endswith(BREAKS), first, second))
    if not cuts:
        return words, ""
    even = min(cuts)[0]
    natural = [c for c in cuts if c[1] and c[0] <= 1.25 * even]
    _, _, first, second = min(natural or cuts, key=lambda c: c[0])
    return first, second


def languages() -> list[str]:
    """The languages whose texts ship with the package."""
    return sorted(p.stem for p in assets_path("i18n").glob("*.toml"))
