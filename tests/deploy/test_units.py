"""The shipped systemd units and the image recipe's package list, checked on this host.

The real check is scripts/image-check.sh, which runs trixie's own systemd-analyze and
udevadm on the image it customises; this one catches a broken unit in the ordinary suite.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).parents[2] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
ROLES = {"server": False, "kiosk": True, "counter": False, "display": True}  # under cage?
# The image provides these; on a development host they are missing, which is no fault here.
IMAGE_COMMANDS = (
    "/opt/nowserving/bin/nowserving",
    "/opt/nowserving/current/bin/python",
    "/usr/bin/cage",
    "/usr/lib/nowserving/firstboot",
)


def settings(unit: Path) -> dict[str, list[str]]:
    """A unit's settings, each key with all its values (continuation lines joined)."""
    text = re.sub(r"\s*\\\n\s*", " ", unit.read_text())
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze here")
def test_every_unit_passes_systemd_analyze_verify_on_this_host():
    """GIVEN the units in deploy/systemd WHEN this host's systemd-analyze verifies them
    THEN it says nothing but that the image's own commands are missing here."""
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *map(str, UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    missing = "|".join(re.escape(c) for c in IMAGE_COMMANDS if not Path(c).exists())
    allowed = re.compile(rf"^\S+: Command ({missing}) is not executable: No such file.*$")
    said = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert [line for line in said if not (missing and allowed.match(line))] == []


@pytest.mark.parametrize("role", ROLES)
def test_each_role_runs_under_a_watchdog_as_the_unprivileged_user(role):
    unit = settings(DEPLOY / "systemd" / f"nowserving-{role}.service")
    assert unit["Type"] == ["notify"] and unit["Restart"] == ["always"]
    assert int(unit["WatchdogSec"][0]) >= 10
    assert unit["User"] == ["nowserving"] and unit["NoNewPrivileges"] == ["yes"]
    assert unit["ProtectSystem"] == ["strict"] and unit["StateDirectory"] == ["nowserving"]
    assert f"nowserving {role} --config /etc/nowserving/branch.toml" in unit["ExecStart"][0]
    if ROLES[role]:  # the app is cage's child, in a session's scope: heard through the relay
        relay = "/opt/nowserving/current/bin/python -m nowserving.adapters.notify_relay"
        runtime = f"--runtime-dir /run/nowserving-{role} -- /usr/bin/cage -- "
        assert unit["ExecStart"][0].startswith(f"{relay} {runtime}")
        assert unit["RuntimeDirectory"] == [f"nowserving-{role}"]
        assert unit["NotifyAccess"] == ["main"] and unit["TTYPath"] == ["/dev/tty1"]
        assert unit["PAMName"] == ["nowserving-cage"]
        assert "getty@tty1.service" in unit["Conflicts"]


def test_the_rpi_image_gen_layer_installs_exactly_packages_txt():
    """GIVEN deploy/image/packages.txt WHEN rpi-image-gen's generator renders the layer
    THEN the layer installs those packages (and python3-lgpio, which only a Pi has)."""
    recipe = DEPLOY / "image"
    listed = {
        line.split("#")[0].strip()
        for line in (recipe / "packages.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    }
    generator = recipe / "rpi-image-gen" / "bin" / "generators" / "nowserving-layer"
    done = subprocess.run(
        [generator, recipe / "rpi-image-gen" / "layer" / "nowserving.yaml", "/dev/stdout"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    rendered = set(re.findall(r"^    - ([a-z0-9.+-]+)$", done.stdout, re.MULTILINE))
    assert rendered == listed | {"python3-lgpio"}
    assert f'"{recipe}/customize.sh" "$1"' in done.stdout
