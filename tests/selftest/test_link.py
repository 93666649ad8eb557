"""The self-test's network checks against real Mosquittos: a provisioned broker (TLS, a
password per device, the role ACLs) and a plain one; each way of being cut off gets its
own clear failure, and the result lands in the device's retained status."""

from __future__ import annotations

import shutil
import time
from dataclasses import replace

import pytest
from gpiozero.pins.mock import MockFactory

from nowserving.adapters.mqtt import Broker
from nowserving.adapters.printer.device import open_escpos
from nowserving.adapters.store import EventLog
from nowserving.client import BranchClient
from nowserving.config import PrinterSettings, load_device_config
from nowserving.devtools.broker import free_port
from nowserving.provision.pki import make_authority
from nowserving.selftest import Hardware, run_self_test
from nowserving.selftest.branch_status import read_statuses, status_table
from nowserving.server.app import BranchServer
from tests.selftest.conftest import QUICK, Prompted, device, no_ntp, retained_status

STAFF_ONLY = replace(QUICK, network_timeout_s=1)


@pytest.fixture
def secure_server(provisioned, branch_broker, example_config, tmp_path):
    """The branch server on the provisioned broker, with the wall clock."""
    log = EventLog(tmp_path / "events.sqlite")
    with BranchServer(example_config, log, provisioned.server_broker()) as server:
        assert server.wait_serving(10)
        yield server


def bundle_copy(provisioned, device_id: str, tmp_path):
    """A copy of the device's bundle, to spoil."""
    folder = tmp_path / f"copy-{device_id}"
    shutil.copytree(provisioned.bundle(device_id), folder)
    return folder


def test_devices_pass_with_their_bundles_and_staff_see_the_whole_branch(
    provisioned, secure_server, example_config
):
    """GIVEN the provisioned broker (TLS, passwords, ACLs) and the server WHEN a kiosk and
    the manager's PC run the self-test with their bundles THEN both pass over TLS, and the
    manager's login reads every device's status with its last self-test."""
    kiosk = load_device_config(provisioned.bundle("kiosk-1") / "device.toml")
    escpos = open_escpos(PrinterSettings(kind="dummy", profile="TM-T88V"))
    report = run_self_test(
        example_config, kiosk, QUICK, Hardware(escpos, MockFactory()), Prompted(), no_ntp
    )
    assert report.ok, [c.line() for c in report.checks]
    assert "TLS with ca.pem, user kiosk-1" in report.get("broker").detail
    assert report.get("server").detail.startswith("answered a ping")
    manager = load_device_config(provisioned.bundle("manager") / "device.toml")
    assert run_self_test(example_config, manager, QUICK, Hardware(), Prompted(), no_ntp).ok
    lines, well = status_table(read_statuses(manager), example_config)
    rows = {line.split()[0]: line for line in lines[1:]}
    assert rows["server"].split()[1:3] == ["server", "yes"]
    assert rows["kiosk-1"].split()[1:5] == ["kiosk", "NO", "0.1.0", "ok"]  # no app runs
    assert rows["manager"].split()[4] == "ok"
    assert "never" in rows["counter-1"] and not well


def test_a_wrong_password_fails_the_broker_check(
    provisioned, secure_server, example_config, tmp_path
):
    folder = bundle_copy(provisioned, "manager", tmp_path)
    (folder / "password").write_text("guessed\n")
    say = Prompted()
    report = run_self_test(
        example_config, load_device_config(folder / "device.toml"), STAFF_ONLY, Hardware(),
        say, no_ntp,
    )  # fmt: skip
    check = report.get("broker")
    assert check.status == "FAIL" and "refused user 'manager.tool'" in check.detail
    assert report.get("server").status == "skip" and report.get("clock") is None
    assert say.lines[-1] == "not published: no broker"


def test_another_ca_fails_the_broker_check_on_tls(
    provisioned, secure_server, example_config, tmp_path
):
    folder = bundle_copy(provisioned, "manager", tmp_path)
    (folder / "ca.pem").write_bytes(make_authority("someone else").cert_pem)
    report = run_self_test(
        example_config, load_device_config(folder / "device.toml"), STAFF_ONLY, Hardware(),
        Prompted(), no_ntp,
    )  # fmt: skip
    check = report.get("broker")
    assert check.status == "FAIL" and "certificate is not trusted" in check.detail


def test_no_broker_at_all_fails_with_where_it_looked(example_config):
    port = free_port()
    manager = device(Broker("127.0.0.1", port), "staff", "manager")
    report = run_self_test(example_config, manager, STAFF_ONLY, Hardware(), Prompted(), no_ntp)
    assert report.get("broker").detail == (
        f"nothing listens on 127.0.0.1:{port}: is Mosquitto running on the server?"
    )


def test_the_server_down_fails_the_server_check_and_is_published(broker, example_config):
    """GIVEN a broker and no server WHEN the manager's PC runs the self-test THEN `server`
    fails saying what to look at, and the failed result is in its retained status."""
    manager = device(broker, "staff", "manager")
    report = run_self_test(example_config, manager, STAFF_ONLY, Hardware(), Prompted(), no_ntp)
    check = report.get("server")
    assert check.status == "FAIL"
    assert check.detail.startswith("no answer in 1 s (the server's status: not known)")
    assert "nowserving server" in check.detail
    status = retained_status(broker, "manager")["self_test"]
    assert status["ok"] is False and status["checks"][4]["name"] == "server"


def test_a_clock_an_hour_off_the_servers_fails(example_config, broker, tmp_path):
    log = EventLog(tmp_path / "events.sqlite")
    with BranchServer(example_config, log, broker, clock=lambda: time.time() + 3600) as server:
        assert server.wait_serving(10)
        manager = device(broker, "staff", "manager")
        report = run_self_test(example_config, manager, QUICK, Hardware(), Prompted(), no_ntp)
    check = report.get("clock")
    assert check.status == "FAIL" and check.detail.startswith("60 min behind the server's")


def test_the_running_apps_status_keeps_its_word_and_the_result(live_server, broker, example_config):
    """GIVEN the kiosk app online with its own status fields WHEN its self-test runs (and
    later the app publishes its status again) THEN the retained status stays online with
    the app's fields, and carries the self-test's result throughout."""
    kiosk = device(broker, "kiosk", "kiosk-1")
    with BranchClient(broker, "pudong", "kiosk-1", status=lambda: {"paper": "ok"}) as app:
        report = run_self_test(example_config, kiosk, QUICK, Hardware(), Prompted(), no_ntp)
        status = retained_status(broker, "kiosk-1")
        assert status["online"] is True and status["paper"] == "ok"
        assert status["self_test"] == report.as_status()
        app.publish_status()  # e.g. the printer's state changed
        again = retained_status(broker, "kiosk-1")
        assert again["self_test"] == report.as_status() and again["online"] is True
