"""A provisioned example branch, and a real Mosquitto started with the generated config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from nowserving.adapters.mqtt import Broker
from nowserving.client import broker_for
from nowserving.config import load_device_config
from nowserving.devtools.broker import LocalMosquitto, free_port
from nowserving.provision import Settings, provision


@dataclass
class Provisioned:
    """The output folder of one provisioning run, and the ports it chose."""

    out: Path
    tls_port: int
    local_port: int

    def bundle(self, device: str) -> Path:
        return self.out / "devices" / device / "nowserving"

    def device_broker(self, device: str, tool: bool = False) -> Broker:
        """How `device` (or, `tool`, a tool beside it) connects, read from its bundle: TLS
        with the branch CA."""
        return broker_for(load_device_config(self.bundle(device) / "device.toml"), tool=tool)

    def server_broker(self) -> Broker:
        """How the branch server on the broker's host connects: plain MQTT on loopback."""
        password = (self.out / "server" / "server.password").read_text().strip()
        return Broker("127.0.0.1", self.local_port, username="server", password=password)

    def broker_config(self) -> str:
        return (self.out / "server" / "conf.d" / "nowserving.conf").read_text()

    def broker_include(self) -> str:
        """Config that reads the generated conf.d as Debian's mosquitto.conf does."""
        return f"include_dir {self.out / 'server' / 'conf.d'}\n"


def settings_for_tests(out: Path) -> Settings:
    """Loopback only, free ports, and the broker's files left where provisioning put them."""
    return Settings(
        server_hosts=["127.0.0.1", "localhost"],
        tls_port=free_port(),
        tls_bind="127.0.0.1",
        local_port=free_port(),
        broker_folder=str(out / "server" / "mosquitto"),
    )


@pytest.fixture
def provisioned(tmp_path, example_config) -> Provisioned:
    out = tmp_path / "out"
    settings = settings_for_tests(out)
    provision(example_config, out, settings)
    return Provisioned(out, settings.tls_port, settings.local_port)


@pytest.fixture
def branch_broker(provisioned, tmp_path):
    """Mosquitto running the generated config (its TLS port is the one `start` waits for)."""
    with LocalMosquitto(
        tmp_path / "broker",
        port=provisioned.tls_port,
        config=provisioned.broker_include(),
        also_ports=(provisioned.local_port,),
    ) as mosquitto:
        yield mosquitto
