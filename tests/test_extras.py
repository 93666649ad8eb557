"""Each role starts from its own extra: its entry module imports in a fresh interpreter with
every library outside `nowserving[<role>]` blocked, as on a device that installed only that
(what `nowserving-update` installs by default)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests import extras

SCRIPT = Path(__file__).parent / "blocked_import.py"
# What each role runs: its entry module (the server's is its app, started by `cli.py`), and
# what its self-test imports of it later.
ENTRY = {
    "server": ("nowserving.server.app",),
    "kiosk": ("nowserving.kiosk.main",),
    "counter": ("nowserving.counter.main",),
    "display": ("nowserving.display.main", "nowserving.display.testpattern"),
    "web": ("nowserving.web.main",),
    "headoffice": ("nowserving.headoffice.ingest", "nowserving.headoffice.status"),
}


def import_without(blocked: set[str], modules, walk: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--block", ",".join(sorted(blocked)), "--walk", walk]
        + list(modules),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_extras_are_read_as_import_names():
    """GIVEN pyproject.toml's extras THEN each role lacks what the README says it lacks
    (a reader that found nothing would make every check below pass for nothing)."""
    assert set(ENTRY) == set(extras.ROLES)
    assert extras.base() >= {"paho", "tzdata"}
    hardware_and_gui = {"PySide6", "escpos", "PIL", "qrcode", "gpiozero"}
    assert extras.blocked("server") >= hardware_and_gui | {"cryptography"}
    web = {"starlette", "uvicorn", "xlsxwriter"}
    assert extras.blocked("kiosk") == {"cryptography"} | web | extras.extra("headoffice")
    assert "qrcode" in extras.extra("web")  # the hall screen's QR code, drawn as SVG
    assert "psycopg" in extras.blocked("server") and "psycopg" not in extras.blocked("headoffice")
    assert extras.blocked("web") >= hardware_and_gui - {"qrcode"} | {"cryptography"}
    assert extras.blocked("counter") & hardware_and_gui == {"escpos", "PIL", "qrcode"}
    # qrcode (pure Python): the lobby's hall code QR (docs/appointments.md)
    assert extras.blocked("display") & hardware_and_gui == {"escpos", "PIL", "gpiozero"}


@pytest.mark.parametrize("role", extras.ROLES)
def test_a_role_starts_from_its_own_extra(role):
    """GIVEN a device with only nowserving[role] installed WHEN its entry module (and what
    it imports later, e.g. the counter's --ui panel) is imported THEN nothing is missing."""
    blocked = extras.blocked(role)
    result = import_without(blocked, ENTRY[role], walk=f"nowserving.{role}")
    assert result.returncode == 0, f"nowserving[{role}] lacks {sorted(blocked)}:\n{result.stderr}"


def test_every_device_runs_the_cli_and_the_self_test_on_the_base_alone():
    """`nowserving --help`, `check-config` and `self-test` load no role's libraries until a
    check needs them (a check that cannot import says so in its result)."""
    result = import_without(extras.optional(), ("nowserving.cli", "nowserving.selftest"))
    assert result.returncode == 0, result.stderr


def test_the_check_fails_on_an_import_outside_the_extra():
    """GIVEN the display's extra WHEN a module that needs Pillow is imported THEN the
    check fails, naming it (the check is not vacuous)."""
    result = import_without(extras.blocked("display"), ("nowserving.adapters.printer.layout",))
    assert result.returncode != 0
    assert "No module named 'PIL' (blocked)" in result.stderr, result.stderr
