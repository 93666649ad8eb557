"""`nowserving self-test` and `nowserving branch-status` as an installer runs them: the
bundle's files, a table on the terminal, and the exit status."""

from __future__ import annotations

import shutil

from nowserving.cli import main
from nowserving.config import EXAMPLE


def bundle(tmp_path, broker, device_id: str = "manager", role: str = "staff"):
    """A device's folder as provisioning makes it: device.toml with branch.toml beside it."""
    folder = tmp_path / device_id
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / "branch.toml")
    (folder / "device.toml").write_text(
        f'[device]\nid = "{device_id}"\nrole = "{role}"\nbranch = "pudong"\n'
        f'[broker]\nhost = "{broker.host}"\nport = {broker.port}\n'
    )
    return folder / "device.toml"


def test_self_test_prints_a_table_and_exits_by_the_result(broker, tmp_path, capsys):
    """GIVEN a bundle (branch.toml beside device.toml) and a broker with no server WHEN the
    self-test runs THEN it prints each check, publishes the result and exits 1."""
    device = bundle(tmp_path, broker)
    assert main(["self-test", "--device", str(device)]) == 1
    out = capsys.readouterr().out
    assert "  ok    broker" in out and "  FAIL  server" in out
    assert "self-test of manager: FAIL (1 of 6 checks failed: server" in out
    assert "published in nowserving/v2/pudong/status/manager" in out


def test_a_passing_self_test_exits_0_and_branch_status_shows_it(
    live_server, broker, tmp_path, capsys
):
    device = bundle(tmp_path, broker)
    assert main(["self-test", "--device", str(device)]) == 0
    assert "self-test of manager: ok" in capsys.readouterr().out
    assert main(["branch-status", "--device", str(device)]) == 1  # the rest never started
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["device", "role", "online", "version", "self-test", "notes"]
    manager = next(line for line in lines if line.startswith("manager"))
    assert manager.split()[1:5] == ["staff", "NO", "0.1.0", "ok"]


def test_without_a_branch_config_beside_it_the_self_test_says_so(broker, tmp_path, capsys):
    device = bundle(tmp_path, broker)
    (device.parent / "branch.toml").unlink()
    assert main(["self-test", "--device", str(device)]) == 2
    assert "give the branch config with --config" in capsys.readouterr().err


def test_a_device_in_another_zone_than_the_branch_is_warned(monkeypatch):
    """GIVEN a device whose zone is UTC and a branch in Asia/Shanghai WHEN the zone is
    checked THEN it warns, naming both and how to set it; a device in the branch's zone
    passes."""
    import time

    from nowserving.selftest.runner import check_zone

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        check = check_zone("Asia/Shanghai")
        assert check.status == "warn" and "UTC (+0000)" in check.detail
        assert "timedatectl set-timezone Asia/Shanghai" in check.detail
        monkeypatch.setenv("TZ", "Asia/Shanghai")
        time.tzset()
        assert check_zone("Asia/Shanghai").status == "ok"
    finally:
        monkeypatch.undo()
        time.tzset()
