"""Provision a branch: device bundles, and the broker's users, ACL, TLS and bridge.

Everything goes into one output folder that the installer keeps, and that the next run
reads back: passwords and the CA are made once, so re-running adds new devices without
touching the others, and a revoked device stays out until it is renewed.

    OUT/installer/   ca.key, ca.pem, provision.json (passwords and settings): keep private
    OUT/server/      conf.d/ for /etc/mosquitto/conf.d/, mosquitto/ for the broker's
                     folder (passwd, acl, certificates), server.password for the server
    OUT/devices/<id>/nowserving/   device.toml, password, ca.pem, branch.toml: a bundle
    OUT/head-office/ <branch>.passwd and <branch>.acl for the head-office broker
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from nowserving.config.branch import BranchConfig
from nowserving.config.schema import hint
from nowserving.errors import ProvisionError
from nowserving.protocol import Role
from nowserving.protocol.acl import head_office_acl, mosquitto_acl, tool_user
from nowserving.provision import bundle, passwords, pki
from nowserving.provision.mosquitto import (
    BRIDGE_RESTART_S,
    BrokerLayout,
    branch_broker_conf,
    bridge_conf,
    bridge_user,
)

SERVER_USER = "server"
STATE_FILE = "provision.json"
HEAD_OFFICE_CA = "head-office-ca.pem"
_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


@dataclass
class Settings:
    """What the installer chose, remembered between runs (None: not given this time)."""

    server_hosts: list[str] | None = None
    tls_port: int | None = None
    tls_bind: str | None = None
    local_port: int | None = None  # 0: no plain loopback listener
    broker_folder: str | None = None
    head_office: str | None = None  # HOST:PORT

    def merged_over(self, old: dict) -> Settings:
        """These settings, with what was not given taken from the last run's."""
        return Settings(**{k: old.get(k) if v is None else v for k, v in vars(self).items()})


@dataclass
class Report:
    """What a run did, for the installer to read."""

    lines: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        """Add a line to the report."""
        self.lines.append(line)


def provision(
    config: BranchConfig,
    out: Path,
    settings: Settings | None = None,
    *,
    branch_file: Path | None = None,
    head_office_ca: Path | None = None,
    revoke: tuple[str, ...] = (),
    renew: tuple[str, ...] = (),
    bridge_restart_s: tuple[int, int] = BRIDGE_RESTART_S,
) -> list[str]:
    """Write (or bring up to date) the provisioning folder `out` for `config`'s branch.

    `branch_file`, the branch config's file, is copied into every bundle (the device apps
    read it too). `revoke` takes devices' credentials away (and deletes their bundles);
    `renew` gives devices new passwords (a replaced or revoked device back). Returns the
    report lines.
    """
    out = Path(out)
    branch = config.rules.branch_id
    state = _read_state(out / "installer" / STATE_FILE, branch)
    settings = (settings or Settings()).merged_over(state.get("settings", {}))
    _check_settings(settings)
    ca_copy = out / "server" / "mosquitto" / HEAD_OFFICE_CA
    if settings.head_office and head_office_ca is None and not ca_copy.exists():
        raise ProvisionError(
            "give --head-office-ca: the CA certificate of the head-office broker's TLS"
        )
    layout = BrokerLayout(
        folder=settings.broker_folder or BrokerLayout.folder,
        tls_port=settings.tls_port or BrokerLayout.tls_port,
        tls_bind=settings.tls_bind,
        local_port=BrokerLayout.local_port if settings.local_port is None else settings.local_port,
    )
    secrets: dict[str, str] = dict(state.get("passwords", {}))
    revoked: set[str] = set(state.get("revoked", []))
    report = Report()

    ca = _authority(out / "installer", branch, report)
    _change_credentials(config, out, secrets, revoked, revoke, renew, report)
    secrets.setdefault(SERVER_USER, passwords.new_password())
    active = {d.id: d for d in config.devices.values() if d.id not in revoked}
    for device in active.values():
        if device.id not in secrets:
            secrets[device.id] = passwords.new_password()
            report.say(f"added {device.id} ({device.role.value})")
        folder = out / "devices" / device.id / "nowserving"
        host = settings.server_hosts[0]
        _write_bundle(folder, branch, device, secrets[device.id], ca, host, layout.tls_port, report)
        if branch_file is not None:
            _write(folder / bundle.BRANCH_FILE, Path(branch_file).read_bytes())
    for device_id in sorted(revoked & set(config.devices)):
        report.say(f"{device_id} is revoked but still in the branch config: remove it there")

    server_dir = out / "server"
    users = {u: p for u, p in secrets.items() if u == SERVER_USER or u in active}
    users |= {tool_user(u): p for u, p in users.items() if u in active}  # the devices' tools
    _write_broker(server_dir, branch, layout, users, active, ca, settings.server_hosts, report)
    bridge_password = None
    if settings.head_office:
        bridge_password = state.get("bridge_password") or passwords.new_password()
        web = tuple(sorted(d.id for d in active.values() if d.role == Role.WEB))
        _write_bridge(
            out, branch, layout, settings.head_office, bridge_password, head_office_ca,
            bridge_restart_s, web,
        )  # fmt: skip
    state = {
        "branch": branch,
        "settings": vars(settings),
        "passwords": dict(sorted(secrets.items())),
        "revoked": sorted(revoked),
        "bridge_password": bridge_password,
    }
    _write(out / "installer" / STATE_FILE, json.dumps(state, indent=2) + "\n", secret=True)
    report.say(
        f"branch {branch}: {len(active)} device bundle(s) in {out / 'devices'}; broker files "
        f"in {server_dir} (install them and reload Mosquitto: docs/install-broker.md)"
    )
    return report.lines


