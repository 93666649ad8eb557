"""The `[display]` table of a lobby display's device file."""

from __future__ import annotations

from pathlib import Path

import pytest

from nowserving.config.device import DisplaySettings, load_device_config
from nowserving.errors import ConfigError

HEAD = '[device]\nid = "lobby-1"\nrole = "display"\nbranch = "pudong"\n[display]\n'


def load(tmp_path: Path, display: str):
    path = tmp_path / "lobby.toml"
    path.write_text(HEAD + display, encoding="utf-8")
    return load_device_config(path).display


def test_defaults(tmp_path):
    assert load(tmp_path, "") == DisplaySettings()
    assert DisplaySettings().language_mode == "side_by_side" and DisplaySettings().history == 8


def test_logo_and_media_are_read_relative_to_the_device_file(tmp_path):
    (tmp_path / "logo.png").write_bytes(b"\x89PNG")
    (tmp_path / "media").mkdir()
    settings = load(
        tmp_path, 'logo = "logo.png"\nmedia = "media"\nlanguage_mode = "alternate"\ntheme = "light"'
    )
    assert (settings.logo, settings.media) == (tmp_path / "logo.png", tmp_path / "media")
    assert (settings.language_mode, settings.theme) == ("alternate", "light")


def test_every_problem_at_once(tmp_path):
    text = (
        'language_mode = "both"\nalternate_seconds = 1\ntheme = "neon"\nlogo = "none.png"\n'
        'media = "nowhere"\nhistory = 50\n'
    )
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    where = sorted(p.split(":")[0] for p in info.value.problems)
    keys = ("language_mode", "alternate_seconds", "theme", "logo", "media", "history")
    assert where == sorted(f"display.{key}" for key in keys)
