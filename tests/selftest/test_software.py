"""The self-test's `software` check (run unattended after every update): it imports the
role's entry module as the role's service would, in a fresh interpreter with the libraries
that the device lacks blocked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests import extras

ROOT = Path(__file__).parents[2]
CHECK = """
import sys
from tests.blocked_import import Blocker

sys.meta_path.insert(0, Blocker(set(filter(None, sys.argv[1].split(",")))))
from nowserving.config import parse_device_config
from nowserving.selftest.hardware import check_software

role, device_id = sys.argv[2:]
device = parse_device_config({
    "device": {"id": device_id, "role": role, "branch": "pudong"},
    "broker": {"host": "127.0.0.1", "port": 1883},
})
print(check_software(device).line())
"""
DEVICES = {"kiosk": "kiosk-1", "counter": "counter-1", "display": "lobby-1"}


def software_check(role: str, blocked: set[str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", CHECK, ",".join(sorted(blocked)), role, DEVICES[role]],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize("role", DEVICES)
def test_a_device_with_its_roles_extra_passes(role):
    """GIVEN only nowserving[role] installed WHEN the software is checked THEN it passes."""
    line = software_check(role, extras.blocked(role))
    assert line.startswith("ok    software  nowserving "), line


@pytest.mark.parametrize(
    ("role", "missing"), [("display", "PySide6"), ("counter", "gpiozero"), ("kiosk", "PIL")]
)
def test_a_missing_library_of_the_role_fails_naming_the_entry_module(role, missing):
    """GIVEN an install that lacks a library the role's service imports WHEN the software is
    checked THEN it fails, naming the module that did not import and the extra to install
    (an update is then rolled back, instead of a service that cannot start)."""
    line = software_check(role, extras.blocked(role) | {missing})
    assert line.startswith("FAIL  software  nowserving "), line
    assert f"cannot import nowserving.{role}.main (No module named '{missing}" in line, line
    assert line.endswith(f"install nowserving[{role}]"), line
