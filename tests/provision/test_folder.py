"""What `nowserving provision` writes, and what a re-run keeps, adds and takes away."""

from __future__ import annotations

import json
import stat
import tomllib

import pytest

from nowserving.cli import main
from nowserving.config import (
    EXAMPLE,
    check_device_against_branch,
    load_config,
    load_device_config,
)
from nowserving.provision import ProvisionError, Settings, provision
from nowserving.provision.passwords import matches, read_password_file

from .conftest import settings_for_tests


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def passwd(out) -> dict[str, str]:
    return read_password_file((out / "server" / "mosquitto" / "passwd").read_text())


def password(out, device: str) -> str:
    return (out / "devices" / device / "nowserving" / "password").read_text().strip()


def test_every_device_gets_a_bundle_that_loads_and_fits_the_branch(provisioned, example_config):
    for device in example_config.devices.values():
        path = provisioned.bundle(device.id) / "device.toml"
        config = load_device_config(path)
        check_device_against_branch(config, example_config, str(path))
        assert config.broker.tls_ca is not None and config.broker.port == provisioned.tls_port
        assert matches(config.broker.read_password(), passwd(provisioned.out)[device.id])
    assert load_device_config(provisioned.bundle("lobby-1") / "device.toml").display is not None
    assert load_device_config(provisioned.bundle("kiosk-1") / "device.toml").printer is not None


def test_a_bundle_checks_with_the_cli(provisioned, capsys):
    device = provisioned.bundle("counter-2") / "device.toml"
    assert main(["check-config", str(EXAMPLE), "--device", str(device)]) == 0
    assert "OK — counter counter-2, broker 127.0.0.1" in capsys.readouterr().out


def test_secrets_are_private_and_the_ca_key_stays_with_the_installer(provisioned):
    out = provisioned.out
    for secret in (
        out / "installer" / "ca.key",
        out / "installer" / "provision.json",
        out / "server" / "mosquitto" / "passwd",
        out / "server" / "mosquitto" / "server.key",
        out / "server" / "server.password",
        provisioned.bundle("kiosk-1") / "password",
    ):
        assert mode(secret) == 0o600, secret
    ca_key = (out / "installer" / "ca.key").read_bytes()
    outside = [p for p in out.rglob("*") if p.is_file() and "installer" not in p.parts]
    assert outside and not [p for p in outside if p.read_bytes() == ca_key]
    assert sorted(p.name for p in provisioned.bundle("kiosk-1").iterdir()) == [
        "ca.pem",
        "device.toml",
        "password",
    ]


def test_the_acl_gives_each_role_its_topics(provisioned):
    acl = (provisioned.out / "server" / "mosquitto" / "acl").read_text()
    display = acl.split("user lobby-1\n")[1].split("\n\n")[0]
    assert "write" not in display.replace("readwrite nowserving/v2/pudong/status/lobby-1", "")
    counter = acl.split("user counter-1\n")[1].split("\n\n")[0]
    assert "topic write nowserving/v2/pudong/cmd/counter-1" in counter
    assert "counter-2" not in counter


def test_a_rerun_keeps_passwords_and_certificates_and_adds_new_devices(
    provisioned, example_config, tmp_path
):
    """GIVEN a provisioned branch WHEN a device is added to the config and provision runs
    again (with no options: they are remembered) THEN the old devices keep their passwords,
    hashes and CA, and only the new device is added."""
    out = provisioned.out
    before = {d: password(out, d) for d in example_config.devices}
    hashes = passwd(out)
    files = ("installer/ca.pem", "server/mosquitto/server.pem", "server/server.password")
    kept = {f: (out / f).read_bytes() for f in files}
    (provisioned.bundle("kiosk-1") / "device.toml").write_text(
        (provisioned.bundle("kiosk-1") / "device.toml").read_text().replace("0x5011", "0x5012")
    )
    bigger = tmp_path / "branch.toml"
    bigger.write_text(
        EXAMPLE.read_text(encoding="utf-8") + '\n[[devices]]\nid = "kiosk-3"\nrole = "kiosk"\n',
        encoding="utf-8",
    )

    lines = provision(load_config(bigger), out)

    assert "added kiosk-3 (kiosk)" in lines and not [x for x in lines if "kiosk-1" in x]
    assert {d: password(out, d) for d in example_config.devices} == before
    assert {u: h for u, h in passwd(out).items() if not u.startswith("kiosk-3")} == hashes
    assert matches(password(out, "kiosk-3"), passwd(out)["kiosk-3"])
    assert {f: (out / f).read_bytes() for f in files} == kept
    assert "0x5012" in (provisioned.bundle("kiosk-1") / "device.toml").read_text()


def test_the_broker_certificate_follows_the_server_hosts(provisioned, example_config):
    cert = provisioned.out / "server" / "mosquitto" / "server.pem"
    before = cert.read_bytes()
    lines = provision(example_config, provisioned.out, Settings(server_hosts=["10.0.0.5"]))
    assert "made the broker's TLS certificate for 10.0.0.5" in lines
    assert cert.read_bytes() != before
    # Existing device files keep the host they were made with: the installer's to edit.
    kiosk = provisioned.bundle("kiosk-1") / "device.toml"
    assert 'host = "127.0.0.1"' in kiosk.read_text()
    port = provisioned.tls_port
    assert f"{kiosk} does not name the broker as 10.0.0.5:{port}: edit [broker]" in lines


