"""The web role at the head office: two branch servers on one broker, one web role given
both branches' configs, each branch's ticket page followed to its call (over HTTP)."""

from __future__ import annotations

import http.client
import json
import urllib.parse

import pytest

from nowserving.adapters.store import EventLog
from nowserving.client import BranchClient
from nowserving.config import EXAMPLE, load_config
from nowserving.server.app import BranchServer
from nowserving.web.feed import Feeds
from tests.web.conftest import WebRole, get, serve, wait_record

PUDONG_TOKEN = "pudong-token-0123456789"
JINGAN_TOKEN = "jingan-token-0123456789"


@pytest.fixture
def second_config(tmp_path):
    """The example branch as another branch: id "jingan", its own names."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace('id = "pudong"', 'id = "jingan"', 1)
    text = text.replace('names = { zh = "浦东支行", en = "Pudong Branch" }',
                        'names = { zh = "静安支行", en = "Jing\'an Branch" }', 1)  # fmt: skip
    folder = tmp_path / "jingan"
    folder.mkdir()
    (folder / "staff-pins.toml").write_bytes((EXAMPLE.parent / "staff-pins.toml").read_bytes())
    path = folder / "branch.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


@pytest.fixture
def head_office(broker, example_config, second_config, server, clock, tmp_path):
    """The second branch's server beside the first, and one web role serving both."""
    log = EventLog(tmp_path / "jingan.sqlite")
    with BranchServer(second_config, log, broker, clock=clock) as jingan:
        assert jingan.wait_serving(10)
        feeds = Feeds([example_config, second_config], broker, "web-1")
        uv, thread, base = serve(feeds, clock)
        try:
            for feed in feeds.branches.values():
                feed.client.wait_state(timeout=10)
            yield WebRole(base, feeds), jingan
        finally:
            uv.should_exit = True
            thread.join(timeout=10)


def follow(url: str):
    """The page's event stream: next() -> the next view it sends."""
    parts = urllib.parse.urlsplit(url + "/events?lang=en")
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("GET", f"{parts.path}?{parts.query}")
    response = conn.getresponse()
    assert response.status == 200

    def views():
        while True:
            line = response.fp.readline().decode()
            if line.startswith("data: {"):
                yield json.loads(line[6:])

    return conn, views()


def test_one_web_role_follows_tickets_of_two_branches_to_their_calls(head_office, broker):
    web, jingan = head_office
    clients = {}
    for branch, token in (("pudong", PUDONG_TOKEN), ("jingan", JINGAN_TOKEN)):
        kiosk = BranchClient(broker, branch, "kiosk-1")
        counter = BranchClient(broker, branch, "counter-1")
        kiosk.start()
        counter.start()
        clients[branch] = (kiosk, counter)
        reply = kiosk.request("issue_ticket", {"service": "cash", "language": "en",
                                               "token": token})  # fmt: skip
        assert reply.ok, reply
        wait_record(web, token, branch=branch)
    try:
        pages = {b: get(web.url(t, b))[2].decode() for b, t in
                 (("pudong", PUDONG_TOKEN), ("jingan", JINGAN_TOKEN))}  # fmt: skip
        assert "Pudong Branch" in pages["pudong"] and "Jing&#x27;an Branch" in pages["jingan"]
        # A token is good only under its own branch's path.
        assert get(web.url(PUDONG_TOKEN, "jingan"))[0] == 404
        assert get(web.url(JINGAN_TOKEN, "pudong"))[0] == 404
        streams = {"pudong": follow(web.url(PUDONG_TOKEN, "pudong")),
                   "jingan": follow(web.url(JINGAN_TOKEN, "jingan"))}  # fmt: skip
        for _, views in streams.values():
            assert next(views)["status"] == "waiting"
        # Jing'an calls first: its page is called, Pudong's still waits.
        assert clients["jingan"][1].request("call_next").ok
        view = next(streams["jingan"][1])
        while view["status"] != "called":
            view = next(streams["jingan"][1])
        assert view["call_text"] == "A001 → Counter 1" and view["branch"] == "Jing'an Branch"
        status = json.loads(get(web.url(PUDONG_TOKEN, "pudong") + "/view.json")[2])["status"]
        assert status == "waiting"
        assert clients["pudong"][1].request("call_next").ok
        view = next(streams["pudong"][1])
        while view["status"] != "called":
            view = next(streams["pudong"][1])
        assert view["call_text"] == "A001 → Counter 1" and view["branch"] == "Pudong Branch"
        for conn, _ in streams.values():
            conn.close()
    finally:
        for kiosk, counter in clients.values():
            kiosk.close()
            counter.close()
