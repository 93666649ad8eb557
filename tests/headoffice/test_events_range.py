"""`events_range` on the provisioned brokers: only the head office's ingest may ask a branch
server for a range of its log, and the server answers it from its log (read-only)."""

from __future__ import annotations

import json
import shutil

import pytest

from nowserving.adapters.mqtt import Broker
from nowserving.adapters.store import EventLog
from nowserving.client import BranchClient
from nowserving.errors import ProtocolError
from nowserving.protocol import Topics
from nowserving.protocol.acl import ingest_acl
from nowserving.protocol.vocabulary import HEAD_OFFICE
from nowserving.provision.passwords import new_password, password_file
from nowserving.server.app import BranchServer
from nowserving.server.history import events_range_reply
from tests.provision.probe import Probe, allowed

T = Topics("pudong")


def test_only_the_head_office_may_ask_and_the_server_answers_from_its_log(
    provisioned, branch_broker, example_config, tmp_path, clock
):
    """GIVEN the provisioned branch broker and its server WHEN a device tries `cmd/headoffice`
    THEN the broker refuses it; WHEN a device sends `events_range` as itself THEN the server
    refuses it (`not_allowed`); the range the server answers the head office with holds
    each event of the log in it, with its epoch, and nothing is recorded."""
    with (
        BranchServer(example_config, EventLog(tmp_path / "e.sqlite"), provisioned.server_broker(),
                     clock=clock) as server,
        BranchClient(provisioned.device_broker("kiosk-1"), "pudong", "kiosk-1") as kiosk,
        Probe(provisioned.device_broker("kiosk-1", tool=True)) as intruder,
    ):  # fmt: skip
        assert server.wait_serving(10)
        assert allowed(intruder.login())
        assert str(intruder.publish(T.command(HEAD_OFFICE))) == "Not authorized"
        refused = kiosk.request("events_range", {"from": "1"})
        assert not refused.ok and refused.code == "not_allowed"
        for _ in range(3):
            assert kiosk.request("issue_ticket", {"service": "cash"}).ok
        last = server.branch.seq
    # What the server answers (the whole path over the bridge: test_ingest.py).
    with EventLog(tmp_path / "e.sqlite") as log:
        branch = log.load(example_config.rules)
        reply = events_range_reply(log, branch, "ho-1", {"from": "2", "to": str(last + 10)})
        assert reply["ok"], reply
        events = reply["result"]["events"]
        assert [e["seq"] for e in events] == list(range(2, last + 1))
        assert {e["epoch"] for e in events} == {0} and reply["result"]["next"] is None
        assert "token_hash" not in json.dumps(events)
        with pytest.raises(ProtocolError, match="to must not be below from"):
            events_range_reply(log, branch, "ho-2", {"from": "5", "to": "4"})
        assert log.last_seq() == last  # nothing was recorded


def test_at_the_head_office_only_the_ingest_may_write_the_request(tmp_path):
    """The head office's ACL (`ingest_acl` and a web device's rights): the ingest's login may
    write any branch's `cmd/headoffice` and read the replies; a reader may not write it."""
    from nowserving.devtools.broker import LocalMosquitto
    from nowserving.protocol.acl import head_office_acl

    ingest, reader = new_password(), new_password()
    f = tmp_path
    (f / "passwd").write_text(password_file({"headoffice": ingest, "dashboard": reader}))
    acl = (
        ingest_acl()
        + head_office_acl("pudong", "bridge-pudong")
        + ("\nuser dashboard\ntopic read nowserving/#\n")
    )
    (f / "acl").write_text(acl)
    config = (f"per_listener_settings false\nallow_anonymous false\npassword_file {f / 'passwd'}"
              f"\nacl_file {f / 'acl'}\n")  # fmt: skip
    with LocalMosquitto(f / "run", config=None, extra=config) as office:
        with Probe(Broker("127.0.0.1", office.port, "headoffice", ingest)) as probe:
            assert allowed(probe.login())
            assert allowed(probe.publish(Topics("xuhui").command(HEAD_OFFICE)))
            assert str(probe.publish(T.command("kiosk-1"))) == "Not authorized"
            assert str(probe.publish(T.events)) == "Not authorized"
        with Probe(Broker("127.0.0.1", office.port, "dashboard", reader)) as probe:
            assert allowed(probe.login())
            assert str(probe.publish(T.command(HEAD_OFFICE))) == "Not authorized"


def test_no_branch_device_may_be_called_headoffice(tmp_path):
    from nowserving.config import EXAMPLE, load_config
    from nowserving.errors import ConfigError

    text = EXAMPLE.read_text(encoding="utf-8").replace('id = "lobby-1"', 'id = "headoffice"')
    path = tmp_path / "branch.toml"
    shutil.copytree(EXAMPLE.parent, tmp_path, dirs_exist_ok=True)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="reserved for the head office"):
        load_config(path)
