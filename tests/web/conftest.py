"""The web role for real: uvicorn on a free port in a thread, fed by the test broker and
the real branch server; a kiosk and a counter to move the queue."""

from __future__ import annotations

import shutil
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import pytest
import uvicorn

from nowserving.devtools.broker import free_port
from nowserving.web.app import make_app
from nowserving.web.feed import Feeds
from tests.web.console_fixtures import accounts_file, console, second_branch  # noqa: F401

TOKEN = "k3Jd9vQ2mZ8xT1bW4nE7sA"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@dataclass
class WebRole:
    base: str
    feeds: Feeds

    def url(self, token: str = TOKEN, branch: str = "pudong") -> str:
        return f"{self.base}/{branch}/t/{token}"


def serve(feeds: Feeds, clock) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    config = uvicorn.Config(make_app(feeds, clock=clock), host="127.0.0.1", port=port,
                            access_log=False, log_level="warning", lifespan="on")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture
def web(broker, example_config, server, clock):
    feeds = Feeds([example_config], broker, "web-1")
    uv, thread, base = serve(feeds, clock)
    try:
        for feed in feeds.branches.values():  # connected and holding the summary
            feed.client.wait_state(timeout=10)
        yield WebRole(base, feeds)
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


def wait_record(web: WebRole, token: str = TOKEN, predicate=lambda r: True, branch="pudong"):
    """The ticket's record once the web role has one that satisfies `predicate`."""
    feed = web.feeds.branches[branch]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        record = feed.find(token)
        if record is not None and predicate(record):
            return record
        threading.Event().wait(0.02)
    raise TimeoutError("the web role did not get the ticket's record")


def get(url: str, **headers) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def post(url: str, fields: dict) -> tuple[int, dict]:
    data = urllib.parse.urlencode(fields).encode()
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, data=data), timeout=15) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--autoplay-policy=no-user-gesture-required"],
        )  # fmt: skip
        yield browser
        browser.close()