def test_a_revoked_device_loses_its_credentials_until_renewed(provisioned, example_config):
    out = provisioned.out
    old = password(out, "kiosk-2")

    lines = provision(example_config, out, revoke=("kiosk-2",))

    assert "revoked kiosk-2: its password is gone and its bundle deleted" in lines
    assert "kiosk-2" not in passwd(out)
    assert "kiosk-2" not in (out / "server" / "mosquitto" / "acl").read_text()
    assert not (out / "devices" / "kiosk-2").exists()
    # It stays out on the next run, which reminds the installer of the branch config.
    assert "kiosk-2 is revoked but still in the branch config: remove it there" in provision(
        example_config, out
    )
    assert "kiosk-2" not in passwd(out)

    provision(example_config, out, renew=("kiosk-2",))
    assert matches(password(out, "kiosk-2"), passwd(out)["kiosk-2"])
    assert password(out, "kiosk-2") != old


def test_a_device_taken_out_of_the_config_is_removed(provisioned, tmp_path):
    smaller = tmp_path / "branch.toml"
    text = EXAMPLE.read_text(encoding="utf-8")
    smaller.write_text(text.replace('[[devices]]\nid = "kiosk-2"\nrole = "kiosk"\n', ""))

    assert "removed kiosk-2: no longer in the branch config" in provision(
        load_config(smaller), provisioned.out
    )
    assert "kiosk-2" not in passwd(provisioned.out)
    assert not (provisioned.out / "devices" / "kiosk-2").exists()


def test_the_installer_is_told_what_is_missing_or_wrong(tmp_path, example_config):
    with pytest.raises(ProvisionError, match="give --server-host"):
        provision(example_config, tmp_path / "a")
    with pytest.raises(ProvisionError, match="not a host name"):
        provision(example_config, tmp_path / "a", Settings(server_hosts=["bad host"]))
    out = tmp_path / "b"
    provision(example_config, out, settings_for_tests(out))
    with pytest.raises(ProvisionError, match="did you mean 'kiosk-1'"):
        provision(example_config, out, revoke=("kisok-1",))
    with pytest.raises(ProvisionError, match="give --head-office-ca"):
        provision(example_config, out, Settings(head_office="ho.example:8883"))
    state = json.loads((out / "installer" / "provision.json").read_text())
    state["branch"] = "elsewhere"
    (out / "installer" / "provision.json").write_text(json.dumps(state))
    with pytest.raises(ProvisionError, match="holds branch 'elsewhere', not 'pudong'"):
        provision(example_config, out)


def test_the_cli_provisions_a_branch_with_a_bridge(tmp_path, capsys):
    """GIVEN the example branch WHEN `nowserving provision` runs with a head office THEN it
    writes the bundles, the broker's files and a TLS bridge with the head office's files."""
    out = tmp_path / "out"
    ca = tmp_path / "head-office-ca.pem"
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\n...\n")
    argv = ["provision", "--config", str(EXAMPLE), "--out", str(out)]
    assert main([*argv, "--head-office", "ho.example.com"]) == 1
    assert "give --server-host" in capsys.readouterr().err
    assert (
        main(
            [
                *argv,
                "--server-host",
                "branch-server.local",
                "--server-host",
                "192.168.10.2",
                "--head-office",
                "ho.example.com",
                "--head-office-ca",
                str(ca),
            ]
        )
        == 0
    )
    assert "made the broker's TLS certificate for branch-server.local, 192.168.10.2" in (
        capsys.readouterr().out
    )
    bundle = out / "devices/manager/nowserving"
    assert (
        main(["check-config", str(bundle / "branch.toml"), "--device", str(bundle / "device.toml")])
        == 0
    )
    device = tomllib.loads((bundle / "device.toml").read_text())
    assert device["broker"] == {
        "host": "branch-server.local",
        "port": 8883,
        "username": "manager",
        "password_file": "password",
        "tls_ca": "ca.pem",
        "mqtt_version": "5",
    }
    conf = (out / "server/conf.d/nowserving.conf").read_text()
    assert "listener 8883\n" in conf and "cafile /etc/mosquitto/nowserving/ca.pem\n" in conf
    assert conf.count("use_username_as_clientid true\n") == 2  # on both listeners
    assert "listener 1883 127.0.0.1\n" in conf and "set_tcp_nodelay true\n" in conf
    bridge = (out / "server/conf.d/nowserving-bridge.conf").read_text()
    assert mode(out / "server/conf.d/nowserving-bridge.conf") == 0o600
    assert "address ho.example.com:8883\n" in bridge
    assert "bridge_cafile /etc/mosquitto/nowserving/head-office-ca.pem\n" in bridge
    assert "cleansession false\n" in bridge
    assert "topic nowserving/v2/pudong/events out 1\n" in bridge
    secret = json.loads((out / "installer/provision.json").read_text())["bridge_password"]
    assert f"remote_password {secret}\n" in bridge
    head = read_password_file((out / "head-office/pudong.passwd").read_text())
    assert matches(secret, head["bridge-pudong"])
    assert (
        "user bridge-pudong\ntopic write nowserving/v2/pudong/state\n"
        in (out / "head-office/pudong.acl").read_text()
    )
    # Re-run with nothing but the folder: the bridge and its password are kept.
    assert main(argv) == 0
    assert (out / "server/conf.d/nowserving-bridge.conf").read_text() == bridge
