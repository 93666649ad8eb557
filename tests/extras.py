"""What each role's extra installs, read from pyproject.toml, as top-level import names
(`Pillow` is imported as `PIL`, `PySide6-Essentials` as `PySide6`)."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from functools import cache
from pathlib import Path

import nowserving

PYPROJECT = Path(nowserving.__file__).parents[2] / "pyproject.toml"
ROLES = ("server", "kiosk", "counter", "display", "web", "headoffice")


def _normal(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


@cache
def _project() -> dict:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]


@cache
def _import_names() -> dict[str, set[str]]:
    """Installed distribution (normalised) -> the top-level names it can be imported by."""
    names: dict[str, set[str]] = {}
    for top, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            names.setdefault(_normal(dist), set()).add(top)
    return names


def _libraries(requirements: list[str]) -> set[str]:
    found = set()
    for requirement in requirements:
        dist = _normal(re.match(r"[A-Za-z0-9._-]+", requirement)[0])
        if dist == "nowserving":
            continue  # `all` and `test` name the other extras
        if dist not in _import_names():
            raise LookupError(f"{requirement!r} from pyproject.toml is not installed")
        found |= _import_names()[dist]
    return found


def base() -> set[str]:
    """What `pip install nowserving` gives every role."""
    return _libraries(_project()["dependencies"])


def extra(name: str) -> set[str]:
    """What `nowserving[name]` adds to the base."""
    return _libraries(_project()["optional-dependencies"][name])


def optional() -> set[str]:
    """Every library that some extra of a device or tool adds (test tools aside)."""
    extras = _project()["optional-dependencies"]
    return set().union(*(extra(name) for name in extras if name not in ("all", "test")))


def allowed(role: str) -> set[str]:
    return base() | extra(role)


def blocked(role: str) -> set[str]:
    """The libraries a device of `role` does not have when it installed only its extra."""
    return optional() - allowed(role)