def _read_state(path: Path, branch: str) -> dict:
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ProvisionError(f"cannot read {path}: {err}") from err
    if state.get("branch") != branch:
        raise ProvisionError(
            f"{path.parent.parent} holds branch {state.get('branch')!r}, not {branch!r}: "
            "use another --out folder for each branch"
        )
    return state


def _check_settings(settings: Settings) -> None:
    if not settings.server_hosts:
        raise ProvisionError(
            "give --server-host: the name or address devices reach the broker at"
            " (more than one: repeat it; the first goes into the device files)"
        )
    for name in ("tls_port", "local_port"):
        port = getattr(settings, name)
        if port is not None and not 0 <= port < 65536 or port == 0 and name == "tls_port":
            raise ProvisionError(f"--{name.replace('_', '-')} {port} is not a port number")
    for host in settings.server_hosts:
        if not _is_host(host):
            raise ProvisionError(f"--server-host {host!r} is not a host name or IP address")
    if settings.head_office:
        host, port = split_address(settings.head_office)
        if not _is_host(host) or not 0 < port < 65536:
            raise ProvisionError(f"--head-office {settings.head_office!r} is not HOST[:PORT]")


def split_address(text: str, default_port: int = 8883) -> tuple[str, int]:
    """HOST[:PORT] -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host, int(port)
    return text, default_port


def _is_host(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return bool(_HOST_RE.match(text))


def _authority(folder: Path, branch: str, report: Report) -> pki.Authority:
    cert, key = folder / "ca.pem", folder / "ca.key"
    if cert.exists() and key.exists():
        return pki.Authority(cert.read_bytes(), key.read_bytes())
    if cert.exists() or key.exists():
        raise ProvisionError(f"{folder} has only one of ca.pem and ca.key: restore the other")
    ca = pki.make_authority(f"nowserving {branch} branch CA")
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    _write(key, ca.key_pem, secret=True)
    _write(cert, ca.cert_pem)
    report.say(f"made the branch CA: {cert} (its key, ca.key, stays with you)")
    return ca


def _change_credentials(config, out, secrets, revoked, revoke, renew, report) -> None:
    known = set(config.devices) | set(secrets) | {SERVER_USER}
    for device_id in (*revoke, *renew):
        if device_id not in known:
            raise ProvisionError(
                f"no device {device_id!r} to revoke or renew{hint(device_id, config.devices)}"
            )
    if SERVER_USER in revoke:
        raise ProvisionError("the server cannot be revoked (--renew server changes its password)")
    for device_id in revoke:
        revoked.add(device_id)
        secrets.pop(device_id, None)
        _remove_bundle(out, device_id)
        report.say(f"revoked {device_id}: its password is gone and its bundle deleted")
    for device_id in renew:
        revoked.discard(device_id)
        secrets[device_id] = passwords.new_password()
        report.say(f"renewed {device_id}: a new password (the old one no longer works)")
    for device_id in sorted(set(secrets) - set(config.devices) - {SERVER_USER}):
        secrets.pop(device_id)
        _remove_bundle(out, device_id)
        report.say(f"removed {device_id}: no longer in the branch config")


def _remove_bundle(out: Path, device_id: str) -> None:
    shutil.rmtree(out / "devices" / device_id, ignore_errors=True)


def _write_bundle(folder, branch, device, password, ca, host, port, report) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    folder.parent.chmod(0o700)
    _write(folder / bundle.PASSWORD_FILE, password + "\n", secret=True)
    _write(folder / bundle.CA_FILE, ca.cert_pem)
    device_file = folder / bundle.DEVICE_FILE
    if not device_file.exists():
        _write(device_file, bundle.device_file(branch, device, host, port))
        return
    # The installer may have adjusted the hardware tables: an existing file stays, but
    # one that names another broker address is pointed out.
    try:
        broker = tomllib.loads(device_file.read_text(encoding="utf-8")).get("broker", {})
    except (OSError, ValueError):
        broker = {}
    if (broker.get("host"), broker.get("port")) != (host, port):
        report.say(f"{device_file} does not name the broker as {host}:{port}: edit [broker]")


def _write_broker(folder, branch, layout, users, active, ca, hosts, report) -> None:
    mosquitto = folder / "mosquitto"
    old_hashes = {}
    if (mosquitto / "passwd").exists():
        old_hashes = passwords.read_password_file((mosquitto / "passwd").read_text())
    _write(mosquitto / "passwd", passwords.password_file(users, old_hashes), secret=True)
    roles = {d.id: d.role for d in active.values()}
    _write(mosquitto / "acl", mosquitto_acl(branch, roles))
    _write(mosquitto / "ca.pem", ca.cert_pem)
    if not pki.certificate_fits(mosquitto / "server.pem", ca, hosts):
        cert, key = pki.issue_server_certificate(ca, hosts)
        _write(mosquitto / "server.key", key, secret=True)
        _write(mosquitto / "server.pem", cert)
        report.say(f"made the broker's TLS certificate for {', '.join(hosts)}")
    conf = branch_broker_conf(branch, layout, len(users))
    _write(folder / "conf.d" / "nowserving.conf", conf)
    _write(folder / "server.password", users[SERVER_USER] + "\n", secret=True)


def _write_bridge(out, branch, layout, head_office, password, ca_file, restart_s,
                  web=()) -> None:  # fmt: skip
    host, port = split_address(head_office)
    ca_copy = out / "server" / "mosquitto" / HEAD_OFFICE_CA
    if ca_file is not None:  # else the copy made by an earlier run stays
        _write(ca_copy, Path(ca_file).read_bytes())
    conf = bridge_conf(
        branch, f"{host}:{port}", password, layout.path(HEAD_OFFICE_CA), restart_s, web
    )
    _write(out / "server" / "conf.d" / "nowserving-bridge.conf", conf, secret=True)
    user = bridge_user(branch)
    head = out / "head-office"
    old = {}
    if (head / f"{branch}.passwd").exists():
        old = passwords.read_password_file((head / f"{branch}.passwd").read_text())
    # A web role at the head office logs in with the head office's own password for its
    # device id (one login for every branch it serves): its rights are in this ACL.
    _write(head / f"{branch}.passwd", passwords.password_file({user: password}, old), secret=True)
    _write(head / f"{branch}.acl", head_office_acl(branch, user, web))


def _write(path: Path, content: str | bytes, secret: bool = False) -> None:
    """Write a file whole (a reader never sees half of it); secrets readable by owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode() if isinstance(content, str) else content
    mode = 0o600 if secret else 0o644
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    tmp.chmod(mode)  # the mode os.open gives a file that already existed is its old one
    os.replace(tmp, path)
