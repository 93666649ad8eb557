"""The example branch's clip set (zh and en), made once per test session with the real
espeak-ng, for every test here that asks for `clips`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nowserving.config import EXAMPLE, load_config
from nowserving.display.voice import generate


def example_counters() -> dict[str, dict[str, str]]:
    return {c.id: c.names for c in load_config(EXAMPLE).rules.counters.values()}


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> Path:
    """A folder with chime.wav, zh/ and en/ for the example branch."""
    folder = tmp_path_factory.getbasetemp() / "voice"
    if not (folder / "done").exists():  # both test modules import this fixture
        if shutil.which("espeak-ng") is None:
            pytest.fail("espeak-ng is not installed: run scripts/setup.sh")
        for language in ("zh", "en"):
            generate(language, folder, example_counters())
        (folder / "done").touch()
    return folder
