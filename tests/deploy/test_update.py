"""deploy/update/nowserving-update in a folder of its own: real venvs and pip, wheels of a
stand-in `nowserving` whose self-test passes or fails by version, and a `systemctl` on PATH
that records what it was asked (our own seam: the units are not the test's business)."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "deploy" / "update" / "nowserving-update"
pytestmark = pytest.mark.slow  # a venv per version: a few seconds each

STAND_IN = """import os, sys
VERSION, PASSES = {version!r}, {passes!r}

def main():
    args = sys.argv[1:]
    with open(os.environ["FAKE_LOG"], "a") as log:
        log.write(VERSION + " " + " ".join(args) + "\\n")
    if args[:1] == ["--version"]:
        print(VERSION)
    elif args[:1] == ["self-test"]:
        print("self-test of kiosk-1: " + ("ok" if PASSES else "FAIL (1 of 9 checks failed)"))
        return 0 if PASSES else 1
    return 0
"""

SYSTEMCTL = """#!/bin/sh
echo "systemctl $*" >>"$FAKE_LOG"
if [ "$1" = is-active ] && [ -e "$FAKE_UNIT_DOWN" ]; then exit 3; fi
exit 0
"""


def wheel(folder: Path, version: str, passes: bool = True) -> Path:
    """A wheel of a stand-in nowserving: `nowserving --version`, `check-config` and a
    `self-test` that exits 0 or 1."""
    files = {
        "nowserving/__init__.py": f"__version__ = {version!r}\n",
        "nowserving/cli.py": STAND_IN.format(version=version, passes=passes),
        f"nowserving-{version}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: nowserving\nVersion: {version}\nProvides-Extra: kiosk\n"
        ),
        f"nowserving-{version}.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        f"nowserving-{version}.dist-info/entry_points.txt": (
            "[console_scripts]\nnowserving = nowserving.cli:main\n"
        ),
    }
    record = f"nowserving-{version}.dist-info/RECORD"
    path = folder / f"nowserving-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as whl:
        lines = []
        for name, text in files.items():
            data = text.encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            lines.append(f"{name},sha256={digest.decode()},{len(data)}")
            whl.writestr(name, data)
        whl.writestr(record, "\n".join([*lines, f"{record},,"]) + "\n")
    return path


class Device:
    """A device's /opt/nowserving and /etc/nowserving in a temporary folder."""

    def __init__(self, tmp: Path) -> None:
        self.root, self.etc, self.bin = tmp / "opt", tmp / "etc", tmp / "bin"
        self.log, self.update_log, self.down = tmp / "calls.log", tmp / "update.log", tmp / "down"
        self.etc.mkdir()
        (self.etc / "device.toml").write_text('[device]\nid = "kiosk-1"\nrole = "kiosk"\n')
        (self.etc / "branch.toml").write_text("")
        self.bin.mkdir()
        (self.bin / "systemctl").write_text(SYSTEMCTL)
        (self.bin / "systemctl").chmod(0o755)
        self.log.touch()

    def update(self, *args: str) -> subprocess.CompletedProcess:
        env = {
            **os.environ,
            "PATH": f"{self.bin}:{os.environ['PATH']}",
            "NOWSERVING_ROOT": str(self.root),
            "NOWSERVING_ETC": str(self.etc),
            "NOWSERVING_PYTHON": sys.executable,
            "NOWSERVING_PIP_ARGS": "--no-index --no-deps",
            "NOWSERVING_UPDATE_LOG": str(self.update_log),
            "NOWSERVING_REMOUNT": "no",
            "NOWSERVING_LOCK": str(self.log.parent / "update.lock"),
            "FAKE_LOG": str(self.log),
            "FAKE_UNIT_DOWN": str(self.down),
        }
        self.log.write_text("")
        return subprocess.run(
            [str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=300
        )

    def link(self, name: str) -> str | None:
        path = self.root / name
        return os.readlink(path) if path.is_symlink() else None

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines()

    def run_current(self) -> str:
        """What the unit would run: $ROOT/bin/nowserving, through the links."""
        out = subprocess.run(
            [str(self.root / "bin" / "nowserving"), "--version"],
            env={**os.environ, "FAKE_LOG": os.devnull}, capture_output=True, text=True,
        )  # fmt: skip
        return out.stdout.strip()


@pytest.fixture
def device(tmp_path) -> Device:
    return Device(tmp_path)


def test_an_update_that_passes_switches_and_one_that_fails_rolls_back(device, tmp_path):
    """GIVEN version 1.0.0 installed WHEN 2.0.0 fails its self-test THEN current goes back to
    1.0.0, the unit is restarted on it, and 2.0.0 stays on disk for a look; WHEN 3.0.0
    passes THEN it is current, 1.0.0 is kept as previous and 2.0.0 is removed; WHEN 4.0.0's
    unit does not stay up THEN 3.0.0 is back."""
    first = device.update(str(wheel(tmp_path, "1.0.0")))
    assert first.returncode == 0, first.stderr
    assert device.link("current") == "venv-1.0.0" and device.link("bin") == "current/bin"
    assert device.run_current() == "1.0.0"
    assert device.calls() == [
        "1.0.0 --version",
        f"1.0.0 check-config {device.etc}/branch.toml --device {device.etc}/device.toml",
        "systemctl stop nowserving-kiosk.service",
        f"1.0.0 self-test --device {device.etc}/device.toml --config {device.etc}/branch.toml "
        "--buttons-timeout 0 --pattern-seconds 0 --no-print --no-announce",
        "systemctl start nowserving-kiosk.service",
        "systemctl is-active --quiet nowserving-kiosk.service",
    ]

    failed = device.update(str(wheel(tmp_path, "2.0.0", passes=False)))
    assert failed.returncode == 1
    assert device.link("current") == "venv-1.0.0" and device.run_current() == "1.0.0"
    assert device.link("previous") is None and (device.root / "venv-2.0.0").is_dir()
    self_test = (
        f"2.0.0 self-test --device {device.etc}/device.toml --config {device.etc}/branch.toml "
        "--buttons-timeout 0 --pattern-seconds 0 --no-print --no-announce"
    )
    assert device.calls()[-4:] == [
        "systemctl stop nowserving-kiosk.service",
        self_test,
        "systemctl restart nowserving-kiosk.service",  # on 1.0.0 again
        "systemctl is-active --quiet nowserving-kiosk.service",
    ]
    log = device.update_log.read_text()
    assert "self-test of kiosk-1: FAIL" in log and "rolled back: 1.0.0 runs again" in log

    passed = device.update(str(wheel(tmp_path, "3.0.0")))
    assert passed.returncode == 0, passed.stderr
    assert device.link("current") == "venv-3.0.0" and device.link("previous") == "venv-1.0.0"
    assert sorted(p.name for p in device.root.glob("venv-*")) == ["venv-1.0.0", "venv-3.0.0"]
    assert device.run_current() == "3.0.0"

    device.down.touch()  # 4.0.0 passes its self-test, then its unit dies
    assert device.update(str(wheel(tmp_path, "4.0.0"))).returncode == 1
    assert device.link("current") == "venv-3.0.0" and device.link("previous") == "venv-1.0.0"
    assert "nowserving-kiosk.service is not running" in device.update_log.read_text()


def test_rollback_by_hand_and_a_wheel_that_does_not_install(device, tmp_path):
    assert device.update(str(wheel(tmp_path, "1.0.0"))).returncode == 0
    assert device.update(str(wheel(tmp_path, "1.1.0"))).returncode == 0
    back = device.update("--rollback")
    assert back.returncode == 0, back.stderr
    assert device.link("current") == "venv-1.0.0" and device.link("previous") == "venv-1.1.0"
    assert "1.0.0 self-test" in " ".join(device.calls())
    status = device.update("--status")
    assert "current:  1.0.0" in status.stdout and "previous: 1.1.0" in status.stdout
    broken = tmp_path / "nowserving-2.0.0-py3-none-any.whl"
    broken.write_bytes(b"not a zip")
    result = device.update(str(broken))
    assert result.returncode == 1 and "nothing changed" in result.stderr
    assert device.link("current") == "venv-1.0.0" and not (device.root / "venv-2.0.0").exists()
    assert not [c for c in device.calls() if c.startswith("systemctl")]


def test_the_single_venv_of_older_images_is_refused_with_what_to_do(device, tmp_path):
    device.root.mkdir()
    (device.root / "pyvenv.cfg").write_text("home = /usr/bin\n")
    result = device.update(str(wheel(tmp_path, "1.0.0")))
    assert result.returncode == 1 and "is a single venv" in result.stderr
